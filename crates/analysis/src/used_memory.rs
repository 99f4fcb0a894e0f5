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

use crate::alloc::Allocator;
use crate::model::{
    expected_collisions, next_pow2, valkey_hashtable, Encoding, KeyEstimate, Model, ServerLine,
};
use crate::rax;
use rdbscope_parser::stream::{Stream, StreamId};
use rdbscope_parser::{DataType, Element, KeyRecord, RdbStr, Record, Result, Scratch, ValueKind};
use std::collections::BTreeMap;

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

/// `createSharedObjects` makes integers 0..9999 once; Redis ≥ 8.2 and Valkey ≥ 8.1 give
/// every key its own object (`kvobjSet`, `objectSetKeyAndExpire`).
fn shares_integers(line: ServerLine) -> bool {
    !matches!(
        line,
        ServerLine::Redis82
            | ServerLine::Redis84
            | ServerLine::Redis86
            | ServerLine::Valkey81
            | ServerLine::Valkey90
    )
}

/// An INT-encoded string value in 0..9999 (`createStringObjectFromLongLongForValue`).
fn is_small_int(key: &KeyRecord<'_>, est: &KeyEstimate) -> bool {
    if est.encoding != Encoding::Int {
        return false;
    }
    // Integers are int-encoded in the file; a plain decimal string is short and raw.
    let v = match key.value.as_string() {
        Some(RdbStr::Int(v)) => Some(v),
        Some(s) => s
            .as_raw()
            .and_then(|b| std::str::from_utf8(b).ok()?.parse::<i64>().ok()),
        None => None,
    };
    matches!(v, Some(0..=9999))
}

/// `keyHashSlot`: CRC16 (XMODEM) of the key, or of its first non-empty `{hashtag}`, mod
/// 16384.
///
/// ```
/// use rdbscope_analysis::used_memory::key_slot;
/// assert_eq!(key_slot(b"123456789"), 0x31c3 & 0x3fff);
/// assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
/// ```
pub fn key_slot(key: &[u8]) -> u16 {
    let mut k = key;
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(len) = rest.iter().position(|&b| b == b'}') {
            if len > 0 {
                k = &rest[..len];
            }
        }
    }
    let mut crc: u16 = 0;
    for &b in k {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc & 0x3fff
}

/// `_dictNextExp`: the buckets of a dict expanded for `n` entries (at least 4). A dict
/// that grew by inserts ends at the same size (`_dictExpandIfNeeded` doubles at load 1).
fn dict_buckets(n: u64) -> u64 {
    next_pow2(n).max(4)
}

/// `sizeof(dict)` (56) plus the `kvstoreDictMetadata` of a dict a kvstore creates on
/// demand (`createDictIfNeeded`): the rehashing list node (8; Valkey 8.0 also the kvstore
/// pointer), and from Redis 8.0 GA on, in the main keyspace, the KEYSIZES histogram
/// (2400). Read off MEMORY STATS of single-key databases: 8.0.5 2464, 8.4.0 2472,
/// 8.6-dev 2496.
fn kvstore_dict(server: &LoadingServer, main: bool) -> u64 {
    let meta = match server.line() {
        ServerLine::Valkey80 => 16,
        _ if !main || !server.is_redis8_ga() => 8,
        ServerLine::Redis84 => 2416,
        ServerLine::Redis86 => 2440,
        _ => 2408,
    };
    56 + meta
}

/// The largest `RESIZEDB` / `SLOT_INFO` size hint the model believes: 2^40 keys, whose
/// bucket array alone would be 8 TiB.
const MAX_TABLE_HINT: u64 = 1 << 40;

/// One keyspace table (main or expires) of a database or slot with `n` keys: (bytes
/// allocated, bytes `getMemoryOverheadData` counts for it). Main dict entries of the dict
/// lines are inside `MEMORY USAGE` and not repeated here.
fn table(server: &LoadingServer, main: bool, n: u64, hint: u64, hinted: bool) -> (u64, u64) {
    // The hint is untrusted: a server cannot expand a table past what it can allocate
    // (`dictTryExpand` fails and `rdbLoad` gives up), so larger hints are capped here
    // rather than overflowing the bucket arithmetic.
    let hint = hint.min(MAX_TABLE_HINT);
    let robj = if main { 16 * n } else { 0 };
    match server.keyspace_kind() {
        KeyspaceKind::Dict => {
            // `rdbLoad` RESIZEDB: `dictExpand(db->dict, db_size)` and
            // `dictExpand(db->expires, expires_size)` (4 buckets even for 0).
            let size = n.max(hint);
            if size == 0 && !hinted {
                return (0, 0);
            }
            let b = dict_buckets(size);
            let entries = if main { 0 } else { n * server.u(24) };
            (server.u(8 * b) + entries, 8 * b + 24 * n + robj)
        }
        kind @ (KeyspaceKind::Kvstore | KeyspaceKind::KvobjKvstore) => {
            // `dbExpand` reaches no dict in standalone mode; in cluster mode `SLOT_INFO`
            // expands each slot's dict (`kvstoreDictExpand`).
            let size = if server.model.cluster { n.max(hint) } else { n };
            if size == 0 {
                return (0, 0);
            }
            let b = dict_buckets(size);
            let dict = kvstore_dict(server, main);
            let (entries, counted) = if kind == KeyspaceKind::KvobjKvstore {
                // `dictEntryNoValue` only for keys whose bucket is taken; INFO counts
                // `dictEntryMemUsage(1)` (16) per key.
                ((16.0 * expected_collisions(n, b)).round() as u64, 16 * n)
            } else if main {
                (0, 24 * n)
            } else {
                (n * server.u(24), 24 * n)
            };
            (
                server.u(dict) + server.u(8 * b) + entries,
                dict + 8 * b + counted + robj,
            )
        }
        KeyspaceKind::Hashtable => {
            // `hashtableExpand` at RESIZEDB; the struct is 72 bytes plus 16 of kvstore
            // metadata (88 in MEMORY STATS of a one-bucket table).
            let size = n.max(hint);
            if size == 0 {
                return (0, 0);
            }
            let (b, children) = valkey_hashtable(size);
            let buckets = 64 * b + (64.0 * children).round() as u64;
            (server.u(88) + buckets, 88 + buckets + robj)
        }
    }
}

