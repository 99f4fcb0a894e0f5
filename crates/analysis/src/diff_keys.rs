//! `diff --keys`: the exact per-key diff of two sides (appeared, disappeared, changed
//! type, grew and shrank most, lost or gained a TTL) in bounded memory. Each side's keys
//! are spilled to [`PARTITIONS`] temporary files by a hash of `(db, key)`; then each
//! partition's old keys are held in a table while its new keys stream past. Resident memory
//! is one partition's old keys, about 1/64 of one side, plus the top lists; the cost is
//! writing and reading both sides' keys once (about 30 bytes plus the key per key).

use crate::context::{FileContext, ModelChoice};
use crate::filter::KeyFilter;
use crate::report::escape_key;
use rdbscope_parser::{Record, Records, Scratch};
use serde::{Deserialize, Serialize};
use std::collections::{BinaryHeap, HashMap};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Temporary files per side.
pub const PARTITIONS: usize = 64;

/// One side's keys, spilled.
pub struct KeySpill {
    files: Vec<PathBuf>,
    writers: Vec<BufWriter<std::fs::File>>,
    keys: u64,
    bytes: u64,
}

/// What a spilled key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    ty: String,
    memory: u64,
    ttl: bool,
}

fn partition(db: u64, key: &[u8]) -> usize {
    // FNV-1a: stable, and the same on both sides.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ db;
    for &b in key {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % PARTITIONS as u64) as usize
}

impl KeySpill {
    /// A spill of side `side` (`old` or `new`) in directory `dir`.
    ///
    /// # Errors
    /// A temporary file cannot be created.
    pub fn new(dir: &Path, side: &str) -> std::io::Result<Self> {
        let mut files = Vec::with_capacity(PARTITIONS);
        let mut writers = Vec::with_capacity(PARTITIONS);
        for p in 0..PARTITIONS {
            let path = dir.join(format!("{side}-{p:02}.keys"));
            writers.push(BufWriter::with_capacity(
                64 << 10,
                std::fs::File::create(&path)?,
            ));
            files.push(path);
        }
        Ok(KeySpill {
            files,
            writers,
            keys: 0,
            bytes: 0,
        })
    }

    /// Adds one key.
    ///
    /// # Errors
    /// Writing the temporary file.
    pub fn add(
        &mut self,
        db: u64,
        key: &[u8],
        ty: &str,
        memory: u64,
        ttl: bool,
    ) -> std::io::Result<()> {
        let w = &mut self.writers[partition(db, key)];
        w.write_all(&db.to_le_bytes())?;
        w.write_all(&(key.len() as u64).to_le_bytes())?;
        w.write_all(key)?;
        w.write_all(&[ty.len() as u8])?;
        w.write_all(&ty.as_bytes()[..ty.len().min(255)])?;
        w.write_all(&memory.to_le_bytes())?;
        w.write_all(&[u8::from(ttl)])?;
        self.keys += 1;
        self.bytes += 26 + key.len() as u64 + ty.len() as u64;
        Ok(())
    }

    /// Adds every key of a dump that `filter` keeps, sized with the model `choice` picks
    /// for it (as `rdbscope keys` sizes them). Reading stops at damage: the error's text.
    ///
    /// # Errors
    /// Writing the temporary files.
    pub fn add_dump(
        &mut self,
        data: &[u8],
        choice: &ModelChoice,
        filter: &KeyFilter,
    ) -> std::io::Result<Option<String>> {
        let records = match Records::new(data) {
            Ok(r) => r,
            Err(e) => return Ok(Some(e.to_string())),
        };
        let mut ctx = FileContext::new(Some(&records.header()));
        let mut scratch = Scratch::new();
        let mut key_buf = Vec::new();
        for r in records {
            let rec = match r {
                Ok(r) => r,
                Err(e) => return Ok(Some(e.to_string())),
            };
            let Record::Key(k) = rec else {
                ctx.observe(&rec);
                continue;
            };
            let Ok(key) = k.key.bytes(&mut key_buf) else {
                continue;
            };
            let dt = k.value.data_type();
            let expired = ctx.expired(k.expire_ms) == Some(true);
            if !filter.keep_key(k.db, key, dt, k.expire_ms, expired) {
                continue;
            }
            let est = ctx
                .model(choice)
                .and_then(|m| m.estimate_memory(&k, &mut scratch).ok());
            if !filter.keep_estimate(est.map(|e| e.memory), est.map(|e| e.elements)) {
                continue;
            }
            self.add(
                k.db,
                key,
                dt.as_str(),
                est.map_or(0, |e| e.memory),
                k.expire_ms.is_some(),
            )?;
        }
        Ok(None)
    }

    fn finish(mut self) -> std::io::Result<(Vec<PathBuf>, u64, u64)> {
        for w in &mut self.writers {
            w.flush()?;
        }
        Ok((self.files, self.keys, self.bytes))
    }
}

