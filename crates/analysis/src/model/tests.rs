//! Unit tests of the model's size helpers.

use super::*;

/// The definition `canonical_int` replaces: parses as an i64 and prints back the same.
fn canonical_int_reference(b: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(b).ok()?;
    let v: i64 = s.parse().ok()?;
    (v.to_string() == s).then_some(v)
}

#[test]
fn g17_len_matches_the_formatted_text() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..100_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let v = f64::from_bits(seed);
        if !v.is_finite() || v == 0.0 {
            continue;
        }
        assert_eq!(g17_len(v), format_g17(v).len() as u64, "{v:e}");
        let w = (seed % 1_000_000) as f64 / 7.0 - 50_000.0;
        if w != 0.0 {
            assert_eq!(g17_len(w), format_g17(w).len() as u64, "{w}");
        }
    }
}

#[test]
fn canonical_int_matches_its_definition() {
    let cases: &[&[u8]] = &[
        b"0",
        b"-0",
        b"00",
        b"07",
        b"+7",
        b"-",
        b"",
        b"12a",
        b"9223372036854775807",
        b"9223372036854775808",
        b"-9223372036854775808",
        b"-9223372036854775809",
        b"18446744073709551616",
        b"123456789012345678901",
        b" 1",
        b"1 ",
        b"-12",
    ];
    for c in cases {
        assert_eq!(canonical_int(c), canonical_int_reference(c), "{c:?}");
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let text = match seed % 4 {
            0 => (seed as i64).to_string(),
            1 => ((seed >> 40) as i64 - (1 << 23)).to_string(),
            2 => format!("{:0>3}", seed % 1000),
            _ => format!("-{}", seed % 100_000),
        };
        let b = text.as_bytes();
        assert_eq!(canonical_int(b), canonical_int_reference(b), "{text}");
    }
}

#[test]
fn lp_builder_writes_what_the_parser_reads_back() {
    let big = vec![b'q'; 70_000];
    let items: Vec<Vec<u8>> = vec![
        b"0".to_vec(),
        b"127".to_vec(),
        b"128".to_vec(),
        b"-1".to_vec(),
        b"-4096".to_vec(),
        b"4095".to_vec(),
        b"-32768".to_vec(),
        b"8388607".to_vec(),
        b"-8388609".to_vec(),
        b"2147483648".to_vec(),
        b"-9223372036854775808".to_vec(),
        b"007".to_vec(),
        vec![b'a'; 63],
        vec![b'b'; 64],
        vec![b'c'; 4095],
        vec![b'd'; 4096],
        big.clone(),
        Vec::new(),
    ];
    let mut lp = LpBuilder::new();
    let mut size = 7;
    for it in &items {
        lp.push(Scalar::Bytes(it));
        size += lp_entry_size(Scalar::Bytes(it));
    }
    lp.push(Scalar::Int(-77));
    size += lp_entry_size(Scalar::Int(-77));
    let bytes = lp.finish().to_vec();
    assert_eq!(bytes.len() as u64, size);
    let mut back: Vec<Vec<u8>> = Vec::new();
    rdbscope_parser::blob::listpack::for_each(&bytes, |s| {
        back.push(match s {
            Scalar::Int(v) => v.to_string().into_bytes(),
            Scalar::Bytes(b) => b.to_vec(),
        });
    })
    .expect("a valid listpack");
    let mut want = items.clone();
    want.push(b"-77".to_vec());
    assert_eq!(back, want);
}

#[test]
fn g17_matches_printf() {
    assert_eq!(format_g17(0.1), "0.10000000000000001");
    assert_eq!(format_g17(2.5e-3), "0.0025000000000000001");
    assert_eq!(format_g17(1e300), "1.0000000000000001e+300");
    assert_eq!(format_g17(-1.5), "-1.5");
}

#[test]
fn grown_buckets_follow_doubling_and_rehash() {
    // 16 -> 32 buckets at the 113th insert; 15 of 16 rehash steps done after 128.
    assert_eq!(grown_buckets(128), (32, 48));
    // 32 -> 64 at the 225th insert, rehashed long before 448.
    assert_eq!(grown_buckets(448), (64, 64));
    // 64 -> 128 at the 449th insert: 11 of 64 steps done after 460, all by 513.
    assert_eq!(grown_buckets(460), (128, 192));
    assert_eq!(grown_buckets(520), (128, 128));
    // Pre-sizing for 448 entries would have taken 128 buckets.
    assert_eq!(valkey_hashtable(448).0, 128);
}

