//! Key prefixes and inferred key patterns: the two ways `analyze` groups keys.
//!
//! Both are pure functions of the key bytes and the [`Separators`]: no state, no
//! allocation beyond a caller-owned output buffer, one pass over the key.
//!
//! # Prefixes
//!
//! A key is a sequence of *segments*, each ended by one separator byte; whatever follows
//! the last separator is the unterminated tail. The prefix at level `n`
//! ([`prefix_at`]) keeps the first `min(n, k)` terminated segments, separators included,
//! where `k` is the number of separators in the key:
//!
//! | key                | level 1  | level 2     | level 3     |
//! |--------------------|----------|-------------|-------------|
//! | `user:123:profile` | `user:`  | `user:123:` | `user:123:` |
//! | `user`             | (empty)  | (empty)     | (empty)     |
//! | `a::b`             | `a:`     | `a::`       | `a::`       |
//! | `:a:b`             | `:`      | `:a:`       | `:a:`       |
//! | `:::`              | `:`      | `::`        | `:::`       |
//!
//! Every separator byte ends a segment, so a run of separators makes empty segments and a
//! leading separator makes an empty first segment: nothing is collapsed, which keeps the
//! rule one line long. A key without a separator has the empty prefix at every level
//! (reporters print it as `(no separator)`). Level 0 is the empty prefix for every key.
//! So at each level every key falls in exactly one row, and each level's rows add up to
//! the totals.
//!
//! # Inferred patterns
//!
//! [`infer_pattern`] splits the key at separators (keeping them) and replaces each variable
//! segment by a placeholder. At the start of each segment three shapes are tried first;
//! they may run across separators (an ISO time holds `:`, a hashtag may hold `user:1`) but
//! must end at a separator or at the end of the key:
//!
//! | rule | shape | placeholder | example |
//! |---|---|---|---|
//! | hashtag | `{`, at least one byte, the first `}` after it | `{tag}` | `{user:42}:cart:7` → `{tag}:cart:{num}` |
//! | date | `YYYY-MM`, `YYYY-MM-DD`, optionally `T`/`t`/space `HH:MM[:SS][.frac]` and `Z`/`±HH[[:]MM]`; or `YYYYMMDDTHHMM[SS][Z]` (month 01–12, day 01–31, hour 00–23, minute 00–59, second 00–60) | `{date}` | `log:2024-01-31T12:00:00Z` → `log:{date}` |
//! | uuid | 8-4-4-4-12 hex digits, any case | `{uuid}` | `session:0f8fad5b-d9cb-469f-a165-70867728950e` → `session:{uuid}` |
//!
//! Otherwise the segment runs to the next separator and the first matching rule wins:
//!
//! | rule | segment | placeholder | example |
//! |---|---|---|---|
//! | empty | nothing between two separators | kept empty | `a::b` → `a::b` |
//! | binary | not UTF-8, or holding a control character (C0, DEL, C1) | `{bin}` | `k:\xff\x00` → `k:{bin}` |
//! | number | ASCII digits, optionally after one `-` | `{num}` | `user:123:profile` → `user:{num}:profile` |
//! | hex | hex digits only, either 4+ long with at least one digit and one letter `a-f` (variable-length hex ids such as `1d2e3`, which would otherwise split into many rows), or 16+ long | `{hex}` | `cache:5d41402abc4b2a76` → `cache:{hex}` |
//! | opaque id | 10+ bytes of `[A-Za-z0-9_+/=-]`, with letters and digits, and at least 3 changes of class (lower, upper, digit) between adjacent alphanumerics, 4 if under 16 bytes | `{id}` | `tok:aZ3kQ9xP2mLr7TbV` → `tok:{id}`, `queue:No9DO+ggLCUN` → `queue:{id}` |
//! | text | anything else: kept, except that every maximal run of ASCII digits becomes `{num}`, unless it is a single digit touching an ASCII letter | | `shard12` → `shard{num}`, `img_1234.png` → `img_{num}.png`, `v2`, `md5`, `2fa` kept |
//!
//! Choices worth knowing:
//!
//! * A segment of digits only is always `{num}`, even when it reads as a date (`20240131`)
//!   or an epoch (`1706700000`): folding it into `{num}` already merges those keys, while
//!   calling some 8-digit ids `{date}` would split one id space into two patterns.
//! * The class-change count keeps descriptive segments that happen to hold a number from
//!   becoming `{id}`: `cache_item_1234567890` has none and reads `cache_item_{num}`;
//!   random base62 or base64 has many. An opaque id without any digit stays text.
//! * Short random names (10 to 15 bytes, such as generated queue or job names) are ids too,
//!   with one more class change asked of them: left as text, every one of them was a
//!   pattern of its own, and a few thousand such names crowded the real patterns out of
//!   the capped pattern table. `HTTP2Server` (3 changes) stays text.
//! * A `{...}` segment is always folded, so text like `{num}` can appear verbatim in a
//!   pattern only inside a longer segment (`x{num}`); patterns are for display, not parsing.
//! * The output may be longer than the key (`1` becomes `{num}`); a reused buffer grows to
//!   the longest pattern once and then no longer allocates.

use std::fmt;
use std::str::FromStr;

/// A set of separator bytes (ASCII only). The default is `:` alone.
///
/// Only ASCII is accepted so that splitting at a separator never cuts a UTF-8 character:
/// bytes of multi-byte UTF-8 characters are all `>= 0x80`.
///
/// ```
/// use rdbscope_analysis::pattern::Separators;
/// let seps: Separators = ":|".parse().unwrap();
/// assert!(seps.contains(b'|'));
/// assert!(Separators::new("").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Separators {
    bits: [u64; 4],
    /// The separator when there is exactly one (a faster search).
    single: Option<u8>,
}

