//! Post-mortem forensics: `--salvage` past damage on `verify`, `keys` and `analyze`, and
//! `analyze --info` with the outputs of a real redis-server saved at the same moment as its
//! dump (`fixtures/server-info/`, made by its `capture.sh`).

use assert_cmd::Command;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn rdbscope() -> Command {
    Command::cargo_bin("rdbscope").unwrap()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `mixed.rdb` with three key records' first bytes overwritten (an unknown type byte).
fn damaged(dir: &Path) -> (PathBuf, Vec<u64>) {
    let path = fixtures().join("mixed.rdb");
    let out = rdbscope()
        .args(["keys", path.to_str().unwrap()])
        .output()
        .unwrap();
    let offsets: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["offset"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut data = std::fs::read(&path).unwrap();
    let hit: Vec<u64> = [offsets.len() / 4, offsets.len() / 2, offsets.len() * 3 / 4]
        .iter()
        .map(|&i| offsets[i])
        .collect();
    for &o in &hit {
        data[o as usize] = 0xee;
    }
    let bad = dir.join("damaged.rdb");
    std::fs::write(&bad, data).unwrap();
    (bad, hit)
}

#[test]
fn salvage_reads_past_damage_in_every_command_and_reports_each_region() {
    let dir = tempfile::tempdir().unwrap();
    let (bad, hit) = damaged(dir.path());
    let bad = bad.to_str().unwrap();
    // Without --salvage: reading stops at the first damage.
    let plain = rdbscope()
        .args(["analyze", "-q", bad, "--json", "-"])
        .output()
        .unwrap();
    assert_eq!(plain.status.code(), Some(3));
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    let out = rdbscope()
        .args(["analyze", "-q", "--salvage", bad, "--json", "-"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "a salvaged report is still partial"
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["complete"], false);
    let regions = r["files"][0]["salvaged_regions"].as_array().unwrap();
    assert_eq!(regions.len(), 3, "{regions:?}");
    for (g, &o) in regions.iter().zip(&hit) {
        assert_eq!(g["start"].as_u64(), Some(o));
        assert!(g["end"].as_u64().unwrap() > o);
        assert_eq!(g["bytes"].as_u64().unwrap(), g["end"].as_u64().unwrap() - o);
        assert!(g["error"].as_str().unwrap().contains("unknown byte 238"));
        assert!(g["resync"].as_str().unwrap().contains("records in a row"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("salvage: skipped offsets").count(),
        3,
        "{stderr}"
    );
    let keys = |v: &Value| v["totals"]["keys"].as_u64().unwrap();
    assert!(
        keys(&r) > keys(&plain) * 2,
        "salvage read {} keys, plain {}",
        keys(&r),
        keys(&plain)
    );
    let text = rdbscope()
        .args(["analyze", "-q", "--salvage", bad])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("SALVAGED: read on past 3 damaged region(s)"),
        "{text}"
    );

    // keys --salvage: every key read is a key of the intact file with the memory it has
    // there, and none of the damaged records is among them.
    let intact = rdbscope()
        .args(["keys", "--escape", "hex"])
        .arg(fixtures().join("mixed.rdb"))
        .output()
        .unwrap();
    let truth: HashMap<String, u64> = String::from_utf8(intact.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["key"].as_str().unwrap().to_string(),
                v["memory"].as_u64().unwrap(),
            )
        })
        .collect();
    let out = rdbscope()
        .args(["keys", "--salvage", "--escape", "hex", bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len() as u64, keys(&r));
    for row in &rows {
        let k = row["key"].as_str().unwrap();
        assert_eq!(truth.get(k), row["memory"].as_u64().as_ref(), "key {k}");
        assert!(!hit.contains(&row["offset"].as_u64().unwrap()));
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("salvage: skipped offsets"));
    // The stream path finds the same regions and keys.
    let streamed = rdbscope()
        .args([
            "analyze",
            "-q",
            "--salvage",
            "--no-mmap",
            bad,
            "--json",
            "-",
        ])
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&streamed.stdout).unwrap();
    assert_eq!(
        s["files"][0]["salvaged_regions"],
        r["files"][0]["salvaged_regions"]
    );
    assert_eq!(s["totals"], r["totals"]);
    let v = rdbscope()
        .args(["verify", "--salvage", bad])
        .output()
        .unwrap();
    assert_eq!(v.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&v.stderr).contains("salvage: skipped offsets"));
}

/// The server lines captured: Debian's redis-server 7.0.15 (the folder itself) and a
/// Valkey 8.0.1 built from its release tag.
const LINES: &[&str] = &["", "valkey-8.0.1"];

fn info_dir(scenario: &str) -> PathBuf {
    fixtures().join("server-info").join(scenario)
}

/// `analyze --info` of a scenario's dump, as JSON.
fn with_info(scenario: &str, info: &Path) -> Value {
    let out = rdbscope()
        .args(["analyze", "-q", "--json", "-"])
        .arg(info_dir(scenario).join("dump.rdb.gz"))
        .arg("--info")
        .arg(info)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn doctor(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("doctor-"))
        .collect()
}

/// A field of the scenario's saved INFO.
fn info_field(scenario: &str, name: &str) -> String {
    let text = std::fs::read_to_string(info_dir(scenario).join("info.txt")).unwrap();
    text.lines()
        .find_map(|l| l.trim_end().strip_prefix(&format!("{name}:")))
        .unwrap()
        .to_string()
}

#[test]
fn doctor_names_fragmentation_first_on_the_fragmented_server() {
    let r = with_info("fragmented", &info_dir("fragmented").join("all.txt"));
    let first = &r["findings"][0];
    assert_eq!(first["id"], "doctor-fragmentation", "{:#}", r["findings"]);
    let ratio: f64 = info_field("fragmented", "mem_fragmentation_ratio")
        .parse()
        .unwrap();
    assert!(ratio > 1.5);
    let title = first["title"].as_str().unwrap();
    assert!(title.contains(&format!("{ratio:.2}")), "{title}");
    assert!(first["next_step"]
        .as_str()
        .unwrap()
        .contains("activedefrag"));
}

#[test]
fn doctor_names_the_client_group_holding_output_buffers() {
    let r = with_info("output-buffer", &info_dir("output-buffer").join("all.txt"));
    let f = doctor(&r);
    let buf = f
        .iter()
        .find(|f| f["id"] == "doctor-client-buffers")
        .expect("a client-buffer finding");
    assert!(buf["title"]
        .as_str()
        .unwrap()
        .contains("name=slow-subscriber"));
    assert_eq!(buf["severity"], "critical");
    assert!(!f.iter().any(|f| f["id"] == "doctor-fragmentation"));
}

#[test]
fn doctor_raises_no_alarm_on_the_healthy_server() {
    for line in LINES {
        healthy(format!("{line}/healthy").trim_start_matches('/'));
    }
}

fn healthy(s: &str) {
    let r = with_info(s, &info_dir(s).join("all.txt"));
    let f = doctor(&r);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0]["id"], "doctor-healthy");
    // The live reconciliation: the server's used_memory beside the dump's prediction.
    let live = &r["live"][0];
    let row = live["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["term"] == "used_memory")
        .unwrap();
    let server: u64 = info_field(s, "used_memory").parse().unwrap();
    assert_eq!(row["server"].as_u64(), Some(server));
    let dump = row["dump"].as_u64().unwrap();
    assert_eq!(
        row["difference"].as_i64(),
        Some(server as i64 - dump as i64)
    );
    assert_eq!(
        Some(dump),
        r["reconciliation"]["predicted"]["used_memory"].as_u64()
    );
    assert!(live["notes"].as_array().unwrap().is_empty(), "{live:#}");
}

