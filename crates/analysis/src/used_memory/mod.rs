//! Predicting the loading server's `used_memory` (INFO memory) right after it loaded a dump.
//!
//! `used_memory` is `zmalloc_used_memory()`: every live `zmalloc` block at its usable size.
//! Right after a load it is the sum of
//!
//! * what the server allocated before loading (`server.initial_memory_usage`, INFO
//!   `used_memory_startup`, taken in `InitServerLast`): a constant of the build and its
//!   configuration that the dump does not carry ([`startup_baseline`]);
//! * every loaded key's allocations: the model's `MEMORY USAGE` estimate, corrected where
//!   `objectComputeSize` does not count what is allocated ([`allocation_adjust`]);
//! * the keyspace tables: the bucket arrays of the main and expires dicts (Valkey ≥ 8.1:
//!   hashtables), the dicts a kvstore creates on demand, the expires entries;
//! * the function libraries of the `FUNCTION2` records;
//! * what the connection(s) asking for INFO hold: client buffers and one latency histogram
//!   per command name run since start ([`Session`]).
//!
//! [`UsedMemory`] is plain data with [`UsedMemory::merge`]: feed it records and keys from
//! any number of threads (one accumulator per thread, same file id) and files (one file id
//! per file: each file is one loading server), merge, then [`UsedMemory::predict`].
//!
//! ```
//! use rdbscope_analysis::alloc::Allocator;
//! use rdbscope_analysis::model::{Model, ServerLine};
//! use rdbscope_analysis::used_memory::{LoadingServer, UsedMemory};
//! use rdbscope_parser::{Record, Records, Scratch};
//!
//! // An RDB 9 file: SELECTDB 0, RESIZEDB 1 0, the string key "k" = "v", EOF, no checksum.
//! let file = b"REDIS0009\xfe\x00\xfb\x01\x00\x00\x01k\x01v\xff\0\0\0\0\0\0\0\0";
//! let server = LoadingServer::new(Model::new(ServerLine::Redis72, Allocator::Jemalloc));
//! let mut acc = UsedMemory::for_file(0);
//! let mut scratch = Scratch::new();
//! for rec in Records::new(file).unwrap() {
//!     let rec = rec.unwrap();
//!     acc.observe(&rec);
//!     if let Record::Key(k) = &rec {
//!         if !server.drops_at_load(k) {
//!             let est = server.model.estimate(k, &mut scratch).unwrap();
//!             acc.add_key(&server, k, &est, &mut scratch).unwrap();
//!         }
//!     }
//! }
//! let b = acc.predict(&server);
//! assert_eq!(b.dataset, 56); // MEMORY USAGE of "k": embstr 24 + key sds 8 + dictEntry 24
//! assert_eq!(b.keyspace_main, 32); // RESIZEDB 1: 4 buckets
//! assert_eq!(b.keyspace_expires, 32); // RESIZEDB expands the expires dict too
//! assert_eq!(
//!     b.used_memory,
//!     b.startup + b.dataset + b.keyspace_main + b.keyspace_expires + b.functions + b.session
//! );
//! assert_eq!((b.startup_uncounted, b.keyspace_volatile, b.databases), (0, 0, 0));
//! ```
//!
//! Laid out as: this module (the loading server, the per-file state and the breakdown),
//! `keyspace` (the tables, databases and startup baseline) and `adjust` (what keys allocate
//! beyond their `MEMORY USAGE`, the client session, the stream structs).

use crate::alloc::Allocator;
use crate::model::{
    expected_collisions, next_pow2, valkey_hashtable, Encoding, KeyEstimate, Model, ServerLine,
};
use crate::rax;
use rdbscope_parser::stream::{Stream, StreamId};
use rdbscope_parser::{DataType, Element, KeyRecord, RdbStr, Record, Result, Scratch, ValueKind};
use std::collections::BTreeMap;

mod adjust;
mod keyspace;
#[cfg(test)]
mod tests;

