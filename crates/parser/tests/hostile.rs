//! Hand-made hostile and edge-case files, built byte by byte with the test-only writer
//! (`rdbscope-testwriter`, which shares no code with the parser).
//!
//! Every malformed input must end in a clean `Err` at a sensible offset: never a panic, never
//! an allocation or a loop sized by a forged length. Every legal oddity (forced long length
//! forms, empty and binary keys, each LZF token kind, field TTLs, module values, streams of
//! every version) must decode to exactly what was written. Two sweeps close the file: every
//! fixture truncated at every offset, and a few thousand seeded single-byte corruptions.

use rdbscope_parser::module::ModuleId;
use rdbscope_parser::stream::{Idmp as PIdmp, StreamId as PStreamId};
use rdbscope_parser::{
    DataType, Element, Error, ErrorKind, KeyRecord, Record, Records, Scratch, ValueKind,
};
use rdbscope_testwriter::encode::{self, len, len_as, string, LenForm};
use rdbscope_testwriter::intset::{intset, intset_raw};
use rdbscope_testwriter::lzf::LzfOps;
use rdbscope_testwriter::module::{module_id, module_value, ModuleOps};
use rdbscope_testwriter::value::{self, HashListpackEx, HashMetadata, Quicklist2};
use rdbscope_testwriter::ziplist::{self as zl, ZlStr};
use rdbscope_testwriter::{
    ty, Consumer, ConsumerGroup, Idmp, IdmpProducer, Listpack, RdbWriter, Stream, StreamId,
    StreamNode, Ziplist, Zipmap,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

// ---------------------------------------------------------------------------------------
// Reading helpers
// ---------------------------------------------------------------------------------------

/// One decoded element, owned.
#[derive(Debug, Clone, PartialEq)]
enum El {
    Item(Vec<u8>),
    Scored(Vec<u8>, f64),
    Field(Vec<u8>, Vec<u8>, Option<i64>),
}

impl El {
    fn of(e: Element<'_>) -> El {
        match e {
            Element::Item(s) => El::Item(s.to_vec()),
            Element::Scored(m, s) => El::Scored(m.to_vec(), s),
            Element::Field(f, v, t) => El::Field(f.to_vec(), v.to_vec(), t),
        }
    }
}

fn item(s: impl AsRef<[u8]>) -> El {
    El::Item(s.as_ref().to_vec())
}

fn field(f: &str, v: &str, ttl: Option<i64>) -> El {
    El::Field(f.as_bytes().to_vec(), v.as_bytes().to_vec(), ttl)
}

/// A key as fully decoded.
#[derive(Debug)]
struct Key {
    db: u64,
    key: Vec<u8>,
    expire_ms: Option<i64>,
    kind: ValueKind,
    elements: Vec<El>,
    count: u64,
}

/// Asks everything of one key record: its name, every element, every quicklist node, every
/// stream node, group, consumer and pending entry, and the element count.
fn exercise_key(k: &KeyRecord<'_>, scratch: &mut Scratch) -> Result<Key, Error> {
    let key = k.key.to_vec()?;
    let v = k.value;
    let _ = (
        v.count_prefix(),
        v.hash_min_expire(),
        v.module(),
        v.as_string(),
    );
    if let Some(b) = v.blob() {
        b.data.to_vec()?;
    }
    v.for_each_node(|n| n.data.to_vec().map(drop))?;
    if let Some(s) = v.stream()? {
        s.for_each_node(|n| {
            n.master_key.to_vec()?;
            n.listpack.to_vec().map(drop)
        })?;
        s.for_each_group(|g| {
            g.name.to_vec()?;
            g.for_each_pending(|_| Ok(()))?;
            g.for_each_consumer(|c| {
                c.name.to_vec()?;
                c.for_each_pending_id(|_| Ok(()))
            })
        })?;
    }
    let mut elements = Vec::new();
    let mut lens = Vec::new();
    v.for_each_element(scratch, |e| {
        lens.extend(element_lens(&e));
        elements.push(El::of(e));
    })?;
    // The length-only walk, where it applies, sees the same strings.
    let mut walked = Vec::new();
    if v.for_each_len(|l| walked.push(l))? {
        assert_eq!(walked, lens, "for_each_len of {:?}", v.kind());
    }
    let count = v.element_count(scratch)?;
    Ok(Key {
        db: k.db,
        key,
        expire_ms: k.expire_ms,
        kind: v.kind(),
        elements,
        count,
    })
}

/// The logical lengths of an element's strings (scores and TTLs left out).
fn element_lens(e: &Element<'_>) -> Vec<u64> {
    match e {
        Element::Item(s) | Element::Scored(s, _) => vec![s.len()],
        Element::Field(f, v, _) => vec![f.len(), v.len()],
    }
}

/// Reads a whole file the way a thorough reader would; the first error wins.
fn exercise(data: &[u8]) -> Result<Vec<Key>, Error> {
    let mut scratch = Scratch::new();
    let mut keys = Vec::new();
    let mut eof = false;
    for rec in Records::new(data)? {
        match rec? {
            Record::Key(k) => keys.push(exercise_key(&k, &mut scratch)?),
            Record::Aux { key, value, .. } => {
                key.to_vec()?;
                value.to_vec()?;
            }
            Record::Function { code, .. } => {
                code.to_vec()?;
            }
            Record::Eof { .. } => eof = true,
            _ => {}
        }
    }
    assert!(eof, "the iterator stopped without an error and without EOF");
    Ok(keys)
}

/// The only key of a file that must decode.
fn only_key(data: &[u8]) -> Key {
    let mut keys = exercise(data).unwrap_or_else(|e| panic!("expected a clean decode: {e}"));
    assert_eq!(keys.len(), 1, "expected exactly one key");
    keys.remove(0)
}

/// The first error reading a file that must fail.
fn first_err(data: &[u8]) -> Error {
    match exercise(data) {
        Ok(keys) => panic!("expected an error, decoded {keys:?}"),
        Err(e) => e,
    }
}

/// A file with one key in db 0, and where its record and its value start.
struct OneKey {
    file: Vec<u8>,
    /// Offset of the key record's type byte.
    at: u64,
    /// Offset of the value's first byte.
    voff: u64,
}

fn one_key_encoded(mut w: RdbWriter, type_byte: u8, key: &[u8], value: &[u8]) -> OneKey {
    w.select_db(0);
    let at = w.offset();
    w.key_encoded(type_byte, key, value);
    OneKey {
        file: w.finish(),
        at: at as u64,
        voff: (at + 1 + key.len()) as u64,
    }
}

fn one_key(w: RdbWriter, type_byte: u8, key: &str, value: &[u8]) -> OneKey {
    one_key_encoded(w, type_byte, &string(key), value)
}

#[track_caller]
fn assert_too_large(e: Error, at: u64) {
    assert!(
        matches!(e.kind, ErrorKind::LengthTooLarge { .. }),
        "expected a declared length too large, got {e}"
    );
    assert_eq!(e.offset, at, "offset of {e}");
}

/// A blob error of format `blob` in the string at `at`, whose reason mentions `why`.
#[track_caller]
fn assert_blob_err(e: Error, blob: &str, at: u64, why: &str) {
    match e.kind {
        ErrorKind::Blob {
            blob: b, reason, ..
        } => {
            assert_eq!(b, blob, "{e}");
            assert!(reason.contains(why), "expected '{why}' in: {e}");
        }
        _ => panic!("expected a {blob} error about '{why}', got {e}"),
    }
    assert_eq!(e.offset, at, "offset of {e}");
}

#[track_caller]
fn assert_lzf_err(e: Error, at: u64) {
    assert!(
        matches!(e.kind, ErrorKind::Lzf(_)),
        "expected an LZF error, got {e}"
    );
    assert_eq!(e.offset, at, "offset of {e}");
}

const HUGE: u64 = 1 << 62;

/// A count in the forced 9-byte form.
fn len64(n: u64) -> Vec<u8> {
    len_as(n, LenForm::Bits64)
}

// ---------------------------------------------------------------------------------------
// Lengths, keys, strings
// ---------------------------------------------------------------------------------------

#[test]
fn len_forced_64bit_key_and_value_decode() {
    let key = encode::string_as("key-64", LenForm::Bits64);
    let val = encode::string_as("value-64", LenForm::Bits64);
    let k = only_key(&one_key_encoded(RdbWriter::redis(9), ty::STRING, &key, &val).file);
    assert_eq!(k.key, b"key-64");
    assert_eq!(k.elements, [item("value-64")]);

    // A list whose count and items all use the long forms, in db 2^33 selected with 0x81.
    let mut v = len64(2);
    v.extend(encode::string_as("a", LenForm::Bits64));
    v.extend(encode::string_as("b", LenForm::Bits32));
    let mut w = RdbWriter::redis(9);
    w.raw(&[0xFE]).raw(&len64(1 << 33));
    w.key(ty::LIST, "l", &v);
    let keys = exercise(&w.finish()).unwrap();
    assert_eq!(keys[0].db, 1 << 33);
    assert_eq!(keys[0].elements, [item("a"), item("b")]);
    assert_eq!(keys[0].count, 2);
}

#[test]
fn key_empty_decodes() {
    let k = only_key(&one_key(RdbWriter::redis(11), ty::STRING, "", &string("v")).file);
    assert_eq!(k.key, b"");
    assert_eq!(k.elements, [item("v")]);
}

#[test]
fn key_binary_with_nul_and_ff_decodes() {
    let name = b"\0k\xff\xfe\0\r\n\x80";
    let k = only_key(
        &one_key_encoded(
            RdbWriter::redis(11),
            ty::STRING,
            &string(name),
            &string(b"\xff\0"),
        )
        .file,
    );
    assert_eq!(k.key, name);
    assert_eq!(k.elements, [item(b"\xff\0")]);
}

#[test]
fn key_int_and_lzf_encoded_decode() {
    let k = only_key(
        &one_key_encoded(
            RdbWriter::redis(11),
            ty::STRING,
            &encode::string_int(-70_000),
            &string("v"),
        )
        .file,
    );
    assert_eq!(k.key, b"-70000");
    let name = "user:session:".repeat(8);
    let k = only_key(
        &one_key_encoded(
            RdbWriter::redis(11),
            ty::STRING,
            &encode::string_lzf(&name),
            &string("v"),
        )
        .file,
    );
    assert_eq!(k.key, name.as_bytes());
}

#[test]
fn string_declared_2_40_is_length_error() {
    for declared in [1u64 << 40, 1 << 63, u64::MAX] {
        let f = one_key(
            RdbWriter::redis(11),
            ty::STRING,
            "k",
            &encode::string_declared(declared, b"abc"),
        );
        let e = first_err(&f.file);
        assert!(matches!(e.kind, ErrorKind::LengthTooLarge { .. }), "{e}");
        // Reported at the string, after at most its 9-byte length prefix.
        assert!(
            (f.voff..=f.voff + 9).contains(&e.offset),
            "declared {declared}: {e}"
        );
    }
}

#[test]
fn key_declared_2_63_is_length_error() {
    let f = one_key_encoded(
        RdbWriter::redis(11),
        ty::STRING,
        &encode::string_declared(1 << 63, b"k"),
        &string("v"),
    );
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::LengthTooLarge { .. }), "{e}");
    assert!((f.at + 1..=f.at + 10).contains(&e.offset), "{e}");
}