/// Why a separator set was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeparatorsError {
    /// No separator was given.
    Empty,
    /// A separator is not an ASCII character.
    NonAscii(char),
}

impl fmt::Display for SeparatorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("separator set is empty"),
            Self::NonAscii(c) => write!(f, "separator {c:?} is not an ASCII character"),
        }
    }
}

impl std::error::Error for SeparatorsError {}

impl Separators {
    /// No separator at all (the starting point of the constructors).
    const EMPTY: Self = Self {
        bits: [0; 4],
        single: None,
    };

    /// The set holding the characters of `chars`, e.g. `":|"`.
    ///
    /// # Errors
    ///
    /// [`SeparatorsError::Empty`] for an empty string, [`SeparatorsError::NonAscii`] for a
    /// character outside ASCII.
    pub fn new(chars: &str) -> Result<Self, SeparatorsError> {
        if chars.is_empty() {
            return Err(SeparatorsError::Empty);
        }
        let mut set = Self::EMPTY;
        for c in chars.chars() {
            let b = u8::try_from(c)
                .ok()
                .filter(u8::is_ascii)
                .ok_or(SeparatorsError::NonAscii(c))?;
            set.insert(b);
        }
        Ok(set)
    }

    /// The set holding the single ASCII byte `b`, or `None` if `b` is not ASCII.
    pub fn single(b: u8) -> Option<Self> {
        if !b.is_ascii() {
            return None;
        }
        let mut set = Self::EMPTY;
        set.insert(b);
        Some(set)
    }

    fn insert(&mut self, b: u8) {
        if let Some(w) = self.bits.get_mut(usize::from(b >> 6)) {
            *w |= 1 << (b & 63);
        }
        let count: u32 = self.bits.iter().map(|w| w.count_ones()).sum();
        self.single = (count == 1).then_some(b);
    }

    /// Whether `b` is a separator.
    #[inline]
    pub fn contains(&self, b: u8) -> bool {
        self.bits
            .get(usize::from(b >> 6))
            .is_some_and(|w| (w >> (b & 63)) & 1 == 1)
    }

    /// Position of the first separator in `bytes`.
    #[inline]
    pub fn find(&self, bytes: &[u8]) -> Option<usize> {
        match self.single {
            Some(b) => find_byte(b, bytes),
            None => bytes.iter().position(|&b| self.contains(b)),
        }
    }

    /// The separator bytes, ascending.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=u8::MAX).filter(|&b| self.contains(b))
    }
}

/// Position of the first `b` in `s`, eight bytes at a time: key segments are short, and
/// a library search's setup costs more than it saves on them.
#[inline]
fn find_byte(b: u8, s: &[u8]) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let pattern = LOW * u64::from(b);
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes(<[u8; 8]>::try_from(c).unwrap_or_default()) ^ pattern;
        // The lowest set high bit marks the first zero byte of `w` (borrows only run upward).
        let zero = w.wrapping_sub(LOW) & !w & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&x| x == b)
        .map(|p| at + p)
}

impl Default for Separators {
    fn default() -> Self {
        let mut set = Self::EMPTY;
        set.insert(b':');
        set
    }
}

impl FromStr for Separators {
    type Err = SeparatorsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for Separators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s: String = self.bytes().map(char::from).collect();
        f.debug_tuple("Separators").field(&s).finish()
    }
}

/// The prefix of `key` at `level`: the key cut after its first `min(level, k)`
/// separator-terminated segments, `k` being the number of separators in the key (see the
/// [module docs](self)). Level 0, and any level of a key without separator, give the empty
/// prefix.
///
/// ```
/// use rdbscope_analysis::pattern::{prefix_at, Separators};
/// let seps = Separators::default();
/// assert_eq!(prefix_at(b"user:123:profile", &seps, 1), b"user:");
/// assert_eq!(prefix_at(b"user:123:profile", &seps, 2), b"user:123:");
/// assert_eq!(prefix_at(b"user:123:profile", &seps, 3), b"user:123:");
/// assert_eq!(prefix_at(b"user", &seps, 1), b"");
/// ```
pub fn prefix_at<'k>(key: &'k [u8], seps: &Separators, level: usize) -> &'k [u8] {
    let mut end = 0;
    let mut seen = 0;
    if level > 0 {
        for (i, &b) in key.iter().enumerate() {
            if seps.contains(b) {
                end = i + 1;
                seen += 1;
                if seen == level {
                    break;
                }
            }
        }
    }
    key.get(..end).unwrap_or_default()
}

/// The prefixes of `key` at levels `1..=max_level`, in that order, in one pass over the
/// key: item `n - 1` equals [`prefix_at`]`(key, seps, n)`.
///
/// ```
/// use rdbscope_analysis::pattern::{prefixes, Separators};
/// let all: Vec<&[u8]> = prefixes(b"a:b:c", &Separators::default(), 3).collect();
/// assert_eq!(all, [&b"a:"[..], b"a:b:", b"a:b:"]);
/// ```
pub fn prefixes<'k>(key: &'k [u8], seps: &Separators, max_level: usize) -> Prefixes<'k> {
    Prefixes {
        key,
        seps: *seps,
        scan: 0,
        end: 0,
        remaining: max_level,
    }
}

