//! The `analyze` pipeline over one file: a sequential framing pass that reads record
//! headers and skips payloads by length, batches of borrowed key records handed to rayon
//! workers that estimate and aggregate into per-worker [`Aggregate`]s, merged at the end.
//!
//! A mapped file of [`Job::split_min`] bytes or more is framed from several places at once
//! when the pool has several threads: it is cut into chains, each framed and added by one
//! worker, whose guessed starts are checked exactly afterwards (see `pipeline/split.rs`).
//!
//! Runs inside the caller's rayon pool (`ThreadPool::install`): one thread or many give the
//! same aggregate, because every merge is exact and order-free. Inputs that are not a
//! borrowable slice (standard input, decompressed streams, `--no-mmap`) are read ahead on
//! their own thread in bounded chunks and framed one bounded window at a time; each
//! window's keys are shared out among the same workers ([`analyze_reader`]). Dragonfly
//! files (whose compressed blobs expand into owned buffers) take the sequential path with
//! the same per-key code.

use crate::aggregate::{Aggregate, AggregateConfig, FileScope, Work};
use crate::context::{FileContext, ModelChoice};
use crate::filter::KeyFilter;
use crate::inventory::Inventory;
use crate::salvage::Salvaged;
use crate::source::{
    drive_chunked_windows, drive_reader_windows, drive_slice, Chunked, DriveError, DriveOptions,
    InputSummary,
};
use crate::used_memory::UsedMemory;
use rayon::iter::{ParallelBridge, ParallelIterator};
use rdbscope_parser::{Error, Header, KeyRecord, Record, Records};
use split::MAX_CHAIN_OTHERS;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::Mutex;

mod split;

/// Receives progress: bytes of the input read so far (monotonic per file).
pub trait Progress: Sync {
    /// `bytes` more bytes of the input have been framed.
    fn advance(&self, bytes: u64);
}

/// A progress sink that passes on all but the first `credit` bytes: those a split pass
/// already reported before it was given up and the file read again.
struct Credit<'p> {
    inner: &'p dyn Progress,
    credit: AtomicU64,
}

impl Progress for Credit<'_> {
    fn advance(&self, bytes: u64) {
        let mut taken = 0;
        let _ = self
            .credit
            .fetch_update(AtomicOrdering::Relaxed, AtomicOrdering::Relaxed, |c| {
                taken = c.min(bytes);
                Some(c - taken)
            });
        if bytes > taken {
            self.inner.advance(bytes - taken);
        }
    }
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

    /// Bytes `from..to` of the input will be read soon (a mapped file can map them in one
    /// call rather than a page fault at a time). Does nothing by default.
    fn prefetch(&self, _from: u64, _to: u64) {}
}

/// How far ahead of the parse [`Release::prefetch`] is asked for.
const PREFETCH: u64 = 4 << 20;

/// Releases nothing (inputs held in ordinary memory).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRelease;

impl Release for NoRelease {
    fn release(&self, _from: u64, _to: u64) {}
}

/// Bytes kept behind the parse before they are released (workers may still be reading
/// batches framed that far back).
pub(crate) const RELEASE_LAG: u64 = 64 << 20;

/// How far ahead of the parse the checksum reads (see [`CrcAhead`]).
const CRC_AHEAD: usize = 256 << 10;

/// Where the parse has got to and what it has released.
pub(crate) struct Released<'r> {
    release: &'r dyn Release,
    done: AtomicU64,
    /// Bytes kept behind the parse.
    lag: u64,
    /// Where the prefetched bytes end.
    ahead: AtomicU64,
}

impl<'r> Released<'r> {
    /// Nothing parsed nor released yet.
    pub(crate) fn new(release: &'r dyn Release) -> Self {
        Self::from(release, 0, RELEASE_LAG)
    }

    /// A parse that starts at `start` and keeps `lag` bytes behind it.
    fn from(release: &'r dyn Release, start: u64, lag: u64) -> Self {
        Released {
            release,
            done: AtomicU64::new(start),
            lag,
            ahead: AtomicU64::new(start),
        }
    }

    /// The parse reached `pos`: release what lies far enough behind it, and ask for what
    /// lies ahead.
    pub(crate) fn parse_at(&self, pos: u64) {
        let ahead = self.ahead.load(AtomicOrdering::Relaxed);
        if pos + PREFETCH / 2 > ahead {
            let to = pos + PREFETCH;
            self.release.prefetch(ahead.max(pos), to);
            self.ahead.store(to, AtomicOrdering::Relaxed);
        }
        let upto = pos.saturating_sub(self.lag);
        if upto >= self.done.load(AtomicOrdering::Relaxed) + self.lag / 4 {
            self.release_to(upto);
        }
    }

    /// Nothing before `pos` is needed any more.
    fn release_to(&self, pos: u64) {
        let done = self.done.load(AtomicOrdering::Relaxed);
        if pos > done {
            self.done.store(pos, AtomicOrdering::Relaxed);
            self.release.release(done, pos);
        }
    }
}

