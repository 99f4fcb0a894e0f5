//! Unit tests of the used_memory prediction.

use super::*;
use proptest::prelude::*;
use rdbscope_parser::Records;
use rdbscope_testwriter::{encode, ty, value, RdbWriter};

#[test]
fn loading_server_shares_integers_unless_lru_or_lfu_with_maxmemory() {
    let mut t = crate::model::Thresholds::default();
    let server = |t| {
        LoadingServer::new(Model {
            thresholds: t,
            ..Model::new(ServerLine::Redis72, crate::alloc::Allocator::Jemalloc)
        })
    };
    assert!(server(t).shared_integers);
    t.apply_conf("maxmemory-policy allkeys-lfu\n").unwrap();
    assert!(server(t).shared_integers, "no maxmemory: still shared");
    t.apply_conf("maxmemory 4gb\n").unwrap();
    assert_eq!(t.maxmemory, 4 << 30);
    assert!(!server(t).shared_integers);
    t.set("maxmemory-policy", "volatile-ttl").unwrap();
    assert!(server(t).shared_integers);
    for (text, bytes) in [
        ("100mb", 100 << 20),
        ("1k", 1000),
        ("2G", 2_000_000_000),
        ("0", 0),
    ] {
        t.set("maxmemory", text).unwrap();
        assert_eq!(t.maxmemory, bytes, "{text}");
    }
    assert!(t.set("maxmemory", "-5").is_err());
}

fn server(line: ServerLine) -> LoadingServer {
    LoadingServer::new(Model::new(line, Allocator::Jemalloc))
}

/// Runs a whole file through one accumulator.
fn run(file: &[u8], server: &LoadingServer) -> UsedMemory {
    let mut acc = UsedMemory::for_file(0);
    let mut scratch = Scratch::new();
    for rec in Records::new(file).unwrap() {
        let rec = rec.unwrap();
        acc.observe(&rec);
        if let Record::Key(k) = &rec {
            let est = server.model.estimate(k, &mut scratch).unwrap();
            acc.add_key(server, k, &est, &mut scratch).unwrap();
        }
    }
    acc
}

#[test]
fn key_slot_matches_cluster_spec_examples() {
    // CRC16/XMODEM check value of "123456789" is 0x31C3.
    assert_eq!(key_slot(b"123456789"), 0x31c3);
    assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
    assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    // An empty tag hashes the whole key.
    assert_ne!(key_slot(b"{}user1000"), key_slot(b"user1000"));
}

#[test]
fn dict_line_resizedb_sizes_both_tables() {
    let file = RdbWriter::redis(11)
        .select_db(0)
        .resize_db(5, 0)
        .key(ty::STRING, "a", &encode::string("1"))
        .finish();
    let b = run(&file, &server(ServerLine::Redis72)).predict(&server(ServerLine::Redis72));
    // next_pow2(5) = 8 buckets; the expires dict is expanded to 4 for a 0 hint.
    assert_eq!((b.keyspace_main, b.keyspace_expires), (64, 32));
}

#[test]
fn kvstore_line_resizedb_hint_is_ignored() {
    let file = RdbWriter::redis(12)
        .select_db(0)
        .resize_db(100, 50)
        .key(ty::STRING, "a", &encode::string("1"))
        .finish();
    let s = server(ServerLine::Redis74);
    let b = run(&file, &s).predict(&s);
    // One key: a 64-byte dict created on demand with 4 buckets; no expires dict.
    assert_eq!((b.keyspace_main, b.keyspace_expires), (64 + 32, 0));
}

/// Hostile `RESIZEDB` / `SLOT_INFO` hints (2^62, 2^63, repeated) once overflowed the
/// bucket arithmetic (a panic with overflow checks; found by the CLI hostile suite).
#[test]
fn table_hint_absurd_is_capped_not_overflowed() {
    for line in [
        ServerLine::Redis70,
        ServerLine::Redis74,
        ServerLine::Valkey80,
        ServerLine::Valkey90,
    ] {
        let file = RdbWriter::redis(12)
            .select_db(0)
            .resize_db(1 << 62, 1 << 63)
            .resize_db(u64::MAX, u64::MAX)
            .slot_info(0, u64::MAX, 1 << 63)
            .key(ty::STRING, "a", &encode::string("1"))
            .finish();
        let s = server(line);
        let b = run(&file, &s).predict(&s);
        let capped = 8 * MAX_TABLE_HINT;
        assert!(
            b.keyspace_main < 4 * capped,
            "{line:?}: {}",
            b.keyspace_main
        );
    }
}

