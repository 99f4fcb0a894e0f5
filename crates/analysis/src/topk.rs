//! The N greatest items of a stream, mergeable across threads and files.
//!
//! `analyze` lists the biggest keys. Each worker keeps its own [`TopK`] and the partial
//! results are merged; the final list is the N greatest items of everything pushed,
//! whatever the partitioning and merge order.
//!
//! # Determinism
//!
//! A bounded min-heap keeps the N greatest items; an item equal to the smallest retained
//! one is rejected. The result is a function of the multiset of items only if items that
//! compare equal are indistinguishable in the output, so **`T`'s `Ord` must be total over
//! everything that is printed**. For keys, order by
//! `(memory, Reverse(db), Reverse(key bytes))`: the largest memory first, ties by database
//! then key bytes ascending, and two distinct keys never compare equal. An order on memory
//! alone would let the thread count decide which of two equally large keys is shown.
//!
//! ```
//! use rdbscope_analysis::topk::TopK;
//! use std::cmp::Reverse;
//! let mut a = TopK::new(2);
//! let mut b = TopK::new(2);
//! a.push((100u64, Reverse(b"k1".to_vec())));
//! b.push((300, Reverse(b"k2".to_vec())));
//! b.push((100, Reverse(b"k0".to_vec())));
//! a.merge(b);
//! let top: Vec<u64> = a.into_sorted_vec().into_iter().map(|(m, _)| m).collect();
//! assert_eq!(top, [300, 100]); // and the 100 is k0, the smaller key
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Keeps the `limit` greatest items pushed into it; see the [module docs](self) for the
/// ordering `T` needs.
#[derive(Debug, Clone)]
pub struct TopK<T: Ord> {
    limit: usize,
    /// Min-heap of the retained items: the smallest, the next to go, is on top.
    heap: BinaryHeap<Reverse<T>>,
}

/// Initial heap capacity at most; `limit` comes from the user and may be large.
const MAX_PREALLOC: usize = 1024;