#[test]
fn length_byte_in_invalid_range_is_error_at_it() {
    let f = one_key(RdbWriter::redis(11), ty::STRING, "k", &[0x85, 1, 2, 3]);
    let e = first_err(&f.file);
    assert_eq!(e.kind, ErrorKind::BadLength(0x85));
    assert_eq!(e.offset, f.voff);
}

#[test]
fn string_encoding_unknown_is_error_at_it() {
    let f = one_key(RdbWriter::redis(11), ty::STRING, "k", &[0xC4, 1, 2, 3]);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::BadStringEncoding(_)), "{e}");
    assert_eq!(e.offset, f.voff);
}

// ---------------------------------------------------------------------------------------
// Absurd element counts
// ---------------------------------------------------------------------------------------

#[test]
fn count_2_62_for_every_counted_type_is_length_error() {
    // (version, type byte, bytes before the count, name)
    let cases: [(u32, u8, Vec<u8>, &str); 10] = [
        (11, ty::LIST, vec![], "list"),
        (11, ty::SET, vec![], "set"),
        (11, ty::ZSET, vec![], "zset"),
        (11, ty::ZSET_2, vec![], "zset2"),
        (11, ty::HASH, vec![], "hash"),
        (7, ty::LIST_QUICKLIST, vec![], "quicklist"),
        (11, ty::LIST_QUICKLIST_2, vec![], "quicklist2"),
        (12, ty::HASH_METADATA_PRE_GA, vec![], "hash metadata pre-GA"),
        (
            12,
            ty::HASH_METADATA,
            encode::ms_time(1000),
            "hash metadata",
        ),
        (9, ty::STREAM_LISTPACKS, vec![], "stream node count"),
    ];
    for (version, t, prefix, name) in cases {
        for count in [HUGE, u64::MAX, u64::from(u32::MAX)] {
            let mut v = prefix.clone();
            v.extend(len64(count));
            v.extend(string("x"));
            v.extend(string("y"));
            let f = one_key(RdbWriter::redis(version), t, "k", &v);
            let e = first_err(&f.file);
            assert!(
                matches!(e.kind, ErrorKind::LengthTooLarge { .. }),
                "{name} count {count}: {e}"
            );
            assert_eq!(
                e.offset,
                f.voff + prefix.len() as u64,
                "{name} count {count}: {e}"
            );
        }
    }
}

#[test]
fn count_2_62_valkey_hash2_is_length_error() {
    let mut v = len64(HUGE);
    v.extend(string("f"));
    let f = one_key(RdbWriter::valkey(80), ty::VALKEY_HASH_2, "h", &v);
    assert_too_large(first_err(&f.file), f.voff);
}

/// A stream v1 value up to (not including) its group count: no nodes, length 0, last ID 0-0.
fn stream_v1_head() -> Vec<u8> {
    [len(0), len(0), len(0), len(0)].concat()
}

#[test]
fn stream_count_2_62_for_each_counted_part_is_length_error() {
    let head = stream_v1_head();
    let group = [string("g"), len(0), len(0)].concat(); // name, last ID 0-0
    let consumer = [string("c"), encode::ms_time(5)].concat();
    // (bytes before the absurd count, what)
    let cases: [(Vec<u8>, &str); 4] = [
        (head.clone(), "group count"),
        ([head.clone(), len(1), group.clone()].concat(), "group PEL"),
        (
            [head.clone(), len(1), group.clone(), len(0)].concat(),
            "consumer count",
        ),
        (
            [head.clone(), len(1), group, len(0), len(1), consumer].concat(),
            "consumer PEL",
        ),
    ];
    for (before, what) in cases {
        let mut v = before.clone();
        v.extend(len64(HUGE));
        v.extend([0u8; 40]);
        let f = one_key(RdbWriter::redis(9), ty::STREAM_LISTPACKS, "s", &v);
        let e = first_err(&f.file);
        assert!(
            matches!(e.kind, ErrorKind::LengthTooLarge { .. }),
            "{what}: {e}"
        );
        assert_eq!(e.offset, f.voff + before.len() as u64, "{what}: {e}");
    }
}

#[test]
fn stream_v4_idmp_counts_2_62_are_length_errors() {
    // v4: nodes 0, length 0, last 0-0, first 0-0, max deleted 0-0, added 0, groups 0,
    // IDMP duration 0, max entries 0: twelve one-byte zero lengths.
    let head = vec![0u8; 12];
    let producers = [head.clone(), len(1), string("p")].concat();
    for (before, what) in [(head, "producer count"), (producers, "iid count")] {
        let mut v = before.clone();
        v.extend(len64(HUGE));
        v.extend([0u8; 20]);
        let f = one_key(RdbWriter::redis(13), ty::STREAM_LISTPACKS_4, "s", &v);
        let e = first_err(&f.file);
        assert!(
            matches!(e.kind, ErrorKind::LengthTooLarge { .. }),
            "{what}: {e}"
        );
        assert_eq!(e.offset, f.voff + before.len() as u64, "{what}: {e}");
    }
}

#[test]
fn quicklist2_unknown_container_is_error_at_it() {
    let v = Quicklist2::new().node(3, &string("x")).build();
    let f = one_key(RdbWriter::redis(11), ty::LIST_QUICKLIST_2, "l", &v);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.offset, f.voff + 1);
}

