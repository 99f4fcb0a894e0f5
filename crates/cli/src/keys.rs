//! `rdbscope keys`: one line per key.

use crate::escape::{escape_into, Escape};
use crate::{input, read_input_windows, Exit, InputArgs};
use anyhow::Result;
use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::context::{FileContext, ModelChoice};
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::model::{KeyEstimate, Model, ServerLine, Thresholds};
use rdbscope_analysis::report::Setting;
use rdbscope_analysis::used_memory::LoadingServer;
use rdbscope_parser::{DataType, KeyRecord, Record, Scratch};
use std::borrow::Cow;
use std::io::{BufWriter, Write};

/// Output formats of `keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// The redis-rdb-tools memory report columns, for existing scripts.
    #[value(name = "rdbtools-csv")]
    RdbtoolsCsv,
}

/// Types for `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    /// Strings.
    String,
    /// Lists.
    List,
    /// Sets.
    Set,
    /// Sorted sets.
    Zset,
    /// Hashes.
    Hash,
    /// Streams.
    Stream,
    /// Module values.
    Module,
}

impl From<TypeArg> for DataType {
    fn from(t: TypeArg) -> Self {
        match t {
            TypeArg::String => DataType::String,
            TypeArg::List => DataType::List,
            TypeArg::Set => DataType::Set,
            TypeArg::Zset => DataType::Zset,
            TypeArg::Hash => DataType::Hash,
            TypeArg::Stream => DataType::Stream,
            TypeArg::Module => DataType::Module,
        }
    }
}

/// Key filters shared with `analyze`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only these databases (repeatable).
    #[arg(long)]
    pub db: Vec<u64>,
    /// Only these types (repeatable).
    #[arg(long = "type", value_enum)]
    pub types: Vec<TypeArg>,
    /// Only keys matching this Redis-style glob (`*`, `?`, `[a-z]`, `\x`).
    #[arg(long = "match")]
    pub glob: Option<String>,
    /// Only keys matching this regular expression.
    #[arg(long)]
    pub regex: Option<String>,
    /// Only keys whose predicted memory is at least this much (`4096`, `500k`, `1MiB`;
    /// `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` and `KiB`/`MiB`/`GiB` of 1024).
    #[arg(long, value_parser = rdbscope_analysis::units::parse_bytes)]
    pub min_memory: Option<u64>,
    /// Only keys with at least this many elements (fields, members, entries; 1 for a
    /// string).
    #[arg(long)]
    pub min_elements: Option<u64>,
    /// Only keys without a TTL.
    #[arg(long)]
    pub no_expiry: bool,
    /// Only keys already expired at snapshot time.
    #[arg(long)]
    pub expired: bool,
}

impl FilterArgs {
    /// Whether any filter is set.
    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
            && self.types.is_empty()
            && self.glob.is_none()
            && self.regex.is_none()
            && self.min_memory.is_none()
            && self.min_elements.is_none()
            && !self.no_expiry
            && !self.expired
    }

    /// Builds the filter.
    ///
    /// # Errors
    /// An invalid regular expression.
    pub fn build(&self) -> Result<KeyFilter> {
        Ok(KeyFilter {
            dbs: self.db.clone(),
            types: self.types.iter().map(|&t| t.into()).collect(),
            glob: self.glob.as_ref().map(|g| g.as_bytes().to_vec()),
            regex: match &self.regex {
                Some(r) => {
                    Some(regex::bytes::Regex::new(r).map_err(|e| anyhow::anyhow!("--regex: {e}"))?)
                }
                None => None,
            },
            min_memory: self.min_memory,
            min_elements: self.min_elements,
            no_expiry: self.no_expiry,
            expired: self.expired,
        })
    }
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
    model: ModelArgs,
    #[command(flatten)]
    filter: FilterArgs,
    #[command(flatten)]
    input: InputArgs,
    /// Worker threads (default: all cores). The output is the same for any count, in the
    /// order of the file.
    #[arg(long)]
    threads: Option<usize>,
}

