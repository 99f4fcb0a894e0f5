//! Framing one mapped file from several places at once.
//!
//! Framing is sequential by nature: where a record ends is known only by reading it. On a
//! big dump it was about 40% of the work (B: 0.32 s of 0.80 s of CPU, with the checksum
//! and the page faults it takes), and with one framer shared by every worker, a worker
//! that wanted its next batch often waited for the one framing. A split pass cuts the file
//! into *chains*, each framed by one worker that also adds its keys, with no framer shared:
//!
//! 1. The first chain is framed from the header for 16 keys, which fix the file's scope
//!    (the model, the snapshot time) and tell whether its records are small enough to be
//!    worth splitting.
//! 2. For each later chain a start is guessed near an even cut of the rest of the file:
//!    from the first offset at which [`SYNC_RECORDS`] key records in a row parse, the offset
//!    after them. A parse that begins inside a record either fails within a few bytes or
//!    falls into step with the real records within a few of them.
//! 3. Every chain frames until it reaches the next chain's start. Which database a later
//!    chain starts in is not known yet: its keys before its first `SELECTDB` go to a
//!    stand-in database (`u64::MAX - i` for chain `i`).
//! 4. Then every guess is checked, exactly: each chain must have ended precisely at the
//!    next one's start, without damage, without reaching the end of the file, and without
//!    Dragonfly blobs. If so, each later chain read exactly the records a single pass would
//!    have read from its start, so its keys were added as they would have been but for the
//!    stand-in database, which is now relabelled to the one the chain before ended in
//!    ([`Aggregate::relabel_db`]), and its other records (kept aside) are observed now, in
//!    file order. If not, the workers stop as soon as the chain that shows it ends, the
//!    split pass is thrown away and the file is analysed the ordinary way: a wrong guess
//!    costs time, never a number.
//!
//! Each chain checksums its own bytes as it frames them; the parts are joined with
//! [`crc64_combine`]. Damage in the last chain is reported as a single pass would report
//! it (every record before it was read in step); damage anywhere else takes the ordinary
//! path, and so does a file whose own `SELECTDB` names a stand-in database.

use super::{
    add, lock, Batch, CrcAhead, Damage, FileResult, Framer, Job, Release, Released, BATCH,
};
use crate::aggregate::{Aggregate, Work};
use crate::source::InputSummary;
use rdbscope_parser::checksum::crc64_combine;
use rdbscope_parser::{ParserState, Record, Records};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Key records (with non-empty names) that must parse in a row from a guessed offset before
/// the offset after them is taken as a chain start.
const SYNC_RECORDS: usize = 16;

/// Offsets tried in a row from a cut before moving on by [`SYNC_STEP`] (a cut inside a long
/// binary value finds no start near it).
const SYNC_TRIES: usize = 16 << 10;

/// Bytes the records of one candidate chain start may span (16 records of up to 16 KiB).
const SYNC_SPAN: usize = 256 << 10;

/// Bytes the candidates of one cut may parse in all (counting each offset tried as one
/// byte) before the cut is given up.
const SYNC_BUDGET: u64 = 4 << 20;

/// How far the search for a chain start moves on when [`SYNC_TRIES`] offsets in a row held
/// none; it gives up at the next cut.
const SYNC_STEP: u64 = 1 << 20;

/// Chains per worker: spare chains even out parts of the file that cost more than others,
/// and the last chains to finish are short.
const CHAINS_PER_THREAD: usize = 16;

/// Keys framed from the start of the file before the split: they fix the scope and the
/// database, and tell whether the records are big.
const HEAD_KEYS: usize = 16;

/// Records bigger than this on average in the head are not worth splitting the file for.
const BIG_RECORD: u64 = 16 << 10;

/// Bytes a chain keeps behind its parse before releasing them: its worker adds each batch
/// before framing the next, so one batch would do, but each release interrupts the other
/// threads to flush their TLBs.
const CHAIN_RELEASE_LAG: u64 = 32 << 20;

/// Databases from here up stand for "the database this chain started in", unknown until
/// the chain before it is read: chain `i` starts in `u64::MAX - i`. A file whose own
/// `SELECTDB` names one of them is read in one pass instead.
const STAND_IN_DBS: u64 = u64::MAX - (1 << 16);

/// The stand-in database chain `i` starts in.
fn stand_in(i: usize) -> u64 {
    u64::MAX - i as u64
}

