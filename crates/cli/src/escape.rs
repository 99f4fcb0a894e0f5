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
    match mode {
        Escape::Hex => key
            .iter()
            .fold(String::with_capacity(key.len() * 2), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            }),
        Escape::Base64 => base64::engine::general_purpose::STANDARD.encode(key),
        Escape::Print | Escape::Utf8 => {
            let mut out = String::with_capacity(key.len());
            for chunk in key.utf8_chunks() {
                for ch in chunk.valid().chars() {
                    let printable = !ch.is_control() && ch != '\\';
                    if mode == Escape::Utf8 || printable {
                        out.push(ch);
                    } else if ch == '\\' {
                        out.push_str("\\\\");
                    } else {
                        let mut b = [0u8; 4];
                        for byte in ch.encode_utf8(&mut b).bytes() {
                            let _ = write!(out, "\\x{byte:02x}");
                        }
                    }
                }
                for byte in chunk.invalid() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
            out
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
}
