//! Ziplist blobs (§6.2): `zlbytes u32 LE | zltail u32 LE | zllen u16 LE | entries | 0xFF`, each
//! entry being `prevlen | encoding | payload` (`ziplist.c`).

use crate::encode::canonical_i64;

/// Ziplist header size: zlbytes (4) + zltail (4) + zllen (2).
pub const HEADER_SIZE: usize = 10;
/// Ziplist end byte (`ZIP_END`).
pub const END: u8 = 0xFF;
/// First byte of a 5-byte prevlen (`ZIP_BIG_PREVLEN`).
pub const BIG_PREVLEN: u8 = 0xFE;

/// Integer entry encodings (`ZIP_INT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZlInt {
    /// `1111xxxx`, xxxx = 1..=13: immediate 0..=12.
    Imm,
    /// `0xFE` + i8.
    I8,
    /// `0xC0` + i16 LE.
    I16,
    /// `0xF0` + i24 LE (RDB ≥ 6).
    I24,
    /// `0xD0` + i32 LE.
    I32,
    /// `0xE0` + i64 LE.
    I64,
}

impl ZlInt {
    /// The smallest encoding for `v` (`zipTryEncoding`).
    pub fn smallest(v: i64) -> Self {
        if (0..=12).contains(&v) {
            Self::Imm
        } else if i8::try_from(v).is_ok() {
            Self::I8
        } else if i16::try_from(v).is_ok() {
            Self::I16
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            Self::I24
        } else if i32::try_from(v).is_ok() {
            Self::I32
        } else {
            Self::I64
        }
    }
}

/// String entry length encodings (`ZIP_STR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZlStr {
    /// `00pppppp`: length 0..=63.
    B6,
    /// `01pppppp qqqqqqqq`: length 0..=16383, big-endian.
    B14,
    /// `0x80` + u32 big-endian length.
    B32,
}

impl ZlStr {
    /// The smallest length encoding for a string of `len` bytes.
    pub fn smallest(len: usize) -> Self {
        if len < 64 {
            Self::B6
        } else if len < 16384 {
            Self::B14
        } else {
            Self::B32
        }
    }
}

/// Encodes an integer entry's encoding + payload (no prevlen); the value is truncated to the
/// form's width (for `Imm`, only 0..=12 are meaningful).
pub fn int_entry_body(v: i64, form: ZlInt) -> Vec<u8> {
    let le = v.to_le_bytes();
    match form {
        ZlInt::Imm => vec![0xF1 + (v as u8 & 0x0f)],
        ZlInt::I8 => vec![0xFE, le[0]],
        ZlInt::I16 => [&[0xC0][..], &le[..2]].concat(),
        ZlInt::I24 => [&[0xF0][..], &le[..3]].concat(),
        ZlInt::I32 => [&[0xD0][..], &le[..4]].concat(),
        ZlInt::I64 => [&[0xE0][..], &le[..]].concat(),
    }
}

/// Encodes a string entry's encoding + payload (no prevlen).
///
/// # Panics
/// Panics if the string is too long for `form`.
pub fn str_entry_body(s: &[u8], form: ZlStr) -> Vec<u8> {
    let n = s.len();
    let mut out = match form {
        ZlStr::B6 => {
            assert!(n < 64, "string too long for 6-bit ziplist length");
            vec![n as u8]
        }
        ZlStr::B14 => {
            assert!(n < 16384, "string too long for 14-bit ziplist length");
            vec![0x40 | (n >> 8) as u8, n as u8]
        }
        ZlStr::B32 => {
            let n = u32::try_from(n).expect("string too long for 32-bit ziplist length");
            [&[0x80][..], &n.to_be_bytes()[..]].concat()
        }
    };
    out.extend_from_slice(s);
    out
}

