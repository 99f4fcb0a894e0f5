//! The CRC-64 trailer (`crc64.c`: CRC-64/Jones, reflected, as the `crc` crate's `CRC_64_REDIS`).

use crc::{Crc, Digest, Table, CRC_64_REDIS};

static CRC: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// CRC-64 of `data`, as Redis computes the trailer over magic..EOF opcode.
pub fn crc64(data: &[u8]) -> u64 {
    CRC.checksum(data)
}

/// An incremental CRC-64 for streamed input.
pub struct Crc64(Digest<'static, u64, Table<16>>);

impl Crc64 {
    /// A new digest.
    pub fn new() -> Self {
        Crc64(CRC.digest())
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
    #[test]
    fn crc64_check_value() {
        assert_eq!(super::crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        let mut d = super::Crc64::new();
        d.update(b"1234");
        d.update(b"56789");
        assert_eq!(d.finish(), 0xe9c6d914c4b8d9ca);
    }
}
