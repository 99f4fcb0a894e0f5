//! `--info`: the server's own numbers beside the dump's prediction, and a memory doctor.
//!
//! [`live`] lines up what a saved `INFO`/`MEMORY STATS`/`CLIENT LIST`/`CONFIG GET`
//! ([`ServerInfo`]) says against the report of the dump saved with it: `used_memory` and
//! the dataset against the prediction, and each overhead term side by side, saying whose
//! figure each is. [`RULES`] is the doctor: one rule a row, each reading the server's
//! numbers (and the report) and giving a finding with its evidence and next step, as the
//! on-call runbook asks (fragmentation, client output buffers, idle connections, eviction
//! policy, replication buffers, scripts, memory in no known term).

use crate::report::human_bytes as bytes;
use crate::report::{Finding, Report, Severity, Snapshot};
use crate::server_info::ServerInfo;
use serde::{Deserialize, Serialize};

/// One server's numbers against one dump's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveCheck {
    /// The `--info` file.
    pub source: String,
    /// The dump it was matched to.
    pub file: String,
    /// How it was matched (`replication id`, `order`).
    pub matched_by: String,
    /// The server's version and allocator, as INFO gives them.
    pub server: Option<String>,
    /// `mem_allocator`.
    pub allocator: Option<String>,
    /// Seconds from the dump's `ctime` to the INFO's `server_time_usec` (positive: the
    /// INFO is later).
    pub info_after_dump_s: Option<i64>,
    /// Warnings about the match (another save since, another version).
    pub notes: Vec<String>,
    /// Term by term.
    pub rows: Vec<LiveRow>,
}

/// One term: the server's figure and the dump's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveRow {
    /// What is compared.
    pub term: String,
    /// The server's figure, and where it is from (`INFO used_memory`, `MEMORY STATS …`).
    pub server: Option<u64>,
    /// Its source.
    pub server_source: String,
    /// The dump's figure (rdbscope's prediction for a fresh load), when it has one.
    pub dump: Option<u64>,
    /// `server - dump`, when both are known.
    pub difference: Option<i64>,
}

/// Why a server's output cannot be set beside a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The dump's replication id (`repl-id` AUX), if it has one.
fn dump_replid(s: &Snapshot) -> Option<&str> {
    s.replication
        .iter()
        .find(|x| x.name == "repl-id")
        .map(|x| x.value.as_str())
}

