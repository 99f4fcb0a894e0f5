//! `--prometheus` through the real binary and Prometheus's own `promtool`: every textfile
//! passes `promtool check metrics`, the shipped alerts pass `promtool check rules`, and
//! `promtool test rules` fires two alerts from the series a textfile holds. A missing
//! `promtool` fails the test with its name (`.ci/run` installs Debian's `prometheus`).

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rdbscope() -> Command {
    Command::cargo_bin("rdbscope").unwrap()
}

fn fixture(name: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    p.to_str().unwrap().to_string()
}

fn promtool(args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut c = std::process::Command::new("promtool");
    c.args(args);
    c.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| {
        panic!("promtool (Debian package prometheus) is needed for this test: {e}")
    });
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Whether each family has its `# HELP` and its `# TYPE` line.
type Families = BTreeMap<String, (bool, bool)>;

/// Samples of an exposition: `name{labels}` → value, and the families' HELP/TYPE.
fn samples(text: &str) -> (Vec<(String, String)>, Families) {
    let mut out = Vec::new();
    let mut fam: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for l in text.lines() {
        if let Some(r) = l.strip_prefix("# HELP ") {
            fam.entry(r.split(' ').next().unwrap().into())
                .or_default()
                .0 = true;
        } else if let Some(r) = l.strip_prefix("# TYPE ") {
            let mut it = r.split(' ');
            let name = it.next().unwrap();
            assert_eq!(it.next(), Some("gauge"), "{l}");
            fam.entry(name.into()).or_default().1 = true;
        } else {
            let (series, v) = l.rsplit_once(' ').unwrap();
            out.push((series.to_string(), v.to_string()));
        }
    }
    (out, fam)
}

fn family(series: &str) -> &str {
    series.split('{').next().unwrap()
}

