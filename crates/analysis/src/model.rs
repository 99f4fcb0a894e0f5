//! The memory model: what `MEMORY USAGE key SAMPLES 0` reports on the server line that
//! loads a dump, computed from the record's encodings and sizes.
//!
//! Implemented so far: the dict-based lines (Redis 7.0, 7.2, 7.4, 8.0 and Valkey 7.2), which
//! share `objectComputeSize` up to the differences noted per term. Each term names the
//! server function it reproduces (`object.c` unless said otherwise).

use crate::alloc::Allocator;
use rdbscope_parser::{
    blob::Scalar, Blob, BlobKind, Element, KeyRecord, NodeContainer, QuicklistNode, RdbStr, Result,
    Scratch, StrEncoding, ValueKind,
};

/// A server release line whose memory accounting the model reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerLine {
    /// Redis 6.2: ziplists in memory, raw blob lengths in `MEMORY USAGE`.
    Redis62,
    /// Redis 7.0.
    Redis70,
    /// Redis 7.2.
    Redis72,
    /// Redis 7.4 and 8.0 (same accounting).
    Redis74,
    /// Valkey 7.2 (accounting identical to Redis 7.2).
    Valkey72,
    /// Valkey 8.0: keys embedded in the main dict entry, sets without per-member entries
    /// for bucket-resident members, the newer sds header rule.
    Valkey80,
    /// Valkey's development branch between 8.0 and 8.1 (reports 255.255.255, writes RDB
    /// 11): the 8.0 accounting with 8.1's tracked stream sizes.
    Valkey80Dev,
    /// Redis 8.2 (from 8.2.2, #14288): key and value in one `kvobj` allocation, counted
    /// with `zmalloc_size`; short strings embedded in it.
    Redis82,
    /// Redis 8.4 (#14363): O(1) tracked logical sizes (streams' tracked `alloc_size` is not
    /// modelled yet): the kvobj header and listpacks,
    /// intsets and quicklist nodes without allocator slack, `type5` sds without slack.
    Redis84,
    /// Redis 8.6: the 8.4 tracked sizes with the kvobj header counted by `zmalloc_size`,
    /// hash fields and values in one entry block (#14595), members embedded in skiplist
    /// nodes (#14701), the IDMP stream fields.
    Redis86,
    /// Valkey 8.1: the object layout of Redis 8.2 (key embedded in the object), the
    /// open-addressing `hashtable` for sets, hashes and zset indexes, tracked rax sizes.
    Valkey81,
    /// Valkey 9.0: as 8.1 with the object's allocation counted, hashes with field TTLs
    /// always hashtables with a volatile-field index (`vset`, approximate past 127 fields).
    Valkey90,
}

impl ServerLine {
    /// Every line the model implements, oldest first.
    pub const ALL: [ServerLine; 12] = [
        ServerLine::Redis62,
        ServerLine::Redis70,
        ServerLine::Redis72,
        ServerLine::Redis74,
        ServerLine::Valkey72,
        ServerLine::Valkey80,
        ServerLine::Valkey80Dev,
        ServerLine::Redis82,
        ServerLine::Redis84,
        ServerLine::Redis86,
        ServerLine::Valkey81,
        ServerLine::Valkey90,
    ];

    /// Picks the line from the `redis-ver` / `valkey-ver` AUX fields (development builds,
    /// which report 255.255.255, are not recognised: see [`ServerLine::detect`]).
    pub fn from_versions(redis_ver: Option<&str>, valkey_ver: Option<&str>) -> Option<ServerLine> {
        Self::detect(redis_ver, valkey_ver, None)
    }

    /// Picks the line from the `redis-ver` / `valkey-ver` AUX fields and the file's RDB
    /// version. Development builds report 255.255.255; they are placed by the RDB version
    /// they write: Redis writing RDB 13 is the 8.6 line, Valkey writing `VALKEY080`+ the 9.0
    /// line, Valkey writing RDB 11 the 8.0 line (the 2024 development branch, whose
    /// streams already use 8.1's exact rax sizes and are approximate here).
    pub fn detect(
        redis_ver: Option<&str>,
        valkey_ver: Option<&str>,
        rdb_version: Option<u32>,
    ) -> Option<ServerLine> {
        let parse = |v: &str| -> Option<(u32, u32)> {
            let mut it = v.split('.');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        };
        if let Some(v) = valkey_ver {
            return match parse(v)? {
                (7, _) => Some(ServerLine::Valkey72),
                (8, 0) => Some(ServerLine::Valkey80),
                (8, 1) => Some(ServerLine::Valkey81),
                (9, _) => Some(ServerLine::Valkey90),
                (255, 255) => match rdb_version? {
                    80.. => Some(ServerLine::Valkey90),
                    11 => Some(ServerLine::Valkey80Dev),
                    _ => None,
                },
                _ => None,
            };
        }
        match parse(redis_ver?)? {
            (6, 2) => Some(ServerLine::Redis62),
            (7, 0) => Some(ServerLine::Redis70),
            (7, 2) => Some(ServerLine::Redis72),
            // 7.9.x are the 8.0 milestones.
            (7, 4) | (7, 9) | (8, 0) => Some(ServerLine::Redis74),
            (8, 2) => Some(ServerLine::Redis82),
            (8, 4) => Some(ServerLine::Redis84),
            (8, 6) => Some(ServerLine::Redis86),
            (255, 255) if rdb_version? == 13 => Some(ServerLine::Redis86),
            _ => None,
        }
    }

    /// The `--model` name of the line.
    pub fn name(self) -> &'static str {
        match self {
            ServerLine::Redis62 => "redis-6.2",
            ServerLine::Redis70 => "redis-7.0",
            ServerLine::Redis72 => "redis-7.2",
            ServerLine::Redis74 => "redis-7.4",
            ServerLine::Valkey72 => "valkey-7.2",
            ServerLine::Valkey80 => "valkey-8.0",
            ServerLine::Valkey80Dev => "valkey-8.0-dev",
            ServerLine::Redis82 => "redis-8.2",
            ServerLine::Redis84 => "redis-8.4",
            ServerLine::Redis86 => "redis-8.6",
            ServerLine::Valkey81 => "valkey-8.1",
            ServerLine::Valkey90 => "valkey-9.0",
        }
    }

    /// Parses a `--model` name (`redis-8.0` is an alias of `redis-7.4`).
    pub fn parse(name: &str) -> Option<ServerLine> {
        Some(match name {
            "redis-6.2" => ServerLine::Redis62,
            "redis-7.0" => ServerLine::Redis70,
            "redis-7.2" => ServerLine::Redis72,
            "redis-7.4" | "redis-8.0" => ServerLine::Redis74,
            "valkey-7.2" => ServerLine::Valkey72,
            "valkey-8.0" => ServerLine::Valkey80,
            "valkey-8.0-dev" => ServerLine::Valkey80Dev,
            "redis-8.2" => ServerLine::Redis82,
            "redis-8.4" => ServerLine::Redis84,
            "redis-8.6" => ServerLine::Redis86,
            "valkey-8.1" => ServerLine::Valkey81,
            "valkey-9.0" => ServerLine::Valkey90,
            _ => return None,
        })
    }

    fn has_list_listpack(self) -> bool {
        !matches!(self, ServerLine::Redis62 | ServerLine::Redis70)
    }

    fn has_set_listpack(self) -> bool {
        !matches!(self, ServerLine::Redis62 | ServerLine::Redis70)
    }
}

/// Settings of the loading server the model depends on (`redis.conf` names): the encoding
/// thresholds, `list-compress-depth`, and for `used_memory` `maxmemory`,
/// `maxmemory-policy` and `cluster-enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `hash-max-listpack-entries`.
    pub hash_entries: u64,
    /// `hash-max-listpack-value`.
    pub hash_value: u64,
    /// `set-max-intset-entries`.
    pub set_intset_entries: u64,
    /// `set-max-listpack-entries`.
    pub set_entries: u64,
    /// `set-max-listpack-value`.
    pub set_value: u64,
    /// `zset-max-listpack-entries`.
    pub zset_entries: u64,
    /// `zset-max-listpack-value`.
    pub zset_value: u64,
    /// `list-max-listpack-size`.
    pub list_size: i64,
    /// `list-compress-depth`: quicklist nodes this far from either end stay plain, the
    /// ones between are LZF-compressed.
    pub list_compress_depth: u64,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: EvictionPolicy,
    /// `cluster-enabled`.
    pub cluster_enabled: bool,
}

/// `maxmemory-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// `noeviction` (the default).
    #[default]
    NoEviction,
    /// `allkeys-lru`.
    AllkeysLru,
    /// `volatile-lru`.
    VolatileLru,
    /// `allkeys-lfu`.
    AllkeysLfu,
    /// `volatile-lfu`.
    VolatileLfu,
    /// `allkeys-random`.
    AllkeysRandom,
    /// `volatile-random`.
    VolatileRandom,
    /// `volatile-ttl`.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Parses a `maxmemory-policy` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "noeviction" => EvictionPolicy::NoEviction,
            "allkeys-lru" => EvictionPolicy::AllkeysLru,
            "volatile-lru" => EvictionPolicy::VolatileLru,
            "allkeys-lfu" => EvictionPolicy::AllkeysLfu,
            "volatile-lfu" => EvictionPolicy::VolatileLfu,
            "allkeys-random" => EvictionPolicy::AllkeysRandom,
            "volatile-random" => EvictionPolicy::VolatileRandom,
            "volatile-ttl" => EvictionPolicy::VolatileTtl,
            _ => return None,
        })
    }

    /// The policy's `redis.conf` name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllkeysLfu => "allkeys-lfu",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// An LRU or LFU policy: objects need their own access clock.
    pub fn is_lru_or_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllkeysLru
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::AllkeysLfu
                | EvictionPolicy::VolatileLfu
        )
    }
}

/// `memtoull` (`util.c`): a byte count with an optional unit, `k`/`m`/`g` = 1000^n and
/// `kb`/`mb`/`gb` = 1024^n, case-insensitive.
fn parse_memory(value: &str) -> Option<u64> {
    let v = value.trim().to_ascii_lowercase();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = v.split_at(digits);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

impl Thresholds {
    /// Applies one `redis.conf` setting (both the `listpack` and the older `ziplist` names).
    /// Returns `Ok(false)` for settings the model does not use.
    ///
    /// # Errors
    /// A value that is not a number.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<bool, String> {
        let name = name.to_ascii_lowercase().replace("ziplist", "listpack");
        let num = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("{name}: expected a number, got {value:?}"))
        };
        let unsigned = || num().map(|v| v.max(0) as u64);
        match name.as_str() {
            "hash-max-listpack-entries" => self.hash_entries = unsigned()?,
            "hash-max-listpack-value" => self.hash_value = unsigned()?,
            "set-max-intset-entries" => self.set_intset_entries = unsigned()?,
            "set-max-listpack-entries" => self.set_entries = unsigned()?,
            "set-max-listpack-value" => self.set_value = unsigned()?,
            "zset-max-listpack-entries" => self.zset_entries = unsigned()?,
            "zset-max-listpack-value" => self.zset_value = unsigned()?,
            "list-max-listpack-size" => self.list_size = num()?,
            "list-compress-depth" => self.list_compress_depth = unsigned()?,
            "maxmemory" => {
                self.maxmemory = parse_memory(value)
                    .ok_or_else(|| format!("{name}: expected a byte count, got {value:?}"))?;
            }
            "maxmemory-policy" => {
                self.maxmemory_policy = EvictionPolicy::parse(value)
                    .ok_or_else(|| format!("{name}: unknown policy {value:?}"))?;
            }
            "cluster-enabled" => {
                self.cluster_enabled = match value.trim().to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("{name}: expected yes or no, got {value:?}")),
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Every setting with its value, as a config file writes them.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("hash-max-listpack-entries", self.hash_entries.to_string()),
            ("hash-max-listpack-value", self.hash_value.to_string()),
            (
                "set-max-intset-entries",
                self.set_intset_entries.to_string(),
            ),
            ("set-max-listpack-entries", self.set_entries.to_string()),
            ("set-max-listpack-value", self.set_value.to_string()),
            ("zset-max-listpack-entries", self.zset_entries.to_string()),
            ("zset-max-listpack-value", self.zset_value.to_string()),
            ("list-max-listpack-size", self.list_size.to_string()),
            ("list-compress-depth", self.list_compress_depth.to_string()),
            ("maxmemory", self.maxmemory.to_string()),
            (
                "maxmemory-policy",
                self.maxmemory_policy.as_str().to_string(),
            ),
            (
                "cluster-enabled",
                if self.cluster_enabled { "yes" } else { "no" }.to_string(),
            ),
        ]
    }

    /// Applies the settings of a `redis.conf` / `valkey.conf` text (`name value` lines).
    ///
    /// # Errors
    /// A known setting with a bad value, with its line number.
    pub fn apply_conf(&mut self, text: &str) -> std::result::Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.splitn(2, char::is_whitespace);
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                self.set(k, v.trim().trim_matches('"'))
                    .map_err(|e| format!("line {}: {e}", i + 1))?;
            }
        }
        Ok(())
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            set_entries: 128,
            set_value: 64,
            zset_entries: 128,
            zset_value: 64,
            list_size: -2,
            list_compress_depth: 0,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            cluster_enabled: false,
        }
    }
}

