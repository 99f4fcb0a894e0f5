//! Writes the committed seed corpus, `fuzz/corpus/<target>/`:
//!
//! * `records` (and `analyze`, the same files): every `fixtures/*.rdb` under 8 KB (real Redis 7.0 dumps, RDB 10), plus small
//!   hand-made files built with `rdbscope-testwriter` for what the fixtures lack: old
//!   encodings (zipmap, ziplist, intset, quicklist v1, string-double zsets), RDB 12/13 field-TTL
//!   hashes, stream versions 1 to 5, modules, functions, key metadata, Valkey records.
//! * blob targets: a few blobs pulled out of the fixtures with the parser, plus hand-made ones
//!   covering every entry encoding.
//! * `lzf`: 2-byte little-endian uncompressed length, then the compressed stream.
//!
//! Run from `fuzz/`: `cargo run --example gen_seeds`. Output is deterministic; files are named
//! by what they hold, so re-running overwrites rather than duplicates.

use rdbscope_parser::{BlobKind, NodeContainer, RdbStr, Record, Records};
use rdbscope_testwriter::encode::{self, len, string};
use rdbscope_testwriter::listpack::{LpInt, LpStr};
use rdbscope_testwriter::module::{module_id, module_value, ModuleOps};
use rdbscope_testwriter::ziplist::{ZlInt, ZlStr};
use rdbscope_testwriter::{intset, lzf, opcode, ty, value, Listpack, Ziplist, Zipmap};
use rdbscope_testwriter::{Consumer, ConsumerGroup, Idmp, IdmpProducer, RdbWriter};
use rdbscope_testwriter::{Stream, StreamId, StreamNode};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const FIXTURE_LIMIT: u64 = 8 * 1024;
/// Blobs taken from the fixtures per target (the smallest distinct ones).
const EXTRACTED_PER_TARGET: usize = 6;

struct Seeds {
    root: PathBuf,
    written: usize,
    bytes: usize,
}

impl Seeds {
    /// A hand-made blob seed, which must decode cleanly.
    fn put_blob(&mut self, target: &str, name: &str, data: &[u8]) {
        use rdbscope_parser::blob::{intset, listpack, ziplist, zipmap};
        let ok = match target {
            "listpack" => listpack::for_each(data, |_| {}).is_ok(),
            "ziplist" => ziplist::for_each(data, |_| {}).is_ok(),
            "intset" => intset::for_each(data, |_| {}).is_ok(),
            "zipmap" => zipmap::for_each(data, |_| {}).is_ok(),
            "lzf" => {
                let (ulen, input) = data.split_at(2);
                let ulen = usize::from(u16::from_le_bytes([ulen[0], ulen[1]]));
                rdbscope_parser::lzf::decompress_into(input, ulen, &mut Vec::new()).is_ok()
            }
            _ => false,
        };
        assert!(ok, "hand-made {target} seed {name} does not decode");
        self.put(target, name, data);
    }
    fn put_file(&mut self, name: &str, file: &[u8]) {
        assert_valid(name, file);
        self.put("records", name, file);
    }

    /// Writes a seed; `records` seeds (whole files) also seed the `analyze` target.
    fn put(&mut self, target: &str, name: &str, data: &[u8]) {
        if target == "records" {
            self.put("analyze", name, data);
        }
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        std::fs::write(dir.join(name), data).expect("write seed");
        self.written += 1;
        self.bytes += data.len();
    }
}

fn main() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Seeds {
        root: fuzz.join("corpus"),
        written: 0,
        bytes: 0,
    };
    let fixtures = fixtures(&fuzz.join("../fixtures"));
    for (name, data) in &fixtures {
        seeds.put("records", &format!("fixture-{name}"), data);
    }
    hand_made_files(&mut seeds);
    extracted_blobs(&mut seeds, &fixtures);
    hand_made_blobs(&mut seeds);
    println!(
        "wrote {} seeds, {} bytes, under {}",
        seeds.written,
        seeds.bytes,
        seeds.root.display()
    );
}

fn fixtures(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read fixtures/") {
        let path = entry.expect("dir entry").path();
        let small = path.metadata().is_ok_and(|m| m.len() < FIXTURE_LIMIT);
        if path.extension().is_some_and(|e| e == "rdb") && small {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            out.push((name, std::fs::read(&path).expect("read fixture")));
        }
    }
    out.sort();
    out
}

