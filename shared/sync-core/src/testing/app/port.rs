//! The [`AppConnector`] port of [`FakeApp`].

use super::*;

/// A keyset cursor: `page:updated_millis:id` of the last record served.
fn parse_cursor(cursor: &PageCursor) -> Option<(usize, i64, String)> {
    let mut parts = cursor.as_str().splitn(3, ':');
    let page = parts.next()?.parse().ok()?;
    let millis = parts.next()?.parse().ok()?;
    Some((page, millis, parts.next()?.to_owned()))
}

impl FakeApp {
    /// The first reference of `record` that names an archived or unknown record, described.
    fn dangling_reference(
        &self,
        state: &AppState,
        entity: &AppEntityName,
        record: &Value,
    ) -> Option<String> {
        let pair = self.entities.iter().find(|p| &p.app == entity)?;
        for reference in pair.mapping.references() {
            let target = self
                .entities
                .iter()
                .find(|p| p.hub.as_str() == reference.entity)?;
            for value in reference.app.get_all(record) {
                let Some(id) = text(value).filter(|id| !id.is_empty()) else {
                    continue;
                };
                // The id is spelled out again only for the message.
                let id = AppId::new(id);
                match state.find(&target.app, &id) {
                    Some(found) if !found.archived => {}
                    _ => return Some(format!("{} {id} is archived or unknown", target.app)),
                }
            }
        }
        None
    }
}

#[async_trait]
impl AppConnector for FakeApp {
    fn provider(&self) -> &Provider {
        &self.provider
    }

    fn entities(&self) -> &[EntityPair] {
        &self.entities
    }

    fn listing_shows_every_match(&self, _entity: &AppEntityName) -> bool {
        self.lock().listing_shows_every_match
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        let invalid = |detail: String| AppError::Invalid {
            app: API,
            detail: format!("{entity} record {detail}"),
        };
        let id = record
            .get("id")
            .and_then(text)
            .filter(|id| !id.is_empty())
            .map(AppId::new)
            .ok_or_else(|| invalid("without an `id`".into()))?;
        let updated_at = record
            .get("updatedAt")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
            .ok_or_else(|| invalid(format!("{id} without a valid `updatedAt`")))?;
        Ok(AppRecordMeta {
            id,
            updated_at,
            created_at: record
                .get("createdAt")
                .and_then(Value::as_str)
                .and_then(Timestamp::parse),
            archived: record
                .get("archived")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            // The marker's name is borrowed under the lock (`marker()` would copy it for
            // every record described).
            marker: record
                .get("properties")
                .and_then(|p| p.get(self.lock().marker.as_str()))
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
                .map(crate::domain::HubId::new),
        })
    }

