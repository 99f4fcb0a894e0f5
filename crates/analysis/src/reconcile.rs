//! The reconciliation: the `used_memory` a server loading the dump would report, term by
//! term, each counted once, then the `used-mem` the server recorded at save against it.
//!
//! It is one waterfall, written the same way to the terminal, the JSON and
//! `reconciliation.csv`: `predicted.terms` add up to `predicted.used_memory`, and
//! `predicted.used_memory + expired_at_save + remainder = used_mem_at_save`.

use crate::used_memory::Breakdown;
use serde::{Deserialize, Serialize};

/// One term of the waterfall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    /// Stable name (`startup`, `keys`, `dataset_adjust`, …).
    pub name: String,
    /// Bytes, signed (an adjustment can be negative).
    pub bytes: i64,
    /// What the term is, in one line.
    pub note: String,
}

/// The predicted `used_memory` of a server that loads the file(s), summed over files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Predicted {
    /// The prediction: the sum of `terms`.
    pub used_memory: u64,
    /// The terms, in waterfall order, every one listed (zeros included).
    pub terms: Vec<Term>,
}

/// The reconciliation section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// What the figures cover: `all keys`, `selected keys`, `keys read before the damage`.
    pub covers: String,
    /// Predicted `used_memory` of a loading server; *null* when no file had a model.
    pub predicted: Option<Predicted>,
    /// `used-mem` summed over the files that record it.
    pub used_mem_at_save: Option<u64>,
    /// Keys already expired at snapshot time: in memory when the server saved, dropped by a
    /// loading server (their `MEMORY USAGE`).
    pub expired_at_save: u64,
    /// `used_mem_at_save − predicted.used_memory − expired_at_save`; *null* when either side
    /// is missing or the figures do not cover every key (filtered or partial).
    pub remainder: Option<i64>,
    /// The remainder as a share of `used_mem_at_save`, percent.
    pub remainder_pct: Option<f64>,
    /// What the remainder can be made of (its sign decides the wording), or why there is none.
    pub remainder_note: String,
}

/// Why the remainder is positive: what a running server holds that a fresh load does not.
pub const POSITIVE_NOTE: &str = "what the server held at save beyond a fresh load: client \
buffers, replication backlog, Lua scripts, modules' own memory, latency histograms of the \
commands it ran, and tables grown by a long-running server (fragmentation is not in used-mem)";

/// Why the remainder is negative.
pub const NEGATIVE_NOTE: &str = "the server held less at save than a fresh load of its dump \
allocates: values the live server kept more compactly than a load rebuilds them, tables a \
load sizes from the file's hints, or a model or allocator that is not the server's \
(--model, --allocator); live MEMORY USAGE of hashtable-encoded keys can also exceed this \
prediction after a long run, so per-key figures stay exact while the sum is not";

fn term(name: &str, bytes: i64, note: &str) -> Term {
    Term {
        name: name.to_string(),
        bytes,
        note: note.to_string(),
    }
}

impl Predicted {
    /// The terms of one file's prediction.
    pub fn from_breakdown(b: &Breakdown) -> Self {
        let terms = vec![
            term(
                "startup",
                (b.startup + b.startup_uncounted) as i64,
                "an empty server of this line just started (used_memory_startup)",
            ),
            term(
                "keys",
                b.dataset as i64,
                "the keys' MEMORY USAGE, summed (keys a loading server keeps)",
            ),
            term(
                "dataset_adjust",
                b.dataset_adjust,
                "what the keys allocate minus what MEMORY USAGE says (shared integers, set entries, stream estimates)",
            ),
            term(
                "keyspace_main",
                b.keyspace_main as i64,
                "main keyspace tables (bucket arrays)",
            ),
            term(
                "keyspace_expires",
                b.keyspace_expires as i64,
                "expires tables, with the entries of keys with a TTL",
            ),
            term(
                "keyspace_other",
                (b.keyspace_volatile + b.databases) as i64,
                "Valkey 9 volatile-field tables and the databases a load creates",
            ),
            term("functions", b.functions as i64, "function libraries"),
            term(
                "session",
                b.session as i64,
                "the client session that measures it (buffers, latency histograms)",
            ),
        ];
        let sum: i64 = terms.iter().map(|t| t.bytes).sum();
        Predicted {
            used_memory: sum.max(0) as u64,
            terms,
        }
    }

    /// Adds another file's prediction, term by term.
    pub fn add(&mut self, o: &Predicted) {
        for (a, b) in self.terms.iter_mut().zip(&o.terms) {
            a.bytes += b.bytes;
        }
        self.used_memory += o.used_memory;
    }

