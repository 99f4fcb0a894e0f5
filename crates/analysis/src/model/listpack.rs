//! Encoded sizes: listpack and ziplist entries, integers as Redis stores them, and the
//! text of sorted-set scores (`fpconv_dtoa`, `%.17g`).

use super::*;

/// `string2ll` semantics: canonical decimal that fits an i64 (no leading zeros or '+').
pub(super) fn canonical_int(b: &[u8]) -> Option<i64> {
    // `string2ll`: an optional '-', then digits without leading zeros ("0" alone is fine,
    // "-0" is not), within i64. Hand-rolled: this runs on every short string and element.
    let (neg, digits) = match b {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, b),
    };
    match digits {
        [] => return None,
        [b'0'] if !neg => return Some(0),
        [b'0', ..] => return None,
        _ if digits.len() > 19 => return None,
        _ => {}
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    if neg {
        if v <= i64::MAX as u64 + 1 {
            Some((v as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Size of a listpack integer entry with its back-length (`lpEncodeIntegerGetType`).
pub(super) fn lp_int_size(v: i64) -> u64 {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8_388_608..=8_388_607).contains(&v) {
        4
    } else if (-2_147_483_648..=2_147_483_647).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

pub(super) fn lp_backlen(l: u64) -> u64 {
    rdbscope_parser::blob::listpack::backlen_size(usize::try_from(l).unwrap_or(usize::MAX)) as u64
}

/// Size of a listpack entry for an element as `lpAppend` stores it.
pub(super) fn lp_entry_size(s: Scalar<'_>) -> u64 {
    let int = match s {
        Scalar::Int(v) => Some(v),
        Scalar::Bytes(b) => canonical_int(b),
    };
    match int {
        Some(v) => lp_int_size(v),
        None => lp_str_size(s.len()),
    }
}

/// Size of a listpack string entry of `l` bytes with its back-length.
pub(super) fn lp_str_size(l: u64) -> u64 {
    let enc = if l < 64 {
        1 + l
    } else if l < 4096 {
        2 + l
    } else {
        5 + l
    };
    enc + lp_backlen(enc)
}

/// A listpack built as the loader builds one with `lpAppend` (`lpEncodeGetType`,
/// `lpEncodeBacklen`): the bytes a rebuilt quicklist node holds, for compressing it.
pub(super) struct LpBuilder {
    buf: Vec<u8>,
    pub(super) count: u64,
}

impl LpBuilder {
    pub(super) fn new() -> Self {
        LpBuilder {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.buf.resize(6, 0);
        self.count = 0;
    }

    pub(super) fn push(&mut self, s: Scalar<'_>) {
        let out = &mut self.buf;
        let start = out.len();
        let int = match s {
            Scalar::Int(v) => Some(v),
            Scalar::Bytes(b) => canonical_int(b),
        };
        match int {
            Some(v) if (0..=127).contains(&v) => out.push(v as u8),
            Some(v) if (-4096..=4095).contains(&v) => {
                let u = (v as u64) & 0x1fff;
                out.extend_from_slice(&[0xC0 | (u >> 8) as u8, u as u8]);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                out.push(0xF1);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => {
                out.push(0xF2);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                out.push(0xF3);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                out.push(0xF4);
                out.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                // Only byte strings fail the integer test.
                let b = match s {
                    Scalar::Bytes(b) => b,
                    Scalar::Int(_) => &[],
                };
                let l = b.len();
                if l < 64 {
                    out.push(0x80 | l as u8);
                } else if l < 4096 {
                    out.extend_from_slice(&[0xE0 | (l >> 8) as u8, l as u8]);
                } else {
                    out.push(0xF0);
                    out.extend_from_slice(&(l as u32).to_le_bytes());
                }
                out.extend_from_slice(b);
            }
        }
        let l = (out.len() - start) as u64;
        // `lpEncodeBacklen`: 7 bits per byte, most significant first, the continuation bit
        // on every byte but the first.
        let n = lp_backlen(l);
        for i in (0..n).rev() {
            let b = ((l >> (7 * i)) & 127) as u8;
            out.push(if i == n - 1 { b } else { b | 128 });
        }
        self.count += 1;
    }

    /// The finished listpack (header, entries, terminator).
    pub(super) fn finish(&mut self) -> &[u8] {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        &self.buf
    }
}

/// A ziplist being sized as `ziplistPush` builds it (Redis ≤ 6.2): 11 bytes of header and
/// end, entries with a 1- or 5-byte prevlen, integers for canonical decimals up to 31 chars.
#[derive(Default)]
pub(super) struct Ziplist {
    bytes: u64,
    prev: u64,
}

impl Ziplist {
    pub(super) fn push(&mut self, s: Scalar<'_>) {
        let int = match s {
            Scalar::Int(v) => Some(v),
            Scalar::Bytes(b) if b.len() < 32 => canonical_int(b),
            Scalar::Bytes(_) => None,
        };
        let body = match int {
            Some(v) if (0..=12).contains(&v) => 1,
            Some(v) if i8::try_from(v).is_ok() => 2,
            Some(v) if i16::try_from(v).is_ok() => 3,
            Some(v) if (-8_388_608..=8_388_607).contains(&v) => 4,
            Some(v) if i32::try_from(v).is_ok() => 5,
            Some(_) => 9,
            None => {
                let l = s.len();
                l + if l <= 63 {
                    1
                } else if l <= 16383 {
                    2
                } else {
                    5
                }
            }
        };
        let entry = body + if self.prev < 254 { 1 } else { 5 };
        self.bytes += entry;
        self.prev = entry;
    }

    pub(super) fn bytes(&self) -> u64 {
        11 + self.bytes
    }
}

/// A score as Redis 6.2's `zzlInsertAt` writes it into a ziplist (`d2string`: integers
/// plainly, else `%.17g`).
pub(super) fn score_text(score: f64) -> String {
    if score.is_finite() && score == score.trunc() && score.abs() < 1e17 {
        (score as i64).to_string()
    } else if score.is_nan() {
        "nan".into()
    } else if score.is_infinite() {
        if score > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format_g17(score)
    }
}

/// Size of a zset score's listpack entry as `zzlInsertAt` writes it (Redis 7.0 on, every
/// Valkey): an integer entry when `double2ll` takes the score (integral and within
/// ±2^62), else the text of `d2string`: `nan`, `inf`, `-inf`, `%.17g` on Redis 7.0, and
/// from Redis 7.2 (and Valkey 7.2) on `fpconv_dtoa`, the shortest text that reads back as
/// the same double ([`shortest_len`]).
pub(super) fn lp_score_size(score: f64, shortest: bool) -> u64 {
    // `double2ll`: (double)(LLONG_MAX / 2) is 2^62.
    const LIMIT: f64 = 4_611_686_018_427_387_904.0;
    if (-LIMIT..=LIMIT).contains(&score) && score == score.trunc() {
        return lp_int_size(score as i64);
    }
    let len = if score.is_nan() {
        3
    } else if score.is_infinite() {
        if score > 0.0 {
            3
        } else {
            4
        }
    } else if shortest {
        match shortest_len(score) {
            // Plain digits (an integral score past 2^62): `lpAppend` stores the text as
            // an integer when it is one.
            ShortestText::Integer(v) => return lp_int_size(v),
            ShortestText::Text(len) => len,
        }
    } else {
        g17_len(score)
    };
    lp_str_size(len)
}

/// What `fpconv_dtoa` writes for a double ([`shortest_len`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ShortestText {
    /// Plain integer digits within i64 (`lpAppend` stores these as an integer).
    Integer(i64),
    /// Text of this many bytes.
    Text(u64),
}

/// The length of `fpconv_dtoa` (Redis 7.2+, Valkey) of a finite non-zero double: the
/// shortest digits that read back as the same double, laid out as its `emit_digits` does
/// (`digits` × 10^`k`, `exp` the decimal exponent of the first digit):
///
/// - `k >= 0` and `exp < ndigits + 7`: the digits and `k` zeros;
/// - `k < 0` and (`k > -7` or `exp < 4`): a decimal point inside the digits, or `0.` and
///   leading zeros before them;
/// - otherwise `d[.ddd]e±x`, the exponent without leading zeros.
///
/// `fpconv_dtoa` finds the digits with Grisu2, which gives the shortest digits for nearly
/// every double; Rust's formatter gives them for all, so a rare double may differ.
pub(super) fn shortest_len(v: f64) -> ShortestText {
    use std::fmt::Write;
    let mut t = StackText {
        buf: [0; 64],
        len: 0,
    };
    if write!(t, "{:e}", v.abs()).is_err() {
        return ShortestText::Text(format_g17(v).len() as u64);
    }
    let text = &t.buf[..t.len];
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text, &b"0"[..]),
    };
    let digits = || mantissa.iter().filter(|b| b.is_ascii_digit());
    let ndigits = digits().count() as i64;
    let e: i64 = std::str::from_utf8(exponent)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let k = e - (ndigits - 1);
    let exp = e.abs();
    let sign = u64::from(v < 0.0);
    if k >= 0 && exp < ndigits + 7 {
        let value = digits()
            .try_fold(0i128, |acc, &d| {
                acc.checked_mul(10)?.checked_add(i128::from(d - b'0'))
            })
            .and_then(|m| m.checked_mul(10i128.checked_pow(u32::try_from(k).ok()?)?));
        if let Some(int) = value.and_then(|m| i64::try_from(if v < 0.0 { -m } else { m }).ok()) {
            return ShortestText::Integer(int);
        }
        return ShortestText::Text(sign + (ndigits + k) as u64);
    }
    if k < 0 && (k > -7 || exp < 4) {
        let offset = ndigits + k;
        let len = if offset <= 0 {
            ndigits + 2 - offset
        } else {
            ndigits + 1
        };
        return ShortestText::Text(sign + len as u64);
    }
    let mantissa = if ndigits > 1 { ndigits + 1 } else { 1 };
    let exp_digits = if exp > 99 {
        3
    } else if exp > 9 {
        2
    } else {
        1
    };
    ShortestText::Text(sign + (mantissa + 2 + exp_digits) as u64)
}

/// A formatting buffer on the stack (`%.17g` of a double is at most 24 bytes; fixed
/// notation with the digits we ask for stays under 64).
pub(super) struct StackText {
    buf: [u8; 64],
    len: usize,
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The length of `%.17g` of a finite non-zero double, without allocating.
pub(super) fn g17_len(v: f64) -> u64 {
    use std::fmt::Write;
    let exp = v.abs().log10().floor() as i32;
    let mut t = StackText {
        buf: [0; 64],
        len: 0,
    };
    if (-5..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        if write!(t, "{v:.decimals$}").is_err() {
            return format_g17(v).len() as u64;
        }
        let text = &t.buf[..t.len];
        let trimmed = if text.contains(&b'.') {
            let mut n = text.len();
            while n > 0 && text[n - 1] == b'0' {
                n -= 1;
            }
            if n > 0 && text[n - 1] == b'.' {
                n -= 1;
            }
            n
        } else {
            text.len()
        };
        trimmed as u64
    } else {
        format_g17(v).len() as u64
    }
}

/// `%.17g`.
pub(super) fn format_g17(v: f64) -> String {
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let exp = v.abs().log10().floor() as i32;
    if (-5..17).contains(&exp) {
        let decimals = (16 - exp).max(0) as usize;
        let s = format!("{v:.decimals$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        s
    } else {
        let s = format!("{v:.16e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// `(asize + (elesize / samples) * count)` in doubles, truncated, as `objectComputeSize`
/// does with SAMPLES 0 (§0.6 of the memory notes).
pub(super) fn sampled(asize: u64, elesize: u64, samples: u64, count: u64) -> u64 {
    if samples == 0 {
        return asize;
    }
    (asize as f64 + (elesize as f64 / samples as f64) * count as f64) as u64
}