// ---------------------------------------------------------------------------------------
// LZF
// ---------------------------------------------------------------------------------------

/// LZF tokens together with the output they must produce, computed byte by byte here.
#[derive(Default)]
struct LzfModel {
    ops: LzfOps,
    out: Vec<u8>,
}

impl LzfModel {
    fn lit(&mut self, b: &[u8]) -> &mut Self {
        self.ops.literal(b);
        self.out.extend_from_slice(b);
        self
    }

    fn back(&mut self, len: usize, dist: usize) -> &mut Self {
        self.ops.backref(len, dist);
        for _ in 0..len {
            let b = self.out[self.out.len() - dist];
            self.out.push(b);
        }
        self
    }

    /// A STRING value holding the tokens, declaring the modelled output length.
    fn value(&self) -> Vec<u8> {
        encode::string_lzf_raw(&self.ops.build(), self.out.len() as u64)
    }
}

fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[track_caller]
fn assert_lzf_string(m: &LzfModel, what: &str) {
    let f = one_key(RdbWriter::redis(11), ty::STRING, "k", &m.value());
    let k = only_key(&f.file);
    assert_eq!(k.elements, [El::Item(m.out.clone())], "{what}");
}

#[test]
fn lzf_literal_runs_decode() {
    let data = noise(100, 1);
    let mut m = LzfModel::default();
    m.lit(&data[..1]).lit(&data[1..33]).lit(&data[33..50]);
    assert_lzf_string(&m, "literal runs of 1, 32 and 17 bytes");
}

#[test]
fn lzf_short_back_references_decode() {
    let data = noise(64, 2);
    for len in 3..=8 {
        let mut m = LzfModel::default();
        m.lit(&data[..32]).back(len, 20).back(len, 32).lit(b"z");
        assert_lzf_string(&m, &format!("short ref of {len}"));
    }
}

#[test]
fn lzf_long_back_references_decode() {
    let data = noise(32, 3);
    for len in [9, 10, 100, 263, 264] {
        let mut m = LzfModel::default();
        m.lit(&data).back(len, 32).back(9, 1).lit(b"end");
        assert_lzf_string(&m, &format!("long ref of {len}"));
    }
}

#[test]
fn lzf_overlapping_copies_decode() {
    for (len, dist) in [(264, 1), (9, 2), (8, 3), (100, 7), (3, 2)] {
        let mut m = LzfModel::default();
        m.lit(b"abcdefgh").back(len, dist);
        assert_lzf_string(&m, &format!("overlapping ref {len} at {dist}"));
    }
}

#[test]
fn lzf_max_distance_decodes() {
    let data = noise(8192, 4);
    let mut m = LzfModel::default();
    for chunk in data.chunks(32) {
        m.lit(chunk);
    }
    m.back(264, 8192).back(3, 8192);
    assert_lzf_string(&m, "references 8192 bytes back");
}

#[test]
fn lzf_compressor_output_round_trips() {
    let mut text = Vec::new();
    for i in 0..500 {
        text.extend(format!("key:{i}:value:{} ", i % 13).into_bytes());
    }
    for data in [
        vec![b'a'; 1],
        vec![0u8; 70_000],
        noise(5000, 5),
        text,
        b"abcabcabcabcabcabcabcabcabcabc".to_vec(),
    ] {
        let f = one_key(
            RdbWriter::redis(11),
            ty::STRING,
            "k",
            &encode::string_lzf(&data),
        );
        assert_eq!(only_key(&f.file).elements, [El::Item(data)]);
    }
}

#[test]
fn lzf_listpack_blob_counts_and_decodes() {
    let mut lp = Listpack::new();
    for i in 0..300 {
        lp.str(format!("member-{i:04}"));
    }
    let f = one_key(
        RdbWriter::redis(11),
        ty::SET_LISTPACK,
        "s",
        &encode::string_lzf(lp.build()),
    );
    let k = only_key(&f.file);
    assert_eq!(k.count, 300);
    assert_eq!(k.elements.len(), 300);
    assert_eq!(k.elements[299], item("member-0299"));
}

fn abcabcabc() -> Vec<u8> {
    LzfOps::new().literal(b"abc").backref(6, 3).build()
}

#[test]
fn lzf_output_beyond_declared_ulen_is_error() {
    let f = one_key(
        RdbWriter::redis(11),
        ty::STRING,
        "k",
        &encode::string_lzf_raw(&abcabcabc(), 8),
    );
    assert_lzf_err(first_err(&f.file), f.voff);
}

#[test]
fn lzf_output_shorter_than_ulen_is_error() {
    let f = one_key(
        RdbWriter::redis(11),
        ty::STRING,
        "k",
        &encode::string_lzf_raw(&abcabcabc(), 10),
    );
    assert_lzf_err(first_err(&f.file), f.voff);
}

#[test]
fn lzf_back_reference_before_start_is_error() {
    for ops in [
        LzfOps::new().literal(b"ab").backref(3, 3).build(),
        LzfOps::new().backref(3, 1).build(),
        LzfOps::new().literal(b"a").backref(264, 8192).build(),
    ] {
        let f = one_key(
            RdbWriter::redis(11),
            ty::STRING,
            "k",
            &encode::string_lzf_raw(&ops, 10),
        );
        assert_lzf_err(first_err(&f.file), f.voff);
    }
}

#[test]
fn lzf_truncated_tokens_are_errors() {
    for ops in [
        // short back reference without its offset byte
        LzfOps::new().literal(b"abc").raw(&[0x20]).build(),
        // long back reference without its length byte
        LzfOps::new().literal(b"abc").raw(&[0xE0]).build(),
        // literal run announcing 6 bytes, holding 1
        LzfOps::new().raw(&[5, b'a']).build(),
    ] {
        let f = one_key(
            RdbWriter::redis(11),
            ty::STRING,
            "k",
            &encode::string_lzf_raw(&ops, 9),
        );
        assert_lzf_err(first_err(&f.file), f.voff);
    }
}

#[test]
fn lzf_ulen_zero_is_error() {
    let f = one_key(
        RdbWriter::redis(11),
        ty::STRING,
        "k",
        &encode::string_lzf_raw(&abcabcabc(), 0),
    );
    assert_lzf_err(first_err(&f.file), f.voff);
}

#[test]
fn lzf_ulen_impossible_for_clen_is_error() {
    for ulen in [1u64 << 40, 1 << 62, u64::MAX] {
        let f = one_key(
            RdbWriter::redis(11),
            ty::STRING,
            "k",
            &encode::string_lzf_raw(&abcabcabc(), ulen),
        );
        assert_lzf_err(first_err(&f.file), f.voff);
    }
}

#[test]
fn lzf_clen_past_file_is_length_error() {
    let f = one_key(
        RdbWriter::redis(11),
        ty::STRING,
        "k",
        &encode::string_lzf_declared(1 << 40, 100, &abcabcabc()),
    );
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::LengthTooLarge { .. }), "{e}");
    assert!((f.voff..f.file.len() as u64).contains(&e.offset), "{e}");
}

#[test]
fn lzf_corrupt_key_is_error_at_key() {
    let f = one_key_encoded(
        RdbWriter::redis(11),
        ty::STRING,
        &encode::string_lzf_raw(&abcabcabc(), 7),
        &string("v"),
    );
    assert_lzf_err(first_err(&f.file), f.at + 1);
}

// ---------------------------------------------------------------------------------------
// Listpacks
// ---------------------------------------------------------------------------------------

fn set_listpack_file(blob: &[u8]) -> OneKey {
    one_key(RdbWriter::redis(11), ty::SET_LISTPACK, "s", &string(blob))
}

#[test]
fn listpack_every_encoding_decodes() {
    let mut lp = Listpack::new();
    let ints = [
        0i64,
        127,
        -1,
        4095,
        -4096,
        32767,
        -32768,
        8_388_607,
        -8_388_608,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ];
    for v in ints {
        lp.int(v);
    }
    let long = vec![b'x'; 5000];
    lp.str("")
        .str([b'y'; 63])
        .str([b'z'; 64])
        .str([b'w'; 4095])
        .str(&long);
    let k = only_key(&set_listpack_file(&lp.build()).file);
    let mut want: Vec<El> = ints.iter().map(|v| item(v.to_string())).collect();
    want.extend([item(""), item([b'y'; 63]), item([b'z'; 64])]);
    want.extend([item([b'w'; 4095]), item(&long)]);
    assert_eq!(k.elements, want);
    assert_eq!(k.count, want.len() as u64);
}

