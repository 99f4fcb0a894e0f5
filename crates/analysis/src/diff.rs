//! `diff`: what changed between two reports (two snapshots, or two sets of shards) — totals
//! by db, type and encoding; every pattern and prefix row; expiry buckets and the patterns
//! that lost their TTLs; the top keys that came and went; stream backlogs; findings that
//! appeared and resolved; and, when `maxmemory` is known, a linear projection of when it is
//! reached. Plain data with serde, computed from two [`Report`]s only, so a diff of two
//! saved reports is the diff of the two dumps they came from.

use crate::report::{Finding, KeyOut, Report, Row, Share, Table};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Version of the diff JSON (`docs/audit.md`).
pub const DIFF_SCHEMA_VERSION: u32 = 1;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// A quantity on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// In the old report.
    pub old: u64,
    /// In the new report.
    pub new: u64,
    /// `new − old`.
    pub delta: i64,
    /// `delta` as a percentage of `old`, 2 decimals; *null* when `old` is 0.
    pub pct: Option<f64>,
}

impl Delta {
    /// The change from `old` to `new`.
    pub fn new(old: u64, new: u64) -> Self {
        let delta = i128::from(new) - i128::from(old);
        let delta = i64::try_from(delta).unwrap_or(if delta < 0 { i64::MIN } else { i64::MAX });
        let pct = (old > 0).then(|| (delta as f64 * 10_000.0 / old as f64).round() / 100.0);
        Delta {
            old,
            new,
            delta,
            pct,
        }
    }
}

/// One side of the diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The files of the report, in name order.
    pub files: Vec<String>,
    /// The newest `ctime` of its snapshots (Unix seconds), when they have one.
    pub ctime: Option<i64>,
    /// Whether every file was read completely.
    pub complete: bool,
    /// Predicted `used_memory` of the servers loading it (the reconciliation), when known.
    pub predicted_used_memory: Option<u64>,
}

/// Whether a row is in both reports, and if not, whether it can be said to be new or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// A row of both reports.
    Both,
    /// Only in the new report, and the old table kept every row: really new.
    New,
    /// Only in the old report, and the new table kept every row: really gone.
    Vanished,
    /// Only in the new report, but the old table folded rows into `(other)`: it may have
    /// been there, uncounted. Its old figures are 0, not known.
    InOldOther,
    /// Only in the old report, but the new table folded rows into `(other)`.
    InNewOther,
}

/// A db, type or encoding (or expiry bucket) on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareDiff {
    /// Its name.
    pub name: String,
    /// Keys.
    pub keys: Delta,
    /// Memory.
    pub memory: Delta,
}

/// Totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotalsDiff {
    /// Keys.
    pub keys: Delta,
    /// Keys with a TTL.
    pub keys_with_ttl: Delta,
    /// Keys already expired at their snapshot's time.
    pub keys_expired: Delta,
    /// Memory of the keys.
    pub memory: Delta,
    /// Memory growth per day (signed bytes), when both snapshots have a `ctime` apart.
    pub memory_per_day: Option<f64>,
    /// By database.
    pub by_db: Vec<ShareDiff>,
    /// By type.
    pub by_type: Vec<ShareDiff>,
    /// By `type/encoding`.
    pub by_encoding: Vec<ShareDiff>,
}

/// A pattern or prefix row on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowDiff {
    /// The pattern or prefix.
    pub name: String,
    /// In both, new, vanished, or in one side's `(other)`.
    pub status: RowStatus,
    /// Keys.
    pub keys: Delta,
    /// Memory.
    pub memory: Delta,
    /// Memory of its keys without a TTL.
    pub memory_no_ttl: Delta,
    /// Keys already expired.
    pub keys_expired: Delta,
}

/// A pattern table or one prefix level on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDiff {
    /// The rows that changed most (by absolute memory change, then name), at most `rows`.
    pub rows: Vec<RowDiff>,
    /// Everything else: the rows not shown and both sides' `(other)`.
    pub rest: RowDiff,
    /// Whether the old table folded rows into `(other)`.
    pub old_folded: bool,
    /// Whether the new table did.
    pub new_folded: bool,
}