/// Memory-model options shared by `keys` and `analyze`.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Memory model: the server line whose accounting to reproduce (e.g. `redis-7.2`);
    /// default: the line that wrote the file (`redis-ver` / `valkey-ver` AUX).
    #[arg(long)]
    model: Option<String>,
    /// Allocator of the loading server. Default: `analyze` infers it from the dump's
    /// `used-mem` and says so on the Snapshot line; `keys` takes the packaging default of the
    /// file's version (jemalloc-16 for the versions Debian and Ubuntu ship, jemalloc
    /// otherwise).
    #[arg(long, value_enum)]
    allocator: Option<AllocatorArg>,
    /// A setting of the loading server, `name=value` (repeatable): the encoding thresholds
    /// (`hash-max-listpack-entries`, `list-max-listpack-size`, …), `list-compress-depth`,
    /// `maxmemory`, `maxmemory-policy`, `cluster-enabled` (unless given: on for a file with
    /// slot information, which only a cluster node writes).
    #[arg(long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
    /// Read the loading server's settings from a redis.conf / valkey.conf.
    #[arg(long, value_name = "FILE")]
    redis_conf: Option<std::path::PathBuf>,
}

impl ModelArgs {
    /// Whether `--allocator` was given.
    pub fn has_allocator(&self) -> bool {
        self.allocator.is_some()
    }

    /// Sets the allocator when `--allocator` was not given (from the server's own INFO).
    pub fn default_allocator(&mut self, a: AllocatorArg) {
        self.allocator.get_or_insert(a);
    }

    /// The model choice, or the usage message for a bad setting.
    ///
    /// # Errors
    /// An unknown model, an unreadable or invalid config file, a bad `--config`.
    pub fn build(&self) -> std::result::Result<BuiltModel, ModelError> {
        let forced = match &self.model {
            Some(m) => Some(ServerLine::parse(m).ok_or_else(|| {
                ModelError::Usage(format!("unknown --model {m:?} (known: redis-6.2, redis-7.0, redis-7.2, redis-7.4, redis-8.0, redis-8.2, redis-8.4, redis-8.6, valkey-7.2, valkey-8.0, valkey-8.1, valkey-9.0)"))
            })?),
            None => None,
        };
        let mut settings = Thresholds::default();
        let mut applied = crate::conf::Applied::default();
        if let Some(p) = &self.redis_conf {
            crate::conf::apply(p, &mut settings, &mut applied, 0, "--redis-conf").map_err(|e| {
                match e {
                    crate::conf::ConfError::Io(m) => ModelError::Io(m),
                    crate::conf::ConfError::Invalid(m) => ModelError::Usage(m),
                }
            })?;
        }
        for c in &self.config {
            let Some((k, v)) = c.split_once('=') else {
                return Err(ModelError::Usage(format!(
                    "--config {c:?}: expected NAME=VALUE"
                )));
            };
            match settings.set(k.trim(), v) {
                Ok(true) => applied.set.push((
                    k.trim().to_ascii_lowercase().replace("ziplist", "listpack"),
                    "--config".to_string(),
                )),
                Ok(false) => {
                    eprintln!("rdbscope: --config {k}: not used by the memory model, ignored");
                }
                Err(e) => return Err(ModelError::Usage(format!("--config {e}"))),
            }
        }
        let mut record = Vec::new();
        if let Some(m) = &self.model {
            record.push(setting("model", m, "--model"));
        }
        record.extend(applied.files.iter().cloned());
        for (name, value) in settings.entries() {
            record.push(setting(name, &value, applied.from(name)));
        }
        Ok(BuiltModel {
            choice: ModelChoice {
                forced,
                allocator: self.allocator.map(Into::into),
                settings,
                cluster_from_file: applied.from("cluster-enabled") == "default",
            },
            settings: record,
        })
    }
}

/// A setting for the report's `settings` list.
pub fn setting(name: &str, value: &str, from: &str) -> Setting {
    Setting {
        name: name.to_string(),
        value: value.to_string(),
        from: from.to_string(),
    }
}

/// The model options, resolved.
pub struct BuiltModel {
    /// How each file's model is picked.
    pub choice: ModelChoice,
    /// What was applied and from where (`--model`, config files, every loading-server
    /// setting).
    pub settings: Vec<Setting>,
}

