//! The keyspace's tables (dicts, kvstores, Valkey hashtables), the databases and the
//! startup baseline, and the small integers a server shares.

use super::*;

/// `createSharedObjects` makes integers 0..9999 once; Redis ≥ 8.2 and Valkey ≥ 8.1 give
/// every key its own object (`kvobjSet`, `objectSetKeyAndExpire`).
pub(super) fn shares_integers(line: ServerLine) -> bool {
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
pub(super) fn is_small_int(key: &KeyRecord<'_>, est: &KeyEstimate) -> bool {
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
pub(super) fn dict_buckets(n: u64) -> u64 {
    next_pow2(n).max(4)
}

/// `sizeof(dict)` (56) plus the `kvstoreDictMetadata` of a dict a kvstore creates on
/// demand (`createDictIfNeeded`): the rehashing list node (8; Valkey 8.0 also the kvstore
/// pointer), and from Redis 8.0 GA on, in the main keyspace, the KEYSIZES histogram
/// (2400). Read off MEMORY STATS of single-key databases: 8.0.5 2464, 8.4.0 2472,
/// 8.6-dev 2496.
pub(super) fn kvstore_dict(server: &LoadingServer, main: bool) -> u64 {
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
pub(super) const MAX_TABLE_HINT: u64 = 1 << 40;

/// One keyspace table (main or expires) of a database or slot with `n` keys: (bytes
/// allocated, bytes `getMemoryOverheadData` counts for it). Main dict entries of the dict
/// lines are inside `MEMORY USAGE` and not repeated here.
pub(super) fn table(
    server: &LoadingServer,
    main: bool,
    n: u64,
    hint: u64,
    hinted: bool,
) -> (u64, u64) {
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
pub(super) const CLUSTER_SLOTS: u64 = 16384;

/// `sizeof(kvstore)` (`kvstore.c`): 96 on Valkey 8.1; 9.0 adds the `importing` set and its
/// key count (112).
pub(super) fn kvstore_struct(line: ServerLine) -> u64 {
    if line == ServerLine::Valkey90 {
        112
    } else {
        96
    }
}

/// `kvstoreMemUsage` of a Valkey ≥ 8.1 kvstore before its tables count: the struct and,
/// with more than one table (cluster mode), the binary indexed tree
/// `hashtable_size_index` of `8 · (16384 + 1)` bytes.
pub(super) fn kvstore_fixed_overhead(server: &LoadingServer) -> u64 {
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
pub(super) fn startup_databases(server: &LoadingServer) -> u64 {
    match server.line() {
        ServerLine::Valkey81 if !server.model.cluster => 16,
        _ => 1,
    }
}

/// Whether `used_memory_startup` is net of the overhead `getMemoryOverheadData` reports at
/// startup: Valkey 8.1.6+ and 9.0.2+ (valkey #3005, "Fix used_memory_dataset underflow").
/// The baseline table holds 8.1.7 and 9.0.4 values, which are.
pub(super) fn startup_is_net(server: &LoadingServer) -> bool {
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
pub(super) fn database_structs(server: &LoadingServer, f: &FileState) -> (u64, u64) {
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
pub(super) fn volatile_table(server: &LoadingServer, n: u64) -> u64 {
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
pub(super) fn has_field_ttls(
    key: &KeyRecord<'_>,
    now_ms: Option<i64>,
    scratch: &mut Scratch,
) -> Result<bool> {
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
pub(super) fn functions_alloc(server: &LoadingServer, libs: &BTreeMap<Library, u64>) -> u64 {
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
