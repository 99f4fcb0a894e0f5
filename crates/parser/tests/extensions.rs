//! Other servers' extensions: KeyDB and Dragonfly records are parsed or refused by name.

use rdbscope_parser::{DataType, Element, ErrorKind, Record, Records, Scratch, ValueKind};
use rdbscope_testwriter::{encode, RdbWriter};

fn keys(data: &[u8]) -> Vec<(Vec<u8>, ValueKind, u64)> {
    let mut s = Scratch::new();
    Records::new(data)
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Record::Key(k) => Some((
                k.key.to_vec().unwrap(),
                k.value.kind(),
                k.value.element_count(&mut s).unwrap(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn keydb_mvcc_aux_between_attributes_and_type_keeps_expiry() {
    let mut w = RdbWriter::redis(9);
    w.aux("redis-ver", "6.3.4");
    w.select_db(0);
    w.expire_ms(4_102_444_800_000);
    w.aux("mvcc-tstamp", "1234567890");
    w.key(0, "k", &encode::string("v"));
    w.aux("keydb-subexpire-key", "f");
    w.aux("keydb-subexpire-when", "4102444800000");
    let data = w.finish();
    let ks: Vec<_> = Records::new(&data)
        .unwrap()
        .filter_map(|r| match r.unwrap() {
            Record::Key(k) => Some(k.expire_ms),
            _ => None,
        })
        .collect();
    assert_eq!(ks, vec![Some(4_102_444_800_000)]);
}

#[test]
fn keydb_cron_type_is_parsed() {
    let mut w = RdbWriter::redis(9);
    w.select_db(0);
    let mut v = encode::string("return 1");
    v.extend(encode::ms_time(1000));
    v.extend(encode::ms_time(60_000));
    v.extend(encode::len(1));
    v.extend(encode::string("key1"));
    v.extend(encode::len(0));
    w.key(64, "cronjob", &v);
    w.key(0, "after", &encode::string("x"));
    let ks = keys(&w.finish());
    assert_eq!(ks.len(), 2);
    assert_eq!(ks[0].1, ValueKind::KeydbCron);
    assert_eq!(ks[0].1.data_type(), DataType::Module);
}

#[test]
fn dragonfly_types_need_df_ver_and_decode_ttls() {
    let mut body = encode::len(1);
    body.extend(encode::string("field"));
    body.extend(encode::string("value"));
    body.extend(encode::string("100"));
    // Without df-ver, type 31 is unknown and named as a Dragonfly extension.
    let mut w = RdbWriter::redis(9);
    w.select_db(0);
    w.key(31, "h", &body);
    let data = w.finish();
    let err = Records::new(&data).unwrap().find_map(|r| r.err()).unwrap();
    assert!(matches!(err.kind, ErrorKind::Unsupported(m) if m.contains("Dragonfly")));

    let mut w = RdbWriter::redis(9);
    w.aux("df-ver", "v1.30.0");
    w.select_db(0);
    w.raw(&[220, 2, 0, 0, 0, 7, 0, 0, 0]); // DF_MASK with memcached flags
    w.key(31, "h", &body);
    w.key(30, "j", &encode::string("{\"a\":1}"));
    let data = w.finish_with_crc(Some(0));
    let mut s = Scratch::new();
    let mut fields = Vec::new();
    for r in Records::new(&data).unwrap() {
        if let Record::Key(k) = r.unwrap() {
            k.value
                .for_each_element(&mut s, |e| {
                    if let Element::Field(f, v, ttl) = e {
                        fields.push((f.to_vec(), v.to_vec(), ttl));
                    }
                })
                .unwrap();
        }
    }
    assert_eq!(
        fields,
        vec![(
            b"field".to_vec(),
            b"value".to_vec(),
            Some((1_675_209_600 + 100) * 1000)
        )]
    );
}

#[test]
fn dragonfly_containers_are_records_and_refused_without_df_ver() {
    // With df-ver, a compressed blob and a tagged chunk are framed as records for the
    // driver to expand.
    let mut w = RdbWriter::redis(9);
    w.aux("df-ver", "v1.30.0");
    w.raw(&[201, 3, 1, 2, 3]);
    w.raw(&[224, 7, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB]);
    let data = w.finish();
    let recs: Vec<_> = Records::new(&data).unwrap().map(|r| r.unwrap()).collect();
    assert!(matches!(
        recs[1],
        Record::CompressedBlob {
            data: &[1, 2, 3],
            ..
        }
    ));
    assert!(matches!(
        recs[2],
        Record::TaggedChunk {
            stream_id: 7,
            data: &[0xAA, 0xBB],
            ..
        }
    ));
    // Without it, the same bytes are refused by name.
    let mut w = RdbWriter::redis(9);
    w.raw(&[201, 3, 1, 2, 3]);
    let data = w.finish();
    let err = Records::new(&data).unwrap().find_map(|r| r.err()).unwrap();
    assert!(err.to_string().contains("Dragonfly"), "{err}");
}
