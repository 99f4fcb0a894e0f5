//! Telling a wrong file from a damaged dump by its first bytes, so that a text file, an
//! archive or a compressed backup is never reported as a damaged RDB.

/// Bytes looked at.
pub const HEAD: usize = 1024;

/// What a file that cannot be an RDB input looks like, or `None` when it may be one (an RDB
/// or AOF-with-preamble header, a compressed stream of [`crate::codec::CODECS`], the `VCS`
/// envelope, or a prefix of one of them, the empty file included: a dump cut short inside its header is damaged, not wrong).
pub fn wrong_file(head: &[u8]) -> Option<String> {
    const MAGICS: [&[u8]; 4] = [b"REDIS", b"VALKEY", b"VCS", &[0x04, 0x22, 0x4D, 0x18]];
    if MAGICS
        .iter()
        .any(|m| head.starts_with(m) || m.starts_with(head))
        || crate::codec::detect(head).is_some()
    {
        return None;
    }
    // A magic with a byte or two flipped is a damaged dump, not another kind of file.
    let near = |m: &[u8]| m.iter().zip(head).filter(|(a, b)| a == b).count() * 2 > m.len();
    if near(b"REDIS00") || near(b"VALKEY0") {
        return None;
    }
    if head.starts_with(b"PK\x03\x04") {
        return Some("this is a zip archive, not an RDB: extract the dump first".into());
    }
    if head.get(257..262) == Some(b"ustar") {
        let inner = head.get(512..).unwrap_or(&[]);
        return Some(
            if inner.starts_with(b"REDIS") || inner.starts_with(b"VALKEY") {
                "this is an RDB inside a tar archive: extract it first (tar -xf FILE)".into()
            } else {
                "this is a tar archive, not an RDB: extract the dump first (tar -xf FILE)".into()
            },
        );
    }
    if head.starts_with(b"*") && head.windows(2).any(|w| w == b"\r\n") {
        return Some(
            "this is an append-only file of commands with no RDB preamble: rdbscope reads \
             RDB files and AOFs that start with one (aof-use-rdb-preamble yes)"
                .into(),
        );
    }
    let text = std::str::from_utf8(head)
        .unwrap_or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""));
    let printable = text
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    if text.len() * 10 >= head.len() * 9 && printable * 10 >= text.chars().count() * 9 {
        let first = text.lines().next().unwrap_or("").trim();
        let first: String = first.chars().take(40).collect();
        let what = if text.contains("redis_version:") || text.contains("valkey_version:") {
            " (the output of INFO, not a dump)"
        } else if text.starts_with("id=") && text.contains(" addr=") {
            " (the output of CLIENT LIST, not a dump)"
        } else {
            ""
        };
        return Some(format!(
            "this looks like text{what}: `{first}`…, not an RDB"
        ));
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Some(format!(
        "not an RDB file: it starts with {} (expected REDIS or VALKEY)",
        hex.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_file_rdb_and_prefixes_are_not_wrong() {
        assert_eq!(wrong_file(b"REDIS0011\xfa"), None);
        assert_eq!(wrong_file(b"REDI"), None);
        assert_eq!(wrong_file(b"VALKEY080"), None);
        assert_eq!(wrong_file(b"RED\xe8S0011"), None);
        assert_eq!(wrong_file(&[0x04, 0x22, 0x4D, 0x18, 0x64]), None);
    }

    #[test]
    fn wrong_file_names_the_kind() {
        assert_eq!(wrong_file(b""), None);
        // Compressed streams are read, not refused: their contents are sniffed again.
        assert_eq!(wrong_file(&[0x1f, 0x8b, 8, 0]), None);
        assert_eq!(wrong_file(&[0x28, 0xb5, 0x2f, 0xfd]), None);
        assert_eq!(wrong_file(b"BZh91AY"), None);
        assert!(wrong_file(b"# Server\r\nredis_version:7.0.15\r\n")
            .unwrap()
            .contains("INFO"));
        assert!(wrong_file(b"*2\r\n$6\r\nSELECT\r\n")
            .unwrap()
            .contains("append-only"));
        let mut tar = vec![0u8; 600];
        tar[..8].copy_from_slice(b"dump.rdb");
        tar[257..262].copy_from_slice(b"ustar");
        tar[512..517].copy_from_slice(b"REDIS");
        assert!(wrong_file(&tar).unwrap().contains("RDB inside a tar"));
        assert!(wrong_file(&[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3])
            .unwrap()
            .contains("de ad be ef"));
    }
}
