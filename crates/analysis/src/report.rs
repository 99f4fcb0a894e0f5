//! The `analyze` report: the merged aggregates of one or more files turned into sorted,
//! deterministic sections with findings. Plain data (`serde::Serialize`); the reporters
//! (terminal, JSON, CSV) live in the binary. The JSON schema is `docs/report-schema.md`.

use crate::aggregate::{
    Aggregate, KeyRow, Ranked, RowTotals, Stats, EXPIRY_BUCKETS, FREQ_BUCKETS, IDLE_BUCKETS, TYPES,
};
use crate::capped::CappedTable;
use crate::pipeline::FileResult;
pub use crate::reconcile::{Predicted, Reconciliation, Term};
use crate::topk::TopK;
use crate::used_memory::{LoadingServer, ServerVersion};
use serde::{Deserialize, Serialize};

/// Version of the JSON schema (`docs/report-schema.md`).
pub const SCHEMA_VERSION: u32 = 2;

/// Thresholds of the findings. Every one can be set from the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FindingThresholds {
    /// A single key over this share of all key memory (percent).
    pub big_key_pct: f64,
    /// A single key over this many bytes.
    pub big_key_bytes: u64,
    /// The share rule applies only to keys of at least this many bytes.
    pub big_key_min_bytes: u64,
    /// A pattern over this share of memory (percent) with no TTL on most of it.
    pub no_ttl_pattern_pct: f64,
    /// ... and at least this many keys without TTL.
    pub no_ttl_pattern_min_keys: u64,
    /// Already-expired keys holding more than this many bytes.
    pub expired_bytes: u64,
    /// A stream with more pending entries than this.
    pub stream_pending: u64,
    /// A pattern with at least this many small strings (packing candidate).
    pub small_strings: u64,
    /// Memory not in keys above this share of `used-mem` (percent).
    pub not_in_keys_pct: f64,
    /// A partial TTL leak: at least this share of a pattern's keys have no TTL (percent)...
    pub partial_ttl_pct: f64,
    /// ... while at least this share of them have one (percent) ...
    pub partial_ttl_min_ttl_pct: f64,
    /// ... in a pattern of at least this many keys ...
    pub partial_ttl_min_keys: u64,
    /// ... holding at least this many bytes without TTL, or 1% of key memory if less.
    pub partial_ttl_bytes: u64,
    /// Key memory without TTL above this share (percent) is worth a line.
    pub no_ttl_memory_pct: f64,
    /// A collection with at least this many elements blocks the server for about a second
    /// when deleted with DEL (or read whole): a critical big key.
    pub blocking_elements: u64,
}

impl Default for FindingThresholds {
    fn default() -> Self {
        FindingThresholds {
            big_key_pct: 10.0,
            big_key_bytes: 100 << 20,
            big_key_min_bytes: 1 << 20,
            no_ttl_pattern_pct: 50.0,
            no_ttl_pattern_min_keys: 100,
            expired_bytes: 1 << 20,
            stream_pending: 10_000,
            small_strings: 10_000,
            not_in_keys_pct: 30.0,
            partial_ttl_pct: 5.0,
            partial_ttl_min_ttl_pct: 25.0,
            partial_ttl_min_keys: 100,
            partial_ttl_bytes: 1 << 20,
            no_ttl_memory_pct: 50.0,
            blocking_elements: 1_000_000,
        }
    }
}

/// One setting the run applied, with where its value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// Name, as its option or config file spells it.
    pub name: String,
    /// Value.
    pub value: String,
    /// `default`, `--config`, `--redis-conf FILE`, `command line`, `file`.
    pub from: String,
}

/// Headroom of a loading server under `maxmemory`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headroom {
    /// `maxmemory` in bytes.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: String,
    /// The file's predicted `used_memory`.
    pub predicted_used_memory: u64,
    /// What is left, percent of `maxmemory` (negative: over it).
    pub left_pct: f64,
}

/// Sizes of the printed sections.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Rows of each prefix level and of the pattern table (the rest go to `(other)`).
    pub rows: usize,
    /// Findings thresholds.
    pub thresholds: FindingThresholds,
    /// Whether key filters were given (totals then cover the selected keys only).
    pub filtered: bool,
    /// Every setting the run applied (recorded in each `snapshot[].settings`, after the
    /// file's own model and allocator).
    pub settings: Vec<Setting>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            rows: 50,
            thresholds: FindingThresholds::default(),
            filtered: false,
            settings: Vec::new(),
        }
    }
}

/// An incremental AOF file of an `appendonlydir` that `rdbscope` does not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AofIncrement {
    /// Its path.
    pub file: String,
    /// Its size.
    pub bytes: u64,
    /// Commands in it (top-level RESP arrays; `None` when it cannot be read as RESP).
    pub commands: Option<u64>,
}

