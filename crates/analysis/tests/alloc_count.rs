//! No per-key heap allocation on the hot path: the whole `analyze` pipeline over a
//! generated dump of small keys of every common encoding allocates a small fraction of
//! one block per key (batches, rows entering tables and top lists, buffers that grow once).

// A counting global allocator needs `unsafe impl GlobalAlloc`: test-only, forwarding to
// the system allocator.
#![allow(unsafe_code)]

use rdbscope_analysis::aggregate::AggregateConfig;
use rdbscope_analysis::context::ModelChoice;
use rdbscope_analysis::filter::KeyFilter;
use rdbscope_analysis::pipeline::{analyze_slice, Job, NoProgress, NoRelease};
use rdbscope_testwriter as w;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A dump of `n` small keys of the common encodings (see [`w::generate::mixed_keys`]).
fn dump(n: u64) -> Vec<u8> {
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    rdb.select_db(0);
    w::generate::mixed_keys(&mut rdb, 0..n);
    rdb.finish()
}

/// Allocations made by one analysis of a dump of `n` keys (after a warm-up run).
fn allocations(n: u64) -> u64 {
    let data = dump(n);
    let filter = KeyFilter::default();
    // Rows entering the capped tables allocate their key (every hash here has its own
    // `user:<n>:` prefix): a small cap shows that this stops growing with the keys.
    let job = Job {
        config: AggregateConfig {
            row_cap: 500,
            ..AggregateConfig::default()
        },
        choice: ModelChoice::default(),
        filter: &filter,
        checksum: true,
        progress: &NoProgress,
        split_min: rdbscope_analysis::pipeline::SPLIT_MIN,
        salvage: false,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| analyze_slice(&data, 0, &job, &NoRelease));
    let before = ALLOCS.load(Ordering::Relaxed);
    let result = pool.install(|| analyze_slice(&data, 0, &job, &NoRelease));
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(result.aggregate.totals.all.keys, n);
    assert!(result.damage.is_none());
    eprintln!("{allocs} allocations for {n} keys");
    allocs
}

#[test]
fn analyze_allocations_do_not_grow_with_the_keys() {
    let small = allocations(20_000);
    let big = allocations(80_000);
    // Per-key allocation would make the second run allocate about 4 times as much; what
    // remains grows with the logarithm of the keys (rows and top-list entries replaced
    // as bigger ones arrive) and with the batches.
    assert!(
        big < 2 * small,
        "{small} -> {big} allocations for 4x the keys"
    );
    assert!(big < 80_000 / 5, "{big} allocations for 80000 keys");
}