/// Iterator over the per-level prefixes of one key; see [`prefixes`].
#[derive(Debug, Clone)]
pub struct Prefixes<'k> {
    key: &'k [u8],
    seps: Separators,
    /// Where the search for the next separator resumes.
    scan: usize,
    /// End of the current prefix.
    end: usize,
    remaining: usize,
}

impl<'k> Iterator for Prefixes<'k> {
    type Item = &'k [u8];

    fn next(&mut self) -> Option<&'k [u8]> {
        self.remaining = self.remaining.checked_sub(1)?;
        let rest = self.key.get(self.scan..).unwrap_or_default();
        match self.seps.find(rest) {
            Some(i) => {
                self.end = self.scan + i + 1;
                self.scan = self.end;
            }
            None => self.scan = self.key.len(),
        }
        Some(self.key.get(..self.end).unwrap_or_default())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Prefixes<'_> {}

/// Placeholder for a number.
pub const NUM: &[u8] = b"{num}";
/// Placeholder for a UUID.
pub const UUID: &[u8] = b"{uuid}";
/// Placeholder for a date or timestamp.
pub const DATE: &[u8] = b"{date}";
/// Placeholder for a hex id.
pub const HEX: &[u8] = b"{hex}";
/// Placeholder for an opaque base64/base62-like id.
pub const ID: &[u8] = b"{id}";
/// Placeholder for a `{...}` cluster hashtag segment.
pub const TAG: &[u8] = b"{tag}";
/// Placeholder for a segment that is not printable UTF-8.
pub const BIN: &[u8] = b"{bin}";

/// Writes the inferred pattern of `key` into `out` (cleared first), following the rules of
/// the [module docs](self). Never allocates when `out` already has room for the pattern.
///
/// ```
/// use rdbscope_analysis::pattern::{infer_pattern, Separators};
/// let seps = Separators::default();
/// let mut out = Vec::new();
/// infer_pattern(b"user:123:profile", &seps, &mut out);
/// assert_eq!(out, b"user:{num}:profile");
/// infer_pattern(b"{eu}:cart:42", &seps, &mut out);
/// assert_eq!(out, b"{tag}:cart:{num}");
/// ```
pub fn infer_pattern(key: &[u8], seps: &Separators, out: &mut Vec<u8>) {
    infer(key, seps, out, true);
}

/// [`infer_pattern`]; `fast` enables the all-digits shortcut (off only in the test that
/// checks the shortcut changes nothing).
fn infer(key: &[u8], seps: &Separators, out: &mut Vec<u8>, fast: bool) {
    out.clear();
    let mut close = CloseBrace::default();
    let mut i = 0;
    loop {
        let rest = key.get(i..).unwrap_or_default();
        // Fast path for the commonest variable segment: digits up to a separator or the
        // end are `{num}`, unless they may open a date that spans separators (a year
        // before '-', or a compact date before 'T').
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let date_start = matches!(
            (digits, rest.get(digits)),
            (4, Some(b'-')) | (8, Some(b'T' | b't'))
        );
        if fast && digits > 0 && !date_start && at_boundary(rest, digits, seps) {
            out.extend_from_slice(NUM);
            i += digits;
            match key.get(i) {
                Some(&sep) => {
                    out.push(sep);
                    i += 1;
                    continue;
                }
                None => return,
            }
        }
        let spanned = match rest.first() {
            Some(b'{') => close.tag_len(key, i, seps).map(|n| (n, TAG)),
            Some(b) if b.is_ascii_digit() => date_len(rest, seps).map(|n| (n, DATE)),
            _ => None,
        }
        .or_else(|| uuid_len(rest, seps).map(|n| (n, UUID)));
        let len = match spanned {
            Some((n, placeholder)) => {
                out.extend_from_slice(placeholder);
                n
            }
            None => {
                let n = seps.find(rest).unwrap_or(rest.len());
                fold_segment(rest.get(..n).unwrap_or_default(), out, fast);
                n
            }
        };
        i += len;
        match key.get(i) {
            Some(&sep) => {
                out.push(sep);
                i += 1;
            }
            None => return,
        }
    }
}

/// Whether a span of `len` bytes at the start of `s` ends at a separator or at the end.
fn at_boundary(s: &[u8], len: usize, seps: &Separators) -> bool {
    s.get(len).is_none_or(|&b| seps.contains(b))
}

/// Finds first `}` positions for hashtags with amortised O(len) total work over one key:
/// segment starts only move forward, so each byte is scanned at most once.
#[derive(Default)]
struct CloseBrace {
    /// Bytes before this index have been scanned.
    scanned: usize,
    /// The first `}` at or after the last search start, if known.
    found: Option<usize>,
}

impl CloseBrace {
    /// Length of a hashtag starting with the `{` at `key[start]`, if it ends at a boundary.
    fn tag_len(&mut self, key: &[u8], start: usize, seps: &Separators) -> Option<usize> {
        let from = start + 1;
        let pos = match self.found {
            Some(p) if p >= from => p,
            _ => {
                let begin = self.scanned.max(from);
                let p = key
                    .get(begin..)
                    .unwrap_or_default()
                    .iter()
                    .position(|&b| b == b'}')
                    .map(|k| begin + k);
                self.scanned = p.map_or(key.len(), |p| p + 1);
                self.found = p;
                p?
            }
        };
        // An empty `{}` is no hashtag in Redis (`keyHashSlot`), so no tag here either.
        let len = pos - start + 1;
        (pos > from && at_boundary(key.get(start..)?, len, seps)).then_some(len)
    }
}

/// Value of the ASCII digits `s[at..at + n]`, if they are all digits.
fn digits(s: &[u8], at: usize, n: usize) -> Option<u32> {
    let d = s.get(at..at.checked_add(n)?)?;
    d.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn two_in(s: &[u8], at: usize, lo: u32, hi: u32) -> bool {
    digits(s, at, 2).is_some_and(|v| (lo..=hi).contains(&v))
}

/// Length of the longest date or timestamp at the start of `s` that ends at a boundary.
fn date_len(s: &[u8], seps: &Separators) -> Option<usize> {
    digits(s, 0, 4)?;
    let mut best = None;
    let mut cand = |end: usize| {
        if at_boundary(s, end, seps) {
            best = best.max(Some(end));
        }
    };
    if s.get(4) == Some(&b'-') {
        if !two_in(s, 5, 1, 12) {
            return None;
        }
        cand(7);
        if s.get(7) == Some(&b'-') && two_in(s, 8, 1, 31) {
            cand(10);
            if matches!(s.get(10), Some(b'T' | b't' | b' '))
                && two_in(s, 11, 0, 23)
                && s.get(13) == Some(&b':')
                && two_in(s, 14, 0, 59)
            {
                let mut q = 16;
                zone_candidates(s, q, &mut cand);
                if s.get(q) == Some(&b':') && two_in(s, q + 1, 0, 60) {
                    q += 3;
                    zone_candidates(s, q, &mut cand);
                    if matches!(s.get(q), Some(b'.' | b',')) {
                        let frac = s
                            .get(q + 1..)
                            .unwrap_or_default()
                            .iter()
                            .take_while(|b| b.is_ascii_digit())
                            .count();
                        if frac > 0 {
                            zone_candidates(s, q + 1 + frac, &mut cand);
                        }
                    }
                }
            }
        }
    } else if two_in(s, 4, 1, 12)
        && two_in(s, 6, 1, 31)
        && matches!(s.get(8), Some(b'T' | b't'))
        && two_in(s, 9, 0, 23)
        && two_in(s, 11, 0, 59)
    {
        let mut q = 13;
        if two_in(s, q, 0, 60) {
            q += 2;
        }
        cand(q);
        if matches!(s.get(q), Some(b'Z' | b'z')) {
            cand(q + 1);
        }
    }
    best
}

/// Offers the ends of a time without zone at `q`, with `Z`, and with a `±HH[[:]MM]` offset.
fn zone_candidates(s: &[u8], q: usize, cand: &mut impl FnMut(usize)) {
    cand(q);
    match s.get(q) {
        Some(b'Z' | b'z') => cand(q + 1),
        Some(b'+' | b'-') if two_in(s, q + 1, 0, 23) => {
            cand(q + 3);
            if s.get(q + 3) == Some(&b':') && two_in(s, q + 4, 0, 59) {
                cand(q + 6);
            } else if two_in(s, q + 3, 0, 59) {
                cand(q + 5);
            }
        }
        _ => {}
    }
}

/// 36 if `s` starts with an 8-4-4-4-12 hex UUID ending at a boundary.
fn uuid_len(s: &[u8], seps: &Separators) -> Option<usize> {
    let u = s.get(..36)?;
    // Most segments are not UUIDs: the dashes reject them before the hex digits.
    if (u[8], u[13], u[18], u[23]) != (b'-', b'-', b'-', b'-') {
        return None;
    }
    // Every other byte is a hex digit: one table lookup each, and-ed without branching.
    let hex = |part: &[u8]| {
        part.iter()
            .fold(1, |acc, &b| acc & HEX_DIGIT[usize::from(b)])
            == 1
    };
    let ok = hex(&u[..8]) && hex(&u[9..13]) && hex(&u[14..18]) && hex(&u[19..23]) && hex(&u[24..]);
    (ok && at_boundary(s, 36, seps)).then_some(36)
}

/// 1 for the ASCII hex digits `0-9a-fA-F`, 0 for every other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_hexdigit() as u8;
        i += 1;
    }
    t
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        _ => Class::Other,
    }
}

