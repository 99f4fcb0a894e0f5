//! Generated dumps shared by tests: many small keys of the common encodings.

use crate::RdbWriter;
use std::ops::Range;

/// Writes keys number `keys` (in the current database): one kind each, cycling through
/// strings (raw JSON, integers), listpack hashes, sets and sorted sets, intsets and
/// quicklist lists, with every third key expiring. Key names carry the number, so ranges
/// written into different databases or files do not collide.
pub fn mixed_keys(rdb: &mut RdbWriter, keys: Range<u64>) {
    for i in keys {
        if i % 3 == 0 {
            rdb.expire_ms(1_700_000_000_000 + (i as i64) * 1000);
        }
        match i % 8 {
            0 => rdb.key(
                crate::ty::STRING,
                format!("session:{i}"),
                &crate::encode::string_auto(format!(
                    "{{\"id\":{i},\"pad\":\"{}\"}}",
                    "x".repeat((i % 90) as usize)
                )),
            ),
            1 => rdb.key(
                crate::ty::STRING,
                format!("counter:{i}"),
                &crate::encode::string_auto(i.to_string()),
            ),
            2 => {
                let pairs: Vec<(String, String)> = (0..(i % 20 + 2))
                    .map(|f| (format!("field{f}"), format!("value-{}", i * f)))
                    .collect();
                rdb.key(
                    crate::ty::HASH_LISTPACK,
                    format!("user:{i}:profile"),
                    &crate::value::hash_listpack(pairs),
                )
            }
            3 => {
                let members: Vec<String> = (0..(i % 30 + 1)).map(|m| format!("tag{m}")).collect();
                rdb.key(
                    crate::ty::SET_LISTPACK,
                    format!("tags:{i}"),
                    &crate::value::set_listpack(members),
                )
            }
            4 => {
                let pairs: Vec<(String, f64)> = (0..(i % 25 + 1))
                    .map(|m| (format!("p{m}"), m as f64 * 1.5))
                    .collect();
                rdb.key(
                    crate::ty::ZSET_LISTPACK,
                    format!("board:{i}"),
                    &crate::value::zset_listpack(pairs),
                )
            }
            5 => {
                let values: Vec<i64> = (0..(i % 40 + 1) as i64).map(|v| v * 3).collect();
                rdb.key(
                    crate::ty::SET_INTSET,
                    format!("ids:{i}"),
                    &crate::value::set_intset(&values),
                )
            }
            _ => {
                let mut lp = crate::Listpack::new();
                for e in 0..(i % 40 + 1) {
                    lp.auto(format!("job-{e}"));
                }
                let mut ql = crate::value::Quicklist2::new();
                ql.packed(&lp.build());
                rdb.key(
                    crate::ty::LIST_QUICKLIST_2,
                    format!("queue:{i}"),
                    &ql.build(),
                )
            }
        };
    }
}