/// Everything the estimate depends on besides the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Model {
    /// Server line.
    pub line: ServerLine,
    /// Allocator of the loading server.
    pub allocator: Allocator,
    /// Encoding thresholds of the loading server.
    pub thresholds: Thresholds,
    /// Cluster mode (adds per-key dict metadata on 7.0 and 7.2).
    pub cluster: bool,
    /// The loading server's clock in Unix ms, as far as it is known (the snapshot time):
    /// hash fields whose TTL is before it are dropped after load by the field expiry.
    pub now_ms: Option<i64>,
}

/// [`Value::for_each_len`] of a hash: each field's length with its value's.
fn for_each_len_pair(v: &rdbscope_parser::Value<'_>, mut f: impl FnMut(u64, u64)) -> Result<bool> {
    let mut field = None;
    v.for_each_len(|len| match field.take() {
        None => field = Some(len),
        Some(x) => f(x, len),
    })
}

/// Lengths an [`SdsTable`] holds.
const SDS_TABLE_LEN: usize = 256;

/// Elements a collection needs before its sizes are looked up in an [`SdsTable`].
const SDS_TABLE_MIN: u64 = 1024;

/// sds sizes of the lengths below [`SDS_TABLE_LEN`] on one model (see `Model::sds_table`).
struct SdsTable {
    alloc: [u64; SDS_TABLE_LEN],
    plain: [u64; SDS_TABLE_LEN],
}

/// The in-memory encoding after load, as `OBJECT ENCODING` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Encoding {
    /// `int`.
    Int,
    /// `embstr`.
    Embstr,
    /// `raw`.
    Raw,
    /// `listpack`.
    Listpack,
    /// `ziplist` (Redis ≤ 6.2).
    Ziplist,
    /// `listpackex` (hash with field TTLs).
    ListpackEx,
    /// `intset`.
    Intset,
    /// `quicklist`.
    Quicklist,
    /// `hashtable`.
    Hashtable,
    /// `skiplist`.
    Skiplist,
    /// `stream`.
    Stream,
    /// A module value (`raw` in OBJECT ENCODING).
    Module,
}

impl Encoding {
    /// Every encoding, in declaration (and `Ord`) order.
    pub const ALL: [Encoding; 12] = [
        Encoding::Int,
        Encoding::Embstr,
        Encoding::Raw,
        Encoding::Listpack,
        Encoding::Ziplist,
        Encoding::ListpackEx,
        Encoding::Intset,
        Encoding::Quicklist,
        Encoding::Hashtable,
        Encoding::Skiplist,
        Encoding::Stream,
        Encoding::Module,
    ];

    /// The `OBJECT ENCODING` reply.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Int => "int",
            Encoding::Embstr => "embstr",
            Encoding::Raw | Encoding::Module => "raw",
            Encoding::Listpack => "listpack",
            Encoding::Ziplist => "ziplist",
            Encoding::ListpackEx => "listpackex",
            Encoding::Intset => "intset",
            Encoding::Quicklist => "quicklist",
            Encoding::Hashtable => "hashtable",
            Encoding::Skiplist => "skiplist",
            Encoding::Stream => "stream",
        }
    }
}

/// The model's answer for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEstimate {
    /// Predicted `MEMORY USAGE key SAMPLES 0`.
    pub memory: u64,
    /// Predicted `OBJECT ENCODING`.
    pub encoding: Encoding,
    /// Elements (1 for strings).
    pub elements: u64,
    /// Length of the largest element (strings: the length); 0 from
    /// [`Model::estimate_memory`] for blobs kept as they are.
    pub largest_element: u64,
}

/// Header size of an sds string of length `len` (`sdsReqType` of Redis ≥ 8.2 and Valkey
/// ≥ 8.0, which keeps the header plus terminator within the type's range).
fn sds_hdr_new(len: u64) -> u64 {
    match len {
        0 => 3,
        1..=31 => 1,
        32..=252 => 3,
        253..=65530 => 5,
        65531..=0xFFFF_FFF5 => 9,
        _ => 17,
    }
}

/// Header size of an sds string of length `len` (`sdsReqType`, Redis ≤ 8.0).
fn sds_hdr(len: u64) -> u64 {
    match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        65536..=0xFFFF_FFFF => 9,
        _ => 17,
    }
}

pub(crate) fn next_pow2(n: u64) -> u64 {
    n.max(1).next_power_of_two()
}

/// Expected keys that find their bucket taken when `n` keys land in `b` buckets,
/// `n - b·(1 - (1 - 1/b)^n)`: where a key lands depends on the process's hash seed.
pub(crate) fn expected_collisions(n: u64, b: u64) -> f64 {
    if n == 0 || b == 0 {
        return 0.0;
    }
    let b = b as f64;
    n as f64 - b * (1.0 - (1.0 - 1.0 / b).powf(n as f64))
}

/// Valkey ≥ 8.1 `hashtable.c`: buckets for `n` entries (`hashtableTryExpand`: 7 slots per
/// 64-byte bucket, at most 5/32 buckets per entry, a power of two) and the expected child
/// buckets of overfull buckets (Binomial tail; a chained bucket keeps 6 entries).
pub(crate) fn valkey_hashtable(n: u64) -> (u64, f64) {
    if n == 0 {
        return (0, 0.0);
    }
    valkey_hashtable_with(n, next_pow2(n.saturating_mul(5).div_ceil(32)))
}

/// [`valkey_hashtable`] for `n` entries in a table of `buckets` buckets.
fn valkey_hashtable_with(n: u64, buckets: u64) -> (u64, f64) {
    if n == 0 {
        return (buckets, 0.0);
    }
    if buckets <= 1 {
        return (1, n.saturating_sub(7).div_ceil(6) as f64);
    }
    let p = 1.0 / buckets as f64;
    let tail = |k: u64| -> f64 {
        if k > n {
            return 0.0;
        }
        let mut pmf = (1.0 - p).powf(n as f64);
        let mut cdf = 0.0;
        for i in 0..k {
            cdf += pmf;
            pmf *= (n - i) as f64 / (i + 1) as f64 * p / (1.0 - p);
        }
        (1.0 - cdf).max(0.0)
    };
    let mut children = 0.0;
    let mut k = 8;
    while k < 64 {
        let t = tail(k);
        if t < 1e-9 {
            break;
        }
        children += t;
        k += 6;
    }
    (buckets, buckets as f64 * children)
}

/// The buckets of a Valkey hashtable grown to `n` entries one insert at a time, and the
/// buckets allocated in all (both arrays while a rehash is under way); see
/// `Model::grown_hashtable`.
fn grown_buckets(n: u64) -> (u64, u64) {
    let (mut buckets, mut old) = (0u64, 0u64);
    let mut rehash_left = 0u64;
    for used in 0..n {
        // Each insert first takes a rehash step if one is under way, then resizes if
        // the table is full.
        rehash_left = rehash_left.saturating_sub(1);
        if used + 1 > buckets * 7 {
            old = buckets;
            buckets = next_pow2((used + 1).saturating_mul(5).div_ceil(32)).max(buckets * 2);
            rehash_left = old;
        }
    }
    (buckets, buckets + if rehash_left > 0 { old } else { 0 })
}

/// Buckets of a dict pre-sized for `n` entries (`_dictNextExp`, minimum 4).
fn dict_buckets(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        next_pow2(n).max(4)
    }
}

