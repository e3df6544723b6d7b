//! Table tests of [`decide`]: one row per rule of the README's "How a sync works", in both directions.

use super::*;
use crate::domain::{AppId, EntityName, HubId, OrgId};

fn at(seconds: i64) -> Timestamp {
    Timestamp::parse(&format!("2024-01-01T00:00:{seconds:02}Z")).expect("timestamp")
}

fn hash(text: &str) -> ContentHash {
    mapping::content_hash(&serde_json::json!({ "v": text }))
}

/// The link's state in a row.
#[derive(Clone, Copy)]
enum Link {
    /// No id-map at all.
    None,
    /// Linked, last synced content "old", versions seen at second 10 on both sides.
    Synced,
    /// Linked but never synced (rebuilt from external ids): no hash.
    Bare,
    Inactive,
    OptedOut,
}

fn link(kind: Link, direction: Direction) -> Option<IdMap> {
    let mut map = IdMap::new(OrgId::new("org"), EntityName::new("people"));
    map.hub_id = Some(HubId::new("h1"));
    map.app_id = Some(AppId::new("a1"));
    map.hash = Some(hash("old"));
    map.hub_updated_at = Some(at(10));
    map.app_updated_at = Some(at(10));
    match kind {
        Link::None => return None,
        Link::Synced => {}
        Link::Bare => {
            map.hash = None;
            map.hub_updated_at = None;
            map.app_updated_at = None;
        }
        Link::Inactive => map.inactive = true,
        Link::OptedOut => match direction {
            Direction::ToApp => map.to_app = false,
            Direction::ToHub => map.to_hub = false,
        },
    }
    Some(map)
}

fn incoming(updated: i64, created: Option<i64>, content: Content) -> Incoming {
    Incoming {
        updated_at: at(updated),
        created_at: created.map(at),
        deleted: false,
        content,
    }
}

fn new_content() -> Content {
    Content::Hash(hash("new"))
}

fn current(updated: i64, content: &str) -> Target {
    Target::Current {
        updated_at: at(updated),
        content: Content::Hash(hash(content)),
    }
}

fn rules(direction: Direction, policy: ConflictPolicy) -> Rules {
    Rules {
        direction,
        history_from: Some(at(5)),
        can_create: true,
        can_update: true,
        can_archive: true,
        can_update_source: true,
        policy,
    }
}

struct Row {
    name: &'static str,
    incoming: Incoming,
    link: Link,
    target: Target,
    tweak: fn(&mut Rules),
    expect: Decision,
}

fn none(_: &mut Rules) {}

