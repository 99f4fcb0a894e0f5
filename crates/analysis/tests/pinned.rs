//! The model's outputs, pinned: one digest per dump × server line × allocator × loading
//! configuration, over the fixtures, the corpus (with `external/`) and a generated dump
//! whose keys sit on every size-class and encoding boundary
//! ([`rdbscope_testwriter::generate::boundary_dump`]). Each digest covers, key by key in
//! file order, both estimates (`estimate` and the header-only `estimate_memory`: memory,
//! encoding, elements, largest element, or the error), whether the loading server drops the
//! key, its keyspace overhead, and then every term of the predicted `used_memory`.
//!
//! The file has one row per dump and line: the key count and, per allocator, one digest
//! over the three configurations. A refactor of the model must leave every digest as it is. A change that is meant to
//! move numbers re-pins them, and the diff of `tests/pinned/digests.tsv` shows which
//! dumps, lines, allocators and configurations moved:
//!
//! `RDBSCOPE_PIN_UPDATE=1 cargo test -p rdbscope-analysis --test pinned`
//!
//! Dumps that are absent (no corpus beside the repository) are skipped with a message;
//! their rows stay in the file.

use rayon::prelude::*;
use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::alloc_infer::ALLOCATORS;
use rdbscope_analysis::model::{Model, ServerLine, Thresholds};
use rdbscope_analysis::used_memory::{LoadingServer, ServerVersion, UsedMemory};
use rdbscope_parser::{Record, Records, Scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The loading configurations: the defaults; small thresholds with list compression,
/// cluster mode and an LRU `maxmemory` (no shared integers); big thresholds with
/// unlimited list nodes.
const CONFIGS: &[(&str, &[(&str, &str)])] = &[
    ("default", &[]),
    (
        "tight",
        &[
            ("hash-max-listpack-entries", "4"),
            ("hash-max-listpack-value", "8"),
            ("set-max-intset-entries", "8"),
            ("set-max-listpack-entries", "4"),
            ("set-max-listpack-value", "8"),
            ("zset-max-listpack-entries", "4"),
            ("zset-max-listpack-value", "8"),
            ("list-max-listpack-size", "4"),
            ("list-compress-depth", "1"),
            ("cluster-enabled", "yes"),
            ("maxmemory", "1gb"),
            ("maxmemory-policy", "allkeys-lru"),
        ],
    ),
    (
        "roomy",
        &[
            ("hash-max-listpack-entries", "1024"),
            ("hash-max-listpack-value", "1024"),
            ("set-max-intset-entries", "4096"),
            ("set-max-listpack-entries", "1024"),
            ("set-max-listpack-value", "1024"),
            ("zset-max-listpack-entries", "1024"),
            ("zset-max-listpack-value", "1024"),
            ("list-max-listpack-size", "-1"),
            ("maxmemory-policy", "volatile-lfu"),
        ],
    ),
];

fn digests_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pinned/digests.tsv")
}

/// FNV-1a, 64 bits: stable across Rust releases and platforms, unlike `DefaultHasher`.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 = (self.0 ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    fn s(&mut self, s: &str) {
        self.u(s.len() as u64);
        self.bytes(s.as_bytes());
    }
}

/// The dumps, by the name their rows carry.
fn dumps() -> Vec<(String, Vec<u8>)> {
    let mut v = vec![(
        "generated/boundary".to_string(),
        rdbscope_testwriter::generate::boundary_dump(),
    )];
    for p in rdbscope_testwriter::dumps::fixtures() {
        let name = format!("fixtures/{}", p.file_name().unwrap().to_string_lossy());
        v.push((name, std::fs::read(&p).unwrap()));
    }
    let corpus = rdbscope_testwriter::dumps::repo_root().join("../shared/corpus");
    for p in rdbscope_testwriter::dumps::corpus() {
        let name = p.parent().unwrap().strip_prefix(&corpus).unwrap();
        v.push((
            format!("corpus/{}", name.display()),
            std::fs::read(&p).unwrap(),
        ));
    }
    let mut external = Vec::new();
    collect_rdb(&corpus.join("external"), &mut external);
    external.sort();
    for p in external {
        let name = p.strip_prefix(&corpus).unwrap();
        v.push((
            format!("corpus/{}", name.display()),
            std::fs::read(&p).unwrap(),
        ));
    }
    v
}