/// `string2ll` semantics: canonical decimal that fits an i64 (no leading zeros or '+').
fn canonical_int(b: &[u8]) -> Option<i64> {
    // `string2ll`: an optional '-', then digits without leading zeros ("0" alone is fine,
    // "-0" is not), within i64. Hand-rolled: this runs on every short string and element.
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'0', ..] => return None,
        _ if digits.len() > 19 => return None,
        _ => {}
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if neg {
        if v <= i64::MAX as u64 + 1 {
            Some((v as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Size of a listpack integer entry with its back-length (`lpEncodeIntegerGetType`).
fn lp_int_size(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

fn lp_backlen(l: u64) -> u64 {
    rdbscope_parser::blob::listpack::backlen_size(usize::try_from(l).unwrap_or(usize::MAX)) as u64
}

/// Size of a listpack entry for an element as `lpAppend` stores it.
fn lp_entry_size(s: Scalar<'_>) -> u64 {
    let int = match s {
        Scalar::Int(v) => Some(v),
        Scalar::Bytes(b) => canonical_int(b),
    };
    match int {
        Some(v) => lp_int_size(v),
        None => lp_str_size(s.len()),
    }
}

/// Size of a listpack string entry of `l` bytes with its back-length.
fn lp_str_size(l: u64) -> u64 {
    let enc = if l < 64 {
        1 + l
    } else if l < 4096 {
        2 + l
    } else {
        5 + l
    };
    enc + lp_backlen(enc)
}

/// A quicklist node as the model sizes it: (plain, bytes, elements, compressed bytes).
type ListNode = (bool, u64, u64, Option<u64>);

/// A listpack built as the loader builds one with `lpAppend` (`lpEncodeGetType`,
/// `lpEncodeBacklen`): the bytes a rebuilt quicklist node holds, for compressing it.
struct LpBuilder {
    buf: Vec<u8>,
    count: u64,
}

impl LpBuilder {
    fn new() -> Self {
        LpBuilder {
            buf: vec![0; 6],
            count: 0,
        }
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.buf.resize(6, 0);
        self.count = 0;
    }

    fn push(&mut self, s: Scalar<'_>) {
        let out = &mut self.buf;
        let start = out.len();
        let int = match s {
            Scalar::Int(v) => Some(v),
            Scalar::Bytes(b) => canonical_int(b),
        };
        match int {
            Some(v) if (0..=127).contains(&v) => out.push(v as u8),
            Some(v) if (-4096..=4095).contains(&v) => {
                let u = (v as u64) & 0x1fff;
                out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                out.push(0xF1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => {
                out.push(0xF2);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                out.push(0xF3);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                out.push(0xF4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                // Only byte strings fail the integer test.
                let b = match s {
                    Scalar::Bytes(b) => b,
                    Scalar::Int(_) => &[],
                };
                let l = b.len();
                if l < 64 {
                    out.push(0x80 | l as u8);
                } else if l < 4096 {
                    out.extend_from_slice(&[0xE0 | (l >> 8) as u8, l as u8]);
                } else {
                    out.push(0xF0);
                    out.extend_from_slice(&(l as u32).to_le_bytes());
                }
                out.extend_from_slice(b);
            }
        }
        let l = (out.len() - start) as u64;
        // `lpEncodeBacklen`: 7 bits per byte, most significant first, the continuation bit
        // on every byte but the first.
        let n = lp_backlen(l);
        for i in (0..n).rev() {
            let b = ((l >> (7 * i)) & 127) as u8;
            out.push(if i == n - 1 { b } else { b | 128 });
        }
        self.count += 1;
    }

    /// The finished listpack (header, entries, terminator).
    fn finish(&mut self) -> &[u8] {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        &self.buf
    }
}

/// A ziplist being sized as `ziplistPush` builds it (Redis ≤ 6.2): 11 bytes of header and
/// end, entries with a 1- or 5-byte prevlen, integers for canonical decimals up to 31 chars.
#[derive(Default)]
struct Ziplist {
    bytes: u64,
    prev: u64,
}

impl Ziplist {
    fn push(&mut self, s: Scalar<'_>) {
        let int = match s {
            Scalar::Int(v) => Some(v),
            Scalar::Bytes(b) if b.len() < 32 => canonical_int(b),
            Scalar::Bytes(_) => None,
        };
        let body = match int {
            Some(v) if (0..=12).contains(&v) => 1,
            Some(v) if i8::try_from(v).is_ok() => 2,
            Some(v) if i16::try_from(v).is_ok() => 3,
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => 4,
            Some(v) if i32::try_from(v).is_ok() => 5,
            Some(_) => 9,
            None => {
                let l = s.len();
                l + if l <= 63 {
                    1
                } else if l <= 16383 {
                    2
                } else {
                    5
                }
            }
        };
        let entry = body + if self.prev < 254 { 1 } else { 5 };
        self.bytes += entry;
        self.prev = entry;
    }

    fn bytes(&self) -> u64 {
        11 + self.bytes
    }
}

/// A score as Redis 6.2's `zzlInsertAt` writes it into a ziplist (`d2string`: integers
/// plainly, else `%.17g`).
fn score_text(score: f64) -> String {
    if score.is_finite() && score == score.trunc() && score.abs() < 1e17 {
        (score as i64).to_string()
    } else if score.is_nan() {
        "nan".into()
    } else if score.is_infinite() {
        if score > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format_g17(score)
    }
}

/// Size of a zset score's listpack entry as `zzlInsertAt` writes it (Redis 7.0 on, every
/// Valkey): an integer entry when `double2ll` takes the score (integral and within
/// ±2^62), else the text of `d2string`: `nan`, `inf`, `-inf`, `%.17g` on Redis 7.0, and
/// from Redis 7.2 (and Valkey 7.2) on `fpconv_dtoa`, the shortest text that reads back as
/// the same double ([`shortest_len`]).
fn lp_score_size(score: f64, shortest: bool) -> u64 {
    // `double2ll`: (double)(LLONG_MAX / 2) is 2^62.
    const LIMIT: f64 = 4_611_686_018_427_387_904.0;
    if (-LIMIT..=LIMIT).contains(&score) && score == score.trunc() {
        return lp_int_size(score as i64);
    }
    let len = if score.is_nan() {
        3
    } else if score.is_infinite() {
        if score > 0.0 {
            3
        } else {
            4
        }
    } else if shortest {
        match shortest_len(score) {
            // Plain digits (an integral score past 2^62): `lpAppend` stores the text as
            // an integer when it is one.
            ShortestText::Integer(v) => return lp_int_size(v),
            ShortestText::Text(len) => len,
        }
    } else {
        g17_len(score)
    };
    lp_str_size(len)
}

/// What `fpconv_dtoa` writes for a double ([`shortest_len`]).
#[derive(Debug, PartialEq, Eq)]
enum ShortestText {
    /// Plain integer digits within i64 (`lpAppend` stores these as an integer).
    Integer(i64),
    /// Text of this many bytes.
    Text(u64),
}

/// The length of `fpconv_dtoa` (Redis 7.2+, Valkey) of a finite non-zero double: the
/// shortest digits that read back as the same double, laid out as its `emit_digits` does
/// (`digits` × 10^`k`, `exp` the decimal exponent of the first digit):
///
/// - `k >= 0` and `exp < ndigits + 7`: the digits and `k` zeros;
/// - `k < 0` and (`k > -7` or `exp < 4`): a decimal point inside the digits, or `0.` and
///   leading zeros before them;
/// - otherwise `d[.ddd]e±x`, the exponent without leading zeros.
///
/// `fpconv_dtoa` finds the digits with Grisu2, which gives the shortest digits for nearly
/// every double; Rust's formatter gives them for all, so a rare double may differ.
fn shortest_len(v: f64) -> ShortestText {
    use std::fmt::Write;
    let mut t = StackText {
        buf: [0; 64],
        len: 0,
    };
    if write!(t, "{:e}", v.abs()).is_err() {
        return ShortestText::Text(format_g17(v).len() as u64);
    }
    let text = &t.buf[..t.len];
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, &b"0"[..]),
    };
    let digits = || mantissa.iter().filter(|b| b.is_ascii_digit());
    let ndigits = digits().count() as i64;
    let e: i64 = std::str::from_utf8(exponent)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let k = e - (ndigits - 1);
    let exp = e.abs();
    let sign = u64::from(v < 0.0);
    if k >= 0 && exp < ndigits + 7 {
        let value = digits()
            .try_fold(0i128, |acc, &d| {
                acc.checked_mul(10)?.checked_add(i128::from(d - b'0'))
            })
            .and_then(|m| m.checked_mul(10i128.checked_pow(u32::try_from(k).ok()?)?));
        if let Some(int) = value.and_then(|m| i64::try_from(if v < 0.0 { -m } else { m }).ok()) {
            return ShortestText::Integer(int);
        }
        return ShortestText::Text(sign + (ndigits + k) as u64);
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits + k;
        let len = if offset <= 0 {
            ndigits + 2 - offset
        } else {
            ndigits + 1
        };
        return ShortestText::Text(sign + len as u64);
    }
    let mantissa = if ndigits > 1 { ndigits + 1 } else { 1 };
    let exp_digits = if exp > 99 {
        3
    } else if exp > 9 {
        2
    } else {
        1
    };
    ShortestText::Text(sign + (mantissa + 2 + exp_digits) as u64)
}

/// A formatting buffer on the stack (`%.17g` of a double is at most 24 bytes; fixed
/// notation with the digits we ask for stays under 64).
struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The length of `%.17g` of a finite non-zero double, without allocating.
fn g17_len(v: f64) -> u64 {
    use std::fmt::Write;
    let exp = v.abs().log10().floor() as i32;
    let mut t = StackText {
        buf: [0; 64],
        len: 0,
    };
    if (-5..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        if write!(t, "{v:.decimals$}").is_err() {
            return format_g17(v).len() as u64;
        }
        let text = &t.buf[..t.len];
        let trimmed = if text.contains(&b'.') {
            let mut n = text.len();
            while n > 0 && text[n - 1] == b'0' {
                n -= 1;
            }
            if n > 0 && text[n - 1] == b'.' {
                n -= 1;
            }
            n
        } else {
            text.len()
        };
        trimmed as u64
    } else {
        format_g17(v).len() as u64
    }
}

/// `%.17g`.
fn format_g17(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    if (-5..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        s
    } else {
        let s = format!("{v:.16e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// `(asize + (elesize / samples) * count)` in doubles, truncated, as `objectComputeSize`
/// does with SAMPLES 0 (§0.6 of the memory notes).
fn sampled(asize: u64, elesize: u64, samples: u64, count: u64) -> u64 {
    if samples == 0 {
        return asize;
    }
    (asize as f64 + (elesize as f64 / samples as f64) * count as f64) as u64
}

impl Model {
    /// A model with default thresholds, standalone mode.
    pub fn new(line: ServerLine, allocator: Allocator) -> Self {
        Model {
            line,
            allocator,
            thresholds: Thresholds::default(),
            cluster: false,
            now_ms: None,
        }
    }

    /// A model with the loading server's settings (cluster mode from `cluster-enabled`) and
    /// clock (`now_ms`, the snapshot time: see [`Model::now_ms`]).
    pub fn with_settings(
        line: ServerLine,
        allocator: Allocator,
        thresholds: Thresholds,
        now_ms: Option<i64>,
    ) -> Self {
        Model {
            line,
            allocator,
            thresholds,
            cluster: thresholds.cluster_enabled,
            now_ms,
        }
    }

    /// Whether a hash field with this TTL is still there once the loading server has run
    /// its field expiry.
    fn field_alive(&self, ttl: Option<i64>) -> bool {
        match (ttl, self.now_ms) {
            (Some(t), Some(now)) => t >= now,
            _ => true,
        }
    }

    fn c(&self, n: u64) -> u64 {
        self.allocator.usable(n)
    }

    /// `sdsZmallocSize` of an sds of `len` bytes created by `sdsnewlen`.
    fn sds(&self, len: u64) -> u64 {
        self.c(self.hdr(len) + len + 1)
    }

    fn hdr(&self, len: u64) -> u64 {
        if matches!(
            self.line,
            ServerLine::Valkey80
                | ServerLine::Redis82
                | ServerLine::Redis84
                | ServerLine::Redis86
                | ServerLine::Valkey81
                | ServerLine::Valkey90
        ) {
            sds_hdr_new(len)
        } else {
            sds_hdr(len)
        }
    }

    /// Size a blob (listpack, intset, quicklist node) is counted with: its allocation, or
    /// its exact bytes where the server tracks logical sizes (Redis 8.4).
    fn blob(&self, n: u64) -> u64 {
        if matches!(
            self.line,
            ServerLine::Redis84 | ServerLine::Redis86 | ServerLine::Redis62
        ) {
            n
        } else {
            self.c(n)
        }
    }

    /// `sizeof(dict)`: 96 with the two embedded tables of Redis ≤ 6.2, 56 from 7.0.
    fn dict_struct(&self) -> u64 {
        if self.line == ServerLine::Redis62 {
            96
        } else {
            56
        }
    }

    /// `sdsAllocSize` of a member or value: Redis 8.4 counts `type5` strings without slack.
    fn sds_alloc(&self, len: u64) -> u64 {
        if matches!(self.line, ServerLine::Redis84 | ServerLine::Redis86) && self.hdr(len) == 1 {
            len + 2
        } else {
            self.sds(len)
        }
    }

    /// [`Model::sds_alloc`] (and, with `plain`, [`Model::sds`]) of short lengths, looked up
    /// instead of computed, for a collection of `n` elements: worth building only for big
    /// ones (a few hundred lengths cost about what the table does).
    fn sds_table(&self, n: u64) -> Option<SdsTable> {
        (n >= SDS_TABLE_MIN).then(|| {
            let mut t = SdsTable {
                alloc: [0; SDS_TABLE_LEN],
                plain: [0; SDS_TABLE_LEN],
            };
            for (len, (a, p)) in (0u64..).zip(t.alloc.iter_mut().zip(t.plain.iter_mut())) {
                *a = self.sds_alloc(len);
                *p = self.sds(len);
            }
            t
        })
    }

    /// [`Model::sds_alloc`] through `table` where it holds `len`.
    #[inline]
    fn sds_alloc_via(&self, table: Option<&SdsTable>, len: u64) -> u64 {
        let hit = table.and_then(|t| t.alloc.get(usize::try_from(len).ok()?));
        hit.copied().unwrap_or_else(|| self.sds_alloc(len))
    }

    /// [`Model::sds`] through `table` where it holds `len`.
    #[inline]
    fn sds_via(&self, table: Option<&SdsTable>, len: u64) -> u64 {
        let hit = table.and_then(|t| t.plain.get(usize::try_from(len).ok()?));
        hit.copied().unwrap_or_else(|| self.sds(len))
    }

    /// One hash field and its value as counted per element of a hashtable hash (besides the
    /// 24-byte entry every line charges): Redis 8.6 keeps both in one `Entry` block
    /// (#14595), counted exactly when the value is embedded (field sds + value sds8, up to
    /// 128 bytes), else the block holding the field and a value pointer by its allocation
    /// plus the value's sds; earlier lines count the field and value sds separately.
    fn hash_entry(&self, flen: u64, vlen: u64, ttl: bool) -> u64 {
        if self.line == ServerLine::Redis86 {
            // The entry's field sds takes its natural type (type 5 even when empty); a field
            // with a TTL is at least an sds8 followed by its 16-byte expire metadata, as is
            // the field of a block that holds a value pointer. Read off the 8.6-era corpus.
            let natural = if flen < 32 { 1 } else { self.hdr(flen) };
            let meta = if ttl { 16 } else { 0 };
            let hdr = if ttl { natural.max(3) } else { natural };
            let embedded = hdr + flen + 1 + meta + 3 + vlen + 1;
            if embedded <= 128 {
                embedded
            } else {
                8 + natural.max(3) + flen + 1 + meta + self.sds_alloc(vlen)
            }
        } else if ttl {
            self.c(self.hdr(flen) + flen + 1 + 18) + self.sds_alloc(vlen)
        } else {
            self.sds(flen) + self.sds_alloc(vlen)
        }
    }

    /// Valkey 9.0 `vsetMemUsage` of a hash's index of fields with TTLs, for `fields` fields
    /// whose expiry times run from `min` to `max` (ms): nothing for one field (a tagged
    /// pointer), a pointer vector grown one slot at a time (`pvMakeRoomFor`, counted by its
    /// usable size) up to 127 fields. Past 127 the index becomes a radix tree of time
    /// buckets (`vsetAddEntry`). When every expiry falls in one 16 ms window (fields given
    /// one TTL together, `HEXPIRE … FIELDS n …`), the full vector cannot be split and turns
    /// into a hashtable of pointers under a single 8-byte bucket key: `raxAllocSize` plus
    /// `hashtableMemUsage` of a table grown one insert at a time. Other spreads make several
    /// buckets whose shape depends on every TTL; they are approximated as one vector bucket
    /// per 127 fields.
    fn vset_mem(&self, fields: u64, min: i64, max: i64) -> u64 {
        // `get_bucket_ts`: the end of the expiry's 16 ms window.
        let window = |t: i64| (t & !15).saturating_add(16);
        match fields {
            0 | 1 => 0,
            2..=127 => self.c(8 + 8 * fields),
            _ if window(min) == window(max) => {
                let rax = 32 + crate::rax::alloc_size(&[[0u8; 8]], |n| self.c(n));
                rax + self.grown_hashtable(fields)
            }
            _ => {
                let buckets = fields.div_ceil(127);
                24 + buckets * 40 + self.c(8 + 8 * fields.div_ceil(buckets)) * buckets
            }
        }
    }

    /// `hashtableMemUsage` of a Valkey hashtable that reached `n` entries one insert at a
    /// time: it doubles when an insert would pass 7 entries a bucket
    /// (`MAX_FILL_PERCENT_SOFT` 100, new size `ceil((used + 1) · 5 / 32)` buckets rounded to
    /// a power of two), and rehashes one old bucket per later insert, so both bucket arrays
    /// are allocated for the inserts between the doubling and the end of the rehash. Child
    /// buckets are the rounded expectation, as in [`hashtable_mem`](Self::hashtable_mem).
    fn grown_hashtable(&self, n: u64) -> u64 {
        let (buckets, arrays) = grown_buckets(n);
        let (_, children) = valkey_hashtable_with(n, buckets);
        72 + 64 * arrays + 64 * children.round() as u64
    }

    /// Redis 8.4 (`kvobjAllocSize`): 16 + 8 if the key has a TTL + 1 + the key sds exactly,
    /// plus the embedded string's block or the value's tracked size.
    fn estimate_tracked(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        let klen = k.key.len();
        // The expire slot exists (and is counted) when the key has a TTL, a long name, or
        // the block has 8 bytes of slack anyway (`kvobjCreate`).
        let bare = 16 + 1 + self.hdr(klen) + klen + 1;
        let slot = k.expire_ms.is_some() || klen >= 128 || self.c(bare) >= bare + 8;
        let ttl = if slot { 8 } else { 0 };
        let header = if self.line == ServerLine::Redis86 {
            self.c(bare + ttl)
        } else {
            bare + ttl
        };
        if let Some(s) = k.value.as_string() {
            let mut buf = Vec::new();
            let v = self.string_value(&s, &mut buf)?;
            let vlen = s.len();
            let mut block = 16 + 1 + self.hdr(klen) + klen + 1 + 3 + vlen + 1;
            if ttl > 0 || klen >= 128 {
                block += 8;
            }
            return Ok(match v.encoding {
                Encoding::Int => KeyEstimate {
                    memory: header,
                    ..v
                },
                _ if block <= 64 => KeyEstimate {
                    memory: self.c(block),
                    encoding: Encoding::Embstr,
                    ..v
                },
                _ => KeyEstimate {
                    memory: header + self.sds_alloc(vlen),
                    encoding: Encoding::Raw,
                    ..v
                },
            });
        }
        let v = self.value(k, scratch, detail)?;
        let mut part = v.memory.saturating_sub(16);
        // Read off the 8.4.0 corpus, not yet confirmed in the 8.4 headers: `listpackEx`
        // counts 24 bytes (as in 8.2) and a quicklist 8 bytes more than its nodes.
        match v.encoding {
            Encoding::ListpackEx => part = part.saturating_sub(8),
            Encoding::Quicklist => part += 8,
            _ => {}
        }
        Ok(KeyEstimate {
            memory: header + part,
            ..v
        })
    }

    fn is_valkey_hashtable(&self) -> bool {
        matches!(self.line, ServerLine::Valkey81 | ServerLine::Valkey90)
    }

    /// Valkey 8.1+ streams: radix trees by their tracked allocations (`raxAllocSize`: the
    /// 32-byte `rax` and every node's usable size) instead of the 7.x heuristic.
    fn stream_tracked(
        &self,
        s: &rdbscope_parser::stream::Stream<'_>,
        mut keys: Vec<[u8; 16]>,
        lp_sum: u64,
    ) -> Result<KeyEstimate> {
        use crate::rax::{alloc_size, alloc_size_var};
        let rax = |keys: &[[u8; 16]]| 32 + alloc_size(keys, |n| self.c(n));
        // `sizeof(stream)`: 80 in Valkey; 128 in Redis 8.4 (read off the 8.4.0 corpus, whose
        // consumer-group streams still differ: group overheads of 8.4 are not modelled).
        let valkey = self.is_valkey_hashtable() || self.line == ServerLine::Valkey80Dev;
        let stream_struct = match self.line {
            _ if valkey => 80,
            // 8.6 adds the IDMP settings and index to the struct (read off the corpus).
            ServerLine::Redis86 => 160,
            _ => 128,
        };
        let mut memory = 16 + stream_struct + rax(&keys) + lp_sum;
        // 8.6 IDMP: the tracked size counts each producer's 24-byte `idmpProducer` and each
        // tracked iid's `idmpEntry` (next, stream ID, length, the iid inline), not the
        // producers' rax nor their iid dicts (read off the 8.6-era corpus: exact on both
        // IDMP streams, 7- to 16-byte iids, 2 and 3 producers).
        if self.line == ServerLine::Redis86 {
            if let Some(idmp) = s.idmp {
                memory += idmp.producers.saturating_mul(self.c(24));
                s.for_each_idmp_iid(|iid| {
                    memory += self.c(32 + iid.len());
                    Ok(())
                })?;
            }
        }
        // Redis tracks the consumer-group index and each group's consumer index too: rax
        // structs and nodes keyed by group / consumer name.
        let var_rax = |names: &[&[u8]]| 32 + alloc_size_var(names, |n| self.c(n));
        let mut group_names: Vec<Vec<u8>> = Vec::new();
        s.for_each_group(|g| {
            if !valkey {
                group_names.push(g.name.to_vec()?);
            }
            keys.clear();
            g.for_each_pending(|p| {
                keys.push(id_bytes(p.id));
                Ok(())
            })?;
            keys.sort_unstable();
            memory += 40 + rax(&keys) + 24 * g.pel;
            if !valkey {
                // Each pending entry costs Redis 8.4 about 100 bytes and 8.6 about 90 bytes
                // more than its NACK and PEL nodes, a structure whose source we could not
                // read (calibrated on the 8.4.0 and 8.6-era corpus streams; approximate).
                let per_nack = if self.line == ServerLine::Redis86 {
                    90
                } else {
                    100
                };
                memory += per_nack * g.pel;
            }
            if !valkey {
                let mut names: Vec<Vec<u8>> = Vec::new();
                g.for_each_consumer(|c| {
                    names.push(c.name.to_vec()?);
                    Ok(())
                })?;
                names.sort_unstable();
                let refs: Vec<&[u8]> = names.iter().map(|n| &n[..]).collect();
                memory += var_rax(&refs);
            }
            g.for_each_consumer(|c| {
                keys.clear();
                c.for_each_pending_id(|id| {
                    keys.push(id_bytes(id));
                    Ok(())
                })?;
                keys.sort_unstable();
                memory += 32 + c.name.len() + rax(&keys);
                Ok(())
            })
        })?;
        if !group_names.is_empty() {
            group_names.sort_unstable();
            let refs: Vec<&[u8]> = group_names.iter().map(|n| &n[..]).collect();
            memory += var_rax(&refs);
        }
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Stream,
            elements: s.length,
            largest_element: 0,
        })
    }

    /// `hashtableMemUsage` (Valkey 8.1+ `hashtable.c`): the 72-byte struct and 64-byte
    /// buckets of 7 slots, pre-sized for `n` (`hashtableTryExpand`: 5/32 buckets per entry,
    /// a power of two), plus the expected child buckets of overfull buckets (the bucket of an
    /// element depends on the process's hash seed, so the Poisson expectation is used).
    fn hashtable_mem(&self, n: u64) -> u64 {
        // The number of child buckets is a whole number: the rounded expectation is the
        // likeliest count for the small tables most keys have (exact there), and within
        // one bucket of the mean for large ones. (Skiplist zsets, approximate anyway, use
        // the mean: `hashtable_mean`.)
        let (buckets, children) = valkey_hashtable(n);
        72 + 64 * buckets.max(1) + 64 * children.round() as u64
    }

    /// The expected `hashtableMemUsage` of `n` entries, child buckets by their mean.
    fn hashtable_mean(&self, n: u64) -> f64 {
        let (buckets, children) = valkey_hashtable(n);
        (72 + 64 * buckets.max(1)) as f64 + 64.0 * children
    }

    /// Expected `zmalloc_size` of a skiplist node (`zslRandomLevel`: p = 1/4, max 32).
    /// Expected allocation of a Redis 8.6 skiplist node (#14701), which embeds the member's
    /// sds (`extra` bytes) after a 16-byte header (score, backward pointer) and the levels,
    /// over the random level distribution. The header size was read off the 8.6-era corpus
    /// (the dict still charges 24 bytes per member).
    fn skiplist_node_embedding(&self, extra: u64) -> f64 {
        let mut e = 0.0;
        let mut p = 0.75;
        for level in 1..=32u64 {
            let prob = if level == 32 { p / 0.75 } else { p };
            e += prob * self.c(16 + 16 * level + extra) as f64;
            p *= 0.25;
        }
        e
    }

    fn skiplist_node(&self) -> f64 {
        let mut e = 0.0;
        let mut p = 0.75;
        for level in 1..=32u64 {
            let prob = if level == 32 { p / 0.75 } else { p };
            e += prob * self.c(24 + 16 * level) as f64;
            p *= 0.25;
        }
        e
    }

    /// The key's share: its sds, the main dict entry, and cluster metadata.
    fn key_part(&self, keylen: u64) -> u64 {
        if matches!(self.line, ServerLine::Valkey80 | ServerLine::Valkey80Dev) {
            // `dictEntryEmbedded`: 17-byte header then the key sds (`createEmbeddedEntry`).
            return self.c(17 + self.hdr(keylen) + keylen + 1);
        }
        let meta = match (self.cluster, self.line) {
            (true, ServerLine::Redis70) => 16,
            (true, ServerLine::Redis72 | ServerLine::Valkey72) => 8,
            _ => 0,
        };
        self.sds(keylen) + 24 + meta
    }

    /// Estimates one key.
    ///
    /// # Errors
    /// A value whose elements cannot be decoded.
    pub fn estimate(&self, k: &KeyRecord<'_>, scratch: &mut Scratch) -> Result<KeyEstimate> {
        self.estimate_with(k, scratch, true)
    }

    /// Estimates one key like [`Model::estimate`], but leaves `largest_element` at 0 for
    /// listpacks, ziplists and intsets the loader keeps as they are: their size and element
    /// count come from the blob's header, so the blob is neither decompressed nor walked.
    /// Every other field is the same as [`Model::estimate`]'s.
    ///
    /// # Errors
    /// A value whose elements cannot be decoded, or a blob header that contradicts its
    /// length.
    pub fn estimate_memory(&self, k: &KeyRecord<'_>, scratch: &mut Scratch) -> Result<KeyEstimate> {
        self.estimate_with(k, scratch, false)
    }

    fn estimate_with(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        if matches!(
            self.line,
            ServerLine::Redis82 | ServerLine::Valkey81 | ServerLine::Valkey90
        ) {
            return self.estimate_kvobj(k, scratch, detail);
        }
        if matches!(self.line, ServerLine::Redis84 | ServerLine::Redis86) {
            return self.estimate_tracked(k, scratch, detail);
        }
        let value = self.value(k, scratch, detail)?;
        Ok(KeyEstimate {
            memory: value.memory + self.key_part(k.key.len()),
            ..value
        })
    }

    /// Redis 8.2 (`kvobjComputeSize`): `zmalloc_size` of the kvobj block (robj, optional
    /// expire slot, key header byte, key sds, embedded short string) plus the value's
    /// out-of-line part (the 8.0 formula without its robj).
    fn estimate_kvobj(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        let klen = k.key.len();
        let mut base = 16 + 1 + self.hdr(klen) + klen + 1;
        if k.expire_ms.is_some() || klen >= 128 {
            base += 8;
        }
        if let Some(s) = k.value.as_string() {
            let mut buf = Vec::new();
            let v = self.string_value(&s, &mut buf)?;
            let vlen = s.len();
            return Ok(match v.encoding {
                Encoding::Int => KeyEstimate {
                    memory: self.c(base),
                    ..v
                },
                _ if base + 3 + vlen < 64 => KeyEstimate {
                    memory: self.c(base + 3 + vlen + 1),
                    encoding: Encoding::Embstr,
                    ..v
                },
                _ => KeyEstimate {
                    memory: self.c(base) + self.sds(vlen),
                    encoding: Encoding::Raw,
                    ..v
                },
            });
        }
        let v = self.value(k, scratch, detail)?;
        let mut part = v.memory.saturating_sub(16);
        // Struct sizes that changed in 8.2, read off the 8.2.3 corpus (not yet confirmed in
        // the 8.2 headers): `listpackEx` 24 bytes instead of 32, `stream` 112 instead of 80.
        if self.line == ServerLine::Redis82 && v.encoding == Encoding::ListpackEx {
            part = part.saturating_sub(8);
        }
        if self.line == ServerLine::Redis82 && v.encoding == Encoding::Stream {
            part += 32;
        }
        if self.line == ServerLine::Redis82 && v.encoding == Encoding::Skiplist {
            // zset dict entries count 16 (`dictEntryMemUsage(1)`, no value) from 8.2 on.
            part = part.saturating_sub(8 * v.elements);
        }
        Ok(KeyEstimate {
            memory: self.c(base) + part,
            ..v
        })
    }

    fn string_value(&self, s: &RdbStr<'_>, scratch: &mut Vec<u8>) -> Result<KeyEstimate> {
        let len = s.len();
        let is_int = match s.encoding() {
            StrEncoding::Int => true,
            StrEncoding::Raw => len <= 20 && canonical_int(s.as_raw().unwrap_or(&[])).is_some(),
            StrEncoding::Lzf => len <= 20 && canonical_int(s.bytes(scratch)?).is_some(),
        };
        let (memory, encoding) = if is_int {
            (16, Encoding::Int)
        } else if len <= 44 && self.line == ServerLine::Redis62 {
            // 6.2 counts an embstr as `sdslen + 2 + sizeof(robj)`.
            (16 + len + 2, Encoding::Embstr)
        } else if len <= 44 {
            (self.c(16 + 3 + len + 1), Encoding::Embstr)
        } else {
            (16 + self.sds(len), Encoding::Raw)
        };
        Ok(KeyEstimate {
            memory,
            encoding,
            elements: 1,
            largest_element: len,
        })
    }

    fn value(&self, k: &KeyRecord<'_>, scratch: &mut Scratch, detail: bool) -> Result<KeyEstimate> {
        use ValueKind::*;
        let v = &k.value;
        let t = &self.thresholds;
        match v.kind() {
            String => {
                let s = v.as_string().unwrap_or(RdbStr::Int(0));
                let mut buf = Vec::new();
                self.string_value(&s, &mut buf)
            }
            HashZiplist | ZsetZiplist | SetIntset if self.line == ServerLine::Redis62 => {
                // 6.2 keeps the file's ziplist/intset and counts its raw length
                // (`ziplistBlobLen`, `intsetBlobLen`); only the entry count is checked.
                let (limit, per, enc) = match v.kind() {
                    HashZiplist => (t.hash_entries, 2, Encoding::Ziplist),
                    ZsetZiplist => (t.zset_entries, 2, Encoding::Ziplist),
                    _ => (t.set_intset_entries, 1, Encoding::Intset),
                };
                let (n, largest) = self.count_and_largest(k, scratch, per, detail)?;
                if n > limit {
                    return self.rebuild(k, scratch, detail);
                }
                let blob = v.blob().map_or(0, |b| b.data.len());
                Ok(KeyEstimate {
                    memory: 16 + blob,
                    encoding: enc,
                    elements: n,
                    largest_element: largest,
                })
            }
            ListQuicklist | ListQuicklist2 | List | ListZiplist => self.list(k, scratch, detail),
            HashListpack | ZsetListpack | SetListpack | SetIntset => {
                // The loader checks only the entry count of a listpack or intset it keeps
                // (`rdbLoadObject` in the Redis 6.2-8.0 and Valkey 8.0 sources), not the element
                // lengths: a long element that a smaller `*-max-listpack-value` would refuse
                // on write stays in the listpack on load.
                let (entries, per, enc) = match v.kind() {
                    HashListpack => (t.hash_entries, 2, Encoding::Listpack),
                    ZsetListpack => (t.zset_entries, 2, Encoding::Listpack),
                    SetListpack => (t.set_entries, 1, Encoding::Listpack),
                    _ => (t.set_intset_entries, 1, Encoding::Intset),
                };
                let blob = v.blob().map_or(0, |b| b.data.len());
                let (n, largest) = self.count_and_largest(k, scratch, per, detail)?;
                if n > entries {
                    return self.rebuild(k, scratch, detail);
                }
                Ok(KeyEstimate {
                    memory: 16 + self.blob(blob),
                    encoding: enc,
                    elements: n,
                    largest_element: largest,
                })
            }
            _ => self.rebuild(k, scratch, detail),
        }
    }

    /// Records (elements of `per` scalars) of a blob value and, with `detail`, the length
    /// of its largest scalar (else 0: the count then comes from the header alone).
    fn count_and_largest(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        per: u64,
        detail: bool,
    ) -> Result<(u64, u64)> {
        if !detail {
            return Ok((k.value.element_count(scratch)?, 0));
        }
        let (mut n, mut largest) = (0u64, 0u64);
        k.value.for_each_element(scratch, |e| {
            let l = match e {
                Element::Item(s) | Element::Scored(s, _) => s.len(),
                Element::Field(f, v, _) => f.len().max(v.len()),
            };
            n += match e {
                Element::Field(..) | Element::Scored(..) => 2,
                Element::Item(_) => 1,
            };
            largest = largest.max(l);
        })?;
        Ok((n / per, largest))
    }

    fn list(&self, k: &KeyRecord<'_>, scratch: &mut Scratch, detail: bool) -> Result<KeyEstimate> {
        // The node table is reused across keys (no allocation per list key).
        thread_local! {
            static NODES: std::cell::Cell<Vec<ListNode>> = const { std::cell::Cell::new(Vec::new()) };
        }
        NODES.with(|cell| {
            let mut nodes = cell.take();
            nodes.clear();
            let r = self.list_into(k, scratch, &mut nodes, detail);
            cell.set(nodes);
            r
        })
    }

    fn list_into(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        nodes: &mut Vec<ListNode>,
        detail: bool,
    ) -> Result<KeyEstimate> {
        // Node sizes: PACKED nodes keep the file's listpack (`quicklistAppendListpack`);
        // ziplist nodes and old list types are rebuilt as listpacks by appending.
        // (plain, bytes, count, compressed bytes)
        let mut largest = 0u64;
        match k.value.kind() {
            ValueKind::ListQuicklist2 => {
                k.value.for_each_node(|node| {
                    match node.container {
                        NodeContainer::Plain => {
                            largest = largest.max(node.data.len());
                            nodes.push((true, node.data.len(), 1, None));
                        }
                        _ if !detail => {
                            // The node's size and count come from the listpack header.
                            let blob = Blob {
                                kind: BlobKind::Listpack,
                                data: node.data,
                            };
                            let count = match blob.header_count(scratch.buf())? {
                                Some(n) => n,
                                None => {
                                    let bytes = node.data.bytes(scratch.buf())?;
                                    rdbscope_parser::blob::listpack::for_each(bytes, |_| {})
                                        .map_err(|e| node_err(&node, e))?
                                }
                            };
                            if count > 0 {
                                nodes.push((false, node.data.len(), count, None));
                            }
                        }
                        _ => {
                            let mut count = 0u64;
                            let bytes = node.data.bytes(scratch.buf())?;
                            rdbscope_parser::blob::listpack::for_each(bytes, |s| {
                                count += 1;
                                largest = largest.max(s.len());
                            })
                            .map_err(|e| node_err(&node, e))?;
                            if count > 0 {
                                nodes.push((false, node.data.len(), count, None));
                            }
                        }
                    }
                    Ok(())
                })?;
                let depth = self.thresholds.list_compress_depth as usize;
                if depth > 0 && nodes.len() > 2 * depth {
                    // `__quicklistCompress`: every node but `depth` at each end is stored
                    // LZF-compressed when that saves at least 8 bytes.
                    let (lo, hi) = (depth, nodes.len() - depth);
                    let mut i = 0usize;
                    let mut buf = Vec::new();
                    k.value.for_each_node(|node| {
                        let plain = matches!(node.container, NodeContainer::Plain);
                        let bytes = node.data.bytes(&mut buf)?;
                        if !plain
                            && matches!(
                                rdbscope_parser::blob::listpack::header(bytes),
                                Ok((_, Some(0)))
                            )
                        {
                            return Ok(());
                        }
                        if (lo..hi).contains(&i) {
                            if let Some(c) = compressed_size(bytes) {
                                nodes[i].3 = Some(c);
                            }
                        }
                        i += 1;
                        Ok(())
                    })?;
                }
            }
            _ => {
                // Rebuild: one listpack per ziplist node (type 14), or packed by the fill
                // limit for linked lists and single ziplists.
                let mut cur = (false, 7u64, 0u64, None);
                let per_node = k.value.kind() == ValueKind::ListQuicklist;
                if per_node && self.line == ServerLine::Redis62 {
                    // 6.2 keeps ziplist nodes and counts `ziplistBlobLen`.
                    // (ziplistBlobLen, count, compressed length)
                    let mut raw: Vec<(u64, u64, Option<u64>)> = Vec::new();
                    let mut buf = Vec::new();
                    k.value.for_each_node(|node| {
                        let mut count = 0u64;
                        let bytes = node.data.bytes(&mut buf)?;
                        let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| {
                            count += 1;
                            largest = largest.max(s.len());
                        });
                        // The loader skips empty ziplists.
                        if count > 0 {
                            raw.push((node.data.len(), count, None));
                        }
                        Ok(())
                    })?;
                    let depth = self.thresholds.list_compress_depth as usize;
                    if depth > 0 && raw.len() > 2 * depth {
                        // `__quicklistCompress` as the nodes are appended: all but `depth`
                        // nodes at each end end up compressed when that saves 8 bytes.
                        let (lo, hi) = (depth, raw.len() - depth);
                        let mut i = 0usize;
                        k.value.for_each_node(|node| {
                            let bytes = node.data.bytes(&mut buf)?;
                            let mut count = 0u64;
                            let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |_| count += 1);
                            if count == 0 {
                                return Ok(());
                            }
                            if (lo..hi).contains(&i) {
                                raw[i].2 = compressed_size(bytes);
                            }
                            i += 1;
                            Ok(())
                        })?;
                    }
                    let elements = raw.iter().map(|r| r.1).sum();
                    // 6.2's quicklistNode is 32 bytes; `ziplistBlobLen` of a compressed
                    // node reads the `quicklistLZF`'s first field, the compressed length.
                    let elesize: u64 = raw.iter().map(|r| 32 + r.2.unwrap_or(r.0)).sum();
                    let memory = sampled(16 + 40, elesize, raw.len() as u64, raw.len() as u64);
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Quicklist,
                        elements,
                        largest_element: largest,
                    });
                }
                let node_sizes = &mut *nodes;
                if per_node {
                    k.value.for_each_node(|node| {
                        let mut lp = 7u64;
                        let mut count = 0;
                        let mut buf = Vec::new();
                        let bytes = node.data.bytes(&mut buf)?;
                        let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| {
                            lp += lp_entry_size(s);
                            count += 1;
                            largest = largest.max(s.len());
                        });
                        if count > 0 {
                            node_sizes.push((false, lp, count, None));
                        }
                        Ok(())
                    })?;
                } else {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Item(s) = e {
                            let sz = lp_entry_size(s);
                            largest = largest.max(s.len());
                            if cur.2 > 0 && cur.1 + sz > 8192 {
                                node_sizes.push(cur);
                                cur = (false, 7, 0, None);
                            }
                            cur.1 += sz;
                            cur.2 += 1;
                        }
                    })?;
                    if cur.2 > 0 {
                        node_sizes.push(cur);
                    }
                }
                let depth = self.thresholds.list_compress_depth as usize;
                if depth > 0 && node_sizes.len() > 2 * depth {
                    self.compress_rebuilt(k, scratch, per_node, depth, node_sizes)?;
                }
            }
        }
        let elements: u64 = nodes.iter().map(|n| n.2).sum();
        let (sz_limit, count_limit) = if self.thresholds.list_size >= 0 {
            (8192, self.thresholds.list_size.max(1) as u64)
        } else {
            let idx = (-self.thresholds.list_size - 1).clamp(0, 4) as u32;
            (4096u64 << idx, u64::MAX)
        };
        if self.line.has_list_listpack()
            && nodes.len() == 1
            && !nodes[0].0
            && nodes[0].1 <= sz_limit
            && nodes[0].2 <= count_limit
        {
            return Ok(KeyEstimate {
                memory: 16 + self.blob(nodes[0].1),
                encoding: Encoding::Listpack,
                elements,
                largest_element: largest,
            });
        }
        // A compressed node is counted as its `quicklistLZF` (8-byte length + data).
        let elesize: u64 = nodes
            .iter()
            .map(|n| 40 + n.3.map_or_else(|| self.blob(n.1), |c| self.blob(8 + c)))
            .sum();
        // `(double)elesize/samples*ql->len` over the nodes (every line from 7.0).
        let memory = sampled(16 + 40, elesize, nodes.len() as u64, nodes.len() as u64);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Quicklist,
            elements,
            largest_element: largest,
        })
    }

    /// `list-compress-depth` over a list the loader rebuilt from a pre-7.0 record: the
    /// listpack of every node between the `depth` plain nodes at each end is rebuilt
    /// byte for byte ([`LpBuilder`], the same splitting as the sizing pass) and its LZF
    /// size kept when compression pays (`__quicklistCompressNode`).
    fn compress_rebuilt(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        per_node: bool,
        depth: usize,
        nodes: &mut [(bool, u64, u64, Option<u64>)],
    ) -> Result<()> {
        let (lo, hi) = (depth, nodes.len() - depth);
        let mut lp = LpBuilder::new();
        let mut i = 0usize;
        if per_node {
            let mut buf = Vec::new();
            k.value.for_each_node(|node| {
                let bytes = node.data.bytes(&mut buf)?;
                lp.clear();
                let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| lp.push(s));
                if lp.count == 0 {
                    return Ok(());
                }
                if (lo..hi).contains(&i) {
                    if let Some(n) = nodes.get_mut(i) {
                        n.3 = compressed_size(lp.finish());
                    }
                }
                i += 1;
                Ok(())
            })?;
        } else {
            let mut size = 7u64;
            k.value.for_each_element(scratch, |e| {
                if let Element::Item(s) = e {
                    let sz = lp_entry_size(s);
                    if lp.count > 0 && size + sz > 8192 {
                        if (lo..hi).contains(&i) {
                            if let Some(n) = nodes.get_mut(i) {
                                n.3 = compressed_size(lp.finish());
                            }
                        }
                        i += 1;
                        lp.clear();
                        size = 7;
                    }
                    size += sz;
                    lp.push(s);
                }
            })?;
            // The last node is within `depth` of the tail: never compressed.
        }
        Ok(())
    }

    /// Sets, hashes and sorted sets rebuilt element by element by the loader: the final
    /// encoding follows the loading server's thresholds. Where only the element lengths
    /// matter (the count already rules a small encoding out; sorted-set members), they are
    /// read without decoding the strings, unless `detail` asks for every element to be
    /// decoded (and so validated).
    fn rebuild(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        use rdbscope_parser::DataType;
        let t = &self.thresholds;
        let dt = k.value.data_type();
        match dt {
            DataType::Set => {
                let (mut n, mut largest, mut all_int, mut lp) = (0u64, 0u64, true, 7u64);
                let (mut lo, mut hi) = (0i64, 0i64);
                let mut sds_sum = 0u64;
                // Members are classified only when the count leaves an intset or a
                // listpack possible.
                let total = k.value.element_count(scratch)?;
                let small = total <= t.set_intset_entries
                    || (self.line.has_set_listpack() && total <= t.set_entries);
                let sizes = if small { None } else { self.sds_table(total) };
                let by_len = !small
                    && !detail
                    && k.value.for_each_len(|len| {
                        n += 1;
                        largest = largest.max(len);
                        sds_sum += self.sds_alloc_via(sizes.as_ref(), len);
                    })?;
                if by_len {
                    all_int = false;
                } else {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Item(s) = e {
                            n += 1;
                            largest = largest.max(s.len());
                            sds_sum += self.sds_alloc(s.len());
                            if !small {
                                all_int = false;
                                return;
                            }
                            // One integer test serves the listpack size and the intset check.
                            let int = match s {
                                Scalar::Int(v) => Some(v),
                                Scalar::Bytes(b) => canonical_int(b),
                            };
                            match int {
                                Some(v) => {
                                    lp += lp_int_size(v);
                                    lo = lo.min(v);
                                    hi = hi.max(v);
                                }
                                None => {
                                    lp += lp_str_size(s.len());
                                    all_int = false;
                                }
                            }
                        }
                    })?;
                }
                if all_int && n <= t.set_intset_entries {
                    let w = if lo >= i16::MIN as i64 && hi <= i16::MAX as i64 {
                        2
                    } else if lo >= i32::MIN as i64 && hi <= i32::MAX as i64 {
                        4
                    } else {
                        8
                    };
                    return Ok(KeyEstimate {
                        memory: 16 + self.blob(8 + n * w),
                        encoding: Encoding::Intset,
                        elements: n,
                        largest_element: largest,
                    });
                }
                if self.line.has_set_listpack() && n <= t.set_entries && largest <= t.set_value {
                    return Ok(KeyEstimate {
                        memory: 16 + self.blob(lp),
                        encoding: Encoding::Listpack,
                        elements: n,
                        largest_element: largest,
                    });
                }
                if self.is_valkey_hashtable() {
                    let memory = 16 + self.hashtable_mem(n) + sds_sum;
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Hashtable,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let buckets = dict_buckets(n);
                let entries = if matches!(self.line, ServerLine::Valkey80 | ServerLine::Valkey80Dev)
                {
                    // Valkey 8.0 stores a member directly in its bucket unless the bucket is
                    // shared: 16-byte `dictEntryNoValue` only for the others (expected count).
                    (16.0 * expected_collisions(n, buckets)).round() as u64
                } else {
                    24 * n
                };
                let memory = sampled(
                    16 + self.dict_struct() + 8 * buckets,
                    entries + sds_sum,
                    n,
                    n,
                );
                Ok(KeyEstimate {
                    memory,
                    encoding: Encoding::Hashtable,
                    elements: n,
                    largest_element: largest,
                })
            }
            DataType::Zset => {
                let (mut n, mut largest, mut sds_sum) = (0u64, 0u64, 0u64);
                let mut embedded_sum = 0f64;
                let sizes = self.sds_table(k.value.count_prefix().unwrap_or(0));
                let mut member = |len: u64| {
                    n += 1;
                    largest = largest.max(len);
                    sds_sum += self.sds_alloc_via(sizes.as_ref(), len);
                    if self.line == ServerLine::Redis86 {
                        embedded_sum += self.skiplist_node_embedding(self.hdr(len) + len + 1);
                    }
                };
                if detail || !k.value.for_each_len(&mut member)? {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Scored(s, _) = e {
                            member(s.len());
                        }
                    })?;
                }
                if n <= t.zset_entries && largest <= t.zset_value {
                    // Small enough for a listpack (a ziplist on 6.2): a second pass sizes
                    // the scores as `zzlInsertAt` writes them (only here: formatting
                    // doubles is the costly part of a big sorted set).
                    let (mut lp, mut zl) = (7u64, Ziplist::default());
                    let redis62 = self.line == ServerLine::Redis62;
                    let shortest = !matches!(self.line, ServerLine::Redis62 | ServerLine::Redis70);
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Scored(s, score) = e {
                            if redis62 {
                                zl.push(s);
                                zl.push(Scalar::Bytes(score_text(score).as_bytes()));
                            } else {
                                lp += lp_entry_size(s) + lp_score_size(score, shortest);
                            }
                        }
                    })?;
                    let (memory, encoding) = if redis62 {
                        (16 + zl.bytes(), Encoding::Ziplist)
                    } else {
                        (16 + self.blob(lp), Encoding::Listpack)
                    };
                    return Ok(KeyEstimate {
                        memory,
                        encoding,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let node = self.skiplist_node();
                if self.is_valkey_hashtable() {
                    let base =
                        (16 + 16 + 32 + self.c(24 + 16 * 32)) as f64 + self.hashtable_mean(n);
                    let memory = (base + sds_sum as f64 + node * n as f64) as u64;
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Skiplist,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let base = 16 + 16 + 32 + 56 + 8 * dict_buckets(n) + self.c(24 + 16 * 32);
                let memory = if self.line == ServerLine::Redis86 {
                    // #14701: the node embeds the member's sds.
                    (base as f64 + embedded_sum + 24.0 * n as f64) as u64
                } else {
                    (base as f64 + sds_sum as f64 + (24.0 + node) * n as f64) as u64
                };
                Ok(KeyEstimate {
                    memory,
                    encoding: Encoding::Skiplist,
                    elements: n,
                    largest_element: largest,
                })
            }
            DataType::Hash => self.hash(k, scratch, detail),
            DataType::Stream => self.stream(k),
            DataType::Module => Ok(KeyEstimate {
                memory: 0,
                encoding: Encoding::Module,
                elements: 1,
                largest_element: 0,
            }),
            DataType::String | DataType::List => unreachable_estimate(),
        }
    }

    /// Hashes with field TTLs (Redis 7.4+ types 24/25): a `listpackex` (listpack of
    /// field, value, TTL triplets behind a 32-byte `listpackEx` header) while small, else a
    /// hashtable whose TTL fields carry 18 bytes of metadata (`mstrNewWithMeta`).
    fn hash_with_ttls(&self, k: &KeyRecord<'_>, scratch: &mut Scratch) -> Result<KeyEstimate> {
        let t = &self.thresholds;
        // Counted over the fields that survive the field expiry (`n`, `lp`, `elesize`) and
        // over the file's fields (`n_file`, `convert_at`), which decide the load path.
        let (mut n, mut n_file, mut largest, mut lp, mut elesize) = (0u64, 0u64, 0u64, 7u64, 0u64);
        let mut convert_at: Option<u64> = None;
        k.value.for_each_element(scratch, |e| {
            if let Element::Field(f, v, ttl) = e {
                if convert_at.is_none() && f.len().max(v.len()) > t.hash_value {
                    convert_at = Some(n_file);
                }
                n_file += 1;
                if !self.field_alive(ttl) {
                    return;
                }
                n += 1;
                largest = largest.max(f.len()).max(v.len());
                lp += lp_entry_size(f) + lp_entry_size(v) + lp_int_size(ttl.unwrap_or(0));
                elesize += self.hash_entry(f.len(), v.len(), ttl.is_some()) + 24;
            }
        })?;
        let from_blob = matches!(
            k.value.kind(),
            ValueKind::HashListpackEx | ValueKind::HashListpackExPreGa
        );
        if n_file <= t.hash_entries && convert_at.is_none() {
            // Expired fields are deleted from the listpack, which is reallocated to fit.
            let lp = match k.value.blob() {
                Some(b) if from_blob && n == n_file => b.data.len(),
                _ => lp,
            };
            return Ok(KeyEstimate {
                memory: 16 + self.c(32) + self.blob(lp),
                encoding: Encoding::ListpackEx,
                elements: n,
                largest_element: largest,
            });
        }
        // Dict sizing (`rdbLoadObject`): a listpackEx blob over the limit is converted with
        // `dictExpand(all fields)`; RDB_TYPE_HASH_METADATA over the limit starts as an empty
        // dict grown by inserts, otherwise as a listpackEx converted at the first long field
        // with `dictTryExpand(remaining)`. The field expiry then deletes the expired fields
        // (each delete a rehash step, a shrink below 1/8 full). A dict still rehashing
        // counts both tables.
        let mut d = if from_blob {
            DictSim::with_size(n_file)
        } else if n_file > t.hash_entries {
            let mut d = DictSim::with_size(0);
            for _ in 0..n_file {
                d.add();
            }
            d
        } else {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            let remaining = n_file - i;
            if remaining > 4 {
                d.try_expand(remaining);
            }
            for _ in 0..remaining {
                d.add();
            }
            d
        };
        if from_blob {
            d.used0 = n_file;
        }
        for _ in n..n_file {
            d.remove();
        }
        let memory = sampled(16 + 56 + 8 * d.slots(), elesize, n, n);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Hashtable,
            elements: n,
            largest_element: largest,
        })
    }

    fn hash(&self, k: &KeyRecord<'_>, scratch: &mut Scratch, detail: bool) -> Result<KeyEstimate> {
        if matches!(
            k.value.kind(),
            ValueKind::HashListpackEx
                | ValueKind::HashListpackExPreGa
                | ValueKind::HashMetadata
                | ValueKind::HashMetadataPreGa
        ) {
            return self.hash_with_ttls(k, scratch);
        }
        let t = &self.thresholds;
        let total = k.value.element_count(scratch)?;
        let mut n = 0u64;
        let mut largest = 0u64;
        let mut lp = 7u64;
        let mut convert_at: Option<u64> = None;
        let mut zl = Ziplist::default();
        let mut elesize = 0u64;
        let from_blob = k.value.blob().is_some();
        // A listpack / ziplist built by the loader is sized only for a type 4 record (a
        // blob keeps its own size), the ziplist only on 6.2.
        // Neither is needed when the count already rules the small encoding out.
        let small = total <= t.hash_entries;
        let size_lp = !from_blob && small;
        let size_zl = !from_blob && small && self.line == ServerLine::Redis62;
        // Fields are mstr blocks, counted by their usable size on every line. Lines other
        // than 8.6 count the field and value sds apart: looked up for a big hash.
        let sizes = (self.line != ServerLine::Redis86)
            .then(|| self.sds_table(total))
            .flatten();
        let mut pair = |f: u64, v: u64| {
            let l = f.max(v);
            largest = largest.max(l);
            if convert_at.is_none() && l > t.hash_value {
                convert_at = Some(n);
            }
            elesize += match &sizes {
                Some(s) => self.sds_via(Some(s), f) + self.sds_alloc_via(Some(s), v),
                None => self.hash_entry(f, v, false),
            } + 24;
            n += 1;
        };
        let by_len = !size_lp && !detail && for_each_len_pair(&k.value, &mut pair)?;
        if !by_len {
            k.value.for_each_element(scratch, |e| {
                if let Element::Field(f, v, _) = e {
                    if size_lp {
                        lp += lp_entry_size(f) + lp_entry_size(v);
                    }
                    if size_zl {
                        zl.push(f);
                        zl.push(v);
                    }
                    pair(f.len(), v.len());
                }
            })?;
        }
        // Valkey 9 keeps every hash with field TTLs (HASH_2) as a hashtable.
        let force_ht = k.value.kind() == ValueKind::ValkeyHash2;
        if self.line == ServerLine::Redis62 && n <= t.hash_entries && convert_at.is_none() {
            let memory = 16
                + if from_blob {
                    k.value.blob().map_or(0, |b| b.data.len())
                } else {
                    zl.bytes()
                };
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Ziplist,
                elements: total,
                largest_element: largest,
            });
        }
        if !force_ht && n <= t.hash_entries && convert_at.is_none() {
            let memory = if from_blob {
                16 + self.blob(k.value.blob().map_or(0, |b| b.data.len()))
            } else {
                16 + self.blob(lp)
            };
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Listpack,
                elements: total,
                largest_element: largest,
            });
        }
        // Dict sizing at load (`rdbLoadObject` RDB_TYPE_HASH): pre-sized to the length when
        // over the entry limit; otherwise converted at the first long field (pre-sized to
        // the entries so far), then `dictTryExpand(remaining)`, then grown by inserts. The
        // dict may still be rehashing when loading ends: both tables count.
        // Redis 8.6 expands the converted dict to the hash's full length right away (a
        // rehash from the converted table, advanced by the remaining inserts).
        let buckets = if n > t.hash_entries || from_blob {
            dict_buckets(n)
        } else if self.line == ServerLine::Redis86 {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            d.try_expand(n);
            for _ in i..n {
                d.add();
            }
            d.slots()
        } else {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            d.add();
            let remaining = n - i - 1;
            if remaining > 4 {
                d.try_expand(remaining);
            }
            for _ in 0..remaining {
                d.add();
            }
            d.slots()
        };
        if self.is_valkey_hashtable() {
            // `hashTypeEntryMemUsage`: field and value in one block when it stays within
            // 128 bytes, else the field block plus the value's sds.
            let mut entries = 0u64;
            let mut volatile = 0u64;
            let (mut min_ttl, mut max_ttl) = (i64::MAX, i64::MIN);
            let mut entry = |f: u64, v: u64, ttl: Option<i64>| {
                if let Some(t) = ttl {
                    volatile += 1;
                    min_ttl = min_ttl.min(t);
                    max_ttl = max_ttl.max(t);
                }
                let ttl = ttl.is_some();
                // A field with a TTL has at least an sds8 header and an 8-byte expiry.
                let (min_hdr, expiry) = if ttl { (3, 8) } else { (0, 0) };
                let fs = self.hdr(f).max(min_hdr) + f + 1 + expiry;
                let embedded = fs + 3 + v + 1;
                entries += if embedded <= 128 {
                    self.c(embedded)
                } else {
                    // The field block holds the value's pointer, and the expiry too.
                    self.c(8 + self.hdr(f).max(3) + f + 1 + expiry) + self.sds(v)
                };
            };
            // Plain type 4 hashes have no field TTLs: their lengths are enough.
            let by_len = !detail && for_each_len_pair(&k.value, |f, v| entry(f, v, None))?;
            if !by_len {
                k.value.for_each_element(scratch, |e| {
                    if let Element::Field(f, v, ttl) = e {
                        entry(f.len(), v.len(), ttl);
                    }
                })?;
            }
            let extra = if self.line == ServerLine::Valkey90 {
                8 + self.vset_mem(volatile, min_ttl, max_ttl)
            } else {
                0
            };
            let memory = 16 + self.hashtable_mem(n) + entries + extra;
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Hashtable,
                elements: n,
                largest_element: largest,
            });
        }
        let memory = sampled(16 + self.dict_struct() + 8 * buckets, elesize, n, n);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Hashtable,
            elements: n,
            largest_element: largest,
        })
    }

    /// Streams (`objectComputeSize` OBJ_STREAM): the stream struct, the radix tree of
    /// listpack nodes, every listpack's allocation, and for each group its struct, PEL tree
    /// and NACKs, and each consumer's struct, name and PEL tree.
    fn stream(&self, k: &KeyRecord<'_>) -> Result<KeyEstimate> {
        use crate::rax::{node_count, stream_radix_memory};
        let Some(s) = k.value.stream()? else {
            return unreachable_estimate();
        };
        let mut keys: Vec<[u8; 16]> = Vec::with_capacity(s.nodes.min(1 << 16) as usize);
        let mut lp_sum = 0u64;
        let mut buf = Vec::new();
        s.for_each_node(|n| {
            // 6.2 counts a stream's listpacks by `zmalloc_size`, unlike its other blobs.
            lp_sum += if self.line == ServerLine::Redis62 {
                self.c(n.listpack.len())
            } else {
                self.blob(n.listpack.len())
            };
            let mut id = [0u8; 16];
            id.copy_from_slice(n.master_key.bytes(&mut buf)?.get(..16).unwrap_or(&[0; 16]));
            keys.push(id);
            Ok(())
        })?;
        keys.sort_unstable();
        if self.is_valkey_hashtable()
            || matches!(
                self.line,
                ServerLine::Redis84 | ServerLine::Redis86 | ServerLine::Valkey80Dev
            )
        {
            return self.stream_tracked(&s, keys, lp_sum);
        }
        // `sizeof(stream)` and `sizeof(streamCG)`: 6.2 has no first/max-deleted IDs, no
        // entries-added and no entries-read.
        let (stream_struct, group_struct) = if self.line == ServerLine::Redis62 {
            (40, 32)
        } else {
            (80, 40)
        };
        let mut memory =
            16 + stream_struct + stream_radix_memory(s.nodes, node_count(&keys)) + lp_sum;
        // `sizeof(streamNACK)`: 8.2 added the `cgroups_ref` list node.
        let nack = if self.line == ServerLine::Redis82 {
            32
        } else {
            24
        };
        // `sizeof(streamConsumer)`: 7.2 added `active_time`.
        let consumer_size = if matches!(self.line, ServerLine::Redis62 | ServerLine::Redis70) {
            24
        } else {
            32
        };
        s.for_each_group(|g| {
            keys.clear();
            g.for_each_pending(|p| {
                keys.push(id_bytes(p.id));
                Ok(())
            })?;
            keys.sort_unstable();
            memory += group_struct + stream_radix_memory(g.pel, node_count(&keys)) + nack * g.pel;
            g.for_each_consumer(|c| {
                keys.clear();
                c.for_each_pending_id(|id| {
                    keys.push(id_bytes(id));
                    Ok(())
                })?;
                keys.sort_unstable();
                memory +=
                    consumer_size + c.name.len() + stream_radix_memory(c.pel, node_count(&keys));
                Ok(())
            })
        })?;
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Stream,
            elements: s.length,
            largest_element: 0,
        })
    }
}

