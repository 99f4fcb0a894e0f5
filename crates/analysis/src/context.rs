//! What a file's key records are judged by: the model chosen for the file (forced, or
//! detected from the `redis-ver` / `valkey-ver` AUX fields and the RDB version) and the
//! snapshot time (`ctime`) that decides "already expired".

use crate::alloc::Allocator;
use crate::model::{Model, ServerLine, Thresholds};
use rdbscope_parser::{Header, Record};

/// How to pick the memory model of each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelChoice {
    /// A line forced by the user (`--model`); `None` detects the writer's line.
    pub forced: Option<ServerLine>,
    /// Allocator of the loading server; `None`: the packaging default of the file's version
    /// ([`crate::alloc_infer::packaging_default`]), with a sample of keys priced under every
    /// allocator so that `analyze` can infer it from `used-mem`.
    pub allocator: Option<Allocator>,
    /// Settings of the loading server.
    pub settings: Thresholds,
    /// `cluster-enabled` was left to the file: slot information in it (Redis `SLOT_INFO`
    /// records, Valkey `slot-info` AUX fields, both written only by a cluster node, before
    /// the keys) turns cluster mode on for that file.
    pub cluster_from_file: bool,
}

/// Per-file state read from the records before the keys: versions and snapshot time.
///
/// Feed it every record in file order with [`FileContext::observe`]; ask for the model at
/// the first key. The model is fixed once asked for (AUX fields come before the keys).
#[derive(Debug, Clone, Default)]
pub struct FileContext {
    rdb_version: Option<u32>,
    redis_ver: Option<String>,
    valkey_ver: Option<String>,
    ctime_s: Option<i64>,
    slot_info: bool,
    model: Option<Option<Model>>,
}

impl FileContext {
    /// A context for a file with this header (if it could be read).
    pub fn new(header: Option<&Header>) -> Self {
        FileContext {
            rdb_version: header.map(|h| h.version),
            ..FileContext::default()
        }
    }

    /// Takes the AUX fields the model and the clock depend on.
    pub fn observe(&mut self, rec: &Record<'_>) {
        if let Record::SlotInfo { .. } = rec {
            self.slot_info = true;
        }
        let Record::Aux { key, value, .. } = rec else {
            return;
        };
        let text = || {
            value
                .to_vec()
                .ok()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        match key.as_raw() {
            Some(b"redis-ver") => self.redis_ver = text(),
            Some(b"valkey-ver") => self.valkey_ver = text(),
            Some(b"ctime") => self.ctime_s = text().and_then(|t| t.trim().parse::<i64>().ok()),
            Some(b"slot-info") => self.slot_info = true,
            _ => {}
        }
    }

    /// The `redis-ver` AUX field.
    pub fn redis_ver(&self) -> Option<&str> {
        self.redis_ver.as_deref()
    }

    /// The `valkey-ver` AUX field.
    pub fn valkey_ver(&self) -> Option<&str> {
        self.valkey_ver.as_deref()
    }

    /// The snapshot time in Unix seconds (`ctime` AUX).
    pub fn ctime_s(&self) -> Option<i64> {
        self.ctime_s
    }

    /// Keys whose expiry is before this instant (Unix ms) had expired when the snapshot was
    /// taken: the end of the `ctime` second, which has one-second resolution.
    pub fn expired_cutoff_ms(&self) -> Option<i64> {
        self.ctime_s
            .map(|s| s.saturating_mul(1000).saturating_add(1000))
    }

    /// Whether a key with this expiry had expired at snapshot time (`None` when the file has
    /// no `ctime`).
    pub fn expired(&self, expire_ms: Option<i64>) -> Option<bool> {
        match (expire_ms, self.expired_cutoff_ms()) {
            (Some(e), Some(c)) => Some(e < c),
            (Some(_), None) => None,
            (None, _) => Some(false),
        }
    }

    /// The line `choice` picks for this file, if any.
    pub fn line(&self, choice: &ModelChoice) -> Option<ServerLine> {
        choice.forced.or_else(|| {
            ServerLine::detect(
                self.redis_ver.as_deref(),
                self.valkey_ver.as_deref(),
                self.rdb_version,
            )
        })
    }

    /// The model for this file's keys (fixed at the first call): `None` when no line is
    /// forced and the writer's cannot be told.
    pub fn model(&mut self, choice: &ModelChoice) -> Option<Model> {
        if let Some(m) = self.model {
            return m;
        }
        let mut settings = choice.settings;
        if choice.cluster_from_file && self.slot_info {
            settings.cluster_enabled = true;
        }
        let m = self.line(choice).map(|line| {
            Model::with_settings(
                line,
                choice.allocator.unwrap_or_else(|| {
                    crate::alloc_infer::packaging_default(
                        self.redis_ver.as_deref(),
                        self.valkey_ver.as_deref(),
                    )
                }),
                settings,
                self.expired_cutoff_ms(),
            )
        });
        self.model = Some(m);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_expired_cutoff_is_end_of_ctime_second() {
        let mut c = FileContext::default();
        assert_eq!(c.expired(Some(5)), None);
        assert_eq!(c.expired(None), Some(false));
        c.ctime_s = Some(100);
        assert_eq!(c.expired(Some(100_999)), Some(true));
        assert_eq!(c.expired(Some(101_000)), Some(false));
    }

    #[test]
    fn context_model_is_fixed_at_first_use() {
        let mut c = FileContext {
            redis_ver: Some("7.2.6".into()),
            ..FileContext::default()
        };
        let choice = ModelChoice::default();
        let m = c.model(&choice).expect("7.2 is known");
        assert_eq!(m.line, ServerLine::Redis72);
        c.redis_ver = Some("6.2.16".into());
        assert_eq!(c.model(&choice).map(|m| m.line), Some(ServerLine::Redis72));
    }

    #[test]
    fn context_slot_information_turns_cluster_mode_on_unless_given() {
        let slot = Record::SlotInfo {
            slot: 7,
            size: 1,
            expires_size: 0,
            offset: 0,
        };
        let mut c = FileContext {
            redis_ver: Some("8.2.3".into()),
            ..FileContext::default()
        };
        c.observe(&slot);
        let mut given = c.clone();
        let choice = ModelChoice {
            cluster_from_file: true,
            ..ModelChoice::default()
        };
        assert!(c.model(&choice).expect("8.2 is known").cluster);
        assert!(!given.model(&ModelChoice::default()).expect("8.2").cluster);
        let mut plain = FileContext {
            redis_ver: Some("8.2.3".into()),
            ..FileContext::default()
        };
        assert!(!plain.model(&choice).expect("8.2").cluster);
    }

    #[test]
    fn context_unknown_writer_has_no_model_unless_forced() {
        let mut c = FileContext::default();
        assert!(c.clone().model(&ModelChoice::default()).is_none());
        let forced = ModelChoice {
            forced: Some(ServerLine::Valkey81),
            ..ModelChoice::default()
        };
        assert_eq!(c.model(&forced).map(|m| m.line), Some(ServerLine::Valkey81));
    }
}