/// A named input: its display name, size and analysis.
#[derive(Debug)]
pub struct NamedResult {
    /// Path as given.
    pub name: String,
    /// Size in bytes, if known.
    pub bytes: Option<u64>,
    /// The analysis.
    pub result: FileResult,
    /// How its allocator was chosen ([`crate::alloc_infer::infer`]).
    pub allocator: Option<crate::alloc_infer::Verdict>,
    /// The incremental AOF files beside its base file, not applied.
    pub aof_increments: Vec<AofIncrement>,
    /// The codec it was compressed with, and the compressed size (`bytes` is then the
    /// decompressed size).
    pub codec: Option<(String, Option<u64>)>,
}

impl NamedResult {
    /// A result with nothing said about its allocator or AOF increments.
    pub fn new(name: impl Into<String>, bytes: Option<u64>, result: FileResult) -> Self {
        NamedResult {
            name: name.into(),
            bytes,
            result,
            allocator: None,
            aof_increments: Vec::new(),
            codec: None,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// False when a file could not be read to its end (a checksum mismatch alone leaves it
    /// true: `files[].checksum` says `mismatch`).
    pub complete: bool,
    /// Per file: size, keys, memory, share, damage.
    pub files: Vec<FileRow>,
    /// Per file: what the header and AUX fields say.
    pub snapshot: Vec<Snapshot>,
    /// Totals by db, type and encoding.
    pub totals: Totals,
    /// Key memory against the `used-mem` recorded at save.
    pub reconciliation: Reconciliation,
    /// Hierarchical prefixes.
    pub prefixes: Prefixes,
    /// Inferred key patterns.
    pub patterns: Table,
    /// TTL buckets.
    pub expiry: Expiry,
    /// Biggest keys.
    pub top_keys: TopKeys,
    /// LRU idle time and LFU counters.
    pub idle: Idle,
    /// Streams and their pending lists.
    pub streams: Streams,
    /// Values the model could not read (framing intact).
    pub anomalies: Anomalies,
    /// Rules that fired, most severe first.
    pub findings: Vec<Finding>,
    /// With `--info`: each server's own numbers beside its dump's prediction.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<crate::doctor::LiveCheck>,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRow {
    /// Path as given.
    pub name: String,
    /// Size in bytes (of the RDB stream, decompressed, for a compressed input).
    pub bytes: Option<u64>,
    /// The codec of a compressed input (`lz4`, `vcs`, `gzip`, `zstd`, `xz`, `bzip2`).
    #[serde(default)]
    pub codec: Option<String>,
    /// The compressed file's size.
    #[serde(default)]
    pub compressed_bytes: Option<u64>,
    /// Keys analysed.
    pub keys: u64,
    /// Their memory.
    pub memory: u64,
    /// Share of all files' key memory, percent.
    pub memory_pct: f64,
    /// Every record was read to the end of the file (a checksum mismatch does not make a
    /// file incomplete: see `checksum`).
    pub complete: bool,
    /// Where and why reading stopped.
    pub damage: Option<DamageOut>,
    /// With `--salvage`: the damaged regions skipped, in file order (the first 1,000; the
    /// damage's `unread_bytes` counts the bytes of all of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub salvaged_regions: Vec<SalvagedRegionOut>,
    /// The CRC-64: `ok`, `mismatch` (every record was read, but some value may be wrong),
    /// `disabled` (saved with `rdbchecksum no`), `not checked` (`--no-checksum`, or an RDB
    /// version without one), `not reached` (reading stopped at damage first).
    pub checksum: String,
    /// Stored and computed CRC-64 when they differ.
    pub checksum_mismatch: Option<[String; 2]>,
}

/// Damage to a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DamageOut {
    /// Byte offset.
    pub offset: u64,
    /// What was expected.
    pub message: String,
    /// Bytes left unread.
    pub unread_bytes: Option<u64>,
}

/// A damaged region `--salvage` skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalvagedRegionOut {
    /// Offset of the record that could not be read.
    pub start: u64,
    /// Offset where reading resumed (the end of the input when it did not).
    pub end: u64,
    /// Bytes skipped.
    pub bytes: u64,
    /// What was wrong at `start`.
    pub error: String,
    /// Why reading resumed at `end`.
    pub resync: String,
}

/// The label of database `db` in tables: `db?` for keys read after a salvage resync and
/// before the next `SELECTDB`.
pub fn db_label(db: u64) -> String {
    if db == rdbscope_parser::DB_UNKNOWN {
        String::from("db?")
    } else {
        format!("db{db}")
    }
}

