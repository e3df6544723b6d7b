//! One page of records from one side, in either direction: describe, keep the newest copy of
//! each record, load the links, [`decide`], read the other side where the decision needs it,
//! decide again, then hand the writes to the writers and save every outcome.

use std::collections::HashMap;

use foldhash::HashMap as FastMap;

use serde_json::Value;

use super::content::Mapped;
use super::decide::{Content, Decision, Incoming, Target, decide};
use super::phase::{Phase, PhaseError};
use super::plan::Plan;
use super::refs::RefIndex;
use super::work::{LOST_CREATE, PageWork, RECLAIMED_CREATE, RetryKey, Slot};
use crate::domain::{
    AppId, Direction, HubId, IdMap, PendingReason, PendingRecord, Side, Timestamp,
};

/// A record of either side, as the engine sees it.
pub(crate) struct Rec {
    pub id: String,
    pub updated_at: Timestamp,
    pub created_at: Option<Timestamp>,
    pub deleted: bool,
    /// Hub records: the app id the hub keeps for this record (this app account's).
    pub known_app_id: Option<AppId>,
    /// App records: the hub id their create marker holds.
    pub known_hub_id: Option<HubId>,
    /// `None` for a deletion known only by the record's absence.
    pub body: Option<Value>,
}

/// One record on its way through the page.
pub(crate) struct Item {
    pub rec: Rec,
    pub slot: Slot,
    pub mapped: Option<Mapped>,
}

