//! The mergeable state of `analyze`: every per-key fact a report needs, added key by key
//! and merged across threads and files.
//!
//! Every field is a sum of integers, a [`CappedTable`] or a [`TopK`]: merging is exact,
//! commutative and associative, so any split of the keys over threads, and any order of
//! files, gives the same aggregate. Memory is bounded by the configuration (row caps, top
//! sizes), never by the number of keys.

use crate::capped::{same_bytes, CappedTable, RowStats};
use crate::filter::KeyFilter;
use crate::model::{Encoding, KeyEstimate, Model};
use crate::pattern::{infer_pattern, prefixes, Separators};
use crate::topk::TopK;
use crate::used_memory::{LoadingServer, UsedMemory};
use rdbscope_parser::{DataType, Element, KeyRecord, Scratch};
use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;

/// The logical types, in report order (the parser's fixed order).
pub const TYPES: [DataType; 7] = DataType::ALL;

/// Index of a type in [`TYPES`].
pub fn type_index(t: DataType) -> usize {
    TYPES
        .iter()
        .position(|&x| x == t)
        .unwrap_or(TYPES.len() - 1)
}

/// Thresholds of the findings that are counted while keys are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A collection (hash, set, zset, list) with more elements than this is "big".
    pub big_collection_elements: u64,
    /// A string whose value takes more bytes than this is "big".
    pub big_string_bytes: u64,
    /// A string key using at most this much memory is "small" (packing candidate).
    pub small_string_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            big_collection_elements: 5000,
            big_string_bytes: 100 * 1024,
            small_string_memory: 100,
        }
    }
}

/// What shapes the aggregate: separators, prefix depth, sizes of the capped tables and top
/// lists, and the counted thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateConfig {
    /// Bytes that split keys into segments.
    pub separators: Separators,
    /// Prefix levels kept (1..=depth).
    pub depth: usize,
    /// Entries of each top list.
    pub top: usize,
    /// Rows kept per prefix level and for patterns; the rest fold into `(other)`.
    pub row_cap: usize,
    /// Counted thresholds.
    pub limits: Limits,
    /// Decode and validate every element of listpacks, ziplists and intsets the loader
    /// keeps (as `sanitize-dump-payload yes` would), instead of sizing them from their
    /// headers with the checks a default server makes on load.
    pub deep: bool,
}

impl Default for AggregateConfig {
    fn default() -> Self {
        AggregateConfig {
            separators: Separators::default(),
            depth: 3,
            top: 20,
            row_cap: 10_000,
            limits: Limits::default(),
            deep: false,
        }
    }
}

/// Keys and memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Keys.
    pub keys: u64,
    /// Predicted memory (`MEMORY USAGE`), bytes.
    pub memory: u64,
}

impl Stats {
    fn add(&mut self, memory: u64) {
        self.keys += 1;
        self.memory += memory;
    }

    /// Adds another count.
    pub fn merge(&mut self, o: &Stats) {
        self.keys += o.keys;
        self.memory += o.memory;
    }
}

/// Per-row statistics of the prefix, pattern and database tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowTotals {
    /// All keys of the row.
    pub all: Stats,
    /// Keys without a TTL.
    pub no_ttl: Stats,
    /// Keys already expired at snapshot time.
    pub expired: Stats,
    /// Keys and memory per type ([`TYPES`] order).
    pub by_type: [Stats; 7],
    /// String keys using at most [`Limits::small_string_memory`].
    pub small_strings: Stats,
}

impl RowStats for RowTotals {
    fn merge(&mut self, o: &Self) {
        self.all.merge(&o.all);
        self.no_ttl.merge(&o.no_ttl);
        self.expired.merge(&o.expired);
        for (a, b) in self.by_type.iter_mut().zip(&o.by_type) {
            a.merge(b);
        }
        self.small_strings.merge(&o.small_strings);
    }
}

/// The facts of one key every row needs.
#[derive(Debug, Clone, Copy)]
struct Facts {
    ty: usize,
    memory: u64,
    ttl: bool,
    expired: bool,
    small_string: bool,
}

impl RowTotals {
    fn add(&mut self, f: &Facts) {
        self.all.add(f.memory);
        if !f.ttl {
            self.no_ttl.add(f.memory);
        }
        if f.expired {
            self.expired.add(f.memory);
        }
        self.by_type[f.ty].add(f.memory);
        if f.small_string {
            self.small_strings.add(f.memory);
        }
    }
}

/// The TTL buckets, measured from the snapshot time (`ctime`).
pub const EXPIRY_BUCKETS: [&str; 10] = [
    "no TTL",
    "already expired",
    "< 1 h",
    "1-4 h",
    "4-12 h",
    "12-24 h",
    "1-7 d",
    "7-30 d",
    "> 30 d",
    "TTL, no snapshot time",
];

fn expiry_bucket(expire_ms: Option<i64>, ctime_ms: Option<i64>, expired: bool) -> usize {
    let Some(e) = expire_ms else { return 0 };
    if expired {
        return 1;
    }
    let Some(now) = ctime_ms else { return 9 };
    const H: i64 = 3_600_000;
    match e.saturating_sub(now) {
        d if d < H => 2,
        d if d < 4 * H => 3,
        d if d < 12 * H => 4,
        d if d < 24 * H => 5,
        d if d < 7 * 24 * H => 6,
        d if d < 30 * 24 * H => 7,
        _ => 8,
    }
}

/// The idle-time buckets (`IDLE`, LRU policies).
pub const IDLE_BUCKETS: [&str; 5] = ["< 1 h", "1-24 h", "1-7 d", "7-30 d", "> 30 d"];

