//! The record iterator: frames the file into top-level records, skipping value payloads by
//! their lengths, without decoding them.

use crate::error::{Error, ErrorKind, Result};
use crate::format::{parse_header, Dialect, Header, Opcode, ValueKind, ValueType};
use crate::module::{skip_opcode_stream, ModuleId};
use crate::reader::Cursor;
use crate::salvage::Resync;
use crate::stream::Stream;
use crate::string::RdbStr;
use crate::value::Value;

/// A top-level item of an RDB file.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Record<'a> {
    /// `AUX` field (`redis-ver`, `ctime`, `used-mem`, …).
    Aux {
        /// Field name.
        key: RdbStr<'a>,
        /// Field value.
        value: RdbStr<'a>,
        /// Offset of the opcode.
        offset: u64,
    },
    /// `SELECTDB`.
    SelectDb {
        /// Database index.
        db: u64,
        /// Offset of the opcode.
        offset: u64,
    },
    /// `RESIZEDB` sizing hints.
    ResizeDb {
        /// Keys in the database (expired ones included).
        db_size: u64,
        /// Keys with a TTL.
        expires_size: u64,
        /// Offset of the opcode.
        offset: u64,
    },
    /// Redis cluster `SLOT_INFO`.
    SlotInfo {
        /// Slot number.
        slot: u64,
        /// Keys in the slot.
        size: u64,
        /// Keys with a TTL in the slot.
        expires_size: u64,
        /// Offset of the opcode.
        offset: u64,
    },
    /// `FUNCTION2`: a function library's source code.
    Function {
        /// The library code, starting with a `#!engine name=...` line.
        code: RdbStr<'a>,
        /// Offset of the opcode.
        offset: u64,
    },
    /// `MODULE_AUX`: module-global data.
    ModuleAux {
        /// The module type id.
        module: ModuleId,
        /// 1 = before keys, 2 = after keys.
        when: u64,
        /// Bytes of the opcode stream.
        size: u64,
        /// Offset of the opcode.
        offset: u64,
    },
    /// Valkey `SLOT_IMPORT` state, skipped.
    SlotImport {
        /// Bytes of the record.
        size: u64,
        /// Offset of the opcode.
        offset: u64,
    },
    /// A key and its value.
    Key(KeyRecord<'a>),
    /// Dragonfly: a compressed frame whose contents are more top-level records (parse them
    /// with [`Records::resume`] and the current [`ParserState`]).
    CompressedBlob {
        /// The frame's codec.
        codec: BlobCodec,
        /// The compressed frame.
        data: &'a [u8],
        /// Offset of the opcode.
        offset: u64,
    },
    /// Dragonfly: one chunk of a key record split across flushes; chunks with the same
    /// `stream_id` concatenate to one record.
    TaggedChunk {
        /// The chunk stream (one key being serialised).
        stream_id: u32,
        /// The chunk's bytes.
        data: &'a [u8],
        /// Offset of the opcode.
        offset: u64,
    },
    /// `--salvage`: a damaged region skipped, from the record that could not be read to
    /// the next offset where records could be read again. A region scanned over several
    /// windows of a stream comes in pieces with the same `start`, each but the last with
    /// [`Resync::More`].
    Skipped {
        /// Offset of the record that could not be read.
        start: u64,
        /// Offset where reading resumes.
        end: u64,
        /// What was wrong at `start`.
        error: Error,
        /// Why reading resumes at `end`.
        resync: Resync,
    },
    /// The `EOF` opcode and the checksum trailer.
    Eof {
        /// Offset of the `EOF` opcode.
        offset: u64,
        /// The stored CRC-64 (`None` for RDB < 5; `Some(0)` means checksum disabled).
        stored_checksum: Option<u64>,
        /// Offset just after the trailer: where an AOF tail would start.
        end: u64,
    },
}

/// Codec of a Dragonfly compressed blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobCodec {
    /// One zstd frame (opcode 201).
    Zstd,
    /// One LZ4 frame (opcode 202).
    Lz4,
}