#[test]
fn listpack_count_unknown_is_walked() {
    let blob = Listpack::new().str("a").int(5).with_count(65535).build();
    let k = only_key(&set_listpack_file(&blob).file);
    assert_eq!(k.elements, [item("a"), item("5")]);
    assert_eq!(k.count, 2);
}

/// Entries whose encoding + data take exactly 16383 or 2097151 bytes: `lpEncodeBacklen`
/// gives them a 3-byte (resp. 4-byte) back-length (`l < 16383`, not `<=`), and Redis writes
/// such entries for list elements of 16378 (resp. 2097146) bytes.
///
/// PARSER BUG: `blob.rs` `listpack::backlen_size` uses `128..=16383 => 2` and
/// `16384..=2097151 => 3`, so it rejects these valid listpacks ("back-length does not
/// match the entry size").
#[test]
fn listpack_backlen_size_boundaries_decode() {
    let mut failures = Vec::new();
    for data_len in [16377usize, 16378, 16379, 2_097_145, 2_097_146, 2_097_147] {
        let s = vec![b'q'; data_len];
        let blob = Listpack::new().str(&s).str("tail").build();
        let f = one_key(
            RdbWriter::redis(11),
            ty::LIST_QUICKLIST_2,
            "l",
            &Quicklist2::new().packed(&blob).build(),
        );
        match exercise(&f.file) {
            Ok(k) => assert_eq!(k[0].elements, [El::Item(s), item("tail")], "{data_len}"),
            Err(e) => failures.push(format!("entry of {} bytes: {e}", data_len + 5)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn listpack_entry_outside_blob_is_error() {
    // A 6-bit string entry announcing 5 bytes with 1 left, and a 32-bit one announcing 4 GiB.
    for raw in [&[0x85u8, b'x'][..], &[0xF0, 0xFF, 0xFF, 0xFF, 0xFF, b'x']] {
        let blob = Listpack::new().str("a").raw(raw).with_count(2).build();
        let f = set_listpack_file(&blob);
        assert_blob_err(first_err(&f.file), "listpack", f.voff, "past the blob");
    }
    // An integer entry cut by the end byte.
    let blob = Listpack::new().raw(&[0xF4, 1, 2]).with_count(1).build();
    let f = set_listpack_file(&blob);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Blob { .. }), "{e}");
    assert_eq!(e.offset, f.voff);
}

#[test]
fn listpack_wrong_backlen_is_error() {
    for raw in [&[0x81u8, b'a', 7][..], &[0x81, b'a', 0x82]] {
        let blob = Listpack::new().raw(raw).with_count(1).build();
        let f = set_listpack_file(&blob);
        assert_blob_err(first_err(&f.file), "listpack", f.voff, "back-length");
    }
}

#[test]
fn listpack_wrong_count_is_error() {
    for n in [0u16, 1, 3, 65534] {
        let blob = Listpack::new().str("a").str("b").with_count(n).build();
        let f = set_listpack_file(&blob);
        assert_blob_err(first_err(&f.file), "listpack", f.voff, "count");
    }
}

#[test]
fn listpack_wrong_total_bytes_is_error() {
    let real = Listpack::new().str("a").build().len() as u32;
    for total in [0, 6, real - 1, real + 1, u32::MAX] {
        let blob = Listpack::new().str("a").with_total_bytes(total).build();
        let f = set_listpack_file(&blob);
        assert_blob_err(first_err(&f.file), "listpack", f.voff, "size");
    }
}

#[test]
fn listpack_missing_or_early_end_is_error() {
    let f = set_listpack_file(&Listpack::new().str("a").without_end().build());
    assert_blob_err(first_err(&f.file), "listpack", f.voff, "end byte");
    // End byte followed by one more byte (header total includes it).
    let mut blob = Listpack::new().str("a").build();
    blob.push(0);
    let total = blob.len() as u32;
    blob[..4].copy_from_slice(&total.to_le_bytes());
    let f = set_listpack_file(&blob);
    assert_blob_err(first_err(&f.file), "listpack", f.voff, "end byte");
}

#[test]
fn listpack_unknown_encoding_is_error() {
    for enc in 0xF5u8..=0xFE {
        let blob = Listpack::new().entry_body(&[enc]).build();
        let f = set_listpack_file(&blob);
        assert_blob_err(first_err(&f.file), "listpack", f.voff, "encoding");
    }
}

#[test]
fn listpack_shorter_than_header_is_error() {
    let f = set_listpack_file(&[7, 0, 0]);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Blob { .. }), "{e}");
    assert_eq!(e.offset, f.voff);
}

#[test]
fn listpack_hash_odd_element_count_is_error() {
    let blob = Listpack::new().str("f").str("v").str("g").build();
    let f = one_key(RdbWriter::redis(11), ty::HASH_LISTPACK, "h", &string(blob));
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.offset, f.voff);
}

#[test]
fn listpack_zset_non_numeric_score_is_error() {
    let blob = Listpack::new().str("m").str("not-a-number").build();
    let f = one_key(RdbWriter::redis(11), ty::ZSET_LISTPACK, "z", &string(blob));
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.offset, f.voff);
}

// ---------------------------------------------------------------------------------------
// Ziplists, intsets, zipmaps
// ---------------------------------------------------------------------------------------

fn list_ziplist_file(blob: &[u8]) -> OneKey {
    one_key(RdbWriter::redis(6), ty::LIST_ZIPLIST, "l", &string(blob))
}

#[test]
fn ziplist_every_encoding_decodes() {
    let ints = [
        0i64,
        12,
        13,
        -1,
        127,
        -128,
        32767,
        -32768,
        8_388_607,
        -8_388_608,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ];
    let mut z = Ziplist::new();
    for v in ints {
        z.int(v);
    }
    let big = vec![b'b'; 20_000];
    z.str("").str([b's'; 63]).str([b'm'; 300]);
    z.big_prevlen_next()
        .str("after-big-prevlen")
        .str(&big)
        .str("x");
    let k = only_key(&list_ziplist_file(&z.build()).file);
    let mut want: Vec<El> = ints.iter().map(|v| item(v.to_string())).collect();
    want.extend([item(""), item([b's'; 63]), item([b'm'; 300])]);
    want.extend([item("after-big-prevlen"), item(&big), item("x")]);
    assert_eq!(k.elements, want);
    assert_eq!(k.count, want.len() as u64);
}

#[test]
fn ziplist_bad_prevlen_is_error() {
    let body = zl::str_entry_body(b"b", ZlStr::B6);
    for prevlen in [&[9u8][..], &[0], &[0xFE, 9, 0, 0, 0]] {
        let blob = Ziplist::new()
            .str("a")
            .entry_with_prevlen(prevlen, &body)
            .build();
        let f = list_ziplist_file(&blob);
        assert_blob_err(first_err(&f.file), "ziplist", f.voff, "prevlen");
    }
    // A prevlen byte of 0xFF is the end byte: the ziplist ends early.
    let blob = Ziplist::new().entry_with_prevlen(&[0xFF], &body).build();
    let f = list_ziplist_file(&blob);
    assert_blob_err(first_err(&f.file), "ziplist", f.voff, "end byte");
}

#[test]
fn ziplist_bad_zltail_is_error() {
    for tail in [0u32, 10, 11, 1000, u32::MAX] {
        let blob = Ziplist::new().str("a").str("b").with_zltail(tail).build();
        let f = list_ziplist_file(&blob);
        assert_blob_err(first_err(&f.file), "ziplist", f.voff, "tail");
    }
}

#[test]
fn ziplist_bad_zlbytes_or_count_is_error() {
    let real = Ziplist::new().str("a").build().len() as u32;
    for zlbytes in [0, real - 1, real + 1, u32::MAX] {
        let blob = Ziplist::new().str("a").with_zlbytes(zlbytes).build();
        let f = list_ziplist_file(&blob);
        assert_blob_err(first_err(&f.file), "ziplist", f.voff, "size");
    }
    let blob = Ziplist::new().str("a").with_count(2).build();
    let f = list_ziplist_file(&blob);
    assert_blob_err(first_err(&f.file), "ziplist", f.voff, "count");
}

