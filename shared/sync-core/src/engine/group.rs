//! Complex entities ([`EntityGroup`]): one app entity read once and split into the parts of
//! several pairs.
//!
//! Towards the hub, a group's phase runs each member's parked pass, then one fetch of the
//! group's app entity (its own watermark and checkpoint, under [`EntityGroup::key`]); every page
//! is [split](crate::ports::AppConnector::split) and each member's parts go through that
//! member's ordinary page pipeline, members in the group's order, so a part that references
//! another (a person's organization) finds it linked. Towards the app, members run one by one
//! like any pair: the connector joins a part back into its app record when it writes it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::phase::{Phase, PhaseError};
use crate::domain::{Direction, Side, Watermark};
use crate::entity::EntityGroup;

/// The members' phases of one group, in the group's order.
pub(crate) struct GroupPhases<'a> {
    pub group: &'a EntityGroup,
    pub phases: Vec<Phase<'a>>,
}

impl GroupPhases<'_> {
    /// The app -> hub direction for the members at `active` (indexes into `phases`): their
    /// parked passes, then the shared fetch. Errors of a parked pass are returned after the
    /// fetch, as a single pair's phase does.
    pub(crate) async fn run_to_hub(&mut self, active: &[usize]) -> Result<(), PhaseError> {
        let mut parked_error = None;
        for &i in active {
            if let Some(e) = self.phases[i].run_parked(Direction::ToHub).await? {
                parked_error.get_or_insert(e);
            }
        }
        self.fetch_all(active).await?;
        parked_error.map_or(Ok(()), Err)
    }

    async fn fetch_all(&mut self, active: &[usize]) -> Result<(), PhaseError> {
        let key = self.group.key();
        let lead = active[0];
        let (mut cursor, started, since) = self.phases[lead].fetch_start(&key, Side::App).await?;
        let none = HashMap::new();
        loop {
            let engine = self.phases[lead].engine;
            let page = engine
                .app
                .fetch_page(&self.group.app, since, cursor.as_ref())
                .await?;
            let size = page.records.len();
            let mut parts = self.split(page.records, active);
            for &i in active {
                let records = std::mem::take(&mut parts[i]);
                self.phases[i]
                    .page(Direction::ToHub, records, Vec::new(), &none)
                    .await?;
                self.phases[i].report(Direction::ToHub, size);
            }
            self.phases[lead].progressed.store(true, Ordering::Relaxed);
            cursor = page.next;
            let Some(next) = &cursor else { break };
            let phase = &self.phases[lead];
            phase
                .store()
                .set_checkpoint(
                    &phase.org.id,
                    &key,
                    Side::App,
                    Some((next.clone(), started)),
                )
                .await?;
            phase.guard().await?;
        }
        let phase = &self.phases[lead];
        let mark = Watermark(started.minus(phase.engine.config.overlap));
        let store = phase.store();
        store
            .set_watermark(&phase.org.id, &key, Side::App, mark)
            .await?;
        store
            .set_checkpoint(&phase.org.id, &key, Side::App, None)
            .await?;
        Ok(())
    }

    /// Splits a page of the group's records into each member's parts (indexed like `phases`);
    /// parts of members not in `active` are dropped. A record that cannot be split counts as
    /// failed for the lead member; the next change of it is read again.
    pub(crate) fn split(&mut self, records: Vec<Value>, active: &[usize]) -> Vec<Vec<Value>> {
        let mut parts: Vec<Vec<Value>> = vec![Vec::new(); self.phases.len()];
        let lead = active[0];
        for record in records {
            let engine = self.phases[lead].engine;
            match engine.app.split(&self.group.app, record) {
                Ok(split) => {
                    for part in split {
                        match self.phases.iter().position(|p| p.pair.app == part.entity) {
                            Some(i) if active.contains(&i) => parts[i].push(part.record),
                            Some(_) => {}
                            None => {
                                tracing::warn!(org = %self.phases[lead].org.id, group = %self.group.app, part = %part.entity, "a part of no member pair; skipped");
                            }
                        }
                    }
                }
                Err(e) => {
                    let phase = &mut self.phases[lead];
                    tracing::warn!(org = %phase.org.id, group = %self.group.app, error = %e, "a record that cannot be split; skipped");
                    phase.counts.entry(Direction::ToHub).or_default().failed += 1;
                }
            }
        }
        parts
    }
}
