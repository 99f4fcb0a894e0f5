//! Damaged and hostile input end to end (issue 6): partial output from every command,
//! value-level anomalies that do not end the run, checksum mismatches, hand-made hostile
//! files under a memory limit, the input left untouched, resident memory on big values,
//! and truncation / corruption sweeps over the fixtures and corpus dumps through the binary.
//! (The dense sweeps run in-process in `crates/analysis/tests/sweep.rs`.)

use super::{fixture, rdbscope};
use rdbscope_testwriter::dumps::fixtures;
use rdbscope_testwriter::encode::{self, len, string};
use rdbscope_testwriter::{ty, value, Listpack, RdbWriter, Ziplist};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// Generous bound for one run on a tiny input: a hang fails the test instead of stalling it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Address-space limit for runs on hostile input: the binary and its threads fit in 64 MiB
/// on a fixture (measured), so an allocation sized by a declared length or count aborts.
const HOSTILE_AS_LIMIT: u64 = 256 << 20;

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).unwrap();
    p
}

/// Runs `rdbscope args...` with a time limit, under `prlimit --as` when `guard` and the
/// tool exists.
fn run(args: &[&str], guard: bool) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("rdbscope");
    let prlimit = Path::new("/usr/bin/prlimit");
    let mut cmd = if guard && prlimit.exists() {
        let mut c = assert_cmd::Command::new(prlimit);
        c.arg(format!("--as={HOSTILE_AS_LIMIT}")).arg(&bin);
        c
    } else {
        assert_cmd::Command::new(&bin)
    };
    cmd.args(args)
        .timeout(RUN_LIMIT)
        .output()
        .expect("rdbscope ran within the time limit")
}

/// The offset in a `...: offset N: ...` damage line.
fn offset_in(stderr: &str) -> u64 {
    stderr
        .split("offset ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no offset in {stderr:?}"))
}

/// The checks every run on damaged input must pass: exit 3, a stderr line naming the
/// file and an offset at or before `limit`, no panic.
fn assert_damaged(out: &Output, file: &Path, limit: u64, what: &str) -> u64 {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: panic: {err}");
    assert_eq!(out.status.code(), Some(3), "{what}: {err}");
    let name = file.display().to_string();
    assert!(err.contains(&format!("{name}: offset ")), "{what}: {err}");
    let off = offset_in(&err);
    assert!(off <= limit, "{what}: offset {off} past {limit}");
    off
}

/// Parses `analyze --json -` output and checks the partial-report fields.
fn partial_json(out: &Output, len: u64, what: &str) -> Value {
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: JSON not well-formed: {e}"));
    assert_eq!(r["complete"], false, "{what}");
    let f = &r["files"][0];
    assert_eq!(f["complete"], false, "{what}");
    if let Some(off) = f["damage"]["offset"].as_u64() {
        assert!(off <= len, "{what}: damage at {off} past {len}");
        assert_eq!(
            f["damage"]["unread_bytes"].as_u64(),
            Some(len - off),
            "{what}"
        );
        let msg = f["damage"]["message"].as_str().unwrap();
        assert!(msg.contains(&format!("offset {off}")), "{what}: {msg}");
    } else {
        assert_eq!(
            f["checksum_mismatch"].as_array().map(Vec::len),
            Some(2),
            "{what}"
        );
    }
    r
}

// ---- 1. Partial output from every command --------------------------------------------------