/// Records other than keys a later chain keeps aside before the split is given up.
pub(super) const MAX_CHAIN_OTHERS: usize = 4096;

/// What became of a split pass.
pub(super) enum Split {
    /// The file was analysed.
    Done(Box<FileResult>),
    /// The file is not worth splitting (one thread, small, big records, Dragonfly).
    Declined,
    /// A guess did not hold: the file must be analysed the ordinary way. `reported` bytes
    /// were already reported as progress.
    Abandoned {
        /// Bytes already reported to the progress sink.
        reported: u64,
    },
}

/// Analyses `data` with a split pass; see [`Split`].
pub(super) fn analyze_split(
    data: &[u8],
    recs: Records<'_>,
    file: u32,
    job: &Job<'_>,
    release: &dyn Release,
) -> Split {
    match split_pass(data, recs, file, job, release) {
        Ok(r) => Split::Done(Box::new(r)),
        Err(0) => Split::Declined,
        Err(reported) => Split::Abandoned { reported },
    }
}

/// [`analyze_split`]: the result, or the bytes reported as progress before giving up.
fn split_pass(
    data: &[u8],
    recs: Records<'_>,
    file: u32,
    job: &Job<'_>,
    release: &dyn Release,
) -> Result<FileResult, u64> {
    let threads = rayon::current_num_threads();
    // A database filter needs each key's database when the key is added.
    if threads < 2 || (data.len() as u64) < job.split_min || !job.filter.dbs.is_empty() {
        return Err(0);
    }
    let header = recs.header();
    let first_released = Released::from(release, 0, CHAIN_RELEASE_LAG);
    let mut first = Framer {
        batch: HEAD_KEYS,
        ..Framer::new(recs, job, file, &first_released)
    };
    // Framing the head reports its bytes as progress: giving up after it says so.
    let head = first.next().ok_or(first.reported)?;
    let given_up = first.reported;
    first.batch = BATCH;
    let scope = first.scope.ok_or(given_up)?;
    let state = first.recs.state();
    // Big records frame quickly (sizes come from their headers): no need to split.
    let head_start = head.1.first().map_or(0, |k| k.offset);
    let head_bytes = first.recs.offset().saturating_sub(head_start);
    if head.1.len() < HEAD_KEYS
        || head_bytes / HEAD_KEYS as u64 > BIG_RECORD
        || first.error.is_some()
        || first.sequential
        || first.eof.is_some()
        || state.dragonfly
    {
        return Err(given_up);
    }
    let starts = chain_starts(
        data,
        first.recs.offset(),
        state,
        threads * CHAINS_PER_THREAD,
    );
    let &first_end = starts.first().ok_or(given_up)?;
    first.limit = first_end;
    first.crc = job
        .checksum
        .then(|| CrcAhead::range(data, 0, usize::try_from(first_end).unwrap_or(usize::MAX)));
    let released: Vec<Released<'_>> = starts
        .iter()
        .map(|&s| Released::from(release, s, CHAIN_RELEASE_LAG))
        .collect();
    let mut chains = vec![first];
    for (i, (&start, rel)) in starts.iter().zip(&released).enumerate() {
        let limit = starts.get(i + 1).copied();
        let crc_end = limit.map_or(data.len().saturating_sub(8), |l| l as usize);
        let start_state = ParserState {
            db: stand_in(i + 1),
            ..state
        };
        let recs = Records::resume(
            data.get(start as usize..).unwrap_or_default(),
            start,
            start_state,
        );
        chains.push(Framer {
            scope: Some(scope),
            reported: start,
            crc: job
                .checksum
                .then(|| CrcAhead::range(data, start as usize, crc_end)),
            limit: limit.unwrap_or(u64::MAX),
            others: Some(Vec::new()),
            ..Framer::new(recs, job, file, rel)
        });
    }
    let (mut aggregate, all_in_step) = run_chains(&mut chains, head, job, file, &starts);
    let chain_starts = std::iter::once(0).chain(starts.iter().copied());
    let reported: u64 = chains
        .iter()
        .zip(chain_starts)
        .map(|(c, start)| c.reported.saturating_sub(start))
        .sum();
    if !all_in_step || chains.iter().any(|c| c.top_db >= STAND_IN_DBS) {
        return Err(reported);
    }
    // The database each later chain started in is the one the chain before it ended in:
    // a real one if that chain named one (or is the first), else the one it started in.
    let mut start_db = 0;
    for (i, c) in chains
        .iter()
        .enumerate()
        .take(chains.len().saturating_sub(1))
    {
        let end = c.recs.state().db;
        if i == 0 || end != stand_in(i) {
            start_db = end;
        }
        if !aggregate.relabel_db(stand_in(i + 1), start_db) {
            return Err(reported);
        }
    }
    let mut chains = chains.into_iter();
    let first = chains.next().ok_or(given_up)?;
    Ok(assemble(
        data,
        header,
        first,
        chains.collect(),
        &starts,
        aggregate,
    ))
}

