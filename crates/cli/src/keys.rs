//! `rdbscope keys`: one line per key.

use crate::escape::{escape, Escape};
use crate::{input, read_input, Exit, InputArgs};
use anyhow::Result;
use rdbscope_parser::{DataType, Record};
use std::io::{BufWriter, Write};

/// Output formats of `keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
}

/// Arguments of `keys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Snapshot file (`-` for standard input).
    file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// How key names are written.
    #[arg(long, value_enum, default_value_t = Escape::Print)]
    escape: Escape,
    #[command(flatten)]
    input: InputArgs,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Runs `keys`.
///
/// # Errors
/// Opening the input or writing the output.
pub fn run(args: &Args) -> Result<Exit> {
    let inp = input::open(&args.file, args.input.no_mmap)?;
    let name = inp.name.clone();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    // Keys expiring before the end of the snapshot's second (`ctime`) count as expired,
    // as in `Inventory::expired_cutoff_ms`.
    let mut ctime: Option<i64> = None;
    let mut key_buf = Vec::new();
    let outcome = read_input(inp, &args.input, |rec| {
        match rec {
            Record::Aux { key, value, .. } if key.as_raw() == Some(b"ctime") => {
                ctime = value
                    .to_vec()
                    .ok()
                    .and_then(|v| std::str::from_utf8(&v).ok()?.parse::<i64>().ok())
                    .map(|s| s.saturating_mul(1000).saturating_add(1000));
            }
            Record::Key(k) => {
                let key = match k.key.bytes(&mut key_buf) {
                    Ok(b) => escape(b, args.escape),
                    Err(e) => return Err(std::io::Error::other(e.to_string())),
                };
                let ty = match k.value.data_type() {
                    DataType::Module => k
                        .value
                        .module()
                        .map_or_else(|| "module".to_string(), |m| m.id.name()),
                    t => t.as_str().to_string(),
                };
                let (exp, expired) = match (k.expire_ms, ctime) {
                    (Some(e), Some(c)) => (e.to_string(), (e < c).to_string()),
                    (Some(e), None) => (e.to_string(), "null".to_string()),
                    (None, _) => ("null".to_string(), "false".to_string()),
                };
                write!(
                    out,
                    "{{\"db\":{},\"key\":{},\"type\":{},\"expire_at_ms\":{exp},\"expired\":{expired},\"rdb_type\":\"{}\",\"offset\":{},\"size\":{}",
                    k.db,
                    json_str(&key),
                    json_str(&ty),
                    k.value.kind().name(),
                    k.offset,
                    k.size
                )?;
                if let Some(i) = k.idle {
                    write!(out, ",\"idle_seconds\":{i}")?;
                }
                if let Some(f) = k.freq {
                    write!(out, ",\"lfu_freq\":{f}")?;
                }
                out.write_all(b"}\n")?;
            }
            _ => {}
        }
        Ok(())
    })?;
    out.flush()?;
    match outcome.damage {
        None => Ok(Exit::Ok),
        Some(d) => {
            eprintln!("{name}: {d}");
            Ok(Exit::Damaged)
        }
    }
}