/// Encodes a prevlen field: 1 byte when `prev < 254` (unless `force_big`), else `0xFE` + u32 LE.
pub fn prevlen(prev: u32, force_big: bool) -> Vec<u8> {
    if prev < 254 && !force_big {
        vec![prev as u8]
    } else {
        [&[BIG_PREVLEN][..], &prev.to_le_bytes()[..]].concat()
    }
}

#[derive(Debug, Clone)]
struct ZlEntry {
    body: Vec<u8>,
    big_prevlen: bool,
    prevlen_override: Option<Vec<u8>>,
}

/// Builds a ziplist; prevlens, zlbytes, zltail and zllen are computed at [`Ziplist::build`].
///
/// ```
/// use rdbscope_testwriter::Ziplist;
/// let zl = Ziplist::new().str("a").int(5).build();
/// assert_eq!(zl, [16, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0x00, 0x01, b'a', 0x03, 0xF6, 0xff]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Ziplist {
    entries: Vec<ZlEntry>,
    big_next: bool,
    count_override: Option<u16>,
    bytes_override: Option<u32>,
    tail_override: Option<u32>,
    no_end: bool,
}

impl Ziplist {
    /// Starts an empty ziplist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry from its encoding + payload bytes; prevlen is computed.
    pub fn entry_body(&mut self, body: &[u8]) -> &mut Self {
        self.entries.push(ZlEntry {
            body: body.to_vec(),
            big_prevlen: std::mem::take(&mut self.big_next),
            prevlen_override: None,
        });
        self
    }

    /// Appends an entry with a verbatim prevlen field (e.g. a wrong or 1-byte 254 value).
    pub fn entry_with_prevlen(&mut self, prevlen: &[u8], body: &[u8]) -> &mut Self {
        self.entries.push(ZlEntry {
            body: body.to_vec(),
            big_prevlen: false,
            prevlen_override: Some(prevlen.to_vec()),
        });
        self
    }

    /// Makes the next appended entry use the 5-byte prevlen form even if 1 byte would do
    /// (the legal cascade-update artefact).
    pub fn big_prevlen_next(&mut self) -> &mut Self {
        self.big_next = true;
        self
    }