/// A pattern whose share of memory without a TTL rose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostTtl {
    /// The pattern.
    pub name: String,
    /// Percent of its memory without a TTL, old.
    pub old_no_ttl_pct: f64,
    /// Percent of its memory without a TTL, new.
    pub new_no_ttl_pct: f64,
    /// Its memory without a TTL.
    pub memory_no_ttl: Delta,
}

/// A key of both top lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyGrowth {
    /// Database.
    pub db: u64,
    /// The key, escaped.
    pub key: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its memory.
    pub memory: Delta,
    /// Its elements.
    pub elements: Delta,
}

/// The biggest keys by memory: which entered and left the list, and how the ones in both
/// grew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopDiff {
    /// In the new list, not the old (new keys, or keys that grew into it).
    pub entered: Vec<KeyOut>,
    /// In the old list, not the new (deleted, or shrunk out of it).
    pub left: Vec<KeyOut>,
    /// In both, by memory change (largest growth first).
    pub both: Vec<KeyGrowth>,
}

/// A stream of either side's most-pending list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamDiff {
    /// Database.
    pub db: u64,
    /// The key, escaped.
    pub key: String,
    /// In both lists, or in one only.
    pub status: RowStatus,
    /// Pending entries over all groups.
    pub pending: Delta,
    /// Entries.
    pub entries: Delta,
    /// Memory.
    pub memory: Delta,
}

/// Streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamsDiff {
    /// Streams.
    pub streams: Delta,
    /// Pending entries over all streams.
    pub pending: Delta,
    /// Streams of either side's most-pending list, by pending growth.
    pub top: Vec<StreamDiff>,
}

/// Findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingsDiff {
    /// In the new report only.
    pub appeared: Vec<Finding>,
    /// In the old report only.
    pub resolved: Vec<Finding>,
    /// In both (by rule and subject), as the new report says it.
    pub still: Vec<Finding>,
}

/// When `maxmemory` is reached at the growth observed between the two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// `maxmemory` of the new side's servers (summed over its files).
    pub maxmemory: u64,
    /// What the projection grows: the predicted `used_memory` of the new side.
    pub used_memory: u64,
    /// Its growth per day (signed bytes).
    pub growth_per_day: f64,
    /// Days until `used_memory` reaches `maxmemory` at that rate; *null* when it does not
    /// grow (or is already over).
    pub days_until_full: Option<f64>,
    /// What the figure is and is not.
    pub note: String,
}

/// The diff of two reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDiff {
    /// [`DIFF_SCHEMA_VERSION`].
    pub diff_schema_version: u32,
    /// The old side.
    pub old: Side,
    /// The new side.
    pub new: Side,
    /// Seconds from the old snapshot to the new one (their `ctime`s), when both have one.
    pub elapsed_seconds: Option<i64>,
    /// Totals.
    pub totals: TotalsDiff,
    /// Inferred patterns.
    pub patterns: TableDiff,
    /// Prefix levels (as many as both reports have).
    pub prefixes: Vec<TableDiff>,
    /// Expiry buckets.
    pub expiry: Vec<ShareDiff>,
    /// Patterns whose share of memory without a TTL rose by at least one point while
    /// their memory without a TTL grew, most grown first.
    pub lost_ttl: Vec<LostTtl>,
    /// The biggest keys by memory.
    pub top_keys: TopDiff,
    /// Streams.
    pub streams: StreamsDiff,
    /// Findings.
    pub findings: FindingsDiff,
    /// The `maxmemory` projection, when the new side knows `maxmemory`.
    pub projection: Option<Projection>,
    /// The exact per-key diff (`diff --keys`), *null* without it.
    pub keys: Option<crate::diff_keys::KeysDiff>,
}

/// Options of [`diff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiffOptions {
    /// Rows kept per table, list entries per list.
    pub rows: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions { rows: 50 }
    }
}

fn side(r: &Report) -> Side {
    Side {
        files: r.files.iter().map(|f| f.name.clone()).collect(),
        ctime: r.snapshot.iter().filter_map(|s| s.ctime).max(),
        complete: r.complete,
        predicted_used_memory: r.reconciliation.predicted.as_ref().map(|p| p.used_memory),
    }
}