/// [`BYTE_CLASS`] bits.
const DIGIT: u8 = 1;
const LOWER: u8 = 2;
const UPPER: u8 = 4;
/// `a-f`, `A-F`.
const HEX_LETTER: u8 = 8;
/// `_ + / = -`: the id alphabet besides letters and digits.
const ID_PUNCT: u8 = 16;
const NON_ASCII: u8 = 32;
/// ASCII control bytes (`0x00-0x1f`, `0x7f`).
const CONTROL: u8 = 64;
/// Other printable ASCII (space, `.`, `{`, …).
const PUNCT: u8 = 128;

/// The class bits of every byte.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' => LOWER | HEX_LETTER,
            b'g'..=b'z' => LOWER,
            b'A'..=b'F' => UPPER | HEX_LETTER,
            b'G'..=b'Z' => UPPER,
            b'_' | b'+' | b'/' | b'=' | b'-' => ID_PUNCT,
            0x80..=0xff => NON_ASCII,
            0x00..=0x1f | 0x7f => CONTROL,
            _ => PUNCT,
        };
        i += 1;
    }
    t
};

/// Changes between lower-case, upper-case and digit runs, not across other bytes.
fn class_changes(seg: &[u8]) -> u32 {
    let mut changes = 0u32;
    let mut prev = Class::Other;
    for &b in seg {
        let c = class(b);
        if c != Class::Other && prev != Class::Other && c != prev {
            changes += 1;
        }
        prev = c;
    }
    changes
}

