//! A capped table of rows keyed by byte strings: mergeable, and deterministic whatever the
//! insertion order, the partitioning of the input, or the merge order.
//!
//! `analyze` groups keys by prefix and by pattern. The number of distinct groups is not
//! bounded by anything but the data, so each table keeps at most `cap` rows and folds the
//! rest into one `other` row. Which rows survive must not depend on how the keys were split
//! across threads or files, or the report would change with `--threads`.
//!
//! # Which rows are kept
//!
//! Rows are ranked by `(stable_hash(key), key)` ([`stable_hash`]), and a table keeps the
//! `cap` *smallest* ranks among all distinct keys it has seen: a bottom-k sample, the same
//! idea as a KMV sketch. The rank depends on the key bytes alone, so it is a fixed
//! total order over all possible keys; ties of the 64-bit hash are broken by the bytes.
//!
//! # Why the result is exact
//!
//! Let `D` be the set of distinct keys offered to a table (by [`add`](CappedTable::add) or
//! through merges). The table maintains three invariants:
//!
//! 1. the retained rows are the `min(cap, |D|)` smallest keys of `D` by rank;
//! 2. each retained row holds the merge of *every* contribution made for its key;
//! 3. `other` holds the merge of every contribution for every other key, and
//!    [`folded`](CappedTable::folded) is `|D| > cap`.
//!
//! `add` keeps them: once the table is full its largest retained rank only goes down, so a
//! key that was rejected or evicted (it had `cap` smaller keys above it) can never be
//! among the smallest `cap` again, and all its later contributions go to `other` too. A
//! key that ends up retained was therefore never rejected nor evicted, so its row is
//! complete. [`merge`](CappedTable::merge) keeps them because the `cap` smallest of
//! `D_a ∪ D_b` are each among the `cap` smallest of `D_a` or of `D_b` (a key with fewer than
//! `cap` smaller keys in the union has fewer than `cap` in either part), so their complete
//! rows are present in one or both inputs; everything else reaches `other` by the same
//! folding as `add`. Folding happens exactly when more than `cap` distinct keys meet.
//!
//! Hence a single-threaded pass and any split-and-merge give the same rows with the same
//! statistics, the same `other` and the same `folded` flag, provided [`RowStats::merge`] is
//! commutative and associative (sums, minima, maxima of integers; not floating point).
//!
//! The number of distinct keys folded into `other` is *not* tracked: it could be made
//! deterministic only by remembering every folded key, which is the memory the cap exists
//! to bound. Counts that matter (keys, bytes) belong in `S`, where they add up exactly.
//!
//! The kept rows are a pseudo-random sample of the groups, not the largest ones; reporters
//! sort them by weight ([`into_sorted`](CappedTable::into_sorted)) and show `other` so that
//! every table still sums to the totals.
//!
//! ```
//! use rdbscope_analysis::capped::CappedTable;
//! let mut a = CappedTable::<u64>::new(2);
//! let mut b = CappedTable::<u64>::new(2);
//! for (i, key) in [&b"x"[..], b"y", b"z", b"x"].into_iter().enumerate() {
//!     let t = if i % 2 == 0 { &mut a } else { &mut b };
//!     t.add(key, |s| *s += 10);
//! }
//! let mut single = CappedTable::<u64>::new(2);
//! for key in [&b"x"[..], b"y", b"z", b"x"] {
//!     single.add(key, |s| *s += 10);
//! }
//! a.merge(b);
//! assert_eq!(a.into_sorted(|s| *s), single.into_sorted(|s| *s));
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Per-row statistics of a [`CappedTable`].
///
/// `merge` must be commutative and associative, and `Default` its identity, so that the
/// order in which partial rows meet does not change the result; integer counters are.
pub trait RowStats: Default {
    /// Adds `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// A plain counter; saturating, so that a sum that would overflow stays at `u64::MAX`
/// (saturating addition of unsigned values is still commutative and associative).
impl RowStats for u64 {
    fn merge(&mut self, other: &Self) {
        *self = self.saturating_add(*other);
    }
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;

/// 64x64 -> 128-bit multiply, folded back to 64 bits by xor.
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// MurmurHash3's 64-bit finaliser: spreads every input bit over the output.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The 64-bit hash that ranks rows.
///
/// Defined here rather than taken from a crate so that it is frozen: the same bytes give
/// the same value on every run, platform (words are read little-endian, lengths as `u64`)
/// and Rust or dependency version. `std`'s `RandomState` is seeded per process and
/// `rustc-hash` changed its algorithm between major versions and hashes `usize`-wide, so
/// neither fits. Changing this function changes which rows reports keep; a unit test pins
/// its values.
///
/// It reads the key 8 bytes at a time (wyhash-style folded multiplies) and ends with
/// MurmurHash3's finaliser. It is not meant to resist chosen collisions: a collision only
/// makes the key bytes decide the order.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h = P0 ^ (bytes.len() as u64).wrapping_mul(P1);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default());
        h = fold_mul(h ^ w ^ P0, P1);
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        h = fold_mul(h ^ tail_word(bytes, rem) ^ P0, P1);
    }
    fmix64(h)
}