/// Why the model options cannot be used.
#[derive(Debug)]
pub enum ModelError {
    /// A bad value (exit 2).
    Usage(String),
    /// A file that cannot be read (exit 1).
    Io(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::Usage(m) | ModelError::Io(m) => f.write_str(m),
        }
    }
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

/// Writes `s` as a JSON string.
fn json_str(out: &mut impl Write, s: &str) -> std::io::Result<()> {
    serde_json::to_writer(out, s).map_err(std::io::Error::other)
}

/// One output row.
struct Row<'a> {
    db: u64,
    key: &'a str,
    ty: &'a str,
    expire_at_ms: Option<i64>,
    expired: Option<bool>,
    rdb_type: &'static str,
    offset: u64,
    size: u64,
    est: Option<KeyEstimate>,
    anomaly: Option<String>,
    overhead: Option<u64>,
    idle: Option<u64>,
    freq: Option<u8>,
}

/// An optional value as a CSV cell (empty when absent).
pub(crate) fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(String::new, |x| x.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC) as redis-rdb-tools prints expiries.
pub(crate) fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let micros = ms.rem_euclid(1000) * 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

fn rdbtools_type(ty: &str) -> &str {
    if ty == "zset" {
        "sortedset"
    } else {
        ty
    }
}

/// One CSV record written field by field into the output: numbers through `itoa`, text
/// borrowed, so a row costs no allocation (a 10 M-key dump writes 150 M fields).
///
/// The bytes are those of the `csv` crate's default writer (RFC 4180: a field holding a
/// comma, a double quote, CR or LF is quoted, its quotes doubled; records end with LF), and
/// a test compares the two on arbitrary fields. It is written by hand because the `csv`
/// writer's per-field state machine took 40% of `keys --format csv`'s time (A: 1.1 of
/// 2.5 s of CPU).
struct Fields<'c, W: Write> {
    out: &'c mut W,
    first: bool,
}

impl<'c, W: Write> Fields<'c, W> {
    fn new(out: &'c mut W) -> Self {
        Fields { out, first: true }
    }

    fn text(&mut self, s: &str) -> std::io::Result<()> {
        self.field(s.as_bytes())
    }

    fn field(&mut self, s: &[u8]) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        if !s.iter().any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
            return self.out.write_all(s);
        }
        self.out.write_all(b"\"")?;
        for part in s.split_inclusive(|&b| b == b'"') {
            self.out.write_all(part)?;
            if part.last() == Some(&b'"') {
                self.out.write_all(b"\"")?;
            }
        }
        self.out.write_all(b"\"")
    }

    /// A number: digits and a sign never need quoting.
    fn num(&mut self, v: impl itoa::Integer) -> std::io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.out.write_all(itoa::Buffer::new().format(v).as_bytes())
    }

    /// A number, or an empty cell when absent.
    fn opt(&mut self, v: Option<impl itoa::Integer>) -> std::io::Result<()> {
        match v {
            Some(v) => self.num(v),
            None => self.field(b""),
        }
    }

    fn end(self) -> std::io::Result<()> {
        self.out.write_all(b"\n")
    }

    /// A record of text fields (a header).
    fn record(out: &'c mut W, fields: &[&str]) -> std::io::Result<()> {
        let mut f = Fields::new(out);
        for s in fields {
            f.text(s)?;
        }
        f.end()
    }
}

enum Sink<W: Write> {
    Jsonl(W),
    Csv(W),
    Rdbtools(W),
}

impl<W: Write> Sink<W> {
    /// A sink of rows only, for a part of the output that another sink began.
    fn rows_only(format: Format, w: W) -> Self {
        match format {
            Format::Jsonl => Sink::Jsonl(w),
            Format::Csv => Sink::Csv(w),
            Format::RdbtoolsCsv => Sink::Rdbtools(w),
        }
    }

    /// A sink writing the header row of `format`, if it has one, then rows.
    fn new(format: Format, w: W) -> std::io::Result<Self> {
        let mut sink = Self::rows_only(format, w);
        match &mut sink {
            Sink::Jsonl(_) => {}
            Sink::Csv(c) => {
                Fields::record(
                    c,
                    &[
                        "db",
                        "key",
                        "type",
                        "encoding",
                        "memory",
                        "elements",
                        "largest_element",
                        "keyspace_overhead",
                        "expire_at_ms",
                        "expired",
                        "rdb_type",
                        "offset",
                        "size",
                        "idle_seconds",
                        "lfu_freq",
                    ],
                )?;
            }
            Sink::Rdbtools(c) => {
                Fields::record(
                    c,
                    &[
                        "database",
                        "type",
                        "key",
                        "size_in_bytes",
                        "encoding",
                        "num_elements",
                        "len_largest_element",
                        "expiry",
                    ],
                )?;
            }
        }
        Ok(sink)
    }

