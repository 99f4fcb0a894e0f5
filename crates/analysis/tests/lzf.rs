//! The LZF port against the servers themselves: every LZF string in the corpus dumps
//! (`../shared/corpus/*/dump.rdb`, Redis and Valkey only) and in `fixtures/*.rdb` was written
//! by the server's `lzf_compress` (`rdbSaveLzfStringObject`: `out_len = len - 4`; compressed
//! quicklist nodes are saved as they sit in memory, compressed with `out_len = sz`, which
//! gives the same bytes). Decompressing and recompressing each must give the file's bytes.
//! Conversely, every plain string longer than 20 bytes in a dump saved with `rdbcompression
//! yes` was one the server failed to compress into `len - 4` bytes, so the port must fail too.
//! (Dumps saved with `rdbcompression no` still hold LZF strings: quicklist nodes that were
//! compressed in memory under `list-compress-depth`, saved as they are.)
//!
//! Strings are found in keys, string values, blobs (listpack, ziplist, intset, zipmap),
//! quicklist nodes, hashtable-encoded collections, stream nodes, group and consumer names,
//! module values' string opcodes, AUX fields and function code.

use rdbscope_analysis::lzf::Compressor;
use rdbscope_parser::lzf::decompress_into;
use rdbscope_parser::{RdbStr, Record, Records, ValueKind};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Shorter strings are never tried (`rdbSaveRawString`: `len > 20`).
const LZF_MIN_LEN: usize = 21;

#[derive(Default, Debug)]
struct Tally {
    /// LZF strings recompressed.
    lzf: u64,
    /// Of which byte-identical.
    identical: u64,
    /// Their uncompressed bytes.
    lzf_bytes: u64,
    /// Plain strings of 21+ bytes recompressed.
    plain: u64,
    /// Of which the port also fails to fit in `len - 4`.
    plain_agree: u64,
    /// First mismatches, for the failure message.
    report: String,
}

struct Checker {
    c: Compressor,
    buf: Vec<u8>,
    out: Vec<u8>,
    t: Tally,
}

impl Checker {
    fn new() -> Self {
        Checker {
            c: Compressor::new(),
            buf: Vec::new(),
            out: Vec::new(),
            t: Tally::default(),
        }
    }