/// Reads one spilled key, `None` at the end.
fn read_entry(r: &mut impl Read) -> std::io::Result<Option<(u64, Vec<u8>, Entry)>> {
    let mut u = [0u8; 8];
    match r.read_exact(&mut u) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let db = u64::from_le_bytes(u);
    r.read_exact(&mut u)?;
    // Written by this process a moment ago: the length is one of ours, not untrusted.
    let mut key = vec![0u8; usize::try_from(u64::from_le_bytes(u)).unwrap_or(0)];
    r.read_exact(&mut key)?;
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    let mut ty = vec![0u8; usize::from(b[0])];
    r.read_exact(&mut ty)?;
    r.read_exact(&mut u)?;
    let memory = u64::from_le_bytes(u);
    r.read_exact(&mut b)?;
    Ok(Some((
        db,
        key,
        Entry {
            ty: String::from_utf8_lossy(&ty).into_owned(),
            memory,
            ttl: b[0] != 0,
        },
    )))
}

/// A key that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyChange {
    /// Database.
    pub db: u64,
    /// The key, escaped.
    pub key: String,
    /// Its type in the old side (*null*: it was not there).
    pub type_old: Option<String>,
    /// Its type in the new side (*null*: it is gone).
    pub type_new: Option<String>,
    /// Its memory in the old side.
    pub memory_old: Option<u64>,
    /// Its memory in the new side.
    pub memory_new: Option<u64>,
    /// `memory_new − memory_old` (missing sides count 0).
    pub delta: i64,
}

/// Keys and their memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// Keys.
    pub keys: u64,
    /// Their memory (the new side's, for keys of both sides; the old side's for
    /// disappeared keys).
    pub memory: u64,
}

/// The per-key diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysDiff {
    /// Keys read from the old side (after filters).
    pub old_keys: u64,
    /// Keys read from the new side.
    pub new_keys: u64,
    /// Keys in the new side only.
    pub appeared: Count,
    /// Keys in the old side only.
    pub disappeared: Count,
    /// Keys in both whose type changed.
    pub changed_type: Count,
    /// Keys in both that grew.
    pub grew: Count,
    /// Keys in both that shrank.
    pub shrank: Count,
    /// Keys in both that had a TTL and have none now.
    pub lost_ttl: Count,
    /// Keys in both that had no TTL and have one now.
    pub gained_ttl: Count,
    /// The biggest appeared keys.
    pub top_appeared: Vec<KeyChange>,
    /// The biggest disappeared keys.
    pub top_disappeared: Vec<KeyChange>,
    /// The keys that grew most.
    pub top_grew: Vec<KeyChange>,
    /// The keys that shrank most.
    pub top_shrank: Vec<KeyChange>,
    /// The biggest keys that lost their TTL.
    pub top_lost_ttl: Vec<KeyChange>,
    /// The biggest keys whose type changed.
    pub top_changed_type: Vec<KeyChange>,
    /// Bytes spilled to temporary files (both sides).
    pub spilled_bytes: u64,
}

/// A ranked entry: score, db, key, and the change.
type Ranked = (u64, u64, Vec<u8>, KeyChangeSlot);

/// A top-N list by a score, kept in a min-heap of N.
struct Top {
    n: usize,
    heap: BinaryHeap<std::cmp::Reverse<Ranked>>,
}

/// The change, carried beside its ordering key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct KeyChangeSlot(Option<String>, Option<String>, Option<u64>, Option<u64>);

impl Top {
    fn new(n: usize) -> Self {
        Top {
            n,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, score: u64, db: u64, key: &[u8], old: Option<&Entry>, new: Option<&Entry>) {
        if self.n == 0 {
            return;
        }
        if self.heap.len() == self.n {
            if let Some(std::cmp::Reverse(min)) = self.heap.peek() {
                if (score, db) <= (min.0, min.1) {
                    return;
                }
            }
        }
        let slot = KeyChangeSlot(
            old.map(|e| e.ty.clone()),
            new.map(|e| e.ty.clone()),
            old.map(|e| e.memory),
            new.map(|e| e.memory),
        );
        self.heap
            .push(std::cmp::Reverse((score, db, key.to_vec(), slot)));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn list(self) -> Vec<KeyChange> {
        let mut v: Vec<_> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (a.1, &a.2).cmp(&(b.1, &b.2))));
        v.into_iter()
            .map(|(_, db, key, s)| KeyChange {
                db,
                key: escape_key(&key),
                delta: s.3.unwrap_or(0) as i64 - s.2.unwrap_or(0) as i64,
                type_old: s.0,
                type_new: s.1,
                memory_old: s.2,
                memory_new: s.3,
            })
            .collect()
    }
}

