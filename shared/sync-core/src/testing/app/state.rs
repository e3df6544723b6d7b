//! The app's state: matching and writes.

use super::*;

impl AppState {
    pub(super) fn records(&self, entity: &AppEntityName) -> &[AppRecord] {
        self.records.get(entity).map_or(&[], Vec::as_slice)
    }

    pub(super) fn find(&self, entity: &AppEntityName, id: &AppId) -> Option<&AppRecord> {
        self.records(entity).iter().find(|r| &r.id == id)
    }

    pub(super) fn find_mut(
        &mut self,
        entity: &AppEntityName,
        id: &AppId,
    ) -> Option<&mut AppRecord> {
        self.records
            .get_mut(entity)?
            .iter_mut()
            .find(|r| &r.id == id)
    }

    pub(super) fn new_id(&mut self) -> AppId {
        self.next_id += 1;
        AppId::new(self.next_id.to_string())
    }

    pub(super) fn matches(&self, entity: &AppEntityName, query: &MatchQuery) -> AppMatches {
        let live = || self.records(entity).iter().filter(|r| !r.archived);
        let marked = live()
            .find(|r| {
                r.properties.get(&self.marker).and_then(text).as_deref()
                    == Some(query.hub_id.as_str())
            })
            .map(|r| r.id.clone());
        let wanted = self.natural_keys.get(entity).and_then(|key| {
            let value = query.record.get("properties")?.get(key)?;
            let empty = value.as_str().is_some_and(|s| s.trim().is_empty());
            (!value.is_null() && !empty).then(|| (key.clone(), value.clone()))
        });
        let natural = match wanted {
            None => Vec::new(),
            Some((key, value)) => {
                let mut found: Vec<&AppRecord> = live()
                    .filter(|r| {
                        r.properties
                            .get(&key)
                            .is_some_and(|v| values_match(v, &value, true))
                    })
                    .collect();
                found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                found.into_iter().map(|r| r.id.clone()).collect()
            }
        };
        AppMatches { marked, natural }
    }

    pub(super) fn create(
        &mut self,
        clock: &ManualClock,
        entity: &AppEntityName,
        hub_id: &crate::domain::HubId,
        record: &Value,
    ) -> Result<AppWriteOutcome, AppWriteFailure> {
        if self.rejected.contains(hub_id.as_str()) {
            self.counts.rejected += 1;
            return Err(rejected("Property values were not valid (injected fault)"));
        }
        let mut properties = properties_of(record);
        properties.insert(
            self.marker.clone(),
            Value::String(hub_id.as_str().to_owned()),
        );
        let id = self.new_id();
        let now = clock.stamp();
        let created = AppRecord {
            id,
            created_at: now,
            updated_at: now,
            archived: false,
            properties,
        };
        let rendered = created.render();
        self.records
            .entry(entity.clone())
            .or_default()
            .push(created);
        self.counts.created += 1;
        Ok(AppWriteOutcome {
            record: rendered,
            kind: AppWriteKind::Created,
        })
    }

    pub(super) fn update(
        &mut self,
        clock: &ManualClock,
        entity: &AppEntityName,
        id: &AppId,
        record: &Value,
    ) -> Result<AppWriteOutcome, AppWriteFailure> {
        if self.rejected.contains(id.as_str()) {
            self.counts.rejected += 1;
            return Err(rejected("Property values were not valid (injected fault)"));
        }
        let Some(stored) = self.find_mut(entity, id).filter(|r| !r.archived) else {
            self.counts.rejected += 1;
            return Err(AppWriteFailure::NotFound);
        };
        let mut merged = Value::Object(stored.properties.clone());
        deep_merge(&mut merged, &Value::Object(properties_of(record)));
        let Value::Object(merged) = merged else {
            unreachable!("properties are an object")
        };
        let unchanged = merged == stored.properties;
        if !unchanged {
            stored.properties = merged;
            stored.updated_at = clock.stamp();
        }
        let rendered = stored.render();
        self.counts.updated += 1;
        if unchanged {
            self.counts.unchanged += 1;
        }
        Ok(AppWriteOutcome {
            record: rendered,
            kind: AppWriteKind::Updated,
        })
    }

    pub(super) fn take_commit_then_timeout(&mut self, op: AppOp) -> bool {
        match self.commit_then_timeout.get_mut(&op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}