/// A key record: the key, its attributes and a lazy view of its value.
#[derive(Debug, Clone, Copy)]
pub struct KeyRecord<'a> {
    /// Database index.
    pub db: u64,
    /// The key name.
    pub key: RdbStr<'a>,
    /// Absolute expire time in ms, if any.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds (`IDLE` opcode), if present.
    pub idle: Option<u64>,
    /// LFU counter (`FREQ` opcode), if present.
    pub freq: Option<u8>,
    /// Redis 8.6 `KEY_META`: number of metadata classes and their bytes.
    pub meta: Option<KeyMeta>,
    /// Offset of the record's first byte (its first attribute opcode, or its type byte).
    pub offset: u64,
    /// Bytes of the whole record, attributes included.
    pub size: u64,
    /// The value.
    pub value: Value<'a>,
}

/// Key metadata (Redis 8.6 `KEY_META`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyMeta {
    /// Number of metadata classes.
    pub classes: u64,
    /// Bytes of the metadata in the file.
    pub size: u64,
}

/// Where a record iterator stands: enough to resume it over a later window of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserState {
    /// The file header.
    pub header: Header,
    /// The current database.
    pub db: u64,
    /// Whether `EOF` has been read.
    pub done: bool,
    /// Whether the file was written by Dragonfly (a `df-ver` AUX field was seen), which
    /// enables its extension types.
    pub dragonfly: bool,
    /// Whether to scan past damage for the next readable record ([`Records::salvage`]).
    pub salvage: bool,
    /// Inside a damaged region being scanned: where it began, and the error found there.
    pub resync: Option<(u64, Error)>,
}

/// A fallible pull iterator over the records of an RDB file held in memory.
///
/// ```
/// # use rdbscope_parser::{Records, Record};
/// // An empty RDB 3 file: magic, EOF (no checksum before RDB 5).
/// let file = b"REDIS0003\xff";
/// let mut recs = Records::new(file).unwrap();
/// assert!(matches!(recs.next(), Some(Ok(Record::Eof { .. }))));
/// assert!(recs.next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Records<'a> {
    pub(crate) c: Cursor<'a>,
    pub(crate) state: ParserState,
    pub(crate) failed: bool,
    /// Whether the window ends where the input ends (an error at its end is then damage,
    /// not a call for more bytes).
    pub(crate) last_window: bool,
}

impl<'a> Records<'a> {
    /// Reads the header and starts iterating after it.
    ///
    /// # Errors
    /// A bad magic or an unsupported version.
    pub fn new(data: &'a [u8]) -> Result<Self> {
        let header = parse_header(data)?;
        let mut c = Cursor::new(data, 0);
        c.pos = Header::LEN;
        Ok(Records {
            c,
            state: ParserState {
                header,
                db: 0,
                done: false,
                dragonfly: false,
                salvage: false,
                resync: None,
            },
            failed: false,
            last_window: true,
        })
    }

    /// Continues from `state` over `data`, whose first byte is at absolute offset `base` and
    /// starts a record.
    pub fn resume(data: &'a [u8], base: u64, state: ParserState) -> Self {
        Records {
            c: Cursor::new(data, base),
            state,
            failed: false,
            last_window: true,
        }
    }

    /// The file header.
    pub fn header(&self) -> Header {
        self.state.header
    }

    /// The current state, for [`Records::resume`].
    pub fn state(&self) -> ParserState {
        self.state
    }

    /// Absolute offset of the next record.
    pub fn offset(&self) -> u64 {
        self.c.offset()
    }

    /// Replaces the state (after records read from a nested window, such as a Dragonfly
    /// compressed blob, changed the database).
    pub fn set_state(&mut self, state: ParserState) {
        self.state = state;
    }

    /// Bytes of the current window not consumed yet.
    pub fn remaining(&self) -> usize {
        self.c.remaining()
    }

