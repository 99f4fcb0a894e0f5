//! Truncation and corruption sweeps over the whole `analyze` pipeline, in-process (fast
//! enough to be dense): every fixture cut at every offset (a dense sample for the bigger
//! ones), the corpus dumps on a sample of offsets, and seeded, reproducible byte flips.
//! Each run must return (no panic), stop at an offset at or before the cut, say how many
//! bytes it left unread, and give a partial report that serialises to well-formed JSON.
//! The CLI test binary runs a smaller sample through the real binary.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{analyze_slice, Job, NoProgress, NoRelease};
use rdbscope_analysis::report::{build, NamedResult, Report, ReportOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Debug builds (`cargo test --workspace`) run a smoke-sized sweep; the dense one runs in
/// release: `cargo test --release -p rdbscope-analysis --test sweep` (about 30 s).
const DEBUG: bool = cfg!(debug_assertions);
/// Fixtures up to this size are cut at every offset.
const EVERY_OFFSET_UP_TO: usize = if DEBUG { 1 << 10 } else { 16 << 10 };
/// Spread cuts of a bigger fixture.
const FIXTURE_SAMPLE: usize = if DEBUG { 200 } else { 2000 };
/// Spread cuts of each corpus dump.
const CORPUS_SAMPLE: usize = if DEBUG { 2 } else { 100 };
/// Every how many corpus dumps one is swept.
const CORPUS_STEP: usize = if DEBUG { 4 } else { 1 };
/// Cuts in the last bytes of a sampled file (the EOF opcode and CRC).
const TAIL: usize = if DEBUG { 2 } else { 16 };

/// Runs the pipeline and builds the report, or returns the panic as an error.
fn report(data: &[u8]) -> Result<Report, String> {
    catch_unwind(AssertUnwindSafe(|| {
        let filter = KeyFilter::default();
        let job = Job {
            config: AggregateConfig::default(),
            choice: ModelChoice::default(),
            filter: &filter,
            checksum: true,
            progress: &NoProgress,
            // Damage also meets the split pass (under `cargo test`'s pool of threads).
            split_min: 0,
            salvage: false,
        };
        let result = analyze_slice(data, 0, &job, &NoRelease);
        build(
            vec![NamedResult::new("cut.rdb", Some(data.len() as u64), result)],
            &ReportOptions::default(),
        )
    }))
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default()
    })
}

/// The report serialises to JSON that parses back with the same `complete` flag.
fn assert_json(r: &Report, what: &str) {
    let text = serde_json::to_string(r).unwrap_or_else(|e| panic!("{what}: {e}"));
    let v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: bad JSON: {e}"));
    assert_eq!(v["complete"], serde_json::Value::Bool(r.complete), "{what}");
}

/// `data` cut at `cut`: a partial report whose damage lies at or before the cut.
fn check_cut(data: &[u8], cut: usize, what: &str) {
    let r = report(&data[..cut]).unwrap_or_else(|p| panic!("{what}: cut {cut}: panic {p}"));
    assert!(!r.complete, "{what}: cut {cut} reported complete");
    let f = &r.files[0];
    let d = f
        .damage
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: cut {cut}: no damage"));
    assert!(
        d.offset <= cut as u64,
        "{what}: cut {cut}: damage at {}",
        d.offset
    );
    assert_eq!(
        d.unread_bytes,
        Some(cut as u64 - d.offset),
        "{what}: cut {cut}"
    );
    assert!(
        d.message.starts_with(&format!("offset {}: ", d.offset)),
        "{what}: cut {cut}: {}",
        d.message
    );
    assert_json(&r, &format!("{what} cut {cut}"));
}

/// Every offset of small files, `sample` spread offsets (plus the last `TAIL`) of big ones.
fn cuts(len: usize, sample: usize) -> Vec<usize> {
    if len <= EVERY_OFFSET_UP_TO {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..sample).map(|i| i * len / sample).collect();
    v.extend(len.saturating_sub(TAIL)..len);
    v
}

#[test]
fn truncation_sweep_over_every_fixture() {
    let mut runs = 0;
    for f in rdbscope_testwriter::dumps::fixtures() {
        let data = std::fs::read(&f).unwrap();
        let what = f.display().to_string();
        assert!(report(&data).unwrap().complete, "{what}: intact file");
        for cut in cuts(data.len(), FIXTURE_SAMPLE) {
            check_cut(&data, cut, &what);
            runs += 1;
        }
    }
    assert!(runs > 1_000, "only {runs} cuts");
}

#[test]
fn truncation_sweep_over_corpus_dumps() {
    let dumps = rdbscope_testwriter::dumps::corpus();
    for f in dumps.iter().step_by(CORPUS_STEP) {
        let data = std::fs::read(f).unwrap();
        let what = f.display().to_string();
        for cut in cuts(data.len(), CORPUS_SAMPLE) {
            check_cut(&data, cut, &what);
        }
    }
}

use rdbscope_testwriter::Rng;

#[test]
fn corruption_sweep_single_and_multi_byte_flips() {
    const SEED: u64 = 0x00c0_ffee_d00d;
    let rounds = if cfg!(debug_assertions) { 60 } else { 600 };
    let mut rng = Rng(SEED);
    let mut damaged = 0;
    let mut total = 0;
    for f in rdbscope_testwriter::dumps::fixtures() {
        let data = std::fs::read(&f).unwrap();
        for round in 0..rounds {
            let mut d = data.clone();
            // Even rounds: one byte; odd rounds: 2 to 16 bytes, sometimes a run.
            let flips = if round % 2 == 0 { 1 } else { 2 + rng.below(15) };
            let run = round % 4 == 3;
            let start = rng.below(d.len());
            for k in 0..flips {
                let i = if run {
                    (start + k) % d.len()
                } else {
                    rng.below(d.len())
                };
                d[i] ^= 1 + rng.below(255) as u8;
            }
            let what = format!("{} round {round} (seed {SEED:#x})", f.display());
            let r = report(&d).unwrap_or_else(|p| panic!("{what}: panic {p}"));
            let file = &r.files[0];
            if let Some(dm) = &file.damage {
                assert!(
                    dm.offset <= d.len() as u64,
                    "{what}: damage at {}",
                    dm.offset
                );
                assert_eq!(dm.unread_bytes, Some(d.len() as u64 - dm.offset), "{what}");
            }
            // A checksum mismatch with every record read leaves the report complete.
            assert_eq!(r.complete, file.damage.is_none(), "{what}");
            assert_eq!(
                file.checksum == "mismatch",
                file.checksum_mismatch.is_some(),
                "{what}"
            );
            assert_json(&r, &what);
            damaged += usize::from(!r.complete || file.checksum_mismatch.is_some());
            total += 1;
        }
    }
    // Nearly every flip breaks the CRC: a sweep where none is noticed checks nothing.
    assert!(
        damaged * 10 > total * 9,
        "{damaged} of {total} flips noticed"
    );
}
