//! The `used_memory` prediction against the loading servers of `../shared/corpus`: every
//! folder whose server line the model implements must be within 2% of the INFO
//! `used_memory` its truth server reported after loading the dump and running the truth
//! harness (`shared/corpus/tools/measure_truth.py`, whose connections and commands are
//! part of what INFO measured: see `harness_session`).

use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::model::{Model, ServerLine, Thresholds};
use rdbscope_analysis::used_memory::{
    Breakdown, LoadingServer, ServerVersion, Session, UsedMemory,
};
use rdbscope_parser::{Record, Records, Scratch};
use serde_json::Value as Json;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let d = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if d.is_dir() {
        Some(d.to_path_buf())
    } else {
        eprintln!("skipping: corpus {} not found", d.display());
        None
    }
}

fn thresholds(manifest: &Json) -> Thresholds {
    let mut t = Thresholds::default();
    for c in manifest["config_used"].as_array().into_iter().flatten() {
        let mut it = c.as_str().unwrap_or("").split_whitespace();
        if let (Some(k), Some(v)) = (it.next(), it.next()) {
            let _ = t.set(k, v);
        }
    }
    t
}

/// `maxmemory` 0 (every corpus server): integers 0..9999 are shared whatever the policy.
fn shared_integers(manifest: &Json) -> bool {
    !manifest["config_used"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .any(|c| c.starts_with("maxmemory ") && !c.ends_with(" 0"))
}

/// INFO fields of the truth server (`info.txt`).
fn info_field(info: &str, name: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
}

/// The measuring session the truth harness leaves behind when it reads INFO memory: the
/// connection `make_entry.py` polled with (idle) and the one `server_report` asks with
/// (the per-db connections of `measure` are closed by then), and one latency histogram per
/// distinct command name it ran: `CLIENT SETINFO` (redis-py, 7.2+), `PING`, `INFO`, `DEBUG`
/// (`DEBUG HELP`, `DEBUG OBJECT`), `SCAN`, `TYPE`, `OBJECT ENCODING`, `MEMORY USAGE`,
/// `PTTL`, `PEXPIRETIME`, `SELECT` (dbs other than 0), the length command of each type,
/// `XINFO STREAM/GROUPS/CONSUMERS`, `HKEYS` + `HPEXPIRETIME` (hash field expiration),
/// `CLUSTER INFO/SLOTS/ADDSLOTSRANGE` (cluster: `make_entry.py`'s `claim_free_slots` reads
/// the slots the loading node claimed and adds the rest, `wait_cluster_ok` polls the
/// state). Calls rejected before `call()` (wrong arity, unknown command) get none.
fn harness_session(truth: &[Json], version: &str, cluster: bool) -> Session {
    let mut c: BTreeSet<&str> = ["ping", "info", "debug"].into_iter().collect();
    if !version.starts_with("7.0") {
        c.insert("client|setinfo");
    }
    if !truth.is_empty() {
        c.extend([
            "scan",
            "type",
            "object|encoding",
            "memory|usage",
            "pttl",
            "pexpiretime",
        ]);
    }
    for t in truth {
        if t["db"].as_u64() != Some(0) {
            c.insert("select");
        }
        c.insert(match t["type"].as_str().unwrap_or("") {
            "string" => "strlen",
            "list" => "llen",
            "set" => "scard",
            "zset" => "zcard",
            "hash" => "hlen",
            _ => "xlen",
        });
        if t["type"] == "stream" {
            c.extend(["xinfo|stream", "xinfo|groups"]);
            if t["stream"]["group_list"]
                .as_array()
                .is_some_and(|g| !g.is_empty())
            {
                c.insert("xinfo|consumers");
            }
        }
        if t.get("hfe").is_some() {
            c.insert("hkeys");
            if t["len"].as_u64().unwrap_or(0) > 0 {
                c.insert("hpexpiretime");
            }
        }
    }
    if cluster {
        c.extend(["cluster|info", "cluster|slots", "cluster|addslotsrange"]);
    }
    Session {
        clients: 2,
        commands: c.len() as u64,
    }
}

struct Row {
    folder: String,
    predicted: Breakdown,
    measured: u64,
    measured_dataset: u64,
}

fn predict_folder(dir: &Path) -> Option<Row> {
    let folder = dir.file_name()?.to_string_lossy().to_string();
    let dump = std::fs::read(dir.join("dump.rdb")).ok()?;
    let info = std::fs::read_to_string(dir.join("info.txt")).ok()?;
    let manifest: Json =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).ok()?).ok()?;
    let truth: Vec<Json> = std::fs::read_to_string(dir.join("truth.jsonl"))
        .ok()?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut aux: HashMap<Vec<u8>, String> = HashMap::new();
    for r in Records::new(&dump).ok()? {
        if let Ok(Record::Aux { key, value, .. }) = r {
            aux.entry(key.to_vec().ok()?).or_insert_with(|| {
                String::from_utf8_lossy(&value.to_vec().unwrap_or_default()).into_owned()
            });
        }
    }
    let redis_ver = aux.get(&b"redis-ver"[..]).map(String::as_str);
    let valkey_ver = aux.get(&b"valkey-ver"[..]).map(String::as_str);
    let cluster = info.contains("\"cluster-enabled\": \"yes\"");
    let rdb_version = Records::new(&dump).ok()?.header().version;
    let Some(line) = ServerLine::detect(redis_ver, valkey_ver, Some(rdb_version)) else {
        eprintln!("{folder}: skipped, no model line for this version");
        return None;
    };
    let ctime_ms = aux
        .get(&b"ctime"[..])
        .and_then(|c| c.parse::<i64>().ok())
        .map(|c| c * 1000 + 1000);
    let model = Model {
        line,
        allocator: if manifest["allocator"] == "jemalloc-16" {
            Allocator::Jemalloc16
        } else {
            Allocator::Jemalloc
        },
        thresholds: thresholds(&manifest),
        cluster,
        now_ms: ctime_ms,
    };
    let version = ServerVersion::from_aux(redis_ver, valkey_ver);
    let server = LoadingServer {
        model,
        version,
        shared_integers: shared_integers(&manifest),
        session: harness_session(&truth, redis_ver.or(valkey_ver).unwrap_or(""), cluster),
        startup: None,
    };
    let mut acc = UsedMemory::for_file(0);
    let mut scratch = Scratch::new();
    for r in Records::new(&dump).ok()? {
        let r = r.ok()?;
        acc.observe(&r);
        if let Record::Key(k) = &r {
            if server.drops_at_load(k) {
                continue;
            }
            let est = model.estimate(k, &mut scratch).ok()?;
            acc.add_key(&server, k, &est, &mut scratch).ok()?;
        }
    }
    Some(Row {
        folder,
        predicted: acc.predict(&server),
        measured: info_field(&info, "used_memory")?,
        measured_dataset: info_field(&info, "used_memory_dataset")?,
    })
}

