//! Value builders for the object types of §5. Each returns the value bytes that follow the key
//! (pass them to [`RdbWriter::key`](crate::RdbWriter::key) with the type byte named in the doc).
//!
//! Type 0 (STRING) values are plain RDB strings: use [`encode::string`](crate::encode::string),
//! [`encode::string_int`](crate::encode::string_int), [`encode::string_lzf`](crate::encode::string_lzf)
//! and friends. Streams are in [`stream`](crate::stream), module values (type 7) in
//! [`module`](crate::module).
//!
//! Element strings inside the plain aggregates are written as plain (raw) RDB strings; use
//! [`counted`] with pre-encoded items for int/LZF-encoded elements or lying counts. Blobs are
//! wrapped in a plain RDB string; wrap them yourself with
//! [`encode::string_lzf`](crate::encode::string_lzf) for LZF.

use crate::encode::{d2string, double_bin, double_str, len, ms_time, string};
use crate::intset::intset;
use crate::listpack::Listpack;
use crate::ziplist::Ziplist;
use crate::zipmap::Zipmap;

/// Quicklist v2 container: the node string is one raw element (`QUICKLIST_NODE_CONTAINER_PLAIN`).
pub const QL_PLAIN: u64 = 1;
/// Quicklist v2 container: the node string is a listpack (`QUICKLIST_NODE_CONTAINER_PACKED`).
pub const QL_PACKED: u64 = 2;

/// `count` as a len followed by the already encoded `items` verbatim: the general form of every
/// counted sequence (lists, sets, hashes, zsets, quicklists), for custom item encodings or a
/// count that does not match the items.
pub fn counted<I, T>(count: u64, items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut out = len(count);
    for i in items {
        out.extend_from_slice(i.as_ref());
    }
    out
}

fn strings<I, T>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let items: Vec<Vec<u8>> = items.into_iter().map(string).collect();
    counted(items.len() as u64, items)
}

/// Type 1 LIST: len n, n plain strings.
pub fn list<I, T>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    strings(items)
}

/// Type 2 SET: len n, n plain strings (no deduplication, so duplicates can be written).
pub fn set<I, T>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    strings(items)
}

/// Type 4 HASH: len n, n × (field, value) plain strings.
pub fn hash<I, K, V>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let items: Vec<Vec<u8>> = pairs
        .into_iter()
        .map(|(k, v)| [string(k), string(v)].concat())
        .collect();
    counted(items.len() as u64, items)
}

/// Type 3 ZSET: len n, n × (member, string-double score).
pub fn zset<I, K>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, f64)>,
    K: AsRef<[u8]>,
{
    let items: Vec<Vec<u8>> = pairs
        .into_iter()
        .map(|(m, s)| [string(m), double_str(s)].concat())
        .collect();
    counted(items.len() as u64, items)
}

/// Type 5 ZSET_2: len n, n × (member, 8-byte LE binary double score).
pub fn zset2<I, K>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, f64)>,
    K: AsRef<[u8]>,
{
    let items: Vec<Vec<u8>> = pairs
        .into_iter()
        .map(|(m, s)| [string(m), double_bin(s)].concat())
        .collect();
    counted(items.len() as u64, items)
}

/// Type 9 HASH_ZIPMAP: a plain string holding a zipmap of the pairs.
pub fn hash_zipmap<I, K, V>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut zm = Zipmap::new();
    for (k, v) in pairs {
        zm.entry(k, v);
    }
    string(zm.build())
}

/// Type 10 LIST_ZIPLIST: a plain string holding a ziplist of the items (canonical integers
/// stored as ziplist integers, like `ziplistPush`).
pub fn list_ziplist<I, T>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut zl = Ziplist::new();
    for i in items {
        zl.auto(i);
    }
    string(zl.build())
}

/// Type 11 SET_INTSET: a plain string holding an intset (sorted, deduplicated, smallest width).
pub fn set_intset(values: &[i64]) -> Vec<u8> {
    string(intset(values))
}

/// Type 12 ZSET_ZIPLIST: a plain string holding a ziplist `member, score, …`; scores are
/// written with `d2string` text (integral scores become ziplist integers).
pub fn zset_ziplist<I, K>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, f64)>,
    K: AsRef<[u8]>,
{
    let mut zl = Ziplist::new();
    for (m, s) in pairs {
        zl.auto(m).auto(d2string(s));
    }
    string(zl.build())
}

/// Type 13 HASH_ZIPLIST: a plain string holding a ziplist `field, value, …`.
pub fn hash_ziplist<I, K, V>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut zl = Ziplist::new();
    for (k, v) in pairs {
        zl.auto(k).auto(v);
    }
    string(zl.build())
}

/// Type 16 HASH_LISTPACK: a plain string holding a listpack `field, value, …`.
pub fn hash_listpack<I, K, V>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut lp = Listpack::new();
    for (k, v) in pairs {
        lp.auto(k).auto(v);
    }
    string(lp.build())
}

