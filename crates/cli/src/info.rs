//! `analyze --info FILE`: reads the server's saved outputs, pairs each with a dump, and adds
//! the live reconciliation and the memory doctor's findings to the report.

use rdbscope_analysis::doctor::{doctor, live, Ctx};
use rdbscope_analysis::report::Report;
use rdbscope_analysis::server_info::ServerInfo;

/// Reads every `--info` file and adds what it says to `report`.
///
/// # Errors
/// A file that cannot be read or is not server output, more files than dumps, or an INFO
/// from another server than its dump: a message naming the file (a usage error, exit 2).
pub fn attach(files: &[String], report: &mut Report) -> Result<(), String> {
    if files.is_empty() {
        return Ok(());
    }
    if files.len() > report.snapshot.len() {
        return Err(format!(
            "{} --info files for {} dump(s): give one per dump",
            files.len(),
            report.snapshot.len()
        ));
    }
    let mut parsed = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| format!("{f}: cannot read --info: {e}"))?;
        let text = String::from_utf8_lossy(&bytes);
        let info = ServerInfo::parse(&text).map_err(|e| {
            format!(
                "{f}: not the saved output of INFO, MEMORY STATS, CLIENT LIST or CONFIG GET: {e}"
            )
        })?;
        parsed.push((f.clone(), info));
    }
    // A dump with a replication id takes the INFO that names it; the others go in order.
    let mut taken = vec![false; report.snapshot.len()];
    let mut pairs: Vec<(usize, usize, &str)> = Vec::new();
    for (i, (_, info)) in parsed.iter().enumerate() {
        let by_id = info.replid().and_then(|id| {
            report.snapshot.iter().position(|s| {
                s.replication
                    .iter()
                    .any(|x| x.name == "repl-id" && x.value == id)
            })
        });
        if let Some(d) = by_id.filter(|&d| !taken[d]) {
            taken[d] = true;
            pairs.push((i, d, "replication id"));
        }
    }
    for i in 0..parsed.len() {
        if pairs.iter().any(|p| p.0 == i) {
            continue;
        }
        let Some(d) = taken.iter().position(|t| !t) else {
            break;
        };
        taken[d] = true;
        pairs.push((i, d, "order"));
    }
    pairs.sort();
    let mut checks = Vec::new();
    let mut findings = Vec::new();
    for (i, d, how) in pairs {
        let (name, info) = &parsed[i];
        let check = live(name, info, &report.snapshot[d], report, how).map_err(|e| e.0)?;
        findings.extend(doctor(&Ctx {
            info,
            report,
            source: name,
        }));
        checks.push(check);
    }
    report.live = checks;
    report.findings.extend(findings);
    // Most severe first, as the dump's own findings are; a stable sort keeps each rule
    // table's order within a severity.
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok(())
}

/// The live reconciliation of one server, as lines for the terminal.
pub fn lines(c: &rdbscope_analysis::doctor::LiveCheck) -> Vec<String> {
    let b = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| format!("{n} B"));
    let mut out = vec![format!(
        "{}{}, matched to {} by {}{}",
        c.server.as_deref().unwrap_or("server"),
        c.allocator
            .as_ref()
            .map_or(String::new(), |a| format!(", {a}")),
        c.file,
        c.matched_by,
        c.info_after_dump_s.map_or(String::new(), |s| format!(
            "; INFO taken {s} s after the dump's ctime"
        )),
    )];
    out.extend(c.notes.iter().map(|n| format!("NOTE: {n}")));
    out.push(format!(
        "{:<28} {:>16} {:>16} {:>16}  {}",
        "term", "server", "dump predicts", "server - dump", "server's figure"
    ));
    for r in &c.rows {
        out.push(format!(
            "{:<28} {:>16} {:>16} {:>16}  {}",
            r.term,
            b(r.server),
            b(r.dump),
            r.difference
                .map_or_else(|| "-".to_string(), |d| format!("{d:+} B")),
            r.server_source
        ));
    }
    out
}