    /// Appends an integer entry in the smallest encoding (immediate, int8, 16, 24, 32, 64).
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.int_as(v, ZlInt::smallest(v))
    }

    /// Appends an integer entry in the given encoding.
    pub fn int_as(&mut self, v: i64, form: ZlInt) -> &mut Self {
        self.entry_body(&int_entry_body(v, form))
    }

    /// Appends a string entry with the smallest length encoding, even if it looks numeric.
    pub fn str(&mut self, s: impl AsRef<[u8]>) -> &mut Self {
        let s = s.as_ref();
        self.str_as(s, ZlStr::smallest(s.len()))
    }

    /// Appends a string entry with the given length encoding.
    ///
    /// # Panics
    /// Panics if the string is too long for `form`.
    pub fn str_as(&mut self, s: impl AsRef<[u8]>, form: ZlStr) -> &mut Self {
        self.entry_body(&str_entry_body(s.as_ref(), form))
    }

    /// Appends an element the way `ziplistPush` does: an integer when `s` is canonical decimal
    /// `i64` text (shorter than 32 bytes), a string otherwise.
    pub fn auto(&mut self, s: impl AsRef<[u8]>) -> &mut Self {
        let s = s.as_ref();
        match canonical_i64(s) {
            Some(v) => self.int(v),
            None => self.str(s),
        }
    }

    /// Writes `count` as zllen instead of the real count.
    pub fn with_count(&mut self, count: u16) -> &mut Self {
        self.count_override = Some(count);
        self
    }

    /// Writes `zlbytes` instead of the real size.
    pub fn with_zlbytes(&mut self, zlbytes: u32) -> &mut Self {
        self.bytes_override = Some(zlbytes);
        self
    }

    /// Writes `zltail` instead of the real offset of the last entry.
    pub fn with_zltail(&mut self, zltail: u32) -> &mut Self {
        self.tail_override = Some(zltail);
        self
    }

    /// Omits the `0xFF` end byte.
    pub fn without_end(&mut self) -> &mut Self {
        self.no_end = true;
        self
    }

    /// Number of entries appended so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry has been appended.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Returns the complete ziplist. zltail is the offset of the last entry (10 when empty);
    /// zllen saturates at 65535.
    pub fn build(&self) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev_size = 0u32;
        let mut tail = HEADER_SIZE as u32;
        for e in &self.entries {
            tail = (HEADER_SIZE + body.len()) as u32;
            let pl = match &e.prevlen_override {
                Some(p) => p.clone(),
                None => prevlen(prev_size, e.big_prevlen),
            };
            prev_size = (pl.len() + e.body.len()) as u32;
            body.extend(pl);
            body.extend_from_slice(&e.body);
        }
        let end = usize::from(!self.no_end);
        let zlbytes = self
            .bytes_override
            .unwrap_or((HEADER_SIZE + body.len() + end) as u32);
        let zltail = self.tail_override.unwrap_or(tail);
        let zllen = self
            .count_override
            .unwrap_or(self.entries.len().min(65535) as u16);
        let mut out = Vec::with_capacity(HEADER_SIZE + body.len() + 1);
        out.extend_from_slice(&zlbytes.to_le_bytes());
        out.extend_from_slice(&zltail.to_le_bytes());
        out.extend_from_slice(&zllen.to_le_bytes());
        out.extend(body);
        if !self.no_end {
            out.push(END);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ziplist_empty_matches_redis_layout() {
        assert_eq!(
            Ziplist::new().build(),
            [11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]
        );
    }

    #[test]
    fn ziplist_a_5_matches_hand_bytes() {
        let zl = Ziplist::new().str("a").int(5).build();
        assert_eq!(
            zl,
            [16, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0x00, 0x01, b'a', 0x03, 0xF6, 0xff]
        );
    }

    #[test]
    fn int_smallest_covers_every_width() {
        let cases: [(i64, &[u8]); 9] = [
            (0, &[0xF1]),
            (12, &[0xFD]),
            (13, &[0xFE, 13]),
            (-1, &[0xFE, 0xff]),
            (128, &[0xC0, 0x80, 0x00]),
            (32768, &[0xF0, 0x00, 0x80, 0x00]),
            (-8_388_608, &[0xF0, 0x00, 0x00, 0x80]),
            (8_388_608, &[0xD0, 0x00, 0x00, 0x80, 0x00]),
            (1 << 40, &[0xE0, 0, 0, 0, 0, 0, 1, 0, 0]),
        ];
        for (v, want) in cases {
            assert_eq!(int_entry_body(v, ZlInt::smallest(v)), want, "value {v}");
        }
    }

    #[test]
    fn str_length_forms_are_big_endian() {
        assert_eq!(
            &str_entry_body(&[0; 300], ZlStr::smallest(300))[..2],
            [0x41, 0x2c]
        );
        assert_eq!(
            &str_entry_body(&[0; 16384], ZlStr::smallest(16384))[..5],
            [0x80, 0, 0, 0x40, 0]
        );
    }

    #[test]
    fn ziplist_prevlen_switches_to_five_bytes_after_big_entry() {
        let zl = Ziplist::new().str([b'x'; 300]).int(1).build();
        // entry 1: prevlen 1 + encoding 2 + 300 = 303 bytes; entry 2 prevlen = FE 2F 01 00 00
        let e2 = HEADER_SIZE + 303;
        assert_eq!(&zl[e2..e2 + 6], [0xFE, 0x2F, 0x01, 0, 0, 0xF2]);
        assert_eq!(&zl[4..8], (e2 as u32).to_le_bytes());
    }

    #[test]
    fn ziplist_forced_big_prevlen_is_written() {
        let zl = Ziplist::new().int(1).big_prevlen_next().int(2).build();
        assert_eq!(&zl[10..], [0x00, 0xF2, 0xFE, 2, 0, 0, 0, 0xF3, 0xff]);
    }
}