/// The CRC-64 of a mapped file, computed by the framing thread a little ahead of the parse.
///
/// Framing is bound by memory latency: each record header is the first touch of its cache
/// line. Checksumming the next [`CRC_AHEAD`] bytes just before framing them streams those
/// lines into the cache at full bandwidth, so the checksum costs little more than the
/// framing's own misses did, and the file is read from memory once instead of twice
/// (B: 0.32 s of framing plus checksum became 0.25 s).
pub(crate) struct CrcAhead<'d> {
    /// The bytes a well-formed file checksums (all but the 8-byte trailer), or the part of
    /// them one chain of a split pass covers.
    body: &'d [u8],
    /// The offset of `body` in the file.
    base: usize,
    digest: rdbscope_parser::checksum::Crc64,
    /// Bytes of `body` checksummed.
    done: usize,
}

impl<'d> CrcAhead<'d> {
    /// A checksum over `data`, which is assumed to end with an 8-byte trailer.
    pub(crate) fn new(data: &'d [u8]) -> Self {
        Self::range(data, 0, data.len().saturating_sub(8))
    }

    /// A checksum over bytes `from..to` of `data`.
    fn range(data: &'d [u8], from: usize, to: usize) -> Self {
        CrcAhead {
            body: data.get(from..to).unwrap_or_default(),
            base: from,
            digest: rdbscope_parser::checksum::Crc64::new(),
            done: 0,
        }
    }

    /// The parse is at file offset `pos`: make sure the checksum has read well beyond it.
    #[inline]
    pub(crate) fn reach(&mut self, pos: u64) {
        let pos = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .saturating_sub(self.base);
        if pos.saturating_add(CRC_AHEAD / 2) > self.done && self.done < self.body.len() {
            self.advance(pos);
        }
    }

    #[inline(never)]
    fn advance(&mut self, pos: usize) {
        let to = pos.saturating_add(CRC_AHEAD).min(self.body.len());
        if let Some(part) = self.body.get(self.done..to) {
            self.digest.update(part);
            self.done = to;
        }
    }

    /// The CRC-64 of bytes `base..end` of the file `data` (the first `end` bytes for a
    /// checksum made with [`new`](Self::new)).
    pub(crate) fn finish(mut self, data: &[u8], end: usize) -> u64 {
        match data.get(self.base + self.done..end) {
            Some(rest) => {
                self.digest.update(rest);
                self.digest.finish()
            }
            // The EOF opcode came before bytes already read (trailing data): start again.
            None => rdbscope_parser::checksum::crc64(data.get(self.base..end).unwrap_or(data)),
        }
    }

    /// The CRC-64 of the whole range.
    fn finish_range(mut self) -> u64 {
        if let Some(rest) = self.body.get(self.done..) {
            self.digest.update(rest);
        }
        self.digest.finish()
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
    /// Mapped inputs of at least this many bytes are framed from several places at once
    /// when there are several threads ([`SPLIT_MIN`] by default; `u64::MAX` never). The
    /// result is the same either way.
    pub split_min: u64,
    /// Scan past damage for the next readable record (`--salvage`); the file is then
    /// framed from one place.
    pub salvage: bool,
}

/// The default [`Job::split_min`]: below this, framing one file from one place keeps up.
pub const SPLIT_MIN: u64 = 64 << 20;

/// Where reading a file stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the damage.
    pub offset: u64,
    /// What was expected there (the parser's message, offset included).
    pub message: String,
    /// Bytes of the input after the offset that were not read (with `--salvage`, the
    /// bytes of the regions skipped).
    pub unread: Option<u64>,
    /// With `--salvage`: the regions skipped (the first began at `offset`).
    pub salvaged: Salvaged,
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
    /// How many places the file was framed from at once: more than 1 after a split pass
    /// (see `pipeline/split.rs`). Not part of the report, which is the same either way.
    pub chains: usize,
}

const BATCH: usize = 2048;

/// A batch of key records as the framer hands it out, with the scope they are judged by.
type Batch<'a> = (FileScope, Vec<KeyRecord<'a>>);

/// Input bytes after which a batch ends even if it holds fewer than [`BATCH`] keys.
const BATCH_BYTES: u64 = 8 << 20;

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
    crc: Option<CrcAhead<'a>>,
    /// Framing stops at the first record that starts at or after this offset (the start of
    /// the next chain of a split pass).
    limit: u64,
    /// Records other than keys, kept in order instead of observed (chains of a split pass
    /// after the first, whose records are observed once they are known to be in step).
    others: Option<Vec<Record<'a>>>,
    /// More such records than a chain keeps.
    overflow: bool,
    /// Keys per batch ([`BATCH`]).
    batch: usize,
    /// The largest database a `SELECTDB` record named.
    top_db: u64,
    /// Regions `--salvage` skipped.
    salvaged: Salvaged,
}

