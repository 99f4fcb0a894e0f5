//! The regions `--salvage` skipped in one input, gathered from the parser's
//! [`Record::Skipped`] records (a region scanned across several windows of a stream comes
//! in pieces, joined here).

use rdbscope_parser::{Error, Record};

/// Regions kept one by one; past this many, only their count and bytes are kept (so that
/// a file damaged everywhere costs bounded memory).
pub const MAX_REGIONS: usize = 1000;

/// One damaged region skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalvagedRegion {
    /// Offset of the record that could not be read.
    pub start: u64,
    /// Offset where reading resumed (the end of the input when it did not).
    pub end: u64,
    /// What was wrong at `start` (the parser's message, offset included).
    pub error: String,
    /// Why reading resumed at `end`.
    pub resync: String,
}

impl SalvagedRegion {
    /// Bytes skipped.
    pub fn bytes(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// Every region skipped in one input, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    /// The first [`MAX_REGIONS`] regions.
    pub regions: Vec<SalvagedRegion>,
    /// Regions in all.
    pub count: u64,
    /// Bytes skipped in all.
    pub bytes: u64,
    /// The error that began the first region.
    pub first: Option<Error>,
    /// Start and end of the region being added to (its pieces share the start).
    open: Option<(u64, u64)>,
}

impl Salvaged {
    /// Takes `rec` if it is a skipped region; returns whether it was one.
    pub fn take(&mut self, rec: &Record<'_>) -> bool {
        let Record::Skipped {
            start,
            end,
            error,
            resync,
        } = *rec
        else {
            return false;
        };
        self.first.get_or_insert(error);
        let resync = resync.describe();
        match &mut self.open {
            Some((s, e)) if *s == start => {
                self.bytes += end.saturating_sub(*e);
                *e = end;
                if let Some(r) = self.regions.last_mut().filter(|r| r.start == start) {
                    r.end = end;
                    r.resync = resync;
                }
            }
            open => {
                *open = Some((start, end));
                self.count += 1;
                self.bytes += end.saturating_sub(start);
                if self.regions.len() < MAX_REGIONS {
                    self.regions.push(SalvagedRegion {
                        start,
                        end,
                        error: error.to_string(),
                        resync,
                    });
                }
            }
        }
        true
    }

    /// Whether nothing was skipped.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// One line per region for standard error, `name` being the input.
    pub fn lines(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .regions
            .iter()
            .map(|r| region_line(name, r.start, r.end, &r.error, &r.resync))
            .collect();
        if self.count > self.regions.len() as u64 {
            out.push(format!(
                "{name}: salvage: {} more regions not listed; {} bytes skipped in all",
                self.count - self.regions.len() as u64,
                self.bytes
            ));
        }
        out
    }
}

/// The line on standard error for one region of input `name` skipped from `start` to `end`.
pub fn region_line(name: &str, start: u64, end: u64, error: &str, resync: &str) -> String {
    format!(
        "{name}: salvage: skipped offsets {start}..{end} ({} bytes): {error}; resumed: {resync}",
        end.saturating_sub(start)
    )
}
