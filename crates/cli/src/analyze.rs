//! `rdbscope analyze`: the report of one or more snapshots (terminal, JSON, CSV).

use crate::keys::{FilterArgs, ModelArgs};
use crate::{input, Exit, InputArgs};
use anyhow::{Context, Result};
use rayon::prelude::*;
use rdbscope_analysis::aggregate::{AggregateConfig, Limits};
use rdbscope_analysis::pattern::Separators;
use rdbscope_analysis::pipeline::{analyze_reader, analyze_slice, Job, Progress, ReadAhead};
use rdbscope_analysis::report::{self, FindingThresholds, NamedResult, Report, ReportOptions};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Arguments of `analyze`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Snapshot files (`-` for standard input): a cluster's shards or `dir/*.rdb` are
    /// merged into one report with a per-file table.
    #[arg(required = true)]
    files: Vec<String>,
    /// Write the JSON report here (`-` for standard output, replacing the summary).
    #[arg(long, value_name = "OUT")]
    json: Option<String>,
    /// Write each table of the report as a CSV file in this directory.
    #[arg(long, value_name = "DIR")]
    csv_dir: Option<PathBuf>,
    /// Entries of each top-keys list.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Rows printed per prefix level and pattern table (the rest are folded into `(other)`).
    #[arg(long, default_value_t = 50)]
    rows: usize,
    /// Bytes that split keys into prefix segments.
    #[arg(long, default_value = ":")]
    separators: String,
    /// Prefix levels.
    #[arg(long, default_value_t = 3)]
    depth: usize,
    /// Distinct rows kept per prefix level and for patterns; more are folded into `(other)`
    /// (bounds memory).
    #[arg(long, default_value_t = 10_000)]
    row_cap: usize,
    /// Decode and validate every element, as `sanitize-dump-payload yes` would, and report
    /// damage inside values as anomalies. By default the listpacks, ziplists and intsets
    /// the loader keeps are sized from their headers and checked as a default server checks
    /// them on load (header size, end byte), and big collections from their elements'
    /// declared lengths (LZF elements are not decompressed); the estimates are the same.
    #[arg(long)]
    deep: bool,
    /// Worker threads (default: all cores). The report is the same for any count.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Colour in the summary: auto (only on a terminal, not with NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// A finding threshold, `name=value` (repeatable): big-key-pct, big-key-min-bytes, big-key-bytes,
    /// no-ttl-pattern-pct, no-ttl-pattern-min-keys, expired-bytes, stream-pending, small-strings, not-in-keys-pct,
    /// big-collection-elements, big-string-bytes, small-string-memory.
    #[arg(long = "threshold", value_name = "NAME=VALUE")]
    thresholds: Vec<String>,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    input: InputArgs,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    /// Colour on a terminal unless `NO_COLOR` is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

fn set_threshold(
    name: &str,
    value: &str,
    t: &mut FindingThresholds,
    l: &mut Limits,
) -> std::result::Result<(), String> {
    let int = || {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| format!("--threshold {name}: expected a whole number, got {value:?}"))
    };
    let float = || {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("--threshold {name}: expected a number, got {value:?}"))
    };
    match name {
        "big-key-pct" => t.big_key_pct = float()?,
        "big-key-bytes" => t.big_key_bytes = int()?,
        "big-key-min-bytes" => t.big_key_min_bytes = int()?,
        "no-ttl-pattern-pct" => t.no_ttl_pattern_pct = float()?,
        "no-ttl-pattern-min-keys" => t.no_ttl_pattern_min_keys = int()?,
        "expired-bytes" => t.expired_bytes = int()?,
        "stream-pending" => t.stream_pending = int()?,
        "small-strings" => t.small_strings = int()?,
        "not-in-keys-pct" => t.not_in_keys_pct = float()?,
        "big-collection-elements" => l.big_collection_elements = int()?,
        "big-string-bytes" => l.big_string_bytes = int()?,
        "small-string-memory" => l.small_string_memory = int()?,
        _ => return Err(format!("--threshold: unknown name {name:?}")),
    }
    Ok(())
}

/// A progress bar on standard error (only on a terminal, not with `--quiet`).
struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
}

fn usage(msg: impl std::fmt::Display) -> Result<Exit> {
    eprintln!("rdbscope: {msg}");
    Ok(Exit::Usage)
}

