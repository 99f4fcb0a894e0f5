//! The top-level file builder (§1, §4) and DUMP payloads (§8).

use crate::encode::{crc64, len, string};
use crate::module::OP_UINT;
use crate::opcode;

/// Builds an RDB file byte by byte: magic, then whatever opcodes and records are appended, in
/// the order appended (no ordering rule is enforced, so misplaced opcodes can be written).
///
/// Methods take `&mut self` and return `&mut Self` for chaining; the `finish*` methods borrow,
/// so several endings can be produced from one writer.
///
/// ```
/// use rdbscope_testwriter::{encode, ty, RdbWriter};
/// let file = RdbWriter::redis(11)
///     .aux("redis-ver", "7.2.0")
///     .select_db(0)
///     .resize_db(1, 0)
///     .key(ty::STRING, "k", &encode::string("v"))
///     .finish();
/// assert_eq!(&file[..9], b"REDIS0011");
/// assert_eq!(file[file.len() - 9], 0xFF);
/// let crc = encode::crc64(&file[..file.len() - 8]);
/// assert_eq!(&file[file.len() - 8..], crc.to_le_bytes());
/// ```
#[derive(Debug, Clone)]
pub struct RdbWriter {
    buf: Vec<u8>,
    version: u32,
}

impl RdbWriter {
    /// Starts a file with `REDIS%04d` magic (e.g. `REDIS0011`).
    pub fn redis(version: u32) -> Self {
        Self::with_magic(format!("REDIS{version:04}").as_bytes(), version)
    }

    /// Starts a file with `VALKEY%03d` magic (e.g. `VALKEY080`).
    pub fn valkey(version: u32) -> Self {
        Self::with_magic(format!("VALKEY{version:03}").as_bytes(), version)
    }

    /// Starts a file with arbitrary magic bytes (any length, possibly empty or invalid);
    /// `version` only decides whether [`RdbWriter::finish`] writes a checksum (version ≥ 5).
    pub fn with_magic(magic: &[u8], version: u32) -> Self {
        Self {
            buf: magic.to_vec(),
            version,
        }
    }

    /// The version given at construction.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The current length, i.e. the file offset of whatever is appended next.
    pub fn offset(&self) -> usize {
        self.buf.len()
    }

    /// Appends raw bytes verbatim (unknown opcodes, garbage, partial records).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// AUX (250): key and value as plain strings.
    pub fn aux(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.aux_encoded(&string(key), &string(value))
    }

    /// AUX (250) with already encoded key and value strings (e.g. an int-encoded
    /// `redis-bits` as Redis writes it: `encode::string_int(64)`).
    pub fn aux_encoded(&mut self, key: &[u8], value: &[u8]) -> &mut Self {
        self.buf.push(opcode::AUX);
        self.raw(key).raw(value)
    }

    /// SELECTDB (254): len db.
    pub fn select_db(&mut self, db: u64) -> &mut Self {
        self.buf.push(opcode::SELECTDB);
        self.raw(&len(db))
    }

    /// RESIZEDB (251): len db_size, len expires_size.
    pub fn resize_db(&mut self, db_size: u64, expires_size: u64) -> &mut Self {
        self.buf.push(opcode::RESIZEDB);
        self.raw(&len(db_size)).raw(&len(expires_size))
    }

    /// EXPIRETIME_MS (252): i64 LE milliseconds, for the next key.
    pub fn expire_ms(&mut self, at_ms: i64) -> &mut Self {
        self.buf.push(opcode::EXPIRETIME_MS);
        self.raw(&at_ms.to_le_bytes())
    }

    /// EXPIRETIME (253): i32 LE seconds, for the next key.
    pub fn expire_s(&mut self, at_s: i32) -> &mut Self {
        self.buf.push(opcode::EXPIRETIME);
        self.raw(&at_s.to_le_bytes())
    }

    /// IDLE (248): len idle seconds, for the next key.
    pub fn idle(&mut self, seconds: u64) -> &mut Self {
        self.buf.push(opcode::IDLE);
        self.raw(&len(seconds))
    }

    /// FREQ (249): one LFU counter byte, for the next key.
    pub fn freq(&mut self, counter: u8) -> &mut Self {
        self.buf.push(opcode::FREQ);
        self.buf.push(counter);
        self
    }

    /// FUNCTION2 (245): the library source as a plain string.
    pub fn function2(&mut self, code: impl AsRef<[u8]>) -> &mut Self {
        self.buf.push(opcode::FUNCTION2);
        self.raw(&string(code))
    }

    /// MODULE_AUX (247): len module id, len 2 (UINT), len `when` (1 before keys, 2 after), then
    /// `ops` verbatim (normally [`ModuleOps::build`](crate::module::ModuleOps::build), which
    /// ends with EOF).
    pub fn module_aux(&mut self, module_id: u64, when: u64, ops: &[u8]) -> &mut Self {
        self.buf.push(opcode::MODULE_AUX);
        self.raw(&len(module_id))
            .raw(&len(OP_UINT))
            .raw(&len(when))
            .raw(ops)
    }