/// Slot tables of a cluster-mode kvstore (`CLUSTER_SLOT_MASK_BITS` 14).
const CLUSTER_SLOTS: u64 = 16384;

/// `sizeof(kvstore)` (`kvstore.c`): 96 on Valkey 8.1; 9.0 adds the `importing` set and its
/// key count (112).
fn kvstore_struct(line: ServerLine) -> u64 {
    if line == ServerLine::Valkey90 {
        112
    } else {
        96
    }
}

/// `kvstoreMemUsage` of a Valkey ≥ 8.1 kvstore before its tables count: the struct and,
/// with more than one table (cluster mode), the binary indexed tree
/// `hashtable_size_index` of `8 · (16384 + 1)` bytes.
fn kvstore_fixed_overhead(server: &LoadingServer) -> u64 {
    let index = if server.model.cluster {
        8 * (CLUSTER_SLOTS + 1)
    } else {
        0
    };
    kvstore_struct(server.line()) + index
}

/// Databases that exist before loading: Valkey 8.1 creates all of them (`databases`, 16 by
/// default; forced to 1 in cluster mode), Valkey 9.0 only db 0
/// (`createDatabaseIfNeeded(0)`; the others when first selected).
fn startup_databases(server: &LoadingServer) -> u64 {
    match server.line() {
        ServerLine::Valkey81 if !server.model.cluster => 16,
        _ => 1,
    }
}

/// Whether `used_memory_startup` is net of the overhead `getMemoryOverheadData` reports at
/// startup: Valkey 8.1.6+ and 9.0.2+ (valkey #3005, "Fix used_memory_dataset underflow").
/// The baseline table holds 8.1.7 and 9.0.4 values, which are.
fn startup_is_net(server: &LoadingServer) -> bool {
    if !matches!(server.line(), ServerLine::Valkey81 | ServerLine::Valkey90) {
        return false;
    }
    if server.startup.is_none() {
        return true;
    }
    match server.version {
        Some(v) if v.valkey => {
            (v.major, v.minor, v.patch) >= (9, 0, 2)
                || (v.major == 8 && v.minor == 1 && v.patch >= 6)
        }
        _ => true,
    }
}

/// What the server held at startup but left out of `used_memory_startup`, per loading
/// server. Valkey 8.1.6+ / 9.0.2+ `InitServerLast` stores `zmalloc_used_memory()` minus
/// `getMemoryOverheadData()->overhead_total` so that the overhead is not counted twice
/// later: the `kvstoreMemUsage` of the main and expires kvstores of every database that
/// exists then (in cluster mode each holds a 131 080-byte slot index), plus the eval and
/// function caches (a few hundred bytes, not modelled).
///
/// ```
/// use rdbscope_analysis::alloc::Allocator;
/// use rdbscope_analysis::model::{Model, ServerLine};
/// use rdbscope_analysis::used_memory::{startup_uncounted, LoadingServer};
/// let mut s = LoadingServer::new(Model::new(ServerLine::Valkey90, Allocator::Jemalloc));
/// assert_eq!(startup_uncounted(&s), 2 * 112);
/// s.model.cluster = true;
/// assert_eq!(startup_uncounted(&s), 2 * (112 + 8 * 16385));
/// s.model.line = ServerLine::Redis86;
/// assert_eq!(startup_uncounted(&s), 0);
/// ```
pub fn startup_uncounted(server: &LoadingServer) -> u64 {
    if !startup_is_net(server) {
        return 0;
    }
    startup_databases(server) * 2 * kvstore_fixed_overhead(server)
}