/// Redis's incremental-rehash dict (`dict.c`, 7.x), tracking only table sizes and counts.
/// Rehash progress is one bucket per insert; the number of steps a table needs is its
/// expected number of non-empty buckets (the bucket layout depends on the process's random
/// hash seed, so the expectation is the best deterministic answer).
#[derive(Debug, Clone, Copy)]
struct DictSim {
    size0: u64,
    used0: u64,
    /// (size, used, steps left) of the table being rehashed into.
    rehash: Option<(u64, u64, u64)>,
}

impl DictSim {
    fn with_size(n: u64) -> Self {
        DictSim {
            size0: next_pow2(n).max(4),
            used0: 0,
            rehash: None,
        }
    }

    fn start_rehash(&mut self, new_size: u64) {
        let occupied = self.used0 as f64 - expected_collisions(self.used0, self.size0);
        let steps = occupied.round() as u64;
        if steps == 0 {
            self.size0 = new_size;
        } else {
            self.rehash = Some((new_size, 0, steps));
        }
    }

    /// `_dictExpand` with a requested size.
    fn try_expand(&mut self, n: u64) {
        if self.rehash.is_some() || self.used0 > n {
            return;
        }
        let size = next_pow2(n).max(4);
        if size != self.size0 {
            self.start_rehash(size);
        }
    }

