//! What the keys allocate beyond their `MEMORY USAGE`, the measuring client's session,
//! and the stream structs.

use super::*;

/// `sdsReqType` header bytes (Redis ≤ 8.0 rule; the lengths here are short).
pub(super) fn sds_hdr(len: u64) -> u64 {
    match len {
        0..=31 => 1,
        32..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    }
}

/// (bytes of the session, the clients' part that INFO counts as `mem_clients_normal`):
/// per client its reply buffer (`createClient`), its query buffer (`readQueryFromClient`;
/// Redis ≥ 8.0 and Valkey ≥ 8.0 read into one reusable buffer per thread instead) and the
/// rest of the client; one latency histogram per command name (Redis ≥ 7.0, Valkey).
pub(super) fn session_bytes(server: &LoadingServer) -> (u64, u64) {
    let s = server.session;
    let line = server.line();
    let shared_qb = match line {
        ServerLine::Redis62 | ServerLine::Redis70 | ServerLine::Redis72 | ServerLine::Valkey72 => {
            false
        }
        ServerLine::Redis74 => server
            .version
            .is_some_and(|v| v.major >= 8 || (v.major == 7 && v.minor >= 9)),
        _ => true,
    };
    let per_client = match line {
        // 6.2 embeds the reply buffer in `client` (usable 20480).
        ServerLine::Redis62 => 20480 + QUERY_BUFFER + CLIENT_REST,
        _ if shared_qb => REPLY_BUFFER + CLIENT_REST,
        _ => REPLY_BUFFER + QUERY_BUFFER + CLIENT_REST,
    };
    let clients = s.clients * per_client;
    let reusable = if shared_qb && s.clients > 0 {
        QUERY_BUFFER
    } else {
        0
    };
    let histograms = if line == ServerLine::Redis62 {
        0
    } else {
        s.commands * LATENCY_HISTOGRAM_BYTES
    };
    (clients + reusable + histograms, clients)
}

/// What a key allocates minus the model's `MEMORY USAGE` estimate for it (shared integers
/// are settled in [`UsedMemory::predict`]):
///
/// * Redis 7.2+ sets (`setDictType`: `no_value`, `keys_are_odd`): a member sits in its
///   bucket, only one whose bucket is taken gets a 16-byte `dictEntryNoValue`, yet
///   `objectComputeSize` charges `dictEntryMemUsage()` (24) per member;
/// * streams up to Redis 8.2 / Valkey 8.0: `streamRadixTreeMemoryUsage` guesses 16 bytes per
///   element and 244 per node; the real `raxNode` blocks, the group and consumer name
///   raxes, and Redis 8.2+'s `cgroups_ref` index replace it;
/// * Redis 8.2 zsets: 16 per element is charged (`dictEntryMemUsage(1)`) for a 24-byte
///   `dictEntry`;
/// * Redis 8.4+: `kvobjAllocSize` is a tracked logical size without allocator slack: the
///   allocation is the 8.2 layout's, plus 8 bytes of `zskiplist` / `quicklist`;
/// * Redis 6.2 and non-default allocators: blocks counted by their requested size or by
///   `sizeof` (`dictEntry` 24 is a 32-byte block with a 16-byte quantum).
///
/// # Errors
/// A value whose elements cannot be decoded.
pub fn allocation_adjust(
    server: &LoadingServer,
    key: &KeyRecord<'_>,
    est: &KeyEstimate,
    scratch: &mut Scratch,
) -> Result<i64> {
    let line = server.line();
    let data_type = key.value.data_type();
    // MEMORY USAGE charges a 24-byte dictEntry per element of a `no_value` dict, which
    // allocates only a 16-byte link per bucket collision.
    let no_value_entries = |n: u64| -> i64 {
        (16.0 * expected_collisions(n, dict_buckets(n))).round() as i64 - 24 * n as i64
    };
    let set_entries = |est: &KeyEstimate| -> i64 {
        if data_type == DataType::Set && est.encoding == Encoding::Hashtable {
            no_value_entries(est.elements)
        } else {
            0
        }
    };
    let zset_entries_82 = |est: &KeyEstimate| -> i64 {
        if data_type == DataType::Zset && est.encoding == Encoding::Skiplist {
            8 * est.elements as i64
        } else {
            0
        }
    };
    let mut adj = match line {
        ServerLine::Redis62 => slack_62(server, key, est)?,
        ServerLine::Redis70 | ServerLine::Valkey80 => struct_slack(server, key, est)?,
        // Streams are already counted by their tracked allocations there.
        ServerLine::Valkey80Dev if data_type == DataType::Stream => 0,
        ServerLine::Valkey80Dev => struct_slack(server, key, est)?,
        ServerLine::Redis72 | ServerLine::Redis74 | ServerLine::Valkey72 => {
            set_entries(est) + struct_slack(server, key, est)?
        }
        ServerLine::Redis82 => set_entries(est) + zset_entries_82(est),
        // 8.6 hashtable hashes and skiplists keep no dictEntry (no_value dicts holding the
        // entry block / node) although MEMORY USAGE charges 24 bytes per element; a bucket
        // collision allocates a 16-byte link.
        ServerLine::Redis86
            if matches!(data_type, DataType::Hash | DataType::Zset)
                && matches!(est.encoding, Encoding::Hashtable | Encoding::Skiplist) =>
        {
            no_value_entries(est.elements)
        }
        ServerLine::Redis84 | ServerLine::Redis86 => {
            let as82 = Model {
                line: ServerLine::Redis82,
                ..server.model
            };
            let e82 = as82.estimate(key, scratch)?;
            let grown = matches!(e82.encoding, Encoding::Skiplist | Encoding::Quicklist);
            e82.memory as i64 - est.memory as i64
                + set_entries(&e82)
                + zset_entries_82(&e82)
                + if grown { 8 } else { 0 }
        }
        ServerLine::Valkey81 | ServerLine::Valkey90 => 0,
    };
    if data_type == DataType::Stream
        && !matches!(
            line,
            ServerLine::Valkey81 | ServerLine::Valkey90 | ServerLine::Valkey80Dev
        )
    {
        if let Some(s) = key.value.stream()? {
            let (real, counted) = stream_sizes(server, &s)?;
            adj += real as i64 - counted as i64;
        }
    }
    Ok(adj)
}

