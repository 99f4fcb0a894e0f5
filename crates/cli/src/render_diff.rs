//! The terminal summary of `diff`: what changed, biggest changes first, 100 columns.

use crate::render::{count, fit, WIDTH};
use rdbscope_analysis::diff::{Delta, ReportDiff, RowDiff, RowStatus, ShareDiff, Side, TableDiff};
use rdbscope_analysis::diff_keys::{KeyChange, KeysDiff};
use rdbscope_analysis::report::{human_bytes, Severity};
use std::fmt::Write;

/// `+1.2 MiB`, `-300 B`, `0 B`.
fn signed_bytes(n: i64) -> String {
    match n {
        0 => "0 B".to_string(),
        n if n > 0 => format!("+{}", human_bytes(n.unsigned_abs())),
        n => format!("-{}", human_bytes(n.unsigned_abs())),
    }
}

fn signed_count(n: i64) -> String {
    match n {
        0 => "0".to_string(),
        n if n > 0 => format!("+{}", count(n.unsigned_abs())),
        n => format!("-{}", count(n.unsigned_abs())),
    }
}

fn pct(d: &Delta) -> String {
    match d.pct {
        Some(p) => format!("{p:+.1}%"),
        None if d.new > 0 => "new".to_string(),
        None => String::new(),
    }
}

/// `3 days 4 h`, `5 h 12 min`, `2 min 1 s`.
fn duration(s: u64) -> String {
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min {} s", s % 60),
        (0, _, _) => format!("{h} h {m} min"),
        (1, _, _) => format!("1 day {h} h"),
        _ => format!("{d} days {h} h"),
    }
}

fn status(s: RowStatus) -> &'static str {
    match s {
        RowStatus::Both => "",
        RowStatus::New => "new",
        RowStatus::Vanished => "gone",
        RowStatus::InOldOther => "was in (other)",
        RowStatus::InNewOther => "now in (other)",
    }
}

struct Out {
    text: String,
    color: bool,
}

impl Out {
    fn heading(&mut self, t: &str) {
        let t = if self.color {
            format!("\x1b[1m{t}\x1b[0m")
        } else {
            t.to_string()
        };
        let _ = writeln!(self.text, "\n{t}");
    }
    fn line(&mut self, s: &str) {
        let _ = writeln!(self.text, "{}", fit(s, WIDTH));
    }
}

fn side_line(o: &mut Out, label: &str, s: &Side) {
    let files = match s.files.as_slice() {
        [one] => one.clone(),
        many => format!("{} files ({} …)", many.len(), many[0]),
    };
    let when = s
        .ctime
        .map(|c| format!(", saved {}Z", &crate::keys::iso_utc(c * 1000)[..19]))
        .unwrap_or_default();
    let partial = if s.complete {
        ""
    } else {
        ", PARTIAL (damaged input)"
    };
    o.line(&format!("  {label}: {files}{when}{partial}"));
}

fn delta_row(o: &mut Out, name: &str, d: &Delta, bytes: bool) {
    let (old, new, change) = if bytes {
        (
            human_bytes(d.old),
            human_bytes(d.new),
            signed_bytes(d.delta),
        )
    } else {
        (count(d.old), count(d.new), signed_count(d.delta))
    };
    o.line(&format!(
        "  {:<30} {old:>12} {new:>12} {change:>12} {:>8}",
        fit(name, 30),
        pct(d)
    ));
}

fn shares(o: &mut Out, title: &str, rows: &[ShareDiff], limit: usize) {
    let changed: Vec<&ShareDiff> = rows
        .iter()
        .filter(|s| s.memory.delta != 0 || s.keys.delta != 0)
        .collect();
    if changed.is_empty() {
        return;
    }
    o.line(&format!(
        "  {:<30} {:>12} {:>12} {:>12} {:>8} {:>10}",
        title, "old", "new", "change", "%", "keys"
    ));
    for s in changed.iter().take(limit) {
        o.line(&format!(
            "  {:<30} {:>12} {:>12} {:>12} {:>8} {:>10}",
            fit(&s.name, 30),
            human_bytes(s.memory.old),
            human_bytes(s.memory.new),
            signed_bytes(s.memory.delta),
            pct(&s.memory),
            signed_count(s.keys.delta)
        ));
    }
}

