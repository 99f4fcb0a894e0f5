//! The loading server's settings the model depends on (`redis.conf` names).

/// Settings of the loading server the model depends on (`redis.conf` names): the encoding
/// thresholds, `list-compress-depth`, and for `used_memory` `maxmemory`,
/// `maxmemory-policy` and `cluster-enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// `hash-max-listpack-entries`.
    pub hash_entries: u64,
    /// `hash-max-listpack-value`.
    pub hash_value: u64,
    /// `set-max-intset-entries`.
    pub set_intset_entries: u64,
    /// `set-max-listpack-entries`.
    pub set_entries: u64,
    /// `set-max-listpack-value`.
    pub set_value: u64,
    /// `zset-max-listpack-entries`.
    pub zset_entries: u64,
    /// `zset-max-listpack-value`.
    pub zset_value: u64,
    /// `list-max-listpack-size`.
    pub list_size: i64,
    /// `list-compress-depth`: quicklist nodes this far from either end stay plain, the
    /// ones between are LZF-compressed.
    pub list_compress_depth: u64,
    /// `maxmemory` in bytes (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: EvictionPolicy,
    /// `cluster-enabled`.
    pub cluster_enabled: bool,
}

/// `maxmemory-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// `noeviction` (the default).
    #[default]
    NoEviction,
    /// `allkeys-lru`.
    AllkeysLru,
    /// `volatile-lru`.
    VolatileLru,
    /// `allkeys-lfu`.
    AllkeysLfu,
    /// `volatile-lfu`.
    VolatileLfu,
    /// `allkeys-random`.
    AllkeysRandom,
    /// `volatile-random`.
    VolatileRandom,
    /// `volatile-ttl`.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Parses a `maxmemory-policy` value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "noeviction" => EvictionPolicy::NoEviction,
            "allkeys-lru" => EvictionPolicy::AllkeysLru,
            "volatile-lru" => EvictionPolicy::VolatileLru,
            "allkeys-lfu" => EvictionPolicy::AllkeysLfu,
            "volatile-lfu" => EvictionPolicy::VolatileLfu,
            "allkeys-random" => EvictionPolicy::AllkeysRandom,
            "volatile-random" => EvictionPolicy::VolatileRandom,
            "volatile-ttl" => EvictionPolicy::VolatileTtl,
            _ => return None,
        })
    }

    /// The policy's `redis.conf` name.
    pub fn as_str(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllkeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllkeysLfu => "allkeys-lfu",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::AllkeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// An LRU or LFU policy: objects need their own access clock.
    pub fn is_lru_or_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::AllkeysLru
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::AllkeysLfu
                | EvictionPolicy::VolatileLfu
        )
    }
}

/// `memtoull` (`util.c`): a byte count with an optional unit, `k`/`m`/`g` = 1000^n and
/// `kb`/`mb`/`gb` = 1024^n, case-insensitive.
fn parse_memory(value: &str) -> Option<u64> {
    let v = value.trim().to_ascii_lowercase();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = v.split_at(digits);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1_000_000,
        "mb" => 1 << 20,
        "g" => 1_000_000_000,
        "gb" => 1 << 30,
        _ => return None,
    };
    num.parse::<u64>().ok()?.checked_mul(mul)
}

impl Thresholds {
    /// Applies one `redis.conf` setting (both the `listpack` and the older `ziplist` names).
    /// Returns `Ok(false)` for settings the model does not use.
    ///
    /// # Errors
    /// A value that is not a number.
    pub fn set(&mut self, name: &str, value: &str) -> std::result::Result<bool, String> {
        let name = name.to_ascii_lowercase().replace("ziplist", "listpack");
        let num = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| format!("{name}: expected a number, got {value:?}"))
        };
        let unsigned = || num().map(|v| v.max(0) as u64);
        match name.as_str() {
            "hash-max-listpack-entries" => self.hash_entries = unsigned()?,
            "hash-max-listpack-value" => self.hash_value = unsigned()?,
            "set-max-intset-entries" => self.set_intset_entries = unsigned()?,
            "set-max-listpack-entries" => self.set_entries = unsigned()?,
            "set-max-listpack-value" => self.set_value = unsigned()?,
            "zset-max-listpack-entries" => self.zset_entries = unsigned()?,
            "zset-max-listpack-value" => self.zset_value = unsigned()?,
            "list-max-listpack-size" => self.list_size = num()?,
            "list-compress-depth" => self.list_compress_depth = unsigned()?,
            "maxmemory" => {
                self.maxmemory = parse_memory(value)
                    .ok_or_else(|| format!("{name}: expected a byte count, got {value:?}"))?;
            }
            "maxmemory-policy" => {
                self.maxmemory_policy = EvictionPolicy::parse(value)
                    .ok_or_else(|| format!("{name}: unknown policy {value:?}"))?;
            }
            "cluster-enabled" => {
                self.cluster_enabled = match value.trim().to_ascii_lowercase().as_str() {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(format!("{name}: expected yes or no, got {value:?}")),
                };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Every setting with its value, as a config file writes them.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        vec![
            ("hash-max-listpack-entries", self.hash_entries.to_string()),
            ("hash-max-listpack-value", self.hash_value.to_string()),
            (
                "set-max-intset-entries",
                self.set_intset_entries.to_string(),
            ),
            ("set-max-listpack-entries", self.set_entries.to_string()),
            ("set-max-listpack-value", self.set_value.to_string()),
            ("zset-max-listpack-entries", self.zset_entries.to_string()),
            ("zset-max-listpack-value", self.zset_value.to_string()),
            ("list-max-listpack-size", self.list_size.to_string()),
            ("list-compress-depth", self.list_compress_depth.to_string()),
            ("maxmemory", self.maxmemory.to_string()),
            (
                "maxmemory-policy",
                self.maxmemory_policy.as_str().to_string(),
            ),
            (
                "cluster-enabled",
                if self.cluster_enabled { "yes" } else { "no" }.to_string(),
            ),
        ]
    }

    /// Applies the settings of a `redis.conf` / `valkey.conf` text (`name value` lines).
    ///
    /// # Errors
    /// A known setting with a bad value, with its line number.
    pub fn apply_conf(&mut self, text: &str) -> std::result::Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut it = line.splitn(2, char::is_whitespace);
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                self.set(k, v.trim().trim_matches('"'))
                    .map_err(|e| format!("line {}: {e}", i + 1))?;
            }
        }
        Ok(())
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_entries: 512,
            hash_value: 64,
            set_intset_entries: 512,
            set_entries: 128,
            set_value: 64,
            zset_entries: 128,
            zset_value: 64,
            list_size: -2,
            list_compress_depth: 0,
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::NoEviction,
            cluster_enabled: false,
        }
    }
}
