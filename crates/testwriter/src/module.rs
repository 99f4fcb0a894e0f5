//! Module type ids and the self-describing module opcode stream (§6.9), used by MODULE_2 values
//! (type 7), MODULE_AUX (opcode 247) and KEY_META payloads.

use crate::encode::{float_bin, len, string};

/// The 64 characters a module type name may use, in id order (`ModuleTypeNameCharSet`).
pub const NAME_CHARSET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Module opcode: end of the stream (`RDB_MODULE_OPCODE_EOF`).
pub const OP_EOF: u64 = 0;
/// Module opcode: signed integer written as a len (`RDB_MODULE_OPCODE_SINT`).
pub const OP_SINT: u64 = 1;
/// Module opcode: unsigned integer written as a len (`RDB_MODULE_OPCODE_UINT`).
pub const OP_UINT: u64 = 2;
/// Module opcode: 4-byte LE float (`RDB_MODULE_OPCODE_FLOAT`).
pub const OP_FLOAT: u64 = 3;
/// Module opcode: 8-byte LE double (`RDB_MODULE_OPCODE_DOUBLE`).
pub const OP_DOUBLE: u64 = 4;
/// Module opcode: RDB string (`RDB_MODULE_OPCODE_STRING`).
pub const OP_STRING: u64 = 5;

/// Encodes a module type id from a 9-character name and a 10-bit encoding version
/// (`moduleTypeEncodeId`): 6 bits per character, first character in the top bits, version in
/// bits 9..0.
///
/// # Panics
/// Panics if `name` is not exactly 9 characters from [`NAME_CHARSET`] or `encver > 1023`.
///
/// ```
/// use rdbscope_testwriter::module::module_id;
/// assert_eq!(module_id("AAAAAAAAA", 0), 0);
/// assert_eq!(module_id("AAAAAAAAB", 3), (1 << 10) | 3);
/// assert_eq!(module_id("_________", 1023), u64::MAX);
/// ```
pub fn module_id(name: &str, encver: u16) -> u64 {
    assert_eq!(name.len(), 9, "module type name must be 9 characters");
    assert!(encver < 1024, "module encoding version must fit 10 bits");
    let mut id = 0u64;
    for c in name.bytes() {
        let idx = NAME_CHARSET
            .iter()
            .position(|&x| x == c)
            .expect("module type name character outside A-Z a-z 0-9 - _");
        id = (id << 6) | idx as u64;
    }
    (id << 10) | u64::from(encver)
}

/// Builds a module opcode stream: `len opcode` + payload pairs, closed by `len 0`.
///
/// ```
/// use rdbscope_testwriter::module::ModuleOps;
/// let ops = ModuleOps::new().uint(7).string("x").build();
/// assert_eq!(ops, [2, 7, 5, 1, b'x', 0]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ModuleOps {
    out: Vec<u8>,
}

impl ModuleOps {
    /// Starts an empty opcode stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends SINT: opcode 1, then `v` reinterpreted as u64 and written as a len (so negative
    /// values take the 9-byte form).
    pub fn sint(&mut self, v: i64) -> &mut Self {
        self.op(OP_SINT, &len(v as u64))
    }

    /// Appends UINT: opcode 2, then `v` as a len.
    pub fn uint(&mut self, v: u64) -> &mut Self {
        self.op(OP_UINT, &len(v))
    }

    /// Appends FLOAT: opcode 3, then 4 bytes LE.
    pub fn float(&mut self, v: f32) -> &mut Self {
        self.op(OP_FLOAT, &float_bin(v))
    }

    /// Appends DOUBLE: opcode 4, then 8 bytes LE.
    pub fn double(&mut self, v: f64) -> &mut Self {
        self.op(OP_DOUBLE, &v.to_le_bytes())
    }

    /// Appends STRING: opcode 5, then a plain RDB string.
    pub fn string(&mut self, s: impl AsRef<[u8]>) -> &mut Self {
        self.op(OP_STRING, &string(s))
    }

    /// Appends STRING with an already encoded RDB string (int- or LZF-encoded, or hostile).
    pub fn string_encoded(&mut self, encoded: &[u8]) -> &mut Self {
        self.op(OP_STRING, encoded)
    }

    /// Appends any opcode (as a len) followed by `payload` verbatim.
    pub fn op(&mut self, opcode: u64, payload: &[u8]) -> &mut Self {
        self.out.extend(len(opcode));
        self.out.extend_from_slice(payload);
        self
    }

    /// Appends raw bytes verbatim.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// Returns the stream closed by the EOF opcode (`len 0`).
    pub fn build(&self) -> Vec<u8> {
        let mut out = self.out.clone();
        out.extend(len(OP_EOF));
        out
    }

    /// Returns the stream without the closing EOF opcode (for truncation tests).
    pub fn build_without_eof(&self) -> Vec<u8> {
        self.out.clone()
    }
}

/// Encodes a MODULE_2 value (type 7): module id as a len, then `ops` verbatim (normally
/// [`ModuleOps::build`], which ends with EOF).
pub fn module_value(module_id: u64, ops: &[u8]) -> Vec<u8> {
    let mut out = len(module_id);
    out.extend_from_slice(ops);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_id_packs_name_and_version() {
        // "A" = 0, "B" = 1, "a" = 26, "0" = 52, "-" = 62, "_" = 63
        let id = module_id("BAAAAAAAA", 0);
        assert_eq!(id, 1 << 58);
        let id = module_id("mymodule1", 5);
        let mut expect = 0u64;
        for c in "mymodule1".bytes() {
            let idx = if c.is_ascii_lowercase() {
                u64::from(c - b'a') + 26
            } else {
                u64::from(c - b'0') + 52
            };
            expect = (expect << 6) | idx;
        }
        assert_eq!(id, (expect << 10) | 5);
    }

    #[test]
    fn module_ops_negative_sint_uses_64_bit_len() {
        let ops = ModuleOps::new().sint(-1).build();
        assert_eq!(
            ops,
            [1, 0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0]
        );
    }

    #[test]
    fn module_value_prefixes_id() {
        let v = module_value(1 << 10, &ModuleOps::new().double(1.0).build());
        assert_eq!(&v[..3], [0x40 | 0x04, 0x00, 4]);
        assert_eq!(v.len(), 2 + 1 + 8 + 1);
    }
}
