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

#[cfg(test)]
mod alloc_tests {
    use super::alloc_size;

    #[test]
    fn rax_alloc_small_cases() {
        let exact = |n: u64| n;
        // one key "abc": root compressed 3 chars (4+3+1 pad+8 = 16) + leaf (4+4+8 = 16)
        assert_eq!(alloc_size(&[*b"abc"], exact), 32);
        // "abc","abd": root compressed "ab" (4+2+2+8=16), branch of 2 (4+2+2+16=24), 2 leaves
        assert_eq!(alloc_size(&[*b"abc", *b"abd"], exact), 16 + 24 + 32);
    }
}
