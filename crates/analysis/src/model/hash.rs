//! Hashes: listpack, listpackex (field TTLs), dict and Valkey hashtable sizes.

use super::*;

impl Model {
    /// Hashes with field TTLs (Redis 7.4+ types 24/25): a `listpackex` (listpack of
    /// field, value, TTL triplets behind a 32-byte `listpackEx` header) while small, else a
    /// hashtable whose TTL fields carry 18 bytes of metadata (`mstrNewWithMeta`).
    pub(super) fn hash_with_ttls(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
    ) -> Result<KeyEstimate> {
        let t = &self.thresholds;
        // Counted over the fields that survive the field expiry (`n`, `lp`, `elesize`) and
        // over the file's fields (`n_file`, `convert_at`), which decide the load path.
        let (mut n, mut n_file, mut largest, mut lp, mut elesize) = (0u64, 0u64, 0u64, 7u64, 0u64);
        let mut convert_at: Option<u64> = None;
        k.value.for_each_element(scratch, |e| {
            if let Element::Field(f, v, ttl) = e {
                if convert_at.is_none() && f.len().max(v.len()) > t.hash_value {
                    convert_at = Some(n_file);
                }
                n_file += 1;
                if !self.field_alive(ttl) {
                    return;
                }
                n += 1;
                largest = largest.max(f.len()).max(v.len());
                lp += lp_entry_size(f) + lp_entry_size(v) + lp_int_size(ttl.unwrap_or(0));
                elesize += self.hash_entry(f.len(), v.len(), ttl.is_some()) + 24;
            }
        })?;
        let from_blob = matches!(
            k.value.kind(),
            ValueKind::HashListpackEx | ValueKind::HashListpackExPreGa
        );
        if n_file <= t.hash_entries && convert_at.is_none() {
            // Expired fields are deleted from the listpack, which is reallocated to fit.
            let lp = match k.value.blob() {
                Some(b) if from_blob && n == n_file => b.data.len(),
                _ => lp,
            };
            return Ok(KeyEstimate {
                memory: 16 + self.c(32) + self.blob(lp),
                encoding: Encoding::ListpackEx,
                elements: n,
                largest_element: largest,
            });
        }
        // Dict sizing (`rdbLoadObject`): a listpackEx blob over the limit is converted with
        // `dictExpand(all fields)`; RDB_TYPE_HASH_METADATA over the limit starts as an empty
        // dict grown by inserts, otherwise as a listpackEx converted at the first long field
        // with `dictTryExpand(remaining)`. The field expiry then deletes the expired fields
        // (each delete a rehash step, a shrink below 1/8 full). A dict still rehashing
        // counts both tables.
        let mut d = if from_blob {
            DictSim::with_size(n_file)
        } else if n_file > t.hash_entries {
            let mut d = DictSim::with_size(0);
            for _ in 0..n_file {
                d.add();
            }
            d
        } else {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            let remaining = n_file - i;
            if remaining > 4 {
                d.try_expand(remaining);
            }
            for _ in 0..remaining {
                d.add();
            }
            d
        };
        if from_blob {
            d.used0 = n_file;
        }
        for _ in n..n_file {
            d.remove();
        }
        let memory = sampled(16 + 56 + 8 * d.slots(), elesize, n, n);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Hashtable,
            elements: n,
            largest_element: largest,
        })
    }

    pub(super) fn hash(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        if matches!(
            k.value.kind(),
            ValueKind::HashListpackEx
                | ValueKind::HashListpackExPreGa
                | ValueKind::HashMetadata
                | ValueKind::HashMetadataPreGa
        ) {
            return self.hash_with_ttls(k, scratch);
        }
        let t = &self.thresholds;
        let total = k.value.element_count(scratch)?;
        let mut n = 0u64;
        let mut largest = 0u64;
        let mut lp = 7u64;
        let mut convert_at: Option<u64> = None;
        let mut zl = Ziplist::default();
        let mut elesize = 0u64;
        let from_blob = k.value.blob().is_some();
        // A listpack / ziplist built by the loader is sized only for a type 4 record (a
        // blob keeps its own size), the ziplist only on 6.2.
        // Neither is needed when the count already rules the small encoding out.
        let small = total <= t.hash_entries;
        let size_lp = !from_blob && small;
        let size_zl = !from_blob && small && self.line == ServerLine::Redis62;
        // Fields are mstr blocks, counted by their usable size on every line. Lines other
        // than 8.6 count the field and value sds apart: looked up for a big hash.
        let sizes = (self.line != ServerLine::Redis86)
            .then(|| self.sds_table(total))
            .flatten();
        let mut pair = |f: u64, v: u64| {
            let l = f.max(v);
            largest = largest.max(l);
            if convert_at.is_none() && l > t.hash_value {
                convert_at = Some(n);
            }
            elesize += match &sizes {
                Some(s) => self.sds_via(Some(s), f) + self.sds_alloc_via(Some(s), v),
                None => self.hash_entry(f, v, false),
            } + 24;
            n += 1;
        };
        let by_len = !size_lp && !detail && for_each_len_pair(&k.value, &mut pair)?;
        if !by_len {
            k.value.for_each_element(scratch, |e| {
                if let Element::Field(f, v, _) = e {
                    if size_lp {
                        lp += lp_entry_size(f) + lp_entry_size(v);
                    }
                    if size_zl {
                        zl.push(f);
                        zl.push(v);
                    }
                    pair(f.len(), v.len());
                }
            })?;
        }
        // Valkey 9 keeps every hash with field TTLs (HASH_2) as a hashtable.
        let force_ht = k.value.kind() == ValueKind::ValkeyHash2;
        if self.line == ServerLine::Redis62 && n <= t.hash_entries && convert_at.is_none() {
            let memory = 16
                + if from_blob {
                    k.value.blob().map_or(0, |b| b.data.len())
                } else {
                    zl.bytes()
                };
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Ziplist,
                elements: total,
                largest_element: largest,
            });
        }
        if !force_ht && n <= t.hash_entries && convert_at.is_none() {
            let memory = if from_blob {
                16 + self.blob(k.value.blob().map_or(0, |b| b.data.len()))
            } else {
                16 + self.blob(lp)
            };
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Listpack,
                elements: total,
                largest_element: largest,
            });
        }
        // Dict sizing at load (`rdbLoadObject` RDB_TYPE_HASH): pre-sized to the length when
        // over the entry limit; otherwise converted at the first long field (pre-sized to
        // the entries so far), then `dictTryExpand(remaining)`, then grown by inserts. The
        // dict may still be rehashing when loading ends: both tables count.
        // Redis 8.6 expands the converted dict to the hash's full length right away (a
        // rehash from the converted table, advanced by the remaining inserts).
        let buckets = if n > t.hash_entries || from_blob {
            dict_buckets(n)
        } else if self.line == ServerLine::Redis86 {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            d.try_expand(n);
            for _ in i..n {
                d.add();
            }
            d.slots()
        } else {
            let i = convert_at.unwrap_or(0);
            let mut d = DictSim::with_size(i);
            d.used0 = i;
            d.add();
            let remaining = n - i - 1;
            if remaining > 4 {
                d.try_expand(remaining);
            }
            for _ in 0..remaining {
                d.add();
            }
            d.slots()
        };
        if self.is_valkey_hashtable() {
            // `hashTypeEntryMemUsage`: field and value in one block when it stays within
            // 128 bytes, else the field block plus the value's sds.
            let mut entries = 0u64;
            let mut volatile = 0u64;
            let (mut min_ttl, mut max_ttl) = (i64::MAX, i64::MIN);
            let mut entry = |f: u64, v: u64, ttl: Option<i64>| {
                if let Some(t) = ttl {
                    volatile += 1;
                    min_ttl = min_ttl.min(t);
                    max_ttl = max_ttl.max(t);
                }
                let ttl = ttl.is_some();
                // A field with a TTL has at least an sds8 header and an 8-byte expiry.
                let (min_hdr, expiry) = if ttl { (3, 8) } else { (0, 0) };
                let fs = self.hdr(f).max(min_hdr) + f + 1 + expiry;
                let embedded = fs + 3 + v + 1;
                entries += if embedded <= 128 {
                    self.c(embedded)
                } else {
                    // The field block holds the value's pointer, and the expiry too.
                    self.c(8 + self.hdr(f).max(3) + f + 1 + expiry) + self.sds(v)
                };
            };
            // Plain type 4 hashes have no field TTLs: their lengths are enough.
            let by_len = !detail && for_each_len_pair(&k.value, |f, v| entry(f, v, None))?;
            if !by_len {
                k.value.for_each_element(scratch, |e| {
                    if let Element::Field(f, v, ttl) = e {
                        entry(f.len(), v.len(), ttl);
                    }
                })?;
            }
            let extra = if self.line == ServerLine::Valkey90 {
                8 + self.vset_mem(volatile, min_ttl, max_ttl)
            } else {
                0
            };
            let memory = 16 + self.hashtable_mem(n) + entries + extra;
            return Ok(KeyEstimate {
                memory,
                encoding: Encoding::Hashtable,
                elements: n,
                largest_element: largest,
            });
        }
        let memory = sampled(16 + self.dict_struct() + 8 * buckets, elesize, n, n);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Hashtable,
            elements: n,
            largest_element: largest,
        })
    }
}