    async fn fetch_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        self.check(AppOp::FetchPage, entity)?;
        let after = match cursor {
            None => None,
            Some(cursor) => Some(parse_cursor(cursor).ok_or_else(|| AppError::Invalid {
                app: API,
                detail: format!("`{}` is not a cursor of this app", cursor.as_str()),
            })?),
        };
        let page = after.as_ref().map_or(0, |(page, _, _)| page + 1);
        let hooks: Vec<Hook> = {
            let mut state = self.lock();
            let (due, kept) = std::mem::take(&mut state.hooks)
                .into_iter()
                .partition(|h| &h.entity == entity && h.page == page);
            state.hooks = kept;
            due.into_iter().map(|h: PageHook| h.hook).collect()
        };
        for hook in hooks {
            hook(self);
        }
        let state = self.lock();
        // Keyset order is the table's; start at the later of `since` and the cursor's
        // millisecond, and filter exactly as before from there.
        let from_cursor = after.as_ref().and_then(|(_, millis, _)| {
            chrono::DateTime::from_timestamp_millis(*millis).map(Timestamp::from_datetime)
        });
        let from = since.max(from_cursor);
        let mut selected: Vec<&AppRecord> = state
            .table(entity)
            .into_iter()
            .flat_map(|table| table.updated_from(from))
            .filter(|r| since.is_none_or(|since| r.updated_at > since))
            .filter(|r| {
                after.as_ref().is_none_or(|(_, millis, id)| {
                    (r.updated_at.epoch_millis(), r.id.as_str()) > (*millis, id.as_str())
                })
            })
            .take(state.page_size + 1)
            .collect();
        let more = selected.len() > state.page_size;
        selected.truncate(state.page_size);
        let next = match selected.last() {
            Some(last) if more => Some(PageCursor::new(format!(
                "{page}:{}:{}",
                last.updated_at.epoch_millis(),
                last.id
            ))),
            _ => None,
        };
        Ok(Page {
            records: selected.into_iter().map(AppRecord::render).collect(),
            next,
        })
    }

    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        self.check(AppOp::FetchByIds, entity)?;
        let state = self.lock();
        let with_archived = state.archived_in_batch_read == ArchivedInBatchRead::PresentAsArchived;
        let mut seen = HashSet::new();
        let mut records: Vec<Value> = ids
            .iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| state.find(entity, id))
            .filter(|r| with_archived || !r.archived)
            .map(AppRecord::render)
            .collect();
        state.by_ids_order.apply(&mut records);
        Ok(records)
    }

    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        self.check(AppOp::FindMatches, entity)?;
        let state = self.lock();
        Ok(queries.iter().map(|q| state.matches(entity, q)).collect())
    }

    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError> {
        self.check(AppOp::Write, entity)?;
        let mut state = self.lock();
        state.counts.calls += 1;
        let mut outcomes: Vec<Option<Result<AppWriteOutcome, AppWriteFailure>>> =
            vec![None; writes.len()];
        // Updates travel in batches (`batch/update`); a batch naming one id twice is refused.
        let updates: Vec<usize> = (0..writes.len())
            .filter(|i| matches!(writes[*i], AppWrite::Update { .. }))
            .collect();
        if state.refuse_duplicate_ids {
            for batch in updates.chunks(state.batch_size) {
                let mut ids = HashSet::new();
                let duplicate = batch.iter().any(|i| match &writes[*i] {
                    AppWrite::Update { id, .. } => !ids.insert(id),
                    AppWrite::Create { .. } => false,
                });
                if duplicate {
                    for i in batch {
                        state.counts.rejected += 1;
                        outcomes[*i] = Some(Err(rejected("Duplicate IDs found in batch input")));
                    }
                }
            }
        }
        // The records move into the app, as a real connector's body takes them.
        for (i, write) in writes.into_iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let record = match &write {
                AppWrite::Create { record, .. } | AppWrite::Update { record, .. } => record,
            };
            // As HubSpot: an association to an archived (or unknown) record is refused.
            if let Some(why) = self.dangling_reference(&state, entity, record) {
                state.counts.rejected += 1;
                outcomes[i] = Some(Err(rejected(&why)));
                continue;
            }
            outcomes[i] = Some(match write {
                AppWrite::Create { hub_id, record, .. } => {
                    state.create(&self.clock, entity, &hub_id, record)
                }
                AppWrite::Update { id, record } => state.update(&self.clock, entity, &id, &record),
            });
        }
        let mut outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|o| o.expect("every write settled"))
            .collect();
        state.result_order.apply(&mut outcomes);
        if state.take_commit_then_timeout(AppOp::Write) {
            return Err(AppError::Http(Failure::Timeout.to_http(API, "batch")));
        }
        Ok(outcomes)
    }

    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError> {
        self.check(AppOp::Archive, entity)?;
        let mut state = self.lock();
        state.counts.calls += 1;
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            if state.archive_lies {
                outcomes.push(Ok(()));
                continue;
            }
            if state.rejected.contains(id.as_str()) {
                state.counts.rejected += 1;
                outcomes.push(Err(rejected("archive refused (injected fault)")));
                continue;
            }
            let (table, keys) = state.table_mut(entity);
            let outcome = table
                .change(id, keys, |stored| {
                    let was_archived = stored.archived;
                    if !was_archived {
                        stored.archived = true;
                        stored.updated_at = self.clock.stamp();
                    }
                    was_archived
                })
                .ok_or(AppWriteFailure::NotFound);
            outcomes.push(match outcome {
                Ok(was_archived) => {
                    state.counts.archived += 1;
                    if was_archived {
                        state.counts.unchanged += 1;
                    }
                    Ok(())
                }
                Err(e) => {
                    state.counts.rejected += 1;
                    Err(e)
                }
            });
        }
        state.result_order.apply(&mut outcomes);
        if state.take_commit_then_timeout(AppOp::Archive) {
            return Err(AppError::Http(
                Failure::Timeout.to_http(API, "batch/archive"),
            ));
        }
        Ok(outcomes)
    }
}