pub use adjust::allocation_adjust;
use adjust::*;
use keyspace::*;
pub use keyspace::{key_slot, startup_uncounted};

/// Bytes of one command latency histogram (`updateCommandLatencyHistogram` →
/// `hdr_init(1, 1000000000, 2)`, Redis ≥ 7.0 and Valkey): 3072 `int64_t` counts (24576)
/// and the 104-byte `struct hdr_histogram` (usable 112).
pub const LATENCY_HISTOGRAM_BYTES: u64 = 24576 + 112;

/// `PROTO_REPLY_CHUNK_BYTES`: the reply buffer `createClient` gives every client.
const REPLY_BUFFER: u64 = 16 * 1024;

/// A query buffer after one read of `PROTO_IOBUF_LEN` (16 KiB): an sds16 of usable 20480.
const QUERY_BUFFER: u64 = 20480;

/// The rest of a client (`client` struct, reply list, connection, pubsub and watch
/// structures), read off the empty-dump entries of the corpus, whose used_memory is
/// startup + session only (`redis-7.0.15--empty`: 1344, `redis-8.0-m01--empty`: 1496).
const CLIENT_REST: u64 = 1440;

/// The connection(s) that measure the server: they allocate after `used_memory_startup`
/// was taken and before INFO answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// Connected clients, each with its reply buffer and, before the thread's reusable
    /// query buffer (Redis 8.0, Valkey 8.0), its own query buffer.
    pub clients: u64,
    /// Distinct command names run since start (a subcommand such as `CLIENT|SETINFO`
    /// counts apart): each got a latency histogram (`latency-tracking yes`, the default).
    pub commands: u64,
}

impl Default for Session {
    /// One client that ran `INFO`.
    fn default() -> Self {
        Session {
            clients: 1,
            commands: 1,
        }
    }
}

/// A server version as the `redis-ver` / `valkey-ver` AUX fields give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerVersion {
    /// Whether it is Valkey (`valkey-ver`).
    pub valkey: bool,
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Patch.
    pub patch: u32,
}

impl ServerVersion {
    /// Parses the AUX fields (`valkey-ver` wins when both exist).
    ///
    /// ```
    /// use rdbscope_analysis::used_memory::ServerVersion;
    /// let v = ServerVersion::from_aux(Some("8.0.5"), None).unwrap();
    /// assert_eq!((v.valkey, v.major, v.minor, v.patch), (false, 8, 0, 5));
    /// ```
    pub fn from_aux(redis_ver: Option<&str>, valkey_ver: Option<&str>) -> Option<Self> {
        let (valkey, v) = match (valkey_ver, redis_ver) {
            (Some(v), _) => (true, v),
            (None, Some(v)) => (false, v),
            (None, None) => return None,
        };
        let mut it = v.trim().split('.').map(|p| p.parse::<u32>().ok());
        Some(ServerVersion {
            valkey,
            major: it.next()??,
            minor: it.next().flatten().unwrap_or(0),
            patch: it.next().flatten().unwrap_or(0),
        })
    }
}

/// Whether `createStringObjectFromLongLongWithOptions` hands out the shared integers
/// 0..9999: with `maxmemory` 0, or with a policy that does not need per-key LRU/LFU data
/// (`MAXMEMORY_FLAG_NO_SHARED_INTEGERS` is set for the `*-lru` and `*-lfu` policies).
pub fn shares_integers_under(maxmemory: u64, policy: &str) -> bool {
    maxmemory == 0 || !(policy.ends_with("-lru") || policy.ends_with("-lfu"))
}

/// The loading server: its memory model plus what `used_memory` needs besides the keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadingServer {
    /// Line, allocator, thresholds, cluster mode and clock of the per-key model.
    pub model: Model,
    /// Exact version, to pick the startup baseline (`None`: the line's default).
    pub version: Option<ServerVersion>,
    /// Whether INT values 0..9999 load as the shared objects ([`shares_integers_under`]).
    /// Only Redis ≤ 8.0 and Valkey ≤ 8.0 share top-level values at all.
    pub shared_integers: bool,
    /// The measuring connection(s).
    pub session: Session,
    /// `used_memory_startup` when it is known (INFO of the same build and configuration);
    /// `None` uses [`startup_baseline`].
    pub startup: Option<u64>,
}