/// The snapshot's own description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// File.
    pub file: String,
    /// `REDIS` or `VALKEY`.
    pub magic: String,
    /// RDB format version.
    pub rdb_version: Option<u32>,
    /// `redis` or `valkey` and the version from AUX.
    pub server: Option<String>,
    /// The server version.
    pub server_version: Option<String>,
    /// The memory model used.
    pub model: Option<String>,
    /// Allocator of the model.
    pub allocator: Option<String>,
    /// How the allocator was chosen: `given`, `inferred` (with the evidence and every
    /// allocator's prediction) or `assumed`.
    pub allocator_choice: Option<crate::alloc_infer::Verdict>,
    /// Snapshot time (`ctime`), Unix seconds.
    pub ctime: Option<i64>,
    /// `used-mem` at save.
    pub used_mem: Option<u64>,
    /// `repl-id`, `repl-offset`, `repl-stream-db`.
    pub replication: Vec<NameValue>,
    /// `aof-base` AUX.
    pub aof_base: bool,
    /// The incremental files of an `appendonlydir`, which are not applied: the report is
    /// the base snapshot's, and what they changed since is not in it.
    pub aof_increments: Vec<AofIncrement>,
    /// Function libraries.
    pub functions: Vec<Library>,
    /// Modules.
    pub modules: Vec<ModuleOut>,
    /// `IDLE` (LRU policy) or `FREQ` (LFU policy) present.
    pub eviction_hint: Option<String>,
    /// `SLOT_INFO` records (Redis 7.4+ writes one per slot in cluster mode).
    pub slot_info_records: u64,
    /// The predicted `used_memory` against `maxmemory`, when one is set.
    pub maxmemory: Option<Headroom>,
    /// Every setting applied to this file, so that a saved report can be reproduced: its
    /// model and allocator, the loading server's settings, the report's options.
    pub settings: Vec<Setting>,
    /// Other AUX fields.
    pub aux: Vec<NameValue>,
}

/// A named value (AUX field).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameValue {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

/// A function library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Library {
    /// Library name.
    pub name: String,
    /// Engine (`lua`).
    pub engine: String,
}

/// A module seen in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleOut {
    /// Module type name.
    pub name: String,
    /// Key values of this module.
    pub values: u64,
    /// MODULE_AUX records.
    pub aux_records: u64,
}

/// Keys and memory with a share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Name of the row.
    pub name: String,
    /// Keys.
    pub keys: u64,
    /// Memory.
    pub memory: u64,
    /// Share of the total memory, percent.
    pub memory_pct: f64,
}

/// The totals section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub keys_with_ttl: u64,
    /// Keys already expired at snapshot time.
    pub keys_expired: u64,
    /// Keys with a memory figure (the model could size them).
    pub keys_estimated: u64,
    /// Sum of per-key memory.
    pub memory: u64,
    /// Per database.
    pub by_db: Vec<Share>,
    /// Per type.
    pub by_type: Vec<Share>,
    /// Per type and encoding after load (`type/encoding`).
    pub by_encoding: Vec<Share>,
    /// Per module type.
    pub by_module: Vec<Share>,
    /// Whether filters narrowed the keys.
    pub filtered: bool,
}

/// Per-type keys and memory of a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeCount {
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Keys.
    pub keys: u64,
    /// Memory.
    pub memory: u64,
}

/// One prefix or pattern row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The prefix or pattern (escaped: `\xHH` for bytes that are not printable ASCII).
    pub name: String,
    /// Keys.
    pub keys: u64,
    /// Memory.
    pub memory: u64,
    /// Share of the total memory, percent.
    pub memory_pct: f64,
    /// Keys without TTL.
    pub keys_no_ttl: u64,
    /// Their memory.
    pub memory_no_ttl: u64,
    /// Keys already expired.
    pub keys_expired: u64,
    /// Their memory.
    pub memory_expired: u64,
    /// Strings small enough to pack into hashes.
    pub small_strings: u64,
    /// Per type (types with keys only).
    pub by_type: Vec<TypeCount>,
}

/// A table of rows with the rest folded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Rows, by memory then name.
    pub rows: Vec<Row>,
    /// Everything not in `rows` (rows past the print limit and rows folded by the cap).
    pub other: Row,
    /// Distinct rows kept in memory.
    pub distinct_rows_kept: usize,
    /// The cap on distinct rows.
    pub cap: usize,
    /// Whether more distinct rows than the cap were seen (the excess is in `other`).
    pub folded_by_cap: bool,
}

/// The prefixes section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prefixes {
    /// Separator bytes.
    pub separators: String,
    /// Levels.
    pub levels: Vec<Table>,
}

/// A TTL bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Name.
    pub bucket: String,
    /// Keys.
    pub keys: u64,
    /// Memory.
    pub memory: u64,
    /// Share of the total memory, percent.
    pub memory_pct: f64,
}

/// The expiry section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expiry {
    /// Measured from the snapshot's `ctime`.
    pub buckets: Vec<Bucket>,
    /// Hashes with field TTLs: hashes, their memory, fields with a TTL.
    pub hash_field_ttls: HashFieldTtls,
    /// Biggest keys without TTL.
    pub top_no_ttl: Vec<KeyOut>,
}

/// Hash field TTLs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HashFieldTtls {
    /// Hashes with at least one field TTL.
    pub keys: u64,
    /// Fields with a TTL.
    pub fields: u64,
    /// Memory of those hashes.
    pub memory: u64,
}

/// A key in a top list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyOut {
    /// File (when several).
    pub file: String,
    /// Database.
    pub db: u64,
    /// Key (escaped).
    pub key: String,
    /// Key cut at 1024 bytes.
    pub key_truncated: bool,
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Encoding after load.
    pub encoding: Option<String>,
    /// Memory.
    pub memory: u64,
    /// Elements.
    pub elements: u64,
    /// TTL left at snapshot time, seconds (negative: already expired).
    pub ttl_seconds: Option<i64>,
    /// Idle seconds (LRU).
    pub idle_seconds: Option<u64>,
    /// LFU counter.
    pub lfu_freq: Option<u8>,
    /// Record offset.
    pub offset: u64,
}

