//! `rdbscope analyze`: the report of one or more snapshots (terminal, JSON, CSV).

use crate::keys::{setting, FilterArgs, ModelArgs, ModelError};
use crate::{input, Exit, InputArgs};
use anyhow::Result;
use rayon::prelude::*;
use rdbscope_analysis::aggregate::{AggregateConfig, Limits};
use rdbscope_analysis::pattern::Separators;
use rdbscope_analysis::pipeline::{analyze_read_ahead, analyze_slice, Job, Progress, ReadAhead};
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
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Colour in the summary: auto (only on a terminal, not with NO_COLOR), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// A budget rule, `QUANTITY OP VALUE` (repeatable): `memory > 6GiB`,
    /// `pattern(session:*).memory-no-ttl > 100MiB`, `findings >= critical`; exit 4 when one
    /// fails (docs/audit.md).
    #[arg(long = "fail-on", value_name = "RULE")]
    fail_on: Vec<String>,
    /// The server's own output saved beside the dump: INFO (or INFO everything), MEMORY
    /// STATS, CLIENT LIST, CONFIG GET, as redis-cli prints them, one or several in a file.
    /// Repeatable, one per dump: matched by replication id, else in order. Adds the live
    /// reconciliation and the memory doctor's findings (docs/forensics.md).
    #[arg(long = "info", value_name = "FILE")]
    info: Vec<String>,
    #[command(flatten)]
    prom: crate::prometheus::PromArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// How a report is made from dumps: every option of `analyze` but its inputs and outputs.
/// `diff` (and later `check`) take the same options for the dumps they analyse.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Entries of each top-keys list [default: 20 in the JSON and CSV; the terminal shows
    /// 10 unless --top is given, then that many].
    #[arg(long)]
    top: Option<usize>,
    /// Rows kept per prefix level and pattern table, the rest folded into `(other)`
    /// [default: 50 in the JSON and CSV; the terminal shows 10 unless --rows is given].
    #[arg(long)]
    rows: Option<usize>,
    /// Bytes that split keys into prefix segments.
    #[arg(long, default_value = ":")]
    separators: String,
    /// Prefix levels [default: 3 in the JSON and CSV; the terminal shows level 1 unless
    /// --depth is given, then every level].
    #[arg(long)]
    depth: Option<usize>,
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
    /// A finding threshold, `name=value` (repeatable): big-key-pct, big-key-bytes,
    /// big-key-min-bytes, no-ttl-pattern-pct, no-ttl-pattern-min-keys, expired-bytes,
    /// stream-pending, small-strings, not-in-keys-pct, partial-ttl-pct,
    /// partial-ttl-min-ttl-pct, partial-ttl-min-keys, partial-ttl-bytes, no-ttl-memory-pct,
    /// blocking-elements, big-collection-elements, big-string-bytes, small-string-memory.
    /// Counts take units (`1MiB`), shares a `%`.
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

impl ColorArg {
    /// Whether to colour standard output.
    pub fn on(self) -> bool {
        match self {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// Where a `--threshold` goes: a share (percent) or a count in the findings' thresholds,
/// or a count in the aggregate's limits.
#[derive(Clone, Copy)]
enum Slot {
    Pct(fn(&mut FindingThresholds) -> &mut f64),
    Count(fn(&mut FindingThresholds) -> &mut u64),
    Limit(fn(&mut Limits) -> &mut u64),
}

/// Every `--threshold NAME`, once: parsing, `--help`'s list and the report's settings read
/// this table.
const THRESHOLDS: &[(&str, Slot)] = &[
    ("big-key-pct", Slot::Pct(|t| &mut t.big_key_pct)),
    ("big-key-bytes", Slot::Count(|t| &mut t.big_key_bytes)),
    (
        "big-key-min-bytes",
        Slot::Count(|t| &mut t.big_key_min_bytes),
    ),
    (
        "no-ttl-pattern-pct",
        Slot::Pct(|t| &mut t.no_ttl_pattern_pct),
    ),
    (
        "no-ttl-pattern-min-keys",
        Slot::Count(|t| &mut t.no_ttl_pattern_min_keys),
    ),
    ("expired-bytes", Slot::Count(|t| &mut t.expired_bytes)),
    ("stream-pending", Slot::Count(|t| &mut t.stream_pending)),
    ("small-strings", Slot::Count(|t| &mut t.small_strings)),
    ("not-in-keys-pct", Slot::Pct(|t| &mut t.not_in_keys_pct)),
    ("partial-ttl-pct", Slot::Pct(|t| &mut t.partial_ttl_pct)),
    (
        "partial-ttl-min-ttl-pct",
        Slot::Pct(|t| &mut t.partial_ttl_min_ttl_pct),
    ),
    (
        "partial-ttl-min-keys",
        Slot::Count(|t| &mut t.partial_ttl_min_keys),
    ),
    (
        "partial-ttl-bytes",
        Slot::Count(|t| &mut t.partial_ttl_bytes),
    ),
    ("no-ttl-memory-pct", Slot::Pct(|t| &mut t.no_ttl_memory_pct)),
    (
        "blocking-elements",
        Slot::Count(|t| &mut t.blocking_elements),
    ),
    (
        "big-collection-elements",
        Slot::Limit(|l| &mut l.big_collection_elements),
    ),
    ("big-string-bytes", Slot::Limit(|l| &mut l.big_string_bytes)),
    (
        "small-string-memory",
        Slot::Limit(|l| &mut l.small_string_memory),
    ),
];

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
            .or_else(|_| rdbscope_analysis::units::parse_bytes(value))
            .map_err(|_| format!("--threshold {name}: expected a whole number, got {value:?}"))
    };
    let float = || {
        value
            .trim()
            .trim_end_matches('%')
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("--threshold {name}: expected a number, got {value:?}"))
    };
    let Some((_, slot)) = THRESHOLDS.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = THRESHOLDS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "--threshold: unknown name {name:?} (known: {})",
            names.join(", ")
        ));
    };
    match slot {
        Slot::Pct(f) => *f(t) = float()?,
        Slot::Count(f) => *f(t) = int()?,
        Slot::Limit(f) => *f(l) = int()?,
    }
    Ok(())
}

