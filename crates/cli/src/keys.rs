//! `rdbscope keys`: one line per key.

use crate::escape::{escape, Escape};
use crate::{input, read_input, Exit, InputArgs};
use anyhow::Result;
use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::model::{Model, ServerLine};
use rdbscope_parser::{DataType, Record, Scratch};
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
    /// Memory model: the server line whose accounting to reproduce (e.g. `redis-7.2`);
    /// default: the line that wrote the file (`redis-ver` / `valkey-ver` AUX).
    #[arg(long)]
    model: Option<String>,
    /// Allocator of the loading server.
    #[arg(long, value_enum, default_value_t = AllocatorArg::Jemalloc)]
    allocator: AllocatorArg,
    #[command(flatten)]
    input: InputArgs,
}

/// `--allocator` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AllocatorArg {
    /// The jemalloc Redis and Valkey bundle (8-byte quantum): upstream builds, official images.
    Jemalloc,
    /// A system jemalloc with a 16-byte quantum (Debian and Ubuntu packages).
    #[value(name = "jemalloc-16")]
    Jemalloc16,
    /// glibc malloc.
    Libc,
}

impl From<AllocatorArg> for Allocator {
    fn from(a: AllocatorArg) -> Self {
        match a {
            AllocatorArg::Jemalloc => Allocator::Jemalloc,
            AllocatorArg::Jemalloc16 => Allocator::Jemalloc16,
            AllocatorArg::Libc => Allocator::Libc,
        }
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

/// Runs `keys`.
///
/// # Errors
/// Opening the input or writing the output.
pub fn run(args: &Args) -> Result<Exit> {
    let forced = match &args.model {
        Some(m) => Some(ServerLine::parse(m).ok_or_else(|| anyhow::anyhow!("unknown --model {m:?} (known: redis-7.0, redis-7.2, redis-7.4, redis-8.0, valkey-7.2)"))?),
        None => None,
    };
    let allocator: Allocator = args.allocator.into();
    let mut versions: (Option<String>, Option<String>) = (None, None);
    let mut model: Option<Option<Model>> = None;
    let mut scratch = Scratch::new();
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
            Record::Aux { key, value, .. } if key.as_raw() == Some(b"redis-ver") => {
                versions.0 = value
                    .to_vec()
                    .ok()
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
            }
            Record::Aux { key, value, .. } if key.as_raw() == Some(b"valkey-ver") => {
                versions.1 = value
                    .to_vec()
                    .ok()
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
            }
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
                let model = *model.get_or_insert_with(|| {
                    forced
                        .or_else(|| {
                            ServerLine::from_versions(versions.0.as_deref(), versions.1.as_deref())
                        })
                        .map(|line| Model::new(line, allocator))
                });
                match model.map(|m| m.estimate(k, &mut scratch)) {
                    Some(Ok(e)) => write!(
                        out,
                        ",\"memory\":{},\"encoding\":\"{}\",\"elements\":{},\"largest_element\":{}",
                        e.memory,
                        e.encoding.as_str(),
                        e.elements,
                        e.largest_element
                    )?,
                    Some(Err(e)) => write!(
                        out,
                        ",\"memory\":null,\"anomaly\":{}",
                        json_str(&e.to_string())
                    )?,
                    None => out.write_all(b",\"memory\":null")?,
                }
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
