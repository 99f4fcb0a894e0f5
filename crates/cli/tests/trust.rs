//! What a new user reads first must be true: the reconciliation adds up in every output,
//! the allocator is inferred, damage is described as it is, options do what they say.
//! Run over the fixtures and every corpus dump (`../shared/corpus`, skipped with a message
//! when absent).

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn rdbscope() -> Command {
    Command::cargo_bin("rdbscope").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn corpus() -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("skipped: ../shared/corpus is absent");
        None
    }
}

/// Every corpus folder with a dump, with its manifest.
fn corpus_dumps() -> Vec<(PathBuf, Value)> {
    let Some(d) = corpus() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(&d).unwrap() {
        let p = e.unwrap().path();
        let dump = p.join("dump.rdb");
        if dump.is_file() {
            let m = std::fs::read_to_string(p.join("manifest.json")).unwrap();
            out.push((dump, serde_json::from_str(&m).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// `analyze DUMP EXTRA... --json -`, parsed.
fn json_report(dump: &Path, extra: &[&str]) -> Value {
    let out = rdbscope()
        .arg("analyze")
        .arg(dump)
        .args(extra)
        .args(["--json", "-"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Parses `1,234,567 B` / `-12 B` at the given column text.
fn exact_bytes(line: &str) -> Option<i64> {
    let end = line.rfind(" B ")?;
    let start = line[..end].rfind(' ')? + 1;
    let n: i64 = line[start..end]
        .replace(',', "")
        .trim_start_matches('-')
        .parse()
        .ok()?;
    Some(if line[start..].starts_with('-') {
        -n
    } else {
        n
    })
}

/// The reconciliation block of the terminal summary: (sign, label, bytes) per line.
fn terminal_waterfall(text: &str) -> Vec<(char, String, i64)> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in text.lines() {
        if l.starts_with("Reconciliation") {
            inside = true;
            continue;
        }
        if inside && !l.starts_with(' ') {
            break;
        }
        if !inside {
            continue;
        }
        if let Some(n) = exact_bytes(l) {
            let sign = l.chars().nth(2).unwrap_or(' ');
            out.push((sign, l[4..].split("  ").next().unwrap().to_string(), n));
        }
    }
    out
}

/// Checks the arithmetic of one dump's reconciliation in the terminal, JSON and CSV.
fn check_reconciliation(dump: &Path, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let csv_dir = dir.path().join("csv");
    let out = rdbscope()
        .arg("analyze")
        .arg(dump)
        .args(extra)
        .args(["--color", "never", "--json"])
        .arg(&json)
        .arg("--csv-dir")
        .arg(&csv_dir)
        .output()
        .unwrap();
    let name = dump.display();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &r["reconciliation"];

    // JSON: the terms add up to the prediction; used-mem = prediction + expired + remainder.
    let p = &c["predicted"];
    let predicted = p["used_memory"].as_i64();
    if let Some(pred) = predicted {
        let sum: i64 = p["terms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["bytes"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, pred, "{name}: JSON terms");
        let keys = p["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "keys")
            .unwrap()["bytes"]
            .as_i64()
            .unwrap();
        let total = r["totals"]["memory"].as_i64().unwrap();
        let expired = c["expired_at_save"].as_i64().unwrap();
        assert_eq!(
            keys + expired,
            total,
            "{name}: keys term + expired = totals"
        );
    }
    if let (Some(rest), Some(u), Some(pred)) = (
        c["remainder"].as_i64(),
        c["used_mem_at_save"].as_i64(),
        predicted,
    ) {
        let expired = c["expired_at_save"].as_i64().unwrap();
        assert_eq!(pred + expired + rest, u, "{name}: JSON remainder");
    }

    // CSV: the same rows, the same sums.
    let mut rd = csv::Reader::from_path(csv_dir.join("reconciliation.csv")).unwrap();
    let rows: Vec<(String, String, Option<i64>)> = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_string(), r[1].to_string(), r[2].parse().ok())
        })
        .collect();
    let get = |s: &str, t: &str| rows.iter().find(|r| r.0 == s && r.1 == t).and_then(|r| r.2);
    if let Some(pred) = predicted {
        let sum: i64 = rows
            .iter()
            .filter(|r| r.0 == "predicted" && r.1 != "used_memory")
            .map(|r| r.2.unwrap())
            .sum();
        assert_eq!(sum, pred, "{name}: CSV terms");
        assert_eq!(get("predicted", "used_memory"), Some(pred));
    }
    if let Some(rest) = get("at_save", "remainder") {
        assert_eq!(
            get("at_save", "predicted_used_memory").unwrap()
                + get("at_save", "expired_at_save").unwrap()
                + rest,
            get("at_save", "used_mem_at_save").unwrap(),
            "{name}: CSV remainder"
        );
        assert_eq!(Some(rest), c["remainder"].as_i64());
    }

    // Terminal: every `+` line after the first adds to the running sum up to `=`, and the
    // used-mem block subtracts down to its `=`.
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = terminal_waterfall(&text);
    let mut run: Option<i64> = None;
    let mut equals = 0;
    for (sign, label, n) in &lines {
        match sign {
            ' ' => run = Some(*n),
            '+' => *run.as_mut().unwrap() += n,
            '-' => *run.as_mut().unwrap() -= n,
            '=' => {
                assert_eq!(run, Some(*n), "{name}: terminal line {label:?}\n{text}");
                equals += 1;
                run = Some(*n);
            }
            _ => panic!("{name}: unexpected line {label:?}"),
        }
    }
    if predicted.is_some() {
        assert!(equals >= 1, "{name}: no `=` line\n{text}");
        let pred_line = lines
            .iter()
            .find(|l| l.1.starts_with("predicted used_memory"))
            .unwrap();
        assert_eq!(Some(pred_line.2), predicted, "{name}: terminal prediction");
    }
    if let Some(rest) = c["remainder"].as_i64() {
        let last = lines.iter().rev().find(|l| l.0 == '=').unwrap();
        assert_eq!(last.2, rest, "{name}: terminal remainder");
        assert!(
            !text.contains("the rest -"),
            "{name}: old wording of a negative remainder"
        );
    }
}

#[test]
fn reconciliation_adds_up_on_every_fixture_and_corpus_dump() {
    let mut files: Vec<PathBuf> = rdbscope_testwriter::dumps::fixtures();
    files.extend(corpus_dumps().into_iter().map(|(d, _)| d));
    assert!(files.len() >= 15);
    for f in &files {
        check_reconciliation(f, &[]);
    }
    // Filtered and multi-file runs keep their arithmetic too.
    check_reconciliation(&fixture("mixed.rdb"), &["--match", "user:*"]);
}

#[test]
fn reconciliation_filtered_is_not_compared() {
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("mixed.rdb"))
        .args(["--match", "user:*", "--json", "-"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["reconciliation"]["covers"], "selected keys");
    assert!(r["reconciliation"]["remainder"].is_null());
}

/// One flipped byte inside a string value: framing intact, every record read.
#[test]
fn checksum_mismatch_with_every_record_read_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = std::fs::read(fixture("mixed.rdb")).unwrap();
    let out = rdbscope()
        .args(["keys", "--format", "jsonl"])
        .arg(fixture("mixed.rdb"))
        .output()
        .unwrap();
    let row: Value = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["encoding"] == "raw" && r["largest_element"].as_u64().unwrap() > 40)
        .unwrap();
    let at = (row["offset"].as_u64().unwrap() + row["size"].as_u64().unwrap() - 3) as usize;
    data[at] ^= 0x01;
    let p = dir.path().join("flipped.rdb");
    std::fs::write(&p, &data).unwrap();

    let out = rdbscope()
        .arg("analyze")
        .arg(&p)
        .args(["--color", "never", "--json"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    assert_eq!(r["complete"], true);
    assert_eq!(r["files"][0]["complete"], true);
    assert_eq!(r["files"][0]["checksum"], "mismatch");
    assert_eq!(
        r["files"][0]["checksum_mismatch"].as_array().unwrap().len(),
        2
    );
    assert!(r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "checksum-mismatch"));
    assert!(!r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "incomplete-input"));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let json = std::fs::read_to_string(dir.path().join("r.json")).unwrap();
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr), ("json", &json)] {
        assert!(!text.contains("missing"), "{what}: {text}");
        assert!(!text.contains("PARTIAL"), "{what}: {text}");
    }
    assert!(stdout.contains("all records were read"), "{stdout}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");

    let out = rdbscope().arg("verify").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("checksum: mismatch")),
        "{text}"
    );
}

