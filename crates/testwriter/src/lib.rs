//! Test-only RDB writer for rdbscope.
//!
//! Builds Redis/Valkey RDB snapshot files (and DUMP payloads) byte by byte from the format
//! reference (`docs/rdb-format.md`), sharing no code with the parser, so that round-trip tests
//! have an independent oracle. It writes valid files by default and hostile ones on request:
//! forced long length forms, lying counts and declared lengths, raw LZF token streams, missing
//! end bytes, wrong checksums and truncated files.
//!
//! Layout: [`encode`] (lengths, strings, doubles, CRC), [`lzf`] (compressor and raw tokens),
//! blob builders [`Listpack`], [`Ziplist`], [`intset`](intset::intset), [`Zipmap`], value
//! builders in [`value`], [`stream`] and [`module`], and the file builder [`RdbWriter`].
//! Type bytes and opcodes are named in [`ty`] and [`opcode`].
//!
//! ```
//! use rdbscope_testwriter::{encode, value, ty, RdbWriter};
//!
//! let file = RdbWriter::redis(11)
//!     .aux("redis-ver", "7.2.0")
//!     .select_db(0)
//!     .resize_db(2, 1)
//!     .expire_ms(1_700_000_000_000)
//!     .key(ty::STRING, "greeting", &encode::string_lzf("hello hello hello hello hello"))
//!     .key(ty::HASH_LISTPACK, "h", &value::hash_listpack([("f", "1")]))
//!     .finish();
//! assert!(file.starts_with(b"REDIS0011\xfa"));
//! ```
#![deny(missing_docs)]

pub mod dumps;
pub mod encode;
pub mod generate;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod module;
pub mod rng;
pub mod stream;
pub mod value;
pub mod writer;
pub mod ziplist;
pub mod zipmap;

pub use listpack::Listpack;
pub use rng::Rng;
pub use stream::{Consumer, ConsumerGroup, Idmp, IdmpProducer, Stream, StreamId, StreamNode};
pub use writer::{dump_payload, RdbWriter};
pub use ziplist::Ziplist;
pub use zipmap::Zipmap;