fn pct(p: u64, m: u64) -> f64 {
    100.0 * (p as f64 - m as f64) / m as f64
}

#[test]
fn used_memory_within_two_percent() {
    let Some(dir) = corpus() else { return };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("dump.rdb").exists())
        .collect();
    entries.sort();
    let mut report = String::from(
        "| folder | predicted | measured | error | startup (+ uncounted) | dataset (Σ MEMORY USAGE) | adjust | main | expires | volatile + dbs | functions | session | dataset pred / measured |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let (mut judged, mut failures) = (0, Vec::new());
    for e in &entries {
        let Some(row) = predict_folder(e) else {
            continue;
        };
        let b = row.predicted;
        let err = pct(b.used_memory, row.measured);
        report.push_str(&format!(
            "| {} | {} | {} | {:+.2}% | {} (+{}) | {} | {:+} | {} | {} | {} + {} | {} | {} | {} / {} ({:+.1}%) |\n",
            row.folder,
            b.used_memory,
            row.measured,
            err,
            b.startup,
            b.startup_uncounted,
            b.dataset,
            b.dataset_adjust,
            b.keyspace_main,
            b.keyspace_expires,
            b.keyspace_volatile,
            b.databases,
            b.functions,
            b.session,
            b.used_memory_dataset(),
            row.measured_dataset,
            pct(b.used_memory_dataset(), row.measured_dataset),
        ));
        judged += 1;
        if err.abs() > 2.0 {
            failures.push(format!("{}: {err:+.2}%", row.folder));
        }
    }
    eprintln!("{report}");
    if let Ok(out) = std::env::var("RDBSCOPE_USED_MEMORY_OUT") {
        std::fs::write(out, &report).unwrap();
    }
    assert!(judged >= 10, "only {judged} folders judged");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