#[test]
fn textfiles_pass_promtool_and_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("rdbscope.prom");
    let p = prom.to_str().unwrap();
    rdbscope()
        .args([
            "analyze",
            &fixture("mixed.rdb"),
            "-q",
            "--rows",
            "3",
            "--prometheus",
            p,
        ])
        .args([
            "--prometheus-label",
            "redis=cache-1",
            "--fail-on",
            "memory > 1k",
        ])
        .assert()
        .code(4);
    let text = std::fs::read_to_string(&prom).unwrap();
    let (ok, msg) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "promtool check metrics: {msg}\n{text}");
    let (s, fam) = samples(&text);
    for (f, (help, ty)) in &fam {
        assert!(*help && *ty, "{f} lacks HELP or TYPE");
        assert!(f.starts_with("rdbscope_"), "{f}");
        assert!(!f.ends_with("_total"), "{f}: gauges are not counters");
    }
    // Every series carries the label given; no family has more than rows + 1 series.
    let mut per_family: BTreeMap<&str, usize> = BTreeMap::new();
    for (series, _) in &s {
        assert!(series.contains("redis=\"cache-1\""), "{series}");
        *per_family.entry(family(series)).or_default() += 1;
    }
    for f in ["rdbscope_pattern_memory_bytes", "rdbscope_prefix_keys"] {
        assert_eq!(per_family[f], 4, "{f}: 3 rows and (other)");
    }
    let get = |name: &str| {
        s.iter()
            .find(|(k, _)| family(k) == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    assert_eq!(get("rdbscope_last_run_success"), "1");
    assert_eq!(get("rdbscope_rule_failed"), "1");
    // The series match the JSON report's figures.
    let out = rdbscope()
        .args(["analyze", &fixture("mixed.rdb"), "-q", "--json", "-"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        get("rdbscope_memory_bytes"),
        r["totals"]["memory"].to_string()
    );
    assert_eq!(get("rdbscope_keys"), r["totals"]["keys"].to_string());

    // diff's textfile, and check's.
    rdbscope()
        .args([
            "diff",
            &fixture("hashes.rdb"),
            &fixture("mixed.rdb"),
            "--prometheus",
            p,
        ])
        .args(["--config", "maxmemory=64mb"])
        .assert()
        .success();
    let text = std::fs::read_to_string(&prom).unwrap();
    let (ok, msg) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "{msg}");
    assert!(text.contains("rdbscope_seconds_until_maxmemory "), "{text}");
    let json = dir.path().join("r.json");
    rdbscope()
        .args([
            "analyze",
            &fixture("mixed.rdb"),
            "-q",
            "--json",
            json.to_str().unwrap(),
        ])
        .assert()
        .success();
    rdbscope()
        .args([
            "check",
            json.to_str().unwrap(),
            "--fail-on",
            "keys > 1M",
            "--prometheus",
            p,
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(&prom).unwrap();
    let (ok, msg) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "{msg}");
    assert!(text.contains("rdbscope_rule_failed{report=\""), "{text}");
}

#[test]
fn a_failed_run_replaces_the_textfile_with_last_run_success_0() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("rdbscope.prom");
    std::fs::write(&prom, "old contents\n").unwrap();
    rdbscope()
        .args([
            "analyze",
            "/no/such/dump.rdb",
            "--prometheus",
            prom.to_str().unwrap(),
        ])
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("rdbscope_last_run_success 0"), "{text}");
    assert!(!text.contains("old contents"));
    let (ok, msg) = promtool(&["check", "metrics"], Some(&text));
    assert!(ok, "{msg}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn the_shipped_alerts_fire_from_a_textfile() {
    let alerts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/prometheus/alerts.yml");
    let alerts = alerts.canonicalize().unwrap();
    let (ok, msg) = promtool(&["check", "rules", alerts.to_str().unwrap()], None);
    assert!(ok, "promtool check rules: {msg}");

    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("rdbscope.prom");
    rdbscope()
        .args(["diff", &fixture("hashes.rdb"), &fixture("mixed.rdb")])
        .args([
            "--config",
            "maxmemory=64mb",
            "--fail-on",
            "growth.memory > 1k",
        ])
        .args(["--prometheus", prom.to_str().unwrap()])
        .assert()
        .code(4);
    let text = std::fs::read_to_string(&prom).unwrap();
    let (s, _) = samples(&text);
    // Each series of the textfile held for 20 minutes, one sample a minute.
    let mut series = String::new();
    for (k, v) in &s {
        if family(k) == "rdbscope_snapshot_timestamp_seconds" {
            continue; // time()-based: its alert needs a clock the test does not fake
        }
        series.push_str(&format!(
            "      - series: '{k}'\n        values: '{v}+0x20'\n"
        ));
    }
    let secs: f64 = s
        .iter()
        .find(|(k, _)| k == "rdbscope_seconds_until_maxmemory")
        .expect("a projection")
        .1
        .parse()
        .unwrap();
    assert!(
        secs < 14.0 * 86_400.0,
        "the pair must project under 14 days: {secs} s"
    );
    let budget = "growth.memory > 1k";
    let lines = [
        format!("rule_files:\n  - {}", alerts.display()),
        "evaluation_interval: 1m".to_string(),
        "tests:".to_string(),
        "  - interval: 1m".to_string(),
        "    input_series:".to_string(),
        series.trim_end().to_string(),
        "    alert_rule_test:".to_string(),
        "      - eval_time: 10m".to_string(),
        "        alertname: RdbscopeBudgetFailed".to_string(),
        "        exp_alerts:".to_string(),
        "          - exp_labels:".to_string(),
        "              severity: warning".to_string(),
        format!("              rule: '{budget}'"),
        "            exp_annotations:".to_string(),
        format!("              summary: 'A memory budget rule failed: {budget}'"),
        format!("              description: \"rdbscope's rule {budget} failed on the last snapshot.\""),
        "      - eval_time: 10m".to_string(),
        "        alertname: RdbscopeMaxmemorySoon".to_string(),
        "        exp_alerts:".to_string(),
        "          - exp_labels:".to_string(),
        "              severity: warning".to_string(),
        "            exp_annotations:".to_string(),
        "              summary: 'maxmemory within two weeks at the current growth'".to_string(),
        "              description: 'A linear extrapolation of the growth between the last two snapshots.'".to_string(),
        "      - eval_time: 10m".to_string(),
        "        alertname: RdbscopeRunFailed".to_string(),
        "        exp_alerts: []".to_string(),
    ];
    let test = lines.join("\n") + "\n";
    let file = dir.path().join("test.yml");
    std::fs::write(&file, &test).unwrap();
    let (ok, msg) = promtool(&["test", "rules", file.to_str().unwrap()], None);
    assert!(ok, "promtool test rules: {msg}\n{test}");
}
