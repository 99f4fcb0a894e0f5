//! Which allocator the server that wrote a dump used, when `--allocator` is not given.
//!
//! A dump does not record its server's allocator, and the choice moves every small
//! allocation: Debian's and Ubuntu's packages link the system jemalloc (16-byte quantum),
//! upstream builds and the official images bundle one with an 8-byte quantum, `make
//! MALLOC=libc` uses glibc's. Two things decide:
//!
//! * **packaging** (the prior): the versions that Debian and Ubuntu ship are most often their
//!   packages; every other version most often an upstream build or image;
//! * **`used-mem`** (the evidence): the dump's keys are predicted under each allocator (every
//!   key in the file's first 4 MiB, one key in 64 by offset after that, scaled), and the
//!   remainder `used-mem − prediction` of each is judged as a live server's excess over a
//!   fresh load: rarely below −0.5% (the prediction's own accuracy), and more likely small
//!   than large (clients, histograms and grown tables are typically a few percent).
//!
//! The allocator with the best posterior is chosen; with no usable evidence (no `used-mem`, a
//! filtered or partial run, no keys) the packaging default is used and said to be assumed.

use crate::alloc::Allocator;
use serde::{Deserialize, Serialize};

/// The allocators, in the order of [`AllocatorSample`]'s arrays.
pub const ALLOCATORS: [Allocator; 3] =
    [Allocator::Jemalloc, Allocator::Jemalloc16, Allocator::Libc];

/// Server versions that Debian or Ubuntu ship as packages linked with the system jemalloc
/// (`USE_SYSTEM_JEMALLOC=yes` in `debian/rules`): (server, version, where).
pub const PACKAGED: &[(&str, &str, &str)] = &[
    ("redis", "5.0.7", "Ubuntu 20.04"),
    ("redis", "5.0.14", "Debian 10"),
    ("redis", "6.0.16", "Debian 11, Ubuntu 22.04"),
    ("redis", "7.0.15", "Debian 12, Ubuntu 24.04"),
    ("redis", "8.0.2", "Debian 13"),
    ("valkey", "8.1.1", "Debian 13"),
];

/// Record offsets below this are all sampled.
const HEAD_BYTES: u64 = 4 << 20;
/// After the head, one key in this many is sampled (by a hash of its offset).
const TAIL_EVERY: u64 = 64;

/// Where a key falls in the sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampled {
    /// In the head: counted once.
    Head,
    /// In the tail: stands for `TAIL_EVERY` keys.
    Tail,
}

/// Whether the key at this record offset is sampled: the same for any thread split.
pub fn sampled(offset: u64) -> Option<Sampled> {
    if offset < HEAD_BYTES {
        return Some(Sampled::Head);
    }
    let h = offset.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    h.is_multiple_of(TAIL_EVERY).then_some(Sampled::Tail)
}

/// Sampled keys' cost (`MEMORY USAGE` plus what they allocate beyond it) under each
/// allocator. Plain data with `merge`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocatorSample {
    /// Keys sampled.
    pub keys: u64,
    /// Cost of the head keys per allocator ([`ALLOCATORS`] order).
    pub head: [i64; 3],
    /// Cost of the sampled tail keys per allocator.
    pub tail: [i64; 3],
}

impl AllocatorSample {
    /// Adds one key's costs.
    pub fn add(&mut self, at: Sampled, cost: [i64; 3]) {
        self.keys += 1;
        let t = match at {
            Sampled::Head => &mut self.head,
            Sampled::Tail => &mut self.tail,
        };
        for (a, c) in t.iter_mut().zip(cost) {
            *a += c;
        }
    }

    /// Adds another sample.
    pub fn merge(&mut self, o: &AllocatorSample) {
        self.keys += o.keys;
        for i in 0..3 {
            self.head[i] += o.head[i];
            self.tail[i] += o.tail[i];
        }
    }

