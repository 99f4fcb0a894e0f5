//! Lazy value views: sizes and counts from headers, decoded elements on demand.

use crate::blob::{intset, listpack, ziplist, zipmap, BlobError, Scalar};
use crate::error::{Error, ErrorKind, Result};
use crate::format::{DataType, ValueKind, ValueType};
use crate::module::ModuleId;
use crate::reader::{parse_c_double, Cursor};
use crate::records::stream_version;
use crate::stream::Stream;
use crate::string::RdbStr;

/// A value, framed but not decoded: its on-disk kind and its bytes in the input.
#[derive(Debug, Clone, Copy)]
pub struct Value<'a> {
    kind: ValueKind,
    raw_type: ValueType,
    offset: u64,
    data: &'a [u8],
}

/// The inner encoding of a blob-typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobKind {
    /// `listpack.c` format.
    Listpack,
    /// `ziplist.c` format.
    Ziplist,
    /// `intset.c` format.
    Intset,
    /// `zipmap.c` format.
    Zipmap,
}

/// A blob-typed value's string and inner encoding.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a> {
    /// Inner encoding.
    pub kind: BlobKind,
    /// The string holding it (its `len()` is the blob's size in bytes, LZF or not).
    pub data: RdbStr<'a>,
}

impl Blob<'_> {
    /// The scalar count a blob's header declares, after checking the header's size field
    /// against the blob's length (what the loader's shallow validation checks); `None` where
    /// the header does not know the count (listpacks and ziplists of 65535 or more entries,
    /// zipmaps). Only the header is decompressed (into `buf`).
    ///
    /// # Errors
    /// A header that is short, of an unknown intset width, or whose size field differs
    /// from the blob's length; a corrupt LZF stream.
    pub fn header_count(&self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
        let b = self;
        let len = b.data.len();
        let hdr = b.data.prefix(10, buf)?;
        // A kept listpack or ziplist must end in its 0xFF end byte, as the loader's
        // shallow check requires; LZF-compressed blobs are not decompressed for it.
        let ends = |blob| match b.data.as_raw() {
            Some(raw) if raw.last() != Some(&0xFF) => Err(Error::new(
                b.data.offset(),
                ErrorKind::Blob {
                    blob,
                    at: len.saturating_sub(1),
                    reason: "missing end byte",
                },
            )),
            _ => Ok(()),
        };
        let checked = |total: u64, n: Option<u64>, why| {
            if total == len {
                Ok(n)
            } else {
                Err(Error::new(
                    b.data.offset(),
                    ErrorKind::Blob {
                        blob: why,
                        at: 0,
                        reason: "header size differs from the blob length",
                    },
                ))
            }
        };
        let short = |blob, reason| {
            Error::new(
                b.data.offset(),
                ErrorKind::Blob {
                    blob,
                    at: 0,
                    reason,
                },
            )
        };
        match b.kind {
            BlobKind::Listpack => {
                let (total, n) = listpack::header(hdr).map_err(|e| short(e.blob, e.reason))?;
                ends("listpack")?;
                checked(u64::from(total), n.map(u64::from), "listpack")
            }
            BlobKind::Ziplist => {
                let (total, n) = ziplist::header(hdr).map_err(|e| short(e.blob, e.reason))?;
                ends("ziplist")?;
                checked(u64::from(total), n.map(u64::from), "ziplist")
            }
            BlobKind::Intset => {
                let (enc, n) = intset::header(hdr).map_err(|e| short(e.blob, e.reason))?;
                if !matches!(enc, 2 | 4 | 8) {
                    return Err(short("intset", "encoding is not 2, 4 or 8"));
                }
                checked(
                    8 + u64::from(n) * u64::from(enc),
                    Some(u64::from(n)),
                    "intset",
                )
            }
            BlobKind::Zipmap => Ok(None),
        }
    }
}

/// A quicklist node as stored.
#[derive(Debug, Clone, Copy)]
pub struct QuicklistNode<'a> {
    /// The node's container: a listpack (PACKED), a ziplist (RDB 7–9 quicklists) or one
    /// plain element (PLAIN).
    pub container: NodeContainer,
    /// The node's string.
    pub data: RdbStr<'a>,
}