    /// `dictAdd`: a rehash step, grow if full, insert.
    fn add(&mut self) {
        self.step();
        if self.rehash.is_none() && self.used0 >= self.size0 {
            self.start_rehash(next_pow2(self.used0 + 1));
        }
        match &mut self.rehash {
            Some((_, used, _)) => *used += 1,
            None => self.used0 += 1,
        }
    }

    /// `dictDelete`: a rehash step, remove, shrink below 1/8 full (`dictShrinkIfNeeded`).
    fn remove(&mut self) {
        self.step();
        match &mut self.rehash {
            Some((_, used, _)) if *used > 0 && self.used0 == 0 => *used -= 1,
            _ => self.used0 = self.used0.saturating_sub(1),
        }
        if self.rehash.is_none() && self.size0 > 4 && self.used0 * 8 <= self.size0 {
            self.start_rehash(next_pow2(self.used0).max(4));
        }
    }

    /// One `_dictRehashStep`.
    fn step(&mut self) {
        if let Some((size, used, steps)) = self.rehash {
            if steps <= 1 {
                self.size0 = size;
                self.used0 += used;
                self.rehash = None;
            } else {
                self.rehash = Some((size, used, steps - 1));
            }
        }
    }

    fn slots(&self) -> u64 {
        self.size0 + self.rehash.map_or(0, |r| r.0)
    }
}

