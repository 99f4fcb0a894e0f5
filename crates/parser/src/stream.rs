//! Streams (`RDB_TYPE_STREAM_LISTPACKS` 1 to 5): the radix-tree nodes with their listpacks,
//! the stream metadata, consumer groups with their pending entries (PEL) and consumers, and
//! Redis 8.6's IDMP state (`rdbSaveObject` stream branch, `rdbSaveStreamPEL`,
//! `rdbSaveStreamConsumers`).

use crate::error::{Error, ErrorKind, Result};
use crate::reader::Cursor;
use crate::string::RdbStr;

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Decodes the 16-byte big-endian form used for node keys and PEL entries.
    pub fn from_be(b: [u8; 16]) -> Self {
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Summary of a stream value, read in one pass; nodes and groups can be walked again.
#[derive(Debug, Clone, Copy)]
pub struct Stream<'a> {
    /// Layout version: 1 (type 15) to 5 (type 27).
    pub version: u8,
    /// Number of radix-tree nodes (listpacks).
    pub nodes: u64,
    nodes_span: Cursor<'a>,
    /// Number of live entries (`XLEN`).
    pub length: u64,
    /// Last generated ID.
    pub last_id: StreamId,
    /// First entry ID (v2+).
    pub first_id: Option<StreamId>,
    /// Maximal deleted entry ID (v2+).
    pub max_deleted_id: Option<StreamId>,
    /// Entries ever added (v2+).
    pub entries_added: Option<u64>,
    /// Number of consumer groups.
    pub groups: u64,
    groups_span: Cursor<'a>,
    /// Pending entries over all groups.
    pub pel_total: u64,
    /// Consumers over all groups.
    pub consumers_total: u64,
    /// The largest PEL of one group.
    pub max_group_pel: u64,
    /// The oldest delivery time (ms) of any pending entry.
    pub oldest_pending_ms: Option<i64>,
    /// Redis 8.6 IDMP state (v4+).
    pub idmp: Option<Idmp>,
    /// Where the IDMP producers start (v4+).
    idmp_span: Option<Cursor<'a>>,
}

/// Redis 8.6 idempotent-producer (IDMP) state of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Idmp {
    /// IDMP-DURATION in seconds.
    pub duration: u64,
    /// IDMP-MAXSIZE.
    pub max_entries: u64,
    /// Number of producers tracked.
    pub producers: u64,
    /// Number of idempotency ids tracked over all producers.
    pub iids: u64,
    /// Bytes of producer and iid strings.
    pub iid_bytes: u64,
    /// iids-added counter.
    pub iids_added: u64,
    /// iids-duplicates counter.
    pub iids_duplicates: u64,
}

/// One radix-tree node: its master ID and its listpack.
#[derive(Debug, Clone, Copy)]
pub struct StreamNode<'a> {
    /// The 16-byte node key (master entry ID, big-endian).
    pub master_key: RdbStr<'a>,
    /// The node's listpack.
    pub listpack: RdbStr<'a>,
}

/// One consumer group.
#[derive(Debug, Clone, Copy)]
pub struct Group<'a> {
    /// Group name.
    pub name: RdbStr<'a>,
    /// Last delivered ID.
    pub last_id: StreamId,
    /// entries-read (v2+).
    pub entries_read: Option<u64>,
    /// Pending entries.
    pub pel: u64,
    pel_span: Cursor<'a>,
    /// Consumers.
    pub consumers: u64,
    consumers_span: Cursor<'a>,
    /// NACKed entries (v5).
    pub nacked: u64,
    version: u8,
}

/// A pending entry of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingEntry {
    /// Entry ID.
    pub id: StreamId,
    /// Last delivery time, ms.
    pub delivery_time_ms: i64,
    /// Delivery count.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, Copy)]
pub struct Consumer<'a> {
    /// Consumer name.
    pub name: RdbStr<'a>,
    /// seen-time, ms.
    pub seen_time_ms: i64,
    /// active-time, ms (v3+; earlier files: equal to seen-time as the loader sets it).
    pub active_time_ms: i64,
    /// Pending entries owned by this consumer.
    pub pel: u64,
    pel_span: Cursor<'a>,
}