/// The last `rem.len()` (1 to 7) bytes of `bytes` as a little-endian word, zero-padded:
/// read with at most two loads instead of byte by byte.
#[inline]
fn tail_word(bytes: &[u8], rem: &[u8]) -> u64 {
    let n = rem.len();
    if let Some(last) = bytes
        .len()
        .checked_sub(8)
        .and_then(|at| bytes.get(at..))
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        // The 8 bytes ending the key hold the remainder in their top `n` bytes.
        return u64::from_le_bytes(last) >> (8 * (8 - n));
    }
    let byte = |i: usize| u64::from(rem.get(i).copied().unwrap_or(0));
    let word = |i: usize| {
        rem.get(i..i + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    if n >= 4 {
        // Two overlapping 4-byte loads; the shared bytes are equal, so or-ing is exact.
        word(0) | (word(n - 4) << (8 * (n - 4)))
    } else {
        byte(0) | (byte(n / 2) << (8 * (n / 2))) | (byte(n - 1) << (8 * (n - 1)))
    }
}

/// Byte equality for the short keys of rows, inlined: most comparisons are prefixes and
/// patterns of a few bytes, where calling `memcmp` costs more than comparing.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Whole words compared as integers: a slice comparison would call `memcmp`.
    let word = |c: &[u8]| u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default());
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        if word(x) != word(y) {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// At most `cap` rows of statistics keyed by byte strings, plus an `other` row for the
/// rest; see the [module docs](self) for which rows are kept and why merging is exact.
///
/// Rows live in a hash table indexed by their rank ([`stable_hash`]), so each operation
/// hashes its key once; callers that test and then add (see [`rank`](Self::rank)) can
/// share that one hash between the two.
#[derive(Debug, Clone)]
pub struct CappedTable<S> {
    cap: usize,
    rows: hashbrown::HashTable<Row<S>>,
    /// The retained ranks, largest on top: the next row to evict (its key is looked up
    /// only when two retained keys share that rank).
    order: BinaryHeap<u64>,
    other: S,
    folded: bool,
    /// Bumped whenever rows may move (insertion, eviction): see [`row_at`](Self::row_at).
    generation: u64,
    /// A replacement for [`stable_hash`] (tests force collisions with it).
    hash: Option<fn(&[u8]) -> u64>,
}

/// One retained row: its key, the key's rank and its statistics.
#[derive(Debug, Clone)]
struct Row<S> {
    key: RowKey,
    rank: u64,
    stats: S,
}

/// Key bytes a [`RowKey`] holds without allocating.
const INLINE_KEY: usize = 30;

/// A row's key: in the row itself when short (most prefixes and patterns are), so that
/// admitting a row allocates nothing and comparing it reads no other cache line.
#[derive(Debug, Clone)]
enum RowKey {
    Inline { len: u8, bytes: [u8; INLINE_KEY] },
    Boxed(Box<[u8]>),
}

impl RowKey {
    fn new(key: &[u8]) -> Self {
        match u8::try_from(key.len()) {
            Ok(len) if key.len() <= INLINE_KEY => {
                let mut bytes = [0u8; INLINE_KEY];
                bytes[..key.len()].copy_from_slice(key);
                RowKey::Inline { len, bytes }
            }
            _ => RowKey::Boxed(key.into()),
        }
    }
}

impl std::ops::Deref for RowKey {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            RowKey::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or_default(),
            RowKey::Boxed(b) => b,
        }
    }
}

