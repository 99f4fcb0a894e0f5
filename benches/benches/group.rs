//! Grouping keys, the largest share of `analyze`'s per-key cost on mixed dumps: pattern
//! inference, and the capped tables of a low-cardinality level (few prefixes, every key
//! lands on a kept row) and of a high-cardinality one (a prefix per user: most keys are
//! refused by rank, some are admitted and evict others).
//!
//! The keys imitate the families of `../shared/tools/gen_mixed.py` (benchmark B): numeric
//! ids, UUIDs, 40-digit hex hashes, counters, and 12-character random names, in a shuffled
//! order, as Redis writes keys in hash-table order.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdbscope_analysis::capped::CappedTable;
use rdbscope_analysis::pattern::{infer_pattern, prefixes, Separators};
use rdbscope_testwriter::Rng;
use std::hint::black_box;

/// Keys of the benchmark.
const KEYS: u64 = 200_000;

/// Rows a prefix or pattern table keeps by default (`--row-cap`).
const CAP: usize = 10_000;

/// Key material from the shared deterministic generator.
trait Words {
    fn hex(&mut self, n: usize) -> String;
    fn uuid(&mut self) -> String;
    fn name(&mut self, n: usize) -> String;
}

impl Words for Rng {
    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b"0123456789abcdef"[(self.next() % 16) as usize]))
            .collect()
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(4),
            self.hex(4),
            self.hex(12)
        )
    }

    fn name(&mut self, n: usize) -> String {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (0..n)
            .map(|_| char::from(B64[(self.next() % 64) as usize]))
            .collect()
    }
}

/// B-like keys, in the proportions of `gen_mixed.py`.
fn keys() -> Vec<Vec<u8>> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    (0..KEYS)
        .map(|_| {
            let user = r.next() % 400_000;
            let key = match r.next() % 100 {
                0..=25 => format!("user:{user}:profile"),
                26..=38 => format!("user:{user}:settings"),
                39..=47 => format!("user:{user}:tags"),
                48..=56 => format!("user:{user}:recent"),
                57..=61 => format!("user:{user}:roles"),
                62..=79 => format!("session:{}", r.uuid()),
                80..=86 => format!("cache:{}", r.hex(40)),
                87..=95 => format!("counter:page{}:views", r.next() % 200_000),
                96..=97 => format!("job:{}", r.uuid()),
                _ => format!("queue:{}", r.name(12)),
            };
            key.into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let seps = Separators::default();
    let mut g = c.benchmark_group("group");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("infer_pattern", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut bytes = 0;
            for k in &keys {
                infer_pattern(black_box(k), &seps, &mut out);
                bytes += out.len();
            }
            bytes
        })
    });
    for (name, level) in [("level-1", 1), ("level-2", 2)] {
        g.bench_function(format!("capped-table/{name}"), |b| {
            b.iter(|| {
                let mut t = CappedTable::<u64>::new(CAP);
                for k in &keys {
                    if let Some(p) = prefixes(k, &seps, level).last() {
                        t.add(black_box(p), |s| *s += 1);
                    }
                }
                t.len()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
