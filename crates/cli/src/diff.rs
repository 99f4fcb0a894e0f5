//! `rdbscope diff OLD NEW`: what changed between two snapshots, two sets of shards, or two
//! saved reports (`analyze --json`). Dumps are analysed with `analyze`'s options, both
//! sides at once; reports are read back as they were written.

use crate::analyze::{report_of, tell_damage, ColorArg, ReportArgs};
use crate::Exit;
use anyhow::{Context, Result};
use rdbscope_analysis::diff::{diff, DiffOptions, ReportDiff};
use rdbscope_analysis::diff_keys::{compare, KeySpill, KeysDiff};
use rdbscope_analysis::report::Report;
use std::io::Write;

/// Arguments of `diff`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// OLD and NEW: each a dump or a JSON report written by `analyze --json`. For several
    /// shards on a side use --old/--new instead.
    #[arg(num_args = 0..=2, value_names = ["OLD", "NEW"])]
    sides: Vec<String>,
    /// An old-side input (repeatable: the shards of one snapshot, merged as `analyze` does).
    #[arg(long = "old", value_name = "FILE")]
    old: Vec<String>,
    /// A new-side input (repeatable).
    #[arg(long = "new", value_name = "FILE")]
    new: Vec<String>,
    /// Write the diff as JSON here (`-` for standard output, replacing the summary).
    #[arg(long, value_name = "OUT")]
    json: Option<String>,
    /// Also the exact per-key diff: keys that appeared, disappeared, changed type, grew or
    /// shrank most, lost a TTL. Both sides must be dumps (plain files); keys are spilled
    /// to temporary files under $TMPDIR (about 30 bytes plus the key each), so memory
    /// stays bounded.
    #[arg(long)]
    keys: bool,
    /// Write each section of the diff as a CSV file in this directory.
    #[arg(long, value_name = "DIR")]
    csv_dir: Option<std::path::PathBuf>,
    /// Colour in the summary: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
    /// A budget rule (repeatable), also over growth: `growth.memory > 10%`,
    /// `growth.memory-per-day > 1GiB`, `growth.pattern(cache:*).memory > 100MiB`; rules
    /// on a report's figures read the new side. Exit 4 when one fails (docs/audit.md).
    #[arg(long = "fail-on", value_name = "RULE")]
    fail_on: Vec<String>,
    #[command(flatten)]
    prom: crate::prometheus::PromArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// Whether `path` holds a JSON report rather than a dump: its first non-blank byte is `{`.
