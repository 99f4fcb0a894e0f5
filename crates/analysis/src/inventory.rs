//! The snapshot inventory: header, AUX fields, functions, modules, and key counts by on-disk
//! type and by database. Plain data with `merge`, so shards and threads add up.

use rdbscope_parser::{DataType, Header, Record, ValueKind};
use std::collections::BTreeMap;

/// What a pass over a file found, besides per-key memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    /// AUX fields in file order; a field written more than once (Valkey's per-slot
    /// `slot-info`) keeps its first value and a count.
    pub aux: Vec<AuxField>,
    /// Function libraries: (name from the `#!engine name=...` line, engine).
    pub functions: Vec<(String, String)>,
    /// Module names (module values and module AUX), with counts of values per module.
    pub modules: BTreeMap<String, ModuleCount>,
    /// Keys per on-disk value type name (`rdb.h` names).
    pub keys_by_encoding: BTreeMap<&'static str, u64>,
    /// Keys per logical type.
    pub keys_by_type: BTreeMap<DataType, u64>,
    /// Keys and keys with TTL per database.
    pub keys_by_db: BTreeMap<u64, DbCount>,
    /// Keys whose expire time is before the snapshot time (`ctime`).
    pub expired: u64,
    /// `RESIZEDB` hints per database: (keys, expires), summed over shards.
    pub resize_hints: BTreeMap<u64, (u64, u64)>,
    /// `SLOT_INFO` opcodes seen.
    pub slot_infos: u64,
    /// Valkey `SLOT_IMPORT` records seen.
    pub slot_imports: u64,
    /// Keys carrying Redis 8.6 key metadata.
    pub keys_with_meta: u64,
    /// Keys with an LRU idle time / an LFU counter.
    pub keys_with_idle: u64,
    /// Keys with an LFU counter.
    pub keys_with_freq: u64,
    /// Bytes of key records in the file.
    pub key_bytes: u64,
    current_db: u64,
}

/// One AUX field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuxField {
    /// Field name.
    pub key: String,
    /// First value seen.
    pub value: String,
    /// Times the field was written.
    pub count: u64,
}

/// Per-module counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleCount {
    /// Key values of this module type.
    pub values: u64,
    /// MODULE_AUX records.
    pub aux: u64,
    /// Serialized bytes of its values.
    pub bytes: u64,
}

/// Per-database counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbCount {
    /// Keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expires: u64,
    /// Keys already expired at snapshot time.
    pub expired: u64,
}

fn text(s: &rdbscope_parser::RdbStr<'_>) -> String {
    match s.to_vec() {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::from("<corrupt>"),
    }
}

/// Library name and engine from a function library's first line (`#!lua name=mylib`).
pub fn function_name(code: &[u8]) -> (String, String) {
    let first = code.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first = String::from_utf8_lossy(first);
    let mut engine = String::new();
    let mut name = String::new();
    if let Some(rest) = first.strip_prefix("#!") {
        let mut parts = rest.split_whitespace();
        engine = parts.next().unwrap_or("").to_string();
        for p in parts {
            if let Some(n) = p.strip_prefix("name=") {
                name = n.to_string();
            }
        }
    }
    (name, engine)
}

impl Inventory {
    /// The snapshot time in ms from the `ctime` AUX field, if present.
    pub fn ctime_ms(&self) -> Option<i64> {
        self.aux_value("ctime")
            .and_then(|v| v.parse::<i64>().ok())
            .map(|s| s.saturating_mul(1000))
    }

    /// The cut-off for "already expired at snapshot time": `ctime` has one-second
    /// resolution and is taken when the save starts, so a key whose TTL ends anywhere in
    /// that second is counted as expired (the servers that wrote the corpus dropped exactly
    /// those keys on load).
    pub fn expired_cutoff_ms(&self) -> Option<i64> {
        self.ctime_ms().map(|c| c.saturating_add(1000))
    }

