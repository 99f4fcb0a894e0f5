//! `analyze --csv-dir`: each table of the report as an RFC 4180 CSV file with a header.

use crate::keys::opt;
use anyhow::{Context, Result};
use rdbscope_analysis::report::{Bucket, KeyOut, Reconciliation, Report, Row, Share, Table};
use std::path::Path;

/// A CSV file built in memory and written atomically by [`CsvOut::flush`].
pub(crate) struct CsvOut {
    w: csv::Writer<Vec<u8>>,
    path: std::path::PathBuf,
}

impl CsvOut {
    pub(crate) fn write_record<I, T>(&mut self, record: I) -> csv::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        self.w.write_record(record)
    }

    /// Replaces the file with what was written.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.w.flush()?;
        crate::output::write_atomic(&self.path, self.w.get_ref())
    }
}

pub(crate) fn writer(dir: &Path, name: &str) -> Result<CsvOut> {
    Ok(CsvOut {
        w: csv::Writer::from_writer(Vec::new()),
        path: dir.join(name),
    })
}

fn shares(dir: &Path, name: &str, rows: &[Share]) -> Result<()> {
    let mut w = writer(dir, name)?;
    w.write_record(["name", "keys", "memory", "memory_pct"])?;
    for r in rows {
        w.write_record([
            r.name.clone(),
            r.keys.to_string(),
            r.memory.to_string(),
            format!("{:.2}", r.memory_pct),
        ])?;
    }
    w.flush()?;
    Ok(())
}

const ROW_HEADER: [&str; 10] = [
    "name",
    "keys",
    "memory",
    "memory_pct",
    "keys_no_ttl",
    "memory_no_ttl",
    "keys_expired",
    "memory_expired",
    "small_strings",
    "by_type",
];

fn row_record(r: &Row) -> Vec<String> {
    let types: Vec<String> = r
        .by_type
        .iter()
        .map(|t| format!("{}={}/{}", t.ty, t.keys, t.memory))
        .collect();
    vec![
        r.name.clone(),
        r.keys.to_string(),
        r.memory.to_string(),
        format!("{:.2}", r.memory_pct),
        r.keys_no_ttl.to_string(),
        r.memory_no_ttl.to_string(),
        r.keys_expired.to_string(),
        r.memory_expired.to_string(),
        r.small_strings.to_string(),
        types.join(" "),
    ]
}

fn table_rows(t: &Table) -> impl Iterator<Item = &Row> {
    t.rows
        .iter()
        .chain(std::iter::once(&t.other).filter(|o| o.keys > 0))
}

/// `reconciliation.csv`: the waterfall, one row a term. Rows of section `predicted` add up to
/// its `used_memory` row; in section `at_save`, `used_mem_at_save` = `predicted_used_memory`
/// + `expired_at_save` + `remainder` (the last three rows only when they are known).
fn reconciliation(dir: &Path, c: &Reconciliation) -> Result<()> {
    let mut w = writer(dir, "reconciliation.csv")?;
    w.write_record(["section", "term", "bytes", "note"])?;
    if let Some(p) = &c.predicted {
        for t in &p.terms {
            w.write_record(["predicted", &t.name, &t.bytes.to_string(), &t.note])?;
        }
        w.write_record([
            "predicted",
            "used_memory",
            &p.used_memory.to_string(),
            "the sum of the terms above",
        ])?;
    }
    if let Some(u) = c.used_mem_at_save {
        w.write_record([
            "at_save",
            "used_mem_at_save",
            &u.to_string(),
            "used-mem recorded in the file(s)",
        ])?;
    }
    if let (Some(rest), Some(p)) = (c.remainder, &c.predicted) {
        w.write_record([
            "at_save",
            "predicted_used_memory",
            &p.used_memory.to_string(),
            "",
        ])?;
        w.write_record([
            "at_save",
            "expired_at_save",
            &c.expired_at_save.to_string(),
            "keys already expired: held at save, dropped by a load",
        ])?;
        w.write_record(["at_save", "remainder", &rest.to_string(), &c.remainder_note])?;
    } else {
        w.write_record(["at_save", "not_compared", "", &c.remainder_note])?;
    }
    w.flush()?;
    Ok(())
}

fn buckets(dir: &Path, name: &str, rows: &[Bucket]) -> Result<()> {
    buckets_or(dir, name, rows, None)
}

/// Bucket rows, or (`no_data`) one row saying why there are none rather than zeros that
/// read like measurements.
fn buckets_or(dir: &Path, name: &str, rows: &[Bucket], no_data: Option<&str>) -> Result<()> {
    let mut w = writer(dir, name)?;
    w.write_record(["bucket", "keys", "memory", "memory_pct"])?;
    if let Some(why) = no_data {
        w.write_record([&format!("(no data: {why})"), "", "", ""])?;
        w.flush()?;
        return Ok(());
    }
    for b in rows {
        w.write_record([
            b.bucket.to_string(),
            b.keys.to_string(),
            b.memory.to_string(),
            format!("{:.2}", b.memory_pct),
        ])?;
    }
    w.flush()?;
    Ok(())
}