fn is_report(path: &str) -> bool {
    use std::io::Read;
    if path == "-" {
        return false;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// One side's report: read back from JSON, or analysed from dumps.
fn side(files: &[String], args: &ReportArgs, quiet: bool) -> Result<Result<Report, Exit>> {
    let reports = files.iter().filter(|f| is_report(f)).count();
    match (reports, files.len()) {
        (0, _) => report_of(files, args, quiet),
        (1, 1) => {
            let path = &files[0];
            let text =
                std::fs::read_to_string(path).with_context(|| format!("{path}: cannot read"))?;
            Report::from_json(&text)
                .map(Ok)
                .with_context(|| path.to_string())
        }
        _ => {
            eprintln!(
                "rdbscope: a side is either dumps or one JSON report, not a mix: {}",
                files.join(", ")
            );
            Ok(Err(Exit::Usage))
        }
    }
}

/// Runs `diff`.
///
/// # Errors
/// An input cannot be read, a report is not one this version reads, an output cannot be
/// written.
pub fn run(args: &Args) -> Result<Exit> {
    args.prom.after(run_inner(args))
}

fn run_inner(args: &Args) -> Result<Exit> {
    let prom = match args.prom.start() {
        Ok(p) => p,
        Err(e) => return Ok(e),
    };
    let (old, new) = match (
        args.sides.as_slice(),
        args.old.is_empty(),
        args.new.is_empty(),
    ) {
        ([o, n], true, true) => (vec![o.clone()], vec![n.clone()]),
        ([], false, false) => (args.old.clone(), args.new.clone()),
        _ => {
            eprintln!("rdbscope: diff takes OLD NEW, or --old FILE... --new FILE...");
            return Ok(Exit::Usage);
        }
    };
    let rules = match crate::check::parse_rules(&args.fail_on, true) {
        Ok(r) => r,
        Err(e) => return Ok(e),
    };
    if args.keys && old.iter().chain(&new).any(|f| is_report(f)) {
        eprintln!("rdbscope: diff --keys needs dumps on both sides, not saved reports");
        return Ok(Exit::Usage);
    }
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| side(&old, &args.report, true));
        let b = side(&new, &args.report, true);
        (a.join(), b)
    });
    let a = a.map_err(|_| anyhow::anyhow!("the old side's analysis failed"))?;
    let (old_r, new_r) = match (a?, b?) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return Ok(e),
    };
    let mut d = diff(
        &old_r,
        &new_r,
        &DiffOptions {
            rows: args.report.rows_or(50),
        },
    );
    if args.keys {
        d.keys = Some(keys_diff(&old, &new, args)?);
    }
    write_outputs(args, &d)?;
    tell_damage(&old_r);
    tell_damage(&new_r);
    let failures = rdbscope_analysis::budget::evaluate(&rules, &new_r, Some(&d));
    if let Some(mut e) = prom {
        crate::prometheus::report(&mut e, &new_r, args.report.rows_or(50));
        crate::prometheus::diff(&mut e, &d);
        crate::prometheus::rules(&mut e, None, &rules, &failures);
        args.prom.finish(e)?;
    }
    if crate::check::tell(&failures) {
        return Ok(Exit::Budget);
    }
    Ok(if old_r.complete && new_r.complete {
        crate::analyze::exit_of(&old_r).max(crate::analyze::exit_of(&new_r))
    } else {
        Exit::Damaged
    })
}

/// Spills one side's keys.
fn spill(files: &[String], side: &str, dir: &std::path::Path, args: &Args) -> Result<KeySpill> {
    let (choice, filter) = args.report.key_sizing()?;
    let mut spill =
        KeySpill::new(dir, side).context("diff --keys: cannot create temporary files")?;
    for f in files {
        let inp = crate::input::open(f, false)?;
        let crate::input::Source::Whole(bytes) = &inp.source else {
            anyhow::bail!(
                "{f}: diff --keys reads plain dump files; this one is a stream \
                 (standard input, LZ4 or VCS): write it out as a file first"
            );
        };
        if let Some(e) = spill
            .add_dump(bytes, &choice, &filter)
            .context("diff --keys: cannot write temporary files")?
        {
            eprintln!("{f}: {e} (diff --keys covers the keys before it)");
        }
    }
    Ok(spill)
}

/// The exact per-key diff of the two sides' dumps.
fn keys_diff(old: &[String], new: &[String], args: &Args) -> Result<KeysDiff> {
    let dir = tempfile::Builder::new()
        .prefix("rdbscope-diff-keys-")
        .tempdir()
        .context("diff --keys: cannot create a temporary directory")?;
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spill(old, "old", dir.path(), args));
        let b = spill(new, "new", dir.path(), args);
        (a.join(), b)
    });
    let a = a.map_err(|_| anyhow::anyhow!("the old side's keys could not be read"))??;
    compare(a, b?, args.report.top_or(20)).context("diff --keys: cannot read temporary files")
}

fn write_outputs(args: &Args, d: &ReportDiff) -> Result<()> {
    let to_stdout = args.json.as_deref() == Some("-");
    if let Some(path) = &args.json {
        crate::output::emit(path, &d.to_json())?;
    }
    if let Some(dir) = &args.csv_dir {
        crate::diff_csv::write_dir(dir, d)?;
    }
    if !to_stdout {
        let color = args.color.on();
        let levels = if args.report.depth_given() {
            usize::MAX
        } else {
            1
        };
        let text = crate::render_diff::summary(d, args.report.rows_or(10), levels, color);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
    }
    Ok(())
}