fn rows() -> Vec<Row> {
    use Decision::*;
    vec![
        Row {
            name: "4.3 a new record created after the cut-off is created (after matching)",
            incoming: incoming(20, Some(15), new_content()),
            link: Link::None,
            target: Target::Unlinked,
            tweak: none,
            expect: Create,
        },
        Row {
            name: "4.3 a new record created before the cut-off does not start travelling",
            incoming: incoming(20, Some(1), new_content()),
            link: Link::None,
            target: Target::Unlinked,
            tweak: none,
            expect: Skip(SkipReason::TooOld),
        },
        Row {
            name: "4.3 historical data on: an old record travels",
            incoming: incoming(20, Some(1), new_content()),
            link: Link::None,
            target: Target::Unlinked,
            tweak: |r| r.history_from = None,
            expect: Create,
        },
        Row {
            name: "F3 the cut-off never freezes a linked record (merged with an old one)",
            incoming: incoming(20, Some(1), new_content()),
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: ReadTarget,
        },
        Row {
            name: "capabilities: no create on the target side",
            incoming: incoming(20, Some(15), new_content()),
            link: Link::None,
            target: Target::Unlinked,
            tweak: |r| r.can_create = false,
            expect: Skip(SkipReason::NotAllowed),
        },
        Row {
            name: "4.8 a deletion of a record never linked has nothing to delete",
            incoming: Incoming {
                deleted: true,
                ..incoming(20, Some(15), new_content())
            },
            link: Link::None,
            target: Target::Unlinked,
            tweak: none,
            expect: Skip(SkipReason::DeletedUnlinked),
        },
        Row {
            name: "4.7 a new record with an unsynced reference is deferred",
            incoming: incoming(20, Some(15), Content::Waiting("org".into())),
            link: Link::None,
            target: Target::Unlinked,
            tweak: none,
            expect: Defer("org".into()),
        },
        Row {
            name: "4.9 a record that cannot be mapped fails (and is retried)",
            incoming: incoming(20, Some(15), Content::Unmappable("bad".into())),
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: Fail("bad".into()),
        },
        Row {
            name: "4.8 an inactive link never travels again",
            incoming: incoming(20, None, new_content()),
            link: Link::Inactive,
            target: Target::Unread,
            tweak: none,
            expect: Skip(SkipReason::Inactive),
        },
        Row {
            name: "per-record opt-out holds",
            incoming: incoming(20, None, new_content()),
            link: Link::OptedOut,
            target: Target::Unread,
            tweak: none,
            expect: Skip(SkipReason::OptedOut),
        },
        Row {
            name: "webhooks: an older version never overwrites a newer one (stale guard)",
            incoming: incoming(9, None, new_content()),
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: Skip(SkipReason::Stale),
        },
        Row {
            name: "4.6 unchanged mapped fields are an echo: skipped",
            incoming: incoming(20, None, Content::Hash(hash("old"))),
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: Skip(SkipReason::Unchanged),
        },
        Row {
            name: "4.8 a deletion at the source archives the linked record",
            incoming: Incoming {
                deleted: true,
                ..incoming(20, None, new_content())
            },
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: Archive,
        },
        Row {
            name: "4.8 no archive where the target cannot archive",
            incoming: Incoming {
                deleted: true,
                ..incoming(20, None, new_content())
            },
            link: Link::Synced,
            target: Target::Unread,
            tweak: |r| r.can_archive = false,
            expect: Skip(SkipReason::NotAllowed),
        },
        Row {
            name: "4.5 a changed linked record reads the other side first",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: Target::Unread,
            tweak: none,
            expect: ReadTarget,
        },
        Row {
            name: "4.5 unchanged on the other side: update",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: current(10, "old"),
            tweak: none,
            expect: Update { conflict: None },
        },
        Row {
            name: "capabilities: no update on the target side",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: current(10, "old"),
            tweak: |r| r.can_update = false,
            expect: Skip(SkipReason::NotAllowed),
        },
        Row {
            name: "both sides changed to the same content: settle, write nothing",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: current(15, "new"),
            tweak: none,
            expect: Settle,
        },
        Row {
            name: "F2 deleted on the other side: the deletion wins and travels back",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: Target::Deleted,
            tweak: none,
            expect: TargetDeleted,
        },
        Row {
            name: "F11 an unreadable version on the other side counts as changed (conflict)",
            incoming: incoming(20, None, new_content()),
            link: Link::Synced,
            target: Target::Current {
                updated_at: at(30),
                content: Content::Waiting("company".into()),
            },
            tweak: none,
            expect: Defer(
                "the other side's version wins a conflict but cannot be mapped yet: company".into(),
            ),
        },
        Row {
            name: "no baseline (link rebuilt from external ids): the incoming version goes through",
            incoming: incoming(20, None, new_content()),
            link: Link::Bare,
            target: current(30, "other"),
            tweak: none,
            expect: Update { conflict: None },
        },
    ]
}

#[test]
fn every_rule_of_the_table_holds_in_both_directions() {
    for direction in [Direction::ToApp, Direction::ToHub] {
        for row in rows() {
            let mut rules = rules(direction, ConflictPolicy::MostRecent);
            (row.tweak)(&mut rules);
            let map = link(row.link, direction);
            let got = decide(&row.incoming, map.as_ref(), &row.target, &rules);
            assert_eq!(got, row.expect, "{} ({})", row.name, direction.label());
        }
    }
}

