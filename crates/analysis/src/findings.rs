//! The findings of a report: rules over its sections, each with a severity, the evidence
//! and the next step of the usual Redis memory runbook.

use crate::aggregate::{Limits, Stats};
use crate::report::{human_bytes as mb, Finding, Report, ReportOptions, Severity};

/// `1 element`, `2 elements`.
fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", grouped(n))
    }
}

/// `1234567` as `1,234,567`: counts in findings are read by people.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn pct_of(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A setting's value as recorded in the first file's snapshot.
fn setting<'a>(r: &'a Report, name: &str) -> Option<&'a str> {
    r.snapshot
        .first()?
        .settings
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.value.as_str())
}

/// The file as a command names it: the one file, or `FILE` when there are several.
/// The file argument of the `rdbscope` commands a finding prints: the one file, `-`, or
/// `FILE` for several.
pub fn file_arg(r: &Report) -> String {
    match r.files.as_slice() {
        [f] if f.name == "<stdin>" => "-".to_string(),
        [f] => shell(&f.name),
        _ => "FILE".to_string(),
    }
}

/// `--db N ` for keys outside db 0, nothing for db 0 of a one-db dump.
fn db_arg(db: u64) -> String {
    format!("--db {db}")
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A glob that matches exactly the key whose escaped form is `key` (`\\` a backslash,
/// `\xHH` a byte that is not printable ASCII: any one byte, `?`).
pub fn glob_literal(key: &str) -> String {
    let mut out = String::new();
    let mut it = key.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '\\' if it.peek() == Some(&'x') => {
                it.next();
                it.next();
                it.next();
                out.push('?');
            }
            '\\' => {
                it.next();
                out.push_str("\\\\");
            }
            '*' | '?' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A glob for an inferred pattern: each `{placeholder}` becomes `*`.
pub fn pattern_glob(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c);
        match close {
            Some(c)
                if rest[open + 1..c].bytes().all(|b| b.is_ascii_lowercase()) && c > open + 1 =>
            {
                out.push_str(&glob_literal(&rest[..open]));
                if !out.ends_with('*') {
                    out.push('*');
                }
                rest = &rest[c + 1..];
            }
            _ => {
                out.push_str(&glob_literal(&rest[..=open]));
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(&glob_literal(rest));
    out
}

/// The `rdbscope keys` command for a pattern row (none for `(other)` and the like).
fn pattern_cmd(file: &str, pattern: &str, extra: &str) -> Option<String> {
    if pattern.starts_with('(') {
        return None;
    }
    Some(format!(
        "rdbscope keys {file} --match {} {extra}",
        shell(&pattern_glob(pattern))
    ))
}

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
    let file = file_arg(r);
    let keys_cmd = |args: &str| Some(format!("rdbscope keys {file} {args}"));
    let verify_cmd = Some(format!("rdbscope verify {file}"));
    let mut push = |id: &str,
                    severity,
                    title: String,
                    evidence: String,
                    next_step: &str,
                    command: Option<String>| {
        out.push(Finding {
            id: id.to_string(),
            severity,
            title,
            evidence,
            next_step: next_step.to_string(),
            command,
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
            verify_cmd.clone(),
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
            verify_cmd.clone(),
        );
    }

    // The same snapshot twice, or a primary beside its own replica: every key counted twice.
    let repl = |s: &crate::report::Snapshot, k: &str| {
        s.replication
            .iter()
            .find(|n| n.name == k)
            .map(|n| n.value.clone())
    };
    for (i, a) in r.snapshot.iter().enumerate() {
        for (j, b) in r.snapshot.iter().enumerate().skip(i + 1) {
            let shared = repl(a, "repl-id").filter(|id| Some(id) == repl(b, "repl-id").as_ref());
            // Without a replication id (a standalone server's SAVE), the same snapshot is the
            // same time, used-mem, keys and memory.
            let (fa, fb) = (&r.files[i], &r.files[j]);
            let twin = shared.is_none()
                && a.ctime.is_some()
                && a.ctime == b.ctime
                && a.used_mem == b.used_mem
                && fa.keys == fb.keys
                && fa.memory == fb.memory;
            if shared.is_none() && !twin {
                continue;
            }
            let id = shared.unwrap_or_else(|| "none".to_string());
            let same =
                twin || (a.ctime == b.ctime && repl(a, "repl-offset") == repl(b, "repl-offset"));
            push(
                "duplicate-input",
                Severity::Warning,
                if same {
                    format!("{} and {} are the same snapshot: every key is counted twice", a.file, b.file)
                } else {
                    format!(
                        "{} and {} share a replication history (a primary and its replica, or two snapshots of one server): their keys are counted twice",
                        a.file, b.file
                    )
                },
                {
                    let ctimes = format!(
                        "ctime {} and {}; {} and {} keys",
                        a.ctime.map_or_else(|| "?".into(), |c| c.to_string()),
                        b.ctime.map_or_else(|| "?".into(), |c| c.to_string()),
                        grouped(fa.keys),
                        grouped(fb.keys)
                    );
                    if id == "none" {
                        format!("no replication id; same used-mem and key memory; {ctimes}")
                    } else {
                        format!(
                            "repl-id {id}; repl-offset {} and {}; {ctimes}",
                            repl(a, "repl-offset").unwrap_or_default(),
                            repl(b, "repl-offset").unwrap_or_default()
                        )
                    }
                },
                "analyse one dump per shard: of a primary and its replicas, only the primary's (or only the newest snapshot)",
                None,
            );
        }
    }

    for k in &r.top_keys.by_memory {
        let share = if total == 0 {
            0.0
        } else {
            k.memory as f64 * 100.0 / total as f64
        };
        if (share > t.big_key_pct && k.memory >= t.big_key_min_bytes) || k.memory > t.big_key_bytes
        {
            // By cost, not share: what DEL or a whole read of it does to the server.
            let blocking = k.elements >= t.blocking_elements;
            let huge = k.memory > 10 * t.big_key_bytes;
            push(
                "big-key",
                if blocking || huge {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                format!(
                    "key `{}` (db{}) holds {:.1}% of key memory",
                    k.key, k.db, share
                ),
                format!(
                    "{} {} with {}, {}{}",
                    k.ty,
                    k.encoding.as_deref().unwrap_or("?"),
                    plural(k.elements, "element", "elements"),
                    mb(k.memory),
                    if blocking {
                        format!(
                            "; DEL or a whole read of {} elements blocks the server for about a second or more",
                            k.elements
                        )
                    } else {
                        String::new()
                    }
                ),
                if blocking {
                    "remove it with UNLINK (freed in the background), never DEL; read it with HSCAN/SSCAN/ZSCAN or ranges; split it across keys"
                } else {
                    "a single big key costs latency when read whole or deleted: split it, or remove it with UNLINK"
                },
                keys_cmd(&format!(
                    "{} --match {}",
                    db_arg(k.db),
                    shell(&glob_literal(&k.key))
                )),
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
                    grouped(p.keys),
                    mb(p.memory),
                    grouped(p.keys_no_ttl),
                    mb(p.memory_no_ttl)
                ),
                "check whether these keys should expire (EXPIRE in the writer) or belong in another store",
                pattern_cmd(&file, &p.name, "--no-expiry"),
            );
        }
    }

    // The classic leak: a family whose keys mostly expire, but some lost their TTL (a code
    // path that SETs without EX, a PERSIST, a rename).
    let leak_bytes = t.partial_ttl_bytes.min(total / 100).max(1);
    for p in &r.patterns.rows {
        let (keys, no_ttl) = (p.keys, p.keys_no_ttl);
        if keys < t.partial_ttl_min_keys || no_ttl == 0 || no_ttl == keys {
            continue;
        }
        let no_ttl_pct = no_ttl as f64 * 100.0 / keys as f64;
        let ttl_pct = 100.0 - no_ttl_pct;
        if no_ttl_pct >= t.partial_ttl_pct
            && ttl_pct >= t.partial_ttl_min_ttl_pct
            && p.memory_no_ttl >= leak_bytes
        {
            let share = pct_of(p.memory_no_ttl, total);
            push(
                "pattern-partial-ttl",
                if share >= 1.0 && p.memory_no_ttl >= t.partial_ttl_bytes {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                format!(
                    "pattern {}: {} of {} keys have no TTL ({no_ttl_pct:.1}%) while the rest expire",
                    p.name,
                    grouped(no_ttl),
                    grouped(keys)
                ),
                format!(
                    "{} without TTL ({share:.1}% of key memory), {} with one",
                    mb(p.memory_no_ttl),
                    mb(p.memory - p.memory_no_ttl)
                ),
                "find the writer that sets these keys without EX/PX (or a PERSIST, RENAME, a restore) and give them the family's TTL; on the live server, EXPIRE the ones listed",
                pattern_cmd(&file, &p.name, "--no-expiry"),
            );
        }
    }

    let no_ttl = &r.expiry.buckets[0];
    let policy = setting(r, "maxmemory-policy");
    let maxmemory = r.snapshot.iter().find_map(|s| s.maxmemory.as_ref());
    let volatile = policy.is_some_and(|p| p.starts_with("volatile-"));
    let noeviction_at_limit = policy == Some("noeviction") && maxmemory.is_some();
    if no_ttl.keys > 0 && (volatile || noeviction_at_limit) {
        let policy = policy.unwrap_or_default();
        let headroom = maxmemory.map_or_else(String::new, |h| {
            format!(
                "; predicted used_memory {} of maxmemory {} ({:.0}% left)",
                mb(h.predicted_used_memory),
                mb(h.maxmemory),
                h.left_pct
            )
        });
        let tight = maxmemory.is_some_and(|h| h.left_pct < 10.0);
        push(
            "no-ttl-unevictable",
            if tight {
                Severity::Critical
            } else {
                Severity::Warning
            },
            if volatile {
                format!(
                    "{} of key memory has no TTL and can never be evicted under {policy}",
                    mb(no_ttl.memory)
                )
            } else {
                format!(
                    "{} of key memory has no TTL: under noeviction, writes fail once maxmemory is reached",
                    mb(no_ttl.memory)
                )
            },
            format!(
                "{} keys without TTL, {:.1}% of key memory{headroom}",
                grouped(no_ttl.keys),
                no_ttl.memory_pct
            ),
            if volatile {
                "volatile-* policies only evict keys with a TTL: give these keys TTLs, or use an allkeys-* policy if they are a cache"
            } else {
                "set an eviction policy that fits the data (allkeys-lru for a cache), give the keys TTLs, or raise maxmemory before writes start failing with OOM"
            },
            keys_cmd("--no-expiry"),
        );
    } else if no_ttl.memory_pct >= t.no_ttl_memory_pct && no_ttl.keys > 0 {
        let families: Vec<String> = r
            .patterns
            .rows
            .iter()
            .filter(|p| p.memory_no_ttl > 0)
            .take(3)
            .map(|p| format!("{} {}", p.name, mb(p.memory_no_ttl)))
            .collect();
        push(
            "no-ttl-memory",
            Severity::Info,
            format!("{:.1}% of key memory has no TTL", no_ttl.memory_pct),
            format!(
                "{} keys, {}; the largest families without TTL: {}",
                grouped(no_ttl.keys),
                mb(no_ttl.memory),
                families.join(", ")
            ),
            "keys without TTL stay until deleted: check that each family is meant to be permanent; under a volatile-* policy they can never be evicted (pass --config maxmemory-policy=… to check)",
            keys_cmd("--no-expiry"),
        );
    }

    let expired = &r.expiry.buckets[1];
    if expired.memory > t.expired_bytes {
        push(
            "expired-keys",
            Severity::Info,
            format!(
                "{} already expired at snapshot time",
                plural(expired.keys, "key had", "keys had")
            ),
            format!("{} ({:.1}% of key memory)", mb(expired.memory), expired.memory_pct),
            "a loading server drops them; on the live server active expiry is behind: check `expired_stale_perc` in INFO stats and `hz`",
            keys_cmd("--expired"),
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
                keys_cmd(&format!(
                    "{} --type stream --match {}",
                    db_arg(s.key.db),
                    shell(&glob_literal(&s.key.key))
                )),
            );
        }
    }

    if big_collections.keys > 0 {
        push(
            "big-collections",
            Severity::Info,
            format!(
                "{} over {} elements",
                plural(
                    big_collections.keys,
                    "hash, set, sorted set or list has",
                    "hashes, sets, sorted sets or lists have"
                ),
                limits.big_collection_elements
            ),
            format!("{} in those keys", mb(big_collections.memory)),
            "commands over whole collections (HGETALL, SMEMBERS, DEL) are O(N) on these: use SCAN-family commands and UNLINK",
            keys_cmd(&format!(
                "--type list --type set --type zset --type hash --min-elements {}",
                limits.big_collection_elements + 1
            )),
        );
    }
    if big_strings.keys > 0 {
        push(
            "big-strings",
            Severity::Info,
            format!(
                "{} over {} KiB",
                plural(big_strings.keys, "string is", "strings are"),
                limits.big_string_bytes / 1024
            ),
            format!("{} in those keys", mb(big_strings.memory)),
            "large values cost network and latency on every read: compress them client-side or split them",
            keys_cmd(&format!(
                "--type string --min-memory {}",
                limits.big_string_bytes + 1
            )),
        );
    }

    for p in &r.patterns.rows {
        if p.small_strings >= t.small_strings {
            push(
                "small-strings",
                Severity::Info,
                format!("pattern {} has {} small string keys", p.name, grouped(p.small_strings)),
                format!("{} keys in all, {}", grouped(p.keys), mb(p.memory)),
                "many tiny keys pay ~50-70 bytes of overhead each: packing them as fields of bucketed hashes (listpack) typically saves most of it",
                pattern_cmd(&file, &p.name, "--type string"),
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
                None,
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
            format!(
                "{} in databases other than 0 of a cluster-style keyspace",
                plural(other_dbs, "key is", "keys are")
            ),
            "the file carries slot information (SLOT_INFO records or slot-info AUX)".to_string(),
            "Redis Cluster only serves db 0: these keys cannot be reached through a cluster client",
            keys_cmd(
                &r.totals
                    .by_db
                    .iter()
                    .filter(|d| d.name != "db0" && d.name.starts_with("db"))
                    .map(|d| format!("--db {}", &d.name[2..]))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        );
    }

    if r.anomalies.count > 0 {
        push(
            "value-anomalies",
            Severity::Warning,
            format!(
                "{} could not be read",
                plural(r.anomalies.count, "value", "values")
            ),
            r.anomalies.first.first().map_or_else(String::new, |a| {
                format!("first at offset {}: {}", a.offset, a.error)
            }),
            if r.anomalies.deep {
                "their memory is not counted; the rest of the file was read: check the dump's integrity"
            } else {
                "their memory is not counted; the rest of the file was read: check the dump's integrity (`rdbscope verify`, or `analyze --deep` to decode every listpack, ziplist and intset)"
            },
            verify_cmd.clone(),
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
            None,
        );
    }

    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quotes_only_what_needs_it() {
        assert_eq!(shell("dump.rdb"), "dump.rdb");
        assert_eq!(shell("cache:page:*"), "'cache:page:*'");
        assert_eq!(shell("it's"), "'it'\\''s'");
    }

    #[test]
    fn glob_literal_matches_only_the_key() {
        assert_eq!(glob_literal("a*b?[c]"), "a\\*b\\?\\[c\\]");
        assert_eq!(glob_literal("k\\x01z"), "k?z");
        let key = b"a*b?[c]\\x01\x01";
        let g = glob_literal(&crate::report::escape_key(key));
        assert!(crate::filter::glob_match(g.as_bytes(), key), "{g}");
        assert!(!crate::filter::glob_match(g.as_bytes(), b"aXb?[c]\\"));
    }

    #[test]
    fn pattern_glob_replaces_placeholders() {
        assert_eq!(pattern_glob("cache:page:{hex}"), "cache:page:*");
        assert_eq!(pattern_glob("user:{num}:profile"), "user:*:profile");
        assert_eq!(pattern_glob("rate:{num}.{num}"), "rate:*.*");
        assert_eq!(pattern_glob("{tag}:cart:{num}"), "*:cart:*");
        assert_eq!(pattern_glob("odd{X}"), "odd{X}");
        for key in [&b"cache:page:5d41402abc4b2a76"[..], b"user:7:profile"] {
            let mut p = Vec::new();
            crate::pattern::infer_pattern(key, &crate::pattern::Separators::default(), &mut p);
            let g = pattern_glob(&String::from_utf8(p).unwrap());
            assert!(crate::filter::glob_match(g.as_bytes(), key), "{g}");
        }
    }
}
