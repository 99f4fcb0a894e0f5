//! Format constants: header magics, opcodes and value types, named as in `rdb.h`.
//!
//! Value types 22 and up, and opcode 243, mean different things in Redis and Valkey files, so
//! a raw byte is resolved to a [`ValueKind`] only together with the file's [`Dialect`].

use std::fmt;

/// Which project's type/opcode table a file uses, chosen from its magic and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// `REDIS` magic, versions 1–11: the table both projects share.
    Common,
    /// `REDIS` magic, versions 12 and up: Redis's types 22–27, KEY_META (243).
    Redis,
    /// `VALKEY` magic (versions 80+): Valkey's HASH_2 (22), SLOT_IMPORT (243).
    Valkey,
}

/// The header of an RDB file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// True for the `VALKEY` magic, false for `REDIS`.
    pub valkey_magic: bool,
    /// The RDB format version.
    pub version: u32,
    /// The type/opcode table in force.
    pub dialect: Dialect,
}

impl Header {
    /// Length of the magic in bytes (both magics are 9 bytes).
    pub const LEN: usize = 9;

    /// Whether the file has a CRC-64 trailer after EOF (RDB 5 and up).
    pub fn has_checksum(&self) -> bool {
        self.version >= 5
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.valkey_magic {
            write!(f, "VALKEY{:03}", self.version)
        } else {
            write!(f, "REDIS{:04}", self.version)
        }
    }
}

/// A top-level opcode byte (`RDB_OPCODE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// Redis Enterprise's per-key RAM-LRU attribute (a length), seen in librdb's fixtures.
    pub const RAM_LRU_ENTERPRISE: Opcode = Opcode(107);
    /// `RDB_OPCODE_SLOT_IMPORT` (Valkey, RDB 80) / `RDB_OPCODE_KEY_META` (Redis, RDB 13).
    pub const OP_243: Opcode = Opcode(243);
    /// `RDB_OPCODE_SLOT_INFO` (Redis 7.4+ cluster mode, RDB 12).
    pub const SLOT_INFO: Opcode = Opcode(244);
    /// `RDB_OPCODE_FUNCTION2` (RDB 10).
    pub const FUNCTION2: Opcode = Opcode(245);
    /// `RDB_OPCODE_FUNCTION_PRE_GA` (7.0 release candidates only).
    pub const FUNCTION_PRE_GA: Opcode = Opcode(246);
    /// `RDB_OPCODE_MODULE_AUX` (RDB 9).
    pub const MODULE_AUX: Opcode = Opcode(247);
    /// `RDB_OPCODE_IDLE` (RDB 9): LRU idle seconds of the next key.
    pub const IDLE: Opcode = Opcode(248);
    /// `RDB_OPCODE_FREQ` (RDB 9): LFU counter of the next key.
    pub const FREQ: Opcode = Opcode(249);
    /// `RDB_OPCODE_AUX` (RDB 7).
    pub const AUX: Opcode = Opcode(250);
    /// `RDB_OPCODE_RESIZEDB` (RDB 7).
    pub const RESIZEDB: Opcode = Opcode(251);
    /// `RDB_OPCODE_EXPIRETIME_MS` (RDB 3).
    pub const EXPIRETIME_MS: Opcode = Opcode(252);
    /// `RDB_OPCODE_EXPIRETIME` (RDB 1, seconds).
    pub const EXPIRETIME: Opcode = Opcode(253);
    /// `RDB_OPCODE_SELECTDB`.
    pub const SELECTDB: Opcode = Opcode(254);
    /// `RDB_OPCODE_EOF`.
    pub const EOF: Opcode = Opcode(255);
}

