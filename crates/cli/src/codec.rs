//! Compressed inputs, told by their magic bytes and never by the file's name. Each codec is
//! a value that carries its magic, its name and how to open a decoder; `input` reads the
//! table and never asks which codec it has.
//!
//! Why these crates: `flate2` with the `zlib-rs` backend is the maintained Rust gzip reader
//! and zlib-rs decodes as fast as C zlib-ng without a C build; `zstd` binds the reference C
//! library (the pure-Rust `ruzstd` already used for Valkey's blobs decodes about 2-3× slower,
//! and zstd backups are large); `liblzma` is the maintained fork of `xz2`, built from its
//! bundled sources so no system library is needed; `bzip2` 0.6 uses libbz2-rs, a Rust port
//! of libbzip2. Every decoder reads concatenated members/frames/streams (`pigz`, `zstd`
//! skippable frames, `xz` multi-stream, `pbzip2`), as the command-line tools do.

use std::io::{BufReader, Read};

/// A boxed stream of bytes.
pub type Stream = Box<dyn Read + Send>;

/// One compression format.
pub struct Codec {
    /// Its name in messages and in the report (`files[].codec`).
    pub name: &'static str,
    /// The first bytes of a stream in it.
    pub magic: &'static [u8],
    /// Other first bytes it may start with (zstd's skippable frames, 0x184D2A50-5F).
    also: fn(&[u8]) -> bool,
    /// Opens a decoder over the compressed bytes.
    open: fn(Stream) -> std::io::Result<Stream>,
}

impl Codec {
    /// A reader of the decompressed bytes, whose errors name the codec and say that the
    /// offsets reported after them are in the decompressed stream.
    ///
    /// # Errors
    /// The decoder cannot be set up (zstd allocates its context here).
    pub fn decode(&'static self, r: Stream) -> std::io::Result<Stream> {
        let inner = (self.open)(r)?;
        Ok(Box::new(Named {
            codec: self,
            inner,
            failed: None,
        }))
    }
}

/// The codecs rdbscope decompresses, besides Valkey's `VCS` envelope.
pub static CODECS: [Codec; 5] = [
    Codec {
        name: "lz4",
        magic: &[0x04, 0x22, 0x4D, 0x18],
        also: |_| false,
        open: |r| Ok(Box::new(lz4_flex::frame::FrameDecoder::new(r))),
    },
    Codec {
        name: "gzip",
        magic: &[0x1f, 0x8b],
        also: |_| false,
        open: |r| Ok(Box::new(flate2::read::MultiGzDecoder::new(r))),
    },
    Codec {
        name: "zstd",
        magic: &[0x28, 0xb5, 0x2f, 0xfd],
        also: |h| h.len() >= 4 && h[0] & 0xf0 == 0x50 && h[1..4] == [0x2a, 0x4d, 0x18],
        // The decoder's default window limit (2^27, what `zstd --long` writes) bounds its
        // memory: a frame asking for more is refused, not allocated.
        open: |r| Ok(Box::new(zstd::stream::read::Decoder::new(r)?)),
    },
    Codec {
        name: "xz",
        magic: &[0xfd, b'7', b'z', b'X', b'Z', 0],
        also: |_| false,
        open: |r| {
            Ok(Box::new(liblzma::read::XzDecoder::new_multi_decoder(
                BufReader::with_capacity(1 << 16, r),
            )))
        },
    },
    Codec {
        name: "bzip2",
        magic: b"BZh",
        also: |_| false,
        open: |r| Ok(Box::new(bzip2::read::MultiBzDecoder::new(r))),
    },
];

/// The codec whose magic `head` starts with.
pub fn detect(head: &[u8]) -> Option<&'static Codec> {
    CODECS
        .iter()
        .find(|c| head.starts_with(c.magic) || (c.also)(head))
}

/// A decoder whose errors name its codec. The first error is returned again by every later
/// read: a reader that peeks (and drops an error) then reads meets it too.
struct Named {
    codec: &'static Codec,
    inner: Stream,
    failed: Option<(std::io::ErrorKind, String)>,
}

impl Read for Named {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.failed.is_none() {
            match self.inner.read(out) {
                Ok(n) => return Ok(n),
                Err(e) => {
                    let kind = match e.kind() {
                        std::io::ErrorKind::Interrupted => std::io::ErrorKind::Other,
                        k => k,
                    };
                    let msg = format!(
                        "the {} stream is damaged ({e}); offsets are in the decompressed stream",
                        self.codec.name
                    );
                    self.failed = Some((kind, msg));
                }
            }
        }
        let (kind, msg) = self
            .failed
            .clone()
            .unwrap_or((std::io::ErrorKind::Other, String::new()));
        Err(std::io::Error::new(kind, msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_magic_is_told_apart() {
        for c in &CODECS {
            assert_eq!(detect(c.magic).map(|d| d.name), Some(c.name));
            for other in &CODECS {
                if other.name != c.name {
                    assert!(
                        !c.magic.starts_with(other.magic),
                        "{} / {}",
                        c.name,
                        other.name
                    );
                }
            }
        }
        assert!(detect(b"REDIS0011").is_none());
        assert_eq!(
            detect(&[0x5e, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]).map(|c| c.name),
            Some("zstd")
        );
    }

    #[test]
    fn a_damaged_stream_names_its_codec() {
        let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(&[0xff; 64]);
        let mut r = detect(&bytes)
            .unwrap()
            .decode(Box::new(std::io::Cursor::new(bytes)))
            .unwrap();
        let e = r.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(e.contains("gzip stream is damaged"), "{e}");
        assert!(e.contains("decompressed stream"), "{e}");
    }
}