fn id_pair(c: &mut Cursor<'_>, what: &'static str) -> Result<StreamId> {
    Ok(StreamId {
        ms: c.len(what)?,
        seq: c.len(what)?,
    })
}

fn raw_id(c: &mut Cursor<'_>) -> Result<StreamId> {
    Ok(StreamId::from_be(c.array("stream ID")?))
}

impl<'a> Stream<'a> {
    /// Reads a stream value of layout `version` at the cursor, leaving it after the value.
    pub(crate) fn read(c: &mut Cursor<'a>, version: u8) -> Result<Stream<'a>> {
        let nodes = c.count("stream node count", 2)?;
        let nodes_span = *c;
        for _ in 0..nodes {
            c.skip_string("stream node key")?;
            c.skip_string("stream node listpack")?;
        }
        let length = c.len("stream length")?;
        let last_id = id_pair(c, "stream last ID")?;
        let (mut first_id, mut max_deleted_id, mut entries_added) = (None, None, None);
        if version >= 2 {
            first_id = Some(id_pair(c, "stream first ID")?);
            max_deleted_id = Some(id_pair(c, "stream max deleted ID")?);
            entries_added = Some(c.len("stream entries added")?);
        }
        let groups = c.count("stream group count", 4)?;
        let groups_span = *c;
        let mut s = Stream {
            version,
            nodes,
            nodes_span,
            length,
            last_id,
            first_id,
            max_deleted_id,
            entries_added,
            groups,
            groups_span,
            pel_total: 0,
            consumers_total: 0,
            max_group_pel: 0,
            oldest_pending_ms: None,
            idmp: None,
            idmp_span: None,
        };
        for _ in 0..groups {
            let g = Group::read(c, version)?;
            s.pel_total += g.pel;
            s.consumers_total += g.consumers;
            s.max_group_pel = s.max_group_pel.max(g.pel);
            let mut pc = g.pel_span;
            for _ in 0..g.pel {
                let e = read_pending(&mut pc)?;
                s.oldest_pending_ms = Some(
                    s.oldest_pending_ms
                        .map_or(e.delivery_time_ms, |o| o.min(e.delivery_time_ms)),
                );
            }
        }
        if version >= 4 {
            let mut idmp = Idmp {
                duration: c.len("IDMP duration")?,
                max_entries: c.len("IDMP max entries")?,
                ..Idmp::default()
            };
            idmp.producers = c.count("IDMP producer count", 2)?;
            s.idmp_span = Some(*c);
            walk_idmp(c, idmp.producers, |item| {
                match item {
                    IdmpItem::Producer { id, iids } => {
                        idmp.iid_bytes += id.len();
                        idmp.iids += iids;
                    }
                    IdmpItem::Iid(iid) => idmp.iid_bytes += iid.len(),
                }
                Ok(())
            })?;
            idmp.iids_added = c.len("IDMP iids added")?;
            idmp.iids_duplicates = c.len("IDMP iids duplicates")?;
            s.idmp = Some(idmp);
        }
        Ok(s)
    }

    /// Walks the radix-tree nodes in file order.
    pub fn for_each_node(&self, mut f: impl FnMut(StreamNode<'a>) -> Result<()>) -> Result<()> {
        let mut c = self.nodes_span;
        for _ in 0..self.nodes {
            let at = c.offset();
            let master_key = c.string("stream node key")?;
            if master_key.len() != 16 {
                return Err(Error::new(
                    at,
                    ErrorKind::Invalid("expected a 16-byte stream node key"),
                ));
            }
            let listpack = c.string("stream node listpack")?;
            f(StreamNode {
                master_key,
                listpack,
            })?;
        }
        Ok(())
    }

    /// Walks the consumer groups in file order.
    pub fn for_each_group(&self, mut f: impl FnMut(Group<'a>) -> Result<()>) -> Result<()> {
        let mut c = self.groups_span;
        for _ in 0..self.groups {
            f(Group::read(&mut c, self.version)?)?;
        }
        Ok(())
    }

    /// Walks the idempotency ids of the IDMP state (Redis 8.6, v4+) in file order, producer
    /// by producer; nothing for earlier versions.
    pub fn for_each_idmp_iid(&self, mut f: impl FnMut(RdbStr<'a>) -> Result<()>) -> Result<()> {
        let (Some(idmp), Some(mut c)) = (self.idmp, self.idmp_span) else {
            return Ok(());
        };
        walk_idmp(&mut c, idmp.producers, |item| match item {
            IdmpItem::Iid(iid) => f(iid),
            IdmpItem::Producer { .. } => Ok(()),
        })
    }
}

/// One item of a v4 stream's IDMP producers, in file order.
enum IdmpItem<'a> {
    /// A producer id and the number of iids that follow it.
    Producer { id: RdbStr<'a>, iids: u64 },
    /// One tracked idempotency id.
    Iid(RdbStr<'a>),
}

/// Reads `producers` IDMP producers at the cursor, each with its iids and their stream IDs.
fn walk_idmp<'a>(
    c: &mut Cursor<'a>,
    producers: u64,
    mut f: impl FnMut(IdmpItem<'a>) -> Result<()>,
) -> Result<()> {
    for _ in 0..producers {
        let id = c.string("IDMP producer id")?;
        let iids = c.count("IDMP entry count", 3)?;
        f(IdmpItem::Producer { id, iids })?;
        for _ in 0..iids {
            f(IdmpItem::Iid(c.string("IDMP iid")?))?;
            id_pair(c, "IDMP entry ID")?;
        }
    }
    Ok(())
}

fn read_pending(c: &mut Cursor<'_>) -> Result<PendingEntry> {
    Ok(PendingEntry {
        id: raw_id(c)?,
        delivery_time_ms: c.i64_le("PEL delivery time")?,
        delivery_count: c.len("PEL delivery count")?,
    })
}

impl<'a> Group<'a> {
    fn read(c: &mut Cursor<'a>, version: u8) -> Result<Group<'a>> {
        let name = c.string("group name")?;
        let last_id = id_pair(c, "group last ID")?;
        let entries_read = if version >= 2 {
            Some(c.len("group entries read")?)
        } else {
            None
        };
        let pel = c.count("group PEL size", 25)?;
        let pel_span = *c;
        for _ in 0..pel {
            read_pending(c)?;
        }
        let consumers = c.count("consumer count", 10)?;
        let consumers_span = *c;
        for _ in 0..consumers {
            Consumer::read(c, version)?;
        }
        let mut nacked = 0;
        if version >= 5 {
            nacked = c.count("NACK count", 16)?;
            c.bytes(nacked as usize * 16, "NACK IDs")?;
        }
        Ok(Group {
            name,
            last_id,
            entries_read,
            pel,
            pel_span,
            consumers,
            consumers_span,
            nacked,
            version,
        })
    }

    /// Walks the group's pending entries in file order.
    pub fn for_each_pending(&self, mut f: impl FnMut(PendingEntry) -> Result<()>) -> Result<()> {
        let mut c = self.pel_span;
        for _ in 0..self.pel {
            f(read_pending(&mut c)?)?;
        }
        Ok(())
    }

    /// Walks the group's consumers in file order.
    pub fn for_each_consumer(&self, mut f: impl FnMut(Consumer<'a>) -> Result<()>) -> Result<()> {
        let mut c = self.consumers_span;
        for _ in 0..self.consumers {
            f(Consumer::read(&mut c, self.version)?)?;
        }
        Ok(())
    }
}

impl<'a> Consumer<'a> {
    fn read(c: &mut Cursor<'a>, version: u8) -> Result<Consumer<'a>> {
        let name = c.string("consumer name")?;
        let seen_time_ms = c.i64_le("consumer seen time")?;
        let active_time_ms = if version >= 3 {
            c.i64_le("consumer active time")?
        } else {
            seen_time_ms
        };
        let pel = c.count("consumer PEL size", 16)?;
        let pel_span = *c;
        c.bytes(pel as usize * 16, "consumer PEL")?;
        Ok(Consumer {
            name,
            seen_time_ms,
            active_time_ms,
            pel,
            pel_span,
        })
    }

    /// Walks the IDs this consumer owns.
    pub fn for_each_pending_id(&self, mut f: impl FnMut(StreamId) -> Result<()>) -> Result<()> {
        let mut c = self.pel_span;
        for _ in 0..self.pel {
            f(raw_id(&mut c)?)?;
        }
        Ok(())
    }
}
