//! Drives the parser over an input: a slice held in memory (a mapped or read file), or any
//! `Read` (standard input, decompressors) through a bounded window that grows only to the
//! size of the largest record actually present.

use rdbscope_parser::checksum::Crc64;
use rdbscope_parser::{BlobCodec, Error, ErrorKind, Header, ParserState, Record, Records};
use std::io::Read;

/// What the driver learned about the input besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputSummary {
    /// The file header, once read.
    pub header: Option<Header>,
    /// Bytes of the input consumed by the RDB part (through the checksum trailer); after a
    /// read error, the bytes received before it.
    pub rdb_bytes: u64,
    /// Bytes after the RDB part (an AOF tail in a file with an RDB preamble).
    pub trailing_bytes: u64,
    /// The first bytes after the RDB part (to tell a RESP AOF tail from garbage).
    pub trailing_head: Vec<u8>,
    /// Stored and computed CRC-64 when the file carries a non-zero trailer.
    pub checksum: Option<(u64, u64)>,
    /// True when the file's trailer is zero (saved with `rdbchecksum no`).
    pub checksum_disabled: bool,
}

impl InputSummary {
    /// Records where the RDB part of `data` ends (after the checksum trailer) and what
    /// follows it.
    pub fn set_end(&mut self, data: &[u8], end: u64) {
        self.rdb_bytes = end;
        self.trailing_bytes = (data.len() as u64).saturating_sub(end);
        self.trailing_head = data
            .get(end as usize..)
            .unwrap_or(&[])
            .iter()
            .take(16)
            .copied()
            .collect();
    }

    /// Records the EOF record of a file held in memory: where the RDB part ends, and the
    /// stored checksum against `crc`, the checksum read along the parse (absent when
    /// checking was not asked for).
    pub(crate) fn set_eof(
        &mut self,
        data: &[u8],
        offset: u64,
        end: u64,
        stored: Option<u64>,
        crc: Option<crate::pipeline::CrcAhead<'_>>,
    ) {
        self.set_eof_with(
            data,
            offset,
            end,
            stored,
            crc.map(|c| |e| c.finish(data, e)),
        );
    }

    /// [`set_eof`](Self::set_eof) with the checksum computed by `crc` from the end of the
    /// checksummed bytes (the byte after the EOF opcode), only if the file stores one.
    pub(crate) fn set_eof_with(
        &mut self,
        data: &[u8],
        offset: u64,
        end: u64,
        stored: Option<u64>,
        crc: Option<impl FnOnce(usize) -> u64>,
    ) {
        self.set_end(data, end);
        match (stored, crc) {
            (Some(0), _) => self.checksum_disabled = true,
            (Some(s), Some(crc)) => {
                let c = crc((offset as usize).saturating_add(1));
                self.checksum = Some((s, c));
            }
            _ => {}
        }
    }

    /// The checksum mismatch, if any: (stored, computed).
    pub fn checksum_mismatch(&self) -> Option<(u64, u64)> {
        self.checksum.filter(|(s, c)| s != c)
    }
}

/// An error from reading the input or from the callback.
#[derive(Debug)]
pub enum DriveError<E> {
    /// The format is broken at an offset.
    Parse(Error),
    /// Reading the input failed.
    Io(std::io::Error),
    /// The callback asked to stop.
    Callback(E),
}

impl<E: std::fmt::Display> std::fmt::Display for DriveError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriveError::Parse(e) => write!(f, "{e}"),
            DriveError::Io(e) => write!(f, "read error: {e}"),
            DriveError::Callback(e) => write!(f, "{e}"),
        }
    }
}

/// Options for driving the parser.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Verify the CRC-64 trailer.
    pub checksum: bool,
    /// Scan past damage for the next readable record (`--salvage`): damage then comes as
    /// [`Record::Skipped`] records, and only the end of the input ends the drive.
    pub salvage: bool,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            checksum: true,
            salvage: false,
        }
    }
}

/// Feeds every record of an in-memory RDB file to `f`.
///
/// On a parse error, `summary` holds what was learned so far and the error is returned.
///
/// # Errors
/// The first format error, or the callback's error.
pub fn drive_slice<E>(
    data: &[u8],
    opts: DriveOptions,
    summary: &mut InputSummary,
    f: impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    drive_slice_released(data, opts, summary, &crate::pipeline::NoRelease, f)
}