/// The value of every threshold, by name.
fn threshold_values(t: &FindingThresholds, l: &Limits) -> Vec<(&'static str, String)> {
    let (mut t, mut l) = (*t, *l);
    THRESHOLDS
        .iter()
        .map(|(n, slot)| {
            let v = match slot {
                Slot::Pct(f) => f(&mut t).to_string(),
                Slot::Count(f) => f(&mut t).to_string(),
                Slot::Limit(f) => f(&mut l).to_string(),
            };
            (*n, v)
        })
        .collect()
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

fn bad(msg: impl std::fmt::Display) -> Result<std::result::Result<Report, Exit>> {
    eprintln!("rdbscope: {msg}");
    Ok(Err(Exit::Usage))
}

/// Runs `analyze`.
///
/// # Errors
/// An input cannot be opened, an output cannot be written.
pub fn run(args: &Args) -> Result<Exit> {
    args.prom.after(run_inner(args))
}

fn run_inner(args: &Args) -> Result<Exit> {
    let rules = match crate::check::parse_rules(&args.fail_on, false) {
        Ok(r) => r,
        Err(e) => return Ok(e),
    };
    let prom = match args.prom.start() {
        Ok(p) => p,
        Err(e) => return Ok(e),
    };
    let infos = match crate::info::read(&args.info) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("rdbscope: {e}");
            return Ok(Exit::Usage);
        }
    };
    let mut report_args = args.report.clone();
    let from_info = crate::info::allocator(&infos).filter(|_| !args.report.model.has_allocator());
    if let Some(a) = from_info {
        report_args.model.default_allocator(a);
    }
    let mut report = match report_of(&args.files, &report_args, args.quiet)? {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    if let Err(e) = crate::info::attach(infos, from_info.is_some(), &mut report) {
        eprintln!("rdbscope: {e}");
        return Ok(Exit::Usage);
    }
    // A file of which not even the header could be read gets its one line on standard
    // error, not an empty summary.
    let nothing_read = report.snapshot.iter().all(|s| s.rdb_version.is_none());
    write_outputs(args, &report, !nothing_read)?;
    tell_damage(&report);
    let failures = rdbscope_analysis::budget::evaluate(&rules, &report, None);
    if let Some(mut e) = prom {
        crate::prometheus::report(&mut e, &report, args.report.rows_or(50));
        crate::prometheus::rules(&mut e, None, &rules, &failures);
        args.prom.finish(e)?;
    }
    if crate::check::tell(&failures) {
        return Ok(Exit::Budget);
    }
    Ok(exit_of(&report))
}

/// Prints each file's damage and checksum mismatch on standard error.
pub fn tell_damage(report: &Report) {
    for f in &report.files {
        if let Some(d) = &f.damage {
            match d.unread_bytes {
                Some(n) if !f.salvaged_regions.is_empty() => eprintln!(
                    "{}: {} (salvage read on: {} region(s), {n} bytes skipped)",
                    f.name,
                    d.message,
                    f.salvaged_regions.len()
                ),
                Some(n) => eprintln!("{}: {} ({n} bytes left unread)", f.name, d.message),
                None => eprintln!("{}: {}", f.name, d.message),
            }
        }
        for r in &f.salvaged_regions {
            let line = rdbscope_analysis::salvage::region_line(
                &f.name, r.start, r.end, &r.error, &r.resync,
            );
            eprintln!("{line}");
        }
        if let Some([s, c]) = &f.checksum_mismatch {
            eprintln!(
                "{}: checksum mismatch: file says {s}, contents give {c}",
                f.name
            );
        }
    }
}

