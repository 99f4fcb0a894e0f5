//! `rdbscope verify`: structure, checksum, every value's contents, and inventory of each
//! file.

use crate::escape::{escape, Escape};
use crate::{input, read_input, Exit, InputArgs};
use anyhow::Result;
use rdbscope_analysis::inventory::{describe_header, Inventory};
use rdbscope_parser::{KeyRecord, Record, Scratch};
use std::io::Write;

/// Undecodable values listed by offset (the rest are counted).
const ANOMALIES_LISTED: usize = 10;

/// Values whose contents cannot be decoded although their framing is intact (a listpack,
/// ziplist or intset with corrupt entries, a bad LZF stream, an unparsable score).
#[derive(Default)]
struct Anomalies {
    count: u64,
    first: Vec<(u64, u64, String, String)>,
}

impl Anomalies {
    /// Decodes every element of `k`'s value (LZF strings are decompressed into `scratch`,
    /// which is reused) and records the error, if any.
    fn check(&mut self, k: &KeyRecord<'_>, scratch: &mut Scratch, key_buf: &mut Vec<u8>) {
        let r = k
            .value
            .for_each_element(scratch, |_| {})
            .and_then(|()| k.value.stream().map(|_| ()));
        if let Err(e) = r {
            self.count += 1;
            if self.first.len() < ANOMALIES_LISTED {
                let key = k
                    .key
                    .bytes(key_buf)
                    .map_or_else(|_| String::from("?"), |b| escape(b, Escape::Print));
                self.first.push((k.offset, k.db, key, e.to_string()));
            }
        }
    }
}

/// Arguments of `verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Snapshot files (`-` for standard input; `.lz4`, Valkey `VCS` files and AOF
    /// directories are recognised).
    #[arg(required = true)]
    files: Vec<String>,
    #[command(flatten)]
    input: InputArgs,
}

/// Runs `verify` over every file; the exit code is the worst outcome.
///
/// # Errors
/// Output errors.
pub fn run(args: &Args) -> Result<Exit> {
    let mut worst = Exit::Ok;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (i, file) in args.files.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let inp = match input::open(file, args.input.no_mmap) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("rdbscope: {e:#}");
                worst = worst.max(Exit::Error);
                continue;
            }
        };
        let name = inp.name.clone();
        let container = inp.container;
        let mut inv = Inventory::default();
        let mut anomalies = Anomalies::default();
        let mut scratch = Scratch::new();
        let mut key_buf = Vec::new();
        let outcome = read_input(inp, &args.input, |_, r| {
            inv.observe(r);
            if let Record::Key(k) = r {
                anomalies.check(k, &mut scratch, &mut key_buf);
            }
            Ok(())
        })?;
        writeln!(out, "file: {name}")?;
        if container != "rdb" {
            writeln!(out, "container: {container}")?;
        }
        if let Some(h) = outcome.summary.header {
            writeln!(out, "format: {}", describe_header(&h))?;
        }
        for a in &inv.aux {
            if a.count > 1 {
                writeln!(
                    out,
                    "aux {}: {} (written {} times)",
                    a.key, a.value, a.count
                )?;
            } else {
                writeln!(out, "aux {}: {}", a.key, a.value)?;
            }
        }
        for (name, engine) in &inv.functions {
            writeln!(out, "function library: {name} ({engine})")?;
        }
        for (m, c) in &inv.modules {
            writeln!(
                out,
                "module {m}: {} value(s), {} aux record(s), {} bytes",
                c.values, c.aux, c.bytes
            )?;
        }
        writeln!(out, "keys: {}", inv.keys())?;
        for (db, c) in &inv.keys_by_db {
            writeln!(
                out,
                "  {}: {} keys, {} with TTL, {} already expired",
                rdbscope_analysis::report::db_label(*db),
                c.keys,
                c.expires,
                c.expired
            )?;
        }
        for (t, n) in &inv.keys_by_encoding {
            writeln!(out, "  {t}: {n}")?;
        }
        match inv.ctime_ms() {
            Some(ms) => writeln!(
                out,
                "expired at snapshot time (ctime {}): {}",
                ms / 1000,
                inv.expired
            )?,
            None => writeln!(
                out,
                "expired at snapshot time: unknown (no ctime AUX field)"
            )?,
        }
        if inv.slot_infos > 0 {
            writeln!(out, "slot info records: {}", inv.slot_infos)?;
        }
        if inv.slot_imports > 0 {
            writeln!(out, "slot import records: {}", inv.slot_imports)?;
        }
        let s = &outcome.summary;
        if s.checksum_disabled {
            writeln!(
                out,
                "checksum: disabled in the file (saved with rdbchecksum no)"
            )?;
        } else if let Some((stored, computed)) = s.checksum {
            if stored == computed {
                writeln!(out, "checksum: ok (0x{stored:016x})")?;
            } else {
                writeln!(
                    out,
                    "checksum: mismatch: file says 0x{stored:016x}, contents give 0x{computed:016x} \
                     (all records were read; some value may be wrong)"
                )?;
            }
        } else if outcome.damage.is_none() {
            writeln!(out, "checksum: not checked")?;
        } else {
            writeln!(
                out,
                "checksum: not reached (reading stopped at, or skipped, the damage)"
            )?;
        }
        if s.trailing_bytes > 0 {
            let resp = s.trailing_head.first() == Some(&b'*');
            let what = if resp {
                "AOF tail (RESP commands)"
            } else {
                "trailing bytes"
            };
            writeln!(
                out,
                "{what} after the RDB part: {} bytes at offset {}",
                s.trailing_bytes, s.rdb_bytes
            )?;
        }
        if anomalies.count > 0 {
            writeln!(
                out,
                "values that cannot be decoded: {} (framing intact)",
                anomalies.count
            )?;
            for (offset, db, key, error) in &anomalies.first {
                writeln!(out, "  db{db} key {key} at offset {offset}: {error}")?;
            }
        }
        match outcome.damage {
            None if anomalies.count > 0 => {
                writeln!(out, "result: damaged values")?;
                out.flush()?;
                let (_, _, key, error) = &anomalies.first[0];
                eprintln!(
                    "{name}: {} value(s) cannot be decoded; the first, key {key}: {error}",
                    anomalies.count
                );
                worst = worst.max(Exit::Damaged);
            }
            None => writeln!(out, "result: valid")?,
            Some(d) if s.checksum_mismatch().is_some() => {
                writeln!(out, "result: checksum mismatch")?;
                out.flush()?;
                eprintln!("{name}: {d} (all records were read; some value may be wrong)");
                worst = worst.max(Exit::Damaged);
            }
            Some(d) => {
                writeln!(out, "result: damaged")?;
                out.flush()?;
                d.tell(&name);
                worst = worst.max(Exit::Damaged);
            }
        }
    }
    out.flush()?;
    Ok(worst)
}
