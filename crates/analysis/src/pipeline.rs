//! The `analyze` pipeline over one file: a sequential framing pass that reads record
//! headers and skips payloads by length, batches of borrowed key records handed to rayon
//! workers that estimate and aggregate into per-worker [`Aggregate`]s, merged at the end.
//!
//! Runs inside the caller's rayon pool (`ThreadPool::install`): one thread or many give the
//! same aggregate, because every merge is exact and order-free. Inputs that are not a
//! borrowable slice (standard input, decompressed streams) and Dragonfly files (whose
//! compressed blobs expand into owned buffers) take the sequential path with the same
//! per-key code.

use crate::aggregate::{Aggregate, AggregateConfig, FileScope, Work};
use crate::context::{FileContext, ModelChoice};
use crate::filter::KeyFilter;
use crate::inventory::Inventory;
use crate::source::{drive_reader, drive_slice, DriveError, DriveOptions, InputSummary};
use crate::used_memory::UsedMemory;
use rayon::iter::{ParallelBridge, ParallelIterator};
use rdbscope_parser::{Error, Header, KeyRecord, Record, Records};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

/// Receives progress: bytes of the input read so far (monotonic per file).
pub trait Progress: Sync {
    /// `bytes` more bytes of the input have been framed.
    fn advance(&self, bytes: u64);
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn advance(&self, _bytes: u64) {}
}

/// Told which ranges of a mapped input are not needed for now, so their pages can leave
/// the process's resident set (`MADV_DONTNEED` on a read-only mapping: a later access
/// reads the page again from the file). Keeps resident memory bounded on big dumps.
pub trait Release: Sync {
    /// Bytes `from..to` of the input will probably not be read soon.
    fn release(&self, from: u64, to: u64);
}

/// Releases nothing (inputs held in ordinary memory).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRelease;

impl Release for NoRelease {
    fn release(&self, _from: u64, _to: u64) {}
}

/// Bytes kept behind the parse before they are released (workers may still be reading
/// batches framed that far back).
const RELEASE_LAG: u64 = 64 << 20;

/// Bytes the checksum reads at a time.
const CRC_CHUNK: usize = 16 << 20;

/// Where the parse has got to and what it has released.
struct Released<'r> {
    release: &'r dyn Release,
    parse: AtomicU64,
    done: AtomicU64,
}

impl Released<'_> {
    /// The parse reached `pos`: release what lies far enough behind it.
    fn parse_at(&self, pos: u64) {
        self.parse.store(pos, AtomicOrdering::Relaxed);
        let upto = pos.saturating_sub(RELEASE_LAG);
        let done = self.done.load(AtomicOrdering::Relaxed);
        if upto >= done + RELEASE_LAG / 4 {
            self.done.store(upto, AtomicOrdering::Relaxed);
            self.release.release(done, upto);
        }
    }

    /// The checksum read `from..to`: release it unless the parse is reading there (pages
    /// ahead of the parse are faulted in again when it gets there; those behind it are the
    /// parse's to release).
    fn crc_read(&self, from: u64, to: u64) {
        let parse = self.parse.load(AtomicOrdering::Relaxed);
        if parse < from || parse > to.saturating_add(RELEASE_LAG) {
            self.release.release(from, to);
        }
    }
}

/// Everything a file is analysed with.
pub struct Job<'a> {
    /// Shape of the aggregate.
    pub config: AggregateConfig,
    /// How the model is picked.
    pub choice: ModelChoice,
    /// Which keys count.
    pub filter: &'a KeyFilter,
    /// Verify the CRC-64 trailer.
    pub checksum: bool,
    /// Progress sink.
    pub progress: &'a dyn Progress,
}

/// Where reading a file stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the damage.
    pub offset: u64,
    /// What was expected there (the parser's message, offset included).
    pub message: String,
    /// Bytes of the input after the offset that were not read.
    pub unread: Option<u64>,
}

/// The result of one file.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// Its keys.
    pub aggregate: Aggregate,
    /// Header, AUX fields, functions, modules.
    pub inventory: Inventory,
    /// What the driver learned (checksum, trailing bytes).
    pub summary: InputSummary,
    /// Versions and snapshot time.
    pub context: FileContext,
    /// The model the keys were sized with.
    pub model: Option<crate::model::Model>,
    /// Damage that stopped reading, if any.
    pub damage: Option<Damage>,
}

const BATCH: usize = 2048;

/// The EOF record: its offset, the stored checksum, and the end of the RDB part.
type EofInfo = (u64, Option<u64>, u64);

/// Frames records in order; non-key records are handled here (they are few and their
/// order matters), key records are batched for the workers.
struct Framer<'a, 'j> {
    recs: Records<'a>,
    job: &'j Job<'j>,
    file: u32,
    ctx: FileContext,
    inventory: Inventory,
    used: UsedMemory,
    scope: Option<FileScope>,
    error: Option<Error>,
    eof: Option<EofInfo>,
    sequential: bool,
    reported: u64,
    released: &'j Released<'j>,
}

