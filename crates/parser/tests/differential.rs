//! Differential test against an independent decoder, the `rdb` crate (0.4).
//!
//! For every dump the `rdb` crate can read (the shared corpus's `*/dump.rdb`, every `.rdb`
//! under `corpus/external`, and the repo's `fixtures/*.rdb`), every key it reports must
//! decode identically here: db, key bytes, expiry, and the value (strings; list items in
//! order; set members as a sorted multiset; hash field → value maps; zset member → score,
//! scores bit-exact or both NaN). The `rdb` crate skips streams and module values, so ours
//! are skipped too, and the keys must line up one for one in file order.
//!
//! Files the `rdb` crate cannot read are skipped only when they are in
//! [`ORACLE_CANNOT_READ`] with the reason it gives; any other skip, or comparing fewer than
//! [`MIN_COMPARED_PERCENT`] of the dumps found, fails the test.

use rdb::{filter::Simple, RdbDecoder, RdbValue};
use rdbscope_parser::{DataType, Element, Record, Records, Scratch};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Dumps the `rdb` crate fails on, by path suffix, with a substring of its error: each is a
/// limit of that crate or a file damaged on purpose.
const ORACLE_CANNOT_READ: &[(&str, &str)] = &[
    // It only accepts the `REDIS` magic; Valkey 9 writes `VALKEY080`.
    ("/valkey-9.0.4/dump.rdb", "missing REDIS magic"),
    (
        "/valkey-9.0.4--big-encodings/dump.rdb",
        "missing REDIS magic",
    ),
    ("/valkey-9.0.4--cluster/dump.rdb", "missing REDIS magic"),
    (
        "/hdt3213-rdb/cases/valkey_hash2_with_hfe.rdb",
        "missing REDIS magic",
    ),
    // It reads RDB 1 to 13; librdb edited this file's version digits to 0099.
    (
        "/redis-librdb/test/dumps/future_v19.rdb",
        "Unsupported RDB version 99",
    ),
    // Redis Enterprise's RAM-LRU opcode (107) is read as a value type and the file derails.
    (
        "/redis-librdb/test/dumps/redis_ent_opcode_ram_lru.rdb",
        "unexpected end of file",
    ),
    // Redis 7.0 release candidates' FUNCTION_PRE_GA opcode (246) is refused.
    ("/redis-rdb-cli/rct/all.rdb", "pre-release function format"),
    ("/redis-rdb-cli/rdt/34.rdb", "pre-release function format"),
    ("/redis-rdb-cli/rdt/dump.rdb", "pre-release function format"),
    (
        "/redis-rdb-cli/rdt/filter.rdb",
        "pre-release function format",
    ),
    (
        "/redis-rdb-cli/rdt/filter1.rdb",
        "pre-release function format",
    ),
    ("/redis-rdb-cli/rmt/dump.rdb", "pre-release function format"),
    // Damaged on purpose (Redis's corrupt-dump tests); our parser rejects it too
    // (tests/external.rs).
    (
        "/redis-tests-assets/corrupt_ziplist.rdb",
        "failed to fill whole buffer",
    ),
];

/// The share of dumps that must be compared (not skipped) for the test to pass.
const MIN_COMPARED_PERCENT: usize = 90;

/// A zset score compared bit for bit, with every NaN equal to every other NaN.
#[derive(Debug, Clone, Copy)]
struct Score(f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        (self.0.is_nan() && other.0.is_nan()) || self.0.to_bits() == other.0.to_bits()
    }
}

/// A decoded value in a form both decoders can produce.
#[derive(Debug, PartialEq)]
enum Decoded {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    /// Members sorted (a multiset: duplicates kept).
    Set(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Zset(BTreeMap<Vec<u8>, Score>),
}

impl Decoded {
    fn type_name(&self) -> &'static str {
        match self {
            Decoded::String(_) => "string",
            Decoded::List(_) => "list",
            Decoded::Set(_) => "set",
            Decoded::Hash(_) => "hash",
            Decoded::Zset(_) => "zset",
        }
    }
}

/// One key as a decoder reports it.
#[derive(Debug, PartialEq)]
struct Key {
    db: u64,
    key: Vec<u8>,
    expire_ms: Option<i64>,
    value: Decoded,
}