/// Object type bytes (`RDB_TYPE_*` in `rdb.h`, §5). Ids ≥ 22 differ between Redis and Valkey.
pub mod ty {
    /// `RDB_TYPE_STRING` (RDB 1): one string.
    pub const STRING: u8 = 0;
    /// `RDB_TYPE_LIST` (RDB 1): len n, n strings.
    pub const LIST: u8 = 1;
    /// `RDB_TYPE_SET` (RDB 1): len n, n strings.
    pub const SET: u8 = 2;
    /// `RDB_TYPE_ZSET` (RDB 1): members with string-double scores.
    pub const ZSET: u8 = 3;
    /// `RDB_TYPE_HASH` (RDB 1): field/value strings.
    pub const HASH: u8 = 4;
    /// `RDB_TYPE_ZSET_2` (RDB 8): members with binary double scores.
    pub const ZSET_2: u8 = 5;
    /// `RDB_TYPE_MODULE_PRE_GA` (4.0-rc only): not self-describing.
    pub const MODULE_PRE_GA: u8 = 6;
    /// `RDB_TYPE_MODULE_2` (RDB 8): module id + opcode stream.
    pub const MODULE_2: u8 = 7;
    /// `RDB_TYPE_HASH_ZIPMAP` (RDB 2).
    pub const HASH_ZIPMAP: u8 = 9;
    /// `RDB_TYPE_LIST_ZIPLIST` (RDB 2).
    pub const LIST_ZIPLIST: u8 = 10;
    /// `RDB_TYPE_SET_INTSET` (RDB 2).
    pub const SET_INTSET: u8 = 11;
    /// `RDB_TYPE_ZSET_ZIPLIST` (RDB 2).
    pub const ZSET_ZIPLIST: u8 = 12;
    /// `RDB_TYPE_HASH_ZIPLIST` (RDB 4).
    pub const HASH_ZIPLIST: u8 = 13;
    /// `RDB_TYPE_LIST_QUICKLIST` (RDB 7): ziplist nodes.
    pub const LIST_QUICKLIST: u8 = 14;
    /// `RDB_TYPE_STREAM_LISTPACKS` (RDB 9): stream v1.
    pub const STREAM_LISTPACKS: u8 = 15;
    /// `RDB_TYPE_HASH_LISTPACK` (RDB 10).
    pub const HASH_LISTPACK: u8 = 16;
    /// `RDB_TYPE_ZSET_LISTPACK` (RDB 10).
    pub const ZSET_LISTPACK: u8 = 17;
    /// `RDB_TYPE_LIST_QUICKLIST_2` (RDB 10): PLAIN/PACKED nodes.
    pub const LIST_QUICKLIST_2: u8 = 18;
    /// `RDB_TYPE_STREAM_LISTPACKS_2` (RDB 10): stream v2.
    pub const STREAM_LISTPACKS_2: u8 = 19;
    /// `RDB_TYPE_SET_LISTPACK` (RDB 11).
    pub const SET_LISTPACK: u8 = 20;
    /// `RDB_TYPE_STREAM_LISTPACKS_3` (RDB 11): stream v3.
    pub const STREAM_LISTPACKS_3: u8 = 21;
    /// Redis `RDB_TYPE_HASH_METADATA_PRE_GA` (RDB 12, 7.4-rc only).
    pub const HASH_METADATA_PRE_GA: u8 = 22;
    /// Redis `RDB_TYPE_HASH_LISTPACK_EX_PRE_GA` (RDB 12, 7.4-rc only).
    pub const HASH_LISTPACK_EX_PRE_GA: u8 = 23;
    /// Redis `RDB_TYPE_HASH_METADATA` (RDB 12).
    pub const HASH_METADATA: u8 = 24;
    /// Redis `RDB_TYPE_HASH_LISTPACK_EX` (RDB 12).
    pub const HASH_LISTPACK_EX: u8 = 25;
    /// Redis `RDB_TYPE_STREAM_LISTPACKS_4` (RDB 13): stream v4 with IDMP.
    pub const STREAM_LISTPACKS_4: u8 = 26;
    /// Redis `RDB_TYPE_STREAM_LISTPACKS_5` (RDB 14, dev): not built by this crate.
    pub const STREAM_LISTPACKS_5: u8 = 27;
    /// Redis `RDB_TYPE_ARRAY` (RDB 14, dev): not built by this crate.
    pub const ARRAY: u8 = 28;
    /// Valkey `RDB_TYPE_HASH_2` (RDB 80, `VALKEY` magic).
    pub const VALKEY_HASH_2: u8 = 22;
    /// Valkey `RDB_TYPE_PATH_HASH` (RDB 81, dev): not built by this crate.
    pub const VALKEY_PATH_HASH: u8 = 23;
}

/// Top-level opcodes (`RDB_OPCODE_*` in `rdb.h`, §4).
pub mod opcode {
    /// `RDB_OPCODE_EOF` (RDB 1).
    pub const EOF: u8 = 0xFF;
    /// `RDB_OPCODE_SELECTDB` (RDB 1).
    pub const SELECTDB: u8 = 0xFE;
    /// `RDB_OPCODE_EXPIRETIME` (RDB 1): i32 seconds.
    pub const EXPIRETIME: u8 = 0xFD;
    /// `RDB_OPCODE_EXPIRETIME_MS` (RDB 3): i64 ms.
    pub const EXPIRETIME_MS: u8 = 0xFC;
    /// `RDB_OPCODE_RESIZEDB` (RDB 7).
    pub const RESIZEDB: u8 = 0xFB;
    /// `RDB_OPCODE_AUX` (RDB 7).
    pub const AUX: u8 = 0xFA;
    /// `RDB_OPCODE_FREQ` (RDB 9).
    pub const FREQ: u8 = 0xF9;
    /// `RDB_OPCODE_IDLE` (RDB 9).
    pub const IDLE: u8 = 0xF8;
    /// `RDB_OPCODE_MODULE_AUX` (RDB 9).
    pub const MODULE_AUX: u8 = 0xF7;
    /// `RDB_OPCODE_FUNCTION_PRE_GA` (7.0-rc only).
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    /// `RDB_OPCODE_FUNCTION2` (RDB 10).
    pub const FUNCTION2: u8 = 0xF5;
    /// `RDB_OPCODE_SLOT_INFO` (RDB 12).
    pub const SLOT_INFO: u8 = 0xF4;
    /// Redis `RDB_OPCODE_KEY_META` (RDB 13).
    pub const KEY_META: u8 = 0xF3;
    /// Valkey `RDB_OPCODE_SLOT_IMPORT` (RDB 80).
    pub const VALKEY_SLOT_IMPORT: u8 = 0xF3;
    /// Valkey `RDB_OPCODE_UPDATE` (RDB 81, dev).
    pub const VALKEY_UPDATE: u8 = 0xF2;
}

