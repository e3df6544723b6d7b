//! [`Hub`] for [`ConnecClient`]: reads, matches and batched writes through `POST /batch`, each
//! op's own status read back into its record's outcome.

use super::*;

#[async_trait]
impl Hub for ConnecClient {
    fn describe(&self, collection: &EntityName, record: &Value) -> Result<HubRecordMeta, HubError> {
        record::describe_in(collection, record)
    }

    fn reference_target(&self, value: &Value) -> Option<HubId> {
        record::connec_ref(value)
    }

    fn reference_external(
        &self,
        value: &Value,
        provider: &Provider,
        realm: &Realm,
    ) -> Option<AppId> {
        record::external_id(value, provider, realm)
    }

    fn reference_value(&self, group: &GroupId, id: &HubId) -> Value {
        record::reference_to(group, id)
    }

    /// One `GET ...?$filter=<field> eq <value> and ...` per distinct set of values (see
    /// [`matching`] for how values are compared and sent), `http.max_concurrency` in flight.
    /// A record lacking a value in any of `fields` gets no candidates, as it would not
    /// smart-merge either. Candidates include inactive records (their meta says so).
    async fn find_matches(
        &self,
        group: &GroupId,
        collection: &EntityName,
        fields: &[String],
        records: &[Value],
    ) -> Result<Vec<Vec<HubRecordMeta>>, HubError> {
        if fields.is_empty() {
            return Ok(vec![Vec::new(); records.len()]);
        }
        matching::check_fields(fields).map_err(|detail| HttpError::Url { api: API, detail })?;
        // Records sharing their values share one query.
        let mut queries: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let slots: Vec<Option<usize>> = records
            .iter()
            .map(|record| {
                let filter = matching::match_filter(fields, record)?;
                let next = queries.len();
                Some(*index.entry(filter.clone()).or_insert_with(|| {
                    queries.push(filter);
                    next
                }))
            })
            .collect();
        let found: Vec<Vec<HubRecordMeta>> = stream::iter(queries)
            .map(|filter: String| async move { self.search(group, collection, &filter).await })
            .buffered(self.fan_out())
            .try_collect()
            .await?;
        Ok(slots
            .into_iter()
            .map(|slot| slot.map(|i| found[i].clone()).unwrap_or_default())
            .collect())
    }

    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError> {
        let url = match cursor {
            Some(cursor) => self.next_url(cursor.as_str())?,
            None => {
                let filter = since.map(|since| format!("updated_at gt '{}'", since.to_rfc3339()));
                self.list_url(group, collection, filter.as_deref())?
            }
        };
        self.list_page(url, collection).await
    }

    /// The distinct ids in `/batch` calls of `get` ops, `batch_size` per call and
    /// `http.max_concurrency` calls in flight (see the `batch_reads` module); an op
    /// answered 404 means absent (gone, or archived where Connec! hides it); an op answered
    /// otherwise is read by a single GET. The first error (a `/batch` failing as a whole, or a
    /// fallback GET failing) stops the fetch and no further call is started.
    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError> {
        self.read_by_ids(group, collection, ids).await
    }

    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError> {
        enum Slot {
            Sent(usize),
            Refused(RecordError),
        }
        // Each chunk's ops and where each write's outcome comes from.
        let (ops, slots): (Vec<Vec<Value>>, Vec<Vec<Slot>>) = writes
            .chunks(self.config.batch_size.max(1))
            .map(|chunk| {
                let mut ops = Vec::with_capacity(chunk.len());
                let slots = chunk
                    .iter()
                    .map(|write| match batch_op(group, collection, write) {
                        Ok(op) => {
                            ops.push(op);
                            Slot::Sent(ops.len() - 1)
                        }
                        Err(refused) => Slot::Refused(refused),
                    })
                    .collect();
                (ops, slots)
            })
            .unzip();
        // The chunks travel at once (`http.max_concurrency` in flight), their answers read back
        // in order. One failing as a whole fails the call, as it did one after another; the
        // engine's write-ahead recognises the writes that did land when it meets them again.
        let answers: Vec<Vec<Value>> = stream::iter(ops)
            .map(|ops| async move {
                if ops.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.send_write_batch(ops, collection).await
                }
            })
            .buffered(self.fan_out())
            .try_collect()
            .await?;
        let mut outcomes = Vec::with_capacity(writes.len());
        for (slots, results) in slots.into_iter().zip(answers) {
            for slot in slots {
                outcomes.push(match slot {
                    Slot::Sent(i) => batch_outcome(collection, &results[i]),
                    Slot::Refused(refused) => Err(refused),
                });
            }
        }
        Ok(outcomes)
    }
}

