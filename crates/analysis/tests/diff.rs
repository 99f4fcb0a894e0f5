//! `diff` of two reports: zero against itself, totals that are the exact difference of the
//! two reports, tables that add up to both sides, and capped tables that say a row may be
//! in the other side's `(other)` instead of calling it new.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::diff::{diff, Delta, DiffOptions, ReportDiff, RowStatus, TableDiff};
use rdbscope_analysis::pipeline::SPLIT_MIN;
use rdbscope_analysis::report::{Report, Table};
use std::path::PathBuf;

mod common;

fn report_of(path: &PathBuf, row_cap: usize) -> Report {
    let data = std::fs::read(path).unwrap();
    let config = AggregateConfig {
        row_cap,
        ..AggregateConfig::default()
    };
    common::analyze(&data, 2, config, 50, SPLIT_MIN).report
}

fn zero(d: &Delta) -> bool {
    d.delta == 0 && d.old == d.new
}

/// Both sides of a table diff add up to the table's own total.
fn adds_up(t: &TableDiff, old: &Table, new: &Table) {
    let total = |t: &Table| t.rows.iter().map(|r| r.memory).sum::<u64>() + t.other.memory;
    let o: u64 = t.rows.iter().map(|r| r.memory.old).sum::<u64>() + t.rest.memory.old;
    let n: u64 = t.rows.iter().map(|r| r.memory.new).sum::<u64>() + t.rest.memory.new;
    assert_eq!((o, n), (total(old), total(new)));
}

fn check_pair(old: &Report, new: &Report, what: &str) -> ReportDiff {
    let d = diff(old, new, &DiffOptions { rows: 20 });
    let t = &d.totals;
    assert_eq!(
        t.memory.delta,
        new.totals.memory as i64 - old.totals.memory as i64
    );
    assert_eq!(
        t.keys.delta,
        new.totals.keys as i64 - old.totals.keys as i64
    );
    assert_eq!(t.keys_with_ttl.new, new.totals.keys_with_ttl, "{what}");
    let by_type_old: u64 = t.by_type.iter().map(|s| s.memory.old).sum();
    assert_eq!(by_type_old, old.totals.memory, "{what}");
    adds_up(&d.patterns, &old.patterns, &new.patterns);
    for (i, l) in d.prefixes.iter().enumerate() {
        adds_up(l, &old.prefixes.levels[i], &new.prefixes.levels[i]);
    }
    let expiry_new: u64 = d.expiry.iter().map(|s| s.memory.new).sum();
    assert_eq!(expiry_new, new.totals.memory, "{what}");
    d
}

#[test]
fn diff_against_itself_is_zero_everywhere() {
    let dumps: Vec<PathBuf> = rdbscope_testwriter::dumps::fixtures()
        .into_iter()
        .chain(rdbscope_testwriter::dumps::corpus())
        .collect();
    for p in &dumps {
        let r = report_of(p, 10_000);
        let d = check_pair(&r, &r, &p.display().to_string());
        let t = &d.totals;
        for x in [&t.keys, &t.keys_with_ttl, &t.keys_expired, &t.memory] {
            assert!(zero(x), "{}", p.display());
        }
        for s in t
            .by_db
            .iter()
            .chain(&t.by_type)
            .chain(&t.by_encoding)
            .chain(&d.expiry)
        {
            assert!(
                zero(&s.memory) && zero(&s.keys),
                "{}: {}",
                p.display(),
                s.name
            );
        }
        for row in d
            .patterns
            .rows
            .iter()
            .chain(d.prefixes.iter().flat_map(|l| &l.rows))
        {
            assert_eq!(row.status, RowStatus::Both, "{}: {}", p.display(), row.name);
            assert!(zero(&row.memory) && zero(&row.memory_no_ttl) && zero(&row.keys));
        }
        assert!(d.lost_ttl.is_empty());
        assert!(d.top_keys.entered.is_empty() && d.top_keys.left.is_empty());
        assert!(d.top_keys.both.iter().all(|k| zero(&k.memory)));
        assert!(d.streams.top.iter().all(|s| zero(&s.pending)));
        assert!(d.findings.appeared.is_empty() && d.findings.resolved.is_empty());
        assert_eq!(d.findings.still.len(), r.findings.len());
        assert_eq!(d.elapsed_seconds.unwrap_or(0), 0);
    }
}

