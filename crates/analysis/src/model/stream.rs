//! Streams: the stream struct, radix tree of listpack nodes, groups, PELs and consumers.

use super::*;

impl Model {
    /// Streams (`objectComputeSize` OBJ_STREAM): the stream struct, the radix tree of
    /// listpack nodes, every listpack's allocation, and for each group its struct, PEL tree
    /// and NACKs, and each consumer's struct, name and PEL tree.
    pub(super) fn stream(&self, k: &KeyRecord<'_>) -> Result<KeyEstimate> {
        use crate::rax::{node_count, stream_radix_memory};
        let Some(s) = k.value.stream()? else {
            return unreachable_estimate();
        };
        let mut keys: Vec<[u8; 16]> = Vec::with_capacity(s.nodes.min(1 << 16) as usize);
        let mut lp_sum = 0u64;
        let mut buf = Vec::new();
        s.for_each_node(|n| {
            // 6.2 counts a stream's listpacks by `zmalloc_size`, unlike its other blobs.
            lp_sum += if self.line == ServerLine::Redis62 {
                self.c(n.listpack.len())
            } else {
                self.blob(n.listpack.len())
            };
            let mut id = [0u8; 16];
            id.copy_from_slice(n.master_key.bytes(&mut buf)?.get(..16).unwrap_or(&[0; 16]));
            keys.push(id);
            Ok(())
        })?;
        keys.sort_unstable();
        if self.is_valkey_hashtable()
            || matches!(
                self.line,
                ServerLine::Redis84 | ServerLine::Redis86 | ServerLine::Valkey80Dev
            )
        {
            return self.stream_tracked(&s, keys, lp_sum);
        }
        // `sizeof(stream)` and `sizeof(streamCG)`: 6.2 has no first/max-deleted IDs, no
        // entries-added and no entries-read.
        let (stream_struct, group_struct) = if self.line == ServerLine::Redis62 {
            (40, 32)
        } else {
            (80, 40)
        };
        let mut memory =
            16 + stream_struct + stream_radix_memory(s.nodes, node_count(&keys)) + lp_sum;
        // `sizeof(streamNACK)`: 8.2 added the `cgroups_ref` list node.
        let nack = if self.line == ServerLine::Redis82 {
            32
        } else {
            24
        };
        // `sizeof(streamConsumer)`: 7.2 added `active_time`.
        let consumer_size = if matches!(self.line, ServerLine::Redis62 | ServerLine::Redis70) {
            24
        } else {
            32
        };
        s.for_each_group(|g| {
            keys.clear();
            g.for_each_pending(|p| {
                keys.push(id_bytes(p.id));
                Ok(())
            })?;
            keys.sort_unstable();
            memory += group_struct + stream_radix_memory(g.pel, node_count(&keys)) + nack * g.pel;
            g.for_each_consumer(|c| {
                keys.clear();
                c.for_each_pending_id(|id| {
                    keys.push(id_bytes(id));
                    Ok(())
                })?;
                keys.sort_unstable();
                memory +=
                    consumer_size + c.name.len() + stream_radix_memory(c.pel, node_count(&keys));
                Ok(())
            })
        })?;
        Ok(KeyEstimate {
            memory,
            encoding: Encoding::Stream,
            elements: s.length,
            largest_element: 0,
        })
    }
}