/// What the `rdb` crate reports: its keys in file order, or why it could not read the file.
fn oracle_keys(data: &[u8]) -> Result<Vec<Key>, String> {
    let decoder = RdbDecoder::new(data, Simple::new()).map_err(|e| e.to_string())?;
    let mut db = 0u64;
    let mut keys = Vec::new();
    for item in decoder {
        let (key, expiry, value) = match item.map_err(|e| e.to_string())? {
            RdbValue::SelectDb(d) => {
                db = u64::from(d);
                continue;
            }
            RdbValue::String { key, value, expiry } => (key, expiry, Decoded::String(value)),
            RdbValue::List {
                key,
                values,
                expiry,
            } => (key, expiry, Decoded::List(values)),
            RdbValue::Set {
                key,
                mut members,
                expiry,
            } => {
                members.sort_unstable();
                (key, expiry, Decoded::Set(members))
            }
            RdbValue::Hash {
                key,
                values,
                expiry,
            } => (key, expiry, Decoded::Hash(values.into_iter().collect())),
            RdbValue::SortedSet {
                key,
                values,
                expiry,
            } => {
                let map = values.into_iter().map(|(s, m)| (m, Score(s))).collect();
                (key, expiry, Decoded::Zset(map))
            }
            RdbValue::ResizeDb { .. } | RdbValue::AuxField { .. } | RdbValue::Checksum(_) => {
                continue
            }
        };
        keys.push(Key {
            db,
            key,
            // The crate reads the expiry as u64; the file holds an i64.
            expire_ms: expiry.map(|e| e as i64),
            value,
        });
    }
    Ok(keys)
}

/// Decodes one of our key records into the comparable form.
fn ours(k: &rdbscope_parser::KeyRecord<'_>, scratch: &mut Scratch) -> Result<Key, String> {
    let key = k.key.to_vec().map_err(|e| e.to_string())?;
    let ty = k.value.data_type();
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut fields: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut scores: BTreeMap<Vec<u8>, Score> = BTreeMap::new();
    k.value
        .for_each_element(scratch, |e| match e {
            Element::Item(s) => items.push(s.to_vec()),
            Element::Field(f, v, _) => {
                fields.insert(f.to_vec(), v.to_vec());
            }
            Element::Scored(m, s) => {
                scores.insert(m.to_vec(), Score(s));
            }
        })
        .map_err(|e| e.to_string())?;
    let value = match ty {
        DataType::String => match <[Vec<u8>; 1]>::try_from(items) {
            Ok([s]) => Decoded::String(s),
            Err(items) => return Err(format!("string with {} elements", items.len())),
        },
        DataType::List => Decoded::List(items),
        DataType::Set => {
            items.sort_unstable();
            Decoded::Set(items)
        }
        DataType::Hash => Decoded::Hash(fields),
        DataType::Zset => Decoded::Zset(scores),
        DataType::Stream | DataType::Module => unreachable!("filtered by the caller"),
    };
    Ok(Key {
        db: k.db,
        key,
        expire_ms: k.expire_ms,
        value,
    })
}

/// Bytes for a message: printable ASCII kept, the rest escaped, long strings cut.
fn show(b: &[u8]) -> String {
    const MAX: usize = 48;
    let mut s = String::new();
    for &c in b.iter().take(MAX) {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(char::from(c));
        } else {
            let _ = write!(s, "\\x{c:02x}");
        }
    }
    if b.len() > MAX {
        let _ = write!(s, "…({} bytes)", b.len());
    }
    format!("\"{s}\"")
}

fn diff_seq(ours: &[Vec<u8>], theirs: &[Vec<u8>]) -> String {
    if let Some(i) = ours.iter().zip(theirs).position(|(a, b)| a != b) {
        return format!(
            "element {i}: ours {} vs theirs {}",
            show(&ours[i]),
            show(&theirs[i])
        );
    }
    format!("ours has {} elements, theirs {}", ours.len(), theirs.len())
}

fn diff_map<V: PartialEq + std::fmt::Debug>(
    ours: &BTreeMap<Vec<u8>, V>,
    theirs: &BTreeMap<Vec<u8>, V>,
) -> String {
    for (k, v) in ours {
        match theirs.get(k) {
            None => return format!("{} only in ours", show(k)),
            Some(t) if t != v => return format!("{}: ours {v:?} vs theirs {t:?}", show(k)),
            _ => {}
        }
    }
    match theirs.keys().find(|k| !ours.contains_key(*k)) {
        Some(k) => format!("{} only in theirs", show(k)),
        None => "maps differ".to_string(),
    }
}

/// A short description of how two keys differ.
fn diff(ours: &Key, theirs: &Key) -> String {
    if ours.key != theirs.key {
        return format!(
            "key: ours {} vs theirs {}",
            show(&ours.key),
            show(&theirs.key)
        );
    }
    let mut out = format!("key {}: ", show(&ours.key));
    if ours.db != theirs.db {
        let _ = write!(out, "db ours {} vs theirs {}", ours.db, theirs.db);
    } else if ours.expire_ms != theirs.expire_ms {
        let _ = write!(
            out,
            "expiry ours {:?} vs theirs {:?}",
            ours.expire_ms, theirs.expire_ms
        );
    } else {
        let d = match (&ours.value, &theirs.value) {
            (Decoded::String(a), Decoded::String(b)) => {
                format!("value ours {} vs theirs {}", show(a), show(b))
            }
            (Decoded::List(a), Decoded::List(b)) | (Decoded::Set(a), Decoded::Set(b)) => {
                diff_seq(a, b)
            }
            (Decoded::Hash(a), Decoded::Hash(b)) => diff_map(a, b),
            (Decoded::Zset(a), Decoded::Zset(b)) => diff_map(a, b),
            (a, b) => format!("type ours {} vs theirs {}", a.type_name(), b.type_name()),
        };
        out.push_str(&d);
    }
    out
}

