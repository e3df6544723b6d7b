//! Real-time deliveries, duplicated and out of order: every committed change on either side
//! (the engine's own writes included, which must come back as no-ops) is caught by the
//! emulators' change hooks; [`Inbox::collect`] snapshots the Connec! record versions as they
//! are at that moment (a notification carries the record), and [`Inbox::deliver`] hands them
//! to the engine's real-time applies shuffled, repeated and in random batches, long after
//! newer versions may exist.

use std::sync::{Arc, Mutex};

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::Value;
use sync_core::domain::{AppId, EntityName, OrgId};
use sync_core::engine::SyncEngine;
use sync_core::error::SyncError;

use crate::world::{GROUP, Sides};

/// One pending delivery.
#[derive(Clone, Debug)]
enum Event {
    /// A Connec! notification's record, as it was when collected.
    Hub { entity: String, record: Value },
    /// An app webhook event: ids only.
    App { entity: String, id: String },
}

/// What deliveries did.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeliveryCounts {
    /// Events handed to the engine (repeats included).
    pub delivered: u64,
    /// Applies refused because a sync held the lease (acceptable).
    pub locked: u64,
    /// Applies that failed otherwise (faults; the next sync repairs).
    pub failed: u64,
}

/// Change events caught from both emulators, not yet delivered.
#[derive(Clone, Default)]
pub struct Inbox {
    changed: Arc<Mutex<Vec<(bool, String, String)>>>,
    pending: Arc<Mutex<Vec<Event>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inbox {
    /// Listens to both emulators' changes.
    pub fn install(sides: &Sides) -> Self {
        let inbox = Self::default();
        let changed = inbox.changed.clone();
        sides.connec.on_change(Arc::new(move |e| {
            if e.scope == GROUP {
                lock(&changed).push((true, e.collection.clone(), e.id.clone()));
            }
        }));
        let changed = inbox.changed.clone();
        sides.app.on_change(Arc::new(move |e| {
            lock(&changed).push((false, e.collection.clone(), e.id.clone()));
        }));
        inbox
    }

    /// Turns the changes caught so far into pending deliveries (Connec! records as they are now).
    pub fn collect(&self, sides: &Sides) {
        let changed = std::mem::take(&mut *lock(&self.changed));
        let mut pending = lock(&self.pending);
        for (hub, collection, id) in changed {
            if hub {
                if let Some(record) = sides.connec.get(GROUP, &collection, &id) {
                    pending.push(Event::Hub {
                        entity: collection,
                        record,
                    });
                }
            } else if let Some(entity) = sides.app.entity_of_change(&collection) {
                pending.push(Event::App {
                    entity: entity.to_owned(),
                    id,
                });
            }
        }
    }

    /// Forgets everything pending.
    pub fn discard(&self) {
        lock(&self.changed).clear();
        lock(&self.pending).clear();
    }

    /// Delivers up to `limit` pending events (all when `None`), shuffled, each one to three
    /// times, in batches of one to five; a batch goes to the engine as one notification or
    /// one webhook call per entity.
    pub async fn deliver(
        &self,
        rng: &mut StdRng,
        engine: &SyncEngine,
        org: &OrgId,
        limit: Option<usize>,
    ) -> DeliveryCounts {
        let mut events = {
            let mut pending = lock(&self.pending);
            let take = limit.unwrap_or(pending.len()).min(pending.len());
            pending.drain(..take).collect::<Vec<_>>()
        };
        let mut repeated = Vec::new();
        for event in events.drain(..) {
            for _ in 0..rng.random_range(1..=3u32) {
                repeated.push(event.clone());
            }
        }
        repeated.shuffle(rng);
        let mut counts = DeliveryCounts::default();
        while !repeated.is_empty() {
            let size = rng.random_range(1..=5usize).min(repeated.len());
            let batch: Vec<Event> = repeated.drain(..size).collect();
            counts.delivered += batch.len() as u64;
            for entity in ["organizations", "people"] {
                let records: Vec<Value> = batch
                    .iter()
                    .filter_map(|e| match e {
                        Event::Hub { entity: n, record } if n == entity => Some(record.clone()),
                        _ => None,
                    })
                    .collect();
                let ids: Vec<AppId> = batch
                    .iter()
                    .filter_map(|e| match e {
                        Event::App { entity: n, id } if n == entity => Some(AppId::new(id.clone())),
                        _ => None,
                    })
                    .collect();
                let name = EntityName::new(entity);
                if !records.is_empty() {
                    tally(
                        &mut counts,
                        engine.apply_hub_records(org, &name, records).await,
                    );
                }
                if !ids.is_empty() {
                    tally(&mut counts, engine.apply_app_changes(org, &name, ids).await);
                }
            }
        }
        counts
    }
}

fn tally<T>(counts: &mut DeliveryCounts, outcome: Result<T, SyncError>) {
    match outcome {
        Ok(_) => {}
        Err(SyncError::Locked(_)) => counts.locked += 1,
        Err(_) => counts.failed += 1,
    }
}
