//! Call statistics ([`CallStats`]): what an emulator counts for every API call it sees.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counters of API calls seen by an emulator (admin routes excluded).
///
/// Every request that matched an API route is counted in `reads`/`writes` and
/// `by_route`, including refused ones, which are also counted in `rejected`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStats {
    /// Read calls (GET, HubSpot search and batch/read, a Connec! `/batch` whose ops are all
    /// `get`s).
    pub reads: u64,
    /// Write calls (everything else; a Connec! `/batch` counts once, as a write when any of
    /// its ops is not a `get`).
    pub writes: u64,
    /// Per `"METHOD /route/pattern"` counts (plus `batch-ops` for Connec!).
    pub by_route: BTreeMap<String, u64>,
    /// Calls refused with 401, 429 or an injected call fault.
    pub rejected: u64,
}

impl CallStats {
    pub(crate) fn count(&mut self, route: &str, read: bool) {
        if read {
            self.reads += 1;
        } else {
            self.writes += 1;
        }
        *self.by_route.entry(route.to_string()).or_default() += 1;
    }

    pub(crate) fn add(&mut self, key: &str, n: u64) {
        *self.by_route.entry(key.to_string()).or_default() += n;
    }
}