fn shares(old: &[Share], new: &[Share]) -> Vec<ShareDiff> {
    let mut m: BTreeMap<&str, [(u64, u64); 2]> = BTreeMap::new();
    for (i, list) in [old, new].into_iter().enumerate() {
        for s in list {
            m.entry(&s.name).or_default()[i] = (s.keys, s.memory);
        }
    }
    let mut v: Vec<ShareDiff> = m
        .into_iter()
        .map(|(name, [o, n])| ShareDiff {
            name: name.to_string(),
            keys: Delta::new(o.0, n.0),
            memory: Delta::new(o.1, n.1),
        })
        .collect();
    v.sort_by(|a, b| {
        b.memory
            .delta
            .unsigned_abs()
            .cmp(&a.memory.delta.unsigned_abs())
            .then_with(|| a.name.cmp(&b.name))
    });
    v
}

/// The four row quantities a table diff compares.
fn quantities(r: &Row) -> [u64; 4] {
    [r.keys, r.memory, r.memory_no_ttl, r.keys_expired]
}

fn row_diff(name: &str, status: RowStatus, o: [u64; 4], n: [u64; 4]) -> RowDiff {
    RowDiff {
        name: name.to_string(),
        status,
        keys: Delta::new(o[0], n[0]),
        memory: Delta::new(o[1], n[1]),
        memory_no_ttl: Delta::new(o[2], n[2]),
        keys_expired: Delta::new(o[3], n[3]),
    }
}

fn table(old: &Table, new: &Table, rows: usize) -> TableDiff {
    let mut m: BTreeMap<&str, [Option<[u64; 4]>; 2]> = BTreeMap::new();
    for (i, t) in [old, new].into_iter().enumerate() {
        for r in &t.rows {
            m.entry(&r.name).or_default()[i] = Some(quantities(r));
        }
    }
    let mut all: Vec<RowDiff> = m
        .into_iter()
        .map(|(name, [o, n])| {
            let status = match (o, n) {
                (Some(_), Some(_)) => RowStatus::Both,
                (None, _) if old.folded_by_cap => RowStatus::InOldOther,
                (None, _) => RowStatus::New,
                (_, None) if new.folded_by_cap => RowStatus::InNewOther,
                (_, None) => RowStatus::Vanished,
            };
            row_diff(name, status, o.unwrap_or_default(), n.unwrap_or_default())
        })
        .collect();
    all.sort_by(|a, b| {
        b.memory
            .delta
            .unsigned_abs()
            .cmp(&a.memory.delta.unsigned_abs())
            .then_with(|| a.name.cmp(&b.name))
    });
    let shown = all.len().min(rows);
    let (mut o, mut n) = (quantities(&old.other), quantities(&new.other));
    for r in &all[shown..] {
        for (i, d) in [r.keys, r.memory, r.memory_no_ttl, r.keys_expired]
            .iter()
            .enumerate()
        {
            o[i] += d.old;
            n[i] += d.new;
        }
    }
    all.truncate(shown);
    TableDiff {
        rows: all,
        rest: row_diff("(other)", RowStatus::Both, o, n),
        old_folded: old.folded_by_cap,
        new_folded: new.folded_by_cap,
    }
}

fn no_ttl_pct(r: &Row) -> f64 {
    if r.memory == 0 {
        0.0
    } else {
        (r.memory_no_ttl as f64 * 10_000.0 / r.memory as f64).round() / 100.0
    }
}

fn lost_ttl(old: &Table, new: &Table, rows: usize) -> Vec<LostTtl> {
    let olds: BTreeMap<&str, &Row> = old.rows.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut v: Vec<LostTtl> = new
        .rows
        .iter()
        .filter_map(|n| {
            let o = olds.get(n.name.as_str())?;
            let (op, np) = (no_ttl_pct(o), no_ttl_pct(n));
            (np >= op + 1.0 && n.memory_no_ttl > o.memory_no_ttl).then(|| LostTtl {
                name: n.name.clone(),
                old_no_ttl_pct: op,
                new_no_ttl_pct: np,
                memory_no_ttl: Delta::new(o.memory_no_ttl, n.memory_no_ttl),
            })
        })
        .collect();
    v.sort_by(|a, b| {
        b.memory_no_ttl
            .delta
            .cmp(&a.memory_no_ttl.delta)
            .then_with(|| a.name.cmp(&b.name))
    });
    v.truncate(rows);
    v
}

