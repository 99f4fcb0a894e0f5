//! Fuzz harnesses for `rdbscope-parser`, one function per target in `fuzz_targets/`.
//!
//! Each harness takes arbitrary bytes and drives one decoder as far as it will go. None may
//! panic: the parser answers bad input with `Err`. Beyond "no panic", the harnesses check a
//! few properties that follow from the API's contracts (each is documented where it is
//! asserted), so a fuzzer can also find wrong answers, not only crashes.
//!
//! This file depends on nothing but `rdbscope-parser` and `std`, so it compiles on stable:
//! `crates/parser/tests/fuzz_seeds.rs` includes it with `#[path]` and replays the committed
//! seeds and regressions through exactly this code in CI.

use rdbscope_parser::blob::{intset, listpack, ziplist, zipmap};
use rdbscope_parser::stream::Stream;
use rdbscope_parser::{
    lzf, DataType, Element, ParserState, Record, Records, Scalar, Scratch, Value,
};
use std::hint::black_box;

/// `records`: frames `data` as an RDB file, decodes every record and every value fully
/// (elements, quicklist nodes, stream nodes with their listpacks, groups, PELs, consumers),
/// then checks that resuming the iterator over a window of the input agrees with the
/// whole-input parse (what `rdbscope-analysis` relies on when it streams a file).
pub fn records(data: &[u8]) {
    let Ok(mut recs) = Records::new(data) else {
        return;
    };
    let mut scratch = Scratch::new();
    let mut buf = Vec::new();
    // (start, end, state before) of every record that framed.
    let mut frames: Vec<(u64, u64, ParserState)> = Vec::new();
    loop {
        let start = recs.offset();
        let before = recs.state();
        match recs.next() {
            None => break,
            Some(Ok(rec)) => {
                frames.push((start, recs.offset(), before));
                record(data, &rec, &mut scratch, &mut buf);
            }
            Some(Err(e)) => {
                black_box(e.to_string());
                // A failed iterator is fused: it must not yield records after an error.
                assert!(recs.next().is_none(), "records after an error");
                break;
            }
        }
    }
    windows(data, &frames);
}

fn record(data: &[u8], rec: &Record<'_>, scratch: &mut Scratch, buf: &mut Vec<u8>) {
    match *rec {
        Record::Aux { key, value, .. } => {
            let _ = black_box(key.to_vec());
            let _ = black_box(value.to_vec());
        }
        Record::Function { code, .. } => {
            let _ = black_box(code.to_vec());
        }
        Record::Key(k) => {
            let _ = black_box(k.key.to_vec());
            assert!(
                k.offset.checked_add(k.size) <= Some(data.len() as u64),
                "key record extends past the input"
            );
            value(&k.value, scratch, buf);
        }
        Record::Eof { end, .. } => {
            assert!(end <= data.len() as u64, "EOF trailer past the input");
        }
        _ => {}
    }
}

fn value(v: &Value<'_>, scratch: &mut Scratch, buf: &mut Vec<u8>) {
    black_box((
        v.kind(),
        v.value_type(),
        v.offset(),
        v.size(),
        v.raw().len(),
    ));
    black_box((v.count_prefix(), v.hash_min_expire(), v.module()));
    if let Some(s) = v.as_string() {
        let _ = black_box(s.to_vec());
    }
    if let Some(b) = v.blob() {
        let _ = black_box(b.data.prefix(10, buf).map(<[u8]>::len));
    }
    let _ = v.for_each_node(|node| {
        black_box(node.container);
        black_box(node.data.bytes(buf)?.len());
        Ok(())
    });

    let mut walked = 0u64;
    let mut lens = Vec::new();
    let walk = v.for_each_element(scratch, |e| {
        walked += 1;
        match e {
            Element::Item(s) | Element::Scored(s, _) => lens.push(s.len()),
            Element::Field(f, x, _) => lens.extend([f.len(), x.len()]),
        }
        element(e);
    });
    // The length-only walk, where it applies, reads the same strings: same lengths when
    // the full walk succeeds. (It decodes nothing, so it may succeed where the full walk
    // fails on a corrupt LZF string.)
    let mut by_len = Vec::new();
    if let (Ok(()), Ok(true)) = (&walk, v.for_each_len(|l| by_len.push(l))) {
        assert_eq!(by_len, lens, "for_each_len disagrees with for_each_element");
    }
    let count = v.element_count(scratch);
    // `element_count` answers from count prefixes and blob headers; when the full walk
    // succeeds, the two must agree (streams count entries and modules count 1 without
    // having elements to walk, so they are left out).
    if let (Ok(()), Ok(n)) = (walk, count) {
        if !matches!(v.data_type(), DataType::Stream | DataType::Module) {
            assert_eq!(n, walked, "element_count disagrees with for_each_element");
        }
    }

    if let Ok(Some(s)) = v.stream() {
        stream(&s, buf);
    }
}