/// Classifies one separator-free segment in a single pass and writes its folded form.
/// `fast` takes the shortcut for the commonest segment, a short word.
fn fold_segment(seg: &[u8], out: &mut Vec<u8>, fast: bool) {
    if seg.is_empty() {
        return;
    }
    // A segment under 16 bytes of printable ASCII without digits (`user`, `profile`) is
    // kept as it is: not a number, a hex string (under 16 bytes it needs a digit) nor an
    // id (ids hold digits), and no digit run to fold.
    if fast
        && seg.len() < 16
        && seg
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && !b.is_ascii_digit())
    {
        out.extend_from_slice(seg);
        return;
    }
    // One table lookup per byte; class changes (for the id rule) only counted if needed.
    let (mut digit, mut letter, mut hex_letter, mut flags) = (0usize, 0usize, 0usize, 0u8);
    for &b in seg {
        let c = BYTE_CLASS[usize::from(b)];
        flags |= c;
        digit += usize::from(c & DIGIT != 0);
        letter += usize::from(c & (LOWER | UPPER) != 0);
        hex_letter += usize::from(c & HEX_LETTER != 0);
    }
    let id_alphabet = flags & (NON_ASCII | CONTROL | PUNCT) == 0;
    let non_ascii = flags & NON_ASCII != 0;
    let control = flags & CONTROL != 0;
    let printable = !control
        && (!non_ascii || std::str::from_utf8(seg).is_ok_and(|s| !s.chars().any(char::is_control)));
    let unsigned = seg.strip_prefix(b"-").unwrap_or(seg);
    let len = seg.len();
    let all_hex = digit + hex_letter == len;
    if !printable {
        out.extend_from_slice(BIN);
    } else if !unsigned.is_empty() && digit == unsigned.len() {
        out.extend_from_slice(NUM);
    } else if all_hex && ((len >= 4 && digit > 0 && hex_letter > 0) || len >= 16) {
        out.extend_from_slice(HEX);
    } else if len >= 10 && id_alphabet && digit > 0 && letter > 0 && {
        let changes = class_changes(seg);
        changes >= 4 || (len >= 16 && changes >= 3)
    } {
        out.extend_from_slice(ID);
    } else {
        fold_digit_runs(seg, out);
    }
}