/// [`drive_slice`] over a mapped file, telling `release` which bytes the parse has left
/// [`RELEASE_LAG`](crate::pipeline) behind, so that resident memory stays bounded whatever
/// the file size. The checksum is read just ahead of the parse, not in a second pass.
///
/// # Errors
/// The first format error, or the callback's error.
pub fn drive_slice_released<E>(
    data: &[u8],
    opts: DriveOptions,
    summary: &mut InputSummary,
    release: &dyn crate::pipeline::Release,
    mut f: impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    drive_slice_windows(data, opts, summary, release, |recs| {
        recs.iter().try_for_each(&mut f)
    })
}

/// Records [`drive_slice_windows`] hands over at a time, at most.
const SLICE_WINDOW_RECORDS: usize = 4096;

/// Records of a stream's window [`drive_reader_windows`] hands over at a time, at most: a
/// window of tiny records holds many (a 1 MiB window of 5-byte keys, 200,000).
const STREAM_RUN_RECORDS: usize = 16384;

/// Bytes after which [`drive_slice_windows`] hands its records over (a record may end
/// past them).
const SLICE_WINDOW_BYTES: u64 = 1 << 20;

/// [`drive_slice_released`], handing `f` runs of consecutive records (at most 4096 or
/// about 1 MiB at a time, in order) so that they can be shared out among threads, as
/// [`drive_reader_windows`] does for streams. Records expanded from Dragonfly containers
/// come one at a time. Every record parsed before an error is handed over before the
/// error is returned.
///
/// # Errors
/// The first format error, or the callback's error.
pub fn drive_slice_windows<E>(
    data: &[u8],
    opts: DriveOptions,
    summary: &mut InputSummary,
    release: &dyn crate::pipeline::Release,
    mut f: impl FnMut(&[Record<'_>]) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    let mut recs = Records::new(data)
        .map_err(DriveError::Parse)?
        .salvage(opts.salvage);
    summary.header = Some(recs.header());
    let mut nested = Nested::default();
    let released = crate::pipeline::Released::new(release);
    let mut crc = opts.checksum.then(|| crate::pipeline::CrcAhead::new(data));
    let mut batch: Vec<Record<'_>> = Vec::new();
    // Where the first record of `batch` starts: nothing from there on may be released
    // before `f` has seen it.
    let mut batch_from = recs.offset();
    loop {
        if let Some(c) = &mut crc {
            c.reach(recs.offset());
        }
        if batch.is_empty() {
            batch_from = recs.offset();
        }
        let Some(rec) = recs.next() else { break };
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                f(&batch).map_err(DriveError::Callback)?;
                return Err(DriveError::Parse(e));
            }
        };
        // Not the parse's position: the release must stay behind the first record `f`
        // has not seen yet, even one longer than the lag.
        released.parse_at(batch_from);
        if matches!(
            rec,
            Record::CompressedBlob { .. } | Record::TaggedChunk { .. }
        ) {
            f(&batch).map_err(DriveError::Callback)?;
            batch.clear();
            let mut state = recs.state();
            let mut one = |r: &Record<'_>| f(std::slice::from_ref(r));
            nested.expand(&rec, &mut state, &mut one)?;
            recs.set_state(state);
            continue;
        }
        if let Record::Eof {
            offset,
            stored_checksum,
            end,
        } = rec
        {
            summary.set_eof(data, offset, end, stored_checksum, crc.take());
        }
        batch.push(rec);
        if batch.len() >= SLICE_WINDOW_RECORDS || recs.offset() - batch_from >= SLICE_WINDOW_BYTES {
            f(&batch).map_err(DriveError::Callback)?;
            batch.clear();
        }
    }
    f(&batch).map_err(DriveError::Callback)?;
    nested.finish()
}

/// The most a Dragonfly compressed blob may expand to (Dragonfly writes blobs of at most
/// 1 MiB of records; the cap keeps a forged frame from ballooning).
const MAX_BLOB: u64 = 256 << 20;

/// Dragonfly's containers: compressed blobs hold more records, tagged chunks join into one.
#[derive(Default)]
struct Nested {
    chunks: std::collections::BTreeMap<u32, (u64, Vec<u8>)>,
}