fn idle_bucket(secs: u64) -> usize {
    match secs {
        s if s < 3600 => 0,
        s if s < 86_400 => 1,
        s if s < 7 * 86_400 => 2,
        s if s < 30 * 86_400 => 3,
        _ => 4,
    }
}

/// The LFU counter buckets (`FREQ`, LFU policies; the counter is logarithmic).
pub const FREQ_BUCKETS: [&str; 5] = ["0", "1-4", "5-15", "16-63", "64-255"];

fn freq_bucket(f: u8) -> usize {
    match f {
        0 => 0,
        1..=4 => 1,
        5..=15 => 2,
        16..=63 => 3,
        _ => 4,
    }
}

/// One key in a top list: what the report prints about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    /// Index of the file (inputs sorted by name).
    pub file: u32,
    /// Offset of the record in its file.
    pub offset: u64,
    /// Database.
    pub db: u64,
    /// Key bytes (at most [`KEY_BYTES_KEPT`]).
    pub key: Vec<u8>,
    /// Whether the key was longer than what is kept.
    pub key_truncated: bool,
    /// Type name (a module's name for module values).
    pub ty: String,
    /// Encoding after load, if the model knew.
    pub encoding: Option<Encoding>,
    /// Predicted memory.
    pub memory: u64,
    /// Elements.
    pub elements: u64,
    /// Absolute expiry, ms.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds.
    pub idle: Option<u64>,
    /// LFU counter.
    pub freq: Option<u8>,
}

/// Slots of the per-type encoding table: every [`Encoding`], and one for keys the model
/// could not size.
const ENCODING_SLOTS: usize = Encoding::ALL.len() + 1;

/// The slot of an encoding in the per-type encoding table.
fn encoding_slot(e: Option<Encoding>) -> usize {
    e.map_or(Encoding::ALL.len(), |e| e as usize)
}

/// Databases kept apart (a server has 16 by default; a hostile file may name millions).
pub const DB_ROWS: usize = 4096;

/// Key bytes kept per top-list row: a hostile multi-megabyte key name is not copied whole.
pub const KEY_BYTES_KEPT: usize = 1024;

/// A [`KeyRow`] ranked by a metric, ties broken by file and offset (unique per record), so
/// the order is total and the top list is the same however the keys were split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked<M: Ord> {
    /// The metric, greatest first.
    pub metric: M,
    /// The key.
    pub row: KeyRow,
}

impl<M: Ord> Ord for Ranked<M> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.metric
            .cmp(&o.metric)
            .then_with(|| Reverse(self.row.file).cmp(&Reverse(o.row.file)))
            .then_with(|| Reverse(self.row.offset).cmp(&Reverse(o.row.offset)))
    }
}

impl<M: Ord> PartialOrd for Ranked<M> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Stream details for the streams section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamFacts {
    /// Entries (`XLEN`).
    pub entries: u64,
    /// Consumer groups.
    pub groups: u64,
    /// Consumers over all groups.
    pub consumers: u64,
    /// Pending entries over all groups (PEL sizes).
    pub pending: u64,
    /// Largest PEL of one group.
    pub max_group_pending: u64,
    /// Oldest delivery time among pending entries, Unix ms.
    pub oldest_pending_ms: Option<i64>,
}

/// Groups kept per stream of the top list, and consumers per group (by pending, then name).
const GROUPS_KEPT: usize = 16;
const CONSUMERS_KEPT: usize = 8;
/// Bytes of a group or consumer name kept.
const NAME_BYTES_KEPT: usize = 256;

/// One consumer group of a stream in the streams list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupFacts {
    /// Group name (at most 256 bytes).
    pub name: Vec<u8>,
    /// Its pending entries.
    pub pending: u64,
    /// Entries added to the stream that the group has not read yet (`XINFO GROUPS` lag),
    /// when it can be told from the file: RDB 11+ keeps `entries_read`, and no entry was
    /// deleted after the group's last delivered ID.
    pub lag: Option<u64>,
    /// Its consumers.
    pub consumers: u64,
    /// The consumers with the most pending entries: (name, pending).
    pub top_consumers: Vec<(Vec<u8>, u64)>,
}

/// The groups of a stream, for the streams list (bounded).
fn group_facts(k: &KeyRecord<'_>) -> Vec<GroupFacts> {
    let Ok(Some(s)) = k.value.stream() else {
        return Vec::new();
    };
    let name = |r: rdbscope_parser::RdbStr<'_>| {
        let mut v = r.to_vec().unwrap_or_default();
        v.truncate(NAME_BYTES_KEPT);
        v
    };
    let mut out = Vec::new();
    let _ = s.for_each_group(|g| {
        // As `XINFO GROUPS` computes it (`t_stream.c`): exact from entries_read unless an
        // entry at or after the group's last ID was deleted (`streamRangeHasTombstones`).
        let zero = rdbscope_parser::stream::StreamId { ms: 0, seq: 0 };
        let tombstones = s.length > 0
            && s.max_deleted_id
                .is_some_and(|d| d != zero && g.last_id <= d);
        let lag = match (s.entries_added, g.entries_read) {
            (Some(0), _) => Some(0),
            (Some(added), Some(read)) if read <= added && !tombstones => Some(added - read),
            _ if g.last_id == s.last_id => Some(0),
            _ => None,
        };
        let mut consumers = Vec::new();
        let _ = g.for_each_consumer(|c| {
            consumers.push((name(c.name), c.pel));
            Ok(())
        });
        consumers.sort_by(|a, b| (Reverse(a.1), &a.0).cmp(&(Reverse(b.1), &b.0)));
        consumers.truncate(CONSUMERS_KEPT);
        out.push(GroupFacts {
            name: name(g.name),
            pending: g.pel,
            lag,
            consumers: g.consumers,
            top_consumers: consumers,
        });
        Ok(())
    });
    out.sort_by(|a, b| (Reverse(a.pending), &a.name).cmp(&(Reverse(b.pending), &b.name)));
    out.truncate(GROUPS_KEPT);
    out
}

