//! End-to-end tests of the `rdbscope` binary on the repo's fixtures.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod robustness;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn rdbscope() -> Command {
    Command::cargo_bin("rdbscope").unwrap()
}

fn keys_jsonl(args: &[&str]) -> (Vec<Value>, i32) {
    let out = rdbscope().arg("keys").args(args).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let rows = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("well-formed JSON line"))
        .collect();
    (rows, out.status.code().unwrap())
}

#[test]
fn verify_every_fixture_is_valid() {
    let files = rdbscope_testwriter::dumps::fixtures();
    assert!(files.len() >= 15);
    for f in &files {
        let out = rdbscope().arg("verify").arg(f).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{}: {text}", f.display());
        assert!(text.contains("result: valid"), "{}", f.display());
    }
}

#[test]
fn verify_reports_functions_and_expired() {
    let out = rdbscope()
        .arg("verify")
        .arg(fixture("functions.rdb"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("function library: mylib (lua)"));
    let out = rdbscope()
        .arg("verify")
        .arg(fixture("expiry.rdb"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // expiry.rdb holds 3 keys that had expired before SAVE (the truth server dropped them).
    let truth = std::fs::read_to_string(fixture("expiry.truth.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert!(text.contains(&format!("keys: {}", truth + 3)), "{text}");
    assert!(
        text.contains("already expired") && text.contains("): 3"),
        "{text}"
    );
}

#[test]
fn verify_checksum_disabled_and_mismatch() {
    let out = rdbscope()
        .arg("verify")
        .arg(fixture("nochecksum.rdb"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("checksum: disabled"));

    let dir = tempfile::tempdir().unwrap();
    let mut data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let n = data.len();
    data[n - 1] ^= 0x55; // damage the stored CRC only
    let p = dir.path().join("badcrc.rdb");
    std::fs::write(&p, &data).unwrap();
    let out = rdbscope().arg("verify").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    let out = rdbscope()
        .args(["verify", "--no-checksum"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn truncated_file_is_damaged_with_offset() {
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [
        0usize,
        5,
        9,
        100,
        5000,
        data.len() / 2,
        data.len() - 9,
        data.len() - 1,
    ] {
        let p = dir.path().join(format!("cut{cut}.rdb"));
        std::fs::write(&p, &data[..cut]).unwrap();
        let out = rdbscope().arg("verify").arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "cut at {cut}");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let off: u64 = err
            .split("offset ")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no offset in {err:?}"));
        assert!(off <= cut as u64, "cut {cut}: offset {off} past the cut");
        // keys keeps what it read and its output stays well-formed.
        let (rows, code) = keys_jsonl(&[p.to_str().unwrap()]);
        assert_eq!(code, 3);
        assert!(rows
            .iter()
            .all(|r| r["offset"].as_u64().unwrap() < cut as u64));
    }
}

#[test]
fn keys_match_fixture_truth() {
    for f in rdbscope_testwriter::dumps::fixtures() {
        let truth_path = f.with_extension("truth.jsonl");
        if !truth_path.exists() {
            continue;
        }
        let (rows, code) = keys_jsonl(&["--escape", "hex", f.to_str().unwrap()]);
        assert_eq!(code, 0);
        let got: BTreeSet<(u64, String, String)> = rows
            .iter()
            .filter(|r| r["expired"] != Value::Bool(true))
            .map(|r| {
                (
                    r["db"].as_u64().unwrap(),
                    r["key"].as_str().unwrap().to_string(),
                    r["type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: BTreeSet<(u64, String, String)> = std::fs::read_to_string(&truth_path)
            .unwrap()
            .lines()
            .map(|l| {
                let j: Value = serde_json::from_str(l).unwrap();
                (
                    j["db"].as_u64().unwrap(),
                    j["key_hex"].as_str().unwrap().to_string(),
                    j["type"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "{}", f.display());
    }
}

#[test]
fn all_input_paths_agree() {
    let plain = rdbscope()
        .args(["keys"])
        .arg(fixture("mixed.rdb"))
        .output()
        .unwrap()
        .stdout;
    assert!(!plain.is_empty());
    let no_mmap = rdbscope()
        .args(["keys", "--no-mmap"])
        .arg(fixture("mixed.rdb"))
        .output()
        .unwrap()
        .stdout;
    let lz4 = rdbscope()
        .args(["keys"])
        .arg(fixture("mixed.rdb.lz4"))
        .output()
        .unwrap()
        .stdout;
    let stdin = rdbscope()
        .args(["keys", "-"])
        .write_stdin(std::fs::read(fixture("mixed.rdb")).unwrap())
        .output()
        .unwrap()
        .stdout;
    assert_eq!(plain, no_mmap);
    assert_eq!(plain, lz4);
    assert_eq!(plain, stdin);
}

#[test]
fn vcs_envelope_is_read() {
    let rdb = std::fs::read(fixture("mixed.rdb")).unwrap();
    let mut enc = lz4_flex_frame(&rdb);
    let mut file = b"VCS\x01\x01\x00\x01".to_vec();
    file.append(&mut enc);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.rdb");
    std::fs::write(&p, &file).unwrap();
    let out = rdbscope().arg("verify").arg(&p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("container: vcs") && text.contains("keys: 293"),
        "{text}"
    );
    // An unknown codec is refused with its offset.
    file[4] = 2;
    std::fs::write(&p, &file).unwrap();
    let out = rdbscope().arg("verify").arg(&p).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("offset 4"));
}

/// The repo's `.lz4` fixture was made by the `lz4` tool; reuse its frame format by
/// re-framing: the frame bytes of the fixture hold mixed.rdb.
fn lz4_flex_frame(_rdb: &[u8]) -> Vec<u8> {
    std::fs::read(fixture("mixed.rdb.lz4")).unwrap()
}

#[test]
fn aof_preamble_reports_tail() {
    let out = rdbscope()
        .arg("verify")
        .arg(fixture("aof-preamble.aof"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let tail = std::fs::metadata(fixture("aof-preamble.aof"))
        .unwrap()
        .len()
        - std::fs::metadata(fixture("aof-base.rdb")).unwrap().len();
    assert!(
        text.contains(&format!(
            "AOF tail (RESP commands) after the RDB part: {tail} bytes"
        )),
        "{text}"
    );
}

#[test]
fn escape_modes_roundtrip_binary_keys() {
    let (hex, _) = keys_jsonl(&["--escape", "hex", fixture("strings.rdb").to_str().unwrap()]);
    let (b64, _) = keys_jsonl(&[
        "--escape",
        "base64",
        fixture("strings.rdb").to_str().unwrap(),
    ]);
    use base64::Engine;
    for (h, b) in hex.iter().zip(&b64) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b["key"].as_str().unwrap())
            .unwrap();
        let hexed: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(h["key"].as_str().unwrap(), hexed);
    }
    let (print, _) = keys_jsonl(&[fixture("strings.rdb").to_str().unwrap()]);
    assert!(print
        .iter()
        .all(|r| !r["key"].as_str().unwrap().contains('\n')));
}

#[test]
fn lfu_and_lru_attributes_reported() {
    let (rows, _) = keys_jsonl(&[fixture("lfu.rdb").to_str().unwrap()]);
    assert!(!rows.is_empty() && rows.iter().all(|r| r["lfu_freq"].is_u64()));
    let (rows, _) = keys_jsonl(&[fixture("lru.rdb").to_str().unwrap()]);
    assert!(!rows.is_empty() && rows.iter().all(|r| r["idle_seconds"].is_u64()));
}

#[test]
fn input_is_never_modified() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("copy.rdb");
    std::fs::copy(fixture("mixed.rdb"), &p).unwrap();
    let before = std::fs::read(&p).unwrap();
    let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
    for args in [vec!["verify"], vec!["keys"], vec!["keys", "--no-mmap"]] {
        rdbscope().args(&args).arg(&p).output().unwrap();
    }
    assert_eq!(std::fs::read(&p).unwrap(), before);
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), mtime);
}

#[test]
fn usage_errors_exit_2_and_missing_file_exits_1() {
    assert_eq!(
        rdbscope().arg("verify").output().unwrap().status.code(),
        Some(2)
    );
    assert_eq!(
        rdbscope()
            .args(["keys", "--format", "xml", "x"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
    let out = rdbscope()
        .args(["verify", "/nonexistent/dump.rdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dump.rdb"));
}

#[test]
fn keys_memory_matches_fixture_truth() {
    // The fixtures come from Debian's redis-server 7.0 (system jemalloc, 16-byte quantum).
    let (mut total, mut exact) = (0, 0);
    let mut misses = Vec::new();
    for f in rdbscope_testwriter::dumps::fixtures() {
        let truth_path = f.with_extension("truth.jsonl");
        if !truth_path.exists() {
            continue;
        }
        let truth: std::collections::HashMap<(u64, String), Value> =
            std::fs::read_to_string(&truth_path)
                .unwrap()
                .lines()
                .map(|l| {
                    let j: Value = serde_json::from_str(l).unwrap();
                    (
                        (
                            j["db"].as_u64().unwrap(),
                            j["key_hex"].as_str().unwrap().to_string(),
                        ),
                        j,
                    )
                })
                .collect();
        let (rows, _) = keys_jsonl(&[
            "--escape",
            "hex",
            "--allocator",
            "jemalloc-16",
            f.to_str().unwrap(),
        ]);
        for r in rows {
            let Some(t) = truth.get(&(
                r["db"].as_u64().unwrap(),
                r["key"].as_str().unwrap().to_string(),
            )) else {
                continue;
            };
            assert_eq!(
                r["encoding"],
                t["encoding"],
                "{}: {}",
                f.display(),
                r["key"]
            );
            if matches!(t["encoding"].as_str(), Some("skiplist" | "stream")) {
                continue;
            }
            total += 1;
            if r["memory"] == t["memory_usage"] {
                exact += 1;
            } else {
                misses.push(format!(
                    "{} {} {} vs {}",
                    f.display(),
                    r["key"],
                    r["memory"],
                    t["memory_usage"]
                ));
            }
        }
    }
    assert!(total > 300);
    assert!(
        misses.is_empty(),
        "{exact}/{total} exact; misses:\n{}",
        misses.join("\n")
    );
}

/// Undoes the `print` escaping (`\xNN`, `\\`).
fn unescape_print(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
            i += 4;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn csv_round_trips_awkward_keys() {
    let out = rdbscope()
        .args(["keys", "--format", "csv"])
        .arg(fixture("strings.rdb"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut rdr = csv::Reader::from_reader(&out.stdout[..]);
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "db");
    assert_eq!(&headers[1], "key");
    let csv_keys: BTreeSet<Vec<u8>> = rdr
        .records()
        .map(|r| unescape_print(&r.unwrap()[1]))
        .collect();
    let (hex_rows, _) = keys_jsonl(&["--escape", "hex", fixture("strings.rdb").to_str().unwrap()]);
    let want: BTreeSet<Vec<u8>> = hex_rows
        .iter()
        .map(|r| {
            let h = r["key"].as_str().unwrap();
            (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect();
    assert_eq!(csv_keys, want);
    // The fixture has keys with a comma, a double quote, CR/LF and non-UTF-8 bytes.
    assert!(want.iter().any(|k| k.contains(&b',')) && want.iter().any(|k| k.contains(&b'"')));
    assert!(
        want.iter().any(|k| k.contains(&b'\n'))
            && want.iter().any(|k| std::str::from_utf8(k).is_err())
    );
}

#[test]
fn rdbtools_csv_has_the_rdbtools_columns() {
    let out = rdbscope()
        .args([
            "keys",
            "--format",
            "rdbtools-csv",
            "--allocator",
            "jemalloc-16",
        ])
        .arg(fixture("zsets.rdb"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("database,type,key,size_in_bytes,encoding,num_elements,len_largest_element,expiry")
    );
    assert!(lines.all(|l| l.starts_with("0,sortedset,")));
}

#[test]
fn filters_select_keys() {
    let f = fixture("mixed.rdb");
    let f = f.to_str().unwrap();
    let (all, _) = keys_jsonl(&[f]);
    let count = |args: &[&str]| keys_jsonl(&[args, &[f]].concat()).0;
    let hashes = count(&["--type", "hash"]);
    assert!(
        !hashes.is_empty()
            && hashes.len() < all.len()
            && hashes.iter().all(|r| r["type"] == "hash")
    );
    let users = count(&["--match", "user:*"]);
    assert!(
        !users.is_empty()
            && users
                .iter()
                .all(|r| r["key"].as_str().unwrap().starts_with("user:"))
    );
    let re = count(&["--regex", "^session:"]);
    assert!(
        !re.is_empty()
            && re
                .iter()
                .all(|r| r["key"].as_str().unwrap().starts_with("session:"))
    );
    let big = count(&["--min-memory", "1000"]);
    assert!(!big.is_empty() && big.iter().all(|r| r["memory"].as_u64().unwrap() >= 1000));
    let no_ttl = count(&["--no-expiry"]);
    assert_eq!(
        no_ttl.len(),
        all.iter().filter(|r| r["expire_at_ms"].is_null()).count()
    );
    assert_eq!(count(&["--db", "1"]).len(), 0);
    let (expired, _) = keys_jsonl(&["--expired", fixture("expiry.rdb").to_str().unwrap()]);
    assert_eq!(expired.len(), 3);
    assert_eq!(
        rdbscope()
            .args(["keys", "--regex", "("])
            .arg(f)
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn loading_server_settings_change_encodings() {
    let f = fixture("hashes.rdb");
    let f = f.to_str().unwrap();
    let (default, _) = keys_jsonl(&[f]);
    assert!(default.iter().any(|r| r["encoding"] == "listpack"));
    let (forced, _) = keys_jsonl(&["--config", "hash-max-listpack-entries=0", f]);
    assert!(forced.iter().all(|r| r["encoding"] == "hashtable"));
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, "# old name\nhash-max-ziplist-entries 0\nsave \"\"\n").unwrap();
    let (from_conf, _) = keys_jsonl(&["--redis-conf", conf.to_str().unwrap(), f]);
    assert_eq!(from_conf, forced);
    let bad = rdbscope()
        .args(["keys", "--config", "hash-max-listpack-entries=lots", f])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn keyspace_overhead_is_the_expires_entry() {
    let files = rdbscope_testwriter::dumps::fixtures();
    let mut with_ttl = 0;
    for f in &files {
        let f = f.to_str().unwrap();
        let (rows, _) = keys_jsonl(&["--allocator", "jemalloc", f]);
        for r in &rows {
            if r["memory"].is_null() {
                continue;
            }
            // The fixtures come from Redis 7.0: a 24-byte dictEntry in the expires dict
            // (32 under the 16-byte quantum of the jemalloc Debian's package links).
            let want = if r["expire_at_ms"].is_null() { 0 } else { 24 };
            with_ttl += usize::from(want == 24);
            assert_eq!(r["keyspace_overhead"], want, "{r}");
        }
        // Redis 8.2 keeps the key object itself in the expires table.
        let (rows, _) = keys_jsonl(&["--model", "redis-8.2", f]);
        assert!(rows
            .iter()
            .all(|r| r["memory"].is_null() || r["keyspace_overhead"] == 0));
    }
    assert!(with_ttl > 0, "no fixture key has a TTL");
}

#[test]
fn cluster_and_eviction_settings_are_read() {
    let f = fixture("mixed.rdb");
    let f = f.to_str().unwrap();
    let (plain, _) = keys_jsonl(&[f]);
    // Redis 7.0 in cluster mode: each key's dict entry carries slot-list metadata.
    let (cluster, _) = keys_jsonl(&["--config", "cluster-enabled=yes", f]);
    assert_eq!(plain.len(), cluster.len());
    for (p, c) in plain.iter().zip(&cluster) {
        assert_eq!(
            c["memory"].as_u64().unwrap(),
            p["memory"].as_u64().unwrap() + 16,
            "{p}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        "maxmemory 4gb\nmaxmemory-policy allkeys-lfu\ncluster-enabled yes\n",
    )
    .unwrap();
    let (from_conf, code) = keys_jsonl(&["--redis-conf", conf.to_str().unwrap(), f]);
    assert_eq!(code, 0);
    assert_eq!(from_conf, cluster);
    for bad in [
        "maxmemory-policy=sometimes",
        "maxmemory=12zb",
        "cluster-enabled=maybe",
    ] {
        let out = rdbscope()
            .args(["keys", "--config", bad, f])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------
// `analyze`: snapshots of the summary and the JSON, and a test for every flag.
// ---------------------------------------------------------------------------------------

/// Runs `rdbscope analyze` in the fixtures folder, so paths in the output are the relative
/// names given (stable snapshots).
fn analyze(args: &[&str]) -> std::process::Output {
    rdbscope()
        .current_dir(fixture(""))
        .env_remove("NO_COLOR")
        .arg("analyze")
        .args(args)
        .output()
        .unwrap()
}

/// The JSON report (`--json -`) and the exit code.
fn analyze_json(args: &[&str]) -> (Value, i32) {
    let out = analyze(&[&["--json", "-", "--quiet"], args].concat());
    let text = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {text}"));
    (v, out.status.code().unwrap())
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

fn sum(rows: &Value, field: &str) -> u64 {
    arr(rows).iter().map(|r| u(&r[field])).sum()
}

fn pct2(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}

/// The invariants of `docs/report-schema.md`: every table adds up to the totals, shares are
/// rounded to 2 decimals, rows and top lists are in their documented order.
fn assert_report_adds_up(r: &Value) {
    let t = &r["totals"];
    let (keys, memory) = (u(&t["keys"]), u(&t["memory"]));
    let no_ttl = keys - u(&t["keys_with_ttl"]);
    for by in ["by_type", "by_encoding", "by_db"] {
        assert_eq!(sum(&t[by], "keys"), keys, "totals.{by} keys");
        assert_eq!(sum(&t[by], "memory"), memory, "totals.{by} memory");
        for s in arr(&t[by]) {
            assert_eq!(s["memory_pct"], pct2(u(&s["memory"]), memory), "{s}");
        }
    }
    assert_eq!(sum(&r["files"], "keys"), keys);
    assert_eq!(sum(&r["files"], "memory"), memory);
    let names: Vec<&str> = arr(&r["files"])
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "files in name order");
    let mut tables = vec![("patterns".to_string(), &r["patterns"])];
    for (i, level) in arr(&r["prefixes"]["levels"]).iter().enumerate() {
        tables.push((format!("prefix level {}", i + 1), level));
    }
    for (name, tb) in tables {
        let rows = &tb["rows"];
        let other = &tb["other"];
        for (field, total) in [
            ("keys", keys),
            ("memory", memory),
            ("keys_no_ttl", no_ttl),
            ("keys_expired", u(&t["keys_expired"])),
        ] {
            assert_eq!(
                sum(rows, field) + u(&other[field]),
                total,
                "{name}: {field}"
            );
        }
        for row in arr(rows).iter().chain([other]) {
            assert_eq!(row["memory_pct"], pct2(u(&row["memory"]), memory), "{row}");
            assert_eq!(sum(&row["by_type"], "keys"), u(&row["keys"]), "{row}");
            assert_eq!(sum(&row["by_type"], "memory"), u(&row["memory"]), "{row}");
        }
        let ms: Vec<u64> = arr(rows).iter().map(|x| u(&x["memory"])).collect();
        assert!(ms.windows(2).all(|w| w[0] >= w[1]), "{name}: by memory");
        assert_eq!(other["name"], "(other)");
    }
    let b = &r["expiry"]["buckets"];
    assert_eq!(sum(b, "keys"), keys);
    assert_eq!(sum(b, "memory"), memory);
    assert_eq!(u(&b[0]["keys"]), no_ttl, "first bucket is no TTL");
    assert_eq!(u(&b[1]["keys"]), u(&t["keys_expired"]));
    let idle = &r["idle"];
    assert_eq!(
        sum(&idle["idle_buckets"], "keys"),
        u(&idle["keys_with_idle"])
    );
    assert_eq!(
        sum(&idle["freq_buckets"], "keys"),
        u(&idle["keys_with_freq"])
    );
    // Top lists: metric descending, then file name, then offset.
    let file_rank = |k: &Value| names.iter().position(|n| *n == k["file"]).unwrap();
    let mut lists = vec![
        (&r["top_keys"]["by_memory"], "memory"),
        (&r["top_keys"]["by_elements"], "elements"),
        (&r["expiry"]["top_no_ttl"], "memory"),
    ];
    for t in arr(&r["top_keys"]["by_type"]) {
        lists.push((&t["by_memory"], "memory"));
        lists.push((&t["by_elements"], "elements"));
    }
    for (list, metric) in lists {
        for w in arr(list).windows(2) {
            let a = (
                Reverse(u(&w[0][metric])),
                file_rank(&w[0]),
                u(&w[0]["offset"]),
            );
            let b = (
                Reverse(u(&w[1][metric])),
                file_rank(&w[1]),
                u(&w[1]["offset"]),
            );
            assert!(
                a < b,
                "top list by {metric} out of order: {} / {}",
                w[0],
                w[1]
            );
        }
    }
    for s in arr(&r["streams"]["top_pending"]) {
        let age = &s["oldest_pending_age_seconds"];
        assert!(age.is_null() || age.as_i64().unwrap() >= 0, "{s}");
    }
    for k in arr(&r["expiry"]["top_no_ttl"]) {
        assert!(k["ttl_seconds"].is_null(), "{k}");
    }
}

use std::cmp::Reverse;

fn snapshot_case(name: &str, files: &[&str]) {
    let out = analyze(&[&["--color", "never", "--quiet"], files].concat());
    assert_eq!(out.status.code(), Some(0), "{name}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "{name}: a summary line is wider than 100 columns"
    );
    insta::assert_snapshot!(format!("analyze_{name}_summary"), text);
    let out = analyze(&[&["--json", "-", "--quiet"], files].concat());
    let json = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_report_adds_up(&v);
    insta::assert_snapshot!(format!("analyze_{name}_json"), json);
}

#[test]
fn analyze_snapshot_mixed() {
    snapshot_case("mixed", &["mixed.rdb"]);
}

#[test]
fn analyze_snapshot_streams() {
    snapshot_case("streams", &["streams.rdb"]);
}

#[test]
fn analyze_snapshot_lfu() {
    snapshot_case("lfu", &["lfu.rdb"]);
}

#[test]
fn analyze_snapshot_multidb() {
    snapshot_case("multidb", &["multidb.rdb"]);
}

#[test]
fn analyze_snapshot_two_files() {
    snapshot_case("two_files", &["multidb.rdb", "lru.rdb"]);
}

/// Totals agree with `rdbscope keys` key by key, on every fixture, and every table adds up.
#[test]
fn analyze_totals_match_keys_on_every_fixture() {
    for f in rdbscope_testwriter::dumps::fixtures() {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let (r, code) = analyze_json(&[&name]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(r["schema_version"], 2);
        assert_eq!(r["complete"], true);
        assert_report_adds_up(&r);
        let (rows, _) = keys_jsonl(&[f.to_str().unwrap()]);
        let t = &r["totals"];
        assert_eq!(u(&t["keys"]), rows.len() as u64, "{name}");
        let mem: u64 = rows.iter().map(|k| k["memory"].as_u64().unwrap_or(0)).sum();
        assert_eq!(u(&t["memory"]), mem, "{name}");
        for s in arr(&t["by_type"]) {
            let of_type: u64 = rows
                .iter()
                .filter(|k| k["type"] == s["name"])
                .map(|k| k["memory"].as_u64().unwrap_or(0))
                .sum();
            assert_eq!(u(&s["memory"]), of_type, "{name}: {}", s["name"]);
        }
        let ttl = rows.iter().filter(|k| !k["expire_at_ms"].is_null()).count();
        assert_eq!(u(&t["keys_with_ttl"]), ttl as u64, "{name}");
        let expired = rows.iter().filter(|k| k["expired"] == true).count();
        assert_eq!(u(&t["keys_expired"]), expired as u64, "{name}");
    }
}

#[test]
fn analyze_top_sets_every_list_length() {
    let (r, _) = analyze_json(&["--top", "3", "mixed.rdb"]);
    assert_eq!(arr(&r["top_keys"]["by_memory"]).len(), 3);
    assert_eq!(arr(&r["top_keys"]["by_elements"]).len(), 3);
    assert_eq!(arr(&r["expiry"]["top_no_ttl"]).len(), 3);
    for t in arr(&r["top_keys"]["by_type"]) {
        assert!(arr(&t["by_memory"]).len() <= 3 && !arr(&t["by_memory"]).is_empty());
        assert!(arr(&t["by_memory"]).iter().all(|k| k["type"] == t["type"]));
    }
    // The 3 are the 3 biggest of the default list, in the same order.
    let (full, _) = analyze_json(&["mixed.rdb"]);
    assert_eq!(arr(&full["top_keys"]["by_memory"]).len(), 20);
    assert_eq!(
        r["top_keys"]["by_memory"].as_array().unwrap()[..],
        full["top_keys"]["by_memory"].as_array().unwrap()[..3]
    );
    let summary =
        String::from_utf8(analyze(&["--top", "3", "--color", "never", "mixed.rdb"]).stdout)
            .unwrap();
    let section: Vec<&str> = summary
        .split("Top keys by memory\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(section.len(), 1 + 3, "header and 3 keys: {section:?}");
}

#[test]
fn analyze_rows_limits_rows_and_other_absorbs_the_rest() {
    let (full, _) = analyze_json(&["mixed.rdb"]);
    let (r, _) = analyze_json(&["--rows", "2", "mixed.rdb"]);
    assert_report_adds_up(&r);
    assert_eq!(arr(&r["patterns"]["rows"]).len(), 2);
    assert_eq!(r["patterns"]["rows"][0], full["patterns"]["rows"][0]);
    assert_eq!(r["patterns"]["rows"][1], full["patterns"]["rows"][1]);
    let rest: u64 = arr(&full["patterns"]["rows"])[2..]
        .iter()
        .map(|x| u(&x["memory"]))
        .sum::<u64>()
        + u(&full["patterns"]["other"]["memory"]);
    assert_eq!(u(&r["patterns"]["other"]["memory"]), rest);
    for level in arr(&r["prefixes"]["levels"]) {
        assert!(arr(&level["rows"]).len() <= 2);
    }
    // Printing fewer rows is not folding by the cap.
    assert_eq!(r["patterns"]["folded_by_cap"], false);
    let (none, _) = analyze_json(&["--rows", "0", "mixed.rdb"]);
    assert!(arr(&none["patterns"]["rows"]).is_empty());
    assert_eq!(none["patterns"]["other"]["keys"], r["totals"]["keys"]);
}

#[test]
fn analyze_separators_change_prefixes() {
    let (colon, _) = analyze_json(&["mixed.rdb"]);
    assert_eq!(colon["prefixes"]["separators"], ":");
    let level1 = |r: &Value| -> BTreeSet<String> {
        arr(&r["prefixes"]["levels"][0]["rows"])
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(level1(&colon).contains("user:"));
    // No key holds '|': every key is in the "(no separator)" row.
    let (pipe, _) = analyze_json(&["--separators", "|", "mixed.rdb"]);
    assert_report_adds_up(&pipe);
    assert_eq!(pipe["prefixes"]["separators"], "|");
    assert_eq!(
        level1(&pipe),
        BTreeSet::from(["(no separator)".to_string()])
    );
    // rate:<ip> keys split at '.' as well.
    let (two, _) = analyze_json(&["--separators", ":.", "--rows", "1000", "mixed.rdb"]);
    assert_report_adds_up(&two);
    let level2: Vec<String> = arr(&two["prefixes"]["levels"][1]["rows"])
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        level2
            .iter()
            .any(|n| n.starts_with("rate:") && n.ends_with('.')),
        "{level2:?}"
    );
}

#[test]
fn analyze_depth_sets_prefix_levels() {
    for (depth, want) in [(None, 3), (Some("1"), 1), (Some("2"), 2), (Some("5"), 5)] {
        let mut args = vec!["mixed.rdb"];
        if let Some(d) = depth {
            args.extend(["--depth", d]);
        }
        let (r, _) = analyze_json(&args);
        assert_eq!(arr(&r["prefixes"]["levels"]).len(), want, "{depth:?}");
        assert_report_adds_up(&r);
    }
    let (r, _) = analyze_json(&["--depth", "2", "--rows", "1000", "mixed.rdb"]);
    let level2: Vec<&str> = arr(&r["prefixes"]["levels"][1]["rows"])
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(level2.contains(&"tags:post:"), "{level2:?}");
}

#[test]
fn analyze_row_cap_folds_and_says_so() {
    let (r, _) = analyze_json(&["mixed.rdb"]);
    assert_eq!(r["patterns"]["folded_by_cap"], false);
    assert_eq!(r["patterns"]["cap"], 10_000);
    let (capped, _) = analyze_json(&["--row-cap", "2", "mixed.rdb"]);
    assert_report_adds_up(&capped);
    for tb in std::iter::once(&capped["patterns"]).chain(arr(&capped["prefixes"]["levels"])) {
        assert_eq!(tb["cap"], 2);
        assert_eq!(tb["distinct_rows_kept"], 2);
        assert_eq!(tb["folded_by_cap"], true);
        assert_eq!(arr(&tb["rows"]).len(), 2);
    }
    let summary =
        String::from_utf8(analyze(&["--row-cap", "2", "--color", "never", "mixed.rdb"]).stdout)
            .unwrap();
    assert!(summary.contains("(more than 2 distinct rows"), "{summary}");
    // ... and a finding says the biggest rows may be in (other).
    assert!(!finding_ids(&r).contains("rows-folded"));
    assert!(finding_ids(&capped).contains("rows-folded"));
}

#[test]
fn analyze_threads_give_identical_json() {
    for files in [
        &["mixed.rdb"][..],
        &["mixed.rdb", "streams.rdb", "multidb.rdb"],
    ] {
        let run = |threads: &str| {
            analyze(
                &[
                    &["--json", "-", "--threads", threads, "--row-cap", "5"],
                    files,
                ]
                .concat(),
            )
            .stdout
        };
        let one = run("1");
        assert!(!one.is_empty());
        assert_eq!(one, run("2"), "{files:?}");
        assert_eq!(one, run("7"), "{files:?}");
    }
}

#[test]
fn analyze_splits_a_big_mapped_file_without_changing_the_report() {
    // Over 64 MiB of small and 1 KB records: with two threads or more the mapped file is
    // framed from several places at once (and its pages released behind each part).
    use rdbscope_testwriter as w;
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    rdb.select_db(0);
    let mut i = 0u64;
    while rdb.offset() < 66 << 20 {
        w::generate::mixed_keys(&mut rdb, i * 8..i * 8 + 8);
        let value = format!("{{\"id\":{i},\"bio\":\"{}\"}}", "lorem ipsum ".repeat(80));
        rdb.key(
            w::ty::STRING,
            format!("user:{i}:profile"),
            &w::encode::string(value),
        );
        i += 1;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.rdb");
    std::fs::write(&path, rdb.finish()).unwrap();
    let file = path.to_str().unwrap();
    let run = |threads: &str| {
        let out = analyze(&["--json", "-", "--quiet", "--threads", threads, file]);
        assert_eq!(out.status.code(), Some(0), "{threads} threads");
        out.stdout
    };
    let one = run("1");
    let v: Value = serde_json::from_slice(&one).unwrap();
    assert_eq!(u(&v["totals"]["keys"]), i * 9);
    assert_eq!(one, run("2"));
    assert_eq!(one, run("3"));
}

#[test]
fn keys_output_is_the_same_for_any_thread_count() {
    // Enough keys for many runs of records written by several workers, a key that CSV
    // must quote, and keys in two databases.
    use rdbscope_testwriter as w;
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    rdb.select_db(0);
    w::generate::mixed_keys(&mut rdb, 0..12_000);
    rdb.key(
        w::ty::STRING,
        "a \"quoted\", key\nwith a newline",
        &w::encode::string("v"),
    );
    rdb.select_db(3);
    w::generate::mixed_keys(&mut rdb, 12_000..20_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.rdb");
    std::fs::write(&path, rdb.finish()).unwrap();
    let file = path.to_str().unwrap();
    let run = |args: &[&str], stdin: bool| {
        let mut cmd = rdbscope();
        cmd.arg("keys").args(args);
        if stdin {
            cmd.arg("-").write_stdin(std::fs::read(&path).unwrap());
        } else {
            cmd.arg(file);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        out.stdout
    };
    for format in ["jsonl", "csv", "rdbtools-csv"] {
        for filter in [&[][..], &["--type", "hash"][..]] {
            let args = |threads: &'static str| {
                [&["--format", format, "--threads", threads][..], filter].concat()
            };
            let one = run(&args("1"), false);
            assert_eq!(
                one,
                run(&args("2"), false),
                "{format} {filter:?}, 2 threads"
            );
            assert_eq!(
                one,
                run(&args("3"), false),
                "{format} {filter:?}, 3 threads"
            );
            assert_eq!(one, run(&args("2"), true), "{format} {filter:?}, stdin");
            if format == "jsonl" && filter.is_empty() {
                // Every key once, in the order of the file.
                let rows: Vec<Value> = String::from_utf8(one)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert_eq!(rows.len(), 20_001);
                assert!(rows
                    .windows(2)
                    .all(|p| u(&p[0]["offset"]) < u(&p[1]["offset"])));
                assert_eq!(rows[12_000]["key"], "a \"quoted\", key\\x0awith a newline");
            }
        }
    }
}

#[test]
fn keys_writes_every_row_before_a_key_it_cannot_write() {
    // A key whose name is a corrupt LZF string, after 1000 good keys: every thread count
    // prints the 1000 rows before it (and the CSV header), then fails.
    use rdbscope_testwriter as w;
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.select_db(0);
    w::generate::mixed_keys(&mut rdb, 0..1000);
    let bad = w::lzf::LzfOps::new().backref(3, 5).build();
    rdb.key_encoded(
        w::ty::STRING,
        &w::encode::string_lzf_raw(&bad, 3),
        &w::encode::string("v"),
    );
    w::generate::mixed_keys(&mut rdb, 1000..3000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("badname.rdb");
    std::fs::write(&path, rdb.finish()).unwrap();
    for threads in ["1", "2", "3"] {
        for stdin in [false, true] {
            let mut cmd = rdbscope();
            cmd.args(["keys", "--format", "csv", "--threads", threads]);
            if stdin {
                cmd.arg("-").write_stdin(std::fs::read(&path).unwrap());
            } else {
                cmd.arg(&path);
            }
            let out = cmd.output().unwrap();
            let what = format!("{threads} threads, stdin {stdin}");
            assert_eq!(out.status.code(), Some(1), "{what}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert_eq!(text.lines().count(), 1 + 1000, "{what}");
            assert!(text.starts_with("db,key,"), "{what}");
        }
    }
}

#[test]
fn analyze_file_order_does_not_matter() {
    let a = analyze(&["--json", "-", "mixed.rdb", "lfu.rdb", "multidb.rdb"]).stdout;
    let b = analyze(&["--json", "-", "multidb.rdb", "mixed.rdb", "lfu.rdb"]).stdout;
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let sa = analyze(&["--color", "never", "lfu.rdb", "mixed.rdb"]).stdout;
    let sb = analyze(&["--color", "never", "mixed.rdb", "lfu.rdb"]).stdout;
    assert_eq!(sa, sb);
}

#[test]
fn analyze_json_outputs() {
    // `--json -`: stdout is exactly one JSON document, nothing else.
    let out = analyze(&["--json", "-", "--color", "always", "mixed.rdb"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with('{') && text.ends_with("}\n"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    // `--json FILE`: the same document in the file, the summary on stdout.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("report.json");
    let out = analyze(&[
        "--json",
        p.to_str().unwrap(),
        "--color",
        "never",
        "mixed.rdb",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    let summary = String::from_utf8(out.stdout).unwrap();
    assert!(summary.starts_with("rdbscope analyze\n"), "{summary}");
    assert_eq!(v["files"][0]["name"], "mixed.rdb");
    // An output that cannot be written is an error (1), not a usage error.
    let out = analyze(&["--json", "/nonexistent-dir/r.json", "mixed.rdb"]);
    assert_eq!(out.status.code(), Some(1));
}

fn read_csv(p: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

#[test]
fn analyze_csv_dir_agrees_with_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv_dir = dir.path().join("csv");
    let out = analyze(&[
        "--csv-dir",
        csv_dir.to_str().unwrap(),
        "--json",
        "-",
        "--top",
        "4",
        "--rows",
        "3",
        "mixed.rdb",
        "lfu.rdb",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row_cols = "name keys memory memory_pct keys_no_ttl memory_no_ttl keys_expired \
                    memory_expired small_strings by_type";
    let key_cols =
        "list rank file db key type encoding memory elements ttl_seconds idle_seconds lfu_freq offset";
    let share_cols = "name keys memory memory_pct";
    let bucket_cols = "bucket keys memory memory_pct";
    let expected = [
        (
            "files.csv",
            "name bytes keys memory memory_pct complete damage checksum checksum_mismatch codec \
             compressed_bytes"
                .to_string(),
        ),
        ("by_db.csv", share_cols.to_string()),
        ("by_type.csv", share_cols.to_string()),
        ("by_encoding.csv", share_cols.to_string()),
        ("by_module.csv", share_cols.to_string()),
        ("prefixes.csv", format!("level {row_cols}")),
        ("patterns.csv", row_cols.to_string()),
        ("expiry.csv", bucket_cols.to_string()),
        ("reconciliation.csv", "section term bytes note".to_string()),
        ("idle.csv", bucket_cols.to_string()),
        ("lfu.csv", bucket_cols.to_string()),
        ("top_keys.csv", key_cols.to_string()),
        (
            "streams.csv",
            "file db key memory entries groups consumers pending max_group_pending \
             oldest_pending_ms oldest_pending_age_seconds"
                .to_string(),
        ),
        (
            "findings.csv",
            "id severity title evidence next_step command".to_string(),
        ),
    ];
    let written: BTreeSet<String> = std::fs::read_dir(&csv_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let documented: BTreeSet<String> = expected.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(written, documented);
    let mut tables = std::collections::BTreeMap::new();
    for (file, cols) in &expected {
        let (header, rows) = read_csv(&csv_dir.join(file));
        assert_eq!(header.join(" "), *cols, "{file}");
        for row in &rows {
            assert_eq!(row.len(), header.len(), "{file}");
        }
        tables.insert(*file, rows);
    }
    let num = |s: &str| s.parse::<u64>().unwrap();
    let t = &r["totals"];
    for (file, section) in [
        ("by_type.csv", &t["by_type"]),
        ("by_db.csv", &t["by_db"]),
        ("by_encoding.csv", &t["by_encoding"]),
    ] {
        let rows = &tables[file];
        assert_eq!(rows.len(), arr(section).len(), "{file}");
        for (c, j) in rows.iter().zip(arr(section)) {
            assert_eq!(c[0], j["name"].as_str().unwrap());
            assert_eq!(num(&c[1]), u(&j["keys"]));
            assert_eq!(num(&c[2]), u(&j["memory"]));
            assert_eq!(
                c[3].parse::<f64>().unwrap(),
                j["memory_pct"].as_f64().unwrap()
            );
        }
        assert_eq!(
            rows.iter().map(|c| num(&c[2])).sum::<u64>(),
            u(&t["memory"])
        );
    }
    // patterns.csv: the printed rows, then (other); they add up to the totals.
    let pat = &tables["patterns.csv"];
    assert_eq!(pat.len(), arr(&r["patterns"]["rows"]).len() + 1);
    assert_eq!(pat.last().unwrap()[0], "(other)");
    assert_eq!(pat.iter().map(|c| num(&c[1])).sum::<u64>(), u(&t["keys"]));
    assert_eq!(pat.iter().map(|c| num(&c[2])).sum::<u64>(), u(&t["memory"]));
    assert_eq!(
        pat[0][0],
        r["patterns"]["rows"][0]["name"].as_str().unwrap()
    );
    let types = &pat[0][9];
    assert!(types.contains('=') && types.contains('/'), "{types}");
    // prefixes.csv: each level adds up on its own.
    let pre = &tables["prefixes.csv"];
    for level in 1..=3 {
        let lv: Vec<&Vec<String>> = pre.iter().filter(|c| c[0] == level.to_string()).collect();
        assert_eq!(lv.iter().map(|c| num(&c[3])).sum::<u64>(), u(&t["memory"]));
    }
    let exp = &tables["expiry.csv"];
    assert_eq!(exp.len(), 10);
    assert_eq!(exp.iter().map(|c| num(&c[1])).sum::<u64>(), u(&t["keys"]));
    let lfu: u64 = tables["lfu.csv"].iter().map(|c| num(&c[1])).sum();
    assert_eq!(lfu, u(&r["idle"]["keys_with_freq"]));
    // top_keys.csv: the by_memory list is the JSON's, rank by rank.
    let top: Vec<&Vec<String>> = tables["top_keys.csv"]
        .iter()
        .filter(|c| c[0] == "by_memory")
        .collect();
    assert_eq!(top.len(), 4);
    for (i, (c, j)) in top.iter().zip(arr(&r["top_keys"]["by_memory"])).enumerate() {
        assert_eq!(num(&c[1]), i as u64 + 1);
        assert_eq!(c[2], j["file"].as_str().unwrap());
        assert_eq!(c[4], j["key"].as_str().unwrap());
        assert_eq!(num(&c[7]), u(&j["memory"]));
        assert_eq!(num(&c[12]), u(&j["offset"]));
    }
    assert!(tables["top_keys.csv"]
        .iter()
        .any(|c| c[0] == "lfu" && !c[11].is_empty()));
    assert!(tables["top_keys.csv"]
        .iter()
        .any(|c| c[0] == "zset_by_memory"));
    let files = &tables["files.csv"];
    assert_eq!(files.len(), 2);
    assert_eq!(files[0][0], "lfu.rdb");
    assert_eq!(files[1][5], "true");
    let streams = &tables["streams.csv"];
    assert_eq!(streams.len(), arr(&r["streams"]["top_pending"]).len());
    assert_eq!(streams[0][2], "events");
    assert_eq!(num(&streams[0][7]), 7);
    assert_eq!(tables["findings.csv"].len(), arr(&r["findings"]).len());
}

/// Runs `cmd` on a pseudo-terminal (util-linux `script`), returning what the terminal
/// showed, or `None` when `script` is not installed.
fn on_terminal(cmd: &str, no_color: bool) -> Option<String> {
    let bin = assert_cmd::cargo::cargo_bin("rdbscope");
    let mut c = std::process::Command::new("script");
    c.current_dir(fixture(""))
        .args(["-qec", &format!("{} {cmd}", bin.display()), "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        c.env("NO_COLOR", "1");
    }
    match c.output() {
        Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).to_string()),
        _ => {
            eprintln!("skipped: util-linux `script` is not available");
            None
        }
    }
}

#[test]
fn analyze_progress_only_on_a_terminal_and_not_with_quiet() {
    // Not a terminal: nothing on stderr, with or without --quiet.
    for args in [&["mixed.rdb"][..], &["--quiet", "mixed.rdb"]] {
        let out = analyze(args);
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let Some(shown) = on_terminal("analyze mixed.rdb mixed.rdb.lz4", false) else {
        return;
    };
    assert!(
        shown.contains("ETA"),
        "no progress bar on a terminal: {shown}"
    );
    let quiet = on_terminal("analyze --quiet mixed.rdb", false).unwrap();
    assert!(!quiet.contains("ETA") && !quiet.contains('█'), "{quiet}");
    assert!(quiet.contains("Top keys by memory"));
}

#[test]
fn analyze_color_modes() {
    let esc = |args: &[&str]| analyze(args).stdout.contains(&0x1b);
    assert!(esc(&["--color", "always", "mixed.rdb"]));
    assert!(!esc(&["--color", "never", "mixed.rdb"]));
    assert!(!esc(&["mixed.rdb"]), "auto on a pipe");
    let always_no_color = rdbscope()
        .current_dir(fixture(""))
        .env("NO_COLOR", "1")
        .args(["analyze", "--color", "always", "mixed.rdb"])
        .output()
        .unwrap();
    assert!(
        always_no_color.stdout.contains(&0x1b),
        "--color always wins"
    );
    let Some(tty) = on_terminal("analyze --quiet mixed.rdb", false) else {
        return;
    };
    assert!(tty.contains("\x1b[1mSnapshot"), "auto on a terminal");
    let tty = on_terminal("analyze --quiet mixed.rdb", true).unwrap();
    assert!(!tty.contains('\x1b'), "NO_COLOR on a terminal");
    let tty = on_terminal("analyze --quiet --color never mixed.rdb", false).unwrap();
    assert!(!tty.contains('\x1b'));
}

fn finding_ids(r: &Value) -> BTreeSet<String> {
    arr(&r["findings"])
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn findings_with(file: &str, thresholds: &[&str]) -> (BTreeSet<String>, Value) {
    let mut args = vec![file];
    for t in thresholds {
        args.extend(["--threshold", t]);
    }
    let (r, code) = analyze_json(&args);
    assert_eq!(code, 0, "{thresholds:?}");
    (finding_ids(&r), r)
}

#[test]
fn analyze_each_threshold_changes_the_findings() {
    // By default the fixture raises one thing: 78% of its memory has no TTL.
    let (base, r) = findings_with("mixed.rdb", &[]);
    assert_eq!(
        base.iter().collect::<Vec<_>>(),
        ["no-ttl-memory"],
        "{base:?}"
    );
    assert_eq!(arr(&r["findings"]).len(), 1);
    // (file, thresholds, finding that must appear)
    // ... and not with a higher bar.
    let (raised, _) = findings_with("mixed.rdb", &["no-ttl-memory-pct=90"]);
    assert!(raised.is_empty(), "{raised:?}");
    let cases: [(&str, &[&str], &str); 11] = [
        // leaderboard:monthly is 19.9% of key memory but under 1 MiB.
        ("mixed.rdb", &["big-key-min-bytes=0"], "big-key"),
        ("mixed.rdb", &["big-key-bytes=10000"], "big-key"),
        (
            "mixed.rdb",
            &["no-ttl-pattern-pct=15", "no-ttl-pattern-min-keys=1"],
            "pattern-without-ttl",
        ),
        // The smallest pattern without TTL over 15% has 60 keys: under the default 100.
        (
            "mixed.rdb",
            &["no-ttl-pattern-pct=14", "no-ttl-pattern-min-keys=60"],
            "pattern-without-ttl",
        ),
        ("expiry.rdb", &["expired-bytes=0"], "expired-keys"),
        ("mixed.rdb", &["stream-pending=5"], "stream-pel"),
        ("mixed.rdb", &["small-strings=50"], "small-strings"),
        ("mixed.rdb", &["not-in-keys-pct=5"], "memory-not-in-keys"),
        (
            "mixed.rdb",
            &["big-collection-elements=100"],
            "big-collections",
        ),
        ("strings.rdb", &["big-string-bytes=10000"], "big-strings"),
        // small-string-memory raises what counts as small: the 80 sessions (168 B) join.
        (
            "mixed.rdb",
            &["small-strings=70", "small-string-memory=200"],
            "small-strings",
        ),
    ];
    for (file, th, id) in cases {
        let (without, _) = findings_with(file, &[]);
        assert!(!without.contains(id), "{file}: {id} fires by default");
        let (with, r) = findings_with(file, th);
        assert!(
            with.contains(id),
            "{file} {th:?}: {id} did not fire: {with:?}"
        );
        let f = arr(&r["findings"]).iter().find(|f| f["id"] == id).unwrap();
        for field in ["title", "evidence", "next_step"] {
            assert!(!f[field].as_str().unwrap().is_empty(), "{f}");
        }
    }
    let (ids, _) = findings_with("mixed.rdb", &["small-strings=70"]);
    assert!(
        !ids.contains("small-strings"),
        "only 60 rate keys are small by default"
    );
    // big-key-pct: the share rule, once the size floor is gone.
    let (ids, _) = findings_with("mixed.rdb", &["big-key-min-bytes=0", "big-key-pct=25"]);
    assert!(!ids.contains("big-key"), "{ids:?}");
    let (_, r) = findings_with("mixed.rdb", &["big-key-min-bytes=0", "big-key-pct=5"]);
    let big: Vec<&Value> = arr(&r["findings"])
        .iter()
        .filter(|f| f["id"] == "big-key")
        .collect();
    assert_eq!(big.len(), 2, "leaderboard:monthly and events");
    // Severity is by cost, not share: 150 members block nothing.
    assert_eq!(
        big[0]["severity"], "warning",
        "over twice the share, but small"
    );
    // small-string-memory=0: nothing is small any more.
    let (_, r) = findings_with("mixed.rdb", &["small-string-memory=0"]);
    assert_eq!(r["patterns"]["other"]["small_strings"], 0);
    assert!(arr(&r["patterns"]["rows"])
        .iter()
        .all(|x| x["small_strings"] == 0));
    // Findings are most severe first.
    let (_, r) = findings_with(
        "mixed.rdb",
        &[
            "big-key-bytes=10000",
            "stream-pending=1",
            "small-strings=1",
            "big-key-pct=1",
        ],
    );
    let sev: Vec<u8> = arr(&r["findings"])
        .iter()
        .map(|f| match f["severity"].as_str().unwrap() {
            "critical" => 0,
            "warning" => 1,
            "info" => 2,
            s => panic!("severity {s}"),
        })
        .collect();
    assert!(sev.windows(2).all(|w| w[0] <= w[1]), "{sev:?}");
    for bad in [
        "nope=1",
        "big-key-pct",
        "big-key-bytes=lots",
        "big-key-pct=-1",
    ] {
        let out = analyze(&["--threshold", bad, "mixed.rdb"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty(), "{bad}: no report on a usage error");
    }
}

#[test]
fn analyze_model_allocator_and_config_change_totals() {
    let (base, _) = analyze_json(&["mixed.rdb"]);
    let memory = |r: &Value| u(&r["totals"]["memory"]);
    assert_eq!(base["snapshot"][0]["model"], "redis-7.0");
    // Debian's 7.0.15 package wrote the fixtures: its system jemalloc (16-byte quantum).
    assert_eq!(base["snapshot"][0]["allocator"], "jemalloc-16");
    let (m, _) = analyze_json(&["--model", "valkey-8.1", "mixed.rdb"]);
    assert_eq!(m["snapshot"][0]["model"], "valkey-8.1");
    assert_ne!(memory(&m), memory(&base));
    let (a, _) = analyze_json(&["--allocator", "libc", "mixed.rdb"]);
    assert_eq!(a["snapshot"][0]["allocator"], "libc");
    assert_ne!(memory(&a), memory(&base));
    let (j16, _) = analyze_json(&["--allocator", "jemalloc-16", "mixed.rdb"]);
    assert_eq!(memory(&j16), memory(&base));
    let (j8, _) = analyze_json(&["--allocator", "jemalloc", "mixed.rdb"]);
    assert_ne!(memory(&j8), memory(&base));
    // Every hash over one field becomes a hashtable.
    let (c, _) = analyze_json(&["--config", "hash-max-listpack-entries=1", "mixed.rdb"]);
    assert_report_adds_up(&c);
    assert!(memory(&c) > memory(&base));
    let enc = |r: &Value, name: &str| {
        arr(&r["totals"]["by_encoding"])
            .iter()
            .find(|s| s["name"] == name)
            .map_or(0, |s| u(&s["keys"]))
    };
    assert_eq!(enc(&c, "hash/listpack"), 0);
    assert_eq!(enc(&c, "hash/hashtable"), 60);
    // The same setting from a config file gives the same report.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, "hash-max-listpack-entries 1\n").unwrap();
    let (mut from_conf, _) = analyze_json(&["--redis-conf", conf.to_str().unwrap(), "mixed.rdb"]);
    // ... apart from the settings, which say where each came from.
    let mut c = c;
    let settings = |r: &mut Value| r["snapshot"][0]["settings"].take();
    let (a, b) = (settings(&mut from_conf), settings(&mut c));
    assert_ne!(a, b);
    assert_eq!(from_conf, c);
    for bad in [
        &["--model", "redis-1.0"][..],
        &["--allocator", "tcmalloc"],
        &["--config", "hash-max-listpack-entries=lots"],
    ] {
        let out = analyze(&[bad, &["mixed.rdb"]].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    // A config file that cannot be read is an error (1), not a usage error.
    let out = analyze(&["--redis-conf", "/nonexistent/redis.conf", "mixed.rdb"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn analyze_filters_agree_with_keys() {
    let cases: [(&str, &[&str]); 9] = [
        ("multidb.rdb", &["--db", "1"]),
        ("multidb.rdb", &["--db", "5", "--db", "15"]),
        ("mixed.rdb", &["--type", "hash"]),
        ("mixed.rdb", &["--type", "zset", "--type", "list"]),
        ("mixed.rdb", &["--match", "user:*"]),
        ("mixed.rdb", &["--regex", "^session:"]),
        ("mixed.rdb", &["--min-memory", "500"]),
        ("mixed.rdb", &["--no-expiry"]),
        ("expiry.rdb", &["--expired"]),
    ];
    for (file, filter) in cases {
        let (all, _) = analyze_json(&[file]);
        assert_eq!(all["totals"]["filtered"], false);
        let (r, code) = analyze_json(&[filter, &[file]].concat());
        assert_eq!(code, 0);
        assert_eq!(r["totals"]["filtered"], true, "{filter:?}");
        assert_report_adds_up(&r);
        let path = fixture(file);
        let (rows, _) = keys_jsonl(&[filter, &[path.to_str().unwrap()]].concat());
        let t = &r["totals"];
        assert!(!rows.is_empty(), "{filter:?} selects nothing");
        assert!(
            u(&t["keys"]) < u(&all["totals"]["keys"]),
            "{filter:?} narrows nothing"
        );
        assert_eq!(u(&t["keys"]), rows.len() as u64, "{filter:?}");
        let mem: u64 = rows.iter().map(|k| u(&k["memory"])).sum();
        assert_eq!(u(&t["memory"]), mem, "{filter:?}");
        let in_top: BTreeSet<&str> = arr(&r["top_keys"]["by_memory"])
            .iter()
            .map(|k| k["key"].as_str().unwrap())
            .collect();
        let selected: BTreeSet<&str> = rows.iter().map(|k| k["key"].as_str().unwrap()).collect();
        assert!(in_top.is_subset(&selected), "{filter:?}");
    }
    let out = analyze(&["--regex", "(", "mixed.rdb"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The JSON with the file's name and size taken out.
fn without_file_names(v: &Value, name: &str) -> String {
    let mut v = v.clone();
    v["files"][0]["bytes"] = Value::Null;
    v["files"][0]["codec"] = Value::Null;
    v["files"][0]["compressed_bytes"] = Value::Null;
    // Findings' commands name the file too (standard input as `-`).
    let shown = if name == "<stdin>" { "-" } else { name };
    v.to_string()
        .replace(&format!("\"{name}\""), "\"F\"")
        .replace(&format!("keys {shown} "), "keys F ")
}

#[test]
fn analyze_no_mmap_and_stdin_match_the_mapped_run() {
    let (mapped, _) = analyze_json(&["mixed.rdb"]);
    let (read, _) = analyze_json(&["--no-mmap", "mixed.rdb"]);
    assert_eq!(read, mapped);
    let out = rdbscope()
        .current_dir(fixture(""))
        .args(["analyze", "--json", "-", "-"])
        .pipe_stdin(fixture("mixed.rdb"))
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdin: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdin["files"][0]["name"], "<stdin>");
    assert!(stdin["files"][0]["bytes"].is_null());
    assert_eq!(
        without_file_names(&stdin, "<stdin>"),
        without_file_names(&mapped, "mixed.rdb")
    );
    // LZ4 frames are read as a stream too, and say their codec and both sizes.
    let (lz4, _) = analyze_json(&["mixed.rdb.lz4"]);
    assert_eq!(lz4["files"][0]["codec"], "lz4");
    assert_eq!(lz4["files"][0]["bytes"], mapped["files"][0]["bytes"]);
    assert!(lz4["files"][0]["compressed_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        without_file_names(&lz4, "mixed.rdb.lz4"),
        without_file_names(&mapped, "mixed.rdb")
    );
    let out = analyze(&["-", "-"]);
    assert_eq!(out.status.code(), Some(2), "stdin twice");
}

#[test]
fn analyze_damaged_input_gives_a_partial_report_and_exit_3() {
    let data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [100usize, data.len() / 2, data.len() - 1] {
        let p = dir.path().join("cut.rdb");
        std::fs::write(&p, &data[..cut]).unwrap();
        let out = rdbscope()
            .current_dir(dir.path())
            .args(["analyze", "--json", "-", "cut.rdb"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "cut {cut}");
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["complete"], false);
        let f = &r["files"][0];
        assert_eq!(f["complete"], false);
        let off = u(&f["damage"]["offset"]);
        assert!(off <= cut as u64, "cut {cut}: damage at {off}");
        assert!(f["damage"]["message"]
            .as_str()
            .unwrap()
            .contains(&off.to_string()));
        assert_eq!(r["findings"][0]["id"], "incomplete-input");
        assert_eq!(r["findings"][0]["severity"], "critical");
        assert_report_adds_up(&r);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("cut.rdb: offset {off}")), "{err}");
        let summary = rdbscope()
            .current_dir(dir.path())
            .args(["analyze", "--color", "never", "cut.rdb"])
            .output()
            .unwrap();
        assert_eq!(summary.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&summary.stdout).contains("PARTIAL"));
    }
    // One damaged shard among intact ones: the others are complete.
    std::fs::write(dir.path().join("cut.rdb"), &data[..data.len() / 2]).unwrap();
    std::fs::copy(fixture("lfu.rdb"), dir.path().join("lfu.rdb")).unwrap();
    let out = rdbscope()
        .current_dir(dir.path())
        .args(["analyze", "--json", "-", "lfu.rdb", "cut.rdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["files"][0]["name"], "cut.rdb");
    assert_eq!(r["files"][0]["complete"], false);
    assert_eq!(r["files"][1]["complete"], true);
    assert!(r["files"][1]["damage"].is_null());
    // A bad CRC is damage too (exit 3), unless --no-checksum; every record was still read.
    let mut bad = data.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x55;
    std::fs::write(dir.path().join("crc.rdb"), &bad).unwrap();
    let run = |extra: &[&str]| {
        rdbscope()
            .current_dir(dir.path())
            .args(["analyze", "--json", "-"])
            .args(extra)
            .arg("crc.rdb")
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(3));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["complete"], true);
    assert_eq!(r["files"][0]["checksum"], "mismatch");
    assert_eq!(arr(&r["files"][0]["checksum_mismatch"]).len(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum mismatch"));
    let out = run(&["--no-checksum"]);
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["complete"], true);
    assert!(r["files"][0]["checksum_mismatch"].is_null());
}

#[test]
fn analyze_usage_errors_exit_2() {
    for bad in [
        &["--separators", ""][..],
        &["--separators", "é"],
        &["--depth", "0"],
        &["--depth", "17"],
        &["--top", "0"],
        &["--row-cap", "0"],
        &["--threads", "0"],
        &["--rows", "-1"],
        &["--color", "sometimes"],
        &["--type", "blob"],
    ] {
        let out = analyze(&[bad, &["mixed.rdb"]].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(out.stdout.is_empty(), "{bad:?}");
        assert!(!out.stderr.is_empty(), "{bad:?}");
    }
    let out = analyze(&[]);
    assert_eq!(out.status.code(), Some(2), "no file");
    let out = analyze(&["missing.rdb"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.rdb"));
}

#[test]
fn analyze_escapes_keys_and_flags_cluster_dbs() {
    use rdbscope_testwriter::{encode, ty, RdbWriter};
    let dir = tempfile::tempdir().unwrap();
    let file = RdbWriter::redis(11)
        .aux("redis-ver", "7.2.4")
        .aux("ctime", "1700000000")
        .aux("slot-info", "0")
        .select_db(0)
        .key(
            ty::STRING,
            b"bin:\x00\xff\n",
            &encode::string("v".repeat(300)),
        )
        .key(ty::STRING, b"back\\slash", &encode::string("v".repeat(200)))
        .select_db(3)
        .key(ty::STRING, "other-db", &encode::string("x"))
        .finish();
    std::fs::write(dir.path().join("odd.rdb"), file).unwrap();
    let out = rdbscope()
        .current_dir(dir.path())
        .args(["analyze", "--json", "-", "odd.rdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = arr(&r["top_keys"]["by_memory"])
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, [r"bin:\x00\xff\x0a", r"back\\slash", "other-db"]);
    let patterns: Vec<&str> = arr(&r["patterns"]["rows"])
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert!(patterns.contains(&"bin:{bin}"), "{patterns:?}");
    assert!(
        finding_ids(&r).contains("cluster-nonzero-db"),
        "{:?}",
        finding_ids(&r)
    );
    let summary = rdbscope()
        .current_dir(dir.path())
        .args(["analyze", "--color", "never", "odd.rdb"])
        .output()
        .unwrap();
    let text = String::from_utf8(summary.stdout).unwrap();
    assert!(text.contains(r"bin:\x00\xff\x0a"), "{text}");
    assert!(!text.contains('\0'));
    // Redis writes slot information as SLOT_INFO opcodes (cluster mode only), not as AUX.
    let file = RdbWriter::redis(12)
        .aux("redis-ver", "8.2.1")
        .select_db(0)
        .slot_info(0, 1, 0)
        .key(ty::STRING, "k", &encode::string("v"))
        .select_db(2)
        .key(ty::STRING, "elsewhere", &encode::string("x"))
        .finish();
    std::fs::write(dir.path().join("slots.rdb"), file).unwrap();
    let out = rdbscope()
        .current_dir(dir.path())
        .args(["analyze", "--json", "-", "slots.rdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        finding_ids(&r).contains("cluster-nonzero-db"),
        "{:?}",
        finding_ids(&r)
    );
}

/// A dump of many keys of every common encoding (several 1 MiB windows of the streaming
/// reader, enough keys per window for the workers to share them out).
fn many_keys_dump() -> Vec<u8> {
    use rdbscope_testwriter::encode::string;
    use rdbscope_testwriter::value;
    use rdbscope_testwriter::RdbWriter;
    let mut w = RdbWriter::redis(11);
    w.aux("redis-ver", "7.2.4").aux("ctime", "1700000000");
    w.select_db(0);
    for i in 0..40_000u32 {
        if i % 3 == 0 {
            w.expire_ms(1_800_000_000_000 + i64::from(i) * 1000);
        }
        match i % 6 {
            0 => w.key(0, format!("user:{i}:name"), &string(format!("name-{i}"))),
            1 => w.key(
                0,
                format!("cache:{i:08x}"),
                &string("x".repeat((i % 300) as usize)),
            ),
            2 => w.key(
                16,
                format!("user:{i}:settings"),
                &value::hash_listpack((0..(i % 20 + 1)).map(|f| (format!("f{f}"), format!("{f}")))),
            ),
            3 => w.key(
                11,
                format!("tags:{i}"),
                &value::set_intset(&(0..i64::from(i % 30 + 1)).collect::<Vec<_>>()),
            ),
            4 => w.key(
                2,
                format!("set:{}:members", i % 97),
                &value::set((0..(i % 10 + 1)).map(|m| format!("member-{m}"))),
            ),
            _ => w.key(0, format!("counter:{i}"), &string(format!("{i}"))),
        };
    }
    w.finish()
}

#[test]
fn streamed_input_is_shared_among_workers_with_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let rdb = many_keys_dump();
    assert!(rdb.len() > 2 << 20, "spans several windows: {}", rdb.len());
    let path = dir.path().join("many.rdb");
    std::fs::write(&path, &rdb).unwrap();
    let lz4 = dir.path().join("many.rdb.lz4");
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    std::io::Write::write_all(&mut enc, &rdb).unwrap();
    std::fs::write(&lz4, enc.finish().unwrap()).unwrap();
    let (mapped, code) = analyze_json(&["--threads", "1", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(mapped["totals"]["keys"], 40_000);
    let expect = without_file_names(&mapped, path.to_str().unwrap());
    for threads in ["1", "2", "3"] {
        let out = rdbscope()
            .args([
                "analyze",
                "--quiet",
                "--json",
                "-",
                "--threads",
                threads,
                "-",
            ])
            .pipe_stdin(&path)
            .unwrap()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "stdin, {threads} threads");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            without_file_names(&v, "<stdin>"),
            expect,
            "stdin, {threads} threads"
        );
        let (v, code) = analyze_json(&["--threads", threads, lz4.to_str().unwrap()]);
        assert_eq!(code, 0);
        assert_eq!(
            without_file_names(&v, lz4.to_str().unwrap()),
            expect,
            ".lz4, {threads} threads"
        );
    }
}
