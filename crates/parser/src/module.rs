//! Module values: the 64-bit module type id and the self-describing opcode stream
//! (`moduleTypeEncodeId`, `RDB_MODULE_OPCODE_*` in `rdb.h`) that lets any module value be
//! skipped without the module.

use crate::error::{ErrorKind, Result};
use crate::reader::Cursor;

/// A module type id: 9 name characters and a 10-bit encoding version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u64);

const CHARSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl ModuleId {
    /// The 9-character module type name (`moduleTypeNameByID`).
    pub fn name(self) -> String {
        let mut s = String::with_capacity(9);
        for i in 0..9 {
            let idx = (self.0 >> (10 + (8 - i) * 6)) & 63;
            s.push(char::from(CHARSET[idx as usize]));
        }
        s
    }

    /// The encoding version the module wrote (low 10 bits).
    pub fn encver(self) -> u16 {
        (self.0 & 1023) as u16
    }
}

/// Skips a module opcode stream up to and including its EOF opcode.
pub(crate) fn skip_opcode_stream(c: &mut Cursor<'_>) -> Result<()> {
    loop {
        let at = c.offset();
        match c.len("module opcode")? {
            0 => return Ok(()),
            1 | 2 => {
                c.len("module integer")?;
            }
            3 => {
                c.bytes(4, "module float")?;
            }
            4 => {
                c.bytes(8, "module double")?;
            }
            5 => c.skip_string("module string")?,
            _ => {
                return Err(crate::Error::new(
                    at,
                    ErrorKind::Invalid("expected a module opcode (0 to 5)"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &str, ver: u64) -> u64 {
        let mut id = 0u64;
        for ch in name.bytes() {
            let idx = CHARSET.iter().position(|&c| c == ch).unwrap() as u64;
            id = (id << 6) | idx;
        }
        (id << 10) | ver
    }

    #[test]
    fn module_id_name_roundtrip() {
        let id = ModuleId(encode("ReJSON-RL", 3));
        assert_eq!(id.name(), "ReJSON-RL");
        assert_eq!(id.encver(), 3);
    }

    #[test]
    fn opcode_stream_skips_to_eof() {
        // UINT 5, STRING "ab", DOUBLE, EOF, trailing byte
        let data = [2u8, 5, 5, 2, b'a', b'b', 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xAA];
        let mut c = Cursor::new(&data, 0);
        skip_opcode_stream(&mut c).unwrap();
        assert_eq!(c.pos, data.len() - 1);
    }

    #[test]
    fn opcode_stream_unknown_opcode_is_error() {
        let data = [9u8, 0];
        assert!(skip_opcode_stream(&mut Cursor::new(&data, 0)).is_err());
    }
}