impl LoadingServer {
    /// A server with the model's settings (shared integers unless `maxmemory` is set with an
    /// LRU/LFU policy), one client that ran INFO, the startup baseline of its line.
    pub fn new(model: Model) -> Self {
        let t = model.thresholds;
        LoadingServer {
            model,
            version: None,
            shared_integers: shares_integers_under(t.maxmemory, t.maxmemory_policy.as_str()),
            session: Session::default(),
            startup: None,
        }
    }

    /// Whether the loader skips the key because it has already expired (`rdbLoadRio` on a
    /// master: expire before now). Uses the model's clock; `false` when it is unknown.
    pub fn drops_at_load(&self, key: &KeyRecord<'_>) -> bool {
        matches!((key.expire_ms, self.model.now_ms), (Some(e), Some(now)) if e < now)
    }

    /// What a key costs in the keyspace tables besides its `MEMORY USAGE` (which counts
    /// the key, the value and the main table's entry): the expires table's entry of a key
    /// with a TTL, a 24-byte `dictEntry` on the lines whose expires table allocates one
    /// (Redis ≤ 8.0, Valkey ≤ 8.0). Redis ≥ 8.2 and Valkey ≥ 8.1 keep the key object
    /// itself in the expires table's bucket: nothing per key. Bucket arrays belong to the
    /// tables and are in [`Breakdown::keyspace_main`] / [`Breakdown::keyspace_expires`].
    pub fn key_overhead(&self, has_ttl: bool) -> u64 {
        if !has_ttl {
            return 0;
        }
        match self.keyspace_kind() {
            KeyspaceKind::Dict | KeyspaceKind::Kvstore => self.u(24),
            KeyspaceKind::KvobjKvstore | KeyspaceKind::Hashtable => 0,
        }
    }

    fn line(&self) -> ServerLine {
        self.model.line
    }

    fn u(&self, n: u64) -> u64 {
        self.model.allocator.usable(n)
    }

    fn keyspace_kind(&self) -> KeyspaceKind {
        match self.line() {
            ServerLine::Redis62
            | ServerLine::Redis70
            | ServerLine::Redis72
            | ServerLine::Valkey72 => KeyspaceKind::Dict,
            ServerLine::Redis74 | ServerLine::Valkey80 | ServerLine::Valkey80Dev => {
                KeyspaceKind::Kvstore
            }
            ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86 => {
                KeyspaceKind::KvobjKvstore
            }
            ServerLine::Valkey81 | ServerLine::Valkey90 => KeyspaceKind::Hashtable,
        }
    }

    /// Redis ≥ 8.0 GA (not the 7.9.x milestones, which are `Redis74` too).
    fn is_redis8_ga(&self) -> bool {
        match self.line() {
            ServerLine::Redis74 => self.version.is_some_and(|v| !v.valkey && v.major >= 8),
            ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86 => true,
            _ => false,
        }
    }
}

/// How the keyspace of a line is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyspaceKind {
    /// One `dict` per db, created at start and expanded by `RESIZEDB` (`dictExpand`):
    /// Redis ≤ 7.2, Valkey 7.2. Entries are 24-byte `dictEntry`s.
    Dict,
    /// A `kvstore` per db whose dicts are created on demand
    /// (`KVSTORE_ALLOCATE_DICTS_ON_DEMAND`): `RESIZEDB` finds no dict to expand
    /// (`kvstoreExpand` skips missing dicts), so tables grow with the keys. Redis 7.4 /
    /// 8.0, Valkey 8.0.
    Kvstore,
    /// As `Kvstore`, with `kvobj` keys stored in the buckets (`no_value` dicts): an entry
    /// block only for a key whose bucket is taken. Redis ≥ 8.2.
    KvobjKvstore,
    /// Valkey ≥ 8.1 `hashtable`s (64-byte buckets of 7 slots), expanded by `RESIZEDB`.
    Hashtable,
}