    fn check(&mut self, s: RdbStr<'_>) {
        match s {
            RdbStr::Lzf {
                offset,
                compressed,
                ulen,
            } => {
                decompress_into(compressed, ulen as usize, &mut self.buf)
                    .unwrap_or_else(|e| panic!("offset {offset:#x}: corrupt LZF: {e}"));
                let out_len = self.buf.len().saturating_sub(4);
                let got = self.c.compress(&self.buf, &mut self.out, out_len);
                self.t.lzf += 1;
                self.t.lzf_bytes += ulen;
                if got.is_some() && self.out == compressed {
                    self.t.identical += 1;
                } else if self.t.lzf - self.t.identical <= 5 {
                    let _ = writeln!(
                        self.t.report,
                        "  offset {offset:#x}: ulen {ulen}, file {} bytes, port {:?}",
                        compressed.len(),
                        got
                    );
                }
            }
            RdbStr::Raw { offset, bytes } if bytes.len() >= LZF_MIN_LEN => {
                self.t.plain += 1;
                match self.c.compress(bytes, &mut self.out, bytes.len() - 4) {
                    None => self.t.plain_agree += 1,
                    Some(n) => {
                        if self.t.plain - self.t.plain_agree <= 5 {
                            let _ = writeln!(
                                self.t.report,
                                "  offset {offset:#x}: plain {} bytes, port compresses to {n}",
                                bytes.len()
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// A minimal reader for the collection layouts the parser only exposes as decoded elements
/// (`rdbLoadObject`: types 1 to 5, hashes with field TTLs, module opcode streams).
struct Raw<'a> {
    d: &'a [u8],
    p: usize,
    base: u64,
}

impl<'a> Raw<'a> {
    fn u8(&mut self) -> u8 {
        let b = self.d[self.p];
        self.p += 1;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.d[self.p..self.p + n];
        self.p += n;
        s
    }

    /// `rdbLoadLenByRef`: `(is_encoded, value)`.
    fn len_or_enc(&mut self) -> (bool, u64) {
        let b = self.u8();
        match b >> 6 {
            0 => (false, u64::from(b & 0x3f)),
            1 => (false, (u64::from(b & 0x3f) << 8) | u64::from(self.u8())),
            2 if b == 0x80 => (
                false,
                u64::from(u32::from_be_bytes(self.take(4).try_into().unwrap())),
            ),
            2 if b == 0x81 => (false, u64::from_be_bytes(self.take(8).try_into().unwrap())),
            3 => (true, u64::from(b & 0x3f)),
            _ => panic!("bad length byte {b:#x}"),
        }
    }

    fn len(&mut self) -> u64 {
        let (enc, n) = self.len_or_enc();
        assert!(!enc, "encoded length where a length was expected");
        n
    }

    fn string(&mut self) -> RdbStr<'a> {
        let offset = self.base + self.p as u64;
        match self.len_or_enc() {
            (false, n) => RdbStr::Raw {
                offset,
                bytes: self.take(n as usize),
            },
            (true, 0) => RdbStr::Int(i64::from(self.u8() as i8)),
            (true, 1) => {
                self.take(2);
                RdbStr::Int(0)
            }
            (true, 2) => {
                self.take(4);
                RdbStr::Int(0)
            }
            (true, 3) => {
                let clen = self.len() as usize;
                let ulen = self.len();
                RdbStr::Lzf {
                    offset,
                    compressed: self.take(clen),
                    ulen,
                }
            }
            (true, e) => panic!("unknown string encoding {e}"),
        }
    }
}

/// Visits every string of a value whose layout the parser does not hand out as `RdbStr`s.
fn walk_raw(kind: ValueKind, data: &[u8], offset: u64, ck: &mut Checker) {
    use ValueKind::*;
    let mut r = Raw {
        d: data,
        p: 0,
        base: offset,
    };
    match kind {
        List | Set | Zset | Zset2 | Hash | HashMetadataPreGa | HashMetadata | ValkeyHash2 => {
            if kind == HashMetadata {
                r.take(8);
            }
            let n = r.len();
            for _ in 0..n {
                if matches!(kind, HashMetadataPreGa | HashMetadata) {
                    r.len();
                }
                let s = r.string();
                ck.check(s);
                match kind {
                    Zset => {
                        let l = r.u8();
                        if l < 253 {
                            r.take(usize::from(l));
                        }
                    }
                    Zset2 => {
                        r.take(8);
                    }
                    Hash | HashMetadataPreGa | HashMetadata | ValkeyHash2 => {
                        let v = r.string();
                        ck.check(v);
                        if kind == ValkeyHash2 {
                            r.take(8);
                        }
                    }
                    _ => {}
                }
            }
        }
        Module2 => {
            r.len();
            loop {
                match r.len() {
                    0 => break,
                    1 | 2 => {
                        r.len();
                    }
                    3 => {
                        r.take(4);
                    }
                    4 => {
                        r.take(8);
                    }
                    5 => {
                        let s = r.string();
                        ck.check(s);
                    }
                    op => panic!("module opcode {op}"),
                }
            }
        }
        _ => {}
    }
}

fn check_dump(data: &[u8]) -> Tally {
    let mut ck = Checker::new();
    let recs = Records::new(data).expect("header");
    for rec in recs {
        match rec.expect("record") {
            Record::Aux { key, value, .. } => {
                ck.check(key);
                ck.check(value);
            }
            Record::Function { code, .. } => ck.check(code),
            Record::Key(k) => {
                ck.check(k.key);
                let v = k.value;
                if let Some(s) = v.as_string() {
                    ck.check(s);
                } else if let Some(b) = v.blob() {
                    ck.check(b.data);
                } else if matches!(
                    v.kind(),
                    ValueKind::ListQuicklist | ValueKind::ListQuicklist2
                ) {
                    v.for_each_node(|n| {
                        ck.check(n.data);
                        Ok(())
                    })
                    .expect("quicklist");
                } else if let Some(st) = v.stream().expect("stream") {
                    st.for_each_node(|n| {
                        ck.check(n.master_key);
                        ck.check(n.listpack);
                        Ok(())
                    })
                    .expect("stream nodes");
                    st.for_each_group(|g| {
                        ck.check(g.name);
                        g.for_each_consumer(|c| {
                            ck.check(c.name);
                            Ok(())
                        })
                    })
                    .expect("stream groups");
                } else {
                    walk_raw(v.kind(), v.raw(), v.offset(), &mut ck);
                }
            }
            _ => {}
        }
    }
    ck.t
}

/// A dump to check: its name, path, and whether the server saved with `rdbcompression yes`.
struct Dump {
    name: String,
    path: PathBuf,
    compression: bool,
}

/// The corpus entry's `manifest.json` lists `rdbcompression no` in `config_used` when set.
fn corpus_compression(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
        return true;
    };
    let m: serde_json::Value = serde_json::from_str(&text).expect("manifest.json");
    !m["config_used"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c.as_str() == Some("rdbcompression no"))
}

/// `fixtures/make-fixtures.sh` starts the server of a fixture with `--rdbcompression no` on
/// its `make_rdb <name>` line.
fn fixtures_without_compression(fixtures: &Path) -> Vec<String> {
    let script = std::fs::read_to_string(fixtures.join("make-fixtures.sh")).unwrap_or_default();
    script
        .lines()
        .filter(|l| l.contains("--rdbcompression no"))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("make_rdb")).then(|| w.next().map(|n| format!("{n}.rdb")))?
        })
        .collect()
}

fn dumps() -> Vec<Dump> {
    let mut v = Vec::new();
    let corpus = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    match std::fs::read_dir(corpus) {
        Ok(rd) => {
            // `external/` (Dragonfly, KeyDB, other tools' fixtures) is not written by the
            // Redis/Valkey compressor and is left out.
            for e in rd.flatten() {
                let path = e.path().join("dump.rdb");
                if path.is_file() {
                    v.push(Dump {
                        name: e.file_name().to_string_lossy().into_owned(),
                        compression: corpus_compression(&e.path()),
                        path,
                    });
                }
            }
        }
        Err(_) => eprintln!(
            "lzf: corpus {} not found; checking the repository fixtures only",
            corpus.display()
        ),
    }
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"));
    let off = fixtures_without_compression(fixtures);
    assert!(off.iter().any(|n| n == "nocompress.rdb"));
    for e in std::fs::read_dir(fixtures).expect("fixtures").flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "rdb") {
            let file = e.file_name().to_string_lossy().into_owned();
            v.push(Dump {
                name: format!("fixtures/{file}"),
                compression: !off.contains(&file),
                path,
            });
        }
    }
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

#[test]
fn lzf_port_matches_every_server_written_string() {
    let mut failures = String::new();
    let (mut total, mut total_bytes, mut plain_total) = (0u64, 0u64, 0u64);
    for d in dumps() {
        let data = std::fs::read(&d.path).expect("read dump");
        let t = check_dump(&data);
        eprintln!(
            "{}: {} LZF strings ({} bytes) recompressed, {} identical; \
             {} plain strings >20 bytes, {} also incompressible by the port{}",
            d.name,
            t.lzf,
            t.lzf_bytes,
            t.identical,
            t.plain,
            t.plain_agree,
            if d.compression {
                ""
            } else {
                " (rdbcompression no: plain strings not judged)"
            }
        );
        total += t.lzf;
        total_bytes += t.lzf_bytes;
        if d.compression {
            plain_total += t.plain;
        }
        if t.identical != t.lzf || (d.compression && t.plain_agree != t.plain) {
            let _ = write!(failures, "{}:\n{}", d.name, t.report);
        }
    }
    eprintln!(
        "total: {total} LZF strings ({total_bytes} bytes) and {plain_total} plain strings checked"
    );
    assert!(failures.is_empty(), "mismatches:\n{failures}");
}

/// `redis-8.0-m01--list-compress-depth-1` was measured by a server loading with
/// `list-compress-depth 1`: every quicklist node but the head and the tail is kept as
/// `quicklistLZF` when [`Compressor::quicklist_compressed_size`] says so. `MEMORY USAGE`
/// (`objectComputeSize`, all nodes sampled) is then `sizeof(robj) + sizeof(quicklist)` plus,
/// per node, `sizeof(quicklistNode)` and `zmalloc_size` of its entry: the listpack (or PLAIN
/// element), or `sizeof(quicklistLZF) + compressed` after `zrealloc`; `memoryCommand` adds
/// the key. Checked to the byte for every compressed quicklist of that entry.
#[test]
fn lzf_quicklist_sizes_explain_compressed_list_memory() {
    use rdbscope_analysis::alloc::Allocator;
    use rdbscope_analysis::lzf::QUICKLIST_LZF_HEADER;

    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
    .join("redis-8.0-m01--list-compress-depth-1");
    let (Ok(data), Ok(truth)) = (
        std::fs::read(dir.join("dump.rdb")),
        std::fs::read_to_string(dir.join("truth.jsonl")),
    ) else {
        eprintln!("lzf: {} not found; skipping", dir.display());
        return;
    };
    let mut measured = std::collections::HashMap::new();
    for line in truth.lines() {
        let j: serde_json::Value = serde_json::from_str(line).expect("truth line");
        if j["encoding"] == "quicklist" && j["debug_object"]["ql_compressed"] == 1 {
            let key = j["key_hex"].as_str().expect("key_hex").to_owned();
            measured.insert(key, j["memory_usage"].as_u64().expect("memory_usage"));
        }
    }
    let alloc = Allocator::Jemalloc;
    let mut c = Compressor::new();
    let (mut buf, mut out, mut keybuf) = (Vec::new(), Vec::new(), Vec::new());
    let mut judged = 0;
    for rec in Records::new(&data).expect("header") {
        let Record::Key(k) = rec.expect("record") else {
            continue;
        };
        let key = k.key.bytes(&mut keybuf).expect("key");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let Some(&truth) = measured.get(&hex) else {
            continue;
        };
        let name = String::from_utf8_lossy(key).into_owned();
        let mut nodes: Vec<(u64, Option<usize>)> = Vec::new();
        let mut count = 0;
        k.value
            .for_each_node(|_| {
                count += 1;
                Ok(())
            })
            .expect("nodes");
        k.value
            .for_each_node(|n| {
                let bytes = n.data.bytes(&mut buf)?;
                let inner = !nodes.is_empty() && nodes.len() + 1 < count;
                let compressed = if inner {
                    c.quicklist_compressed_size(bytes, &mut out)
                } else {
                    None
                };
                nodes.push((bytes.len() as u64, compressed));
                Ok(())
            })
            .expect("nodes");
        let entries: u64 = nodes
            .iter()
            .map(|&(sz, comp)| match comp {
                Some(n) => alloc.usable(QUICKLIST_LZF_HEADER + n as u64),
                None => alloc.usable(sz),
            })
            .sum();
        // `MEMORY USAGE` adds the key's sds (`sdsReqType`: type 5 under 32 bytes, else type 8
        // under 256) and `dictEntryMemUsage()` (24) to `objectComputeSize`.
        assert!(key.len() < 256);
        let sds_hdr = if key.len() < 32 { 1 } else { 3 };
        let key_overhead = alloc.usable(sds_hdr + key.len() as u64 + 1) + 24;
        let predicted = key_overhead + 16 + 40 + 40 * nodes.len() as u64 + entries;
        let shown: Vec<String> = nodes
            .iter()
            .take(6)
            .map(|&(sz, comp)| match comp {
                Some(n) => format!("{sz}->{n}"),
                None => format!("{sz}"),
            })
            .collect();
        eprintln!(
            "{name}: {} nodes, {} compressed; first nodes (listpack bytes->LZF bytes): {}; \
             predicted {predicted}, MEMORY USAGE {truth}",
            nodes.len(),
            nodes.iter().filter(|n| n.1.is_some()).count(),
            shown.join(" ")
        );
        assert_eq!(predicted, truth, "{name}");
        judged += 1;
    }
    assert!(judged > 0, "no compressed quicklist judged");
}