/// Totals over all streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamTotals {
    /// Streams.
    pub streams: Stats,
    /// Entries.
    pub entries: u64,
    /// Consumer groups.
    pub groups: u64,
    /// Consumers.
    pub consumers: u64,
    /// Pending entries.
    pub pending: u64,
}

/// A value the model could not read (value-level damage with intact framing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Anomaly {
    /// File index.
    pub file: u32,
    /// Record offset.
    pub offset: u64,
    /// Database.
    pub db: u64,
    /// Key bytes (at most [`KEY_BYTES_KEPT`]).
    pub key: Vec<u8>,
    /// What was wrong.
    pub error: String,
}

/// Per-type top lists.
#[derive(Debug, Clone)]
pub struct TypeTops {
    /// Biggest by memory.
    pub memory: TopK<Ranked<u64>>,
    /// Biggest by element count.
    pub elements: TopK<Ranked<u64>>,
}

impl TypeTops {
    fn new(n: usize) -> Self {
        TypeTops {
            memory: TopK::new(n),
            elements: TopK::new(n),
        }
    }
}

/// Hash fields with a TTL (Redis 7.4+ `HEXPIRE`, Valkey 9 `HASH_2`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldTtls {
    /// Hashes with at least one field TTL, and their memory.
    pub hashes: Stats,
    /// Fields with a TTL.
    pub fields: u64,
}

/// Everything `analyze` accumulates. Create with [`Aggregate::new`], feed keys with
/// [`Aggregate::add_key`], combine with [`Aggregate::merge`].
#[derive(Debug, Clone)]
pub struct Aggregate {
    config: AggregateConfig,
    /// All keys.
    pub totals: RowTotals,
    /// Keys the model could size (the rest have no memory figure).
    pub estimated: u64,
    /// Predicted keyspace overhead per key (expires entries).
    pub key_overhead: u64,
    /// Per database (rows keyed by the db number, big-endian).
    pub by_db: CappedTable<RowTotals>,
    /// Per (type, encoding after load); `None` when the model could not size the key.
    by_encoding: [[Stats; ENCODING_SLOTS]; TYPES.len()],
    /// Per module name: values and memory.
    pub by_module: CappedTable<RowTotals>,
    /// Prefix rows per level (index 0 = level 1).
    pub prefixes: Vec<CappedTable<RowTotals>>,
    /// Inferred-pattern rows.
    pub patterns: CappedTable<RowTotals>,
    /// Keys and memory per [`EXPIRY_BUCKETS`].
    pub expiry: [Stats; 10],
    /// Hash field TTLs.
    pub field_ttls: FieldTtls,
    /// Keys and memory per [`IDLE_BUCKETS`] (keys with `IDLE`).
    pub idle: [Stats; 5],
    /// Keys and memory per [`FREQ_BUCKETS`] (keys with `FREQ`).
    pub freq: [Stats; 5],
    /// Biggest keys by memory.
    pub top_memory: TopK<Ranked<u64>>,
    /// Biggest keys by element count.
    pub top_elements: TopK<Ranked<u64>>,
    /// Per type ([`TYPES`] order).
    pub top_by_type: Vec<TypeTops>,
    /// Biggest keys without a TTL.
    pub top_no_ttl: TopK<Ranked<u64>>,
    /// Idlest keys (LRU): by idle seconds, then memory.
    pub top_idle: TopK<Ranked<(u64, u64)>>,
    /// Hottest keys (LFU): by counter, then memory.
    pub top_freq: TopK<Ranked<(u8, u64)>>,
    /// Streams totals.
    pub streams: StreamTotals,
    /// Streams with the largest PELs: by pending, then memory.
    pub top_streams: TopK<Ranked<(u64, u64)>>,
    /// Stream details of the streams in `top_streams`, by (file, offset).
    pub stream_facts: BTreeMap<(u32, u64), (StreamFacts, Vec<GroupFacts>)>,
    /// Collections over [`Limits::big_collection_elements`].
    pub big_collections: Stats,
    /// Strings over [`Limits::big_string_bytes`].
    pub big_strings: Stats,
    /// Values the model could not read.
    pub anomalies: u64,
    /// The first anomalies by (file, offset).
    pub anomaly_list: TopK<Reverse<Anomaly>>,
    /// Keys the loading server would drop at load (expired), left out of `used_memory`.
    pub dropped_at_load: Stats,
    /// The `used_memory` prediction's accumulator.
    pub used: UsedMemory,
    /// Sampled keys' cost under every allocator, when the allocator is to be inferred.
    pub alloc_sample: crate::alloc_infer::AllocatorSample,
    /// Row caches of `patterns` and each prefix level, in that order: keys often share
    /// these rows, and a byte comparison is cheaper than a hash-table lookup.
    caches: Vec<RowCache>,
    /// Where the current database's row of `by_db` is: keys come database by database.
    db_row: DbRow,
}

