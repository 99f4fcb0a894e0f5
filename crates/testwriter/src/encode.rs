//! RDB primitive encodings: lengths (§2), strings (§3), doubles (§5) and the CRC-64 trailer (§1.3).
//!
//! Every function returns the encoded bytes as a fresh `Vec<u8>` so that callers can concatenate
//! pieces freely; none of them validates more than it must, because tests need to write hostile
//! input too.

use crate::lzf;

/// First byte of a 32-bit big-endian length (`RDB_32BITLEN`).
pub const LEN_32BIT: u8 = 0x80;
/// First byte of a 64-bit big-endian length (`RDB_64BITLEN`, RDB ≥ 8).
pub const LEN_64BIT: u8 = 0x81;
/// String encoding byte for an 8-bit integer (`RDB_ENCVAL << 6 | RDB_ENC_INT8`).
pub const ENC_INT8: u8 = 0xC0;
/// String encoding byte for a 16-bit little-endian integer (`RDB_ENC_INT16`).
pub const ENC_INT16: u8 = 0xC1;
/// String encoding byte for a 32-bit little-endian integer (`RDB_ENC_INT32`).
pub const ENC_INT32: u8 = 0xC2;
/// String encoding byte for an LZF-compressed string (`RDB_ENC_LZF`).
pub const ENC_LZF: u8 = 0xC3;
/// String-double length byte meaning NaN (`rdbLoadDoubleValue`).
pub const DOUBLE_NAN: u8 = 253;
/// String-double length byte meaning positive infinity.
pub const DOUBLE_POS_INF: u8 = 254;
/// String-double length byte meaning negative infinity.
pub const DOUBLE_NEG_INF: u8 = 255;

/// Which form of the RDB length encoding to write (§2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenForm {
    /// The shortest form that holds the value, as `rdbSaveLen` does.
    Shortest,
    /// `00xxxxxx`: one byte, values 0..=63.
    Bits6,
    /// `01xxxxxx yyyyyyyy`: two bytes, big-endian, values 0..=16383.
    Bits14,
    /// `0x80` + u32 big-endian: five bytes.
    Bits32,
    /// `0x81` + u64 big-endian: nine bytes.
    Bits64,
}

/// Encodes `n` in the shortest RDB length form (`rdbSaveLen`).
///
/// ```
/// use rdbscope_testwriter::encode::len;
/// assert_eq!(len(10), [0x0a]);
/// assert_eq!(len(300), [0x41, 0x2c]);
/// assert_eq!(len(70_000), [0x80, 0x00, 0x01, 0x11, 0x70]);
/// assert_eq!(len(1 << 32), [0x81, 0, 0, 0, 1, 0, 0, 0, 0]);
/// ```
pub fn len(n: u64) -> Vec<u8> {
    len_as(n, LenForm::Shortest)
}

/// Encodes `n` in the given RDB length form; a longer-than-needed form is legal input for a
/// reader and useful to test that it does not assume the shortest form.
///
/// # Panics
/// Panics if `n` does not fit the requested form (a test bug, not hostile input).
pub fn len_as(n: u64, form: LenForm) -> Vec<u8> {
    let form = match form {
        LenForm::Shortest if n < 1 << 6 => LenForm::Bits6,
        LenForm::Shortest if n < 1 << 14 => LenForm::Bits14,
        LenForm::Shortest if n <= u64::from(u32::MAX) => LenForm::Bits32,
        LenForm::Shortest => LenForm::Bits64,
        other => other,
    };
    match form {
        LenForm::Bits6 => {
            assert!(n < 1 << 6, "length {n} does not fit 6 bits");
            vec![n as u8]
        }
        LenForm::Bits14 => {
            assert!(n < 1 << 14, "length {n} does not fit 14 bits");
            vec![0x40 | (n >> 8) as u8, n as u8]
        }
        LenForm::Bits32 => {
            let v = u32::try_from(n).expect("length does not fit 32 bits");
            let mut out = vec![LEN_32BIT];
            out.extend_from_slice(&v.to_be_bytes());
            out
        }
        LenForm::Bits64 | LenForm::Shortest => {
            let mut out = vec![LEN_64BIT];
            out.extend_from_slice(&n.to_be_bytes());
            out
        }
    }
}