/// Chain starts after `from`, one near each of `cuts - 1` even cuts of the rest of `data`
/// where one is found, ascending.
fn chain_starts(data: &[u8], from: u64, state: ParserState, cuts: usize) -> Vec<u64> {
    let len = data.len() as u64;
    let mut starts: Vec<u64> = Vec::with_capacity(cuts);
    for i in 1..cuts as u64 {
        let at = from + (len.saturating_sub(from)) * i / cuts as u64;
        if starts.last().is_some_and(|&s| at <= s) {
            continue;
        }
        let next_cut = from + (len.saturating_sub(from)) * (i + 1) / cuts as u64;
        let mut try_at = at;
        let mut budget = SYNC_BUDGET;
        while try_at < next_cut && budget > 0 {
            if let Some(s) = chain_start(data, try_at, state, &mut budget) {
                if s > from && starts.last().is_none_or(|&l| s > l) {
                    starts.push(s);
                }
                break;
            }
            try_at += SYNC_STEP;
        }
    }
    starts
}

/// A chain start guessed from `at`: the offset after [`SYNC_RECORDS`] key records with
/// non-empty names that parse in a row from the first offset that admits them, or the
/// offset of the `EOF` record they reach at the very end of the file.
///
/// Each candidate parses only the next [`SYNC_SPAN`] bytes, and all candidates of a cut
/// together at most `budget` bytes, so that no input (a long run of zero bytes parses as
/// records of empty strings; a forged count makes one record walk far) makes the guessing
/// slow. A guess that is wrong anyway fails the exact check afterwards.
fn chain_start(data: &[u8], at: u64, state: ParserState, budget: &mut u64) -> Option<u64> {
    let from = usize::try_from(at).ok()?;
    let to = from.saturating_add(SYNC_TRIES).min(data.len());
    for p in from..to {
        *budget = budget.checked_sub(1)?;
        // A record starts with a value type (0-27) or an opcode (0xf0-0xff).
        if data.get(p).is_some_and(|&b| b > 27 && b < 0xf0) {
            continue;
        }
        let window = data.get(p..p.saturating_add(SYNC_SPAN).min(data.len()))?;
        let mut recs = Records::resume(window, p as u64, state);
        let mut parsed = 0;
        let found = loop {
            match recs.next() {
                Some(Ok(Record::Key(k))) if !k.key.is_empty() => {
                    parsed += 1;
                    if parsed == SYNC_RECORDS {
                        break Some(recs.offset());
                    }
                }
                Some(Ok(Record::Eof { offset, end, .. }))
                    if parsed > 0 && end == data.len() as u64 =>
                {
                    break Some(offset)
                }
                _ => break None,
            }
        };
        *budget = budget.saturating_sub(recs.offset() - p as u64);
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Frames and adds every chain with the pool's threads (one aggregate per thread, chains
/// taken in file order, merged at the end); the first chain starts with `head`, its first
/// batch. Also returns whether every chain ended in step (see [`in_step`]): as soon as one
/// does not, the others stop, as the file will be read again in one pass.
fn run_chains<'a>(
    chains: &mut [Framer<'a, '_>],
    head: Batch<'a>,
    job: &Job<'_>,
    file: u32,
    starts: &[u64],
) -> (Aggregate, bool) {
    let n = rayon::current_num_threads().max(1);
    let mut head = Some(head);
    let slots: Vec<Mutex<(&mut Framer<'a, '_>, Option<Batch<'a>>)>> = chains
        .iter_mut()
        .map(|f| Mutex::new((f, head.take())))
        .collect();
    let next = AtomicUsize::new(0);
    let given_up = AtomicBool::new(false);
    let done: Mutex<Vec<Aggregate>> = Mutex::new(Vec::with_capacity(n));
    rayon::scope(|s| {
        for _ in 0..n {
            s.spawn(|_| {
                let mut agg = Aggregate::new(job.config, file);
                let mut w = Work::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(slot) = slots.get(i) else { break };
                    if given_up.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut guard = lock(slot);
                    let (framer, head) = &mut *guard;
                    if let Some((scope, batch)) = head.take() {
                        for k in &batch {
                            add(&mut agg, &scope, job.filter, k, &mut w);
                        }
                    }
                    framer.released.parse_at(framer.recs.offset());
                    // Each key is added as soon as it is framed, while its bytes are still
                    // in the cache, instead of going through a batch.
                    let mut since = 0;
                    while let Some(()) =
                        framer.with_next_key(|k, scope| add(&mut agg, scope, job.filter, k, &mut w))
                    {
                        since += 1;
                        if since == BATCH {
                            since = 0;
                            framer.moved_on();
                            if given_up.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                    }
                    framer.moved_on();
                    if !in_step(framer, starts.get(i).copied()) {
                        given_up.store(true, Ordering::Relaxed);
                    }
                    // A chain's worker adds each batch before framing the next: nothing
                    // of the chain is needed any more.
                    framer
                        .released
                        .release_to(framer.recs.offset().min(framer.limit));
                }
                lock(&done).push(agg);
            });
        }
    });
    let mut parts = done
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter();
    let mut aggregate = parts
        .next()
        .unwrap_or_else(|| Aggregate::new(job.config, file));
    for p in parts {
        aggregate.merge(p);
    }
    // Every chain was taken and checked unless one was found out of step.
    (aggregate, !given_up.into_inner())
}

/// Whether a chain that was to end at `next` (`None` for the last) ended there, in the
/// state the next chain assumed (see the module docs), without giving up. The database
/// is no part of that state: later chains start in a stand-in one.
fn in_step(c: &Framer<'_, '_>, next: Option<u64>) -> bool {
    if c.sequential || c.overflow {
        return false;
    }
    let Some(next) = next else {
        return true; // the last chain: damage there is reported as one pass reports it
    };
    c.error.is_none() && c.eof.is_none() && c.recs.offset() == next && !c.recs.state().dragonfly
}

/// The result of chains that were in step: their aggregates merged, the later chains'
/// other records observed in order, the checksum parts joined, the last chain's end.
fn assemble(
    data: &[u8],
    header: rdbscope_parser::Header,
    mut head: Framer<'_, '_>,
    rest: Vec<Framer<'_, '_>>,
    starts: &[u64],
    mut aggregate: Aggregate,
) -> FileResult {
    let job = head.job;
    let count = rest.len();
    let mut crc = head.crc.take().map(CrcAhead::finish_range);
    let mut last_crc = None;
    let (mut eof, mut error) = (None, None);
    for (i, mut c) in rest.into_iter().enumerate() {
        for rec in c.others.take().unwrap_or_default() {
            head.observe(&rec);
        }
        let start = starts.get(i).copied().unwrap_or(0);
        if i + 1 == count {
            eof = c.eof;
            error = c.error.take();
            last_crc = c.crc.take().map(|k| (start, k));
        } else if let (Some(acc), Some(part)) = (crc, c.crc.take()) {
            let len = starts.get(i + 1).copied().unwrap_or(start) - start;
            crc = Some(crc64_combine(acc, part.finish_range(), len));
        }
    }
    aggregate.used.merge(&head.used);
    let model = head
        .scope
        .and_then(|s| s.model)
        .or_else(|| head.ctx.model(&job.choice));
    let damage = error.map(|e| Damage {
        offset: e.offset,
        message: e.to_string(),
        unread: Some((data.len() as u64).saturating_sub(e.offset)),
        salvaged: crate::salvage::Salvaged::default(),
    });
    let mut summary = InputSummary {
        header: Some(header),
        ..InputSummary::default()
    };
    if let Some((offset, stored, end)) = eof {
        let joined = crc.zip(last_crc).map(|(before, (start, last))| {
            move |e: usize| {
                let tail = last.finish(data, e);
                crc64_combine(before, tail, (e as u64).saturating_sub(start))
            }
        });
        summary.set_eof_with(data, offset, end, stored, joined);
    }
    FileResult {
        aggregate,
        inventory: head.inventory,
        summary,
        context: head.ctx,
        model,
        damage,
        chains: count + 1,
    }
}
