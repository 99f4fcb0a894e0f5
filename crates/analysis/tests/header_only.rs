//! `Model::estimate_memory`, the estimate `analyze` uses, sizes listpacks, ziplists and
//! intsets the loader keeps from their headers alone, and collections stored element by
//! element from their elements' declared lengths. It must agree with the walking
//! `Model::estimate` on memory, encoding and element count for every line and every shape,
//! LZF-compressed or not, and must still refuse a header that contradicts its blob.

use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::model::{Encoding, Model, ServerLine, Thresholds};
use rdbscope_parser::{Record, Records, Scratch};
use rdbscope_testwriter::encode::{
    double_bin, double_str, string_auto, string_lzf, string_lzf_raw,
};
use rdbscope_testwriter::value::{self, Quicklist2};
use rdbscope_testwriter::{Listpack, RdbWriter};

/// A member of varied listpack encodings; every 7th is long.
fn member(i: usize, salt: usize) -> Vec<u8> {
    match (i + salt) % 7 {
        0 => format!("{}", i * 31).into_bytes(),
        1 => format!("-{}", i * 1_000_003).into_bytes(),
        2 => format!("member:{i}:{salt}").into_bytes(),
        3 => vec![b'v'; 100 + i % 50],
        4 => format!("{:0>5}", i).into_bytes(),
        5 => "abc".repeat(i % 30 + 1).into_bytes(),
        _ => format!("{}", (i as i64) * 9_000_000_001).into_bytes(),
    }
}

/// The value string wrapped in LZF (the writer's compressor), as `rdbcompression` stores
/// long blobs.
fn lzf(blob_value: &[u8]) -> Vec<u8> {
    // `value::*_listpack` and friends return one plain string: its length prefix, then
    // the blob. Re-encode the blob as an LZF string.
    let file = wrap(16, blob_value);
    let mut r = Records::new(&file).expect("header");
    let Some(Ok(Record::Key(k))) = r.next() else {
        panic!("no key")
    };
    let blob = k.value.blob().expect("blob").data.to_vec().expect("bytes");
    string_lzf(blob)
}

/// How a sorted-set score is written (binary for type 5, a string for type 3).
type ScoreEncoding = fn(f64) -> Vec<u8>;

fn wrap(ty: u8, value: &[u8]) -> Vec<u8> {
    let mut w = RdbWriter::redis(11);
    w.key(ty, "k", value);
    w.finish()
}

/// Both estimates of the file's only key.
fn both(
    file: &[u8],
    model: &Model,
) -> (
    rdbscope_analysis::model::KeyEstimate,
    rdbscope_analysis::model::KeyEstimate,
) {
    let mut scratch = Scratch::new();
    for r in Records::new(file).expect("header") {
        if let Record::Key(k) = r.expect("record") {
            let full = model.estimate(&k, &mut scratch).expect("estimate");
            let brief = model
                .estimate_memory(&k, &mut scratch)
                .expect("estimate_memory");
            return (full, brief);
        }
    }
    panic!("no key");
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for n in [1usize, 5, 64, 127, 128, 129, 300, 600, 1500] {
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = (0..n).map(|i| (member(i, 1), member(i, 2))).collect();
        let hash = value::hash_listpack(pairs.iter().map(|(a, b)| (a, b)));
        out.push(("hash listpack", wrap(16, &hash)));
        out.push(("hash listpack lzf", wrap(16, &lzf(&hash))));
        let members: Vec<Vec<u8>> = (0..n).map(|i| member(i, 3)).collect();
        let zset = value::zset_listpack(members.iter().enumerate().map(|(i, m)| (m, i as f64)));
        out.push(("zset listpack", wrap(17, &zset)));
        out.push(("zset listpack lzf", wrap(17, &lzf(&zset))));
        let set = value::set_listpack(&members);
        out.push(("set listpack", wrap(20, &set)));
        out.push(("set listpack lzf", wrap(20, &lzf(&set))));
        let ints: Vec<i64> = (0..n as i64).map(|i| i * 977 - 3).collect();
        out.push(("intset", wrap(11, &value::set_intset(&ints))));
        let zl = value::hash_ziplist(pairs.iter().map(|(a, b)| (a, b)));
        out.push(("hash ziplist", wrap(13, &zl)));
        let mut q = Quicklist2::new();
        for chunk in members.chunks(37) {
            let mut lp = Listpack::new();
            for m in chunk {
                lp.auto(m);
            }
            q.packed(&lp.build());
        }
        out.push(("quicklist2", wrap(18, &q.build())));
        // Stored element by element, in every string encoding (`string_auto`: integers,
        // LZF for the compressible members, plain otherwise).
        let items: Vec<Vec<u8>> = members.iter().map(string_auto).collect();
        out.push(("set (type 2)", wrap(2, &value::counted(n as u64, &items))));
        let fields: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(f, v)| [string_auto(f), string_auto(v)].concat())
            .collect();
        out.push(("hash (type 4)", wrap(4, &value::counted(n as u64, &fields))));
        let scores: [(u8, &'static str, ScoreEncoding); 2] = [
            (5, "zset (type 5)", double_bin),
            (3, "zset (type 3)", double_str),
        ];
        for (ty, name, score) in scores {
            let scored: Vec<Vec<u8>> = items
                .iter()
                .enumerate()
                .map(|(i, m)| [m.clone(), score(i as f64 / 3.0)].concat())
                .collect();
            out.push((name, wrap(ty, &value::counted(n as u64, &scored))));
        }
    }
    out
}