impl<'a> Iterator for Framer<'a, '_> {
    type Item = (FileScope, Vec<KeyRecord<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.error.is_some() || self.sequential || self.eof.is_some() {
            return None;
        }
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            match self.recs.next() {
                None => break,
                Some(Err(e)) => {
                    self.error = Some(e);
                    break;
                }
                Some(Ok(Record::Key(k))) => {
                    if self.scope.is_none() {
                        self.scope = Some(scope_for(&mut self.ctx, self.job, self.file));
                    }
                    batch.push(k);
                    if batch.len() == BATCH {
                        break;
                    }
                }
                Some(Ok(rec)) => match rec {
                    Record::CompressedBlob { .. } | Record::TaggedChunk { .. } => {
                        self.sequential = true;
                        return None;
                    }
                    Record::Eof {
                        offset,
                        stored_checksum,
                        end,
                    } => {
                        self.eof = Some((offset, stored_checksum, end));
                        break;
                    }
                    other => {
                        self.ctx.observe(&other);
                        self.inventory.observe(&other);
                        self.used.observe(&other);
                    }
                },
            }
        }
        let pos = self.recs.offset();
        self.job.progress.advance(pos.saturating_sub(self.reported));
        self.reported = pos;
        self.released.parse_at(pos);
        let scope = self.scope?;
        (!batch.is_empty()).then_some((scope, batch))
    }
}

fn scope_for(ctx: &mut FileContext, job: &Job<'_>, file: u32) -> FileScope {
    FileScope::new(
        file,
        ctx.model(&job.choice),
        ctx.ctime_s().map(|s| s.saturating_mul(1000)),
        ctx.expired_cutoff_ms(),
    )
}

/// Adds a key if it passes the filter.
fn add(
    agg: &mut Aggregate,
    scope: &FileScope,
    filter: &KeyFilter,
    k: &KeyRecord<'_>,
    w: &mut Work,
) {
    agg.add_key_filtered(scope, k, filter, w);
}

/// Analyses an in-memory (mapped) file with the current rayon pool; `release` hears which
/// prefix of `data` is done with.
pub fn analyze_slice(data: &[u8], file: u32, job: &Job<'_>, release: &dyn Release) -> FileResult {
    let recs = match Records::new(data) {
        Ok(r) => r,
        Err(e) => return failed(file, job, e, data.len() as u64),
    };
    let header = recs.header();
    let released = Released {
        release,
        parse: AtomicU64::new(0),
        done: AtomicU64::new(0),
    };
    // The CRC runs beside the parse over the bytes a well-formed file checksums (all but
    // the 8-byte trailer); re-done below if the EOF opcode turns out elsewhere.
    let crc_len = data.len().saturating_sub(8);
    let (crc, framed) = rayon::join(
        || {
            job.checksum.then(|| {
                let mut c = rdbscope_parser::checksum::Crc64::new();
                let body = data.get(..crc_len).unwrap_or(&[]);
                let mut done = 0u64;
                for chunk in body.chunks(CRC_CHUNK) {
                    c.update(chunk);
                    let end = done + chunk.len() as u64;
                    released.crc_read(done, end);
                    done = end;
                }
                c.finish()
            })
        },
        || parallel_pass(recs, header, file, job, &released),
    );
    let Some(mut fr) = framed else {
        // Dragonfly containers: the sequential driver expands them.
        return sequential_slice(data, file, job);
    };
    if let Some((offset, stored, end)) = fr.1 {
        fr.0.summary.set_end(data, end);
        match stored {
            Some(0) => fr.0.summary.checksum_disabled = true,
            Some(s) if job.checksum => {
                let c = if offset as usize + 1 == crc_len {
                    crc.unwrap_or(0)
                } else {
                    rdbscope_parser::checksum::crc64(data.get(..=offset as usize).unwrap_or(data))
                };
                fr.0.summary.checksum = Some((s, c));
            }
            _ => {}
        }
    }
    if let Some(d) = &mut fr.0.damage {
        d.unread = Some((data.len() as u64).saturating_sub(d.offset));
    }
    fr.0
}

/// The framed, parallel part: `None` when the file needs the sequential driver.
fn parallel_pass<'a>(
    recs: Records<'a>,
    header: Header,
    file: u32,
    job: &Job<'_>,
    released: &Released<'_>,
) -> Option<(FileResult, Option<EofInfo>)> {
    let mut framer = Framer {
        recs,
        job,
        file,
        ctx: FileContext::new(Some(&header)),
        inventory: Inventory::default(),
        used: UsedMemory::for_file(file),
        scope: None,
        error: None,
        eof: None,
        sequential: false,
        reported: 0,
        released,
    };
    let config = job.config;
    let filter = job.filter;
    let agg = framer
        .by_ref()
        .par_bridge()
        .fold(
            || (Aggregate::new(config, file), Work::default()),
            |(mut agg, mut w), (scope, batch)| {
                for k in &batch {
                    add(&mut agg, &scope, filter, k, &mut w);
                }
                (agg, w)
            },
        )
        .map(|(mut a, _)| {
            a.flush();
            a
        })
        .reduce(
            || Aggregate::new(config, file),
            |mut a, b| {
                a.merge(b);
                a
            },
        );
    if framer.sequential {
        return None;
    }
    let inventory = framer.inventory;
    let mut aggregate = agg;
    aggregate.used.merge(&framer.used);
    let model = framer
        .scope
        .and_then(|s| s.model)
        .or_else(|| framer.ctx.model(&job.choice));
    let damage = framer.error.map(|e| Damage {
        offset: e.offset,
        message: e.to_string(),
        unread: None,
    });
    let summary = InputSummary {
        header: Some(header),
        ..InputSummary::default()
    };
    Some((
        FileResult {
            aggregate,
            inventory,
            summary,
            context: framer.ctx,
            model,
            damage,
        },
        framer.eof,
    ))
}

