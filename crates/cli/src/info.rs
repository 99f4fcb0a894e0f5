//! `analyze --info FILE`: reads the server's saved outputs, pairs each with a dump, and adds
//! the live reconciliation and the memory doctor's findings to the report.

use rdbscope_analysis::doctor::{doctor, live, Ctx};
use rdbscope_analysis::report::Report;
use rdbscope_analysis::server_info::ServerInfo;

/// One `--info` file, read.
pub type Parsed = (String, ServerInfo);

/// Reads every `--info` file.
///
/// # Errors
/// A file that cannot be read or is not server output: a message naming the file (a usage
/// error, exit 2).
pub fn read(files: &[String]) -> Result<Vec<Parsed>, String> {
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
    Ok(parsed)
}

/// The allocator the servers' INFO names, when it decides the model's: `libc` when every
/// INFO says so. A `jemalloc-5.3.0` does not tell the bundled jemalloc (8-byte quantum)
/// from a distribution's (16 bytes), so it leaves the choice to the dump's evidence.
pub fn allocator(infos: &[Parsed]) -> Option<crate::keys::AllocatorArg> {
    let all_libc = !infos.is_empty()
        && infos.iter().all(|(_, i)| {
            i.info
                .get("mem_allocator")
                .is_some_and(|a| a.starts_with("libc"))
        });
    all_libc.then_some(crate::keys::AllocatorArg::Libc)
}

/// Adds what the `--info` files say to `report`; `allocator_from_info` when the model's
/// allocator was taken from them.
///
/// # Errors
/// More files than dumps, or an INFO from another server than its dump: a message naming
/// the file (a usage error, exit 2).
pub fn attach(
    parsed: Vec<Parsed>,
    allocator_from_info: bool,
    report: &mut Report,
) -> Result<(), String> {
    if parsed.is_empty() {
        return Ok(());
    }
    if parsed.len() > report.snapshot.len() {
        return Err(format!(
            "{} --info files for {} dump(s): give one per dump",
            parsed.len(),
            report.snapshot.len()
        ));
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
        let snap = &report.snapshot[d];
        let mut check = live(name, info, snap, report, how).map_err(|e| e.0)?;
        if let (Some(said), Some(used)) = (&check.allocator, &snap.allocator) {
            let libc = said.starts_with("libc");
            if allocator_from_info {
                check.notes.push(format!(
                    "the model's allocator {used} is INFO's mem_allocator"
                ));
            } else if libc != (used == "libc") {
                check.notes.push(format!(
                    "INFO says mem_allocator {said}, the model used {used}: pass --allocator to match the server"
                ));
            }
        }
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
