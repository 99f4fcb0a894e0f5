//! The LZF compressor exactly as Redis and Valkey bundle it (`src/lzf_c.c`, liblzf 3.6, with
//! Redis's `src/lzfP.h`): same hash table, same match search, same output bytes, same
//! "does not fit" answers.
//!
//! The memory model needs it because a server with `list-compress-depth > 0` keeps the inner
//! quicklist nodes as LZF (`__quicklistCompressNode` in `quicklist.c`), and the allocation
//! it keeps depends on the exact compressed length. The same compressor writes the LZF
//! strings of RDB files (`rdbSaveLzfStringObject` in `rdb.c`, `out_len = len - 4`), which is
//! how the integration test `tests/lzf.rs` proves the port byte for byte against real dumps.
//!
//! Redis's configuration (`lzfP.h`, the same from 6.2 to 8.0 and in Valkey 7.2 and 8.0):
//! `HLOG 16` (65,536 slots), `VERY_FAST 1`, `ULTRA_FAST 0`, `INIT_HTAB 0`, `CHECK_INPUT 1`
//! (a decompressor setting). `LZF_USE_OFFSETS` is 0 (pointers) since Redis 7.0 (#9776) and
//! autodetected as 1 (32-bit offsets) before; both give the same output here. `INIT_HTAB 0`
//! means the C code starts from whatever its stack holds; this port starts from an empty
//! table. A stale slot is only used after `ref > in_data`, `ip - ref <= 8192` and a 3-byte
//! comparison against the current input, so it can only matter when it points into the
//! current buffer at a position this call skipped inside an earlier match: the empty table
//! is the deterministic equivalent in practice. The corpus test finds no string where it
//! differs, among them quicklist nodes the server compressed in memory while serving `RPUSH`.
//!
//! ```
//! use rdbscope_analysis::lzf::{Compressor, quicklist_compressed_size};
//! let mut c = Compressor::new();
//! let mut out = Vec::new();
//! let input = b"abcabcabcabcabcabcabcabcabcabc";
//! let n = c.compress(input, &mut out, input.len()).unwrap();
//! assert_eq!(n, out.len());
//! assert!(n < input.len());
//! // Too small an output buffer: liblzf returns 0.
//! assert_eq!(c.compress(input, &mut out, 4), None);
//! // Nodes under 48 bytes are never compressed.
//! assert_eq!(quicklist_compressed_size(&input[..], &mut out), None);
//! ```

/// `HLOG`: log2 of the number of hash slots (`lzfP.h`).
const HLOG: u32 = 16;
/// `HSIZE`: number of hash slots.
const HSIZE: usize = 1 << HLOG;
/// `MAX_LIT`: longest literal run one control byte announces.
const MAX_LIT: usize = 1 << 5;
/// `MAX_OFF`: farthest a back reference reaches (`ip - ref - 1 < MAX_OFF`).
const MAX_OFF: usize = 1 << 13;
/// `MAX_REF`: cap on the match-length search (`(1 << 8) + (1 << 3)`).
const MAX_REF: usize = (1 << 8) + (1 << 3);

/// `MIN_COMPRESS_BYTES` (`quicklist.c`): nodes smaller than this stay uncompressed.
pub const MIN_COMPRESS_BYTES: usize = 48;
/// `MIN_COMPRESS_IMPROVE` (`quicklist.c`): a compressed node must be more than this many bytes
/// smaller than the original to be kept.
pub const MIN_COMPRESS_IMPROVE: usize = 8;
/// `sizeof(quicklistLZF)` from Redis 7.0 (`size_t sz` before the compressed bytes); the
/// allocation of a compressed node is this plus the compressed length.
pub const QUICKLIST_LZF_HEADER: u64 = 8;
/// `sizeof(quicklistLZF)` in Redis 6.2 and earlier (`unsigned int sz`).
pub const QUICKLIST_LZF_HEADER_6_2: u64 = 4;

