//! Stream values (§6.7): node listpacks, stream metadata, consumer groups with PELs and
//! consumers, and the v4 IDMP trailer (`rdbSaveObject` stream branch, `t_stream.c`).
//!
//! Versions map to type bytes: 1 → 15 (`STREAM_LISTPACKS`, RDB 9), 2 → 19 (RDB 10),
//! 3 → 21 (RDB 11), 4 → 26 (Redis 8.6, RDB 13).

use crate::encode::{len, ms_time, string};
use crate::listpack::Listpack;

/// Entry flag: entry deleted (`STREAM_ITEM_FLAG_DELETED`).
pub const FLAG_DELETED: i64 = 1;
/// Entry flag: entry uses the master entry's field names (`STREAM_ITEM_FLAG_SAMEFIELDS`).
pub const FLAG_SAMEFIELDS: i64 = 2;

/// A stream entry ID `ms-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Makes an ID.
    pub const fn new(ms: u64, seq: u64) -> Self {
        Self { ms, seq }
    }

    /// The 16-byte big-endian form (`streamEncodeID`): node keys and PEL entries.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The two lens `ms`, `seq` used for stream metadata IDs.
    pub fn to_lens(self) -> Vec<u8> {
        let mut out = len(self.ms);
        out.extend(len(self.seq));
        out
    }
}

/// Builds one stream node listpack: the master entry (`count`, `deleted`, field count, master
/// fields, `0`), then each entry as `flags, ms-diff, seq-diff, [n_fields, field, value…] |
/// [values… when SAMEFIELDS], lp-count`. Field and value strings go through
/// [`Listpack::auto`], like `lpAppend`.
///
/// ```
/// use rdbscope_testwriter::stream::{StreamId, StreamNode};
/// let mut node = StreamNode::new(StreamId::new(1000, 0), ["f"]);
/// node.entry(StreamId::new(1000, 0), [("f", "v")]);
/// node.entry(StreamId::new(1001, 0), [("g", "w")]);
/// let lp = node.build();
/// // elements: master 5 (count, deleted, 1, "f", 0) + SAMEFIELDS entry 5 + full entry 7
/// assert_eq!(&lp[4..6], [17, 0]);
/// ```
#[derive(Debug, Clone)]
pub struct StreamNode {
    master_id: StreamId,
    master_fields: Vec<Vec<u8>>,
    entries: Listpack,
    live: u64,
    deleted: u64,
    counts_override: Option<(i64, i64)>,
    first_live: Option<StreamId>,
    last: Option<StreamId>,
}

