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
//! counts the same keys as the in-memory one.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{analyze_reader, analyze_slice, Job, NoProgress, NoRelease};
use rdbscope_analysis::report::{build, NamedResult, ReportOptions};

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
    };
    let len = data.len() as u64;
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

    let damaged = result.damage.is_some() || result.summary.checksum_mismatch().is_some();
    let report = build(
        vec![NamedResult {
            name: "fuzz.rdb".into(),
            bytes: Some(len),
            result,
        }],
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