/// An on-disk value type byte (`RDB_TYPE_*`), as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueType(pub u8);

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a value type byte means in a given dialect: the on-disk layout of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ValueKind {
    /// 0 `RDB_TYPE_STRING`.
    String,
    /// 1 `RDB_TYPE_LIST` (linked list, written ≤ 3.0).
    List,
    /// 2 `RDB_TYPE_SET`.
    Set,
    /// 3 `RDB_TYPE_ZSET` (string scores, written ≤ 3.2).
    Zset,
    /// 4 `RDB_TYPE_HASH`.
    Hash,
    /// 5 `RDB_TYPE_ZSET_2` (binary scores, RDB 8).
    Zset2,
    /// 6 `RDB_TYPE_MODULE_PRE_GA` (4.0 release candidates; cannot be skipped).
    ModulePreGa,
    /// 7 `RDB_TYPE_MODULE_2` (RDB 8).
    Module2,
    /// 9 `RDB_TYPE_HASH_ZIPMAP` (RDB 2).
    HashZipmap,
    /// 10 `RDB_TYPE_LIST_ZIPLIST` (RDB 2).
    ListZiplist,
    /// 11 `RDB_TYPE_SET_INTSET` (RDB 2).
    SetIntset,
    /// 12 `RDB_TYPE_ZSET_ZIPLIST` (RDB 2).
    ZsetZiplist,
    /// 13 `RDB_TYPE_HASH_ZIPLIST` (RDB 4).
    HashZiplist,
    /// 14 `RDB_TYPE_LIST_QUICKLIST` (RDB 7, ziplist nodes).
    ListQuicklist,
    /// 15 `RDB_TYPE_STREAM_LISTPACKS` (RDB 9).
    StreamListpacks,
    /// 16 `RDB_TYPE_HASH_LISTPACK` (RDB 10).
    HashListpack,
    /// 17 `RDB_TYPE_ZSET_LISTPACK` (RDB 10).
    ZsetListpack,
    /// 18 `RDB_TYPE_LIST_QUICKLIST_2` (RDB 10, PLAIN/PACKED nodes).
    ListQuicklist2,
    /// 19 `RDB_TYPE_STREAM_LISTPACKS_2` (RDB 10).
    StreamListpacks2,
    /// 20 `RDB_TYPE_SET_LISTPACK` (RDB 11).
    SetListpack,
    /// 21 `RDB_TYPE_STREAM_LISTPACKS_3` (RDB 11).
    StreamListpacks3,
    /// 22 `RDB_TYPE_HASH_METADATA_PRE_GA` (Redis 7.4 release candidates).
    HashMetadataPreGa,
    /// 23 `RDB_TYPE_HASH_LISTPACK_EX_PRE_GA` (Redis 7.4 release candidates).
    HashListpackExPreGa,
    /// 24 `RDB_TYPE_HASH_METADATA` (Redis 7.4+, hashtable with field TTLs).
    HashMetadata,
    /// 25 `RDB_TYPE_HASH_LISTPACK_EX` (Redis 7.4+, listpack with field TTLs).
    HashListpackEx,
    /// 26 `RDB_TYPE_STREAM_LISTPACKS_4` (Redis 8.6, IDMP).
    StreamListpacks4,
    /// 27 `RDB_TYPE_STREAM_LISTPACKS_5` (Redis development after 8.6, NACKs).
    StreamListpacks5,
    /// 22 under the `VALKEY` magic: `RDB_TYPE_HASH_2` (Valkey 9, field TTLs).
    ValkeyHash2,
    /// 64 in KeyDB files: `RDB_TYPE_CRON` (KEYDB.CRON jobs).
    KeydbCron,
    /// 30 in Dragonfly files (`df-ver` AUX): a JSON document as one string.
    DragonflyJson,
    /// 31 in Dragonfly files: hash with per-field expiry (field, value, ttl strings).
    DragonflyHashWithExpiry,
    /// 32 in Dragonfly files: set with per-member expiry (member, ttl strings).
    DragonflySetWithExpiry,
    /// 33 in Dragonfly files: scalable bloom filter (`SBF`).
    DragonflySbf,
    /// 34 in Dragonfly files: scalable bloom filter with chunked filters (`SBF2`).
    DragonflySbf2,
    /// 35 in Dragonfly files: count-min sketch.
    DragonflyCms,
    /// 36 in Dragonfly files: top-k.
    DragonflyTopk,
    /// 37 in Dragonfly files: cuckoo filter.
    DragonflyCuckoo,
}

