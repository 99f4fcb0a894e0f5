//! The memory estimator per on-disk encoding: `Model::estimate` over every key of a small
//! generated dump holding keys of one kind, on the server lines whose accounting differs
//! (Redis 7.2: dicts; Redis 8.4: tracked sizes; Valkey 8.1: kvobj and `hashtable`).
//!
//! The dump is framed once, outside the timed loop, so the numbers are the estimator's own
//! cost (the element decoding it needs included), reported in keys per second.
//!
//! `cargo bench -p rdbscope-benches --bench estimate` (about a minute on 2 cores);
//! add a filter such as `-- estimate/zset` to run some cases only.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rdbscope_analysis::alloc::Allocator;
use rdbscope_analysis::model::{Encoding, Model, ServerLine};
use rdbscope_parser::{KeyRecord, Record, Records, Scratch};
use rdbscope_testwriter::stream::{Consumer, ConsumerGroup, Stream, StreamId, StreamNode};
use rdbscope_testwriter::value::{HashListpackEx, Quicklist2};
use rdbscope_testwriter::{encode, ty, value, Listpack, RdbWriter};
use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

/// The lines benchmarked for every encoding: one per accounting scheme.
const LINES: &[ServerLine] = &[
    ServerLine::Redis72,
    ServerLine::Redis84,
    ServerLine::Valkey81,
];

/// Hashes with field TTLs load from Redis 7.4 on (RDB 12); Valkey 8.1 has no field TTLs.
const TTL_LINES: &[ServerLine] = &[ServerLine::Redis74, ServerLine::Redis84];

/// Snapshot time of the generated dumps, in ms: the base of the field TTLs.
const NOW_MS: u64 = 1_700_000_000_000;

/// One benchmarked input: a dump of keys of one on-disk encoding.
struct Case {
    /// `<type>-<on-disk encoding>[-<what the loader does>]`.
    name: &'static str,
    lines: &'static [ServerLine],
    /// The encodings the model must predict for these keys on every line, so that the case
    /// times the path its name says.
    expect: &'static [Encoding],
    build: fn() -> Vec<u8>,
}

/// An RDB `version` dump with `n` keys written by `key(writer, i)`.
fn dump(version: u32, n: u64, mut key: impl FnMut(&mut RdbWriter, u64)) -> Vec<u8> {
    let mut rdb = RdbWriter::redis(version);
    rdb.aux("redis-ver", if version >= 12 { "7.4.2" } else { "7.2.6" });
    rdb.aux("ctime", (NOW_MS / 1000).to_string());
    rdb.select_db(0);
    for i in 0..n {
        key(&mut rdb, i);
    }
    rdb.finish()
}

/// `len` bytes of text that neither LZF nor integer encoding would pick up.
fn text(seed: u64, len: u64) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

/// A leaderboard score: integral (a timestamp) for even members, fractional (a rating,
/// written with `%.17g`) for odd ones.
fn score(i: u64, m: u64) -> f64 {
    if m.is_multiple_of(2) {
        (1_700_000_000 + i * 31 + m) as f64
    } else {
        (m as f64) * 0.37 + (i % 7) as f64 / 3.0
    }
}

/// Sessions, 8 to 187 bytes, written plainly (`rdbcompression no`): embstr and raw.
fn string_raw() -> Vec<u8> {
    dump(11, 4000, |w, i| {
        let v = text(i, 8 + i * 37 % 180);
        w.key(ty::STRING, format!("session:{i}"), &encode::string(v));
    })
}

/// Counters of every int-encoded width.
fn string_int() -> Vec<u8> {
    dump(11, 4000, |w, i| {
        let v = match i % 3 {
            0 => (i % 100) as i32,
            1 => (i * 37 % 30_000) as i32,
            _ => (i * 7919 % 2_000_000_000) as i32,
        };
        w.key(ty::STRING, format!("counter:{i}"), &encode::string_int(v));
    })
}

