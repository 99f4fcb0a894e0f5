//! # rdbscope-parser
//!
//! A zero-copy, encoding-aware parser for Redis and Valkey RDB snapshot files (RDB 1 to 13,
//! Valkey 80/81). It knows the format and nothing about memory: it frames a file held in
//! memory into [`Record`]s, each borrowing the input, and gives lazy views of values that
//! answer sizes and counts from headers and decode elements only on demand.
//!
//! ```
//! use rdbscope_parser::{Records, Record};
//! // REDIS0003, SELECTDB 0, string "k" = "v", EOF.
//! let file = b"REDIS0003\xfe\x00\x00\x01k\x01v\xff";
//! let mut keys = 0;
//! for rec in Records::new(file).unwrap() {
//!     if let Record::Key(k) = rec.unwrap() {
//!         assert_eq!(k.key.as_raw(), Some(&b"k"[..]));
//!         keys += 1;
//!     }
//! }
//! assert_eq!(keys, 1);
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod blob;
pub mod checksum;
mod error;
mod format;
pub mod lzf;
pub mod module;
mod reader;
mod records;
mod salvage;
pub mod stream;
mod string;
mod valkey;
mod value;

pub use blob::Scalar;
pub use error::{Error, ErrorKind, Result};
pub use format::{parse_header, DataType, Dialect, Header, Opcode, ValueKind, ValueType};
pub use records::{BlobCodec, KeyMeta, KeyRecord, ParserState, Record, Records};
pub use salvage::{Resync, DB_UNKNOWN, RESYNC_RECORDS};
pub use string::{decimal_len, RdbStr, StrEncoding};
pub use value::{
    Blob, BlobKind, Element, ModuleValue, NodeContainer, QuicklistNode, Scratch, Value,
};
