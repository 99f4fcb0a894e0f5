//! Decoders for the encoded blobs Redis stores as strings: listpack, ziplist, intset and
//! zipmap (`listpack.c`, `ziplist.c`, `intset.c`, `zipmap.c`). Each walks a complete blob,
//! checks every entry against the blob bounds, and hands out borrowed scalars.

use std::fmt;

/// A blob-level problem: the position inside the blob and what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobError {
    /// Which blob format.
    pub blob: &'static str,
    /// Byte position inside the blob.
    pub at: u64,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} at byte {}: {}",
            self.blob, self.at, self.reason
        )
    }
}

type BResult<T> = std::result::Result<T, BlobError>;

/// One element of a blob: bytes or an integer (as the encoding stored it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'b> {
    /// A string element.
    Bytes(&'b [u8]),
    /// An integer element.
    Int(i64),
}

impl Scalar<'_> {
    /// Length of the element as a string (integers: decimal length).
    pub fn len(&self) -> u64 {
        match *self {
            Scalar::Bytes(b) => b.len() as u64,
            Scalar::Int(v) => crate::string::decimal_len(v),
        }
    }

    /// True for an empty string element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element as bytes (integers rendered in decimal).
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Scalar::Bytes(b) => b.to_vec(),
            Scalar::Int(v) => v.to_string().into_bytes(),
        }
    }

    /// The element as an integer, when it is stored as one.
    pub fn as_int(&self) -> Option<i64> {
        match *self {
            Scalar::Int(v) => Some(v),
            Scalar::Bytes(_) => None,
        }
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn le_int(b: &[u8]) -> i64 {
    let mut v: i64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= i64::from(x) << (8 * i);
    }
    let bits = 64 - 8 * b.len() as u32;
    if bits == 0 {
        v
    } else {
        (v << bits) >> bits
    }
}

/// Listpack: 4-byte total size, 2-byte count, entries, `0xFF`.
pub mod listpack {
    use super::*;
    const B: &str = "listpack";

    /// Header fields: (total bytes, element count or `None` when the header says 65535).
    pub fn header(blob: &[u8]) -> BResult<(u32, Option<u16>)> {
        let e = |r| BlobError {
            blob: B,
            at: 0,
            reason: r,
        };
        let total = le_u32(blob, 0).ok_or(e("shorter than the 6-byte header"))?;
        let n = le_u16(blob, 4).ok_or(e("shorter than the 6-byte header"))?;
        Ok((total, if n == u16::MAX { None } else { Some(n) }))
    }

    /// Walks every entry, validating sizes and back-lengths; returns the element count.
    pub fn for_each<'b>(blob: &'b [u8], mut f: impl FnMut(Scalar<'b>)) -> BResult<u64> {
        let (total, declared) = header(blob)?;
        if total as usize != blob.len() {
            return Err(BlobError {
                blob: B,
                at: 0,
                reason: "header size differs from the blob length",
            });
        }
        let mut p = 6usize;
        let mut n: u64 = 0;
        loop {
            let err = |reason| BlobError {
                blob: B,
                at: p as u64,
                reason,
            };
            let b0 = *blob.get(p).ok_or(err("missing end byte"))?;
            if b0 == 0xFF {
                if p + 1 != blob.len() {
                    return Err(err("end byte before the end of the blob"));
                }
                break;
            }
            let (hdr, data_len, val): (usize, usize, Option<i64>) = if b0 & 0x80 == 0 {
                (1, 0, Some(i64::from(b0 & 0x7f)))
            } else if b0 & 0xC0 == 0x80 {
                (1, usize::from(b0 & 0x3f), None)
            } else if b0 & 0xE0 == 0xC0 {
                let b1 = *blob.get(p + 1).ok_or(err("truncated entry"))?;
                let raw = (u16::from(b0 & 0x1f) << 8) | u16::from(b1);
                let v = if raw & 0x1000 != 0 {
                    i64::from(raw) - 0x2000
                } else {
                    i64::from(raw)
                };
                (2, 0, Some(v))
            } else if b0 & 0xF0 == 0xE0 {
                let b1 = *blob.get(p + 1).ok_or(err("truncated entry"))?;
                (2, (usize::from(b0 & 0x0f) << 8) | usize::from(b1), None)
            } else {
                match b0 {
                    0xF0 => (
                        5,
                        le_u32(blob, p + 1).ok_or(err("truncated entry"))? as usize,
                        None,
                    ),
                    0xF1..=0xF4 => {
                        let w = [2usize, 3, 4, 8][usize::from(b0 - 0xF1)];
                        let s = blob.get(p + 1..p + 1 + w).ok_or(err("truncated integer"))?;
                        (1 + w, 0, Some(le_int(s)))
                    }
                    _ => return Err(err("unknown entry encoding")),
                }
            };
            let entry_len = hdr.checked_add(data_len).ok_or(err("entry too long"))?;
            let data = blob
                .get(p + hdr..p + entry_len)
                .ok_or(err("entry extends past the blob"))?;
            let bl = backlen_size(entry_len);
            let back = blob
                .get(p + entry_len..p + entry_len + bl)
                .ok_or(err("back-length past the blob"))?;
            if decode_backlen(back) != Some(entry_len as u64) {
                return Err(err("back-length does not match the entry size"));
            }
            f(match val {
                Some(v) => Scalar::Int(v),
                None => Scalar::Bytes(data),
            });
            n += 1;
            p += entry_len + bl;
        }
        if let Some(d) = declared {
            if u64::from(d) != n {
                return Err(BlobError {
                    blob: B,
                    at: 4,
                    reason: "element count differs from the header",
                });
            }
        }
        Ok(n)
    }

