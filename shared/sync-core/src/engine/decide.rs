//! The engine's one decision: what to do with one incoming record.
//!
//! [`decide`] is a pure function over plain data. The scheduled sync (both phases, parked
//! retries) and the real-time applies (Connec! notifications, app webhooks) all call it, so a
//! rule written here holds everywhere. It is called once with [`Target::Unread`] (or
//! [`Target::Unlinked`]) and, when it answers [`Decision::ReadTarget`], once more with the other
//! side's current version.
//!
//! The rules, in order (the README's "How a sync works"):
//! 1. an inactive link (deleted on one side) never travels again; a per-record opt-out holds;
//! 2. a record with no link starts travelling only if it was created after the history cut-off
//!    and is not deleted; it is created on the other side (after match-and-merge) when the entity
//!    may create there;
//! 3. a linked record older than the newest version seen never overwrites it (stale guard);
//! 4. a deletion travels as an archive when the other side can archive;
//! 5. a record whose references are not synced yet is deferred; one that cannot be mapped fails;
//! 6. mapped fields that hash as the link's hash changed nothing (echo, overlap re-read);
//! 7. otherwise the other side's current version decides: gone or archived there means the
//!    deletion wins and travels back; unchanged there means the update goes through; changed to
//!    the same content settles; changed differently is a conflict the entity's policy resolves,
//!    and an unreadable version there counts as changed, never as unchanged; a version there
//!    that is our own write whose outcome was lost (the link's write-ahead hash) is no change.

use crate::domain::{ConflictPolicy, ContentHash, Direction, IdMap, Timestamp, Winner};

/// A record's mapped content, or why it cannot be mapped now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Hash of the mapped fields in canonical shape.
    Hash(ContentHash),
    /// A reference is not synced yet (names it).
    Waiting(String),
    /// The mapping failed (says why).
    Unmappable(String),
}

impl Content {
    /// The hash, when the content could be mapped.
    pub fn hash(&self) -> Option<&ContentHash> {
        match self {
            Content::Hash(hash) => Some(hash),
            _ => None,
        }
    }
}

/// The incoming record (from the side the phase reads).
#[derive(Clone, Debug)]
pub struct Incoming {
    /// Its last modification.
    pub updated_at: Timestamp,
    /// Its creation, when known.
    pub created_at: Option<Timestamp>,
    /// Deleted or archived at its source.
    pub deleted: bool,
    /// Its mapped content.
    pub content: Content,
}

/// The other side's current version of a linked record.
#[derive(Clone, Debug)]
pub enum Target {
    /// No record on the other side is known yet.
    Unlinked,
    /// Linked; the current version has not been read.
    Unread,
    /// The current version.
    Current {
        /// Its last modification.
        updated_at: Timestamp,
        /// Its mapped content; anything but a hash counts as "changed".
        content: Content,
    },
    /// Deleted or archived there (or no longer readable as a record).
    Deleted,
}

/// What the organization and the entity pair allow, for one direction.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The direction records travel in.
    pub direction: Direction,
    /// Records created before this do not *start* travelling.
    pub history_from: Option<Timestamp>,
    /// The target side may create records.
    pub can_create: bool,
    /// The target side may update records.
    pub can_update: bool,
    /// The target side may archive records.
    pub can_archive: bool,
    /// The source side may be updated (a conflict won by the target travels back).
    pub can_update_source: bool,
    /// The entity's conflict policy.
    pub policy: ConflictPolicy,
}

/// Why a record is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The link is inactive: deleted on one side, never recreated silently.
    Inactive,
    /// The record opted out of this direction.
    OptedOut,
    /// Created before the history cut-off and never linked.
    TooOld,
    /// Deleted at its source and never linked: nothing to delete.
    DeletedUnlinked,
    /// Older than the newest version seen (overlap re-read, late webhook).
    Stale,
    /// Nothing we map changed (an echo of our own write, or a re-read).
    Unchanged,
    /// The entity may not do this on the target side.
    NotAllowed,
}

/// Which side's version a resolved conflict kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The incoming record's (it travels on).
    Source,
    /// The other side's (it travels back).
    Target,
}

/// What to do with one incoming record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do.
    Skip(SkipReason),
    /// Wait for the next run (a reference is not synced yet).
    Defer(String),
    /// The record cannot be mapped: store the error, retry next run.
    Fail(String),
    /// Read the other side's current version, then decide again.
    ReadTarget,
    /// New on the other side: match, then create or merge.
    Create,
    /// Push the incoming version to the linked record; `conflict` when the policy decided.
    Update {
        /// The winner of a conflict, if there was one.
        conflict: Option<Winner>,
    },
    /// A conflict the other side won: its version travels back to the source.
    PushBack {
        /// The winner (the target's side).
        winner: Winner,
    },
    /// Both sides already hold the same content: record it, write nothing.
    Settle,
    /// Deleted at its source: archive the linked record.
    Archive,
    /// Deleted on the other side: the link goes inactive and the deletion travels back.
    TargetDeleted,
}

