//! The report as JSON, both ways: [`Report::to_json`] writes the document of
//! `docs/report-schema.md`; [`Report::from_json`] reads one back, so `diff`, `check` and
//! `merge` take a saved report wherever they take a dump. A report written, read back and
//! written again is byte-identical.

use crate::report::{Report, SCHEMA_VERSION};
use serde::Deserialize;

/// Why a JSON document could not be read as a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// Not JSON, or cut short: serde's message with the line and column.
    Json(String),
    /// JSON without an integer `schema_version` at the top level.
    NotAReport,
    /// A report of another schema version than this build reads.
    Version {
        /// The document's `schema_version`.
        found: u64,
        /// [`SCHEMA_VERSION`].
        supported: u32,
    },
    /// The right version, but a field is missing or of the wrong type.
    Shape(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Json(e) => write!(f, "not valid JSON: {e}"),
            ReadError::NotAReport => write!(
                f,
                "not an rdbscope report: no integer \"schema_version\" at the top level"
            ),
            ReadError::Version { found, supported } => {
                if *found > u64::from(*supported) {
                    write!(
                        f,
                        "report schema version {found} is newer than the version {supported} \
                         this rdbscope reads: read it with the rdbscope that wrote it, or newer"
                    )
                } else {
                    write!(
                        f,
                        "report schema version {found} is older than the version {supported} \
                         this rdbscope reads: write the report again from its dump \
                         (`rdbscope analyze DUMP --json OUT`)"
                    )
                }
            }
            ReadError::Shape(e) => write!(f, "not a version {SCHEMA_VERSION} report: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl Report {
    /// The JSON document: pretty-printed with two-space indents, fields in schema order,
    /// ending with a newline.
    pub fn to_json(&self) -> String {
        // A plain data tree of strings, numbers and lists: serialising it cannot fail.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads a report written by [`Report::to_json`] (`analyze --json`).
    ///
    /// # Errors
    /// Not JSON or cut short, not a report, another schema version, or a field missing or
    /// of the wrong type; see [`ReadError`].
    pub fn from_json(text: &str) -> Result<Report, ReadError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ReadError::Json(e.to_string()))?;
        let found = doc
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or(ReadError::NotAReport)?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(ReadError::Version {
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Report::deserialize(doc).map_err(|e| ReadError::Shape(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_versions_and_other_documents_are_told_apart() {
        let e = Report::from_json(r#"{"schema_version": 3, "x": 1}"#).unwrap_err();
        assert_eq!(
            e,
            ReadError::Version {
                found: 3,
                supported: SCHEMA_VERSION
            }
        );
        assert!(
            e.to_string().contains("3 is newer than the version 2"),
            "{e}"
        );
        let e = Report::from_json(r#"{"schema_version": 1}"#).unwrap_err();
        assert!(e.to_string().contains("older"), "{e}");
        assert_eq!(
            Report::from_json(r#"{"name": "x"}"#),
            Err(ReadError::NotAReport)
        );
        assert_eq!(Report::from_json("[1, 2]"), Err(ReadError::NotAReport));
        assert!(matches!(
            Report::from_json(r#"{"schema_version": 2, "complete": tr"#),
            Err(ReadError::Json(_))
        ));
        assert!(matches!(
            Report::from_json(r#"{"schema_version": 2, "complete": true}"#),
            Err(ReadError::Shape(_))
        ));
    }
}
