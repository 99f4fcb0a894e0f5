//! `analyze`: the whole `rdbscope analyze` pipeline of `rdbscope-analysis` on arbitrary
//! bytes: the parallel framing pass with its per-key memory estimates, the report build
//! (findings included) and the JSON serialisation, then the sequential (streamed) driver
//! over the same bytes.
//!
//! Kept out of `lib.rs` (which depends only on the parser, so the parser's replay test can
//! include it): the fuzz target and `crates/analysis/tests/fuzz_seeds.rs` both include this
//! file with `#[path]`.
//!
//! Beyond "no panic, no hang, no unbounded allocation", it asserts what the CLI relies on
//! for a partial report: the report is complete exactly when no damage and no checksum
//! mismatch were found; damage lies inside the input and says how many bytes were left
//! unread; the JSON is well-formed; and the streamed driver stops at the same offset and
//! counts the same keys as the in-memory one. The record drivers `keys` and `verify` read
//! through (runs of a mapped file's records, windows of a stream) must hand over the same
//! keys, stop at the same offset and find the same checksum as each other.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{analyze_reader, analyze_slice, Job, NoProgress, NoRelease};
use rdbscope_analysis::report::{build, NamedResult, ReportOptions};
use rdbscope_analysis::source::{
    drive_reader_windows, drive_slice_windows, DriveError, DriveOptions, InputSummary,
};
use rdbscope_parser::Record;

/// What a record driver saw: the offset of every key, where it stopped on a format error,
/// and what it learned (header, checksum, where the RDB part ends, trailing bytes).
type Walk = (Vec<u64>, Option<u64>, InputSummary);

fn walk<E: std::fmt::Debug>(
    drive: impl FnOnce(&mut InputSummary, &mut dyn FnMut(&[Record<'_>])) -> Result<(), DriveError<E>>,
) -> Walk {
    let mut keys = Vec::new();
    let mut summary = InputSummary::default();
    let r = drive(&mut summary, &mut |recs| {
        for r in recs {
            if let Record::Key(k) = r {
                keys.push(k.offset);
            }
        }
    });
    let stop = match r {
        Ok(()) => None,
        Err(DriveError::Parse(e)) => Some(e.offset),
        Err(e) => panic!("a driver over bytes in memory failed otherwise: {e:?}"),
    };
    (keys, stop, summary)
}

/// The runs of a mapped file's records and the windows of a stream agree.
fn drivers_agree(data: &[u8], salvage: bool) {
    let opts = DriveOptions {
        checksum: true,
        salvage,
    };
    let slice = walk(|s, f| {
        drive_slice_windows(data, opts, s, &NoRelease, |recs| {
            f(recs);
            Ok::<(), ()>(())
        })
    });
    let stream = walk(|s, f| {
        drive_reader_windows(data, opts, s, |recs| {
            f(recs);
            Ok::<(), ()>(())
        })
    });
    assert_eq!(slice, stream, "slice runs and stream windows disagree");
}

/// Runs the pipeline over `data` as one file and checks the report.
pub fn analyze(data: &[u8]) {
    let filter = KeyFilter::default();
    let job = Job {
        config: AggregateConfig {
            top: 5,
            row_cap: 16,
            ..AggregateConfig::default()
        },
        choice: ModelChoice::default(),
        filter: &filter,
        checksum: true,
        progress: &NoProgress,
        // Split every file the pool can split: the streamed driver below never does, so
        // the comparison checks the split pass too.
        split_min: 0,
        salvage: false,
    };
    let len = data.len() as u64;
    drivers_agree(data, false);
    drivers_agree(data, true);
    let result = analyze_slice(data, 0, &job, &NoRelease);
    let streamed = analyze_reader(data, 0, &job);

    if let Some(d) = &result.damage {
        assert!(
            d.offset <= len,
            "damage offset {} past the end {len}",
            d.offset
        );
        assert_eq!(d.unread, Some(len - d.offset), "unread bytes of {d:?}");
        assert!(!d.message.is_empty());
    }
    // The streamed driver reads the same bytes in the same order: it must stop at the same
    // place and have seen the same keys before it.
    assert_eq!(
        result.damage.as_ref().map(|d| d.offset),
        streamed.damage.as_ref().map(|d| d.offset),
        "slice and stream stop at different offsets: {:?} / {:?}",
        result.damage,
        streamed.damage
    );
    assert_eq!(
        result.aggregate.totals.all, streamed.aggregate.totals.all,
        "slice and stream count different keys"
    );

    // --deep decodes every kept blob instead of reading its header: the same keys, and at
    // least the anomalies the header checks found.
    let deep_job = Job {
        config: AggregateConfig {
            deep: true,
            ..job.config
        },
        ..job
    };
    let deep = analyze_slice(data, 0, &deep_job, &NoRelease);
    assert_eq!(
        result.aggregate.totals.all.keys, deep.aggregate.totals.all.keys,
        "--deep counts different keys"
    );
    assert!(
        deep.aggregate.anomalies >= result.aggregate.anomalies,
        "--deep finds fewer anomalies ({} < {})",
        deep.aggregate.anomalies,
        result.aggregate.anomalies
    );

    // --salvage reads on past damage: the same regions and keys from a mapped file and a
    // stream, inside the input. (It may read fewer keys than a plain read: a key of a type
    // the file's version does not write is damage to it.)
    let salvage_job = Job {
        salvage: true,
        ..job
    };
    let salvaged = analyze_slice(data, 0, &salvage_job, &NoRelease);
    let salvaged_stream = analyze_reader(data, 0, &salvage_job);
    let regions =
        |r: &rdbscope_analysis::pipeline::FileResult| r.damage.as_ref().map(|d| d.salvaged.clone());
    assert_eq!(
        regions(&salvaged),
        regions(&salvaged_stream),
        "slice and stream salvage different regions"
    );
    assert_eq!(
        salvaged.aggregate.totals.all, salvaged_stream.aggregate.totals.all,
        "slice and stream salvage different keys"
    );
    if let Some(d) = &salvaged.damage {
        for r in &d.salvaged.regions {
            assert!(
                r.start < r.end && r.end <= len,
                "region {r:?} of {len} bytes"
            );
        }
    }

    let damaged = result.damage.is_some() || result.summary.checksum_mismatch().is_some();
    let report = build(
        vec![NamedResult::new("fuzz.rdb", Some(len), result)],
        &ReportOptions {
            rows: 8,
            ..ReportOptions::default()
        },
    );
    assert_eq!(report.complete, !damaged, "complete flag");
    let json = serde_json::to_string(&report).expect("the report serialises");
    let v: serde_json::Value = serde_json::from_str(&json).expect("well-formed JSON");
    assert_eq!(v["complete"], serde_json::Value::Bool(!damaged));
}
