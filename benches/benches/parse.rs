//! Framing only, and framing plus full decoding, over a corpus dump and a generated dump.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdbscope_parser::{Record, Records, Scratch};
use std::hint::black_box;

fn frame(data: &[u8]) -> u64 {
    let mut keys = 0;
    for r in Records::new(data).expect("header") {
        if let Record::Key(_) = r.expect("record") {
            keys += 1;
        }
    }
    keys
}

fn decode(data: &[u8]) -> u64 {
    let mut scratch = Scratch::new();
    let mut elements = 0u64;
    for r in Records::new(data).expect("header") {
        if let Record::Key(k) = r.expect("record") {
            k.value
                .for_each_element(&mut scratch, |_| elements += 1)
                .expect("value");
            if let Some(s) = k.value.stream().expect("stream") {
                s.for_each_node(|_| Ok(())).expect("nodes");
            }
        }
    }
    elements
}

fn bench(c: &mut Criterion) {
    for (name, data) in rdbscope_benches::inputs() {
        let keys = frame(&data);
        eprintln!("{name}: {} bytes, {keys} keys", data.len());
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function("frame", |b| b.iter(|| black_box(frame(black_box(&data)))));
        g.bench_function("frame+decode", |b| {
            b.iter(|| black_box(decode(black_box(&data))))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