impl Nested {
    /// Handles a container record; returns whether `rec` was one.
    fn expand<E>(
        &mut self,
        rec: &Record<'_>,
        state: &mut ParserState,
        f: &mut impl FnMut(&Record<'_>) -> Result<(), E>,
    ) -> Result<bool, DriveError<E>> {
        match *rec {
            Record::CompressedBlob {
                codec,
                data,
                offset,
            } => {
                let mut out = Vec::new();
                let read = match codec {
                    BlobCodec::Lz4 => lz4_flex::frame::FrameDecoder::new(data)
                        .take(MAX_BLOB + 1)
                        .read_to_end(&mut out),
                    BlobCodec::Zstd => ruzstd::decoding::StreamingDecoder::new(data)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                        .and_then(|d| d.take(MAX_BLOB + 1).read_to_end(&mut out)),
                };
                let bad = |why: &'static str| {
                    DriveError::Parse(Error::new(offset, ErrorKind::Invalid(why)))
                };
                let magic: &[u8] = match codec {
                    BlobCodec::Lz4 => &[0x04, 0x22, 0x4D, 0x18],
                    BlobCodec::Zstd => &[0x28, 0xB5, 0x2F, 0xFD],
                };
                if !data.starts_with(magic) || read.is_err() || out.is_empty() {
                    return Err(bad(
                        "expected a valid, non-empty Dragonfly compressed blob frame",
                    ));
                }
                if out.len() as u64 > MAX_BLOB {
                    return Err(bad("Dragonfly compressed blob expands past 256 MiB"));
                }
                // Offsets inside the blob are positions in its decompressed bytes, counted
                // from the blob's own offset.
                let mut inner = Records::resume(&out, offset, *state);
                while inner.remaining() > 0 {
                    match inner.next() {
                        Some(Ok(r)) => {
                            let mut st = inner.state();
                            if !self.expand(&r, &mut st, f)? {
                                f(&r).map_err(DriveError::Callback)?;
                            }
                            inner.set_state(st);
                        }
                        Some(Err(e)) => return Err(DriveError::Parse(e)),
                        None => break,
                    }
                }
                *state = inner.state();
                Ok(true)
            }
            Record::TaggedChunk {
                stream_id,
                data,
                offset,
            } => {
                let entry = self
                    .chunks
                    .entry(stream_id)
                    .or_insert_with(|| (offset, Vec::new()));
                entry.1.extend_from_slice(data);
                let (first, buf) = (entry.0, &entry.1);
                let mut inner = Records::resume(buf, first, *state);
                match inner.next() {
                    Some(Ok(r)) if inner.remaining() == 0 => {
                        f(&r).map_err(DriveError::Callback)?;
                        self.chunks.remove(&stream_id);
                    }
                    Some(Ok(_)) => {
                        return Err(DriveError::Parse(Error::new(
                            first,
                            ErrorKind::Invalid("expected one record per Dragonfly chunk stream"),
                        )))
                    }
                    Some(Err(e)) if e.is_eof() => {}
                    Some(Err(e)) => return Err(DriveError::Parse(e)),
                    None => {}
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Fails if a chunk stream never completed.
    fn finish<E>(&self) -> Result<(), DriveError<E>> {
        match self.chunks.values().next() {
            Some((offset, _)) => Err(DriveError::Parse(Error::new(
                *offset,
                ErrorKind::Invalid("Dragonfly chunk stream ended before its record was complete"),
            ))),
            None => Ok(()),
        }
    }
}

mod buffer;

pub use buffer::Chunked;
use buffer::{Buffer, Feed, CHUNK};

/// Feeds every record read from `r` to `f`, holding at most one window of the input (at
/// least 1 MiB, or the size of the largest record) in memory.
///
/// # Errors
/// The first format or read error, or the callback's error.
pub fn drive_reader<R: Read, E>(
    r: R,
    opts: DriveOptions,
    summary: &mut InputSummary,
    mut f: impl FnMut(&Record<'_>) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    drive_reader_windows(r, opts, summary, |recs| recs.iter().try_for_each(&mut f))
}

/// [`drive_reader`], handing `f` the records of each window at once, in order (so that
/// they can be shared out among threads while the window is held). Records expanded from
/// Dragonfly containers come one at a time. Every record parsed before an error is handed
/// over before the error is returned.
///
/// # Errors
/// The first format or read error, or the callback's error.
pub fn drive_reader_windows<R: Read, E>(
    r: R,
    opts: DriveOptions,
    summary: &mut InputSummary,
    f: impl FnMut(&[Record<'_>]) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    drive_feed_windows(r, opts, summary, f)
}

/// [`drive_reader_windows`] over the chunks of a [`ReadAhead`](crate::pipeline::ReadAhead),
/// taken over as windows instead of copied through `read`.
///
/// # Errors
/// The first format or read error, or the callback's error.
pub fn drive_chunked_windows<E>(
    r: Chunked,
    opts: DriveOptions,
    summary: &mut InputSummary,
    f: impl FnMut(&[Record<'_>]) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    drive_feed_windows(r, opts, summary, f)
}

fn drive_feed_windows<R: Feed, E>(
    mut r: R,
    opts: DriveOptions,
    summary: &mut InputSummary,
    mut f: impl FnMut(&[Record<'_>]) -> Result<(), E>,
) -> Result<(), DriveError<E>> {
    let mut buf = Buffer::default();
    let mut exhausted = false;
    r.fill(&mut buf, CHUNK, &mut exhausted)
        .map_err(DriveError::Io)?;
    let recs = Records::new(buf.data())
        .map_err(DriveError::Parse)?
        .salvage(opts.salvage);
    let mut state: ParserState = recs.state();
    summary.header = Some(state.header);
    let mut crc = Crc64::new();
    let mut base: u64 = Header::LEN as u64;
    let mut start = Header::LEN; // window start inside buf
    if opts.checksum {
        crc.update(buf.data().get(..start).unwrap_or(&[]));
    }
    let mut want = CHUNK;
    let mut nested = Nested::default();
    loop {
        let window = buf.data().get(start..).unwrap_or(&[]);
        let mut recs = Records::resume(window, base, state);
        recs.set_last_window(exhausted);
        let mut batch: Vec<Record<'_>> = Vec::new();
        let mut consumed = 0usize;
        let mut need_more = false;
        let mut missing = 0u64;
        let mut finished = false;
        // Bytes of the window from here on are not checksummed yet: they are added in one
        // call per window rather than one per record (a call has a fixed cost that small
        // records would pay each time).
        let mut crc_from = 0usize;
        loop {
            match recs.next() {
                None => {
                    finished = true;
                    break;
                }
                Some(Ok(rec)) => {
                    let after = recs.offset();
                    if let Record::Eof {
                        stored_checksum,
                        end,
                        ..
                    } = rec
                    {
                        // The CRC covers everything up to and including the EOF opcode,
                        // not the 8-byte trailer that holds it.
                        let trailer = if stored_checksum.is_some() { 8 } else { 0 };
                        if opts.checksum {
                            let to = ((after - base) as usize).saturating_sub(trailer);
                            crc.update(window.get(crc_from..to).unwrap_or(&[]));
                        }
                        crc_from = (after - base) as usize;
                        summary.rdb_bytes = end;
                        match stored_checksum {
                            Some(0) => summary.checksum_disabled = true,
                            Some(s) if opts.checksum => {
                                summary.checksum = Some((s, std::mem::take(&mut crc).finish()));
                            }
                            _ => {}
                        }
                    }
                    state = recs.state();
                    if matches!(
                        rec,
                        Record::CompressedBlob { .. } | Record::TaggedChunk { .. }
                    ) {
                        f(&batch).map_err(DriveError::Callback)?;
                        batch.clear();
                        let mut one = |r: &Record<'_>| f(std::slice::from_ref(r));
                        nested.expand(&rec, &mut state, &mut one)?;
                        recs.set_state(state);
                    } else {
                        batch.push(rec);
                        if batch.len() >= STREAM_RUN_RECORDS {
                            f(&batch).map_err(DriveError::Callback)?;
                            batch.clear();
                        }
                    }
                    consumed = (after - base) as usize;
                }
                Some(Err(e)) if e.is_eof() && !exhausted => {
                    // Bytes missing past the end of the window, when the parser knows.
                    missing = e.missing();
                    need_more = true;
                    break;
                }
                Some(Err(e)) => {
                    f(&batch).map_err(DriveError::Callback)?;
                    return Err(DriveError::Parse(e));
                }
            }
        }
        if opts.checksum {
            crc.update(window.get(crc_from..consumed).unwrap_or(&[]));
        }
        f(&batch).map_err(DriveError::Callback)?;
        drop(batch);
        base += consumed as u64;
        start += consumed;
        if finished {
            // Count what follows the RDB part without keeping it.
            let rest = buf.data().get(start..).unwrap_or(&[]);
            summary.trailing_head = rest.iter().take(16).copied().collect();
            let mut trailing = rest.len() as u64;
            // A read error after the last record (a compressed stream's own checksum is
            // checked at its end) still makes the input damaged: the bytes may be wrong.
            if let Some(e) = buf.failed.take() {
                summary.rdb_bytes = base + trailing;
                return Err(DriveError::Io(e));
            }
            if !exhausted {
                let mut sink = [0u8; 65536];
                loop {
                    match r.read_rest(&mut sink) {
                        Ok(0) => break,
                        Ok(n) => {
                            if summary.trailing_head.len() < 16 {
                                let k = (16 - summary.trailing_head.len()).min(n);
                                summary
                                    .trailing_head
                                    .extend_from_slice(sink.get(..k).unwrap_or(&[]));
                            }
                            trailing += n as u64
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            summary.rdb_bytes = base + trailing;
                            return Err(DriveError::Io(e));
                        }
                    }
                }
            }
            summary.trailing_bytes = trailing;
            return nested.finish();
        }
        // Drop consumed bytes, then read more. A record larger than the window doubles it
        // (amortised: a big collection is re-framed O(log n) times), or grows it at once
        // to what the parser said is missing (a big string is held once, not twice).
        buf.consume(start);
        start = 0;
        if need_more && consumed == 0 {
            let exact = usize::try_from(missing)
                .unwrap_or(usize::MAX)
                .saturating_add(buf.data().len())
                .saturating_add(CHUNK);
            want = want
                .saturating_mul(2)
                .max(buf.data().len() + CHUNK)
                .max(exact);
        } else {
            // Back to the ordinary window once a big record has been taken: a window holds
            // one `Record` per record in it until it is handed over.
            want = CHUNK;
        }
        let target = want.max(buf.data().len() + 1);
        if let Err(e) = r.fill(&mut buf, target, &mut exhausted) {
            // Where reading stopped: the damage offset of a stream cut short or corrupt.
            summary.rdb_bytes = base + buf.data().len() as u64;
            return Err(DriveError::Io(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes per call, to force window refills mid-record.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn keys_of(data: &[u8], reader: bool) -> (Vec<(u64, Vec<u8>)>, InputSummary) {
        let mut keys = Vec::new();
        let mut s = InputSummary::default();
        let cb = |r: &Record<'_>| -> Result<(), ()> {
            if let Record::Key(k) = r {
                keys.push((k.offset, k.key.to_vec().unwrap()));
            }
            Ok(())
        };
        if reader {
            drive_reader(Trickle(data, 7), DriveOptions::default(), &mut s, cb).unwrap();
        } else {
            drive_slice(data, DriveOptions::default(), &mut s, cb).unwrap();
        }
        (keys, s)
    }

    #[test]
    fn slice_driver_releases_behind_the_parse_and_checksums_ahead_of_it() {
        let data = crate::pipeline::test_util::big_strings_dump();
        let log = crate::pipeline::test_util::ReleaseLog::default();
        let mut s = InputSummary::default();
        let mut keys = 0;
        // While parsing, nothing closer than the lag is released.
        let cb = |r: &Record<'_>| -> Result<(), ()> {
            if let Record::Key(k) = r {
                keys += 1;
                if let Some(&(_, to)) = log.calls().last() {
                    assert!(to + crate::pipeline::RELEASE_LAG <= k.offset);
                }
            }
            Ok(())
        };
        let opts = DriveOptions::default();
        drive_slice_released(&data, opts, &mut s, &log, cb).unwrap();
        assert_eq!(keys, 120);
        // The checksum was read along the parse, not in a second pass over the file.
        assert!(s.checksum.is_some() && s.checksum_mismatch().is_none());
        let calls = log.calls();
        assert!(
            calls.len() >= 2,
            "released in steps while parsing: {calls:?}"
        );
        assert_eq!(calls[0].0, 0, "{calls:?}");
        for w in calls.windows(2) {
            assert_eq!(w[0].1, w[1].0, "releases move forward: {calls:?}");
        }
    }

    /// A dump of one string of `big` bytes, then `small` short string keys.
    fn big_then_small(big: usize, small: u32) -> Vec<u8> {
        let mut data = b"REDIS0011\xfe\x00".to_vec();
        data.extend_from_slice(&[0, 3, b'b', b'i', b'g', 0x80]);
        data.extend_from_slice(&(big as u32).to_be_bytes());
        data.extend(std::iter::repeat_n(b'x', big));
        for i in 0..small {
            let key = format!("k{i}");
            data.extend_from_slice(&[0, key.len() as u8]);
            data.extend_from_slice(key.as_bytes());
            data.extend_from_slice(&[1, b'v']);
        }
        data.push(0xff);
        let crc = rdbscope_parser::checksum::crc64(&data);
        data.extend_from_slice(&crc.to_le_bytes());
        data
    }

    #[test]
    fn stream_windows_hand_over_bounded_runs_after_a_big_record() {
        // After a 3 MiB record the window goes back to 1 MiB, and a window of tiny records
        // is handed over a bounded run at a time, not all at once.
        let data = big_then_small(3 << 20, 100_000);
        for reader in [true, false] {
            let mut s = InputSummary::default();
            let (mut keys, mut longest) = (0usize, 0usize);
            let cb = |recs: &[Record<'_>]| -> Result<(), ()> {
                longest = longest.max(recs.len());
                keys += recs.iter().filter(|r| matches!(r, Record::Key(_))).count();
                Ok(())
            };
            if reader {
                drive_reader_windows(&data[..], DriveOptions::default(), &mut s, cb).unwrap();
            } else {
                let none = crate::pipeline::NoRelease;
                drive_slice_windows(&data, DriveOptions::default(), &mut s, &none, cb).unwrap();
            }
            assert_eq!(keys, 100_001, "reader {reader}");
            let bound = if reader {
                STREAM_RUN_RECORDS
            } else {
                SLICE_WINDOW_RECORDS
            };
            assert!(longest <= bound, "reader {reader}: {longest} at once");
            assert!(s.checksum_mismatch().is_none());
        }
    }

    /// Hands out the first `cut` bytes in one read, then fails.
    struct FailsAfter<'a>(&'a [u8], usize);

    impl Read for FailsAfter<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.1 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            self.1 -= n;
            Ok(n)
        }
    }

    #[test]
    fn records_read_before_a_read_error_are_handed_over() {
        // 200 KiB arrive, then the read fails within the same fill: the keys wholly in
        // those bytes come first, then the error.
        let data = big_then_small(10, 100_000);
        let cut = 200 << 10;
        let mut s = InputSummary::default();
        let mut last_end = 0;
        let cb = |recs: &[Record<'_>]| -> Result<(), ()> {
            for r in recs {
                if let Record::Key(k) = r {
                    last_end = k.offset + k.size;
                }
            }
            Ok(())
        };
        let r = drive_reader_windows(FailsAfter(&data, cut), DriveOptions::default(), &mut s, cb);
        assert!(matches!(r, Err(DriveError::Io(_))), "{r:?}");
        // Every key that ended within the bytes that arrived (the last is at most one
        // small record short of the cut).
        assert!(
            last_end <= cut as u64 && last_end + 16 > cut as u64,
            "last key ends at {last_end}"
        );
    }

    #[test]
    fn reader_and_slice_agree_on_big_file() {
        // REDIS0011, SELECTDB 0, 3000 string keys with values up to 6000 bytes, EOF, CRC.
        let mut data = b"REDIS0011\xfe\x00".to_vec();
        for i in 0..3000u32 {
            let key = format!("key:{i}");
            data.push(0);
            data.push(key.len() as u8);
            data.extend_from_slice(key.as_bytes());
            let n = (i as usize % 7) * 1000;
            data.push(0x80);
            data.extend_from_slice(&(n as u32).to_be_bytes());
            data.extend(std::iter::repeat_n(b'x', n));
        }
        data.push(0xff);
        let crc = rdbscope_parser::checksum::crc64(&data);
        data.extend_from_slice(&crc.to_le_bytes());
        let (a, sa) = keys_of(&data, false);
        let (b, sb) = keys_of(&data, true);
        assert_eq!(a.len(), 3000);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert!(sa.checksum.is_some() && sa.checksum_mismatch().is_none());
        // The reader checksums each window in one piece: a byte changed anywhere (the
        // first window, a later one, a record cut by a window's end) must still show.
        for near in [20, data.len() / 2, (1 << 20) + 3, data.len() - 2000] {
            // A byte of a value ('x'), so that the file still parses.
            let at = (near..data.len()).find(|&i| data[i] == b'x').unwrap();
            let mut bad = data.clone();
            bad[at] ^= 0x20;
            let (_, s) = keys_of(&bad, true);
            assert!(
                s.checksum_mismatch().is_some(),
                "byte {at} changed unnoticed"
            );
        }
    }
}
