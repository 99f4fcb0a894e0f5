//! `contrib/nightly-audit.sh` end to end on two corpus dumps (the fixtures when the corpus
//! is absent): night one keeps a report, night two diffs with it, checks the rules, writes
//! textfiles `promtool` accepts, and exits 4 when a rule fails; retention keeps `--keep`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Two dumps of one generator, old then new.
fn pair() -> (PathBuf, PathBuf) {
    let c = repo().join("../shared/corpus");
    let (a, b) = (
        c.join("redis-7.0.15--maxmemory-policy-allkeys-lfu/dump.rdb"),
        c.join("redis-7.0.15/dump.rdb"),
    );
    if a.is_file() && b.is_file() {
        (a, b)
    } else {
        eprintln!("corpus pair absent: running on fixtures/hashes.rdb and fixtures/mixed.rdb");
        (
            repo().join("fixtures/hashes.rdb"),
            repo().join("fixtures/mixed.rdb"),
        )
    }
}

fn night(dump: &Path, day: &str, dir: &Path, rules: &Path, keep: &str) -> (i32, String) {
    let out = Command::new("bash")
        .arg(repo().join("contrib/nightly-audit.sh"))
        .args([
            "--dump",
            dump.to_str().unwrap(),
            "--name",
            "cache-1",
            "--date",
            day,
        ])
        .args(["--reports", dir.join("reports").to_str().unwrap()])
        .args(["--textfile-dir", dir.join("textfile").to_str().unwrap()])
        .args(["--rules", rules.to_str().unwrap(), "--keep", keep])
        .args(["--", "--config", "maxmemory=64mb"])
        .env("RDBSCOPE", env!("CARGO_BIN_EXE_rdbscope"))
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn promtool_ok(file: &Path) {
    let text = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is needed for this test");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_nights_of_audit() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = pair();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[[rule]]\nfail = \"keys > 100000000\"\n").unwrap();

    let (code, log) = night(&old, "2026-12-01", dir.path(), &rules, "2");
    assert_eq!(code, 0, "{log}");
    let reports = dir.path().join("reports");
    assert!(reports.join("cache-1-2026-12-01.json").is_file(), "{log}");
    assert!(!reports.join("cache-1-2026-12-01.diff.json").exists());
    let text = dir.path().join("textfile");
    promtool_ok(&text.join("rdbscope-cache-1.prom"));
    promtool_ok(&text.join("rdbscope-cache-1-rules.prom"));

    // Night two: a rule that fails.
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"tiny\"\nfail = \"memory > 1k\"\n",
    )
    .unwrap();
    let (code, log) = night(&new, "2026-12-02", dir.path(), &rules, "2");
    assert_eq!(code, 4, "{log}");
    assert!(log.contains("tiny (memory > 1k)"), "{log}");
    let diff: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.join("cache-1-2026-12-02.diff.json")).unwrap(),
    )
    .unwrap();
    assert!(diff["old"]["files"][0]
        .as_str()
        .unwrap()
        .ends_with(old.to_str().unwrap()));
    let prom = std::fs::read_to_string(text.join("rdbscope-cache-1.prom")).unwrap();
    assert!(
        prom.contains("rdbscope_diff_memory_growth_bytes{redis=\"cache-1\"}"),
        "{prom}"
    );
    let rules_prom = std::fs::read_to_string(text.join("rdbscope-cache-1-rules.prom")).unwrap();
    assert!(rules_prom.contains("} 1\n"), "{rules_prom}");
    promtool_ok(&text.join("rdbscope-cache-1.prom"));
    promtool_ok(&text.join("rdbscope-cache-1-rules.prom"));

    // Night three with --keep 2: the oldest report goes.
    let (code, log) = night(&new, "2026-12-03", dir.path(), &rules, "2");
    assert_eq!(code, 4, "{log}");
    assert!(!reports.join("cache-1-2026-12-01.json").exists(), "{log}");
    assert!(reports.join("cache-1-2026-12-02.json").is_file());
    assert!(reports.join("cache-1-2026-12-03.diff.json").is_file());
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new("bash")
        .arg(repo().join("contrib/nightly-audit.sh"))
        .args(["--reports", "/tmp/x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
