//! [`Hub::fetch_by_ids`] through `POST /batch`: one `get` op per distinct id, `batch_size` ops
//! per call, the calls `http.max_concurrency` at a time.
//!
//! Our research finds Connec!'s `/batch` documented for `post` and `put` ops only, so an op
//! answering anything but `200` with the record or `404` is not taken for an answer: that id is
//! read again by a single `GET` (a deployment refusing `get` ops still works, at one more call
//! per id). A deployment may instead refuse the whole `/batch` (400, 405, 415, 422 or 501 to a
//! call of `get` ops only; a 501 after its retries, like any 5xx): its ids are then read by single `GET`s, and so are all later reads
//! of this client (logged once). Any other failure of a `/batch` fails the read, as a failing
//! `GET` did.

use super::*;

/// What one `get` op of a `/batch` said about its id.
enum OpRead {
    Found(Value),
    Absent,
    /// Another status, or a `200` without the record: asked again by a single `GET`.
    Unanswered,
}

impl ConnecClient {
    /// The records of the distinct `ids` found; the first error stops the read and no further
    /// call is started (a chunk's fallback `GET`s run one after another, so at most
    /// `http.max_concurrency` calls are in flight).
    pub(crate) async fn read_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError> {
        let mut seen = HashSet::new();
        let unique: Vec<HubId> = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .cloned()
            .collect();
        // Every op is built before the first call: an id no URL can carry fails the read
        // without any call, as it did with one GET per id.
        let chunks: Vec<(Vec<HubId>, Vec<Value>)> = unique
            .chunks(self.config.batch_size.max(1))
            .map(|chunk| {
                let ops = chunk
                    .iter()
                    .map(|id| get_op(group, collection, id))
                    .collect::<Result<Vec<Value>, HubError>>()?;
                Ok((chunk.to_vec(), ops))
            })
            .collect::<Result<_, HubError>>()?;
        if !self.batch_reads.load(Ordering::Relaxed) {
            return self
                .read_one_by_one(group, collection, unique, self.fan_out())
                .await;
        }
        // Owned chunks: the futures borrow nothing of the stream (as `async_trait` needs).
        let found: Vec<Vec<Value>> = stream::iter(chunks)
            .map(|(ids, ops): (Vec<HubId>, Vec<Value>)| async move {
                self.read_chunk(group, collection, &ids, ops).await
            })
            .buffer_unordered(self.fan_out())
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// One `/batch` of `get` ops (`ops[i]` reads `ids[i]`), and a `GET` for each op it did
    /// not answer.
    async fn read_chunk(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
        ops: Vec<Value>,
    ) -> Result<Vec<Value>, HubError> {
        let results = match self.send_batch(ops).await {
            Ok(results) => results,
            Err(e) if e.status().is_some_and(refuses_batch_reads) => {
                if self.batch_reads.swap(false, Ordering::Relaxed) {
                    tracing::warn!(
                        status = e.status(),
                        "Connec! refused a `/batch` of get ops: reads by id go one GET per id from now on"
                    );
                }
                // One at a time: the other chunks' calls are in flight beside it.
                return self
                    .read_one_by_one(group, collection, ids.to_vec(), 1)
                    .await;
            }
            Err(e) => return Err(e),
        };
        let mut found = Vec::with_capacity(ids.len());
        for (id, result) in ids.iter().zip(results) {
            match op_read(collection, result) {
                OpRead::Found(record) => found.push(record),
                OpRead::Absent => {}
                OpRead::Unanswered => {
                    tracing::debug!(
                        collection = %collection,
                        "a `/batch` get op was not answered with the record or 404: read by GET"
                    );
                    found.extend(self.get(group, collection, id).await?);
                }
            }
        }
        Ok(found)
    }
}

impl ConnecClient {
    /// One `GET` per id, `in_flight` at a time; a 404 means absent; the first other error
    /// stops the read and no further `GET` is started.
    async fn read_one_by_one(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: Vec<HubId>,
        in_flight: usize,
    ) -> Result<Vec<Value>, HubError> {
        let found: Vec<Option<Value>> = stream::iter(ids)
            .map(|id: HubId| async move { self.get(group, collection, &id).await })
            .buffer_unordered(in_flight.max(1))
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// Statuses by which a server refuses a `/batch` of `get` ops as such (bad request, method not
/// allowed, unsupported, unprocessable, not implemented), rather than failing to serve it.
fn refuses_batch_reads(status: u16) -> bool {
    matches!(status, 400 | 405 | 415 | 422 | 501)
}

/// The `get` op of one record, its URL built as [`ConnecClient::get`]'s (each id one segment).
fn get_op(group: &GroupId, collection: &EntityName, id: &HubId) -> Result<Value, HubError> {
    let url = api_path(&[
        "api",
        "v2",
        group.as_str(),
        collection.as_str(),
        id.as_str(),
    ])
    .map_err(|detail| HttpError::Url { api: API, detail })?;
    Ok(json!({ "method": "get", "url": url }))
}

fn op_read(collection: &EntityName, mut result: Value) -> OpRead {
    match result.get("status").and_then(Value::as_u64) {
        Some(200) => match result
            .get_mut("body")
            .and_then(|body| body.get_mut(collection.as_str()))
        {
            Some(record @ Value::Object(_)) => OpRead::Found(record.take()),
            _ => OpRead::Unanswered,
        },
        Some(404) => OpRead::Absent,
        _ => OpRead::Unanswered,
    }
}