/// Encodes a plain RDB string: shortest length, then the bytes (binary safe, may be empty).
///
/// ```
/// use rdbscope_testwriter::encode::string;
/// assert_eq!(string(b"ab"), [0x02, b'a', b'b']);
/// assert_eq!(string(b""), [0x00]);
/// ```
pub fn string(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    string_as(bytes, LenForm::Shortest)
}

/// Encodes a plain RDB string whose length prefix uses the given form.
///
/// # Panics
/// Panics if the length does not fit `form`.
pub fn string_as(bytes: impl AsRef<[u8]>, form: LenForm) -> Vec<u8> {
    let bytes = bytes.as_ref();
    let mut out = len_as(bytes.len() as u64, form);
    out.extend_from_slice(bytes);
    out
}

/// Encodes a plain RDB string header that *declares* `declared` bytes but carries only `body`:
/// for truncation and huge-declared-length tests.
pub fn string_declared(declared: u64, body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut out = len(declared);
    out.extend_from_slice(body.as_ref());
    out
}

/// Encodes an int8 string (`0xC0` + 1 byte); it reads back as the decimal text of `v`.
pub fn string_int8(v: i8) -> Vec<u8> {
    vec![ENC_INT8, v as u8]
}

/// Encodes an int16 string (`0xC1` + 2 bytes LE).
pub fn string_int16(v: i16) -> Vec<u8> {
    let mut out = vec![ENC_INT16];
    out.extend_from_slice(&v.to_le_bytes());
    out
}

/// Encodes an int32 string (`0xC2` + 4 bytes LE).
pub fn string_int32(v: i32) -> Vec<u8> {
    let mut out = vec![ENC_INT32];
    out.extend_from_slice(&v.to_le_bytes());
    out
}

/// Encodes `v` as an integer string using the smallest of int8/int16/int32 (`rdbEncodeInteger`).
pub fn string_int(v: i32) -> Vec<u8> {
    if let Ok(b) = i8::try_from(v) {
        string_int8(b)
    } else if let Ok(s) = i16::try_from(v) {
        string_int16(s)
    } else {
        string_int32(v)
    }
}

/// Returns the integer `bytes` would be encoded as by `rdbTryIntegerEncoding`: only canonical
/// decimal text (no sign `+`, no leading zeros, no `-0`) of at most 11 bytes in `i32` range.
pub fn canonical_i32(bytes: &[u8]) -> Option<i32> {
    if bytes.len() > 11 {
        return None;
    }
    let v = canonical_i64(bytes)?;
    i32::try_from(v).ok()
}

/// Returns the integer whose canonical decimal text (`ll2string`) is exactly `bytes`.
pub fn canonical_i64(bytes: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(bytes).ok()?;
    let v: i64 = s.parse().ok()?;
    (v.to_string() == s).then_some(v)
}

/// Encodes a string the way Redis does with `rdbcompression yes` (`rdbSaveRawString`):
/// int-encoded when it is canonical decimal in `i32` range, LZF when longer than 20 bytes and the
/// compressed form fits in `len - 4` bytes, plain otherwise.
pub fn string_auto(bytes: impl AsRef<[u8]>) -> Vec<u8> {
    let bytes = bytes.as_ref();
    if let Some(v) = canonical_i32(bytes) {
        return string_int(v);
    }
    if bytes.len() > 20 {
        let c = lzf::lzf_compress(bytes);
        if c.len() <= bytes.len() - 4 {
            return string_lzf_raw(&c, bytes.len() as u64);
        }
    }
    string(bytes)
}