/// Cached JSON documents of 100 to 500 bytes, LZF-compressed.
fn string_lzf() -> Vec<u8> {
    dump(11, 4000, |w, i| {
        let items: Vec<String> = (0..(2 + i % 9))
            .map(|n| {
                format!(
                    "{{\"sku\":\"item-{n}\",\"qty\":{},\"price\":\"9.99\"}}",
                    n % 4
                )
            })
            .collect();
        let v = format!("{{\"cart\":{i},\"items\":[{}]}}", items.join(","));
        w.key(
            ty::STRING,
            format!("cache:cart:{i}"),
            &encode::string_lzf(v),
        );
    })
}

fn profile_fields(i: u64) -> Vec<(String, String)> {
    (0..(2 + i % 29))
        .map(|f| {
            let v = if f % 3 == 0 {
                (i * 13 + f).to_string()
            } else {
                format!("value-{}-{}", f, text(i + f, f % 20))
            };
            (format!("field{f}"), v)
        })
        .collect()
}

/// User profiles of 2 to 30 short fields: stay listpacks.
fn hash_listpack() -> Vec<u8> {
    dump(11, 2000, |w, i| {
        w.key(
            ty::HASH_LISTPACK,
            format!("user:{i}"),
            &value::hash_listpack(profile_fields(i)),
        );
    })
}

/// The same profiles with an 80 to 200-byte `bio`: listpacks written by a server with a
/// larger `hash-max-listpack-value`, converted to hashtables by the loader.
fn hash_listpack_convert() -> Vec<u8> {
    dump(11, 2000, |w, i| {
        let mut fields = profile_fields(i);
        fields.insert(fields.len() / 2, ("bio".into(), text(i, 80 + i % 121)));
        w.key(
            ty::HASH_LISTPACK,
            format!("user:{i}"),
            &value::hash_listpack(fields),
        );
    })
}

/// Documents of 8 to 40 fields with one long value: the server held them as hashtables and
/// wrote type 4.
fn hash_dict() -> Vec<u8> {
    dump(11, 1000, |w, i| {
        let mut fields: Vec<(String, String)> = (0..(8 + i % 33))
            .map(|f| (format!("attr:{f}"), format!("v{}", i * 7 + f)))
            .collect();
        fields.insert(3, ("body".into(), text(i, 100 + i % 200)));
        w.key(ty::HASH, format!("doc:{i}"), &value::hash(fields));
    })
}

/// Id sets of 4 to 203 integers, 16-, 32- and 64-bit wide.
fn set_intset() -> Vec<u8> {
    dump(11, 2000, |w, i| {
        let scale: i64 = [1, 100_000, 10_000_000_000][(i % 3) as usize];
        let ids: Vec<i64> = (0..(4 + i % 200) as i64).map(|m| m * scale + 7).collect();
        w.key(ty::SET_INTSET, format!("ids:{i}"), &value::set_intset(&ids));
    })
}

/// Tag sets of 2 to 101 short members.
fn set_listpack() -> Vec<u8> {
    dump(11, 2000, |w, i| {
        let tags: Vec<String> = (0..(2 + i % 100)).map(|m| format!("tag:{m}")).collect();
        w.key(
            ty::SET_LISTPACK,
            format!("tags:{i}"),
            &value::set_listpack(tags),
        );
    })
}

/// Follower sets of 150 to 599 members: over `set-max-listpack-entries`, type 2.
fn set_dict() -> Vec<u8> {
    dump(11, 500, |w, i| {
        let members: Vec<String> = (0..(150 + i * 7 % 450))
            .map(|m| format!("user:{}", m * 131 + i))
            .collect();
        w.key(ty::SET, format!("followers:{i}"), &value::set(members));
    })
}

/// Leaderboards of 2 to 101 members.
fn zset_listpack() -> Vec<u8> {
    dump(11, 2000, |w, i| {
        let pairs: Vec<(String, f64)> = (0..(2 + i % 100))
            .map(|m| (format!("player:{m}"), score(i, m)))
            .collect();
        w.key(
            ty::ZSET_LISTPACK,
            format!("board:{i}"),
            &value::zset_listpack(pairs),
        );
    })
}