    /// How much more the keys cost under `to` than under `from`, scaled to every key.
    pub fn delta(&self, from: Allocator, to: Allocator) -> i64 {
        let (f, t) = (index(from), index(to));
        (self.head[t] - self.head[f]) + TAIL_EVERY as i64 * (self.tail[t] - self.tail[f])
    }
}

fn index(a: Allocator) -> usize {
    match a {
        Allocator::Jemalloc => 0,
        Allocator::Jemalloc16 => 1,
        Allocator::Libc => 2,
    }
}

/// The allocator's name as `--allocator` spells it.
pub fn name(a: Allocator) -> &'static str {
    match a {
        Allocator::Jemalloc => "jemalloc",
        Allocator::Jemalloc16 => "jemalloc-16",
        Allocator::Libc => "libc",
    }
}

/// Where the packaging default of a version comes from, if it is a packaged one.
pub fn packaged(redis_ver: Option<&str>, valkey_ver: Option<&str>) -> Option<&'static str> {
    let (server, v) = match (valkey_ver, redis_ver) {
        (Some(v), _) => ("valkey", v),
        (None, Some(v)) => ("redis", v),
        _ => return None,
    };
    PACKAGED
        .iter()
        .find(|(s, ver, _)| *s == server && *ver == v.trim())
        .map(|(_, _, w)| *w)
}

/// The allocator a server of this version most likely used, before any evidence.
pub fn packaging_default(redis_ver: Option<&str>, valkey_ver: Option<&str>) -> Allocator {
    if packaged(redis_ver, valkey_ver).is_some() {
        Allocator::Jemalloc16
    } else {
        Allocator::Jemalloc
    }
}

/// How the allocator of a file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `--allocator`.
    Given,
    /// From `used-mem` against the predictions (and the packaging prior).
    Inferred,
    /// The packaging default, with no usable evidence.
    Assumed,
}

/// One allocator's prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// `jemalloc`, `jemalloc-16`, `libc`.
    pub allocator: String,
    /// Predicted `used_memory` of a server loading the dump with it.
    pub predicted_used_memory: u64,
    /// `used-mem` above that prediction, percent of `used-mem` (negative: below).
    pub used_mem_above_pct: f64,
}

/// The verdict for one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The allocator chosen.
    #[serde(skip)]
    pub allocator: Allocator,
    /// How.
    pub source: Source,
    /// From what, in one line.
    pub evidence: String,
    /// Every allocator's prediction (empty without evidence).
    pub candidates: Vec<Candidate>,
}

/// The prior weight of `a` given the packaging default.
fn prior(a: Allocator, default: Allocator) -> f64 {
    match (a, default) {
        (Allocator::Jemalloc16, Allocator::Jemalloc16) => 0.80,
        (Allocator::Jemalloc, Allocator::Jemalloc16) => 0.15,
        (Allocator::Jemalloc, _) => 0.85,
        (Allocator::Jemalloc16, _) => 0.10,
        (Allocator::Libc, _) => 0.05,
    }
}

/// Log-likelihood of a remainder of `x` percent of `used-mem` for the right allocator: a
/// live server's excess over a fresh load, at least −0.5% (the prediction's own error,
/// `docs/accuracy.md`), exponentially less likely as it grows (scale 5%), and very unlikely
/// below −0.5% (scale 0.5%).
fn log_likelihood(x: f64) -> f64 {
    const MARGIN: f64 = 0.5;
    const SCALE: f64 = 5.0;
    const BELOW: f64 = 0.5;
    if x >= -MARGIN {
        -(x + MARGIN) / SCALE
    } else {
        -(-MARGIN - x) / BELOW
    }
}