#[test]
fn vset_past_127_fields_in_one_window_is_a_hashtable_bucket() {
    let m = Model::new(ServerLine::Valkey90, Allocator::Jemalloc);
    let t = 2_208_988_800_000;
    assert_eq!(m.vset_mem(1, t, t), 0);
    assert_eq!(m.vset_mem(100, t, t + 5_000), m.c(8 + 800));
    // One 16 ms window: the rax (32-byte struct, an 8-byte compressed root and a leaf)
    // and a hashtable of 520 pointers.
    let one = m.vset_mem(520, t, t + 15);
    let rax = 32 + crate::rax::alloc_size(&[[0u8; 8]], |n| m.c(n));
    assert_eq!(rax, 32 + 24 + 16);
    assert_eq!(one, rax + m.grown_hashtable(520));
    assert!(one > 72 + 64 * 128, "{one}");
    // Spread over several windows: the per-127 vector approximation.
    assert_eq!(
        m.vset_mem(520, t, t + 16),
        24 + 5 * 40 + m.c(8 + 8 * 104) * 5
    );
}

#[test]
fn shortest_len_lays_out_digits_as_fpconv_dtoa() {
    // The text `fpconv_dtoa` writes, worked out by hand from its layout rules.
    let text = |v: f64, s: &str| (v, ShortestText::Text(s.len() as u64));
    let cases = [
        text(0.1, "0.1"),
        text(-0.1, "-0.1"),
        text(1.5, "1.5"),
        text(123456.789, "123456.789"),
        text(0.001, "0.001"),
        text(0.000001, "0.000001"),
        text(1e-7, "1e-7"),
        text(1.25e-7, "1.25e-7"),
        text(-2.5e-10, "-2.5e-10"),
        text(1234.5678901, "1234.5678901"),
        text(12345.678901, "12345.678901"),
        text(1e300, "1e+300"),
        text(f64::MAX, "1.7976931348623157e+308"),
        text(5e-324, "5e-324"),
        text(1e22, "1e+22"),
        text(-9.5e18, "-9.5e+18"),
        // 2^63: plain digits, but past i64.
        text(9_223_372_036_854_775_808.0, "9223372036854776000"),
        (
            6_917_529_027_641_081_856.0,
            ShortestText::Integer(6_917_529_027_641_082_000),
        ),
    ];
    for (v, want) in cases {
        assert_eq!(shortest_len(v), want, "{v:e}");
    }
}

#[test]
fn lp_score_size_follows_double2ll_and_the_line_s_text() {
    // Integral within ±2^62: an integer entry on every line from 7.0.
    for shortest in [false, true] {
        assert_eq!(lp_score_size(3.0, shortest), lp_int_size(3));
        assert_eq!(lp_score_size(-0.0, shortest), lp_int_size(0));
        assert_eq!(
            lp_score_size(1e17, shortest),
            lp_int_size(100_000_000_000_000_000)
        );
        let top = 4_611_686_018_427_387_904.0;
        assert_eq!(lp_score_size(top, shortest), lp_int_size(1 << 62));
        assert_eq!(lp_score_size(-top, shortest), lp_int_size(-(1 << 62)));
        assert_eq!(lp_score_size(f64::INFINITY, shortest), lp_str_size(3));
        assert_eq!(lp_score_size(f64::NEG_INFINITY, shortest), lp_str_size(4));
    }
    // 7.0: `%.17g`; 7.2 on: the shortest text.
    assert_eq!(lp_score_size(0.1, false), lp_str_size(19));
    assert_eq!(lp_score_size(0.1, true), lp_str_size(3));
    assert_eq!(lp_score_size(1e19, false), lp_str_size(5));
    assert_eq!(lp_score_size(1e19, true), lp_str_size(5));
}

#[test]
fn skiplist_node_expectation_jemalloc8() {
    let m = Model::new(ServerLine::Redis72, Allocator::Jemalloc);
    assert!(
        (m.skiplist_node() - 45.84).abs() < 0.01,
        "{}",
        m.skiplist_node()
    );
}