    /// The first value of an AUX field.
    pub fn aux_value(&self, key: &str) -> Option<&str> {
        self.aux
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.as_str())
    }

    /// Total keys.
    pub fn keys(&self) -> u64 {
        self.keys_by_db.values().map(|d| d.keys).sum()
    }

    /// Adds one record. Expiry is judged against `ctime` as far as it is known (the AUX
    /// fields come before the keys in every file a server writes).
    pub fn observe(&mut self, rec: &Record<'_>) {
        match rec {
            Record::Aux { key, value, .. } => {
                let k = text(key);
                if let Some(a) = self.aux.iter_mut().find(|a| a.key == k) {
                    a.count += 1;
                } else {
                    self.aux.push(AuxField {
                        key: k,
                        value: text(value),
                        count: 1,
                    });
                }
            }
            Record::Function { code, .. } => {
                let code = code.to_vec().unwrap_or_default();
                self.functions.push(function_name(&code));
            }
            Record::ModuleAux { module, .. } => {
                self.modules.entry(module.name()).or_default().aux += 1;
            }
            Record::ResizeDb {
                db_size,
                expires_size,
                ..
            } => {
                let e = self.resize_hints.entry(self.current_db).or_default();
                e.0 += db_size;
                e.1 += expires_size;
            }
            Record::SelectDb { db, .. } => {
                self.current_db = *db;
            }
            Record::SlotInfo { .. } => self.slot_infos += 1,
            Record::SlotImport { .. } => self.slot_imports += 1,
            Record::Key(k) => {
                let kind = k.value.kind();
                *self.keys_by_encoding.entry(kind.name()).or_default() += 1;
                *self.keys_by_type.entry(kind.data_type()).or_default() += 1;
                let db = self.keys_by_db.entry(k.db).or_default();
                db.keys += 1;
                if let Some(e) = k.expire_ms {
                    db.expires += 1;
                    if let Some(cutoff) = self.expired_cutoff_ms() {
                        if e < cutoff {
                            self.expired += 1;
                            if let Some(d) = self.keys_by_db.get_mut(&k.db) {
                                d.expired += 1;
                            }
                        }
                    }
                }
                if kind == ValueKind::Module2 {
                    if let Some(m) = k.value.module() {
                        let e = self.modules.entry(m.id.name()).or_default();
                        e.values += 1;
                        e.bytes += m.size;
                    }
                }
                self.keys_with_meta += u64::from(k.meta.is_some());
                self.keys_with_idle += u64::from(k.idle.is_some());
                self.keys_with_freq += u64::from(k.freq.is_some());
                self.key_bytes += k.size;
            }
            _ => {}
        }
    }

    /// Adds another inventory (another shard or thread) into this one.
    pub fn merge(&mut self, other: &Inventory) {
        for a in &other.aux {
            if let Some(m) = self.aux.iter_mut().find(|m| m.key == a.key) {
                m.count += a.count;
            } else {
                self.aux.push(a.clone());
            }
        }
        self.functions.extend(other.functions.iter().cloned());
        for (k, v) in &other.modules {
            let e = self.modules.entry(k.clone()).or_default();
            e.values += v.values;
            e.aux += v.aux;
            e.bytes += v.bytes;
        }
        for (k, v) in &other.keys_by_encoding {
            *self.keys_by_encoding.entry(k).or_default() += v;
        }
        for (k, v) in &other.keys_by_type {
            *self.keys_by_type.entry(*k).or_default() += v;
        }
        for (k, v) in &other.keys_by_db {
            let e = self.keys_by_db.entry(*k).or_default();
            e.keys += v.keys;
            e.expires += v.expires;
            e.expired += v.expired;
        }
        for (k, v) in &other.resize_hints {
            let e = self.resize_hints.entry(*k).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        self.expired += other.expired;
        self.slot_infos += other.slot_infos;
        self.slot_imports += other.slot_imports;
        self.keys_with_meta += other.keys_with_meta;
        self.keys_with_idle += other.keys_with_idle;
        self.keys_with_freq += other.keys_with_freq;
        self.key_bytes += other.key_bytes;
    }
}

/// A one-line description of a header, e.g. `REDIS0011 (RDB 11)`.
pub fn describe_header(h: &Header) -> String {
    format!("{h} (RDB {})", h.version)
}