#[test]
fn keys_damaged_input_every_format_stays_well_formed() {
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [60usize, 1000, data.len() / 2, data.len() - 3] {
        let p = write(dir.path(), "cut.rdb", &data[..cut]);
        let ps = p.to_str().unwrap();
        for no_mmap in [false, true] {
            let mmap_arg: &[&str] = if no_mmap { &["--no-mmap"] } else { &[] };
            let what = format!("cut {cut} no_mmap {no_mmap}");
            // JSON lines: every line parses, every key lies before the cut.
            let out = run(&[&["keys", ps][..], mmap_arg].concat(), false);
            let off = assert_damaged(&out, &p, cut as u64, &what);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("expected") || err.contains("declares"),
                "{what}: {err}"
            );
            assert!(
                err.contains(&format!("({} bytes left unread)", cut as u64 - off)),
                "{what}: {err}"
            );
            let text = String::from_utf8(out.stdout).unwrap();
            let mut jsonl_rows = 0;
            for line in text.lines() {
                let row: Value = serde_json::from_str(line).expect("well-formed JSON line");
                assert!(
                    row["offset"].as_u64().unwrap() < off,
                    "{what}: row past damage"
                );
                jsonl_rows += 1;
            }
            // CSV and rdbtools CSV: a header, then as many complete records as JSON lines.
            for format in ["csv", "rdbtools-csv"] {
                let out = run(
                    &[&["keys", "--format", format, ps][..], mmap_arg].concat(),
                    false,
                );
                assert_damaged(&out, &p, cut as u64, &format!("{what} {format}"));
                let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
                let width = rdr.headers().unwrap().len();
                let records: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
                assert!(records.iter().all(|r| r.len() == width), "{what} {format}");
                assert_eq!(records.len(), jsonl_rows, "{what} {format}");
            }
        }
    }
}

#[test]
fn verify_damaged_input_names_offset_expectation_and_unread_bytes() {
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = data.len() / 3;
    let p = write(dir.path(), "cut.rdb", &data[..cut]);
    for extra in [None, Some("--no-mmap")] {
        let mut args = vec!["verify", p.to_str().unwrap()];
        args.extend(extra);
        let out = run(&args, false);
        let off = assert_damaged(&out, &p, cut as u64, "verify");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("expected") || err.contains("declares"),
            "{err}"
        );
        assert!(err.contains(&format!("({} bytes left unread)", cut as u64 - off)));
        // What was read before the damage is still printed.
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("aux redis-ver: 7.0.15"), "{text}");
        assert!(text.contains("result: damaged"), "{text}");
    }
}

#[test]
fn analyze_no_mmap_damage_says_unread_bytes_like_the_mapped_run() {
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = data.len() / 2;
    let p = write(dir.path(), "cut.rdb", &data[..cut]);
    let ps = p.to_str().unwrap();
    let mapped = run(&["analyze", "--json", "-", ps], false);
    let streamed = run(&["analyze", "--no-mmap", "--json", "-", ps], false);
    let a = partial_json(&mapped, cut as u64, "mapped");
    let b = partial_json(&streamed, cut as u64, "no-mmap");
    assert_eq!(a["files"], b["files"]);
    assert_eq!(a["totals"], b["totals"]);
    let off = assert_damaged(&streamed, &p, cut as u64, "no-mmap");
    assert!(String::from_utf8_lossy(&streamed.stderr)
        .contains(&format!("({} bytes left unread)", cut as u64 - off)));
}

