//! The memory model: what `MEMORY USAGE key SAMPLES 0` reports on the server line that
//! loads a dump, computed from the record's encodings and sizes.
//!
//! The lines share `objectComputeSize` up to the differences noted per term; each term names
//! the server function it reproduces (`object.c` unless said otherwise). The code is split
//! by what it sizes: `line` (the server lines) and `thresholds` (the loading server's
//! settings), this module (the model, strings, keys, the sds and table sizes every encoding
//! uses), `listpack` (listpack and ziplist entries, score text), `list`, `hash`, `stream`
//! and `dict` (the rehash of a dict built while loading).

use crate::alloc::Allocator;
use rdbscope_parser::{
    blob::Scalar, Blob, BlobKind, Element, KeyRecord, NodeContainer, QuicklistNode, RdbStr, Result,
    Scratch, StrEncoding, ValueKind,
};

mod dict;
mod hash;
mod line;
mod list;
mod listpack;
mod stream;
#[cfg(test)]
mod tests;
mod thresholds;

use dict::DictSim;
use listpack::*;

pub use line::ServerLine;
pub use thresholds::{EvictionPolicy, Thresholds};

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
