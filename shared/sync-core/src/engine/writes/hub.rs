//! Writes into the hub: match-before-create, one batched write per page, and the outcomes.

use std::collections::HashMap;

use super::app::external;
use super::{HubPush, HubPushKind, MatchOutcome, one_per_write, resolve_match};
use crate::domain::{AppId, Direction, HubId};
use crate::engine::phase::{Phase, PhaseError};
use crate::engine::work::PageWork;
use crate::ports::{HubChange, HubWrite};

impl Phase<'_> {
    /// Writes to the hub (content, archives, id write-backs) in one batched call.
    pub(crate) async fn write_hub(
        &mut self,
        mut pushes: Vec<HubPush>,
        work: &mut PageWork,
    ) -> Result<(), PhaseError> {
        if pushes.is_empty() {
            return Ok(());
        }
        let linked_before: Vec<bool> = pushes.iter().map(|p| p.target.is_some()).collect();
        let mut with_matching = vec![false; pushes.len()];
        if let Err(e) = self.match_in_hub(&mut pushes, &mut with_matching).await {
            for push in pushes {
                work.fail(Direction::ToHub, push.slot, push.retry, e.to_string());
            }
            return Err(e);
        }
        let ahead: Vec<_> = pushes
            .iter()
            .filter_map(|p| p.hash.clone().map(|hash| (p.slot, hash)))
            .collect();
        if let Err(e) = self
            .write_ahead(work, crate::domain::Side::Hub, ahead)
            .await
        {
            let records = pushes.into_iter().map(|p| (p.slot, p.retry));
            work.fail_all(Direction::ToHub, records, &e.to_string());
            return Err(e);
        }
        let writes: Vec<HubWrite> = pushes
            .iter()
            .zip(&with_matching)
            .map(|(push, &matching)| HubWrite {
                hub_id: push.target.clone(),
                change: push.change.clone(),
                source: Some(external(self, &push.app_id)),
                matching_fields: if matching {
                    self.pair.matching_fields.clone()
                } else {
                    Vec::new()
                },
            })
            .collect();
        let count = writes.len();
        let group = &self.org.group_id;
        let answer = self.engine.hub.write(group, &self.pair.hub, writes).await;
        let outcomes = match one_per_write(count, answer, |detail| {
            crate::error::HttpError::Malformed {
                api: "connec",
                method: "POST".into(),
                path: "/batch".into(),
                detail,
            }
            .into()
        }) {
            Ok(outcomes) => outcomes,
            Err((why, e)) => {
                let records = pushes.into_iter().map(|p| (p.slot, p.retry));
                work.fail_all(Direction::ToHub, records, &why);
                return Err(e);
            }
        };
        // A record Connec! merged into must not be linked to two app records.
        let fresh: Vec<HubId> = outcomes
            .iter()
            .zip(&linked_before)
            .filter(|(_, linked)| !**linked)
            .filter_map(|(o, _)| o.as_ref().ok().map(|o| o.meta.id.clone()))
            .collect();
        let mut owner: HashMap<HubId, Option<AppId>> = HashMap::new();
        if !fresh.is_empty() {
            for map in self
                .store()
                .idmaps_by_hub_ids(&self.org.id, &self.pair.hub, &fresh)
                .await?
            {
                if let Some(hub_id) = map.hub_id {
                    owner.insert(hub_id, map.app_id);
                }
            }
        }
        let now = self.now();
        for ((push, outcome), was_linked) in pushes.into_iter().zip(outcomes).zip(linked_before) {
            match outcome {
                Ok(done) => {
                    let hub_id = done.meta.id.clone();
                    if !was_linked {
                        match owner.get(&hub_id) {
                            Some(Some(other)) if other != &push.app_id => {
                                let problem = format!(
                                    "Connec! merged it into {} record {hub_id}, which is already linked to another app record",
                                    self.pair.hub
                                );
                                work.fail(Direction::ToHub, push.slot, push.retry, problem);
                                continue;
                            }
                            _ => {
                                owner.insert(hub_id.clone(), Some(push.app_id.clone()));
                            }
                        }
                    }
                    let map = work.map(push.slot);
                    map.hub_id = Some(hub_id);
                    map.hub_updated_at = Some(
                        map.hub_updated_at
                            .map_or(done.meta.updated_at, |seen| seen.max(done.meta.updated_at)),
                    );
                    map.last_error = None;
                    match push.kind {
                        HubPushKind::Archive => {
                            map.inactive = true;
                            work.count(Direction::ToHub).archived += 1;
                        }
                        HubPushKind::WriteBack => {}
                        HubPushKind::Content => {
                            if let Some(hash) = push.hash {
                                map.hash = Some(hash);
                            }
                            map.clear_pending(crate::domain::Side::Hub);
                            map.last_push_to_hub = Some(now);
                            if let Some(at) = push.app_updated_at {
                                map.app_updated_at =
                                    Some(map.app_updated_at.map_or(at, |seen| seen.max(at)));
                            }
                            if map.name.is_none() {
                                map.name = push.label;
                            }
                            let counts = work.count(Direction::ToHub);
                            if was_linked {
                                counts.updated += 1;
                            } else if done.created {
                                counts.created += 1;
                            } else {
                                counts.merged += 1;
                            }
                        }
                    }
                    work.resolve(push.retry);
                }
                Err(e) if e.status == Some(404) && was_linked => {
                    let map = work.map(push.slot);
                    map.inactive = true;
                    map.last_error = Some("the Connec! record no longer exists".into());
                    work.count(Direction::ToHub).skipped += 1;
                    work.resolve(push.retry);
                }
                Err(e) => {
                    // Refused: nothing was written.
                    work.map(push.slot).clear_pending(crate::domain::Side::Hub);
                    tracing::warn!(org = %self.org.id, entity = %self.pair.hub, app_id = %push.app_id, status = e.status, "Connec! rejected the record; parked for the next run");
                    if push.kind == HubPushKind::WriteBack {
                        // The link stands; only the hub's copy of it is missing.
                        continue;
                    }
                    work.fail(Direction::ToHub, push.slot, push.retry, e.message);
                }
            }
        }
        Ok(())
    }

    /// Resolves every create against the hub's records with the same matching fields, checked
    /// against the id-maps and the external ids they carry. Sets the target of matched creates;
    /// `with_matching` marks the creates that may still let Connec! smart-merge (no candidate
    /// at all was found, so none is linked elsewhere).
    async fn match_in_hub(
        &self,
        pushes: &mut [HubPush],
        with_matching: &mut [bool],
    ) -> Result<(), PhaseError> {
        let creates: Vec<usize> = (0..pushes.len())
            .filter(|&i| pushes[i].target.is_none() && pushes[i].kind == HubPushKind::Content)
            .collect();
        if creates.is_empty() || self.pair.matching_fields.is_empty() {
            for i in creates {
                with_matching[i] = true;
            }
            return Ok(());
        }
        let bodies: Vec<serde_json::Value> = creates
            .iter()
            .map(|&i| match &pushes[i].change {
                HubChange::Fields(body) => body.clone(),
                _ => serde_json::Value::Null,
            })
            .collect();
        let found = self
            .engine
            .hub
            .find_matches(
                &self.org.group_id,
                &self.pair.hub,
                &self.pair.matching_fields,
                &bodies,
            )
            .await?;
        let provider = self.engine.app.provider();
        let mut owner: HashMap<HubId, Option<AppId>> = HashMap::new();
        let ids: Vec<HubId> = found.iter().flatten().map(|m| m.id.clone()).collect();
        if !ids.is_empty() {
            for map in self
                .store()
                .idmaps_by_hub_ids(&self.org.id, &self.pair.hub, &ids)
                .await?
            {
                if let Some(hub_id) = map.hub_id {
                    owner.insert(hub_id, map.app_id);
                }
            }
        }
        for meta in found.iter().flatten() {
            // A hub record carrying another app record's id of this account is taken too.
            if let Some(app_id) = meta.external_id(provider, &self.org.realm) {
                owner
                    .entry(meta.id.clone())
                    .or_insert_with(|| Some(app_id.clone()));
            }
        }
        for (&i, candidates) in creates.iter().zip(&found) {
            let me = pushes[i].app_id.clone();
            let ours = candidates
                .iter()
                .find(|m| m.external_id(provider, &self.org.realm) == Some(&me))
                .map(|m| m.id.clone());
            let natural: Vec<HubId> = candidates.iter().map(|m| m.id.clone()).collect();
            match resolve_match(me, ours, &natural, &mut owner) {
                MatchOutcome::Ours(id) | MatchOutcome::Merge(id) => pushes[i].target = Some(id),
                MatchOutcome::Create => with_matching[i] = candidates.is_empty(),
            }
        }
        Ok(())
    }
}