/// `FRST(p)`: the first two bytes of a position's hash.
#[inline(always)]
fn frst(input: &[u8], p: usize) -> u32 {
    (u32::from(input[p]) << 8) | u32::from(input[p + 1])
}

/// `NEXT(v, p)`: shifts in the third byte of position `p`. `v` keeps older bytes in its top
/// bits as the C `unsigned int` does; `IDX` only looks at the low 24.
#[inline(always)]
fn next(v: u32, input: &[u8], p: usize) -> u32 {
    (v << 8) | u32::from(input[p + 2])
}

/// `IDX(h)` for `VERY_FAST && !ULTRA_FAST`.
#[inline(always)]
fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) & (HSIZE as u32 - 1)) as usize
}

/// A reusable LZF compressor: the 65,536-slot hash table `lzf_compress` keeps on its stack.
///
/// The table is allocated once and never cleared: each slot holds a position tagged with a
/// running base, so entries of earlier calls read as empty. Use one per thread and call
/// [`Compressor::compress`] per string or node without allocating.
#[derive(Debug, Clone)]
pub struct Compressor {
    /// `base + position + 1` of the last position hashed into each slot; `<= base` is empty.
    htab: Box<[u64]>,
    /// Positions of the current call are stored above this.
    base: u64,
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Compressor {
    /// A compressor with an empty table (512 KiB).
    pub fn new() -> Self {
        Compressor {
            htab: vec![0u64; HSIZE].into_boxed_slice(),
            base: 0,
        }
    }

    /// `lzf_compress(input, input.len(), out, out_len)`: compresses `input` into `out`
    /// (cleared, then holding exactly the compressed bytes) and returns their count.
    ///
    /// `None` where liblzf returns 0: empty input, `out_len == 0`, or output that would not
    /// fit in `out_len` bytes by liblzf's own (slightly conservative) bounds checks; `out` is
    /// then empty. `out` never grows past `min(out_len, 2 * input.len() + 2)` bytes.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, out_len: usize) -> Option<usize> {
        out.clear();
        if input.is_empty() || out_len == 0 {
            return None;
        }
        // Every write lands below `2 * ip + 2` (a literal costs at most two bytes per input
        // byte, a back reference at most four per three), so this bounds the buffer when
        // `out_len` is larger than any output could be.
        let cap = out_len.min(input.len().saturating_mul(2).saturating_add(2));
        out.resize(cap, 0);
        let base = match self.base.checked_add(input.len() as u64 + 1) {
            Some(next) => std::mem::replace(&mut self.base, next),
            None => {
                // Never in practice (2^64 bytes compressed); start over with a clean table.
                self.htab.fill(0);
                self.base = input.len() as u64 + 1;
                0
            }
        };
        match run(&mut self.htab, base, input, out.as_mut_slice(), out_len) {
            Some(n) => {
                out.truncate(n);
                Some(n)
            }
            None => {
                out.clear();
                None
            }
        }
    }

    /// [`quicklist_compressed_size`] with this compressor's table.
    pub fn quicklist_compressed_size(&mut self, node: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let sz = node.len();
        if sz < MIN_COMPRESS_BYTES {
            return None;
        }
        let n = self.compress(node, out, sz)?;
        if n + MIN_COMPRESS_IMPROVE >= sz {
            out.clear();
            return None;
        }
        Some(n)
    }
}

