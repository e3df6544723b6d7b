//! The [`Hub`] port of [`FakeHub`].

use super::*;

fn parse_cursor(cursor: Option<&PageCursor>) -> Result<usize, HubError> {
    match cursor {
        None => Ok(0),
        Some(cursor) => cursor
            .as_str()
            .strip_prefix("offset:")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| {
                malformed(
                    "fetch_page",
                    format!("`{}` is not a cursor of this hub", cursor.as_str()),
                )
            }),
    }
}

#[async_trait]
impl Hub for FakeHub {
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

    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError> {
        self.check(HubOp::FetchPage)?;
        let offset = parse_cursor(cursor)?;
        let hooks: Vec<Hook> = {
            let mut state = self.lock();
            let page = offset / state.page_size;
            let (due, kept) = std::mem::take(&mut state.hooks)
                .into_iter()
                .partition(|h| &h.group == group && &h.collection == collection && h.page == page);
            state.hooks = kept;
            due.into_iter().map(|h: PageHook| h.hook).collect()
        };
        for hook in hooks {
            hook(self);
        }
        let mut state = self.lock();
        // The order is cached; only the `since` filter runs over every record.
        state.order(group, collection);
        let page_size = state.page_size;
        let (all, order) = match state.indexed(group, collection) {
            Some(c) => (c.records.as_slice(), c.order.as_deref().unwrap_or_default()),
            None => (&[][..], &[][..]),
        };
        let filtered: Vec<usize>;
        let selected: &[usize] = match since {
            None => order,
            Some(since) => {
                filtered = order
                    .iter()
                    .copied()
                    .filter(|&at| all[at].updated_at > since)
                    .collect();
                &filtered
            }
        };
        let total = selected.len();
        let end = offset.saturating_add(page_size).min(total);
        let page: Vec<&Stored> = selected
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|&at| &all[at])
            .collect();
        let mut records = Vec::new();
        let mut repeated = Vec::new();
        for stored in page {
            let rendered = state.render(group, collection, stored);
            if state.repeat_in_page.contains(&stored.id) {
                records.push(rendered.clone());
                repeated.push(stored.id.clone());
            }
            records.push(rendered);
        }
        for id in repeated {
            state.repeat_in_page.remove(&id);
        }
        let next = (end < total).then(|| PageCursor::new(format!("offset:{end}")));
        Ok(Page { records, next })
    }

    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError> {
        self.check(HubOp::FetchByIds)?;
        let state = self.lock();
        let mut seen = HashSet::new();
        let mut records: Vec<Value> = ids
            .iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| state.find(group, collection, id))
            .map(|stored| state.render(group, collection, stored))
            .collect();
        state.by_ids_order.apply(&mut records);
        Ok(records)
    }

    async fn find_matches(
        &self,
        group: &GroupId,
        collection: &EntityName,
        fields: &[String],
        records: &[Value],
    ) -> Result<Vec<Vec<HubRecordMeta>>, HubError> {
        self.check(HubOp::FindMatches)?;
        let state = self.lock();
        Ok(records
            .iter()
            .map(|query| {
                let mut query = query.clone();
                state.normalize(group, collection, &mut query);
                state
                    .candidates(group, collection, fields, &query)
                    .into_iter()
                    .filter_map(|r| record::describe(&state.render(group, collection, r)))
                    .collect()
            })
            .collect())
    }

    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError> {
        self.check(HubOp::Write)?;
        let mut state = self.lock();
        state.counts.calls += 1;
        let outcomes = writes
            .iter()
            .map(|write| state.apply(&self.clock, group, collection, write))
            .collect();
        if state.commit_then_timeout > 0 {
            state.commit_then_timeout -= 1;
            return Err(Failure::Timeout.to_http(API, "batch"));
        }
        Ok(outcomes)
    }
}
