//! RDB strings as they are stored: raw bytes borrowed from the input, an integer, or an LZF
//! stream with its declared length. Sizes are known without decoding.

use crate::error::{Error, ErrorKind, Result};
use crate::lzf;

/// A string as stored in the file (`rdbGenericLoadStringObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbStr<'a> {
    /// Plain bytes, borrowed from the input; `offset` is where the length prefix starts.
    Raw {
        /// Absolute offset of the string's length prefix.
        offset: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// An integer-encoded string (`0xC0..=0xC2`); its value is the decimal rendering.
    Int(i64),
    /// An LZF-compressed string (`0xC3`).
    Lzf {
        /// Absolute offset of the string's encoding byte.
        offset: u64,
        /// The compressed bytes.
        compressed: &'a [u8],
        /// The declared uncompressed length.
        ulen: u64,
    },
}

/// How a string was encoded in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrEncoding {
    /// Plain bytes.
    Raw,
    /// Integer (`RDB_ENC_INT8/16/32`).
    Int,
    /// LZF (`RDB_ENC_LZF`).
    Lzf,
}

impl<'a> RdbStr<'a> {
    /// The logical length in bytes, without decoding (LZF: the declared length; integers: the
    /// length of their decimal rendering).
    pub fn len(&self) -> u64 {
        match *self {
            RdbStr::Raw { bytes, .. } => bytes.len() as u64,
            RdbStr::Int(v) => decimal_len(v),
            RdbStr::Lzf { ulen, .. } => ulen,
        }
    }

    /// True when the logical string is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How the string was stored.
    pub fn encoding(&self) -> StrEncoding {
        match self {
            RdbStr::Raw { .. } => StrEncoding::Raw,
            RdbStr::Int(_) => StrEncoding::Int,
            RdbStr::Lzf { .. } => StrEncoding::Lzf,
        }
    }

    /// The bytes this string takes in the file after its prefix (LZF: compressed size).
    pub fn stored_len(&self) -> u64 {
        match *self {
            RdbStr::Raw { bytes, .. } => bytes.len() as u64,
            RdbStr::Int(_) => 0,
            RdbStr::Lzf { compressed, .. } => compressed.len() as u64,
        }
    }

    /// Borrowed bytes when the string is stored plain.
    pub fn as_raw(&self) -> Option<&'a [u8]> {
        match *self {
            RdbStr::Raw { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// The logical bytes: borrowed for plain strings, otherwise rendered or decompressed into
    /// `buf` (which is reused by the caller to avoid per-string allocation).
    ///
    /// # Errors
    /// A corrupt LZF stream, reported at the string's offset.
    pub fn bytes<'b>(&self, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        match *self {
            RdbStr::Raw { bytes, .. } => Ok(bytes),
            RdbStr::Int(v) => {
                buf.clear();
                // Formatted straight into `buf`: no string allocated per integer.
                let _ = std::io::Write::write_fmt(buf, format_args!("{v}"));
                Ok(buf.as_slice())
            }
            RdbStr::Lzf {
                offset,
                compressed,
                ulen,
            } => {
                lzf::decompress_into(compressed, ulen as usize, buf)
                    .map_err(|why| Error::new(offset, ErrorKind::Lzf(why)))?;
                Ok(buf.as_slice())
            }
        }
    }

    /// Copies the logical bytes into a new vector.
    ///
    /// # Errors
    /// A corrupt LZF stream.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let n = self.bytes(&mut buf)?.len();
        if let RdbStr::Raw { bytes, .. } = *self {
            return Ok(bytes.to_vec());
        }
        buf.truncate(n);
        Ok(buf)
    }

    /// The first `n` logical bytes (or fewer if shorter), decompressing only what is needed.
    /// Used to read blob headers (listpack, ziplist, intset) without decompressing blobs.
    ///
    /// # Errors
    /// A corrupt LZF stream.
    pub fn prefix<'b>(&self, n: usize, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        match *self {
            RdbStr::Raw { bytes, .. } => Ok(&bytes[..n.min(bytes.len())]),
            RdbStr::Int(_) => {
                let b = self.bytes(buf)?;
                let m = n.min(b.len());
                Ok(&buf[..m])
            }
            RdbStr::Lzf {
                offset,
                compressed,
                ulen,
            } => lzf::decompress_prefix(compressed, ulen as usize, n, buf)
                .map_err(|why| Error::new(offset, ErrorKind::Lzf(why))),
        }
    }

    /// The integer value when the string is integer-encoded.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            RdbStr::Int(v) => Some(v),
            _ => None,
        }
    }

    /// Absolute offset of the string in the file (0 for integers, which have no own bytes).
    pub fn offset(&self) -> u64 {
        match *self {
            RdbStr::Raw { offset, .. } | RdbStr::Lzf { offset, .. } => offset,
            RdbStr::Int(_) => 0,
        }
    }
}

/// Number of characters of `v` in decimal.
pub fn decimal_len(v: i64) -> u64 {
    let mut n = if v < 0 { 2 } else { 1 };
    let mut u = v.unsigned_abs();
    while u >= 10 {
        u /= 10;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_len_edges() {
        assert_eq!(decimal_len(0), 1);
        assert_eq!(decimal_len(-1), 2);
        assert_eq!(decimal_len(9999), 4);
        assert_eq!(decimal_len(i64::MIN), 20);
        assert_eq!(decimal_len(i64::MAX), 19);
    }

    #[test]
    fn int_bytes_render_decimal() {
        let mut buf = Vec::new();
        assert_eq!(RdbStr::Int(-42).bytes(&mut buf).unwrap(), b"-42");
    }
}