/// Top keys per type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeTop {
    /// Type.
    #[serde(rename = "type")]
    pub ty: String,
    /// By memory.
    pub by_memory: Vec<KeyOut>,
    /// By elements.
    pub by_elements: Vec<KeyOut>,
}

/// The top keys section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopKeys {
    /// By memory.
    pub by_memory: Vec<KeyOut>,
    /// By element count.
    pub by_elements: Vec<KeyOut>,
    /// Per type (types with keys only).
    pub by_type: Vec<TypeTop>,
}

/// The idle/frequency section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Idle {
    /// Keys with an LRU idle time.
    pub keys_with_idle: u64,
    /// Keys with an LFU counter.
    pub keys_with_freq: u64,
    /// Memory per idle bucket.
    pub idle_buckets: Vec<Bucket>,
    /// Memory per LFU counter bucket.
    pub freq_buckets: Vec<Bucket>,
    /// Idlest keys.
    pub top_idle: Vec<KeyOut>,
    /// Hottest keys by LFU counter.
    pub top_lfu: Vec<KeyOut>,
}

/// A stream in the streams section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamOut {
    /// The key.
    #[serde(flatten)]
    pub key: KeyOut,
    /// Entries.
    pub entries: u64,
    /// Groups.
    pub groups: u64,
    /// Consumers.
    pub consumers: u64,
    /// Pending entries.
    pub pending: u64,
    /// Largest PEL of one group.
    pub max_group_pending: u64,
    /// Its consumer groups, most pending first (at most 16).
    pub group_list: Vec<GroupOut>,
    /// Oldest pending delivery, Unix ms.
    pub oldest_pending_ms: Option<i64>,
    /// Its age at snapshot time, seconds (never negative).
    pub oldest_pending_age_seconds: Option<i64>,
}

/// A consumer group of a stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOut {
    /// Group name (escaped).
    pub name: String,
    /// Pending entries.
    pub pending: u64,
    /// Entries not read yet (`XINFO GROUPS` lag), when the file tells it.
    pub lag: Option<u64>,
    /// Consumers.
    pub consumers: u64,
    /// The consumers with the most pending entries (at most 8).
    pub top_consumers: Vec<ConsumerOut>,
}

/// A consumer of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerOut {
    /// Consumer name (escaped).
    pub name: String,
    /// Its pending entries.
    pub pending: u64,
}

/// The streams section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Streams {
    /// Streams.
    pub streams: u64,
    /// Their memory.
    pub memory: u64,
    /// Entries.
    pub entries: u64,
    /// Groups.
    pub groups: u64,
    /// Consumers.
    pub consumers: u64,
    /// Pending entries.
    pub pending: u64,
    /// Streams with the largest PELs.
    pub top_pending: Vec<StreamOut>,
}

/// The anomalies section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Anomalies {
    /// Whether every element of kept listpacks, ziplists and intsets was decoded and
    /// validated (`--deep`). Otherwise they were checked only as a default server checks
    /// them on load (header size against length, end byte), so damage inside them is not
    /// seen here.
    pub deep: bool,
    /// Values whose contents could not be read.
    pub count: u64,
    /// The first ones.
    pub first: Vec<AnomalyOut>,
}

/// One anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyOut {
    /// File.
    pub file: String,
    /// Record offset.
    pub offset: u64,
    /// Database.
    pub db: u64,
    /// Key.
    pub key: String,
    /// What was wrong.
    pub error: String,
}

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth acting on.
    Warning,
    /// Act now.
    Critical,
}

/// A finding: a rule that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Rule id.
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// The numbers behind it.
    pub evidence: String,
    /// What to do next.
    pub next_step: String,
    /// The command that lists the keys behind it (`rdbscope keys … --match …`), or checks
    /// the file (`rdbscope verify …`); *null* when no keys stand behind it.
    pub command: Option<String>,
}

/// Escapes key bytes for display, the one rule of every output (terminal, JSON, CSV and
/// `keys --escape print`): printable UTF-8 as is, `\\` for a backslash, `\xHH` for each
/// byte of a control character and for each byte that is not valid UTF-8.
pub fn escape_key(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    escape_key_into(b, &mut s);
    s
}