    pub(crate) fn read(&mut self) -> Result<Record<'a>> {
        let mut c = self.c;
        let dialect = self.state.header.dialect;
        let version = self.state.header.version;
        let start = c.offset();
        let (mut expire_ms, mut idle, mut freq, mut meta) = (None, None, None, None);
        loop {
            let at = c.offset();
            let op = c.u8("opcode")?;
            let rec = match Opcode(op) {
                Opcode::EOF => {
                    let stored = if self.state.header.has_checksum() {
                        Some(u64::from_le_bytes(c.array("CRC-64 trailer")?))
                    } else {
                        None
                    };
                    self.state.done = true;
                    Record::Eof {
                        offset: at,
                        stored_checksum: stored,
                        end: c.offset(),
                    }
                }
                Opcode::SELECTDB => {
                    let db = c.len("database number")?;
                    self.state.db = db;
                    Record::SelectDb { db, offset: at }
                }
                Opcode::EXPIRETIME => {
                    expire_ms = Some(i64::from(c.i32_le("expire time")?) * 1000);
                    continue;
                }
                Opcode::EXPIRETIME_MS => {
                    expire_ms = Some(c.i64_le("expire time")?);
                    continue;
                }
                Opcode::RESIZEDB => Record::ResizeDb {
                    db_size: c.len("RESIZEDB size")?,
                    expires_size: c.len("RESIZEDB expires size")?,
                    offset: at,
                },
                Opcode::AUX => {
                    let (key, value) = (c.string("AUX key")?, c.string("AUX value")?);
                    if expire_ms.is_some() || idle.is_some() || freq.is_some() || meta.is_some() {
                        // KeyDB writes a per-key `mvcc-tstamp` AUX between a key's attributes
                        // and its type byte; the loaders keep pending attributes across it.
                        continue;
                    }
                    if key.as_raw() == Some(b"df-ver") {
                        self.state.dragonfly = true;
                    }
                    Record::Aux {
                        key,
                        value,
                        offset: at,
                    }
                }
                Opcode::IDLE if version >= 9 => {
                    idle = Some(c.len("LRU idle time")?);
                    continue;
                }
                Opcode::FREQ if version >= 9 => {
                    freq = Some(c.u8("LFU frequency")?);
                    continue;
                }
                Opcode::MODULE_AUX if version >= 9 => {
                    let module = ModuleId(c.len("module id")?);
                    let when_op = c.len("module aux when opcode")?;
                    if when_op != 2 {
                        return Err(Error::new(
                            at,
                            ErrorKind::Invalid("expected module aux 'when' to be a UINT"),
                        ));
                    }
                    let when = c.len("module aux when")?;
                    let s = c.offset();
                    skip_opcode_stream(&mut c)?;
                    Record::ModuleAux {
                        module,
                        when,
                        size: c.offset() - s,
                        offset: at,
                    }
                }
                Opcode::FUNCTION_PRE_GA if version >= 10 => {
                    // Redis 7.0-rc1/rc2 (`rdbFunctionLoad` before GA): name, engine,
                    // has-description flag, [description], code.
                    c.skip_string("function name")?;
                    c.skip_string("function engine")?;
                    if c.len("function description flag")? != 0 {
                        c.skip_string("function description")?;
                    }
                    Record::Function {
                        code: c.string("function code")?,
                        offset: at,
                    }
                }
                Opcode(201) | Opcode(202) if self.state.dragonfly => {
                    // COMPRESSED_ZSTD/LZ4_BLOB_START: one frame holding top-level records.
                    let n = c.len("Dragonfly compressed blob length")?;
                    let data = c.declared(n, "Dragonfly compressed blob")?;
                    let codec = if op == 201 {
                        BlobCodec::Zstd
                    } else {
                        BlobCodec::Lz4
                    };
                    Record::CompressedBlob {
                        codec,
                        data,
                        offset: at,
                    }
                }
                Opcode(224) if self.state.dragonfly => {
                    // TAGGED_CHUNK: part of one key's record, to be joined per stream id.
                    let stream_id = u32::from_le_bytes(c.array("Dragonfly chunk stream id")?);
                    let n = u32::from_le_bytes(c.array("Dragonfly chunk length")?);
                    let data = c.declared(u64::from(n), "Dragonfly chunk")?;
                    Record::TaggedChunk {
                        stream_id,
                        data,
                        offset: at,
                    }
                }
                Opcode(222) if self.state.dragonfly => {
                    // VECTOR_INDEX: name, entry point, then per node: internal id (u32),
                    // global id (u64), level (u32), and (level + 1) link lists.
                    c.skip_string("Dragonfly vector index name")?;
                    c.len("Dragonfly vector index entry point")?;
                    let n = c.count("Dragonfly vector index nodes", 20)?;
                    for _ in 0..n {
                        c.bytes(12, "Dragonfly vector node ids")?;
                        let level = u32::from_le_bytes(c.array("Dragonfly vector node level")?);
                        for _ in 0..=u64::from(level) {
                            let k = u32::from_le_bytes(c.array("Dragonfly vector link count")?);
                            c.declared(u64::from(k) * 4, "Dragonfly vector links")?;
                        }
                    }
                    continue;
                }
                Opcode(200) if self.state.dragonfly => {
                    c.bytes(8, "Dragonfly FULLSYNC_END")?;
                    continue;
                }
                Opcode(210) if self.state.dragonfly => {
                    c.len("Dragonfly journal entry count")?;
                    c.skip_string("Dragonfly journal blob")?;
                    continue;
                }
                Opcode(211) if self.state.dragonfly => {
                    c.bytes(8, "Dragonfly journal offset")?;
                    continue;
                }
                Opcode(220) if self.state.dragonfly => {
                    // DF_MASK: a key attribute (u32 flags; a second u32 of memcached flags
                    // when bit 1 is set).
                    let flags = u32::from_le_bytes(c.array("Dragonfly key flags")?);
                    if flags & 2 != 0 {
                        c.bytes(4, "Dragonfly memcached flags")?;
                    }
                    continue;
                }
                Opcode(223) if self.state.dragonfly => {
                    c.len("Dragonfly shard id")?;
                    c.skip_string("Dragonfly index name")?;
                    let m = c.count("Dragonfly index entries", 2)?;
                    for _ in 0..m {
                        c.skip_string("Dragonfly index key")?;
                        c.len("Dragonfly document id")?;
                    }
                    continue;
                }
                Opcode::RAM_LRU_ENTERPRISE => {
                    // Redis Enterprise writes a per-key RAM-LRU attribute (opcode 107, one
                    // length) before keys; open-source servers ignore it, and so do we.
                    c.len("Redis Enterprise RAM-LRU attribute")?;
                    continue;
                }
                Opcode::FUNCTION2 if version >= 10 => Record::Function {
                    code: c.string("function library")?,
                    offset: at,
                },
                Opcode::SLOT_INFO if version >= 12 => Record::SlotInfo {
                    slot: c.len("slot id")?,
                    size: c.len("slot size")?,
                    expires_size: c.len("slot expires size")?,
                    offset: at,
                },
                Opcode::OP_243 if dialect == Dialect::Redis && version >= 13 => {
                    let s = c.offset();
                    let classes = c.count("key metadata class count", 5)?;
                    for _ in 0..classes {
                        c.bytes(4, "key metadata class spec")?;
                        skip_opcode_stream(&mut c)?;
                    }
                    meta = Some(KeyMeta {
                        classes,
                        size: c.offset() - s,
                    });
                    continue;
                }
                Opcode::OP_243 if dialect == Dialect::Valkey => {
                    crate::valkey::skip_slot_import(&mut c)?;
                    Record::SlotImport {
                        size: c.offset() - at,
                        offset: at,
                    }
                }
                _ => {
                    let vt = ValueType(op);
                    let kind = match (op, self.state.dragonfly) {
                        (30, true) => Some(ValueKind::DragonflyJson),
                        (31, true) => Some(ValueKind::DragonflyHashWithExpiry),
                        (32, true) => Some(ValueKind::DragonflySetWithExpiry),
                        (33, true) => Some(ValueKind::DragonflySbf),
                        (34, true) => Some(ValueKind::DragonflySbf2),
                        (35, true) => Some(ValueKind::DragonflyCms),
                        (36, true) => Some(ValueKind::DragonflyTopk),
                        (37, true) => Some(ValueKind::DragonflyCuckoo),
                        _ => ValueKind::resolve(vt, dialect),
                    };
                    let Some(kind) = kind else {
                        return Err(Error::new(at, foreign_code(op)));
                    };
                    let key = c.string("key")?;
                    let voff = c.offset();
                    let vstart = c.pos;
                    skip_value(&mut c, kind)?;
                    let value = Value::new(kind, vt, voff, &c.data[vstart..c.pos]);
                    Record::Key(KeyRecord {
                        db: self.state.db,
                        key,
                        expire_ms,
                        idle,
                        freq,
                        meta,
                        offset: start,
                        size: c.offset() - start,
                        value,
                    })
                }
            };
            self.c = c;
            return Ok(rec);
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.state.done {
            return None;
        }
        if let Some((from, error)) = self.state.resync {
            return Some(self.scan(from, error));
        }
        let r = if self.c.remaining() == 0 {
            Err(self.c.err(ErrorKind::UnexpectedEof {
                what: "EOF opcode (file truncated?)",
                needed: 1,
            }))
        } else if self.state.salvage {
            self.read_salvaging()
        } else {
            self.read()
        };
        match r {
            Err(e) if self.salvaging(&e) => {
                let from = self.c.offset();
                self.c.pos = (self.c.pos + 1).min(self.c.data.len());
                Some(self.scan(from, e))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
            ok => Some(ok),
        }
    }
}

/// Skips one value of `kind` (framing only: lengths are checked, contents are not decoded).
pub(crate) fn skip_value(c: &mut Cursor<'_>, kind: ValueKind) -> Result<()> {
    use ValueKind::*;
    match kind {
        String | HashZipmap | ListZiplist | SetIntset | ZsetZiplist | HashZiplist
        | HashListpack | ZsetListpack | SetListpack | HashListpackExPreGa => c.skip_string("value"),
        List | Set | ListQuicklist => {
            let n = c.count("element count", 1)?;
            for _ in 0..n {
                c.skip_string("element")?;
            }
            Ok(())
        }
        Zset => {
            let n = c.count("zset size", 2)?;
            for _ in 0..n {
                c.skip_string("zset member")?;
                c.string_double("zset score")?;
            }
            Ok(())
        }
        Zset2 => {
            let n = c.count("zset size", 9)?;
            for _ in 0..n {
                c.skip_string("zset member")?;
                c.bytes(8, "zset score")?;
            }
            Ok(())
        }
        Hash => {
            let n = c.count("hash size", 2)?;
            for _ in 0..n {
                c.skip_string("hash field")?;
                c.skip_string("hash value")?;
            }
            Ok(())
        }
        ListQuicklist2 => {
            let n = c.count("quicklist node count", 2)?;
            for _ in 0..n {
                let at = c.offset();
                let container = c.len("quicklist container")?;
                if container != 1 && container != 2 {
                    return Err(Error::new(
                        at,
                        ErrorKind::Invalid("expected quicklist container 1 (PLAIN) or 2 (PACKED)"),
                    ));
                }
                c.skip_string("quicklist node")?;
            }
            Ok(())
        }
        HashMetadataPreGa => {
            let n = c.count("hash size", 3)?;
            for _ in 0..n {
                c.len("field TTL")?;
                c.skip_string("hash field")?;
                c.skip_string("hash value")?;
            }
            Ok(())
        }
        HashMetadata => {
            c.i64_le("hash min expire")?;
            skip_value(c, HashMetadataPreGa)
        }
        HashListpackEx => {
            c.i64_le("hash min expire")?;
            c.skip_string("hash listpack")
        }
        ValkeyHash2 => {
            let n = c.count("hash size", 10)?;
            for _ in 0..n {
                c.skip_string("hash field")?;
                c.skip_string("hash value")?;
                c.i64_le("field expire time")?;
            }
            Ok(())
        }
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
        | StreamListpacks5 => Stream::read(c, stream_version(kind)).map(|_| ()),
        Module2 => {
            c.len("module id")?;
            skip_opcode_stream(c)
        }
        ModulePreGa => Err(c.err(ErrorKind::Unsupported(
            "pre-GA module value (RDB type 6) cannot be skipped",
        ))),
        KeydbCron => {
            // KeyDB `RDB_TYPE_CRON`: script, start time, interval, keys, args.
            c.skip_string("cron script")?;
            c.i64_le("cron start time")?;
            c.i64_le("cron interval")?;
            for what in ["cron key count", "cron argument count"] {
                let n = c.count(what, 1)?;
                for _ in 0..n {
                    c.skip_string("cron string")?;
                }
            }
            Ok(())
        }
        DragonflyJson => c.skip_string("JSON document"),
        DragonflySbf | DragonflySbf2 => {
            // options, grow factor, fp probability, prev size, current size, max capacity
            c.len("SBF options")?;
            c.bytes(16, "SBF grow factor and probability")?;
            for what in ["SBF prev size", "SBF current size", "SBF max capacity"] {
                c.len(what)?;
            }
            let filters = c.count("SBF filter count", 2)?;
            for _ in 0..filters {
                c.len("SBF hash count")?;
                if kind == DragonflySbf {
                    c.skip_string("SBF filter bits")?;
                } else {
                    skip_chunks(c, "SBF filter")?;
                }
            }
            Ok(())
        }
        DragonflyCms => {
            let width = c.len("CMS width")?;
            let depth = c.len("CMS depth")?;
            c.len("CMS total count")?;
            let cells = width.checked_mul(depth).and_then(|x| x.checked_mul(8));
            let cells = cells.ok_or_else(|| c.err(ErrorKind::Invalid("CMS size overflows")))?;
            c.declared(cells, "CMS counters").map(|_| ())
        }
        DragonflyTopk => {
            for what in ["TOPK options", "TOPK k", "TOPK width", "TOPK depth"] {
                c.len(what)?;
            }
            c.bytes(8, "TOPK decay")?;
            let n = c.count("TOPK item count", 2)?;
            for _ in 0..n {
                c.skip_string("TOPK item")?;
                c.len("TOPK item count")?;
            }
            let total = c.len("TOPK counter bytes")?;
            c.declared(total, "TOPK counters").map(|_| ())
        }
        DragonflyCuckoo => {
            for what in [
                "cuckoo slots per bucket",
                "cuckoo max iterations",
                "cuckoo expansion",
                "cuckoo buckets",
                "cuckoo items",
                "cuckoo deletes",
            ] {
                c.len(what)?;
            }
            let filters = c.count("cuckoo filter count", 2)?;
            for _ in 0..filters {
                skip_chunks(c, "cuckoo filter")?;
            }
            Ok(())
        }
        DragonflyHashWithExpiry | DragonflySetWithExpiry => {
            let per = if kind == DragonflyHashWithExpiry {
                3
            } else {
                2
            };
            let n = c.count("element count", per)?;
            for _ in 0..n * per {
                c.skip_string("element")?;
            }
            Ok(())
        }
    }
}

pub(crate) fn stream_version(kind: ValueKind) -> u8 {
    match kind {
        ValueKind::StreamListpacks => 1,
        ValueKind::StreamListpacks2 => 2,
        ValueKind::StreamListpacks3 => 3,
        ValueKind::StreamListpacks4 => 4,
        _ => 5,
    }
}

/// Names codes that other servers write into RDB files, so an unreadable file says whose
/// extension it met rather than just "unknown byte".
fn foreign_code(op: u8) -> ErrorKind {
    match op {
        30..=37 => ErrorKind::Unsupported(
            "Dragonfly extension value type (JSON, expiring hash/set, or probabilistic filter)",
        ),
        64 => ErrorKind::Unsupported("KeyDB CRON value type (64)"),
        200..=203 | 210 | 211 | 220 | 222..=224 => ErrorKind::Unsupported(
            "Dragonfly extension opcode in a file without a df-ver AUX field",
        ),
        _ => ErrorKind::UnknownOpcode(op),
    }
}

/// Skips Dragonfly's chunked blob: a total size, then (chunk length, raw chunk) pairs until
/// the total is reached.
fn skip_chunks(c: &mut Cursor<'_>, what: &'static str) -> Result<()> {
    let total = c.len(what)?;
    let mut done = 0u64;
    while done < total {
        let n = c.len(what)?;
        if n == 0 {
            return Err(c.err(ErrorKind::Invalid("expected a non-empty Dragonfly chunk")));
        }
        c.declared(n, what)?;
        done = done.saturating_add(n);
    }
    Ok(())
}
