//! `--salvage` against known damage: every dump of `fixtures/` and `../shared/corpus`
//! with runs of random bytes written over it at seeded places (1, 2 and 5 regions). The
//! salvaged keys outside the damaged records must be keys of the intact file, with the same
//! value bytes at the same offset (so the same memory), and at least 99% of the keys whose
//! records the damage did not touch must come back (over the corpus). Random bytes and runs of one repeated
//! byte give no key at all; two dumps joined give both files' keys.

use rdbscope_parser::{Record, Records, Resync};
use std::path::{Path, PathBuf};

/// A key as the intact file has it: where its record lies, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    offset: u64,
    size: u64,
    name: Vec<u8>,
    /// Where the value starts: a key whose record lost a damaged attribute (its expire
    /// time) is still this key.
    value_at: u64,
    value: Vec<u8>,
}

impl Key {
    fn same(&self, other: &Key) -> bool {
        (self.value_at, &self.name, &self.value) == (other.value_at, &other.name, &other.value)
    }
}

/// Keys read with salvage on, and the regions skipped.
fn salvage(data: &[u8]) -> (Vec<Key>, Vec<(u64, u64, Resync)>) {
    let mut keys = Vec::new();
    let mut regions: Vec<(u64, u64, Resync)> = Vec::new();
    let Ok(recs) = Records::new(data) else {
        return (keys, regions);
    };
    for rec in recs.salvage(true) {
        match rec {
            Ok(Record::Key(k)) => keys.push(Key {
                offset: k.offset,
                size: k.size,
                name: k.key.to_vec().unwrap_or_default(),
                value_at: k.value.offset(),
                value: k.value.raw().to_vec(),
            }),
            Ok(Record::Skipped {
                start, end, resync, ..
            }) => regions.push((start, end, resync)),
            Ok(_) => {}
            Err(e) => panic!("an error came out of a salvaging iterator: {e}"),
        }
    }
    (keys, regions)
}

fn dumps() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    let corpus = root.join("../shared/corpus");
    match std::fs::read_dir(&corpus) {
        Ok(dirs) => out.extend(
            dirs.flatten()
                .map(|d| d.path().join("dump.rdb"))
                .filter(|p| p.is_file()),
        ),
        Err(_) => eprintln!("skipping the corpus: {} not found", corpus.display()),
    }
    out.sort();
    out
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn salvage_seeded_damage_recovers_the_untouched_keys_and_no_false_ones() {
    let (mut untouched, mut recovered, mut false_keys, mut runs) = (0u64, 0u64, 0u64, 0u64);
    // Per corpus dump: (untouched, recovered) over its damaged copies.
    let mut per_dump: Vec<(PathBuf, u64, u64)> = Vec::new();
    for path in dumps() {
        let (before_u, before_r) = (untouched, recovered);
        let data = std::fs::read(&path).unwrap();
        let (truth, regions) = salvage(&data);
        assert!(
            regions.is_empty(),
            "{}: the intact file has damage",
            path.display()
        );
        if truth.len() < 4 {
            continue;
        }
        let first = truth[0].offset;
        let seeds = (1u64..=8).chain(21..=28);
        for (seed, n) in seeds.zip([1usize, 2, 5, 1, 2, 5, 5, 5].into_iter().cycle()) {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed << 32) ^ data.len() as u64);
            let mut bad = data.clone();
            let mut damaged: Vec<(u64, u64)> = Vec::new();
            // Damage lands among the key records (after the header and AUX fields).
            let span = data.len() as u64 - first - 16;
            for _ in 0..n {
                let at = first + rng.below(span);
                let len = 1 + rng.below(48);
                for b in bad.iter_mut().skip(at as usize).take(len as usize) {
                    *b = rng.next() as u8;
                }
                damaged.push((at, at + len));
            }
            let touched = |k: &Key| {
                damaged
                    .iter()
                    .any(|&(s, e)| k.offset < e && s < k.offset + k.size)
            };
            let (got, _) = salvage(&bad);
            runs += 1;
            for k in &got {
                let genuine = truth.iter().any(|t| t.same(k));
                if !genuine && !touched(k) {
                    false_keys += 1;
                    eprintln!(
                        "{} seed {seed}: false key at {} ({} bytes), damage {damaged:?}",
                        path.display(),
                        k.offset,
                        k.size
                    );
                }
            }
            for t in truth.iter().filter(|t| !touched(t)) {
                untouched += 1;
                recovered += u64::from(got.iter().any(|k| k.same(t)));
            }
        }
        if path.ends_with("dump.rdb") {
            per_dump.push((path.clone(), untouched - before_u, recovered - before_r));
        }
    }
    eprintln!(
        "salvage: {runs} damaged files, {recovered} of {untouched} untouched keys recovered, \
         {false_keys} false keys"
    );
    assert_eq!(false_keys, 0, "false keys outside the damage");
    // Over the corpus dumps (thousands of keys each; the fixtures are too small for a share
    // to mean much: a region costs the two records after it and those it covers). Per
    // dump, the lowest share is printed: damage inside a big plain-encoded collection can
    // cost more (docs/forensics.md).
    let (u, r) = per_dump
        .iter()
        .fold((0, 0), |(u, r), (_, du, dr)| (u + du, r + dr));
    let worst = per_dump
        .iter()
        .map(|(p, u, r)| (*r as f64 / (*u).max(1) as f64, p))
        .min_by(|a, b| a.0.total_cmp(&b.0));
    eprintln!("salvage: corpus {r} of {u} untouched keys; lowest dump {worst:?}");
    assert!(
        r * 100 >= u * 99,
        "recovered {r} of {u} untouched corpus keys"
    );
}