fn element(e: Element<'_>) {
    match e {
        Element::Item(s) => scalar(s),
        Element::Scored(s, score) => {
            scalar(s);
            black_box(score);
        }
        Element::Field(f, v, ttl) => {
            scalar(f);
            scalar(v);
            black_box(ttl);
        }
    }
}

fn scalar(s: Scalar<'_>) {
    black_box((s.len(), s.as_int()));
}

fn stream(s: &Stream<'_>, buf: &mut Vec<u8>) {
    black_box((s.length, s.last_id, s.first_id, s.idmp, s.oldest_pending_ms));
    let mut nodes = 0u64;
    let walked = s.for_each_node(|node| {
        nodes += 1;
        let _ = black_box(node.master_key.to_vec());
        let lp = node.listpack.bytes(buf)?;
        let _ = black_box(listpack::for_each(lp, |x| scalar(x)));
        Ok(())
    });
    if walked.is_ok() {
        assert_eq!(
            nodes, s.nodes,
            "stream node walk disagrees with the node count"
        );
    }

    let (mut groups, mut pel, mut consumers) = (0u64, 0u64, 0u64);
    let walked = s.for_each_group(|g| {
        groups += 1;
        black_box((g.last_id, g.entries_read, g.nacked));
        let _ = black_box(g.name.to_vec());
        g.for_each_pending(|e| {
            pel += 1;
            black_box(e);
            Ok(())
        })?;
        g.for_each_consumer(|c| {
            consumers += 1;
            let _ = black_box(c.name.to_vec());
            black_box((c.seen_time_ms, c.active_time_ms));
            let mut ids = 0u64;
            c.for_each_pending_id(|id| {
                ids += 1;
                black_box(id);
                Ok(())
            })?;
            assert_eq!(ids, c.pel, "consumer PEL walk disagrees with its count");
            Ok(())
        })
    });
    // `Stream` read every group once already, so walking them again cannot fail, and the
    // totals it summed must match the walk.
    assert!(
        walked.is_ok(),
        "group walk failed after the stream was read: {walked:?}"
    );
    assert_eq!(
        groups, s.groups,
        "group walk disagrees with the group count"
    );
    assert_eq!(pel, s.pel_total, "PEL walk disagrees with pel_total");
    assert_eq!(
        consumers, s.consumers_total,
        "consumer walk disagrees with consumers_total"
    );
}

/// Streaming property: `Records::resume` over the input from a record's first byte yields
/// the same record, and over a window cut anywhere inside the record yields an end-of-input
/// error (`Error::is_eof`), which is what tells a streaming reader to read more rather than
/// report a corrupt file.
fn windows(data: &[u8], frames: &[(u64, u64, ParserState)]) {
    for &(start, end, state) in frames {
        let (s, e) = (start as usize, end as usize);
        let tail = data.get(s..).expect("record start inside the input");
        let mut r = Records::resume(tail, start, state);
        assert!(
            matches!(r.next(), Some(Ok(_))) && r.offset() == end,
            "resume at {start} did not reframe the record ending at {end}"
        );
        for cut in [s + (e - s) / 2, e - 1] {
            let window = data.get(s..cut).expect("cut inside the input");
            match Records::resume(window, start, state).next() {
                Some(Err(err)) => assert!(
                    err.is_eof(),
                    "record {start}..{end} cut at {cut}: not an end-of-input error: {err}"
                ),
                other => {
                    panic!("record {start}..{end} cut at {cut}: expected an error, got {other:?}")
                }
            }
        }
    }
}