impl Phase<'_> {
    /// Processes one page; saves its outcomes even when a write step failed.
    pub(crate) async fn page(
        &mut self,
        direction: Direction,
        records: Vec<Value>,
        missing: Vec<String>,
        parked: &HashMap<RetryKey, PendingRecord>,
    ) -> Result<(), PhaseError> {
        let mut work = PageWork::default();
        work.waited = parked
            .iter()
            .filter(|(_, p)| p.reason == PendingReason::Deferred && p.error == LOST_CREATE)
            .map(|(key, _)| key.clone())
            .collect();
        work.reclaimed = parked
            .iter()
            .filter(|(_, p)| p.reason == PendingReason::Deferred && p.error == RECLAIMED_CREATE)
            .map(|(key, _)| key.clone())
            .collect();
        work.refusals = parked
            .iter()
            .filter(|(_, p)| p.reason == PendingReason::Failed)
            .map(|(key, p)| (key.clone(), p.attempts))
            .collect();
        let outcome = self
            .page_steps(direction, records, missing, &mut work)
            .await;
        let saved = self.persist(work, parked).await;
        outcome.and(saved)
    }

    async fn page_steps(
        &mut self,
        direction: Direction,
        records: Vec<Value>,
        missing: Vec<String>,
        work: &mut PageWork,
    ) -> Result<(), PhaseError> {
        let source = direction.source();
        let recs = self.describe_page(direction, records, missing, work);
        if recs.is_empty() {
            return Ok(());
        }
        let mut items = self.link(source, recs, work).await?;
        let refs = self.source_refs(source, &items).await?;
        for item in &mut items {
            item.mapped = item.rec.body.as_ref().map(|body| match source {
                Side::Hub => self.map_hub_record(body, &refs),
                Side::App => self.map_app_record(body, &refs),
            });
        }
        let rules = self.rules(direction);
        let mut plan = Plan::default();
        let mut to_read: Vec<(Item, Incoming)> = Vec::new();
        for item in items {
            let incoming = incoming(&item);
            let map = work.peek(item.slot);
            let target = match target_id(direction, map) {
                Some(_) => Target::Unread,
                None => Target::Unlinked,
            };
            match decide(&incoming, Some(map), &target, &rules) {
                Decision::ReadTarget => to_read.push((item, incoming)),
                decision => {
                    self.dispatch(direction, item, &incoming, None, decision, work, &mut plan)
                }
            }
        }
        if !to_read.is_empty() {
            let current = self.read_targets(direction, &to_read, work).await?;
            for (item, incoming) in to_read {
                let target_key = target_id(direction, work.peek(item.slot)).unwrap_or_default();
                let (target, theirs) = match current.get(&target_key) {
                    Some((rec, mapped)) if !rec.deleted => (
                        Target::Current {
                            updated_at: rec.updated_at,
                            content: mapped.as_source(),
                        },
                        Some((rec.updated_at, mapped.clone())),
                    ),
                    _ => (Target::Deleted, None),
                };
                let decision = decide(&incoming, Some(work.peek(item.slot)), &target, &rules);
                self.dispatch(
                    direction, item, &incoming, theirs, decision, work, &mut plan,
                );
            }
        }
        self.execute(direction, plan, work).await
    }

    /// Describes every record (malformed ones fail alone), adds deletions known by absence, and
    /// keeps only the newest copy of a record that came twice.
    fn describe_page(
        &self,
        direction: Direction,
        records: Vec<Value>,
        missing: Vec<String>,
        work: &mut PageWork,
    ) -> Vec<Rec> {
        let source = direction.source();
        let mut recs: Vec<Rec> = Vec::with_capacity(records.len());
        for record in records {
            match self.describe(source, record) {
                Some(rec) => recs.push(rec),
                None => {
                    tracing::warn!(org = %self.org.id, entity = %self.pair.hub, side = source.as_str(), "record without id or timestamps; skipped");
                    work.count(direction).failed += 1;
                }
            }
        }
        let now = self.now();
        for id in missing {
            match source {
                // Connec! never hard-deletes: a missing parked record is simply forgotten.
                Side::Hub => work.resolve(RetryKey { side: source, id }),
                // Absent from a read by id: deleted or archived in the app.
                Side::App => recs.push(Rec {
                    id,
                    updated_at: now,
                    created_at: None,
                    deleted: true,
                    known_app_id: None,
                    known_hub_id: None,
                    body: None,
                }),
            }
        }
        let mut newest: FastMap<String, usize> = FastMap::default();
        let mut kept: Vec<Option<Rec>> = Vec::with_capacity(recs.len());
        for rec in recs {
            match newest.get(&rec.id) {
                Some(&at)
                    if kept[at]
                        .as_ref()
                        .is_some_and(|k| k.updated_at >= rec.updated_at) => {}
                Some(&at) => kept[at] = Some(rec),
                None => {
                    newest.insert(rec.id.clone(), kept.len());
                    kept.push(Some(rec));
                }
            }
        }
        kept.into_iter().flatten().collect()
    }

    pub(crate) fn describe(&self, side: Side, record: Value) -> Option<Rec> {
        match side {
            Side::Hub => {
                let meta = self.engine.hub.describe(&self.pair.hub, &record).ok()?;
                let known_app_id = meta
                    .external_id(self.engine.app.provider(), &self.org.realm)
                    .cloned();
                Some(Rec {
                    id: meta.id.to_string(),
                    updated_at: meta.updated_at,
                    created_at: meta.created_at,
                    deleted: meta.inactive,
                    known_app_id,
                    known_hub_id: None,
                    body: Some(record),
                })
            }
            Side::App => {
                let meta = self.engine.app.describe(&self.pair.app, &record).ok()?;
                Some(Rec {
                    id: meta.id.to_string(),
                    updated_at: meta.updated_at,
                    created_at: meta.created_at,
                    deleted: meta.archived,
                    known_app_id: None,
                    known_hub_id: meta.marker,
                    body: Some(record),
                })
            }
        }
    }

    /// Loads the records' id-maps (a fresh one for a record never seen). A hub record that
    /// carries this app account's id is linked to it unless another link owns that app record:
    /// the hub's external ids rebuild a lost id-map before anything is created.
    async fn link(
        &self,
        source: Side,
        recs: Vec<Rec>,
        work: &mut PageWork,
    ) -> Result<Vec<Item>, PhaseError> {
        let org = &self.org.id;
        let entity = &self.pair.hub;
        let mut maps: FastMap<String, IdMap> = match source {
            Side::Hub => {
                let ids: Vec<HubId> = recs.iter().map(|r| HubId::new(r.id.clone())).collect();
                self.store()
                    .idmaps_by_hub_ids(org, entity, &ids)
                    .await?
                    .into_iter()
                    .filter_map(|m| m.hub_id.clone().map(|id| (id.to_string(), m)))
                    .collect()
            }
            Side::App => {
                let ids: Vec<AppId> = recs.iter().map(|r| AppId::new(r.id.clone())).collect();
                self.store()
                    .idmaps_by_app_ids(org, entity, &ids)
                    .await?
                    .into_iter()
                    .filter_map(|m| m.app_id.clone().map(|id| (id.to_string(), m)))
                    .collect()
            }
        };
        // The other side's id each record already names (the hub's external id, the app's
        // create marker), and who owns it now.
        let known = |r: &Rec| match source {
            Side::Hub => r.known_app_id.as_ref().map(|id| id.to_string()),
            Side::App => r.known_hub_id.as_ref().map(|id| id.to_string()),
        };
        let other_of = |m: &IdMap| match source {
            Side::Hub => m.app_id.as_ref().map(|id| id.to_string()),
            Side::App => m.hub_id.as_ref().map(|id| id.to_string()),
        };
        let adoptable: Vec<String> = recs
            .iter()
            .filter(|r| maps.get(&r.id).is_none_or(|m| other_of(m).is_none()))
            .filter_map(known)
            .collect();
        let mut owners: FastMap<String, Option<String>> = FastMap::default();
        // A free half row of an adopted id (a write-ahead of a create whose answer was lost)
        // carries what is known of the pair: the link continues it.
        let mut halves: FastMap<String, IdMap> = FastMap::default();
        if !adoptable.is_empty() {
            let found = match source {
                Side::Hub => {
                    let ids: Vec<AppId> = adoptable.iter().map(AppId::new).collect();
                    self.store().idmaps_by_app_ids(org, entity, &ids).await?
                }
                Side::App => {
                    let ids: Vec<HubId> = adoptable.iter().map(HubId::new).collect();
                    self.store().idmaps_by_hub_ids(org, entity, &ids).await?
                }
            };
            for m in found {
                let half = m.clone();
                let (theirs, mine) = match source {
                    Side::Hub => (
                        m.app_id.map(|i| i.to_string()),
                        m.hub_id.map(|i| i.to_string()),
                    ),
                    Side::App => (
                        m.hub_id.map(|i| i.to_string()),
                        m.app_id.map(|i| i.to_string()),
                    ),
                };
                if let Some(theirs) = theirs {
                    if mine.is_none() {
                        halves.insert(theirs.clone(), half);
                    }
                    owners.insert(theirs, mine);
                }
            }
        }
        let mut items = Vec::with_capacity(recs.len());
        for rec in recs {
            let mut map = maps.remove(&rec.id).unwrap_or_else(|| {
                let mut m = IdMap::new(org.clone(), entity.clone());
                match source {
                    Side::Hub => m.hub_id = Some(HubId::new(rec.id.clone())),
                    Side::App => m.app_id = Some(AppId::new(rec.id.clone())),
                }
                m
            });
            let mut adopted = false;
            if other_of(&map).is_none()
                && let Some(other) = known(&rec)
                && owners
                    .get(&other)
                    .is_none_or(|owner| owner.as_ref().is_none_or(|o| *o == rec.id))
            {
                if let Some(half) = halves.remove(&other)
                    && map.hash.is_none()
                {
                    let (hub_id, app_id) = (map.hub_id.take(), map.app_id.take());
                    map = IdMap {
                        hub_id: half.hub_id.or(hub_id),
                        app_id: half.app_id.or(app_id),
                        ..half
                    };
                }
                match source {
                    Side::Hub => map.app_id = Some(AppId::new(other.clone())),
                    Side::App => map.hub_id = Some(HubId::new(other.clone())),
                }
                owners.insert(other, Some(rec.id.clone()));
                adopted = true;
            }
            let slot = work.add(map);
            if adopted {
                work.map(slot);
            }
            items.push(Item {
                rec,
                slot,
                mapped: None,
            });
        }
        Ok(items)
    }

    async fn source_refs(&self, source: Side, items: &[Item]) -> Result<RefIndex, PhaseError> {
        let bodies = items.iter().filter_map(|i| i.rec.body.as_ref());
        Ok(match source {
            Side::Hub => self.hub_refs(bodies).await?,
            Side::App => self.app_refs(bodies).await?,
        })
    }

    /// The other side's current versions of the records that need them, by id.
    async fn read_targets(
        &self,
        direction: Direction,
        to_read: &[(Item, Incoming)],
        work: &PageWork,
    ) -> Result<FastMap<String, (Rec, Mapped)>, PhaseError> {
        let target = match direction.source() {
            Side::Hub => Side::App,
            Side::App => Side::Hub,
        };
        let ids: Vec<String> = to_read
            .iter()
            .filter_map(|(item, _)| target_id(direction, work.peek(item.slot)))
            .collect();
        let records = self.fetch_by_ids(target, &ids).await?;
        let recs: Vec<Rec> = records
            .into_iter()
            .filter_map(|r| self.describe(target, r))
            .collect();
        let bodies = recs.iter().filter_map(|r| r.body.as_ref());
        let refs = match target {
            Side::Hub => self.hub_refs(bodies).await?,
            Side::App => self.app_refs(bodies).await?,
        };
        Ok(recs
            .into_iter()
            .map(|rec| {
                let body = rec.body.as_ref().expect("read records have bodies");
                let mapped = match target {
                    Side::Hub => self.map_hub_record(body, &refs),
                    Side::App => self.map_app_record(body, &refs),
                };
                (rec.id.clone(), (rec, mapped))
            })
            .collect())
    }
}

