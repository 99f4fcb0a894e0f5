//! Listpack blobs (§6.4): `total_bytes u32 LE | num_elements u16 LE | entries | 0xFF`, each entry
//! being encoding + data + backlen (`listpack.c`).

use crate::encode::canonical_i64;

/// Listpack header size: total bytes (4) + element count (2).
pub const HEADER_SIZE: usize = 6;
/// Listpack end byte (`LP_EOF`).
pub const END: u8 = 0xFF;
/// Element count meaning "unknown, count by scanning" (`LP_HDR_NUMELE_UNKNOWN`).
pub const COUNT_UNKNOWN: u16 = 65535;

/// Integer entry encodings (`LP_ENCODING_*_INT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpInt {
    /// `0xxxxxxx`: 0..=127.
    U7,
    /// `110xxxxx yyyyyyyy`: -4096..=4095, 13-bit two's complement.
    I13,
    /// `0xF1` + i16 LE.
    I16,
    /// `0xF2` + i24 LE.
    I24,
    /// `0xF3` + i32 LE.
    I32,
    /// `0xF4` + i64 LE.
    I64,
}

impl LpInt {
    /// The smallest encoding that holds `v` (`lpEncodeIntegerGetType`).
    pub fn smallest(v: i64) -> Self {
        if (0..=127).contains(&v) {
            Self::U7
        } else if (-4096..=4095).contains(&v) {
            Self::I13
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

/// String entry length encodings (`LP_ENCODING_*BIT_STR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LpStr {
    /// `10xxxxxx`: length 0..=63.
    B6,
    /// `1110xxxx yyyyyyyy`: length 0..=4095.
    B12,
    /// `0xF0` + u32 LE length.
    B32,
}

impl LpStr {
    /// The smallest length encoding for a string of `len` bytes.
    pub fn smallest(len: usize) -> Self {
        if len < 64 {
            Self::B6
        } else if len < 4096 {
            Self::B12
        } else {
            Self::B32
        }
    }
}

/// Encodes an integer entry's encoding + data (no backlen) in the given form; values are
/// truncated to the form's width, so an out-of-range value writes a wrapped number.
pub fn int_entry_body(v: i64, form: LpInt) -> Vec<u8> {
    let le = v.to_le_bytes();
    match form {
        LpInt::U7 => vec![(v as u8) & 0x7f],
        LpInt::I13 => {
            let u = (v as u64) & 0x1fff;
            vec![0xC0 | (u >> 8) as u8, u as u8]
        }
        LpInt::I16 => [&[0xF1][..], &le[..2]].concat(),
        LpInt::I24 => [&[0xF2][..], &le[..3]].concat(),
        LpInt::I32 => [&[0xF3][..], &le[..4]].concat(),
        LpInt::I64 => [&[0xF4][..], &le[..]].concat(),
    }
}

/// Encodes a string entry's encoding + data (no backlen) with the given length form.
///
/// # Panics
/// Panics if the string is too long for `form`.
pub fn str_entry_body(s: &[u8], form: LpStr) -> Vec<u8> {
    let n = s.len();
    let mut out = match form {
        LpStr::B6 => {
            assert!(n < 64, "string too long for 6-bit listpack length");
            vec![0x80 | n as u8]
        }
        LpStr::B12 => {
            assert!(n < 4096, "string too long for 12-bit listpack length");
            vec![0xE0 | (n >> 8) as u8, n as u8]
        }
        LpStr::B32 => {
            let n = u32::try_from(n).expect("string too long for 32-bit listpack length");
            [&[0xF0][..], &n.to_le_bytes()[..]].concat()
        }
    };
    out.extend_from_slice(s);
    out
}

/// Encodes a backlen for an entry whose encoding + data is `l` bytes (`lpEncodeBacklen`): 1 to 5
/// bytes, most significant 7 bits first, every byte but the first with bit 7 set.
///
/// ```
/// use rdbscope_testwriter::listpack::backlen;
/// assert_eq!(backlen(2), [2]);
/// assert_eq!(backlen(200), [0x01, 0xc8]);
/// ```
pub fn backlen(l: u64) -> Vec<u8> {
    // Thresholds copied from `lpEncodeBacklen` (note `<`, not `<=`, beyond one byte).
    let n = if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2_097_151 {
        3
    } else if l < 268_435_455 {
        4
    } else {
        5
    };
    (0..n)
        .map(|i| {
            let shift = 7 * (n - 1 - i);
            let b = ((l >> shift) & 0x7f) as u8;
            if i == 0 {
                b
            } else {
                b | 0x80
            }
        })
        .collect()
}

/// Builds a listpack. Entries pick the smallest encodings unless a `*_as` method forces one.
///
/// ```
/// use rdbscope_testwriter::Listpack;
/// let lp = Listpack::new().str("a").int(1).build();
/// assert_eq!(lp, [12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xff]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Listpack {
    body: Vec<u8>,
    count: u64,
    count_override: Option<u16>,
    total_override: Option<u32>,
    no_end: bool,
}

impl Listpack {
    /// Starts an empty listpack.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry from its encoding + data bytes, adding the correct backlen; counts as
    /// one element. Use for unusual or invalid encodings (e.g. `0xF5`).
    pub fn entry_body(&mut self, body: &[u8]) -> &mut Self {
        self.body.extend_from_slice(body);
        self.body.extend(backlen(body.len() as u64));
        self.count += 1;
        self
    }