/// `used_memory_startup` of the corpus's builds (INFO of the loading servers,
/// `shared/corpus/*/info.txt`) by version: the command table, shared objects, the event
/// loop sized for `maxclients` 10000, the databases' dicts or kvstores, Lua and function
/// engines, and in cluster mode the cluster state and 16384-slot arrays. It depends on the
/// build and on `maxclients`, `databases`, `cluster-enabled`: pass the measured value in
/// [`LoadingServer::startup`] when you have it.
///
/// ```
/// use rdbscope_analysis::model::ServerLine;
/// use rdbscope_analysis::used_memory::{startup_baseline, ServerVersion};
/// let v = ServerVersion::from_aux(Some("8.0.5"), None);
/// assert_eq!(startup_baseline(ServerLine::Redis74, v, false), 652_920);
/// ```
pub fn startup_baseline(line: ServerLine, version: Option<ServerVersion>, cluster: bool) -> u64 {
    if cluster {
        match line {
            // Valkey 9.0.4 and Redis unstable (8.6 line) with `cluster-enabled yes`.
            ServerLine::Valkey80 | ServerLine::Valkey81 | ServerLine::Valkey90 => return 2_454_952,
            ServerLine::Redis74
            | ServerLine::Redis82
            | ServerLine::Redis84
            | ServerLine::Redis86 => return 2_258_176,
            _ => {}
        }
    }
    match line {
        ServerLine::Redis62 => 812_216,
        // Debian's 7.0.15 package (system jemalloc, 16-byte quantum).
        ServerLine::Redis70 => 876_432,
        ServerLine::Redis72 => 866_144,
        ServerLine::Valkey72 => 880_768,
        // 7.4.1 and the 8.0 milestones (7.9.x) vs the 8.0 GA line (8.0.5).
        ServerLine::Redis74 => match version.map(|v| (v.major, v.minor)) {
            Some((8, _)) => 652_920,
            Some((7, 9)) => 946_616,
            _ => 946_560,
        },
        ServerLine::Valkey80 => 912_304,
        // The 2024-10 development branch (valkey-unstable-55bbbe0).
        ServerLine::Valkey80Dev => 912_552,
        ServerLine::Redis82 => 653_920,
        ServerLine::Redis84 => 669_216,
        // Unstable of 2026-02 (8.6 line).
        ServerLine::Redis86 => 705_432,
        ServerLine::Valkey81 => 877_824,
        ServerLine::Valkey90 => 878_792,
    }
}