impl ValueKind {
    /// Resolves a value type byte in the given dialect; `None` when unknown there.
    pub fn resolve(t: ValueType, dialect: Dialect) -> Option<ValueKind> {
        use ValueKind::*;
        Some(match t.0 {
            0 => String,
            1 => List,
            2 => Set,
            3 => Zset,
            4 => Hash,
            5 => Zset2,
            6 => ModulePreGa,
            7 => Module2,
            9 => HashZipmap,
            10 => ListZiplist,
            11 => SetIntset,
            12 => ZsetZiplist,
            13 => HashZiplist,
            14 => ListQuicklist,
            15 => StreamListpacks,
            16 => HashListpack,
            17 => ZsetListpack,
            18 => ListQuicklist2,
            19 => StreamListpacks2,
            20 => SetListpack,
            21 => StreamListpacks3,
            22 if dialect == Dialect::Valkey => ValkeyHash2,
            22 if dialect == Dialect::Redis => HashMetadataPreGa,
            23 if dialect == Dialect::Redis => HashListpackExPreGa,
            24 if dialect == Dialect::Redis => HashMetadata,
            25 if dialect == Dialect::Redis => HashListpackEx,
            26 if dialect == Dialect::Redis => StreamListpacks4,
            27 if dialect == Dialect::Redis => StreamListpacks5,
            64 if dialect == Dialect::Common => KeydbCron,
            _ => return None,
        })
    }

    /// The Redis data type (`TYPE` command name) this value loads as; modules report `module`
    /// here and their own name through the module view.
    pub fn data_type(self) -> DataType {
        use ValueKind::*;
        match self {
            String => DataType::String,
            List | ListZiplist | ListQuicklist | ListQuicklist2 => DataType::List,
            Set | SetIntset | SetListpack | DragonflySetWithExpiry => DataType::Set,
            Zset | Zset2 | ZsetZiplist | ZsetListpack => DataType::Zset,
            Hash
            | HashZipmap
            | HashZiplist
            | HashListpack
            | HashMetadataPreGa
            | HashListpackExPreGa
            | HashMetadata
            | HashListpackEx
            | ValkeyHash2
            | DragonflyHashWithExpiry => DataType::Hash,
            StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
            | StreamListpacks5 => DataType::Stream,
            ModulePreGa | Module2 | KeydbCron | DragonflyJson | DragonflySbf | DragonflySbf2
            | DragonflyCms | DragonflyTopk | DragonflyCuckoo => DataType::Module,
        }
    }

    /// The `rdb.h` name of the type, e.g. `HASH_LISTPACK`.
    pub fn name(self) -> &'static str {
        use ValueKind::*;
        match self {
            String => "STRING",
            List => "LIST",
            Set => "SET",
            Zset => "ZSET",
            Hash => "HASH",
            Zset2 => "ZSET_2",
            ModulePreGa => "MODULE_PRE_GA",
            Module2 => "MODULE_2",
            HashZipmap => "HASH_ZIPMAP",
            ListZiplist => "LIST_ZIPLIST",
            SetIntset => "SET_INTSET",
            ZsetZiplist => "ZSET_ZIPLIST",
            HashZiplist => "HASH_ZIPLIST",
            ListQuicklist => "LIST_QUICKLIST",
            StreamListpacks => "STREAM_LISTPACKS",
            HashListpack => "HASH_LISTPACK",
            ZsetListpack => "ZSET_LISTPACK",
            ListQuicklist2 => "LIST_QUICKLIST_2",
            StreamListpacks2 => "STREAM_LISTPACKS_2",
            SetListpack => "SET_LISTPACK",
            StreamListpacks3 => "STREAM_LISTPACKS_3",
            HashMetadataPreGa => "HASH_METADATA_PRE_GA",
            HashListpackExPreGa => "HASH_LISTPACK_EX_PRE_GA",
            HashMetadata => "HASH_METADATA",
            HashListpackEx => "HASH_LISTPACK_EX",
            StreamListpacks4 => "STREAM_LISTPACKS_4",
            StreamListpacks5 => "STREAM_LISTPACKS_5",
            ValkeyHash2 => "HASH_2",
            KeydbCron => "KEYDB_CRON",
            DragonflyJson => "DF_JSON",
            DragonflyHashWithExpiry => "DF_HASH_WITH_EXPIRY",
            DragonflySetWithExpiry => "DF_SET_WITH_EXPIRY",
            DragonflySbf => "DF_SBF",
            DragonflySbf2 => "DF_SBF2",
            DragonflyCms => "DF_CMS",
            DragonflyTopk => "DF_TOPK",
            DragonflyCuckoo => "DF_CUCKOO",
        }
    }
}

