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