/// F4 and 4.5: a conflict (changed on both sides, differently) is settled by the policy, the
/// same way whichever side the phase reads; the loser is never pushed.
#[test]
fn conflicts_follow_the_policy_in_both_directions() {
    use Decision::*;
    // (policy, incoming is newer?, direction) -> decision
    let table = [
        (
            ConflictPolicy::MostRecent,
            true,
            Direction::ToApp,
            Update {
                conflict: Some(Winner::Hub),
            },
        ),
        (
            ConflictPolicy::MostRecent,
            false,
            Direction::ToApp,
            PushBack {
                winner: Winner::App,
            },
        ),
        (
            ConflictPolicy::MostRecent,
            true,
            Direction::ToHub,
            Update {
                conflict: Some(Winner::App),
            },
        ),
        (
            ConflictPolicy::MostRecent,
            false,
            Direction::ToHub,
            PushBack {
                winner: Winner::Hub,
            },
        ),
        (
            ConflictPolicy::HubWins,
            false,
            Direction::ToApp,
            Update {
                conflict: Some(Winner::Hub),
            },
        ),
        (
            ConflictPolicy::HubWins,
            true,
            Direction::ToHub,
            PushBack {
                winner: Winner::Hub,
            },
        ),
        (
            ConflictPolicy::AppWins,
            true,
            Direction::ToApp,
            PushBack {
                winner: Winner::App,
            },
        ),
        (
            ConflictPolicy::AppWins,
            false,
            Direction::ToHub,
            Update {
                conflict: Some(Winner::App),
            },
        ),
    ];
    for (policy, incoming_newer, direction, expect) in table {
        let (mine, theirs) = if incoming_newer { (30, 20) } else { (20, 30) };
        let map = link(Link::Synced, direction);
        let got = decide(
            &incoming(mine, None, new_content()),
            map.as_ref(),
            &current(theirs, "theirs"),
            &rules(direction, policy),
        );
        assert_eq!(
            got,
            expect,
            "{policy:?}, incoming newer: {incoming_newer}, {}",
            direction.label()
        );
    }
}

/// The other side holds our own write whose outcome was lost (the write-ahead hash): no change
/// of theirs, so no conflict that a side-wins policy could give to our stale echo.
#[test]
fn our_own_write_in_flight_is_no_change_on_the_other_side() {
    for (direction, side) in [
        (Direction::ToApp, crate::domain::Side::App),
        (Direction::ToHub, crate::domain::Side::Hub),
    ] {
        let mut map = link(Link::Synced, direction).unwrap();
        map.set_pending(side, hash("ours"));
        let policy = match direction {
            Direction::ToApp => ConflictPolicy::AppWins,
            Direction::ToHub => ConflictPolicy::HubWins,
        };
        let got = decide(
            &incoming(20, None, new_content()),
            Some(&map),
            &current(30, "ours"),
            &rules(direction, policy),
        );
        assert_eq!(
            got,
            Decision::Update { conflict: None },
            "{}",
            direction.label()
        );
        // Written to the other side only: the same hash on the side we read is a real change.
        let other = match side {
            crate::domain::Side::App => crate::domain::Side::Hub,
            crate::domain::Side::Hub => crate::domain::Side::App,
        };
        map.pending_writes.clear();
        map.set_pending(other, hash("ours"));
        let got = decide(
            &incoming(20, None, new_content()),
            Some(&map),
            &current(30, "ours"),
            &rules(direction, policy),
        );
        assert!(
            matches!(got, Decision::PushBack { .. }),
            "{}: {got:?}",
            direction.label()
        );
    }
}