/// Compares two spilled sides, `top` keys per list.
///
/// # Errors
/// Reading the temporary files.
pub fn compare(old: KeySpill, new: KeySpill, top: usize) -> std::io::Result<KeysDiff> {
    let (old_files, old_keys, old_bytes) = old.finish()?;
    let (new_files, new_keys, new_bytes) = new.finish()?;
    let mut d = KeysDiff {
        old_keys,
        new_keys,
        appeared: Count::default(),
        disappeared: Count::default(),
        changed_type: Count::default(),
        grew: Count::default(),
        shrank: Count::default(),
        lost_ttl: Count::default(),
        gained_ttl: Count::default(),
        top_appeared: Vec::new(),
        top_disappeared: Vec::new(),
        top_grew: Vec::new(),
        top_shrank: Vec::new(),
        top_lost_ttl: Vec::new(),
        top_changed_type: Vec::new(),
        spilled_bytes: old_bytes + new_bytes,
    };
    let (mut t_app, mut t_dis, mut t_grew, mut t_shrank, mut t_lost, mut t_type) = (
        Top::new(top),
        Top::new(top),
        Top::new(top),
        Top::new(top),
        Top::new(top),
        Top::new(top),
    );
    let add = |c: &mut Count, m: u64| {
        c.keys += 1;
        c.memory += m;
    };
    for (of, nf) in old_files.iter().zip(&new_files) {
        let mut olds: HashMap<(u64, Vec<u8>), Entry> = HashMap::new();
        let mut r = BufReader::new(std::fs::File::open(of)?);
        while let Some((db, key, e)) = read_entry(&mut r)? {
            olds.insert((db, key), e);
        }
        let mut r = BufReader::new(std::fs::File::open(nf)?);
        while let Some((db, key, n)) = read_entry(&mut r)? {
            let k = (db, key);
            match olds.remove(&k) {
                None => {
                    add(&mut d.appeared, n.memory);
                    t_app.push(n.memory, db, &k.1, None, Some(&n));
                }
                Some(o) => {
                    if o.ty != n.ty {
                        add(&mut d.changed_type, n.memory);
                        t_type.push(n.memory, db, &k.1, Some(&o), Some(&n));
                    }
                    if n.memory > o.memory {
                        add(&mut d.grew, n.memory);
                        t_grew.push(n.memory - o.memory, db, &k.1, Some(&o), Some(&n));
                    } else if n.memory < o.memory {
                        add(&mut d.shrank, n.memory);
                        t_shrank.push(o.memory - n.memory, db, &k.1, Some(&o), Some(&n));
                    }
                    if o.ttl && !n.ttl {
                        add(&mut d.lost_ttl, n.memory);
                        t_lost.push(n.memory, db, &k.1, Some(&o), Some(&n));
                    } else if !o.ttl && n.ttl {
                        add(&mut d.gained_ttl, n.memory);
                    }
                }
            }
        }
        for ((db, key), o) in olds {
            add(&mut d.disappeared, o.memory);
            t_dis.push(o.memory, db, &key, Some(&o), None);
        }
        let _ = std::fs::remove_file(of);
        let _ = std::fs::remove_file(nf);
    }
    d.top_appeared = t_app.list();
    d.top_disappeared = t_dis.list();
    d.top_grew = t_grew.list();
    d.top_shrank = t_shrank.list();
    d.top_lost_ttl = t_lost.list();
    d.top_changed_type = t_type.list();
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_across_partitions() {
        let dir = std::env::temp_dir().join(format!("rdbscope-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut old = KeySpill::new(&dir, "old").unwrap();
        let mut new = KeySpill::new(&dir, "new").unwrap();
        for i in 0..1000u64 {
            let k = format!("k:{i}");
            old.add(0, k.as_bytes(), "string", 100, i % 2 == 0).unwrap();
            if i < 900 {
                let ty = if i == 5 { "hash" } else { "string" };
                let mem = if i < 10 { 100 + i * 10 } else { 100 };
                new.add(0, k.as_bytes(), ty, mem, i % 4 == 0).unwrap();
            }
        }
        new.add(1, b"k:0", "string", 7, false).unwrap();
        let d = compare(old, new, 3).unwrap();
        assert_eq!((d.old_keys, d.new_keys), (1000, 901));
        assert_eq!(
            d.disappeared,
            Count {
                keys: 100,
                memory: 10_000
            }
        );
        assert_eq!(d.appeared, Count { keys: 1, memory: 7 });
        assert_eq!(d.changed_type.keys, 1);
        assert_eq!(d.grew.keys, 9);
        // Even keys had a TTL; those not divisible by 4 lost it (of the 900 in both).
        assert_eq!(d.lost_ttl.keys, 225);
        assert_eq!(d.top_grew[0].key, "k:9");
        assert_eq!(d.top_grew[0].delta, 90);
        assert_eq!(d.top_grew.len(), 3);
        assert_eq!(d.top_appeared[0].db, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
