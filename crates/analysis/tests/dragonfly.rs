//! Dragonfly's containers: compressed blobs and tagged chunks expand to their records, in
//! memory and streamed alike.

use rdbscope_analysis::source::{drive_reader, drive_slice, DriveOptions, InputSummary};
use rdbscope_parser::Record;
use rdbscope_testwriter::{encode, RdbWriter};
use std::io::Write;

fn key_record(key: &str, value: &str) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend(encode::string(key));
    v.extend(encode::string(value));
    v
}

fn keys(data: &[u8], streamed: bool) -> Result<Vec<(u64, String)>, String> {
    let mut out = Vec::new();
    let mut s = InputSummary::default();
    let cb = |r: &Record<'_>| -> Result<(), std::convert::Infallible> {
        if let Record::Key(k) = r {
            out.push((k.db, String::from_utf8(k.key.to_vec().unwrap()).unwrap()));
        }
        Ok(())
    };
    let r = if streamed {
        drive_reader(data, DriveOptions::default(), &mut s, cb)
    } else {
        drive_slice(data, DriveOptions::default(), &mut s, cb)
    };
    r.map_err(|e| e.to_string())?;
    Ok(out)
}

fn dragonfly_file(body: &[u8]) -> Vec<u8> {
    let mut w = RdbWriter::redis(9);
    w.aux("df-ver", "v1.30.0");
    w.select_db(0);
    w.raw(body);
    w.finish_with_crc(Some(0))
}

#[test]
fn lz4_and_zstd_blobs_expand_to_records() {
    let mut inner = vec![254u8, 3]; // SELECTDB 3 inside the blob
    inner.extend(key_record("in:lz4:a", "1"));
    inner.extend(key_record("in:lz4:b", "2"));
    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
    enc.write_all(&inner).unwrap();
    let lz4 = enc.finish().unwrap();
    let zinner = key_record("in:zstd", "3");
    let zstd =
        ruzstd::encoding::compress_to_vec(&zinner[..], ruzstd::encoding::CompressionLevel::Fastest);

    let mut body = key_record("before", "x");
    body.push(202);
    body.extend(encode::len(lz4.len() as u64));
    body.extend(&lz4);
    body.extend(key_record("after", "y")); // the blob's SELECTDB carries over
    body.push(201);
    body.extend(encode::len(zstd.len() as u64));
    body.extend(&zstd);
    let file = dragonfly_file(&body);
    let want = vec![
        (0, "before".to_string()),
        (3, "in:lz4:a".to_string()),
        (3, "in:lz4:b".to_string()),
        (3, "after".to_string()),
        (3, "in:zstd".to_string()),
    ];
    assert_eq!(keys(&file, false).unwrap(), want);
    assert_eq!(keys(&file, true).unwrap(), want);
}

#[test]
fn tagged_chunks_join_per_stream() {
    let a = key_record("chunked:a", &"A".repeat(300));
    let b = key_record("chunked:b", &"B".repeat(50));
    let chunk = |id: u32, part: &[u8]| {
        let mut v = vec![224u8];
        v.extend(id.to_le_bytes());
        v.extend((part.len() as u32).to_le_bytes());
        v.extend(part);
        v
    };
    let mut body = Vec::new();
    body.extend(chunk(7, &a[..100]));
    body.extend(chunk(9, &b[..20]));
    body.extend(chunk(7, &a[100..250]));
    body.extend(chunk(9, &b[20..]));
    body.extend(chunk(7, &a[250..]));
    let file = dragonfly_file(&body);
    let want = vec![(0, "chunked:b".to_string()), (0, "chunked:a".to_string())];
    assert_eq!(keys(&file, false).unwrap(), want);
    assert_eq!(keys(&file, true).unwrap(), want);

    // A chunk stream that never completes is an error, not a silent loss.
    let file = dragonfly_file(&chunk(7, &a[..100]));
    assert!(keys(&file, false)
        .unwrap_err()
        .contains("chunk stream ended"));
}

#[test]
fn corrupt_blob_is_an_error_with_offset() {
    let mut body = vec![202u8];
    body.extend(encode::len(4));
    body.extend([1, 2, 3, 4]);
    let file = dragonfly_file(&body);
    let err = keys(&file, false).unwrap_err();
    assert!(err.contains("compressed blob"), "{err}");
}

#[test]
fn dragonfly_sketch_types_are_skipped() {
    // CMS: width 2, depth 2, total 5, then 4 u64 counters; then a normal key.
    let mut cms = encode::len(2);
    cms.extend(encode::len(2));
    cms.extend(encode::len(5));
    cms.extend([0u8; 32]);
    let mut body = vec![35u8];
    body.extend(encode::string("sketch"));
    body.extend(cms);
    body.extend(key_record("plain", "v"));
    let file = dragonfly_file(&body);
    assert_eq!(
        keys(&file, false).unwrap(),
        vec![(0, "sketch".to_string()), (0, "plain".to_string())]
    );
}