#[test]
fn help_documents_every_exit_code() {
    for cmd in [
        &["--help"][..],
        &["analyze", "--help"],
        &["keys", "--help"],
        &["verify", "--help"],
    ] {
        let out = rdbscope().args(cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        for code in ["0 ok", "1 error", "2 usage", "3 damaged input"] {
            assert!(text.contains(code), "{cmd:?}: {code} missing");
        }
    }
}

// ---- 2. Value-level damage: an anomaly, and the run goes on ---------------------------------

/// Three keys; the middle one's blob has an intact length but corrupt contents.
fn file_with_bad_value(type_byte: u8, blob: &[u8]) -> (Vec<u8>, u64) {
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.0").select_db(0);
    w.key(ty::STRING, "a:good", &string("first"));
    let bad_at = w.offset() as u64;
    w.key(type_byte, "b:bad", &string(blob));
    w.key(ty::STRING, "c:good", &string("last"));
    (w.finish(), bad_at)
}

fn bad_values() -> Vec<(&'static str, u8, Vec<u8>)> {
    vec![
        (
            "listpack entry past its blob",
            ty::SET_LISTPACK,
            Listpack::new()
                .str("a")
                .raw(&[0x85, b'x'])
                .with_count(2)
                .build(),
        ),
        (
            "listpack unknown entry encoding",
            ty::HASH_LISTPACK,
            Listpack::new()
                .str("f")
                .raw(&[0xF5, 0])
                .with_count(2)
                .build(),
        ),
        (
            "ziplist entry past its blob",
            ty::LIST_ZIPLIST,
            Ziplist::new().str("a").entry_body(&[0x45, b'x']).build(),
        ),
        (
            "intset count past its blob",
            ty::SET_INTSET,
            rdbscope_testwriter::intset::intset_raw(2, 1000, &[1, 2]),
        ),
    ]
}

#[test]
fn value_damage_with_intact_framing_is_an_anomaly_and_the_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    for (what, type_byte, blob) in bad_values() {
        let (file, bad_at) = file_with_bad_value(type_byte, &blob);
        let p = write(dir.path(), "bad.rdb", &file);
        let ps = p.to_str().unwrap();
        // analyze sizes kept blobs from their headers, checking what a default server
        // checks on load: the run completes with all three keys, and at most this one
        // anomaly (when the damage is in the header itself). With --deep every blob is
        // decoded and the damage is always the one anomaly.
        for deep in [false, true] {
            let args: &[&str] = if deep {
                &["analyze", "--deep", "--json", "-", ps]
            } else {
                &["analyze", "--json", "-", ps]
            };
            let out = run(args, true);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!err.contains("panicked"), "{what}: {err}");
            assert_eq!(out.status.code(), Some(0), "{what}: {err}");
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["complete"], true, "{what}");
            assert_eq!(r["totals"]["keys"], 3, "{what}");
            assert_eq!(r["anomalies"]["deep"], deep, "{what}");
            assert!(r["anomalies"]["count"].as_u64() <= Some(1), "{what}");
            if !deep {
                continue;
            }
            assert_eq!(r["anomalies"]["count"], 1, "{what}");
            let a = &r["anomalies"]["first"][0];
            assert_eq!(a["offset"].as_u64(), Some(bad_at), "{what}: {a}");
            assert_eq!(a["key"], "b:bad", "{what}");
            assert!(r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == "value-anomalies"));
        }
        // keys: three rows; the bad one has no memory and says why.
        let out = run(&["keys", ps], true);
        assert_eq!(out.status.code(), Some(0), "{what}");
        let rows: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 3, "{what}");
        assert_eq!(rows[1]["key"], "b:bad");
        assert!(rows[1]["memory"].is_null(), "{what}");
        assert!(
            rows[1]["anomaly"]
                .as_str()
                .is_some_and(|s| s.contains("offset")),
            "{what}"
        );
        assert!(
            rows[0]["memory"].is_u64() && rows[2]["memory"].is_u64(),
            "{what}"
        );
        // verify decodes every value: the file is damaged, the bad key named.
        let out = run(&["verify", ps], true);
        assert_eq!(out.status.code(), Some(3), "{what}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("values that cannot be decoded: 1"),
            "{what}: {text}"
        );
        assert!(
            text.contains(&format!("db0 key b:bad at offset {bad_at}: offset ")),
            "{what}: {text}"
        );
        assert!(text.contains("keys: 3"), "{what}: {text}");
        assert!(text.contains("result: damaged values"), "{what}: {text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{ps}: 1 value(s) cannot be decoded; the first, key b:bad: offset "
            )),
            "{what}: {err}"
        );
    }
}

// ---- 3. Checksums ---------------------------------------------------------------------------