/// Container of a quicklist node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeContainer {
    /// `QUICKLIST_NODE_CONTAINER_PACKED` holding a listpack.
    Listpack,
    /// A ziplist node (type 14 files).
    Ziplist,
    /// `QUICKLIST_NODE_CONTAINER_PLAIN`: one element.
    Plain,
}

/// A module value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleValue {
    /// The module type id (name and encoding version).
    pub id: ModuleId,
    /// Serialized size of the module's opcode stream in bytes.
    pub size: u64,
}

/// One logical element of a collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Element<'b> {
    /// A list item or set member.
    Item(Scalar<'b>),
    /// A sorted-set member and its score.
    Scored(Scalar<'b>, f64),
    /// A hash field, its value, and the field's absolute expire time in ms, if any.
    Field(Scalar<'b>, Scalar<'b>, Option<i64>),
}

/// Reusable buffers for decoding (LZF output, rendered integers).
#[derive(Debug, Default)]
pub struct Scratch {
    blob: Vec<u8>,
    a: Vec<u8>,
    b: Vec<u8>,
}

impl Scratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A buffer for a caller's own decoding between calls that take this `Scratch` (its
    /// contents are overwritten by the next such call).
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.blob
    }
}

fn blob_err(s: &RdbStr<'_>, e: BlobError) -> Error {
    Error::new(
        s.offset(),
        ErrorKind::Blob {
            blob: e.blob,
            at: e.at,
            reason: e.reason,
        },
    )
}

fn scalar_of<'b>(s: &RdbStr<'b>, buf: &'b mut Vec<u8>) -> Result<Scalar<'b>> {
    match *s {
        RdbStr::Int(v) => Ok(Scalar::Int(v)),
        _ => Ok(Scalar::Bytes(s.bytes(buf)?)),
    }
}

fn score_of(s: Scalar<'_>, at: u64) -> Result<f64> {
    match s {
        Scalar::Int(v) => Ok(v as f64),
        Scalar::Bytes(b) => std::str::from_utf8(b)
            .ok()
            .and_then(parse_c_double)
            .ok_or(Error::new(
                at,
                ErrorKind::Invalid("expected a numeric zset score"),
            )),
    }
}

fn field_ttl(s: Scalar<'_>) -> Option<i64> {
    match s {
        Scalar::Int(0) => None,
        Scalar::Int(v) => Some(v),
        Scalar::Bytes(_) => None,
    }
}