impl<'a, 'j> Framer<'a, 'j> {
    fn new(recs: Records<'a>, job: &'j Job<'j>, file: u32, released: &'j Released<'j>) -> Self {
        let header = recs.header();
        Framer {
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
            crc: None,
            limit: u64::MAX,
            others: None,
            overflow: false,
            batch: BATCH,
            top_db: 0,
            salvaged: Salvaged::default(),
        }
    }
}

impl<'a> Framer<'a, '_> {
    /// Whether framing stopped for good (damage, the end, a Dragonfly blob, too many
    /// records kept aside).
    fn stopped(&self) -> bool {
        self.error.is_some() || self.sequential || self.eof.is_some() || self.overflow
    }

    /// The next key record, the records before it handled in order; `None` once this
    /// framer's part ends (its limit, the end of the file, damage, a Dragonfly blob).
    #[inline]
    fn next_key(&mut self) -> Option<KeyRecord<'a>> {
        self.with_next_key(|k, _| *k)
    }

    /// Applies `f` to the next key record (see [`next_key`](Self::next_key)) where it
    /// lies, without moving the record out first, and to the scope of the file's keys.
    #[inline]
    fn with_next_key<R>(&mut self, f: impl FnOnce(&KeyRecord<'a>, &FileScope) -> R) -> Option<R> {
        loop {
            if self.stopped() || self.recs.offset() >= self.limit {
                return None;
            }
            if let Some(c) = &mut self.crc {
                c.reach(self.recs.offset());
            }
            match self.recs.next() {
                None => return None,
                Some(Err(e)) => {
                    self.error = Some(e);
                    return None;
                }
                Some(Ok(Record::Key(ref k))) => {
                    let scope = *self
                        .scope
                        .get_or_insert_with(|| scope_for(&mut self.ctx, self.job, self.file));
                    return Some(f(k, &scope));
                }
                Some(Ok(rec)) => match rec {
                    Record::CompressedBlob { .. } | Record::TaggedChunk { .. } => {
                        self.sequential = true;
                    }
                    Record::Eof {
                        offset,
                        stored_checksum,
                        end,
                    } => {
                        self.eof = Some((offset, stored_checksum, end));
                    }
                    Record::Skipped { .. } => {
                        self.salvaged.take(&rec);
                    }
                    other => {
                        if let Record::SelectDb { db, .. } = other {
                            self.top_db = self.top_db.max(db);
                        }
                        match &mut self.others {
                            Some(kept) if kept.len() >= MAX_CHAIN_OTHERS => self.overflow = true,
                            Some(kept) => kept.push(other),
                            None => self.observe(&other),
                        }
                    }
                },
            }
        }
    }

    /// Takes a record other than a key into the file's context, inventory and
    /// `used_memory` hints (in file order).
    fn observe(&mut self, rec: &Record<'_>) {
        self.ctx.observe(rec);
        self.inventory.observe(rec);
        self.used.observe(rec);
    }

    /// Reports the parse position to the progress sink and releases the pages behind it.
    fn moved_on(&mut self) {
        let pos = self.recs.offset();
        self.job.progress.advance(pos.saturating_sub(self.reported));
        self.reported = pos;
        self.released.parse_at(pos);
    }
}

impl<'a> Iterator for Framer<'a, '_> {
    type Item = Batch<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped() || self.recs.offset() >= self.limit {
            return None;
        }
        let mut batch = Vec::with_capacity(self.batch);
        let start = self.recs.offset();
        while let Some(k) = self.next_key() {
            batch.push(k);
            // A batch also ends after BATCH_BYTES of input, so that the parse position
            // (and the release of pages behind it) moves on through big values too.
            if batch.len() >= self.batch || self.recs.offset() - start >= BATCH_BYTES {
                break;
            }
        }
        if self.sequential {
            return None;
        }
        self.moved_on();
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
    .sampling_allocators(job.choice.allocator.is_none())
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
        Ok(r) => r.salvage(job.salvage),
        Err(e) => return failed(file, job, e, data.len() as u64),
    };
    let credit;
    let again;
    let split = if job.salvage {
        split::Split::Declined
    } else {
        split::analyze_split(data, recs.clone(), file, job, release)
    };
    let job = match split {
        split::Split::Done(r) => return *r,
        split::Split::Declined => job,
        split::Split::Abandoned { reported } => {
            // Read again in one pass; the progress already reported is not reported twice.
            credit = Credit {
                inner: job.progress,
                credit: AtomicU64::new(reported),
            };
            again = Job {
                progress: &credit,
                split_min: u64::MAX,
                ..*job
            };
            &again
        }
    };
    let header = recs.header();
    let released = Released::new(release);
    let crc = job.checksum.then(|| CrcAhead::new(data));
    let Some(mut fr) = parallel_pass(recs, header, file, job, &released, crc) else {
        // Dragonfly containers: the sequential driver expands them.
        return sequential_slice(data, file, job);
    };
    if let Some((offset, stored, end)) = fr.1 {
        fr.0.summary.set_eof(data, offset, end, stored, fr.2);
    }
    if let Some(d) = &mut fr.0.damage {
        set_unread(d, data.len() as u64);
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
    crc: Option<CrcAhead<'a>>,
) -> Option<(FileResult, Option<EofInfo>, Option<CrcAhead<'a>>)> {
    let mut framer = Framer {
        crc,
        ..Framer::new(recs, job, file, released)
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
        .map(|(a, _)| a)
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
    let damage = damage_of(framer.error, framer.salvaged);
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
            chains: 1,
        },
        framer.eof,
        framer.crc,
    ))
}