#[test]
fn checksum_mismatch_keeps_the_output_and_no_checksum_skips_it() {
    let mut data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let n = data.len();
    let stored = u64::from_le_bytes(data[n - 8..].try_into().unwrap());
    data[n - 1] ^= 0x55;
    let bad = u64::from_le_bytes(data[n - 8..].try_into().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "crc.rdb", &data);
    let ps = p.to_str().unwrap();
    let both = format!("file says 0x{bad:016x}, contents give 0x{stored:016x}");
    let (good_rows, _) = super::keys_jsonl(&[fixture("mixed.rdb").to_str().unwrap()]);
    for no_mmap in [false, true] {
        let mmap_arg: &[&str] = if no_mmap { &["--no-mmap"] } else { &[] };
        for cmd in ["keys", "verify", "analyze"] {
            let what = format!("{cmd} no_mmap {no_mmap}");
            let out = run(&[&[cmd, ps][..], mmap_arg].concat(), false);
            assert_eq!(out.status.code(), Some(3), "{what}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&both), "{what}: {err}");
            let out = run(&[&[cmd, "--no-checksum", ps][..], mmap_arg].concat(), false);
            assert_eq!(out.status.code(), Some(0), "{what} --no-checksum");
            assert!(!String::from_utf8_lossy(&out.stderr).contains("checksum"));
        }
        // Nothing is discarded: keys prints every key.
        let out = run(&[&["keys", ps][..], mmap_arg].concat(), false);
        assert_eq!(
            String::from_utf8(out.stdout).unwrap().lines().count(),
            good_rows.len()
        );
        let out = run(
            &[&["analyze", "--json", "-", ps][..], mmap_arg].concat(),
            false,
        );
        // Every record was read: the report is complete, its checksum marked.
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["complete"], true);
        assert_eq!(r["files"][0]["checksum"], "mismatch");
        assert_eq!(
            r["files"][0]["checksum_mismatch"].as_array().map(Vec::len),
            Some(2)
        );
        assert_eq!(r["totals"]["keys"].as_u64(), Some(good_rows.len() as u64));
    }
}

// ---- 4. Hostile input through the whole pipeline --------------------------------------------

/// A file with the header, `redis-ver`, db 0, one good key, then `tail`, then (when
/// `eof`) EOF and CRC; and the offset where `tail` starts.
fn hostile(tail: &[u8], eof: bool) -> (Vec<u8>, u64) {
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.0").select_db(0);
    w.key(ty::STRING, "before", &string("ok"));
    let at = w.offset() as u64;
    w.raw(tail);
    (
        if eof {
            w.finish()
        } else {
            w.finish_without_eof()
        },
        at,
    )
}

fn key(type_byte: u8, name: &str, value: &[u8]) -> Vec<u8> {
    let mut v = vec![type_byte];
    v.extend(string(name));
    v.extend_from_slice(value);
    v
}

/// 64-bit length form (`0x81` + 8 bytes big-endian).
fn len64(n: u64) -> Vec<u8> {
    let mut v = vec![0x81];
    v.extend_from_slice(&n.to_be_bytes());
    v
}

/// What a hostile record breaks.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Breaks {
    /// The framing: reading stops there with a partial report.
    Framing,
    /// Only the value (its blob length is intact): an anomaly, and the run goes on.
    Value,
}