    /// Appends an integer entry in the smallest encoding.
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.int_as(v, LpInt::smallest(v))
    }

    /// Appends an integer entry in the given encoding (value truncated to its width).
    pub fn int_as(&mut self, v: i64, form: LpInt) -> &mut Self {
        self.entry_body(&int_entry_body(v, form))
    }

    /// Appends a string entry with the smallest length encoding, even if it looks numeric.
    pub fn str(&mut self, s: impl AsRef<[u8]>) -> &mut Self {
        let s = s.as_ref();
        self.str_as(s, LpStr::smallest(s.len()))
    }

    /// Appends a string entry with the given length encoding.
    ///
    /// # Panics
    /// Panics if the string is too long for `form`.
    pub fn str_as(&mut self, s: impl AsRef<[u8]>, form: LpStr) -> &mut Self {
        self.entry_body(&str_entry_body(s.as_ref(), form))
    }

    /// Appends an element the way Redis `lpAppend` does: as an integer when `s` is the canonical
    /// decimal text of an `i64`, as a string otherwise.
    pub fn auto(&mut self, s: impl AsRef<[u8]>) -> &mut Self {
        let s = s.as_ref();
        match canonical_i64(s) {
            Some(v) => self.int(v),
            None => self.str(s),
        }
    }

    /// Appends every entry (and raw byte) of `other`, adding its element count.
    pub fn append(&mut self, other: &Listpack) -> &mut Self {
        self.body.extend_from_slice(&other.body);
        self.count += other.count;
        self
    }