/// Locks `m`; a lock poisoned by a panic elsewhere still guards consistent data (the panic
/// itself reaches the caller through `rayon::scope`).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The damage of a file: the error that stopped reading, or the first region `--salvage`
/// skipped, with every region skipped.
fn damage_of(error: Option<Error>, salvaged: Salvaged) -> Option<Damage> {
    let e = error.or(salvaged.first)?;
    Some(Damage {
        offset: e.offset,
        message: e.to_string(),
        unread: None,
        salvaged,
    })
}

/// Bytes not read: after the damage, or, when `--salvage` read on, those skipped.
fn set_unread(d: &mut Damage, len: u64) {
    d.unread = Some(if d.salvaged.is_empty() {
        len.saturating_sub(d.offset)
    } else {
        d.salvaged.bytes
    });
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
            salvaged: Salvaged::default(),
        }),
        chains: 0,
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
    salvaged: Salvaged,
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
            salvaged: Salvaged::default(),
        }
    }

    fn record(&mut self, header: Option<&Header>, rec: &Record<'_>) {
        let ctx = self.ctx.get_or_insert_with(|| FileContext::new(header));
        match rec {
            Record::Key(k) => self.key(header, k),
            skipped @ Record::Skipped { .. } => {
                self.salvaged.take(skipped);
            }
            other => {
                ctx.observe(other);
                self.inventory.observe(other);
                self.agg.used.observe(other);
            }
        }
    }

    /// The scope of this file's keys, fixed by the records before the first key.
    fn scope(&mut self, header: Option<&Header>) -> FileScope {
        let ctx = self.ctx.get_or_insert_with(|| FileContext::new(header));
        *self
            .scope
            .get_or_insert_with(|| scope_for(ctx, self.job, self.file))
    }

    /// Moves the progress report to `pos`, in steps of at least 1 MiB.
    fn progress_to(&mut self, pos: u64) {
        if pos > self.last + (1 << 20) {
            self.job.progress.advance(pos - self.last);
            self.last = pos;
        }
    }

    fn key(&mut self, header: Option<&Header>, k: &KeyRecord<'_>) {
        let scope = self.scope(header);
        add(&mut self.agg, &scope, self.job.filter, k, &mut self.work);
        self.progress_to(k.offset + k.size);
    }

    /// Takes one window of records: the others in order on this thread, the keys shared
    /// out among `workers` (or added here when there are few).
    fn window(&mut self, header: Option<&Header>, recs: &[Record<'_>], workers: &Workers) {
        let mut keys: Vec<&KeyRecord<'_>> = Vec::new();
        let mut end = 0u64;
        for rec in recs {
            match rec {
                Record::Key(k) => {
                    // The scope is fixed at the first key, by the records before it.
                    self.scope(header);
                    keys.push(k);
                    end = k.offset + k.size;
                }
                other => self.record(header, other),
            }
        }
        if keys.len() < PARALLEL_MIN_KEYS || workers.slots.len() < 2 {
            for k in keys {
                self.key(header, k);
            }
            return;
        }
        let scope = self.scope(header);
        workers.add(&scope, self.job.filter, &keys);
        self.progress_to(end);
    }

    fn finish(self, summary: InputSummary, err: Option<DriveError<()>>) -> FileResult {
        let mut ctx = self
            .ctx
            .unwrap_or_else(|| FileContext::new(summary.header.as_ref()));
        let model = self
            .scope
            .and_then(|s| s.model)
            .or_else(|| ctx.model(&self.job.choice));
        let salvaged = self.salvaged;
        let damage = match err {
            Some(DriveError::Parse(e)) => damage_of(Some(e), salvaged),
            Some(DriveError::Io(e)) => Some(Damage {
                offset: summary.rdb_bytes,
                message: format!("offset {}: read error: {e}", summary.rdb_bytes),
                unread: None,
                salvaged,
            }),
            Some(DriveError::Callback(())) => Some(Damage {
                offset: 0,
                message: String::from("stopped"),
                unread: None,
                salvaged,
            }),
            None => damage_of(None, salvaged),
        };
        FileResult {
            aggregate: self.agg,
            inventory: self.inventory,
            summary,
            context: ctx,
            model,
            damage,
            chains: 1,
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
            salvage: job.salvage,
        },
        &mut summary,
        |rec| {
            s.record(header.as_ref(), rec);
            Ok::<(), ()>(())
        },
    );
    let mut out = s.finish(summary, r.err());
    if let Some(d) = &mut out.damage {
        set_unread(d, data.len() as u64);
    }
    out
}

