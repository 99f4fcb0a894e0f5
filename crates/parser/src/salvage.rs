//! Salvage: after damage, finding the next offset where records can be read again.
//!
//! With [`Records::salvage`] on, a record that cannot be read does not end the iteration:
//! the iterator tries every later offset, in order, until one passes [`Records::try_at`],
//! and yields the bytes in between as one [`Record::Skipped`]. An offset is accepted when
//!
//! - a new RDB header starts there (a second dump appended to the first by a bad copy), or
//! - [`RESYNC_RECORDS`] records in a row read from it, each plausible: keys with non-empty
//!   names, all different, values that decode whole (blobs walked, LZF strings
//!   decompressed, stream nodes read), expire times between 1970 and the year 9999, database
//!   numbers below 65,536, AUX names of printable ASCII; or fewer such records ending in
//!   the `EOF` trailer where the input ends (or where an AOF tail begins), or exactly at
//!   the end of a truncated input.
//!
//! **Cost.** Each offset of a damaged region is tried once. A try stops at the first
//! record that does not read, and reads at most [`RESYNC_RECORDS`] records; framing a
//! record costs at most one step per element it declares, and a declared length is checked
//! against the bytes that remain before anything is read. On random bytes almost every try
//! ends within its first few bytes, so a scan costs a small constant per byte; the worst
//! case, bytes that frame as many records from every offset, is bounded by
//! `RESYNC_RECORDS` records per offset.
//!
//! **False resyncs.** On random bytes, one plausible record reads from a given offset with
//! a probability of the order of 1 in 50 (a valid type byte, a length within the input, a
//! value that decodes); eight in a row with distinct keys, about 1 in 10^13 per offset. A
//! run of one repeated byte frames as the same key again and again (or, for `0x00`, as
//! empty names) and is refused. Values holding RDB-shaped bytes (a `DUMP` payload stored
//! as a string) are the one realistic source of a false resync; the region that follows
//! it then fails again within a few records and is reported as a region of its own.

use crate::error::{Error, ErrorKind, Result};
use crate::format::{parse_header, Header, ValueKind};
use crate::reader::Cursor;
use crate::records::{Record, Records};
use crate::string::RdbStr;
use crate::value::Scratch;

/// The database of keys read after a resync and before the next `SELECTDB`: unknown.
pub const DB_UNKNOWN: u64 = u64::MAX;

/// Records that must read in a row from an offset for reading to resume there.
pub const RESYNC_RECORDS: usize = 8;

/// Records after those that must also read, when the input has them, before the offset
/// is taken (a false start inside a big collection's elements reads a few records, then
/// fails at the collection's end).
const CONFIRM_RECORDS: usize = 64;

/// Records read at a resync point that are counted in the region rather than kept: they
/// may be the tail of the damaged record (the elements of a big collection), which happens
/// to end where a real record begins.
const DISCARDED: usize = 2;

/// A try that needs more than this many bytes past a stream's window is given up (so that
/// a random length cannot make a stream's window grow without bound).
const MAX_PENDING: u64 = 64 << 20;

/// Bytes of a region ruled out in a stream's window before they are handed over as a
/// piece of the region, so that the window need not hold the whole region.
const PIECE: usize = 1 << 16;

/// Latest plausible expire time, in ms since the epoch (the end of the year 9999: servers
/// take any EXPIREAT, and dumps hold keys set to expire in the year 3000).
const MAX_EXPIRE_MS: i64 = 253_402_300_800_000;

/// Why reading resumed where a skipped region ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resync {
    /// This many plausible records read in a row from the new offset ([`RESYNC_RECORDS`],
    /// or fewer that end where the input does).
    Records(u8),
    /// A new RDB header starts at the new offset (a second file appended to the first).
    Header,
    /// Nothing could be read again before the input ended.
    InputEnd,
    /// A piece of a region that goes on in the next window of a stream.
    More,
}

