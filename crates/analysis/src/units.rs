//! Byte counts as people write them on the command line.

/// Parses `1048576`, `500k`, `1.5GiB`, `64 MB`: a number (a fraction allowed with a unit)
/// and an optional unit, case-insensitive. `k`/`m`/`g`/`t` are powers of 1000 and
/// `kb`/`mb`/`gb`/`tb` powers of 1024, as in `redis.conf`; `KiB`/`MiB`/`GiB`/`TiB` are
/// powers of 1024; `b` is bytes.
///
/// # Errors
/// Anything else, with what was expected.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mul: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "kb" | "kib" => 1024.0,
        "mb" | "mib" => 1_048_576.0,
        "gb" | "gib" => 1_073_741_824.0,
        "tb" | "tib" => 1_099_511_627_776.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (expected b, k, m, g, kb, mb, gb, KiB, MiB, GiB)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a byte count such as 1048576, 500k or 1.5GiB"))?;
    let v = (n * mul).round();
    if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
        return Err(format!("{s:?}: out of range"));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bytes_units() {
        assert_eq!(parse_bytes("1048576"), Ok(1 << 20));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("1mb"), Ok(1 << 20));
        assert_eq!(parse_bytes("500k"), Ok(500_000));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("64 KB"), Ok(65_536));
        assert!(parse_bytes("12 parsecs").is_err());
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("").is_err());
    }
}