impl StreamNode {
    /// Starts a node whose master ID is `master_id` (also its key in the file) and whose master
    /// entry lists `master_fields`.
    pub fn new<I, F>(master_id: StreamId, master_fields: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: AsRef<[u8]>,
    {
        Self {
            master_id,
            master_fields: master_fields
                .into_iter()
                .map(|f| f.as_ref().to_vec())
                .collect(),
            entries: Listpack::new(),
            live: 0,
            deleted: 0,
            counts_override: None,
            first_live: None,
            last: None,
        }
    }

    /// The node's master ID.
    pub fn master_id(&self) -> StreamId {
        self.master_id
    }

    /// Appends a live entry. When its field names equal the master fields (same order), it is
    /// written with SAMEFIELDS and only values; otherwise with all field/value pairs.
    pub fn entry<I, K, V>(&mut self, id: StreamId, fields: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        self.push_entry(id, fields, false)
    }

    /// Appends an entry flagged DELETED (counted in the master entry's `deleted`).
    pub fn deleted_entry<I, K, V>(&mut self, id: StreamId, fields: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        self.push_entry(id, fields, true)
    }

    fn push_entry<I, K, V>(&mut self, id: StreamId, fields: I, deleted: bool) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = fields
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_vec(), v.as_ref().to_vec()))
            .collect();
        let same = pairs.len() == self.master_fields.len()
            && pairs
                .iter()
                .zip(&self.master_fields)
                .all(|(p, m)| &p.0 == m);
        let mut flags = 0;
        if deleted {
            flags |= FLAG_DELETED;
        }
        if same {
            flags |= FLAG_SAMEFIELDS;
        }
        let lp = &mut self.entries;
        lp.int(flags);
        lp.int(id.ms.wrapping_sub(self.master_id.ms) as i64);
        lp.int(id.seq.wrapping_sub(self.master_id.seq) as i64);
        let n = pairs.len() as i64;
        if same {
            for (_, v) in &pairs {
                lp.auto(v);
            }
            lp.int(n + 3);
        } else {
            lp.int(n);
            for (k, v) in &pairs {
                lp.auto(k);
                lp.auto(v);
            }
            lp.int(2 * n + 4);
        }
        if deleted {
            self.deleted += 1;
        } else {
            self.live += 1;
            self.first_live.get_or_insert(id);
        }
        self.last = Some(id);
        self
    }

    /// Writes `count` and `deleted` in the master entry instead of the real numbers.
    pub fn with_master_counts(&mut self, count: i64, deleted: i64) -> &mut Self {
        self.counts_override = Some((count, deleted));
        self
    }

    /// Number of live (non-deleted) entries.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// Number of entries, live and deleted.
    pub fn total(&self) -> u64 {
        self.live + self.deleted
    }

    /// Returns the node listpack bytes.
    pub fn build(&self) -> Vec<u8> {
        self.listpack().build()
    }

    /// Returns the node as a [`Listpack`] builder (to append hostile bytes or override header).
    pub fn listpack(&self) -> Listpack {
        let (count, deleted) = self
            .counts_override
            .unwrap_or((self.live as i64, self.deleted as i64));
        let mut lp = Listpack::new();
        lp.int(count)
            .int(deleted)
            .int(self.master_fields.len() as i64);
        for f in &self.master_fields {
            lp.auto(f);
        }
        lp.int(0).append(&self.entries);
        lp
    }
}

/// A consumer of a consumer group.
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    name: Vec<u8>,
    seen_time: i64,
    active_time: Option<i64>,
    pending: Vec<StreamId>,
}

impl Consumer {
    /// Makes a consumer with its `seen_time` (ms); active time defaults to the seen time.
    pub fn new(name: impl AsRef<[u8]>, seen_time: i64) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            seen_time,
            ..Self::default()
        }
    }

    /// Sets the active time (ms), written for stream version 3 and later.
    pub fn active_time(mut self, t: i64) -> Self {
        self.active_time = Some(t);
        self
    }

    /// Adds an ID to the consumer's PEL (should also be in the group PEL).
    pub fn pending(mut self, id: StreamId) -> Self {
        self.pending.push(id);
        self
    }

    fn encode(&self, version: u8, out: &mut Vec<u8>) {
        out.extend(string(&self.name));
        out.extend(ms_time(self.seen_time));
        if version >= 3 {
            out.extend(ms_time(self.active_time.unwrap_or(self.seen_time)));
        }
        out.extend(len(self.pending.len() as u64));
        for id in &self.pending {
            out.extend(id.to_be_bytes());
        }
    }
}

/// A consumer group with its PEL and consumers.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    name: Vec<u8>,
    last_id: StreamId,
    entries_read: u64,
    pel: Vec<(StreamId, i64, u64)>,
    consumers: Vec<Consumer>,
}

