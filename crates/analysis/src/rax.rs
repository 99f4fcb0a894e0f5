//! Node count of a Redis radix tree (`rax.c`) holding a set of equal-length keys.
//!
//! For keys of one length, `raxInsert` always ends in the canonical compressed trie: a
//! node at the root, at every branching point, at every key's end, and at the head of every
//! compressed chain below a branching point. So the count follows from the sorted keys and
//! their common prefixes, without replaying insertions.

/// Counts rax nodes (root included) for `keys`, which must be sorted and distinct.
pub fn node_count<const N: usize>(keys: &[[u8; N]]) -> u64 {
    if keys.is_empty() {
        return 1;
    }
    let leaf = N;
    let mut stack: Vec<usize> = vec![leaf];
    let mut internal = 0u64;
    let mut gaps = 0u64;
    let mut edge = |parent: usize, child: usize| {
        if child > parent + 1 {
            gaps += 1;
        }
    };
    for w in keys.windows(2) {
        let l = w[0]
            .iter()
            .zip(w[1].iter())
            .take_while(|(a, b)| a == b)
            .count();
        while stack.last().is_some_and(|&d| d > l) {
            let d = stack.pop().unwrap_or(leaf);
            let parent = match stack.last() {
                Some(&p) if p >= l => p,
                _ => l,
            };
            edge(parent, d);
        }
        if stack.last() != Some(&l) {
            stack.push(l);
            internal += 1;
        }
        stack.push(leaf);
    }
    for i in (1..stack.len()).rev() {
        edge(stack[i - 1], stack[i]);
    }
    let top_is_root = stack.first() == Some(&0);
    let compact = internal + keys.len() as u64;
    1 + compact - u64::from(top_is_root) + gaps
}

/// `streamRadixTreeMemoryUsage` (`object.c`, Redis 7.x–8.2, Valkey 8.0): 16 bytes per
/// element plus 244 per node (the initial `sizeof(rax)` is overwritten, as in the server).
pub fn stream_radix_memory(numele: u64, numnodes: u64) -> u64 {
    16 * numele + 4 * numnodes + 240 * numnodes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rax_counts_small_cases() {
        assert_eq!(node_count::<3>(&[]), 1);
        assert_eq!(node_count(&[*b"abc"]), 2);
        // root "ab" -> branch [c,d] -> two leaves
        assert_eq!(node_count(&[*b"abc", *b"abd"]), 4);
        // root branch [a,b] -> two compressed chains -> two leaves
        assert_eq!(node_count(&[*b"abc", *b"bbc"]), 5);
        // root "a" -> branch [b,x]; b -> branch [c,d] -> leaves; x -> "yz"?? (x then "y") -> leaf
        assert_eq!(node_count(&[*b"abc", *b"abd", *b"axy"]), 7);
    }
}

/// Bytes `raxNode` allocations take for `keys` (sorted, distinct, equal length), each node
/// counted by `usable` (the allocator's size for a request): what `rax->alloc_size` tracks
/// in Valkey 8.1+ and Redis 8.4+. Every key carries a non-NULL value pointer (streams,
/// PELs). The `rax` struct itself is not included.
pub fn alloc_size<const N: usize>(keys: &[[u8; N]], usable: impl Fn(u64) -> u64) -> u64 {
    // raxNode: 4-byte header, the chars, padding to pointer alignment, child pointers, and
    // the value pointer of key nodes.
    let pad = |s: u64| (8 - ((s + 4) % 8)) % 8;
    let compressed = |s: u64| usable(4 + s + pad(s) + 8);
    let branch = |k: u64| usable(4 + k + pad(k) + 8 * k);
    let leaf = usable(4 + pad(0) + 8);
    if keys.is_empty() {
        return usable(4 + pad(0));
    }
    struct Node {
        depth: usize,
        children: u64,
    }
    let node_size = |n: &Node| {
        if n.depth == N {
            leaf
        } else {
            branch(n.children)
        }
    };
    let mut total = 0u64;
    let mut stack: Vec<Node> = vec![Node {
        depth: N,
        children: 0,
    }];
    for w in keys.windows(2) {
        let l = w[0]
            .iter()
            .zip(w[1].iter())
            .take_while(|(a, b)| a == b)
            .count();
        let mut pending = 0u64;
        while stack.last().is_some_and(|n| n.depth > l) {
            let Some(node) = stack.pop() else { break };
            total += node_size(&node);
            let parent_depth = match stack.last_mut() {
                Some(p) if p.depth >= l => {
                    p.children += 1;
                    p.depth
                }
                _ => {
                    pending += 1;
                    l
                }
            };
            if node.depth > parent_depth + 1 {
                total += compressed((node.depth - parent_depth - 1) as u64);
            }
        }
        if stack.last().map(|n| n.depth) != Some(l) {
            stack.push(Node {
                depth: l,
                children: pending,
            });
        } else if let Some(top) = stack.last_mut() {
            top.children += pending;
        }
        stack.push(Node {
            depth: N,
            children: 0,
        });
    }
    while let Some(node) = stack.pop() {
        total += node_size(&node);
        match stack.last_mut() {
            Some(p) => {
                p.children += 1;
                if node.depth > p.depth + 1 {
                    total += compressed((node.depth - p.depth - 1) as u64);
                }
            }
            None => {
                // The top node: below a compressed root unless it is the root itself.
                if node.depth > 0 {
                    total += compressed(node.depth as u64);
                }
            }
        }
    }
    total
}