    /// Bytes of the back-length for an entry of `l` bytes (`lpEncodeBacklen`, which
    /// compares strictly, so 16383 already takes 3 bytes).
    pub fn backlen_size(l: usize) -> usize {
        match l {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        }
    }

    fn decode_backlen(b: &[u8]) -> Option<u64> {
        // Stored so it reads right to left: the last byte holds the lowest 7 bits.
        let mut v: u64 = 0;
        for (i, &x) in b.iter().rev().enumerate() {
            v |= u64::from(x & 0x7f) << (7 * i);
            let last = i + 1 == b.len();
            if last == (x & 0x80 != 0) {
                return None;
            }
        }
        Some(v)
    }
}

/// Ziplist: 4-byte total, 4-byte tail offset, 2-byte count, entries, `0xFF`.
pub mod ziplist {
    use super::*;
    const B: &str = "ziplist";

    /// Header fields: (total bytes, element count or `None` when the header says 65535).
    pub fn header(blob: &[u8]) -> BResult<(u32, Option<u16>)> {
        let e = BlobError {
            blob: B,
            at: 0,
            reason: "shorter than the 10-byte header",
        };
        let total = le_u32(blob, 0).ok_or(e)?;
        let n = le_u16(blob, 8).ok_or(e)?;
        Ok((total, if n == u16::MAX { None } else { Some(n) }))
    }