/// Copies `seg`, replacing each maximal run of ASCII digits by `{num}`, except a single
/// digit touching an ASCII letter (`v2`, `md5`, `2fa`).
fn fold_digit_runs(seg: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = seg.get(i) {
        if !b.is_ascii_digit() {
            // Copy the whole run of non-digits at once.
            let rest = seg.get(i..).unwrap_or_default();
            let n = rest
                .iter()
                .position(u8::is_ascii_digit)
                .unwrap_or(rest.len());
            out.extend_from_slice(rest.get(..n).unwrap_or_default());
            i += n;
            continue;
        }
        let run = seg
            .get(i..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let letter_before = i
            .checked_sub(1)
            .and_then(|p| seg.get(p))
            .is_some_and(u8::is_ascii_alphabetic);
        let letter_after = seg.get(i + run).is_some_and(u8::is_ascii_alphabetic);
        if run == 1 && (letter_before || letter_after) {
            out.push(b);
        } else {
            out.extend_from_slice(NUM);
        }
        i += run;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(key: &[u8]) -> String {
        pat_with(key, &Separators::default())
    }

    fn pat_with(key: &[u8], seps: &Separators) -> String {
        let mut out = Vec::new();
        infer_pattern(key, seps, &mut out);
        String::from_utf8(out).expect("patterns of these keys are UTF-8")
    }

    #[test]
    fn infer_pattern_table_matches() {
        let cases: &[(&[u8], &str)] = &[
            // numbers
            (b"user:123:profile", "user:{num}:profile"),
            (b"user:-5", "user:{num}"),
            (b"user:-", "user:-"),
            (b"user:--5", "user:--{num}"),
            (b"7", "{num}"),
            (b"20240131", "{num}"),
            (b"ts:1706700000123", "ts:{num}"),
            // uuid
            (
                b"session:0f8fad5b-d9cb-469f-a165-70867728950e",
                "session:{uuid}",
            ),
            (
                b"session:0F8FAD5B-D9CB-469F-A165-70867728950E:data",
                "session:{uuid}:data",
            ),
            (
                b"session:0f8fad5b-d9cb-469f-a165-70867728950e0",
                "session:{id}",
            ),
            // dates
            (b"log:2024-01-31", "log:{date}"),
            (b"log:2024-01", "log:{date}"),
            (b"log:2024-13", "log:{num}-{num}"),
            (b"log:2024-01-31:errors", "log:{date}:errors"),
            (b"log:2024-01-31T12:00:00Z", "log:{date}"),
            (b"log:2024-01-31T12:00:00Z:x", "log:{date}:x"),
            (b"log:2024-01-31T12:00", "log:{date}"),
            (b"log:2024-01-31T12:00:00.123+01:00", "log:{date}"),
            (b"log:2024-01-31T12:00:00-0500", "log:{date}"),
            (b"log:2024-01-31 12:00:00", "log:{date}"),
            (b"log:20240131T120000Z", "log:{date}"),
            (b"log:20240131T1200", "log:{date}"),
            (b"log:2024-01-31T25:00", "log:{num}-{num}-{num}T{num}:{num}"),
            (b"log:2024-01-31x", "log:{num}-{num}-{num}x"),
            // hex
            (b"cache:5d41402abc4b2a76", "cache:{hex}"),
            (b"cache:5d41402a", "cache:{hex}"),
            (b"cache:deadbeef", "cache:deadbeef"),
            (b"cache:deadbeefdeadbeef", "cache:{hex}"),
            (b"sha:356A192B7913B04C54574D18C28D46E6395428AB", "sha:{hex}"),
            (b"cache:5d41402", "cache:{hex}"),
            (b"sess:1d2e3", "sess:{hex}"),
            (b"sess:a1b", "sess:a1b"),
            // opaque ids
            (b"tok:aZ3kQ9xP2mLr7TbV", "tok:{id}"),
            (b"tok:k3j9x0p2m8q1z7w4", "tok:{id}"),
            (b"tok:dGhpcyBpcyBhIHRlc3Q9", "tok:{id}"),
            (b"cache_item_1234567890", "cache_item_{num}"),
            (b"user_profile_v2_settings", "user_profile_v2_settings"),
            (b"tok:aZkQxPmLrTbVaZkQ", "tok:aZkQxPmLrTbVaZkQ"),
            (b"queue:No9DO+ggLCUN", "queue:{id}"),
            (b"queue:J5Ykhjr9trXp", "queue:{id}"),
            (b"q:ab3Dx", "q:ab3Dx"),
            (b"HTTP2Server", "HTTP2Server"),
            // The price of the short-id rule: a mixed-case word with two numbers in it.
            (b"HTTP2Server10", "{id}"),
            (b"gh12KLmn3p", "{id}"),
            (b"gh12KLmn3", "gh{num}KLmn3"),
            // hashtags
            (b"{user1000}:cart:42", "{tag}:cart:{num}"),
            (b"{user:1000}:cart", "{tag}:cart"),
            (b"cart:{42}", "cart:{tag}"),
            (b"{}:cart", "{}:cart"),
            (b"{abc}def:1", "{abc}def:{num}"),
            (b"{abc", "{abc"),
            (b"{a:{b}:c", "{tag}:c"),
            // binary
            (b"k:\xff\xfe", "k:{bin}"),
            (b"k:a\x00b:1", "k:{bin}:{num}"),
            (b"k:\t", "k:{bin}"),
            (b"k:\xc2\x85", "k:{bin}"),
            ("k:caf\u{e9}:1".as_bytes(), "k:caf\u{e9}:{num}"),
            // text with digits
            (b"shard12", "shard{num}"),
            (b"v2:x", "v2:x"),
            (b"md5:utf8:2fa", "md5:utf8:2fa"),
            (b"img_1234.png", "img_{num}.png"),
            (b"img_5.png", "img_{num}.png"),
            (b"page-3", "page-{num}"),
            (b"10.0.0.1", "{num}.{num}.{num}.{num}"),
            // separators
            (b"", ""),
            (b":", ":"),
            (b":::", ":::"),
            (b"a::1", "a::{num}"),
            (b":1:", ":{num}:"),
            (b"plain", "plain"),
        ];
        for (key, want) in cases {
            assert_eq!(pat(key), *want, "key {:?}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn infer_pattern_other_separators_split_there() {
        let seps = Separators::new(":|-").expect("valid");
        assert_eq!(pat_with(b"a|1|b", &seps), "a|{num}|b");
        assert_eq!(pat_with(b"order-2024-01-31-7", &seps), "order-{date}-{num}");
        assert_eq!(
            pat_with(b"s-0f8fad5b-d9cb-469f-a165-70867728950e", &seps),
            "s-{uuid}"
        );
        assert_eq!(pat_with(b"user-12", &seps), "user-{num}");
        // `-` as separator: a leading minus is a separator, not a sign.
        assert_eq!(pat_with(b"x:-5", &seps), "x:-{num}");
    }

    #[test]
    fn infer_pattern_reused_buffer_does_not_allocate() {
        let seps = Separators::default();
        let mut out = Vec::with_capacity(64);
        let ptr = out.as_ptr();
        for key in [&b"user:123:profile"[..], b"a:b:c:d:e", b"", b"{x}:1:2:3:4"] {
            infer_pattern(key, &seps, &mut out);
            assert_eq!(out.as_ptr(), ptr);
        }
        infer_pattern(b"zzz", &seps, &mut out);
        assert_eq!(out, b"zzz", "buffer is cleared first");
    }

    #[test]
    fn infer_pattern_long_keys_are_linear() {
        let seps = Separators::default();
        let mut out = Vec::new();
        // Many `{` without `}`: each hashtag search must not rescan the key.
        let key: Vec<u8> = b"{:".repeat(200_000);
        infer_pattern(&key, &seps, &mut out);
        assert!(out == key, "unclosed braces are kept");
        let key: Vec<u8> = b"1:".repeat(200_000);
        infer_pattern(&key, &seps, &mut out);
        assert_eq!(out.len(), 200_000 * 6);
        let key = vec![b'z'; 1 << 20];
        infer_pattern(&key, &seps, &mut out);
        assert!(out == key, "plain text is kept");
        let key = vec![b'a'; 1 << 20];
        infer_pattern(&key, &seps, &mut out);
        assert_eq!(out, HEX);
        let key = vec![b'7'; 1 << 20];
        infer_pattern(&key, &seps, &mut out);
        assert_eq!(out, b"{num}");
    }

    #[test]
    fn infer_pattern_arbitrary_bytes_do_not_panic() {
        let seps = Separators::new(":{}-T").expect("valid");
        let mut out = Vec::new();
        let mut state = 0x1234_5678_u32;
        for len in 0..300 {
            let key: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    b"0123456789abcdefZT:-{}+.\xff"[(state % 25) as usize]
                })
                .collect();
            infer_pattern(&key, &seps, &mut out);
            infer_pattern(&key, &Separators::default(), &mut out);
        }
    }

    #[test]
    fn prefix_at_levels_match_table() {
        let seps = Separators::default();
        let cases: &[(&[u8], [&[u8]; 4])] = &[
            (
                b"user:123:profile",
                [b"", b"user:", b"user:123:", b"user:123:"],
            ),
            (b"user", [b"", b"", b"", b""]),
            (b"", [b"", b"", b"", b""]),
            (b"a::b", [b"", b"a:", b"a::", b"a::"]),
            (b":a:b", [b"", b":", b":a:", b":a:"]),
            (b":::", [b"", b":", b"::", b":::"]),
            (b"a:", [b"", b"a:", b"a:", b"a:"]),
            (b"\xff:\x00:", [b"", b"\xff:", b"\xff:\x00:", b"\xff:\x00:"]),
        ];
        for (key, levels) in cases {
            for (level, want) in levels.iter().enumerate() {
                assert_eq!(prefix_at(key, &seps, level), *want, "{key:?} level {level}");
            }
        }
    }

    #[test]
    fn prefix_at_multiple_separators_any_ends_segment() {
        let seps: Separators = ":|".parse().expect("valid");
        assert_eq!(prefix_at(b"a|b:c", &seps, 1), b"a|");
        assert_eq!(prefix_at(b"a|b:c", &seps, 2), b"a|b:");
        assert_eq!(prefix_at(b"a|b:c", &seps, usize::MAX), b"a|b:");
    }

    #[test]
    fn prefixes_iterator_agrees_with_prefix_at() {
        let seps: Separators = ":|".parse().expect("valid");
        for key in [&b"a:b|c::d"[..], b"", b"::", b"abc", b"x:y:", b"|"] {
            let all: Vec<&[u8]> = prefixes(key, &seps, 6).collect();
            assert_eq!(all.len(), 6);
            for (i, p) in all.iter().enumerate() {
                assert_eq!(*p, prefix_at(key, &seps, i + 1));
            }
        }
        assert_eq!(prefixes(b"a:b", &seps, 0).count(), 0);
    }

    #[test]
    fn prefix_at_long_key_is_linear() {
        let seps = Separators::default();
        let key = b"ab:".repeat(300_000);
        assert_eq!(prefix_at(&key, &seps, 1), b"ab:");
        assert!(prefix_at(&key, &seps, usize::MAX) == &key[..]);
    }

    #[test]
    fn separators_new_rejects_empty_and_non_ascii() {
        assert_eq!(Separators::new(""), Err(SeparatorsError::Empty));
        assert_eq!(
            Separators::new(":\u{e9}"),
            Err(SeparatorsError::NonAscii('\u{e9}'))
        );
        assert!(Separators::single(0xff).is_none());
        let seps = Separators::new("|:|").expect("valid");
        assert_eq!(seps.bytes().collect::<Vec<_>>(), b":|");
        assert_eq!(format!("{seps:?}"), "Separators(\":|\")");
        assert_eq!(
            Separators::default(),
            Separators::single(b':').expect("ascii")
        );
        assert!(Separators::new("\0\x7f").expect("ascii").contains(0x7f));
        assert!(!Separators::default().contains(0xff));
    }

    /// Naive oracle: the key up to and including its `min(level, k)`-th separator.
    fn naive_prefix<'k>(key: &'k [u8], seps: &Separators, level: usize) -> &'k [u8] {
        let ends: Vec<usize> = key
            .iter()
            .enumerate()
            .filter(|(_, &b)| seps.contains(b))
            .map(|(i, _)| i + 1)
            .collect();
        match level.min(ends.len()) {
            0 => b"",
            n => &key[..ends[n - 1]],
        }
    }

    proptest::proptest! {
        #[test]
        fn prefix_at_random_keys_match_naive_oracle(
            key in proptest::collection::vec(proptest::sample::select(b"ab:|\xff".to_vec()), 0..40),
            level in 0usize..12,
        ) {
            let seps: Separators = ":|".parse().expect("valid");
            proptest::prop_assert_eq!(prefix_at(&key, &seps, level), naive_prefix(&key, &seps, level));
            let all: Vec<&[u8]> = prefixes(&key, &seps, level).collect();
            for (i, p) in all.iter().enumerate() {
                proptest::prop_assert_eq!(*p, naive_prefix(&key, &seps, i + 1));
            }
        }

        #[test]
        fn infer_pattern_random_bytes_are_deterministic(
            key in proptest::collection::vec(proptest::sample::select(b"0123456789abcdefXYZT:-{}+._ \xff\x00".to_vec()), 0..64),
        ) {
            let seps = Separators::default();
            let (mut a, mut b) = (Vec::new(), vec![b'x'; 3]);
            infer_pattern(&key, &seps, &mut a);
            infer_pattern(&key, &seps, &mut b);
            proptest::prop_assert_eq!(&a, &b);
            // Separators are copied or swallowed by a spanning match, never invented.
            let count = |s: &[u8]| s.iter().filter(|&&c| c == b':').count();
            proptest::prop_assert!(count(&a) <= count(&key));
        }
    }

    /// The segment classifier as first written (a `match` per byte), kept as the oracle
    /// of the table-driven one.
    fn fold_segment_reference(seg: &[u8], out: &mut Vec<u8>) {
        if seg.is_empty() {
            return;
        }
        let mut digit = 0usize;
        let mut letter = 0usize;
        let mut hex_letter = 0usize;
        let mut id_alphabet = true;
        let mut non_ascii = false;
        let mut control = false;
        let mut changes = 0u32;
        let mut prev = Class::Other;
        for &b in seg {
            let c = class(b);
            match c {
                Class::Digit => digit += 1,
                Class::Lower | Class::Upper => {
                    letter += 1;
                    if b.is_ascii_hexdigit() {
                        hex_letter += 1;
                    }
                }
                Class::Other => {
                    id_alphabet &= matches!(b, b'_' | b'+' | b'/' | b'=' | b'-');
                    non_ascii |= !b.is_ascii();
                    control |= b.is_ascii_control();
                }
            }
            if c != Class::Other && prev != Class::Other && c != prev {
                changes += 1;
            }
            prev = c;
        }
        let printable = !control
            && (!non_ascii
                || std::str::from_utf8(seg).is_ok_and(|s| !s.chars().any(char::is_control)));
        let unsigned = seg.strip_prefix(b"-").unwrap_or(seg);
        let len = seg.len();
        let all_hex = digit + hex_letter == len;
        if !printable {
            out.extend_from_slice(BIN);
        } else if !unsigned.is_empty() && unsigned.iter().all(u8::is_ascii_digit) {
            out.extend_from_slice(NUM);
        } else if all_hex && ((len >= 4 && digit > 0 && hex_letter > 0) || len >= 16) {
            out.extend_from_slice(HEX);
        } else if id_alphabet
            && digit > 0
            && letter > 0
            && ((len >= 16 && changes >= 3) || (len >= 10 && changes >= 4))
        {
            out.extend_from_slice(ID);
        } else {
            fold_digit_runs(seg, out);
        }
    }

    #[test]
    fn segment_classifier_matches_its_reference() {
        let alphabet: &[u8] = b"0123456789abcdefgxyzABCDEFGXYZ_+/=-. {}\x00\x1f\x7f\xc3\xa9\xff";
        let mut seed = 0x5151_2727_9393_0101u64;
        let (mut got, mut want) = (Vec::new(), Vec::new());
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 48) as usize;
            // Segments drawn from few letters at a time, so that hex, ids and numbers occur.
            let span = 1 + (seed >> 8) as usize % alphabet.len();
            let from = (seed >> 16) as usize % alphabet.len();
            let seg: Vec<u8> = (0..len)
                .map(|j| {
                    let r = (seed >> (j % 7 * 9)) as usize + j * 13;
                    alphabet[(from + r % span) % alphabet.len()]
                })
                .collect();
            got.clear();
            want.clear();
            fold_segment(&seg, &mut got, false);
            fold_segment_reference(&seg, &mut want);
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&seg));
        }
    }

    /// The UUID rule as first written (a `match` on each position), the oracle of the
    /// table-driven one.
    fn uuid_len_reference(s: &[u8], seps: &Separators) -> Option<usize> {
        let u = s.get(..36)?;
        let ok = u.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
        (ok && at_boundary(s, 36, seps)).then_some(36)
    }

    #[test]
    fn uuid_rule_matches_its_reference() {
        let seps = Separators::default();
        let good = b"0f8fAD5b-d9cb-469f-a165-70867728950e:x".to_vec();
        assert_eq!(uuid_len(&good, &seps), Some(36));
        // Every position replaced by every byte: one bad byte anywhere must be refused.
        for i in 0..good.len() {
            for b in 0..=u8::MAX {
                let mut s = good.clone();
                s[i] = b;
                assert_eq!(
                    uuid_len(&s, &seps),
                    uuid_len_reference(&s, &seps),
                    "byte {b:#x} at {i}"
                );
            }
        }
        for n in 0..good.len() {
            assert_eq!(
                uuid_len(&good[..n], &seps),
                uuid_len_reference(&good[..n], &seps)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn separator_search_finds_the_first_separator(
            s in proptest::collection::vec(proptest::sample::select(b"ab:|\x80\xff".to_vec()), 0..40),
        ) {
            for set in [":", "|", ":|"] {
                let seps = Separators::new(set).expect("valid");
                let want = s.iter().position(|&b| seps.contains(b));
                proptest::prop_assert_eq!(seps.find(&s), want, "{}", set);
            }
        }
    }

    #[test]
    fn infer_pattern_shortcuts_change_nothing() {
        // Digits, separators, hex and other letters of both cases, id punctuation, a
        // control byte and non-ASCII: short words, long tokens and everything between.
        let alphabet = b"0123456789:-T/{}ab.x 2024fFqQzZ_+=\x01\xc3\xa9";
        let mut seed = 0x1234_5678_9abc_def1u64;
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for seps in [":", ":-", "-/", ":T"] {
            let seps = Separators::new(seps).unwrap();
            for _ in 0..50_000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 40) as usize;
                let key: Vec<u8> = (0..len)
                    .map(|j| alphabet[((seed >> (j % 8 * 8)) as usize + j * 7) % alphabet.len()])
                    .collect();
                super::infer(&key, &seps, &mut fast, true);
                super::infer(&key, &seps, &mut slow, false);
                assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(&key));
            }
            for key in [
                &b"log-2024-01-31"[..],
                b"x:20240131T1200",
                b"a:1234-5",
                b"12:34:56",
                b"user:123:profile",
                b"queue:No9DO+ggLCUN",
                b"session:0f8fad5b-d9cb-469f-a165-70867728950e",
                b"abcdefabcdefabcd:abcdefabcdefabc",
                b"x:ab cd",
            ] {
                super::infer(key, &seps, &mut fast, true);
                super::infer(key, &seps, &mut slow, false);
                assert_eq!(fast, slow, "{:?}", String::from_utf8_lossy(key));
            }
        }
    }
}