    /// The writer, with everything written so far in it.
    fn into_inner(self) -> W {
        match self {
            Sink::Jsonl(w) | Sink::Csv(w) | Sink::Rdbtools(w) => w,
        }
    }

    fn row(&mut self, r: &Row<'_>) -> std::io::Result<()> {
        match self {
            Sink::Jsonl(out) => {
                out.write_all(b"{\"db\":")?;
                out.write_all(itoa::Buffer::new().format(r.db).as_bytes())?;
                out.write_all(b",\"key\":")?;
                json_str(out, r.key)?;
                out.write_all(b",\"type\":")?;
                json_str(out, r.ty)?;
                out.write_all(b",\"expire_at_ms\":")?;
                match r.expire_at_ms {
                    Some(e) => out.write_all(itoa::Buffer::new().format(e).as_bytes())?,
                    None => out.write_all(b"null")?,
                }
                out.write_all(b",\"expired\":")?;
                out.write_all(match r.expired {
                    Some(true) => b"true",
                    Some(false) => b"false",
                    None => b"null",
                })?;
                write!(
                    out,
                    ",\"rdb_type\":\"{}\",\"offset\":{},\"size\":{}",
                    r.rdb_type, r.offset, r.size
                )?;
                match (&r.est, &r.anomaly) {
                    (Some(e), _) => write!(
                        out,
                        ",\"memory\":{},\"encoding\":\"{}\",\"elements\":{},\"largest_element\":{},\"keyspace_overhead\":{}",
                        e.memory,
                        e.encoding.as_str(),
                        e.elements,
                        e.largest_element,
                        r.overhead.unwrap_or(0)
                    )?,
                    (None, Some(a)) => {
                        out.write_all(b",\"memory\":null,\"anomaly\":")?;
                        json_str(out, a)?;
                    }
                    (None, None) => out.write_all(b",\"memory\":null")?,
                }
                if let Some(i) = r.idle {
                    write!(out, ",\"idle_seconds\":{i}")?;
                }
                if let Some(f) = r.freq {
                    write!(out, ",\"lfu_freq\":{f}")?;
                }
                out.write_all(b"}\n")
            }
            Sink::Csv(c) => {
                let e = r.est;
                let mut f = Fields::new(c);
                f.num(r.db)?;
                f.text(r.key)?;
                f.text(r.ty)?;
                f.text(e.map_or("", |e| e.encoding.as_str()))?;
                f.opt(e.map(|e| e.memory))?;
                f.opt(e.map(|e| e.elements))?;
                f.opt(e.map(|e| e.largest_element))?;
                f.opt(r.overhead.filter(|_| e.is_some()))?;
                f.opt(r.expire_at_ms)?;
                f.text(r.expired.map_or("", |x| if x { "true" } else { "false" }))?;
                f.text(r.rdb_type)?;
                f.num(r.offset)?;
                f.num(r.size)?;
                f.opt(r.idle)?;
                f.opt(r.freq)?;
                f.end()
            }
            Sink::Rdbtools(c) => {
                let e = r.est;
                let mut f = Fields::new(c);
                f.num(r.db)?;
                f.text(rdbtools_type(r.ty))?;
                f.text(r.key)?;
                f.opt(e.map(|e| e.memory))?;
                f.text(e.map_or("", |e| e.encoding.as_str()))?;
                f.opt(e.map(|e| e.elements))?;
                f.opt(e.map(|e| e.largest_element))?;
                f.text(&r.expire_at_ms.map_or_else(String::new, iso_utc))?;
                f.end()
            }
        }
    }
}

/// Keys of a run below which its rows are written on the calling thread.
const PARALLEL_MIN_KEYS: usize = 256;