/// Our own write to the side a phase reads, coming back before its outcome was saved, is an
/// echo even with no baseline on the link (a link rebuilt from a create marker).
#[test]
fn our_own_write_coming_back_is_an_echo_even_without_a_baseline() {
    for (direction, read_from) in [
        (Direction::ToApp, crate::domain::Side::Hub),
        (Direction::ToHub, crate::domain::Side::App),
    ] {
        let mut map = link(Link::Bare, direction).unwrap();
        map.set_pending(read_from, hash("new"));
        let got = decide(
            &incoming(20, None, new_content()),
            Some(&map),
            &Target::Unread,
            &rules(direction, ConflictPolicy::MostRecent),
        );
        assert_eq!(
            got,
            Decision::Skip(SkipReason::Unchanged),
            "{}",
            direction.label()
        );
    }
}

/// A link without a baseline that carries our write-ahead to the target (a create whose answer
/// was lost, linked through its marker before its outcome was known): a target version other
/// than the one we wrote was changed there since, so the policy decides, never the incoming
/// version over it unseen. Found by the `--kill` chaos variant (seed 8181: a HubSpot edit of
/// such a contact overwritten by the Connec! version).
#[test]
fn a_target_changed_since_our_lost_create_is_a_conflict_without_a_baseline() {
    for (direction, written_to) in [
        (Direction::ToApp, crate::domain::Side::App),
        (Direction::ToHub, crate::domain::Side::Hub),
    ] {
        let mut map = link(Link::Bare, direction).unwrap();
        map.set_pending(written_to, hash("new"));
        // The target was edited after our create (second 30) and the incoming record is older
        // (second 20): under most recent the target's version wins.
        let got = decide(
            &incoming(20, None, new_content()),
            Some(&map),
            &current(30, "edited"),
            &rules(direction, ConflictPolicy::MostRecent),
        );
        let target_wins = match direction {
            Direction::ToApp => Winner::App,
            Direction::ToHub => Winner::Hub,
        };
        assert_eq!(
            got,
            Decision::PushBack {
                winner: target_wins
            },
            "{}",
            direction.label()
        );
        // The incoming record newer: it wins, as a conflict.
        let got = decide(
            &incoming(40, None, new_content()),
            Some(&map),
            &current(30, "edited"),
            &rules(direction, ConflictPolicy::MostRecent),
        );
        assert!(
            matches!(got, Decision::Update { conflict: Some(_) }),
            "{}: {got:?}",
            direction.label()
        );
        // The target still holds what we wrote: no change there, the write settles.
        let got = decide(
            &incoming(20, None, new_content()),
            Some(&map),
            &current(30, "new"),
            &rules(direction, ConflictPolicy::MostRecent),
        );
        assert_eq!(got, Decision::Settle, "{}", direction.label());
    }
}

/// A tie under most-recent goes to the hub, whichever side the phase reads.
#[test]
fn a_tie_goes_to_the_hub_in_both_directions() {
    for (direction, expect) in [
        (
            Direction::ToApp,
            Decision::Update {
                conflict: Some(Winner::Hub),
            },
        ),
        (
            Direction::ToHub,
            Decision::PushBack {
                winner: Winner::Hub,
            },
        ),
    ] {
        let map = link(Link::Synced, direction);
        let got = decide(
            &incoming(20, None, new_content()),
            map.as_ref(),
            &current(20, "theirs"),
            &rules(direction, ConflictPolicy::MostRecent),
        );
        assert_eq!(got, expect, "{}", direction.label());
    }
}

/// A conflict the other side wins travels back only where the source may be updated.
#[test]
fn a_won_conflict_does_not_travel_back_where_the_source_cannot_be_updated() {
    let mut rules = rules(Direction::ToApp, ConflictPolicy::AppWins);
    rules.can_update_source = false;
    let map = link(Link::Synced, Direction::ToApp);
    let got = decide(
        &incoming(20, None, new_content()),
        map.as_ref(),
        &current(30, "theirs"),
        &rules,
    );
    assert_eq!(got, Decision::Skip(SkipReason::NotAllowed));
}
