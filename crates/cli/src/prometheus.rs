//! `--prometheus FILE`: the Prometheus text exposition format (0.0.4) as node_exporter's
//! textfile collector reads it, written atomically. Every family is a gauge with `# HELP`
//! and `# TYPE`, in base units; keys are never labels (cardinality), only pattern and
//! prefix rows, at most `rows` of them plus `(other)`. `docs/prometheus.md` lists the
//! families.

use rdbscope_analysis::budget::{Failure, Rule};
use rdbscope_analysis::diff::ReportDiff;
use rdbscope_analysis::report::{Report, Table};
use std::collections::BTreeMap;
use std::fmt::Write;

/// A label value escaped per the format: backslash, double quote and line feed.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// A sample's labels and value.
type Sample = (Vec<(String, String)>, f64);

/// Families in the order they are added, each with its samples.
pub struct Exposition {
    /// Labels put on every sample (`--prometheus-label`).
    common: Vec<(String, String)>,
    /// Name, help, samples.
    families: Vec<(String, String, Vec<Sample>)>,
}

impl Exposition {
    /// An exposition whose samples all carry `common` labels.
    pub fn new(common: Vec<(String, String)>) -> Self {
        Exposition {
            common,
            families: Vec::new(),
        }
    }

    /// Adds a sample to family `name` (created with `help` on first use).
    fn add(&mut self, name: &str, help: &str, labels: &[(&str, &str)], v: f64) {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match self.families.iter_mut().find(|f| f.0 == name) {
            Some(f) => f.2.push((labels, v)),
            None => self
                .families
                .push((name.to_string(), help.to_string(), vec![(labels, v)])),
        }
    }

    /// The text: `# HELP`, `# TYPE … gauge`, samples; ends with a newline.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (name, help, samples) in &self.families {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, v) in samples {
                let all: Vec<String> = self
                    .common
                    .iter()
                    .chain(labels)
                    .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
                    .collect();
                let v = if v.fract() == 0.0 && v.abs() < 9e15 {
                    format!("{}", *v as i64)
                } else {
                    format!("{v}")
                };
                if all.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{}}} {v}", all.join(","));
                }
            }
        }
        out
    }
}

