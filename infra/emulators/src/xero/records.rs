//! The in-process API tests use on records and instruments: seeding (as a third party
//! would write, Xero's validation applied, webhooks sent), reading records back, faults,
//! call statistics and change observers.

use serde_json::Value;

use super::state::{Kind, Tx};
use super::write::{self, Verb};
use super::{SeedError, XeroEmulator};
use crate::common::{CallFault, CallStats, ChangeHook, Faults, RecordFault, lock};

impl XeroEmulator {
    /// Writes a record in the first tenant as a third party would (Xero's validation, no
    /// faults, webhooks sent) and returns it as the API renders it.
    ///
    /// # Panics
    /// On an unknown collection or an invalid record.
    pub fn seed(&self, collection: &str, record: Value) -> Value {
        let tenant = self.inner.default_tenant().unwrap_or_default();
        self.seed_in(&tenant, collection, record)
    }

    /// [`Self::seed`] in another tenant.
    ///
    /// # Panics
    /// As [`Self::seed`].
    pub fn seed_in(&self, tenant: &str, collection: &str, record: Value) -> Value {
        self.try_seed_in(tenant, collection, vec![record])
            .unwrap_or_else(|e| panic!("seed({collection}) failed: {e}"))
            .pop()
            .unwrap_or_default()
    }

    /// Writes records (`POST` semantics: create, or update when the id is given); all or
    /// nothing.
    pub fn try_seed_in(
        &self,
        tenant: &str,
        collection: &str,
        records: Vec<Value>,
    ) -> Result<Vec<Value>, SeedError> {
        let kind = Kind::parse(collection)
            .ok_or_else(|| SeedError::UnknownCollection(collection.into()))?;
        let (out, changes) = {
            let mut st = lock(&self.inner.state);
            let t = st
                .tenant_mut(tenant)
                .ok_or_else(|| SeedError::UnknownTenant(tenant.into()))?;
            let mut tx = Tx::new(t, &self.inner.clock);
            let start = tx.savepoint();
            let mut ids = Vec::new();
            for r in &records {
                let el = r.as_object().cloned().unwrap_or_default();
                match write::apply(&mut tx, kind, Verb::Post, &el, None) {
                    Ok(id) => ids.push(id),
                    Err(errors) => {
                        tx.rollback_to(start);
                        return Err(SeedError::Invalid(errors));
                    }
                }
            }
            let out = ids
                .iter()
                .filter_map(|id| tx.get(kind, id).map(|r| tx.t.render(kind, r)))
                .collect();
            (out, std::mem::take(&mut tx.changes))
        };
        self.inner.publish(&changes);
        Ok(out)
    }

    /// The records of a collection in a tenant, in creation order, as the API renders them
    /// (archived and deleted ones included).
    pub fn records_in(&self, tenant: &str, collection: &str) -> Vec<Value> {
        let Some(kind) = Kind::parse(collection) else {
            return Vec::new();
        };
        let st = lock(&self.inner.state);
        st.tenant(tenant)
            .map(|t| {
                t.in_order(kind)
                    .into_iter()
                    .map(|r| t.render(kind, r))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// [`Self::records_in`] the first tenant.
    pub fn records(&self, collection: &str) -> Vec<Value> {
        let tenant = self.inner.default_tenant().unwrap_or_default();
        self.records_in(&tenant, collection)
    }

    /// One record by id.
    pub fn get_in(&self, tenant: &str, collection: &str, id: &str) -> Option<Value> {
        let kind = Kind::parse(collection)?;
        let st = lock(&self.inner.state);
        let t = st.tenant(tenant)?;
        t.get(kind, id).map(|r| t.render(kind, r))
    }

    /// The fault registry (shared with the admin routes).
    pub fn faults(&self) -> &Faults {
        &self.inner.instruments.faults
    }

    /// Refuses writes of elements whose `field` (a dotted path) equals `value`, with a
    /// validation error.
    pub fn fail_record(&self, rule: RecordFault) {
        self.inner.instruments.faults.fail_record(rule);
    }

    /// Fails matching Accounting API calls.
    pub fn fail_calls(&self, rule: CallFault) {
        self.inner.instruments.faults.fail_calls(rule);
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.inner.instruments.faults.clear();
    }

    /// Call counters (per `"METHOD /route"`).
    pub fn stats(&self) -> CallStats {
        self.inner.instruments.stats()
    }

    /// Zeroes the call counters.
    pub fn reset_stats(&self) {
        self.inner.instruments.reset_stats();
    }

    /// Registers a change observer (`scope` is the tenant id).
    pub fn on_change(&self, hook: ChangeHook) {
        self.inner.instruments.on_change(hook);
    }
}