fn key_record(list: &str, rank: usize, k: &KeyOut) -> Vec<String> {
    vec![
        list.to_string(),
        rank.to_string(),
        k.file.clone(),
        k.db.to_string(),
        k.key.clone(),
        k.ty.clone(),
        opt(k.encoding.as_deref()),
        k.memory.to_string(),
        k.elements.to_string(),
        opt(k.ttl_seconds),
        opt(k.idle_seconds),
        opt(k.lfu_freq),
        k.offset.to_string(),
    ]
}

/// Writes every table of the report into `dir` (created if missing).
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_dir(dir: &Path, r: &Report) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let mut w = writer(dir, "files.csv")?;
    w.write_record([
        "name",
        "bytes",
        "keys",
        "memory",
        "memory_pct",
        "complete",
        "damage",
        "checksum",
        "checksum_mismatch",
        "codec",
        "compressed_bytes",
    ])?;
    for f in &r.files {
        w.write_record([
            f.name.clone(),
            opt(f.bytes),
            f.keys.to_string(),
            f.memory.to_string(),
            format!("{:.2}", f.memory_pct),
            f.complete.to_string(),
            f.damage
                .as_ref()
                .map_or_else(String::new, |d| d.message.clone()),
            f.checksum.to_string(),
            f.checksum_mismatch
                .as_ref()
                .map_or_else(String::new, |[s, c]| format!("file {s}, contents {c}")),
            f.codec.clone().unwrap_or_default(),
            opt(f.compressed_bytes),
        ])?;
    }
    w.flush()?;
    reconciliation(dir, &r.reconciliation)?;
    shares(dir, "by_db.csv", &r.totals.by_db)?;
    shares(dir, "by_type.csv", &r.totals.by_type)?;
    shares(dir, "by_encoding.csv", &r.totals.by_encoding)?;
    shares(dir, "by_module.csv", &r.totals.by_module)?;

    let mut w = writer(dir, "prefixes.csv")?;
    let mut header = vec!["level"];
    header.extend(ROW_HEADER);
    w.write_record(&header)?;
    for (i, level) in r.prefixes.levels.iter().enumerate() {
        for row in table_rows(level) {
            let mut rec = vec![(i + 1).to_string()];
            rec.extend(row_record(row));
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    let mut w = writer(dir, "patterns.csv")?;
    w.write_record(ROW_HEADER)?;
    for row in table_rows(&r.patterns) {
        w.write_record(row_record(row))?;
    }
    w.flush()?;

    buckets(dir, "expiry.csv", &r.expiry.buckets)?;
    buckets_or(
        dir,
        "idle.csv",
        &r.idle.idle_buckets,
        (r.idle.keys_with_idle == 0).then_some(
            "no key carries an LRU idle time; the dump was written under a non-LRU maxmemory-policy",
        ),
    )?;
    buckets_or(
        dir,
        "lfu.csv",
        &r.idle.freq_buckets,
        (r.idle.keys_with_freq == 0).then_some(
            "no key carries an LFU counter; the dump was written under a non-LFU maxmemory-policy",
        ),
    )?;

    let mut w = writer(dir, "top_keys.csv")?;
    w.write_record([
        "list",
        "rank",
        "file",
        "db",
        "key",
        "type",
        "encoding",
        "memory",
        "elements",
        "ttl_seconds",
        "idle_seconds",
        "lfu_freq",
        "offset",
    ])?;
    let mut lists: Vec<(String, &Vec<KeyOut>)> = vec![
        ("by_memory".into(), &r.top_keys.by_memory),
        ("by_elements".into(), &r.top_keys.by_elements),
        ("no_ttl".into(), &r.expiry.top_no_ttl),
        ("idle".into(), &r.idle.top_idle),
        ("lfu".into(), &r.idle.top_lfu),
    ];
    for t in &r.top_keys.by_type {
        lists.push((format!("{}_by_memory", t.ty), &t.by_memory));
        lists.push((format!("{}_by_elements", t.ty), &t.by_elements));
    }
    for (name, keys) in lists {
        for (i, k) in keys.iter().enumerate() {
            w.write_record(key_record(&name, i + 1, k))?;
        }
    }
    w.flush()?;

    let mut w = writer(dir, "streams.csv")?;
    w.write_record([
        "file",
        "db",
        "key",
        "memory",
        "entries",
        "groups",
        "consumers",
        "pending",
        "max_group_pending",
        "oldest_pending_ms",
        "oldest_pending_age_seconds",
    ])?;
    for s in &r.streams.top_pending {
        w.write_record([
            s.key.file.clone(),
            s.key.db.to_string(),
            s.key.key.clone(),
            s.key.memory.to_string(),
            s.entries.to_string(),
            s.groups.to_string(),
            s.consumers.to_string(),
            s.pending.to_string(),
            s.max_group_pending.to_string(),
            opt(s.oldest_pending_ms),
            opt(s.oldest_pending_age_seconds),
        ])?;
    }
    w.flush()?;

    let mut w = writer(dir, "findings.csv")?;
    w.write_record([
        "id",
        "severity",
        "title",
        "evidence",
        "next_step",
        "command",
    ])?;
    for f in &r.findings {
        w.write_record([
            f.id.to_string(),
            format!("{:?}", f.severity).to_lowercase(),
            f.title.clone(),
            f.evidence.clone(),
            f.next_step.clone(),
            f.command.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