impl ConsumerGroup {
    /// Makes a group with its last delivered ID; `entries_read` defaults to 0.
    pub fn new(name: impl AsRef<[u8]>, last_id: StreamId) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            last_id,
            ..Self::default()
        }
    }

    /// Sets `entries_read` (written for stream version 2 and later).
    pub fn entries_read(mut self, n: u64) -> Self {
        self.entries_read = n;
        self
    }

    /// Adds a PEL entry: ID, delivery time (ms) and delivery count.
    pub fn pending(mut self, id: StreamId, delivery_time: i64, delivery_count: u64) -> Self {
        self.pel.push((id, delivery_time, delivery_count));
        self
    }

    /// Adds a consumer.
    pub fn consumer(mut self, c: Consumer) -> Self {
        self.consumers.push(c);
        self
    }

    fn encode(&self, version: u8, out: &mut Vec<u8>) {
        out.extend(string(&self.name));
        out.extend(self.last_id.to_lens());
        if version >= 2 {
            out.extend(len(self.entries_read));
        }
        out.extend(len(self.pel.len() as u64));
        for (id, t, n) in &self.pel {
            out.extend(id.to_be_bytes());
            out.extend(ms_time(*t));
            out.extend(len(*n));
        }
        out.extend(len(self.consumers.len() as u64));
        for c in &self.consumers {
            c.encode(version, out);
        }
    }
}

/// One IDMP producer: its id and its `(iid, stream id)` entries.
#[derive(Debug, Clone, Default)]
pub struct IdmpProducer {
    /// `producer_id` string.
    pub id: Vec<u8>,
    /// Entries: idempotency id string and the stream ID it produced.
    pub entries: Vec<(Vec<u8>, StreamId)>,
}

/// The IDMP (idempotent XADD) trailer of version-4 streams; all zero/empty by default.
#[derive(Debug, Clone, Default)]
pub struct Idmp {
    /// `idmp_duration` in seconds.
    pub duration: u64,
    /// `idmp_max_entries`.
    pub max_entries: u64,
    /// Producers.
    pub producers: Vec<IdmpProducer>,
    /// `iids_added`.
    pub iids_added: u64,
    /// `iids_duplicates`.
    pub iids_duplicates: u64,
}

impl Idmp {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend(len(self.duration));
        out.extend(len(self.max_entries));
        out.extend(len(self.producers.len() as u64));
        for p in &self.producers {
            out.extend(string(&p.id));
            out.extend(len(p.entries.len() as u64));
            for (iid, id) in &p.entries {
                out.extend(string(iid));
                out.extend(id.to_lens());
            }
        }
        out.extend(len(self.iids_added));
        out.extend(len(self.iids_duplicates));
    }
}

/// Builds a whole stream value. Length, last ID, first ID and entries-added default to what
/// the added [`StreamNode`]s imply; setters override them (for inconsistent-stream tests).
///
/// ```
/// use rdbscope_testwriter::stream::{Stream, StreamId, StreamNode};
/// let mut node = StreamNode::new(StreamId::new(1, 0), ["f"]);
/// node.entry(StreamId::new(1, 0), [("f", "v")]);
/// let s = Stream::new(3).node(&node).build();
/// assert_eq!(Stream::type_byte(3), 21);
/// assert_eq!(s[0], 1); // one node
/// ```
#[derive(Debug, Clone)]
pub struct Stream {
    version: u8,
    nodes: Vec<u8>,
    n_nodes: u64,
    n_nodes_override: Option<u64>,
    length: u64,
    last_id: StreamId,
    first_id: Option<StreamId>,
    entries_added: u64,
    max_deleted_id: StreamId,
    length_override: Option<u64>,
    last_override: Option<StreamId>,
    first_override: Option<StreamId>,
    added_override: Option<u64>,
    groups: Vec<ConsumerGroup>,
    idmp: Idmp,
}

impl Stream {
    /// Starts a stream value of format version 1..=4 (types 15, 19, 21, 26).
    ///
    /// # Panics
    /// Panics for other versions.
    pub fn new(version: u8) -> Self {
        assert!((1..=4).contains(&version), "stream version must be 1..=4");
        Self {
            version,
            nodes: Vec::new(),
            n_nodes: 0,
            n_nodes_override: None,
            length: 0,
            last_id: StreamId::default(),
            first_id: None,
            entries_added: 0,
            max_deleted_id: StreamId::default(),
            length_override: None,
            last_override: None,
            first_override: None,
            added_override: None,
            groups: Vec::new(),
            idmp: Idmp::default(),
        }
    }