/// Type 17 ZSET_LISTPACK: a plain string holding a listpack `member, score, …`; scores are
/// written with `d2string` text (integral scores become listpack integers).
pub fn zset_listpack<I, K>(pairs: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, f64)>,
    K: AsRef<[u8]>,
{
    let mut lp = Listpack::new();
    for (m, s) in pairs {
        lp.auto(m).auto(d2string(s));
    }
    string(lp.build())
}

/// Type 20 SET_LISTPACK: a plain string holding a listpack of the members.
pub fn set_listpack<I, T>(items: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut lp = Listpack::new();
    for i in items {
        lp.auto(i);
    }
    string(lp.build())
}

/// Type 14 LIST_QUICKLIST: len n, n plain strings each holding a ziplist (`nodes` are ziplist
/// blobs, e.g. from [`Ziplist::build`]). Use [`counted`] for LZF-encoded nodes.
pub fn quicklist<I, T>(nodes: I) -> Vec<u8>
where
    I: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    strings(nodes)
}

/// Builds a type 18 LIST_QUICKLIST_2 value: len n, then per node `len container` and a string.
///
/// ```
/// use rdbscope_testwriter::{value::Quicklist2, Listpack};
/// let v = Quicklist2::new().packed(&Listpack::new().str("a").build()).plain("big").build();
/// assert_eq!(&v[..3], [2, 2, 10]); // 2 nodes; PACKED; 10-byte listpack string
/// ```
#[derive(Debug, Clone, Default)]
pub struct Quicklist2 {
    body: Vec<u8>,
    count: u64,
    count_override: Option<u64>,
}

impl Quicklist2 {
    /// Starts an empty quicklist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a PACKED node holding `listpack` (a listpack blob) as a plain string.
    pub fn packed(&mut self, listpack: &[u8]) -> &mut Self {
        self.node(QL_PACKED, &string(listpack))
    }

    /// Adds a PLAIN node holding one raw element as a plain string.
    pub fn plain(&mut self, element: impl AsRef<[u8]>) -> &mut Self {
        self.node(QL_PLAIN, &string(element))
    }

    /// Adds a node with any container value and an already encoded RDB string (e.g. LZF).
    pub fn node(&mut self, container: u64, encoded_string: &[u8]) -> &mut Self {
        self.body.extend(len(container));
        self.body.extend_from_slice(encoded_string);
        self.count += 1;
        self
    }

    /// Writes `n` as the node count instead of the number of nodes added.
    pub fn with_count(&mut self, n: u64) -> &mut Self {
        self.count_override = Some(n);
        self
    }

    /// Returns the value bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = len(self.count_override.unwrap_or(self.count));
        out.extend_from_slice(&self.body);
        out
    }
}

#[derive(Debug, Clone)]
enum FieldTtl {
    ExpireAt(Option<u64>),
    Raw(u64),
}

/// Builds a Redis type 24 HASH_METADATA value: i64 LE minExpire, len n, then per field
/// `len ttl, field, value` with `ttl = 0` for no TTL, else `expire_at - minExpire + 1`.
///
/// minExpire defaults to the smallest field expiry given with [`HashMetadata::field`] (0 if
/// none).
///
/// ```
/// use rdbscope_testwriter::value::HashMetadata;
/// let v = HashMetadata::new().field("a", "1", Some(1000)).field("b", "2", None).build();
/// assert_eq!(&v[..8], 1000i64.to_le_bytes());
/// assert_eq!(&v[8..], [2, 1, 1, b'a', 1, b'1', 0, 1, b'b', 1, b'2']);
/// ```
#[derive(Debug, Clone, Default)]
pub struct HashMetadata {
    fields: Vec<(Vec<u8>, Vec<u8>, FieldTtl)>,
    min_override: Option<i64>,
}

impl HashMetadata {
    /// Starts an empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field with an absolute expiry in ms (`None` = no TTL).
    pub fn field(
        &mut self,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expire_at: Option<u64>,
    ) -> &mut Self {
        self.push(field, value, FieldTtl::ExpireAt(expire_at))
    }

    /// Adds a field with the stored relative `ttl` len written verbatim.
    pub fn field_raw_ttl(
        &mut self,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: u64,
    ) -> &mut Self {
        self.push(field, value, FieldTtl::Raw(ttl))
    }

    fn push(&mut self, f: impl AsRef<[u8]>, v: impl AsRef<[u8]>, t: FieldTtl) -> &mut Self {
        self.fields
            .push((f.as_ref().to_vec(), v.as_ref().to_vec(), t));
        self
    }

    /// Writes `min` as minExpire instead of the computed minimum.
    pub fn min_expire(&mut self, min: i64) -> &mut Self {
        self.min_override = Some(min);
        self
    }