/// Runs `analyze`.
///
/// # Errors
/// An input cannot be opened, an output cannot be written.
pub fn run(args: &Args) -> Result<Exit> {
    let filter = match args.filter.build() {
        Ok(f) => f,
        Err(e) => return usage(format!("{e:#}")),
    };
    let choice = match args.model.build() {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let separators = match Separators::new(&args.separators) {
        Ok(s) => s,
        Err(e) => return usage(format!("--separators: {e}")),
    };
    if args.top == 0 || args.row_cap == 0 {
        return usage("--top and --row-cap must be at least 1");
    }
    if args.depth == 0 || args.depth > 16 {
        return usage("--depth must be between 1 and 16");
    }
    let mut thresholds = FindingThresholds::default();
    let mut limits = Limits::default();
    for t in &args.thresholds {
        let Some((k, v)) = t.split_once('=') else {
            return usage(format!("--threshold {t:?}: expected NAME=VALUE"));
        };
        if let Err(e) = set_threshold(k.trim(), v, &mut thresholds, &mut limits) {
            return usage(e);
        }
    }
    if args.files.iter().filter(|f| f.as_str() == "-").count() > 1 {
        return usage("standard input (-) can be given once");
    }
    let Some(pool) = crate::worker_pool(args.threads)? else {
        return usage("--threads must be at least 1");
    };

    let mut inputs = Vec::new();
    for f in &args.files {
        inputs.push(input::open(f, args.input.no_mmap)?);
    }
    // Files get their ids in name order, so the report does not depend on the order given.
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    let total: u64 = inputs
        .iter()
        .map(|i| match &i.source {
            input::Source::Whole(b) => b.len() as u64,
            input::Source::Stream(_) => 0,
        })
        .sum();
    let bar = Bar((!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    }));
    let job = Job {
        config: AggregateConfig {
            separators,
            depth: args.depth,
            top: args.top,
            row_cap: args.row_cap,
            limits,
            deep: args.deep,
        },
        choice,
        filter: &filter,
        checksum: !args.input.no_checksum,
        progress: &bar,
        split_min: rdbscope_analysis::pipeline::SPLIT_MIN,
    };
    let filtered = !args.filter.is_empty();
    let given = job.choice.allocator.is_some();
    let results: Vec<NamedResult> = pool.install(|| {
        inputs
            .into_par_iter()
            .enumerate()
            .map(|(i, inp)| {
                let id = u32::try_from(i).unwrap_or(u32::MAX);
                let name = inp.name.clone();
                let reopen = inp.reopen.clone();
                let (bytes, mut result) = analyze_input(inp, id, &job);
                let verdict = rdbscope_analysis::alloc_infer::infer(&result, given, filtered);
                // The keys were sized with the packaging default: when used-mem points at
                // another allocator, size them again with it (a file can be read twice,
                // standard input cannot: its report keeps the default and says so).
                let mut verdict = verdict;
                if let (Some(v), Some(m)) = (&mut verdict, result.model) {
                    if v.allocator != m.allocator {
                        match reopen.as_deref().map(|p| input::open(p, args.input.no_mmap)) {
                            Some(Ok(again)) => {
                                let job = Job {
                                    choice: rdbscope_analysis::context::ModelChoice {
                                        allocator: Some(v.allocator),
                                        ..job.choice
                                    },
                                    ..job
                                };
                                result = analyze_input(again, id, &job).1;
                            }
                            _ => {
                                v.evidence = format!(
                                    "{}; sized with {} all the same (the input cannot be read twice): \
                                     pass --allocator {}",
                                    v.evidence,
                                    rdbscope_analysis::alloc_infer::name(m.allocator),
                                    rdbscope_analysis::alloc_infer::name(v.allocator)
                                );
                                v.allocator = m.allocator;
                            }
                        }
                    }
                }
                NamedResult {
                    name,
                    bytes,
                    result,
                    allocator: verdict,
                }
            })
            .collect()
    });
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    let report = report::build(
        results,
        &ReportOptions {
            rows: args.rows,
            thresholds,
            filtered,
        },
    );
    // A file of which not even the header could be read gets its one line on standard
    // error, not an empty summary.
    let nothing_read = report.snapshot.iter().all(|s| s.rdb_version.is_none());
    write_outputs(args, &report, !nothing_read)?;
    for f in &report.files {
        if let Some(d) = &f.damage {
            match d.unread_bytes {
                Some(n) => eprintln!("{}: {} ({n} bytes left unread)", f.name, d.message),
                None => eprintln!("{}: {}", f.name, d.message),
            }
        }
        if let Some([s, c]) = &f.checksum_mismatch {
            eprintln!(
                "{}: checksum mismatch: file says {s}, contents give {c}",
                f.name
            );
        }
    }
    let mismatch = report.files.iter().any(|f| f.checksum_mismatch.is_some());
    Ok(if report.complete && !mismatch {
        Exit::Ok
    } else {
        Exit::Damaged
    })
}

/// Analyses one opened input: its size (when known) and its result.
fn analyze_input(
    inp: input::Input,
    id: u32,
    job: &Job<'_>,
) -> (Option<u64>, rdbscope_analysis::pipeline::FileResult) {
    match inp.source {
        input::Source::Whole(b) => (Some(b.len() as u64), analyze_slice(&b, id, job, &b)),
        input::Source::Stream(r) => {
            let mut result = analyze_reader(ReadAhead::spawn(r), id, job);
            // A streamed plain file (`--no-mmap`) knows its length up front.
            if let (Some(d), Some(len)) = (&mut result.damage, inp.len) {
                d.unread = d.unread.or(Some(len.saturating_sub(d.offset)));
            }
            (inp.len, result)
        }
    }
}

fn write_outputs(args: &Args, report: &Report, summary: bool) -> Result<()> {
    let json_to_stdout = args.json.as_deref() == Some("-");
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(report).context("cannot encode the report")?;
        if json_to_stdout {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        } else {
            std::fs::write(path, format!("{text}\n"))
                .with_context(|| format!("{path}: cannot write"))?;
        }
    }
    if let Some(dir) = &args.csv_dir {
        crate::report_csv::write_dir(dir, report)?;
    }
    if !json_to_stdout && summary {
        let color = match args.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        let text = crate::render::summary(report, args.top.min(10), color);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
