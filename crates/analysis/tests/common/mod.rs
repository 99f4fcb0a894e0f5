//! Helpers shared by the integration tests that run the whole `analyze` pipeline.

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{analyze_slice, Job, NoProgress, NoRelease, Progress};
use rdbscope_analysis::report::{build, NamedResult, Report, ReportOptions};

/// One file analysed: the report and what the result says beside it.
// Each test binary compiles this module on its own and reads only some of the fields.
#[allow(dead_code)]
pub struct Analysed {
    /// The report, with `rows` rows per table.
    pub report: Report,
    /// How many places the file was framed from.
    pub chains: usize,
    /// Where damage stopped the parse.
    pub damage: Option<u64>,
    /// A checksum mismatch: (stored, computed).
    pub mismatch: Option<(u64, u64)>,
}

/// Analyses `data` as a mapped file in a pool of `threads` threads, splitting it from
/// `split_min` bytes (see `Job::split_min`), and builds its report.
pub fn analyze(
    data: &[u8],
    threads: usize,
    config: AggregateConfig,
    rows: usize,
    split_min: u64,
) -> Analysed {
    analyze_with(data, threads, config, rows, split_min, &NoProgress)
}

/// [`analyze`], telling `progress` how far it got.
pub fn analyze_with(
    data: &[u8],
    threads: usize,
    config: AggregateConfig,
    rows: usize,
    split_min: u64,
    progress: &dyn Progress,
) -> Analysed {
    let filter = KeyFilter::default();
    let job = Job {
        config,
        choice: ModelChoice::default(),
        filter: &filter,
        checksum: true,
        progress,
        split_min,
        salvage: false,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let result = pool.install(|| analyze_slice(data, 0, &job, &NoRelease));
    let (chains, damage) = (result.chains, result.damage.as_ref().map(|d| d.offset));
    let mismatch = result.summary.checksum_mismatch();
    let report = build(
        vec![NamedResult::new(
            "dump.rdb",
            Some(data.len() as u64),
            result,
        )],
        &ReportOptions {
            rows,
            ..ReportOptions::default()
        },
    );
    Analysed {
        report,
        chains,
        damage,
        mismatch,
    }
}
