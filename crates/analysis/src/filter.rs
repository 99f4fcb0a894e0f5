//! Key filters shared by `keys` and `analyze`: database, type, Redis-style glob, regex,
//! minimum memory, TTL state.

use rdbscope_parser::DataType;

/// Which keys to keep.
#[derive(Debug, Clone, Default)]
pub struct KeyFilter {
    /// Keep only these databases (empty = all).
    pub dbs: Vec<u64>,
    /// Keep only these types (empty = all).
    pub types: Vec<DataType>,
    /// Redis `MATCH`-style glob on the key bytes.
    pub glob: Option<Vec<u8>>,
    /// Regular expression on the key bytes.
    pub regex: Option<regex::bytes::Regex>,
    /// Keep keys with at least this predicted memory.
    pub min_memory: Option<u64>,
    /// Keep keys with at least this many elements (fields, members, entries).
    pub min_elements: Option<u64>,
    /// Keep only keys without a TTL.
    pub no_expiry: bool,
    /// Keep only keys already expired at snapshot time.
    pub expired: bool,
}

impl KeyFilter {
    /// Whether the key passes the filters that need no memory estimate.
    pub fn keep_key(
        &self,
        db: u64,
        key: &[u8],
        ty: DataType,
        expire_ms: Option<i64>,
        expired: bool,
    ) -> bool {
        (self.dbs.is_empty() || self.dbs.contains(&db))
            && (self.types.is_empty() || self.types.contains(&ty))
            && self.glob.as_deref().is_none_or(|g| glob_match(g, key))
            && self.regex.as_ref().is_none_or(|r| r.is_match(key))
            && (!self.no_expiry || expire_ms.is_none())
            && (!self.expired || expired)
    }

    /// Whether the key passes the memory threshold.
    pub fn keep_estimate(&self, memory: Option<u64>, elements: Option<u64>) -> bool {
        let at_least =
            |min: Option<u64>, v: Option<u64>| min.is_none_or(|m| v.is_some_and(|x| x >= m));
        at_least(self.min_memory, memory) && at_least(self.min_elements, elements)
    }
}

/// Redis `stringmatchlen` semantics: `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
pub fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star_p, mut star_i) = (usize::MAX, 0usize);
    while i < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star_p = p;
                    star_i = i;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class_match(pat, p, s[i]) {
                        if matched {
                            p = next;
                            i += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[i] {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        if star_p != usize::MAX {
            p = star_p + 1;
            star_i += 1;
            i = star_i;
            continue;
        }
        return false;
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches one byte against the class starting at `pat[p] == b'['`; returns whether it
/// matched and where the pattern continues.
fn class_match(pat: &[u8], p: usize, c: u8) -> Option<(bool, usize)> {
    let mut j = p + 1;
    let negate = pat.get(j) == Some(&b'^');
    if negate {
        j += 1;
    }
    let mut matched = false;
    while j < pat.len() && pat[j] != b']' {
        if pat[j] == b'\\' && j + 1 < pat.len() {
            matched |= pat[j + 1] == c;
            j += 2;
        } else if j + 2 < pat.len() && pat[j + 1] == b'-' && pat[j + 2] != b']' {
            let (lo, hi) = if pat[j] <= pat[j + 2] {
                (pat[j], pat[j + 2])
            } else {
                (pat[j + 2], pat[j])
            };
            matched |= (lo..=hi).contains(&c);
            j += 3;
        } else {
            matched |= pat[j] == c;
            j += 1;
        }
    }
    if j >= pat.len() {
        return None;
    }
    Some((matched != negate, j + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_like_redis() {
        assert!(glob_match(b"user:*", b"user:1:profile"));
        assert!(glob_match(b"user:?:profile", b"user:1:profile"));
        assert!(!glob_match(b"user:?:profile", b"user:12:profile"));
        assert!(glob_match(b"h[ae]llo", b"hello"));
        assert!(!glob_match(b"h[^e]llo", b"hello"));
        assert!(glob_match(b"h[a-b]llo", b"hbllo"));
        assert!(glob_match(b"a\\*b", b"a*b"));
        assert!(!glob_match(b"a\\*b", b"axb"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"*a*b*", b"xxaxxbxx"));
    }
}
