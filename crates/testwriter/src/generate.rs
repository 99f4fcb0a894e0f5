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