impl<T: Ord> TopK<T> {
    /// An empty collector keeping at most `limit` items (none when `limit == 0`).
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            heap: BinaryHeap::with_capacity(limit.min(MAX_PREALLOC)),
        }
    }

    /// Offers `item`; returns whether it was kept (a later push may still evict it).
    pub fn push(&mut self, item: T) -> bool {
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(item));
            return true;
        }
        match self.heap.peek_mut() {
            Some(mut smallest) if item > smallest.0 => {
                *smallest = Reverse(item);
                true
            }
            _ => false,
        }
    }

    /// Whether [`push`](Self::push)ing `item` now would keep it. Lets a caller skip
    /// building an item (and copying its key) that cannot enter.
    pub fn would_accept(&self, item: &T) -> bool {
        self.heap.len() < self.limit || self.threshold().is_some_and(|min| item > min)
    }

    /// The smallest retained item once the collector is full: only items greater than it
    /// can enter. `None` while there is room (anything enters), and when `limit == 0`
    /// (nothing does; see [`would_accept`](Self::would_accept)).
    pub fn threshold(&self) -> Option<&T> {
        if self.heap.len() < self.limit {
            return None;
        }
        self.heap.peek().map(|r| &r.0)
    }

    /// Merges `other` into `self`: the result holds the greatest items of both. Its limit
    /// is the smaller of the two, which keeps merging commutative when they differ.
    pub fn merge(&mut self, other: Self) {
        self.limit = self.limit.min(other.limit);
        while self.heap.len() > self.limit {
            self.heap.pop();
        }
        for Reverse(item) in other.heap {
            self.push(item);
        }
    }

    /// Number of retained items.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no item is retained.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The most items kept.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Applies `f` to every retained item. `f` must not change how items compare (it may
    /// change fields the order ignores), or the list would no longer be the greatest items.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(&mut T)) {
        let mut items = std::mem::take(&mut self.heap).into_vec();
        for Reverse(item) in &mut items {
            f(item);
        }
        self.heap = BinaryHeap::from(items);
    }

    /// The retained items in no specified order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.heap.iter().map(|r| &r.0)
    }

    /// The retained items, greatest first.
    pub fn into_sorted_vec(self) -> Vec<T> {
        // Ascending `Reverse<T>` is descending `T`.
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn push_keeps_greatest_and_rejects_ties() {
        let mut t = TopK::new(3);
        for x in [5, 1, 9, 7, 3, 9] {
            t.push(x);
        }
        assert_eq!(t.threshold(), Some(&7));
        assert!(
            !t.would_accept(&7),
            "a tie with the smallest kept is rejected"
        );
        assert!(t.would_accept(&8));
        assert_eq!(t.into_sorted_vec(), [9, 9, 7]);
    }

    #[test]
    fn push_zero_limit_keeps_nothing() {
        let mut t = TopK::new(0);
        assert!(!t.would_accept(&1));
        assert!(!t.push(1));
        assert!(t.is_empty());
        assert_eq!(t.threshold(), None);
    }

    #[test]
    fn threshold_none_while_room() {
        let mut t = TopK::new(2);
        assert_eq!(t.threshold(), None);
        t.push(4);
        assert_eq!(t.threshold(), None);
        assert!(t.would_accept(&0));
        t.push(6);
        assert_eq!(t.threshold(), Some(&4));
    }

    #[test]
    fn push_huge_limit_does_not_preallocate() {
        let mut t = TopK::new(usize::MAX);
        t.push(1u8);
        assert_eq!(t.len(), 1);
        assert_eq!(t.limit(), usize::MAX);
    }

    #[test]
    fn merge_different_limits_takes_smaller() {
        let mut a = TopK::new(2);
        let mut b = TopK::new(4);
        for x in [1, 2, 3] {
            a.push(x);
        }
        for x in [10, 0, 2, 5] {
            b.push(x);
        }
        let mut ba = b.clone();
        ba.merge(a.clone());
        a.merge(b);
        assert_eq!(a.limit(), 2);
        assert_eq!(a.clone().into_sorted_vec(), [10, 5]);
        assert_eq!(ba.into_sorted_vec(), a.into_sorted_vec());
    }

    /// Items as `analyze` will build them: ties on memory broken by db then key.
    type Item = (u8, Reverse<u8>, Reverse<Vec<u8>>);

    fn item() -> impl Strategy<Value = Item> {
        (
            0u8..8,
            (0u8..2).prop_map(Reverse),
            prop::collection::vec(0u8..3, 0..3).prop_map(Reverse),
        )
    }

    proptest! {
        #[test]
        fn topk_any_partition_and_merge_order_matches_sort(
            items in prop::collection::vec((item(), 0usize..4), 0..100),
            limit in 0usize..12,
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            let mut want: Vec<Item> = items.iter().map(|(x, _)| x.clone()).collect();
            want.sort_by(|a, b| b.cmp(a));
            want.truncate(limit);

            let mut single = TopK::new(limit);
            for (x, _) in &items {
                let accept = single.would_accept(x);
                prop_assert_eq!(single.push(x.clone()), accept);
            }
            prop_assert_eq!(&single.into_sorted_vec(), &want);

            let mut parts: Vec<TopK<Item>> = (0..4).map(|_| TopK::new(limit)).collect();
            for (x, p) in &items {
                parts[*p].push(x.clone());
            }
            let mut seq = TopK::new(limit);
            for &i in &order {
                seq.merge(parts[i].clone());
            }
            prop_assert_eq!(&seq.into_sorted_vec(), &want);
            let mut l = parts[order[0]].clone();
            l.merge(parts[order[1]].clone());
            let mut r = parts[order[2]].clone();
            r.merge(parts[order[3]].clone());
            r.merge(l);
            prop_assert_eq!(&r.into_sorted_vec(), &want);
        }
    }
}
