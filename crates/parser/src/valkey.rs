//! Valkey-only records.

use crate::error::Result;
use crate::reader::Cursor;

/// Skips a Valkey 9 `SLOT_IMPORT` record body (`clusterRDBSaveSlotImports`): the 40-char
/// job name, a range count, and that many inclusive (start, end) slot pairs.
pub(crate) fn skip_slot_import(c: &mut Cursor<'_>) -> Result<()> {
    c.skip_string("slot import job name")?;
    let n = c.count("slot import range count", 2)?;
    for _ in 0..n {
        c.len("slot range start")?;
        c.len("slot range end")?;
    }
    Ok(())
}
