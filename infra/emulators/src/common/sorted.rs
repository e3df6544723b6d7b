//! An ordered multiset with positional access ([`SortedList`]): what offset paging over an
//! index needs (the `k`-th key, the number of keys below a bound) at `O(log N + N / B)` per
//! operation instead of a scan, and insertions and removals at `O(log N + B)`.
//!
//! Keys live in sorted blocks of at most `2 * B` keys; `std`'s `BTreeMap` has no rank or
//! select, and paging by `$skip`, `after` offsets or `page` numbers needs both.

/// Keys per block after a split (a block holds at most twice as many).
const HALF: usize = 512;

/// Sorted keys in blocks (see the [module docs](self)).
#[derive(Debug, Clone)]
pub(crate) struct SortedList<K> {
    blocks: Vec<Vec<K>>,
    len: usize,
}

impl<K> Default for SortedList<K> {
    fn default() -> Self {
        Self {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<K: Ord> SortedList<K> {
    /// A list of `keys`, sorted here.
    pub(crate) fn from_unsorted(mut keys: Vec<K>) -> Self {
        keys.sort_unstable();
        let len = keys.len();
        let mut blocks = Vec::with_capacity(len.div_ceil(HALF));
        let mut rest = keys.into_iter().peekable();
        while rest.peek().is_some() {
            blocks.push(rest.by_ref().take(HALF).collect());
        }
        Self { blocks, len }
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The block that holds `k` or where it goes: the first whose last key is `>= k`.
    fn block_of(&self, k: &K) -> usize {
        let b = self
            .blocks
            .partition_point(|b| b.last().is_some_and(|last| last < k));
        b.min(self.blocks.len().saturating_sub(1))
    }

    /// Adds `k` (after the keys equal to it).
    pub(crate) fn insert(&mut self, k: K) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(vec![k]);
            return;
        }
        let b = self.block_of(&k);
        let block = &mut self.blocks[b];
        let at = block.partition_point(|x| x <= &k);
        block.insert(at, k);
        if block.len() > 2 * HALF {
            let tail = block.split_off(HALF);
            self.blocks.insert(b + 1, tail);
        }
    }

    /// Removes one key equal to `k`; `false` if there is none.
    pub(crate) fn remove(&mut self, k: &K) -> bool {
        if self.blocks.is_empty() {
            return false;
        }
        let b = self.block_of(k);
        let block = &mut self.blocks[b];
        let Ok(at) = block.binary_search(k) else {
            return false;
        };
        block.remove(at);
        if block.is_empty() {
            self.blocks.remove(b);
        }
        self.len -= 1;
        true
    }

    /// Number of keys `< k`.
    pub(crate) fn rank(&self, k: &K) -> usize {
        let b = self
            .blocks
            .partition_point(|b| b.last().is_some_and(|last| last < k));
        let before: usize = self.blocks[..b].iter().map(Vec::len).sum();
        before
            + self
                .blocks
                .get(b)
                .map_or(0, |block| block.partition_point(|x| x < k))
    }

    /// The keys from position `start` on, in order.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = &K> + '_ {
        let mut skip = start;
        let mut first = self.blocks.len();
        for (i, b) in self.blocks.iter().enumerate() {
            if skip < b.len() {
                first = i;
                break;
            }
            skip -= b.len();
        }
        self.blocks
            .get(first..)
            .unwrap_or_default()
            .iter()
            .flatten()
            .skip(skip)
    }

    /// Every key, in order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &K> + '_ {
        self.blocks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency for a test).
    fn lcg(state: &mut u64) -> u64 {
        *state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *state >> 33
    }

    #[test]
    fn behaves_like_a_sorted_vec() {
        let mut seed = 7;
        let mut list = SortedList::from_unsorted((0..3000).map(|i| (i * 7919) % 5000).collect());
        let mut model: Vec<u64> = list.iter().copied().collect();
        assert!(model.windows(2).all(|w| w[0] <= w[1]));
        for step in 0..20_000 {
            let k = lcg(&mut seed) % 6000;
            if step % 3 == 0 {
                let removed = list.remove(&k);
                let pos = model.iter().position(|x| *x == k);
                assert_eq!(removed, pos.is_some(), "remove {k}");
                if let Some(p) = pos {
                    model.remove(p);
                }
            } else {
                list.insert(k);
                let at = model.partition_point(|x| *x <= k);
                model.insert(at, k);
            }
            if step % 997 == 0 {
                assert_eq!(list.iter().copied().collect::<Vec<_>>(), model);
            }
            assert_eq!(list.len(), model.len());
            assert_eq!(list.rank(&k), model.partition_point(|x| *x < k), "rank {k}");
            let start = (lcg(&mut seed) as usize) % (model.len() + 2);
            let got: Vec<u64> = list.iter_from(start).take(5).copied().collect();
            let want: Vec<u64> = model.iter().skip(start).take(5).copied().collect();
            assert_eq!(got, want, "iter_from {start}");
        }
    }

    #[test]
    fn empty_list() {
        let mut list: SortedList<u32> = SortedList::default();
        assert!(!list.remove(&1));
        assert_eq!(list.rank(&1), 0);
        assert_eq!(list.iter_from(0).count(), 0);
        list.insert(1);
        assert!(list.remove(&1));
        assert_eq!(list.len(), 0);
    }
}
