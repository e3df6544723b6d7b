//! Writes into the app: match-before-create, batched writes, archives, and their outcomes.

use std::collections::HashMap;

use super::{AppArchive, AppPush, HubPush, MatchOutcome, one_per_write, resolve_match};
use crate::domain::{AppId, Direction, HubId};
use crate::engine::phase::{Phase, PhaseError};
use crate::engine::work::PageWork;
use crate::ports::{
    AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind, AppWriteOutcome, ExternalId, MatchQuery,
};

impl Phase<'_> {
    /// Writes to the app; returns the hub writes that follow (id write-backs of new links, and
    /// deletions found on update).
    pub(crate) async fn write_app(
        &mut self,
        mut pushes: Vec<AppPush>,
        work: &mut PageWork,
    ) -> Result<Vec<HubPush>, PhaseError> {
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        if let Err(e) = self.match_in_app(&mut pushes, work).await {
            for push in pushes {
                work.fail(Direction::ToApp, push.slot, push.retry, e.to_string());
            }
            return Err(e);
        }
        // A create whose answer was lost (a write-ahead left behind, no link) and which no
        // live record's marker claims may have been archived since: it waits one run, whose
        // read of the app links it through its marker, and is created only after that.
        let (uncertain, pushes): (Vec<AppPush>, Vec<AppPush>) = pushes.into_iter().partition(|p| {
            p.target.is_none()
                && !work.waited.contains(&p.retry)
                && work
                    .peek(p.slot)
                    .pending_to(crate::domain::Side::App)
                    .is_some()
        });
        for push in uncertain {
            work.count(Direction::ToApp).deferred += 1;
            work.park(
                push.retry,
                crate::domain::PendingReason::Deferred,
                crate::engine::work::LOST_CREATE,
            );
        }
        let (reclaimed, mut pushes): (Vec<AppPush>, Vec<AppPush>) =
            pushes.into_iter().partition(|p| {
                p.ours
                    && work
                        .peek(p.slot)
                        .pending_to(crate::domain::Side::App)
                        .is_some()
            });
        self.reclaim_lost_creates(reclaimed, work);
        if pushes.is_empty() {
            return Ok(Vec::new());
        }
        let ahead = pushes.iter().map(|p| (p.slot, p.hash.clone()));
        if let Err(e) = self
            .write_ahead(work, crate::domain::Side::App, ahead.collect::<Vec<_>>())
            .await
        {
            let records = pushes.into_iter().map(|p| (p.slot, p.retry));
            work.fail_all(Direction::ToApp, records, &e.to_string());
            return Err(e);
        }
        // The records move into the writes: nothing reads them after this.
        let writes: Vec<AppWrite> = pushes
            .iter_mut()
            .map(|push| {
                let record = std::mem::take(&mut push.record);
                match &push.target {
                    Some(id) => AppWrite::Update {
                        id: id.clone(),
                        record,
                    },
                    None => AppWrite::Create {
                        hub_id: push.hub_id.clone(),
                        record,
                        attempt: work.refusals.get(&push.retry).copied().unwrap_or(0),
                    },
                }
            })
            .collect();
        let count = writes.len();
        let answer = self.engine.app.write(&self.pair.app, writes).await;
        let outcomes = match one_per_write(count, answer, invalid_answer) {
            Ok(outcomes) => outcomes,
            Err((why, e)) => {
                let records = pushes.into_iter().map(|p| (p.slot, p.retry));
                work.fail_all(Direction::ToApp, records, &why);
                return Err(e);
            }
        };
        let now = self.now();
        let mut follow = Vec::new();
        let paired = self.pair_outcomes(&pushes, outcomes);
        let flags: Vec<(bool, bool)> = pushes
            .iter()
            .map(|p| (p.target.is_some() && !p.matched, p.matched))
            .collect();
        for ((push, outcome), (was_linked, was_matched)) in
            pushes.into_iter().zip(paired).zip(flags)
        {
            match outcome {
                Paired::Unclear(why) => {
                    work.fail(Direction::ToApp, push.slot, push.retry, why);
                }
                Paired::Done(meta, kind) => {
                    let counts = work.count(Direction::ToApp);
                    match (was_linked, was_matched, kind) {
                        (true, _, _) => counts.updated += 1,
                        (false, true, _) | (false, false, AppWriteKind::Merged) => {
                            counts.merged += 1
                        }
                        _ => counts.created += 1,
                    }
                    let reclaimed = work.reclaimed.contains(&push.retry);
                    let map = work.map(push.slot);
                    let new_link =
                        !was_linked || map.app_id.as_ref() != Some(&meta.id) || reclaimed;
                    map.app_id = Some(meta.id.clone());
                    map.hash = Some(push.hash);
                    map.clear_pending(crate::domain::Side::App);
                    map.last_push_to_app = Some(now);
                    map.hub_updated_at = Some(
                        map.hub_updated_at
                            .map_or(push.hub_updated_at, |seen| seen.max(push.hub_updated_at)),
                    );
                    map.app_updated_at = Some(meta.updated_at);
                    map.last_error = None;
                    work.resolve(push.retry.clone());
                    if new_link && self.pair.capabilities.hub_update {
                        follow.push(HubPush::write_back(
                            push.slot,
                            meta.id.clone(),
                            push.hub_id.clone(),
                            push.retry,
                        ));
                    }
                }
                Paired::Failed(AppWriteFailure::NotFound) => {
                    work.map(push.slot).clear_pending(crate::domain::Side::App);
                    tracing::info!(org = %self.org.id, entity = %self.pair.hub, hub_id = %push.hub_id, "the app record is gone; the deletion travels to Connec!");
                    let map = work.map(push.slot);
                    map.last_error = Some(format!(
                        "{} record no longer exists in the app",
                        self.pair.app
                    ));
                    work.count(Direction::ToApp).skipped += 1;
                    work.resolve(push.retry.clone());
                    match work.peek(push.slot).app_id.clone() {
                        Some(app_id) => follow.push(HubPush::archive(
                            push.slot,
                            app_id,
                            push.hub_id.clone(),
                            push.retry,
                        )),
                        None => work.map(push.slot).inactive = true,
                    }
                }
                Paired::Failed(AppWriteFailure::Rejected(e)) => {
                    // Refused: nothing was written.
                    work.map(push.slot).clear_pending(crate::domain::Side::App);
                    tracing::warn!(org = %self.org.id, entity = %self.pair.hub, hub_id = %push.hub_id, status = e.status, "the app rejected the record; parked for the next run");
                    work.fail(Direction::ToApp, push.slot, push.retry, e.message);
                }
                Paired::Failed(AppWriteFailure::Unsettled(e)) => {
                    // It may have been written: the write-ahead stays, so that a create that
                    // landed is recognised (and found by its marker) next time.
                    tracing::warn!(org = %self.org.id, entity = %self.pair.hub, hub_id = %push.hub_id, status = e.status, "the app's answer to the record's write was lost; parked for the next run");
                    work.fail(Direction::ToApp, push.slot, push.retry, e.message);
                }
            }
        }
        Ok(follow)
    }

    /// Our own creates whose answers were lost, found again by their markers: linked, not
    /// written. The link takes the content the create wrote (its write-ahead) as the last
    /// synced state, and the record waits for the next pass, which decides it like any linked
    /// record: changed in the app since that create too, it is a conflict for the policy to
    /// settle, never an app edit overwritten unseen. The app id is written back to Connec! by
    /// that pass's write, not now: the write-back moves the Connec! record's `updated_at`,
    /// which would make it the most recent side of that conflict.
    fn reclaim_lost_creates(&self, reclaimed: Vec<AppPush>, work: &mut PageWork) {
        for push in reclaimed {
            let Some(app_id) = push.target.clone() else {
                continue;
            };
            let map = work.map(push.slot);
            let written = map.pending_to(crate::domain::Side::App).cloned();
            map.app_id = Some(app_id.clone());
            map.hash = written;
            map.clear_pending(crate::domain::Side::App);
            tracing::info!(org = %self.org.id, entity = %self.pair.hub, hub_id = %push.hub_id, app_id = %app_id, "linked to our own create whose answer was lost; decided on the next pass");
            work.count(Direction::ToApp).deferred += 1;
            work.park(
                push.retry.clone(),
                crate::domain::PendingReason::Deferred,
                crate::engine::work::RECLAIMED_CREATE,
            );
        }
    }

    /// Pairs each write with its outcome by what the outcome says (the id for an update, the
    /// create marker for a create); by position only when every answer agrees with it.
    fn pair_outcomes(
        &self,
        pushes: &[AppPush],
        outcomes: Vec<Result<AppWriteOutcome, AppWriteFailure>>,
    ) -> Vec<Paired> {
        let described: Vec<Paired> = outcomes
            .into_iter()
            .map(|outcome| match outcome {
                Ok(done) => match self.engine.app.describe(&self.pair.app, &done.record) {
                    Ok(meta) => Paired::Done(meta, done.kind),
                    Err(e) => {
                        Paired::Unclear(format!("the app answered a record we cannot read: {e}"))
                    }
                },
                Err(failure) => Paired::Failed(failure),
            })
            .collect();
        let fits = |push: &AppPush, meta: &AppRecordMeta| match &push.target {
            Some(id) => &meta.id == id,
            None => meta.marker.as_ref().is_none_or(|m| m == &push.hub_id),
        };
        let in_order = pushes
            .iter()
            .zip(&described)
            .all(|(push, paired)| match paired {
                Paired::Done(meta, _) => fits(push, meta),
                _ => true,
            });
        if in_order {
            return described;
        }
        tracing::warn!(org = %self.org.id, entity = %self.pair.hub, "the app answered writes out of order; pairing them by id and marker");
        let mut by_key: HashMap<String, Paired> = HashMap::new();
        for paired in described {
            if let Paired::Done(meta, _) = &paired {
                by_key.insert(format!("id:{}", meta.id), paired.clone());
                if let Some(marker) = &meta.marker {
                    by_key.insert(format!("marker:{marker}"), paired);
                }
            }
        }
        pushes
            .iter()
            .map(|push| {
                let key = match &push.target {
                    Some(id) => format!("id:{id}"),
                    None => format!("marker:{}", push.hub_id),
                };
                by_key.remove(&key).unwrap_or_else(|| {
                    Paired::Unclear(
                        "the app's answer does not say what happened to this record".into(),
                    )
                })
            })
            .collect()
    }

    /// Resolves every create against what the app holds: its own earlier create (marker), a
    /// free record with the same unique attributes, or nothing. Matched creates become updates
    /// of their match (`matched` marks them).
    async fn match_in_app(
        &self,
        pushes: &mut [AppPush],
        work: &PageWork,
    ) -> Result<(), PhaseError> {
        let creates: Vec<usize> = (0..pushes.len())
            .filter(|&i| pushes[i].target.is_none())
            .collect();
        if creates.is_empty() {
            return Ok(());
        }
        // This run listed the app's entity in full and found nothing, and the connector's
        // listing shows everything a match could find: there is nothing to match. (A record
        // whose write failed is retried only by a later run, which is no longer a first sync
        // and asks.)
        if self.app_listed_empty && self.engine.app.listing_shows_every_match(&self.pair.app) {
            return Ok(());
        }
        // The records lend themselves to the queries and come back after.
        let queries: Vec<MatchQuery> = creates
            .iter()
            .map(|&i| MatchQuery {
                hub_id: pushes[i].hub_id.clone(),
                record: std::mem::take(&mut pushes[i].record),
            })
            .collect();
        let answer = self.engine.app.find_matches(&self.pair.app, &queries).await;
        for (&i, query) in creates.iter().zip(queries) {
            pushes[i].record = query.record;
        }
        let matches = answer?;
        let mut candidates: Vec<AppId> = matches
            .iter()
            .flat_map(|m| m.marked.iter().chain(&m.natural).cloned())
            .collect();
        candidates.sort();
        candidates.dedup();
        let mut owner: HashMap<AppId, Option<HubId>> = HashMap::new();
        // Links of this page count first: its own records hold their targets.
        for map in &work.maps {
            if let Some(app_id) = &map.app_id {
                owner.insert(app_id.clone(), map.hub_id.clone());
            }
        }
        if !candidates.is_empty() {
            for map in self
                .store()
                .idmaps_by_app_ids(&self.org.id, &self.pair.hub, &candidates)
                .await?
            {
                if let Some(app_id) = map.app_id {
                    owner.entry(app_id).or_insert(map.hub_id);
                }
            }
        }
        for (&i, found) in creates.iter().zip(matches) {
            let me = pushes[i].hub_id.clone();
            match resolve_match(me, found.marked, &found.natural, &mut owner) {
                MatchOutcome::Ours(id) => {
                    pushes[i].target = Some(id);
                    pushes[i].matched = true;
                    pushes[i].ours = true;
                }
                MatchOutcome::Merge(id) => {
                    pushes[i].target = Some(id);
                    pushes[i].matched = true;
                }
                MatchOutcome::Create => {}
            }
        }
        Ok(())
    }

    /// Archives in the app; success or "already gone" both end the link.
    pub(crate) async fn archive_app(
        &mut self,
        archives: Vec<AppArchive>,
        work: &mut PageWork,
    ) -> Result<(), PhaseError> {
        if archives.is_empty() {
            return Ok(());
        }
        let ids: Vec<AppId> = archives.iter().map(|a| a.app_id.clone()).collect();
        let answer = self.engine.app.archive(&self.pair.app, &ids).await;
        let outcomes = match one_per_write(ids.len(), answer, invalid_answer) {
            Ok(outcomes) => outcomes,
            Err((why, e)) => {
                let records = archives.into_iter().map(|a| (a.slot, a.retry));
                work.fail_all(Direction::ToApp, records, &why);
                return Err(e);
            }
        };
        let now = self.now();
        for (archive, outcome) in archives.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) | Err(AppWriteFailure::NotFound) => {
                    let map = work.map(archive.slot);
                    map.inactive = true;
                    map.last_push_to_app = Some(now);
                    map.last_error = None;
                    work.count(Direction::ToApp).archived += 1;
                    work.resolve(archive.retry);
                }
                Err(AppWriteFailure::Rejected(e) | AppWriteFailure::Unsettled(e)) => {
                    work.fail(Direction::ToApp, archive.slot, archive.retry, e.message);
                }
            }
        }
        Ok(())
    }
}

/// A connector that answered a batch with the wrong number of outcomes.
fn invalid_answer(detail: String) -> PhaseError {
    crate::error::AppError::Invalid {
        app: "connector",
        detail,
    }
    .into()
}

/// A write's outcome, paired with the write by what the answer says.
#[derive(Clone)]
enum Paired {
    /// Written: the record as the app describes it.
    Done(AppRecordMeta, AppWriteKind),
    /// Refused or gone.
    Failed(AppWriteFailure),
    /// The answer cannot be tied to this write (retried next run; the marker prevents a
    /// duplicate).
    Unclear(String),
}

/// The external id of an app record of this organization.
pub(crate) fn external(phase: &Phase<'_>, app_id: &AppId) -> ExternalId {
    ExternalId {
        provider: phase.engine.app.provider().clone(),
        realm: phase.org.realm.clone(),
        id: app_id.clone(),
    }
}
