//! A bounds-checked cursor over the input: the RDB length and string codecs.

use crate::error::{Error, ErrorKind, Result};
use crate::string::RdbStr;

/// A position in a borrowed byte slice whose first byte sits at absolute offset `base`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub base: u64,
}

/// A decoded RDB length prefix: either a length or a special string encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Len {
    Plain(u64),
    Encoded(u8),
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], base: u64) -> Self {
        Cursor { data, pos: 0, base }
    }

    /// Absolute offset of the current position.
    #[inline]
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    #[inline]
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    #[inline]
    pub fn err(&self, kind: ErrorKind) -> Error {
        Error::new(self.offset(), kind)
    }

    #[inline]
    pub fn eof(&self, what: &'static str, needed: usize) -> Error {
        self.err(ErrorKind::UnexpectedEof {
            what,
            needed: (needed - self.remaining()) as u64,
        })
    }

    #[inline]
    pub fn u8(&mut self, what: &'static str) -> Result<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.eof(what, 1)),
        }
    }

    #[inline]
    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.eof(what, n));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads `n` bytes where `n` came from the file: reported as a declared length too large.
    #[inline]
    pub fn declared(&mut self, n: u64, what: &'static str) -> Result<&'a [u8]> {
        let rem = self.remaining();
        if n > rem as u64 {
            return Err(self.err(ErrorKind::LengthTooLarge {
                what,
                declared: n,
                remaining: rem as u64,
            }));
        }
        self.bytes(n as usize, what)
    }

    #[inline]
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N]> {
        let b = self.bytes(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    #[inline]
    pub fn i64_le(&mut self, what: &'static str) -> Result<i64> {
        Ok(i64::from_le_bytes(self.array(what)?))
    }

    #[inline]
    pub fn i32_le(&mut self, what: &'static str) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    /// Reads an RDB length prefix (`rdbLoadLenByRef`).
    #[inline]
    pub fn len_or_enc(&mut self, what: &'static str) -> Result<Len> {
        let start = self.pos;
        let b = self.u8(what)?;
        match b >> 6 {
            0 => Ok(Len::Plain(u64::from(b & 0x3f))),
            1 => {
                let b2 = self.u8(what)?;
                Ok(Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(b2)))
            }
            2 => match b {
                0x80 => Ok(Len::Plain(u64::from(u32::from_be_bytes(self.array(what)?)))),
                0x81 => Ok(Len::Plain(u64::from_be_bytes(self.array(what)?))),
                _ => {
                    self.pos = start;
                    Err(self.err(ErrorKind::BadLength(b)))
                }
            },
            _ => Ok(Len::Encoded(b & 0x3f)),
        }
    }

    /// Reads a plain length; a special string encoding here is corruption.
    #[inline]
    pub fn len(&mut self, what: &'static str) -> Result<u64> {
        let start = self.pos;
        match self.len_or_enc(what)? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(e) => {
                self.pos = start;
                Err(self.err(ErrorKind::EncodedLengthNotAllowed(0xC0 | e)))
            }
        }
    }

    /// Reads a count of items that each take at least `min_item` bytes, rejecting counts the
    /// remaining input cannot hold (so no caller ever loops or allocates on a forged count).
    #[inline]
    pub fn count(&mut self, what: &'static str, min_item: u64) -> Result<u64> {
        let at = self.pos;
        let n = self.len(what)?;
        let rem = self.remaining() as u64;
        if n.saturating_mul(min_item) > rem {
            self.pos = at;
            return Err(self.err(ErrorKind::LengthTooLarge {
                what,
                declared: n.saturating_mul(min_item),
                remaining: rem,
            }));
        }
        Ok(n)
    }

    /// Reads an RDB string (`rdbGenericLoadStringObject`), borrowed where possible. Plain
    /// strings with a one- or two-byte length (key names, most values and elements) are
    /// read inline; the rest take [`string_slow`](Self::string_slow).
    #[inline(always)]
    pub fn string(&mut self, what: &'static str) -> Result<RdbStr<'a>> {
        if let Some((hdr, n)) = self.short_plain() {
            let at = self.pos + hdr;
            if let Some(bytes) = self.data.get(at..at + n) {
                let offset = self.offset();
                self.pos = at + n;
                return Ok(RdbStr::Raw { offset, bytes });
            }
        }
        self.string_slow(what)
    }

    /// The header size and length of a plain string with a one- or two-byte length at the
    /// cursor, if all its bytes are there: the common case, decoded without a call.
    #[inline(always)]
    fn short_plain(&self) -> Option<(usize, usize)> {
        let rest = self.data.get(self.pos..)?;
        let (hdr, n) = match *rest {
            [b, ..] if b < 0x40 => (1, usize::from(b)),
            [b, b2, ..] if b < 0x80 => (2, usize::from(b & 0x3f) << 8 | usize::from(b2)),
            _ => return None,
        };
        (hdr + n <= rest.len()).then_some((hdr, n))
    }

    /// [`string`](Self::string) of any encoding, and its errors.
    #[inline(never)]
    fn string_slow(&mut self, what: &'static str) -> Result<RdbStr<'a>> {
        let offset = self.offset();
        match self.len_or_enc(what)? {
            Len::Plain(n) => Ok(RdbStr::Raw {
                offset,
                bytes: self.declared(n, what)?,
            }),
            Len::Encoded(0) => Ok(RdbStr::Int(i64::from(self.u8(what)? as i8))),
            Len::Encoded(1) => Ok(RdbStr::Int(i64::from(i16::from_le_bytes(
                self.array(what)?,
            )))),
            Len::Encoded(2) => Ok(RdbStr::Int(i64::from(self.i32_le(what)?))),
            Len::Encoded(3) => {
                let clen = self.len(what)?;
                let ulen = self.len(what)?;
                let compressed = self.declared(clen, what)?;
                if ulen == 0 {
                    return Err(Error::new(
                        offset,
                        ErrorKind::Lzf("declared uncompressed length 0"),
                    ));
                }
                // liblzf cannot expand data more than ~ 265x (a 3-byte back reference writes
                // at most 264 bytes); a larger ratio is a forged length.
                if ulen > clen.saturating_mul(300).saturating_add(64) {
                    return Err(Error::new(
                        offset,
                        ErrorKind::Lzf(
                            "declared uncompressed length impossible for the compressed size",
                        ),
                    ));
                }
                Ok(RdbStr::Lzf {
                    offset,
                    compressed,
                    ulen,
                })
            }
            Len::Encoded(e) => Err(Error::new(offset, ErrorKind::BadStringEncoding(0xC0 | e))),
        }
    }

    /// Skips an RDB string without materialising it ([`string_len`](Self::string_len)
    /// without the length).
    #[inline(always)]
    pub fn skip_string(&mut self, what: &'static str) -> Result<()> {
        self.string_len(what).map(drop)
    }

    /// Skips an RDB string and returns its logical length ([`RdbStr::len`]: the declared
    /// length of an LZF string, the decimal length of an integer encoding) without decoding
    /// it. Framing skips millions of collection elements, most with a one- or two-byte plain
    /// length: those are read inline, everything else (long lengths, integer and LZF
    /// encodings, errors) takes the full decoder.
    #[inline(always)]
    pub fn string_len(&mut self, what: &'static str) -> Result<u64> {
        match self.short_plain() {
            Some((hdr, n)) => {
                self.pos += hdr + n;
                Ok(n as u64)
            }
            None => self.string_len_slow(what),
        }
    }

    #[inline(never)]
    fn string_len_slow(&mut self, what: &'static str) -> Result<u64> {
        self.string_slow(what).map(|s| s.len())
    }

    /// Reads a string-encoded double (`rdbLoadDoubleValue`).
    pub fn string_double(&mut self, what: &'static str) -> Result<f64> {
        let at = self.offset();
        let n = self.u8(what)?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let b = self.bytes(usize::from(n), what)?;
                std::str::from_utf8(b)
                    .ok()
                    .and_then(parse_c_double)
                    .ok_or_else(|| Error::new(at, ErrorKind::Invalid("expected a decimal score")))
            }
        }
    }
}