fn top(old: &[KeyOut], new: &[KeyOut], rows: usize) -> TopDiff {
    let id = |k: &KeyOut| (k.db, k.key.clone());
    let olds: BTreeMap<(u64, String), &KeyOut> = old.iter().map(|k| (id(k), k)).collect();
    let news: BTreeSet<(u64, String)> = new.iter().map(id).collect();
    let entered: Vec<KeyOut> = new
        .iter()
        .filter(|k| !olds.contains_key(&id(k)))
        .take(rows)
        .cloned()
        .collect();
    let left: Vec<KeyOut> = old
        .iter()
        .filter(|k| !news.contains(&id(k)))
        .take(rows)
        .cloned()
        .collect();
    let mut both: Vec<KeyGrowth> = new
        .iter()
        .filter_map(|n| {
            let o = olds.get(&id(n))?;
            Some(KeyGrowth {
                db: n.db,
                key: n.key.clone(),
                ty: n.ty.clone(),
                memory: Delta::new(o.memory, n.memory),
                elements: Delta::new(o.elements, n.elements),
            })
        })
        .collect();
    both.sort_by(|a, b| {
        b.memory
            .delta
            .cmp(&a.memory.delta)
            .then_with(|| (a.db, &a.key).cmp(&(b.db, &b.key)))
    });
    both.truncate(rows);
    TopDiff {
        entered,
        left,
        both,
    }
}

fn streams(old: &Report, new: &Report, rows: usize) -> StreamsDiff {
    type Q = [u64; 3];
    let mut m: BTreeMap<(u64, String), [Option<Q>; 2]> = BTreeMap::new();
    for (i, r) in [old, new].into_iter().enumerate() {
        for s in &r.streams.top_pending {
            m.entry((s.key.db, s.key.key.clone())).or_default()[i] =
                Some([s.pending, s.entries, s.key.memory]);
        }
    }
    let cap = |r: &Report| r.streams.streams > r.streams.top_pending.len() as u64;
    let mut top: Vec<StreamDiff> = m
        .into_iter()
        .map(|((db, key), [o, n])| {
            let status = match (o, n) {
                (Some(_), Some(_)) => RowStatus::Both,
                (None, _) if cap(old) => RowStatus::InOldOther,
                (None, _) => RowStatus::New,
                (_, None) if cap(new) => RowStatus::InNewOther,
                (_, None) => RowStatus::Vanished,
            };
            let (o, n) = (o.unwrap_or_default(), n.unwrap_or_default());
            StreamDiff {
                db,
                key,
                status,
                pending: Delta::new(o[0], n[0]),
                entries: Delta::new(o[1], n[1]),
                memory: Delta::new(o[2], n[2]),
            }
        })
        .collect();
    top.sort_by(|a, b| {
        b.pending
            .delta
            .cmp(&a.pending.delta)
            .then_with(|| (a.db, &a.key).cmp(&(b.db, &b.key)))
    });
    top.truncate(rows);
    StreamsDiff {
        streams: Delta::new(old.streams.streams, new.streams.streams),
        pending: Delta::new(old.streams.pending, new.streams.pending),
        top,
    }
}

/// A finding's identity across reports: its rule and what it is about (the command that
/// lists its keys, without the file names, which change from night to night). Titles
/// carry the figures, which change while the finding stays.
fn finding_id(f: &Finding, r: &Report) -> (String, String) {
    let file = format!(" {} ", crate::findings::file_arg(r));
    let what = f
        .command
        .as_deref()
        .map(|c| c.replacen(&file, " ", 1))
        .unwrap_or_default();
    (f.id.clone(), what)
}

fn findings(old: &Report, new: &Report) -> FindingsDiff {
    let olds: BTreeSet<(String, String)> =
        old.findings.iter().map(|f| finding_id(f, old)).collect();
    let news: BTreeSet<(String, String)> =
        new.findings.iter().map(|f| finding_id(f, new)).collect();
    let (still, appeared) = new
        .findings
        .iter()
        .cloned()
        .partition(|f| olds.contains(&finding_id(f, new)));
    FindingsDiff {
        appeared,
        resolved: old
            .findings
            .iter()
            .filter(|f| !news.contains(&finding_id(f, old)))
            .cloned()
            .collect(),
        still,
    }
}