/// Leaderboards of 150 to 449 members: over `zset-max-listpack-entries`, type 5.
fn zset_skiplist() -> Vec<u8> {
    dump(11, 500, |w, i| {
        let pairs: Vec<(String, f64)> = (0..(150 + i * 7 % 300))
            .map(|m| (format!("player:{m}"), score(i, m)))
            .collect();
        w.key(ty::ZSET_2, format!("board:{i}"), &value::zset2(pairs));
    })
}

/// Job queues of 2 to 5 packed nodes of about 8 KB (`list-max-listpack-size -2`).
fn list_quicklist() -> Vec<u8> {
    dump(11, 500, |w, i| {
        let mut ql = Quicklist2::new();
        for node in 0..(2 + i % 4) {
            let mut lp = Listpack::new();
            for e in 0..150 {
                lp.auto(format!(
                    "{{\"job\":{},\"queue\":\"mail\",\"to\":\"{}\"}}",
                    node * 150 + e,
                    text(i * 1000 + e, 6 + e % 12)
                ));
            }
            ql.packed(&lp.build());
        }
        w.key(ty::LIST_QUICKLIST_2, format!("queue:{i}"), &ql.build());
    })
}

/// Event streams of 1 to 3 nodes of 100 entries, two consumer groups of 2 to 4 consumers
/// with 6 to 41 pending entries each (stream v3, Redis 7.2's format).
fn stream() -> Vec<u8> {
    dump(11, 1000, |w, i| {
        let mut s = Stream::new(3);
        let base = 1_700_000_000_000 + i * 1_000_000;
        let nodes = 1 + i % 3;
        for n in 0..nodes {
            let first = StreamId::new(base + n * 100, 0);
            let mut node = StreamNode::new(first, ["type", "user", "amount"]);
            for e in 0..100 {
                let id = StreamId::new(base + n * 100 + e, 0);
                let user = format!("u{}", e % 17);
                let amount = (i * 31 + e).to_string();
                node.entry(
                    id,
                    [
                        ("type", "purchase"),
                        ("user", user.as_str()),
                        ("amount", amount.as_str()),
                    ],
                );
            }
            s.node(&node);
        }
        let last = StreamId::new(base + nodes * 100 - 1, 0);
        for g in 0..2u64 {
            let consumers = 2 + (i + g) % 3;
            let pending = 6 + (i * 3 + g) % 36;
            let mut group = ConsumerGroup::new(format!("workers-{g}"), last).entries_read(100);
            let mut cs: Vec<Consumer> = (0..consumers)
                .map(|c| Consumer::new(format!("worker-{c}"), NOW_MS as i64))
                .collect();
            for p in 0..pending {
                let id = StreamId::new(base + p * 2, 0);
                group = group.pending(id, NOW_MS as i64, 1 + p % 3);
                let c = (p % consumers) as usize;
                cs[c] = std::mem::take(&mut cs[c]).pending(id);
            }
            for c in cs {
                group = group.consumer(c);
            }
            s.group(group);
        }
        w.key(ty::STREAM_LISTPACKS_3, format!("events:{i}"), &s.build());
    })
}

/// Session hashes of 2 to 30 fields, every other one with a TTL (Redis 7.4+, type 25).
fn hash_listpack_ex() -> Vec<u8> {
    dump(12, 2000, |w, i| {
        let mut h = HashListpackEx::new();
        for (f, (name, v)) in profile_fields(i).into_iter().enumerate() {
            let ttl = f
                .is_multiple_of(2)
                .then_some(NOW_MS + 3_600_000 + i * 1000 + f as u64);
            h.field(name, v, ttl);
        }
        w.key(ty::HASH_LISTPACK_EX, format!("sess:{i}"), &h.build());
    })
}