/// The verdict from `used-mem` and each allocator's prediction (in [`ALLOCATORS`] order);
/// `no_evidence` says why there is none (then the packaging default is assumed).
pub fn decide(
    default: Allocator,
    packaged_as: Option<&str>,
    used_mem: u64,
    predicted: Option<[u64; 3]>,
    no_evidence: Option<&str>,
) -> Verdict {
    let assumed = |why: &str| {
        Verdict {
        allocator: default,
        source: Source::Assumed,
        evidence: match packaged_as {
            Some(w) => format!(
                "the default of this version's {w} package (system jemalloc, 16-byte quantum); {why}"
            ),
            None => format!("the default of upstream builds and official images; {why}"),
        },
        candidates: Vec::new(),
    }
    };
    if let Some(why) = no_evidence {
        return assumed(why);
    }
    let Some(p) = predicted.filter(|_| used_mem > 0) else {
        return assumed("no used-mem to compare with");
    };
    let above = |i: usize| (used_mem as f64 - p[i] as f64) * 100.0 / used_mem as f64;
    let score = |i: usize| prior(ALLOCATORS[i], default).ln() + log_likelihood(above(i));
    let best = (0..3)
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))
        .unwrap_or(0);
    let candidates: Vec<Candidate> = (0..3)
        .map(|i| Candidate {
            allocator: name(ALLOCATORS[i]).to_string(),
            predicted_used_memory: p[i],
            used_mem_above_pct: (above(i) * 100.0).round() / 100.0,
        })
        .collect();
    if p.iter().all(|&x| x == p[0]) {
        let mut v = assumed("every allocator predicts the same used-mem (no keys)");
        v.candidates = candidates;
        return v;
    }
    let figures: Vec<String> = std::iter::once(best)
        .chain((0..3).filter(|&i| i != best))
        .map(|i| format!("{:+.1}% against {}'s", above(i), name(ALLOCATORS[i])))
        .collect();
    let figures = format!("used-mem is {}", figures.join(", "));
    // Clear evidence: the remainder alone favours the choice by a likelihood ratio of 2 over
    // every likely alternative (glibc malloc, rare in production, is one only when chosen).
    let ll = |i: usize| log_likelihood(above(i));
    let clear = (0..3)
        .filter(|&i| i != best && prior(ALLOCATORS[i], default) >= 0.1)
        .all(|i| ll(best) - ll(i) >= std::f64::consts::LN_2);
    if !clear {
        let mut v = assumed(&format!(
            "{figures}: too close to tell the allocators apart (the keys are a small share of used-mem, or the server held much besides them)"
        ));
        v.allocator = ALLOCATORS[best];
        v.candidates = candidates;
        return v;
    }
    let prior_note = match (ALLOCATORS[best] == default, packaged_as) {
        (true, Some(w)) => format!("; {w} packages this version with it"),
        _ => String::new(),
    };
    Verdict {
        allocator: ALLOCATORS[best],
        source: Source::Inferred,
        evidence: format!("{figures}{prior_note}"),
        candidates,
    }
}