/// A dump whose keys sit on every size-class and encoding boundary the memory model has
/// rules for: strings of every length up to 300 bytes and around the sds header changes
/// (32, 256, 65,536), integers around the shared range and the `long` range, key names and
/// hash fields of every length up to 300, keys with and without TTLs (one already expired at `ctime`), and
/// collections of the plain RDB types (which the loading server converts by its thresholds)
/// at and around the default listpack, intset and quicklist limits, plus listpack-encoded
/// forms. Written as RDB 11 with `redis-ver` 7.2.0 and `ctime` 1,700,000,000; the model
/// under test chooses the line, not the file.
pub fn boundary_dump() -> Vec<u8> {
    use crate::{encode, ty, value};
    const CTIME_S: i64 = 1_700_000_000;
    let mut rdb = RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.0")
        .aux("redis-bits", "64")
        .aux("ctime", CTIME_S.to_string())
        .aux("used-mem", "1000000")
        .select_db(0);
    let body = |n: usize| -> String { (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect() };
    // Strings: every length to 300, and around the 16- and 32-bit sds headers.
    let lens = (0..=300).chain([65_530, 65_535, 65_536, 65_540]);
    for (i, n) in lens.enumerate() {
        if i % 2 == 0 {
            rdb.expire_ms(CTIME_S * 1000 + 86_400_000);
        }
        rdb.key(ty::STRING, format!("s:{n}"), &encode::string(body(n)));
    }
    // Integers: shared (0..9999), just past it, negative, the i32 and i64 edges, and digit
    // strings that do not fit a long.
    for v in ["0", "1", "9999", "10000", "-1", "2147483647", "-2147483648"] {
        rdb.key(ty::STRING, format!("i:{v}"), &encode::string_auto(v));
    }
    for v in [
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
    ] {
        rdb.key(ty::STRING, format!("i:{v}"), &encode::string(v));
    }
    // Key names of every length to 300 and around the 16-bit header (the key's own sds
    // and the rules that embed it in the entry or the object), with and without a TTL.
    for n in (1..=300).chain(65_530..=65_540) {
        if n % 3 == 0 {
            rdb.expire_ms(CTIME_S * 1000 + 86_400_000);
        }
        rdb.key(
            ty::STRING,
            format!("k{}", body(n - 1)),
            &encode::string("v"),
        );
    }
    // Hash fields and values of every length from 1 to 300 (sds elements of a hashtable
    // under small thresholds, listpack entries under big ones).
    let wide: Vec<(String, String)> = (1..=300).map(|n| (format!("{n:03}"), body(n))).collect();
    rdb.key(ty::HASH, "hash:every-width", &value::hash(wide.clone()));
    let wide_f: Vec<(String, String)> = wide.into_iter().map(|(a, b)| (b, a)).collect();
    rdb.key(ty::HASH, "hash:every-field-width", &value::hash(wide_f));
    // A key already expired at ctime: the loading server drops it.
    rdb.expire_ms(CTIME_S * 1000 - 1000);
    rdb.key(ty::STRING, "expired", &encode::string("gone"));
    let counts = [
        1u64, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 130,
    ];
    // Sets: strings and integers, around the listpack (128) and intset (512) limits, and
    // members around the 64-byte value limit.
    for &n in counts.iter().chain(&[511, 512, 513]) {
        let ints: Vec<String> = (0..n).map(|v| (v * 7).to_string()).collect();
        rdb.key(ty::SET, format!("set:int:{n}"), &value::set(&ints));
        let strs: Vec<String> = (0..n).map(|v| format!("m{v}")).collect();
        rdb.key(ty::SET, format!("set:str:{n}"), &value::set(&strs));
    }
    for w in [63, 64, 65] {
        let m: Vec<String> = (0..4).map(|v| format!("{v}{}", body(w - 1))).collect();
        rdb.key(ty::SET, format!("set:wide:{w}"), &value::set(&m));
    }
    // Hashes, sorted sets and lists of the plain types, and value widths around 64.
    for &n in &counts {
        let pairs: Vec<(String, String)> = (0..n)
            .map(|f| (format!("f{f}"), format!("v{}", f * 3)))
            .collect();
        rdb.key(ty::HASH, format!("hash:{n}"), &value::hash(pairs.clone()));
        rdb.key(
            ty::HASH_LISTPACK,
            format!("hashlp:{n}"),
            &value::hash_listpack(pairs),
        );
        let scored: Vec<(String, f64)> =
            (0..n).map(|m| (format!("p{m}"), m as f64 / 3.0)).collect();
        rdb.key(
            ty::ZSET_2,
            format!("zset:{n}"),
            &value::zset2(scored.clone()),
        );
        rdb.key(
            ty::ZSET_LISTPACK,
            format!("zsetlp:{n}"),
            &value::zset_listpack(scored),
        );
        let items: Vec<String> = (0..n).map(|e| format!("item-{e}")).collect();
        rdb.key(ty::LIST, format!("list:{n}"), &value::list(&items));
        rdb.key(
            ty::SET_LISTPACK,
            format!("setlp:{n}"),
            &value::set_listpack(&items),
        );
        let ints: Vec<i64> = (0..n as i64).map(|v| v << (n % 4 * 16)).collect();
        rdb.key(
            ty::SET_INTSET,
            format!("intset:{n}"),
            &value::set_intset(&ints),
        );
    }
    for w in [63, 64, 65] {
        let v = body(w);
        rdb.key(
            ty::HASH,
            format!("hash:wide:{w}"),
            &value::hash([("f", v.as_str())]),
        );
        rdb.key(
            ty::ZSET_2,
            format!("zset:wide:{w}"),
            &value::zset2([(v.as_str(), 1.0)]),
        );
    }
    // Lists past one quicklist node: by count (8 KiB nodes of small items) and one item
    // bigger than a node (a plain node).
    for n in [500u64, 1000, 5000] {
        let items: Vec<String> = (0..n).map(|e| format!("e{e}")).collect();
        rdb.key(ty::LIST, format!("list:long:{n}"), &value::list(&items));
    }
    rdb.key(
        ty::LIST,
        "list:plain",
        &value::list([body(10), body(9000), body(10)]),
    );
    rdb.finish()
}