    /// The object type byte for a stream format version (15, 19, 21, 26).
    ///
    /// # Panics
    /// Panics for versions other than 1..=4.
    pub fn type_byte(version: u8) -> u8 {
        match version {
            1 => 15,
            2 => 19,
            3 => 21,
            4 => 26,
            _ => panic!("stream version must be 1..=4"),
        }
    }

    /// Adds a node: key string (16-byte master ID) and plain listpack string. Updates the
    /// implied length, last ID, first ID and entries-added.
    pub fn node(&mut self, node: &StreamNode) -> &mut Self {
        self.length += node.live;
        self.entries_added += node.total();
        if let Some(last) = node.last {
            self.last_id = self.last_id.max(last);
        }
        if let Some(first) = node.first_live {
            self.first_id = Some(self.first_id.map_or(first, |f| f.min(first)));
        }
        self.node_raw(&string(node.master_id.to_be_bytes()), &string(node.build()))
    }

    /// Adds a node from already encoded RDB strings (e.g. an LZF listpack, a 15-byte key, a
    /// hand-made listpack); implied metadata is not updated.
    pub fn node_raw(&mut self, key_encoded: &[u8], listpack_encoded: &[u8]) -> &mut Self {
        self.nodes.extend_from_slice(key_encoded);
        self.nodes.extend_from_slice(listpack_encoded);
        self.n_nodes += 1;
        self
    }

    /// Writes `n` as the node count instead of the number of nodes added.
    pub fn with_node_count(&mut self, n: u64) -> &mut Self {
        self.n_nodes_override = Some(n);
        self
    }

    /// Sets the stream length (live entries).
    pub fn length(&mut self, n: u64) -> &mut Self {
        self.length_override = Some(n);
        self
    }

    /// Sets the last ID.
    pub fn last_id(&mut self, id: StreamId) -> &mut Self {
        self.last_override = Some(id);
        self
    }

    /// Sets the first ID (v2+; default: smallest live entry, or 0-0).
    pub fn first_id(&mut self, id: StreamId) -> &mut Self {
        self.first_override = Some(id);
        self
    }

    /// Sets the max deleted entry ID (v2+; default 0-0).
    pub fn max_deleted_id(&mut self, id: StreamId) -> &mut Self {
        self.max_deleted_id = id;
        self
    }

    /// Sets entries-added (v2+; default: all entries of the added nodes, deleted included).
    pub fn entries_added(&mut self, n: u64) -> &mut Self {
        self.added_override = Some(n);
        self
    }

    /// Adds a consumer group.
    pub fn group(&mut self, g: ConsumerGroup) -> &mut Self {
        self.groups.push(g);
        self
    }

    /// Sets the v4 IDMP trailer (ignored for versions 1..=3).
    pub fn idmp(&mut self, idmp: Idmp) -> &mut Self {
        self.idmp = idmp;
        self
    }