fn hostile_cases() -> Vec<(&'static str, Breaks, Vec<u8>)> {
    use Breaks::{Framing, Value};
    // A quicklist declaring 100 000 nodes (container 2, packed) and holding three.
    let lp = Listpack::new().build();
    let mut ql = len(100_000);
    for _ in 0..3 {
        ql.extend(len(2));
        ql.extend(string(&lp));
    }
    let mut cyclic_zl = Ziplist::new().str("a").str("b").build();
    // zltail pointing at the header itself: a backward walk would loop.
    cyclic_zl[4..8].copy_from_slice(&0u32.to_le_bytes());
    let mut zl_prevlen_zero = Ziplist::new().str("a").str("b").build();
    // The second entry (at 13) says its predecessor is 0 bytes long: it points at itself.
    zl_prevlen_zero[13] = 0;
    let lp_4g = Listpack::new()
        .raw(&[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, b'x'])
        .with_count(1)
        .build();
    let l60 = len64(1 << 60);
    vec![
        (
            "string length past the file",
            Framing,
            key(ty::STRING, "k", &encode::string_declared(1 << 30, b"abc")),
        ),
        (
            "string 64-bit length 2^62",
            Framing,
            key(ty::STRING, "k", &[len64(1 << 62), b"abc".to_vec()].concat()),
        ),
        (
            "key 64-bit length 2^63",
            Framing,
            [vec![ty::STRING], len64(1 << 63), b"k".to_vec()].concat(),
        ),
        (
            "LZF declared lengths 2^40",
            Framing,
            key(
                ty::STRING,
                "k",
                &encode::string_lzf_declared(1 << 40, 1 << 41, b"\x00a"),
            ),
        ),
        (
            "list of 2^60 elements in 3 bytes",
            Framing,
            key(ty::LIST, "k", &[l60.clone(), string("a")].concat()),
        ),
        (
            "set of 2^60 elements",
            Framing,
            key(ty::SET, "k", &[l60.clone(), string("a")].concat()),
        ),
        (
            "hash of 2^60 fields",
            Framing,
            key(ty::HASH, "k", &[l60.clone(), string("f")].concat()),
        ),
        (
            "zset of 2^60 members",
            Framing,
            key(ty::ZSET_2, "k", &[l60.clone(), string("m")].concat()),
        ),
        (
            "quicklist of 2^60 nodes",
            Framing,
            key(ty::LIST_QUICKLIST_2, "k", &[l60.clone(), len(2)].concat()),
        ),
        (
            "quicklist declaring 100 000 nodes with 3",
            Framing,
            key(ty::LIST_QUICKLIST_2, "k", &ql),
        ),
        (
            "stream of 2^60 listpack nodes",
            Framing,
            key(ty::STREAM_LISTPACKS, "k", &l60),
        ),
        (
            "module value with an endless opcode stream",
            Framing,
            key(
                ty::MODULE_2,
                "k",
                &[len64(0x1234_5678_9abc_def0), len(2), len(2), len(2)].concat(),
            ),
        ),
        (
            "unknown value type 200",
            Framing,
            key(200, "k", &string("v")),
        ),
        ("unknown opcode 0xEF", Framing, vec![0xEF, 1, 2, 3]),
        (
            "RESIZEDB 2^62 keys (once a panic)",
            Framing,
            [vec![0xFB], len64(1 << 62), len64(1 << 62)].concat(),
        ),
        (
            "SELECTDB 2^63",
            Framing,
            [vec![0xFE], len64(1 << 63)].concat(),
        ),
        (
            "AUX with a 2^40-byte value",
            Framing,
            [
                vec![0xFA],
                string("k"),
                encode::string_declared(1 << 40, b"v"),
            ]
            .concat(),
        ),
        (
            "ziplist zltail pointing at its header",
            Value,
            key(ty::LIST_ZIPLIST, "k", &string(&cyclic_zl)),
        ),
        (
            "ziplist prevlen pointing at itself",
            Value,
            key(ty::LIST_ZIPLIST, "k", &string(&zl_prevlen_zero)),
        ),
        (
            "listpack claiming a 4 GiB entry",
            Value,
            key(ty::SET_LISTPACK, "k", &string(&lp_4g)),
        ),
    ]
}