#[test]
fn salvage_random_and_repeated_bytes_give_no_keys() {
    let mut rng = Rng(7);
    // A header, then a byte no record starts with: the rest is scanned.
    let head = b"REDIS0011\x08".as_slice();
    let mut random = head.to_vec();
    random.extend((0..(4 << 20)).map(|_| rng.next() as u8));
    for (what, body) in [
        ("random", random),
        ("zeros", [head, &[0u8; 1 << 20]].concat()),
        ("0xff", [head, &[0xffu8; 1 << 20]].concat()),
        ("0x01", [head, &[0x01u8; 1 << 20]].concat()),
    ] {
        let (keys, regions) = salvage(&body);
        assert!(keys.is_empty(), "{what}: {} false keys", keys.len());
        let end = regions.last().map(|r| (r.1, r.2));
        assert_eq!(
            end,
            Some((body.len() as u64, Resync::InputEnd)),
            "{what}: {regions:?}"
        );
    }
}

#[test]
fn salvage_two_joined_dumps_give_both_files_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let a = std::fs::read(root.join("mixed.rdb")).unwrap();
    let b = std::fs::read(root.join("expiry.rdb")).unwrap();
    // A bad copy: the first file cut just after the type byte of a record in its middle
    // (so the record cannot swallow the second file's header), the second appended whole.
    let (keys_a, _) = salvage(&a);
    let cut = keys_a
        .iter()
        .map(|k| k.offset as usize + 1)
        .find(|&o| o > a.len() / 2)
        .unwrap();
    let joined = [&a[..cut], &b[..]].concat();
    let (keys_b, _) = salvage(&b);
    let (keys, regions) = salvage(&joined);
    assert_eq!(regions.len(), 1, "{regions:?}");
    assert_eq!(regions[0].1, cut as u64);
    assert_eq!(regions[0].2, Resync::Header);
    let before = keys_a
        .iter()
        .filter(|k| k.offset + k.size <= cut as u64)
        .count();
    eprintln!(
        "{} keys of {} before the cut, {} of the second file, {} in all",
        before,
        keys_a.len(),
        keys_b.len(),
        keys.len()
    );
    assert_eq!(keys.len(), before + keys_b.len(), "{regions:?}");
}