/// Encodes `data` as an LZF string (`0xC3`, clen, ulen, compressed bytes) using this crate's
/// compressor, whether or not compression saves space.
pub fn string_lzf(data: impl AsRef<[u8]>) -> Vec<u8> {
    let data = data.as_ref();
    string_lzf_raw(&lzf::lzf_compress(data), data.len() as u64)
}

/// Encodes an LZF string from arbitrary compressed bytes and an arbitrary declared `ulen`
/// (clen is the real length of `compressed`): for hostile tests.
pub fn string_lzf_raw(compressed: &[u8], ulen: u64) -> Vec<u8> {
    string_lzf_declared(compressed.len() as u64, ulen, compressed)
}

/// Encodes an LZF string header with arbitrary declared `clen` and `ulen`, followed by `body`
/// verbatim (which may be shorter or longer than `clen`).
pub fn string_lzf_declared(clen: u64, ulen: u64, body: &[u8]) -> Vec<u8> {
    let mut out = vec![ENC_LZF];
    out.extend(len(clen));
    out.extend(len(ulen));
    out.extend_from_slice(body);
    out
}

/// Formats `v` like C's `printf("%.17g", v)` (finite values; NaN/inf print as `nan`/`inf`/`-inf`).
///
/// ```
/// use rdbscope_testwriter::encode::format_g17;
/// assert_eq!(format_g17(1.5), "1.5");
/// assert_eq!(format_g17(0.1), "0.10000000000000001");
/// assert_eq!(format_g17(1e20), "1e+20");
/// assert_eq!(format_g17(3.0), "3");
/// ```
pub fn format_g17(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // `{:.16e}` rounds to 17 significant digits exactly like the C e-style conversion that %g
    // uses to pick its exponent.
    let e = format!("{v:.16e}");
    let (mantissa, exp) = e.split_once('e').expect("e-format has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    if !(-4..17).contains(&exp) {
        let m = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let prec = (16 - exp) as usize;
        strip_fraction_zeros(&format!("{v:.prec$}")).to_string()
    }
}

fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats a double like Redis (< 7.2) `d2string` (zset scores inside ziplists/listpacks):
/// `nan`, `inf`, `-inf`, `0`/`-0`, integral values below 2^52 in magnitude as integers, else
/// `%.17g`. (Redis 7.2+ prints the shortest round-trip text instead; readers use `strtod`, so
/// either is valid input.)
pub fn d2string(v: f64) -> String {
    if v != 0.0 && v.fract() == 0.0 && v.abs() < 4_503_599_627_370_495.0 {
        return (v as i64).to_string();
    }
    format_g17(v)
}

/// Encodes a string-double (`rdbSaveDoubleValue`): 253/254/255 for NaN/+inf/-inf, otherwise a
/// length byte and the `%.17g` text.
pub fn double_str(v: f64) -> Vec<u8> {
    if v.is_nan() {
        vec![DOUBLE_NAN]
    } else if v == f64::INFINITY {
        vec![DOUBLE_POS_INF]
    } else if v == f64::NEG_INFINITY {
        vec![DOUBLE_NEG_INF]
    } else {
        double_str_raw(format_g17(v).as_bytes())
    }
}

/// Encodes a string-double from arbitrary text: one length byte, then `text` (for hostile tests
/// such as `"abc"` or an over-long declared length).
///
/// # Panics
/// Panics if `text` is longer than 252 bytes (the length must fit one byte below 253).
pub fn double_str_raw(text: &[u8]) -> Vec<u8> {
    let n = u8::try_from(text.len()).expect("string-double text too long");
    assert!(n < DOUBLE_NAN, "string-double text too long");
    let mut out = vec![n];
    out.extend_from_slice(text);
    out
}