/// Chunks the read-ahead thread reads at a time.
const READ_AHEAD_CHUNK: usize = 1 << 20;

/// Bytes kept free in front of each chunk, where a stream's driver puts what is left of its
/// previous window when the chunk becomes its next one (see `source::Chunked`).
pub const HEADROOM: usize = 64 << 10;

/// Chunks that may wait between the read-ahead thread and the parse.
const READ_AHEAD_CHUNKS: usize = 4;

/// A reader whose input is read (and decompressed) on its own thread, at most
/// 4 chunks of 1 MiB ahead of the consumer, so that reading overlaps the parse. Wrap
/// streams handed to [`analyze_reader`] in it.
pub struct ReadAhead {
    /// Chunks in order; `Ok(None)` marks the end of the input.
    rx: std::sync::mpsc::Receiver<std::io::Result<Option<Vec<u8>>>>,
    /// Chunks read to the end, handed back to be filled again: a reused chunk is already
    /// initialised, where a new one would be zero-filled before each read (2-3% of a
    /// streamed run).
    back: std::sync::mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    /// Why the thread could not be started, reported at the first read.
    not_started: Option<std::io::Error>,
}

impl ReadAhead {
    /// Starts reading `inner` on a new thread. The thread ends at the end of the input, at a
    /// read error, or when this reader is dropped (at its next chunk).
    pub fn spawn<R: Read + Send + 'static>(mut inner: R) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(READ_AHEAD_CHUNKS);
        let (back, returned) = std::sync::mpsc::sync_channel::<Vec<u8>>(READ_AHEAD_CHUNKS);
        let spawned = std::thread::Builder::new()
            .name("rdbscope-read".into())
            .spawn(move || loop {
                let mut chunk = returned.try_recv().unwrap_or_default();
                chunk.resize(HEADROOM + READ_AHEAD_CHUNK, 0);
                match read_full(&mut inner, &mut chunk, HEADROOM) {
                    Ok(0) => {
                        let _ = tx.send(Ok(None));
                        break;
                    }
                    Ok(_) => {
                        if tx.send(Ok(Some(chunk))).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        // The bytes read before the error come first.
                        if chunk.len() > HEADROOM && tx.send(Ok(Some(chunk))).is_err() {
                            break;
                        }
                        let _ = tx.send(Err(e));
                        break;
                    }
                }
            });
        ReadAhead {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            done: false,
            not_started: spawned.err(),
        }
    }
}