/// The row of `by_db` the last key went to; see [`DbRow::add`].
#[derive(Debug, Clone, Copy, Default)]
struct DbRow {
    /// `(db, position, table generation)`.
    at: Option<(u64, usize, u64)>,
}

impl DbRow {
    /// Adds `f` to the row of database `db`: straight to the remembered row while the
    /// database and the table's rows stay the same, through the table otherwise.
    #[inline]
    fn add(&mut self, table: &mut CappedTable<RowTotals>, db: u64, f: &Facts) {
        if let Some((d, at, generation)) = self.at {
            if d == db {
                if let Some(row) = table.row_at(at, generation) {
                    row.add(f);
                    return;
                }
            }
        }
        let key = db.to_be_bytes();
        let rank = table.rank(&key);
        self.at = table
            .add_ranked_at(&key, rank, |r| r.add(f))
            .map(|at| (db, at, table.generation()));
    }
}

/// Key bytes a [`RowCache`] slot holds; longer keys always go through their table.
const CACHED_KEY: usize = 40;

/// Slots of a [`RowCache`].
const CACHE_SLOTS: usize = 16;

/// One remembered row: its key, rank, and position in its table.
#[derive(Debug, Clone, Copy)]
struct Slot {
    len: usize,
    key: [u8; CACHED_KEY],
    rank: u64,
    /// The row's position in its table, valid while the table's generation is `generation`.
    at: usize,
    generation: u64,
    live: bool,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            len: 0,
            key: [0; CACHED_KEY],
            rank: 0,
            at: 0,
            generation: 0,
            live: false,
        }
    }
}

/// Rows a table took keys for recently, so that the next key with the same bytes goes
/// straight to its row: a byte comparison instead of hashing and probing. Keys arrive in
/// hash-table order, so the same prefix or pattern recurs every few keys rather than in
/// runs; a small direct-mapped cache (slot picked by the key's length and two of its
/// bytes) keeps the few busiest rows of a table at hand.
#[derive(Debug, Clone)]
struct RowCache {
    slots: Box<[Slot; CACHE_SLOTS]>,
}

impl Default for RowCache {
    fn default() -> Self {
        RowCache {
            slots: Box::new([Slot::default(); CACHE_SLOTS]),
        }
    }
}

/// The cache slot of `key`.
#[inline]
fn slot_of(key: &[u8]) -> usize {
    let n = key.len();
    let last = usize::from(key.last().copied().unwrap_or(0));
    let mid = usize::from(key.get(n / 2).copied().unwrap_or(0));
    (n.wrapping_mul(7) ^ last.wrapping_mul(13) ^ mid) % CACHE_SLOTS
}

impl RowCache {
    /// Adds `f` to the row `key` of `table` and returns the key's rank. `rank`, if known,
    /// is the key's rank (a prefix level that repeats the previous level's bytes).
    #[inline(always)]
    fn add(
        &mut self,
        table: &mut CappedTable<RowTotals>,
        key: &[u8],
        rank: Option<u64>,
        f: &Facts,
    ) -> u64 {
        // A full table of a high-cardinality level (per-user prefixes) refuses most keys:
        // its rank alone tells, before the cache is looked at.
        let rank = if table.len() >= table.cap() {
            let rank = rank.unwrap_or_else(|| table.rank(key));
            if table.rejects_ranked(key, rank) {
                table.fold(|o| o.add(f));
                return rank;
            }
            Some(rank)
        } else {
            rank
        };
        if let Some(s) = self.slots.get(slot_of(key)) {
            if s.live && same_bytes(s.key.get(..s.len).unwrap_or(&[]), key) {
                if let Some(row) = table.row_at(s.at, s.generation) {
                    row.add(f);
                    return s.rank;
                }
            }
        }
        self.add_uncached(table, key, rank, f)
    }

    /// [`RowCache::add`] of a key whose row is not at hand.
    #[inline(never)]
    fn add_uncached(
        &mut self,
        table: &mut CappedTable<RowTotals>,
        key: &[u8],
        rank: Option<u64>,
        f: &Facts,
    ) -> u64 {
        let rank = rank.unwrap_or_else(|| table.rank(key));
        // A key the table folds into `other` (most keys of a high-cardinality level such
        // as per-user prefixes) leaves the cache as it is.
        if let Some(at) = table.add_ranked_at(key, rank, |r| r.add(f)) {
            // A key longer than a slot holds is not cached.
            if let Some(s) = self.slots.get_mut(slot_of(key)) {
                if let Some(dst) = s.key.get_mut(..key.len()) {
                    dst.copy_from_slice(key);
                    s.len = key.len();
                    s.rank = rank;
                    s.at = at;
                    s.generation = table.generation();
                    s.live = true;
                }
            }
        }
        rank
    }
}

/// Scratch buffers reused across keys (no per-key allocation).
#[derive(Default)]
pub struct Work {
    scratch: Scratch,
    key: Vec<u8>,
    pattern: Vec<u8>,
}

/// What the keys of one file are judged by.
#[derive(Debug, Clone, Copy)]
pub struct FileScope {
    /// File index.
    pub file: u32,
    /// The memory model (none: keys are counted without memory).
    pub model: Option<Model>,
    /// Snapshot time, Unix ms.
    pub ctime_ms: Option<i64>,
    /// Keys expiring before this had expired at snapshot time.
    pub expired_cutoff_ms: Option<i64>,
    /// The loading server of `model`, built once rather than per key.
    server: Option<LoadingServer>,
    /// Whether to price a sample of keys under every allocator (the allocator is to be
    /// inferred: [`crate::alloc_infer`]).
    sample_allocators: bool,
}

