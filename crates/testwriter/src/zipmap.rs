//! Zipmap blobs (§6.1, type 9): `zmlen | (len key len free value padding)* | 0xFF` (`zipmap.c`).

/// Zipmap end byte (`ZIPMAP_END`).
pub const END: u8 = 0xFF;
/// Length byte announcing a 4-byte length, and zmlen value meaning "count unknown"
/// (`ZIPMAP_BIGLEN`).
pub const BIGLEN: u8 = 254;

/// Encodes a zipmap length: 1 byte below 254, else `0xFE` + u32 little-endian.
pub fn zipmap_len(n: u32) -> Vec<u8> {
    if n < u32::from(BIGLEN) {
        vec![n as u8]
    } else {
        [&[BIGLEN][..], &n.to_le_bytes()[..]].concat()
    }
}

/// Builds a zipmap.
///
/// ```
/// use rdbscope_testwriter::Zipmap;
/// let zm = Zipmap::new().entry("a", "bc").build();
/// assert_eq!(zm, [1, 1, b'a', 2, 0, b'b', b'c', 0xff]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Zipmap {
    body: Vec<u8>,
    count: usize,
    zmlen_override: Option<u8>,
    no_end: bool,
}

impl Zipmap {
    /// Starts an empty zipmap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a key/value pair with no free space after the value.
    pub fn entry(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.entry_with_free(key, value, 0)
    }

    /// Appends a key/value pair followed by `free` padding bytes (zeros), as left behind by an
    /// in-place update to a shorter value.
    pub fn entry_with_free(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        free: u8,
    ) -> &mut Self {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.body.extend(zipmap_len(key.len() as u32));
        self.body.extend_from_slice(key);
        self.body.extend(zipmap_len(value.len() as u32));
        self.body.push(free);
        self.body.extend_from_slice(value);
        self.body.resize(self.body.len() + usize::from(free), 0);
        self.count += 1;
        self
    }

    /// Appends raw bytes verbatim (not counted).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.body.extend_from_slice(bytes);
        self
    }

    /// Writes `zmlen` instead of the real count (254 = unknown).
    pub fn with_zmlen(&mut self, zmlen: u8) -> &mut Self {
        self.zmlen_override = Some(zmlen);
        self
    }

    /// Omits the `0xFF` end byte.
    pub fn without_end(&mut self) -> &mut Self {
        self.no_end = true;
        self
    }

    /// Returns the complete zipmap; zmlen is the pair count when below 254, else 254.
    pub fn build(&self) -> Vec<u8> {
        let zmlen = self
            .zmlen_override
            .unwrap_or(self.count.min(usize::from(BIGLEN)) as u8);
        let mut out = vec![zmlen];
        out.extend_from_slice(&self.body);
        if !self.no_end {
            out.push(END);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipmap_big_lengths_use_five_bytes() {
        let zm = Zipmap::new().entry([b'k'; 300], "v").build();
        assert_eq!(&zm[..6], [1, 0xFE, 0x2c, 0x01, 0, 0]);
        assert_eq!(&zm[306..], [1, 0, b'v', 0xff]);
    }

    #[test]
    fn zipmap_free_bytes_follow_value() {
        let zm = Zipmap::new().entry_with_free("a", "b", 2).build();
        assert_eq!(zm, [1, 1, b'a', 1, 2, b'b', 0, 0, 0xff]);
    }
}