    /// Returns the value bytes.
    pub fn build(&self) -> Vec<u8> {
        let min = self.min_override.unwrap_or_else(|| {
            self.fields
                .iter()
                .filter_map(|(_, _, t)| match t {
                    FieldTtl::ExpireAt(e) => *e,
                    FieldTtl::Raw(_) => None,
                })
                .min()
                .map_or(0, |m| m as i64)
        });
        let mut out = ms_time(min);
        out.extend(len(self.fields.len() as u64));
        for (f, v, t) in &self.fields {
            let ttl = match t {
                FieldTtl::ExpireAt(None) => 0,
                FieldTtl::ExpireAt(Some(e)) => e.wrapping_sub(min as u64).wrapping_add(1),
                FieldTtl::Raw(r) => *r,
            };
            out.extend(len(ttl));
            out.extend(string(f));
            out.extend(string(v));
        }
        out
    }
}

/// Builds a Redis type 25 HASH_LISTPACK_EX value: i64 LE minExpire, then a plain string holding
/// a listpack of `field, value, ttl` triplets (ttl a listpack integer, absolute ms, 0 = none).
///
/// minExpire defaults to the smallest non-zero ttl (0 if none).
#[derive(Debug, Clone, Default)]
pub struct HashListpackEx {
    fields: Vec<(Vec<u8>, Vec<u8>, u64)>,
    min_override: Option<i64>,
}

impl HashListpackEx {
    /// Starts an empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field with an absolute expiry in ms (`None` = no TTL, stored as 0).
    pub fn field(
        &mut self,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expire_at: Option<u64>,
    ) -> &mut Self {
        self.fields.push((
            field.as_ref().to_vec(),
            value.as_ref().to_vec(),
            expire_at.unwrap_or(0),
        ));
        self
    }

    /// Writes `min` as minExpire instead of the computed minimum.
    pub fn min_expire(&mut self, min: i64) -> &mut Self {
        self.min_override = Some(min);
        self
    }

    /// The minExpire that [`HashListpackEx::build`] writes.
    pub fn min_expire_value(&self) -> i64 {
        self.min_override.unwrap_or_else(|| {
            self.fields
                .iter()
                .map(|f| f.2)
                .filter(|&t| t != 0)
                .min()
                .map_or(0, |m| m as i64)
        })
    }

    /// The triplet listpack blob (to wrap it differently, e.g. in an LZF string).
    pub fn listpack(&self) -> Vec<u8> {
        let mut lp = Listpack::new();
        for (f, v, t) in &self.fields {
            lp.auto(f).auto(v).int(*t as i64);
        }
        lp.build()
    }

    /// Returns the value bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = ms_time(self.min_expire_value());
        out.extend(string(self.listpack()));
        out
    }
}

/// Valkey type 22 HASH_2 (under `VALKEY` magic): len n, n × (field, value, i64 LE expiry ms,
/// −1 = none).
pub fn hash2<I, K, V>(fields: I) -> Vec<u8>
where
    I: IntoIterator<Item = (K, V, i64)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let items: Vec<Vec<u8>> = fields
        .into_iter()
        .map(|(k, v, e)| [string(k), string(v), ms_time(e)].concat())
        .collect();
    counted(items.len() as u64, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_plain_matches_hand_bytes() {
        assert_eq!(hash([("a", "1")]), [1, 1, b'a', 1, b'1']);
        assert_eq!(list::<[&str; 0], &str>([]), [0]);
    }

    #[test]
    fn zset_scores_use_both_double_forms() {
        assert_eq!(zset([("m", 1.5)]), [1, 1, b'm', 3, b'1', b'.', b'5']);
        let z2 = zset2([("m", 1.5)]);
        assert_eq!(&z2[3..], 1.5f64.to_le_bytes());
    }

    #[test]
    fn zset_listpack_integral_score_is_int() {
        let v = zset_listpack([("m", 2.0), ("n", 0.5)]);
        let lp = Listpack::new().str("m").int(2).str("n").str("0.5").build();
        assert_eq!(v, string(lp));
    }

    #[test]
    fn hash_listpack_ex_defaults_min_to_smallest_ttl() {
        let v = HashListpackEx::new()
            .field("a", "x", Some(500))
            .field("b", "y", None)
            .field("c", "z", Some(200))
            .build();
        assert_eq!(&v[..8], 200i64.to_le_bytes());
        let lp = Listpack::new()
            .str("a")
            .str("x")
            .int(500)
            .str("b")
            .str("y")
            .int(0)
            .str("c")
            .str("z")
            .int(200)
            .build();
        assert_eq!(&v[8..], string(lp));
    }

    #[test]
    fn hash_metadata_relative_ttl_is_offset_by_one() {
        let v = HashMetadata::new()
            .field("a", "1", Some(1000))
            .field("b", "2", Some(1500))
            .build();
        assert_eq!(
            &v[8..],
            [2, 1, 1, b'a', 1, b'1', 0x41, 0xF5, 1, b'b', 1, b'2']
        );
    }

    #[test]
    fn hash2_writes_expiry_after_value() {
        let v = hash2([("f", "v", -1i64)]);
        let mut want = vec![1, 1, b'f', 1, b'v'];
        want.extend((-1i64).to_le_bytes());
        assert_eq!(v, want);
    }

    #[test]
    fn quicklist2_plain_and_packed_nodes() {
        let v = Quicklist2::new().plain("x").build();
        assert_eq!(v, [1, 1, 1, b'x']);
    }
}
