//! The whole `analyze` pipeline (framing, estimation, aggregation, report) over a corpus
//! dump and a generated dump, with 1 thread and with every core, from a mapped slice and
//! as a stream (the path of standard input and `.lz4`, read ahead on its own thread).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{
    analyze_reader, analyze_slice, Job, NoProgress, NoRelease, ReadAhead,
};
use rdbscope_analysis::report::{build, NamedResult, ReportOptions};
use std::hint::black_box;

fn analyze(data: &[u8], pool: &rayon::ThreadPool, streamed: bool) -> u64 {
    let filter = KeyFilter::default();
    let job = Job {
        config: AggregateConfig::default(),
        choice: ModelChoice::default(),
        filter: &filter,
        checksum: true,
        progress: &NoProgress,
        split_min: rdbscope_analysis::pipeline::SPLIT_MIN,
        salvage: false,
    };
    let result = if streamed {
        // The stream owns its bytes (as standard input would): the copy is part of the cost.
        let owned = std::io::Cursor::new(data.to_vec());
        pool.install(|| analyze_reader(ReadAhead::spawn(owned), 0, &job))
    } else {
        pool.install(|| analyze_slice(data, 0, &job, &NoRelease))
    };
    let report = build(
        vec![NamedResult::new(
            "dump.rdb",
            Some(data.len() as u64),
            result,
        )],
        &ReportOptions::default(),
    );
    report.totals.memory
}

fn bench(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts = vec![1];
    if cores > 1 {
        counts.push(cores);
    }
    for (name, data) in rdbscope_benches::inputs() {
        let mut g = c.benchmark_group(format!("pipeline/{name}"));
        g.sample_size(10);
        g.throughput(Throughput::Bytes(data.len() as u64));
        for &threads in &counts {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            g.bench_function(format!("analyze/{threads}-threads"), |b| {
                b.iter(|| black_box(analyze(black_box(&data), &pool, false)))
            });
            g.bench_function(format!("analyze-streamed/{threads}-threads"), |b| {
                b.iter(|| black_box(analyze(black_box(&data), &pool, true)))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
