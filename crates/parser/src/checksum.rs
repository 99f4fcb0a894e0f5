//! The CRC-64 trailer (`crc64.c`: CRC-64/Jones, reflected; the catalogue's `CRC-64/REDIS`).
//!
//! Computed with `crc-fast` (carry-less multiplication where the CPU has it, about 13 GB/s
//! here against 2.3 GB/s for a slicing-by-16 table): on a dump of big values the checksum
//! was most of the run. The `crc` crate's table implementation is the oracle in the tests.

use crc_fast::CrcAlgorithm;

/// CRC-64 of `data`, as Redis computes the trailer over magic..EOF opcode.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(CrcAlgorithm::Crc64Redis, data)
}

/// The CRC-64 of `a ++ b` from the CRC-64 of `a`, that of `b` and the length of `b`: lets
/// parts of a file be checksummed apart (in parallel) and joined in order.
///
/// ```
/// use rdbscope_parser::checksum::{crc64, crc64_combine};
/// let (a, b) = (&b"REDIS0011"[..], &b"\xfe\x00\xff"[..]);
/// assert_eq!(crc64_combine(crc64(a), crc64(b), b.len() as u64), crc64(b"REDIS0011\xfe\x00\xff"));
/// ```
pub fn crc64_combine(a: u64, b: u64, b_len: u64) -> u64 {
    // With no initial value and no final xor, the CRC of `a ++ b` is the CRC of `a` times
    // x^(8 * len(b)), plus the CRC of `b`, in GF(2)[x] modulo the polynomial (zlib's
    // `crc32_combine`, for 64 bits). crc-fast's own combine squares 64x64 bit matrices:
    // about 100 times slower, which showed once a file's checksum came in 32 parts.
    mult_mod_p(x_pow_8n(b_len), a) ^ b
}

/// The CRC-64/Jones polynomial, reflected (bit 63 is x^0).
const POLY: u64 = 0x95ac_9329_ac4b_c9b5;

/// `a * b mod POLY` over GF(2), in the reflected representation.
const fn mult_mod_p(a: u64, mut b: u64) -> u64 {
    let mut m = 1u64 << 63;
    let mut p = 0u64;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                return p;
            }
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        if m == 0 {
            return p;
        }
    }
}

/// `X2N[k]` is x^(2^k) mod POLY, for every `k` [`x_pow_8n`] reaches (3 to 66).
const X2N: [u64; 67] = {
    let mut t = [0u64; 67];
    t[0] = 1 << 62; // x^1
    let mut k = 1;
    while k < 67 {
        t[k] = mult_mod_p(t[k - 1], t[k - 1]);
        k += 1;
    }
    t
};

/// x^(8 n) mod POLY: the factor that moves a CRC past `n` bytes.
fn x_pow_8n(mut n: u64) -> u64 {
    let mut p = 1u64 << 63; // x^0
    let mut k = 3; // 8 = 2^3
    while n != 0 {
        if n & 1 != 0 {
            p = mult_mod_p(X2N[k], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// An incremental CRC-64 for streamed input.
pub struct Crc64(crc_fast::Digest);

impl Crc64 {
    /// A new digest.
    pub fn new() -> Self {
        Crc64(crc_fast::Digest::new(CrcAlgorithm::Crc64Redis))
    }

    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The CRC of everything added.
    pub fn finish(self) -> u64 {
        self.0.finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Crc64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crc64")
    }
}

#[cfg(test)]
mod tests {
    use crc::{Crc, Table, CRC_64_REDIS};

    static ORACLE: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

    #[test]
    fn crc64_combine_joins_parts_at_every_cut() {
        let data: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let whole = super::crc64(&data);
        for cut in [0, 1, 7, 8, 63, 64, 65, 1000, 2999, 3000] {
            let (a, b) = data.split_at(cut);
            let joined = super::crc64_combine(super::crc64(a), super::crc64(b), b.len() as u64);
            assert_eq!(joined, whole, "cut at {cut}");
        }
        // Long second parts too (the factor for up to 2^40 bytes), against crc-fast's own
        // combine.
        for len in [1u64 << 20, (1 << 32) + 7, (1 << 40) - 1] {
            let (a, b) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);
            assert_eq!(
                super::crc64_combine(a, b, len),
                crc_fast::checksum_combine(crc_fast::CrcAlgorithm::Crc64Redis, a, b, len),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn crc64_check_value() {
        assert_eq!(super::crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        let mut d = super::Crc64::new();
        d.update(b"1234");
        d.update(b"56789");
        assert_eq!(d.finish(), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn crc64_matches_the_table_implementation() {
        let mut seed = 0x853c_49e6_748f_ea9bu64;
        let data: Vec<u8> = (0..70_000)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        for len in (0..300).chain([1023, 4096, 4097, 65_535, 70_000]) {
            for start in [0, 1, 7] {
                let Some(part) = data.get(start..start + len) else {
                    continue;
                };
                assert_eq!(
                    super::crc64(part),
                    ORACLE.checksum(part),
                    "len {len} at {start}"
                );
                let mut d = super::Crc64::new();
                let (a, b) = part.split_at(len / 3);
                d.update(a);
                d.update(b);
                assert_eq!(d.finish(), ORACLE.checksum(part), "streamed len {len}");
            }
        }
    }
}