#[test]
fn ziplist_bad_entries_are_errors() {
    for body in [
        &[0x81u8][..],          // 10xxxxxx other than 0x80
        &[0xC1],                // 11xxxxxx that is no integer encoding
        &[0x3F, b'x'],          // 63-byte string with 1 byte left
        &[0x80, 0, 1, 0, 0, 1], // 65536-byte string
        &[0xE0, 1, 2],          // int64 cut short
    ] {
        let blob = Ziplist::new().entry_body(body).build();
        let f = list_ziplist_file(&blob);
        let e = first_err(&f.file);
        assert!(
            matches!(
                e.kind,
                ErrorKind::Blob {
                    blob: "ziplist",
                    ..
                }
            ),
            "{body:?}: {e}"
        );
        assert_eq!(e.offset, f.voff, "{body:?}");
    }
    let f = list_ziplist_file(&Ziplist::new().str("a").without_end().build());
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Blob { .. }), "{e}");
}

#[test]
fn ziplist_in_quicklist_node_error_is_at_node() {
    let good = Ziplist::new().str("a").build();
    let bad = Ziplist::new().str("b").with_zltail(99).build();
    let v = value::quicklist([good, bad.clone()]);
    let f = one_key(RdbWriter::redis(7), ty::LIST_QUICKLIST, "q", &v);
    let node2 = f.voff + 1 + string(Ziplist::new().str("a").build()).len() as u64;
    assert_blob_err(first_err(&f.file), "ziplist", node2, "tail");
}

fn intset_file(blob: &[u8]) -> OneKey {
    one_key(RdbWriter::redis(3), ty::SET_INTSET, "s", &string(blob))
}

#[test]
fn intset_every_width_decodes() {
    for values in [
        vec![-3i64, 1, 2],
        vec![-70_000, 0, 70_000],
        vec![i64::MIN, -1, i64::MAX],
        vec![],
    ] {
        let k = only_key(&intset_file(&intset(&values)).file);
        let want: Vec<El> = values.iter().map(|v| item(v.to_string())).collect();
        assert_eq!(k.elements, want);
        assert_eq!(k.count, values.len() as u64);
    }
}

#[test]
fn intset_unsorted_or_duplicate_is_error() {
    for values in [[5i64, 1], [1, 1]] {
        let f = intset_file(&intset_raw(2, 2, &values));
        assert_blob_err(first_err(&f.file), "intset", f.voff, "order");
    }
}

#[test]
fn intset_bad_encoding_is_error() {
    for enc in [0u32, 1, 3, 16, u32::MAX] {
        let f = intset_file(&intset_raw(enc, 1, &[1]));
        assert_blob_err(first_err(&f.file), "intset", f.voff, "encoding");
    }
}

#[test]
fn intset_count_mismatch_is_error() {
    for n in [0u32, 1, 3, u32::MAX] {
        let f = intset_file(&intset_raw(2, n, &[1, 2]));
        assert_blob_err(first_err(&f.file), "intset", f.voff, "count");
    }
    let f = intset_file(&[2, 0, 0]);
    assert_blob_err(first_err(&f.file), "intset", f.voff, "header");
}

fn zipmap_file(blob: &[u8]) -> OneKey {
    one_key(RdbWriter::redis(3), ty::HASH_ZIPMAP, "h", &string(blob))
}

#[test]
fn zipmap_free_bytes_and_big_lengths_decode() {
    let big_key = vec![b'k'; 300];
    let big_val = vec![b'v'; 70_000];
    let blob = Zipmap::new()
        .entry_with_free("a", "1", 3)
        .entry(&big_key, "x")
        .entry("b", &big_val)
        .entry("", "")
        .build();
    let k = only_key(&zipmap_file(&blob).file);
    let want = vec![
        field("a", "1", None),
        El::Field(big_key, b"x".to_vec(), None),
        El::Field(b"b".to_vec(), big_val, None),
        field("", "", None),
    ];
    assert_eq!(k.elements, want);
    assert_eq!(k.count, 4);
    let blob = Zipmap::new().entry("f", "v").with_zmlen(254).build();
    assert_eq!(
        only_key(&zipmap_file(&blob).file).elements,
        [field("f", "v", None)]
    );
}