/// Allocator slack of the structs `objectComputeSize` counts by `sizeof` (Redis ≤ 8.0,
/// Valkey ≤ 8.0): none with the bundled jemalloc (classes 16, 24, 40, 56 exist), but a
/// `dictEntry` is a 32-byte block with Debian's 16-byte-quantum jemalloc.
pub(super) fn struct_slack(
    server: &LoadingServer,
    key: &KeyRecord<'_>,
    est: &KeyEstimate,
) -> Result<i64> {
    let a = server.model.allocator;
    if a == Allocator::Jemalloc {
        return Ok(0);
    }
    let s = |size: u64| a.usable(size) as i64 - size as i64;
    let n = est.elements as i64;
    let line = server.line();
    // The main dict entry (Valkey 8.0 embeds the key in it: counted by its usable size).
    let mut adj = if line == ServerLine::Valkey80 {
        0
    } else {
        s(24)
    };
    if est.encoding != Encoding::Embstr {
        adj += s(16);
    }
    match (key.value.data_type(), est.encoding) {
        (DataType::Set, Encoding::Hashtable) => {
            adj += s(56);
            if line == ServerLine::Redis70 {
                adj += n * s(24);
            }
        }
        (DataType::Hash, Encoding::Hashtable) | (DataType::Zset, Encoding::Skiplist) => {
            adj += s(56) + n * s(24);
        }
        (DataType::List, Encoding::Quicklist) => {
            let mut nodes = 0i64;
            key.value.for_each_node(|_| {
                nodes += 1;
                Ok(())
            })?;
            // `quicklist` and `quicklistNode` are 40 bytes each.
            adj += s(40) + nodes.max(1) * s(40);
        }
        _ => {}
    }
    Ok(adj)
}

/// Redis 6.2 counts some blocks by their requested size: an embstr as `16 + len + 2`,
/// ziplists and intsets by `ziplistBlobLen` / `intsetBlobLen`, quicklist nodes' ziplists.
pub(super) fn slack_62(
    server: &LoadingServer,
    key: &KeyRecord<'_>,
    est: &KeyEstimate,
) -> Result<i64> {
    let klen = key.key.len();
    let key_part = server.u(sds_hdr(klen) + klen + 1) + 24;
    let slack = |n: u64| server.u(n) as i64 - n as i64;
    Ok(match est.encoding {
        Encoding::Embstr => {
            let len = key.value.as_string().map_or(0, |s| s.len());
            server.u(16 + 3 + len + 1) as i64 - (16 + len + 2) as i64
        }
        Encoding::Ziplist | Encoding::Intset => {
            slack(est.memory.saturating_sub(key_part).saturating_sub(16))
        }
        Encoding::Quicklist => {
            let mut adj = 0i64;
            key.value.for_each_node(|node| {
                adj += slack(node.data.len());
                Ok(())
            })?;
            adj
        }
        _ => 0,
    })
}

pub(super) fn id_bytes(id: StreamId) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&id.ms.to_be_bytes());
    b[8..].copy_from_slice(&id.seq.to_be_bytes());
    b
}

/// (`stream`, `streamCG`, `streamConsumer`) as allocated on a line (`stream.h`). 6.2 has no
/// first/max-deleted IDs; 7.0's consumer has no active-time; Redis 8.2 adds `cgroups_ref`
/// and the minimum group ID (112), 8.4 `alloc_size` (120).
pub(super) fn stream_structs(line: ServerLine) -> (u64, u64, u64) {
    match line {
        ServerLine::Redis62 => (40, 32, 24),
        ServerLine::Redis70 => (80, 40, 24),
        ServerLine::Redis82 => (112, 40, 32),
        ServerLine::Redis84 | ServerLine::Redis86 => (120, 40, 32),
        _ => (80, 40, 32),
    }
}

