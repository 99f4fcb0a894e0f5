//! `diff --csv-dir DIR`: each section of the diff as an RFC 4180 CSV file with a header.
//! Every quantity is four columns: `old`, `new`, `delta`, `pct` (empty when old is 0).

use crate::report_csv::writer;
use anyhow::{Context, Result};
use rdbscope_analysis::diff::{Delta, ReportDiff, RowStatus, ShareDiff, TableDiff};
use rdbscope_analysis::report::KeyOut;
use std::path::Path;

fn cells(d: &Delta) -> [String; 4] {
    [
        d.old.to_string(),
        d.new.to_string(),
        d.delta.to_string(),
        d.pct.map_or_else(String::new, |p| format!("{p:.2}")),
    ]
}

fn header(lead: &[&str], quantities: &[&str]) -> Vec<String> {
    let mut h: Vec<String> = lead.iter().map(|s| s.to_string()).collect();
    for q in quantities {
        for part in ["old", "new", "delta", "pct"] {
            h.push(format!("{q}_{part}"));
        }
    }
    h
}

fn status(s: RowStatus) -> &'static str {
    match s {
        RowStatus::Both => "both",
        RowStatus::New => "new",
        RowStatus::Vanished => "vanished",
        RowStatus::InOldOther => "in_old_other",
        RowStatus::InNewOther => "in_new_other",
    }
}

fn table_rows(level: &str, t: &TableDiff) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (r, st) in t
        .rows
        .iter()
        .map(|r| (r, status(r.status)))
        .chain(std::iter::once((&t.rest, "rest")))
    {
        let mut row = vec![level.to_string(), r.name.clone(), st.to_string()];
        for d in [&r.keys, &r.memory, &r.memory_no_ttl, &r.keys_expired] {
            row.extend(cells(d));
        }
        out.push(row);
    }
    out
}

fn key_row(change: &str, k: &KeyOut) -> Vec<String> {
    vec![
        change.to_string(),
        k.db.to_string(),
        k.key.clone(),
        k.ty.clone(),
        String::new(),
        k.memory.to_string(),
        String::new(),
        String::new(),
    ]
}

/// Writes the diff's CSV files into `dir` (created if absent), each replaced atomically.
///
/// # Errors
/// The directory cannot be created or a file written.
pub fn write_dir(dir: &Path, d: &ReportDiff) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut w = writer(dir, "totals.csv")?;
    w.write_record(
        header(&["quantity"], &[""])
            .iter()
            .map(|h| h.trim_start_matches('_')),
    )?;
    let t = &d.totals;
    for (name, q) in [
        ("keys", &t.keys),
        ("keys_with_ttl", &t.keys_with_ttl),
        ("keys_expired", &t.keys_expired),
        ("memory", &t.memory),
    ] {
        let mut row = vec![name.to_string()];
        row.extend(cells(q));
        w.write_record(row)?;
    }
    w.flush()?;

    let mut w = writer(dir, "shares.csv")?;
    w.write_record(header(&["group", "name"], &["keys", "memory"]))?;
    let groups: [(&str, &[ShareDiff]); 4] = [
        ("db", &t.by_db),
        ("type", &t.by_type),
        ("encoding", &t.by_encoding),
        ("expiry", &d.expiry),
    ];
    for (g, list) in groups {
        for s in list {
            let mut row = vec![g.to_string(), s.name.clone()];
            row.extend(cells(&s.keys));
            row.extend(cells(&s.memory));
            w.write_record(row)?;
        }
    }
    w.flush()?;

    let q = ["keys", "memory", "memory_no_ttl", "keys_expired"];
    let mut w = writer(dir, "patterns.csv")?;
    w.write_record(header(&["table", "name", "status"], &q))?;
    for row in table_rows("patterns", &d.patterns) {
        w.write_record(row)?;
    }
    w.flush()?;
    let mut w = writer(dir, "prefixes.csv")?;
    w.write_record(header(&["level", "name", "status"], &q))?;
    for (i, l) in d.prefixes.iter().enumerate() {
        for row in table_rows(&(i + 1).to_string(), l) {
            w.write_record(row)?;
        }
    }
    w.flush()?;

    let mut w = writer(dir, "lost_ttl.csv")?;
    let mut h = vec![
        "pattern".to_string(),
        "old_no_ttl_pct".into(),
        "new_no_ttl_pct".into(),
    ];
    h.extend(header(&[], &["memory_no_ttl"]));
    w.write_record(h)?;
    for l in &d.lost_ttl {
        let mut row = vec![
            l.name.clone(),
            format!("{:.2}", l.old_no_ttl_pct),
            format!("{:.2}", l.new_no_ttl_pct),
        ];
        row.extend(cells(&l.memory_no_ttl));
        w.write_record(row)?;
    }
    w.flush()?;

    let mut w = writer(dir, "top_keys.csv")?;
    w.write_record([
        "change",
        "db",
        "key",
        "type",
        "memory_old",
        "memory_new",
        "memory_delta",
        "memory_pct",
    ])?;
    for k in &d.top_keys.entered {
        w.write_record(key_row("entered", k))?;
    }
    for k in &d.top_keys.left {
        let mut row = key_row("left", k);
        row.swap(4, 5);
        w.write_record(row)?;
    }
    for g in &d.top_keys.both {
        let mut row = vec![
            "both".to_string(),
            g.db.to_string(),
            g.key.clone(),
            g.ty.clone(),
        ];
        row.extend(cells(&g.memory));
        w.write_record(row)?;
    }
    w.flush()?;

    let mut w = writer(dir, "streams.csv")?;
    w.write_record(header(
        &["db", "key", "status"],
        &["pending", "entries", "memory"],
    ))?;
    for s in &d.streams.top {
        let mut row = vec![
            s.db.to_string(),
            s.key.clone(),
            status(s.status).to_string(),
        ];
        for q in [&s.pending, &s.entries, &s.memory] {
            row.extend(cells(q));
        }
        w.write_record(row)?;
    }
    w.flush()?;

    if let Some(k) = &d.keys {
        let mut w = writer(dir, "keys.csv")?;
        w.write_record([
            "change",
            "db",
            "key",
            "type_old",
            "type_new",
            "memory_old",
            "memory_new",
            "delta",
        ])?;
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<u64>| v.map_or_else(String::new, |x| x.to_string());
        for (change, list) in [
            ("appeared", &k.top_appeared),
            ("disappeared", &k.top_disappeared),
            ("grew", &k.top_grew),
            ("shrank", &k.top_shrank),
            ("lost_ttl", &k.top_lost_ttl),
            ("changed_type", &k.top_changed_type),
        ] {
            for c in list {
                w.write_record([
                    change.to_string(),
                    c.db.to_string(),
                    c.key.clone(),
                    opt(&c.type_old),
                    opt(&c.type_new),
                    num(c.memory_old),
                    num(c.memory_new),
                    c.delta.to_string(),
                ])?;
            }
        }
        w.flush()?;
    }

    let mut w = writer(dir, "findings.csv")?;
    w.write_record(["change", "id", "severity", "title", "command"])?;
    for (change, list) in [
        ("appeared", &d.findings.appeared),
        ("resolved", &d.findings.resolved),
        ("still", &d.findings.still),
    ] {
        for f in list {
            w.write_record([
                change.to_string(),
                f.id.clone(),
                format!("{:?}", f.severity).to_lowercase(),
                f.title.clone(),
                f.command.clone().unwrap_or_default(),
            ])?;
        }
    }
    w.flush()
}
