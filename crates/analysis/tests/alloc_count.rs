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

/// `n` keys of one kind each, cycling through strings (raw, int, LZF), listpack hashes,
/// sets and sorted sets, intsets and quicklist lists, with a third of them expiring.
fn dump(n: u64) -> Vec<u8> {
    let mut rdb = w::RdbWriter::redis(11);
    rdb.aux("redis-ver", "7.2.6");
    rdb.aux("ctime", "1700000000");
    rdb.select_db(0);
    for i in 0..n {
        if i % 3 == 0 {
            rdb.expire_ms(1_700_000_000_000 + (i as i64) * 1000);
        }
        match i % 8 {
            0 => rdb.key(
                w::ty::STRING,
                format!("session:{i}"),
                &w::encode::string_auto(format!(
                    "{{\"id\":{i},\"pad\":\"{}\"}}",
                    "x".repeat((i % 90) as usize)
                )),
            ),
            1 => rdb.key(
                w::ty::STRING,
                format!("counter:{i}"),
                &w::encode::string_auto(i.to_string()),
            ),
            2 => {
                let pairs: Vec<(String, String)> = (0..(i % 20 + 2))
                    .map(|f| (format!("field{f}"), format!("value-{}", i * f)))
                    .collect();
                rdb.key(
                    w::ty::HASH_LISTPACK,
                    format!("user:{i}:profile"),
                    &w::value::hash_listpack(pairs),
                )
            }
            3 => {
                let members: Vec<String> = (0..(i % 30 + 1)).map(|m| format!("tag{m}")).collect();
                rdb.key(
                    w::ty::SET_LISTPACK,
                    format!("tags:{i}"),
                    &w::value::set_listpack(members),
                )
            }
            4 => {
                let pairs: Vec<(String, f64)> = (0..(i % 25 + 1))
                    .map(|m| (format!("p{m}"), m as f64 * 1.5))
                    .collect();
                rdb.key(
                    w::ty::ZSET_LISTPACK,
                    format!("board:{i}"),
                    &w::value::zset_listpack(pairs),
                )
            }
            5 => {
                let values: Vec<i64> = (0..(i % 40 + 1) as i64).map(|v| v * 3).collect();
                rdb.key(
                    w::ty::SET_INTSET,
                    format!("ids:{i}"),
                    &w::value::set_intset(&values),
                )
            }
            _ => {
                let mut lp = w::Listpack::new();
                for e in 0..(i % 40 + 1) {
                    lp.auto(format!("job-{e}"));
                }
                let mut ql = w::value::Quicklist2::new();
                ql.packed(&lp.build());
                rdb.key(w::ty::LIST_QUICKLIST_2, format!("queue:{i}"), &ql.build())
            }
        };
    }
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
