//! [`MemoryStore`]'s own controls, outside the port: construction, planned faults and counters,
//! and what tests read or change behind the engine's back (leases, contents).

use super::*;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call, applies its planned fault, runs `work` on the data.
    pub(super) fn run<T>(
        &self,
        op: StoreOp,
        work: impl FnOnce(&mut Data) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut inner = self.lock();
        let injected = |what: &str| format!("{op:?}: {what} (injected fault)");
        match inner.plan.call(op) {
            None => work(&mut inner.data),
            Some(StoreFailure::Backend) => Err(StoreError::Backend(injected("backend down"))),
            Some(StoreFailure::Conflict) => Err(StoreError::Conflict(injected("conflict"))),
            Some(StoreFailure::BackendAfterCommit) => {
                work(&mut inner.data)?;
                Err(StoreError::Backend(injected("committed, answer lost")))
            }
        }
    }

    /// The next `n` calls of `op` fail with [`StoreError::Backend`] and change nothing.
    pub fn fail_next(&self, op: StoreOp, n: usize) {
        self.fail_next_with(op, n, StoreFailure::Backend);
    }

    /// The next `n` calls of `op` fail as `failure` says (queued after earlier plans).
    pub fn fail_next_with(&self, op: StoreOp, n: usize, failure: StoreFailure) {
        self.lock().plan.fail_next(op, n, failure);
    }

    /// Forgets every planned fault.
    pub fn clear_faults(&self) {
        self.lock().plan.clear();
    }

    /// Calls of `op` so far (failed ones included).
    pub fn calls(&self, op: StoreOp) -> u64 {
        self.lock().plan.calls(op)
    }

    /// Calls of every operation so far.
    pub fn operations(&self) -> u64 {
        self.lock().plan.total()
    }

    /// Stores an organization (no counter, no fault, no check of one organization per group
    /// and app): for setting up a test.
    pub fn insert_organization(&self, org: &Organization) {
        self.lock()
            .data
            .organizations
            .insert(org.id.clone(), org.clone());
    }

    /// Every id-map of `org`, by entity then insertion (no counter, no fault).
    pub fn idmaps(&self, org: &OrgId) -> Vec<IdMap> {
        list(&self.lock().data.idmaps, org, None)
    }

    /// The id-map holding this hub id, if any (no counter, no fault).
    pub fn idmap_by_hub(&self, org: &OrgId, entity: &str, hub_id: &str) -> Option<IdMap> {
        let inner = self.lock();
        let maps = &inner.data.idmaps;
        maps.find(
            &maps.by_hub,
            org,
            &EntityName::new(entity),
            std::iter::once(hub_id),
        )
        .pop()
    }

    /// The id-map holding this app id, if any (no counter, no fault).
    pub fn idmap_by_app(&self, org: &OrgId, entity: &str, app_id: &str) -> Option<IdMap> {
        let inner = self.lock();
        let maps = &inner.data.idmaps;
        maps.find(
            &maps.by_app,
            org,
            &EntityName::new(entity),
            std::iter::once(app_id),
        )
        .pop()
    }

    /// Every pending record of `org` (no counter, no fault).
    pub fn all_pending(&self, org: &OrgId) -> Vec<PendingRecord> {
        self.lock()
            .data
            .pending
            .values()
            .filter(|p| &p.org == org)
            .cloned()
            .collect()
    }

    /// The lease of `org` as stored, expired or not (no counter, no fault).
    pub fn lease(&self, org: &OrgId) -> Option<Lease> {
        self.lock().data.leases.get(org).cloned()
    }

    /// Puts a lease as if someone held it (a dead holder, say), or removes it with `None`.
    pub fn set_lease(&self, org: &OrgId, lease: Option<Lease>) {
        let leases = &mut self.lock().data.leases;
        match lease {
            Some(lease) => leases.insert(org.clone(), lease),
            None => leases.remove(org),
        };
    }
}