/// [`escape_key`] appended to `out`, for callers that reuse one buffer.
pub fn escape_key_into(key: &[u8], out: &mut String) {
    use std::fmt::Write;
    out.reserve(key.len());
    for chunk in key.utf8_chunks() {
        let valid = chunk.valid();
        // Most keys are printable text without a backslash: copied at once.
        if !valid.chars().any(|c| c.is_control() || c == '\\') {
            out.push_str(valid);
        } else {
            for ch in valid.chars() {
                if ch == '\\' {
                    out.push_str("\\\\");
                } else if ch.is_control() {
                    let mut b = [0u8; 4];
                    for byte in ch.encode_utf8(&mut b).bytes() {
                        let _ = write!(out, "\\x{byte:02x}");
                    }
                } else {
                    out.push(ch);
                }
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
}

/// Human-readable bytes in binary units (`512 B`, `1.5 KiB`, `2.0 GiB`).
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

fn row(name: String, r: &RowTotals, total: u64) -> Row {
    Row {
        name,
        keys: r.all.keys,
        memory: r.all.memory,
        memory_pct: pct(r.all.memory, total),
        keys_no_ttl: r.no_ttl.keys,
        memory_no_ttl: r.no_ttl.memory,
        keys_expired: r.expired.keys,
        memory_expired: r.expired.memory,
        small_strings: r.small_strings.keys,
        by_type: TYPES
            .iter()
            .zip(&r.by_type)
            .filter(|(_, s)| s.keys > 0)
            .map(|(t, s)| TypeCount {
                ty: t.as_str().to_string(),
                keys: s.keys,
                memory: s.memory,
            })
            .collect(),
    }
}

/// Folds a `{num}` row into its `{hex}` twin: hex ids that happen to be all digits read as
/// `{num}` key by key, and would split one family in two. A `{num}` row folds when the row
/// with one (or every) `{num}` replaced by `{hex}` exists and has at least four times its
/// keys: an all-digit hex id of 4 or more digits has a chance of at most (10/16)^4 ≈ 15%, so a
/// genuine second family of numeric ids is rarely that small beside it. Rows stay by memory,
/// then name.
pub fn fold_hex_twins(rows: &mut Vec<(Vec<u8>, RowTotals)>) {
    use crate::pattern::{HEX, NUM};
    let twin_of = |name: &[u8], rows: &[(Vec<u8>, RowTotals)]| -> Option<usize> {
        let mut candidates = Vec::new();
        let mut at = 0;
        while let Some(i) = name[at..].windows(NUM.len()).position(|w| w == NUM) {
            let i = at + i;
            candidates.push([&name[..i], HEX, &name[i + NUM.len()..]].concat());
            at = i + NUM.len();
        }
        if candidates.len() > 1 {
            let mut all = name.to_vec();
            while let Some(i) = all.windows(NUM.len()).position(|w| w == NUM) {
                all.splice(i..i + NUM.len(), HEX.iter().copied());
            }
            candidates.push(all);
        }
        candidates
            .iter()
            .find_map(|c| rows.iter().position(|(k, _)| k == c))
    };
    let mut i = 0;
    while i < rows.len() {
        let fold =
            twin_of(&rows[i].0, rows).filter(|&j| rows[j].1.all.keys >= 4 * rows[i].1.all.keys);
        match fold {
            Some(j) => {
                let (_, r) = rows.remove(i);
                let j = if j > i { j - 1 } else { j };
                crate::capped::RowStats::merge(&mut rows[j].1, &r);
            }
            None => i += 1,
        }
    }
    rows.sort_by(|a, b| {
        (std::cmp::Reverse(a.1.all.memory), &a.0).cmp(&(std::cmp::Reverse(b.1.all.memory), &b.0))
    });
}

fn table(t: CappedTable<RowTotals>, rows: usize, total: u64, empty_name: &str) -> Table {
    table_with(t, rows, total, empty_name, |_| {})
}

fn table_with(
    t: CappedTable<RowTotals>,
    rows: usize,
    total: u64,
    empty_name: &str,
    adjust: impl FnOnce(&mut Vec<(Vec<u8>, RowTotals)>),
) -> Table {
    let kept = t.len();
    let cap = t.cap();
    let mut sorted = t.into_sorted(|r| r.all.memory);
    adjust(&mut sorted.rows);
    let mut other = sorted.other;
    let mut out = Vec::new();
    for (i, (k, r)) in sorted.rows.into_iter().enumerate() {
        if i < rows {
            let name = if k.is_empty() {
                empty_name.to_string()
            } else {
                escape_key(&k)
            };
            out.push(row(name, &r, total));
        } else {
            crate::capped::RowStats::merge(&mut other, &r);
        }
    }
    Table {
        rows: out,
        other: row("(other)".to_string(), &other, total),
        distinct_rows_kept: kept,
        cap,
        folded_by_cap: sorted.folded,
    }
}

struct Names<'a> {
    files: &'a [String],
    ctime_ms: &'a [Option<i64>],
}

impl Names<'_> {
    fn key(&self, r: &KeyRow) -> KeyOut {
        let ctime = self.ctime_ms.get(r.file as usize).copied().flatten();
        KeyOut {
            file: self.files.get(r.file as usize).cloned().unwrap_or_default(),
            db: r.db,
            key: escape_key(&r.key),
            key_truncated: r.key_truncated,
            ty: r.ty.clone(),
            encoding: r.encoding.map(|e| e.as_str().to_string()),
            memory: r.memory,
            elements: r.elements,
            ttl_seconds: match (r.expire_ms, ctime) {
                (Some(e), Some(c)) => Some((e - c).div_euclid(1000)),
                _ => None,
            },
            idle_seconds: r.idle,
            lfu_freq: r.freq,
            offset: r.offset,
        }
    }

    fn keys<M: Ord>(&self, t: TopK<Ranked<M>>) -> Vec<KeyOut> {
        t.into_sorted_vec()
            .iter()
            .map(|r| self.key(&r.row))
            .collect()
    }
}

fn buckets(names: &[&'static str], stats: &[Stats], total: u64) -> Vec<Bucket> {
    names
        .iter()
        .zip(stats)
        .map(|(n, s)| Bucket {
            bucket: n.to_string(),
            keys: s.keys,
            memory: s.memory,
            memory_pct: pct(s.memory, total),
        })
        .collect()
}

fn aux<'a>(fr: &'a FileResult, name: &str) -> Option<&'a str> {
    fr.inventory.aux_value(name)
}