/// A key's cost (`MEMORY USAGE` plus what it allocates beyond it) under each allocator of
/// [`crate::alloc_infer::ALLOCATORS`]; `est` is its estimate under `server`'s.
fn allocator_costs(
    server: &LoadingServer,
    k: &KeyRecord<'_>,
    est: &KeyEstimate,
    scratch: &mut Scratch,
) -> Option<[i64; 3]> {
    let mut out = [0i64; 3];
    for (c, a) in out.iter_mut().zip(crate::alloc_infer::ALLOCATORS) {
        let alt = LoadingServer {
            model: Model {
                allocator: a,
                ..server.model
            },
            ..*server
        };
        let e = if a == server.model.allocator {
            *est
        } else {
            alt.model.estimate_memory(k, scratch).ok()?
        };
        let adjust = crate::used_memory::allocation_adjust(&alt, k, &e, scratch).ok()?;
        *c = e.memory as i64 + adjust;
    }
    Some(out)
}

impl FileScope {
    /// The scope of file `file` sized with `model`.
    pub fn new(
        file: u32,
        model: Option<Model>,
        ctime_ms: Option<i64>,
        expired_cutoff_ms: Option<i64>,
    ) -> Self {
        FileScope {
            file,
            model,
            ctime_ms,
            expired_cutoff_ms,
            server: model.map(LoadingServer::new),
            sample_allocators: false,
        }
    }

    /// Prices a sample of keys under every allocator, so that [`crate::alloc_infer`] can
    /// tell which one explains the dump's `used-mem`.
    pub fn sampling_allocators(self, yes: bool) -> Self {
        FileScope {
            sample_allocators: yes,
            ..self
        }
    }
}

impl Aggregate {
    /// An empty aggregate for keys of file `file`.
    pub fn new(config: AggregateConfig, file: u32) -> Self {
        let n = config.top;
        Aggregate {
            config,
            totals: RowTotals::default(),
            estimated: 0,
            key_overhead: 0,
            by_db: CappedTable::new(DB_ROWS),
            by_encoding: [[Stats::default(); ENCODING_SLOTS]; TYPES.len()],
            by_module: CappedTable::new(256),
            prefixes: (0..config.depth)
                .map(|_| CappedTable::new(config.row_cap))
                .collect(),
            patterns: CappedTable::new(config.row_cap),
            expiry: [Stats::default(); 10],
            field_ttls: FieldTtls::default(),
            idle: [Stats::default(); 5],
            freq: [Stats::default(); 5],
            top_memory: TopK::new(n),
            top_elements: TopK::new(n),
            top_by_type: (0..TYPES.len()).map(|_| TypeTops::new(n)).collect(),
            top_no_ttl: TopK::new(n),
            top_idle: TopK::new(n),
            top_freq: TopK::new(n),
            streams: StreamTotals::default(),
            top_streams: TopK::new(n),
            stream_facts: BTreeMap::new(),
            big_collections: Stats::default(),
            big_strings: Stats::default(),
            anomalies: 0,
            anomaly_list: TopK::new(100),
            dropped_at_load: Stats::default(),
            used: UsedMemory::for_file(file),
            alloc_sample: Default::default(),
            caches: vec![RowCache::default(); config.depth + 1],
            db_row: DbRow::default(),
        }
    }