impl Resync {
    /// Why the resync point was accepted, in words.
    pub fn describe(&self) -> String {
        match self {
            Resync::Records(n) if usize::from(*n) >= RESYNC_RECORDS => format!(
                "{n} records in a row read from here (distinct non-empty keys, values that decode whole)"
            ),
            Resync::Records(n) => {
                format!("{n} record(s) read from here to the end of the input")
            }
            Resync::Header => String::from("a new RDB header starts here (files joined?)"),
            Resync::InputEnd => String::from("no readable record before the end of the input"),
            Resync::More => String::from("the region goes on"),
        }
    }
}

/// The outcome of trying one offset.
enum Try {
    /// Reading resumes at this offset; with it, where the records after the first
    /// [`DISCARDED`] start (the offset itself when fewer were read).
    Accept(Resync, usize),
    Reject,
    /// A stream's window ends before the try could finish: more bytes are needed.
    Undecided(Error),
}

impl<'a> Records<'a> {
    /// Turns salvage on or off: with it on, damage yields a [`Record::Skipped`] and reading
    /// goes on from the next offset where records read again (see the module docs of
    /// `salvage` for how one is accepted); keys after it are in [`DB_UNKNOWN`] until the
    /// next `SELECTDB`.
    pub fn salvage(mut self, on: bool) -> Self {
        self.state.salvage = on;
        self
    }

    /// Tells whether this window ends where the input ends (the default). A stream's driver
    /// sets `false` for windows with more input to come, so that a record cut by the
    /// window's end asks for more bytes instead of starting a salvage scan.
    pub fn set_last_window(&mut self, last: bool) {
        self.last_window = last;
    }

