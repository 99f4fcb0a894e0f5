//! LZF decompression (the liblzf format Redis uses for strings), bounded by the declared
//! output length: a stream that would write past it, or falls short of it, is an error.

/// Decompresses `input` into `out` (cleared first), which must end up exactly `ulen` bytes.
///
/// `ulen` is the length the file declares; one beyond what the input could expand to is
/// refused before anything is allocated. `out` holds exactly `ulen` bytes on success and
/// nothing on error.
///
/// # Errors
/// A static description of the corruption.
pub fn decompress_into(input: &[u8], ulen: usize, out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.clear();
    // A 3-byte back reference yields at most 264 bytes: no stream expands more than 88
    // times, so a larger declared length cannot be reached (and is never allocated).
    if ulen > input.len().saturating_mul(88) {
        return Err("output shorter than the declared length");
    }
    // Decoded into a buffer sized up front, with slack for fixed-size copies of short runs
    // (a call to memmove per run was the cost of decompression); cut to `ulen` at the end.
    out.resize(ulen + SLACK, 0);
    match decode(input, ulen, out.as_mut_slice(), usize::MAX) {
        Ok(o) if o == ulen => {
            out.truncate(o);
            Ok(())
        }
        Ok(_) => {
            out.clear();
            Err("output shorter than the declared length")
        }
        Err(e) => {
            out.clear();
            Err(e)
        }
    }
}

/// The decoding loop of [`decompress_into`] and [`decompress_prefix`]: returns the output
/// length. Stops at the end of the input, or once `stop` bytes are out. `buf` holds
/// [`SLACK`] bytes more than the most the loop can write: `ulen`, or `stop` plus one
/// back reference (264 bytes) when that is less.
fn decode(input: &[u8], ulen: usize, buf: &mut [u8], stop: usize) -> Result<usize, &'static str> {
    let (mut i, mut o) = (0usize, 0usize);
    while i < input.len() && o < stop {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input
                .get(i..i + run)
                .ok_or("literal run past the end of the input")?;
            if o + run > ulen {
                return Err("output exceeds the declared length");
            }
            match input.get(i..i + SLACK) {
                // At most 32 bytes: one fixed-size copy, the excess overwritten later.
                Some(wide) => buf[o..o + SLACK].copy_from_slice(wide),
                None => buf[o..o + run].copy_from_slice(lit),
            }
            o += run;
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(i).ok_or("truncated back reference")?);
                i += 1;
            }
            len += 2;
            let lo = usize::from(*input.get(i).ok_or("truncated back reference")?);
            i += 1;
            let dist = ((ctrl & 0x1f) << 8) + lo + 1;
            if dist > o {
                return Err("back reference before the start of the output");
            }
            if o + len > ulen {
                return Err("output exceeds the declared length");
            }
            let start = o - dist;
            if dist >= 16 && len <= 16 {
                // The 16 source bytes end at or before `o`: all written already.
                let mut tmp = [0u8; 16];
                tmp.copy_from_slice(&buf[start..start + 16]);
                buf[o..o + 16].copy_from_slice(&tmp);
            } else if dist >= len {
                buf.copy_within(start..start + len, o);
            } else {
                // Overlapping: the run repeats the last `dist` bytes.
                for k in 0..len {
                    buf[o + k] = buf[start + k];
                }
            }
            o += len;
        }
    }
    Ok(o)
}

/// Bytes of slack past the declared length for fixed-size copies.
const SLACK: usize = 32;

/// Decompresses until at least `want` bytes (or the whole stream) are out, never writing
/// more than `ulen` bytes, and returns the decoded prefix: the first `min(want, decoded)`
/// bytes of `buf`. Used to read blob headers without decompressing blobs.
///
/// `buf` is scratch space: it only grows, and what lies past the returned prefix is
/// unspecified. It is not cleared first, because zeroing a few hundred bytes per blob
/// header cost more than decoding the header.
pub(crate) fn decompress_prefix<'b>(
    input: &[u8],
    ulen: usize,
    want: usize,
    buf: &'b mut Vec<u8>,
) -> Result<&'b [u8], &'static str> {
    // Before stopping, the loop writes at most one token past `want`: 264 bytes.
    let room = ulen.min(want.saturating_add(264)) + SLACK;
    if buf.len() < room {
        buf.resize(room, 0);
    }
    let o = decode(input, ulen, buf.as_mut_slice(), want)?;
    Ok(buf.get(..o.min(want)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lzf_literal_and_backref_roundtrip() {
        // "abcabcabc": literal "abc", then back reference len 6 dist 3.
        let input = [2u8, b'a', b'b', b'c', (4 << 5), 2];
        let mut out = Vec::new();
        decompress_into(&input, 9, &mut out).unwrap();
        assert_eq!(out, b"abcabcabc");
    }

    #[test]
    fn lzf_overlong_output_is_error() {
        let input = [2u8, b'a', b'b', b'c', (4 << 5), 2];
        let mut out = Vec::new();
        assert!(decompress_into(&input, 8, &mut out).is_err());
        assert!(out.len() <= 8);
    }

    #[test]
    fn lzf_short_output_is_error() {
        let mut out = Vec::new();
        assert!(decompress_into(&[0u8, b'x'], 2, &mut out).is_err());
    }

    #[test]
    fn lzf_prefix_ignores_what_the_buffer_held() {
        // "abcabcabc" again, decoded as a 4-byte prefix into buffers left dirty by earlier
        // calls: longer, shorter, and full of another stream's bytes.
        let input = [2u8, b'a', b'b', b'c', (4 << 5), 2];
        for mut buf in [vec![0xAAu8; 1000], vec![0x55u8; 3], Vec::new()] {
            assert_eq!(decompress_prefix(&input, 9, 4, &mut buf).unwrap(), b"abca");
            assert_eq!(
                decompress_prefix(&input, 9, 100, &mut buf).unwrap(),
                b"abcabcabc"
            );
            assert_eq!(decompress_prefix(&input, 9, 0, &mut buf).unwrap(), b"");
        }
        let mut buf = vec![0xAAu8; 64];
        assert!(decompress_prefix(&[(1 << 5), 5], 3, 2, &mut buf).is_err());
    }

    #[test]
    fn lzf_backref_before_start_is_error() {
        let mut out = Vec::new();
        assert!(decompress_into(&[(1 << 5), 5], 3, &mut out).is_err());
    }
}