/// The logical data type of a key, as the `TYPE` command names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// `string`.
    String,
    /// `list`.
    List,
    /// `set`.
    Set,
    /// `zset`.
    Zset,
    /// `hash`.
    Hash,
    /// `stream`.
    Stream,
    /// A module type (its name comes from the module id).
    Module,
}

impl DataType {
    /// The `TYPE` reply for this type (`module` for module values).
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::String => "string",
            DataType::List => "list",
            DataType::Set => "set",
            DataType::Zset => "zset",
            DataType::Hash => "hash",
            DataType::Stream => "stream",
            DataType::Module => "module",
        }
    }

    /// All data types, in a fixed order.
    pub const ALL: [DataType; 7] = [
        DataType::String,
        DataType::List,
        DataType::Set,
        DataType::Zset,
        DataType::Hash,
        DataType::Stream,
        DataType::Module,
    ];
}

/// Parses the 9-byte header.
///
/// # Errors
/// `BadMagic` or `UnsupportedVersion` at offset 0; `UnexpectedEof` for inputs under 9 bytes.
pub fn parse_header(data: &[u8]) -> crate::Result<Header> {
    use crate::error::{Error, ErrorKind};
    let Some(m) = data.get(..Header::LEN) else {
        return Err(Error::new(
            data.len() as u64,
            ErrorKind::UnexpectedEof {
                what: "RDB header",
                needed: (Header::LEN - data.len()) as u64,
            },
        ));
    };
    let digits = |d: &[u8]| -> Option<u32> {
        if d.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(d).ok()?.parse().ok()
        } else {
            None
        }
    };
    let (valkey_magic, version) = if let (b"REDIS", Some(v)) = (&m[..5], digits(&m[5..])) {
        (false, v)
    } else if let (b"VALKEY", Some(v)) = (&m[..6], digits(&m[6..])) {
        (true, v)
    } else {
        return Err(Error::new(0, ErrorKind::BadMagic));
    };
    if version == 0 || (valkey_magic && version < 80) {
        return Err(Error::new(5, ErrorKind::UnsupportedVersion(version)));
    }
    let dialect = if valkey_magic {
        Dialect::Valkey
    } else if version >= 12 {
        Dialect::Redis
    } else {
        Dialect::Common
    };
    Ok(Header {
        valkey_magic,
        version,
        dialect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_redis_and_valkey_parse() {
        let h = parse_header(b"REDIS0011").unwrap();
        assert_eq!((h.version, h.dialect), (11, Dialect::Common));
        let h = parse_header(b"REDIS0013").unwrap();
        assert_eq!(h.dialect, Dialect::Redis);
        let h = parse_header(b"VALKEY080").unwrap();
        assert_eq!(
            (h.version, h.dialect, h.to_string().as_str()),
            (80, Dialect::Valkey, "VALKEY080")
        );
    }

    #[test]
    fn header_bad_magic_rejected() {
        assert!(parse_header(b"REDIX0011").is_err());
        assert!(parse_header(b"REDIS00a1").is_err());
        assert!(parse_header(b"REDIS").is_err());
    }

    #[test]
    fn type_22_depends_on_dialect() {
        assert_eq!(
            ValueKind::resolve(ValueType(22), Dialect::Valkey),
            Some(ValueKind::ValkeyHash2)
        );
        assert_eq!(
            ValueKind::resolve(ValueType(22), Dialect::Redis),
            Some(ValueKind::HashMetadataPreGa)
        );
        assert_eq!(ValueKind::resolve(ValueType(22), Dialect::Common), None);
        assert_eq!(ValueKind::resolve(ValueType(8), Dialect::Redis), None);
    }
}