/// The verdict for one analysed file; `given` when `--allocator` chose it, `filtered` when
/// key filters narrowed the keys (their prediction is not the whole `used-mem`). `None`
/// when the file has no model.
pub fn infer(fr: &crate::pipeline::FileResult, given: bool, filtered: bool) -> Option<Verdict> {
    use crate::used_memory::{LoadingServer, ServerVersion};
    let m = fr.model?;
    let (redis, valkey) = (fr.context.redis_ver(), fr.context.valkey_ver());
    if given {
        return Some(Verdict {
            allocator: m.allocator,
            source: Source::Given,
            evidence: "--allocator".to_string(),
            candidates: Vec::new(),
        });
    }
    let default = m.allocator;
    let packaged_as = packaged(redis, valkey);
    let used_mem: Option<u64> = fr
        .inventory
        .aux_value("used-mem")
        .and_then(|v| v.trim().parse().ok());
    let no_evidence = if filtered {
        Some("a filtered run cannot compare with used-mem")
    } else if fr.damage.is_some() {
        Some("a partial read cannot compare with used-mem")
    } else if used_mem.is_none() {
        Some("the file records no used-mem")
    } else {
        None
    };
    let sample = &fr.aggregate.alloc_sample;
    let predicted = ALLOCATORS.map(|a| {
        let server = LoadingServer {
            version: ServerVersion::from_aux(redis, valkey),
            ..LoadingServer::new(crate::model::Model { allocator: a, ..m })
        };
        let p =
            fr.aggregate.used.predict(&server).used_memory as i64 + sample.delta(m.allocator, a);
        p.max(0) as u64
    });
    Some(decide(
        default,
        packaged_as,
        used_mem.unwrap_or(0),
        Some(predicted),
        no_evidence,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_head_always_tail_one_in_sixty_four() {
        assert_eq!(sampled(0), Some(Sampled::Head));
        assert_eq!(sampled(HEAD_BYTES - 1), Some(Sampled::Head));
        let n = (HEAD_BYTES..HEAD_BYTES + 640_000)
            .filter(|&o| sampled(o).is_some())
            .count();
        assert!((8_000..12_000).contains(&n), "{n}");
    }

    #[test]
    fn packaging_default_for_debian_versions() {
        assert_eq!(
            packaging_default(Some("7.0.15"), None),
            Allocator::Jemalloc16
        );
        assert_eq!(packaging_default(Some("7.2.6"), None), Allocator::Jemalloc);
        assert_eq!(
            packaging_default(Some("7.0.15"), Some("9.0.4")),
            Allocator::Jemalloc
        );
        assert_eq!(packaging_default(None, None), Allocator::Jemalloc);
    }

    #[test]
    fn decide_prefers_the_allocator_that_explains_used_mem() {
        // used-mem 1.6% above the jemalloc-16 prediction and 7.9% above jemalloc's.
        let u = 1_000_000u64;
        let p = [921_000, 984_000, 900_000];
        let v = decide(Allocator::Jemalloc16, Some("Debian 12"), u, Some(p), None);
        assert_eq!(v.allocator, Allocator::Jemalloc16);
        assert_eq!(v.source, Source::Inferred);
        assert!(v.evidence.contains("+1.6%"), "{}", v.evidence);
        // Remainders too close to tell apart: the packaging default, said to be assumed.
        let p = [930_000, 940_000, 925_000];
        let v = decide(Allocator::Jemalloc, None, u, Some(p), None);
        assert_eq!(v.allocator, Allocator::Jemalloc);
        assert_eq!(v.source, Source::Assumed);
        assert!(v.evidence.contains("too close"), "{}", v.evidence);
        // An upstream build of a packaged version: jemalloc-16 over-predicts by 3%.
        let p = [990_000, 1_030_000, 960_000];
        let v = decide(Allocator::Jemalloc16, Some("Debian 12"), u, Some(p), None);
        assert_eq!(v.allocator, Allocator::Jemalloc);
        // glibc malloc: both jemallocs over-predict by more than the margin.
        let p = [1_040_000, 1_080_000, 998_000];
        let v = decide(Allocator::Jemalloc, None, u, Some(p), None);
        assert_eq!(v.allocator, Allocator::Libc);
    }

    #[test]
    fn decide_without_evidence_assumes_the_default() {
        let v = decide(Allocator::Jemalloc, None, 0, None, Some("filtered run"));
        assert_eq!(v.source, Source::Assumed);
        assert!(v.evidence.contains("filtered run"));
        let v = decide(
            Allocator::Jemalloc16,
            Some("Debian 12"),
            10,
            Some([5, 5, 5]),
            None,
        );
        assert_eq!(v.source, Source::Assumed);
        assert_eq!(v.allocator, Allocator::Jemalloc16);
    }

    #[test]
    fn sample_delta_scales_the_tail() {
        let mut s = AllocatorSample::default();
        s.add(Sampled::Head, [100, 112, 96]);
        s.add(Sampled::Tail, [10, 16, 8]);
        assert_eq!(
            s.delta(Allocator::Jemalloc, Allocator::Jemalloc16),
            12 + TAIL_EVERY as i64 * 6
        );
        let mut t = s;
        t.merge(&s);
        assert_eq!(t.keys, 4);
        assert_eq!(
            t.delta(Allocator::Jemalloc, Allocator::Libc),
            2 * (-4 - TAIL_EVERY as i64 * 2)
        );
    }
}