#[test]
fn hostile_files_are_clean_errors_under_a_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    for (what, breaks, tail) in hostile_cases() {
        let (file, at) = hostile(&tail, breaks == Breaks::Value);
        let len = file.len() as u64;
        let p = write(dir.path(), "hostile.rdb", &file);
        let ps = p.to_str().unwrap();
        // analyze, the whole pipeline, under an address-space limit and a time limit; with
        // --deep, so that damage inside a blob is found too (the default run is checked
        // for a clean finish below).
        let out = run(&["analyze", "--deep", "--json", "-", ps], true);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!err.contains("panicked"), "{what}: {err}");
        if breaks == Breaks::Framing {
            let off = assert_damaged(&out, &p, len, what);
            assert!(
                off >= at,
                "{what}: damage at {off}, before the hostile part at {at}"
            );
            let r = partial_json(&out, len, what);
            assert_eq!(r["totals"]["keys"], 1, "{what}: the key before it is kept");
        } else {
            assert_eq!(out.status.code(), Some(0), "{what}: {err}");
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(r["totals"]["keys"], 2, "{what}");
            assert_eq!(r["anomalies"]["count"], 1, "{what}");
            assert_eq!(
                r["anomalies"]["first"][0]["offset"].as_u64(),
                Some(at),
                "{what}"
            );
        }
        for cmd in [
            &["analyze", "--json", "-", ps][..],
            &["keys", ps],
            &["verify", ps],
            &["keys", "--no-mmap", ps],
            &["verify", "--no-mmap", ps],
        ] {
            let out = run(cmd, true);
            let e = String::from_utf8_lossy(&out.stderr);
            assert!(!e.contains("panicked"), "{what} {cmd:?}: {e}");
            if breaks == Breaks::Framing || cmd[0] == "verify" {
                // verify decodes values too: value damage is damage to it.
                assert_eq!(out.status.code(), Some(3), "{what} {cmd:?}: {e}");
                assert!(offset_in(&e) >= at, "{what} {cmd:?}: {e}");
            } else {
                assert_eq!(out.status.code(), Some(0), "{what} {cmd:?}: {e}");
            }
        }
    }
}

/// An LZF string whose stream expands past its declared length: `analyze` and `keys` size
/// strings from the declared length and never decompress them (bounded cost per key), so
/// they do not notice; `verify` decodes every value and names it.
#[test]
fn lzf_output_beyond_declared_length_is_found_by_verify() {
    let lzf = encode::string_lzf_raw(&rdbscope_testwriter::lzf::lzf_compress(&[b'a'; 200]), 50);
    let (file, at) = hostile(&key(ty::STRING, "k", &lzf), true);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "lzf.rdb", &file);
    let out = run(&["keys", p.to_str().unwrap()], true);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert_eq!(row["key"], "k");
    assert_eq!(row["largest_element"], 50, "{row}");
    let out = run(&["verify", p.to_str().unwrap()], true);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("key k at offset {at}: offset ")),
        "{text}"
    );
    assert!(text.contains("LZF") || text.contains("lzf"), "{text}");
}

// ---- 5. Read-only --------------------------------------------------------------------------

#[test]
fn input_bytes_and_mtime_unchanged_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let good = write(dir.path(), "good.rdb", &data);
    let cut = write(dir.path(), "cut.rdb", &data[..data.len() / 2]);
    let out_json = dir.path().join("out.json");
    // Push the mtimes into the past, so a write within the same second would show.
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    for p in [&good, &cut] {
        let f = std::fs::File::options().append(true).open(p).unwrap();
        f.set_modified(past).unwrap();
    }
    for p in [&good, &cut] {
        let before = std::fs::read(p).unwrap();
        let meta = std::fs::metadata(p).unwrap();
        let ps = p.to_str().unwrap();
        for cmd in [
            vec!["verify", ps],
            vec!["keys", ps],
            vec!["keys", "--format", "csv", ps],
            vec!["analyze", "--json", out_json.to_str().unwrap(), ps],
        ] {
            for no_mmap in [false, true] {
                let mut args = cmd.clone();
                if no_mmap {
                    args.insert(1, "--no-mmap");
                }
                let out = run(&args, false);
                assert!(matches!(out.status.code(), Some(0 | 3)), "{args:?}");
                assert_eq!(
                    std::fs::read(p).unwrap(),
                    before,
                    "{args:?} changed the bytes"
                );
                let after = std::fs::metadata(p).unwrap();
                assert_eq!(
                    after.modified().unwrap(),
                    meta.modified().unwrap(),
                    "{args:?}"
                );
                assert_eq!(after.len(), meta.len(), "{args:?}");
                assert!(after.permissions().readonly() == meta.permissions().readonly());
            }
        }
    }
}

// ---- 6. Resource bounds ----------------------------------------------------------------------