/// Parses a double the way `strtod` accepts what Redis writes (`%.17g`, `inf`, `nan`).
pub(crate) fn parse_c_double(s: &str) -> Option<f64> {
    let t = s.trim();
    match t {
        "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_all_widths_decode() {
        let data = [
            0x05, 0x41, 0x02, 0x80, 0, 1, 0, 0, 0x81, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        let mut c = Cursor::new(&data, 0);
        assert_eq!(c.len("x").unwrap(), 5);
        assert_eq!(c.len("x").unwrap(), 0x102);
        assert_eq!(c.len("x").unwrap(), 0x10000);
        assert_eq!(c.len("x").unwrap(), 1 << 32);
    }

    #[test]
    fn len_invalid_byte_is_error_with_offset() {
        let data = [0x00, 0x85];
        let mut c = Cursor::new(&data, 100);
        c.len("x").unwrap();
        let e = c.len("x").unwrap_err();
        assert_eq!(e.offset, 101);
        assert_eq!(e.kind, ErrorKind::BadLength(0x85));
    }

    #[test]
    fn string_declared_too_long_is_error() {
        let data = [0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, b'a'];
        let e = Cursor::new(&data, 0).string("key").unwrap_err();
        assert!(matches!(e.kind, ErrorKind::LengthTooLarge { .. }));
    }

    #[test]
    fn count_forged_is_rejected() {
        let data = [0x80, 0xff, 0xff, 0xff, 0xff, 1, 2];
        assert!(Cursor::new(&data, 0).count("n", 1).is_err());
    }
}
