//! Reading a `redis.conf` / `valkey.conf` for the loading server's settings, `include`
//! lines followed, and remembering where each applied setting came from.

use rdbscope_analysis::model::Thresholds;
use rdbscope_analysis::report::Setting;
use std::path::Path;

/// How deep `include` lines may nest (Redis itself has no limit; a cycle must end).
const MAX_INCLUDE_DEPTH: usize = 8;

/// Why a config file could not be applied.
#[derive(Debug)]
pub enum ConfError {
    /// A file cannot be read (exit 1).
    Io(String),
    /// A known setting has a bad value, or includes nest too deep (exit 2).
    Invalid(String),
}

/// The settings read so far and where each came from.
#[derive(Debug, Default)]
pub struct Applied {
    /// `(name, from)` of every setting a file or `--config` set, in order.
    pub set: Vec<(String, String)>,
    /// The files read: the one given, then those it includes.
    pub files: Vec<Setting>,
}

impl Applied {
    /// Where `name` got its value (the last writer wins, as in Redis).
    pub fn from(&self, name: &str) -> &str {
        self.set
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map_or("default", |(_, f)| f.as_str())
    }
}

/// Applies `path` to `t`, following `include` lines (paths as the server reads them:
/// relative to the working directory).
///
/// # Errors
/// A file that cannot be read; a bad value of a known setting; includes nested too deep.
pub fn apply(
    path: &Path,
    t: &mut Thresholds,
    applied: &mut Applied,
    depth: usize,
    by: &str,
) -> Result<(), ConfError> {
    let name = path.display().to_string();
    if depth > MAX_INCLUDE_DEPTH {
        return Err(ConfError::Invalid(format!(
            "{by}: includes nest more than {MAX_INCLUDE_DEPTH} deep at {name} (a cycle?)"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfError::Io(format!("{by}: {name}: cannot read: {e}")))?;
    applied.files.push(Setting {
        name: if depth == 0 { "redis-conf" } else { "include" }.to_string(),
        value: name.clone(),
        from: by.to_string(),
    });
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut it = line.splitn(2, char::is_whitespace);
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        let at = format!("{name} line {}", i + 1);
        if k.eq_ignore_ascii_case("include") {
            apply(
                Path::new(v),
                t,
                applied,
                depth + 1,
                &format!("include in {at}"),
            )?;
            continue;
        }
        match t.set(k, v) {
            Ok(true) => applied
                .set
                .push((k.to_ascii_lowercase().replace("ziplist", "listpack"), at)),
            Ok(false) => {}
            Err(e) => return Err(ConfError::Invalid(format!("{at}: {e}"))),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_follows_includes_and_records_where_from() {
        let dir = tempfile::tempdir().unwrap();
        let inc = dir.path().join("inc.conf");
        std::fs::write(&inc, "maxmemory 40mb\n").unwrap();
        let main = dir.path().join("redis.conf");
        std::fs::write(
            &main,
            format!("hash-max-ziplist-entries 64\ninclude {}\n", inc.display()),
        )
        .unwrap();
        let mut t = Thresholds::default();
        let mut a = Applied::default();
        apply(&main, &mut t, &mut a, 0, "--redis-conf").unwrap();
        assert_eq!(t.hash_entries, 64);
        assert_eq!(t.maxmemory, 40 << 20);
        assert!(a.from("maxmemory").contains("inc.conf line 1"));
        assert_eq!(a.from("zset-max-listpack-entries"), "default");
        assert_eq!(a.files.len(), 2);
    }

    #[test]
    fn apply_missing_include_is_an_io_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("redis.conf");
        std::fs::write(&main, "include /nonexistent/x.conf\n").unwrap();
        let e = apply(
            &main,
            &mut Thresholds::default(),
            &mut Applied::default(),
            0,
            "--redis-conf",
        );
        match e {
            Err(ConfError::Io(m)) => assert!(m.contains("line 1") && m.contains("x.conf"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn apply_include_cycle_ends() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("redis.conf");
        std::fs::write(&main, format!("include {}\n", main.display())).unwrap();
        let e = apply(
            &main,
            &mut Thresholds::default(),
            &mut Applied::default(),
            0,
            "--redis-conf",
        );
        assert!(matches!(e, Err(ConfError::Invalid(_))));
    }
}