/// Files that are not dumps: one line naming what they look like, exit 1, no report.
#[test]
fn wrong_files_get_one_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    // A compressed dump is read now (tests/compressed.rs); a zip archive is still refused.
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00dump.rdb".to_vec();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "info.txt",
            b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n".to_vec(),
            "INFO",
        ),
        ("dump.zip", zip, "zip archive"),
        (
            "junk.bin",
            vec![0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4],
            "de ad be ef",
        ),
    ];
    for (name, bytes, says) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        for cmd in ["analyze", "verify", "keys"] {
            let out = rdbscope().arg(cmd).arg(&p).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {name}: {err}");
            assert!(
                err.contains(says) && err.contains(name),
                "{cmd} {name}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{cmd} {name}: {err}");
            assert!(out.stdout.is_empty(), "{cmd} {name}");
        }
    }
    // An empty file or a dump cut inside its header is damaged, not wrong: exit 3, one
    // line, no empty summary.
    for (name, bytes) in [("cut.rdb", &b"REDIS00"[..]), ("empty.rdb", &b""[..])] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = rdbscope().arg("analyze").arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(": offset "), "{err}");
    }
}

/// Without `--allocator`, the allocator chosen is the one that built each corpus server
/// (its manifest's): jemalloc-16 for Debian's 7.0.15 package, jemalloc for the others.
#[test]
fn allocator_inferred_equals_the_manifest_on_every_corpus_folder() {
    let dumps = corpus_dumps();
    for (dump, manifest) in &dumps {
        let r = json_report(dump, &[]);
        let s = &r["snapshot"][0];
        assert_eq!(
            s["allocator"],
            manifest["allocator"],
            "{}: {}",
            dump.display(),
            s["allocator_choice"]
        );
        let source = s["allocator_choice"]["source"].as_str().unwrap();
        assert!(matches!(source, "inferred" | "assumed"), "{source}");
        assert!(!s["allocator_choice"]["evidence"]
            .as_str()
            .unwrap()
            .is_empty());
    }
    // Given, it is used as it is and said to be given.
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("mixed.rdb"))
        .args(["--allocator", "libc", "--json", "-"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["snapshot"][0]["allocator"], "libc");
    assert_eq!(r["snapshot"][0]["allocator_choice"]["source"], "given");
}

