//! LZF decompression (the liblzf format Redis uses for strings), bounded by the declared
//! output length: a stream that would write past it, or falls short of it, is an error.

/// Decompresses `input` into `out` (cleared first), which must end up exactly `ulen` bytes.
///
/// `ulen` is the length the file declares; the caller has already checked it against the
/// input size limits, and `out` never grows beyond it.
///
/// # Errors
/// A static description of the corruption.
pub fn decompress_into(input: &[u8], ulen: usize, out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.clear();
    // Reserve no more than the input could plausibly expand to; the output still never
    // grows past `ulen`.
    out.reserve(ulen.min(input.len().saturating_mul(4).saturating_add(64)));
    decompress_prefix(input, ulen, usize::MAX, out)?;
    if out.len() != ulen {
        return Err("output shorter than the declared length");
    }
    Ok(())
}

/// Decompresses until at least `want` bytes (or the whole stream) are in `out`, never
/// writing more than `ulen` bytes. Used to read blob headers without decompressing blobs.
pub(crate) fn decompress_prefix(
    input: &[u8],
    ulen: usize,
    want: usize,
    out: &mut Vec<u8>,
) -> Result<(), &'static str> {
    let mut i = 0usize;
    while i < input.len() && out.len() < want {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input
                .get(i..i + run)
                .ok_or("literal run past the end of the input")?;
            if out.len() + run > ulen {
                return Err("output exceeds the declared length");
            }
            out.extend_from_slice(lit);
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
            if dist > out.len() {
                return Err("back reference before the start of the output");
            }
            if out.len() + len > ulen {
                return Err("output exceeds the declared length");
            }
            let start = out.len() - dist;
            // Overlapping copies are legal (run-length style), so copy byte by byte when needed.
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                for k in 0..len {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
    }
    Ok(())
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
    fn lzf_backref_before_start_is_error() {
        let mut out = Vec::new();
        assert!(decompress_into(&[(1 << 5), 5], 3, &mut out).is_err());
    }
}
