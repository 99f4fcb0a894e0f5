//! `rdbscope`: an offline analyzer for Redis and Valkey `dump.rdb` snapshots.
//!
//! A thin binary: arguments → inputs → the analysis crate → reporters → exit code.

mod analyze;
mod check;
mod codec;
mod conf;
mod diff;
mod diff_csv;
mod escape;
mod info;
mod input;
mod keys;
mod output;
mod prometheus;
mod render;
mod render_diff;
mod report_csv;
mod sniff;
mod verify;

use clap::{Parser, Subcommand};
use rdbscope_analysis::salvage::Salvaged;
use rdbscope_analysis::source::{
    drive_reader_windows, drive_slice_windows, DriveError, DriveOptions, InputSummary,
};
use rdbscope_parser::{Header, Record, Records};
use std::io::BufRead;
use std::process::ExitCode;

/// Exit codes, documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0: success, the input is valid.
    Ok = 0,
    /// 1: an error (a file cannot be opened or read, an output cannot be written).
    Error = 1,
    /// 2: usage error (bad arguments).
    Usage = 2,
    /// 3: the input is damaged; what could be read was reported, marked partial.
    Damaged = 3,
    /// 4: a budget rule (`--fail-on`, `check`) failed; every output was written. Takes
    /// precedence over 3.
    Budget = 4,
}

const EXIT_CODES: &str = "Exit codes: 0 ok; 1 error (cannot open/read/write); 2 usage; \
3 damaged input (truncated, corrupt or checksum mismatch): a partial report was written; \
4 a budget rule (--fail-on, check) failed, after every output was written (4 takes precedence over 3).";

#[derive(Parser)]
#[command(name = "rdbscope", version, about = "Offline analyzer for Redis and Valkey dump.rdb snapshots", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a snapshot's structure and checksum; print its header, AUX fields, functions,
    /// modules and key counts.
    #[command(after_help = EXIT_CODES)]
    Verify(verify::Args),
    /// One line per key: db, name, type, expiry, on-disk type, offset.
    #[command(after_help = EXIT_CODES)]
    Keys(keys::Args),
    /// The report: memory by type, encoding, prefix and pattern; TTL buckets; top keys;
    /// idle data; streams; findings; reconciliation with used-mem. One or more files.
    #[command(after_help = EXIT_CODES)]
    Analyze(analyze::Args),
    /// What changed between two snapshots (or shard sets, or saved JSON reports): totals,
    /// patterns and prefixes, TTLs, top keys, streams, findings, and when maxmemory is hit.
    #[command(after_help = EXIT_CODES)]
    Diff(diff::Args),
    /// Check saved reports against budget rules (--rules FILE, --fail-on RULE); exit 4
    /// when one fails.
    #[command(after_help = EXIT_CODES)]
    Check(check::Args),
}

/// Options shared by commands that read inputs.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Stream files through a bounded window instead of mapping them: for files that may
    /// be truncated while read (no SIGBUS), or on slow or network file systems.
    #[arg(long)]
    pub no_mmap: bool,
    /// Skip the CRC-64 check.
    #[arg(long)]
    pub no_checksum: bool,
    /// After damage, scan on for the next offset where records read again and go on from
    /// there; every region skipped is reported (the report stays partial, exit 3).
    #[arg(long)]
    pub salvage: bool,
}

/// The outcome of reading one input.
pub struct Outcome {
    /// What the driver learned.
    pub summary: InputSummary,
    /// The damage that stopped reading (or a checksum mismatch), if any.
    pub damage: Option<Damage>,
}

/// Why an input is damaged, for the one line on standard error.
pub struct Damage {
    /// `offset N: what was expected` (or the checksum mismatch with both values).
    pub message: String,
    /// Bytes after the damage that were not read, when the input's length is known (with
    /// `--salvage`, the bytes skipped).
    pub unread: Option<u64>,
    /// With `--salvage`: the regions skipped.
    pub salvaged: Salvaged,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        match self.unread {
            Some(n) if !self.salvaged.is_empty() => write!(
                f,
                " (salvage read on: {} region(s), {n} bytes skipped)",
                self.salvaged.count
            ),
            Some(n) => write!(f, " ({n} bytes left unread)"),
            None => Ok(()),
        }
    }
}