fn collect_rdb(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_rdb(&p, out);
        } else if p.extension().is_some_and(|x| x == "rdb") {
            out.push(p);
        }
    }
}

/// A dump's records, read once, and what the model takes from its AUX fields.
struct Parsed<'a> {
    records: Vec<Record<'a>>,
    /// Where reading stopped on damage, with the error.
    damage: Option<String>,
    version: Option<ServerVersion>,
    detected: Option<ServerLine>,
    now_ms: Option<i64>,
}

fn parse(data: &[u8]) -> Parsed<'_> {
    let mut p = Parsed {
        records: Vec::new(),
        damage: None,
        version: None,
        detected: None,
        now_ms: None,
    };
    let records = match Records::new(data) {
        Ok(r) => r,
        Err(e) => {
            p.damage = Some(e.to_string());
            return p;
        }
    };
    let mut aux: BTreeMap<String, String> = BTreeMap::new();
    for r in records {
        match r {
            Ok(rec) => {
                if let Record::Aux { key, value, .. } = &rec {
                    if let (Ok(k), Ok(v)) = (key.to_vec(), value.to_vec()) {
                        aux.insert(
                            String::from_utf8_lossy(&k).into_owned(),
                            String::from_utf8_lossy(&v).into_owned(),
                        );
                    }
                }
                p.records.push(rec);
            }
            Err(e) => {
                p.damage = Some(e.to_string());
                break;
            }
        }
    }
    let (redis, valkey) = (aux.get("redis-ver"), aux.get("valkey-ver"));
    p.version = ServerVersion::from_aux(redis.map(|s| s.as_str()), valkey.map(|s| s.as_str()));
    let rdb_version = std::str::from_utf8(data.get(5..9).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok());
    p.detected = ServerLine::detect(
        redis.map(|s| s.as_str()),
        valkey.map(|s| s.as_str()),
        rdb_version,
    );
    p.now_ms = aux
        .get("ctime")
        .and_then(|s| s.parse::<i64>().ok())
        .map(|s| s * 1000);
    p
}

fn thresholds(settings: &[(&str, &str)]) -> Thresholds {
    let mut t = Thresholds::default();
    for (k, v) in settings {
        assert!(t.set(k, v).unwrap(), "{k} is not a model setting");
    }
    t
}

/// The digest of one dump under one loading server, with its key count.
fn digest(p: &Parsed<'_>, line: ServerLine, allocator: Allocator, t: Thresholds) -> (u64, u64) {
    let model = Model::with_settings(line, allocator, t, p.now_ms);
    let mut server = LoadingServer::new(model);
    if p.detected == Some(line) {
        server.version = p.version;
    }
    let mut used = UsedMemory::for_file(0);
    let mut scratch = Scratch::new();
    let mut h = Fnv::new();
    let mut keys = 0u64;
    for rec in &p.records {
        let Record::Key(k) = rec else {
            used.observe(rec);
            continue;
        };
        keys += 1;
        h.u(k.offset);
        let full = model.estimate(k, &mut scratch);
        let brief = model.estimate_memory(k, &mut scratch);
        for est in [full.as_ref(), brief.as_ref()] {
            match est {
                Ok(e) => {
                    h.u(e.memory);
                    h.s(e.encoding.as_str());
                    h.u(e.elements);
                    h.u(e.largest_element);
                }
                Err(e) => h.s(&format!("error {e}")),
            }
        }
        let drops = server.drops_at_load(k);
        h.u(u64::from(drops));
        h.u(server.key_overhead(k.expire_ms.is_some()));
        if let (Ok(e), false) = (&full, drops) {
            if let Err(e) = used.add_key(&server, k, e, &mut scratch) {
                h.s(&format!("add_key error {e}"));
            }
        }
    }
    if let Some(d) = &p.damage {
        h.s(d);
    }
    let b = used.predict(&server);
    for v in [
        b.startup,
        b.startup_uncounted,
        b.dataset,
        b.keyspace_main,
        b.keyspace_expires,
        b.keyspace_volatile,
        b.databases,
        b.functions,
        b.session,
        b.used_memory,
        b.overhead,
    ] {
        h.u(v);
    }
    h.i(b.dataset_adjust);
    (keys, h.0)
}

