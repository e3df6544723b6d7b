//! The hub's state: records, references, rendering, and `/batch` semantics.

use super::*;

impl HubState {
    pub(super) fn indexed(&self, group: &GroupId, collection: &EntityName) -> Option<&Collection> {
        self.records.get(group)?.get(collection)
    }

    pub(super) fn collection(&self, group: &GroupId, collection: &EntityName) -> &[Stored] {
        self.indexed(group, collection)
            .map_or(&[], |c| c.records.as_slice())
    }

    pub(super) fn collection_mut(
        &mut self,
        group: &GroupId,
        collection: &EntityName,
    ) -> &mut Collection {
        // The group and collection are named anew only for their first record.
        if !self.records.contains_key(group) {
            self.records.insert(group.clone(), BTreeMap::new());
        }
        let collections = self.records.get_mut(group).expect("inserted above");
        if !collections.contains_key(collection) {
            collections.insert(collection.clone(), Collection::default());
        }
        collections.get_mut(collection).expect("inserted above")
    }

    /// Adds a record (its id is new) with its external ids.
    pub(super) fn push(&mut self, group: &GroupId, collection: &EntityName, stored: Stored) {
        let c = self.collection_mut(group, collection);
        let at = c.records.len();
        c.by_id.insert(stored.id.clone(), at);
        for ext in &stored.external_ids {
            c.by_external.entry(ext.clone()).or_default().insert(at);
        }
        c.records.push(stored);
        c.order = None;
    }

    /// Attaches an external id to a record that does not hold it yet.
    pub(super) fn attach(
        &mut self,
        group: &GroupId,
        collection: &EntityName,
        id: &HubId,
        ext: ExternalId,
    ) {
        let c = self.collection_mut(group, collection);
        let Some(&at) = c.by_id.get(id) else { return };
        c.by_external.entry(ext.clone()).or_default().insert(at);
        c.records[at].external_ids.push(ext);
    }

    /// Computes the order of a collection by (`created_at`, id) if it is not known.
    pub(super) fn order(&mut self, group: &GroupId, collection: &EntityName) {
        let c = self.collection_mut(group, collection);
        if c.order.is_none() {
            let mut order: Vec<usize> = (0..c.records.len()).collect();
            let records = &c.records;
            order.sort_by(|&a, &b| {
                let (a, b) = (&records[a], &records[b]);
                (a.created_at, &a.id).cmp(&(b.created_at, &b.id))
            });
            c.order = Some(order);
        }
    }

    pub(super) fn find(
        &self,
        group: &GroupId,
        collection: &EntityName,
        id: &HubId,
    ) -> Option<&Stored> {
        let c = self.indexed(group, collection)?;
        c.by_id.get(id).map(|&at| &c.records[at])
    }

    pub(super) fn find_mut(
        &mut self,
        group: &GroupId,
        collection: &EntityName,
        id: &HubId,
    ) -> Option<&mut Stored> {
        let c = self.records.get_mut(group)?.get_mut(collection)?;
        let at = *c.by_id.get(id)?;
        Some(&mut c.records[at])
    }

    pub(super) fn by_external(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ext: &ExternalId,
    ) -> Option<&Stored> {
        let c = self.indexed(group, collection)?;
        let first = c.by_external.get(ext)?.first()?;
        Some(&c.records[*first])
    }

    pub(super) fn new_id(&mut self, collection: &EntityName) -> HubId {
        self.next_id += 1;
        HubId::new(format!("{collection}-{}", self.next_id))
    }

