//! A minimal compressor for the liblzf raw format (no header), as stored inside RDB LZF strings
//! (§3), plus [`LzfOps`] to write arbitrary, possibly invalid, LZF token streams.
//!
//! Token format (liblzf `lzf_d.c`):
//! * literal run: control byte `len - 1` (0..=31), then `len` bytes (1..=32);
//! * short back-reference (length 3..=8): `((len - 2) << 5) | (off >> 8)`, then `off & 0xff`;
//! * long back-reference (length 9..=264): `(7 << 5) | (off >> 8)`, then `len - 9`, then
//!   `off & 0xff`;
//!
//! where `off = distance - 1` and `distance` is 1..=8192 bytes back from the output position.
//! A back-reference may overlap the bytes it produces (distance < length).

use std::collections::HashMap;

/// Longest literal run one control byte can announce.
pub const MAX_LITERAL: usize = 32;
/// Farthest a back-reference can reach (`off` is 13 bits).
pub const MAX_DISTANCE: usize = 8192;
/// Shortest back-reference.
pub const MIN_MATCH: usize = 3;
/// Longest back-reference (`7 + 255 + 2`).
pub const MAX_MATCH: usize = 264;
/// Candidate positions examined per input position; bounds compression time on large inputs.
const MAX_CHAIN: usize = 64;

/// Compresses `input` into liblzf raw format with a greedy longest-match search.
///
/// The output is always valid and decompresses to exactly `input`; it uses literal runs, short
/// and long back-references (overlapping ones for runs of equal bytes). Unlike liblzf it never
/// fails: incompressible input simply grows by one control byte per 32 bytes.
///
/// ```
/// let c = rdbscope_testwriter::lzf::lzf_compress(b"aaaaaaaaaa");
/// // literal "a", then a back-reference of length 9 at distance 1 (long form).
/// assert_eq!(c, [0x00, b'a', 0xe0, 0x00, 0x00]);
/// ```
pub fn lzf_compress(input: &[u8]) -> Vec<u8> {
    let mut ops = LzfOps::new();
    let mut table: HashMap<[u8; 3], Vec<usize>> = HashMap::new();
    let insert = |table: &mut HashMap<[u8; 3], Vec<usize>>, pos: usize| {
        if let Some(key) = input.get(pos..pos + 3) {
            table.entry([key[0], key[1], key[2]]).or_default().push(pos);
        }
    };
    let mut lit_start = 0;
    let mut i = 0;
    while i < input.len() {
        let (best_len, best_dist) = longest_match(input, i, &table);
        if best_len >= MIN_MATCH {
            ops.literals(&input[lit_start..i]);
            ops.backref(best_len, best_dist);
            for p in i..i + best_len {
                insert(&mut table, p);
            }
            i += best_len;
            lit_start = i;
        } else {
            insert(&mut table, i);
            i += 1;
        }
    }
    ops.literals(&input[lit_start..]);
    ops.build()
}

fn longest_match(input: &[u8], i: usize, table: &HashMap<[u8; 3], Vec<usize>>) -> (usize, usize) {
    let Some(key) = input.get(i..i + 3) else {
        return (0, 0);
    };
    let Some(cands) = table.get(&[key[0], key[1], key[2]]) else {
        return (0, 0);
    };
    let max = (input.len() - i).min(MAX_MATCH);
    let (mut best_len, mut best_dist) = (0, 0);
    for &p in cands.iter().rev().take(MAX_CHAIN) {
        let dist = i - p;
        if dist > MAX_DISTANCE {
            break;
        }
        let l = (0..max)
            .take_while(|&k| input[p + k] == input[i + k])
            .count();
        if l > best_len {
            best_len = l;
            best_dist = dist;
            if l == max {
                break;
            }
        }
    }
    (best_len, best_dist)
}

/// Builds an LZF token stream token by token, for tests of specific decoder paths and of
/// hostile input (references before the start of output, truncated tokens, wrong lengths).
///
/// ```
/// use rdbscope_testwriter::lzf::LzfOps;
/// let bytes = LzfOps::new().literal(b"ab").backref(4, 2).build();
/// assert_eq!(bytes, [0x01, b'a', b'b', 0x40, 0x01]); // decompresses to "ababab"
/// ```
#[derive(Debug, Clone, Default)]
pub struct LzfOps {
    out: Vec<u8>,
}

impl LzfOps {
    /// Starts an empty token stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one literal run.
    ///
    /// # Panics
    /// Panics unless `bytes` holds 1..=32 bytes.
    pub fn literal(&mut self, bytes: &[u8]) -> &mut Self {
        assert!(
            (1..=MAX_LITERAL).contains(&bytes.len()),
            "literal run must be 1..=32 bytes"
        );
        self.out.push((bytes.len() - 1) as u8);
        self.out.extend_from_slice(bytes);
        self
    }

    /// Appends `bytes` as as many literal runs of at most 32 bytes as needed (none if empty).
    pub fn literals(&mut self, bytes: &[u8]) -> &mut Self {
        for chunk in bytes.chunks(MAX_LITERAL) {
            self.literal(chunk);
        }
        self
    }

    /// Appends a back-reference copying `len` bytes from `distance` bytes back; short form for
    /// lengths 3..=8, long form for 9..=264. Distance is not checked against the output so far,
    /// so a reference before the start of output can be written on purpose.
    ///
    /// # Panics
    /// Panics unless `3 <= len <= 264` and `1 <= distance <= 8192`.
    pub fn backref(&mut self, len: usize, distance: usize) -> &mut Self {
        assert!(
            (MIN_MATCH..=MAX_MATCH).contains(&len),
            "back-reference length must be 3..=264"
        );
        assert!(
            (1..=MAX_DISTANCE).contains(&distance),
            "back-reference distance must be 1..=8192"
        );
        let off = distance - 1;
        let l = len - 2;
        if l < 7 {
            self.out.push(((l as u8) << 5) | (off >> 8) as u8);
        } else {
            self.out.push((7 << 5) | (off >> 8) as u8);
            self.out.push((l - 7) as u8);
        }
        self.out.push(off as u8);
        self
    }

    /// Appends arbitrary bytes verbatim (e.g. a control byte without its payload).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    /// Returns the token stream built so far.
    pub fn build(&self) -> Vec<u8> {
        self.out.clone()
    }
}