#[cfg(test)]
mod tests {
    //! Cross-module checks: LZF through an independent reference decompressor.

    use crate::encode::{string_lzf, ENC_LZF};
    use crate::lzf::{lzf_compress, LzfOps};

    /// Reference liblzf decompressor (`lzf_d.c` semantics), written independently of the
    /// compressor; returns `None` on any invalid token or a result longer than `ulen`.
    fn lzf_decompress(input: &[u8], ulen: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(ulen);
        let mut i = 0;
        while i < input.len() {
            let ctrl = usize::from(input[i]);
            i += 1;
            if ctrl < 32 {
                let n = ctrl + 1;
                out.extend_from_slice(input.get(i..i + n)?);
                i += n;
            } else {
                let mut n = ctrl >> 5;
                if n == 7 {
                    n += usize::from(*input.get(i)?);
                    i += 1;
                }
                let off = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
                i += 1;
                let start = out.len().checked_sub(off)?;
                for k in 0..n + 2 {
                    out.push(out[start + k]);
                }
            }
            if out.len() > ulen {
                return None;
            }
        }
        (out.len() == ulen).then_some(out)
    }

    fn round_trip(data: &[u8]) -> Vec<u8> {
        let c = lzf_compress(data);
        assert_eq!(
            lzf_decompress(&c, data.len()).as_deref(),
            Some(data),
            "round trip of {} bytes",
            data.len()
        );
        c
    }

    /// xorshift64: deterministic pseudo-random bytes without a dependency.
    fn noise(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    #[test]
    fn lzf_round_trip_various_inputs() {
        round_trip(b"");
        round_trip(b"a");
        round_trip(b"abcabcabcabcabcabcabcabc");
        round_trip(&[0u8; 100_000]);
        round_trip(&noise(20_000, 1));
        let mut text = Vec::new();
        for i in 0..2000 {
            text.extend_from_slice(format!("key:{i}:value:{} ", i % 17).as_bytes());
        }
        round_trip(&text);
    }

    #[test]
    fn lzf_compress_uses_every_token_kind() {
        // 40 random bytes (two literal runs: 32 + 8), a 5-byte repeat (short ref), then those
        // 45 bytes twice more (one overlapping long ref of 90 bytes at distance 45).
        let head = noise(40, 7);
        let mut data = head.clone();
        data.extend_from_slice(&head[..5]);
        let first45 = data.clone();
        data.extend_from_slice(&first45);
        data.extend_from_slice(&first45);
        let c = round_trip(&data);
        assert_eq!(c[0], 31, "first literal run is 32 bytes");
        assert_eq!(c[33], 7, "second literal run is 8 bytes");
        assert_eq!(&c[42..44], [3 << 5, 39], "short ref: length 5, distance 40");
        assert_eq!(
            &c[44..],
            [7 << 5, 90 - 9, 44],
            "long ref: length 90, distance 45"
        );
    }

    #[test]
    fn lzf_max_distance_and_max_length_round_trip() {
        let block = noise(8192, 3);
        let mut data = block.clone();
        data.extend_from_slice(&block[..264]);
        let c = round_trip(&data);
        // last token: long ref, len byte 255 (264 - 9), offset 8191
        assert_eq!(&c[c.len() - 3..], [0xFF, 255, 0xFF]);
    }

    #[test]
    fn lzf_ops_overlapping_ref_decodes_to_run() {
        let c = LzfOps::new()
            .literal(b"x")
            .backref(8, 1)
            .backref(9, 1)
            .build();
        assert_eq!(c, [0, b'x', 0xC0, 0x00, 0xE0, 0x00, 0x00]);
        assert_eq!(lzf_decompress(&c, 18).unwrap(), vec![b'x'; 18]);
    }

    #[test]
    fn lzf_ops_ref_before_start_is_rejected_by_reference() {
        let c = LzfOps::new().literal(b"ab").backref(3, 3).build();
        assert_eq!(lzf_decompress(&c, 5), None);
    }

    #[test]
    fn string_lzf_header_declares_clen_and_ulen() {
        let s = string_lzf([b'z'; 50]);
        let c = lzf_compress(&[b'z'; 50]);
        assert_eq!(s[0], ENC_LZF);
        assert_eq!(usize::from(s[1]), c.len());
        assert_eq!(s[2], 50);
        assert_eq!(&s[3..], c);
    }
}