/// The body of `lzf_compress` over indices: `ip` into `input`, `op` into `out` (whose
/// logical end is `out_len`; the slice may be shorter when `out_len` exceeds any possible
/// output). `lit` is the length of the open literal run, whose control byte is reserved at
/// `op - lit - 1`.
fn run(htab: &mut [u64], base: u64, input: &[u8], out: &mut [u8], out_len: usize) -> Option<usize> {
    let in_len = input.len();
    // `while (ip < in_end - 2)`: no position to hash in inputs under three bytes.
    let limit = in_len.saturating_sub(2);
    let mut ip = 0usize;
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let tag = |p: usize| base + p as u64 + 1;

    let mut hval = if limit > 0 { frst(input, ip) } else { 0 };
    while ip < limit {
        hval = next(hval, input, ip);
        let slot = &mut htab[idx(hval)];
        let stored = *slot;
        *slot = tag(ip);
        // An empty slot is a null `ref`, which `off < MAX_OFF` rejects. `off` wraps like the
        // C `size_t` would if `ref` were not behind `ip` (it always is).
        let candidate = (stored > base).then(|| (stored - base - 1) as usize);
        let found = candidate.and_then(|r| {
            let off = ip.wrapping_sub(r).wrapping_sub(1);
            // `ref > in_data`: position 0 is never referenced.
            (off < MAX_OFF
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1])
                .then_some((r, off))
        });

        if let Some((r, off)) = found {
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            // First the fast conservative test, then the exact one.
            if op + 3 + 1 >= out_len && op - usize::from(lit == 0) + 3 + 1 >= out_len {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo run if length is zero

            'search: {
                // The C code unrolls 16 comparisons without checking `maxlen` when
                // `maxlen > 16`; a match may then run up to 19 bytes even if `maxlen` is 17
                // or 18 (still within the input, which has `maxlen + 2` bytes left).
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'search;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }

            len -= 2; // the match is `len + 2` bytes
            ip += 1;

            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;

            lit = 0;
            op += 1; // start run

            ip += len + 1;
            if ip >= limit {
                break;
            }

            // VERY_FAST: hash only the last two positions of the match.
            ip -= 2;
            hval = frst(input, ip);
            hval = next(hval, input, ip);
            htab[idx(hval)] = tag(ip);
            ip += 1;
            hval = next(hval, input, ip);
            htab[idx(hval)] = tag(ip);
            ip += 1;
        } else {
            // One more literal byte.
            if op >= out_len {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8; // stop run
                lit = 0;
                op += 1; // start run
            }
        }
    }

    // At most three bytes can be missing here.
    if op + 3 > out_len {
        return None;
    }
    while ip < in_len {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0); // undo run if length is zero
    Some(op)
}

/// `lzf_compress(input, input.len(), out, out_len)` with a fresh table; see
/// [`Compressor::compress`]. Allocates the 512 KiB table on every call: use a
/// [`Compressor`] in loops.
pub fn compress(input: &[u8], out: &mut Vec<u8>, out_len: usize) -> Option<usize> {
    Compressor::new().compress(input, out, out_len)
}