fn table(o: &mut Out, title: &str, t: &TableDiff, limit: usize) {
    o.heading(title);
    let rows: Vec<_> = t
        .rows
        .iter()
        .filter(|r| r.memory.delta != 0 || r.keys.delta != 0 || r.status != RowStatus::Both)
        .take(limit)
        .collect();
    if rows.is_empty() {
        o.line("  no change");
        return;
    }
    let cells = |name: &str, r: &RowDiff| -> [String; 6] {
        [
            fit(name, 24),
            human_bytes(r.memory.old),
            human_bytes(r.memory.new),
            signed_bytes(r.memory.delta),
            signed_count(r.keys.delta),
            signed_bytes(r.memory_no_ttl.delta),
        ]
    };
    let mut row = |c: [String; 6], status: &str| {
        o.line(&format!(
            "  {:<24} {:>11} {:>11} {:>11} {:>8} {:>11}  {status}",
            c[0], c[1], c[2], c[3], c[4], c[5]
        ))
    };
    row(
        ["name", "old", "new", "change", "keys", "no-TTL"].map(String::from),
        "status",
    );
    for r in rows {
        row(cells(&r.name, r), status(r.status));
    }
    let rest = &t.rest;
    if rest.memory.old + rest.memory.new > 0 {
        row(cells("(everything else)", rest), "");
    }
    if t.old_folded || t.new_folded {
        o.line(
            "  a side kept only its biggest rows (--row-cap): \"was in (other)\" rows may \
             not be new",
        );
    }
}

fn keys(o: &mut Out, k: &KeysDiff, rows: usize) {
    o.heading("Keys, one by one (--keys)");
    o.line(&format!(
        "  {} keys before, {} after; spilled {} to temporary files",
        count(k.old_keys),
        count(k.new_keys),
        human_bytes(k.spilled_bytes)
    ));
    for (what, c) in [
        ("appeared", &k.appeared),
        ("disappeared", &k.disappeared),
        ("grew", &k.grew),
        ("shrank", &k.shrank),
        ("changed type", &k.changed_type),
        ("lost their TTL", &k.lost_ttl),
        ("gained a TTL", &k.gained_ttl),
    ] {
        if c.keys > 0 {
            o.line(&format!(
                "  {:<16} {:>10} keys  {:>11}",
                what,
                count(c.keys),
                human_bytes(c.memory)
            ));
        }
    }
    let lists: [(&str, &[KeyChange]); 6] = [
        ("appeared", &k.top_appeared),
        ("disappeared", &k.top_disappeared),
        ("grew", &k.top_grew),
        ("shrank", &k.top_shrank),
        ("lost TTL", &k.top_lost_ttl),
        ("new type", &k.top_changed_type),
    ];
    for (what, list) in lists {
        for c in list.iter().take(rows) {
            let ty = match (&c.type_old, &c.type_new) {
                (Some(a), Some(b)) if a != b => format!("{a} -> {b}"),
                (_, Some(t)) | (Some(t), None) => t.clone(),
                (None, None) => String::new(),
            };
            o.line(&format!(
                "  {what:<12} {:>11}  db{} {} ({ty})",
                signed_bytes(c.delta),
                c.db,
                c.key
            ));
        }
    }
}