    /// Appends raw bytes verbatim (no backlen, not counted).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.body.extend_from_slice(bytes);
        self
    }

    /// Writes `count` in the header instead of the real element count.
    pub fn with_count(&mut self, count: u16) -> &mut Self {
        self.count_override = Some(count);
        self
    }

    /// Writes `total` in the header instead of the real byte size.
    pub fn with_total_bytes(&mut self, total: u32) -> &mut Self {
        self.total_override = Some(total);
        self
    }

    /// Omits the `0xFF` end byte (the header total still counts only what is written).
    pub fn without_end(&mut self) -> &mut Self {
        self.no_end = true;
        self
    }

    /// Number of elements appended so far (raw bytes excluded).
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no element has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Returns the complete listpack: header (count 65535 when more than 65534 elements),
    /// entries, end byte.
    pub fn build(&self) -> Vec<u8> {
        let end = usize::from(!self.no_end);
        let total = self
            .total_override
            .unwrap_or((HEADER_SIZE + self.body.len() + end) as u32);
        let count = self.count_override.unwrap_or(if self.count < 65535 {
            self.count as u16
        } else {
            COUNT_UNKNOWN
        });
        let mut out = Vec::with_capacity(HEADER_SIZE + self.body.len() + 1);
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&self.body);
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
    fn listpack_a_1_matches_hand_bytes() {
        let lp = Listpack::new().str("a").int(1).build();
        assert_eq!(
            lp,
            [0x0c, 0, 0, 0, 0x02, 0, 0x81, 0x61, 0x02, 0x01, 0x01, 0xff]
        );
    }

    #[test]
    fn listpack_empty_is_seven_bytes() {
        assert_eq!(Listpack::new().build(), [7, 0, 0, 0, 0, 0, 0xff]);
    }

    #[test]
    fn int_smallest_covers_every_width() {
        let cases: [(i64, &[u8]); 12] = [
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0xC0, 0x80]),
            (-1, &[0xDF, 0xff]),
            (-4096, &[0xD0, 0x00]),
            (4095, &[0xCF, 0xff]),
            (4096, &[0xF1, 0x00, 0x10]),
            (-32768, &[0xF1, 0x00, 0x80]),
            (32768, &[0xF2, 0x00, 0x80, 0x00]),
            (-8_388_608, &[0xF2, 0x00, 0x00, 0x80]),
            (8_388_608, &[0xF3, 0x00, 0x00, 0x80, 0x00]),
            (i64::MIN, &[0xF4, 0, 0, 0, 0, 0, 0, 0, 0x80]),
        ];
        for (v, want) in cases {
            assert_eq!(int_entry_body(v, LpInt::smallest(v)), want, "value {v}");
        }
    }

    #[test]
    fn str_length_forms_match_hand_bytes() {
        assert_eq!(str_entry_body(b"", LpStr::B6), [0x80]);
        assert_eq!(str_entry_body(&[b'x'; 63], LpStr::B6)[0], 0xBF);
        let b12 = str_entry_body(&[b'x'; 64], LpStr::smallest(64));
        assert_eq!(&b12[..2], [0xE0, 64]);
        let b12max = str_entry_body(&[b'x'; 4095], LpStr::smallest(4095));
        assert_eq!(&b12max[..2], [0xEF, 0xff]);
        let b32 = str_entry_body(&[b'x'; 4096], LpStr::smallest(4096));
        assert_eq!(&b32[..5], [0xF0, 0x00, 0x10, 0, 0]);
    }

    #[test]
    fn backlen_multi_byte_matches_redis() {
        assert_eq!(backlen(127), [127]);
        assert_eq!(backlen(128), [0x01, 0x80]);
        assert_eq!(backlen(16382), [0x7f, 0xfe]);
        assert_eq!(backlen(16383), [0x00, 0xff, 0xff]);
        assert_eq!(backlen(4101), [0x20, 0x85]);
        assert_eq!(backlen(u64::from(u32::MAX)).len(), 5);
    }

    #[test]
    fn listpack_large_entry_has_two_byte_backlen() {
        let lp = Listpack::new().str([b'y'; 200]).build();
        // 2 bytes encoding + 200 data = 202 -> backlen [0x01, 0xCA]
        assert_eq!(&lp[lp.len() - 3..], [0x01, 0xCA, 0xff]);
        assert_eq!(lp.len(), 6 + 202 + 2 + 1);
    }

    #[test]
    fn listpack_count_saturates_at_unknown() {
        let mut lp = Listpack::new();
        for _ in 0..65535 {
            lp.int(1);
        }
        assert_eq!(&lp.build()[4..6], [0xff, 0xff]);
        let mut lp = Listpack::new();
        for _ in 0..65534 {
            lp.int(1);
        }
        assert_eq!(&lp.build()[4..6], [0xfe, 0xff]);
    }

    #[test]
    fn auto_converts_canonical_integers_only() {
        let lp = Listpack::new().auto("12").auto("012").auto("-0").build();
        assert_eq!(&lp[6..8], [12, 1]);
        assert_eq!(lp[8], 0x83);
    }
}