/// (bytes of the databases the load creates, `kvstoreMemUsage` of the kvstores' fixed
/// parts that `getMemoryOverheadData` adds for the databases that exist) for one file.
/// Valkey 9.0 `rdbLoad` creates each database it is told to select (`createDatabase`): a
/// `serverDb` (96), four `dict`s (56 each) and three kvstores of a struct (112), the
/// table pointer array, an empty `importing` hashtable (72), the rehashing list (48) and,
/// in cluster mode, the slot index.
fn database_structs(server: &LoadingServer, f: &FileState) -> (u64, u64) {
    let u = |n: u64| server.u(n);
    match server.line() {
        ServerLine::Valkey81 => (
            0,
            startup_databases(server) * 2 * kvstore_fixed_overhead(server),
        ),
        ServerLine::Valkey90 => {
            let others = f.dbs.keys().filter(|&&d| d != 0).count() as u64;
            let (tables, index) = if server.model.cluster {
                (CLUSTER_SLOTS, u(8 * (CLUSTER_SLOTS + 1)))
            } else {
                (1, 0)
            };
            let kvstore = u(112) + u(8 * tables) + u(72) + u(48) + index;
            let db = u(96) + 3 * kvstore + 4 * u(56);
            (
                others * db,
                (1 + others) * 2 * kvstore_fixed_overhead(server),
            )
        }
        _ => (0, 0),
    }
}

/// A Valkey 9.0 `keys_with_volatile_items` hashtable holding `n` keys (created on demand
/// and grown by `kvstoreHashtableAdd`): like a keyspace table, the 72-byte `hashtable`
/// with 16 bytes of kvstore metadata and the 64-byte buckets.
fn volatile_table(server: &LoadingServer, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    let (b, children) = valkey_hashtable(n);
    server.u(88) + 64 * b + (64.0 * children).round() as u64
}

/// `hashTypeHasVolatileFields` once the server runs: a Valkey 9 `HASH_2` value with a field
/// TTL that is not past `now_ms` (unknown: any field TTL). `rdbLoadObject` tracks every
/// field that has an expiry, but the active field expiry soon deletes the expired ones and
/// untracks a hash left without volatile fields (`hfe:expiredfield` in the corpus).
fn has_field_ttls(key: &KeyRecord<'_>, now_ms: Option<i64>, scratch: &mut Scratch) -> Result<bool> {
    if key.value.kind() != ValueKind::ValkeyHash2 {
        return Ok(false);
    }
    let mut any = false;
    key.value.for_each_element(scratch, |e| {
        if let Element::Field(_, _, Some(t)) = e {
            any |= now_ms.is_none_or(|now| t >= now);
        }
    })?;
    Ok(any)
}

/// `functionsCreateWithLibraryCtx` (`functions.c`): per library a `functionLibInfo` (32),
/// its name and code sds, its functions dict and the global libraries dict's entry; per
/// function (`register_function` calls in the code) a `functionInfo` (40), its name sds
/// (16 bytes assumed), the Lua engine's `luaFunctionCtx` and an entry in the library's and
/// in the global functions dict; plus the global dicts' bucket arrays. The compiled Lua
/// lives in the Lua allocator, outside `used_memory`.
fn functions_alloc(server: &LoadingServer, libs: &BTreeMap<Library, u64>) -> u64 {
    if libs.is_empty() {
        return 0;
    }
    let u = |n: u64| server.u(n);
    let sds = |len: u64| u(sds_hdr(len) + len + 1);
    let (mut total, mut count, mut functions) = (0, 0, 0);
    for (l, times) in libs {
        let lib = u(32) + sds(l.name) + sds(l.code) + u(56) + u(24);
        let lib = lib + u(8 * dict_buckets(l.functions));
        let per_fn = u(40) + sds(16) + u(8) + 2 * u(24);
        total += times * (lib + l.functions * per_fn);
        count += times;
        functions += times * l.functions;
    }
    total + u(8 * dict_buckets(count)) + u(8 * dict_buckets(functions))
}

/// `sdsReqType` header bytes (Redis ≤ 8.0 rule; the lengths here are short).
fn sds_hdr(len: u64) -> u64 {
    match len {
        0..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    }
}

/// (bytes of the session, the clients' part that INFO counts as `mem_clients_normal`):
/// per client its reply buffer (`createClient`), its query buffer (`readQueryFromClient`;
/// Redis ≥ 8.0 and Valkey ≥ 8.0 read into one reusable buffer per thread instead) and the
/// rest of the client; one latency histogram per command name (Redis ≥ 7.0, Valkey).
fn session_bytes(server: &LoadingServer) -> (u64, u64) {
    let s = server.session;
    let line = server.line();
    let shared_qb = match line {
        ServerLine::Redis62 | ServerLine::Redis70 | ServerLine::Redis72 | ServerLine::Valkey72 => {
            false
        }
        ServerLine::Redis74 => server
            .version
            .is_some_and(|v| v.major >= 8 || (v.major == 7 && v.minor >= 9)),
        _ => true,
    };
    let per_client = match line {
        // 6.2 embeds the reply buffer in `client` (usable 20480).
        ServerLine::Redis62 => 20480 + QUERY_BUFFER + CLIENT_REST,
        _ if shared_qb => REPLY_BUFFER + CLIENT_REST,
        _ => REPLY_BUFFER + QUERY_BUFFER + CLIENT_REST,
    };
    let clients = s.clients * per_client;
    let reusable = if shared_qb && s.clients > 0 {
        QUERY_BUFFER
    } else {
        0
    };
    let histograms = if line == ServerLine::Redis62 {
        0
    } else {
        s.commands * LATENCY_HISTOGRAM_BYTES
    };
    (clients + reusable + histograms, clients)
}