fn projection(old: &Side, new: &Side, r: &Report, elapsed: Option<i64>) -> Option<Projection> {
    let heads: Vec<u64> = r
        .snapshot
        .iter()
        .map(|s| s.maxmemory.as_ref().map(|h| h.maxmemory))
        .collect::<Option<Vec<u64>>>()?;
    let maxmemory: u64 = heads.iter().sum();
    let (o, n) = (old.predicted_used_memory?, new.predicted_used_memory?);
    if maxmemory == 0 {
        return None;
    }
    let days = elapsed.filter(|&s| s > 0)? as f64 / DAY;
    let growth_per_day = (n as f64 - o as f64) / days;
    let days_until_full = (growth_per_day > 0.0 && n < maxmemory)
        .then(|| ((maxmemory - n) as f64 / growth_per_day * 10.0).round() / 10.0);
    Some(Projection {
        maxmemory,
        used_memory: n,
        growth_per_day: growth_per_day.round(),
        days_until_full,
        note:
            "a linear extrapolation of the predicted used_memory's change between the two \
               snapshots; growth that is seasonal, bursty or bounded by eviction will not follow it"
                .to_string(),
    })
}

/// The diff of `old` and `new`.
pub fn diff(old: &Report, new: &Report, opts: &DiffOptions) -> ReportDiff {
    let (so, sn) = (side(old), side(new));
    let elapsed = match (so.ctime, sn.ctime) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let memory = Delta::new(old.totals.memory, new.totals.memory);
    let memory_per_day = elapsed
        .filter(|&s| s > 0)
        .map(|s| (memory.delta as f64 / (s as f64 / DAY)).round());
    let levels = old.prefixes.levels.len().min(new.prefixes.levels.len());
    let projection = projection(&so, &sn, new, elapsed);
    let bucket_shares = |r: &Report| -> Vec<Share> {
        r.expiry
            .buckets
            .iter()
            .map(|b| Share {
                name: b.bucket.clone(),
                keys: b.keys,
                memory: b.memory,
                memory_pct: b.memory_pct,
            })
            .collect()
    };
    let mut expiry = shares(&bucket_shares(old), &bucket_shares(new));
    // Buckets keep their own order (no TTL, expired, then by time left).
    let order: Vec<String> = new
        .expiry
        .buckets
        .iter()
        .chain(&old.expiry.buckets)
        .map(|b| b.bucket.clone())
        .collect();
    expiry.sort_by_key(|s| order.iter().position(|n| *n == s.name));
    ReportDiff {
        diff_schema_version: DIFF_SCHEMA_VERSION,
        elapsed_seconds: elapsed,
        totals: TotalsDiff {
            keys: Delta::new(old.totals.keys, new.totals.keys),
            keys_with_ttl: Delta::new(old.totals.keys_with_ttl, new.totals.keys_with_ttl),
            keys_expired: Delta::new(old.totals.keys_expired, new.totals.keys_expired),
            memory,
            memory_per_day,
            by_db: shares(&old.totals.by_db, &new.totals.by_db),
            by_type: shares(&old.totals.by_type, &new.totals.by_type),
            by_encoding: shares(&old.totals.by_encoding, &new.totals.by_encoding),
        },
        patterns: table(&old.patterns, &new.patterns, opts.rows),
        prefixes: (0..levels)
            .map(|i| table(&old.prefixes.levels[i], &new.prefixes.levels[i], opts.rows))
            .collect(),
        expiry,
        lost_ttl: lost_ttl(&old.patterns, &new.patterns, opts.rows),
        top_keys: top(&old.top_keys.by_memory, &new.top_keys.by_memory, opts.rows),
        streams: streams(old, new, opts.rows),
        findings: findings(old, new),
        projection,
        keys: None,
        old: so,
        new: sn,
    }
}

impl ReportDiff {
    /// The JSON document, pretty-printed, ending with a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_sign_and_share() {
        let d = Delta::new(200, 150);
        assert_eq!((d.delta, d.pct), (-50, Some(-25.0)));
        assert_eq!(Delta::new(0, 7).pct, None);
        assert_eq!(Delta::new(3, 4).pct, Some(33.33));
    }
}