/// Walks a blob's scalars, grouping them into elements of the given arity.
fn walk_blob<'b>(
    kind: BlobKind,
    s: &RdbStr<'_>,
    bytes: &'b [u8],
    arity: usize,
    f: &mut dyn FnMut(&[Scalar<'b>]) -> Result<()>,
) -> Result<u64> {
    let mut group: [Scalar<'b>; 3] = [Scalar::Int(0); 3];
    let mut k = 0usize;
    let mut err: Option<Error> = None;
    let mut cb = |x: Scalar<'b>| {
        if err.is_some() {
            return;
        }
        group[k] = x;
        k += 1;
        if k == arity {
            k = 0;
            if let Err(e) = f(&group[..arity]) {
                err = Some(e);
            }
        }
    };
    let n = match kind {
        BlobKind::Listpack => listpack::for_each(bytes, &mut cb),
        BlobKind::Ziplist => ziplist::for_each(bytes, &mut cb),
        BlobKind::Intset => intset::for_each(bytes, &mut cb),
        BlobKind::Zipmap => zipmap::for_each(bytes, &mut cb),
    }
    .map_err(|e| blob_err(s, e))?;
    if let Some(e) = err {
        return Err(e);
    }
    if k != 0 {
        return Err(Error::new(
            s.offset(),
            ErrorKind::Invalid("blob element count is not a multiple of the record arity"),
        ));
    }
    Ok(n)
}

impl<'a> Value<'a> {
    pub(crate) fn new(kind: ValueKind, raw_type: ValueType, offset: u64, data: &'a [u8]) -> Self {
        Value {
            kind,
            raw_type,
            offset,
            data,
        }
    }

    /// The on-disk layout.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The type byte as written in the file.
    pub fn value_type(&self) -> ValueType {
        self.raw_type
    }

    /// The logical data type.
    pub fn data_type(&self) -> DataType {
        self.kind.data_type()
    }

    /// Absolute offset of the value's first byte.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes the value takes in the file.
    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    /// The value's bytes in the file.
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    fn cursor(&self) -> Cursor<'a> {
        Cursor::new(self.data, self.offset)
    }

    /// The string of a `STRING` value.
    pub fn as_string(&self) -> Option<RdbStr<'a>> {
        if self.kind == ValueKind::String {
            self.cursor().string("value").ok()
        } else {
            None
        }
    }

    /// The count prefix of element-list types (1–5, 14, 18, 22, 24, Valkey 22).
    pub fn count_prefix(&self) -> Option<u64> {
        use ValueKind::*;
        let mut c = self.cursor();
        match self.kind {
            List
            | Set
            | Zset
            | Zset2
            | Hash
            | ListQuicklist
            | ListQuicklist2
            | HashMetadataPreGa
            | ValkeyHash2
            | DragonflyHashWithExpiry
            | DragonflySetWithExpiry => c.len("count").ok(),
            HashMetadata => {
                c.i64_le("min expire").ok()?;
                c.len("count").ok()
            }
            _ => None,
        }
    }

    /// The minimum field expire time stored before Redis field-TTL hashes (types 24, 25).
    pub fn hash_min_expire(&self) -> Option<i64> {
        match self.kind {
            ValueKind::HashMetadata | ValueKind::HashListpackEx => {
                self.cursor().i64_le("min expire").ok()
            }
            _ => None,
        }
    }

    /// The blob of blob-typed values (ziplist, listpack, intset, zipmap types).
    pub fn blob(&self) -> Option<Blob<'a>> {
        use ValueKind::*;
        let kind = match self.kind {
            HashZipmap => BlobKind::Zipmap,
            ListZiplist | ZsetZiplist | HashZiplist => BlobKind::Ziplist,
            SetIntset => BlobKind::Intset,
            HashListpack | ZsetListpack | SetListpack | HashListpackEx | HashListpackExPreGa => {
                BlobKind::Listpack
            }
            _ => return None,
        };
        let mut c = self.cursor();
        if self.kind == HashListpackEx {
            c.i64_le("min expire").ok()?;
        }
        Some(Blob {
            kind,
            data: c.string("blob").ok()?,
        })
    }

    /// Walks the nodes of a quicklist (types 14 and 18).
    ///
    /// # Errors
    /// Framing errors (already excluded by the iterator) or a bad container id.
    pub fn for_each_node(&self, mut f: impl FnMut(QuicklistNode<'a>) -> Result<()>) -> Result<()> {
        let mut c = self.cursor();
        match self.kind {
            ValueKind::ListQuicklist => {
                let n = c.len("node count")?;
                for _ in 0..n {
                    f(QuicklistNode {
                        container: NodeContainer::Ziplist,
                        data: c.string("node")?,
                    })?;
                }
            }
            ValueKind::ListQuicklist2 => {
                let n = c.len("node count")?;
                for _ in 0..n {
                    let container = if c.len("container")? == 1 {
                        NodeContainer::Plain
                    } else {
                        NodeContainer::Listpack
                    };
                    f(QuicklistNode {
                        container,
                        data: c.string("node")?,
                    })?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The stream view of stream values.
    ///
    /// # Errors
    /// Framing errors (already excluded by the iterator).
    pub fn stream(&self) -> Result<Option<Stream<'a>>> {
        if self.data_type() != DataType::Stream {
            return Ok(None);
        }
        Stream::read(&mut self.cursor(), stream_version(self.kind)).map(Some)
    }

    /// The module id and serialized size of module values.
    pub fn module(&self) -> Option<ModuleValue> {
        if self.kind != ValueKind::Module2 {
            return None;
        }
        let mut c = self.cursor();
        let id = ModuleId(c.len("module id").ok()?);
        Some(ModuleValue {
            id,
            size: c.remaining() as u64,
        })
    }

    /// Number of logical elements (list items, members, fields, stream entries; strings and
    /// modules: 1), from count prefixes and blob headers where they are trustworthy, else by
    /// walking the value.
    ///
    /// # Errors
    /// Corrupt blobs or LZF streams.
    pub fn element_count(&self, scratch: &mut Scratch) -> Result<u64> {
        use ValueKind::*;
        match self.kind {
            String | Module2 | ModulePreGa | KeydbCron | DragonflyJson => Ok(1),
            List
            | Set
            | Zset
            | Zset2
            | Hash
            | HashMetadataPreGa
            | HashMetadata
            | ValkeyHash2
            | DragonflyHashWithExpiry
            | DragonflySetWithExpiry => Ok(self.count_prefix().unwrap_or(0)),
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | StreamListpacks5 => Ok(self.stream()?.map_or(0, |s| s.length)),
            _ => {
                if let Some(b) = self.blob() {
                    let per = match self.kind {
                        HashZipmap | ZsetZiplist | HashZiplist | HashListpack | ZsetListpack => 2,
                        HashListpackEx | HashListpackExPreGa => 3,
                        _ => 1,
                    };
                    if let Some(n) = b.header_count(&mut scratch.blob)? {
                        if n % per != 0 {
                            return Err(Error::new(
                                b.data.offset(),
                                ErrorKind::Invalid(
                                    "blob element count is not a multiple of the record arity",
                                ),
                            ));
                        }
                        return Ok(n / per);
                    }
                }
                let mut n = 0u64;
                self.for_each_element(scratch, |_| n += 1)?;
                Ok(n)
            }
        }
    }

    /// Walks the logical lengths of the strings of a collection stored element by element
    /// (list and set elements, sorted-set members, hash fields and values, in file order;
    /// scores are skipped), without decoding them: an LZF string gives its declared length,
    /// an integer encoding its decimal length, as [`RdbStr::len`] does. This is what a
    /// size estimate of a big collection needs, at a fraction of the cost of
    /// [`for_each_element`](Self::for_each_element).
    ///
    /// Returns `Ok(false)` without calling `f` for other kinds (blobs, quicklists, hashes
    /// with field TTLs, streams, modules).
    ///
    /// # Errors
    /// A string that overruns the value, or a malformed length or score.
    pub fn for_each_len(&self, mut f: impl FnMut(u64)) -> Result<bool> {
        use ValueKind::*;
        let mut c = self.cursor();
        match self.kind {
            List | Set => {
                let n = c.len("count")?;
                for _ in 0..n {
                    f(c.string_len("element")?);
                }
            }
            Zset | Zset2 => {
                let n = c.len("count")?;
                for _ in 0..n {
                    f(c.string_len("member")?);
                    if self.kind == Zset {
                        c.string_double("score")?;
                    } else {
                        c.bytes(8, "score")?;
                    }
                }
            }
            Hash => {
                let n = c.len("count")?;
                for _ in 0..n {
                    f(c.string_len("field")?);
                    f(c.string_len("value")?);
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Decodes every element and hands it to `f` (borrowed from the input, or from
    /// `scratch` for LZF and integer-encoded strings). Blobs are validated as they are
    /// walked. Streams and modules have no elements here (see [`Value::stream`]).
    ///
    /// # Errors
    /// Corrupt blobs, LZF streams or scores, with the offset of the string that holds them.
    pub fn for_each_element(
        &self,
        scratch: &mut Scratch,
        mut f: impl FnMut(Element<'_>),
    ) -> Result<()> {
        use ValueKind::*;
        let mut c = self.cursor();
        let Scratch { blob, a, b } = scratch;
        match self.kind {
            String => {
                let s = c.string("value")?;
                f(Element::Item(scalar_of(&s, a)?));
            }
            List | Set => {
                let n = c.len("count")?;
                for _ in 0..n {
                    let s = c.string("element")?;
                    f(Element::Item(scalar_of(&s, a)?));
                }
            }
            Zset | Zset2 => {
                let n = c.len("count")?;
                for _ in 0..n {
                    let s = c.string("member")?;
                    let score = if self.kind == Zset {
                        c.string_double("score")?
                    } else {
                        f64::from_le_bytes(c.array("score")?)
                    };
                    f(Element::Scored(scalar_of(&s, a)?, score));
                }
            }
            Hash | HashMetadataPreGa | HashMetadata | ValkeyHash2 => {
                let min = if self.kind == HashMetadata {
                    c.i64_le("min expire")?
                } else {
                    0
                };
                let n = c.len("count")?;
                for _ in 0..n {
                    let ttl = match self.kind {
                        HashMetadataPreGa => {
                            Some(c.len("ttl")?).filter(|&t| t != 0).map(|t| t as i64)
                        }
                        HashMetadata => Some(c.len("ttl")?)
                            .filter(|&t| t != 0)
                            .map(|t| (t as i64).wrapping_add(min).wrapping_sub(1)),
                        _ => None,
                    };
                    let fs = c.string("field")?;
                    let vs = c.string("value")?;
                    let ttl = if self.kind == ValkeyHash2 {
                        Some(c.i64_le("field expire")?).filter(|&t| t != -1)
                    } else {
                        ttl
                    };
                    f(Element::Field(scalar_of(&fs, a)?, scalar_of(&vs, b)?, ttl));
                }
            }
            DragonflyHashWithExpiry | DragonflySetWithExpiry => {
                // TTLs are seconds since 2023-02-01 00:00:00 UTC (Dragonfly's
                // `kMemberExpiryBase`), -1 = none, written as integer strings.
                let n = c.len("count")?;
                for _ in 0..n {
                    let m = c.string("member")?;
                    let v = if self.kind == DragonflyHashWithExpiry {
                        Some(c.string("value")?)
                    } else {
                        None
                    };
                    let t = c.string("member ttl")?;
                    let mut tb = Vec::new();
                    let ttl = std::str::from_utf8(t.bytes(&mut tb)?)
                        .ok()
                        .and_then(|x| x.parse::<i64>().ok())
                        .filter(|&x| x >= 0)
                        .map(|x| x.saturating_add(1_675_209_600).saturating_mul(1000));
                    match v {
                        Some(v) => f(Element::Field(scalar_of(&m, a)?, scalar_of(&v, b)?, ttl)),
                        None => f(Element::Item(scalar_of(&m, a)?)),
                    }
                }
            }
            ListQuicklist | ListQuicklist2 => {
                self.for_each_node(|node| {
                    match node.container {
                        NodeContainer::Plain => f(Element::Item(scalar_of(&node.data, a)?)),
                        NodeContainer::Listpack | NodeContainer::Ziplist => {
                            let bytes = node.data.bytes(blob)?;
                            let kind = if node.container == NodeContainer::Listpack {
                                BlobKind::Listpack
                            } else {
                                BlobKind::Ziplist
                            };
                            walk_blob(kind, &node.data, bytes, 1, &mut |g| {
                                f(Element::Item(g[0]));
                                Ok(())
                            })?;
                        }
                    }
                    Ok(())
                })?;
            }
            HashZipmap | ListZiplist | SetIntset | ZsetZiplist | HashZiplist | HashListpack
            | ZsetListpack | SetListpack | HashListpackEx | HashListpackExPreGa => {
                let Some(bl) = self.blob() else {
                    return Err(Error::new(
                        self.offset,
                        ErrorKind::Invalid("expected a blob string"),
                    ));
                };
                let bytes = bl.data.bytes(blob)?;
                let at = bl.data.offset();
                match self.kind {
                    ListZiplist | SetIntset | SetListpack => {
                        walk_blob(bl.kind, &bl.data, bytes, 1, &mut |g| {
                            f(Element::Item(g[0]));
                            Ok(())
                        })?;
                    }
                    ZsetZiplist | ZsetListpack => {
                        walk_blob(bl.kind, &bl.data, bytes, 2, &mut |g| {
                            f(Element::Scored(g[0], score_of(g[1], at)?));
                            Ok(())
                        })?;
                    }
                    HashListpackEx | HashListpackExPreGa => {
                        walk_blob(bl.kind, &bl.data, bytes, 3, &mut |g| {
                            f(Element::Field(g[0], g[1], field_ttl(g[2])));
                            Ok(())
                        })?;
                    }
                    _ => {
                        walk_blob(bl.kind, &bl.data, bytes, 2, &mut |g| {
                            f(Element::Field(g[0], g[1], None));
                            Ok(())
                        })?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