#[test]
fn info_from_another_server_or_not_info_is_told() {
    let bad = fixtures().join("server-info/bad");
    // Another run of the server: its last save is not this dump's.
    let r = with_info("healthy", &bad.join("other-server-info.txt"));
    let notes = r["live"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.as_str().unwrap().contains("another server")),
        "{notes:?}"
    );
    for (file, says) in [
        ("not-info.txt", "not the saved output of INFO"),
        ("truncated-info.txt", "truncated"),
    ] {
        let out = rdbscope()
            .args(["analyze", "-q"])
            .arg(info_dir("healthy").join("dump.rdb.gz"))
            .arg("--info")
            .arg(bad.join(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(e.contains(file) && e.contains(says), "{file}: {e}");
    }
}

#[test]
fn the_allocator_comes_from_info_when_it_decides_and_a_disagreement_is_noted() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(info_dir("healthy").join("all.txt")).unwrap();
    let said = info_field("healthy", "mem_allocator");
    assert!(said.starts_with("jemalloc"), "{said}");
    let libc = dir.path().join("libc.txt");
    std::fs::write(
        &libc,
        text.replace(&format!("mem_allocator:{said}"), "mem_allocator:libc"),
    )
    .unwrap();
    let r = with_info("healthy", &libc);
    assert_eq!(r["snapshot"][0]["allocator"], "libc");
    let notes = r["live"][0]["notes"].to_string();
    assert!(notes.contains("INFO's mem_allocator"), "{notes}");
    // Given on the command line against the INFO's: the report says they disagree.
    let out = rdbscope()
        .args(["analyze", "-q", "--json", "-", "--allocator", "libc"])
        .arg(info_dir("healthy").join("dump.rdb.gz"))
        .arg("--info")
        .arg(info_dir("healthy").join("all.txt"))
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = r["live"][0]["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "INFO says mem_allocator {said}, the model used libc"
        )),
        "{notes}"
    );
}
