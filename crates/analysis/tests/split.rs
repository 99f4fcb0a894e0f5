//! The split pass (one mapped file framed from several places at once) gives the report a
//! single pass gives: on intact files, on files in several databases and on damaged ones,
//! where it either takes the same partial result or falls back to the single pass.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_parser::{Record, Records};
use rdbscope_testwriter as w;

mod common;

/// What one run gives: the report as JSON, the places framed from, the damage offset and
/// the checksum mismatch.
#[derive(Debug)]
struct Run {
    json: String,
    chains: usize,
    damage: Option<u64>,
    mismatch: Option<(u64, u64)>,
}

fn run(data: &[u8], threads: usize, split_min: u64) -> Run {
    let config = AggregateConfig {
        row_cap: 50,
        ..AggregateConfig::default()
    };
    let a = common::analyze(data, threads, config, 10, split_min);
    Run {
        json: serde_json::to_string(&a.report).unwrap(),
        chains: a.chains,
        damage: a.damage,
        mismatch: a.mismatch,
    }
}

/// 30,000 small keys with some big collections stored element by element (hashtable
/// sets and hashes, skiplist sorted sets) among them, in the databases `dbs`, one after
/// the other.
fn dump(dbs: &[u64]) -> Vec<u8> {
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    let per_db = 30_000 / dbs.len() as u64;
    for (n, &db) in dbs.iter().enumerate() {
        rdb.select_db(db);
        rdb.resize_db(per_db + 30, per_db / 3);
        let first = n as u64 * per_db;
        for part in 0..10u64 {
            let from = first + part * per_db / 10;
            w::generate::mixed_keys(&mut rdb, from..from + per_db / 10);
            let members: Vec<String> = (0..300 + part * 50)
                .map(|m| format!("member:{m}"))
                .collect();
            rdb.key(
                w::ty::SET,
                format!("big:set:{db}:{part}"),
                &w::value::set(members),
            );
            let pairs: Vec<(String, String)> = (0..200)
                .map(|f| (format!("f{f}"), "v".repeat(70)))
                .collect();
            rdb.key(
                w::ty::HASH,
                format!("big:hash:{db}:{part}"),
                &w::value::hash(pairs),
            );
            let scores: Vec<(String, f64)> = (0..250)
                .map(|m| (format!("p{m}"), m as f64 / 3.0))
                .collect();
            rdb.key(
                w::ty::ZSET_2,
                format!("big:zset:{db}:{part}"),
                &w::value::zset2(scores),
            );
        }
    }
    rdb.finish()
}

/// Offsets of the key records of `data`, in order.
fn key_offsets(data: &[u8]) -> Vec<u64> {
    Records::new(data)
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Record::Key(k) => Some(k.offset),
            _ => None,
        })
        .collect()
}

#[test]
fn split_pass_reports_what_one_pass_reports() {
    let data = dump(&[0]);
    let one = run(&data, 1, 0);
    assert_eq!(one.chains, 1);
    for threads in [2, 3] {
        let split = run(&data, threads, 0);
        assert!(
            split.chains > threads,
            "{threads} threads: {} chains",
            split.chains
        );
        assert!(
            split.json == one.json,
            "{threads} threads: the reports differ"
        );
        assert_eq!(split.mismatch, None);
        // The default threshold leaves a file this small to the ordinary pass.
        let plain = run(&data, threads, rdbscope_analysis::pipeline::SPLIT_MIN);
        assert_eq!(plain.chains, 1);
        assert!(plain.json == one.json);
    }
}

#[test]
fn split_pass_in_several_databases_reports_what_one_pass_reports() {
    // Later chains start in a stand-in database, relabelled once the chain before them is
    // read: the database table, the top lists and the used_memory counts come out as in
    // one pass, whichever chain a database change falls in.
    for dbs in [&[0, 3, 9][..], &[5, 0], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] {
        let data = dump(dbs);
        let one = run(&data, 1, 0);
        let split = run(&data, 2, 0);
        assert!(split.chains > 2, "{dbs:?}: {} chains", split.chains);
        assert!(split.json == one.json, "{dbs:?}: the reports differ");
    }
}