    /// [`Records::read`] with salvage on: a key of a type the file's RDB version does not
    /// write is damage too (a record read out of step after damage that did not break the
    /// framing: a length changed inside a value).
    pub(crate) fn read_salvaging(&mut self) -> Result<Record<'a>> {
        let before = self.c;
        let r = self.read()?;
        if let Record::Key(k) = &r {
            let t = k.value.value_type().0;
            if !written(Some(t), self.state.header.version) {
                self.c = before;
                return Err(Error::new(
                    k.value.offset(),
                    ErrorKind::Invalid("a value type this file's RDB version does not write"),
                ));
            }
        }
        Ok(r)
    }

    /// Whether `e` starts a salvage scan.
    pub(crate) fn salvaging(&self, e: &Error) -> bool {
        self.state.salvage && !self.state.dragonfly && (self.last_window || !e.is_eof())
    }

    /// Scans from the cursor for the next offset where reading resumes, inside a region
    /// that began at `from` with `error`.
    pub(crate) fn scan(&mut self, from: u64, error: Error) -> Result<Record<'a>> {
        self.state.resync = Some((from, error));
        let len = self.c.data.len();
        let begin = self.c.pos;
        let mut p = begin;
        let piece = |this: &mut Self, p: usize, resync| {
            this.c.pos = p;
            Ok(Record::Skipped {
                start: from,
                end: this.c.offset(),
                error,
                resync,
            })
        };
        while p < len {
            match self.try_at(p) {
                Try::Reject => p += 1,
                Try::Accept(resync, after_discarded) => {
                    self.state.resync = None;
                    if resync == Resync::Header {
                        let rest = self.c.data.get(p..).unwrap_or_default();
                        if let Ok(h) = parse_header(rest) {
                            self.state.header = h;
                        }
                        let r = piece(self, p, resync);
                        self.c.pos = p + Header::LEN;
                        self.state.db = 0;
                        self.state.dragonfly = false;
                        return r;
                    }
                    self.state.db = DB_UNKNOWN;
                    // The first records read at a resync point may be the tail of the
                    // damaged record: they are counted in the region ([`DISCARDED`]).
                    let after = if resync == Resync::Records(RESYNC_RECORDS as u8) {
                        after_discarded
                    } else {
                        p
                    };
                    return piece(self, after, resync);
                }
                Try::Undecided(e) => {
                    if p - begin >= PIECE {
                        return piece(self, p, Resync::More);
                    }
                    self.c.pos = begin;
                    return Err(e);
                }
            }
        }
        if self.last_window {
            self.state.resync = None;
            self.state.done = true;
            return piece(self, len, Resync::InputEnd);
        }
        if p > begin {
            return piece(self, p, Resync::More);
        }
        Err(self.c.err(ErrorKind::UnexpectedEof {
            what: "bytes to scan past damage",
            needed: 1,
        }))
    }

    /// Tries offset `p` of the window as a resync point.
    fn try_at(&self, p: usize) -> Try {
        let data = self.c.data;
        let rest = data.get(p..).unwrap_or_default();
        if (rest.starts_with(b"REDIS") || rest.starts_with(b"VALKEY")) && parse_header(rest).is_ok()
        {
            return Try::Accept(Resync::Header, p);
        }
        let mut probe = Records {
            c: Cursor {
                data,
                pos: p,
                base: self.c.base,
            },
            state: crate::records::ParserState {
                salvage: false,
                resync: None,
                db: DB_UNKNOWN,
                done: false,
                ..self.state
            },
            failed: false,
            last_window: self.last_window,
        };
        let mut keys = [RdbStr::Int(0); RESYNC_RECORDS];
        let mut nkeys = 0usize;
        let mut after_discarded = p;
        let mut scratch = Scratch::new();
        let version = self.state.header.version;
        for i in 0..RESYNC_RECORDS + CONFIRM_RECORDS {
            if !written(data.get(probe.c.pos).copied(), version) {
                return Try::Reject;
            }
            if probe.c.remaining() == 0 {
                return match (self.last_window, i) {
                    (false, _) => Try::Undecided(probe.c.err(ErrorKind::UnexpectedEof {
                        what: "records after a resync point",
                        needed: 1,
                    })),
                    (true, 0) => Try::Reject,
                    (true, n) => Try::Accept(
                        Resync::Records(n.min(RESYNC_RECORDS) as u8),
                        after_discarded,
                    ),
                };
            }
            let rec = match probe.read() {
                Ok(rec) => rec,
                Err(e) if e.is_eof() && !self.last_window => {
                    return if e.missing() > MAX_PENDING {
                        Try::Reject
                    } else {
                        Try::Undecided(e)
                    };
                }
                Err(_) => return Try::Reject,
            };
            if i + 1 == DISCARDED {
                after_discarded = probe.c.pos;
            }
            match rec {
                Record::Key(k) => {
                    // Names are distinct among the first records (within one database).
                    let seen = keys.get(..nkeys).unwrap_or_default();
                    let dup = i < RESYNC_RECORDS && seen.iter().any(|s| same(s, &k.key));
                    let expire_ok = k.expire_ms.is_none_or(|t| (0..=MAX_EXPIRE_MS).contains(&t));
                    // A server takes an empty name, but the records that make a resync
                    // point do not hold one (a run of zero bytes reads as empty names);
                    // the records that confirm it may.
                    if (i < RESYNC_RECORDS && k.key.is_empty()) || !expire_ok || dup {
                        return Try::Reject;
                    }
                    if let Some(slot) = keys.get_mut(nkeys).filter(|_| i < RESYNC_RECORDS) {
                        *slot = k.key;
                        nkeys += 1;
                    }
                    if !decodes(&k.value, &mut scratch) {
                        return Try::Reject;
                    }
                }
                Record::Eof { end, .. } => {
                    let at_end = end == probe.c.base + data.len() as u64;
                    let rest = data.get(probe.c.pos..).unwrap_or_default();
                    let next = resp_array(rest).then_some(b'*');
                    return match (at_end, self.last_window, next) {
                        (true, true, _) if i > 0 => Try::Accept(
                            Resync::Records((i + 1).min(RESYNC_RECORDS) as u8),
                            after_discarded,
                        ),
                        (true, false, _) => Try::Undecided(probe.c.err(ErrorKind::UnexpectedEof {
                            what: "bytes after the EOF trailer",
                            needed: 1,
                        })),
                        (false, _, Some(b'*')) if i > 0 => Try::Accept(
                            Resync::Records((i + 1).min(RESYNC_RECORDS) as u8),
                            after_discarded,
                        ),
                        _ => Try::Reject,
                    };
                }
                Record::SelectDb { db, .. } if db < 1 << 16 => nkeys = 0,
                Record::Aux { key, .. }
                    if key
                        .as_raw()
                        .is_some_and(|k| !k.is_empty() && k.iter().all(u8::is_ascii_graphic)) => {}
                Record::ResizeDb { .. }
                | Record::Function { .. }
                | Record::ModuleAux { .. }
                | Record::SlotImport { .. } => {}
                Record::SlotInfo { slot, .. } if slot < 16384 => {}
                _ => return Try::Reject,
            }
        }
        Try::Accept(Resync::Records(RESYNC_RECORDS as u8), after_discarded)
    }
}

