//! `list-compress-depth` on lists the loader rebuilds from pre-7.0 records (type 14
//! QUICKLIST of ziplists, type 10 ZIPLIST, type 1 LINKEDLIST): the rebuilt listpacks must
//! compress exactly as the same listpacks do when the file already holds them (type 18
//! QUICKLIST_2, whose compression is checked against real servers in the accuracy test).
//! The listpacks of the type 18 records come from the test writer, which shares no code
//! with the analysis crate's listpack builder: the two encoders are each other's oracle.

use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::model::{Encoding, Model, ServerLine, Thresholds};
use rdbscope_parser::{Record, Records, Scratch};
use rdbscope_testwriter::value::{self, Quicklist2};
use rdbscope_testwriter::{Listpack, RdbWriter, Ziplist};

/// Elements that exercise every listpack encoding: small and large integers of both signs,
/// strings around the 6/12/32-bit length boundaries, repetitive (compressible) text.
fn element(i: usize) -> Vec<u8> {
    match i % 9 {
        0 => format!("{}", i * 7).into_bytes(),
        1 => format!("-{}", i * 131).into_bytes(),
        2 => format!("{}", (i as i64) * 1_000_003 * 97).into_bytes(),
        3 => format!("{}", -(i as i64) * 9_000_000_000).into_bytes(),
        4 => format!("user:{i}:session:abcdefabcdef").into_bytes(),
        5 => vec![b'x'; 63],
        6 => format!("{:0>70}", i).into_bytes(),
        7 => "payload-".repeat(9).into_bytes(),
        _ => format!("{i:05}").into_bytes(), // leading zeros: not an integer
    }
}

fn estimate(file: &[u8], model: &Model) -> (u64, Encoding, u64) {
    let mut scratch = Scratch::new();
    for r in Records::new(file).expect("header") {
        if let Record::Key(k) = r.expect("record") {
            let e = model.estimate(&k, &mut scratch).expect("estimate");
            return (e.memory, e.encoding, e.elements);
        }
    }
    panic!("no key");
}

fn model(line: ServerLine, depth: u64) -> Model {
    Model {
        thresholds: Thresholds {
            list_compress_depth: depth,
            ..Thresholds::default()
        },
        ..Model::new(line, Allocator::Jemalloc)
    }
}

/// Nodes of `per_node` elements each.
fn nodes(total: usize, per_node: usize) -> Vec<Vec<Vec<u8>>> {
    (0..total)
        .map(element)
        .collect::<Vec<_>>()
        .chunks(per_node)
        .map(<[Vec<u8>]>::to_vec)
        .collect()
}

fn quicklist2(nodes: &[Vec<Vec<u8>>]) -> Vec<u8> {
    let mut q = Quicklist2::new();
    for n in nodes {
        let mut lp = Listpack::new();
        for e in n {
            lp.auto(e);
        }
        q.packed(&lp.build());
    }
    let mut w = RdbWriter::redis(11);
    w.key(18, "l", &q.build());
    w.finish()
}

/// A type 14 QUICKLIST file of these nodes (as the test writer's ziplists), and the ziplists.
fn ziplist_quicklist(nodes: &[Vec<Vec<u8>>]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let zls: Vec<Vec<u8>> = nodes
        .iter()
        .map(|n| {
            let mut z = Ziplist::new();
            for e in n {
                z.auto(e);
            }
            z.build()
        })
        .collect();
    let mut w = RdbWriter::redis(9);
    w.key(14, "l", &value::quicklist(&zls));
    (zls, w.finish())
}

#[test]
fn rebuilt_quicklist_nodes_compress_like_listpack_nodes() {
    let nodes = nodes(600, 40);
    let (_, file) = ziplist_quicklist(&nodes);
    let old = file;
    let new = quicklist2(&nodes);
    for line in [
        ServerLine::Redis70,
        ServerLine::Redis72,
        ServerLine::Valkey80,
    ] {
        for depth in [1, 2, 5] {
            let m = model(line, depth);
            let (a, enc, n) = estimate(&old, &m);
            let (b, _, _) = estimate(&new, &m);
            assert_eq!(enc, Encoding::Quicklist);
            assert_eq!(n, 600);
            assert_eq!(a, b, "{line:?} depth {depth}");
            let (plain, _, _) = estimate(&old, &model(line, 0));
            assert!(
                a < plain,
                "{line:?} depth {depth}: compression saves nothing"
            );
        }
    }
}

#[test]
fn rebuilt_linked_list_compresses_like_its_listpack_nodes() {
    // A type 1 list is pushed element by element: nodes close at 8 KB of listpack.
    let items: Vec<Vec<u8>> = (0..3000).map(element).collect();
    let mut w = RdbWriter::redis(9);
    w.key(1, "l", &value::list(&items));
    let old = w.finish();
    // The same split, built by the test writer: a node closes before an entry that would
    // take its listpack past 8192 bytes.
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut lp = Listpack::new();
    for e in &items {
        let mut next = lp.clone();
        next.auto(e);
        if !groups.last().expect("a group").is_empty() && next.build().len() > 8192 {
            groups.push(Vec::new());
            lp = Listpack::new();
            lp.auto(e);
        } else {
            lp = next;
        }
        groups.last_mut().expect("a group").push(e.clone());
    }
    assert!(groups.len() > 4, "the list must span several nodes");
    let new = quicklist2(&groups);
    for depth in [1, 3] {
        let m = model(ServerLine::Redis72, depth);
        assert_eq!(estimate(&old, &m), estimate(&new, &m), "depth {depth}");
    }
}

#[test]
fn redis62_counts_compressed_ziplist_nodes_by_their_lzf_length() {
    let nodes = nodes(400, 50);
    let (zls, file) = ziplist_quicklist(&nodes);
    let (plain, _, _) = estimate(&file, &model(ServerLine::Redis62, 0));
    let (packed, _, _) = estimate(&file, &model(ServerLine::Redis62, 1));
    // Hand computation: 6.2's objectComputeSize adds 32 + ziplistBlobLen per node, and a
    // compressed node's first four bytes are the quicklistLZF's compressed length; the key's
    // own costs are the same in both estimates.
    let mut out = Vec::new();
    let mut saving = 0;
    for z in &zls[1..zls.len() - 1] {
        let c =
            rdbscope_analysis::lzf::quicklist_compressed_size(z, &mut out).expect("compressible");
        saving += (z.len() - c) as u64;
    }
    assert_eq!(plain - packed, saving);
}