/// Keys a worker writes the rows of at a time.
const TASK_KEYS: usize = 256;

/// Records taken at a time: the keys of a run are written by the workers together.
const RUN_RECORDS: usize = 4096;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A key and what the records before it decide about it.
struct KeyJob<'r, 'a> {
    k: &'r KeyRecord<'a>,
    model: Option<Model>,
    expired: Option<bool>,
}

/// What a worker reuses from key to key.
#[derive(Default)]
struct Work {
    scratch: Scratch,
    key_buf: Vec<u8>,
    key_text: String,
    /// The loading server of the last model, built once rather than per key.
    server: Option<(Model, LoadingServer)>,
}

/// The settings every row is written with.
struct Settings<'s> {
    filter: &'s KeyFilter,
    escape: crate::escape::Escape,
}

/// Writes the row of one key to `sink`, unless a filter drops it.
fn write_key<W: Write>(
    sink: &mut Sink<W>,
    job: &KeyJob<'_, '_>,
    set: &Settings<'_>,
    w: &mut Work,
) -> std::io::Result<()> {
    let k = job.k;
    let key_bytes = k
        .key
        .bytes(&mut w.key_buf)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let dt = k.value.data_type();
    if !set
        .filter
        .keep_key(k.db, key_bytes, dt, k.expire_ms, job.expired == Some(true))
    {
        return Ok(());
    }
    escape_into(key_bytes, set.escape, &mut w.key_text);
    let (est, anomaly) = match job.model.map(|m| m.estimate(k, &mut w.scratch)) {
        Some(Ok(e)) => (Some(e), None),
        Some(Err(e)) => (None, Some(e.to_string())),
        None => (None, None),
    };
    if !set
        .filter
        .keep_estimate(est.map(|e| e.memory), est.map(|e| e.elements))
    {
        return Ok(());
    }
    let ty: Cow<'_, str> = match dt {
        DataType::Module => k
            .value
            .module()
            .map_or(Cow::Borrowed("module"), |m| Cow::Owned(m.id.name())),
        t => Cow::Borrowed(t.as_str()),
    };
    let overhead = job.model.map(|m| {
        let s = match &w.server {
            Some((sm, s)) if *sm == m => s,
            _ => &w.server.insert((m, LoadingServer::new(m))).1,
        };
        s.key_overhead(k.expire_ms.is_some())
    });
    sink.row(&Row {
        db: k.db,
        key: &w.key_text,
        ty: &ty,
        expire_at_ms: k.expire_ms,
        expired: job.expired,
        rdb_type: k.value.kind().name(),
        offset: k.offset,
        size: k.size,
        est,
        anomaly,
        overhead,
        idle: k.idle,
        freq: k.freq,
    })
}