fn failed(file: u32, job: &Job<'_>, e: Error, len: u64) -> FileResult {
    FileResult {
        aggregate: Aggregate::new(job.config, file),
        inventory: Inventory::default(),
        summary: InputSummary::default(),
        context: FileContext::default(),
        model: None,
        damage: Some(Damage {
            offset: e.offset,
            message: e.to_string(),
            unread: Some(len.saturating_sub(e.offset)),
        }),
    }
}

/// One sequential pass with the same per-key code.
struct Sequential<'j> {
    job: &'j Job<'j>,
    file: u32,
    ctx: Option<FileContext>,
    scope: Option<FileScope>,
    inventory: Inventory,
    agg: Aggregate,
    work: Work,
    last: u64,
}

impl<'j> Sequential<'j> {
    fn new(job: &'j Job<'j>, file: u32) -> Self {
        Sequential {
            job,
            file,
            ctx: None,
            scope: None,
            inventory: Inventory::default(),
            agg: Aggregate::new(job.config, file),
            work: Work::default(),
            last: 0,
        }
    }

    fn record(&mut self, header: Option<&Header>, rec: &Record<'_>) {
        let ctx = self.ctx.get_or_insert_with(|| FileContext::new(header));
        match rec {
            Record::Key(k) => {
                let scope = *self
                    .scope
                    .get_or_insert_with(|| scope_for(ctx, self.job, self.file));
                add(&mut self.agg, &scope, self.job.filter, k, &mut self.work);
                let pos = k.offset + k.size;
                if pos > self.last + (1 << 20) {
                    self.job.progress.advance(pos - self.last);
                    self.last = pos;
                }
            }
            other => {
                ctx.observe(other);
                self.inventory.observe(other);
                self.agg.used.observe(other);
            }
        }
    }

    fn finish(mut self, summary: InputSummary, err: Option<DriveError<()>>) -> FileResult {
        self.agg.flush();
        let mut ctx = self
            .ctx
            .unwrap_or_else(|| FileContext::new(summary.header.as_ref()));
        let model = self
            .scope
            .and_then(|s| s.model)
            .or_else(|| ctx.model(&self.job.choice));
        let damage = err.map(|e| match e {
            DriveError::Parse(e) => Damage {
                offset: e.offset,
                message: e.to_string(),
                unread: None,
            },
            DriveError::Io(e) => Damage {
                offset: summary.rdb_bytes,
                message: format!("read error: {e}"),
                unread: None,
            },
            DriveError::Callback(()) => Damage {
                offset: 0,
                message: String::from("stopped"),
                unread: None,
            },
        });
        FileResult {
            aggregate: self.agg,
            inventory: self.inventory,
            summary,
            context: ctx,
            model,
            damage,
        }
    }
}

/// Analyses an in-memory file on the calling thread.
pub fn sequential_slice(data: &[u8], file: u32, job: &Job<'_>) -> FileResult {
    let mut s = Sequential::new(job, file);
    let mut summary = InputSummary::default();
    let header = Records::new(data).ok().map(|r| r.header());
    let r = drive_slice(
        data,
        DriveOptions {
            checksum: job.checksum,
        },
        &mut summary,
        |rec| {
            s.record(header.as_ref(), rec);
            Ok::<(), ()>(())
        },
    );
    let mut out = s.finish(summary, r.err());
    if let Some(d) = &mut out.damage {
        d.unread = Some((data.len() as u64).saturating_sub(d.offset));
    }
    out
}

/// Analyses a stream (standard input, a decompressor) on the calling thread, holding one
/// bounded window of it.
pub fn analyze_reader<R: Read>(reader: R, file: u32, job: &Job<'_>) -> FileResult {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
    let header = std::io::BufRead::fill_buf(&mut reader)
        .ok()
        .and_then(|b| Records::new(b).ok())
        .map(|r| r.header());
    let mut s = Sequential::new(job, file);
    let mut summary = InputSummary::default();
    let r = drive_reader(
        reader,
        DriveOptions {
            checksum: job.checksum,
        },
        &mut summary,
        |rec| {
            s.record(header.as_ref(), rec);
            Ok::<(), ()>(())
        },
    );
    s.finish(summary, r.err())
}