    /// The reference fields of a collection: (path, referenced collection).
    pub(super) fn reference_paths<'a>(
        &'a self,
        collection: &'a EntityName,
    ) -> impl Iterator<Item = (&'a str, &'a EntityName)> + 'a {
        self.references
            .iter()
            .filter(move |(c, _, _)| c == collection)
            .map(|(_, path, target)| (path.as_str(), target))
    }

    /// A reference value as stored: the hub id when known, else the value as written.
    pub(super) fn resolve_reference(
        &self,
        group: &GroupId,
        target: &EntityName,
        value: &Value,
    ) -> Value {
        let Some(triples) = triples(value) else {
            return value.clone();
        };
        if let Some((_, _, id)) = triples.iter().find(|(p, _, _)| p == "connec") {
            return Value::String(id.clone());
        }
        triples
            .iter()
            .find_map(|(p, r, id)| self.by_external(group, target, &external(p, r, id)))
            .map_or_else(
                || value.clone(),
                |r| Value::String(r.id.as_str().to_owned()),
            )
    }

    /// Rewrites the reference fields of `fields` to their stored form.
    pub(super) fn normalize(&self, group: &GroupId, collection: &EntityName, fields: &mut Value) {
        for (path, target) in self.reference_paths(collection) {
            walk_mut(fields, path, &mut |v| {
                *v = self.resolve_reference(group, target, v);
            });
        }
    }

    pub(super) fn render_reference(
        &self,
        group: &GroupId,
        target: &EntityName,
        value: &Value,
    ) -> Value {
        let id = match value {
            Value::String(id) if !id.is_empty() => HubId::new(id.clone()),
            Value::Array(_) | Value::Object(_) => {
                match self.resolve_reference(group, target, value) {
                    Value::String(id) => HubId::new(id),
                    _ => return value.clone(),
                }
            }
            _ => return value.clone(),
        };
        let mut ids =
            vec![json!({ "id": id.as_str(), "provider": "connec", "realm": channel(group) })];
        if let Some(found) = self.find(group, target, &id) {
            ids.extend(found.external_ids.iter().map(triple));
        }
        Value::Array(ids)
    }

    /// The record as Connec! answers it.
    pub(super) fn render(
        &self,
        group: &GroupId,
        collection: &EntityName,
        stored: &Stored,
    ) -> Value {
        let mut fields = stored.fields.clone();
        let mut ids = vec![json!({
            "id": stored.id.as_str(),
            "provider": "connec",
            "realm": channel(group),
        })];
        ids.extend(stored.external_ids.iter().map(triple));
        fields.insert("id".into(), Value::Array(ids));
        fields.insert("group_id".into(), group.as_str().into());
        fields.insert("channel_id".into(), channel(group).into());
        fields.insert("resource_type".into(), collection.as_str().into());
        fields.insert("created_at".into(), stored.created_at.to_rfc3339().into());
        fields.insert("updated_at".into(), stored.updated_at.to_rfc3339().into());
        let mut value = Value::Object(fields);
        for (path, target) in self.reference_paths(collection) {
            walk_mut(&mut value, path, &mut |v| {
                *v = self.render_reference(group, target, v);
            });
        }
        value
    }

    pub(super) fn matches(&self, stored: &Stored, fields: &[String], query: &Value) -> bool {
        let stored_fields = Value::Object(stored.fields.clone());
        stored.active()
            && !fields.is_empty()
            && fields.iter().all(
                |path| match (lookup(&stored_fields, path), lookup(query, path)) {
                    (Some(a), Some(b)) => {
                        values_match(a, b, self.match_rule == MatchRule::CaseInsensitive)
                    }
                    _ => false,
                },
            )
    }

    /// Candidates of a smart-merge / match, ordered by (`created_at`, id).
    pub(super) fn candidates(
        &self,
        group: &GroupId,
        collection: &EntityName,
        fields: &[String],
        query: &Value,
    ) -> Vec<&Stored> {
        let mut found: Vec<&Stored> = self
            .collection(group, collection)
            .iter()
            .filter(|r| self.matches(r, fields, query))
            .collect();
        found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        found
    }

    pub(super) fn outcome(
        &self,
        group: &GroupId,
        collection: &EntityName,
        id: &HubId,
        created: bool,
    ) -> Result<HubWriteOutcome, RecordError> {
        let stored = self
            .find(group, collection, id)
            .ok_or_else(|| RecordError::new(Some(500), "written record vanished"))?;
        // What `record::describe` reads of the rendered record, without rendering it: its
        // times go through their RFC 3339 text as the rendered ones would.
        let through_text = |at: Timestamp| Timestamp::parse(&at.to_rfc3339());
        let meta = HubRecordMeta {
            id: stored.id.clone(),
            updated_at: through_text(stored.updated_at)
                .ok_or_else(|| RecordError::new(Some(500), "written record has no id"))?,
            created_at: through_text(stored.created_at),
            inactive: !stored.active(),
            external_ids: stored.external_ids.clone(),
        };
        Ok(HubWriteOutcome { meta, created })
    }

    /// Applies one `/batch` op.
    pub(super) fn apply(
        &mut self,
        clock: &ManualClock,
        group: &GroupId,
        collection: &EntityName,
        write: &HubWrite,
    ) -> Result<HubWriteOutcome, RecordError> {
        let rejected = write
            .hub_id
            .as_ref()
            .is_some_and(|id| self.rejected.contains(id.as_str()))
            || write
                .source
                .as_ref()
                .is_some_and(|s| self.rejected.contains(s.id.as_str()));
        if rejected {
            self.counts.rejected += 1;
            return Err(RecordError::new(
                Some(400),
                "record rejected: a field is invalid (injected fault)",
            ));
        }
        let mut incoming = match &write.change {
            HubChange::Fields(Value::Object(fields)) => Value::Object(fields.clone()),
            HubChange::Fields(_) => {
                self.counts.rejected += 1;
                return Err(RecordError::new(
                    Some(400),
                    format!("The {collection} record must be a JSON object"),
                ));
            }
            HubChange::Archive => json!({ "status": "INACTIVE" }),
            HubChange::LinkOnly => json!({}),
        };
        if let Value::Object(fields) = &mut incoming {
            for key in READ_ONLY {
                fields.remove(key);
            }
        }
        self.normalize(group, collection, &mut incoming);
        let existing = match &write.hub_id {
            Some(id) => match self.find(group, collection, id) {
                Some(found) => Some(found.id.clone()),
                None => {
                    self.counts.rejected += 1;
                    return Err(RecordError::new(
                        Some(404),
                        format!("No {collection} record with id {id}"),
                    ));
                }
            },
            None => write
                .source
                .as_ref()
                .and_then(|s| self.by_external(group, collection, s))
                .or_else(|| {
                    self.candidates(group, collection, &write.matching_fields, &incoming)
                        .first()
                        .copied()
                })
                .map(|r| r.id.clone()),
        };
        // The source id may be attached unless another record of the collection holds it.
        let attachable = |state: &HubState, id: Option<&HubId>| {
            write.source.clone().filter(|s| {
                state
                    .by_external(group, collection, s)
                    .is_none_or(|holder| Some(&holder.id) == id)
            })
        };
        match existing {
            Some(id) => {
                let source = attachable(self, Some(&id));
                let by_id = write.hub_id.is_some();
                let counts = &mut self.counts;
                match &write.change {
                    HubChange::Fields(_) if by_id => counts.updated += 1,
                    HubChange::Fields(_) => counts.merged += 1,
                    HubChange::Archive => counts.archived += 1,
                    HubChange::LinkOnly => counts.linked += 1,
                }
                let stored = self
                    .find_mut(group, collection, &id)
                    .expect("found just above");
                // Copied and merged only when the write changes a field (an id write-back
                // changes none).
                let merged = changes(&stored.fields, &incoming).then(|| {
                    let mut merged = Value::Object(stored.fields.clone());
                    deep_merge(&mut merged, &incoming);
                    let Value::Object(merged) = merged else {
                        unreachable!("records are objects")
                    };
                    merged
                });
                let attach = source.filter(|s| !stored.external_ids.contains(s));
                if merged.is_none() && attach.is_none() {
                    self.counts.unchanged += 1;
                } else {
                    if let Some(merged) = merged {
                        stored.fields = merged;
                    }
                    stored.updated_at = clock.stamp();
                    if let Some(ext) = attach {
                        self.attach(group, collection, &id, ext);
                    }
                }
                self.outcome(group, collection, &id, false)
            }
            None => {
                let Value::Object(mut fields) = incoming else {
                    unreachable!("records are objects")
                };
                if fields.is_empty() {
                    self.counts.rejected += 1;
                    return Err(RecordError::new(
                        Some(400),
                        format!("The {collection} record has no fields"),
                    ));
                }
                fields
                    .entry("status")
                    .or_insert_with(|| Value::String("ACTIVE".into()));
                let source = attachable(self, None);
                let id = self.new_id(collection);
                let now = clock.stamp();
                self.push(
                    group,
                    collection,
                    Stored {
                        id: id.clone(),
                        created_at: now,
                        updated_at: now,
                        external_ids: source.into_iter().collect(),
                        fields,
                    },
                );
                self.counts.created += 1;
                self.outcome(group, collection, &id, true)
            }
        }
    }
}

/// Whether [`deep_merge`] of `patch` into `fields` would change them.
fn changes(fields: &Map<String, Value>, patch: &Value) -> bool {
    let Value::Object(patch) = patch else {
        return true;
    };
    patch.iter().any(|(key, value)| match fields.get(key) {
        Some(Value::Object(existing)) if value.is_object() => changes(existing, value),
        Some(existing) => existing != value,
        None => true,
    })
}
