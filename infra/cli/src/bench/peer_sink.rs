//! A HubSpot without a network, for `connector bench peer`: the real HubSpot connector's entity
//! pairs (its mappings) and record descriptions, over records kept in memory. The engine's work
//! stays whole (mapping, hashing, id-maps, match-before-create, writes planning); the app's API
//! calls cost a hash-map insert instead of a round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sync_core::domain::{AppEntityName, AppId, PageCursor, Provider, Timestamp};
use sync_core::entity::EntityPair;
use sync_core::error::AppError;
use sync_core::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind,
    AppWriteOutcome, Clock, MatchQuery, Page, SystemClock,
};

#[derive(Default)]
struct Held {
    next_id: u64,
    records: HashMap<(AppEntityName, AppId), Value>,
    created: HashMap<AppEntityName, u64>,
}

/// The sink: an empty app that takes every write.
pub struct SinkApp {
    real: Arc<dyn AppConnector>,
    marker: String,
    held: Mutex<Held>,
}

impl SinkApp {
    /// Over `real`'s entity pairs and descriptions; creates carry `marker` (the real
    /// connector's create-marker property) as HubSpot's do.
    pub fn new(real: Arc<dyn AppConnector>, marker: &str) -> Self {
        Self {
            real,
            marker: marker.to_owned(),
            held: Mutex::new(Held::default()),
        }
    }

    /// Records created in `entity` so far.
    pub fn created(&self, entity: &str) -> u64 {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.created
            .get(&AppEntityName::new(entity))
            .copied()
            .unwrap_or(0)
    }
}

fn properties(record: &Value) -> Map<String, Value> {
    record
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl AppConnector for SinkApp {
    fn provider(&self) -> &Provider {
        self.real.provider()
    }

    fn entities(&self) -> &[EntityPair] {
        self.real.entities()
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        self.real.describe(entity, record)
    }

    /// Empty: the app holds nothing the hub has not sent it.
    async fn fetch_page(
        &self,
        _entity: &AppEntityName,
        _since: Option<Timestamp>,
        _cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        Ok(Page {
            records: Vec::new(),
            next: None,
        })
    }

    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(ids
            .iter()
            .filter_map(|id| held.records.get(&(entity.clone(), id.clone())).cloned())
            .collect())
    }

    /// Nothing matches: every record is new to the app.
    async fn find_matches(
        &self,
        _entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        Ok(vec![AppMatches::default(); queries.len()])
    }

    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError> {
        let now = SystemClock.now().to_rfc3339();
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut outcomes = Vec::with_capacity(writes.len());
        for write in writes {
            let (id, kind, props) = match write {
                AppWrite::Create { hub_id, record, .. } => {
                    held.next_id += 1;
                    *held.created.entry(entity.clone()).or_default() += 1;
                    let mut props = properties(&record);
                    props.insert(self.marker.clone(), hub_id.as_str().into());
                    (
                        AppId::new(held.next_id.to_string()),
                        AppWriteKind::Created,
                        props,
                    )
                }
                AppWrite::Update { id, record } => {
                    let key = (entity.clone(), id.clone());
                    let Some(stored) = held.records.get(&key) else {
                        outcomes.push(Err(AppWriteFailure::NotFound));
                        continue;
                    };
                    let mut props = properties(stored);
                    props.extend(properties(&record));
                    (id, AppWriteKind::Updated, props)
                }
            };
            let stored = json!({
                "id": id.as_str(),
                "createdAt": now,
                "updatedAt": now,
                "archived": false,
                "properties": props,
            });
            held.records.insert((entity.clone(), id), stored.clone());
            outcomes.push(Ok(AppWriteOutcome {
                record: stored,
                kind,
            }));
        }
        Ok(outcomes)
    }

    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(ids
            .iter()
            .map(
                |id| match held.records.get_mut(&(entity.clone(), id.clone())) {
                    Some(stored) => {
                        stored["archived"] = true.into();
                        Ok(())
                    }
                    None => Err(AppWriteFailure::NotFound),
                },
            )
            .collect())
    }
}