#[test]
fn cluster_mode_is_read_from_the_file_unless_given() {
    for (dump, manifest) in &corpus_dumps() {
        let cluster = manifest["config_used"]
            .as_array()
            .is_some_and(|c| c.iter().any(|l| l == "cluster-enabled yes"));
        let r = json_report(dump, &[]);
        let setting = r["snapshot"][0]["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "cluster-enabled")
            .cloned()
            .unwrap();
        assert_eq!(
            setting["value"],
            if cluster { "yes" } else { "no" },
            "{}",
            dump.display()
        );
        if cluster {
            assert_eq!(setting["from"], "slot information in the file");
            // With the cluster tables predicted, what is left is what any live server holds
            // (the standalone folders leave 2-15%), not the 16384-slot state.
            let pct = r["reconciliation"]["remainder_pct"].as_f64().unwrap();
            assert!(pct < 20.0, "{}: remainder {pct}%", dump.display());
            let text =
                String::from_utf8(rdbscope().arg("analyze").arg(dump).output().unwrap().stdout)
                    .unwrap();
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains("cluster mode (from slot information in the file)"),
                "{text}"
            );
            // Given, the user's word stands.
            let r = json_report(dump, &["--config", "cluster-enabled=no"]);
            assert!(r["snapshot"][0]["settings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "cluster-enabled"
                    && s["value"] == "no"
                    && s["from"] == "--config"));
            assert!(r["reconciliation"]["remainder_pct"].as_f64().unwrap() > pct);
        }
    }
}

/// The `used-mem` AUX of a dump set to `value` (Redis writes it as a 32-bit integer).
fn with_used_mem(dump: &[u8], value: u32) -> Vec<u8> {
    let at = dump
        .windows(11)
        .position(|w| w.starts_with(b"\x08used-mem\xc2"))
        .expect("used-mem AUX as int32");
    let mut d = dump.to_vec();
    d[at + 10..at + 14].copy_from_slice(&value.to_le_bytes());
    d
}

