//! The window of a stream [`drive_reader_windows`](super::drive_reader_windows) frames, and
//! what fills it: any [`Read`], or the chunks of a [`ReadAhead`] taken over whole, so that
//! the framing thread does not copy every byte once more.

use crate::pipeline::ReadAhead;
use std::io::Read;

/// Bytes a window asks for at a time.
pub(super) const CHUNK: usize = 1 << 20;

/// The bytes of a stream held by the driver: `data()` is the part read and not yet
/// consumed. The allocation is kept initialised and reused, so a refill reads straight
/// into it (`read_to_end` zero-fills the spare capacity at every call, which cost a
/// streamed run 2% of its time).
#[derive(Default)]
pub(super) struct Buffer {
    bytes: Vec<u8>,
    /// Where `data()` starts in `bytes`.
    start: usize,
    filled: usize,
    /// A read error that came after some bytes of the same fill: those bytes are framed
    /// first, and the error is returned by the next fill.
    pub(super) failed: Option<std::io::Error>,
}

impl Buffer {
    pub(super) fn data(&self) -> &[u8] {
        self.bytes.get(self.start..self.filled).unwrap_or(&[])
    }

    /// Drops the first `n` bytes of `data()`.
    pub(super) fn consume(&mut self, n: usize) {
        self.start += n.min(self.filled - self.start);
    }

    /// Moves `data()` to the front of the allocation.
    fn compact(&mut self) {
        if self.start > 0 {
            self.bytes.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
    }

    /// Reads from `r` until `data()` holds `want` bytes or the input ends. The allocation
    /// grows with the bytes that actually arrive (at most doubling, or by [`CHUNK`]), never
    /// to `want` at once: `want` can come from a length declared in the file, and a
    /// 100-byte stream declaring a 2^40-byte string must cost about 100 bytes.
    fn fill_from<R: Read>(
        &mut self,
        r: &mut R,
        want: usize,
        exhausted: &mut bool,
    ) -> std::io::Result<()> {
        self.compact();
        let before = self.filled;
        while self.filled < want && !*exhausted {
            if self.filled == self.bytes.len() {
                let grown = self.bytes.len().saturating_mul(2).max(self.filled + CHUNK);
                self.bytes.resize(grown.min(want), 0);
            }
            let end = self.bytes.len().min(want);
            let Some(space) = self.bytes.get_mut(self.filled..end) else {
                break;
            };
            match r.read(space) {
                Ok(0) => *exhausted = true,
                Ok(n) => self.filled += n.min(space.len()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if self.filled > before => {
                    self.failed = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Takes chunks of `ra` until `data()` holds `want` bytes or the input ends. What is
    /// left of the window (a record cut by its end, usually small) is copied into the
    /// headroom in front of the next chunk, which becomes the window: the chunk's bytes
    /// are not copied. A leftover bigger than the headroom (a big record) is joined the
    /// ordinary way.
    fn fill_chunks(
        &mut self,
        ra: &mut ReadAhead,
        want: usize,
        exhausted: &mut bool,
    ) -> std::io::Result<()> {
        let before = self.filled - self.start;
        while self.filled - self.start < want && !*exhausted {
            match ra.take_chunk() {
                Ok(None) => *exhausted = true,
                Ok(Some((mut chunk, at))) => {
                    let have = self.filled - self.start;
                    if have <= at {
                        let to = at - have;
                        if let (Some(dst), Some(src)) = (
                            chunk.get_mut(to..at),
                            self.bytes.get(self.start..self.filled),
                        ) {
                            dst.copy_from_slice(src);
                        }
                        let old = std::mem::replace(&mut self.bytes, chunk);
                        ra.give_back(old);
                        self.start = to;
                        self.filled = self.bytes.len();
                    } else {
                        self.compact();
                        self.bytes.truncate(self.filled);
                        self.bytes
                            .extend_from_slice(chunk.get(at..).unwrap_or_default());
                        self.filled = self.bytes.len();
                        ra.give_back(chunk);
                    }
                }
                Err(e) if self.filled - self.start > before => {
                    self.failed = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// What fills a stream's window.
pub(super) trait Feed {
    /// Fills `buf` until its data holds `want` bytes or the input ends (`exhausted`).
    fn fill(&mut self, buf: &mut Buffer, want: usize, exhausted: &mut bool) -> std::io::Result<()>;

    /// Reads what follows the window (the bytes after the RDB part, counted).
    fn read_rest(&mut self, out: &mut [u8]) -> std::io::Result<usize>;
}

impl<R: Read> Feed for R {
    fn fill(&mut self, buf: &mut Buffer, want: usize, exhausted: &mut bool) -> std::io::Result<()> {
        if let Some(e) = buf.failed.take() {
            return Err(e);
        }
        buf.fill_from(self, want, exhausted)
    }

    fn read_rest(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.read(out)
    }
}

/// A [`ReadAhead`] whose chunks become the driver's windows (see
/// [`drive_reader_windows`](super::drive_reader_windows)).
pub struct Chunked(pub ReadAhead);

impl Feed for Chunked {
    fn fill(&mut self, buf: &mut Buffer, want: usize, exhausted: &mut bool) -> std::io::Result<()> {
        if let Some(e) = buf.failed.take() {
            return Err(e);
        }
        buf.fill_chunks(&mut self.0, want, exhausted)
    }

    fn read_rest(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(out)
    }
}