const CASES: &[Case] = &[
    Case {
        name: "string-raw",
        lines: LINES,
        expect: &[Encoding::Embstr, Encoding::Raw],
        build: string_raw,
    },
    Case {
        name: "string-int",
        lines: LINES,
        expect: &[Encoding::Int],
        build: string_int,
    },
    Case {
        name: "string-lzf",
        lines: LINES,
        expect: &[Encoding::Raw],
        build: string_lzf,
    },
    Case {
        name: "hash-listpack",
        lines: LINES,
        expect: &[Encoding::Listpack],
        build: hash_listpack,
    },
    Case {
        name: "hash-listpack-to-hashtable",
        lines: LINES,
        expect: &[Encoding::Hashtable],
        build: hash_listpack_convert,
    },
    Case {
        name: "hash-dict",
        lines: LINES,
        expect: &[Encoding::Hashtable],
        build: hash_dict,
    },
    Case {
        name: "set-intset",
        lines: LINES,
        expect: &[Encoding::Intset],
        build: set_intset,
    },
    Case {
        name: "set-listpack",
        lines: LINES,
        expect: &[Encoding::Listpack],
        build: set_listpack,
    },
    Case {
        name: "set-dict",
        lines: LINES,
        expect: &[Encoding::Hashtable],
        build: set_dict,
    },
    Case {
        name: "zset-listpack",
        lines: LINES,
        expect: &[Encoding::Listpack],
        build: zset_listpack,
    },
    Case {
        name: "zset-skiplist",
        lines: LINES,
        expect: &[Encoding::Skiplist],
        build: zset_skiplist,
    },
    Case {
        name: "list-quicklist2",
        lines: LINES,
        expect: &[Encoding::Quicklist],
        build: list_quicklist,
    },
    Case {
        name: "stream-groups",
        lines: LINES,
        expect: &[Encoding::Stream],
        build: stream,
    },
    Case {
        name: "hash-listpackex",
        lines: TTL_LINES,
        expect: &[Encoding::ListpackEx],
        build: hash_listpack_ex,
    },
];

/// Frames the dump once: every key record, borrowing `data`.
fn key_records(data: &[u8]) -> Vec<KeyRecord<'_>> {
    Records::new(data)
        .expect("header")
        .filter_map(|r| match r.expect("record") {
            Record::Key(k) => Some(k),
            _ => None,
        })
        .collect()
}

/// The timed work: the sum of the estimates, so none of them can be optimised away.
fn estimate_all(model: &Model, keys: &[KeyRecord<'_>], scratch: &mut Scratch) -> u64 {
    keys.iter()
        .map(|k| model.estimate(k, scratch).expect("estimate").memory)
        .sum()
}

/// Checks, once per case and line, that the keys take the path the case is named after.
fn check(case: &Case, model: &Model, keys: &[KeyRecord<'_>]) -> u64 {
    let mut scratch = Scratch::new();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in keys {
        let e = model.estimate(k, &mut scratch).expect("estimate");
        seen.insert(e.encoding);
        total += e.memory;
    }
    assert!(
        seen.iter().all(|e| case.expect.contains(e)),
        "{} on {}: predicted {seen:?}, expected {:?}",
        case.name,
        model.line.name(),
        case.expect
    );
    total
}

fn bench(c: &mut Criterion) {
    for case in CASES {
        let data = (case.build)();
        let keys = key_records(&data);
        let mut g = c.benchmark_group(format!("estimate/{}", case.name));
        // One pass is 0.1 to 10 ms: flat sampling keeps the slow cases within the budget.
        g.sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .throughput(Throughput::Elements(keys.len() as u64));
        for &line in case.lines {
            let model = Model::new(line, Allocator::Jemalloc);
            let total = check(case, &model, &keys);
            eprintln!(
                "{}/{}: {} keys, {} file bytes, {total} predicted bytes",
                case.name,
                line.name(),
                keys.len(),
                data.len()
            );
            let mut scratch = Scratch::new();
            g.bench_function(line.name(), |b| {
                b.iter(|| black_box(estimate_all(&model, black_box(&keys), &mut scratch)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
