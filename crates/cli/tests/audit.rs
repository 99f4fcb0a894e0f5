//! The nightly audit's commands through the real binary: `analyze --json` reads back,
//! `diff` of dumps and of saved reports, and the errors a script meets (another schema
//! version, a truncated report, a damaged dump on one side, a mix of dumps and reports).

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

fn corpus_dump(folder: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(folder)
        .join("dump.rdb");
    if p.is_file() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes the JSON report of `dumps` to `out`.
fn analyze_json(dumps: &[&Path], out: &Path, extra: &[&str]) {
    let mut c = rdbscope();
    c.arg("analyze").args(dumps.iter().map(|p| s(p)));
    c.args(["--quiet", "--json", s(out)]).args(extra);
    c.assert().success();
}

fn diff_json(args: &[&str]) -> (Value, String, i32) {
    let out = rdbscope()
        .arg("diff")
        .args(args)
        .args(["--json", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::Null);
    (v, text, out.status.code().unwrap_or(-1))
}

#[test]
fn analyze_json_reads_back_through_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fixture("mixed.rdb"), fixture("hashes.rdb"));
    let (ra, rb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    analyze_json(&[&a], &ra, &[]);
    analyze_json(&[&b], &rb, &[]);
    // From the two reports and from the two dumps: the same bytes.
    let (from_reports, text_r, code) = diff_json(&[s(&ra), s(&rb)]);
    assert_eq!(code, 0);
    let (_, text_d, code) = diff_json(&[s(&a), s(&b)]);
    assert_eq!(code, 0);
    assert_eq!(text_r, text_d);
    // The totals are the reports' difference.
    let ja: Value = serde_json::from_str(&std::fs::read_to_string(&ra).unwrap()).unwrap();
    let jb: Value = serde_json::from_str(&std::fs::read_to_string(&rb).unwrap()).unwrap();
    let mem = |j: &Value| j["totals"]["memory"].as_i64().unwrap();
    assert_eq!(
        from_reports["totals"]["memory"]["delta"].as_i64().unwrap(),
        mem(&jb) - mem(&ja)
    );
    assert_eq!(from_reports["diff_schema_version"], 1);
}

#[test]
fn diff_of_a_dump_with_itself_shows_no_change() {
    let a = fixture("mixed.rdb");
    let out = rdbscope().args(["diff", s(&a), s(&a)]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for section in [
        "Key patterns",
        "Prefixes, level 1",
        "Expiry",
        "Top keys by memory",
    ] {
        let after = text
            .split(section)
            .nth(1)
            .unwrap_or_else(|| panic!("{section}"));
        let first = after.lines().nth(1).unwrap_or("");
        assert_eq!(first.trim(), "no change", "{section}:\n{text}");
    }
    assert!(text.contains("saved at the same second"), "{text}");
}

#[test]
fn shards_on_each_side_and_the_projection() {
    let Some(old) = corpus_dump("redis-7.0.15--maxmemory-policy-allkeys-lfu") else {
        return;
    };
    let Some(new) = corpus_dump("redis-7.0.15") else {
        return;
    };
    let (d, _, code) = diff_json(&[
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--new",
        s(&fixture("mixed.rdb")),
        "--config",
        "maxmemory=64mb",
    ]);
    assert_eq!(code, 0);
    assert_eq!(d["new"]["files"].as_array().unwrap().len(), 2);
    let p = &d["projection"];
    assert_eq!(p["maxmemory"], 2 * 64 * 1024 * 1024);
    // The new side is later and bigger: a positive growth and a finite time to full.
    assert!(d["elapsed_seconds"].as_i64().unwrap() > 0, "{d}");
    assert!(p["growth_per_day"].as_f64().unwrap() > 0.0);
    let days = p["days_until_full"].as_f64().unwrap();
    let (used, max, g) = (
        p["used_memory"].as_f64().unwrap(),
        p["maxmemory"].as_f64().unwrap(),
        p["growth_per_day"].as_f64().unwrap(),
    );
    assert!((days - (max - used) / g).abs() < 0.1, "{p}");
    assert!(p["note"].as_str().unwrap().contains("linear extrapolation"));
}

#[test]
fn bad_reports_and_mixed_sides_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture("mixed.rdb");
    let good = dir.path().join("good.json");
    analyze_json(&[&a], &good, &[]);
    let text = std::fs::read_to_string(&good).unwrap();

    let newer = dir.path().join("newer.json");
    std::fs::write(
        &newer,
        text.replacen("\"schema_version\": 2", "\"schema_version\": 9", 1),
    )
    .unwrap();
    let out = rdbscope()
        .args(["diff", s(&newer), s(&good)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("newer.json") && err.contains("9") && err.contains("version 2"),
        "{err}"
    );

    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    let out = rdbscope()
        .args(["diff", s(&good), s(&cut)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cut.json") && err.contains("not valid JSON"),
        "{err}"
    );

    let out = rdbscope()
        .args(["diff", "--old", s(&good), "--old", s(&a), "--new", s(&a)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = rdbscope().args(["diff", s(&a)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_damaged_side_is_marked_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture("mixed.rdb");
    let bytes = std::fs::read(&a).unwrap();
    let cut = dir.path().join("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (d, _, code) = diff_json(&[s(&a), s(&cut)]);
    assert_eq!(code, 3);
    assert_eq!(d["old"]["complete"], true);
    assert_eq!(d["new"]["complete"], false);
    let out = rdbscope().args(["diff", s(&a), s(&cut)]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("PARTIAL"), "{text}");
}

#[test]
fn json_output_replaces_the_old_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    let a = fixture("mixed.rdb");
    let out = dir.path().join("diff.json");
    std::fs::write(&out, "previous").unwrap();
    rdbscope()
        .args(["diff", s(&a), s(&a), "--json", s(&out)])
        .assert()
        .success();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(v["totals"]["memory"]["delta"], 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file was left"
    );
}

/// Runs `check` on `report` with one rule; the exit code.
fn check_code(report: &Path, rule: &str) -> i32 {
    let out = rdbscope()
        .args(["check", s(report), "--fail-on", rule])
        .output()
        .unwrap();
    out.status.code().unwrap_or(-1)
}

#[test]
fn check_fails_exactly_where_each_rule_says() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    analyze_json(&[&fixture("mixed.rdb")], &report, &[]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let u = |v: &Value| v.as_u64().unwrap();
    let t = &r["totals"];
    let p = &r["patterns"];
    let sum = |f: &str| {
        p["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| u(&x[f]))
            .sum::<u64>()
            + u(&p["other"][f])
    };
    let row = &p["rows"][0];
    let glob = row["name"].as_str().unwrap().replace(['{', '}'], "?");
    let prefix = &r["prefixes"]["levels"][0]["rows"][0];
    // (quantity, its value as measured from the report)
    let cases: Vec<(String, u64)> = vec![
        ("memory".into(), u(&t["memory"])),
        ("keys".into(), u(&t["keys"])),
        ("keys-no-ttl".into(), u(&t["keys"]) - u(&t["keys_with_ttl"])),
        ("memory-no-ttl".into(), sum("memory_no_ttl")),
        (
            "biggest-key".into(),
            u(&r["top_keys"]["by_memory"][0]["memory"]),
        ),
        (
            "stream-pending".into(),
            u(&r["streams"]["top_pending"][0]["pending"]),
        ),
        (format!("pattern({glob}).memory"), u(&row["memory"])),
        (format!("pattern({glob}).keys"), u(&row["keys"])),
        (
            format!("prefix({}).memory", prefix["name"].as_str().unwrap()),
            u(&prefix["memory"]),
        ),
    ];
    for (q, v) in &cases {
        assert!(*v > 0, "{q} is 0 on the fixture: the case proves nothing");
        assert_eq!(check_code(&report, &format!("{q} > {v}")), 0, "{q} > {v}");
        assert_eq!(check_code(&report, &format!("{q} >= {v}")), 4, "{q} >= {v}");
        assert_eq!(check_code(&report, &format!("{q} < {v}")), 0, "{q} < {v}");
    }
    // Shares: the pattern's share of memory, and not-in-keys against used-mem.
    let share = u(&row["memory"]) as f64 * 100.0 / u(&t["memory"]) as f64;
    let rule = |op: &str, x: f64| format!("pattern({glob}).memory {op} {x:.3}%");
    assert_eq!(check_code(&report, &rule(">", share + 0.01)), 0);
    assert_eq!(check_code(&report, &rule(">", share - 0.01)), 4);
    let nik = r["reconciliation"]["remainder_pct"].as_f64().unwrap();
    assert_eq!(
        check_code(&report, &format!("not-in-keys > {:.2}%", nik + 0.01)),
        0
    );
    assert_eq!(
        check_code(&report, &format!("not-in-keys > {:.2}%", nik - 0.01)),
        4
    );
    // Findings by severity.
    let worst = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match f["severity"].as_str().unwrap() {
            "info" => 0,
            "warning" => 1,
            _ => 2,
        })
        .max()
        .expect("the fixture has findings");
    let names = ["info", "warning", "critical"];
    assert_eq!(
        check_code(&report, &format!("findings >= {}", names[worst])),
        4
    );
    if worst < 2 {
        assert_eq!(
            check_code(&report, &format!("findings >= {}", names[worst + 1])),
            0
        );
    }
    // Bad rules are usage errors naming the valid quantities.
    let out = rdbscope()
        .args(["check", s(&report), "--fail-on", "memroy > 1GiB"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("biggest-key"));
    assert_eq!(check_code(&report, "memory > 3 parsecs"), 2);
    assert_eq!(check_code(&report, "growth.memory > 1%"), 2);
}

#[test]
fn rules_files_and_fail_on_across_commands() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fixture("mixed.rdb"), fixture("hashes.rdb"));
    let report = dir.path().join("r.json");
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"tiny budget\"\nfail = \"memory > 1k\"\n\n[[rule]]\nfail = \"keys > 1000000\"\n",
    )
    .unwrap();
    // analyze --fail-on: every output written, then exit 4 with one line per failure.
    let out = rdbscope()
        .args([
            "analyze",
            s(&a),
            "--quiet",
            "--json",
            s(&report),
            "--fail-on",
            "memory > 1k",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(report.is_file());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.lines().filter(|l| l.contains("rule failed")).count(),
        1,
        "{err}"
    );
    // check with a rules file: the named rule fails, the other does not.
    let out = rdbscope()
        .args(["check", s(&report), "--rules", s(&rules)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("tiny budget (memory > 1k)"), "{err}");
    assert!(!err.contains("keys > 1000000"), "{err}");
    std::fs::write(&rules, "[[rule]]\nfial = \"memory > 1k\"\n").unwrap();
    let out = rdbscope()
        .args(["check", s(&report), "--rules", s(&rules)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // diff: growth rules, and 4 over 3 when a side is damaged and a rule fails.
    let code = |args: &[&str]| {
        rdbscope()
            .arg("diff")
            .args(args)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(
        code(&[s(&a), s(&b), "--fail-on", "growth.memory > 0"]),
        Some(0)
    );
    assert_eq!(
        code(&[s(&b), s(&a), "--fail-on", "growth.memory > 0"]),
        Some(4)
    );
    assert_eq!(
        code(&[s(&b), s(&a), "--fail-on", "growth.memory > 1000%"]),
        Some(0)
    );
    let bytes = std::fs::read(&a).unwrap();
    let cut = dir.path().join("cut.rdb");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(code(&[s(&a), s(&cut)]), Some(3));
    assert_eq!(code(&[s(&a), s(&cut), "--fail-on", "keys >= 0"]), Some(4));
}

#[test]
fn diff_csv_dir_holds_every_section_and_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (fixture("hashes.rdb"), fixture("mixed.rdb"));
    let csv = dir.path().join("csv");
    let (d, _, code) = diff_json(&[s(&a), s(&b), "--csv-dir", s(&csv)]);
    assert_eq!(code, 0);
    let read = |name: &str| -> Vec<csv::StringRecord> {
        let mut r = csv::Reader::from_path(csv.join(name)).unwrap();
        r.records().map(|x| x.unwrap()).collect()
    };
    let totals = read("totals.csv");
    let memory = totals.iter().find(|r| &r[0] == "memory").unwrap();
    assert_eq!(
        memory[3].parse::<i64>().unwrap(),
        d["totals"]["memory"]["delta"]
    );
    // Pattern rows plus the rest give each side's total memory (columns memory_old/new).
    let patterns = read("patterns.csv");
    let (o, n) = patterns.iter().fold((0u64, 0u64), |(o, n), r| {
        (
            o + r[7].parse::<u64>().unwrap(),
            n + r[8].parse::<u64>().unwrap(),
        )
    });
    assert_eq!(o, d["totals"]["memory"]["old"].as_u64().unwrap());
    assert_eq!(n, d["totals"]["memory"]["new"].as_u64().unwrap());
    for f in [
        "shares.csv",
        "prefixes.csv",
        "lost_ttl.csv",
        "top_keys.csv",
        "streams.csv",
        "findings.csv",
    ] {
        assert!(csv.join(f).is_file(), "{f}");
    }
    let top = read("top_keys.csv");
    let entered = top.iter().filter(|r| &r[0] == "entered").count();
    assert_eq!(entered, d["top_keys"]["entered"].as_array().unwrap().len());
}

#[test]
fn diff_keys_is_exact_per_key() {
    let (a, b) = (fixture("hashes.rdb"), fixture("mixed.rdb"));
    let (d, _, code) = diff_json(&[s(&a), s(&b), "--keys"]);
    assert_eq!(code, 0);
    let k = &d["keys"];
    let n = |v: &Value| v.as_i64().unwrap();
    // Every key read, and the counts balance: new = old − disappeared + appeared.
    assert_eq!(n(&k["old_keys"]), n(&d["totals"]["keys"]["old"]));
    assert_eq!(n(&k["new_keys"]), n(&d["totals"]["keys"]["new"]));
    assert_eq!(
        n(&k["new_keys"]),
        n(&k["old_keys"]) - n(&k["disappeared"]["keys"]) + n(&k["appeared"]["keys"])
    );
    // Appeared and disappeared memory is the memory of keys only on one side.
    let (dis, app) = (n(&k["disappeared"]["memory"]), n(&k["appeared"]["memory"]));
    assert!(dis > 0 && app > 0, "{k}");
    // Against itself: nothing changed.
    let (d, _, _) = diff_json(&[s(&b), s(&b), "--keys"]);
    let k = &d["keys"];
    for c in [
        "appeared",
        "disappeared",
        "grew",
        "shrank",
        "changed_type",
        "lost_ttl",
    ] {
        assert_eq!(n(&k[c]["keys"]), 0, "{c}");
    }
    // Filters apply to the per-key diff as to the report.
    let (d, _, _) = diff_json(&[s(&a), s(&b), "--keys", "--match", "session:*"]);
    assert_eq!(n(&d["keys"]["new_keys"]), n(&d["totals"]["keys"]["new"]));
    // Saved reports have no keys to compare.
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r.json");
    analyze_json(&[&a], &r, &[]);
    let out = rdbscope()
        .args(["diff", s(&r), s(&b), "--keys"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_expired_memory_at_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    analyze_json(&[&fixture("expiry.rdb")], &report, &[]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let p = &r["patterns"];
    let v: u64 = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["memory_expired"].as_u64().unwrap())
        .sum::<u64>()
        + p["other"]["memory_expired"].as_u64().unwrap();
    assert!(
        v > 0,
        "fixtures/expiry.rdb has no expired memory: the case proves nothing"
    );
    assert_eq!(check_code(&report, &format!("expired-memory > {v}")), 0);
    assert_eq!(check_code(&report, &format!("expired-memory >= {v}")), 4);
    let share = v as f64 * 100.0 / r["totals"]["memory"].as_u64().unwrap() as f64;
    assert_eq!(
        check_code(&report, &format!("expired-memory > {:.3}%", share + 0.01)),
        0
    );
    assert_eq!(
        check_code(&report, &format!("expired-memory > {:.3}%", share - 0.01)),
        4
    );
}