/// Runs `keys`.
///
/// Records come in runs of consecutive records; the rows of a run's keys are written by
/// the pool's workers, each a slice of keys into a buffer of its own, and the buffers go
/// out in order: the output is the same for any thread count.
///
/// # Errors
/// Opening the input, a bad filter, or writing the output.
pub fn run(args: &Args) -> Result<Exit> {
    use rayon::prelude::*;
    let filter = match args.filter.build() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("rdbscope: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    let choice = match args.model.build() {
        Ok(c) => c.choice,
        Err(ModelError::Io(e)) => anyhow::bail!(e),
        Err(e) => {
            eprintln!("rdbscope: {e}");
            return Ok(Exit::Usage);
        }
    };
    let Some(pool) = crate::worker_pool(args.threads)? else {
        eprintln!("rdbscope: --threads must be at least 1");
        return Ok(Exit::Usage);
    };
    let threads = pool.current_num_threads();
    let inp = input::open(&args.file, args.input.no_mmap)?;
    let name = inp.name.clone();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut sink = Sink::new(args.format, Vec::new())?;
    let set = Settings {
        filter: &filter,
        escape: args.escape,
    };
    let mut ctx: Option<FileContext> = None;
    let mut work = Work::default();
    // One `Work` per pool thread, kept from run to run (its buffers and loading server
    // are built once); each is only ever locked by its own thread.
    let slots: Vec<std::sync::Mutex<Work>> = (0..threads).map(|_| Default::default()).collect();
    let format = args.format;
    // Output buffers of the workers' parts, handed back once written.
    let spare: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::default();
    let outcome = read_input_windows(inp, &args.input, |header, window| {
        let ctx = ctx.get_or_insert_with(|| FileContext::new(header));
        // A stream's window can hold many records: they are taken a bounded run at a time.
        for recs in window.chunks(RUN_RECORDS) {
            // The records before a key decide its model and expiry: taken in order here.
            let mut jobs = Vec::with_capacity(recs.len());
            for rec in recs {
                ctx.observe(rec);
                if let Record::Key(k) = rec {
                    jobs.push(KeyJob {
                        k,
                        model: ctx.model(&choice),
                        expired: ctx.expired(k.expire_ms),
                    });
                }
            }
            // Each part: its rows, and the error that stopped it (the rows before a key
            // that cannot be written are still written, as one thread writes them).
            let mut parts: Vec<(Vec<u8>, Option<std::io::Error>)> = Vec::new();
            let mut failed = None;
            if jobs.len() < PARALLEL_MIN_KEYS || threads < 2 {
                for job in &jobs {
                    if let Err(e) = write_key(&mut sink, job, &set, &mut work) {
                        failed = Some(e);
                        break;
                    }
                }
            } else {
                parts = pool.install(|| {
                    jobs.par_chunks(TASK_KEYS)
                        .map(|part| {
                            let i = rayon::current_thread_index().unwrap_or(0) % slots.len();
                            let mut w = lock(&slots[i]);
                            let buf = lock(&spare).pop().unwrap_or_default();
                            let mut s = Sink::rows_only(format, buf);
                            let failed = part
                                .iter()
                                .try_for_each(|job| write_key(&mut s, job, &set, &mut w))
                                .err();
                            (s.into_inner(), failed)
                        })
                        .collect()
                });
            }
            // What this run wrote, in order: the rows written here (and the header, at
            // the start), then the workers' parts up to the first that failed. Nothing is
            // held from one run to the next.
            let done = std::mem::replace(&mut sink, Sink::rows_only(format, Vec::new()));
            let mut bytes = done.into_inner();
            out.write_all(&bytes)?;
            for (mut part, err) in parts {
                out.write_all(&part)?;
                part.clear();
                lock(&spare).push(part);
                if let Some(e) = err {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
            bytes.clear();
            sink = Sink::rows_only(format, bytes);
        }
        Ok(())
    })?;
    out.write_all(&sink.into_inner())?;
    out.flush()?;
    match outcome.damage {
        None => Ok(Exit::Ok),
        Some(d) => {
            d.tell(&name);
            Ok(Exit::Damaged)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{iso_utc, Fields};
    use proptest::prelude::*;

    /// What the `csv` crate's default writer makes of `rows`.
    fn csv_crate(rows: &[Vec<String>]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(Vec::new());
        for r in rows {
            w.write_record(r).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn ours(rows: &[Vec<String>]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in rows {
            let fields: Vec<&str> = r.iter().map(String::as_str).collect();
            Fields::record(&mut out, &fields).unwrap();
        }
        out
    }

    proptest! {
        #[test]
        fn fields_write_what_the_csv_crate_writes(
            // Two or more fields a row (a lone empty field is the one case written
            // differently, and rows here always have eight or more).
            rows in prop::collection::vec(
                prop::collection::vec("[a-c,\"\r\n :é{}]{0,6}", 2..6),
                0..6,
            ),
        ) {
            prop_assert_eq!(ours(&rows), csv_crate(&rows));
        }
    }

    #[test]
    fn fields_quote_only_what_needs_it() {
        let rows = vec![vec![
            "plain".to_string(),
            "a,b".to_string(),
            "say \"hi\"".to_string(),
            "two\nlines".to_string(),
            String::new(),
            "\r".to_string(),
        ]];
        assert_eq!(
            ours(&rows),
            b"plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",,\"\r\"\n".to_vec()
        );
        assert_eq!(ours(&rows), csv_crate(&rows));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000000");
        assert_eq!(iso_utc(4_102_444_800_000), "2100-01-01T00:00:00.000000");
        assert_eq!(iso_utc(951_782_400_123), "2000-02-29T00:00:00.123000");
    }
}