/// What a key allocates minus the model's `MEMORY USAGE` estimate for it (shared integers
/// are settled in [`UsedMemory::predict`]):
///
/// * Redis 7.2+ sets (`setDictType`: `no_value`, `keys_are_odd`): a member sits in its
///   bucket, only one whose bucket is taken gets a 16-byte `dictEntryNoValue`, yet
///   `objectComputeSize` charges `dictEntryMemUsage()` (24) per member;
/// * streams up to Redis 8.2 / Valkey 8.0: `streamRadixTreeMemoryUsage` guesses 16 bytes per
///   element and 244 per node; the real `raxNode` blocks, the group and consumer name
///   raxes, and Redis 8.2+'s `cgroups_ref` index replace it;
/// * Redis 8.2 zsets: 16 per element is charged (`dictEntryMemUsage(1)`) for a 24-byte
///   `dictEntry`;
/// * Redis 8.4+: `kvobjAllocSize` is a tracked logical size without allocator slack: the
///   allocation is the 8.2 layout's, plus 8 bytes of `zskiplist` / `quicklist`;
/// * Redis 6.2 and non-default allocators: blocks counted by their requested size or by
///   `sizeof` (`dictEntry` 24 is a 32-byte block with a 16-byte quantum).
///
/// # Errors
/// A value whose elements cannot be decoded.
pub fn allocation_adjust(
    server: &LoadingServer,
    key: &KeyRecord<'_>,
    est: &KeyEstimate,
    scratch: &mut Scratch,
) -> Result<i64> {
    let line = server.line();
    let data_type = key.value.data_type();
    // MEMORY USAGE charges a 24-byte dictEntry per element of a `no_value` dict, which
    // allocates only a 16-byte link per bucket collision.
    let no_value_entries = |n: u64| -> i64 {
        (16.0 * expected_collisions(n, dict_buckets(n))).round() as i64 - 24 * n as i64
    };
    let set_entries = |est: &KeyEstimate| -> i64 {
        if data_type == DataType::Set && est.encoding == Encoding::Hashtable {
            no_value_entries(est.elements)
        } else {
            0
        }
    };
    let zset_entries_82 = |est: &KeyEstimate| -> i64 {
        if data_type == DataType::Zset && est.encoding == Encoding::Skiplist {
            8 * est.elements as i64
        } else {
            0
        }
    };
    let mut adj = match line {
        ServerLine::Redis62 => slack_62(server, key, est)?,
        ServerLine::Redis70 | ServerLine::Valkey80 => struct_slack(server, key, est)?,
        // Streams are already counted by their tracked allocations there.
        ServerLine::Valkey80Dev if data_type == DataType::Stream => 0,
        ServerLine::Valkey80Dev => struct_slack(server, key, est)?,
        ServerLine::Redis72 | ServerLine::Redis74 | ServerLine::Valkey72 => {
            set_entries(est) + struct_slack(server, key, est)?
        }
        ServerLine::Redis82 => set_entries(est) + zset_entries_82(est),
        // 8.6 hashtable hashes and skiplists keep no dictEntry (no_value dicts holding the
        // entry block / node) although MEMORY USAGE charges 24 bytes per element; a bucket
        // collision allocates a 16-byte link.
        ServerLine::Redis86
            if matches!(data_type, DataType::Hash | DataType::Zset)
                && matches!(est.encoding, Encoding::Hashtable | Encoding::Skiplist) =>
        {
            no_value_entries(est.elements)
        }
        ServerLine::Redis84 | ServerLine::Redis86 => {
            let as82 = Model {
                line: ServerLine::Redis82,
                ..server.model
            };
            let e82 = as82.estimate(key, scratch)?;
            let grown = matches!(e82.encoding, Encoding::Skiplist | Encoding::Quicklist);
            e82.memory as i64 - est.memory as i64
                + set_entries(&e82)
                + zset_entries_82(&e82)
                + if grown { 8 } else { 0 }
        }
        ServerLine::Valkey81 | ServerLine::Valkey90 => 0,
    };
    if data_type == DataType::Stream
        && !matches!(
            line,
            ServerLine::Valkey81 | ServerLine::Valkey90 | ServerLine::Valkey80Dev
        )
    {
        if let Some(s) = key.value.stream()? {
            let (real, counted) = stream_sizes(server, &s)?;
            adj += real as i64 - counted as i64;
        }
    }
    Ok(adj)
}