/// Allocated bytes of the nodes of a rax holding `keys` of any lengths (sorted, distinct),
/// each with a non-null value: the canonical compressed trie, where a chain of single-child
/// non-key positions is one compressed node and every other position a branch node (a key
/// node carries its value pointer).
pub fn alloc_size_var(keys: &[&[u8]], usable: impl Fn(u64) -> u64 + Copy) -> u64 {
    fn pad(s: u64) -> u64 {
        (8 - ((s + 4) % 8)) % 8
    }
    // The node at `depth` over `keys` (all sharing `depth` bytes); `is_key` if one of them
    // ends here (it is then `keys[0]`).
    fn node(keys: &[&[u8]], depth: usize, usable: impl Fn(u64) -> u64 + Copy) -> u64 {
        let is_key = keys.first().is_some_and(|k| k.len() == depth);
        let rest = if is_key { &keys[1..] } else { keys };
        let value = if is_key { 8 } else { 0 };
        if rest.is_empty() {
            return usable(4 + pad(0) + value);
        }
        // Longest common prefix of the remaining suffixes.
        let first = rest[0];
        let last = rest[rest.len() - 1];
        let common = first[depth..]
            .iter()
            .zip(last[depth..].iter())
            .take_while(|(a, b)| a == b)
            .count();
        if common > 0 {
            let c = common as u64;
            return usable(4 + c + pad(c) + 8 + value) + node(rest, depth + common, usable);
        }
        let mut total = 0u64;
        let mut children = 0u64;
        let mut i = 0;
        while i < rest.len() {
            let b = rest[i][depth];
            let j = i + rest[i..].iter().take_while(|k| k[depth] == b).count();
            total += node(&rest[i..j], depth + 1, usable);
            children += 1;
            i = j;
        }
        total + usable(4 + children + pad(children) + 8 * children + value)
    }
    if keys.is_empty() {
        return usable(4 + pad(0));
    }
    node(keys, 0, usable)
}

#[cfg(test)]
mod alloc_tests {
    use super::{alloc_size, alloc_size_var};

    #[test]
    fn variable_length_rax_agrees_with_fixed_length() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for n in [1usize, 2, 3, 7, 50, 300] {
            let mut keys: Vec<[u8; 16]> = (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let mut k = [0u8; 16];
                    k[..8].copy_from_slice(&(state % 5000).to_be_bytes());
                    k[8..].copy_from_slice(&(state % 3).to_be_bytes());
                    k
                })
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let refs: Vec<&[u8]> = keys.iter().map(|k| &k[..]).collect();
            let class = |v: u64| v.div_ceil(8) * 8;
            assert_eq!(
                alloc_size_var(&refs, class),
                alloc_size(&keys, class),
                "n={n}"
            );
        }
    }

    #[test]
    fn variable_length_rax_prefix_keys() {
        let exact = |n: u64| n;
        // "w1", "w10": root compressed "w1" (16), key node "w1" with one child '0' as a
        // compressed node with its value (4+1+3+8+8 = 24), leaf "w10" (16).
        assert_eq!(alloc_size_var(&[b"w1", b"w10"], exact), 16 + 24 + 16);
    }

    #[test]
    fn rax_alloc_small_cases() {
        let exact = |n: u64| n;
        // one key "abc": root compressed 3 chars (4+3+1 pad+8 = 16) + leaf (4+4+8 = 16)
        assert_eq!(alloc_size(&[*b"abc"], exact), 32);
        // "abc","abd": root compressed "ab" (4+2+2+8=16), branch of 2 (4+2+2+16=24), 2 leaves
        assert_eq!(alloc_size(&[*b"abc", *b"abd"], exact), 16 + 24 + 32);
    }
}