    /// Returns the value bytes (without type byte and key).
    pub fn build(&self) -> Vec<u8> {
        let mut out = len(self.n_nodes_override.unwrap_or(self.n_nodes));
        out.extend_from_slice(&self.nodes);
        out.extend(len(self.length_override.unwrap_or(self.length)));
        out.extend(self.last_override.unwrap_or(self.last_id).to_lens());
        if self.version >= 2 {
            let first = self.first_override.or(self.first_id).unwrap_or_default();
            out.extend(first.to_lens());
            out.extend(self.max_deleted_id.to_lens());
            out.extend(len(self.added_override.unwrap_or(self.entries_added)));
        }
        out.extend(len(self.groups.len() as u64));
        for g in &self.groups {
            g.encode(self.version, &mut out);
        }
        if self.version >= 4 {
            self.idmp.encode(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_node_listpack_matches_hand_layout() {
        let mut node = StreamNode::new(StreamId::new(1000, 5), ["f"]);
        node.entry(StreamId::new(1000, 5), [("f", "v")]);
        node.entry(StreamId::new(1002, 0), [("g", "7")]);
        let want = {
            let mut lp = Listpack::new();
            // master: count 2, deleted 0, 1 field, "f", 0
            lp.int(2).int(0).int(1).str("f").int(0);
            // entry 1: SAMEFIELDS, diff 0/0, value "v", lp-count 1 + 3
            lp.int(2).int(0).int(0).str("v").int(4);
            // entry 2: flags 0, ms diff 2, seq diff -5, 1 field, "g", 7, lp-count 2 + 4
            lp.int(0).int(2).int(-5).int(1).str("g").int(7).int(6);
            lp.build()
        };
        assert_eq!(node.build(), want);
    }

    #[test]
    fn stream_node_deleted_entry_counts_in_master() {
        let mut node = StreamNode::new(StreamId::new(1, 0), ["a"]);
        node.deleted_entry(StreamId::new(1, 0), [("a", "x")]);
        let lp = node.build();
        // master count 0 (7-bit int 0), deleted 1, 1 field
        assert_eq!(&lp[6..12], [0, 1, 1, 1, 1, 1]);
        // "a" (3 bytes), terminator 0 (2 bytes), then flags = DELETED | SAMEFIELDS = 3
        assert_eq!(lp[17], 3);
    }
    #[test]
    fn stream_v3_with_group_matches_hand_bytes() {
        let mut node = StreamNode::new(StreamId::new(1, 0), ["f"]);
        node.entry(StreamId::new(1, 0), [("f", "v")]);
        let id = StreamId::new(1, 0);
        let s = Stream::new(3)
            .node(&node)
            .group(
                ConsumerGroup::new("g", id)
                    .entries_read(1)
                    .pending(id, 10, 2)
                    .consumer(Consumer::new("c", 11).active_time(12).pending(id)),
            )
            .build();
        let lp = node.build();
        let mut want = vec![1, 16];
        want.extend(id.to_be_bytes());
        want.push(lp.len() as u8);
        want.extend(&lp);
        want.extend([1, 1, 0]); // length 1, last id 1-0
        want.extend([1, 0, 0, 0, 1]); // first 1-0, max deleted 0-0, added 1
        want.extend([1, 1, b'g', 1, 0, 1]); // 1 group "g", last 1-0, entries_read 1
        want.push(1);
        want.extend(id.to_be_bytes());
        want.extend(10i64.to_le_bytes());
        want.push(2);
        want.extend([1, 1, b'c']);
        want.extend(11i64.to_le_bytes());
        want.extend(12i64.to_le_bytes());
        want.push(1);
        want.extend(id.to_be_bytes());
        assert_eq!(s, want);
    }

    #[test]
    fn stream_v1_omits_v2_fields_and_active_time() {
        let s = Stream::new(1)
            .group(ConsumerGroup::new("g", StreamId::new(0, 0)).consumer(Consumer::new("c", 5)))
            .build();
        let mut want = vec![0, 0, 0, 0, 1, 1, b'g', 0, 0, 0, 1, 1, b'c'];
        want.extend(5i64.to_le_bytes());
        want.push(0);
        assert_eq!(s, want);
    }

    #[test]
    fn stream_v4_appends_idmp_trailer() {
        let s = Stream::new(4)
            .idmp(Idmp {
                duration: 100,
                max_entries: 10,
                producers: vec![IdmpProducer {
                    id: b"p".to_vec(),
                    entries: vec![(b"i".to_vec(), StreamId::new(3, 4))],
                }],
                iids_added: 1,
                iids_duplicates: 0,
            })
            .build();
        let want = [
            0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, // nodes, length, last, first, max deleted, added, groups
            0x40, 100, 10, 1, 1, b'p', 1, 1, b'i', 3, 4, 1, 0,
        ];
        assert_eq!(s, want);
    }
}