/// Lines up `info` (from the file `source`) against the dump `snap` of `report`.
///
/// # Errors
/// The INFO is from another server: both give a replication id and they differ.
pub fn live(
    source: &str,
    info: &ServerInfo,
    snap: &Snapshot,
    report: &Report,
    matched_by: &str,
) -> Result<LiveCheck, Mismatch> {
    let mut notes = Vec::new();
    if let (Some(a), Some(b)) = (dump_replid(snap), info.replid()) {
        if a != b {
            return Err(Mismatch(format!(
                "{source}: the INFO is from another server than {}: its master_replid {b} is \
                 not the dump's repl-id {a} (give the INFO saved with this dump, or pair them \
                 in order with --info per dump)",
                snap.file
            )));
        }
    }
    if let (Some(dv), Some(iv)) = (&snap.server_version, info.info.get("redis_version")) {
        if dv != iv && info.info.get("valkey_version").is_none_or(|v| v != dv) {
            notes.push(format!(
                "the dump was written by {dv}, the INFO is from {iv}: another server?"
            ));
        }
    }
    if let (Some(c), Some(t)) = (snap.ctime, info.info_u64("rdb_last_save_time")) {
        if c != t as i64 {
            notes.push(format!(
                "the INFO's last save (rdb_last_save_time {t}) is not this dump's ctime {c}: \
                 another save came between, or the INFO is from another server"
            ));
        }
    }
    let info_after_dump_s = snap
        .ctime
        .zip(info.info_u64("server_time_usec"))
        .map(|(c, us)| (us / 1_000_000) as i64 - c);
    let p = report.reconciliation.predicted.as_ref();
    let term = |name: &str| p.map(|p| p.term(name).max(0) as u64);
    let stat = |n: &str| info.stat_u64(n);
    let mut rows = Vec::new();
    let mut row = |term_name: &str, server: Option<u64>, src: &str, dump: Option<u64>| {
        if server.is_none() && dump.is_none() {
            return;
        }
        rows.push(LiveRow {
            term: term_name.to_string(),
            server,
            server_source: src.to_string(),
            dump,
            difference: server.zip(dump).map(|(s, d)| s as i64 - d as i64),
        });
    };
    row(
        "used_memory",
        info.info_u64("used_memory"),
        "INFO used_memory",
        p.map(|p| p.used_memory),
    );
    row(
        "keys (dataset)",
        info.info_u64("used_memory_dataset"),
        "INFO used_memory_dataset",
        term("keys").zip(term("dataset_adjust")).map(|(a, b)| a + b),
    );
    row(
        "startup",
        info.info_u64("used_memory_startup"),
        "INFO used_memory_startup",
        term("startup"),
    );
    row(
        "main keyspace tables",
        stat("overhead.hashtable.main").or_else(|| sum_db(info, "overhead.hashtable.main")),
        "MEMORY STATS overhead.hashtable.main",
        term("keyspace_main"),
    );
    row(
        "expires tables",
        stat("overhead.hashtable.expires").or_else(|| sum_db(info, "overhead.hashtable.expires")),
        "MEMORY STATS overhead.hashtable.expires",
        term("keyspace_expires"),
    );
    let keys = report.totals.keys;
    row(
        "bytes per key",
        stat("keys.bytes-per-key"),
        "MEMORY STATS keys.bytes-per-key",
        // As the server computes it: (used_memory - startup) / keys.
        p.filter(|_| keys > 0).map(|p| {
            p.used_memory
                .saturating_sub(p.term("startup").max(0) as u64)
                / keys
        }),
    );
    for (t, field, src) in [
        (
            "normal clients",
            "clients.normal",
            "MEMORY STATS clients.normal",
        ),
        (
            "replica buffers",
            "clients.slaves",
            "MEMORY STATS clients.slaves",
        ),
        (
            "replication backlog",
            "replication.backlog",
            "MEMORY STATS replication.backlog",
        ),
        ("AOF buffer", "aof.buffer", "MEMORY STATS aof.buffer"),
        (
            "Lua and functions caches",
            "lua.caches",
            "MEMORY STATS lua.caches",
        ),
    ] {
        row(t, stat(field), src, None);
    }
    if stat("clients.normal").is_none() {
        row(
            "normal clients",
            info.info_u64("mem_clients_normal"),
            "INFO mem_clients_normal",
            None,
        );
        row(
            "replication backlog",
            info.info_u64("mem_replication_backlog"),
            "INFO mem_replication_backlog",
            None,
        );
    }
    Ok(LiveCheck {
        source: source.to_string(),
        file: snap.file.clone(),
        matched_by: matched_by.to_string(),
        server: info
            .info
            .get("valkey_version")
            .map(|v| format!("valkey {v}"))
            .or_else(|| info.info.get("redis_version").map(|v| format!("redis {v}"))),
        allocator: info.info.get("mem_allocator").cloned(),
        info_after_dump_s,
        notes,
        rows,
    })
}

/// A MEMORY STATS per-database figure summed over the databases (`db.N.<name>`).
fn sum_db(info: &ServerInfo, name: &str) -> Option<u64> {
    let mut any = false;
    let mut sum = 0u64;
    for (k, v) in &info.memory_stats {
        if k.starts_with("db.") && k.ends_with(name) {
            any = true;
            sum += v.parse::<u64>().unwrap_or(0);
        }
    }
    any.then_some(sum)
}

/// What a doctor rule reads.
pub struct Ctx<'a> {
    /// The server's outputs.
    pub info: &'a ServerInfo,
    /// The dump's report.
    pub report: &'a Report,
    /// The `--info` file, named in findings.
    pub source: &'a str,
}