/// The corpus generator a dump came from (`manifest.json`), if any.
fn generator(dump: &std::path::Path) -> Option<String> {
    let m = std::fs::read_to_string(dump.parent()?.join("manifest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&m).ok()?;
    v["generator"].as_str().map(str::to_string)
}

#[test]
fn corpus_pairs_of_one_generator_diff_exactly() {
    let corpus = rdbscope_testwriter::dumps::corpus();
    let reports: Vec<(String, Option<String>, Report)> = corpus
        .iter()
        .map(|p| (p.display().to_string(), generator(p), report_of(p, 10_000)))
        .collect();
    let mut pairs = 0;
    for (i, (a, ga, old)) in reports.iter().enumerate() {
        for (j, (b, gb, new)) in reports.iter().enumerate() {
            if i == j || ga.is_none() || ga != gb {
                continue;
            }
            let what = format!("{a} -> {b}");
            let d = check_pair(old, new, &what);
            // Both are complete tables here: a row in one only is new or vanished.
            for row in &d.patterns.rows {
                assert!(
                    !matches!(row.status, RowStatus::InOldOther | RowStatus::InNewOther),
                    "{what}: {}",
                    row.name
                );
            }
            // Reversed, every delta flips.
            let r = diff(new, old, &DiffOptions { rows: 20 });
            assert_eq!(r.totals.memory.delta, -d.totals.memory.delta, "{what}");
            assert_eq!(r.top_keys.entered.len(), d.top_keys.left.len(), "{what}");
            assert_eq!(
                r.findings.appeared.len(),
                d.findings.resolved.len(),
                "{what}"
            );
            pairs += 1;
        }
    }
    if corpus.is_empty() {
        eprintln!("skipping: no corpus dumps");
    } else {
        assert!(pairs > 100, "only {pairs} pairs of one generator");
    }
}

#[test]
fn a_row_folded_on_one_side_is_not_called_new() {
    let Some(p) = rdbscope_testwriter::dumps::fixtures()
        .into_iter()
        .find(|p| p.ends_with("mixed.rdb"))
    else {
        panic!("fixtures/mixed.rdb is missing");
    };
    // The old side kept 2 pattern rows and folded the rest; the new side kept all.
    let (old, new) = (report_of(&p, 2), report_of(&p, 10_000));
    assert!(old.patterns.folded_by_cap && !new.patterns.folded_by_cap);
    let d = check_pair(&old, &new, "capped");
    let only_new: Vec<_> = d
        .patterns
        .rows
        .iter()
        .filter(|r| r.status != RowStatus::Both)
        .collect();
    assert!(!only_new.is_empty());
    assert!(only_new.iter().all(|r| r.status == RowStatus::InOldOther));
    assert!(d.patterns.old_folded && !d.patterns.new_folded);
    // The same memory on both sides: what the old side folded is in its rest.
    assert_eq!(d.totals.memory.delta, 0);
}

#[test]
fn diff_reads_back() {
    let p = rdbscope_testwriter::dumps::fixtures()
        .into_iter()
        .find(|p| p.ends_with("mixed.rdb"))
        .expect("fixtures/mixed.rdb");
    let (old, new) = (report_of(&p, 2), report_of(&p, 10_000));
    let d = diff(&old, &new, &DiffOptions::default());
    let text = d.to_json();
    let back: ReportDiff = serde_json::from_str(&text).unwrap();
    assert_eq!(back, d);
}
