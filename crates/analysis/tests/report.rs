//! Every number of the `analyze` report adds up, on every corpus dump and fixture: totals
//! by type, encoding and database equal a plain per-key loop over the same file; each
//! prefix level's rows and the pattern rows (with their `(other)` row) sum to the totals;
//! TTL, idle and LFU buckets sum to the totals. And the report is the same with one
//! thread or several, with small row caps too.

use rdbscope_analysis::aggregate::{AggregateConfig, TYPES};
use rdbscope_analysis::context::{FileContext, ModelChoice};
use rdbscope_analysis::pipeline::SPLIT_MIN;
use rdbscope_analysis::report::{Report, Row, Table};
use rdbscope_parser::{Record, Records, Scratch};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod common;

fn dumps() -> Vec<PathBuf> {
    let mut v = rdbscope_testwriter::dumps::fixtures();
    v.extend(rdbscope_testwriter::dumps::corpus());
    v.sort();
    v
}

fn report(data: &[u8], threads: usize, config: AggregateConfig, rows: usize) -> Report {
    common::analyze(data, threads, config, rows, SPLIT_MIN).report
}

/// (keys, memory) per type name, per `type/encoding`, per db, from a plain loop.
#[derive(Default, Debug, PartialEq)]
struct Plain {
    keys: u64,
    memory: u64,
    ttl: u64,
    expired: u64,
    by_type: BTreeMap<String, (u64, u64)>,
    by_encoding: BTreeMap<String, (u64, u64)>,
    by_db: BTreeMap<String, (u64, u64)>,
}

fn plain(data: &[u8]) -> Plain {
    let mut p = Plain::default();
    let Ok(recs) = Records::new(data) else {
        return p;
    };
    let mut ctx = FileContext::new(Some(&recs.header()));
    let mut scratch = Scratch::new();
    let choice = ModelChoice::default();
    for r in recs {
        let Ok(r) = r else { break };
        ctx.observe(&r);
        if let Record::Key(k) = &r {
            let est = ctx
                .model(&choice)
                .and_then(|m| m.estimate(k, &mut scratch).ok());
            let mem = est.map_or(0, |e| e.memory);
            let ty = k.value.data_type().as_str().to_string();
            let enc = est.map_or("unknown", |e| e.encoding.as_str());
            p.keys += 1;
            p.memory += mem;
            p.ttl += u64::from(k.expire_ms.is_some());
            p.expired += u64::from(ctx.expired(k.expire_ms) == Some(true));
            let add = |m: &mut BTreeMap<String, (u64, u64)>, name: String| {
                let e = m.entry(name).or_default();
                e.0 += 1;
                e.1 += mem;
            };
            add(&mut p.by_type, ty.clone());
            add(&mut p.by_encoding, format!("{ty}/{enc}"));
            add(&mut p.by_db, format!("db{}", k.db));
        }
    }
    p
}

fn sum_rows(t: &Table) -> (u64, u64, u64, u64, u64) {
    let mut s = (0, 0, 0, 0, 0);
    let all: Vec<&Row> = t.rows.iter().chain(std::iter::once(&t.other)).collect();
    for r in all {
        s.0 += r.keys;
        s.1 += r.memory;
        s.2 += r.keys_no_ttl;
        s.3 += r.keys_expired;
        s.4 += r.by_type.iter().map(|t| t.memory).sum::<u64>();
    }
    s
}