/// How comparing one file went.
enum Outcome {
    /// Keys compared per type, and stream/module keys skipped on our side.
    Compared {
        keys: BTreeMap<&'static str, usize>,
        skipped: usize,
    },
    /// The `rdb` crate could not read the file.
    OracleFailed(String),
}

/// Compares one file; `Err` describes the first disagreement.
fn compare(data: &[u8]) -> Result<Outcome, String> {
    let theirs = match oracle_keys(data) {
        Ok(k) => k,
        Err(e) => return Ok(Outcome::OracleFailed(e)),
    };
    let mut scratch = Scratch::new();
    let mut next = theirs.iter();
    let (mut keys, mut skipped) = (BTreeMap::new(), 0);
    let records = Records::new(data).map_err(|e| format!("our parser: {e}"))?;
    for rec in records {
        let Record::Key(k) = rec.map_err(|e| format!("our parser: {e}"))? else {
            continue;
        };
        if matches!(k.value.data_type(), DataType::Stream | DataType::Module) {
            skipped += 1;
            continue;
        }
        let mine = ours(&k, &mut scratch).map_err(|e| {
            format!(
                "our parser on key {}: {e}",
                show(&k.key.to_vec().unwrap_or_default())
            )
        })?;
        let Some(t) = next.next() else {
            return Err(format!(
                "key {} (offset {}) not reported by the rdb crate",
                show(&mine.key),
                k.offset
            ));
        };
        if mine != *t {
            return Err(format!("offset {}: {}", k.offset, diff(&mine, t)));
        }
        *keys.entry(mine.value.type_name()).or_insert(0) += 1;
    }
    if let Some(t) = next.next() {
        return Err(format!(
            "the rdb crate reports key {} that we do not",
            show(&t.key)
        ));
    }
    Ok(Outcome::Compared { keys, skipped })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rdb") {
            out.push(p);
        }
    }
}

/// Every dump to compare: corpus dumps and external fixtures when the shared corpus is
/// present, and the repo's fixtures always.
fn dumps() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let corpus = manifest.join("../../../shared/corpus");
    if let Ok(corpus) = corpus.canonicalize() {
        if let Ok(rd) = std::fs::read_dir(&corpus) {
            for e in rd.flatten() {
                let d = e.path().join("dump.rdb");
                if d.is_file() {
                    files.push(d);
                }
            }
        }
        walk(&corpus.join("external"), &mut files);
    } else {
        eprintln!(
            "skipping the shared corpus: {} not found (it is not beside the repo); \
             comparing the repo fixtures only",
            corpus.display()
        );
    }
    let fixtures = manifest.join("../../fixtures");
    if let Ok(rd) = std::fs::read_dir(fixtures.canonicalize().unwrap_or(fixtures)) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rdb") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn keys_match_the_rdb_crate() {
    let files = dumps();
    assert!(
        !files.is_empty(),
        "no dumps found (not even fixtures/*.rdb)"
    );
    let (mut compared, mut streams_modules) = (0usize, 0usize);
    let mut keys: BTreeMap<&str, usize> = BTreeMap::new();
    let mut skips = Vec::new();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.display().to_string();
        let data = std::fs::read(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        match compare(&data) {
            Ok(Outcome::Compared { keys: n, skipped }) => {
                compared += 1;
                for (t, c) in n {
                    *keys.entry(t).or_insert(0) += c;
                }
                streams_modules += skipped;
            }
            Ok(Outcome::OracleFailed(why)) => {
                eprintln!("skipped (the rdb crate cannot read it): {name}: {why}");
                let allowed = ORACLE_CANNOT_READ
                    .iter()
                    .any(|(suffix, msg)| name.ends_with(suffix) && why.contains(msg));
                if !allowed {
                    failures.push(format!(
                        "{name}: the rdb crate fails ({why}) and the file is not in \
                         ORACLE_CANNOT_READ"
                    ));
                }
                skips.push(name);
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    eprintln!(
        "compared {compared} of {} dumps (keys per type {keys:?}; {streams_modules} \
         stream/module keys not decoded by the rdb crate); skipped {}",
        files.len(),
        skips.len()
    );
    for f in &failures {
        eprintln!("FAILED {f}");
    }
    assert!(
        skips.len() <= ORACLE_CANNOT_READ.len(),
        "skipped {} dumps, more than the {} allowed",
        skips.len(),
        ORACLE_CANNOT_READ.len()
    );
    assert!(
        compared * 100 >= files.len() * MIN_COMPARED_PERCENT,
        "compared only {compared} of {} dumps",
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn score_equality_is_bitwise_with_nan_equal() {
    assert_eq!(Score(f64::NAN), Score(-f64::NAN));
    assert_ne!(Score(0.0), Score(-0.0));
    assert_eq!(Score(1.5), Score(1.5));
}