/// Where the predicted `used_memory` comes from: bytes of live `zmalloc` blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown {
    /// `used_memory_startup`: the server before loading, once per file.
    pub startup: u64,
    /// What the server held at startup but left out of `used_memory_startup`
    /// ([`startup_uncounted`]): Valkey 8.1.6+ / 9.0.2+ store it net of the keyspace
    /// overhead `getMemoryOverheadData` reports at that time. Once per file.
    pub startup_uncounted: u64,
    /// Sum of the per-key `MEMORY USAGE` estimates (`memoryCommand`). On Redis ≤ 8.0 and
    /// Valkey ≤ 8.0 it includes each key's main dict entry.
    pub dataset: u64,
    /// What the keys allocate minus what `MEMORY USAGE` reports for them
    /// ([`allocation_adjust`], shared integers): negative where it over-counts.
    pub dataset_adjust: i64,
    /// Main keyspace tables: bucket arrays, dicts a kvstore allocates on demand, and on
    /// Redis ≥ 8.2 the entry blocks of keys whose bucket is taken.
    pub keyspace_main: u64,
    /// Expires tables: bucket arrays and entries (a 24-byte `dictEntry` per key with a TTL
    /// on Redis ≤ 8.0 and Valkey ≤ 8.0).
    pub keyspace_expires: u64,
    /// Valkey 9.0 `keys_with_volatile_items` tables: one hashtable per database (cluster:
    /// per slot) holding the hashes that keep field TTLs (`dbTrackKeyWithVolatileItems`).
    /// Not in `used_memory_overhead`.
    pub keyspace_volatile: u64,
    /// Valkey 9.0 databases other than 0 that the file selects: `rdbLoad` creates them
    /// (`createDatabase`: the `serverDb`, its three kvstores and four dicts).
    pub databases: u64,
    /// Function libraries (`functionsCreateWithLibraryCtx`).
    pub functions: u64,
    /// Client buffers and latency histograms of the measuring session, once per file.
    pub session: u64,
    /// The prediction: `startup + startup_uncounted + dataset + dataset_adjust +
    /// keyspace_main + keyspace_expires + keyspace_volatile + databases + functions +
    /// session`.
    pub used_memory: u64,
    /// `used_memory_overhead` as `getMemoryOverheadData` adds it up: startup, the clients'
    /// buffers, the functions, and per db `kvstoreMemUsage` / `dictMemUsage` of both tables
    /// (Valkey 8.1+: with the kvstore struct and, in cluster mode, its 16385-entry slot
    /// index) plus `sizeof(robj)` per key. Latency histograms are not in it.
    pub overhead: u64,
}

impl Breakdown {
    /// INFO `used_memory_dataset`: `used_memory - used_memory_overhead` (all versions).
    pub fn used_memory_dataset(&self) -> u64 {
        self.used_memory.saturating_sub(self.overhead)
    }
}

/// Keys and size hints of one table pair: a database, or one slot of a cluster database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TableCount {
    keys: u64,
    expires: u64,
    /// Keys the server tracks in `keys_with_volatile_items` (Valkey 9.0).
    volatile: u64,
    hint_keys: u64,
    hint_expires: u64,
    hinted: bool,
}

impl TableCount {
    fn merge(&mut self, o: &TableCount) {
        self.keys += o.keys;
        self.expires += o.expires;
        self.volatile += o.volatile;
        self.hint_keys = self.hint_keys.saturating_add(o.hint_keys);
        self.hint_expires = self.hint_expires.saturating_add(o.hint_expires);
        self.hinted |= o.hinted;
    }
}

/// One function library: code bytes, name bytes, registered functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Library {
    code: u64,
    name: u64,
    functions: u64,
}

/// What one file (one loading server) contributes besides the per-key sums.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct FileState {
    dbs: BTreeMap<u64, TableCount>,
    slots: BTreeMap<u16, TableCount>,
    /// Libraries with their multiplicity (a map keeps `merge` order-independent).
    libraries: BTreeMap<Library, u64>,
}

impl FileState {
    fn merge(&mut self, o: &FileState) {
        for (k, v) in &o.dbs {
            self.dbs.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.slots {
            self.slots.entry(*k).or_default().merge(v);
        }
        for (k, v) in &o.libraries {
            *self.libraries.entry(*k).or_default() += v;
        }
    }
}

/// The sums: everything [`UsedMemory::merge`] adds up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Totals {
    files: BTreeMap<u32, FileState>,
    dataset: u64,
    adjust: i64,
    shared_int_values: u64,
}

/// Mergeable accumulator for the `used_memory` prediction of one or more files.
#[derive(Debug, Clone, Default)]
pub struct UsedMemory {
    /// The file this accumulator's records and keys belong to.
    file: u32,
    /// The database a following `RESIZEDB` is for (reading position, not data).
    current_db: u64,
    totals: Totals,
    /// Key counts of this file's last database, not yet in `totals` (saves a map lookup
    /// per key; every reader of `totals` adds it first).
    hot: Option<(u64, TableCount)>,
}

