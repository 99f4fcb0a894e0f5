//! The findings of a report: rules over its sections, each with a severity, the evidence
//! and the next step of the usual Redis memory runbook.

use crate::aggregate::{Limits, Stats};
use crate::report::{human_bytes as mb, Finding, Report, ReportOptions, Severity};

/// Evaluates every rule; findings come most severe first, then by rule order.
pub fn evaluate(
    r: &Report,
    big_collections: &Stats,
    big_strings: &Stats,
    limits: &Limits,
    opts: &ReportOptions,
) -> Vec<Finding> {
    let t = &opts.thresholds;
    let total = r.totals.memory;
    let mut out = Vec::new();
    let mut push = |id, severity, title: String, evidence: String, next_step: &str| {
        out.push(Finding {
            id,
            severity,
            title,
            evidence,
            next_step: next_step.to_string(),
        });
    };

    if !r.complete {
        let damaged: Vec<String> = r
            .files
            .iter()
            .filter(|f| !f.complete)
            .map(|f| match &f.damage {
                Some(d) => format!("{}: {}", f.name, d.message),
                None => f.name.clone(),
            })
            .collect();
        push(
            "incomplete-input",
            Severity::Critical,
            "the report is partial: an input is damaged".to_string(),
            damaged.join("; "),
            "every figure covers only what was read before the damage; get an intact copy of the dump",
        );
    }
    let mismatched: Vec<String> = r
        .files
        .iter()
        .filter_map(|f| {
            f.checksum_mismatch
                .as_ref()
                .map(|[s, c]| format!("{}: file says {s}, contents give {c}", f.name))
        })
        .collect();
    if !mismatched.is_empty() {
        push(
            "checksum-mismatch",
            Severity::Warning,
            "all records were read; the checksum does not match: some value may be wrong".to_string(),
            mismatched.join("; "),
            "the figures cover every key, but a byte somewhere differs from what the server wrote: `rdbscope verify` decodes every value to find it; get an intact copy of the dump if one exists",
        );
    }

    for k in &r.top_keys.by_memory {
        let share = if total == 0 {
            0.0
        } else {
            k.memory as f64 * 100.0 / total as f64
        };
        if (share > t.big_key_pct && k.memory >= t.big_key_min_bytes) || k.memory > t.big_key_bytes
        {
            push(
                "big-key",
                if share > 2.0 * t.big_key_pct || k.memory > 10 * t.big_key_bytes {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!("key `{}` (db{}) holds {:.1}% of key memory", k.key, k.db, share),
                format!(
                    "{} {} with {} elements, {}",
                    k.ty,
                    k.encoding.unwrap_or("?"),
                    k.elements,
                    mb(k.memory)
                ),
                "a single big key blocks the server when deleted or read whole: split it, or remove it with UNLINK",
            );
        }
    }

    for p in &r.patterns.rows {
        let share = if total == 0 {
            0.0
        } else {
            p.memory as f64 * 100.0 / total as f64
        };
        if share > t.no_ttl_pattern_pct
            && p.keys_no_ttl >= t.no_ttl_pattern_min_keys
            && p.memory_no_ttl * 10 > p.memory * 9
        {
            push(
                "pattern-without-ttl",
                Severity::Warning,
                format!("pattern {} holds {share:.1}% of memory with no TTL", p.name),
                format!(
                    "{} keys, {}; {} keys without TTL ({})",
                    p.keys,
                    mb(p.memory),
                    p.keys_no_ttl,
                    mb(p.memory_no_ttl)
                ),
                "check whether these keys should expire (EXPIRE in the writer) or belong in another store",
            );
        }
    }

    let expired = &r.expiry.buckets[1];
    if expired.memory > t.expired_bytes {
        push(
            "expired-keys",
            Severity::Info,
            format!("{} keys had already expired at snapshot time", expired.keys),
            format!("{} ({:.1}% of key memory)", mb(expired.memory), expired.memory_pct),
            "a loading server drops them; on the live server active expiry is behind: check `expired_stale_perc` in INFO stats and `hz`",
        );
    }

    for s in &r.streams.top_pending {
        if s.pending > t.stream_pending {
            let age = s
                .oldest_pending_age_seconds
                .map_or_else(String::new, |a| format!(", oldest pending {a} s old"));
            push(
                "stream-pel",
                Severity::Warning,
                format!("stream `{}` has {} unacknowledged entries", s.key.key, s.pending),
                format!(
                    "{} groups, {} consumers, largest group PEL {}{age}",
                    s.groups, s.consumers, s.max_group_pending
                ),
                "a consumer is not acknowledging: XPENDING/XINFO CONSUMERS on the live server, then XACK or XAUTOCLAIM the stuck entries",
            );
        }
    }

    if big_collections.keys > 0 {
        push(
            "big-collections",
            Severity::Info,
            format!(
                "{} hashes/sets/sorted sets/lists have over {} elements",
                big_collections.keys, limits.big_collection_elements
            ),
            format!("{} in those keys", mb(big_collections.memory)),
            "commands over whole collections (HGETALL, SMEMBERS, DEL) are O(N) on these: use SCAN-family commands and UNLINK",
        );
    }
    if big_strings.keys > 0 {
        push(
            "big-strings",
            Severity::Info,
            format!(
                "{} strings are over {} KB",
                big_strings.keys,
                limits.big_string_bytes / 1024
            ),
            format!("{} in those keys", mb(big_strings.memory)),
            "large values cost network and latency on every read: compress them client-side or split them",
        );
    }

    for p in &r.patterns.rows {
        if p.small_strings >= t.small_strings {
            push(
                "small-strings",
                Severity::Info,
                format!("pattern {} has {} small string keys", p.name, p.small_strings),
                format!("{} keys in all, {}", p.keys, mb(p.memory)),
                "many tiny keys pay ~50-70 bytes of overhead each: packing them as fields of bucketed hashes (listpack) typically saves most of it",
            );
        }
    }

    let c = &r.reconciliation;
    if let (Some(u), Some(n), Some(pct)) = (c.used_mem_at_save, c.remainder, c.remainder_pct) {
        if pct > t.not_in_keys_pct {
            let predicted = c.predicted.as_ref().map_or(0, |p| p.used_memory);
            push(
                "memory-not-in-keys",
                Severity::Warning,
                format!("{pct:.1}% of used-mem at save is neither keys nor an idle server's baseline"),
                format!(
                    "used-mem {}; a server loading the dump: {}; expired keys held at save {}; remainder {}",
                    mb(u),
                    mb(predicted),
                    mb(c.expired_at_save),
                    mb(n.max(0) as u64)
                ),
                "look at client buffers (CLIENT LIST: omem/qbuf; kill runaway clients), the replication backlog, Lua/functions and modules; MEMORY DOCTOR / MEMORY STATS on the live server",
            );
        }
    }

    let other_dbs: u64 = r
        .totals
        .by_db
        .iter()
        .filter(|d| d.name != "db0")
        .map(|d| d.keys)
        .sum();
    // Valkey marks a cluster keyspace with `slot-info` AUX fields, Redis with SLOT_INFO
    // opcodes.
    let clusterish = r
        .snapshot
        .iter()
        .any(|s| s.slot_info_records > 0 || s.aux.iter().any(|a| a.name == "slot-info"));
    if other_dbs > 0 && clusterish {
        push(
            "cluster-nonzero-db",
            Severity::Warning,
            format!("{other_dbs} keys are in databases other than 0 of a cluster-style keyspace"),
            "the file carries slot information (SLOT_INFO records or slot-info AUX)".to_string(),
            "Redis Cluster only serves db 0: these keys cannot be reached through a cluster client",
        );
    }

    if r.anomalies.count > 0 {
        push(
            "value-anomalies",
            Severity::Warning,
            format!("{} values could not be read", r.anomalies.count),
            r.anomalies.first.first().map_or_else(String::new, |a| {
                format!("first at offset {}: {}", a.offset, a.error)
            }),
            if r.anomalies.deep {
                "their memory is not counted; the rest of the file was read: check the dump's integrity"
            } else {
                "their memory is not counted; the rest of the file was read: check the dump's integrity (`rdbscope verify`, or `analyze --deep` to decode every listpack, ziplist and intset)"
            },
        );
    }

    let folded: Vec<String> = std::iter::once(("patterns", &r.patterns))
        .chain(r.prefixes.levels.iter().map(|l| ("prefixes", l)))
        .enumerate()
        .filter(|(_, (_, t))| t.folded_by_cap)
        .map(|(i, (name, t))| {
            if i == 0 {
                format!("{name} (cap {})", t.cap)
            } else {
                format!("{name} level {i} (cap {})", t.cap)
            }
        })
        .collect();
    if !folded.is_empty() {
        push(
            "rows-folded",
            Severity::Info,
            "more distinct rows than the cap: the biggest may be inside (other)".to_string(),
            folded.join(", "),
            "rows past the cap are a deterministic sample, not the biggest: rerun with a larger --row-cap (memory grows with it) or a smaller --depth",
        );
    }

    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}