/// The incoming view of a record for `decide`.
fn incoming(item: &Item) -> Incoming {
    Incoming {
        updated_at: item.rec.updated_at,
        created_at: item.rec.created_at,
        deleted: item.rec.deleted,
        content: match &item.mapped {
            Some(mapped) => mapped.as_source(),
            None => Content::Unmappable("deleted".into()),
        },
    }
}

/// The id of the record on the direction's target side, when linked.
pub(crate) fn target_id(direction: Direction, map: &IdMap) -> Option<String> {
    match direction {
        Direction::ToApp => map.app_id.as_ref().map(|id| id.to_string()),
        Direction::ToHub => map.hub_id.as_ref().map(|id| id.to_string()),
    }
}

/// Records the versions both sides agree on.
pub(crate) fn stamp(
    map: &mut IdMap,
    direction: Direction,
    incoming_at: Timestamp,
    their_at: Timestamp,
) {
    let (hub_at, app_at) = match direction {
        Direction::ToApp => (incoming_at, their_at),
        Direction::ToHub => (their_at, incoming_at),
    };
    map.hub_updated_at = Some(map.hub_updated_at.map_or(hub_at, |seen| seen.max(hub_at)));
    map.app_updated_at = Some(map.app_updated_at.map_or(app_at, |seen| seen.max(app_at)));
}