/// `listpack`: walks `data` as a listpack.
pub fn listpack(data: &[u8]) {
    let header = listpack::header(data);
    let mut n = 0u64;
    if let Ok(count) = listpack::for_each(data, |s| {
        n += 1;
        scalar(s);
    }) {
        assert_eq!(
            count, n,
            "listpack count differs from the entries handed out"
        );
        if let Ok((_, Some(declared))) = header {
            assert_eq!(
                u64::from(declared),
                n,
                "listpack accepted a wrong header count"
            );
        }
    }
}

/// `ziplist`: walks `data` as a ziplist.
pub fn ziplist(data: &[u8]) {
    let header = ziplist::header(data);
    let mut n = 0u64;
    if let Ok(count) = ziplist::for_each(data, |s| {
        n += 1;
        scalar(s);
    }) {
        assert_eq!(
            count, n,
            "ziplist count differs from the entries handed out"
        );
        if let Ok((_, Some(declared))) = header {
            assert_eq!(
                u64::from(declared),
                n,
                "ziplist accepted a wrong header count"
            );
        }
    }
}

/// `intset`: walks `data` as an intset.
pub fn intset(data: &[u8]) {
    let header = intset::header(data);
    let mut n = 0u64;
    if let Ok(count) = intset::for_each(data, |s| {
        n += 1;
        scalar(s);
    }) {
        assert_eq!(count, n, "intset count differs from the entries handed out");
        if let Ok((_, declared)) = header {
            assert_eq!(
                u64::from(declared),
                n,
                "intset accepted a wrong header count"
            );
        }
    }
}

/// `zipmap`: walks `data` as a zipmap.
pub fn zipmap(data: &[u8]) {
    let mut n = 0u64;
    if let Ok(count) = zipmap::for_each(data, |s| {
        n += 1;
        scalar(s);
    }) {
        assert_eq!(count, n, "zipmap count differs from the scalars handed out");
        assert_eq!(n % 2, 0, "zipmap handed out an odd number of scalars");
    }
}

/// `lzf`: the first 2 bytes are the declared uncompressed length (little-endian, so at most
/// 65535), the rest is the compressed stream. The result must match a naive reference
/// decompressor written from liblzf's `lzf_d.c`.
pub fn lzf(data: &[u8]) {
    let [lo, hi, input @ ..] = data else {
        return;
    };
    let ulen = usize::from(u16::from_le_bytes([*lo, *hi]));
    let mut out = Vec::new();
    let got = lzf::decompress_into(input, ulen, &mut out);
    assert!(
        out.len() <= ulen,
        "LZF output grew past the declared length"
    );
    match (got, lzf_reference(input, ulen)) {
        (Ok(()), Some(want)) => assert!(out == want, "LZF output differs from the reference"),
        (Err(_), None) => {}
        (got, want) => panic!(
            "LZF disagrees with the reference: parser {got:?}, reference {:?}",
            want.map(|w| w.len())
        ),
    }
}

/// liblzf decompression, one byte at a time: `None` for any invalid token or an output that
/// is not exactly `ulen` bytes.
fn lzf_reference(input: &[u8], ulen: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(input[i]);
        i += 1;
        if ctrl < 32 {
            for _ in 0..=ctrl {
                out.push(*input.get(i)?);
                i += 1;
            }
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let from = out.len().checked_sub(back)?;
            for k in 0..n + 2 {
                out.push(out[from + k]);
            }
        }
        if out.len() > ulen {
            return None;
        }
    }
    (out.len() == ulen).then_some(out)
}