/// The `/batch` op of one write; a write that means nothing to Connec! is refused here, without
/// a call.
fn batch_op(
    group: &GroupId,
    collection: &EntityName,
    write: &HubWrite,
) -> Result<Value, RecordError> {
    let mut record = match &write.change {
        HubChange::Fields(fields @ Value::Object(_)) => fields.clone(),
        HubChange::Fields(_) => {
            return Err(RecordError::new(
                None,
                "the fields of a Connec! write must be a JSON object",
            ));
        }
        HubChange::Archive if write.hub_id.is_none() => {
            return Err(RecordError::new(
                None,
                "archiving needs the Connec! id of the record",
            ));
        }
        HubChange::Archive => json!({ "status": "INACTIVE" }),
        HubChange::LinkOnly if write.hub_id.is_none() || write.source.is_none() => {
            return Err(RecordError::new(
                None,
                "an id write-back needs both the Connec! id and the app id to record",
            ));
        }
        HubChange::LinkOnly => json!({}),
    };
    if let Some(source) = &write.source {
        // Connec! merges these triples into the record's id array; the others stay.
        record["id"] = json!([{
            "id": source.id.as_str(),
            "provider": source.provider.as_str(),
            "realm": source.realm.as_str(),
        }]);
    }
    if write.hub_id.is_none() && !write.matching_fields.is_empty() {
        record["opts"] = json!({ "matching_fields": write.matching_fields });
    }
    // The lines an app record holds are all its lines: an update replaces them (Connec! merges
    // lines by id otherwise, and an app's lines carry no Connec! line ids).
    if write.hub_id.is_some() && carries_lines(&record) {
        record["opts"]["sparse"] = json!(false);
    }
    let mut segments = vec!["api", "v2", group.as_str(), collection.as_str()];
    let method = match &write.hub_id {
        Some(id) => {
            segments.push(id.as_str());
            "put"
        }
        None => "post",
    };
    let url = api_path(&segments).map_err(|detail| RecordError::new(None, detail))?;
    Ok(json!({ "method": method, "url": url, "params": { collection.as_str(): record } }))
}

/// Whether a record's fields hold sub-collections Connec! merges by line id.
fn carries_lines(record: &Value) -> bool {
    ["lines", "payment_lines"]
        .iter()
        .any(|key| record.get(*key).is_some_and(Value::is_array))
}

pub(crate) fn batch_outcome(
    collection: &EntityName,
    result: &Value,
) -> Result<HubWriteOutcome, RecordError> {
    let status = result
        .get("status")
        .and_then(Value::as_u64)
        .map(|s| s as u16);
    let body = result.get("body").cloned().unwrap_or(Value::Null);
    match status {
        Some(status @ (200 | 201)) => {
            match body.get(collection.as_str()).and_then(record::describe) {
                Some(meta) => Ok(HubWriteOutcome {
                    meta,
                    created: status == 201,
                }),
                None => Err(RecordError::new(
                    Some(status),
                    format!(
                        "batch op answered {status} without a `{collection}` record carrying an id and `updated_at`"
                    ),
                )),
            }
        }
        Some(status) => Err(RecordError::new(
            Some(status),
            error_message(&body).unwrap_or_else(|| format!("batch op failed with status {status}")),
        )),
        None => Err(RecordError::new(None, "batch result without a status")),
    }
}