/// Checks a `--prometheus-label NAME=VALUE`: a valid label name, not one rdbscope uses.
pub fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("--prometheus-label {s:?}: expected NAME=VALUE"))?;
    let ok = !k.is_empty()
        && !k.starts_with("__")
        && k.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    const OURS: [&str; 11] = [
        "db", "type", "encoding", "pattern", "prefix", "bucket", "term", "severity", "rule",
        "report", "file",
    ];
    if !ok || OURS.contains(&k) {
        return Err(format!(
            "--prometheus-label {s:?}: {k:?} is not a label name of its own (letters, digits, \
             _; not one of {})",
            OURS.join(", ")
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

fn rows(e: &mut Exposition, t: &Table, label: &str, what: &str, rows: usize) {
    let mut other = t.other.clone();
    for (i, r) in t.rows.iter().enumerate() {
        if i >= rows {
            other.keys += r.keys;
            other.memory += r.memory;
            other.memory_no_ttl += r.memory_no_ttl;
            continue;
        }
        let l = [(label, r.name.as_str())];
        e.add(
            &format!("rdbscope_{label}_memory_bytes"),
            &format!("Predicted memory of the keys of each {what} (MEMORY USAGE, summed)."),
            &l,
            r.memory as f64,
        );
        e.add(
            &format!("rdbscope_{label}_keys"),
            &format!("Keys of each {what}."),
            &l,
            r.keys as f64,
        );
        e.add(
            &format!("rdbscope_{label}_memory_no_ttl_bytes"),
            &format!("Memory of the keys of each {what} that have no TTL."),
            &l,
            r.memory_no_ttl as f64,
        );
    }
    let l = [(label, "(other)")];
    e.add(
        &format!("rdbscope_{label}_memory_bytes"),
        "",
        &l,
        other.memory as f64,
    );
    e.add(&format!("rdbscope_{label}_keys"), "", &l, other.keys as f64);
    e.add(
        &format!("rdbscope_{label}_memory_no_ttl_bytes"),
        "",
        &l,
        other.memory_no_ttl as f64,
    );
}

/// `rdbscope_{family}_memory_bytes` and `rdbscope_{family}_keys` of one row.
fn pair(e: &mut Exposition, family: &str, what: &str, l: &[(&str, &str)], keys: u64, memory: u64) {
    e.add(
        &format!("rdbscope_{family}_memory_bytes"),
        &format!("Predicted memory of the keys of each {what}."),
        l,
        memory as f64,
    );
    e.add(
        &format!("rdbscope_{family}_keys"),
        &format!("Keys of each {what}."),
        l,
        keys as f64,
    );
}

/// The families of one report, `rows` pattern and first-level prefix rows each.
pub fn report(e: &mut Exposition, r: &Report, rows_kept: usize) {
    for s in &r.snapshot {
        if let Some(c) = s.ctime {
            e.add(
                "rdbscope_snapshot_timestamp_seconds",
                "When the snapshot was saved (its ctime), Unix seconds, per file.",
                &[("file", s.file.as_str())],
                c as f64,
            );
        }
    }
    e.add(
        "rdbscope_complete",
        "1 when every file was read whole, 0 when a file was damaged (a partial report).",
        &[],
        f64::from(u8::from(r.complete)),
    );
    let t = &r.totals;
    e.add(
        "rdbscope_keys",
        "Keys in the snapshot(s).",
        &[],
        t.keys as f64,
    );
    e.add(
        "rdbscope_keys_with_ttl",
        "Keys with a TTL.",
        &[],
        t.keys_with_ttl as f64,
    );
    e.add(
        "rdbscope_keys_expired",
        "Keys already expired at the snapshot's time.",
        &[],
        t.keys_expired as f64,
    );
    e.add(
        "rdbscope_memory_bytes",
        "Predicted memory of all keys (MEMORY USAGE, summed).",
        &[],
        t.memory as f64,
    );
    for s in &t.by_db {
        let db = s.name.strip_prefix("db").unwrap_or(&s.name);
        pair(e, "db", "database", &[("db", db)], s.keys, s.memory);
    }
    for s in &t.by_type {
        pair(e, "type", "type", &[("type", &s.name)], s.keys, s.memory);
    }
    for s in &t.by_encoding {
        let (ty, enc) = s.name.split_once('/').unwrap_or((&s.name, ""));
        let l = [("type", ty), ("encoding", enc)];
        pair(
            e,
            "encoding",
            "type and encoding after load",
            &l,
            s.keys,
            s.memory,
        );
    }
    rows(e, &r.patterns, "pattern", "inferred key pattern", rows_kept);
    if let Some(l1) = r.prefixes.levels.first() {
        rows(e, l1, "prefix", "first-level prefix", rows_kept);
    }
    for b in &r.expiry.buckets {
        let l = [("bucket", b.bucket.as_str())];
        pair(
            e,
            "expiry",
            "TTL bucket (time left at the snapshot's time)",
            &l,
            b.keys,
            b.memory,
        );
    }
    e.add(
        "rdbscope_biggest_key_bytes",
        "Memory of the biggest key.",
        &[],
        r.top_keys.by_memory.first().map_or(0, |k| k.memory) as f64,
    );
    e.add(
        "rdbscope_streams",
        "Streams.",
        &[],
        r.streams.streams as f64,
    );
    e.add(
        "rdbscope_stream_pending_entries",
        "Pending entries over all streams' consumer groups.",
        &[],
        r.streams.pending as f64,
    );
    e.add(
        "rdbscope_stream_pending_entries_max",
        "Pending entries of the stream with the most.",
        &[],
        r.streams.top_pending.first().map_or(0, |s| s.pending) as f64,
    );
    let rec = &r.reconciliation;
    if let Some(p) = &rec.predicted {
        e.add(
            "rdbscope_predicted_used_memory_bytes",
            "used_memory predicted for a server loading the snapshot(s).",
            &[],
            p.used_memory as f64,
        );
        for term in &p.terms {
            e.add(
                "rdbscope_predicted_used_memory_term_bytes",
                "The terms of the predicted used_memory (signed).",
                &[("term", term.name.as_str())],
                term.bytes as f64,
            );
        }
    }
    if let Some(u) = rec.used_mem_at_save {
        e.add(
            "rdbscope_used_mem_at_save_bytes",
            "used-mem the server recorded in the snapshot when it saved.",
            &[],
            u as f64,
        );
    }
    if let Some(x) = rec.remainder {
        e.add(
            "rdbscope_not_in_keys_bytes",
            "used-mem at save minus the predicted used_memory and the expired keys (signed).",
            &[],
            x as f64,
        );
    }
    let mut by_sev: BTreeMap<&str, u64> = ["info", "warning", "critical"]
        .into_iter()
        .map(|s| (s, 0))
        .collect();
    for f in &r.findings {
        let s = match f.severity {
            rdbscope_analysis::report::Severity::Info => "info",
            rdbscope_analysis::report::Severity::Warning => "warning",
            rdbscope_analysis::report::Severity::Critical => "critical",
        };
        *by_sev.entry(s).or_default() += 1;
    }
    for (s, n) in by_sev {
        e.add(
            "rdbscope_findings",
            "Findings of each severity.",
            &[("severity", s)],
            n as f64,
        );
    }
}

/// The families of a diff (growth between the two snapshots).
pub fn diff(e: &mut Exposition, d: &ReportDiff) {
    let t = &d.totals;
    if let Some(s) = d.elapsed_seconds {
        e.add(
            "rdbscope_diff_elapsed_seconds",
            "Seconds between the two snapshots (their ctimes).",
            &[],
            s as f64,
        );
    }
    e.add(
        "rdbscope_diff_memory_growth_bytes",
        "Change of the keys' memory from the old snapshot to the new (signed).",
        &[],
        t.memory.delta as f64,
    );
    e.add(
        "rdbscope_diff_keys_growth",
        "Change of the key count (signed).",
        &[],
        t.keys.delta as f64,
    );
    if let Some(v) = t.memory_per_day {
        e.add(
            "rdbscope_diff_memory_growth_bytes_per_day",
            "Memory growth per day between the two snapshots (signed).",
            &[],
            v,
        );
    }
    if let Some(p) = &d.projection {
        e.add(
            "rdbscope_maxmemory_bytes",
            "maxmemory of the new side's servers, summed.",
            &[],
            p.maxmemory as f64,
        );
        if let Some(days) = p.days_until_full {
            e.add(
                "rdbscope_seconds_until_maxmemory",
                "Seconds until the predicted used_memory reaches maxmemory, linearly extrapolated.",
                &[],
                (days * 86_400.0).round(),
            );
        }
    }
    for r in &d.patterns.rows {
        e.add(
            "rdbscope_diff_pattern_memory_growth_bytes",
            "Change of each pattern's memory (signed), biggest changes.",
            &[("pattern", r.name.as_str())],
            r.memory.delta as f64,
        );
    }
    e.add(
        "rdbscope_diff_pattern_memory_growth_bytes",
        "",
        &[("pattern", "(other)")],
        d.patterns.rest.memory.delta as f64,
    );
    e.add(
        "rdbscope_diff_lost_ttl_patterns",
        "Patterns whose share of memory without a TTL rose.",
        &[],
        d.lost_ttl.len() as f64,
    );
    e.add(
        "rdbscope_diff_findings_appeared",
        "Findings in the new report that were not in the old.",
        &[],
        d.findings.appeared.len() as f64,
    );
}

/// One sample per rule: 1 when it failed (on any row), 0 when it held; `check` labels
/// each with the `report` it read.
pub fn rules(e: &mut Exposition, report: Option<&str>, rules: &[Rule], failures: &[Failure]) {
    for r in rules {
        let failed = f64::from(u8::from(failures.iter().any(|f| f.rule == r.text)));
        let help = "1 when the budget rule failed, 0 when it held.";
        match report {
            Some(p) => e.add(
                "rdbscope_rule_failed",
                help,
                &[("report", p), ("rule", r.text.as_str())],
                failed,
            ),
            None => e.add(
                "rdbscope_rule_failed",
                help,
                &[("rule", r.text.as_str())],
                failed,
            ),
        }
    }
}

/// `rdbscope_last_run_success`: 1 when the run produced its report, 0 when it could not.
pub fn success(e: &mut Exposition, ok: bool) {
    e.add(
        "rdbscope_last_run_success",
        "1 when the last rdbscope run read its inputs and wrote its report, 0 when it failed.",
        &[],
        f64::from(u8::from(ok)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_checked() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert!(parse_label("shard=eu-1").is_ok());
        assert!(parse_label("pattern=x").is_err());
        assert!(parse_label("1x=y").is_err());
        assert!(parse_label("novalue").is_err());
        let mut e = Exposition::new(vec![("shard".into(), "a".into())]);
        e.add("rdbscope_x_bytes", "An x.", &[("pattern", "p\"q")], 1.0);
        e.add("rdbscope_x_bytes", "", &[("pattern", "r")], 2.5);
        assert_eq!(
            e.text(),
            "# HELP rdbscope_x_bytes An x.\n# TYPE rdbscope_x_bytes gauge\n\
             rdbscope_x_bytes{shard=\"a\",pattern=\"p\\\"q\"} 1\n\
             rdbscope_x_bytes{shard=\"a\",pattern=\"r\"} 2.5\n"
        );
    }
}

/// The `--prometheus` options, shared by `analyze`, `diff` and `check`.
#[derive(clap::Args, Debug, Clone)]
pub struct PromArgs {
    /// Write the Prometheus text exposition here (for node_exporter's textfile collector),
    /// atomically; on a failed run it holds `rdbscope_last_run_success 0`.
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<std::path::PathBuf>,
    /// A label put on every series, `NAME=VALUE` (repeatable), e.g. `redis=cache-1`
    /// (Prometheus sets `instance` and `job` itself).
    #[arg(long = "prometheus-label", value_name = "NAME=VALUE")]
    pub labels: Vec<String>,
}

impl PromArgs {
    /// The exposition to fill, or `None` without `--prometheus`; a bad label is printed
    /// and gives the usage exit.
    pub fn start(&self) -> Result<Option<Exposition>, crate::Exit> {
        if self.prometheus.is_none() {
            return Ok(None);
        }
        let mut common = Vec::new();
        for l in &self.labels {
            match parse_label(l) {
                Ok(kv) => common.push(kv),
                Err(e) => {
                    eprintln!("rdbscope: {e}");
                    return Err(crate::Exit::Usage);
                }
            }
        }
        Ok(Some(Exposition::new(common)))
    }

    /// Writes `e` (with `rdbscope_last_run_success 1`).
    pub fn finish(&self, mut e: Exposition) -> anyhow::Result<()> {
        success(&mut e, true);
        match &self.prometheus {
            Some(p) => crate::output::write_atomic(p, e.text().as_bytes()),
            None => Ok(()),
        }
    }

    /// After a run that failed (`result` an error or a usage exit) writes
    /// `rdbscope_last_run_success 0`, so the alert on it fires; passes `result` on.
    pub fn after(&self, result: anyhow::Result<crate::Exit>) -> anyhow::Result<crate::Exit> {
        let failed = matches!(result, Err(_) | Ok(crate::Exit::Usage | crate::Exit::Error));
        if let (true, Some(p)) = (failed, &self.prometheus) {
            let common = self
                .labels
                .iter()
                .filter_map(|l| parse_label(l).ok())
                .collect();
            let mut e = Exposition::new(common);
            success(&mut e, false);
            if let Err(w) = crate::output::write_atomic(p, e.text().as_bytes()) {
                eprintln!("rdbscope: {w:#}");
            }
        }
        result
    }
}
