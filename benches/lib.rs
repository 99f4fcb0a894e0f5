//! Shared inputs for the benchmarks: a generated dump of realistic small keys of every type.

use rdbscope_testwriter as w;

/// A generated RDB 11 dump of about `target_bytes`, with string, hash, set, zset and list
/// keys in realistic proportions and key patterns.
pub fn generated_dump(target_bytes: usize) -> Vec<u8> {
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    rdb.select_db(0);
    let mut i: u64 = 0;
    while rdb.offset() < target_bytes {
        let key = format!("user:{i}:profile");
        match i % 10 {
            0..=4 => {
                let v = format!(
                    "{{\"id\":{i},\"name\":\"user{i}\",\"plan\":\"free\",\"pad\":\"{}\"}}",
                    "x".repeat((i % 97) as usize)
                );
                rdb.key(
                    w::ty::STRING,
                    format!("session:{i}"),
                    &w::encode::string_auto(v),
                );
            }
            5 | 6 => {
                let pairs: Vec<(String, String)> = (0..(i % 20 + 2))
                    .map(|f| (format!("field{f}"), format!("value-{}", i * f)))
                    .collect();
                rdb.key(w::ty::HASH_LISTPACK, key, &w::value::hash_listpack(pairs));
            }
            7 => {
                let members: Vec<String> = (0..(i % 30 + 1)).map(|m| format!("tag{m}")).collect();
                rdb.key(
                    w::ty::SET_LISTPACK,
                    format!("tags:{i}"),
                    &w::value::set_listpack(members),
                );
            }
            8 => {
                let pairs: Vec<(String, f64)> = (0..(i % 25 + 1))
                    .map(|m| (format!("player{m}"), (m * 7) as f64))
                    .collect();
                rdb.key(
                    w::ty::ZSET_LISTPACK,
                    format!("leaderboard:{i}"),
                    &w::value::zset_listpack(pairs),
                );
            }
            _ => {
                let mut lp = w::Listpack::new();
                for e in 0..(i % 40 + 1) {
                    lp.auto(format!("job-{e}"));
                }
                let mut ql = w::value::Quicklist2::new();
                ql.packed(&lp.build());
                rdb.key(w::ty::LIST_QUICKLIST_2, format!("queue:{i}"), &ql.build());
            }
        }
        i += 1;
    }
    rdb.finish()
}

/// The inputs of the whole-file benches: the corpus's Redis 8.0-m01 dump when
/// `../shared` is beside the repository, and a generated dump of `RDBSCOPE_BENCH_MB`
/// megabytes (default 100).
pub fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let corpus = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/corpus/redis-8.0-m01/dump.rdb"
    );
    match std::fs::read(corpus) {
        Ok(d) => v.push(("corpus-8.0-m01".to_string(), d)),
        Err(_) => eprintln!("skipping the corpus input: {corpus} not found"),
    }
    let mb: usize = std::env::var("RDBSCOPE_BENCH_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    v.push((format!("generated-{mb}MB"), generated_dump(mb << 20)));
    v
}