/// The summary, `rows` rows per table and `levels` prefix levels.
pub fn summary(d: &ReportDiff, rows: usize, levels: usize, color: bool) -> String {
    let mut o = Out {
        text: "rdbscope diff\n".to_string(),
        color,
    };
    o.heading("Snapshots");
    side_line(&mut o, "old", &d.old);
    side_line(&mut o, "new", &d.new);
    match d.elapsed_seconds {
        Some(x) if x > 0 => o.line(&format!("  {} apart", duration(x.unsigned_abs()))),
        Some(x) if x < 0 => o.line(&format!(
            "  the new snapshot was saved {} before the old one: check the order",
            duration(x.unsigned_abs())
        )),
        Some(_) => o.line("  saved at the same second: growth per day is not known"),
        None => o.line("  no ctime on one side: growth per day is not known"),
    }

    let t = &d.totals;
    o.heading("Totals");
    o.line(&format!(
        "  {:<30} {:>12} {:>12} {:>12} {:>8}",
        "", "old", "new", "change", "%"
    ));
    delta_row(&mut o, "keys", &t.keys, false);
    delta_row(&mut o, "keys with TTL", &t.keys_with_ttl, false);
    delta_row(&mut o, "keys already expired", &t.keys_expired, false);
    delta_row(&mut o, "memory", &t.memory, true);
    if let Some(per_day) = t.memory_per_day {
        o.line(&format!(
            "  memory per day: {}",
            signed_bytes(per_day as i64)
        ));
    }
    shares(&mut o, "by db", &t.by_db, rows);
    shares(&mut o, "by type", &t.by_type, rows);
    shares(&mut o, "by encoding", &t.by_encoding, rows);

    table(&mut o, "Key patterns, by memory change", &d.patterns, rows);
    for (i, l) in d.prefixes.iter().enumerate().take(levels) {
        table(&mut o, &format!("Prefixes, level {}", i + 1), l, rows);
    }

    o.heading("Expiry");
    if d.expiry.iter().all(|s| s.memory.delta == 0) {
        o.line("  no change");
    } else {
        for s in d.expiry.iter().filter(|s| s.memory.delta != 0) {
            delta_row(&mut o, &format!("{} (memory)", s.name), &s.memory, true);
        }
    }
    if !d.lost_ttl.is_empty() {
        o.heading("Patterns that lost TTLs (share of memory without a TTL rose)");
        for l in d.lost_ttl.iter().take(rows) {
            o.line(&format!(
                "  {:<40} {:>6.1}% -> {:>5.1}% without TTL, {} more",
                fit(&l.name, 40),
                l.old_no_ttl_pct,
                l.new_no_ttl_pct,
                signed_bytes(l.memory_no_ttl.delta)
            ));
        }
    }

    let k = &d.top_keys;
    o.heading("Top keys by memory");
    if k.entered.is_empty() && k.left.is_empty() && k.both.iter().all(|g| g.memory.delta == 0) {
        o.line("  no change");
    }
    for e in k.entered.iter().take(rows) {
        o.line(&format!(
            "  entered  {:>11}  db{} {} ({})",
            human_bytes(e.memory),
            e.db,
            e.key,
            e.ty
        ));
    }
    for e in k.left.iter().take(rows) {
        o.line(&format!(
            "  left     {:>11}  db{} {} ({})",
            human_bytes(e.memory),
            e.db,
            e.key,
            e.ty
        ));
    }
    for g in k.both.iter().filter(|g| g.memory.delta != 0).take(rows) {
        o.line(&format!(
            "  grew     {:>11}  db{} {} ({}, {} -> {})",
            signed_bytes(g.memory.delta),
            g.db,
            g.key,
            g.ty,
            human_bytes(g.memory.old),
            human_bytes(g.memory.new)
        ));
    }

    let s = &d.streams;
    if s.streams.old + s.streams.new > 0 {
        o.heading("Streams");
        o.line(&format!(
            "  {} streams ({}), {} pending ({})",
            count(s.streams.new),
            signed_count(s.streams.delta),
            count(s.pending.new),
            signed_count(s.pending.delta)
        ));
        for x in s.top.iter().filter(|x| x.pending.delta != 0).take(rows) {
            o.line(&format!(
                "  db{} {}: pending {} -> {} ({}) {}",
                x.db,
                x.key,
                count(x.pending.old),
                count(x.pending.new),
                signed_count(x.pending.delta),
                status(x.status)
            ));
        }
    }

    if let Some(k) = &d.keys {
        keys(&mut o, k, rows);
    }

    let f = &d.findings;
    o.heading("Findings");
    if f.appeared.is_empty() && f.resolved.is_empty() {
        o.line(&format!("  no change ({} still open)", f.still.len()));
    }
    for x in &f.appeared {
        let sev = match x.severity {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
        };
        o.line(&format!("  new       {sev:<8} {}", x.title));
    }
    for x in &f.resolved {
        o.line(&format!("  resolved  {}", x.title));
    }

    o.heading("Projection");
    match &d.projection {
        Some(p) => {
            match p.days_until_full {
                Some(days) => o.line(&format!(
                    "  predicted used_memory {} of maxmemory {}, growing {} a day: full in about \
                     {days:.1} days",
                    human_bytes(p.used_memory),
                    human_bytes(p.maxmemory),
                    signed_bytes(p.growth_per_day as i64)
                )),
                None => o.line(&format!(
                    "  predicted used_memory {} of maxmemory {}, {} a day: not growing towards it",
                    human_bytes(p.used_memory),
                    human_bytes(p.maxmemory),
                    signed_bytes(p.growth_per_day as i64)
                )),
            }
            o.line("  (a linear extrapolation of the change between the two snapshots)");
        }
        None => o.line(
            "  maxmemory not known (give --config maxmemory=… or --redis-conf), or no time \
             between the snapshots",
        ),
    }
    o.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(121), "2 min 1 s");
        assert_eq!(duration(86_400 + 7200), "1 day 2 h");
        assert_eq!(duration(3 * 86_400), "3 days 0 h");
        assert_eq!(signed_bytes(-2048), "-2.0 KiB");
        assert_eq!(signed_count(1234), "+1,234");
    }
}
