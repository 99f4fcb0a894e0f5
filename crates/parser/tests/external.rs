//! Every public fixture in `../shared/corpus/external` is read to its end, except the few
//! that are deliberately damaged, which must fail with a clear error.

use rdbscope_parser::{checksum, Record, Records, Scratch};
use std::path::{Path, PathBuf};

fn external_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/external");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!(
            "skipping: {} not found (the shared corpus is not beside the repo)",
            d.display()
        );
        None
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rdb") {
            out.push(p);
        }
    }
}

/// Reads a file completely; returns the number of keys or the first error as text.
fn read(data: &[u8]) -> Result<usize, String> {
    let mut scratch = Scratch::new();
    let mut keys = 0;
    for rec in Records::new(data).map_err(|e| e.to_string())? {
        match rec.map_err(|e| e.to_string())? {
            Record::Key(k) => {
                k.key.to_vec().map_err(|e| e.to_string())?;
                k.value
                    .for_each_element(&mut scratch, |_| {})
                    .map_err(|e| e.to_string())?;
                keys += 1;
            }
            Record::Eof {
                offset,
                stored_checksum: Some(s),
                ..
            } if s != 0 => {
                let c = checksum::crc64(&data[..=offset as usize]);
                if c != s {
                    return Err(format!("checksum mismatch {s:x} {c:x}"));
                }
            }
            _ => {}
        }
    }
    Ok(keys)
}

/// Files that are damaged on purpose (their names say so), and the error each must give.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    ("corrupt_ziplist.rdb", "ziplist"),
    ("invalid_chksum_v8.rdb", "checksum mismatch"),
    // librdb edited the version digits of a valid file to test future versions; the CRC
    // still covers the original bytes.
    ("future_v19.rdb", "checksum mismatch"),
];

#[test]
fn external_fixtures_read_to_end() {
    let Some(dir) = external_dir() else { return };
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    assert!(files.len() > 100, "only {} external dumps", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let name = f.file_name().unwrap().to_str().unwrap();
        let result = read(&data);
        match EXPECTED_FAILURES.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => match &result {
                Err(e) if e.contains(why) => {}
                other => failures.push(format!(
                    "{}: expected an error about {why}, got {other:?}",
                    f.display()
                )),
            },
            None => {
                if let Err(e) = result {
                    failures.push(format!("{}: {e}", f.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