    /// Walks every entry, validating prevlen links and bounds; returns the element count.
    pub fn for_each<'b>(blob: &'b [u8], mut f: impl FnMut(Scalar<'b>)) -> BResult<u64> {
        let (total, declared) = header(blob)?;
        if total as usize != blob.len() {
            return Err(BlobError {
                blob: B,
                at: 0,
                reason: "header size differs from the blob length",
            });
        }
        let tail = le_u32(blob, 4).unwrap_or(0) as usize;
        let mut p = 10usize;
        let mut prev_len = 0usize;
        let mut last_start = None;
        let mut n: u64 = 0;
        loop {
            let err = |reason| BlobError {
                blob: B,
                at: p as u64,
                reason,
            };
            let b0 = *blob.get(p).ok_or(err("missing end byte"))?;
            if b0 == 0xFF {
                if p + 1 != blob.len() {
                    return Err(err("end byte before the end of the blob"));
                }
                break;
            }
            let (pl_size, prevlen) = if b0 < 254 {
                (1, usize::from(b0))
            } else if b0 == 254 {
                (
                    5,
                    le_u32(blob, p + 1).ok_or(err("truncated prevlen"))? as usize,
                )
            } else {
                return Err(err("invalid prevlen"));
            };
            if prevlen != prev_len {
                return Err(err("prevlen does not match the previous entry"));
            }
            let q = p + pl_size;
            let e0 = *blob.get(q).ok_or(err("truncated entry"))?;
            let (hdr, data_len, int_w): (usize, usize, usize) = match e0 >> 6 {
                0 => (1, usize::from(e0 & 0x3f), 0),
                1 => {
                    let b1 = *blob.get(q + 1).ok_or(err("truncated entry"))?;
                    (2, (usize::from(e0 & 0x3f) << 8) | usize::from(b1), 0)
                }
                2 => {
                    if e0 != 0x80 {
                        return Err(err("invalid string encoding"));
                    }
                    let s = blob.get(q + 1..q + 5).ok_or(err("truncated entry"))?;
                    (5, u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize, 0)
                }
                _ => match e0 {
                    0xC0 => (1, 0, 2),
                    0xD0 => (1, 0, 4),
                    0xE0 => (1, 0, 8),
                    0xF0 => (1, 0, 3),
                    0xFE => (1, 0, 1),
                    0xF1..=0xFD => (1, 0, 0),
                    _ => return Err(err("invalid entry encoding")),
                },
            };
            let body_len = if int_w > 0 { int_w } else { data_len };
            let start = q + hdr;
            let end = start.checked_add(body_len).ok_or(err("entry too long"))?;
            let body = blob
                .get(start..end)
                .ok_or(err("entry extends past the blob"))?;
            let s = if e0 >> 6 != 3 {
                Scalar::Bytes(body)
            } else if int_w == 0 {
                Scalar::Int(i64::from(e0 & 0x0f) - 1)
            } else {
                Scalar::Int(le_int(body))
            };
            f(s);
            n += 1;
            last_start = Some(p);
            prev_len = end - p;
            p = end;
        }
        if last_start.unwrap_or(10) != tail {
            return Err(BlobError {
                blob: B,
                at: 4,
                reason: "tail offset does not point at the last entry",
            });
        }
        if let Some(d) = declared {
            if u64::from(d) != n {
                return Err(BlobError {
                    blob: B,
                    at: 8,
                    reason: "element count differs from the header",
                });
            }
        }
        Ok(n)
    }
}

/// Intset: 4-byte encoding (2, 4 or 8), 4-byte count, sorted little-endian integers.
pub mod intset {
    use super::*;
    const B: &str = "intset";

    /// Header fields: (bytes per element, element count).
    pub fn header(blob: &[u8]) -> BResult<(u32, u32)> {
        let e = BlobError {
            blob: B,
            at: 0,
            reason: "shorter than the 8-byte header",
        };
        Ok((le_u32(blob, 0).ok_or(e)?, le_u32(blob, 4).ok_or(e)?))
    }

    /// Walks the integers, checking size and strict order; returns the count.
    pub fn for_each<'b>(blob: &'b [u8], mut f: impl FnMut(Scalar<'b>)) -> BResult<u64> {
        let (enc, n) = header(blob)?;
        if !matches!(enc, 2 | 4 | 8) {
            return Err(BlobError {
                blob: B,
                at: 0,
                reason: "encoding is not 2, 4 or 8",
            });
        }
        let w = enc as usize;
        if (n as u64) * (w as u64) + 8 != blob.len() as u64 {
            return Err(BlobError {
                blob: B,
                at: 4,
                reason: "count does not match the blob length",
            });
        }
        let mut prev: Option<i64> = None;
        for (i, c) in blob[8..].chunks_exact(w).enumerate() {
            let v = le_int(c);
            if prev.is_some_and(|p| p >= v) {
                return Err(BlobError {
                    blob: B,
                    at: (8 + i * w) as u64,
                    reason: "values not in ascending order",
                });
            }
            prev = Some(v);
            f(Scalar::Int(v));
        }
        Ok(u64::from(n))
    }
}

/// Zipmap (RDB 2 hashes): count byte, then (key-len, key, value-len, free, value, padding).
pub mod zipmap {
    use super::*;
    const B: &str = "zipmap";

    fn zm_len(blob: &[u8], p: &mut usize) -> BResult<Option<usize>> {
        let at = *p;
        let err = |reason| BlobError {
            blob: B,
            at: at as u64,
            reason,
        };
        let b = *blob.get(*p).ok_or(err("truncated length"))?;
        match b {
            0..=253 => {
                *p += 1;
                Ok(Some(usize::from(b)))
            }
            254 => {
                let v = le_u32(blob, *p + 1).ok_or(err("truncated length"))?;
                *p += 5;
                Ok(Some(v as usize))
            }
            _ => Ok(None),
        }
    }