impl Damage {
    /// Prints the damage of input `name` on standard error, and each region `--salvage`
    /// skipped.
    pub fn tell(&self, name: &str) {
        eprintln!("{name}: {self}");
        for l in self.salvaged.lines(name) {
            eprintln!("{l}");
        }
    }
}

/// The worker pool of `--threads N` (default: all cores); `None` for 0, a usage error.
///
/// # Errors
/// The threads cannot be started.
pub fn worker_pool(threads: Option<usize>) -> anyhow::Result<Option<rayon::ThreadPool>> {
    use anyhow::Context;
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if n == 0 {
        return Ok(None);
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map(Some)
        .context("cannot start worker threads")
}

/// Reads every record of an input, feeding `f`; reading errors become `damage`.
///
/// # Errors
/// Only an error returned by `f` (e.g. a broken output pipe) or an I/O error.
pub fn read_input(
    input: input::Input,
    args: &InputArgs,
    mut f: impl FnMut(Option<&Header>, &Record<'_>) -> std::io::Result<()>,
) -> std::io::Result<Outcome> {
    read_input_windows(input, args, |header, recs| {
        recs.iter().try_for_each(|r| f(header, r))
    })
}

/// [`read_input`], handing `f` runs of consecutive records at a time, in order (so that a
/// run can be shared out among threads while it is held).
///
/// # Errors
/// Only an error returned by `f` (e.g. a broken output pipe) or an I/O error.
pub fn read_input_windows(
    input: input::Input,
    args: &InputArgs,
    mut f: impl FnMut(Option<&Header>, &[Record<'_>]) -> std::io::Result<()>,
) -> std::io::Result<Outcome> {
    let opts = DriveOptions {
        checksum: !args.no_checksum,
        salvage: args.salvage,
    };
    let mut salvaged = Salvaged::default();
    let mut f = |header: Option<&Header>, recs: &[Record<'_>]| {
        if opts.salvage {
            for r in recs {
                salvaged.take(r);
            }
        }
        f(header, recs)
    };
    let mut summary = InputSummary::default();
    let len = match &input.source {
        input::Source::Whole(bytes) => Some(bytes.len() as u64),
        input::Source::Stream(_) => input.len,
    };
    // The header is peeked before the records so the callbacks can pick the memory model
    // from the RDB version as well as from the AUX fields.
    let r = match input.source {
        input::Source::Whole(bytes) => {
            let header = Records::new(&bytes).ok().map(|r| r.header());
            drive_slice_windows(&bytes, opts, &mut summary, &bytes, |r| {
                f(header.as_ref(), r)
            })
        }
        input::Source::Stream(reader) => {
            let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
            let header = reader
                .fill_buf()
                .ok()
                .and_then(|b| Records::new(b).ok())
                .map(|r| r.header());
            drive_reader_windows(reader, opts, &mut summary, |r| f(header.as_ref(), r))
        }
    };
    if !salvaged.is_empty() {
        // The checksum covers the skipped bytes too: it cannot tell anything more.
        summary.checksum = None;
    }
    let damage = match r {
        Ok(()) if !salvaged.is_empty() => Some(Damage {
            message: salvaged.first.map(|e| e.to_string()).unwrap_or_default(),
            unread: Some(salvaged.bytes),
            salvaged,
        }),
        Ok(()) => summary.checksum_mismatch().map(|(s, c)| Damage {
            message: format!("checksum mismatch: file says 0x{s:016x}, contents give 0x{c:016x}"),
            unread: None,
            salvaged,
        }),
        Err(DriveError::Parse(e)) => Some(Damage {
            message: e.to_string(),
            unread: len.map(|l| l.saturating_sub(e.offset)),
            salvaged,
        }),
        Err(DriveError::Io(e)) => Some(Damage {
            message: format!("offset {}: read error: {e}", summary.rdb_bytes),
            unread: None,
            salvaged,
        }),
        Err(DriveError::Callback(e)) => return Err(e),
    };
    Ok(Outcome { summary, damage })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let r = match cli.cmd {
        Cmd::Verify(a) => verify::run(&a),
        Cmd::Keys(a) => keys::run(&a),
        Cmd::Analyze(a) => analyze::run(&a),
        Cmd::Diff(a) => diff::run(&a),
        Cmd::Check(a) => check::run(&a),
    };
    match r {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::from(Exit::Ok as u8);
            }
            eprintln!("rdbscope: {e:#}");
            ExitCode::from(Exit::Error as u8)
        }
    }
}