/// The same structs as the summed estimate counts them (Redis 8.4+ keys are summed with
/// their 8.2 estimate, see [`allocation_adjust`]).
pub(super) fn stream_structs_counted(line: ServerLine) -> (u64, u64, u64) {
    match line {
        ServerLine::Redis62 => (40, 32, 24),
        ServerLine::Redis70 => (80, 40, 24),
        ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86 => (112, 40, 32),
        _ => (80, 40, 32),
    }
}

/// (allocated, counted by the summed estimate) for a stream's value without its object
/// (`streamNew`, `rdbLoadObject` STREAM_LISTPACKS*): the `stream` struct, the radix tree of
/// listpacks, the listpacks; with consumer groups the `cgroups` rax (by group name), per
/// group a `streamCG`, its PEL rax with a `streamNACK` per entry and its `consumers` rax
/// (by consumer name), per consumer a `streamConsumer`, its name sds and PEL rax. Redis
/// 8.2+ also index pending IDs in `s->cgroups_ref` (ID -> `list` of the groups holding it,
/// a `listNode` each) and give each `streamNACK` a pointer to its node (32 bytes).
pub(super) fn stream_sizes(server: &LoadingServer, s: &Stream<'_>) -> Result<(u64, u64)> {
    let line = server.line();
    let u = |n: u64| server.u(n);
    let (stream_struct, cg_struct, consumer_struct) = stream_structs(line);
    let (stream_counted, cg_counted, consumer_counted) = stream_structs_counted(line);
    let refs = matches!(
        line,
        ServerLine::Redis82 | ServerLine::Redis84 | ServerLine::Redis86
    );
    // `sizeof(rax)`: head, numele, numnodes (+ alloc_size from Redis 8.4).
    let rax_struct = if matches!(line, ServerLine::Redis84 | ServerLine::Redis86) {
        32
    } else {
        24
    };
    let nack = if refs { 32 } else { 24 };
    let rax_real = |keys: &[[u8; 16]]| u(rax_struct) + rax::alloc_size(keys, u);
    let rax_counted =
        |keys: &[[u8; 16]]| rax::stream_radix_memory(keys.len() as u64, rax::node_count(keys));
    // A rax keyed by `k` names of `bytes` in all: a branching root and, per name, a
    // compressed node holding it and a leaf (close to what `raxInsert` builds for a few
    // names without common prefixes).
    let names_rax = |k: u64, bytes: u64| {
        u(rax_struct) + u(4 + k + 8 * k) + k * (u(16) + u(4 + bytes / k.max(1) + 8))
    };
    let mut keys: Vec<[u8; 16]> = Vec::with_capacity(s.nodes.min(1 << 16) as usize);
    // Every line's estimate counts a stream listpack by its allocation, as allocated.
    let mut lp = 0u64;
    let mut buf = Vec::new();
    s.for_each_node(|n| {
        lp += u(n.listpack.len());
        let mut id = [0u8; 16];
        id.copy_from_slice(n.master_key.bytes(&mut buf)?.get(..16).unwrap_or(&[0; 16]));
        keys.push(id);
        Ok(())
    })?;
    keys.sort_unstable();
    let mut real = u(stream_struct) + rax_real(&keys) + lp;
    let mut counted = stream_counted + rax_counted(&keys) + lp;
    if s.groups == 0 {
        return Ok((real, counted));
    }
    let mut group_names = 0u64;
    let mut pending: Vec<[u8; 16]> = Vec::new();
    s.for_each_group(|g| {
        group_names += g.name.len();
        keys.clear();
        g.for_each_pending(|p| {
            keys.push(id_bytes(p.id));
            Ok(())
        })?;
        keys.sort_unstable();
        if refs {
            pending.extend_from_slice(&keys);
        }
        real += u(cg_struct) + rax_real(&keys) + g.pel * u(nack);
        // The estimate charges `sizeof(streamNACK)` (8.4+ keys are summed with their 8.2
        // estimate).
        counted += cg_counted + rax_counted(&keys) + nack * g.pel;
        let mut consumer_names = 0u64;
        g.for_each_consumer(|c| {
            keys.clear();
            c.for_each_pending_id(|id| {
                keys.push(id_bytes(id));
                Ok(())
            })?;
            keys.sort_unstable();
            let name = c.name.len();
            consumer_names += name;
            real += u(consumer_struct) + u(sds_hdr(name) + name + 1) + rax_real(&keys);
            counted += consumer_counted + name + rax_counted(&keys);
            Ok(())
        })?;
        real += names_rax(g.consumers, consumer_names);
        Ok(())
    })?;
    real += names_rax(s.groups, group_names);
    if refs {
        let references = pending.len() as u64;
        pending.sort_unstable();
        pending.dedup();
        real += rax_real(&pending) + pending.len() as u64 * u(48) + references * u(24);
    }
    Ok((real, counted))
}
