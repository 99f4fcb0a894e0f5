//! Budgets on the command line: `--fail-on RULE` for `analyze` and `diff`, and
//! `rdbscope check REPORT... --rules FILE` over saved reports. A failed rule prints one
//! line on standard error and the command exits 4 after writing all its outputs.

use crate::Exit;
use anyhow::{Context, Result};
use rdbscope_analysis::budget::{evaluate, Failure, Rule, QUANTITIES};
use rdbscope_analysis::report::Report;

/// A rules file (TOML): `[[rule]]` tables with `fail = "QUANTITY OP VALUE"` and an
/// optional `name`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    rule: Vec<RuleEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: Option<String>,
    fail: String,
}

/// Parses one rule; growth rules only where `diff` allows them.
fn accept(text: &str, diff: bool) -> std::result::Result<Rule, String> {
    let r = Rule::parse(text)?;
    if r.needs_diff() && !diff {
        return Err(format!(
            "{text:?}: growth rules need two snapshots: use `rdbscope diff … --fail-on`"
        ));
    }
    Ok(r)
}

/// Parses `--fail-on` rules; `diff` says whether growth rules are allowed. A bad rule is
/// printed and gives the usage exit.
pub fn parse_rules(texts: &[String], diff: bool) -> std::result::Result<Vec<Rule>, Exit> {
    let mut out = Vec::new();
    for t in texts {
        match accept(t, diff) {
            Ok(r) => out.push(r),
            Err(e) => {
                eprintln!("rdbscope: --fail-on {e}");
                return Err(Exit::Usage);
            }
        }
    }
    Ok(out)
}

/// Prints each failure on standard error; whether there was any.
pub fn tell(failures: &[Failure]) -> bool {
    for f in failures {
        eprintln!("rdbscope: {f}");
    }
    !failures.is_empty()
}

/// Arguments of `check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON reports written by `analyze --json`; each is checked on its own.
    #[arg(required = true)]
    reports: Vec<String>,
    /// A TOML file of rules: `[[rule]]` tables with `fail = "memory > 6GiB"` and an
    /// optional `name`.
    #[arg(long, value_name = "FILE")]
    rules: Option<String>,
    /// A rule, `QUANTITY OP VALUE` (repeatable), as in the rules file.
    #[arg(long = "fail-on", value_name = "RULE")]
    fail_on: Vec<String>,
    #[command(flatten)]
    prom: crate::prometheus::PromArgs,
}

fn rules_file(path: &str) -> Result<std::result::Result<Vec<Rule>, Exit>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--rules {path}: cannot read"))?;
    let file: RulesFile = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rdbscope: --rules {path}: {e}");
            return Ok(Err(Exit::Usage));
        }
    };
    let mut out = Vec::new();
    for (i, r) in file.rule.iter().enumerate() {
        let rule = match accept(&r.fail, false) {
            Ok(rule) => rule,
            Err(e) => {
                eprintln!("rdbscope: --rules {path}: rule {}: {e}", i + 1);
                return Ok(Err(Exit::Usage));
            }
        };
        out.push(match &r.name {
            Some(n) => rule.named(n),
            None => rule,
        });
    }
    Ok(Ok(out))
}

/// Runs `check`.
///
/// # Errors
/// A report or the rules file cannot be read, or a report is not one this version reads.
pub fn run(args: &Args) -> Result<Exit> {
    args.prom.after(run_inner(args))
}

fn run_inner(args: &Args) -> Result<Exit> {
    let mut prom = match args.prom.start() {
        Ok(p) => p,
        Err(e) => return Ok(e),
    };
    let mut rules = match parse_rules(&args.fail_on, false) {
        Ok(r) => r,
        Err(e) => return Ok(e),
    };
    if let Some(path) = &args.rules {
        match rules_file(path)? {
            Ok(r) => rules.extend(r),
            Err(e) => return Ok(e),
        }
    }
    if rules.is_empty() {
        eprintln!("rdbscope: check needs rules: --rules FILE or --fail-on RULE ({QUANTITIES})");
        return Ok(Exit::Usage);
    }
    let mut failed = false;
    let mut damaged = false;
    for path in &args.reports {
        let text = std::fs::read_to_string(path).with_context(|| format!("{path}: cannot read"))?;
        let report = Report::from_json(&text).with_context(|| path.to_string())?;
        let failures = evaluate(&rules, &report, None);
        if let Some(e) = &mut prom {
            crate::prometheus::rules(e, Some(path), &rules, &failures);
        }
        for f in &failures {
            eprintln!("rdbscope: {path}: {f}");
        }
        failed |= !failures.is_empty();
        damaged |= crate::analyze::exit_of(&report) == Exit::Damaged;
        println!(
            "{path}: {} of {} rules failed",
            failures
                .iter()
                .map(|f| &f.rule)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            rules.len()
        );
    }
    if let Some(e) = prom {
        args.prom.finish(e)?;
    }
    Ok(if failed {
        Exit::Budget
    } else if damaged {
        Exit::Damaged
    } else {
        Exit::Ok
    })
}