/// 0, or 3 when a file was damaged or failed its checksum.
pub fn exit_of(report: &Report) -> Exit {
    let mismatch = report.files.iter().any(|f| f.checksum_mismatch.is_some());
    if report.complete && !mismatch {
        Exit::Ok
    } else {
        Exit::Damaged
    }
}

/// The report of `files` under `args` (a progress bar on a terminal unless `quiet`), or
/// the exit code of a usage error already printed.
///
/// # Errors
/// An input cannot be opened or read.
pub fn report_of(
    files: &[String],
    args: &ReportArgs,
    quiet: bool,
) -> Result<std::result::Result<Report, Exit>> {
    let filter = match args.filter.build() {
        Ok(f) => f,
        Err(e) => return bad(format!("{e:#}")),
    };
    let built = match args.model.build() {
        Ok(c) => c,
        Err(ModelError::Io(e)) => anyhow::bail!(e),
        Err(e) => return bad(e),
    };
    let choice = built.choice;
    let (top, rows, depth) = (
        args.top.unwrap_or(20),
        args.rows.unwrap_or(50),
        args.depth.unwrap_or(3),
    );
    let separators = match Separators::new(&args.separators) {
        Ok(s) => s,
        Err(e) => return bad(format!("--separators: {e}")),
    };
    if top == 0 || args.row_cap == 0 {
        return bad("--top and --row-cap must be at least 1");
    }
    if depth == 0 || depth > 16 {
        return bad("--depth must be between 1 and 16");
    }
    let mut thresholds = FindingThresholds::default();
    let mut limits = Limits::default();
    for t in &args.thresholds {
        let Some((k, v)) = t.split_once('=') else {
            return bad(format!("--threshold {t:?}: expected NAME=VALUE"));
        };
        if let Err(e) = set_threshold(k.trim(), v, &mut thresholds, &mut limits) {
            return bad(e);
        }
    }
    if files.iter().filter(|f| f.as_str() == "-").count() > 1 {
        return bad("standard input (-) can be given once");
    }
    let Some(pool) = crate::worker_pool(args.threads)? else {
        return bad("--threads must be at least 1");
    };

    let mut inputs = Vec::new();
    for f in files {
        inputs.push(input::open(f, args.input.no_mmap)?);
    }
    // Files get their ids in name order, so the report does not depend on the order given.
    inputs.sort_by(|a, b| a.name.cmp(&b.name));
    warn_same_files(&inputs);
    let total: u64 = inputs
        .iter()
        .map(|i| match &i.source {
            input::Source::Whole(b) => b.len() as u64,
            input::Source::Stream(_) => 0,
        })
        .sum();
    let bar = Bar((!quiet && std::io::stderr().is_terminal()).then(|| {
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
            depth,
            top,
            row_cap: args.row_cap,
            limits,
            deep: args.deep,
        },
        choice,
        filter: &filter,
        checksum: !args.input.no_checksum,
        progress: &bar,
        split_min: rdbscope_analysis::pipeline::SPLIT_MIN,
        salvage: args.input.salvage,
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
                let aof_increments = inp.aof_increments.clone();
                let codec = inp.codec.map(|c| (c.to_string(), inp.compressed_len));
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
                    aof_increments,
                    codec,
                }
            })
            .collect()
    });
    if let Some(b) = &bar.0 {
        b.finish_and_clear();
    }
    Ok(Ok(report::build(
        results,
        &ReportOptions {
            rows,
            thresholds,
            filtered,
            settings: run_settings(
                args,
                built.settings,
                &thresholds,
                &limits,
                (top, rows, depth),
            ),
        },
    )))
}

impl ReportArgs {
    /// The model choice and key filter the options give, as `keys` sizes keys with them.
    ///
    /// # Errors
    /// A bad filter or model option.
    pub fn key_sizing(
        &self,
    ) -> Result<(
        rdbscope_analysis::context::ModelChoice,
        rdbscope_analysis::filter::KeyFilter,
    )> {
        let filter = self.filter.build()?;
        let choice = self
            .model
            .build()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .choice;
        Ok((choice, filter))
    }

    /// `--top`, or `default` when it was not given.
    pub fn top_or(&self, default: usize) -> usize {
        self.top.unwrap_or(default)
    }