fn id(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn stream_value(version: u8) -> Vec<u8> {
    let mut node = StreamNode::new(id(1000, 0), ["f", "g"]);
    node.entry(id(1000, 0), [("f", "1"), ("g", "x")])
        .entry(id(1000, 1), [("f", "2"), ("h", "y")])
        .deleted_entry(id(1001, 0), [("f", "3"), ("g", "z")]);
    let group = ConsumerGroup::new("g1", id(1000, 1))
        .entries_read(2)
        .pending(id(1000, 0), 1_700_000_000_000, 2)
        .consumer(
            Consumer::new("alice", 1_700_000_000_000)
                .active_time(1_700_000_000_500)
                .pending(id(1000, 0)),
        )
        .consumer(Consumer::new("bob", 1_700_000_000_100));
    let mut s = Stream::new(version);
    s.node(&node).group(group);
    if version >= 4 {
        s.idmp(Idmp {
            duration: 100,
            max_entries: 1000,
            producers: vec![IdmpProducer {
                id: b"p1".to_vec(),
                entries: vec![(b"iid-1".to_vec(), id(1000, 0))],
            }],
            iids_added: 1,
            iids_duplicates: 0,
        });
    }
    s.build()
}

/// Stream v5 (type 27, Redis dev): v4 plus a NACK id list at the end of each group. The
/// writer stops at v4, so a one-group v4 stream with an empty IDMP trailer (5 one-byte
/// lengths) gets the NACK list spliced in before that trailer.
fn stream_v5_value() -> Vec<u8> {
    let mut node = StreamNode::new(id(7, 0), ["k"]);
    node.entry(id(7, 0), [("k", "v")]);
    let group = ConsumerGroup::new("g", id(7, 0)).consumer(Consumer::new("c", 1));
    let v4 = Stream::new(4).node(&node).group(group).build();
    let (head, idmp) = v4.split_at(v4.len() - 5);
    assert_eq!(idmp, [0, 0, 0, 0, 0], "empty IDMP trailer");
    let mut out = head.to_vec();
    out.extend(len(1));
    out.extend(id(7, 0).to_be_bytes());
    out.extend_from_slice(idmp);
    out
}

fn module_ops() -> Vec<u8> {
    ModuleOps::new()
        .sint(-5)
        .uint(7)
        .float(1.5)
        .double(2.5)
        .string("payload")
        .build()
}

/// Panics unless `file` frames to its EOF and every value, stream node listpack and group
/// decodes: a hand-made seed should reach deep code, not stop at the first byte.
fn assert_valid(name: &str, file: &[u8]) {
    let check = || -> rdbscope_parser::Result<bool> {
        let mut scratch = rdbscope_parser::Scratch::new();
        let mut eof = false;
        for rec in Records::new(file)? {
            match rec? {
                Record::Key(k) => {
                    k.value.for_each_element(&mut scratch, |_| {})?;
                    if let Some(s) = k.value.stream()? {
                        s.for_each_node(|n| {
                            let lp = n.listpack.to_vec()?;
                            let ok = rdbscope_parser::blob::listpack::for_each(&lp, |_| {});
                            assert!(ok.is_ok(), "{name}: stream listpack {ok:?}");
                            Ok(())
                        })?;
                        s.for_each_group(|g| g.for_each_consumer(|_| Ok(())))?;
                    }
                }
                Record::Eof { .. } => eof = true,
                _ => {}
            }
        }
        Ok(eof)
    };
    match check() {
        Ok(true) => {}
        other => panic!("hand-made seed {name} does not parse cleanly: {other:?}"),
    }
}

fn hand_made_files(seeds: &mut Seeds) {
    // RDB 3: no checksum, EXPIRETIME in seconds, integer-encoded strings, plain collections
    // with string-double zset scores.
    let f = RdbWriter::redis(3)
        .select_db(0)
        .key(ty::STRING, "s", &string("v"))
        .expire_s(2_000_000_000)
        .key(ty::STRING, "i8", &encode::string_int8(-3))
        .key(ty::STRING, "i16", &encode::string_int16(3000))
        .key(ty::STRING, "i32", &encode::string_int32(-70000))
        .key(ty::LIST, "l", &value::list(["a", "b"]))
        .key(ty::SET, "st", &value::set(["x", "y"]))
        .key(
            ty::ZSET,
            "z",
            &value::zset([("m", 1.5), ("n", f64::INFINITY)]),
        )
        .key(ty::HASH, "h", &value::hash([("f", "v")]))
        .finish();
    seeds.put_file("rdb3-plain-types.rdb", &f);

    // RDB 6: the RDB 2-era compact encodings and an LZF string.
    let f = RdbWriter::redis(6)
        .aux("redis-ver", "3.2.0")
        .select_db(0)
        .key(
            ty::HASH_ZIPMAP,
            "zm",
            &value::hash_zipmap([("f", "v"), ("g", "w")]),
        )
        .key(
            ty::LIST_ZIPLIST,
            "zl",
            &value::list_ziplist(["a", "12", "-300"]),
        )
        .key(ty::SET_INTSET, "is", &value::set_intset(&[1, 2, 70000]))
        .key(ty::ZSET_ZIPLIST, "zz", &value::zset_ziplist([("m", 2.0)]))
        .key(ty::HASH_ZIPLIST, "hz", &value::hash_ziplist([("f", "1")]))
        .key(
            ty::STRING,
            "lzf",
            &encode::string_lzf("abcabcabcabcabcabcabcabc"),
        )
        .finish();
    seeds.put_file("rdb6-compact-encodings.rdb", &f);

    // RDB 9: quicklist v1, zset2, stream v1, module value and module aux, LRU/LFU.
    let ql = value::quicklist([Ziplist::new().str("a").int(5).build()]);
    let f = RdbWriter::redis(9)
        .aux("redis-ver", "5.0.0")
        .module_aux(module_id("testmodul", 1), 2, &module_ops())
        .select_db(0)
        .resize_db(4, 0)
        .idle(12)
        .key(ty::LIST_QUICKLIST, "ql", &ql)
        .freq(5)
        .key(ty::ZSET_2, "z2", &value::zset2([("m", 0.5)]))
        .key(ty::STREAM_LISTPACKS, "x1", &stream_value(1))
        .key(
            ty::MODULE_2,
            "mod",
            &module_value(module_id("testmodul", 1), &module_ops()),
        )
        .finish();
    seeds.put_file("rdb9-quicklist-stream1-module.rdb", &f);

    // RDB 11: listpack encodings, quicklist v2 with PLAIN and PACKED nodes, streams v2/v3,
    // a function library.
    let mut ql2 = value::Quicklist2::new();
    ql2.packed(&Listpack::new().str("a").int(-1).build())
        .plain("a plain node");
    let f = RdbWriter::redis(11)
        .function2("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .select_db(0)
        .key(ty::HASH_LISTPACK, "hl", &value::hash_listpack([("f", "v")]))
        .key(ty::ZSET_LISTPACK, "zl", &value::zset_listpack([("m", 3.0)]))
        .key(ty::SET_LISTPACK, "sl", &value::set_listpack(["a", "1"]))
        .key(ty::LIST_QUICKLIST_2, "q2", &ql2.build())
        .key(ty::STREAM_LISTPACKS_2, "x2", &stream_value(2))
        .key(ty::STREAM_LISTPACKS_3, "x3", &stream_value(3))
        .finish();
    seeds.put_file("rdb11-listpacks-quicklist2-streams.rdb", &f);

    // RDB 12: field-TTL hashes (GA and pre-GA), slot info.
    let mut hm = value::HashMetadata::new();
    hm.field("a", "1", Some(4_102_444_800_000))
        .field("b", "2", None);
    let mut hlx = value::HashListpackEx::new();
    hlx.field("a", "1", Some(4_102_444_800_000))
        .field("b", "2", None);
    let mut pre = value::HashMetadata::new();
    pre.field_raw_ttl("a", "1", 4_102_444_800_000);
    let pre = pre.build();
    let f = RdbWriter::redis(12)
        .slot_info(42, 4, 1)
        .select_db(0)
        .key(ty::HASH_METADATA, "hm", &hm.build())
        .key(ty::HASH_LISTPACK_EX, "hx", &hlx.build())
        // Pre-GA types have no min-expire prefix: drop the 8 bytes HashMetadata wrote.
        .key(ty::HASH_METADATA_PRE_GA, "hp", &pre[8..])
        .key(ty::HASH_LISTPACK_EX_PRE_GA, "hq", &string(hlx.listpack()))
        .finish();
    seeds.put_file("rdb12-field-ttl-hashes.rdb", &f);

    // RDB 13: stream v4 with IDMP, key metadata (opcode 243), stream v5.
    let mut meta = vec![243u8];
    meta.extend(len(1));
    meta.extend_from_slice(b"meta");
    meta.extend(ModuleOps::new().uint(9).build());
    let f = RdbWriter::redis(13)
        .select_db(0)
        .key(ty::STREAM_LISTPACKS_4, "x4", &stream_value(4))
        .raw(&meta)
        .key(ty::STRING, "with-meta", &string("v"))
        .key(ty::STREAM_LISTPACKS_5, "x5", &stream_v5_value())
        .finish();
    seeds.put_file("rdb13-stream4-5-keymeta.rdb", &f);

    // Valkey 80: HASH_2 with per-field expiry, SLOT_IMPORT.
    let mut import = vec![opcode::VALKEY_SLOT_IMPORT];
    import.extend(string("0123456789012345678901234567890123456789"));
    import.extend(len(1));
    import.extend(len(0));
    import.extend(len(100));
    let f = RdbWriter::valkey(80)
        .raw(&import)
        .select_db(0)
        .key(
            ty::VALKEY_HASH_2,
            "vh",
            &value::hash2([("f", "v", -1), ("g", "w", 4_102_444_800_000)]),
        )
        .finish();
    seeds.put_file("valkey80-hash2-slot-import.rdb", &f);

    // RDB 10: the pre-GA FUNCTION opcode, a Redis Enterprise RAM-LRU attribute, a KeyDB-style
    // AUX between a key's attributes and its type byte.
    let mut function = vec![opcode::FUNCTION_PRE_GA];
    function.extend(string("f"));
    function.extend(string("LUA"));
    function.extend(len(1));
    function.extend(string("desc"));
    function.extend(string("return 1"));
    let f = RdbWriter::redis(10)
        .raw(&function)
        .select_db(0)
        .raw(&[107])
        .raw(&len(3))
        .expire_ms(4_102_444_800_000)
        .aux("mvcc-tstamp", "1")
        .key(ty::STRING, "k", &string("v"))
        .finish();
    seeds.put_file("rdb10-function-pre-ga-oddities.rdb", &f);

    // Dragonfly (a `df-ver` AUX switches the dialect): JSON (30), hash (31) and set (32) with
    // per-member TTL strings, a DF_MASK key attribute (220), journal records (210, 211), a
    // search index record (223) and FULLSYNC_END (200).
    let member = |m: &str, v: Option<&str>, ttl: &str| {
        let mut out = string(m);
        if let Some(v) = v {
            out.extend(string(v));
        }
        out.extend(string(ttl));
        out
    };
    let mut df_hash = len(2);
    df_hash.extend(member("f", Some("v"), "-1"));
    df_hash.extend(member("g", Some("w"), "86400"));
    let mut df_set = len(1);
    df_set.extend(member("m", None, "60"));
    let mut mask = vec![220u8];
    mask.extend_from_slice(&2u32.to_le_bytes());
    mask.extend_from_slice(&7u32.to_le_bytes());
    let mut journal = vec![210u8];
    journal.extend(len(1));
    journal.extend(string("journal blob"));
    journal.push(211);
    journal.extend_from_slice(&9u64.to_le_bytes());
    let mut index = vec![223u8];
    index.extend(len(0));
    index.extend(string("idx"));
    index.extend(len(1));
    index.extend(string("doc:1"));
    index.extend(len(1));
    let mut sync_end = vec![200u8];
    sync_end.extend_from_slice(&[0; 8]);
    let f = RdbWriter::redis(11)
        .aux("df-ver", "1.26.0")
        .select_db(0)
        .key(30, "json", &string("{\"a\":1}"))
        .raw(&mask)
        .key(31, "dfh", &df_hash)
        .key(32, "dfs", &df_set)
        .raw(&journal)
        .raw(&index)
        .raw(&sync_end)
        .finish();
    seeds.put_file("dragonfly-json-expiring-hash-set.rdb", &f);

    // Dragonfly sketches (33 to 37), a vector index (222), a tagged chunk (224) and compressed
    // blobs (201 zstd, 202 LZ4). The parser only frames blobs and chunks, so their payloads
    // here are arbitrary bytes.
    let chunks = |parts: &[&[u8]]| {
        let mut out = len(parts.iter().map(|p| p.len() as u64).sum());
        for p in parts {
            out.extend(len(p.len() as u64));
            out.extend_from_slice(p);
        }
        out
    };
    let sbf_head = || {
        let mut out = len(0);
        out.extend_from_slice(&2.0f64.to_le_bytes());
        out.extend_from_slice(&0.01f64.to_le_bytes());
        for n in [0, 100, 1000] {
            out.extend(len(n));
        }
        out.extend(len(1));
        out.extend(len(3));
        out
    };
    let mut sbf = sbf_head();
    sbf.extend(string([0xAAu8; 8]));
    let mut sbf2 = sbf_head();
    sbf2.extend(chunks(&[&[0x55; 4], &[0x0F; 4]]));
    let mut cms = [2, 2, 5].iter().flat_map(|&n| len(n)).collect::<Vec<u8>>();
    cms.extend_from_slice(&[1; 32]);
    let mut topk = [0, 2, 4, 2]
        .iter()
        .flat_map(|&n| len(n))
        .collect::<Vec<u8>>();
    topk.extend_from_slice(&0.9f64.to_le_bytes());
    topk.extend(len(1));
    topk.extend(string("item"));
    topk.extend(len(3));
    topk.extend(len(6));
    topk.extend_from_slice(&[0; 6]);
    let mut cuckoo = [4, 20, 1, 8, 2, 0]
        .iter()
        .flat_map(|&n| len(n))
        .collect::<Vec<u8>>();
    cuckoo.extend(len(1));
    cuckoo.extend(chunks(&[&[7; 16]]));
    let mut vector = vec![222u8];
    vector.extend(string("vidx"));
    vector.extend(len(0));
    vector.extend(len(1));
    vector.extend_from_slice(&[0; 12]);
    vector.extend_from_slice(&1u32.to_le_bytes());
    vector.extend_from_slice(&1u32.to_le_bytes());
    vector.extend_from_slice(&5u32.to_le_bytes());
    vector.extend_from_slice(&0u32.to_le_bytes());
    let mut chunk = vec![224u8];
    chunk.extend_from_slice(&3u32.to_le_bytes());
    chunk.extend_from_slice(&4u32.to_le_bytes());
    chunk.extend_from_slice(b"\x00\x01k\x01");
    let mut blobs = vec![201u8];
    blobs.extend(string(b"\x28\xb5\x2f\xfd zstd frame"));
    blobs.push(202);
    blobs.extend(string(b"\x04\x22\x4d\x18 lz4 frame"));
    let f = RdbWriter::redis(11)
        .aux("df-ver", "1.30.0")
        .select_db(0)
        .key(33, "sbf", &sbf)
        .key(34, "sbf2", &sbf2)
        .key(35, "cms", &cms)
        .key(36, "topk", &topk)
        .key(37, "cuckoo", &cuckoo)
        .raw(&vector)
        .raw(&chunk)
        .raw(&blobs)
        .finish();
    seeds.put_file("dragonfly-sketches-chunks-blobs.rdb", &f);

    // KeyDB CRON (type 64, RDB < 12): script, start, interval, keys, args.
    let mut cron = string("return 1");
    cron.extend(encode::ms_time(1_700_000_000_000));
    cron.extend(encode::ms_time(60_000));
    cron.extend(len(1));
    cron.extend(string("k"));
    cron.extend(len(1));
    cron.extend(string("arg"));
    let f = RdbWriter::redis(9)
        .select_db(0)
        .key(64, "cron", &cron)
        .finish();
    seeds.put_file("keydb-cron.rdb", &f);
}

/// Takes the smallest distinct blobs of each kind out of the fixtures, decoded through the
/// parser (LZF included).
fn extracted_blobs(seeds: &mut Seeds, fixtures: &[(String, Vec<u8>)]) {
    let mut found: BTreeMap<&str, Vec<Vec<u8>>> = BTreeMap::new();
    let mut add = |target: &'static str, s: &RdbStr<'_>| {
        if let Ok(b) = s.to_vec() {
            found.entry(target).or_default().push(b);
        }
    };
    for (_, data) in fixtures {
        let Ok(recs) = Records::new(data) else {
            continue;
        };
        for rec in recs.flatten() {
            let Record::Key(k) = rec else { continue };
            let v = k.value;
            if let Some(b) = v.blob() {
                let target = match b.kind {
                    BlobKind::Listpack => "listpack",
                    BlobKind::Ziplist => "ziplist",
                    BlobKind::Intset => "intset",
                    BlobKind::Zipmap => "zipmap",
                };
                add(target, &b.data);
            }
            let _ = v.for_each_node(|n| {
                match n.container {
                    NodeContainer::Listpack => add("listpack", &n.data),
                    NodeContainer::Ziplist => add("ziplist", &n.data),
                    NodeContainer::Plain => {}
                }
                Ok(())
            });
            if let Ok(Some(s)) = v.stream() {
                let _ = s.for_each_node(|n| {
                    add("listpack", &n.listpack);
                    Ok(())
                });
            }
        }
    }
    // LZF seeds are the compressed streams, so collect those separately.
    let mut lzf_seeds: Vec<Vec<u8>> = Vec::new();
    for (_, data) in fixtures {
        let Ok(recs) = Records::new(data) else {
            continue;
        };
        for rec in recs.flatten() {
            let Record::Key(k) = rec else { continue };
            for s in [
                Some(k.key),
                k.value.as_string(),
                k.value.blob().map(|b| b.data),
            ]
            .into_iter()
            .flatten()
            {
                if let RdbStr::Lzf {
                    compressed, ulen, ..
                } = s
                {
                    if let Ok(ulen) = u16::try_from(ulen) {
                        let mut seed = ulen.to_le_bytes().to_vec();
                        seed.extend_from_slice(compressed);
                        lzf_seeds.push(seed);
                    }
                }
            }
        }
    }
    found.insert("lzf", lzf_seeds);
    for (target, mut blobs) in found {
        blobs.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        blobs.dedup();
        // Spread the picks over the size range rather than taking only the tiniest.
        let n = blobs.len();
        let picks = EXTRACTED_PER_TARGET.min(n);
        for i in 0..picks {
            let idx = if picks > 1 {
                i * (n - 1) / (picks - 1)
            } else {
                0
            };
            seeds.put(target, &format!("fixture-{i}"), &blobs[idx]);
        }
    }
}

fn hand_made_blobs(seeds: &mut Seeds) {
    let long = vec![b'x'; 70];
    let mut lp = Listpack::new();
    lp.int_as(5, LpInt::U7)
        .int_as(-100, LpInt::I13)
        .int_as(30_000, LpInt::I16)
        .int_as(-5_000_000, LpInt::I24)
        .int_as(2_000_000_000, LpInt::I32)
        .int_as(i64::MIN, LpInt::I64)
        .str_as("short", LpStr::B6)
        .str_as(&long, LpStr::B12)
        .str_as("wide", LpStr::B32)
        .str("");
    seeds.put_blob("listpack", "all-encodings", &lp.build());
    seeds.put_blob("listpack", "empty", &Listpack::new().build());
    seeds.put_blob(
        "listpack",
        "count-unknown",
        &Listpack::new().str("a").int(1).with_count(65535).build(),
    );

    let mut zl = Ziplist::new();
    zl.int_as(7, ZlInt::Imm)
        .int_as(-100, ZlInt::I8)
        .int_as(30_000, ZlInt::I16)
        .int_as(-5_000_000, ZlInt::I24)
        .int_as(2_000_000_000, ZlInt::I32)
        .int_as(i64::MAX, ZlInt::I64)
        .str_as("short", ZlStr::B6)
        .str_as(&long, ZlStr::B14)
        .str_as("wide", ZlStr::B32)
        .big_prevlen_next()
        .str("after a 5-byte prevlen");
    seeds.put_blob("ziplist", "all-encodings", &zl.build());
    seeds.put_blob("ziplist", "empty", &Ziplist::new().build());
    seeds.put_blob(
        "ziplist",
        "count-unknown",
        &Ziplist::new().str("a").int(1).with_count(65535).build(),
    );

    seeds.put_blob("intset", "int16", &intset::intset(&[-5, 0, 7, 300]));
    seeds.put_blob("intset", "int32", &intset::intset(&[-70_000, 1, 70_000]));
    seeds.put_blob("intset", "int64", &intset::intset(&[i64::MIN, 0, i64::MAX]));
    seeds.put_blob("intset", "empty", &intset::intset(&[]));

    let mut zm = Zipmap::new();
    zm.entry("f", "v")
        .entry_with_free("g", "w", 3)
        .entry(vec![b'k'; 300], "long key, 254 length form");
    seeds.put_blob("zipmap", "entries", &zm.build());
    seeds.put_blob("zipmap", "empty", &Zipmap::new().build());

    for (name, text) in [
        ("repeats", &b"abcabcabcabcabcabcabcabcabcabcabcabc"[..]),
        ("run", &[b'z'; 600][..]),
        ("literal", &b"no repeats here"[..]),
    ] {
        let mut seed = u16::try_from(text.len())
            .expect("short")
            .to_le_bytes()
            .to_vec();
        seed.extend(lzf::lzf_compress(text));
        seeds.put_blob("lzf", name, &seed);
    }
}