/// A doctor rule: its id and its check.
pub struct Rule {
    /// The finding's id.
    pub id: &'static str,
    /// The check.
    pub check: fn(&Ctx<'_>) -> Verdict,
}

/// Bytes of fragmentation (resident minus allocated) below which a high ratio is noise.
pub const FRAG_MIN_BYTES: u64 = 10 << 20;

/// A client group's output buffers above this are worth a finding.
pub const CLIENT_BUF_BYTES: u64 = 10 << 20;

/// Connections idle longer than this count as idle.
pub const IDLE_S: u64 = 3600;

/// The doctor's rules, in the order their findings are listed within a severity.
pub const RULES: &[Rule] = &[
    Rule {
        id: "doctor-fragmentation",
        check: fragmentation,
    },
    Rule {
        id: "doctor-client-buffers",
        check: client_buffers,
    },
    Rule {
        id: "doctor-eviction",
        check: eviction,
    },
    Rule {
        id: "doctor-replication",
        check: replication,
    },
    Rule {
        id: "doctor-scripts",
        check: scripts,
    },
    Rule {
        id: "doctor-idle-clients",
        check: idle_clients,
    },
    Rule {
        id: "doctor-dump-vs-info",
        check: dump_vs_info,
    },
];

/// Runs every rule; says so in one info finding when none fired.
pub fn doctor(ctx: &Ctx<'_>) -> Vec<Finding> {
    let mut out: Vec<Finding> = RULES
        .iter()
        .filter_map(|r| {
            (r.check)(ctx).map(|(severity, title, evidence, next_step)| Finding {
                id: r.id.to_string(),
                severity,
                title,
                evidence: format!("{evidence} (from {})", ctx.source),
                next_step,
                command: None,
            })
        })
        .collect();
    if out.is_empty() {
        out.push(Finding {
            id: "doctor-healthy".to_string(),
            severity: Severity::Info,
            title: "the server's own numbers show no memory problem".to_string(),
            evidence: format!(
                "fragmentation, client buffers, eviction policy, replication buffers, scripts and idle connections are within bounds (from {})",
                ctx.source
            ),
            next_step: "nothing to do".to_string(),
            command: None,
        });
    }
    out
}

/// A rule's finding: severity, title, evidence, next step.
pub type Verdict = Option<(Severity, String, String, String)>;

fn fragmentation(c: &Ctx<'_>) -> Verdict {
    let i = c.info;
    let ratio = i.info_f64("mem_fragmentation_ratio")?;
    let used = i.info_u64("used_memory")?;
    let rss = i.info_u64("used_memory_rss")?;
    let alloc = i.info_f64("allocator_frag_ratio");
    if ratio < 1.0 && used >= 64 << 20 {
        return Some((
            Severity::Warning,
            format!("resident memory below used_memory (ratio {ratio:.2}): the server swaps"),
            format!(
                "used_memory {}, used_memory_rss {}",
                bytes(used),
                bytes(rss)
            ),
            "give the host memory or lower maxmemory; disable swap for Redis hosts".to_string(),
        ));
    }
    let extra = rss.saturating_sub(used);
    if ratio <= 1.5 || extra < FRAG_MIN_BYTES {
        return None;
    }
    let by_allocator = alloc.is_some_and(|a| a > 1.5);
    let severity = if ratio > 3.0 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    Some((
        severity,
        format!(
            "memory fragmentation {ratio:.2}: {} resident beyond the {} allocated",
            bytes(extra),
            bytes(used)
        ),
        format!(
            "mem_fragmentation_ratio {ratio:.2}, allocator_frag_ratio {}, used_memory {}, used_memory_rss {}",
            alloc.map_or("?".to_string(), |a| format!("{a:.2}")),
            bytes(used),
            bytes(rss)
        ),
        if by_allocator {
            "the allocator holds freed pages: MEMORY PURGE now; CONFIG SET activedefrag yes (active-defrag-ignore-bytes 100mb, active-defrag-threshold-lower 10) to keep it down; a restart from the dump returns it all".to_string()
        } else {
            "MEMORY PURGE, then activedefrag yes; if the ratio stays, restart the server from a fresh dump (or fail over to a replica)".to_string()
        },
    ))
}

fn client_buffers(c: &Ctx<'_>) -> Verdict {
    let mut groups: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    for cl in &c.info.clients {
        let omem = cl.u64("omem").unwrap_or(0);
        let name = cl.get("name").filter(|n| !n.is_empty());
        let key = match name {
            Some(n) => format!("name={n}"),
            None => format!(
                "addr={} cmd={}",
                cl.get("addr")
                    .and_then(|a| a.rsplit_once(':'))
                    .map_or("?", |(h, _)| h),
                cl.get("cmd").unwrap_or("?")
            ),
        };
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += omem;
    }
    let (group, (n, omem)) = groups.into_iter().max_by_key(|(_, (_, m))| *m)?;
    let used = c.info.info_u64("used_memory").unwrap_or(u64::MAX);
    if omem < CLIENT_BUF_BYTES && omem.saturating_mul(10) < used {
        return None;
    }
    Some((
        Severity::Critical,
        format!("client output buffers: {group} holds {}", bytes(omem)),
        format!(
            "{n} client(s) {group}, omem {} in all, {:.0}% of used_memory {}",
            bytes(omem),
            omem as f64 * 100.0 / used.max(1) as f64,
            bytes(used)
        ),
        "a slow reader or a stuck subscriber: CLIENT KILL ID <id> (see CLIENT LIST), and set client-output-buffer-limit (pubsub 32mb 8mb 60, normal 256mb 64mb 60) so the server drops it next time".to_string(),
    ))
}

fn eviction(c: &Ctx<'_>) -> Verdict {
    let i = c.info;
    let policy = i
        .info
        .get("maxmemory_policy")
        .map(String::as_str)
        .or_else(|| i.config("maxmemory-policy"))?;
    let max = i
        .info_u64("maxmemory")
        .or_else(|| i.config("maxmemory").and_then(|v| v.parse().ok()))?;
    let used = i.info_u64("used_memory")?;
    let keys = c.report.totals.memory;
    if max == 0 {
        return Some((
            Severity::Info,
            format!("no maxmemory (policy {policy}): the server grows until the host runs out"),
            format!("maxmemory 0, used_memory {}, keys in the dump {}", bytes(used), bytes(keys)),
            format!(
                "set maxmemory below the host's memory, e.g. {} (the dump's keys plus the overhead seen, with 25% headroom), and a policy that fits the data (allkeys-lru for a cache)",
                bytes(used.max(keys) / 4 * 5)
            ),
        ));
    }
    let pct = used as f64 * 100.0 / max as f64;
    if policy == "noeviction" && pct >= 90.0 {
        return Some((
            Severity::Critical,
            format!("noeviction at {pct:.0}% of maxmemory: writes will fail with OOM"),
            format!("used_memory {} of maxmemory {}", bytes(used), bytes(max)),
            "raise maxmemory, delete or expire keys (see the patterns without TTL), or choose an eviction policy".to_string(),
        ));
    }
    None
}

fn replication(c: &Ctx<'_>) -> Verdict {
    let i = c.info;
    let used = i.info_u64("used_memory")?;
    let backlog = i.info_u64("mem_replication_backlog").unwrap_or(0);
    let replicas = i.info_u64("mem_clients_slaves").unwrap_or(0);
    let total = backlog + replicas;
    if total < 64 << 20 && total.saturating_mul(10) < used {
        return None;
    }
    Some((
        Severity::Warning,
        format!("replication holds {}", bytes(total)),
        format!(
            "mem_replication_backlog {}, mem_clients_slaves {}, used_memory {}",
            bytes(backlog),
            bytes(replicas),
            bytes(used)
        ),
        "a lagging replica or a large repl-backlog-size: check INFO replication lag, lower repl-backlog-size, set client-output-buffer-limit replica".to_string(),
    ))
}

fn scripts(c: &Ctx<'_>) -> Verdict {
    let i = c.info;
    let s = i
        .info_u64("used_memory_scripts_eval")
        .or_else(|| i.info_u64("used_memory_lua"))?
        + i.info_u64("used_memory_vm_eval").unwrap_or(0);
    if s < 64 << 20 {
        return None;
    }
    Some((
        Severity::Warning,
        format!("Lua scripts hold {}", bytes(s)),
        format!("used_memory_scripts_eval/used_memory_lua {}", bytes(s)),
        "scripts loaded with EVAL of generated text fill the cache: SCRIPT FLUSH, and use EVALSHA with fixed scripts or functions".to_string(),
    ))
}

fn idle_clients(c: &Ctx<'_>) -> Verdict {
    let idle: Vec<_> = c
        .info
        .clients
        .iter()
        .filter(|cl| cl.u64("idle").is_some_and(|s| s >= IDLE_S))
        .collect();
    if idle.len() < 100 {
        return None;
    }
    let timeout = c.info.config("timeout").unwrap_or("?");
    Some((
        Severity::Info,
        format!("{} connections idle for over an hour", idle.len()),
        format!(
            "{} of {} clients idle ≥ {IDLE_S} s; timeout {timeout}",
            idle.len(),
            c.info.clients.len()
        ),
        "set timeout (e.g. 300) or fix the pool that leaks connections; each holds buffers"
            .to_string(),
    ))
}

fn dump_vs_info(c: &Ctx<'_>) -> Verdict {
    let data = c.info.info_u64("used_memory_dataset")?;
    let p = c.report.reconciliation.predicted.as_ref()?;
    let predicted = (p.term("keys") + p.term("dataset_adjust")).max(0) as u64;
    if c.report.totals.keys == 0 || data < 16 << 20 {
        return None;
    }
    let ratio = data as f64 / predicted.max(1) as f64;
    if (0.67..=1.5).contains(&ratio) {
        return None;
    }
    let (title, next) = if ratio > 1.0 {
        (
            format!("the server's dataset is {ratio:.1}× the dump's keys"),
            "the dump is older than the INFO (keys written since), or memory sits in something the dump does not hold (module data, client query buffers counted as dataset): take a fresh dump with the INFO",
        )
    } else {
        (
            format!("the server's dataset is {:.0}% of the dump's keys", ratio * 100.0),
            "the INFO is later than the dump and keys were deleted or evicted since, or it is from another server",
        )
    };
    Some((
        Severity::Warning,
        title,
        format!(
            "used_memory_dataset {} against the dump's predicted keys {}",
            bytes(data),
            bytes(predicted)
        ),
        next.to_string(),
    ))
}