/// A Valkey 9 `HASH_2` value: one field per TTL (`None`: no expiry, written as -1).
fn hash2(ttls: &[Option<i64>]) -> Vec<u8> {
    let mut v = encode::len(ttls.len() as u64);
    for (i, t) in ttls.iter().enumerate() {
        v.extend(encode::string(format!("f{i}")));
        v.extend(encode::string("v"));
        v.extend(t.unwrap_or(-1).to_le_bytes());
    }
    v
}

#[test]
fn valkey90_cluster_counts_hidden_startup_and_volatile_slot_tables() {
    let file = RdbWriter::valkey(80)
        .select_db(0)
        .resize_db(3, 0)
        .key(ty::VALKEY_HASH_2, "{a}h", &hash2(&[Some(2_000), None]))
        .key(ty::VALKEY_HASH_2, "{b}h", &hash2(&[Some(500)]))
        .key(ty::VALKEY_HASH_2, "{c}h", &hash2(&[None]))
        .finish();
    let mut s = server(ServerLine::Valkey90);
    s.model.cluster = true;
    s.model.now_ms = Some(1_000);
    let b = run(&file, &s).predict(&s);
    // Main and expires kvstores of db 0: struct 112 + slot index 8 * 16385 each.
    assert_eq!(b.startup_uncounted, 2 * (112 + 131_080));
    // Only "{a}h" keeps a live field TTL: one slot table of 96 + one 64-byte bucket.
    assert_eq!((b.keyspace_volatile, b.databases), (96 + 64, 0));
    let sum = b.startup
        + b.startup_uncounted
        + b.keyspace_main
        + b.keyspace_expires
        + b.keyspace_volatile
        + b.functions
        + b.session;
    assert_eq!(
        b.used_memory as i64,
        sum as i64 + b.dataset as i64 + b.dataset_adjust
    );
    // An older measured startup (9.0.1) already holds that overhead.
    s.startup = Some(b.startup);
    s.version = ServerVersion::from_aux(None, Some("9.0.1"));
    assert_eq!(run(&file, &s).predict(&s).startup_uncounted, 0);
}

#[test]
fn valkey90_creates_selected_databases_at_load() {
    let file = RdbWriter::valkey(80)
        .select_db(0)
        .resize_db(1, 0)
        .key(ty::STRING, "a", &encode::string("1"))
        .select_db(5)
        .resize_db(1, 0)
        .key(ty::STRING, "b", &encode::string("1"))
        .finish();
    let s = server(ServerLine::Valkey90);
    let b = run(&file, &s).predict(&s);
    // db 5: serverDb 96, four dicts, three kvstores (112 + 8 + 80 + 48).
    assert_eq!(b.databases, 96 + 4 * 56 + 3 * 248);
    assert_eq!(b.startup_uncounted, 2 * 112);
    // Valkey 8.1 creates all 16 databases at startup, none at load.
    let s = server(ServerLine::Valkey81);
    let b = run(&file, &s).predict(&s);
    assert_eq!((b.databases, b.startup_uncounted), (0, 16 * 2 * 96));
}

#[test]
fn shared_integers_have_no_object() {
    let file = RdbWriter::redis(11)
        .select_db(0)
        .key(ty::STRING, "n", &encode::string("42"))
        .key(ty::STRING, "m", &encode::string("12345"))
        .finish();
    let mut s = server(ServerLine::Redis72);
    let shared = run(&file, &s).predict(&s);
    s.shared_integers = false;
    let own = run(&file, &s).predict(&s);
    assert_eq!(own.dataset_adjust - shared.dataset_adjust, 16);
}

#[test]
fn set_members_in_buckets_are_not_entries() {
    let members: Vec<String> = (0..200).map(|i| format!("member:{i}")).collect();
    let file = RdbWriter::redis(11)
        .select_db(0)
        .key(
            ty::SET,
            "s",
            &value::set(members.iter().map(String::as_str)),
        )
        .finish();
    let s = server(ServerLine::Redis72);
    let b = run(&file, &s).predict(&s);
    // 200 members in 256 buckets: 24 each charged, 16 only per expected collision.
    let coll = expected_collisions(200, 256);
    assert_eq!(b.dataset_adjust, (16.0 * coll).round() as i64 - 24 * 200);
}

