//! Errors: small, `Copy`, carrying the absolute byte offset where reading failed.

use std::fmt;

/// What went wrong while reading an RDB file, and where.
///
/// `offset` is the absolute byte offset in the input (for data inside an LZF-compressed
/// blob, the offset of the compressed string that holds it; `detail` then names the
/// position inside the decompressed blob).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Absolute byte offset in the input where the problem was found.
    pub offset: u64,
    /// What was expected or what was wrong.
    pub kind: ErrorKind,
}

/// The kinds of error the parser reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended while `needed` more bytes were expected for `what`.
    UnexpectedEof {
        /// What was being read.
        what: &'static str,
        /// How many bytes were still needed.
        needed: u64,
    },
    /// The first bytes are not `REDIS` + 4 digits or `VALKEY` + 3 digits.
    BadMagic,
    /// The RDB version is one this parser cannot read.
    UnsupportedVersion(u32),
    /// A byte at top level that is neither a known opcode nor a known value type.
    UnknownOpcode(u8),
    /// A value type this parser does not know for the file's format.
    UnknownValueType(u8),
    /// A length prefix byte in the invalid range `0x82..=0xBF`.
    BadLength(u8),
    /// An encoded string (`0xC0..`) where a plain length was required.
    EncodedLengthNotAllowed(u8),
    /// An unknown special string encoding (`0xC4..=0xFF`).
    BadStringEncoding(u8),
    /// A declared length larger than the bytes left in the input.
    LengthTooLarge {
        /// What the length was for.
        what: &'static str,
        /// The declared length.
        declared: u64,
        /// The bytes that remain.
        remaining: u64,
    },
    /// An LZF stream that is corrupt or does not decompress to its declared length.
    Lzf(&'static str),
    /// An inner blob (ziplist, listpack, intset, zipmap, stream node) is malformed.
    Blob {
        /// The blob format.
        blob: &'static str,
        /// Position inside the (decompressed) blob.
        at: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// A structural rule of the format was broken.
    Invalid(&'static str),
    /// A feature that cannot be read without outside knowledge (e.g. pre-GA module values).
    Unsupported(&'static str),
    /// The CRC-64 trailer does not match the file contents.
    ChecksumMismatch {
        /// The value stored in the file.
        stored: u64,
        /// The value computed over the file.
        computed: u64,
    },
}

impl Error {
    /// Creates an error at `offset`.
    pub const fn new(offset: u64, kind: ErrorKind) -> Self {
        Error { offset, kind }
    }

    /// Bytes missing past the end of the input for an end-of-input error, when the parser
    /// knows (0 otherwise).
    pub fn missing(&self) -> u64 {
        match self.kind {
            ErrorKind::UnexpectedEof { needed, .. } => needed,
            ErrorKind::LengthTooLarge {
                declared,
                remaining,
                ..
            } => declared.saturating_sub(remaining),
            _ => 0,
        }
    }

    /// True when the error means "the input ended too early" (a truncated file, or a
    /// streaming buffer that needs more bytes).
    pub fn is_eof(&self) -> bool {
        matches!(self.kind, ErrorKind::UnexpectedEof { .. })
            || matches!(self.kind, ErrorKind::LengthTooLarge { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: {}", self.offset, self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ErrorKind::UnexpectedEof { what, needed } => {
                write!(
                    f,
                    "unexpected end of input: expected {needed} more byte(s) of {what}"
                )
            }
            ErrorKind::BadMagic => f.write_str(
                "expected an RDB header (\"REDIS\" + 4 digits or \"VALKEY\" + 3 digits)",
            ),
            ErrorKind::UnsupportedVersion(v) => write!(f, "unsupported RDB version {v}"),
            ErrorKind::UnknownOpcode(b) => write!(
                f,
                "expected an opcode or value type, found unknown byte {b}"
            ),
            ErrorKind::UnknownValueType(t) => write!(f, "unknown value type {t}"),
            ErrorKind::BadLength(b) => {
                write!(f, "expected a length, found invalid length byte 0x{b:02x}")
            }
            ErrorKind::EncodedLengthNotAllowed(b) => {
                write!(
                    f,
                    "expected a plain length, found string encoding byte 0x{b:02x}"
                )
            }
            ErrorKind::BadStringEncoding(b) => write!(
                f,
                "expected a string, found unknown string encoding {}",
                b & 0x3f
            ),
            ErrorKind::LengthTooLarge {
                what,
                declared,
                remaining,
            } => write!(
                f,
                "{what} declares {declared} byte(s) but only {remaining} remain"
            ),
            ErrorKind::Lzf(why) => write!(f, "invalid LZF compressed string: {why}"),
            ErrorKind::Blob { blob, at, reason } => {
                write!(f, "invalid {blob} at byte {at} of the blob: {reason}")
            }
            ErrorKind::Invalid(why) => f.write_str(why),
            ErrorKind::Unsupported(why) => write!(f, "unsupported: {why}"),
            ErrorKind::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: file says 0x{stored:016x}, contents give 0x{computed:016x}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias for parser operations.
pub type Result<T> = std::result::Result<T, Error>;