fn snapshot(name: &str, fr: &FileResult) -> Snapshot {
    let h = fr.summary.header;
    let (server, version) = match (fr.context.valkey_ver(), fr.context.redis_ver()) {
        (Some(v), _) => (Some("valkey".to_string()), Some(v.to_string())),
        (None, Some(v)) => (Some("redis".to_string()), Some(v.to_string())),
        _ => (None, None),
    };
    let named = [
        "redis-ver",
        "valkey-ver",
        "ctime",
        "used-mem",
        "repl-id",
        "repl-offset",
        "repl-stream-db",
        "aof-base",
    ];
    let inv = &fr.inventory;
    Snapshot {
        file: name.to_string(),
        magic: h.map_or_else(String::new, |h| {
            if h.valkey_magic { "VALKEY" } else { "REDIS" }.to_string()
        }),
        rdb_version: h.map(|h| h.version),
        server,
        server_version: version,
        model: fr.model.map(|m| m.line.name().to_string()),
        allocator: fr
            .model
            .map(|m| crate::alloc_infer::name(m.allocator).to_string()),
        allocator_choice: None,
        ctime: fr.context.ctime_s(),
        used_mem: aux(fr, "used-mem").and_then(|v| v.trim().parse().ok()),
        replication: ["repl-id", "repl-offset", "repl-stream-db"]
            .iter()
            .filter_map(|k| {
                aux(fr, k).map(|v| NameValue {
                    name: k.to_string(),
                    value: v.to_string(),
                })
            })
            .collect(),
        aof_base: aux(fr, "aof-base").is_some_and(|v| v.trim() != "0"),
        aof_increments: Vec::new(),
        functions: inv
            .functions
            .iter()
            .map(|(name, engine)| Library {
                name: name.clone(),
                engine: engine.clone(),
            })
            .collect(),
        modules: inv
            .modules
            .iter()
            .map(|(n, c)| ModuleOut {
                name: n.clone(),
                values: c.values,
                aux_records: c.aux,
            })
            .collect(),
        eviction_hint: if fr.aggregate.freq.iter().any(|s| s.keys > 0) {
            Some("FREQ present: an LFU maxmemory-policy".to_string())
        } else if fr.aggregate.idle.iter().any(|s| s.keys > 0) {
            Some("IDLE present: an LRU maxmemory-policy".to_string())
        } else {
            None
        },
        slot_info_records: inv.slot_infos,
        maxmemory: None,
        settings: Vec::new(),
        aux: inv
            .aux
            .iter()
            .filter(|a| !named.contains(&a.key.as_str()))
            .map(|a| NameValue {
                name: a.key.clone(),
                value: a.value.clone(),
            })
            .collect(),
    }
}

/// A file's settings: its model and allocator (and how they were chosen), then the run's;
/// `cluster`: the file was sized in cluster mode (given, or from its slot information).
fn file_settings(snap: &Snapshot, run: &[Setting], cluster: bool) -> Vec<Setting> {
    let set = |name: &str, value: &str, from: &str| Setting {
        name: name.to_string(),
        value: value.to_string(),
        from: from.to_string(),
    };
    let mut out = Vec::new();
    if let Some(m) = &snap.model {
        let from = run
            .iter()
            .find(|s| s.name == "model")
            .map_or("the file's version", |_| "--model");
        out.push(set("model", m, from));
    }
    if let (Some(a), Some(c)) = (&snap.allocator, &snap.allocator_choice) {
        let from = match c.source {
            crate::alloc_infer::Source::Given => "--allocator",
            crate::alloc_infer::Source::Inferred => "inferred from used-mem",
            crate::alloc_infer::Source::Assumed => "assumed from packaging",
        };
        out.push(set("allocator", a, from));
    }
    out.extend(run.iter().filter(|s| s.name != "model").map(|s| {
        if cluster && s.name == "cluster-enabled" && s.value == "no" {
            set("cluster-enabled", "yes", "slot information in the file")
        } else {
            s.clone()
        }
    }));
    out
}