/// `RssAnon` of a running process in bytes (Linux), `None` once it has exited.
fn rss_anon(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("RssAnon:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Runs the binary and samples its anonymous resident memory until it exits: the highest
/// sample (a lower bound of the true peak: sampling can miss a spike, never invent one).
fn peak_rss_anon(args: &[&str]) -> (u64, std::process::ExitStatus) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rdbscope"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        if let Some(r) = rss_anon(child.id()) {
            peak = peak.max(r);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn big_files(dir: &Path, string_bytes: usize) -> Vec<(&'static str, PathBuf, u64)> {
    let mut out = Vec::new();
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.0").select_db(0);
    // Not compressible by the writer (plain string encoding) and not all one byte.
    let big: Vec<u8> = (0..string_bytes).map(|i| (i * 7 % 251) as u8).collect();
    w.key(ty::STRING, "big:string", &string(&big));
    out.push((
        "string",
        write(dir, "string.rdb", &w.finish()),
        string_bytes as u64,
    ));
    drop(big);
    // A plain-encoded hash and list of `string_bytes` in total, 64-byte elements.
    let n = string_bytes / 64;
    let field = |i: usize| format!("{i:0>64}");
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.0").select_db(0);
    w.key(
        ty::HASH,
        "big:hash",
        &value::hash((0..n / 2).map(|i| (field(i), field(i + n)))),
    );
    out.push((
        "hash",
        write(dir, "hash.rdb", &w.finish()),
        string_bytes as u64,
    ));
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.0").select_db(0);
    w.key(ty::LIST, "big:list", &value::list((0..n).map(field)));
    out.push((
        "list",
        write(dir, "list.rdb", &w.finish()),
        string_bytes as u64,
    ));
    out
}

fn assert_bounded_memory(string_bytes: usize) {
    if !Path::new("/proc/self/status").exists() {
        eprintln!("skipping: no /proc (resident memory is measured on Linux only)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (what, p, value_bytes) in big_files(dir.path(), string_bytes) {
        let ps = p.to_str().unwrap();
        let (peak, status) = peak_rss_anon(&["analyze", "--quiet", "--json", "/dev/null", ps]);
        assert!(status.success(), "{what}: {status}");
        // The output is written in place, not renamed over: run as root, a rename would
        // leave /dev/null an ordinary file that collects every later writer's text.
        let null = std::fs::symlink_metadata("/dev/null").unwrap().file_type();
        assert!(
            std::os::unix::fs::FileTypeExt::is_char_device(&null),
            "--json /dev/null replaced the device: {null:?}"
        );
        // Mapped file pages are RssFile, not RssAnon: a materialised value would show here.
        assert!(
            peak < value_bytes / 2,
            "{what}: {peak} bytes of anonymous memory for a {value_bytes}-byte value"
        );
        let (peak, status) = peak_rss_anon(&["keys", ps]);
        assert!(status.success(), "keys {what}: {status}");
        assert!(
            peak < value_bytes / 2,
            "keys {what}: {peak} bytes anonymous"
        );
        // --no-mmap streams through a window that must hold the largest record, once: a
        // big string is read straight to its declared end, not by doubling the window.
        if what == "string" {
            let (peak, status) =
                peak_rss_anon(&["analyze", "--no-mmap", "--quiet", "--json", "/dev/null", ps]);
            assert!(status.success(), "--no-mmap {what}: {status}");
            assert!(
                peak < value_bytes + value_bytes / 2,
                "--no-mmap {what}: {peak} bytes anonymous for a {value_bytes}-byte value"
            );
        }
    }
}

#[test]
fn big_values_analysed_in_bounded_memory() {
    assert_bounded_memory(64 << 20);
}

#[test]
#[ignore = "writes three 1 GiB files; run with --ignored --release"]
fn gigabyte_values_analysed_in_bounded_memory() {
    assert_bounded_memory(1 << 30);
}

// ---- 7. Sweeps through the binary (a sample; the dense sweeps run in-process) ----------------

/// Deterministic xorshift64*: the sweeps are reproducible from their seed.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn truncation_sample_through_the_binary_gives_partial_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0001);
    let mut files = fixtures();
    // Two corpus dumps of different versions keep the sample small.
    files.extend(
        rdbscope_testwriter::dumps::corpus()
            .into_iter()
            .step_by(8)
            .take(2),
    );
    let mut runs = 0;
    for f in files {
        let data = std::fs::read(&f).unwrap();
        // The first bytes, a few random cuts, and the last bytes (CRC, EOF).
        let mut cuts = vec![0, 5, 9, data.len() - 1, data.len() - 8, data.len() - 9];
        cuts.extend((0..4).map(|_| rng.below(data.len())));
        for cut in cuts {
            let p = write(dir.path(), "cut.rdb", &data[..cut]);
            let what = format!("{} cut at {cut}", f.display());
            let out = run(&["analyze", "--json", "-", p.to_str().unwrap()], false);
            assert_damaged(&out, &p, cut as u64, &what);
            partial_json(&out, cut as u64, &what);
            runs += 1;
        }
    }
    assert!(runs >= 100, "only {runs} runs");
}

#[test]
fn corruption_sample_through_the_binary_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0002);
    let mut damaged = 0;
    for f in fixtures() {
        let data = std::fs::read(&f).unwrap();
        for round in 0..8 {
            let mut d = data.clone();
            let flips = if round % 2 == 0 { 1 } else { 1 + rng.below(8) };
            for _ in 0..flips {
                let i = rng.below(d.len());
                d[i] ^= 1 + rng.below(255) as u8;
            }
            let p = write(dir.path(), "flip.rdb", &d);
            let ps = p.to_str().unwrap();
            let what = format!("{} round {round}", f.display());
            for args in [
                &["analyze", "--json", "-", ps][..],
                &["keys", ps],
                &["verify", ps],
            ] {
                let out = run(args, false);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(!err.contains("panicked"), "{what} {args:?}: {err}");
                let code = out.status.code();
                assert!(
                    matches!(code, Some(0 | 3)),
                    "{what} {args:?}: {code:?} {err}"
                );
                if args[0] == "analyze" {
                    let r: Value = serde_json::from_slice(&out.stdout).expect("well-formed JSON");
                    // A checksum mismatch with every record read is complete, and exit 3.
                    let read_all = code == Some(0) || r["files"][0]["checksum"] == "mismatch";
                    assert_eq!(r["complete"] == true, read_all, "{what}");
                    damaged += usize::from(code == Some(3));
                }
            }
        }
    }
    // Almost every flip breaks the CRC; a run where none is noticed checks nothing.
    assert!(damaged > 50, "only {damaged} damaged runs");
}

// ---- 5b. Offline -------------------------------------------------------------------------

/// No crate that can open a network connection is in the dependency graph (the lockfile
/// holds every crate of every build, dev and build dependencies included), and no source
/// file of the workspace names a socket type.
#[test]
fn no_networking_crate_or_socket_in_the_workspace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let names: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(names.contains(&"rdbscope-parser"), "lockfile not parsed");
    const NETWORKING: [&str; 14] = [
        "hyper",
        "reqwest",
        "ureq",
        "tokio",
        "mio",
        "socket2",
        "curl",
        "rustls",
        "openssl",
        "native-tls",
        "h2",
        "http",
        "async-std",
        "tungstenite",
    ];
    for n in NETWORKING {
        assert!(!names.contains(&n), "networking crate {n} in Cargo.lock");
    }
    let mut stack = vec![root.join("crates")];
    let mut scanned = 0;
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("robustness/mod.rs")
            {
                let text = std::fs::read_to_string(&p).unwrap();
                for word in ["std::net", "TcpStream", "UdpSocket", "TcpListener"] {
                    assert!(!text.contains(word), "{} names {word}", p.display());
                }
                scanned += 1;
            }
        }
    }
    assert!(scanned > 20, "only {scanned} source files scanned");
}
