//! How key names are written in reports: keys are arbitrary bytes.

use base64::Engine;
use std::fmt::Write;

/// Key escaping modes (`--escape`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Escape {
    /// Printable UTF-8 as is, `\xNN` for every other byte (and `\\` for a backslash).
    Print,
    /// Valid UTF-8 as is (control characters included), `\xNN` for invalid bytes.
    Utf8,
    /// Lowercase hex of the bytes.
    Hex,
    /// Standard base64 of the bytes.
    Base64,
}

/// Renders `key` under `mode`.
pub fn escape(key: &[u8], mode: Escape) -> String {
    let mut out = String::new();
    escape_into(key, mode, &mut out);
    out
}

/// [`escape`] into `out` (cleared first), so that a caller writing millions of keys reuses
/// one buffer.
pub fn escape_into(key: &[u8], mode: Escape, out: &mut String) {
    out.clear();
    match mode {
        Escape::Hex => {
            out.reserve(key.len() * 2);
            for b in key {
                let _ = write!(out, "{b:02x}");
            }
        }
        Escape::Base64 => base64::engine::general_purpose::STANDARD.encode_string(key, out),
        Escape::Print => rdbscope_analysis::report::escape_key_into(key, out),
        Escape::Utf8 => {
            out.reserve(key.len());
            for chunk in key.utf8_chunks() {
                out.push_str(chunk.valid());
                for byte in chunk.invalid() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_print_binary() {
        assert_eq!(
            escape(b"a\x00\xff\n\\b", Escape::Print),
            "a\\x00\\xff\\x0a\\\\b"
        );
        assert_eq!(escape("ключ".as_bytes(), Escape::Print), "ключ");
    }

    #[test]
    fn escape_other_modes() {
        assert_eq!(escape(b"\x00\xab", Escape::Hex), "00ab");
        assert_eq!(escape(b"hi", Escape::Base64), "aGk=");
        assert_eq!(escape(b"a\n\xff", Escape::Utf8), "a\n\\xff");
    }

    #[test]
    fn escape_into_reuses_a_dirty_buffer() {
        let mut out = String::from("left over");
        let keys: [&[u8]; 4] = [b"user:1", b"a\\b\x01", "кл\u{7f}ю".as_bytes(), b"\xc3("];
        for mode in [Escape::Print, Escape::Utf8, Escape::Hex, Escape::Base64] {
            for key in keys {
                escape_into(key, mode, &mut out);
                assert_eq!(out, escape(key, mode), "{mode:?} {key:?}");
            }
        }
        escape_into(b"a\\b", Escape::Print, &mut out);
        assert_eq!(out, "a\\\\b");
    }
}