    /// Walks field/value pairs (field, value, field, value…); returns the element count.
    pub fn for_each<'b>(blob: &'b [u8], mut f: impl FnMut(Scalar<'b>)) -> BResult<u64> {
        if blob.is_empty() {
            return Err(BlobError {
                blob: B,
                at: 0,
                reason: "empty blob",
            });
        }
        let mut p = 1usize;
        let mut n: u64 = 0;
        loop {
            let Some(klen) = zm_len(blob, &mut p)? else {
                if p + 1 != blob.len() {
                    return Err(BlobError {
                        blob: B,
                        at: p as u64,
                        reason: "end byte before the end of the blob",
                    });
                }
                break;
            };
            let at = p as u64;
            let err = |reason| BlobError {
                blob: B,
                at,
                reason,
            };
            let key = blob
                .get(p..p.checked_add(klen).ok_or(err("key too long"))?)
                .ok_or(err("key past the blob"))?;
            p += klen;
            let vlen = zm_len(blob, &mut p)?.ok_or(err("missing value length"))?;
            let free = usize::from(*blob.get(p).ok_or(err("missing free byte"))?);
            p += 1;
            let end = p.checked_add(vlen).ok_or(err("value too long"))?;
            let val = blob.get(p..end).ok_or(err("value past the blob"))?;
            p = end + free;
            f(Scalar::Bytes(key));
            f(Scalar::Bytes(val));
            n += 2;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_small_decodes() {
        // ["a", 1]: header 6, "a" = 0x81 'a' backlen 2, int 1 = 0x01 backlen 1, end.
        let lp = [13u8, 0, 0, 0, 2, 0, 0x81, b'a', 2, 0x01, 1, 0xFF];
        let mut lp = lp.to_vec();
        lp[0] = lp.len() as u8;
        let mut got = Vec::new();
        let n = listpack::for_each(&lp, |s| got.push(s.to_vec())).unwrap();
        assert_eq!(n, 2);
        assert_eq!(got, vec![b"a".to_vec(), b"1".to_vec()]);
    }

    #[test]
    fn listpack_bad_backlen_is_error() {
        let mut lp = vec![0u8, 0, 0, 0, 1, 0, 0x81, b'a', 3, 0xFF];
        lp[0] = lp.len() as u8;
        assert!(listpack::for_each(&lp, |_| {}).is_err());
    }

    #[test]
    fn listpack_entry_past_end_is_error() {
        let mut lp = vec![0u8, 0, 0, 0, 1, 0, 0xBF, b'a', 3, 0xFF];
        lp[0] = lp.len() as u8;
        assert!(listpack::for_each(&lp, |_| {}).is_err());
    }

    #[test]
    fn intset_unsorted_is_error() {
        let blob = [2u8, 0, 0, 0, 2, 0, 0, 0, 5, 0, 1, 0];
        assert!(intset::for_each(&blob, |_| {}).is_err());
        let blob = [2u8, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 1, 0];
        let mut v = Vec::new();
        intset::for_each(&blob, |s| v.push(s.as_int().unwrap())).unwrap();
        assert_eq!(v, vec![-1, 1]);
    }

    #[test]
    fn ziplist_two_entries_decode() {
        // zlbytes, zltail, zllen=2, entry "ab" (prev 0, enc 0x02), entry int 5 imm (prev 4, 0xF6), end
        let mut z = vec![0u8; 10];
        z.extend_from_slice(&[0, 0x02, b'a', b'b']);
        z.extend_from_slice(&[4, 0xF6]);
        z.push(0xFF);
        let len = z.len() as u32;
        z[0..4].copy_from_slice(&len.to_le_bytes());
        z[4..8].copy_from_slice(&14u32.to_le_bytes());
        z[8..10].copy_from_slice(&2u16.to_le_bytes());
        let mut got = Vec::new();
        ziplist::for_each(&z, |s| got.push(s.to_vec())).unwrap();
        assert_eq!(got, vec![b"ab".to_vec(), b"5".to_vec()]);
    }
}