/// A node's blob error, placed at the node's string.
fn node_err(
    node: &QuicklistNode<'_>,
    e: rdbscope_parser::blob::BlobError,
) -> rdbscope_parser::Error {
    rdbscope_parser::Error::new(
        node.data.offset(),
        rdbscope_parser::ErrorKind::Blob {
            blob: e.blob,
            at: e.at,
            reason: e.reason,
        },
    )
}

/// The size `__quicklistCompressNode` keeps for a node, if it compresses it.
fn compressed_size(node: &[u8]) -> Option<u64> {
    thread_local! {
        static LZF: std::cell::RefCell<(crate::lzf::Compressor, Vec<u8>)> =
            std::cell::RefCell::new((crate::lzf::Compressor::new(), Vec::new()));
    }
    LZF.with(|c| {
        let (comp, out) = &mut *c.borrow_mut();
        comp.quicklist_compressed_size(node, out).map(|n| n as u64)
    })
}

fn id_bytes(id: rdbscope_parser::stream::StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

fn unreachable_estimate() -> Result<KeyEstimate> {
    Ok(KeyEstimate {
        memory: 0,
        encoding: Encoding::Raw,
        elements: 0,
        largest_element: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition `canonical_int` replaces: parses as an i64 and prints back the same.
    fn canonical_int_reference(b: &[u8]) -> Option<i64> {
        let s = std::str::from_utf8(b).ok()?;
        let v: i64 = s.parse().ok()?;
        (v.to_string() == s).then_some(v)
    }

    #[test]
    fn g17_len_matches_the_formatted_text() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let v = f64::from_bits(seed);
            if !v.is_finite() || v == 0.0 {
                continue;
            }
            assert_eq!(g17_len(v), format_g17(v).len() as u64, "{v:e}");
            let w = (seed % 1_000_000) as f64 / 7.0 - 50_000.0;
            if w != 0.0 {
                assert_eq!(g17_len(w), format_g17(w).len() as u64, "{w}");
            }
        }
    }

    #[test]
    fn canonical_int_matches_its_definition() {
        let cases: &[&[u8]] = &[
            b"0",
            b"-0",
            b"00",
            b"07",
            b"+7",
            b"-",
            b"",
            b"12a",
            b"9223372036854775807",
            b"9223372036854775808",
            b"-9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"123456789012345678901",
            b" 1",
            b"1 ",
            b"-12",
        ];
        for c in cases {
            assert_eq!(canonical_int(c), canonical_int_reference(c), "{c:?}");
        }
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let text = match seed % 4 {
                0 => (seed as i64).to_string(),
                1 => ((seed >> 40) as i64 - (1 << 23)).to_string(),
                2 => format!("{:0>3}", seed % 1000),
                _ => format!("-{}", seed % 100_000),
            };
            let b = text.as_bytes();
            assert_eq!(canonical_int(b), canonical_int_reference(b), "{text}");
        }
    }

    #[test]
    fn lp_builder_writes_what_the_parser_reads_back() {
        let big = vec![b'q'; 70_000];
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-1".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-8388609".to_vec(),
            b"2147483648".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            vec![b'a'; 63],
            vec![b'b'; 64],
            vec![b'c'; 4095],
            vec![b'd'; 4096],
            big.clone(),
            Vec::new(),
        ];
        let mut lp = LpBuilder::new();
        let mut size = 7;
        for it in &items {
            lp.push(Scalar::Bytes(it));
            size += lp_entry_size(Scalar::Bytes(it));
        }
        lp.push(Scalar::Int(-77));
        size += lp_entry_size(Scalar::Int(-77));
        let bytes = lp.finish().to_vec();
        assert_eq!(bytes.len() as u64, size);
        let mut back: Vec<Vec<u8>> = Vec::new();
        rdbscope_parser::blob::listpack::for_each(&bytes, |s| {
            back.push(match s {
                Scalar::Int(v) => v.to_string().into_bytes(),
                Scalar::Bytes(b) => b.to_vec(),
            });
        })
        .expect("a valid listpack");
        let mut want = items.clone();
        want.push(b"-77".to_vec());
        assert_eq!(back, want);
    }

    #[test]
    fn g17_matches_printf() {
        assert_eq!(format_g17(0.1), "0.10000000000000001");
        assert_eq!(format_g17(2.5e-3), "0.0025000000000000001");
        assert_eq!(format_g17(1e300), "1.0000000000000001e+300");
        assert_eq!(format_g17(-1.5), "-1.5");
    }

    #[test]
    fn grown_buckets_follow_doubling_and_rehash() {
        // 16 -> 32 buckets at the 113th insert; 15 of 16 rehash steps done after 128.
        assert_eq!(grown_buckets(128), (32, 48));
        // 32 -> 64 at the 225th insert, rehashed long before 448.
        assert_eq!(grown_buckets(448), (64, 64));
        // 64 -> 128 at the 449th insert: 11 of 64 steps done after 460, all by 513.
        assert_eq!(grown_buckets(460), (128, 192));
        assert_eq!(grown_buckets(520), (128, 128));
        // Pre-sizing for 448 entries would have taken 128 buckets.
        assert_eq!(valkey_hashtable(448).0, 128);
    }

    #[test]
    fn vset_past_127_fields_in_one_window_is_a_hashtable_bucket() {
        let m = Model::new(ServerLine::Valkey90, Allocator::Jemalloc);
        let t = 2_208_988_800_000;
        assert_eq!(m.vset_mem(1, t, t), 0);
        assert_eq!(m.vset_mem(100, t, t + 5_000), m.c(8 + 800));
        // One 16 ms window: the rax (32-byte struct, an 8-byte compressed root and a leaf)
        // and a hashtable of 520 pointers.
        let one = m.vset_mem(520, t, t + 15);
        let rax = 32 + crate::rax::alloc_size(&[[0u8; 8]], |n| m.c(n));
        assert_eq!(rax, 32 + 24 + 16);
        assert_eq!(one, rax + m.grown_hashtable(520));
        assert!(one > 72 + 64 * 128, "{one}");
        // Spread over several windows: the per-127 vector approximation.
        assert_eq!(
            m.vset_mem(520, t, t + 16),
            24 + 5 * 40 + m.c(8 + 8 * 104) * 5
        );
    }

    #[test]
    fn shortest_len_lays_out_digits_as_fpconv_dtoa() {
        // The text `fpconv_dtoa` writes, worked out by hand from its layout rules.
        let text = |v: f64, s: &str| (v, ShortestText::Text(s.len() as u64));
        let cases = [
            text(0.1, "0.1"),
            text(-0.1, "-0.1"),
            text(1.5, "1.5"),
            text(123456.789, "123456.789"),
            text(0.001, "0.001"),
            text(0.000001, "0.000001"),
            text(1e-7, "1e-7"),
            text(1.25e-7, "1.25e-7"),
            text(-2.5e-10, "-2.5e-10"),
            text(1234.5678901, "1234.5678901"),
            text(12345.678901, "12345.678901"),
            text(1e300, "1e+300"),
            text(f64::MAX, "1.7976931348623157e+308"),
            text(5e-324, "5e-324"),
            text(1e22, "1e+22"),
            text(-9.5e18, "-9.5e+18"),
            // 2^63: plain digits, but past i64.
            text(9_223_372_036_854_775_808.0, "9223372036854776000"),
            (
                6_917_529_027_641_081_856.0,
                ShortestText::Integer(6_917_529_027_641_082_000),
            ),
        ];
        for (v, want) in cases {
            assert_eq!(shortest_len(v), want, "{v:e}");
        }
    }

    #[test]
    fn lp_score_size_follows_double2ll_and_the_line_s_text() {
        // Integral within ±2^62: an integer entry on every line from 7.0.
        for shortest in [false, true] {
            assert_eq!(lp_score_size(3.0, shortest), lp_int_size(3));
            assert_eq!(lp_score_size(-0.0, shortest), lp_int_size(0));
            assert_eq!(
                lp_score_size(1e17, shortest),
                lp_int_size(100_000_000_000_000_000)
            );
            let top = 4_611_686_018_427_387_904.0;
            assert_eq!(lp_score_size(top, shortest), lp_int_size(1 << 62));
            assert_eq!(lp_score_size(-top, shortest), lp_int_size(-(1 << 62)));
            assert_eq!(lp_score_size(f64::INFINITY, shortest), lp_str_size(3));
            assert_eq!(lp_score_size(f64::NEG_INFINITY, shortest), lp_str_size(4));
        }
        // 7.0: `%.17g`; 7.2 on: the shortest text.
        assert_eq!(lp_score_size(0.1, false), lp_str_size(19));
        assert_eq!(lp_score_size(0.1, true), lp_str_size(3));
        assert_eq!(lp_score_size(1e19, false), lp_str_size(5));
        assert_eq!(lp_score_size(1e19, true), lp_str_size(5));
    }

    #[test]
    fn skiplist_node_expectation_jemalloc8() {
        let m = Model::new(ServerLine::Redis72, Allocator::Jemalloc);
        assert!(
            (m.skiplist_node() - 45.84).abs() < 0.01,
            "{}",
            m.skiplist_node()
        );
    }
}
