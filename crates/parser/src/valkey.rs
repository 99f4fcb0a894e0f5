//! Valkey-only records.

use crate::error::{ErrorKind, Result};
use crate::reader::Cursor;

/// Skips a Valkey 9 `SLOT_IMPORT` record body.
pub(crate) fn skip_slot_import(c: &mut Cursor<'_>) -> Result<()> {
    Err(c.err(ErrorKind::Unsupported("Valkey SLOT_IMPORT record")))
}