/// The compressed length Redis keeps for a quicklist node whose uncompressed bytes (a
/// listpack, a 6.2 ziplist, or a PLAIN node's element) are `node`, or `None` when the node
/// stays uncompressed; `out` receives the compressed bytes.
///
/// `__quicklistCompressNode` (the same decision in Redis 6.2, 7.0, 7.2, 7.4, 8.0-m01 and
/// Valkey 7.2, 8.0): skip when `sz < MIN_COMPRESS_BYTES`; otherwise
/// `lzf_compress(entry, sz, .., sz)` and keep the result only when it is non-zero and
/// `compressed + MIN_COMPRESS_IMPROVE < sz`. PLAIN nodes go through the same function.
/// The kept allocation is `zrealloc(lzf, sizeof(quicklistLZF) + compressed)`, see
/// [`QUICKLIST_LZF_HEADER`]. Allocates a table per call: use
/// [`Compressor::quicklist_compressed_size`] in loops.
pub fn quicklist_compressed_size(node: &[u8], out: &mut Vec<u8>) -> Option<usize> {
    Compressor::new().quicklist_compressed_size(node, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rdbscope_parser::lzf::decompress_into;

    fn roundtrip(c: &mut Compressor, input: &[u8]) -> Option<usize> {
        let mut out = Vec::new();
        let n = c.compress(input, &mut out, usize::MAX)?;
        assert_eq!(n, out.len());
        let mut back = Vec::new();
        decompress_into(&out, input.len(), &mut back).expect("valid LZF stream");
        assert_eq!(back, input);
        Some(n)
    }

    /// A small deterministic generator (xorshift) for structured inputs.
    fn xorshift(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn compress_empty_input_is_none() {
        let mut out = vec![1, 2, 3];
        assert_eq!(compress(b"", &mut out, 100), None);
        assert!(out.is_empty());
    }

    #[test]
    fn compress_zero_out_len_is_none() {
        let mut out = Vec::new();
        assert_eq!(compress(b"aaaaaaaaaa", &mut out, 0), None);
    }

    #[test]
    fn compress_tiny_inputs_are_one_literal_run() {
        let mut out = Vec::new();
        assert_eq!(compress(b"a", &mut out, 100), Some(2));
        assert_eq!(out, [0, b'a']);
        assert_eq!(compress(b"ab", &mut out, 100), Some(3));
        assert_eq!(out, [1, b'a', b'b']);
        assert_eq!(compress(b"abc", &mut out, 100), Some(4));
        assert_eq!(out, [2, b'a', b'b', b'c']);
        // The tail check wants room for three more bytes than were written so far.
        assert_eq!(compress(b"a", &mut out, 3), None);
        assert_eq!(compress(b"a", &mut out, 4), Some(2));
    }

    #[test]
    fn compress_run_never_references_position_zero() {
        // `ref > in_data`: the first match can only start at position 2 against position 1.
        let mut out = Vec::new();
        // Literals "aa", a 6-byte reference at distance 1, literals "aa".
        assert_eq!(compress(b"aaaaaaaaaa", &mut out, 100), Some(8));
        assert_eq!(out, [1, b'a', b'a', 4 << 5, 0, 1, b'a', b'a']);
    }

    #[test]
    fn compress_incompressible_input_is_none() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let input: Vec<u8> = (0..1000).map(|_| xorshift(&mut seed) as u8).collect();
        let mut out = Vec::new();
        // Random bytes grow by one control byte per 32.
        assert_eq!(compress(&input, &mut out, input.len() - 4), None);
        assert!(out.is_empty());
        assert_eq!(compress(&input, &mut out, input.len()), None);
        let n = compress(&input, &mut out, usize::MAX).unwrap();
        assert!(n > input.len());
        assert_eq!(quicklist_compressed_size(&input, &mut out), None);
    }

    #[test]
    fn compress_reuses_table_without_leaking_positions() {
        // A second call must not find matches against the first call's positions.
        let mut c = Compressor::new();
        let mut a = Vec::new();
        let mut b = Vec::new();
        let first = b"0123456789abcdefghij0123456789";
        let second = b"xyz0123456789abcdefghij";
        c.compress(first, &mut a, usize::MAX).unwrap();
        c.compress(second, &mut a, usize::MAX).unwrap();
        compress(second, &mut b, usize::MAX).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn compress_out_len_boundary_is_exact() {
        // Find the smallest out_len that succeeds; it must give the same bytes as any larger.
        let input = b"hello hello hello hello world world world world!";
        let mut full = Vec::new();
        let n = compress(input, &mut full, usize::MAX).unwrap();
        let mut out = Vec::new();
        let min = (1..=input.len() * 2)
            .find(|&l| compress(input, &mut out, l).is_some())
            .unwrap();
        assert!(min > n, "liblzf's checks keep some slack");
        assert!(min <= n + 4);
        assert_eq!(compress(input, &mut out, min), Some(n));
        assert_eq!(out, full);
        assert_eq!(compress(input, &mut out, min - 1), None);
    }

    #[test]
    fn compress_structured_inputs_roundtrip() {
        let mut c = Compressor::new();
        let mut seed = 42u64;
        for case in 0..200 {
            let len = (xorshift(&mut seed) % 20_000) as usize;
            let alphabet = 1 + (case % 7) as u64 * 10;
            let mut v = Vec::with_capacity(len);
            while v.len() < len {
                if xorshift(&mut seed).is_multiple_of(3) && v.len() > 10 {
                    // Repeat an earlier chunk, near or far (beyond MAX_OFF sometimes).
                    let back = 1 + (xorshift(&mut seed) as usize % v.len().min(10_000));
                    let n = 1 + (xorshift(&mut seed) % 300) as usize;
                    let start = v.len() - back;
                    for k in 0..n {
                        let b = v[start + k];
                        v.push(b);
                    }
                } else {
                    v.push(b'a' + (xorshift(&mut seed) % alphabet) as u8);
                }
            }
            roundtrip(&mut c, &v).unwrap();
        }
    }

    #[test]
    fn compress_long_runs_cap_match_length() {
        // A run of 10,000 equal bytes: back references of at most 264 bytes.
        let input = vec![7u8; 10_000];
        let mut out = Vec::new();
        let n = compress(&input, &mut out, usize::MAX).unwrap();
        let mut back = Vec::new();
        decompress_into(&out, input.len(), &mut back).unwrap();
        assert_eq!(back, input);
        // 2 literals, then 37 full references of 3 bytes each plus a short tail.
        assert!(n < 200, "{n}");
    }

    #[test]
    fn quicklist_below_min_bytes_is_none() {
        let node = vec![b'x'; MIN_COMPRESS_BYTES - 1];
        let mut out = Vec::new();
        assert_eq!(quicklist_compressed_size(&node, &mut out), None);
        let node = vec![b'x'; MIN_COMPRESS_BYTES];
        // Literals "xx", a 44-byte reference (long form), literals "xx".
        assert_eq!(quicklist_compressed_size(&node, &mut out), Some(9));
        assert_eq!(out, [1, b'x', b'x', 7 << 5, 44 - 2 - 7, 0, 1, b'x', b'x']);
    }

    #[test]
    fn quicklist_improve_by_eight_boundary() {
        // Search for inputs whose compressed length is exactly sz - 8 (rejected) and
        // sz - 9 (kept): 48..64 bytes of literals with one short repeated run.
        let mut c = Compressor::new();
        let mut out = Vec::new();
        let (mut kept, mut rejected) = (false, false);
        for sz in MIN_COMPRESS_BYTES..200 {
            for rep in 3..40 {
                let mut node: Vec<u8> = (0..sz - rep).map(|i| (i * 37 % 251) as u8).collect();
                node.extend(std::iter::repeat_n(0xAAu8, rep));
                let Some(n) = c.compress(&node, &mut out, sz) else {
                    assert_eq!(c.quicklist_compressed_size(&node, &mut out), None);
                    continue;
                };
                let q = c.quicklist_compressed_size(&node, &mut out);
                if n + MIN_COMPRESS_IMPROVE == sz {
                    assert_eq!(q, None);
                    rejected = true;
                } else if n + MIN_COMPRESS_IMPROVE + 1 == sz {
                    assert_eq!(q, Some(n));
                    kept = true;
                } else {
                    assert_eq!(q, (n + MIN_COMPRESS_IMPROVE < sz).then_some(n));
                }
            }
        }
        assert!(kept && rejected);
    }

    proptest! {
        #[test]
        fn compress_random_roundtrips(input in proptest::collection::vec(any::<u8>(), 1..3000)) {
            let mut c = Compressor::new();
            prop_assert!(roundtrip(&mut c, &input).is_some());
        }

        #[test]
        fn compress_small_alphabet_roundtrips(
            input in proptest::collection::vec(0u8..4, 1..5000),
            out_len in 0usize..6000,
        ) {
            let mut c = Compressor::new();
            let n = roundtrip(&mut c, &input).unwrap();
            // A bounded out_len either gives the same bytes or nothing.
            let mut full = Vec::new();
            c.compress(&input, &mut full, usize::MAX).unwrap();
            let mut out = Vec::new();
            match c.compress(&input, &mut out, out_len) {
                Some(m) => {
                    prop_assert_eq!(m, n);
                    prop_assert!(m <= out_len);
                    prop_assert_eq!(&out, &full);
                }
                None => prop_assert!(out_len < n + 4),
            }
        }
    }
}
