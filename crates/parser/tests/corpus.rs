//! Every dump of `../shared/corpus` is read to its end, its checksum verified, and its keys
//! equal the server-measured `truth.jsonl` plus the keys the manifest says expired at load.

use rdbscope_parser::{checksum, Element, Record, Records, Scratch};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus_dir() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
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

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Reads every record and returns (db, key hex, type name) for each key, walking every value
/// fully (elements, stream groups) so that inner decoding is exercised too.
fn read_all(data: &[u8]) -> Result<Vec<(u64, String, &'static str)>, rdbscope_parser::Error> {
    let mut out = Vec::new();
    let mut scratch = Scratch::new();
    let mut eof = None;
    for rec in Records::new(data)? {
        match rec? {
            Record::Key(k) => {
                let key = k.key.to_vec()?;
                let mut lens = Vec::new();
                k.value.for_each_element(&mut scratch, |e| match e {
                    Element::Item(s) | Element::Scored(s, _) => lens.push(s.len()),
                    Element::Field(f, v, _) => lens.extend([f.len(), v.len()]),
                })?;
                let mut walked = Vec::new();
                if k.value.for_each_len(|l| walked.push(l))? {
                    assert_eq!(walked, lens, "for_each_len of {:?}", k.value.kind());
                }
                if let Some(s) = k.value.stream()? {
                    s.for_each_node(|_| Ok(()))?;
                    s.for_each_group(|g| g.for_each_consumer(|_| Ok(())))?;
                }
                out.push((k.db, hex(&key), k.value.data_type().as_str()));
            }
            Record::Eof {
                offset,
                stored_checksum,
                end,
            } => {
                assert_eq!(end as usize, data.len(), "trailing bytes after EOF");
                if let Some(s) = stored_checksum.filter(|&s| s != 0) {
                    let computed = checksum::crc64(&data[..=offset as usize]);
                    assert_eq!(s, computed, "checksum mismatch");
                }
                eof = Some(offset);
            }
            _ => {}
        }
    }
    assert!(eof.is_some(), "no EOF record");
    Ok(out)
}

#[test]
fn corpus_keys_match_truth() {
    let Some(dir) = corpus_dir() else { return };
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        let dump = entry.join("dump.rdb");
        if !dump.is_file() {
            continue;
        }
        let data = std::fs::read(&dump).unwrap();
        let keys = read_all(&data).unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
        let got: BTreeSet<(u64, String, String)> = keys
            .iter()
            .map(|(d, k, t)| (*d, k.clone(), t.to_string()))
            .collect();
        assert_eq!(got.len(), keys.len(), "{}: duplicate keys", dump.display());

        let mut want = BTreeSet::new();
        for line in std::fs::read_to_string(entry.join("truth.jsonl"))
            .unwrap()
            .lines()
        {
            let j: Json = serde_json::from_str(line).unwrap();
            want.insert((
                j["db"].as_u64().unwrap(),
                j["key_hex"].as_str().unwrap().to_string(),
                j["type"].as_str().unwrap().to_string(),
            ));
        }
        let manifest: Json =
            serde_json::from_str(&std::fs::read_to_string(entry.join("manifest.json")).unwrap())
                .unwrap();
        let dropped: BTreeSet<(u64, String)> = manifest["keys_dropped_on_load"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|k| {
                        (
                            k["db"].as_u64().unwrap(),
                            k["key_hex"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Keys in the file that the loading server dropped: exactly the manifest's list.
        let extra: BTreeSet<(u64, String)> = got
            .iter()
            .filter(|k| !want.contains(*k))
            .map(|(d, k, _)| (*d, k.clone()))
            .collect();
        let missing: Vec<_> = want.iter().filter(|k| !got.contains(*k)).collect();
        assert!(
            missing.is_empty(),
            "{}: keys in truth not found with the same db/type: {missing:?}",
            dump.display()
        );
        assert_eq!(
            extra,
            dropped,
            "{}: keys in the file but not in truth",
            dump.display()
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} corpus dumps found");
}