#[test]
fn functions_count_libraries_and_registrations() {
    let code = "#!lua name=mylib\nredis.register_function('f', function() return 1 end)\n";
    let file = RdbWriter::redis(11).function2(code).finish();
    let s = server(ServerLine::Redis72);
    let acc = run(&file, &s);
    let lib = acc.totals.files[&0]
        .libraries
        .keys()
        .next()
        .copied()
        .unwrap();
    assert_eq!((lib.name, lib.functions), (5, 1));
    assert!(acc.predict(&s).functions > code.len() as u64);
}

#[test]
fn session_histograms_and_buffers_by_line() {
    let mut s = server(ServerLine::Redis72);
    s.session = Session {
        clients: 2,
        commands: 3,
    };
    let (bytes, clients) = session_bytes(&s);
    assert_eq!(clients, 2 * (REPLY_BUFFER + QUERY_BUFFER + CLIENT_REST));
    assert_eq!(bytes, clients + 3 * LATENCY_HISTOGRAM_BYTES);
    // Valkey 8.0 reads into one reusable query buffer.
    s.model.line = ServerLine::Valkey80;
    let (bytes, clients) = session_bytes(&s);
    assert_eq!(bytes, clients + QUERY_BUFFER + 3 * LATENCY_HISTOGRAM_BYTES);
    // 6.2 has no latency histograms.
    s.model.line = ServerLine::Redis62;
    assert_eq!(session_bytes(&s).0, session_bytes(&s).1);
}

#[test]
fn predict_counts_startup_and_session_per_file() {
    let s = server(ServerLine::Redis72);
    let one = UsedMemory::for_file(0);
    let mut two = UsedMemory::for_file(1);
    two.add_resize_hint(0, 1, 0);
    let mut both = one.clone();
    both.add_resize_hint(0, 1, 0);
    both.merge(&two);
    let b = both.predict(&s);
    assert_eq!(
        b.startup,
        2 * startup_baseline(ServerLine::Redis72, None, false)
    );
    assert_eq!(b.session, 2 * session_bytes(&s).0);
}

fn arb_acc() -> impl Strategy<Value = UsedMemory> {
    let table = (0u64..50, 0u64..50, 0u64..60, 0u64..60, any::<bool>()).prop_map(
        |(keys, expires, hint_keys, hint_expires, hinted)| TableCount {
            keys,
            expires,
            volatile: expires / 2,
            hint_keys,
            hint_expires,
            hinted,
        },
    );
    let lib = (1u64..500, 1u64..20, 0u64..5).prop_map(|(code, name, functions)| Library {
        code,
        name,
        functions,
    });
    let file = (
        prop::collection::btree_map(0u64..4, table.clone(), 0..3),
        prop::collection::btree_map(0u16..16384, table.clone(), 0..3),
        prop::collection::btree_map(lib, 1u64..3, 0..2),
    )
        .prop_map(|(dbs, slots, libraries)| FileState {
            dbs,
            slots,
            libraries,
        });
    // A pending key count (`hot`) of the accumulator's own file, as `add_key` leaves.
    let hot = prop::option::of((0u64..4, table).prop_map(|(db, t)| {
        (
            db,
            TableCount {
                hint_keys: 0,
                hint_expires: 0,
                hinted: false,
                ..t
            },
        )
    }));
    (
        prop::collection::btree_map(0u32..3, file, 0..3),
        0u64..1_000_000,
        -100_000i64..100_000,
        0u64..100,
        hot,
        0u32..3,
    )
        .prop_map(
            |(files, dataset, adjust, shared_int_values, hot, file)| UsedMemory {
                file,
                current_db: 0,
                totals: Totals {
                    files,
                    dataset,
                    adjust,
                    shared_int_values,
                },
                hot,
            },
        )
}

proptest! {
    #[test]
    fn merge_is_commutative(a in arb_acc(), b in arb_acc()) {
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        prop_assert_eq!(&ab.totals, &ba.totals);
        let s = server(ServerLine::Redis82);
        prop_assert_eq!(ab.predict(&s), ba.predict(&s));
    }

    #[test]
    fn merge_is_associative(a in arb_acc(), b in arb_acc(), c in arb_acc()) {
        let mut ab_c = a.clone();
        ab_c.merge(&b);
        ab_c.merge(&c);
        let mut bc = b.clone();
        bc.merge(&c);
        let mut a_bc = a.clone();
        a_bc.merge(&bc);
        prop_assert_eq!(&ab_c.totals, &a_bc.totals);
    }
}
