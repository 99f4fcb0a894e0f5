//! Redis's incremental-rehash dict, simulated by table sizes and counts.

use super::*;

/// Redis's incremental-rehash dict (`dict.c`, 7.x), tracking only table sizes and counts.
/// Rehash progress is one bucket per insert; the number of steps a table needs is its
/// expected number of non-empty buckets (the bucket layout depends on the process's random
/// hash seed, so the expectation is the best deterministic answer).
#[derive(Debug, Clone, Copy)]
pub(super) struct DictSim {
    size0: u64,
    pub(super) used0: u64,
    /// (size, used, steps left) of the table being rehashed into.
    rehash: Option<(u64, u64, u64)>,
}

impl DictSim {
    pub(super) fn with_size(n: u64) -> Self {
        DictSim {
            size0: next_pow2(n).max(4),
            used0: 0,
            rehash: None,
        }
    }

    pub(super) fn start_rehash(&mut self, new_size: u64) {
        let occupied = self.used0 as f64 - expected_collisions(self.used0, self.size0);
        let steps = occupied.round() as u64;
        if steps == 0 {
            self.size0 = new_size;
        } else {
            self.rehash = Some((new_size, 0, steps));
        }
    }

    /// `_dictExpand` with a requested size.
    pub(super) fn try_expand(&mut self, n: u64) {
        if self.rehash.is_some() || self.used0 > n {
            return;
        }
        let size = next_pow2(n).max(4);
        if size != self.size0 {
            self.start_rehash(size);
        }
    }

    /// `dictAdd`: a rehash step, grow if full, insert.
    pub(super) fn add(&mut self) {
        self.step();
        if self.rehash.is_none() && self.used0 >= self.size0 {
            self.start_rehash(next_pow2(self.used0 + 1));
        }
        match &mut self.rehash {
            Some((_, used, _)) => *used += 1,
            None => self.used0 += 1,
        }
    }

    /// `dictDelete`: a rehash step, remove, shrink below 1/8 full (`dictShrinkIfNeeded`).
    pub(super) fn remove(&mut self) {
        self.step();
        match &mut self.rehash {
            Some((_, used, _)) if *used > 0 && self.used0 == 0 => *used -= 1,
            _ => self.used0 = self.used0.saturating_sub(1),
        }
        if self.rehash.is_none() && self.size0 > 4 && self.used0 * 8 <= self.size0 {
            self.start_rehash(next_pow2(self.used0).max(4));
        }
    }

    /// One `_dictRehashStep`.
    pub(super) fn step(&mut self) {
        if let Some((size, used, steps)) = self.rehash {
            if steps <= 1 {
                self.size0 = size;
                self.used0 += used;
                self.rehash = None;
            } else {
                self.rehash = Some((size, used, steps - 1));
            }
        }
    }

    pub(super) fn slots(&self) -> u64 {
        self.size0 + self.rehash.map_or(0, |r| r.0)
    }
}
