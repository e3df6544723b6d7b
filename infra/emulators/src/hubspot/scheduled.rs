//! Faults with a schedule, HubSpot only: let a number of matching calls through first, and/or
//! fail a call *after* it was processed (the answer is lost, the change is committed).

use serde::{Deserialize, Serialize};

use crate::common::{CallFault, FaultKind};

/// A [`CallFault`] with a schedule (see [`HubSpotEmulator::schedule_fault`](super::HubSpotEmulator::schedule_fault)).
///
/// Over HTTP: `POST /_emulator/faults/scheduled` with e.g.
/// `{"rule": {"path_contains": "/batch/create", "times": 1, "kind": {"type": "timeout", "delay_ms": 3000}}, "skip": 1, "after_commit": true}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledFault {
    /// Which calls, how many times (`0` = until cleared), and how they fail.
    pub rule: CallFault,
    /// Matching calls let through before the rule applies.
    #[serde(default)]
    pub skip: u32,
    /// Process the call (commit its changes) and then answer with the fault: the client sees
    /// a failure or a timeout for a change that happened.
    #[serde(default)]
    pub after_commit: bool,
}

impl ScheduledFault {
    /// Fails matching calls before they are processed, after `skip` of them went through.
    pub fn after(skip: u32, rule: CallFault) -> Self {
        Self {
            rule,
            skip,
            after_commit: false,
        }
    }

    /// Processes matching calls, then answers them with the fault (a lost answer).
    pub fn after_commit(rule: CallFault) -> Self {
        Self {
            rule,
            skip: 0,
            after_commit: true,
        }
    }
}

/// Consumes the first rule of `phase` matching the call, counting its skips down.
pub(super) fn take(
    rules: &mut Vec<ScheduledFault>,
    after_commit: bool,
    method: &str,
    path: &str,
) -> Option<FaultKind> {
    let index = rules.iter().position(|f| {
        f.after_commit == after_commit
            && f.rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && path.contains(&f.rule.path_contains)
    })?;
    let fault = &mut rules[index];
    if fault.skip > 0 {
        fault.skip -= 1;
        return None;
    }
    let kind = fault.rule.kind.clone();
    if fault.rule.times > 0 {
        fault.rule.times -= 1;
        if fault.rule.times == 0 {
            rules.remove(index);
        }
    }
    Some(kind)
}

/// A small deterministic generator (SplitMix64), for shuffles.
#[derive(Clone, Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `items` in a shuffled order; two or more never come back in their original order.
    pub(super) fn shuffled<T>(&mut self, items: Vec<T>) -> Vec<T> {
        let n = items.len();
        if n < 2 {
            return items;
        }
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        // Fisher-Yates can give back the identity; a rotation of it cannot.
        if order.iter().enumerate().all(|(i, j)| i == *j) {
            order.rotate_left(1);
        }
        let mut slots: Vec<Option<T>> = items.into_iter().map(Some).collect();
        order.into_iter().filter_map(|i| slots[i].take()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn a_shuffle_is_a_permutation_and_never_the_identity() {
        for seed in 0..50 {
            let mut rng = Rng::new(seed);
            for n in 2..6 {
                let items: Vec<usize> = (0..n).collect();
                let out = rng.shuffled(items.clone());
                assert_ne!(out, items);
                let mut sorted = out.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, items);
            }
        }
    }
}