/// Reads into `chunk` until it is full, the input ends or a read fails, and truncates it to
/// what was read; the count read. Bytes read before an error are kept in `chunk`.
fn read_full<R: Read>(r: &mut R, chunk: &mut Vec<u8>, from: usize) -> std::io::Result<usize> {
    let mut filled = from;
    let result = loop {
        let Some(space) = chunk.get_mut(filled..) else {
            break Ok(filled);
        };
        if space.is_empty() {
            break Ok(filled);
        }
        match r.read(space) {
            Ok(0) => break Ok(filled),
            Ok(n) => filled += n.min(space.len()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    chunk.truncate(filled);
    result.map(|n| n - from)
}

impl ReadAhead {
    /// The next chunk from the thread (its bytes start at [`HEADROOM`]); `None` at the end.
    fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if let Some(e) = self.not_started.take() {
            self.done = true;
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot start the read-ahead thread: {e}"),
            ));
        }
        if self.done {
            return Ok(None);
        }
        match self.rx.recv() {
            Ok(Ok(Some(chunk))) => Ok(Some(chunk)),
            Ok(Ok(None)) => {
                self.done = true;
                Ok(None)
            }
            Ok(Err(e)) => {
                self.done = true;
                Err(e)
            }
            // The thread went away without marking the end: it panicked (in a
            // decompressor, say). The input is not known to end here, so this is an
            // error rather than a short file.
            Err(_) => {
                self.done = true;
                Err(std::io::Error::other(
                    "the read-ahead thread stopped before the end of the input",
                ))
            }
        }
    }

    /// Hands over the rest of the current chunk, or the next chunk, whole: the chunk and
    /// where its unread bytes start (with at least [`HEADROOM`] bytes free before them);
    /// `None` at the end of the input. Give it back with [`give_back`](Self::give_back).
    ///
    /// # Errors
    /// A read error of the input (after the chunks read before it).
    pub fn take_chunk(&mut self) -> std::io::Result<Option<(Vec<u8>, usize)>> {
        if self.pos < self.cur.len() {
            let at = std::mem::replace(&mut self.pos, 0);
            return Ok(Some((std::mem::take(&mut self.cur), at)));
        }
        Ok(self.next_chunk()?.map(|c| (c, HEADROOM)))
    }

    /// Puts back what [`take_chunk`](Self::take_chunk) handed over, unread.
    pub fn put_back(&mut self, taken: Option<(Vec<u8>, usize)>) {
        if let Some((chunk, at)) = taken {
            let used = std::mem::replace(&mut self.cur, chunk);
            self.give_back(used);
            self.pos = at;
        }
    }

    /// Returns a chunk's allocation to be filled again (dropped when enough are waiting).
    pub fn give_back(&mut self, chunk: Vec<u8>) {
        if chunk.capacity() > 0 {
            let _ = self.back.try_send(chunk);
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            let Some(chunk) = self.next_chunk()? else {
                return Ok(0);
            };
            let used = std::mem::replace(&mut self.cur, chunk);
            self.give_back(used);
            self.pos = HEADROOM;
        }
        let rest = self.cur.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

/// Analyses a stream (standard input, a decompressor; best wrapped in a [`ReadAhead`])
/// with the current rayon pool: the calling thread frames one bounded window of records
/// at a time, and the window's keys are shared out among the workers, each adding into its
/// own [`Aggregate`] (merged at the end, as for mapped files).
pub fn analyze_reader<R: Read>(reader: R, file: u32, job: &Job<'_>) -> FileResult {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
    let s = Sequential::new(job, file);
    // The header is peeked to pick the model; a read error here is the input's damage (a
    // reader need not return an error twice).
    let header = match std::io::BufRead::fill_buf(&mut reader) {
        Ok(b) => Records::new(b).ok().map(|r| r.header()),
        Err(e) => return s.finish(InputSummary::default(), Some(DriveError::Io(e))),
    };
    analyze_windows(s, header, job, |opts, summary, f| {
        drive_reader_windows(reader, opts, summary, f)
    })
}

/// [`analyze_reader`] over a [`ReadAhead`] whose chunks become the driver's windows: the
/// framing thread does not copy the input once more (CLI streams and decompressors).
pub fn analyze_read_ahead(mut reader: ReadAhead, file: u32, job: &Job<'_>) -> FileResult {
    let s = Sequential::new(job, file);
    let first = match reader.take_chunk() {
        Ok(c) => c,
        Err(e) => return s.finish(InputSummary::default(), Some(DriveError::Io(e))),
    };
    let header = first
        .as_ref()
        .and_then(|(c, at)| Records::new(c.get(*at..)?).ok())
        .map(|r| r.header());
    reader.put_back(first);
    analyze_windows(s, header, job, |opts, summary, f| {
        drive_chunked_windows(Chunked(reader), opts, summary, f)
    })
}

/// The stream drivers' common part: frames with `drive`, shares each window's keys out
/// among the workers.
fn analyze_windows(
    mut s: Sequential<'_>,
    header: Option<Header>,
    job: &Job<'_>,
    drive: impl FnOnce(
        DriveOptions,
        &mut InputSummary,
        &mut dyn FnMut(&[Record<'_>]) -> Result<(), ()>,
    ) -> Result<(), DriveError<()>>,
) -> FileResult {
    let mut summary = InputSummary::default();
    let workers = Workers::new(job, s.file);
    let r = drive(
        DriveOptions {
            checksum: job.checksum,
            salvage: job.salvage,
        },
        &mut summary,
        &mut |recs| {
            s.window(header.as_ref(), recs, &workers);
            Ok(())
        },
    );
    workers.into_aggregate(&mut s.agg);
    s.finish(summary, r.err())
}

/// Keys of a window below which it is not worth waking the workers.
const PARALLEL_MIN_KEYS: usize = 64;

/// Keys a worker takes at a time from a window.
const WINDOW_TASK: usize = 128;

/// One aggregate per rayon worker, kept across windows.
struct Workers {
    slots: Vec<Slot>,
}

/// A worker's aggregate, on cache lines of its own: the counters every key updates sit at
/// either end of an `Aggregate`, and slots side by side made two workers write to one line
/// (A through standard input took 1.6 s instead of 1.0 s when a layout change let them).
#[repr(align(128))]
struct Slot(Mutex<(Aggregate, Work)>);

impl Workers {
    fn new(job: &Job<'_>, file: u32) -> Self {
        let n = rayon::current_num_threads().max(1);
        Workers {
            slots: (0..n)
                .map(|_| {
                    Slot(Mutex::new((
                        Aggregate::new(job.config, file),
                        Work::default(),
                    )))
                })
                .collect(),
        }
    }

    /// Adds `keys` with the pool's workers, each into its own slot.
    fn add(&self, scope: &FileScope, filter: &KeyFilter, keys: &[&KeyRecord<'_>]) {
        use rayon::prelude::*;
        keys.par_chunks(WINDOW_TASK).for_each(|chunk| {
            let i = rayon::current_thread_index().unwrap_or(0) % self.slots.len();
            // A slot is only ever used by its own worker: the lock is uncontended.
            let mut slot = lock(&self.slots[i].0);
            let (agg, w) = &mut *slot;
            for k in chunk {
                add(agg, scope, filter, k, w);
            }
        });
    }

    /// Merges every slot into `agg`.
    fn into_aggregate(self, agg: &mut Aggregate) {
        for slot in self.slots {
            let (a, _) = slot.0.into_inner().unwrap_or_else(|p| p.into_inner());
            agg.merge(a);
        }
    }
}

/// Helpers of the release tests here and in `source`.
#[cfg(test)]
pub(crate) mod test_util {
    use super::Release;

    /// A dump of 120 strings of 1 MiB (about 126 MB).
    pub fn big_strings_dump() -> Vec<u8> {
        let big = vec![b'v'; 1 << 20];
        let mut w = rdbscope_testwriter::RdbWriter::redis(11);
        for i in 0..120 {
            w.key(
                0,
                format!("big:{i}"),
                &rdbscope_testwriter::encode::string(&big),
            );
        }
        w.finish()
    }

    /// Records every release, in order.
    #[derive(Default)]
    pub struct ReleaseLog(std::sync::Mutex<Vec<(u64, u64)>>);

    impl ReleaseLog {
        /// The calls so far.
        pub fn calls(&self) -> Vec<(u64, u64)> {
            self.0.lock().map(|c| c.clone()).unwrap_or_default()
        }
    }

    impl Release for ReleaseLog {
        fn release(&self, from: u64, to: u64) {
            if let Ok(mut c) = self.0.lock() {
                c.push((from, to));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{big_strings_dump, ReleaseLog};
    use super::*;

    /// Hands out a few bytes per call, then an error if asked to.
    struct Dribble {
        data: Vec<u8>,
        pos: usize,
        fail_at_end: bool,
    }

    impl Read for Dribble {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let rest = &self.data[self.pos..];
            if rest.is_empty() && self.fail_at_end {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = rest.len().min(out.len()).min(7919);
            out[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn pages_are_released_as_the_parse_passes_big_values() {
        // 120 strings of 1 MiB: fewer keys than a batch, so only the batch byte limit makes
        // the parse position move on (and the pages behind it go) before the end.
        let data = big_strings_dump();
        let rec = ReleaseLog::default();
        let filter = KeyFilter::default();
        let job = Job {
            config: AggregateConfig::default(),
            choice: ModelChoice::default(),
            filter: &filter,
            checksum: false,
            progress: &NoProgress,
            split_min: SPLIT_MIN,
            salvage: false,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let r = pool.install(|| analyze_slice(&data, 0, &job, &rec));
        assert_eq!(r.aggregate.totals.all.keys, 120);
        let calls = rec.calls();
        let len = data.len() as u64;
        assert!(calls.len() >= 3, "released in steps: {calls:?}");
        assert!(
            calls[0].1 + RELEASE_LAG + 2 * BATCH_BYTES < len,
            "first release only near the end: {calls:?}"
        );
        for w in calls.windows(2) {
            assert!(w[0].1 <= w[1].0, "releases move forward: {calls:?}");
        }
    }

    #[test]
    fn crc_ahead_equals_the_crc_of_the_bytes_before_the_end() {
        let d = data(3 * CRC_AHEAD + 777);
        let ends = [0, 1, CRC_AHEAD / 3, CRC_AHEAD + 5, d.len() - 8, d.len()];
        // The parse positions it is told of: none, a few small steps, a jump over a big
        // value, and past the end.
        let walks: [&[u64]; 4] = [
            &[],
            &[0, 10, 20_000],
            &[0, 2 * CRC_AHEAD as u64],
            &[u64::MAX],
        ];
        for walk in walks {
            for end in ends {
                let mut c = CrcAhead::new(&d);
                for &pos in walk {
                    c.reach(pos);
                }
                assert_eq!(
                    c.finish(&d, end),
                    rdbscope_parser::checksum::crc64(&d[..end]),
                    "walk {walk:?}, end {end}"
                );
            }
        }
    }

    #[test]
    fn read_ahead_passes_every_byte_in_order() {
        for n in [
            0,
            1,
            READ_AHEAD_CHUNK - 1,
            READ_AHEAD_CHUNK,
            3 * READ_AHEAD_CHUNK + 5,
            // More chunks than can wait at once: later ones reuse chunks handed back, which
            // must not show bytes of their earlier use.
            (READ_AHEAD_CHUNKS + 5) * READ_AHEAD_CHUNK + 3,
        ] {
            let d = data(n);
            let mut r = ReadAhead::spawn(Dribble {
                data: d.clone(),
                pos: 0,
                fail_at_end: false,
            });
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, d, "{n} bytes");
        }
    }

    #[test]
    fn read_ahead_chunks_as_windows_give_the_slice_result() {
        // Small keys (records cut by a chunk's end land in the next one's headroom) and
        // values bigger than the headroom and than a chunk (joined the ordinary way).
        let mut w = rdbscope_testwriter::RdbWriter::redis(11);
        for i in 0..40_000u32 {
            w.key(
                0,
                format!("k:{i}"),
                &rdbscope_testwriter::encode::string(format!("v{i}").as_bytes()),
            );
            if i % 9_000 == 0 {
                let big = vec![b'x'; HEADROOM + (i as usize) * 37];
                w.key(
                    0,
                    format!("big:{i}"),
                    &rdbscope_testwriter::encode::string(&big),
                );
            }
            if i == 20_000 {
                let huge = vec![b'y'; 3 * READ_AHEAD_CHUNK + 11];
                w.key(0, "huge", &rdbscope_testwriter::encode::string(&huge));
            }
        }
        let d = w.finish();
        let filter = KeyFilter::default();
        let job = Job {
            config: AggregateConfig::default(),
            choice: ModelChoice::default(),
            filter: &filter,
            checksum: true,
            progress: &NoProgress,
            split_min: u64::MAX,
            salvage: false,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let slice = pool.install(|| analyze_slice(&d, 0, &job, &NoRelease));
        let chunked = pool.install(|| {
            analyze_read_ahead(
                ReadAhead::spawn(Dribble {
                    data: d.clone(),
                    pos: 0,
                    fail_at_end: false,
                }),
                0,
                &job,
            )
        });
        assert!(slice.damage.is_none() && chunked.damage.is_none());
        assert_eq!(chunked.aggregate.totals.all, slice.aggregate.totals.all);
        assert_eq!(chunked.aggregate.totals.all.keys, 40_006);
        assert_eq!(chunked.summary.checksum, slice.summary.checksum);
        assert!(chunked.summary.checksum_mismatch().is_none());
        // A read error after some chunks: the keys before it, then the error as damage.
        let cut = pool.install(|| {
            analyze_read_ahead(
                ReadAhead::spawn(Dribble {
                    data: d[..d.len() / 2].to_vec(),
                    pos: 0,
                    fail_at_end: true,
                }),
                0,
                &job,
            )
        });
        let damage = cut.damage.expect("the read error is damage");
        assert!(
            damage.message.contains("disk on fire"),
            "{}",
            damage.message
        );
        assert!(cut.aggregate.totals.all.keys > 10_000);
    }

    #[test]
    fn read_ahead_reports_the_read_error_after_the_bytes_before_it() {
        let d = data(READ_AHEAD_CHUNK + 10);
        let mut r = ReadAhead::spawn(Dribble {
            data: d.clone(),
            pos: 0,
            fail_at_end: true,
        });
        let mut got = vec![0u8; d.len()];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, d);
        let err = r.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
    }

    #[test]
    fn read_ahead_reports_a_panicking_reader_as_an_error() {
        struct Panics(usize);
        impl Read for Panics {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    panic!("decoder bug");
                }
                let n = self.0.min(out.len());
                out[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut r = ReadAhead::spawn(Panics(10));
        let mut got = Vec::new();
        let err = r
            .read_to_end(&mut got)
            .expect_err("a panic is no end of input");
        assert!(err.to_string().contains("stopped before the end"), "{err}");
        // Nothing after the error, and no hang.
        assert_eq!(r.read(&mut [0u8; 4]).expect("done"), 0);
    }

    #[test]
    fn read_ahead_thread_stops_when_the_reader_is_dropped() {
        // An endless input: the thread must end once nobody reads, not fill memory.
        struct Endless(std::sync::Arc<AtomicU64>);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                self.0.fetch_add(out.len() as u64, AtomicOrdering::Relaxed);
                out.fill(7);
                Ok(out.len())
            }
        }
        let count = std::sync::Arc::new(AtomicU64::new(0));
        let mut r = ReadAhead::spawn(Endless(count.clone()));
        let mut buf = vec![0u8; 100];
        r.read_exact(&mut buf).unwrap();
        drop(r);
        std::thread::sleep(std::time::Duration::from_millis(200));
        let after_drop = count.load(AtomicOrdering::Relaxed);
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(
            count.load(AtomicOrdering::Relaxed),
            after_drop,
            "still reading"
        );
        // Bounded read-ahead: the queue, the chunk being sent and the one in hand.
        assert!(after_drop <= ((READ_AHEAD_CHUNKS + 3) * READ_AHEAD_CHUNK) as u64);
    }
}
