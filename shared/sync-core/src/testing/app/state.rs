//! The app's state: matching and writes.

use super::*;

impl AppState {
    pub(super) fn records(&self, entity: &AppEntityName) -> &[AppRecord] {
        self.records
            .get(entity)
            .map_or(&[], |t| t.records.as_slice())
    }

    pub(super) fn table(&self, entity: &AppEntityName) -> Option<&Table> {
        self.records.get(entity)
    }

    /// An entity's table, to change, with what it indexes.
    pub(super) fn table_mut(&mut self, entity: &AppEntityName) -> (&mut Table, Keys<'_>) {
        let keys = Keys {
            marker: &self.marker,
            natural: self.natural_keys.get(entity).map(String::as_str),
        };
        (self.records.entry(entity.clone()).or_default(), keys)
    }

    /// Indexes every table again (the marker or a natural key changed).
    pub(super) fn reindex(&mut self) {
        for (entity, table) in &mut self.records {
            let keys = Keys {
                marker: &self.marker,
                natural: self.natural_keys.get(entity).map(String::as_str),
            };
            table.rebuild(keys);
        }
    }

    pub(super) fn find(&self, entity: &AppEntityName, id: &AppId) -> Option<&AppRecord> {
        self.table(entity)?.find(id)
    }

    pub(super) fn new_id(&mut self) -> AppId {
        self.next_id += 1;
        AppId::new(self.next_id.to_string())
    }

    pub(super) fn matches(&self, entity: &AppEntityName, query: &MatchQuery) -> AppMatches {
        let Some(table) = self.table(entity) else {
            return AppMatches::default();
        };
        let marked = table
            .marked(query.hub_id.as_str())
            .find(|r| !r.archived)
            .map(|r| r.id.clone());
        let wanted = self.natural_keys.get(entity).and_then(|key| {
            let value = query.record.get("properties")?.get(key)?;
            let empty = value.as_str().is_some_and(|s| s.trim().is_empty());
            (!value.is_null() && !empty).then(|| (key.clone(), value.clone()))
        });
        let natural = match wanted {
            None => Vec::new(),
            Some((key, value)) => {
                let same = |r: &&AppRecord| {
                    !r.archived
                        && r.properties
                            .get(&key)
                            .is_some_and(|v| values_match(v, &value, true))
                };
                // Strings through the index; anything else compares exactly, by a scan.
                let mut found: Vec<&AppRecord> = match table::folded(&value) {
                    Some(folded) => table.natural(&folded).filter(same).collect(),
                    None => table.records.iter().filter(same).collect(),
                };
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
        record: Value,
    ) -> Result<AppWriteOutcome, AppWriteFailure> {
        if self.rejected.contains(hub_id.as_str()) {
            self.counts.rejected += 1;
            return Err(rejected("Property values were not valid (injected fault)"));
        }
        let mut properties = into_properties(record);
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
        let (table, keys) = self.table_mut(entity);
        table.push(created, keys);
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
        if self.find(entity, id).is_none_or(|r| r.archived) {
            self.counts.rejected += 1;
            return Err(AppWriteFailure::NotFound);
        }
        let (table, keys) = self.table_mut(entity);
        let (rendered, unchanged) = table
            .change(id, keys, |stored| {
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
                (stored.render(), unchanged)
            })
            .expect("found just above");
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