/// Strong evidence against the packaging default: the keys are sized again with the
/// allocator it points at (a file can be read twice); standard input keeps the default and
/// says which `--allocator` to pass.
#[test]
fn allocator_evidence_against_the_default_sizes_keys_again() {
    let Some(c) = corpus() else { return };
    let dump = std::fs::read(c.join("redis-7.0.15/dump.rdb")).unwrap();
    let json = |args: &[&str], stdin: Option<&[u8]>| {
        let mut cmd = rdbscope();
        cmd.arg("analyze")
            .args(args)
            .args(["--no-checksum", "--json", "-"]);
        if let Some(b) = stdin {
            cmd.write_stdin(b.to_vec());
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("upstream-7.0.15.rdb");
    std::fs::write(&p, &dump).unwrap();
    let ps = p.to_str().unwrap();
    let given = json(&[ps, "--allocator", "jemalloc"], None);
    // As if an upstream build wrote it: used-mem exactly the jemalloc prediction.
    let jemalloc = given["reconciliation"]["predicted"]["used_memory"]
        .as_u64()
        .unwrap();
    let patched = with_used_mem(&dump, u32::try_from(jemalloc).unwrap());
    std::fs::write(&p, &patched).unwrap();
    let given = json(&[ps, "--allocator", "jemalloc"], None);
    let inferred = json(&[ps], None);
    let s = &inferred["snapshot"][0];
    assert_eq!(s["allocator"], "jemalloc", "{}", s["allocator_choice"]);
    assert_eq!(s["allocator_choice"]["source"], "inferred");
    // Sized again: every figure is the given run's.
    assert_eq!(inferred["totals"], given["totals"]);
    assert_eq!(inferred["reconciliation"], given["reconciliation"]);
    // Standard input cannot be read twice: the default stays, and the evidence says so.
    let piped = json(&["-"], Some(&patched));
    let s = &piped["snapshot"][0];
    assert_eq!(s["allocator"], "jemalloc-16");
    let ev = s["allocator_choice"]["evidence"].as_str().unwrap();
    assert!(ev.contains("--allocator jemalloc"), "{ev}");
}

/// The data rows of the terminal section under `heading` (its column header left out).
fn section_rows(text: &str, heading: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(heading)).skip(1);
    let mut out = Vec::new();
    for l in lines.by_ref() {
        if l.is_empty() || !l.starts_with(' ') {
            break;
        }
        out.push(l.to_string());
    }
    out.into_iter()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("key ")
                && !t.starts_with("keys ")
                && !t.starts_with("---")
                && !l.ends_with(':')
        })
        .collect()
}

