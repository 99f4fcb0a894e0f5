//! The terminal summary of `analyze`: fits 100 columns, colour only when asked.

use rdbscope_analysis::alloc_infer::Source;
use rdbscope_analysis::report::{
    human_bytes as bytes, Bucket, KeyOut, Reconciliation, Report, Row, Severity, Share, Table,
};
use std::fmt::Write;

/// Width the summary fits in.
pub const WIDTH: usize = 100;

pub(crate) fn count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 stream`, `2 streams`, `1 entry`, `3 entries` (with thousands separators).
fn counted(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else if let Some(stem) = one
        .strip_suffix('y')
        .filter(|stem| !stem.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{} {stem}ies", count(n))
    } else {
        format!("{} {one}s", count(n))
    }
}

/// Cuts `s` to `w` characters, marking the cut with `…`.
pub(crate) fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

struct Out {
    text: String,
    color: bool,
    /// With several files, their names: key lists give the number of the file (`[2]`) a
    /// key is in, numbered as in the Files table (a path could fill the key column).
    files: Vec<String>,
}

impl Out {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn heading(&mut self, title: &str) {
        let h = self.paint("1", title);
        let _ = writeln!(self.text, "\n{h}");
    }

    fn line(&mut self, s: &str) {
        let _ = writeln!(self.text, "{}", fit(s, WIDTH));
    }
}

fn shares(o: &mut Out, title: &str, rows: &[Share]) {
    let rows: Vec<&Share> = rows.iter().filter(|r| r.keys > 0).collect();
    if rows.is_empty() {
        return;
    }
    o.line(&format!(
        "  {:<30} {:>14} {:>12} {:>7}",
        title, "keys", "memory", "%"
    ));
    for r in rows {
        o.line(&format!(
            "  {:<30} {:>14} {:>12} {:>6.1}%",
            fit(&r.name, 30),
            count(r.keys),
            bytes(r.memory),
            r.memory_pct
        ));
    }
}

fn table(o: &mut Out, t: &Table, limit: usize) {
    // Each column holds one unit: keys are counts, memory is bytes. Count columns widen for
    // big counts and the name column gives the room back, so a row never runs past WIDTH.
    let shown: Vec<&Row> = t.rows.iter().take(limit).collect();
    let widest = |min: usize, f: &dyn Fn(&Row) -> u64| {
        shown
            .iter()
            .map(|r| count(f(r)).len())
            .chain([
                min,
                count(t.rows.iter().map(f).sum::<u64>() + f(&t.other)).len(),
            ])
            .max()
            .unwrap_or(min)
    };
    let (wk, wn, we) = (
        widest(8, &|r| r.keys),
        widest(8, &|r| r.keys_no_ttl),
        widest(7, &|r| r.keys_expired),
    );
    let name_w = 30usize.saturating_sub(wk + wn + we - 23).max(16);
    o.line(&format!(
        "  {:<name_w$} {:>wk$} {:>10} {:>6} {:>nt$} {:>ex$}",
        "",
        "",
        "",
        "",
        "--- no TTL ---",
        "--- expired ---",
        nt = wn + 11,
        ex = we + 10
    ));
    o.line(&format!(
        "  {:<name_w$} {:>wk$} {:>10} {:>6} {:>wn$} {:>10} {:>we$} {:>9}",
        "", "keys", "memory", "%", "keys", "memory", "keys", "memory"
    ));
    let row = |o: &mut Out, r: &Row| {
        o.line(&format!(
            "  {:<name_w$} {:>wk$} {:>10} {:>5.1}% {:>wn$} {:>10} {:>we$} {:>9}",
            fit(&r.name, name_w),
            count(r.keys),
            bytes(r.memory),
            r.memory_pct,
            count(r.keys_no_ttl),
            bytes(r.memory_no_ttl),
            count(r.keys_expired),
            bytes(r.memory_expired)
        ));
    };
    for r in t.rows.iter().take(limit) {
        row(o, r);
    }
    let mut other = t.other.clone();
    for r in t.rows.iter().skip(limit) {
        other.keys += r.keys;
        other.memory += r.memory;
        other.memory_pct += r.memory_pct;
        other.keys_no_ttl += r.keys_no_ttl;
        other.memory_no_ttl += r.memory_no_ttl;
        other.keys_expired += r.keys_expired;
        other.memory_expired += r.memory_expired;
    }
    if other.keys > 0 {
        row(o, &other);
    }
    if t.folded_by_cap {
        o.line(&format!(
            "  (more than {} distinct rows: the excess is in (other))",
            count(t.cap as u64)
        ));
    }
}

fn keys(o: &mut Out, rows: &[KeyOut], limit: usize, metric: &str) {
    if rows.is_empty() {
        return;
    }
    o.line(&format!(
        "  {:<46} {:<10} {:<10} {:>11} {:>10} {:>6}",
        "key", "type", "encoding", metric, "elements", "TTL"
    ));
    for k in rows.iter().take(limit) {
        let ttl = match k.ttl_seconds {
            Some(t) if t < 0 => "expired".to_string(),
            Some(t) => short_duration(t as u64),
            None if k.key.is_empty() => String::new(),
            None => "-".to_string(),
        };
        let name = display_name(k, &o.files);
        let value = match metric {
            "idle" => k.idle_seconds.map_or_else(String::new, short_duration),
            "lfu" => k.lfu_freq.map_or_else(String::new, |f| f.to_string()),
            _ => bytes(k.memory),
        };
        o.line(&format!(
            "  {:<46} {:<10} {:<10} {:>11} {:>10} {:>6}",
            fit(&name, 46),
            fit(&k.ty, 10),
            k.encoding.as_deref().unwrap_or("?"),
            value,
            count(k.elements),
            ttl
        ));
    }
}

/// A key as the lists print it: `db<N> ` when not in db 0, `[<file number>] ` when there
/// are several files.
fn display_name(k: &KeyOut, files: &[String]) -> String {
    let name = if k.db == 0 {
        k.key.clone()
    } else {
        format!("db{} {}", k.db, k.key)
    };
    match files.iter().position(|f| *f == k.file) {
        Some(i) => format!("[{}] {name}", i + 1),
        None => name,
    }
}

/// Splits text into lines of at most `w` characters at spaces.
fn wrap(s: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > w {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

fn short_duration(s: u64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn buckets(o: &mut Out, rows: &[Bucket]) {
    for b in rows.iter().filter(|b| b.keys > 0) {
        let bar_len = (b.memory_pct / 100.0 * 30.0).round() as usize;
        o.line(&format!(
            "  {:<22} {:>12} {:>11} {:>5.1}% {}",
            b.bucket,
            count(b.keys),
            bytes(b.memory),
            b.memory_pct,
            "#".repeat(bar_len.min(30))
        ));
    }
}

/// Signed bytes with thousands separators: `-1,234 B`.
fn exact(n: i64) -> String {
    let c = count(n.unsigned_abs());
    if n < 0 {
        format!("-{c} B")
    } else {
        format!("{c} B")
    }
}

/// Signed human bytes: `-1.2 MiB`.
fn signed(n: i64) -> String {
    if n < 0 {
        format!("-{}", bytes(n.unsigned_abs()))
    } else {
        bytes(n as u64)
    }
}

/// The waterfall: each line is `sign label  exact bytes  human bytes`, the terms first,
/// then the prediction, then used-mem at save against it.
fn reconciliation(o: &mut Out, c: &Reconciliation) {
    o.heading(&format!(
        "Reconciliation (a server loading the dump; covers {})",
        c.covers
    ));
    let line = |o: &mut Out, sign: &str, label: &str, n: i64| {
        o.line(&format!(
            "  {sign} {:<44} {:>18} {:>12}",
            fit(label, 44),
            exact(n),
            signed(n)
        ));
    };
    match &c.predicted {
        Some(p) => {
            for (i, t) in p.terms.iter().enumerate() {
                if t.bytes == 0 && i > 0 {
                    continue;
                }
                let label = match t.name.as_str() {
                    "startup" => "startup (an empty server)",
                    "keys" => "keys (their MEMORY USAGE)",
                    "dataset_adjust" => "allocation adjustment",
                    "keyspace_main" => "main keyspace tables",
                    "keyspace_expires" => "expires tables and entries",
                    "keyspace_other" => "volatile-field tables, databases",
                    "functions" => "function libraries",
                    "session" => "the measuring client session",
                    other => other,
                };
                line(o, if i == 0 { " " } else { "+" }, label, t.bytes);
            }
            line(o, "=", "predicted used_memory", p.used_memory as i64);
            let adj = p.term("dataset_adjust");
            if adj != 0 {
                o.line("    allocation adjustment: what the keys allocate minus what MEMORY USAGE says");
                o.line("    (shared integers, set entries, stream estimates); startup + session is the");
                o.line("    baseline of an idle server");
            }
        }
        None => o.line("  no memory model for the file(s): no prediction"),
    }
    match (c.used_mem_at_save, c.remainder, &c.predicted) {
        (Some(u), Some(rest), Some(p)) => {
            line(o, " ", "used-mem at save", u as i64);
            line(o, "-", "predicted used_memory", p.used_memory as i64);
            if c.expired_at_save > 0 {
                line(
                    o,
                    "-",
                    "expired keys still held at save",
                    c.expired_at_save as i64,
                );
            }
            let pct = c.remainder_pct.unwrap_or(0.0);
            line(o, "=", &format!("remainder ({pct:+.1}% of used-mem)"), rest);
            let what = if rest < 0 { "negative: " } else { "" };
            for l in wrap(&format!("{what}{}", c.remainder_note), WIDTH - 6) {
                o.line(&format!("    {l}"));
            }
        }
        (Some(u), _, _) => {
            line(o, " ", "used-mem at save", u as i64);
            o.line(&format!("    not compared: {}", c.remainder_note));
        }
        (None, _, _) => o.line(&format!("  used-mem: {}", c.remainder_note)),
    }
}

/// How much of each section the terminal shows.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    /// Rows of each top-keys list (and of the streams' pending list).
    pub top: usize,
    /// Rows of the pattern table and of each prefix level.
    pub rows: usize,
    /// Prefix levels shown (at most those in the report).
    pub levels: usize,
}

/// Renders the summary.
pub fn summary(r: &Report, shown: Shown, color: bool) -> String {
    let top = shown.top;
    let mut o = Out {
        text: String::new(),
        color,
        files: if r.files.len() > 1 {
            r.files.iter().map(|f| f.name.clone()).collect()
        } else {
            Vec::new()
        },
    };
    let title = o.paint("1", "rdbscope analyze");
    let mismatch = r.files.iter().any(|f| f.checksum_mismatch.is_some());
    let status = if r.complete && mismatch {
        o.paint(
            "1;33",
            "  CHECKSUM MISMATCH: all records were read; some value may be wrong",
        )
    } else if r.complete {
        String::new()
    } else {
        o.paint(
            "1;31",
            "  PARTIAL: an input is damaged, figures cover what was read",
        )
    };
    let _ = writeln!(o.text, "{title}{status}");

    o.heading("Snapshot");
    for s in &r.snapshot {
        let how = s.allocator_choice.as_ref().map_or("", |c| match c.source {
            Source::Given => "given",
            Source::Inferred => "inferred",
            Source::Assumed => "assumed",
        });
        let cluster = s
            .settings
            .iter()
            .find(|x| x.name == "cluster-enabled" && x.value == "yes")
            .map_or(String::new(), |x| match x.from.as_str() {
                "default" => ", cluster mode".to_string(),
                from => format!(", cluster mode (from {from})"),
            });
        let what = format!(
            "{} RDB {} {} {}, model {}, allocator {}{}{cluster}",
            s.magic,
            s.rdb_version.map_or_else(|| "?".into(), |v| v.to_string()),
            s.server.as_deref().unwrap_or("unknown server"),
            s.server_version.as_deref().unwrap_or(""),
            s.model.as_deref().unwrap_or("none"),
            s.allocator.as_deref().unwrap_or("-"),
            if how.is_empty() || how == "given" {
                String::new()
            } else {
                format!(" ({how})")
            },
        );
        // A long path gets a line of its own rather than cutting the facts after it.
        if s.file.chars().count() + what.chars().count() + 4 <= WIDTH {
            o.line(&format!("  {}: {what}", s.file));
        } else {
            o.line(&format!("  {}:", s.file));
            for l in wrap(&what, WIDTH - 4) {
                o.line(&format!("    {l}"));
            }
        }
        if let Some(c) = s
            .allocator_choice
            .as_ref()
            .filter(|c| c.source != Source::Given)
        {
            for (n, l) in wrap(&format!("allocator {how}: {}", c.evidence), WIDTH - 8)
                .iter()
                .enumerate()
            {
                o.line(&format!("    {}{l}", if n == 0 { "" } else { "  " }));
            }
        }
        let mut extra = Vec::new();
        // The snapshot time on the second line: the first may already be long (paths).
        extra.push(format!(
            "ctime {}",
            s.ctime.map_or_else(
                || "unknown".into(),
                |c| {
                    let t = crate::keys::iso_utc(c.saturating_mul(1000));
                    format!("{}Z", t.get(..19).unwrap_or(&t))
                }
            )
        ));
        if let Some(u) = s.used_mem {
            extra.push(format!("used-mem {}", bytes(u)));
        }
        if let Some(f) = r.files.iter().find(|f| f.name == s.file) {
            if let Some(codec) = &f.codec {
                let size = |b: Option<u64>| b.map_or_else(|| "?".to_string(), bytes);
                extra.push(format!(
                    "{codec}, {} → {} decompressed",
                    size(f.compressed_bytes),
                    size(f.bytes)
                ));
            }
            if let (Some(d), false) = (&f.damage, f.salvaged_regions.is_empty()) {
                extra.push(format!(
                    "SALVAGED: read on past {} damaged region(s), {} skipped; keys after a \
                     resync are in db? until the next SELECTDB",
                    f.salvaged_regions.len(),
                    bytes(d.unread_bytes.unwrap_or(0))
                ));
                for g in f.salvaged_regions.iter().take(10) {
                    extra.push(format!(
                        "  offsets {}..{} ({}): {}; resumed: {}",
                        g.start,
                        g.end,
                        bytes(g.bytes),
                        g.error,
                        g.resync
                    ));
                }
            }
        }
        if s.aof_base {
            extra.push("aof-base".to_string());
        }
        if !s.aof_increments.is_empty() {
            let files: Vec<String> = s
                .aof_increments
                .iter()
                .map(|a| {
                    let name = a.file.rsplit('/').next().unwrap_or(&a.file);
                    match a.commands {
                        Some(c) => {
                            format!("{name} ({}, {})", bytes(a.bytes), counted(c, "command"))
                        }
                        None => format!("{name} ({}, not RESP)", bytes(a.bytes)),
                    }
                })
                .collect();
            extra.push(format!(
                "NOT APPLIED: {} of the appendonlydir, written after this base: {}",
                counted(files.len() as u64, "incremental file"),
                files.join(", ")
            ));
        }
        if !s.functions.is_empty() {
            let names: Vec<&str> = s.functions.iter().map(|f| f.name.as_str()).collect();
            extra.push(format!("functions {}", names.join(",")));
        }
        if !s.modules.is_empty() {
            let m: Vec<String> = s
                .modules
                .iter()
                .map(|m| format!("{}×{}", m.name, m.values))
                .collect();
            extra.push(format!("modules {}", m.join(",")));
        }
        if let Some(h) = &s.eviction_hint {
            extra.push(h.clone());
        }
        if let Some(h) = &s.maxmemory {
            extra.push(format!(
                "predicted used_memory {} of maxmemory {} ({}), {}",
                bytes(h.predicted_used_memory),
                bytes(h.maxmemory),
                h.policy,
                if h.left_pct >= 0.0 {
                    format!("{:.0}% left", h.left_pct)
                } else {
                    format!("{:.0}% over", -h.left_pct)
                }
            ));
        }
        let conf: Vec<&str> = s
            .settings
            .iter()
            .filter(|x| x.name == "redis-conf" || x.name == "include")
            .map(|x| x.value.as_str())
            .collect();
        if !conf.is_empty() {
            extra.push(format!("settings from {}", conf.join(", ")));
        }
        let changed: Vec<String> = s
            .settings
            .iter()
            .filter(|x| x.name != "include" && (x.from == "--config" || x.from.contains(" line ")))
            .map(|x| format!("{}={}", x.name, x.value))
            .collect();
        if !changed.is_empty() {
            extra.push(format!("loading server: {}", changed.join(" ")));
        }
        if !extra.is_empty() {
            for (n, l) in wrap(&extra.join("; "), WIDTH - 8).iter().enumerate() {
                o.line(&format!("    {}{l}", if n == 0 { "" } else { "  " }));
            }
        }
    }
    if r.files.len() > 1 {
        o.heading("Files");
        o.line(&format!(
            "  {:<50} {:>12} {:>11} {:>6}",
            "", "keys", "memory", "%"
        ));
        for (i, f) in r.files.iter().enumerate() {
            o.line(&format!(
                "  {:<50} {:>12} {:>11} {:>5.1}%{}",
                fit(&format!("[{}] {}", i + 1, f.name), 50),
                count(f.keys),
                bytes(f.memory),
                f.memory_pct,
                match (f.complete, f.checksum.as_str()) {
                    (false, _) => "  DAMAGED",
                    (true, "mismatch") => "  CHECKSUM",
                    _ => "",
                }
            ));
        }
    }

    let t = &r.totals;
    o.heading("Totals");
    o.line(&format!(
        "  {}, {} with TTL, {} already expired; estimated memory {}{}",
        counted(t.keys, "key"),
        count(t.keys_with_ttl),
        count(t.keys_expired),
        bytes(t.memory),
        if t.filtered { " (filtered)" } else { "" }
    ));
    if t.keys_estimated < t.keys {
        o.line(&format!(
            "  {} keys could not be sized (unknown writer: pass --model)",
            count(t.keys - t.keys_estimated)
        ));
    }
    shares(&mut o, "by type", &t.by_type);
    shares(&mut o, "by encoding", &t.by_encoding);
    if t.by_db.len() > 1 {
        shares(&mut o, "by database", &t.by_db);
    }

    reconciliation(&mut o, &r.reconciliation);
    for c in &r.live {
        o.heading(&format!("The server's own numbers ({})", c.source));
        for l in crate::info::lines(c) {
            let _ = writeln!(o.text, "  {l}");
        }
    }

    o.heading("Key patterns");
    table(&mut o, &r.patterns, shown.rows);
    for (i, level) in r.prefixes.levels.iter().take(shown.levels).enumerate() {
        o.heading(&format!(
            "Prefixes (level {}, separators {:?})",
            i + 1,
            r.prefixes.separators
        ));
        table(&mut o, level, shown.rows);
    }

    o.heading("Expiry (from the snapshot time)");
    buckets(&mut o, &r.expiry.buckets);
    let h = &r.expiry.hash_field_ttls;
    if h.keys > 0 {
        o.line(&format!(
            "  hash fields with TTL: {} fields in {} hashes ({})",
            count(h.fields),
            count(h.keys),
            bytes(h.memory)
        ));
    }
    if !r.expiry.top_no_ttl.is_empty() {
        o.line("  biggest keys without TTL:");
        keys(&mut o, &r.expiry.top_no_ttl, top, "memory");
    }

    o.heading("Top keys by memory");
    keys(&mut o, &r.top_keys.by_memory, top, "memory");
    o.heading("Top keys by elements");
    keys(&mut o, &r.top_keys.by_elements, top, "memory");

    let i = &r.idle;
    if i.keys_with_idle > 0 || i.keys_with_freq > 0 {
        o.heading("Idle and frequency");
        if i.keys_with_idle > 0 {
            o.line("  idle time (LRU):");
            buckets(&mut o, &i.idle_buckets);
            o.line("  idlest keys:");
            keys(&mut o, &i.top_idle, top, "idle");
        }
        if i.keys_with_freq > 0 {
            o.line("  LFU counter:");
            buckets(&mut o, &i.freq_buckets);
            o.line("  hottest keys by LFU counter:");
            keys(&mut o, &i.top_lfu, top, "lfu");
        }
    }

    let s = &r.streams;
    if s.streams > 0 {
        o.heading("Streams");
        o.line(&format!(
            "  {} ({}), {}, {}, {}, {} pending",
            counted(s.streams, "stream"),
            bytes(s.memory),
            counted(s.entries, "entry"),
            counted(s.groups, "group"),
            counted(s.consumers, "consumer"),
            count(s.pending)
        ));
        for st in s.top_pending.iter().take(top).filter(|x| x.pending > 0) {
            o.line(&format!(
                "  {:<40} {:>9} pending, {}, oldest {} before save",
                fit(&display_name(&st.key, &o.files), 40),
                count(st.pending),
                counted(st.groups, "group"),
                st.oldest_pending_age_seconds
                    .map_or_else(|| "-".into(), |a| short_duration(a.max(0) as u64))
            ));
            for g in &st.group_list {
                let consumers: Vec<String> = g
                    .top_consumers
                    .iter()
                    .map(|c| format!("{} {}", c.name, count(c.pending)))
                    .collect();
                let more = g.consumers.saturating_sub(g.top_consumers.len() as u64);
                o.line(&format!(
                    "    group {}: pending {}, lag {}, {}{}{}",
                    fit(&g.name, 30),
                    count(g.pending),
                    g.lag.map_or_else(|| "unknown".into(), count),
                    counted(g.consumers, "consumer"),
                    if consumers.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", consumers.join(", "))
                    },
                    if more > 0 && !consumers.is_empty() {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ));
            }
        }
    }

    if r.anomalies.count > 0 {
        o.heading("Anomalies");
        for a in r.anomalies.first.iter().take(5) {
            o.line(&format!("  offset {} {}: {}", a.offset, a.key, a.error));
        }
    }

    o.heading("Findings");
    if r.findings.is_empty() {
        o.line("  none");
    }
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Critical => o.paint("1;31", "CRITICAL"),
            Severity::Warning => o.paint("33", "WARNING "),
            Severity::Info => o.paint("36", "INFO    "),
        };
        for (n, l) in wrap(&f.title, WIDTH - 11).iter().enumerate() {
            if n == 0 {
                let _ = writeln!(o.text, "  {sev} {l}");
            } else {
                o.line(&format!("           {l}"));
            }
        }
        for l in wrap(&f.evidence, WIDTH - 11) {
            o.line(&format!("           {l}"));
        }
        for (n, l) in wrap(&f.next_step, WIDTH - 13).iter().enumerate() {
            let lead = if n == 0 { "→ " } else { "  " };
            o.line(&format!("           {lead}{l}"));
        }
        if let Some(c) = &f.command {
            // Not cut: a command must stay whole to be pasted.
            let _ = writeln!(o.text, "           $ {c}");
        }
    }
    o.text
}

#[cfg(test)]
mod tests {
    use super::{counted, table, Out, WIDTH};
    use rdbscope_analysis::report::{Row, Table};

    fn row(name: &str, keys: u64) -> Row {
        Row {
            name: name.to_string(),
            keys,
            memory: keys * 88,
            memory_pct: 100.0,
            keys_no_ttl: keys,
            memory_no_ttl: keys * 88,
            keys_expired: keys / 3,
            memory_expired: keys * 20,
            small_strings: 0,
            by_type: Vec::new(),
        }
    }

    #[test]
    fn tables_with_big_counts_stay_within_the_width() {
        for keys in [7, 10_000_000, 1_234_567_890] {
            let t = Table {
                rows: vec![row("a-rather-long-pattern:{num}:with:parts:{hex}", keys)],
                other: row("(other)", keys),
                distinct_rows_kept: 1,
                cap: 10,
                folded_by_cap: false,
            };
            let mut o = Out {
                text: String::new(),
                color: false,
                files: Vec::new(),
            };
            table(&mut o, &t, 10);
            for l in o.text.lines() {
                assert!(l.chars().count() <= WIDTH, "{l}");
                assert!(!l.ends_with('…'), "a number was cut: {l}");
            }
            assert!(o.text.contains(&super::count(keys)), "{}", o.text);
        }
    }

    #[test]
    fn counted_forms() {
        assert_eq!(counted(1, "key"), "1 key");
        assert_eq!(counted(1350, "key"), "1,350 keys");
        assert_eq!(counted(3, "entry"), "3 entries");
        assert_eq!(counted(2, "day"), "2 days");
        assert_eq!(counted(2, "stream"), "2 streams");
    }
}