    /// `--rows`, or `default` when it was not given.
    pub fn rows_or(&self, default: usize) -> usize {
        self.rows.unwrap_or(default)
    }

    /// Whether `--depth` was given (the terminal then shows every level).
    pub fn depth_given(&self) -> bool {
        self.depth.is_some()
    }
}

/// Every setting of the run, for the report's `snapshot[].settings`: the model options,
/// the finding thresholds and counted limits, the report's shape, the filters.
fn run_settings(
    args: &ReportArgs,
    mut out: Vec<rdbscope_analysis::report::Setting>,
    t: &FindingThresholds,
    l: &Limits,
    (top, rows, depth): (usize, usize, usize),
) -> Vec<rdbscope_analysis::report::Setting> {
    let given: Vec<&str> = args
        .thresholds
        .iter()
        .filter_map(|t| t.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    for (name, v) in threshold_values(t, l) {
        let from = if given.contains(&name) {
            "--threshold"
        } else {
            "default"
        };
        out.push(setting(&format!("threshold {name}"), &v, from));
    }
    let opt = |name: &str, v: String, given: bool| {
        setting(name, &v, if given { "command line" } else { "default" })
    };
    out.extend([
        opt("top", top.to_string(), args.top.is_some()),
        opt("rows", rows.to_string(), args.rows.is_some()),
        opt("depth", depth.to_string(), args.depth.is_some()),
        opt(
            "separators",
            args.separators.clone(),
            args.separators != ":",
        ),
        opt("row-cap", args.row_cap.to_string(), args.row_cap != 10_000),
        opt("deep", args.deep.to_string(), args.deep),
        opt(
            "checksum",
            (!args.input.no_checksum).to_string(),
            args.input.no_checksum,
        ),
    ]);
    let f = &args.filter;
    for db in &f.db {
        out.push(setting("filter db", &db.to_string(), "command line"));
    }
    for t in &f.types {
        out.push(setting(
            "filter type",
            &format!("{t:?}").to_lowercase(),
            "command line",
        ));
    }
    if let Some(g) = &f.glob {
        out.push(setting("filter match", g, "command line"));
    }
    if let Some(r) = &f.regex {
        out.push(setting("filter regex", r, "command line"));
    }
    if let Some(m) = f.min_memory {
        out.push(setting("filter min-memory", &m.to_string(), "command line"));
    }
    if f.no_expiry {
        out.push(setting("filter no-expiry", "true", "command line"));
    }
    if f.expired {
        out.push(setting("filter expired", "true", "command line"));
    }
    out
}

/// Warns about a file given twice (under two names too): its keys would count twice.
fn warn_same_files(inputs: &[input::Input]) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let ids: Vec<Option<(u64, u64)>> = inputs
            .iter()
            .map(|i| {
                let p = i.reopen.as_deref()?;
                let m = std::fs::metadata(p).ok()?;
                m.is_file().then(|| (m.dev(), m.ino()))
            })
            .collect();
        for (i, a) in ids.iter().enumerate() {
            for (j, b) in ids.iter().enumerate().skip(i + 1) {
                if a.is_some() && a == b {
                    eprintln!(
                        "rdbscope: warning: {} and {} are the same file: its keys are counted twice",
                        inputs[i].name, inputs[j].name
                    );
                }
            }
        }
    }
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
            let mut result = analyze_read_ahead(ReadAhead::spawn(r), id, job);
            // A streamed plain file (`--no-mmap`) knows its length up front.
            if let (Some(d), Some(len)) = (&mut result.damage, inp.len) {
                d.unread = d.unread.or(Some(len.saturating_sub(d.offset)));
            }
            // A decompressed stream's size: the RDB and what followed it, read to the end;
            // after damage, what was decompressed before reading stopped.
            let decoded = inp.decoded.map(|n| match &result.damage {
                None => result.summary.rdb_bytes + result.summary.trailing_bytes,
                Some(d) => n.load(std::sync::atomic::Ordering::Relaxed).max(d.offset),
            });
            (inp.len.or(decoded), result)
        }
    }
}

fn write_outputs(args: &Args, report: &Report, summary: bool) -> Result<()> {
    let json_to_stdout = args.json.as_deref() == Some("-");
    if let Some(path) = &args.json {
        crate::output::emit(path, &report.to_json())?;
    }
    if let Some(dir) = &args.csv_dir {
        crate::report_csv::write_dir(dir, report)?;
    }
    if !json_to_stdout && summary {
        let color = args.color.on();
        let shown = crate::render::Shown {
            top: args.report.top.unwrap_or(10),
            rows: args.report.rows.unwrap_or(10),
            levels: if args.report.depth.is_some() {
                usize::MAX
            } else {
                1
            },
        };
        let text = crate::render::summary(report, shown, color);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