    /// A term's bytes by name (0 when absent).
    pub fn term(&self, name: &str) -> i64 {
        self.terms
            .iter()
            .find(|t| t.name == name)
            .map_or(0, |t| t.bytes)
    }

    /// The idle-server baseline: startup memory and the measuring session.
    pub fn baseline(&self) -> i64 {
        self.term("startup") + self.term("session")
    }
}

/// What the figures cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Every key of every file.
    All,
    /// Key filters selected some keys.
    Filtered,
    /// A file could not be read to its end.
    Partial,
}

/// Builds the section. `used_mem` is `None` when no file records it, or when only some do
/// (a partial sum would compare with all keys).
pub fn build(
    predicted: Option<Predicted>,
    used_mem: Option<u64>,
    expired_at_save: u64,
    coverage: Coverage,
) -> Reconciliation {
    let (remainder, note) = match (coverage, &predicted, used_mem) {
        (Coverage::Filtered, _, _) => (
            None,
            "filtered: the prediction covers the selected keys only, not the whole used-mem"
                .to_string(),
        ),
        (Coverage::Partial, _, _) => (
            None,
            "partial: keys after the damage are not in the prediction, so it is not compared with used-mem"
                .to_string(),
        ),
        (Coverage::All, Some(p), Some(u)) => {
            let r = u as i64 - p.used_memory as i64 - expired_at_save as i64;
            let note = if r < 0 { NEGATIVE_NOTE } else { POSITIVE_NOTE };
            (Some(r), note.to_string())
        }
        (Coverage::All, None, _) => (
            None,
            "no memory model for the file(s): nothing to compare".to_string(),
        ),
        (Coverage::All, Some(_), None) => (
            None,
            "no used-mem recorded in (every) file: nothing to compare".to_string(),
        ),
    };
    Reconciliation {
        covers: match coverage {
            Coverage::All => "all keys",
            Coverage::Filtered => "selected keys",
            Coverage::Partial => "keys read before the damage",
        }
        .to_string(),
        predicted,
        used_mem_at_save: used_mem,
        expired_at_save,
        remainder_pct: remainder.zip(used_mem).map(|(r, u)| {
            if u == 0 {
                0.0
            } else {
                (r as f64 * 10_000.0 / u as f64).round() / 100.0
            }
        }),
        remainder,
        remainder_note: note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakdown() -> Breakdown {
        Breakdown {
            startup: 800,
            startup_uncounted: 8,
            dataset: 10_000,
            dataset_adjust: -500,
            keyspace_main: 64,
            keyspace_expires: 32,
            keyspace_volatile: 4,
            databases: 4,
            functions: 16,
            session: 100,
            used_memory: 0,
            overhead: 0,
        }
    }

    #[test]
    fn predicted_terms_sum_to_used_memory() {
        let p = Predicted::from_breakdown(&breakdown());
        assert_eq!(
            p.used_memory,
            800 + 8 + 10_000 - 500 + 64 + 32 + 8 + 16 + 100
        );
        let sum: i64 = p.terms.iter().map(|t| t.bytes).sum();
        assert_eq!(sum, p.used_memory as i64);
    }

    #[test]
    fn reconciliation_remainder_is_used_mem_minus_prediction_and_expired() {
        let p = Predicted::from_breakdown(&breakdown());
        let used = p.used_memory;
        let r = build(Some(p.clone()), Some(used + 1000), 300, Coverage::All);
        assert_eq!(r.remainder, Some(700));
        assert_eq!(r.remainder_note, POSITIVE_NOTE);
        let r = build(Some(p), Some(used - 10), 0, Coverage::All);
        assert_eq!(r.remainder, Some(-10));
        assert_eq!(r.remainder_note, NEGATIVE_NOTE);
    }

    #[test]
    fn reconciliation_filtered_has_no_remainder() {
        let p = Predicted::from_breakdown(&breakdown());
        let r = build(Some(p), Some(1 << 20), 0, Coverage::Filtered);
        assert_eq!(r.remainder, None);
        assert_eq!(r.covers, "selected keys");
    }

    #[test]
    fn predicted_add_sums_terms() {
        let mut a = Predicted::from_breakdown(&breakdown());
        let b = a.clone();
        a.add(&b);
        let sum: i64 = a.terms.iter().map(|t| t.bytes).sum();
        assert_eq!(sum, a.used_memory as i64);
        assert_eq!(a.term("keys"), 20_000);
    }
}