/// Allocator slack of the structs `objectComputeSize` counts by `sizeof` (Redis ≤ 8.0,
/// Valkey ≤ 8.0): none with the bundled jemalloc (classes 16, 24, 40, 56 exist), but a
/// `dictEntry` is a 32-byte block with Debian's 16-byte-quantum jemalloc.
fn struct_slack(server: &LoadingServer, key: &KeyRecord<'_>, est: &KeyEstimate) -> Result<i64> {
    let a = server.model.allocator;
    if a == Allocator::Jemalloc {
        return Ok(0);
    }
    let s = |size: u64| a.usable(size) as i64 - size as i64;
    let n = est.elements as i64;
    let line = server.line();
    // The main dict entry (Valkey 8.0 embeds the key in it: counted by its usable size).
    let mut adj = if line == ServerLine::Valkey80 {
        0
    } else {
        s(24)
    };
    if est.encoding != Encoding::Embstr {
        adj += s(16);
    }
    match (key.value.data_type(), est.encoding) {
        (DataType::Set, Encoding::Hashtable) => {
            adj += s(56);
            if line == ServerLine::Redis70 {
                adj += n * s(24);
            }
        }
        (DataType::Hash, Encoding::Hashtable) | (DataType::Zset, Encoding::Skiplist) => {
            adj += s(56) + n * s(24);
        }
        (DataType::List, Encoding::Quicklist) => {
            let mut nodes = 0i64;
            key.value.for_each_node(|_| {
                nodes += 1;
                Ok(())
            })?;
            // `quicklist` and `quicklistNode` are 40 bytes each.
            adj += s(40) + nodes.max(1) * s(40);
        }
        _ => {}
    }
    Ok(adj)
}

/// Redis 6.2 counts some blocks by their requested size: an embstr as `16 + len + 2`,
/// ziplists and intsets by `ziplistBlobLen` / `intsetBlobLen`, quicklist nodes' ziplists.
fn slack_62(server: &LoadingServer, key: &KeyRecord<'_>, est: &KeyEstimate) -> Result<i64> {
    let klen = key.key.len();
    let key_part = server.u(sds_hdr(klen) + klen + 1) + 24;
    let slack = |n: u64| server.u(n) as i64 - n as i64;
    Ok(match est.encoding {
        Encoding::Embstr => {
            let len = key.value.as_string().map_or(0, |s| s.len());
            server.u(16 + 3 + len + 1) as i64 - (16 + len + 2) as i64
        }
        Encoding::Ziplist | Encoding::Intset => {
            slack(est.memory.saturating_sub(key_part).saturating_sub(16))
        }
        Encoding::Quicklist => {
            let mut adj = 0i64;
            key.value.for_each_node(|node| {
                adj += slack(node.data.len());
                Ok(())
            })?;
            adj
        }
        _ => 0,
    })
}

fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// (`stream`, `streamCG`, `streamConsumer`) as allocated on a line (`stream.h`). 6.2 has no
/// first/max-deleted IDs; 7.0's consumer has no active-time; Redis 8.2 adds `cgroups_ref`
/// and the minimum group ID (112), 8.4 `alloc_size` (120).
fn stream_structs(line: ServerLine) -> (u64, u64, u64) {
    match line {
        ServerLine::Redis62 => (40, 32, 24),
        ServerLine::Redis70 => (80, 40, 24),
        ServerLine::Redis82 => (112, 40, 32),
        ServerLine::Redis84 | ServerLine::Redis86 => (120, 40, 32),
        _ => (80, 40, 32),
    }
}

/// The same structs as the summed estimate counts them (Redis 8.4+ keys are summed with
/// their 8.2 estimate, see [`allocation_adjust`]).
fn stream_structs_counted(line: ServerLine) -> (u64, u64, u64) {
    match line {
        ServerLine::Redis62 => (40, 32, 24),
        ServerLine::Redis70 => (80, 40, 24),
        ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86 => (112, 40, 32),
        _ => (80, 40, 32),
    }
}