fn check(name: &str, data: &[u8], r: &Report) {
    let p = plain(data);
    let t = &r.totals;
    assert_eq!((t.keys, t.memory), (p.keys, p.memory), "{name}: totals");
    assert_eq!(t.keys_with_ttl, p.ttl, "{name}: keys with TTL");
    assert_eq!(t.keys_expired, p.expired, "{name}: expired");
    let shares = |v: &[rdbscope_analysis::report::Share]| -> BTreeMap<String, (u64, u64)> {
        v.iter()
            .filter(|s| s.keys > 0)
            .map(|s| (s.name.clone(), (s.keys, s.memory)))
            .collect()
    };
    assert_eq!(shares(&t.by_type), p.by_type, "{name}: by type");
    assert_eq!(shares(&t.by_encoding), p.by_encoding, "{name}: by encoding");
    assert_eq!(shares(&t.by_db), p.by_db, "{name}: by db");
    assert_eq!(t.by_type.len(), TYPES.len());
    let want = (
        t.keys,
        t.memory,
        t.keys - t.keys_with_ttl,
        t.keys_expired,
        t.memory,
    );
    for (i, level) in r.prefixes.levels.iter().enumerate() {
        assert_eq!(sum_rows(level), want, "{name}: prefix level {}", i + 1);
    }
    assert_eq!(sum_rows(&r.patterns), want, "{name}: patterns");
    let b = &r.expiry.buckets;
    assert_eq!(
        b.iter().map(|x| x.keys).sum::<u64>(),
        t.keys,
        "{name}: TTL buckets"
    );
    assert_eq!(
        b.iter().map(|x| x.memory).sum::<u64>(),
        t.memory,
        "{name}: TTL buckets"
    );
    assert_eq!(b[0].keys, t.keys - t.keys_with_ttl, "{name}: no-TTL bucket");
    assert_eq!(b[1].keys, t.keys_expired, "{name}: expired bucket");
    let i = &r.idle;
    assert_eq!(
        i.idle_buckets.iter().map(|x| x.keys).sum::<u64>(),
        i.keys_with_idle
    );
    assert_eq!(
        i.freq_buckets.iter().map(|x| x.keys).sum::<u64>(),
        i.keys_with_freq
    );
    let files: u64 = r.files.iter().map(|f| f.memory).sum();
    assert_eq!(files, t.memory, "{name}: files");
    // Top lists are sorted and never longer than asked.
    for list in [&r.top_keys.by_memory, &r.expiry.top_no_ttl] {
        assert!(
            list.windows(2).all(|w| w[0].memory >= w[1].memory),
            "{name}"
        );
    }
    assert!(r.top_keys.by_memory.len() <= 20);
    if let Some(top) = r.top_keys.by_memory.first() {
        let max_type = r
            .top_keys
            .by_type
            .iter()
            .filter_map(|t| t.by_memory.first())
            .map(|k| k.memory)
            .max();
        assert_eq!(
            Some(top.memory),
            max_type,
            "{name}: top key is its type's top key"
        );
    }
}

#[test]
fn report_adds_up_on_every_dump() {
    let mut checked = 0;
    for path in dumps() {
        let data = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        let r = report(&data, 2, AggregateConfig::default(), 5);
        check(&name, &data, &r);
        // A tiny row cap folds most rows into (other): the sums must still hold.
        let small = AggregateConfig {
            row_cap: 3,
            top: 4,
            ..AggregateConfig::default()
        };
        let r3 = report(&data, 2, small, 2);
        check(&name, &data, &r3);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} dumps");
}

#[test]
fn report_is_the_same_for_any_thread_count() {
    for path in dumps() {
        let data = std::fs::read(&path).unwrap();
        let small = AggregateConfig {
            row_cap: 7,
            top: 5,
            ..AggregateConfig::default()
        };
        for config in [AggregateConfig::default(), small] {
            let one = serde_json::to_string(&report(&data, 1, config, 10)).unwrap();
            for threads in [2, 3] {
                let n = serde_json::to_string(&report(&data, threads, config, 10)).unwrap();
                assert!(one == n, "{}: {threads} threads differ", path.display());
                // Every file split, however small (where a chain start can be found).
                let split = common::analyze(&data, threads, config, 10, 0).report;
                let split = serde_json::to_string(&split).unwrap();
                assert!(
                    one == split,
                    "{}: split with {threads} threads differs",
                    path.display()
                );
            }
        }
    }
}

/// The report reads back: written, read and written again it is the same bytes and the
/// same value, on every dump.
#[test]
fn report_reads_back_byte_identical() {
    let mut n = 0;
    for p in dumps() {
        let data = std::fs::read(&p).unwrap();
        let r = report(&data, 2, AggregateConfig::default(), 50);
        let text = r.to_json();
        let back = Report::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(back.to_json(), text, "{}", p.display());
        assert_eq!(back, r, "{}", p.display());
        n += 1;
    }
    assert!(n > 10, "only {n} dumps");
}