/// Encodes a binary double: 8 bytes IEEE-754 little-endian (ZSET_2 scores, module DOUBLE).
pub fn double_bin(v: f64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Encodes a binary float: 4 bytes IEEE-754 little-endian (module FLOAT).
pub fn float_bin(v: f32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Encodes a millisecond timestamp as written by `rdbSaveMillisecondTime`: i64 little-endian.
pub fn ms_time(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Computes the RDB CRC-64 (CRC-64/Jones as in Redis `crc64.c`) of `bytes`.
///
/// ```
/// assert_eq!(rdbscope_testwriter::encode::crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
/// ```
pub fn crc64(bytes: &[u8]) -> u64 {
    crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn len_each_form_matches_hand_bytes() {
        assert_eq!(len(0), [0x00]);
        assert_eq!(len(63), [0x3f]);
        assert_eq!(len(64), [0x40, 0x40]);
        assert_eq!(len(16383), [0x7f, 0xff]);
        assert_eq!(len(16384), [0x80, 0x00, 0x00, 0x40, 0x00]);
        assert_eq!(len(u64::from(u32::MAX)), [0x80, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            len(u64::MAX),
            [0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn len_as_forced_forms_are_longer() {
        assert_eq!(len_as(5, LenForm::Bits14), [0x40, 0x05]);
        assert_eq!(len_as(5, LenForm::Bits32), [0x80, 0, 0, 0, 5]);
        assert_eq!(len_as(5, LenForm::Bits64), [0x81, 0, 0, 0, 0, 0, 0, 0, 5]);
    }

    #[test]
    #[should_panic(expected = "does not fit 6 bits")]
    fn len_as_too_small_form_panics() {
        let _ = len_as(64, LenForm::Bits6);
    }

    #[test]
    fn string_int_picks_smallest_encoding() {
        assert_eq!(string_int(-1), [0xC0, 0xff]);
        assert_eq!(string_int(300), [0xC1, 0x2c, 0x01]);
        assert_eq!(string_int(-70_000), {
            let mut v = vec![0xC2];
            v.extend_from_slice(&(-70_000i32).to_le_bytes());
            v
        });
    }

    #[test]
    fn string_auto_follows_redis_choices() {
        assert_eq!(string_auto(b"12"), [0xC0, 12]);
        assert_eq!(string_auto(b"012"), [0x03, b'0', b'1', b'2']);
        assert_eq!(string_auto(b"-0"), [0x02, b'-', b'0']);
        assert_eq!(string_auto(b"2147483648")[0], 0x0a);
        let long = vec![b'a'; 100];
        assert_eq!(string_auto(&long)[0], ENC_LZF);
        let short_random = b"abcdefghijklmnopqrstuvw";
        assert_eq!(string_auto(short_random)[0], 23);
    }

    #[test]
    fn format_g17_matches_printf() {
        assert_eq!(format_g17(0.0), "0");
        assert_eq!(format_g17(-0.0), "-0");
        assert_eq!(format_g17(1e16), "10000000000000000");
        assert_eq!(format_g17(1e17), "1e+17");
        assert_eq!(format_g17(1e-5), "1.0000000000000001e-05");
        assert_eq!(format_g17(0.0001), "0.0001");
        assert_eq!(format_g17(-2.5), "-2.5");
        assert_eq!(
            format_g17(1.7976931348623157e308),
            "1.7976931348623157e+308"
        );
        assert_eq!(format_g17(5e-324), "4.9406564584124654e-324");
    }

    #[test]
    fn double_str_special_values_use_marker_bytes() {
        assert_eq!(double_str(f64::NAN), [253]);
        assert_eq!(double_str(f64::INFINITY), [254]);
        assert_eq!(double_str(f64::NEG_INFINITY), [255]);
        assert_eq!(double_str(1.5), [3, b'1', b'.', b'5']);
    }

    #[test]
    fn d2string_integral_scores_print_as_integers() {
        assert_eq!(d2string(3.0), "3");
        assert_eq!(d2string(-0.0), "-0");
        assert_eq!(d2string(1.25), "1.25");
        assert_eq!(d2string(f64::INFINITY), "inf");
    }

    #[test]
    fn crc64_check_value_matches_jones() {
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }
}