/// The rows of a [`CappedTable`] in report order; see [`CappedTable::into_sorted`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortedRows<S> {
    /// Rows by weight descending, then key bytes ascending.
    pub rows: Vec<(Vec<u8>, S)>,
    /// Everything not in `rows`.
    pub other: S,
    /// Whether anything was folded into `other` (more than `cap` distinct keys were seen).
    pub folded: bool,
}

impl<S: RowStats> CappedTable<S> {
    /// An empty table keeping at most `cap` rows. With `cap == 0` everything goes to
    /// `other`.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            rows: hashbrown::HashTable::new(),
            order: BinaryHeap::new(),
            other: S::default(),
            folded: false,
            generation: 0,
            hash: None,
        }
    }

    #[cfg(test)]
    fn with_hash(cap: usize, hash: fn(&[u8]) -> u64) -> Self {
        Self {
            hash: Some(hash),
            ..Self::new(cap)
        }
    }

    /// The rank of `key` (its [`stable_hash`]), for [`rejects_ranked`](Self::rejects_ranked)
    /// and [`add_ranked`](Self::add_ranked).
    #[inline]
    pub fn rank(&self, key: &[u8]) -> u64 {
        match self.hash {
            None => stable_hash(key),
            Some(h) => h(key),
        }
    }

    /// Applies `f` to the row of `key`, creating it if it ranks among the `cap` smallest
    /// keys seen so far, or to `other` otherwise.
    ///
    /// The key is copied only when a new row is created: an existing row is found by
    /// borrowing `key`, and a rejected key is never stored.
    pub fn add(&mut self, key: &[u8], f: impl FnOnce(&mut S)) {
        let rank = self.rank(key);
        self.add_ranked(key, rank, f);
    }

    /// [`add`](Self::add) with the key's [`rank`](Self::rank) already computed.
    pub fn add_ranked(&mut self, key: &[u8], rank: u64, f: impl FnOnce(&mut S)) {
        self.add_ranked_at(key, rank, f);
    }

    /// [`add_ranked`](Self::add_ranked), returning where the key's row is (`None` when the
    /// key was folded into `other`): later contributions for the same key can go straight
    /// to [`row_at`](Self::row_at) while the [`generation`](Self::generation) stays the same.
    pub fn add_ranked_at(
        &mut self,
        key: &[u8],
        rank: u64,
        f: impl FnOnce(&mut S),
    ) -> Option<usize> {
        // A full table only holds keys ranked at or below its top: a key ranked above it
        // cannot be there, and is folded without probing the table (the common case for a
        // high-cardinality level such as per-user prefixes).
        if self.rejects_ranked(key, rank) {
            self.fold(f);
            return None;
        }
        if let Some(at) = self
            .rows
            .find_bucket_index(rank, |r| same_bytes(&r.key, key))
        {
            if let Some(row) = self.rows.get_bucket_mut(at) {
                f(&mut row.stats);
                return Some(at);
            }
        }
        if self.admits(rank, key) {
            let mut stats = S::default();
            f(&mut stats);
            Some(self.insert_new(RowKey::new(key), rank, stats))
        } else {
            self.fold(f);
            None
        }
    }

    /// Changes whenever rows may have moved, which makes positions returned by
    /// [`add_ranked_at`](Self::add_ranked_at) stale.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The statistics of the row at `at`, as returned by
    /// [`add_ranked_at`](Self::add_ranked_at) in `generation`; `None` if rows have moved
    /// since (the caller then adds by key again).
    #[inline]
    pub fn row_at(&mut self, at: usize, generation: u64) -> Option<&mut S> {
        if generation != self.generation {
            return None;
        }
        self.rows.get_bucket_mut(at).map(|r| &mut r.stats)
    }

    /// Whether [`add`](Self::add) would fold `key`, of rank `rank` ([`rank`](Self::rank)),
    /// into `other` without looking for its row: the table is full and `key` ranks above
    /// every retained key, so it is not there and never will be (the largest retained rank
    /// only goes down). Use [`fold`](Self::fold) for such a key.
    pub fn rejects_ranked(&self, key: &[u8], rank: u64) -> bool {
        self.rows.len() >= self.cap && self.above_top(rank, key) != Some(false)
    }

    /// Whether `(rank, key)` ranks above the largest retained key (`None` without rows).
    #[inline]
    fn above_top(&self, rank: u64, key: &[u8]) -> Option<bool> {
        let &top = self.order.peek()?;
        if rank != top {
            return Some(rank > top);
        }
        Some(self.top_key(top).is_some_and(|k| key > k))
    }

    /// The largest key among the retained rows of rank `rank`.
    fn top_key(&self, rank: u64) -> Option<&[u8]> {
        self.rows
            .iter_hash(rank)
            .filter(|r| r.rank == rank)
            .map(|r| &*r.key)
            .max()
    }

    /// Applies `f` to `other`, for a key [`rejects_ranked`](Self::rejects_ranked) refused: the same as
    /// [`add`](Self::add) of that key.
    pub fn fold(&mut self, f: impl FnOnce(&mut S)) {
        f(&mut self.other);
        self.folded = true;
    }

    /// Whether a key not in the table ranks below the largest retained one (or fits).
    fn admits(&self, rank: u64, key: &[u8]) -> bool {
        // `key` is absent, so it cannot equal the top key.
        self.rows.len() < self.cap || self.above_top(rank, key) == Some(false)
    }

    /// Inserts a key that is absent and admitted, evicting the largest rank if full;
    /// returns the new row's position.
    fn insert_new(&mut self, key: RowKey, rank: u64, stats: S) -> usize {
        if self.rows.len() >= self.cap {
            self.evict_top();
        }
        self.order.push(rank);
        self.generation += 1;
        self.rows
            .insert_unique(rank, Row { key, rank, stats }, |r| r.rank)
            .bucket_index()
    }

    fn evict_top(&mut self) {
        self.generation += 1;
        if let Some(rank) = self.order.pop() {
            let shared = self.rows.iter_hash(rank).filter(|r| r.rank == rank).nth(1);
            // Two keys with one rank (a 64-bit collision): the larger key goes first.
            let key: Option<Box<[u8]>> = shared.and_then(|_| self.top_key(rank).map(Box::from));
            let found = self.rows.find_entry(rank, |r| {
                r.rank == rank && key.as_ref().is_none_or(|k| *r.key == **k)
            });
            if let Ok(e) = found {
                let (row, _) = e.remove();
                self.other.merge(&row.stats);
            }
            self.folded = true;
        }
    }

    /// Merges `other` into `self`: the result is the table that one pass over both inputs
    /// would have built. Its cap is the smaller of the two caps, which keeps merging
    /// commutative even when the caps differ.
    pub fn merge(&mut self, other: Self) {
        self.cap = self.cap.min(other.cap);
        while self.rows.len() > self.cap {
            self.evict_top();
        }
        self.other.merge(&other.other);
        self.folded |= other.folded;
        for row in other.rows {
            if let Some(mine) = self.rows.find_mut(row.rank, |r| *r.key == *row.key) {
                mine.stats.merge(&row.stats);
                continue;
            }
            if self.admits(row.rank, &row.key) {
                self.insert_new(row.key, row.rank, row.stats);
            } else {
                self.other.merge(&row.stats);
                self.folded = true;
            }
        }
    }

    /// Removes the row of `key` and returns its statistics. The result stays what one pass
    /// would give without that key only while nothing was [`folded`](Self::folded).
    pub fn take(&mut self, key: &[u8]) -> Option<S> {
        let rank = self.rank(key);
        let (row, _) = self
            .rows
            .find_entry(rank, |r| *r.key == *key)
            .ok()?
            .remove();
        self.order = self.rows.iter().map(|r| r.rank).collect();
        self.generation += 1;
        Some(row.stats)
    }

    /// The statistics of `key`, if it has a row.
    pub fn get(&self, key: &[u8]) -> Option<&S> {
        self.rows
            .find(self.rank(key), |r| *r.key == *key)
            .map(|r| &r.stats)
    }

    /// The retained rows, in no specified order (use [`sorted`](Self::sorted) for output).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &S)> {
        self.rows.iter().map(|r| (&*r.key, &r.stats))
    }

    /// Everything folded out of the retained rows.
    pub fn other(&self) -> &S {
        &self.other
    }

    /// The merge of every row and `other`: the statistics of everything added.
    pub fn total(&self) -> S {
        let mut total = S::default();
        total.merge(&self.other);
        for row in &self.rows {
            total.merge(&row.stats);
        }
        total
    }

    /// Number of retained rows (at most [`cap`](Self::cap)).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is retained.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The most rows this table retains.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether anything was ever folded into `other`, i.e. more than `cap` distinct keys
    /// were seen. Deterministic like the rows: a single pass and any merge agree.
    pub fn folded(&self) -> bool {
        self.folded
    }

    /// The retained rows by `by(stats)` descending, then key bytes ascending.
    pub fn sorted(&self, by: impl Fn(&S) -> u64) -> Vec<(&[u8], &S)> {
        let mut rows: Vec<(u64, &[u8], &S)> = self.iter().map(|(k, s)| (by(s), k, s)).collect();
        rows.sort_unstable_by(|a, b| (Reverse(a.0), a.1).cmp(&(Reverse(b.0), b.1)));
        rows.into_iter().map(|(_, k, s)| (k, s)).collect()
    }

    /// Consumes the table into its rows by `by(stats)` descending, then key bytes
    /// ascending (keys are distinct, so the order is total), with `other` and `folded`.
    pub fn into_sorted(self, by: impl Fn(&S) -> u64) -> SortedRows<S> {
        let mut rows: Vec<(u64, Vec<u8>, S)> = self
            .rows
            .into_iter()
            .map(|r| (by(&r.stats), r.key.to_vec(), r.stats))
            .collect();
        rows.sort_unstable_by(|a, b| (Reverse(a.0), &a.1).cmp(&(Reverse(b.0), &b.1)));
        SortedRows {
            rows: rows.into_iter().map(|(_, k, s)| (k, s)).collect(),
            other: self.other,
            folded: self.folded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Table = CappedTable<u64>;

    fn feed(t: &mut Table, items: &[(Vec<u8>, u64)]) {
        for (k, w) in items {
            t.add(k, |s| *s += w);
        }
    }

    #[test]
    fn keys_of_every_length_come_back_as_given() {
        // Short keys are kept in the row, longer ones boxed: both must read back exactly,
        // be found again, and merge by their bytes.
        let keys: Vec<Vec<u8>> = (0..70usize)
            .chain([255, 256, 300])
            .map(|n| (0..n).map(|i| (i * 7 + n) as u8).collect())
            .collect();
        let mut a = Table::new(1000);
        let mut b = Table::new(1000);
        for (i, k) in keys.iter().enumerate() {
            a.add(k, |s| *s += 1);
            if i % 2 == 0 {
                b.add(k, |s| *s += 10);
            }
        }
        for k in &keys {
            assert_eq!(a.get(k), Some(&1), "{} bytes", k.len());
        }
        a.merge(b);
        let mut got: Vec<(Vec<u8>, u64)> = a.into_sorted(|s| *s).rows;
        got.sort();
        let mut want: Vec<(Vec<u8>, u64)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), if i % 2 == 0 { 11 } else { 1 }))
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn stable_hash_values_are_pinned() {
        // Changing these changes which rows every report keeps: do it on purpose only.
        let got: Vec<u64> = [
            &b""[..],
            b"a",
            b"user:",
            b"0123456789abcdef",
            b"user:{num}:x",
        ]
        .iter()
        .map(|k| stable_hash(k))
        .collect();
        assert_eq!(got, PINNED);
    }

    const PINNED: [u64; 5] = [
        430101498269451689,
        103046579908398246,
        3997744155609799550,
        18130976850828607792,
        15268911671013680328,
    ];

    #[test]
    fn tail_word_reads_the_remainder_zero_padded() {
        let data: Vec<u8> = (1..=40u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            let key = &data[..len];
            let rem = key.chunks_exact(8).remainder();
            if rem.is_empty() {
                continue;
            }
            let mut buf = [0u8; 8];
            buf[..rem.len()].copy_from_slice(rem);
            assert_eq!(tail_word(key, rem), u64::from_le_bytes(buf), "length {len}");
        }
    }

    #[test]
    fn stable_hash_distinguishes_padding_and_length() {
        assert_ne!(stable_hash(b"a"), stable_hash(b"a\0"));
        assert_ne!(stable_hash(b""), stable_hash(b"\0"));
        assert_ne!(stable_hash(b"abcdefgh"), stable_hash(b"abcdefgh\0"));
    }

    #[test]
    fn add_under_cap_keeps_every_row() {
        let mut t = Table::new(3);
        t.add(b"a", |s| *s += 1);
        t.add(b"b", |s| *s += 2);
        t.add(b"a", |s| *s += 4);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(b"a"), Some(&5));
        assert_eq!(*t.other(), 0);
        assert!(!t.folded());
    }

    #[test]
    fn add_over_cap_keeps_smallest_ranks() {
        let keys: Vec<Vec<u8>> = (0..50u32).map(|i| format!("k{i}").into_bytes()).collect();
        let mut t = Table::new(5);
        for k in &keys {
            t.add(k, |s| *s += 1);
        }
        let mut ranked: Vec<(u64, &Vec<u8>)> = keys.iter().map(|k| (stable_hash(k), k)).collect();
        ranked.sort();
        let mut want: Vec<&[u8]> = ranked[..5].iter().map(|(_, k)| k.as_slice()).collect();
        want.sort();
        let mut got: Vec<&[u8]> = t.iter().map(|(k, _)| k).collect();
        got.sort();
        assert_eq!(got, want);
        assert_eq!(*t.other(), 45);
        assert_eq!(t.total(), 50);
        assert!(t.folded());
    }

    #[test]
    fn add_rejected_key_stays_in_other() {
        // A constant hash makes the key bytes alone decide: "a" < "b" < "c".
        let mut t = Table::with_hash(2, |_| 7);
        t.add(b"c", |s| *s += 1);
        t.add(b"b", |s| *s += 1);
        t.add(b"a", |s| *s += 1); // evicts "c"
        t.add(b"c", |s| *s += 10); // rejected
        t.add(b"d", |s| *s += 100); // rejected
        assert_eq!(t.get(b"a"), Some(&1));
        assert_eq!(t.get(b"b"), Some(&1));
        assert_eq!(t.get(b"c"), None);
        assert_eq!(*t.other(), 111);
    }

    #[test]
    fn row_at_is_refused_once_rows_may_have_moved() {
        // A constant hash ranks by the bytes alone ("a" < "b") and puts every row in the
        // same probe group, so a freed position is taken again by the next insertion.
        let mut t = Table::with_hash(1, |_| 7);
        let at = t.add_ranked_at(b"b", 7, |s| *s += 1).unwrap();
        let generation = t.generation();
        *t.row_at(at, generation).unwrap() += 2;
        assert_eq!(t.get(b"b"), Some(&3));
        let again = t.add_ranked_at(b"b", 7, |s| *s += 4);
        assert_eq!(
            (again, t.generation()),
            (Some(at), generation),
            "no row moved"
        );
        let a_at = t.add_ranked_at(b"a", 7, |s| *s += 10).unwrap();
        assert_eq!(a_at, at, "the evicted row's position is reused");
        // "b" was evicted and its position now holds "a": the old handle is refused.
        assert!(t.row_at(at, generation).is_none());
        assert_eq!(t.get(b"a"), Some(&10));
        assert_eq!(*t.other(), 7);
        // A folded key has no position.
        assert_eq!(t.add_ranked_at(b"b", 7, |s| *s += 100), None);
        assert_eq!(*t.other(), 107);
    }

    #[test]
    fn add_zero_cap_folds_everything() {
        let mut t = Table::new(0);
        t.add(b"a", |s| *s += 3);
        t.add(b"", |s| *s += 4);
        assert!(t.is_empty());
        assert_eq!(*t.other(), 7);
        assert!(t.folded());
        // An empty table has folded nothing.
        assert!(!Table::new(0).folded());
    }

    #[test]
    fn add_folded_without_weight_still_reports_folded() {
        let mut t = Table::new(1);
        t.add(b"a", |_| {});
        t.add(b"b", |_| {});
        assert!(t.folded());
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn into_sorted_orders_by_weight_then_key() {
        let mut t = Table::new(10);
        for (k, w) in [(&b"b"[..], 5), (b"a", 5), (b"c", 9), (b"", 1)] {
            t.add(k, |s| *s += w);
        }
        let sorted = t.sorted(|s| *s);
        let keys: Vec<&[u8]> = sorted.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [&b"c"[..], b"a", b"b", b""]);
        let owned = t.into_sorted(|s| *s);
        let keys: Vec<&[u8]> = owned.rows.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, [&b"c"[..], b"a", b"b", b""]);
        assert!(!owned.folded);
    }

    #[test]
    fn merge_different_caps_takes_smaller() {
        let items: Vec<(Vec<u8>, u64)> = (0..20u64)
            .map(|i| (format!("k{i}").into_bytes(), i))
            .collect();
        let mut small = Table::new(3);
        let mut big = Table::new(8);
        feed(&mut small, &items[..10]);
        feed(&mut big, &items[10..]);
        let mut one = Table::new(3);
        feed(&mut one, &items);
        let mut ab = small.clone();
        ab.merge(big.clone());
        big.merge(small);
        assert_eq!(ab.cap(), 3);
        assert_eq!(
            ab.clone().into_sorted(|s| *s),
            one.clone().into_sorted(|s| *s)
        );
        assert_eq!(big.into_sorted(|s| *s), one.into_sorted(|s| *s));
    }

    #[test]
    fn merge_hash_collisions_tie_break_by_key() {
        let mut a = Table::with_hash(2, |_| 1);
        let mut b = Table::with_hash(2, |_| 1);
        a.add(b"z", |s| *s += 1);
        a.add(b"m", |s| *s += 1);
        b.add(b"a", |s| *s += 1);
        b.add(b"m", |s| *s += 1);
        a.merge(b);
        let rows = a.into_sorted(|s| *s);
        assert_eq!(rows.rows, vec![(b"m".to_vec(), 2), (b"a".to_vec(), 1)]);
        assert_eq!(rows.other, 1);
        assert!(rows.folded);
    }

    /// Oracle: the `cap` smallest distinct keys by rank with their sums, and the rest.
    fn oracle(items: &[(Vec<u8>, u64)], cap: usize) -> SortedRows<u64> {
        oracle_with(items, cap, stable_hash)
    }

    fn oracle_with(
        items: &[(Vec<u8>, u64)],
        cap: usize,
        hash: fn(&[u8]) -> u64,
    ) -> SortedRows<u64> {
        let mut sums: BTreeMap<(u64, Vec<u8>), u64> = BTreeMap::new();
        for (k, w) in items {
            let e = sums.entry((hash(k), k.clone())).or_default();
            *e = e.saturating_add(*w);
        }
        let folded = sums.len() > cap;
        let other = sums
            .values()
            .skip(cap)
            .fold(0u64, |a, b| a.saturating_add(*b));
        let mut rows: Vec<(Vec<u8>, u64)> = sums
            .into_iter()
            .take(cap)
            .map(|((_, k), s)| (k, s))
            .collect();
        rows.sort_by(|a, b| (Reverse(a.1), &a.0).cmp(&(Reverse(b.1), &b.0)));
        SortedRows {
            rows,
            other,
            folded,
        }
    }

    fn items_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, u64, usize)>> {
        prop::collection::vec(
            (
                prop::collection::vec(prop::sample::select(b"ab:".to_vec()), 0..4),
                0u64..1000,
                0usize..4,
            ),
            0..120,
        )
    }

    proptest! {
        #[test]
        fn colliding_ranks_order_by_key_as_the_oracle_does(
            items in items_strategy(),
            cap in 0usize..12,
        ) {
            // Three ranks for every key: most rows share their rank with others.
            let hash: fn(&[u8]) -> u64 = |k| (k.len() % 3) as u64;
            let flat: Vec<(Vec<u8>, u64)> = items.iter().map(|(k, w, _)| (k.clone(), *w)).collect();
            let want = oracle_with(&flat, cap, hash);
            let mut single = Table::with_hash(cap, hash);
            feed(&mut single, &flat);
            prop_assert_eq!(&single.into_sorted(|s| *s), &want);
            let mut parts: Vec<Table> = (0..4).map(|_| Table::with_hash(cap, hash)).collect();
            for (k, w, p) in &items {
                parts[*p].add(k, |s| *s += w);
            }
            let mut merged = Table::with_hash(cap, hash);
            for p in parts {
                merged.merge(p);
            }
            prop_assert_eq!(&merged.into_sorted(|s| *s), &want);
        }

        #[test]
        fn capped_table_any_partition_and_merge_order_matches_oracle(
            items in items_strategy(),
            cap in 0usize..12,
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
        ) {
            let flat: Vec<(Vec<u8>, u64)> = items.iter().map(|(k, w, _)| (k.clone(), *w)).collect();
            let mut single = Table::new(cap);
            feed(&mut single, &flat);
            let want = oracle(&flat, cap);
            prop_assert_eq!(single.total(), flat.iter().map(|x| x.1).sum::<u64>());
            prop_assert_eq!(&single.clone().into_sorted(|s| *s), &want);

            let mut parts: Vec<Table> = (0..4).map(|_| Table::new(cap)).collect();
            for (k, w, p) in &items {
                parts[*p].add(k, |s| *s += w);
            }
            // Sequential merge in a shuffled order.
            let mut seq = Table::new(cap);
            for &i in &order {
                seq.merge(parts[i].clone());
            }
            prop_assert_eq!(&seq.into_sorted(|s| *s), &want);
            // Tree merge: (p0 + p1) + (p2 + p3), in the shuffled pairing.
            let mut l = parts[order[0]].clone();
            l.merge(parts[order[1]].clone());
            let mut r = parts[order[2]].clone();
            r.merge(parts[order[3]].clone());
            r.merge(l);
            prop_assert_eq!(&r.into_sorted(|s| *s), &want);
        }

        #[test]
        fn rejected_keys_fold_exactly_as_add_folds_them(
            items in items_strategy(),
            cap in 0usize..12,
        ) {
            let flat: Vec<(Vec<u8>, u64)> = items.iter().map(|(k, w, _)| (k.clone(), *w)).collect();
            let mut via_reject = Table::new(cap);
            for (k, w) in &flat {
                if via_reject.rejects_ranked(k, via_reject.rank(k)) {
                    prop_assert!(via_reject.get(k).is_none(), "a rejected key has a row");
                    via_reject.fold(|s| *s += w);
                } else {
                    via_reject.add(k, |s| *s += w);
                }
            }
            prop_assert_eq!(via_reject.into_sorted(|s| *s), oracle(&flat, cap));
        }

        #[test]
        fn capped_table_merge_commutative_and_associative(
            items in items_strategy(),
            cap in 0usize..8,
        ) {
            let mut parts: Vec<Table> = (0..3).map(|_| Table::new(cap)).collect();
            for (k, w, p) in &items {
                parts[*p % 3].add(k, |s| *s += w);
            }
            let [a, b, c] = [parts[0].clone(), parts[1].clone(), parts[2].clone()];
            let mut ab = a.clone();
            ab.merge(b.clone());
            let mut ba = b.clone();
            ba.merge(a.clone());
            prop_assert_eq!(ab.clone().into_sorted(|s| *s), ba.into_sorted(|s| *s));
            let mut ab_c = ab;
            ab_c.merge(c.clone());
            let mut bc = b;
            bc.merge(c);
            let mut a_bc = a;
            a_bc.merge(bc);
            prop_assert_eq!(ab_c.into_sorted(|s| *s), a_bc.into_sorted(|s| *s));
        }
    }
}