/// Equal when they hold the same sums, whether or not a key count is still pending.
impl PartialEq for UsedMemory {
    fn eq(&self, other: &Self) -> bool {
        (self.file, self.current_db) == (other.file, other.current_db)
            && self.settled().totals == other.settled().totals
    }
}

impl Eq for UsedMemory {}

impl UsedMemory {
    /// An empty accumulator whose records and keys belong to file `file`. One file is one
    /// loading server: its startup memory and session are counted once per file id.
    pub fn for_file(file: u32) -> Self {
        UsedMemory {
            file,
            ..UsedMemory::default()
        }
    }

    fn state(&mut self) -> &mut FileState {
        self.totals.files.entry(self.file).or_default()
    }

    /// Moves the pending key counts into `totals`.
    fn settle(&mut self) {
        if let Some((db, t)) = self.hot.take() {
            self.state().dbs.entry(db).or_default().merge(&t);
        }
    }

    /// This accumulator with nothing pending (borrowed when nothing is).
    fn settled(&self) -> std::borrow::Cow<'_, UsedMemory> {
        if self.hot.is_none() {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut me = self.clone();
            me.settle();
            std::borrow::Cow::Owned(me)
        }
    }

    /// Counts the keys added under database `from` as keys of database `to` (a split pass
    /// learns the database its later parts started in only at the end).
    pub fn relabel_db(&mut self, from: u64, to: u64) {
        self.settle();
        for state in self.totals.files.values_mut() {
            if let Some(t) = state.dbs.remove(&from) {
                state.dbs.entry(to).or_default().merge(&t);
            }
        }
    }

    /// Takes what the prediction needs from a record besides keys: `SELECTDB` (the
    /// database a following `RESIZEDB` is for), `RESIZEDB` and `SLOT_INFO` hints,
    /// `FUNCTION2` libraries. Feed one file's non-key records in file order.
    pub fn observe(&mut self, rec: &Record<'_>) {
        match rec {
            Record::SelectDb { db, .. } => self.current_db = *db,
            Record::ResizeDb {
                db_size,
                expires_size,
                ..
            } => self.add_resize_hint(self.current_db, *db_size, *expires_size),
            Record::SlotInfo {
                slot,
                size,
                expires_size,
                ..
            } => {
                let slot = u16::try_from(*slot).unwrap_or(u16::MAX);
                let t = self.state().slots.entry(slot).or_default();
                t.hint_keys = t.hint_keys.saturating_add(*size);
                t.hint_expires = t.hint_expires.saturating_add(*expires_size);
                t.hinted = true;
            }
            Record::Function { code, .. } => self.add_function(code),
            _ => {}
        }
    }

    /// Records a `RESIZEDB` hint for `db`: keys and keys with a TTL, expired ones included.
    pub fn add_resize_hint(&mut self, db: u64, db_size: u64, expires_size: u64) {
        let t = self.state().dbs.entry(db).or_default();
        t.hint_keys = t.hint_keys.saturating_add(db_size);
        t.hint_expires = t.hint_expires.saturating_add(expires_size);
        t.hinted = true;
    }

    /// Records a function library (a `FUNCTION2` payload).
    pub fn add_function(&mut self, code: &RdbStr<'_>) {
        let bytes = code.to_vec().unwrap_or_default();
        let (name, _) = crate::inventory::function_name(&bytes);
        let pat = b"register_function";
        let functions = bytes.windows(pat.len()).filter(|w| w == pat).count() as u64;
        let lib = Library {
            code: code.len(),
            name: name.len() as u64,
            functions,
        };
        *self.state().libraries.entry(lib).or_default() += 1;
    }

    /// Adds a key the server keeps after loading (leave out keys it drops,
    /// [`LoadingServer::drops_at_load`]) with the model's estimate for it.
    ///
    /// # Errors
    /// A value whose elements cannot be decoded.
    pub fn add_key(
        &mut self,
        server: &LoadingServer,
        key: &KeyRecord<'_>,
        estimate: &KeyEstimate,
        scratch: &mut Scratch,
    ) -> Result<()> {
        let ttl = u64::from(key.expire_ms.is_some());
        let volatile = u64::from(
            server.line() == ServerLine::Valkey90
                && has_field_ttls(key, server.model.now_ms, scratch)?,
        );
        let slot = if server.model.cluster {
            Some(match key.key.as_raw() {
                Some(b) => key_slot(b),
                None => key_slot(&key.key.to_vec()?),
            })
        } else {
            None
        };
        if self.hot.is_some_and(|(db, _)| db != key.db) {
            self.settle();
        }
        let (_, t) = self.hot.get_or_insert((key.db, TableCount::default()));
        t.keys += 1;
        t.expires += ttl;
        t.volatile += volatile;
        if let Some(s) = slot {
            let t = self.state().slots.entry(s).or_default();
            t.keys += 1;
            t.expires += ttl;
            t.volatile += volatile;
        }
        self.totals.dataset += estimate.memory;
        self.totals.adjust += allocation_adjust(server, key, estimate, scratch)?;
        if shares_integers(server.line()) && is_small_int(key, estimate) {
            self.totals.shared_int_values += 1;
        }
        Ok(())
    }

    /// Adds another accumulator: another thread's share of the same file, or other files.
    /// Commutative and associative; the reading position stays this accumulator's.
    pub fn merge(&mut self, other: &UsedMemory) {
        self.settle();
        let other = other.settled();
        for (f, s) in &other.totals.files {
            self.totals.files.entry(*f).or_default().merge(s);
        }
        self.totals.dataset += other.totals.dataset;
        self.totals.adjust += other.totals.adjust;
        self.totals.shared_int_values += other.totals.shared_int_values;
    }

    /// The predicted `used_memory` of the server(s) that loaded the file(s), by term.
    pub fn predict(&self, server: &LoadingServer) -> Breakdown {
        let me = self.settled();
        let t = &me.totals;
        let files = t.files.len().max(1) as u64;
        let startup = files
            * server.startup.unwrap_or_else(|| {
                startup_baseline(server.line(), server.version, server.model.cluster)
            });
        let mut adjust = t.adjust;
        if server.shared_integers {
            // The value is the shared object: no robj of its own.
            adjust -= 16 * t.shared_int_values as i64;
        }
        let (mut main, mut expires, mut functions, mut accounting) = (0, 0, 0, 0);
        let (mut volatile, mut databases) = (0, 0);
        for f in t.files.values() {
            let tables: Vec<&TableCount> =
                if server.model.cluster && server.keyspace_kind() != KeyspaceKind::Dict {
                    f.slots.values().collect()
                } else {
                    f.dbs.values().collect()
                };
            for tc in tables {
                let m = table(server, true, tc.keys, tc.hint_keys, tc.hinted);
                let e = table(server, false, tc.expires, tc.hint_expires, tc.hinted);
                main += m.0;
                expires += e.0;
                accounting += m.1 + e.1;
                volatile += volatile_table(server, tc.volatile);
            }
            let (created, kvstores) = database_structs(server, f);
            databases += created;
            accounting += kvstores;
            functions += functions_alloc(server, &f.libraries);
        }
        let (per_file, clients) = session_bytes(server);
        let session = per_file * files;
        let uncounted = files * startup_uncounted(server);
        let used = (startup + uncounted) as i64
            + t.dataset as i64
            + adjust
            + (main + expires + volatile + databases + functions + session) as i64;
        Breakdown {
            startup,
            startup_uncounted: uncounted,
            dataset: t.dataset,
            dataset_adjust: adjust,
            keyspace_main: main,
            keyspace_expires: expires,
            keyspace_volatile: volatile,
            databases,
            functions,
            session,
            used_memory: used.max(0) as u64,
            overhead: startup + clients * files + functions + accounting,
        }
    }
}