/// (allocated, counted by the summed estimate) for a stream's value without its object
/// (`streamNew`, `rdbLoadObject` STREAM_LISTPACKS*): the `stream` struct, the radix tree of
/// listpacks, the listpacks; with consumer groups the `cgroups` rax (by group name), per
/// group a `streamCG`, its PEL rax with a `streamNACK` per entry and its `consumers` rax
/// (by consumer name), per consumer a `streamConsumer`, its name sds and PEL rax. Redis
/// 8.2+ also index pending IDs in `s->cgroups_ref` (ID -> `list` of the groups holding it,
/// a `listNode` each) and give each `streamNACK` a pointer to its node (32 bytes).
fn stream_sizes(server: &LoadingServer, s: &Stream<'_>) -> Result<(u64, u64)> {
    let line = server.line();
    let u = |n: u64| server.u(n);
    let (stream_struct, cg_struct, consumer_struct) = stream_structs(line);
    let (stream_counted, cg_counted, consumer_counted) = stream_structs_counted(line);
    let refs = matches!(
        line,
        ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86
    );
    // `sizeof(rax)`: head, numele, numnodes (+ alloc_size from Redis 8.4).
    let rax_struct = if matches!(line, ServerLine::Redis84 | ServerLine::Redis86) {
        32
    } else {
        24
    };
    let nack = if refs { 32 } else { 24 };
    let rax_real = |keys: &[[u8; 16]]| u(rax_struct) + rax::alloc_size(keys, u);
    let rax_counted =
        |keys: &[[u8; 16]]| rax::stream_radix_memory(keys.len() as u64, rax::node_count(keys));
    // A rax keyed by `k` names of `bytes` in all: a branching root and, per name, a
    // compressed node holding it and a leaf (close to what `raxInsert` builds for a few
    // names without common prefixes).
    let names_rax = |k: u64, bytes: u64| {
        u(rax_struct) + u(4 + k + 8 * k) + k * (u(16) + u(4 + bytes / k.max(1) + 8))
    };
    let mut keys: Vec<[u8; 16]> = Vec::with_capacity(s.nodes.min(1 << 16) as usize);
    // Every line's estimate counts a stream listpack by its allocation, as allocated.
    let mut lp = 0u64;
    let mut buf = Vec::new();
    s.for_each_node(|n| {
        lp += u(n.listpack.len());
        let mut id = [0u8; 16];
        id.copy_from_slice(n.master_key.bytes(&mut buf)?.get(..16).unwrap_or(&[0; 16]));
        keys.push(id);
        Ok(())
    })?;
    keys.sort_unstable();
    let mut real = u(stream_struct) + rax_real(&keys) + lp;
    let mut counted = stream_counted + rax_counted(&keys) + lp;
    if s.groups == 0 {
        return Ok((real, counted));
    }
    let mut group_names = 0u64;
    let mut pending: Vec<[u8; 16]> = Vec::new();
    s.for_each_group(|g| {
        group_names += g.name.len();
        keys.clear();
        g.for_each_pending(|p| {
            keys.push(id_bytes(p.id));
            Ok(())
        })?;
        keys.sort_unstable();
        if refs {
            pending.extend_from_slice(&keys);
        }
        real += u(cg_struct) + rax_real(&keys) + g.pel * u(nack);
        // The estimate charges `sizeof(streamNACK)` (8.4+ keys are summed with their 8.2
        // estimate).
        counted += cg_counted + rax_counted(&keys) + nack * g.pel;
        let mut consumer_names = 0u64;
        g.for_each_consumer(|c| {
            keys.clear();
            c.for_each_pending_id(|id| {
                keys.push(id_bytes(id));
                Ok(())
            })?;
            keys.sort_unstable();
            let name = c.name.len();
            consumer_names += name;
            real += u(consumer_struct) + u(sds_hdr(name) + name + 1) + rax_real(&keys);
            counted += consumer_counted + name + rax_counted(&keys);
            Ok(())
        })?;
        real += names_rax(g.consumers, consumer_names);
        Ok(())
    })?;
    real += names_rax(s.groups, group_names);
    if refs {
        let references = pending.len() as u64;
        pending.sort_unstable();
        pending.dedup();
        real += rax_real(&pending) + pending.len() as u64 * u(48) + references * u(24);
    }
    Ok((real, counted))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rdbscope_parser::Records;
    use rdbscope_testwriter::{encode, ty, value, RdbWriter};

    #[test]
    fn loading_server_shares_integers_unless_lru_or_lfu_with_maxmemory() {
        let mut t = crate::model::Thresholds::default();
        let server = |t| {
            LoadingServer::new(Model {
                thresholds: t,
                ..Model::new(ServerLine::Redis72, crate::alloc::Allocator::Jemalloc)
            })
        };
        assert!(server(t).shared_integers);
        t.apply_conf("maxmemory-policy allkeys-lfu\n").unwrap();
        assert!(server(t).shared_integers, "no maxmemory: still shared");
        t.apply_conf("maxmemory 4gb\n").unwrap();
        assert_eq!(t.maxmemory, 4 << 30);
        assert!(!server(t).shared_integers);
        t.set("maxmemory-policy", "volatile-ttl").unwrap();
        assert!(server(t).shared_integers);
        for (text, bytes) in [
            ("100mb", 100 << 20),
            ("1k", 1000),
            ("2G", 2_000_000_000),
            ("0", 0),
        ] {
            t.set("maxmemory", text).unwrap();
            assert_eq!(t.maxmemory, bytes, "{text}");
        }
        assert!(t.set("maxmemory", "-5").is_err());
    }

    fn server(line: ServerLine) -> LoadingServer {
        LoadingServer::new(Model::new(line, Allocator::Jemalloc))
    }

    /// Runs a whole file through one accumulator.
    fn run(file: &[u8], server: &LoadingServer) -> UsedMemory {
        let mut acc = UsedMemory::for_file(0);
        let mut scratch = Scratch::new();
        for rec in Records::new(file).unwrap() {
            let rec = rec.unwrap();
            acc.observe(&rec);
            if let Record::Key(k) = &rec {
                let est = server.model.estimate(k, &mut scratch).unwrap();
                acc.add_key(server, k, &est, &mut scratch).unwrap();
            }
        }
        acc
    }

    #[test]
    fn key_slot_matches_cluster_spec_examples() {
        // CRC16/XMODEM check value of "123456789" is 0x31C3.
        assert_eq!(key_slot(b"123456789"), 0x31c3);
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        // An empty tag hashes the whole key.
        assert_ne!(key_slot(b"{}user1000"), key_slot(b"user1000"));
    }

    #[test]
    fn dict_line_resizedb_sizes_both_tables() {
        let file = RdbWriter::redis(11)
            .select_db(0)
            .resize_db(5, 0)
            .key(ty::STRING, "a", &encode::string("1"))
            .finish();
        let b = run(&file, &server(ServerLine::Redis72)).predict(&server(ServerLine::Redis72));
        // next_pow2(5) = 8 buckets; the expires dict is expanded to 4 for a 0 hint.
        assert_eq!((b.keyspace_main, b.keyspace_expires), (64, 32));
    }

    #[test]
    fn kvstore_line_resizedb_hint_is_ignored() {
        let file = RdbWriter::redis(12)
            .select_db(0)
            .resize_db(100, 50)
            .key(ty::STRING, "a", &encode::string("1"))
            .finish();
        let s = server(ServerLine::Redis74);
        let b = run(&file, &s).predict(&s);
        // One key: a 64-byte dict created on demand with 4 buckets; no expires dict.
        assert_eq!((b.keyspace_main, b.keyspace_expires), (64 + 32, 0));
    }

    /// Hostile `RESIZEDB` / `SLOT_INFO` hints (2^62, 2^63, repeated) once overflowed the
    /// bucket arithmetic (a panic with overflow checks; found by the CLI hostile suite).
    #[test]
    fn table_hint_absurd_is_capped_not_overflowed() {
        for line in [
            ServerLine::Redis70,
            ServerLine::Redis74,
            ServerLine::Valkey80,
            ServerLine::Valkey90,
        ] {
            let file = RdbWriter::redis(12)
                .select_db(0)
                .resize_db(1 << 62, 1 << 63)
                .resize_db(u64::MAX, u64::MAX)
                .slot_info(0, u64::MAX, 1 << 63)
                .key(ty::STRING, "a", &encode::string("1"))
                .finish();
            let s = server(line);
            let b = run(&file, &s).predict(&s);
            let capped = 8 * MAX_TABLE_HINT;
            assert!(
                b.keyspace_main < 4 * capped,
                "{line:?}: {}",
                b.keyspace_main
            );
        }
    }

    /// A Valkey 9 `HASH_2` value: one field per TTL (`None`: no expiry, written as -1).
    fn hash2(ttls: &[Option<i64>]) -> Vec<u8> {
        let mut v = encode::len(ttls.len() as u64);
        for (i, t) in ttls.iter().enumerate() {
            v.extend(encode::string(format!("f{i}")));
            v.extend(encode::string("v"));
            v.extend(t.unwrap_or(-1).to_le_bytes());
        }
        v
    }

    #[test]
    fn valkey90_cluster_counts_hidden_startup_and_volatile_slot_tables() {
        let file = RdbWriter::valkey(80)
            .select_db(0)
            .resize_db(3, 0)
            .key(ty::VALKEY_HASH_2, "{a}h", &hash2(&[Some(2_000), None]))
            .key(ty::VALKEY_HASH_2, "{b}h", &hash2(&[Some(500)]))
            .key(ty::VALKEY_HASH_2, "{c}h", &hash2(&[None]))
            .finish();
        let mut s = server(ServerLine::Valkey90);
        s.model.cluster = true;
        s.model.now_ms = Some(1_000);
        let b = run(&file, &s).predict(&s);
        // Main and expires kvstores of db 0: struct 112 + slot index 8 * 16385 each.
        assert_eq!(b.startup_uncounted, 2 * (112 + 131_080));
        // Only "{a}h" keeps a live field TTL: one slot table of 96 + one 64-byte bucket.
        assert_eq!((b.keyspace_volatile, b.databases), (96 + 64, 0));
        let sum = b.startup
            + b.startup_uncounted
            + b.keyspace_main
            + b.keyspace_expires
            + b.keyspace_volatile
            + b.functions
            + b.session;
        assert_eq!(
            b.used_memory as i64,
            sum as i64 + b.dataset as i64 + b.dataset_adjust
        );
        // An older measured startup (9.0.1) already holds that overhead.
        s.startup = Some(b.startup);
        s.version = ServerVersion::from_aux(None, Some("9.0.1"));
        assert_eq!(run(&file, &s).predict(&s).startup_uncounted, 0);
    }

    #[test]
    fn valkey90_creates_selected_databases_at_load() {
        let file = RdbWriter::valkey(80)
            .select_db(0)
            .resize_db(1, 0)
            .key(ty::STRING, "a", &encode::string("1"))
            .select_db(5)
            .resize_db(1, 0)
            .key(ty::STRING, "b", &encode::string("1"))
            .finish();
        let s = server(ServerLine::Valkey90);
        let b = run(&file, &s).predict(&s);
        // db 5: serverDb 96, four dicts, three kvstores (112 + 8 + 80 + 48).
        assert_eq!(b.databases, 96 + 4 * 56 + 3 * 248);
        assert_eq!(b.startup_uncounted, 2 * 112);
        // Valkey 8.1 creates all 16 databases at startup, none at load.
        let s = server(ServerLine::Valkey81);
        let b = run(&file, &s).predict(&s);
        assert_eq!((b.databases, b.startup_uncounted), (0, 16 * 2 * 96));
    }

    #[test]
    fn shared_integers_have_no_object() {
        let file = RdbWriter::redis(11)
            .select_db(0)
            .key(ty::STRING, "n", &encode::string("42"))
            .key(ty::STRING, "m", &encode::string("12345"))
            .finish();
        let mut s = server(ServerLine::Redis72);
        let shared = run(&file, &s).predict(&s);
        s.shared_integers = false;
        let own = run(&file, &s).predict(&s);
        assert_eq!(own.dataset_adjust - shared.dataset_adjust, 16);
    }

    #[test]
    fn set_members_in_buckets_are_not_entries() {
        let members: Vec<String> = (0..200).map(|i| format!("member:{i}")).collect();
        let file = RdbWriter::redis(11)
            .select_db(0)
            .key(
                ty::SET,
                "s",
                &value::set(members.iter().map(String::as_str)),
            )
            .finish();
        let s = server(ServerLine::Redis72);
        let b = run(&file, &s).predict(&s);
        // 200 members in 256 buckets: 24 each charged, 16 only per expected collision.
        let coll = expected_collisions(200, 256);
        assert_eq!(b.dataset_adjust, (16.0 * coll).round() as i64 - 24 * 200);
    }

    #[test]
    fn functions_count_libraries_and_registrations() {
        let code = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)\n";
        let file = RdbWriter::redis(11).function2(code).finish();
        let s = server(ServerLine::Redis72);
        let acc = run(&file, &s);
        let lib = acc.totals.files[&0]
            .libraries
            .keys()
            .next()
            .copied()
            .unwrap();
        assert_eq!((lib.name, lib.functions), (5, 1));
        assert!(acc.predict(&s).functions > code.len() as u64);
    }

    #[test]
    fn session_histograms_and_buffers_by_line() {
        let mut s = server(ServerLine::Redis72);
        s.session = Session {
            clients: 2,
            commands: 3,
        };
        let (bytes, clients) = session_bytes(&s);
        assert_eq!(clients, 2 * (REPLY_BUFFER + QUERY_BUFFER + CLIENT_REST));
        assert_eq!(bytes, clients + 3 * LATENCY_HISTOGRAM_BYTES);
        // Valkey 8.0 reads into one reusable query buffer.
        s.model.line = ServerLine::Valkey80;
        let (bytes, clients) = session_bytes(&s);
        assert_eq!(bytes, clients + QUERY_BUFFER + 3 * LATENCY_HISTOGRAM_BYTES);
        // 6.2 has no latency histograms.
        s.model.line = ServerLine::Redis62;
        assert_eq!(session_bytes(&s).0, session_bytes(&s).1);
    }

    #[test]
    fn predict_counts_startup_and_session_per_file() {
        let s = server(ServerLine::Redis72);
        let one = UsedMemory::for_file(0);
        let mut two = UsedMemory::for_file(1);
        two.add_resize_hint(0, 1, 0);
        let mut both = one.clone();
        both.add_resize_hint(0, 1, 0);
        both.merge(&two);
        let b = both.predict(&s);
        assert_eq!(
            b.startup,
            2 * startup_baseline(ServerLine::Redis72, None, false)
        );
        assert_eq!(b.session, 2 * session_bytes(&s).0);
    }

    fn arb_acc() -> impl Strategy<Value = UsedMemory> {
        let table = (0u64..50, 0u64..50, 0u64..60, 0u64..60, any::<bool>()).prop_map(
            |(keys, expires, hint_keys, hint_expires, hinted)| TableCount {
                keys,
                expires,
                volatile: expires / 2,
                hint_keys,
                hint_expires,
                hinted,
            },
        );
        let lib = (1u64..500, 1u64..20, 0u64..5).prop_map(|(code, name, functions)| Library {
            code,
            name,
            functions,
        });
        let file = (
            prop::collection::btree_map(0u64..4, table.clone(), 0..3),
            prop::collection::btree_map(0u16..16384, table.clone(), 0..3),
            prop::collection::btree_map(lib, 1u64..3, 0..2),
        )
            .prop_map(|(dbs, slots, libraries)| FileState {
                dbs,
                slots,
                libraries,
            });
        // A pending key count (`hot`) of the accumulator's own file, as `add_key` leaves.
        let hot = prop::option::of((0u64..4, table).prop_map(|(db, t)| {
            (
                db,
                TableCount {
                    hint_keys: 0,
                    hint_expires: 0,
                    hinted: false,
                    ..t
                },
            )
        }));
        (
            prop::collection::btree_map(0u32..3, file, 0..3),
            0u64..1_000_000,
            -100_000i64..100_000,
            0u64..100,
            hot,
            0u32..3,
        )
            .prop_map(|(files, dataset, adjust, shared_int_values, hot, file)| {
                UsedMemory {
                    file,
                    current_db: 0,
                    totals: Totals {
                        files,
                        dataset,
                        adjust,
                        shared_int_values,
                    },
                    hot,
                }
            })
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_acc(), b in arb_acc()) {
            let mut ab = a.clone();
            ab.merge(&b);
            let mut ba = b.clone();
            ba.merge(&a);
            prop_assert_eq!(&ab.totals, &ba.totals);
            let s = server(ServerLine::Redis82);
            prop_assert_eq!(ab.predict(&s), ba.predict(&s));
        }

        #[test]
        fn merge_is_associative(a in arb_acc(), b in arb_acc(), c in arb_acc()) {
            let mut ab_c = a.clone();
            ab_c.merge(&b);
            ab_c.merge(&c);
            let mut bc = b.clone();
            bc.merge(&c);
            let mut a_bc = a.clone();
            a_bc.merge(&bc);
            prop_assert_eq!(&ab_c.totals, &a_bc.totals);
        }
    }
}