    /// Keys and memory per (type index in [`TYPES`], encoding after load), in that order;
    /// the encoding is `None` where the model could not size the key. Only pairs with keys.
    pub fn by_encoding(&self) -> impl Iterator<Item = ((usize, Option<Encoding>), &Stats)> {
        self.by_encoding.iter().enumerate().flat_map(|(ty, slots)| {
            std::iter::once(None)
                .chain(Encoding::ALL.into_iter().map(Some))
                .filter_map(move |e| {
                    let s = slots.get(encoding_slot(e))?;
                    (s.keys > 0).then_some(((ty, e), s))
                })
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AggregateConfig {
        &self.config
    }

    /// Adds one key. The value is decoded only where the model or the report needs element
    /// contents.
    pub fn add_key(&mut self, scope: &FileScope, k: &KeyRecord<'_>, work: &mut Work) {
        self.add_key_filtered(scope, k, &KeyFilter::default(), work);
    }

    /// Adds one key if it passes `filter` (the memory filter is applied after the
    /// estimate).
    pub fn add_key_filtered(
        &mut self,
        scope: &FileScope,
        k: &KeyRecord<'_>,
        filter: &KeyFilter,
        work: &mut Work,
    ) {
        let Work {
            scratch,
            key,
            pattern,
        } = work;
        let key_bytes: &[u8] = match k.key.bytes(key) {
            Ok(b) => b,
            Err(_) => &[],
        };
        let dt = k.value.data_type();
        let ty = type_index(dt);
        let expired = matches!((k.expire_ms, scope.expired_cutoff_ms), (Some(e), Some(c)) if e < c);
        if !filter.keep_key(k.db, key_bytes, dt, k.expire_ms, expired) {
            return;
        }
        let (est, error): (Option<KeyEstimate>, Option<String>) = match scope.model {
            Some(m) => match if self.config.deep {
                m.estimate(k, scratch)
            } else {
                m.estimate_memory(k, scratch)
            } {
                Ok(e) => (Some(e), None),
                Err(e) => (None, Some(e.to_string())),
            },
            None => (None, None),
        };
        if !filter.keep_estimate(est.map(|e| e.memory), est.map(|e| e.elements)) {
            return;
        }
        let memory = est.map_or(0, |e| e.memory);
        let elements = est.map_or(0, |e| e.elements);
        let small_string = dt == DataType::String
            && est.is_some()
            && memory <= self.config.limits.small_string_memory;
        let facts = Facts {
            ty,
            memory,
            ttl: k.expire_ms.is_some(),
            expired,
            small_string,
        };
        self.totals.add(&facts);
        let caches = &mut self.caches;
        self.db_row.add(&mut self.by_db, k.db, &facts);
        if let Some(s) = self
            .by_encoding
            .get_mut(ty)
            .and_then(|t| t.get_mut(encoding_slot(est.map(|e| e.encoding))))
        {
            s.add(memory);
        }
        // A level whose prefix is the previous level's (no further separator) has the
        // same bytes, so the same rank.
        let seps = &self.config.separators;
        let mut previous: Option<(usize, u64)> = None;
        let levels = self.prefixes.iter_mut().zip(caches.iter_mut().skip(1));
        for ((t, c), p) in levels.zip(prefixes(key_bytes, seps, self.config.depth)) {
            let known = previous.filter(|&(len, _)| len == p.len()).map(|(_, r)| r);
            previous = Some((p.len(), c.add(t, p, known, &facts)));
        }
        infer_pattern(key_bytes, seps, pattern);
        if let Some(c) = caches.first_mut() {
            c.add(&mut self.patterns, pattern, None, &facts);
        }
        let bucket = expiry_bucket(k.expire_ms, scope.ctime_ms, expired);
        self.expiry[bucket].add(memory);
        if let Some(i) = k.idle {
            self.idle[idle_bucket(i)].add(memory);
        }
        if let Some(f) = k.freq {
            self.freq[freq_bucket(f)].add(memory);
        }
        let module_name = (dt == DataType::Module)
            .then(|| k.value.module().map(|m| m.id.name()))
            .flatten();
        if let Some(name) = &module_name {
            self.by_module.add(name.as_bytes(), |r| r.add(&facts));
        }
        if let Some(e) = est {
            self.estimated += 1;
            let limits = self.config.limits;
            match dt {
                DataType::String if e.largest_element > limits.big_string_bytes => {
                    self.big_strings.add(memory);
                }
                DataType::List | DataType::Set | DataType::Zset | DataType::Hash
                    if e.elements > limits.big_collection_elements =>
                {
                    self.big_collections.add(memory);
                }
                _ => {}
            }
        }
        if dt == DataType::Hash {
            self.add_field_ttls(k, memory, scratch);
        }
        let stream = if dt == DataType::Stream {
            self.add_stream(k, memory)
        } else {
            None
        };
        // Top lists: build the row only for keys that can enter one.
        let row = || KeyRow {
            file: scope.file,
            offset: k.offset,
            db: k.db,
            key: key_bytes[..key_bytes.len().min(KEY_BYTES_KEPT)].to_vec(),
            key_truncated: key_bytes.len() > KEY_BYTES_KEPT,
            ty: module_name
                .clone()
                .unwrap_or_else(|| dt.as_str().to_string()),
            encoding: est.map(|e| e.encoding),
            memory,
            elements,
            expire_ms: k.expire_ms,
            idle: k.idle,
            freq: k.freq,
        };
        offer(&mut self.top_memory, memory, scope, k, &row);
        offer(&mut self.top_elements, elements, scope, k, &row);
        offer(&mut self.top_by_type[ty].memory, memory, scope, k, &row);
        offer(&mut self.top_by_type[ty].elements, elements, scope, k, &row);
        if k.expire_ms.is_none() {
            offer(&mut self.top_no_ttl, memory, scope, k, &row);
        }
        if let Some(i) = k.idle {
            offer(&mut self.top_idle, (i, memory), scope, k, &row);
        }
        if let Some(f) = k.freq {
            offer(&mut self.top_freq, (f, memory), scope, k, &row);
        }
        if let Some(s) = stream {
            if offer(&mut self.top_streams, (s.pending, memory), scope, k, &row) {
                self.stream_facts
                    .insert((scope.file, k.offset), (s, group_facts(k)));
            }
        }
        if let Some(err) = error {
            self.anomalies += 1;
            let a = Reverse(Anomaly {
                file: scope.file,
                offset: k.offset,
                db: k.db,
                key: key_bytes[..key_bytes.len().min(KEY_BYTES_KEPT)].to_vec(),
                error: err,
            });
            self.anomaly_list.push(a);
        }
        // used_memory: keys the loader drops do not count; their memory is reported apart.
        if let (Some(server), Some(e)) = (&scope.server, est) {
            if server.drops_at_load(k) {
                self.dropped_at_load.add(memory);
            } else {
                self.key_overhead += server.key_overhead(k.expire_ms.is_some());
                let _ = self.used.add_key(server, k, &e, scratch);
                if scope.sample_allocators {
                    if let Some(at) = crate::alloc_infer::sampled(k.offset) {
                        if let Some(cost) = allocator_costs(server, k, &e, scratch) {
                            self.alloc_sample.add(at, cost);
                        }
                    }
                }
            }
        }
    }

    fn add_field_ttls(&mut self, k: &KeyRecord<'_>, memory: u64, scratch: &mut Scratch) {
        use rdbscope_parser::ValueKind;
        if !matches!(
            k.value.kind(),
            ValueKind::HashListpackEx
                | ValueKind::HashListpackExPreGa
                | ValueKind::HashMetadata
                | ValueKind::HashMetadataPreGa
                | ValueKind::ValkeyHash2
        ) {
            return;
        }
        let mut fields = 0u64;
        let _ = k.value.for_each_element(scratch, |e| {
            if let Element::Field(_, _, Some(_)) = e {
                fields += 1;
            }
        });
        if fields > 0 {
            self.field_ttls.hashes.add(memory);
            self.field_ttls.fields += fields;
        }
    }

    fn add_stream(&mut self, k: &KeyRecord<'_>, memory: u64) -> Option<StreamFacts> {
        let s = k.value.stream().ok().flatten()?;
        let f = StreamFacts {
            entries: s.length,
            groups: s.groups,
            consumers: s.consumers_total,
            pending: s.pel_total,
            max_group_pending: s.max_group_pel,
            oldest_pending_ms: s.oldest_pending_ms,
        };
        let t = &mut self.streams;
        t.streams.add(memory);
        t.entries += f.entries;
        t.groups += f.groups;
        t.consumers += f.consumers;
        t.pending += f.pending;
        Some(f)
    }

    /// Counts every key added under database `from` as a key of database `to`: in the
    /// database table, the top lists, the anomalies and the `used_memory` prediction. A
    /// split pass adds the first keys of each later part under a stand-in database and
    /// learns the real one only when the part before it is read. False, and nothing
    /// changed, when the database table has folded rows (it could not be exact).
    pub fn relabel_db(&mut self, from: u64, to: u64) -> bool {
        if self.by_db.folded() {
            return false;
        }
        if let Some(stats) = self.by_db.take(&from.to_be_bytes()) {
            self.by_db.add(&to.to_be_bytes(), |r| r.merge(&stats));
        }
        self.db_row = DbRow::default();
        let fix = |row: &mut KeyRow| {
            if row.db == from {
                row.db = to;
            }
        };
        // Top lists order by metric, file and offset: the database never decides.
        self.top_memory.for_each_mut(|r| fix(&mut r.row));
        self.top_elements.for_each_mut(|r| fix(&mut r.row));
        for t in &mut self.top_by_type {
            t.memory.for_each_mut(|r| fix(&mut r.row));
            t.elements.for_each_mut(|r| fix(&mut r.row));
        }
        self.top_no_ttl.for_each_mut(|r| fix(&mut r.row));
        self.top_idle.for_each_mut(|r| fix(&mut r.row));
        self.top_freq.for_each_mut(|r| fix(&mut r.row));
        self.top_streams.for_each_mut(|r| fix(&mut r.row));
        // Anomalies order by file and offset first, which no two share.
        self.anomaly_list.for_each_mut(|Reverse(a)| {
            if a.db == from {
                a.db = to;
            }
        });
        self.used.relabel_db(from, to);
        true
    }

    /// Adds another aggregate (another thread's keys, or another file's).
    pub fn merge(&mut self, o: Aggregate) {
        self.totals.merge(&o.totals);
        self.estimated += o.estimated;
        self.key_overhead += o.key_overhead;
        self.alloc_sample.merge(&o.alloc_sample);
        self.by_db.merge(o.by_db);
        for (mine, theirs) in self.by_encoding.iter_mut().zip(&o.by_encoding) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                a.merge(b);
            }
        }
        self.by_module.merge(o.by_module);
        for (a, b) in self.prefixes.iter_mut().zip(o.prefixes) {
            a.merge(b);
        }
        self.patterns.merge(o.patterns);
        for (a, b) in self.expiry.iter_mut().zip(&o.expiry) {
            a.merge(b);
        }
        self.field_ttls.hashes.merge(&o.field_ttls.hashes);
        self.field_ttls.fields += o.field_ttls.fields;
        for (a, b) in self.idle.iter_mut().zip(&o.idle) {
            a.merge(b);
        }
        for (a, b) in self.freq.iter_mut().zip(&o.freq) {
            a.merge(b);
        }
        self.top_memory.merge(o.top_memory);
        self.top_elements.merge(o.top_elements);
        for (a, b) in self.top_by_type.iter_mut().zip(o.top_by_type) {
            a.memory.merge(b.memory);
            a.elements.merge(b.elements);
        }
        self.top_no_ttl.merge(o.top_no_ttl);
        self.top_idle.merge(o.top_idle);
        self.top_freq.merge(o.top_freq);
        let s = &mut self.streams;
        s.streams.merge(&o.streams.streams);
        s.entries += o.streams.entries;
        s.groups += o.streams.groups;
        s.consumers += o.streams.consumers;
        s.pending += o.streams.pending;
        self.top_streams.merge(o.top_streams);
        self.stream_facts.extend(o.stream_facts);
        // Keep only the facts of streams still in the top list (bounded).
        let keep: std::collections::BTreeSet<(u32, u64)> = self
            .top_streams
            .iter()
            .map(|r| (r.row.file, r.row.offset))
            .collect();
        self.stream_facts.retain(|k, _| keep.contains(k));
        self.big_collections.merge(&o.big_collections);
        self.big_strings.merge(&o.big_strings);
        self.anomalies += o.anomalies;
        self.anomaly_list.merge(o.anomaly_list);
        self.dropped_at_load.merge(&o.dropped_at_load);
        self.used.merge(&o.used);
    }
}

/// Offers a key to a top list, building its row only when it can enter.
fn offer<M: Ord + Copy>(
    top: &mut TopK<Ranked<M>>,
    metric: M,
    scope: &FileScope,
    k: &KeyRecord<'_>,
    row: &impl Fn() -> KeyRow,
) -> bool {
    // A full list takes the key only if it ranks above the current minimum (the order of
    // `Ranked`): checked without building a row.
    if top.len() >= top.limit() {
        let Some(min) = top.threshold() else {
            return false;
        };
        let below = metric
            .cmp(&min.metric)
            .then_with(|| Reverse(scope.file).cmp(&Reverse(min.row.file)))
            .then_with(|| Reverse(k.offset).cmp(&Reverse(min.row.offset)))
            .is_le();
        if below {
            return false;
        }
    }
    top.push(Ranked { metric, row: row() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dump of string keys `p{i}:x` for each `i` in `ids`, and its key records.
    fn keys_dump(ids: &[u32]) -> Vec<u8> {
        let mut w = rdbscope_testwriter::RdbWriter::redis(11);
        w.select_db(0);
        for i in ids {
            w.key(
                0,
                format!("p{i}:x"),
                &rdbscope_testwriter::encode::string("v"),
            );
        }
        w.finish()
    }

    fn add_all(agg: &mut Aggregate, data: &[u8]) {
        let scope = FileScope::new(0, None, None, None);
        let mut work = Work::default();
        for r in rdbscope_parser::Records::new(data).unwrap() {
            if let rdbscope_parser::Record::Key(k) = r.unwrap() {
                agg.add_key(&scope, &k, &mut work);
            }
        }
    }

    #[test]
    fn database_rows_count_every_key_of_their_database() {
        // Databases revisited after others (as concatenated or merged inputs do), and more
        // databases than rows, so the remembered row goes stale and rows fold.
        let dbs = [0u64, 0, 5, 0, 7, 5, 5, 9, 0];
        let mut w = rdbscope_testwriter::RdbWriter::redis(11);
        for (i, db) in dbs.iter().enumerate() {
            w.select_db(*db);
            w.key(
                0,
                format!("k{i}"),
                &rdbscope_testwriter::encode::string("v"),
            );
        }
        let data = w.finish();
        for cap in [DB_ROWS, 2] {
            let mut agg = Aggregate::new(AggregateConfig::default(), 0);
            agg.by_db = CappedTable::new(cap);
            add_all(&mut agg, &data);
            let mut seen: Vec<(u64, u64)> = agg
                .by_db
                .iter()
                .map(|(k, r)| {
                    let db = u64::from_be_bytes(k.try_into().expect("8-byte key"));
                    (db, r.all.keys)
                })
                .collect();
            seen.sort_unstable();
            let count = |db| dbs.iter().filter(|&&d| d == db).count() as u64;
            for &(db, keys) in &seen {
                assert_eq!(keys, count(db), "db {db}, cap {cap}");
            }
            let kept: u64 = seen.iter().map(|&(_, k)| k).sum();
            assert_eq!(kept + agg.by_db.other().all.keys, dbs.len() as u64);
            assert_eq!(seen.len(), cap.min(4));
        }
    }

    #[test]
    fn keys_added_after_a_merge_land_as_in_one_pass() {
        // The remembered row of a table may be evicted by a merge; the next key with the
        // same bytes must then fold as a single pass folds it, not land on another row.
        let config = AggregateConfig {
            row_cap: 4,
            ..AggregateConfig::default()
        };
        let first: Vec<u32> = (0..20).collect();
        let second: Vec<u32> = (20..60).collect();
        let third: Vec<u32> = [19].into_iter().chain(0..20).collect();
        let (d1, d2, d3) = (keys_dump(&first), keys_dump(&second), keys_dump(&third));
        let mut merged = Aggregate::new(config, 0);
        add_all(&mut merged, &d1);
        let mut other = Aggregate::new(config, 0);
        add_all(&mut other, &d2);
        merged.merge(other);
        add_all(&mut merged, &d3);
        let mut single = Aggregate::new(config, 0);
        for d in [&d1, &d2, &d3] {
            add_all(&mut single, d);
        }
        let rows = |a: Aggregate| {
            let by = |r: &RowTotals| r.all.keys;
            let mut tables = vec![a.patterns.into_sorted(by)];
            tables.extend(a.prefixes.into_iter().map(|t| t.into_sorted(by)));
            tables
        };
        assert_eq!(rows(merged), rows(single));
    }

    #[test]
    fn expiry_buckets_measure_from_ctime() {
        let now = Some(1_000_000_000);
        assert_eq!(expiry_bucket(None, now, false), 0);
        assert_eq!(expiry_bucket(Some(5), now, true), 1);
        assert_eq!(expiry_bucket(Some(1_000_000_000 + 59_000), now, false), 2);
        assert_eq!(
            expiry_bucket(Some(1_000_000_000 + 3_600_000), now, false),
            3
        );
        assert_eq!(
            expiry_bucket(Some(1_000_000_000 + 40 * 86_400_000), now, false),
            8
        );
        assert_eq!(expiry_bucket(Some(7), None, false), 9);
    }

    #[test]
    fn ranked_ties_break_by_file_then_offset() {
        let r = |file, offset, m| Ranked {
            metric: m,
            row: KeyRow {
                file,
                offset,
                db: 0,
                key: Vec::new(),
                key_truncated: false,
                ty: String::new(),
                encoding: None,
                memory: 0,
                elements: 0,
                expire_ms: None,
                idle: None,
                freq: None,
            },
        };
        assert!(r(0, 10, 5u64) > r(0, 20, 5));
        assert!(r(0, 99, 5u64) > r(1, 1, 5));
        assert!(r(1, 1, 6u64) > r(0, 1, 5));
    }
}
