//! From decisions to writes: counters, conflicts, and the writes each writer will send, run in
//! order (the phase's target first, then what travels back), every step even when one fails.

use serde_json::Value;

use super::content::Mapped;
use super::decide::{Decision, Incoming, SkipReason};
use super::page::{Item, Rec, stamp, target_id};
use super::phase::{Phase, PhaseError};
use super::work::{PageWork, RetryKey, Slot};
use super::writes::{AppArchive, AppPush, HubPush, HubPushKind};
use crate::domain::{AppId, ConflictNote, Direction, HubId, PendingReason, Timestamp, Winner};
use crate::ports::HubChange;

/// What the page will write, by writer.
#[derive(Default)]
pub(crate) struct Plan {
    pub to_app: Vec<AppPush>,
    pub app_archives: Vec<AppArchive>,
    pub to_hub: Vec<HubPush>,
}

impl Phase<'_> {
    /// Turns one decision into counters, bookkeeping and planned writes.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn dispatch(
        &self,
        direction: Direction,
        item: Item,
        incoming: &Incoming,
        theirs: Option<(Timestamp, Mapped)>,
        decision: Decision,
        work: &mut PageWork,
        plan: &mut Plan,
    ) {
        let source = direction.source();
        let key = RetryKey {
            side: source,
            id: item.rec.id.clone(),
        };
        let slot = item.slot;
        match decision {
            Decision::Skip(reason) => {
                if reason == SkipReason::Stale || reason == SkipReason::Unchanged {
                    tracing::debug!(org = %self.org.id, entity = %self.pair.hub, id = %item.rec.id, reason = ?reason, "skipped");
                }
                if reason == SkipReason::DeletedUnlinked {
                    // Remembered as deleted, so references to it resolve to "none" instead of
                    // waiting for a record that will never travel.
                    work.map(slot).inactive = true;
                }
                work.count(direction).skipped += 1;
                work.resolve(key);
            }
            Decision::ReadTarget => unreachable!("the page reads the target first"),
            Decision::Defer(why) => {
                work.count(direction).deferred += 1;
                work.park(key, PendingReason::Deferred, why);
            }
            Decision::Fail(why) => {
                tracing::warn!(org = %self.org.id, entity = %self.pair.hub, id = %item.rec.id, "record cannot be mapped; parked");
                work.fail(direction, slot, key, why);
            }
            Decision::Settle => {
                let (at, _) = theirs.expect("settled against a current version");
                let hash = incoming.content.hash().cloned();
                let map = work.map(slot);
                map.hash = hash;
                stamp(map, direction, incoming.updated_at, at);
                work.count(direction).skipped += 1;
                work.resolve(key);
            }
            Decision::Create | Decision::Update { .. } => {
                let conflict = match decision {
                    Decision::Update { conflict } => conflict,
                    _ => None,
                };
                if let (Some(winner), Some((at, _))) = (conflict, &theirs) {
                    self.note_conflict(direction, slot, incoming.updated_at, *at, winner, work);
                }
                let mapped = item.mapped.expect("a pushed record has content");
                let payload = mapped.payload.expect("decide pushes mapped records only");
                let hash = mapped.hash.hash().cloned();
                self.plan_push(direction, slot, &item.rec, payload, hash, key, work, plan);
            }
            Decision::PushBack { winner } => {
                let (at, mapped) = theirs.expect("a conflict has a current version");
                self.note_conflict(direction, slot, incoming.updated_at, at, winner, work);
                work.resolve(key);
                let payload = mapped
                    .payload
                    .expect("decide pushes back mapped records only");
                let hash = mapped.hash.hash().cloned();
                let back = match direction {
                    Direction::ToApp => Direction::ToHub,
                    Direction::ToHub => Direction::ToApp,
                };
                let target = target_id(direction, work.peek(slot)).expect("linked");
                let target_key = RetryKey {
                    side: back.source(),
                    id: target.clone(),
                };
                let rec = Rec {
                    id: target,
                    updated_at: at,
                    created_at: None,
                    deleted: false,
                    known_app_id: None,
                    known_hub_id: None,
                    body: None,
                };
                self.plan_push(back, slot, &rec, payload, hash, target_key, work, plan);
            }
            Decision::Archive => {
                work.resolve(key.clone());
                self.plan_archive(direction, slot, key, plan, work);
            }
            Decision::TargetDeleted => {
                tracing::info!(org = %self.org.id, entity = %self.pair.hub, id = %item.rec.id, "deleted on the other side; the deletion travels back");
                work.resolve(key.clone());
                let map = work.map(slot);
                map.last_error = Some("deleted on the other side".into());
                let back = match direction {
                    Direction::ToApp => Direction::ToHub,
                    Direction::ToHub => Direction::ToApp,
                };
                self.plan_archive(back, slot, key, plan, work);
            }
        }
    }

    /// A content write in `direction` of a record's mapped payload.
    #[allow(clippy::too_many_arguments)]
    fn plan_push(
        &self,
        direction: Direction,
        slot: Slot,
        rec: &Rec,
        payload: Value,
        hash: Option<crate::domain::ContentHash>,
        retry: RetryKey,
        work: &mut PageWork,
        plan: &mut Plan,
    ) {
        if direction == Direction::ToApp
            && let Some(label) = rec.body.as_ref().and_then(|hub| self.label(hub))
        {
            // The page's list of failed records names them, even before they first travel.
            work.map(slot).name = Some(label);
        }
        let map = work.peek(slot);
        match direction {
            Direction::ToApp => plan.to_app.push(AppPush {
                slot,
                hub_id: map
                    .hub_id
                    .clone()
                    .unwrap_or_else(|| HubId::new(rec.id.clone())),
                hub_updated_at: rec.updated_at,
                hash: hash.expect("mapped content has a hash"),
                record: payload,
                target: map.app_id.clone(),
                matched: false,
                ours: false,
                retry,
            }),
            Direction::ToHub => plan.to_hub.push(HubPush {
                slot,
                app_id: map
                    .app_id
                    .clone()
                    .unwrap_or_else(|| AppId::new(rec.id.clone())),
                app_updated_at: Some(rec.updated_at),
                hash,
                label: self.label(&payload),
                kind: HubPushKind::Content,
                change: HubChange::Fields(payload),
                target: map.hub_id.clone(),
                retry,
            }),
        }
    }

    /// An archive in `direction`: of the app record (to app) or the hub record (to hub).
    fn plan_archive(
        &self,
        direction: Direction,
        slot: Slot,
        retry: RetryKey,
        plan: &mut Plan,
        work: &mut PageWork,
    ) {
        let map = work.map(slot);
        match direction {
            Direction::ToApp => match map.app_id.clone() {
                Some(app_id) if self.pair.capabilities.app_archive => {
                    plan.app_archives.push(AppArchive {
                        slot,
                        app_id,
                        retry,
                    })
                }
                _ => map.inactive = true,
            },
            Direction::ToHub => match (map.hub_id.clone(), map.app_id.clone()) {
                (Some(hub_id), Some(app_id)) => plan
                    .to_hub
                    .push(HubPush::archive(slot, app_id, hub_id, retry)),
                _ => map.inactive = true,
            },
        }
    }

    fn note_conflict(
        &self,
        direction: Direction,
        slot: Slot,
        incoming_at: Timestamp,
        their_at: Timestamp,
        winner: Winner,
        work: &mut PageWork,
    ) {
        let map = work.peek(slot);
        let (hub_updated_at, app_updated_at) = match direction {
            Direction::ToApp => (incoming_at, their_at),
            Direction::ToHub => (their_at, incoming_at),
        };
        let note = ConflictNote {
            entity: self.pair.hub.clone(),
            hub_id: map.hub_id.clone().unwrap_or_else(|| HubId::new("")),
            app_id: map.app_id.clone().unwrap_or_else(|| AppId::new("")),
            policy: self.pair.conflict_policy,
            winner,
            hub_updated_at,
            app_updated_at,
        };
        tracing::info!(org = %self.org.id, entity = %self.pair.hub, hub_id = %note.hub_id, app_id = %note.app_id, winner = ?winner, "conflict");
        work.conflicts.push(note);
        work.count(direction).conflicts += 1;
    }

    /// Runs the plan: the writes into the phase's target first, then those travelling back.
    pub(crate) async fn execute(
        &mut self,
        direction: Direction,
        plan: Plan,
        work: &mut PageWork,
    ) -> Result<(), PhaseError> {
        let Plan {
            to_app,
            app_archives,
            mut to_hub,
        } = plan;
        // Every step runs even when one fails, so no settled outcome is dropped; the first
        // error ends the phase afterwards.
        let mut first_error = None;
        if direction == Direction::ToHub
            && let Err(e) = self.write_hub(std::mem::take(&mut to_hub), work).await
        {
            first_error.get_or_insert(e);
        }
        match self.write_app(to_app, work).await {
            Ok(back) => to_hub.extend(back),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        if let Err(e) = self.archive_app(app_archives, work).await {
            first_error.get_or_insert(e);
        }
        if let Err(e) = self.write_hub(to_hub, work).await {
            first_error.get_or_insert(e);
        }
        first_error.map_or(Ok(()), Err)
    }
}