#[test]
fn header_only_estimate_agrees_with_the_walk() {
    let files = files();
    for line in ServerLine::ALL {
        for small in [false, true] {
            let mut model = Model::new(line, Allocator::Jemalloc);
            if small {
                // Small value limits: long members no longer fit, which the loader ignores.
                model.thresholds = Thresholds {
                    hash_value: 8,
                    zset_value: 8,
                    set_value: 8,
                    ..model.thresholds
                };
            }
            for (name, f) in &files {
                let (full, brief) = both(f, &model);
                assert_eq!(
                    (brief.memory, brief.encoding, brief.elements),
                    (full.memory, full.encoding, full.elements),
                    "{name} on {line:?} (small limits: {small})"
                );
                assert!(
                    full.largest_element > 0,
                    "{name}: the walk finds the largest"
                );
            }
        }
    }
}

#[test]
fn loader_keeps_listpacks_with_long_elements() {
    // `rdbLoadObject` converts a kept listpack by entry count only: a 100-byte value in a
    // hash listpack survives a loader whose hash-max-listpack-value is 64.
    let pairs = [
        (b"f".to_vec(), vec![b'x'; 100]),
        (b"g".to_vec(), b"1".to_vec()),
    ];
    let f = wrap(16, &value::hash_listpack(pairs.iter().map(|(a, b)| (a, b))));
    let model = Model::new(ServerLine::Redis72, Allocator::Jemalloc);
    assert_eq!(
        (model.thresholds.hash_value, model.thresholds.hash_entries),
        (64, 512)
    );
    let (full, brief) = both(&f, &model);
    assert_eq!(full.encoding, Encoding::Listpack);
    assert_eq!(brief.encoding, Encoding::Listpack);
    assert_eq!(full.largest_element, 100);
    assert_eq!(brief.largest_element, 0);
    // Over the entry count, it is converted.
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..600)
        .map(|i| (format!("f{i}").into_bytes(), b"v".to_vec()))
        .collect();
    let f = wrap(16, &value::hash_listpack(many.iter().map(|(a, b)| (a, b))));
    let (full, brief) = both(&f, &model);
    assert_eq!(full.encoding, Encoding::Hashtable);
    assert_eq!(brief, full);
}

#[test]
fn header_that_contradicts_the_blob_is_an_error() {
    let set = value::set_listpack([b"a", b"b", b"c"]);
    let mut file = wrap(20, &set);
    // The listpack's total-bytes field follows the string's 1-byte length prefix, after
    // the type byte and the 1-byte key "k" (length prefix + byte).
    let key_at = file
        .windows(2)
        .position(|w| w == [20, 1])
        .expect("key record");
    let total_at = key_at + 3 + 1;
    file[total_at] ^= 0x40;
    let model = Model::new(ServerLine::Redis72, Allocator::Jemalloc);
    let mut scratch = Scratch::new();
    for r in Records::new(&file).expect("header") {
        if let Ok(Record::Key(k)) = r {
            let err = model
                .estimate_memory(&k, &mut scratch)
                .expect_err("a header/length mismatch is refused");
            assert!(
                err.to_string().contains("header size differs"),
                "unexpected error: {err}"
            );
            return;
        }
    }
    panic!("no key");
}

#[test]
fn collections_are_sized_from_declared_lengths_and_deep_decodes_them() {
    // A big type 2 set whose last member is an LZF string that does not decompress to its
    // declared 300 bytes: sized from the declared length by default, refused by the walk.
    let mut items: Vec<Vec<u8>> = (0..600).map(|i| string_auto(format!("m{i}"))).collect();
    items.push(string_lzf_raw(&[0x1f, b'a', b'b'], 300));
    let f = wrap(2, &value::counted(items.len() as u64, &items));
    let model = Model::new(ServerLine::Redis72, Allocator::Jemalloc);
    let mut scratch = Scratch::new();
    for r in Records::new(&f).expect("header") {
        if let Record::Key(k) = r.expect("record") {
            let brief = model.estimate_memory(&k, &mut scratch).expect("sized");
            assert_eq!((brief.elements, brief.encoding), (601, Encoding::Hashtable));
            assert_eq!(brief.largest_element, 300, "the declared length");
            let err = model
                .estimate(&k, &mut scratch)
                .expect_err("the walk decodes it");
            assert!(err.to_string().contains("LZF"), "unexpected error: {err}");
            return;
        }
    }
    panic!("no key");
}