#[test]
fn top_rows_and_depth_do_what_they_say_on_the_terminal() {
    let run = |args: &[&str]| {
        let out = rdbscope()
            .arg("analyze")
            .arg(fixture("mixed.rdb"))
            .args(["--color", "never"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run(&["--top", "20"]);
    for heading in ["Top keys by memory", "Top keys by elements"] {
        assert_eq!(section_rows(&text, heading).len(), 20, "{heading}\n{text}");
    }
    // The biggest keys without TTL are a titled list inside Expiry.
    let expiry = section_rows(&text, "Expiry");
    let no_ttl = expiry
        .iter()
        .skip_while(|l| !l.contains("biggest keys without TTL"))
        .count();
    assert!(no_ttl == 0 || no_ttl >= 20, "{text}");
    let text = run(&["--top", "3"]);
    assert_eq!(section_rows(&text, "Top keys by memory").len(), 3);
    // Default: 10 rows on screen, level 1 only.
    let text = run(&[]);
    assert_eq!(section_rows(&text, "Top keys by memory").len(), 10);
    assert!(text.contains("Prefixes (level 1") && !text.contains("Prefixes (level 2"));
    let text = run(&["--depth", "2"]);
    assert!(text.contains("Prefixes (level 2"), "{text}");
    assert!(!text.contains("Prefixes (level 3"));
    let text = run(&["--rows", "3"]);
    let patterns = section_rows(&text, "Key patterns");
    // 3 rows and (other).
    assert_eq!(patterns.len(), 4, "{patterns:?}");
}

#[test]
fn settings_are_shown_and_recorded_in_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let inc = dir.path().join("memory.conf");
    std::fs::write(&inc, "maxmemory 40mb\n").unwrap();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        format!("maxmemory-policy volatile-lru\ninclude {}\n", inc.display()),
    )
    .unwrap();
    let json = dir.path().join("r.json");
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("mixed.rdb"))
        .arg("--redis-conf")
        .arg(&conf)
        .args([
            "--config",
            "hash-max-listpack-entries=64",
            "--threshold",
            "big-key-pct=5",
            "--color",
            "never",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    // Lines wrap at 100 columns: read the Snapshot section as one line.
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("of maxmemory 40.0 MiB (volatile-lru)"),
        "{text}"
    );
    assert!(text.contains("% left"), "{text}");
    assert!(text.contains("redis.conf"), "{text}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let s = &r["snapshot"][0];
    let h = &s["maxmemory"];
    assert_eq!(h["maxmemory"], 40u64 << 20);
    assert_eq!(h["policy"], "volatile-lru");
    assert_eq!(
        h["predicted_used_memory"],
        r["reconciliation"]["predicted"]["used_memory"]
    );
    let settings = s["settings"].as_array().unwrap();
    let find = |name: &str| {
        settings
            .iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in {settings:?}"))
    };
    assert_eq!(find("model")["value"], "redis-7.0");
    assert_eq!(find("allocator")["value"], "jemalloc-16");
    assert_eq!(find("hash-max-listpack-entries")["from"], "--config");
    assert!(find("maxmemory")["from"]
        .as_str()
        .unwrap()
        .contains("memory.conf line 1"));
    assert!(find("maxmemory-policy")["from"]
        .as_str()
        .unwrap()
        .contains("redis.conf line 1"));
    assert_eq!(find("list-compress-depth")["from"], "default");
    assert_eq!(find("threshold big-key-pct")["value"], "5");
    assert_eq!(find("threshold big-key-pct")["from"], "--threshold");
    for name in [
        "redis-conf",
        "include",
        "top",
        "rows",
        "depth",
        "row-cap",
        "separators",
    ] {
        find(name);
    }
}

#[test]
fn bad_config_files_and_sizes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.conf");
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("mixed.rdb"))
        .arg("--redis-conf")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--redis-conf") && err.contains("nope.conf"),
        "{err}"
    );
    let conf = dir.path().join("redis.conf");
    std::fs::write(&conf, format!("include {}\n", missing.display())).unwrap();
    let out = rdbscope()
        .arg("keys")
        .arg(fixture("mixed.rdb"))
        .arg("--redis-conf")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("include in") && err.contains("line 1"),
        "{err}"
    );

    let count = |min: &str| {
        let out = rdbscope()
            .args(["keys", "--format", "jsonl", "--min-memory", min])
            .arg(fixture("mixed.rdb"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{min}");
        String::from_utf8(out.stdout).unwrap().lines().count()
    };
    assert_eq!(count("1KiB"), count("1024"));
    assert_eq!(count("1kb"), count("1024"));
    assert!(count("500") > count("1KiB"));
    let out = rdbscope()
        .args(["analyze", "--min-memory", "1parsec"])
        .arg(fixture("mixed.rdb"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Splits a command line as a POSIX shell would (single quotes only, as findings write).
fn shell_words(cmd: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut any) = (Vec::new(), String::new(), false, false);
    for c in cmd.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                any = true;
            }
            ' ' if !quoted => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            c => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn findings(r: &Value) -> &Vec<Value> {
    r["findings"].as_array().unwrap()
}

/// Runs a finding's `rdbscope keys …` command and returns its rows.
fn run_command(cmd: &str) -> Vec<Value> {
    let words = shell_words(cmd);
    assert_eq!(words[0], "rdbscope", "{cmd}");
    let out = rdbscope().args(&words[1..]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{cmd}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn partial_ttl_leak_is_found_with_the_command_that_lists_it() {
    let Some(c) = corpus() else { return };
    let dump = c.join("redis-7.0.15/dump.rdb");
    let out = rdbscope()
        .arg("analyze")
        .arg(&dump)
        .args(["--json", "-"])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "pattern-partial-ttl")
        .unwrap_or_else(|| panic!("no partial-TTL finding: {:?}", findings(&r)));
    assert!(
        f["title"].as_str().unwrap().contains("cache:v2:{hex}"),
        "{f}"
    );
    let cmd = f["command"].as_str().unwrap();
    assert!(cmd.contains("--match 'cache:v2:*' --no-expiry"), "{cmd}");
    // The command lists exactly the pattern's keys without TTL.
    let row = r["patterns"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cache:v2:{hex}")
        .unwrap();
    let keys = run_command(cmd);
    assert_eq!(keys.len() as u64, row["keys_no_ttl"].as_u64().unwrap());
    assert!(keys.iter().all(|k| k["expire_at_ms"].is_null()));
    let mem: u64 = keys.iter().map(|k| k["memory"].as_u64().unwrap()).sum();
    assert_eq!(mem, row["memory_no_ttl"].as_u64().unwrap());
}

#[test]
fn no_ttl_memory_findings_follow_the_eviction_policy() {
    let run = |args: &[&str]| {
        let out = rdbscope()
            .arg("analyze")
            .arg(fixture("mixed.rdb"))
            .args(args)
            .args(["--json", "-"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let ids = |r: &Value| -> Vec<String> {
        findings(r)
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    // 78% of the fixture's memory has no TTL: said, as information.
    let r = run(&[]);
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "no-ttl-memory")
        .unwrap_or_else(|| panic!("{:?}", ids(&r)));
    assert_eq!(f["severity"], "info");
    assert_eq!(run_command(f["command"].as_str().unwrap()).len(), 153);
    // Under a volatile policy those keys can never be evicted.
    let r = run(&["--config", "maxmemory-policy=volatile-lru"]);
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "no-ttl-unevictable")
        .unwrap_or_else(|| panic!("{:?}", ids(&r)));
    assert_eq!(f["severity"], "warning");
    assert!(!ids(&r).contains(&"no-ttl-memory".to_string()));
    // Under noeviction with maxmemory: a warning, critical when little is left.
    let r = run(&["--config", "maxmemory=100mb"]);
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "no-ttl-unevictable")
        .unwrap();
    assert_eq!(f["severity"], "warning");
    assert!(f["evidence"].as_str().unwrap().contains("left"));
    let r = run(&["--config", "maxmemory=1mb"]);
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "no-ttl-unevictable")
        .unwrap();
    assert_eq!(f["severity"], "critical");
    // No maxmemory and noeviction: not the unevictable rule.
    assert!(!ids(&run(&[])).contains(&"no-ttl-unevictable".to_string()));
}

#[test]
fn big_key_severity_is_by_cost() {
    let run = |args: &[&str]| {
        let out = rdbscope()
            .arg("analyze")
            .arg(fixture("mixed.rdb"))
            .args(args)
            .args(["--json", "-"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // leaderboard:monthly holds ~21% of this small dump's memory with 150 members (a big key
    // once the byte floor is lowered): worth a warning, not critical (deleting it blocks
    // nothing), though it holds over twice the share threshold.
    let r = run(&["--threshold", "big-key-min-bytes=1k"]);
    let f = findings(&r)
        .iter()
        .find(|f| {
            f["id"] == "big-key" && f["title"].as_str().unwrap().contains("leaderboard:monthly")
        })
        .unwrap();
    assert_eq!(f["severity"], "warning");
    let rows = run_command(f["command"].as_str().unwrap());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key"], "leaderboard:monthly");
    // A key whose DEL blocks (here: 100 or more elements, by threshold) is critical.
    let r = run(&[
        "--threshold",
        "big-key-min-bytes=1k",
        "--threshold",
        "blocking-elements=100",
    ]);
    let f = findings(&r)
        .iter()
        .find(|f| {
            f["id"] == "big-key" && f["title"].as_str().unwrap().contains("leaderboard:monthly")
        })
        .unwrap();
    assert_eq!(f["severity"], "critical");
    assert!(f["next_step"].as_str().unwrap().contains("UNLINK"));
}

/// Every finding that names keys carries a command, and every command runs.
#[test]
fn every_finding_command_runs_on_the_corpus() {
    let mut seen = 0;
    let mut files: Vec<PathBuf> = rdbscope_testwriter::dumps::fixtures();
    files.extend(corpus_dumps().into_iter().map(|(d, _)| d));
    for dump in files {
        let out = rdbscope()
            .arg("analyze")
            .arg(&dump)
            .args(["--json", "-"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        for f in findings(&r) {
            let Some(cmd) = f["command"].as_str() else {
                assert!(
                    matches!(f["id"].as_str(), Some("memory-not-in-keys" | "rows-folded")),
                    "{f}"
                );
                continue;
            };
            if cmd.starts_with("rdbscope keys") {
                let rows = run_command(cmd);
                assert!(!rows.is_empty(), "{}: {cmd} lists nothing", dump.display());
                seen += 1;
            }
        }
    }
    assert!(seen > 10, "{seen}");
}

/// A family of 400 cache pages where a quarter lost their TTL, written by the test writer:
/// the leak is found on any machine, corpus or not.
#[test]
fn partial_ttl_leak_in_a_written_dump() {
    use rdbscope_testwriter::{encode, ty, RdbWriter};
    let ctime: i64 = 1_700_000_000;
    let mut w = RdbWriter::redis(10);
    w.aux("redis-ver", "7.2.6")
        .aux("ctime", ctime.to_string())
        .select_db(0)
        .resize_db(400, 300);
    let page = "x".repeat(20_000);
    for i in 0..400u32 {
        if i % 4 != 0 {
            w.expire_ms((ctime + 3600) * 1000);
        }
        w.key(
            ty::STRING,
            format!("cache:page:{:016x}", u64::from(i) * 0x9e37_79b9),
            &encode::string(page.as_bytes()),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("leak.rdb");
    std::fs::write(&p, w.finish()).unwrap();
    let out = rdbscope()
        .arg("analyze")
        .arg(&p)
        .args(["--json", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "pattern-partial-ttl")
        .unwrap_or_else(|| panic!("{:?}", findings(&r)));
    // Every id is 16 hex digits; the few that happen to be all digits still count in
    // `cache:page:{hex}` (no `{num}` twin).
    assert!(f["title"].as_str().unwrap().contains("100 of 400"), "{f}");
    assert_eq!(f["severity"], "warning");
    let rows = run_command(f["command"].as_str().unwrap());
    assert_eq!(rows.len(), 100);
}

/// One escaping rule for key names everywhere: valid UTF-8 shown as text, control bytes,
/// invalid bytes and the backslash escaped, the same as `keys --escape print`.
#[test]
fn key_names_are_escaped_alike_in_every_output() {
    use rdbscope_testwriter::{encode, ty, RdbWriter};
    let names: [&[u8]; 4] = [
        "ключ:профиль".as_bytes(),
        b"ctl:a\x01b",
        b"bad:\xff\xfe",
        b"back:\\slash",
    ];
    let mut w = RdbWriter::redis(10);
    w.aux("redis-ver", "7.2.6").select_db(0).resize_db(4, 0);
    for (i, n) in names.iter().enumerate() {
        w.key(ty::STRING, n, &encode::string("v".repeat(100 * (i + 1))));
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("names.rdb");
    std::fs::write(&p, w.finish()).unwrap();
    let out = rdbscope()
        .args(["keys", "--format", "jsonl"])
        .arg(&p)
        .output()
        .unwrap();
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        listed,
        [
            "ключ:профиль",
            "ctl:a\\x01b",
            "bad:\\xff\\xfe",
            "back:\\\\slash"
        ]
    );
    let out = rdbscope()
        .arg("analyze")
        .arg(&p)
        .args(["--color", "never", "--json"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let top: Vec<&str> = r["top_keys"]["by_memory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    for name in &listed {
        assert!(top.contains(&name.as_str()), "{name} not in {top:?}");
        assert!(
            text.contains(name.as_str()),
            "{name} not on screen:\n{text}"
        );
    }
    assert!(!text.contains('\u{1}'));
}

#[test]
fn idle_and_lfu_csv_say_no_data_without_lru_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("mixed.rdb"))
        .arg("--csv-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    for f in ["idle.csv", "lfu.csv"] {
        let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{f}: {text}");
        assert!(lines[1].contains("no data"), "{f}: {text}");
    }
    // With LFU data, lfu.csv has its buckets.
    let out = rdbscope()
        .arg("analyze")
        .arg(fixture("lfu.rdb"))
        .arg("--csv-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("lfu.csv")).unwrap();
    assert!(
        !text.contains("no data") && text.lines().count() > 2,
        "{text}"
    );
}

/// Consumer-group lag and pending per group and consumer, against `XINFO GROUPS` /
/// `XINFO CONSUMERS` of the corpus servers.
#[test]
fn stream_groups_match_xinfo_on_the_corpus() {
    let mut compared = 0;
    for (dump, _) in corpus_dumps() {
        let truth = std::fs::read_to_string(dump.with_file_name("truth.jsonl")).unwrap();
        let truth: Vec<Value> = truth
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let out = rdbscope()
            .arg("analyze")
            .arg(&dump)
            .args(["--top", "100", "--json", "-"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        for s in r["streams"]["top_pending"].as_array().unwrap() {
            let Some(t) = truth
                .iter()
                .find(|t| t["key"] == s["key"] && t["db"] == s["db"])
            else {
                continue; // expired at load
            };
            let groups = t["stream"]["group_list"].as_array().unwrap();
            for g in s["group_list"].as_array().unwrap() {
                let tg = groups.iter().find(|x| x["name"] == g["name"]).unwrap();
                assert_eq!(g["pending"], tg["pending"], "{}: {g}", dump.display());
                assert_eq!(g["consumers"], tg["consumers"], "{}: {g}", dump.display());
                // Redis 6.2 has no lag in XINFO GROUPS.
                if let (Some(lag), true) = (g["lag"].as_u64(), tg.get("lag").is_some()) {
                    assert_eq!(
                        Some(lag),
                        tg["lag"].as_u64(),
                        "{}: {g} vs {tg}",
                        dump.display()
                    );
                    compared += 1;
                }
                for c in g["top_consumers"].as_array().unwrap() {
                    let tc = tg["consumer_list"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|x| x["name"] == c["name"])
                        .unwrap();
                    assert_eq!(c["pending"], tc["pending"]);
                }
            }
        }
    }
    if corpus().is_some() {
        assert!(compared > 20, "{compared} lags compared");
    }
}

/// A dump given twice, or a primary beside its replica, is called out: its keys would be
/// counted twice.
#[test]
fn duplicate_inputs_are_warned_about() {
    use rdbscope_testwriter::{encode, ty, RdbWriter};
    let dump = |ctime: &str, offset: &str| {
        let mut w = RdbWriter::redis(10);
        w.aux("redis-ver", "7.2.6")
            .aux("ctime", ctime)
            .aux("repl-id", "8b1e0a2cbd3a5f6e7d8c9b0a1f2e3d4c5b6a7980")
            .aux("repl-offset", offset)
            .select_db(0)
            .resize_db(1, 0)
            .key(ty::STRING, "k", &encode::string("v"));
        w.finish()
    };
    let dir = tempfile::tempdir().unwrap();
    let primary = dir.path().join("primary.rdb");
    let replica = dir.path().join("replica.rdb");
    std::fs::write(&primary, dump("1700000000", "1000")).unwrap();
    std::fs::write(&replica, dump("1700000060", "1200")).unwrap();
    let run = |files: &[&Path]| {
        let out = rdbscope()
            .arg("analyze")
            .args(files)
            .args(["--json", "-"])
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        (r, String::from_utf8(out.stderr).unwrap())
    };
    let (r, _) = run(&[&primary, &replica]);
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "duplicate-input")
        .unwrap_or_else(|| panic!("{:?}", findings(&r)));
    assert!(f["title"].as_str().unwrap().contains("replica"), "{f}");
    // The same file under two names: a warning on stderr and the same-snapshot finding.
    let link = dir.path().join("again.rdb");
    std::fs::hard_link(&primary, &link).unwrap();
    let (r, err) = run(&[&primary, &link]);
    assert!(err.contains("are the same file"), "{err}");
    let f = findings(&r)
        .iter()
        .find(|f| f["id"] == "duplicate-input")
        .unwrap();
    assert!(
        f["title"].as_str().unwrap().contains("same snapshot"),
        "{f}"
    );
    // Two different shards: nothing.
    let (r, err) = run(&[&fixture("mixed.rdb"), &fixture("lfu.rdb")]);
    assert!(!err.contains("same file"));
    assert!(!findings(&r).iter().any(|f| f["id"] == "duplicate-input"));
}

/// An appendonlydir's incremental files are named, with size and command count, as not
/// applied.
#[test]
fn aof_increments_are_named_as_not_applied() {
    let dir = tempfile::tempdir().unwrap();
    let aof = dir.path().join("appendonlydir");
    std::fs::create_dir(&aof).unwrap();
    std::fs::copy(fixture("mixed.rdb"), aof.join("appendonly.aof.1.base.rdb")).unwrap();
    let incr = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n";
    std::fs::write(aof.join("appendonly.aof.1.incr.aof"), incr).unwrap();
    std::fs::write(
        aof.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let out = rdbscope()
        .arg("analyze")
        .arg(&aof)
        .args(["--color", "never", "--json"])
        .arg(dir.path().join("r.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("NOT APPLIED: 1 incremental file") && text.contains("3 commands"),
        "{text}"
    );
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("r.json")).unwrap()).unwrap();
    let a = &r["snapshot"][0]["aof_increments"][0];
    assert_eq!(a["commands"], 3);
    assert_eq!(a["bytes"], incr.len());
}