    /// SLOT_INFO (244): len slot, len slot size, len expires slot size.
    pub fn slot_info(&mut self, slot: u64, size: u64, expires_size: u64) -> &mut Self {
        self.buf.push(opcode::SLOT_INFO);
        self.raw(&len(slot)).raw(&len(size)).raw(&len(expires_size))
    }

    /// A key record: type byte, key as a plain string (may be empty or binary), value bytes
    /// verbatim (from [`value`](crate::value), [`stream`](crate::stream),
    /// [`module`](crate::module) or [`encode`](crate::encode)).
    pub fn key(&mut self, type_byte: u8, key: impl AsRef<[u8]>, value: &[u8]) -> &mut Self {
        self.key_encoded(type_byte, &string(key), value)
    }

    /// A key record whose key is an already encoded RDB string (int, LZF, lying length).
    pub fn key_encoded(&mut self, type_byte: u8, key: &[u8], value: &[u8]) -> &mut Self {
        self.buf.push(type_byte);
        self.raw(key).raw(value)
    }

    /// Returns the file: bytes so far, EOF (255) and, for version ≥ 5, the correct CRC-64 as
    /// 8 little-endian bytes.
    pub fn finish(&self) -> Vec<u8> {
        if self.version >= 5 {
            let mut out = self.finish_with_crc(Some(0));
            let crc = crc64(&out[..out.len() - 8]);
            let n = out.len();
            out[n - 8..].copy_from_slice(&crc.to_le_bytes());
            out
        } else {
            self.finish_with_crc(None)
        }
    }

    /// Returns the file with EOF (255) and then, whatever the version, `Some(crc)` as 8
    /// little-endian bytes (`Some(0)` = "checksum disabled", any other value = a chosen, possibly
    /// wrong checksum) or, for `None`, no checksum bytes at all.
    pub fn finish_with_crc(&self, crc: Option<u64>) -> Vec<u8> {
        let mut out = self.buf.clone();
        out.push(opcode::EOF);
        if let Some(c) = crc {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Returns the bytes so far with no EOF and no checksum (a truncated file).
    pub fn finish_without_eof(&self) -> Vec<u8> {
        self.buf.clone()
    }
}

/// Builds a DUMP/RESTORE payload: `type byte | value | u16 LE rdb version | u64 LE CRC-64 of
/// everything before` (`createDumpPayload`).
pub fn dump_payload(type_byte: u8, value: &[u8], rdb_version: u16) -> Vec<u8> {
    let mut out = vec![type_byte];
    out.extend_from_slice(value);
    out.extend_from_slice(&rdb_version.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ty;

    #[test]
    fn magic_formats_pad_version() {
        assert_eq!(RdbWriter::redis(9).bytes(), b"REDIS0009");
        assert_eq!(RdbWriter::valkey(80).bytes(), b"VALKEY080");
        assert_eq!(RdbWriter::with_magic(b"REDIX", 3).bytes(), b"REDIX");
    }

    #[test]
    fn finish_old_version_has_no_checksum() {
        let f = RdbWriter::redis(4).finish();
        assert_eq!(f, b"REDIS0004\xff");
    }

    #[test]
    fn finish_writes_crc_over_eof() {
        let f = RdbWriter::redis(5).finish();
        let crc = crc64(b"REDIS0005\xff");
        assert_eq!(&f[10..], crc.to_le_bytes());
        assert_eq!(
            RdbWriter::redis(5).finish_with_crc(Some(0)),
            b"REDIS0005\xff\0\0\0\0\0\0\0\0"
        );
        assert_eq!(RdbWriter::redis(5).finish_with_crc(None), b"REDIS0005\xff");
    }

    #[test]
    fn opcodes_match_hand_bytes() {
        let f = RdbWriter::with_magic(b"", 0)
            .select_db(1)
            .resize_db(2, 3)
            .expire_ms(1)
            .expire_s(2)
            .idle(4)
            .freq(5)
            .slot_info(6, 7, 8)
            .function2("#!lua")
            .module_aux(9, 2, &[0])
            .aux("a", "b")
            .key(ty::STRING, "", &string(""))
            .finish_without_eof();
        let mut want = vec![0xFE, 1, 0xFB, 2, 3, 0xFC];
        want.extend(1i64.to_le_bytes());
        want.push(0xFD);
        want.extend(2i32.to_le_bytes());
        want.extend([0xF8, 4, 0xF9, 5, 0xF4, 6, 7, 8]);
        want.extend([0xF5, 5, b'#', b'!', b'l', b'u', b'a']);
        want.extend([0xF7, 9, 2, 2, 0]);
        want.extend([0xFA, 1, b'a', 1, b'b']);
        want.extend([0, 0, 0]);
        assert_eq!(f, want);
    }

    #[test]
    fn dump_payload_has_version_and_crc() {
        let p = dump_payload(ty::STRING, &string("v"), 11);
        assert_eq!(&p[..5], [0, 1, b'v', 11, 0]);
        assert_eq!(&p[5..], crc64(&p[..5]).to_le_bytes());
    }
}
