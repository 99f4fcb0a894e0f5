//! Intset blobs (§6.3): `encoding u32 LE | length u32 LE | length × intN LE`, sorted ascending
//! (`intset.c`).

/// Encodes a valid intset: values sorted and deduplicated, element width the smallest of 2/4/8
/// bytes that holds every value (`intsetValueEncoding`).
///
/// ```
/// use rdbscope_testwriter::intset::intset;
/// assert_eq!(intset(&[3, 1]), [2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 3, 0]);
/// ```
pub fn intset(values: &[i64]) -> Vec<u8> {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.dedup();
    let width = v.iter().map(|&x| width_for(x)).max().unwrap_or(2);
    intset_raw(width, v.len() as u32, &v)
}

/// The intset element width (2, 4 or 8) needed for `v`.
pub fn width_for(v: i64) -> u32 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// Encodes an intset verbatim: the given `encoding` and `length` header, then each value
/// truncated to `min(encoding, 8)` little-endian bytes in the given order (so unsorted sets,
/// duplicates, bad encodings and lying lengths can all be written).
pub fn intset_raw(encoding: u32, length: u32, values: &[i64]) -> Vec<u8> {
    let w = (encoding as usize).min(8);
    let mut out = Vec::with_capacity(8 + values.len() * w);
    out.extend_from_slice(&encoding.to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    for v in values {
        out.extend_from_slice(&v.to_le_bytes()[..w]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_widens_to_largest_value() {
        assert_eq!(intset(&[]), [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            intset(&[70_000, -1, -1]),
            [4, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x70, 0x11, 0x01, 0x00]
        );
        let big = intset(&[1 << 40]);
        assert_eq!(&big[..8], [8, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(big.len(), 16);
    }
}