/// One row of the file: a dump under one line, its key count, and per allocator one
/// digest over the configurations.
fn row(p: &Parsed<'_>, line: ServerLine, configs: &[Thresholds]) -> String {
    let mut keys = 0;
    let digests: Vec<String> = ALLOCATORS
        .iter()
        .map(|&a| {
            let mut h = Fnv::new();
            for &t in configs {
                let (k, d) = digest(p, line, a, t);
                keys = k;
                h.u(d);
            }
            format!("{:016x}", h.0)
        })
        .collect();
    format!("{keys}\t{}", digests.join("\t"))
}

#[test]
fn model_outputs_match_the_pinned_digests() {
    let dumps = dumps();
    let configs: Vec<Thresholds> = CONFIGS.iter().map(|(_, s)| thresholds(s)).collect();
    let mut rows: BTreeMap<String, String> = BTreeMap::new();
    for (name, data) in &dumps {
        let parsed = parse(data);
        let got: Vec<(String, String)> = ServerLine::ALL
            .par_iter()
            .map(|&l| (format!("{name}\t{}", l.name()), row(&parsed, l, &configs)))
            .collect();
        rows.extend(got);
    }
    let path = digests_path();
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut pinned: BTreeMap<String, String> = BTreeMap::new();
    for l in old.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(
            f.len(),
            3 + ALLOCATORS.len(),
            "{}: bad row {l:?}",
            path.display()
        );
        pinned.insert(f[..2].join("\t"), f[2..].join("\t"));
    }
    let present: std::collections::BTreeSet<&str> = dumps.iter().map(|(n, _)| n.as_str()).collect();
    let absent: std::collections::BTreeSet<&str> = pinned
        .keys()
        .map(|k| k.split('\t').next().unwrap())
        .filter(|d| !present.contains(d))
        .collect();
    if !absent.is_empty() {
        eprintln!(
            "skipping {} pinned dumps that are not here (first: {})",
            absent.len(),
            absent.iter().next().unwrap()
        );
    }
    if std::env::var_os("RDBSCOPE_PIN_UPDATE").is_some() {
        for (k, v) in &rows {
            pinned.insert(k.clone(), v.clone());
        }
        let names: Vec<&str> = ALLOCATORS.iter().map(|a| a.name()).collect();
        let mut out = format!(
            "# dump\tline\tkeys\t{} (tests/pinned.rs: one digest per allocator over the \
             configurations {})\n",
            names.join("\t"),
            CONFIGS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
        for (k, v) in &pinned {
            out.push_str(&format!("{k}\t{v}\n"));
        }
        std::fs::write(&path, out).unwrap();
        eprintln!("pinned {} rows in {}", rows.len(), path.display());
        return;
    }
    let mut moved = Vec::new();
    for (k, v) in &rows {
        match pinned.get(k) {
            Some(p) if p == v => {}
            Some(p) => moved.push(format!("{k}: pinned {p}, now {v}")),
            None => moved.push(format!("{k}: not pinned, now {v}")),
        }
    }
    assert!(
        moved.is_empty(),
        "{} of {} digests differ from {} (columns: keys, then {:?}; re-pin with \
         RDBSCOPE_PIN_UPDATE=1 only when the change is meant to move them):\n{}",
        moved.len(),
        rows.len(),
        path.display(),
        ALLOCATORS.map(|a| a.name()),
        moved[..moved.len().min(40)].join("\n")
    );
    assert!(
        rows.len() >= ServerLine::ALL.len() * 2,
        "too few dumps were compared"
    );
}
