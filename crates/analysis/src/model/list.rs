//! Lists: listpack and quicklist sizes, nodes rebuilt as the loading server packs them,
//! and `list-compress-depth`.

use super::*;

/// A quicklist node as the model sizes it: (plain, bytes, elements, compressed bytes).
type ListNode = (bool, u64, u64, Option<u64>);

impl Model {
    pub(super) fn list(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        // The node table is reused across keys (no allocation per list key).
        thread_local! {
            static NODES: std::cell::Cell<Vec<ListNode>> = const { std::cell::Cell::new(Vec::new()) };
        }
        NODES.with(|cell| {
            let mut nodes = cell.take();
            nodes.clear();
            let r = self.list_into(k, scratch, &mut nodes, detail);
            cell.set(nodes);
            r
        })
    }

    pub(super) fn list_into(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        nodes: &mut Vec<ListNode>,
        detail: bool,
    ) -> Result<KeyEstimate> {
        // Node sizes: PACKED nodes keep the file's listpack (`quicklistAppendListpack`);
        // ziplist nodes and old list types are rebuilt as listpacks by appending.
        // (plain, bytes, count, compressed bytes)
        let mut largest = 0u64;
        match k.value.kind() {
            ValueKind::ListQuicklist2 => {
                k.value.for_each_node(|node| {
                    match node.container {
                        NodeContainer::Plain => {
                            largest = largest.max(node.data.len());
                            nodes.push((true, node.data.len(), 1, None));
                        }
                        _ if !detail => {
                            // The node's size and count come from the listpack header.
                            let blob = Blob {
                                kind: BlobKind::Listpack,
                                data: node.data,
                            };
                            let count = match blob.header_count(scratch.buf())? {
                                Some(n) => n,
                                None => {
                                    let bytes = node.data.bytes(scratch.buf())?;
                                    rdbscope_parser::blob::listpack::for_each(bytes, |_| {})
                                        .map_err(|e| node_err(&node, e))?
                                }
                            };
                            if count > 0 {
                                nodes.push((false, node.data.len(), count, None));
                            }
                        }
                        _ => {
                            let mut count = 0u64;
                            let bytes = node.data.bytes(scratch.buf())?;
                            rdbscope_parser::blob::listpack::for_each(bytes, |s| {
                                count += 1;
                                largest = largest.max(s.len());
                            })
                            .map_err(|e| node_err(&node, e))?;
                            if count > 0 {
                                nodes.push((false, node.data.len(), count, None));
                            }
                        }
                    }
                    Ok(())
                })?;
                let depth = self.thresholds.list_compress_depth as usize;
                if depth > 0 && nodes.len() > 2 * depth {
                    // `__quicklistCompress`: every node but `depth` at each end is stored
                    // LZF-compressed when that saves at least 8 bytes.
                    let (lo, hi) = (depth, nodes.len() - depth);
                    let mut i = 0usize;
                    let mut buf = Vec::new();
                    k.value.for_each_node(|node| {
                        let plain = matches!(node.container, NodeContainer::Plain);
                        let bytes = node.data.bytes(&mut buf)?;
                        if !plain
                            && matches!(
                                rdbscope_parser::blob::listpack::header(bytes),
                                Ok((_, Some(0)))
                            )
                        {
                            return Ok(());
                        }
                        if (lo..hi).contains(&i) {
                            if let Some(c) = compressed_size(bytes) {
                                nodes[i].3 = Some(c);
                            }
                        }
                        i += 1;
                        Ok(())
                    })?;
                }
            }
            _ => {
                // Rebuild: one listpack per ziplist node (type 14), or packed by the fill
                // limit for linked lists and single ziplists.
                let mut cur = (false, 7u64, 0u64, None);
                let per_node = k.value.kind() == ValueKind::ListQuicklist;
                if per_node && self.line == ServerLine::Redis62 {
                    // 6.2 keeps ziplist nodes and counts `ziplistBlobLen`.
                    // (ziplistBlobLen, count, compressed length)
                    let mut raw: Vec<(u64, u64, Option<u64>)> = Vec::new();
                    let mut buf = Vec::new();
                    k.value.for_each_node(|node| {
                        let mut count = 0u64;
                        let bytes = node.data.bytes(&mut buf)?;
                        let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| {
                            count += 1;
                            largest = largest.max(s.len());
                        });
                        // The loader skips empty ziplists.
                        if count > 0 {
                            raw.push((node.data.len(), count, None));
                        }
                        Ok(())
                    })?;
                    let depth = self.thresholds.list_compress_depth as usize;
                    if depth > 0 && raw.len() > 2 * depth {
                        // `__quicklistCompress` as the nodes are appended: all but `depth`
                        // nodes at each end end up compressed when that saves 8 bytes.
                        let (lo, hi) = (depth, raw.len() - depth);
                        let mut i = 0usize;
                        k.value.for_each_node(|node| {
                            let bytes = node.data.bytes(&mut buf)?;
                            let mut count = 0u64;
                            let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |_| count += 1);
                            if count == 0 {
                                return Ok(());
                            }
                            if (lo..hi).contains(&i) {
                                raw[i].2 = compressed_size(bytes);
                            }
                            i += 1;
                            Ok(())
                        })?;
                    }
                    let elements = raw.iter().map(|r| r.1).sum();
                    // 6.2's quicklistNode is 32 bytes; `ziplistBlobLen` of a compressed
                    // node reads the `quicklistLZF`'s first field, the compressed length.
                    let elesize: u64 = raw.iter().map(|r| 32 + r.2.unwrap_or(r.0)).sum();
                    let memory = sampled(16 + 40, elesize, raw.len() as u64, raw.len() as u64);
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Quicklist,
                        elements,
                        largest_element: largest,
                    });
                }
                let node_sizes = &mut *nodes;
                if per_node {
                    k.value.for_each_node(|node| {
                        let mut lp = 7u64;
                        let mut count = 0;
                        let mut buf = Vec::new();
                        let bytes = node.data.bytes(&mut buf)?;
                        let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| {
                            lp += lp_entry_size(s);
                            count += 1;
                            largest = largest.max(s.len());
                        });
                        if count > 0 {
                            node_sizes.push((false, lp, count, None));
                        }
                        Ok(())
                    })?;
                } else {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Item(s) = e {
                            let sz = lp_entry_size(s);
                            largest = largest.max(s.len());
                            if cur.2 > 0 && cur.1 + sz > 8192 {
                                node_sizes.push(cur);
                                cur = (false, 7, 0, None);
                            }
                            cur.1 += sz;
                            cur.2 += 1;
                        }
                    })?;
                    if cur.2 > 0 {
                        node_sizes.push(cur);
                    }
                }
                let depth = self.thresholds.list_compress_depth as usize;
                if depth > 0 && node_sizes.len() > 2 * depth {
                    self.compress_rebuilt(k, scratch, per_node, depth, node_sizes)?;
                }
            }
        }
        let elements: u64 = nodes.iter().map(|n| n.2).sum();
        let (sz_limit, count_limit) = if self.thresholds.list_size >= 0 {
            (8192, self.thresholds.list_size.max(1) as u64)
        } else {
            let idx = (-self.thresholds.list_size - 1).clamp(0, 4) as u32;
            (4096u64 << idx, u64::MAX)
        };
        if self.line.has_list_listpack()
            && nodes.len() == 1
            && !nodes[0].0
            && nodes[0].1 <= sz_limit
            && nodes[0].2 <= count_limit
        {
            return Ok(KeyEstimate {
                memory: 16 + self.blob(nodes[0].1),
                encoding: Encoding::Listpack,
                elements,
                largest_element: largest,
            });
        }
        // A compressed node is counted as its `quicklistLZF` (8-byte length + data).
        let elesize: u64 = nodes
            .iter()
            .map(|n| 40 + n.3.map_or_else(|| self.blob(n.1), |c| self.blob(8 + c)))
            .sum();
        // `(double)elesize/samples*ql->len` over the nodes (every line from 7.0).
        let memory = sampled(16 + 40, elesize, nodes.len() as u64, nodes.len() as u64);
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Quicklist,
            elements,
            largest_element: largest,
        })
    }

    /// `list-compress-depth` over a list the loader rebuilt from a pre-7.0 record: the
    /// listpack of every node between the `depth` plain nodes at each end is rebuilt
    /// byte for byte ([`LpBuilder`], the same splitting as the sizing pass) and its LZF
    /// size kept when compression pays (`__quicklistCompressNode`).
    pub(super) fn compress_rebuilt(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        per_node: bool,
        depth: usize,
        nodes: &mut [(bool, u64, u64, Option<u64>)],
    ) -> Result<()> {
        let (lo, hi) = (depth, nodes.len() - depth);
        let mut lp = LpBuilder::new();
        let mut i = 0usize;
        if per_node {
            let mut buf = Vec::new();
            k.value.for_each_node(|node| {
                let bytes = node.data.bytes(&mut buf)?;
                lp.clear();
                let _ = rdbscope_parser::blob::ziplist::for_each(bytes, |s| lp.push(s));
                if lp.count == 0 {
                    return Ok(());
                }
                if (lo..hi).contains(&i) {
                    if let Some(n) = nodes.get_mut(i) {
                        n.3 = compressed_size(lp.finish());
                    }
                }
                i += 1;
                Ok(())
            })?;
        } else {
            let mut size = 7u64;
            k.value.for_each_element(scratch, |e| {
                if let Element::Item(s) = e {
                    let sz = lp_entry_size(s);
                    if lp.count > 0 && size + sz > 8192 {
                        if (lo..hi).contains(&i) {
                            if let Some(n) = nodes.get_mut(i) {
                                n.3 = compressed_size(lp.finish());
                            }
                        }
                        i += 1;
                        lp.clear();
                        size = 7;
                    }
                    size += sz;
                    lp.push(s);
                }
            })?;
            // The last node is within `depth` of the tail: never compressed.
        }
        Ok(())
    }

    /// Sets, hashes and sorted sets rebuilt element by element by the loader: the final
    /// encoding follows the loading server's thresholds. Where only the element lengths
    /// matter (the count already rules a small encoding out; sorted-set members), they are
    /// read without decoding the strings, unless `detail` asks for every element to be
    /// decoded (and so validated).
    pub(super) fn rebuild(
        &self,
        k: &KeyRecord<'_>,
        scratch: &mut Scratch,
        detail: bool,
    ) -> Result<KeyEstimate> {
        use rdbscope_parser::DataType;
        let t = &self.thresholds;
        let dt = k.value.data_type();
        match dt {
            DataType::Set => {
                let (mut n, mut largest, mut all_int, mut lp) = (0u64, 0u64, true, 7u64);
                let (mut lo, mut hi) = (0i64, 0i64);
                let mut sds_sum = 0u64;
                // Members are classified only when the count leaves an intset or a
                // listpack possible.
                let total = k.value.element_count(scratch)?;
                let small = total <= t.set_intset_entries
                    || (self.line.has_set_listpack() && total <= t.set_entries);
                let sizes = if small { None } else { self.sds_table(total) };
                let by_len = !small
                    && !detail
                    && k.value.for_each_len(|len| {
                        n += 1;
                        largest = largest.max(len);
                        sds_sum += self.sds_alloc_via(sizes.as_ref(), len);
                    })?;
                if by_len {
                    all_int = false;
                } else {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Item(s) = e {
                            n += 1;
                            largest = largest.max(s.len());
                            sds_sum += self.sds_alloc(s.len());
                            if !small {
                                all_int = false;
                                return;
                            }
                            // One integer test serves the listpack size and the intset check.
                            let int = match s {
                                Scalar::Int(v) => Some(v),
                                Scalar::Bytes(b) => canonical_int(b),
                            };
                            match int {
                                Some(v) => {
                                    lp += lp_int_size(v);
                                    lo = lo.min(v);
                                    hi = hi.max(v);
                                }
                                None => {
                                    lp += lp_str_size(s.len());
                                    all_int = false;
                                }
                            }
                        }
                    })?;
                }
                if all_int && n <= t.set_intset_entries {
                    let w = if lo >= i16::MIN as i64 && hi <= i16::MAX as i64 {
                        2
                    } else if lo >= i32::MIN as i64 && hi <= i32::MAX as i64 {
                        4
                    } else {
                        8
                    };
                    return Ok(KeyEstimate {
                        memory: 16 + self.blob(8 + n * w),
                        encoding: Encoding::Intset,
                        elements: n,
                        largest_element: largest,
                    });
                }
                if self.line.has_set_listpack() && n <= t.set_entries && largest <= t.set_value {
                    return Ok(KeyEstimate {
                        memory: 16 + self.blob(lp),
                        encoding: Encoding::Listpack,
                        elements: n,
                        largest_element: largest,
                    });
                }
                if self.is_valkey_hashtable() {
                    let memory = 16 + self.hashtable_mem(n) + sds_sum;
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Hashtable,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let buckets = dict_buckets(n);
                let entries = if matches!(self.line, ServerLine::Valkey80 | ServerLine::Valkey80Dev)
                {
                    // Valkey 8.0 stores a member directly in its bucket unless the bucket is
                    // shared: 16-byte `dictEntryNoValue` only for the others (expected count).
                    (16.0 * expected_collisions(n, buckets)).round() as u64
                } else {
                    24 * n
                };
                let memory = sampled(
                    16 + self.dict_struct() + 8 * buckets,
                    entries + sds_sum,
                    n,
                    n,
                );
                Ok(KeyEstimate {
                    memory,
                    encoding: Encoding::Hashtable,
                    elements: n,
                    largest_element: largest,
                })
            }
            DataType::Zset => {
                let (mut n, mut largest, mut sds_sum) = (0u64, 0u64, 0u64);
                let mut embedded_sum = 0f64;
                let sizes = self.sds_table(k.value.count_prefix().unwrap_or(0));
                let mut member = |len: u64| {
                    n += 1;
                    largest = largest.max(len);
                    sds_sum += self.sds_alloc_via(sizes.as_ref(), len);
                    if self.line == ServerLine::Redis86 {
                        embedded_sum += self.skiplist_node_embedding(self.hdr(len) + len + 1);
                    }
                };
                if detail || !k.value.for_each_len(&mut member)? {
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Scored(s, _) = e {
                            member(s.len());
                        }
                    })?;
                }
                if n <= t.zset_entries && largest <= t.zset_value {
                    // Small enough for a listpack (a ziplist on 6.2): a second pass sizes
                    // the scores as `zzlInsertAt` writes them (only here: formatting
                    // doubles is the costly part of a big sorted set).
                    let (mut lp, mut zl) = (7u64, Ziplist::default());
                    let redis62 = self.line == ServerLine::Redis62;
                    let shortest = !matches!(self.line, ServerLine::Redis62 | ServerLine::Redis70);
                    k.value.for_each_element(scratch, |e| {
                        if let Element::Scored(s, score) = e {
                            if redis62 {
                                zl.push(s);
                                zl.push(Scalar::Bytes(score_text(score).as_bytes()));
                            } else {
                                lp += lp_entry_size(s) + lp_score_size(score, shortest);
                            }
                        }
                    })?;
                    let (memory, encoding) = if redis62 {
                        (16 + zl.bytes(), Encoding::Ziplist)
                    } else {
                        (16 + self.blob(lp), Encoding::Listpack)
                    };
                    return Ok(KeyEstimate {
                        memory,
                        encoding,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let node = self.skiplist_node();
                if self.is_valkey_hashtable() {
                    let base =
                        (16 + 16 + 32 + self.c(24 + 16 * 32)) as f64 + self.hashtable_mean(n);
                    let memory = (base + sds_sum as f64 + node * n as f64) as u64;
                    return Ok(KeyEstimate {
                        memory,
                        encoding: Encoding::Skiplist,
                        elements: n,
                        largest_element: largest,
                    });
                }
                let base = 16 + 16 + 32 + 56 + 8 * dict_buckets(n) + self.c(24 + 16 * 32);
                let memory = if self.line == ServerLine::Redis86 {
                    // #14701: the node embeds the member's sds.
                    (base as f64 + embedded_sum + 24.0 * n as f64) as u64
                } else {
                    (base as f64 + sds_sum as f64 + (24.0 + node) * n as f64) as u64
                };
                Ok(KeyEstimate {
                    memory,
                    encoding: Encoding::Skiplist,
                    elements: n,
                    largest_element: largest,
                })
            }
            DataType::Hash => self.hash(k, scratch, detail),
            DataType::Stream => self.stream(k),
            DataType::Module => Ok(KeyEstimate {
                memory: 0,
                encoding: Encoding::Module,
                elements: 1,
                largest_element: 0,
            }),
            DataType::String | DataType::List => unreachable_estimate(),
        }
    }
}