/// The decision for one incoming record; see the module documentation for the rules.
pub fn decide(
    incoming: &Incoming,
    link: Option<&IdMap>,
    target: &Target,
    rules: &Rules,
) -> Decision {
    if let Some(map) = link {
        if map.inactive {
            return Decision::Skip(SkipReason::Inactive);
        }
        let opted_in = match rules.direction {
            Direction::ToApp => map.to_app,
            Direction::ToHub => map.to_hub,
        };
        if !opted_in {
            return Decision::Skip(SkipReason::OptedOut);
        }
    }
    let linked = !matches!(target, Target::Unlinked);
    if !linked {
        return decide_unlinked(incoming, link, rules);
    }
    let seen = link.and_then(|map| match rules.direction {
        Direction::ToApp => map.hub_updated_at,
        Direction::ToHub => map.app_updated_at,
    });
    if seen.is_some_and(|seen| seen > incoming.updated_at) {
        return Decision::Skip(SkipReason::Stale);
    }
    if incoming.deleted {
        return if rules.can_archive {
            Decision::Archive
        } else {
            Decision::Skip(SkipReason::NotAllowed)
        };
    }
    let hash = match &incoming.content {
        Content::Hash(hash) => hash,
        Content::Waiting(why) => return Decision::Defer(why.clone()),
        Content::Unmappable(why) => return Decision::Fail(why.clone()),
    };
    let known = link.and_then(|map| map.hash.as_ref());
    if known == Some(hash) {
        return Decision::Skip(SkipReason::Unchanged);
    }
    // Our own write to the source side, coming back before its outcome was saved: an echo.
    let read_from = match rules.direction {
        Direction::ToApp => crate::domain::Side::Hub,
        Direction::ToHub => crate::domain::Side::App,
    };
    if link.and_then(|map| map.pending_to(read_from)) == Some(hash) {
        return Decision::Skip(SkipReason::Unchanged);
    }
    match target {
        Target::Unlinked => unreachable!("handled above"),
        Target::Unread => Decision::ReadTarget,
        Target::Deleted => Decision::TargetDeleted,
        Target::Current {
            updated_at,
            content,
        } => {
            let theirs = content.hash();
            if theirs == Some(hash) {
                return Decision::Settle;
            }
            // A version there that is our own write in flight (saved ahead, outcome lost) is
            // no change of theirs. No baseline (a link rebuilt from external ids): the incoming
            // version goes through, unless we wrote there and its version is not ours any more
            // (a create whose answer was lost, linked by its marker, then edited there).
            let written_to = match rules.direction {
                Direction::ToApp => crate::domain::Side::App,
                Direction::ToHub => crate::domain::Side::Hub,
            };
            let ours = link.and_then(|map| map.pending_to(written_to));
            let changed_there = match known {
                Some(_) => theirs != known && (theirs.is_none() || theirs != ours),
                None => ours.is_some() && theirs != ours,
            };
            if !changed_there {
                return update(None, rules);
            }
            let (hub_at, app_at) = match rules.direction {
                Direction::ToApp => (incoming.updated_at, *updated_at),
                Direction::ToHub => (*updated_at, incoming.updated_at),
            };
            let winner = rules.policy.decide(hub_at, app_at);
            let kept = match (rules.direction, winner) {
                (Direction::ToApp, Winner::Hub) | (Direction::ToHub, Winner::App) => Kept::Source,
                _ => Kept::Target,
            };
            match kept {
                Kept::Source => update(Some(winner), rules),
                Kept::Target => match content {
                    Content::Hash(_) if rules.can_update_source => Decision::PushBack { winner },
                    Content::Hash(_) => Decision::Skip(SkipReason::NotAllowed),
                    Content::Waiting(why) | Content::Unmappable(why) => Decision::Defer(format!(
                        "the other side's version wins a conflict but cannot be mapped yet: {why}"
                    )),
                },
            }
        }
    }
}

fn update(conflict: Option<Winner>, rules: &Rules) -> Decision {
    if rules.can_update {
        Decision::Update { conflict }
    } else {
        Decision::Skip(SkipReason::NotAllowed)
    }
}

fn decide_unlinked(incoming: &Incoming, link: Option<&IdMap>, rules: &Rules) -> Decision {
    let too_old = match (rules.history_from, incoming.created_at) {
        (Some(cutoff), Some(created)) => created < cutoff,
        _ => false,
    };
    if too_old {
        return Decision::Skip(SkipReason::TooOld);
    }
    if incoming.deleted {
        return Decision::Skip(SkipReason::DeletedUnlinked);
    }
    let hash = match &incoming.content {
        Content::Hash(hash) => hash,
        Content::Waiting(why) => return Decision::Defer(why.clone()),
        Content::Unmappable(why) => return Decision::Fail(why.clone()),
    };
    if link.and_then(|map| map.hash.as_ref()) == Some(hash) {
        return Decision::Skip(SkipReason::Unchanged);
    }
    if rules.can_create {
        Decision::Create
    } else {
        Decision::Skip(SkipReason::NotAllowed)
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