#[test]
fn zipmap_every_truncation_is_error() {
    let blob = Zipmap::new()
        .entry_with_free("field", "value", 2)
        .entry([b'k'; 300], "x")
        .build();
    for cut in 0..blob.len() {
        let f = zipmap_file(&blob[..cut]);
        let e = first_err(&f.file);
        assert!(
            matches!(e.kind, ErrorKind::Blob { blob: "zipmap", .. }),
            "cut {cut}: {e}"
        );
        assert_eq!(e.offset, f.voff, "cut {cut}");
    }
    let f = zipmap_file(&Zipmap::new().entry("a", "b").without_end().build());
    assert!(matches!(
        first_err(&f.file).kind,
        ErrorKind::Blob { blob: "zipmap", .. }
    ));
    let f = zipmap_file(&Zipmap::new().raw(&[10, b'a']).build());
    assert!(matches!(
        first_err(&f.file).kind,
        ErrorKind::Blob { blob: "zipmap", .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Opcodes and value types
// ---------------------------------------------------------------------------------------

#[test]
fn opcode_unknown_is_error_at_its_offset() {
    // (version, valkey magic, byte)
    let cases = [
        (11, false, 8u8),
        (11, false, 22), // Redis-only type in a shared-table file
        (11, false, 28),
        (13, false, 28), // RDB_TYPE_ARRAY (Redis dev), not read
        (13, false, 100),
        (13, false, 242),
        (80, true, 23),
        (80, true, 24),
        (80, true, 242),
    ];
    for (version, valkey, byte) in cases {
        let mut w = if valkey {
            RdbWriter::valkey(version)
        } else {
            RdbWriter::redis(version)
        };
        w.select_db(0).key(ty::STRING, "before", &string("ok"));
        let at = w.offset() as u64;
        w.raw(&[byte]).raw(&string("k")).raw(&string("v"));
        let e = first_err(&w.finish());
        assert!(
            matches!(e.kind, ErrorKind::UnknownOpcode(b) | ErrorKind::UnknownValueType(b) if b == byte),
            "byte {byte} in version {version}: {e}"
        );
        assert_eq!(e.offset, at, "byte {byte} in version {version}");
    }
}

#[test]
fn value_type_pre_ga_module_is_unsupported_at_value() {
    let f = one_key(RdbWriter::redis(8), ty::MODULE_PRE_GA, "m", &[1, 2, 3]);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Unsupported(_)), "{e}");
    assert!((f.at..=f.voff).contains(&e.offset), "{e}");
}

#[test]
fn function_pre_ga_246_is_read() {
    for desc in [Some("my description"), None] {
        let mut w = RdbWriter::redis(10);
        w.aux("redis-ver", "7.0.0");
        let at = w.offset() as u64;
        w.raw(&[0xF6])
            .raw(&string("myfunc"))
            .raw(&string("LUA"))
            .raw(&len(u64::from(desc.is_some())));
        if let Some(d) = desc {
            w.raw(&string(d));
        }
        w.raw(&string("return 1"));
        w.select_db(0).key(ty::STRING, "k", &string("v"));
        let file = w.finish();
        let mut saw = false;
        for rec in Records::new(&file).unwrap() {
            if let Record::Function { code, offset } = rec.unwrap() {
                assert_eq!(code.to_vec().unwrap(), b"return 1");
                assert_eq!(offset, at);
                saw = true;
            }
        }
        assert!(saw, "no function record");
        assert_eq!(exercise(&file).unwrap()[0].elements, [item("v")]);
    }
}

#[test]
fn module_value_decodes_name_encver_and_size() {
    let id = module_id("mymodule1", 5);
    let ops = ModuleOps::new()
        .uint(7)
        .sint(-1)
        .float(1.5)
        .double(2.5)
        .string("payload")
        .string_encoded(&encode::string_lzf([b'z'; 100]))
        .build();
    let f = one_key(
        RdbWriter::redis(9),
        ty::MODULE_2,
        "m",
        &module_value(id, &ops),
    );
    let recs: Vec<_> = Records::new(&f.file)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let k = recs
        .iter()
        .find_map(|r| match r {
            Record::Key(k) => Some(*k),
            _ => None,
        })
        .unwrap();
    let m = k.value.module().expect("a module value");
    assert_eq!(m.id, ModuleId(id));
    assert_eq!(m.id.name(), "mymodule1");
    assert_eq!(m.id.encver(), 5);
    assert_eq!(m.size, ops.len() as u64);
    assert_eq!(k.value.data_type(), DataType::Module);
    assert_eq!(k.value.element_count(&mut Scratch::new()).unwrap(), 1);
    assert_eq!(only_key(&f.file).elements, []);
}

#[test]
fn module_aux_is_read() {
    let id = module_id("auxmodule", 1);
    let ops = ModuleOps::new().uint(3).string("x").build();
    let mut w = RdbWriter::redis(9);
    w.module_aux(id, 2, &ops);
    let file = w.finish();
    let aux = Records::new(&file)
        .unwrap()
        .map(Result::unwrap)
        .find_map(|r| match r {
            Record::ModuleAux {
                module,
                when,
                size,
                offset,
            } => Some((module, when, size, offset)),
            _ => None,
        })
        .expect("a module aux record");
    assert_eq!(aux, (ModuleId(id), 2, ops.len() as u64, 9));
}

#[test]
fn module_unknown_opcode_is_error_at_it() {
    let id = module_id("mymodule1", 5);
    let before = ModuleOps::new().uint(1).build_without_eof();
    for op in [6u64, 9, 1 << 40] {
        let ops = ModuleOps::new().uint(1).op(op, &[0; 8]).build();
        let f = one_key(
            RdbWriter::redis(9),
            ty::MODULE_2,
            "m",
            &module_value(id, &ops),
        );
        let e = first_err(&f.file);
        assert!(matches!(e.kind, ErrorKind::Invalid(_)), "opcode {op}: {e}");
        assert_eq!(
            e.offset,
            f.voff + (len(id).len() + before.len()) as u64,
            "opcode {op}"
        );
    }
}

#[test]
fn module_aux_bad_when_opcode_is_error() {
    let mut w = RdbWriter::redis(9);
    w.raw(&[0xF7])
        .raw(&len(1))
        .raw(&len(5))
        .raw(&len(2))
        .raw(&[0]);
    let e = first_err(&w.finish());
    assert!(matches!(e.kind, ErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.offset, 9);
}

// ---------------------------------------------------------------------------------------
// Field TTLs
// ---------------------------------------------------------------------------------------

const T0: i64 = 1_700_000_000_000;

#[test]
fn valkey_hash2_field_ttls_decode() {
    let v = value::hash2([("f", "v", -1i64), ("g", "w", T0), ("h", "", T0 + 5)]);
    let f = one_key(RdbWriter::valkey(80), ty::VALKEY_HASH_2, "h", &v);
    let k = only_key(&f.file);
    assert_eq!(k.kind, ValueKind::ValkeyHash2);
    assert_eq!(
        k.elements,
        [
            field("f", "v", None),
            field("g", "w", Some(T0)),
            field("h", "", Some(T0 + 5))
        ]
    );
    assert_eq!(k.count, 3);
    // The same bytes under a REDIS0011 magic: type 22 is unknown there.
    let f = one_key(RdbWriter::redis(11), 22, "h", &v);
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::UnknownOpcode(22)), "{e}");
    assert_eq!(e.offset, f.at);
}

#[test]
fn redis_hash_metadata_24_field_ttls_decode() {
    let t1 = (T0 + 5000) as u64;
    let v = HashMetadata::new()
        .field("a", "1", Some(T0 as u64))
        .field("b", "2", None)
        .field("c", "3", Some(t1))
        .build();
    let f = one_key(RdbWriter::redis(12), ty::HASH_METADATA, "h", &v);
    let k = only_key(&f.file);
    assert_eq!(k.kind, ValueKind::HashMetadata);
    assert_eq!(
        k.elements,
        [
            field("a", "1", Some(T0)),
            field("b", "2", None),
            field("c", "3", Some(T0 + 5000))
        ]
    );
    assert_eq!(k.count, 3);
    let rec = Records::new(&f.file)
        .unwrap()
        .map(Result::unwrap)
        .find_map(|r| match r {
            Record::Key(k) => Some(k),
            _ => None,
        })
        .unwrap();
    assert_eq!(rec.value.hash_min_expire(), Some(T0));
}

#[test]
fn redis_hash_listpack_ex_25_field_ttls_decode() {
    let mut h = HashListpackEx::new();
    h.field("a", "1", Some(T0 as u64))
        .field("b", "2", None)
        .field("c", "33", Some((T0 + 7) as u64));
    let f = one_key(RdbWriter::redis(12), ty::HASH_LISTPACK_EX, "h", &h.build());
    let k = only_key(&f.file);
    assert_eq!(k.kind, ValueKind::HashListpackEx);
    assert_eq!(
        k.elements,
        [
            field("a", "1", Some(T0)),
            field("b", "2", None),
            field("c", "33", Some(T0 + 7))
        ]
    );
    assert_eq!(k.count, 3);
    // The same listpack LZF-compressed.
    let mut v = encode::ms_time(h.min_expire_value());
    v.extend(encode::string_lzf(h.listpack()));
    let k = only_key(&one_key(RdbWriter::redis(12), ty::HASH_LISTPACK_EX, "h", &v).file);
    assert_eq!(k.elements.len(), 3);
    assert_eq!(k.count, 3);
}

#[test]
fn redis_hash_pre_ga_22_and_23_field_ttls_decode() {
    let v = value::counted(
        2,
        [
            [len(T0 as u64), string("a"), string("1")].concat(),
            [len(0), string("b"), string("2")].concat(),
        ],
    );
    let k = only_key(&one_key(RdbWriter::redis(12), ty::HASH_METADATA_PRE_GA, "h", &v).file);
    assert_eq!(
        k.elements,
        [field("a", "1", Some(T0)), field("b", "2", None)]
    );
    let lp = Listpack::new()
        .str("a")
        .str("1")
        .int(T0)
        .str("b")
        .str("2")
        .int(0)
        .build();
    let k = only_key(
        &one_key(
            RdbWriter::redis(12),
            ty::HASH_LISTPACK_EX_PRE_GA,
            "h",
            &string(lp),
        )
        .file,
    );
    assert_eq!(
        k.elements,
        [field("a", "1", Some(T0)), field("b", "2", None)]
    );
}

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

fn sid(ms: u64, seq: u64) -> StreamId {
    StreamId::new(ms, seq)
}

fn nodes() -> [StreamNode; 2] {
    let mut a = StreamNode::new(sid(1000, 0), ["f"]);
    a.entry(sid(1000, 0), [("f", "v0")])
        .entry(sid(1000, 1), [("f", "v1")])
        .entry(sid(1001, 0), [("g", "x")])
        .deleted_entry(sid(1002, 0), [("f", "d")]);
    let mut b = StreamNode::new(sid(2000, 0), ["a", "b"]);
    b.entry(sid(2000, 0), [("a", "1"), ("b", "2")])
        .entry(sid(2000, 5), [("a", "3"), ("b", "4")]);
    [a, b]
}

fn groups() -> [ConsumerGroup; 2] {
    let g1 = ConsumerGroup::new("g1", sid(2000, 5))
        .entries_read(5)
        .pending(sid(1000, 0), T0 + 500, 2)
        .pending(sid(1000, 1), T0 + 100, 1)
        .consumer(
            Consumer::new("alice", T0 + 1000)
                .active_time(T0 + 900)
                .pending(sid(1000, 0)),
        )
        .consumer(Consumer::new("bob", T0 + 2000).pending(sid(1000, 1)));
    let g2 = ConsumerGroup::new("g2", sid(1000, 1))
        .entries_read(2)
        .pending(sid(2000, 0), T0 + 300, 4)
        .consumer(Consumer::new("carol", 7).pending(sid(2000, 0)))
        .consumer(Consumer::new("dave", 8));
    [g1, g2]
}

fn idmp() -> Idmp {
    Idmp {
        duration: 100,
        max_entries: 50,
        producers: vec![
            IdmpProducer {
                id: b"prod-1".to_vec(),
                entries: vec![
                    (b"iid-a".to_vec(), sid(2000, 0)),
                    (b"iid-bb".to_vec(), sid(2000, 5)),
                ],
            },
            IdmpProducer {
                id: b"p2".to_vec(),
                entries: vec![(b"x".to_vec(), sid(1000, 0))],
            },
        ],
        iids_added: 3,
        iids_duplicates: 1,
    }
}

fn stream_file(version: u8) -> (Vec<u8>, [StreamNode; 2]) {
    let ns = nodes();
    let mut s = Stream::new(version);
    for n in &ns {
        s.node(n);
    }
    for g in groups() {
        s.group(g);
    }
    s.idmp(idmp());
    let rdb = [9, 10, 11, 13][usize::from(version) - 1];
    let f = one_key(
        RdbWriter::redis(rdb),
        Stream::type_byte(version),
        "s",
        &s.build(),
    );
    (f.file, ns)
}

#[test]
fn stream_every_version_decodes_counts_groups_and_pel() {
    for version in 1u8..=4 {
        let (file, ns) = stream_file(version);
        let k = only_key(&file);
        assert_eq!(k.count, 5, "v{version} XLEN");
        let rec = Records::new(&file)
            .unwrap()
            .map(Result::unwrap)
            .find_map(|r| match r {
                Record::Key(k) => Some(k),
                _ => None,
            })
            .unwrap();
        let s = rec.value.stream().unwrap().expect("a stream");
        let v2 = version >= 2;
        assert_eq!(s.version, version);
        assert_eq!(s.nodes, 2, "v{version}");
        assert_eq!(s.length, 5, "v{version}");
        assert_eq!(s.last_id, PStreamId { ms: 2000, seq: 5 });
        assert_eq!(
            s.first_id,
            v2.then_some(PStreamId { ms: 1000, seq: 0 }),
            "v{version}"
        );
        assert_eq!(s.max_deleted_id, v2.then_some(PStreamId::default()));
        assert_eq!(s.entries_added, v2.then_some(6), "v{version}");
        assert_eq!(s.groups, 2, "v{version}");
        assert_eq!(s.pel_total, 3, "v{version}");
        assert_eq!(s.consumers_total, 4, "v{version}");
        assert_eq!(s.max_group_pel, 2, "v{version}");
        assert_eq!(s.oldest_pending_ms, Some(T0 + 100), "v{version}");
        let want_idmp = PIdmp {
            duration: 100,
            max_entries: 50,
            producers: 2,
            iids: 3,
            iid_bytes: 20,
            iids_added: 3,
            iids_duplicates: 1,
        };
        assert_eq!(s.idmp, (version >= 4).then_some(want_idmp), "v{version}");
        let mut iids = Vec::new();
        s.for_each_idmp_iid(|iid| {
            iids.push(iid.to_vec()?);
            Ok(())
        })
        .unwrap();
        let want_iids: Vec<Vec<u8>> = if version >= 4 {
            idmp()
                .producers
                .iter()
                .flat_map(|p| p.entries.iter().map(|(iid, _)| iid.clone()))
                .collect()
        } else {
            Vec::new()
        };
        assert_eq!(iids, want_iids, "v{version} IDMP iids");

        let mut masters = Vec::new();
        s.for_each_node(|n| {
            let key: [u8; 16] = n.master_key.to_vec()?.try_into().unwrap();
            masters.push((PStreamId::from_be(key), n.listpack.to_vec()?));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            masters,
            [
                (PStreamId { ms: 1000, seq: 0 }, ns[0].build()),
                (PStreamId { ms: 2000, seq: 0 }, ns[1].build())
            ]
        );

        let mut seen = Vec::new();
        s.for_each_group(|g| {
            let mut pending = Vec::new();
            g.for_each_pending(|p| {
                pending.push((p.id.ms, p.id.seq, p.delivery_time_ms, p.delivery_count));
                Ok(())
            })?;
            let mut consumers = Vec::new();
            g.for_each_consumer(|c| {
                let mut ids = Vec::new();
                c.for_each_pending_id(|id| {
                    ids.push((id.ms, id.seq));
                    Ok(())
                })?;
                consumers.push((c.name.to_vec()?, c.seen_time_ms, c.active_time_ms, ids));
                Ok(())
            })?;
            seen.push((g.name.to_vec()?, g.entries_read, pending, consumers));
            Ok(())
        })
        .unwrap();
        let alice_active = if version >= 3 { T0 + 900 } else { T0 + 1000 };
        let want = vec![
            (
                b"g1".to_vec(),
                v2.then_some(5),
                vec![(1000, 0, T0 + 500, 2), (1000, 1, T0 + 100, 1)],
                vec![
                    (b"alice".to_vec(), T0 + 1000, alice_active, vec![(1000, 0)]),
                    (b"bob".to_vec(), T0 + 2000, T0 + 2000, vec![(1000, 1)]),
                ],
            ),
            (
                b"g2".to_vec(),
                v2.then_some(2),
                vec![(2000, 0, T0 + 300, 4)],
                vec![
                    (b"carol".to_vec(), 7, 7, vec![(2000, 0)]),
                    (b"dave".to_vec(), 8, 8, vec![]),
                ],
            ),
        ];
        assert_eq!(seen, want, "v{version}");
    }
}

#[test]
fn stream_node_key_not_16_bytes_is_error() {
    let mut s = Stream::new(1);
    s.node_raw(&string([0u8; 15]), &string(nodes()[0].build()));
    let f = one_key(RdbWriter::redis(9), ty::STREAM_LISTPACKS, "s", &s.build());
    let e = first_err(&f.file);
    assert!(matches!(e.kind, ErrorKind::Invalid(_)), "{e}");
    assert_eq!(e.offset, f.voff + 1);
}

// ---------------------------------------------------------------------------------------
// Writer-built files covering every record kind
// ---------------------------------------------------------------------------------------

/// Files built here that cover every type and opcode, each of which must decode cleanly.
fn built_files() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();

    let mut w = RdbWriter::redis(3);
    w.select_db(0)
        .key(ty::STRING, "plain", &string("value"))
        .key(ty::STRING, "int", &encode::string_int(-123_456))
        .key(ty::STRING, "lzf", &encode::string_lzf("abc".repeat(40)))
        .expire_s(2_000_000_000)
        .key(ty::LIST, "list", &value::list(["a", "b", "c"]))
        .key(ty::SET, "set", &value::set(["x", "y"]))
        .key(
            ty::ZSET,
            "zset",
            &value::zset([("a", 1.5), ("n", f64::NAN), ("i", f64::NEG_INFINITY)]),
        )
        .key(ty::HASH, "hash", &value::hash([("f", "v"), ("g", "")]))
        .key(ty::HASH_ZIPMAP, "zipmap", &value::hash_zipmap([("f", "v")]))
        .key(
            ty::LIST_ZIPLIST,
            "ziplist",
            &value::list_ziplist(["1", "x"]),
        )
        .key(ty::SET_INTSET, "intset", &value::set_intset(&[1, -70_000]))
        .key(
            ty::ZSET_ZIPLIST,
            "zsetzl",
            &value::zset_ziplist([("m", 2.0), ("n", 0.25)]),
        )
        .key(
            ty::HASH_ZIPLIST,
            "hashzl",
            &value::hash_ziplist([("f", "1")]),
        );
    out.push(("rdb3-classic", w.finish()));

    let (v1, _) = stream_file(1);
    let mut w = RdbWriter::redis(9);
    w.aux("redis-ver", "5.0.0")
        .aux_encoded(&string("redis-bits"), &encode::string_int(64))
        .module_aux(
            module_id("auxmodule", 1),
            1,
            &ModuleOps::new().uint(1).build(),
        )
        .select_db(0)
        .resize_db(4, 1)
        .idle(30)
        .key(
            ty::LIST_QUICKLIST,
            "ql",
            &value::counted(
                2,
                [
                    string(Ziplist::new().str("a").int(7).build()),
                    encode::string_lzf(Ziplist::new().str("b".repeat(50)).build()),
                ],
            ),
        )
        .freq(9)
        .expire_ms(T0)
        .key(ty::ZSET_2, "z2", &value::zset2([("a", -0.0), ("b", 1e300)]))
        .select_db(7)
        .key(
            ty::MODULE_2,
            "mod",
            &module_value(
                module_id("mymodule1", 2),
                &ModuleOps::new().string("x").double(1.0).build(),
            ),
        )
        .raw(&v1[9..v1.len() - 9]); // the stream file's records, minus header and EOF
    out.push(("rdb9-quicklist-stream-module", w.finish()));

    let (v3, _) = stream_file(3);
    let mut w = RdbWriter::redis(11);
    w.function2("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
        .raw(&v3[9..v3.len() - 9])
        .select_db(1)
        .key(
            ty::HASH_LISTPACK,
            "hlp",
            &value::hash_listpack([("f", "1"), ("g", "x")]),
        )
        .key(
            ty::ZSET_LISTPACK,
            "zlp",
            &value::zset_listpack([("a", 1.0), ("b", -2.5), ("c", f64::INFINITY)]),
        )
        .key(
            ty::LIST_QUICKLIST_2,
            "ql2",
            &Quicklist2::new()
                .packed(&Listpack::new().str("a").int(1).build())
                .plain("big element")
                .node(
                    2,
                    &encode::string_lzf(Listpack::new().str("c".repeat(40)).build()),
                )
                .build(),
        )
        .key(ty::SET_LISTPACK, "slp", &value::set_listpack(["m", "7"]));
    out.push(("rdb11-listpacks-stream-function", w.finish()));

    let (v4, _) = stream_file(4);
    let mut w = RdbWriter::redis(13);
    w.slot_info(5, 1, 0)
        .raw(&v4[9..v4.len() - 9])
        .key(
            ty::HASH_METADATA,
            "hm",
            &HashMetadata::new()
                .field("a", "1", Some(T0 as u64))
                .field("b", "2", None)
                .build(),
        )
        .key(
            ty::HASH_LISTPACK_EX,
            "hlx",
            &HashListpackEx::new().field("a", "1", Some(9)).build(),
        )
        // KEY_META: one class (4-byte spec) with a module opcode stream, then the key.
        .raw(&[0xF3])
        .raw(&len(1))
        .raw(&[0, 0, 0, 1])
        .raw(&ModuleOps::new().uint(5).build())
        .key(ty::STRING, "with-meta", &string("m"));
    out.push(("rdb13-field-ttls-stream-v4-keymeta", w.finish()));

    let mut w = RdbWriter::valkey(80);
    w.aux("valkey-ver", "9.0.0")
        .select_db(3)
        .key(
            ty::VALKEY_HASH_2,
            "h2",
            &value::hash2([("f", "v", -1i64), ("g", "w", T0)]),
        )
        .key(ty::STRING, "s", &string("v"));
    out.push(("valkey80-hash2", w.finish()));

    out
}

#[test]
fn built_files_decode_fully() {
    for (name, file) in built_files() {
        let keys = exercise(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!keys.is_empty(), "{name}");
        for k in &keys {
            if k.kind == ValueKind::StreamListpacks
                || k.kind == ValueKind::StreamListpacks3
                || k.kind == ValueKind::StreamListpacks4
            {
                assert_eq!(k.count, 5, "{name}");
            } else if k.kind != ValueKind::Module2 {
                assert_eq!(k.count, k.elements.len() as u64, "{name}: {:?}", k.key);
            }
        }
    }
    let keys = exercise(&built_files()[1].1).unwrap();
    let ql = &keys[0];
    assert_eq!(
        ql.elements,
        [item("a"), item("7"), item("b".repeat(50))],
        "quicklist with an LZF node"
    );
    let dbs: Vec<u64> = keys.iter().map(|k| k.db).collect();
    assert_eq!(
        dbs,
        [0, 0, 7, 0],
        "SELECTDB 7 before the module key, 0 before the stream"
    );
    assert_eq!(keys[0].expire_ms, None);
    assert_eq!(keys[1].expire_ms, Some(T0));
    assert_eq!(
        keys[1].elements,
        [
            El::Scored(b"a".to_vec(), -0.0),
            El::Scored(b"b".to_vec(), 1e300)
        ]
    );
    let keys = exercise(&built_files()[4].1).unwrap();
    assert_eq!(keys[0].db, 3);
    assert_eq!(keys[0].expire_ms, None);
}

// ---------------------------------------------------------------------------------------
// Sweeps
// ---------------------------------------------------------------------------------------

/// The repo's `fixtures/*.rdb` and the writer-built files.
fn sweep_files() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rdb") {
                let name = format!("fixtures/{}", p.file_name().unwrap().to_string_lossy());
                files.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    assert!(
        files.len() >= 10,
        "expected the repo fixtures in {}",
        dir.display()
    );
    files.sort();
    for (name, f) in built_files() {
        files.push((format!("built/{name}"), f));
    }
    files
}

/// Reads `data[..cut]` record by record (framing only: complete records are the full file's,
/// checked by span) and returns how the iterator ended.
fn read_truncated(data: &[u8], cut: usize, spans: &[(u64, u64)]) -> Result<(), String> {
    let recs = match Records::new(&data[..cut]) {
        Ok(r) => r,
        Err(e) if e.offset <= cut as u64 => return Ok(()),
        Err(e) => return Err(format!("header error past the cut: {e}")),
    };
    let mut last = None;
    let mut keys = 0;
    for rec in recs {
        match &rec {
            Ok(Record::Eof { .. }) => return Err("yielded Ok(Eof)".to_string()),
            Ok(Record::Key(k)) => {
                if spans.get(keys) != Some(&(k.offset, k.size)) {
                    return Err(format!(
                        "key {keys} at {} size {} is not the full file's",
                        k.offset, k.size
                    ));
                }
                keys += 1;
            }
            _ => {}
        }
        last = Some(rec);
    }
    match last {
        Some(Err(e)) if e.offset <= cut as u64 => Ok(()),
        Some(Err(e)) => Err(format!("error past the cut: {e}")),
        other => Err(format!("ended with {other:?}")),
    }
}

#[test]
fn truncation_at_every_offset_is_error_never_eof() {
    let mut failures = Vec::new();
    let mut cuts = 0;
    for (name, data) in sweep_files() {
        let mut spans = Vec::new();
        for rec in Records::new(&data).unwrap() {
            if let Record::Key(k) = rec.unwrap_or_else(|e| panic!("{name}: {e}")) {
                spans.push((k.offset, k.size));
            }
        }
        for cut in 0..data.len() {
            cuts += 1;
            let r = catch_unwind(AssertUnwindSafe(|| read_truncated(&data, cut, &spans)));
            match r {
                Ok(Ok(())) => {}
                Ok(Err(why)) => failures.push(format!("{name} cut at {cut}: {why}")),
                Err(_) => failures.push(format!("{name} cut at {cut}: PANIC")),
            }
            if failures.len() > 20 {
                break;
            }
        }
    }
    eprintln!("{cuts} truncations");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

use rdbscope_testwriter::Rng;

const CORRUPTION_SEED: u64 = 0x5EED_CAFE_F00D_0001;
const CORRUPTIONS: usize = 4000;

#[test]
fn corruption_single_byte_flips_never_panic() {
    let files = sweep_files();
    let mut rng = Rng(CORRUPTION_SEED);
    let (mut ok, mut err) = (0usize, 0usize);
    let mut panics = Vec::new();
    for i in 0..CORRUPTIONS {
        let (name, data) = &files[rng.below(files.len())];
        let at = rng.below(data.len());
        let xor = (rng.below(255) + 1) as u8;
        let mut bad = data.clone();
        bad[at] ^= xor;
        match catch_unwind(AssertUnwindSafe(|| exercise(&bad))) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(_)) => err += 1,
            Err(_) => panics.push(format!(
                "flip {i} (seed {CORRUPTION_SEED:#x}): {name} byte {at} ^= {xor:#04x} panicked"
            )),
        }
    }
    eprintln!("{CORRUPTIONS} flips: {ok} decoded, {err} clean errors");
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}

/// Every byte of every writer-built file (which between them hold every value type, opcode
/// and blob format) flipped three ways: low bit, high bit, all bits.
#[test]
fn corruption_every_byte_of_built_files_never_panics() {
    let mut panics = Vec::new();
    let mut n = 0;
    for (name, data) in built_files() {
        for at in 0..data.len() {
            for xor in [0x01u8, 0x80, 0xFF] {
                let mut bad = data.clone();
                bad[at] ^= xor;
                n += 1;
                if catch_unwind(AssertUnwindSafe(|| exercise(&bad))).is_err() {
                    panics.push(format!("{name} byte {at} ^= {xor:#04x} panicked"));
                }
            }
        }
    }
    eprintln!("{n} exhaustive flips of the built files");
    assert!(panics.is_empty(), "{}", panics.join("\n"));
}