#[test]
fn split_pass_with_a_database_number_it_uses_as_a_stand_in_falls_back() {
    let data = dump(&[0, u64::MAX - 1]);
    let one = run(&data, 1, 0);
    let split = run(&data, 2, 0);
    assert_eq!(split.chains, 1);
    assert!(split.json == one.json);
}

#[test]
fn split_pass_reports_damage_where_one_pass_does() {
    let data = dump(&[0]);
    let keys = key_offsets(&data);
    // Cut short in the last chain: the chains before it are in step, the last one stops
    // where a single pass stops.
    let cut = &data[..data.len() * 19 / 20];
    let (one, split) = (run(cut, 1, 0), run(cut, 2, 0));
    assert!(split.chains > 1);
    assert!(one.damage.is_some());
    assert_eq!(split.damage, one.damage);
    assert!(split.json == one.json, "truncated: the reports differ");
    // A bad type byte early on: the chain holding it cannot end in step, so the file is
    // read again in one pass and stops there.
    let mut bad = data.clone();
    let at = keys[keys.len() / 4] as usize;
    bad[at] = 0x50;
    let (one, split) = (run(&bad, 1, 0), run(&bad, 2, 0));
    assert_eq!(one.damage, Some(at as u64));
    assert_eq!(split.damage, one.damage);
    assert_eq!(split.chains, 1);
    assert!(split.json == one.json, "bad type byte: the reports differ");
}

#[test]
fn split_pass_checks_the_checksum_of_every_part() {
    let data = dump(&[0]);
    let keys = key_offsets(&data);
    for part in [5, 50, 95] {
        // The last byte of a key record is inside its value: framing is not affected,
        // only the checksum.
        let at = keys[keys.len() * part / 100 + 1] as usize - 1;
        let mut flipped = data.clone();
        flipped[at] ^= 0x20;
        let (one, split) = (run(&flipped, 1, 0), run(&flipped, 2, 0));
        assert!(one.mismatch.is_some(), "{part}%: no mismatch in one pass");
        assert_eq!(split.mismatch, one.mismatch, "{part}%");
        assert!(split.chains > 1, "{part}%");
    }
}

#[test]
fn split_pass_guesses_no_start_inside_a_run_of_zero_bytes() {
    // Zero bytes parse as records (type 0, an empty name, an empty value): a start guessed
    // there would frame millions of false keys before the check threw them away.
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.select_db(0);
    w::generate::mixed_keys(&mut rdb, 0..8000);
    rdb.key(
        w::ty::STRING,
        "zeros",
        &w::encode::string(vec![0u8; 4 << 20]),
    );
    w::generate::mixed_keys(&mut rdb, 8000..16000);
    let data = rdb.finish();
    let one = run(&data, 1, 0);
    let split = run(&data, 2, 0);
    assert!(split.chains > 2, "{} chains", split.chains);
    assert!(split.json == one.json);
}

/// Bytes of progress reported for `data` with `threads` threads, every file split.
fn progress(data: &[u8], threads: usize) -> u64 {
    use rdbscope_analysis::pipeline::Progress;
    use std::sync::atomic::{AtomicU64, Ordering};
    struct Count(AtomicU64);
    impl Progress for Count {
        fn advance(&self, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
    }
    let count = Count(AtomicU64::new(0));
    common::analyze_with(data, threads, AggregateConfig::default(), 10, 0, &count);
    count.0.load(Ordering::Relaxed)
}

#[test]
fn split_pass_reports_each_byte_of_progress_once() {
    // Split, and given up and read again (several databases): the progress adds up to
    // the bytes read, as in one pass.
    for data in [dump(&[0]), dump(&[0, 3, 9])] {
        let one = progress(&data, 1);
        assert!(one > data.len() as u64 - 16, "{one} of {}", data.len());
        assert_eq!(progress(&data, 2), one);
        assert_eq!(progress(&data, 3), one);
    }
}