/// Whether a server writing RDB `version` writes records of type `t` (a type it only
/// reads, such as a ziplist in an RDB 11 file, does not start a resync). Opcodes pass.
fn written(t: Option<u8>, version: u32) -> bool {
    let Some(t) = t else { return false };
    // Valkey's own versions (80 and up) write what Redis's RDB 11 writes, and more.
    let v = if version >= 80 { 12 } else { version };
    let (first, last) = match t {
        0 | 2 | 4 => (1, u32::MAX),
        1 => (1, 6),
        3 => (1, 7),
        5 | 7 => (8, u32::MAX),
        6 => (8, 8),
        9 => (2, 5),
        10 => (2, 6),
        11 => (2, u32::MAX),
        12 => (2, 9),
        13 => (4, 9),
        14 => (7, 9),
        15 => (9, 9),
        16..=18 => (10, u32::MAX),
        19 => (10, 10),
        20 | 21 => (11, u32::MAX),
        0xf0..=0xff => return true,
        _ => (12, u32::MAX),
    };
    (first..=last).contains(&v)
}

/// Whether `b` starts like an AOF tail after an RDB preamble: `*<digits>\r\n$`.
fn resp_array(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b"*") else {
        return false;
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && rest.get(digits..digits + 3) == Some(b"\r\n$".as_slice())
}

/// Whether a value decodes whole: elements walked (blobs validated, LZF decompressed),
/// stream nodes read.
fn decodes(v: &crate::value::Value<'_>, scratch: &mut Scratch) -> bool {
    use ValueKind::*;
    match v.kind() {
        StreamListpacks | StreamListpacks2 | StreamListpacks3 | StreamListpacks4
        | StreamListpacks5 => v.stream().is_ok(),
        Module2 | ModulePreGa | KeydbCron => true,
        // Members (and hash fields) are unique, so at most one is empty. A false record
        // that swallows real records as its elements sees an empty one at each string
        // record (type 0 reads as an empty string), and is refused here.
        Set | Zset | Zset2 | Hash => {
            let (mut i, mut empty) = (0u64, 0u32);
            let fields_only = v.kind() == Hash;
            let walked = v.for_each_len(|len| {
                if len == 0 && (!fields_only || i % 2 == 0) {
                    empty += 1;
                }
                i += 1;
            });
            walked.is_ok() && empty <= 1 && v.for_each_element(scratch, |_| ()).is_ok()
        }
        _ => v.for_each_element(scratch, |_| ()).is_ok(),
    }
}

/// Whether two key names are the same bytes (wherever they lie in the file).
fn same(a: &RdbStr<'_>, b: &RdbStr<'_>) -> bool {
    match (a, b) {
        (RdbStr::Raw { bytes: x, .. }, RdbStr::Raw { bytes: y, .. }) => x == y,
        (RdbStr::Int(x), RdbStr::Int(y)) => x == y,
        (
            RdbStr::Lzf {
                compressed: x,
                ulen: m,
                ..
            },
            RdbStr::Lzf {
                compressed: y,
                ulen: n,
                ..
            },
        ) => x == y && m == n,
        _ => false,
    }
}
