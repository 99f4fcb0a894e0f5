//! Allocator size classes: what `zmalloc_size` / `malloc_usable_size` returns for a request.

/// The allocator the loading server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Allocator {
    /// The jemalloc Redis and Valkey bundle, configured `--with-lg-quantum=3` (8-byte steps
    /// up to 64): upstream builds and the official container images.
    #[default]
    Jemalloc,
    /// A system jemalloc with its default 16-byte quantum (Debian's and Ubuntu's
    /// `redis-server` packages).
    Jemalloc16,
    /// glibc malloc (`make MALLOC=libc`).
    Libc,
}

impl Allocator {
    /// The usable size of an allocation of `n` bytes.
    pub fn usable(self, n: u64) -> u64 {
        match self {
            Allocator::Jemalloc => {
                if n <= 8 {
                    8
                } else if n <= 64 {
                    round_up(n, 8)
                } else {
                    four_per_doubling(n)
                }
            }
            Allocator::Jemalloc16 => {
                if n <= 8 {
                    8
                } else if n <= 128 {
                    round_up(n, 16)
                } else {
                    four_per_doubling(n)
                }
            }
            Allocator::Libc => (round_up(n + 8, 16).max(32)) - 8,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Allocator::Jemalloc => "jemalloc",
            Allocator::Jemalloc16 => "jemalloc-16",
            Allocator::Libc => "libc",
        }
    }
}

fn round_up(n: u64, step: u64) -> u64 {
    n.div_ceil(step).saturating_mul(step)
}

/// jemalloc's classes above the quantum range: four per doubling (`floor(log2(n-1))`).
fn four_per_doubling(n: u64) -> u64 {
    let k = 63 - (n - 1).leading_zeros() as u64;
    round_up(n, 1u64 << (k - 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc8_classes() {
        let a = Allocator::Jemalloc;
        let got: Vec<u64> = [
            1, 8, 9, 24, 57, 64, 65, 80, 81, 129, 160, 161, 14337, 1048577,
        ]
        .iter()
        .map(|&n| a.usable(n))
        .collect();
        assert_eq!(
            got,
            vec![8, 8, 16, 24, 64, 64, 80, 80, 96, 160, 160, 192, 16384, 1310720]
        );
    }

    #[test]
    fn jemalloc16_classes() {
        let a = Allocator::Jemalloc16;
        let got: Vec<u64> = [8, 9, 20, 24, 65, 129]
            .iter()
            .map(|&n| a.usable(n))
            .collect();
        assert_eq!(got, vec![8, 16, 32, 32, 80, 160]);
    }
}