/// Builds the report from analysed files. The files are put in name order first, so the
/// report does not depend on the order they were given in.
pub fn build(mut files: Vec<NamedResult>, opts: &ReportOptions) -> Report {
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
    let ctimes: Vec<Option<i64>> = files
        .iter()
        .map(|f| f.result.context.ctime_s().map(|s| s * 1000))
        .collect();
    let mut complete = true;
    let mut file_rows = Vec::new();
    let mut snapshots = Vec::new();
    let mut predicted: Option<Predicted> = None;
    let mut used_mem: Option<u64> = Some(0);
    let mut agg: Option<Aggregate> = None;
    for f in files {
        let fr = f.result;
        // After --salvage skipped regions the checksum covers bytes that were not read.
        let mismatch = fr
            .summary
            .checksum_mismatch()
            .filter(|_| fr.damage.is_none());
        let ok = fr.damage.is_none();
        complete &= ok;
        let checksum = match (&fr.damage, fr.summary.checksum) {
            (Some(_), _) => "not reached",
            (None, Some(_)) if mismatch.is_some() => "mismatch",
            (None, Some(_)) => "ok",
            (None, None) if fr.summary.checksum_disabled => "disabled",
            (None, None) => "not checked",
        };
        // The file's own aggregate: its totals are the file's.
        let stats = fr.aggregate.totals.all;
        file_rows.push(FileRow {
            name: f.name.clone(),
            bytes: f.bytes,
            codec: f.codec.as_ref().map(|c| c.0.clone()),
            compressed_bytes: f.codec.as_ref().and_then(|c| c.1),
            keys: stats.keys,
            memory: stats.memory,
            memory_pct: 0.0,
            complete: ok,
            damage: fr.damage.as_ref().map(|d| DamageOut {
                offset: d.offset,
                message: d.message.clone(),
                unread_bytes: d.unread,
            }),
            salvaged_regions: fr
                .damage
                .iter()
                .flat_map(|d| &d.salvaged.regions)
                .map(|r| SalvagedRegionOut {
                    start: r.start,
                    end: r.end,
                    bytes: r.bytes(),
                    error: r.error.clone(),
                    resync: r.resync.clone(),
                })
                .collect(),
            checksum: checksum.to_string(),
            checksum_mismatch: mismatch
                .map(|(s, c)| [format!("0x{s:016x}"), format!("0x{c:016x}")]),
        });
        let mut snap = snapshot(&f.name, &fr);
        snap.allocator_choice = f.allocator.clone();
        snap.aof_increments = f.aof_increments.clone();
        snap.settings = file_settings(&snap, &opts.settings, fr.model.is_some_and(|m| m.cluster));
        // A sum over only some files would compare part of used-mem with every key.
        used_mem = used_mem.zip(snap.used_mem).map(|(a, b)| a + b);
        if let Some(m) = fr.model {
            let server = LoadingServer {
                version: ServerVersion::from_aux(fr.context.redis_ver(), fr.context.valkey_ver()),
                ..LoadingServer::new(m)
            };
            let p = Predicted::from_breakdown(&fr.aggregate.used.predict(&server));
            let t = m.thresholds;
            if t.maxmemory > 0 {
                snap.maxmemory = Some(Headroom {
                    maxmemory: t.maxmemory,
                    policy: t.maxmemory_policy.as_str().to_string(),
                    predicted_used_memory: p.used_memory,
                    left_pct: ((t.maxmemory as f64 - p.used_memory as f64) * 10_000.0
                        / t.maxmemory as f64)
                        .round()
                        / 100.0,
                });
            }
            match &mut predicted {
                Some(x) => x.add(&p),
                None => predicted = Some(p),
            }
        }
        snapshots.push(snap);
        match &mut agg {
            Some(a) => a.merge(fr.aggregate),
            None => agg = Some(fr.aggregate),
        }
    }
    let agg = agg.unwrap_or_else(|| Aggregate::new(Default::default(), 0));
    let total = agg.totals.all.memory;
    for r in &mut file_rows {
        r.memory_pct = pct(r.memory, total);
    }
    let names = Names {
        files: &names,
        ctime_ms: &ctimes,
    };
    let cfg = *agg.config();
    let share = |name: String, s: &Stats| Share {
        name,
        keys: s.keys,
        memory: s.memory,
        memory_pct: pct(s.memory, total),
    };
    let mut by_db: Vec<(u64, Stats)> = agg
        .by_db
        .iter()
        .map(|(k, r)| {
            let mut b = [0u8; 8];
            b.copy_from_slice(k.get(..8).unwrap_or(&[0; 8]));
            (u64::from_be_bytes(b), r.all)
        })
        .collect();
    by_db.sort_by_key(|(db, _)| *db);
    let mut by_db: Vec<Share> = by_db
        .iter()
        .map(|(db, s)| share(db_label(*db), s))
        .collect();
    if agg.by_db.folded() {
        by_db.push(share("(other)".to_string(), &agg.by_db.other().all));
    }
    let totals = Totals {
        keys: agg.totals.all.keys,
        keys_with_ttl: agg.totals.all.keys - agg.totals.no_ttl.keys,
        keys_expired: agg.totals.expired.keys,
        keys_estimated: agg.estimated,
        memory: total,
        by_db,
        by_type: TYPES
            .iter()
            .zip(&agg.totals.by_type)
            .map(|(t, s)| share(t.as_str().to_string(), s))
            .collect(),
        by_encoding: agg
            .by_encoding()
            .map(|((t, e), s)| {
                let enc = e.map_or("unknown", |e| e.as_str());
                share(format!("{}/{enc}", TYPES[t].as_str()), s)
            })
            .collect(),
        by_module: agg
            .by_module
            .sorted(|r| r.all.memory)
            .into_iter()
            .map(|(k, r)| share(escape_key(k), &r.all))
            .collect(),
        filtered: opts.filtered,
    };
    let coverage = if opts.filtered {
        crate::reconcile::Coverage::Filtered
    } else if file_rows.iter().any(|f| f.damage.is_some()) {
        crate::reconcile::Coverage::Partial
    } else {
        crate::reconcile::Coverage::All
    };
    let reconciliation = crate::reconcile::build(
        predicted,
        used_mem.filter(|_| !snapshots.is_empty()),
        agg.dropped_at_load.memory,
        coverage,
    );
    let prefixes = Prefixes {
        separators: cfg.separators.bytes().map(char::from).collect(),
        levels: agg
            .prefixes
            .into_iter()
            .map(|t| table(t, opts.rows, total, "(no separator)"))
            .collect(),
    };
    let patterns = table_with(
        agg.patterns,
        opts.rows,
        total,
        "(empty key)",
        fold_hex_twins,
    );
    let expiry = Expiry {
        buckets: buckets(&EXPIRY_BUCKETS, &agg.expiry, total),
        hash_field_ttls: HashFieldTtls {
            keys: agg.field_ttls.hashes.keys,
            fields: agg.field_ttls.fields,
            memory: agg.field_ttls.hashes.memory,
        },
        top_no_ttl: names.keys(agg.top_no_ttl),
    };
    let mut by_type = Vec::new();
    for (t, tops) in TYPES.iter().zip(agg.top_by_type) {
        if tops.memory.is_empty() {
            continue;
        }
        by_type.push(TypeTop {
            ty: t.as_str().to_string(),
            by_memory: names.keys(tops.memory),
            by_elements: names.keys(tops.elements),
        });
    }
    let top_keys = TopKeys {
        by_memory: names.keys(agg.top_memory),
        by_elements: names.keys(agg.top_elements),
        by_type,
    };
    let idle = Idle {
        keys_with_idle: agg.idle.iter().map(|s| s.keys).sum(),
        keys_with_freq: agg.freq.iter().map(|s| s.keys).sum(),
        idle_buckets: buckets(&IDLE_BUCKETS, &agg.idle, total),
        freq_buckets: buckets(&FREQ_BUCKETS, &agg.freq, total),
        top_idle: names.keys(agg.top_idle),
        top_lfu: names.keys(agg.top_freq),
    };
    let facts = agg.stream_facts;
    let streams = Streams {
        streams: agg.streams.streams.keys,
        memory: agg.streams.streams.memory,
        entries: agg.streams.entries,
        groups: agg.streams.groups,
        consumers: agg.streams.consumers,
        pending: agg.streams.pending,
        top_pending: agg
            .top_streams
            .into_sorted_vec()
            .iter()
            .map(|r| {
                let (f, groups) = facts
                    .get(&(r.row.file, r.row.offset))
                    .cloned()
                    .unwrap_or_default();
                let ctime = ctimes.get(r.row.file as usize).copied().flatten();
                StreamOut {
                    key: names.key(&r.row),
                    entries: f.entries,
                    groups: f.groups,
                    consumers: f.consumers,
                    pending: f.pending,
                    max_group_pending: f.max_group_pending,
                    group_list: groups
                        .iter()
                        .map(|g| GroupOut {
                            name: escape_key(&g.name),
                            pending: g.pending,
                            lag: g.lag,
                            consumers: g.consumers,
                            top_consumers: g
                                .top_consumers
                                .iter()
                                .map(|(n, p)| ConsumerOut {
                                    name: escape_key(n),
                                    pending: *p,
                                })
                                .collect(),
                        })
                        .collect(),
                    oldest_pending_ms: f.oldest_pending_ms,
                    oldest_pending_age_seconds: f
                        .oldest_pending_ms
                        .zip(ctime)
                        // `ctime` has one-second resolution: a delivery later in the same
                        // second would otherwise read as a negative age.
                        .map(|(o, c)| (c - o).div_euclid(1000).max(0)),
                }
            })
            .collect(),
    };
    let anomalies = Anomalies {
        deep: cfg.deep,
        count: agg.anomalies,
        first: agg
            .anomaly_list
            .into_sorted_vec()
            .into_iter()
            .map(|std::cmp::Reverse(a)| AnomalyOut {
                file: names
                    .files
                    .get(a.file as usize)
                    .cloned()
                    .unwrap_or_default(),
                offset: a.offset,
                db: a.db,
                key: escape_key(&a.key),
                error: a.error,
            })
            .collect(),
    };
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        complete,
        files: file_rows,
        snapshot: snapshots,
        totals,
        reconciliation,
        prefixes,
        patterns,
        expiry,
        top_keys,
        idle,
        streams,
        anomalies,
        live: Vec::new(),
        findings: Vec::new(),
    };
    report.findings = crate::findings::evaluate(
        &report,
        &agg.big_collections,
        &agg.big_strings,
        &cfg.limits,
        opts,
    );
    report
}
