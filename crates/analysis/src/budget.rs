//! Budgets: rules that compare a named quantity of a report (or of a diff) with a
//! threshold, `QUANTITY OP VALUE`, e.g. `memory > 6GiB`, `pattern(session:*).memory-no-ttl
//! > 100MiB`, `growth.memory-per-day > 1GiB`, `findings >= warning`. A rule fails when the
//! comparison holds; rules over table rows (a glob over pattern or prefix names) fail once
//! per matching row. `docs/audit.md` documents the language.

use crate::diff::{Delta, ReportDiff, TableDiff};
use crate::filter::glob_match;
use crate::report::{human_bytes, Report, Row, Severity, Table};

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn holds(self, v: f64, t: f64) -> bool {
        match self {
            Op::Gt => v > t,
            Op::Ge => v >= t,
            Op::Lt => v < t,
            Op::Le => v <= t,
        }
    }
}

/// What a row rule measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Memory,
    Keys,
    MemoryNoTtl,
    KeysNoTtl,
}

/// What a rule measures.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Quantity {
    Memory,
    Keys,
    KeysNoTtl,
    MemoryNoTtl,
    ExpiredMemory,
    BiggestKey,
    NotInKeys,
    StreamPending,
    Findings,
    /// Rows of the pattern table (`patterns: true`) or of any prefix level.
    Rows {
        patterns: bool,
        glob: String,
        field: Field,
    },
    /// A diff's change of a total.
    Growth(Field),
    GrowthPerDay,
    GrowthRows {
        patterns: bool,
        glob: String,
        field: Field,
    },
}

/// The threshold's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    /// Bytes or a count.
    Amount(f64),
    /// A percentage (of the total for shares, of the old value for growth).
    Pct(f64),
    /// A finding severity.
    Severity(Severity),
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The rule as written (or its name from a rules file).
    pub text: String,
    quantity: Quantity,
    op: Op,
    value: Value,
}

/// A rule that failed, on one row where it is a row rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The rule as written.
    pub rule: String,
    /// The measured value, as people read it (`7.2 GiB`, `12.5%`, `critical`).
    pub measured: String,
    /// The row it matched: a pattern, prefix, key or stream.
    pub row: Option<String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.row {
            Some(r) => write!(f, "rule failed: {}: {r}: {}", self.rule, self.measured),
            None => write!(f, "rule failed: {}: {}", self.rule, self.measured),
        }
    }
}

/// The quantities a rule can name, for error messages and `--help`.
pub const QUANTITIES: &str = "memory, keys, keys-no-ttl, memory-no-ttl, expired-memory, \
biggest-key, not-in-keys, stream-pending, findings, pattern(GLOB).FIELD, prefix(GLOB).FIELD \
(FIELD: memory, keys, memory-no-ttl, keys-no-ttl); with diff also growth.memory, growth.keys, \
growth.memory-no-ttl, growth.keys-no-ttl, growth.memory-per-day, growth.pattern(GLOB).FIELD, \
growth.prefix(GLOB).FIELD";

fn field(s: &str) -> Option<Field> {
    Some(match s {
        "memory" => Field::Memory,
        "keys" => Field::Keys,
        "memory-no-ttl" => Field::MemoryNoTtl,
        "keys-no-ttl" => Field::KeysNoTtl,
        _ => return None,
    })
}

/// `pattern(GLOB).FIELD` / `prefix(GLOB).FIELD`.
fn rows(s: &str) -> Option<(bool, String, Field)> {
    let (kind, rest) = s.split_once('(')?;
    let patterns = match kind {
        "pattern" => true,
        "prefix" => false,
        _ => return None,
    };
    let (glob, f) = rest.rsplit_once(").")?;
    Some((patterns, glob.to_string(), field(f)?))
}

fn quantity(s: &str) -> Option<Quantity> {
    Some(match s {
        "memory" => Quantity::Memory,
        "keys" => Quantity::Keys,
        "keys-no-ttl" => Quantity::KeysNoTtl,
        "memory-no-ttl" => Quantity::MemoryNoTtl,
        "expired-memory" => Quantity::ExpiredMemory,
        "biggest-key" => Quantity::BiggestKey,
        "not-in-keys" => Quantity::NotInKeys,
        "stream-pending" => Quantity::StreamPending,
        "findings" => Quantity::Findings,
        "growth.memory-per-day" => Quantity::GrowthPerDay,
        _ => {
            if let Some(g) = s.strip_prefix("growth.") {
                if let Some(f) = field(g) {
                    return Some(Quantity::Growth(f));
                }
                let (patterns, glob, field) = rows(g)?;
                return Some(Quantity::GrowthRows {
                    patterns,
                    glob,
                    field,
                });
            }
            let (patterns, glob, field) = rows(s)?;
            Quantity::Rows {
                patterns,
                glob,
                field,
            }
        }
    })
}

impl Rule {
    /// Parses `QUANTITY OP VALUE`.
    ///
    /// # Errors
    /// An unknown quantity (the message lists the valid ones), a missing operator, a bad
    /// value or unit, or a value of the wrong kind for the quantity.
    pub fn parse(text: &str) -> Result<Rule, String> {
        let t = text.trim();
        let (at, len, op) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
            .iter()
            .filter_map(|&(s, op)| t.find(s).map(|i| (i, s.len(), op)))
            .min_by_key(|&(i, len, _)| (i, std::cmp::Reverse(len)))
            .ok_or_else(|| format!("{t:?}: expected QUANTITY OP VALUE, OP one of > >= < <="))?;
        let (name, v) = (t[..at].trim(), t[at + len..].trim());
        let quantity = quantity(name)
            .ok_or_else(|| format!("{t:?}: unknown quantity {name:?}; one of {QUANTITIES}"))?;
        let value = if quantity == Quantity::Findings {
            Value::Severity(match v.to_ascii_lowercase().as_str() {
                "info" => Severity::Info,
                "warning" => Severity::Warning,
                "critical" => Severity::Critical,
                _ => {
                    return Err(format!(
                        "{t:?}: findings compare with info, warning or critical"
                    ))
                }
            })
        } else if let Some(p) = v.strip_suffix('%') {
            Value::Pct(
                p.trim()
                    .parse()
                    .map_err(|_| format!("{t:?}: {v:?} is not a percentage"))?,
            )
        } else {
            let (sign, amount) = match v.strip_prefix('-') {
                Some(rest) => (-1.0, rest),
                None => (1.0, v),
            };
            let n = crate::units::parse_bytes(amount).map_err(|e| format!("{t:?}: {e}"))?;
            Value::Amount(sign * n as f64)
        };
        let pct_only = matches!(quantity, Quantity::NotInKeys);
        let no_pct = matches!(
            quantity,
            Quantity::BiggestKey | Quantity::StreamPending | Quantity::GrowthPerDay
        );
        if pct_only && !matches!(value, Value::Pct(_)) {
            return Err(format!(
                "{t:?}: not-in-keys is a share: give it in % (e.g. 20%)"
            ));
        }
        if no_pct && matches!(value, Value::Pct(_)) {
            return Err(format!("{t:?}: {name} takes an amount, not a %"));
        }
        Ok(Rule {
            text: t.to_string(),
            quantity,
            op,
            value,
        })
    }

    /// Whether the rule needs a diff (it measures growth).
    pub fn needs_diff(&self) -> bool {
        matches!(
            self.quantity,
            Quantity::Growth(_) | Quantity::GrowthPerDay | Quantity::GrowthRows { .. }
        )
    }

    /// Sets the name shown for the rule (a rules file's `name`).
    pub fn named(mut self, name: &str) -> Rule {
        self.text = format!("{name} ({})", self.text);
        self
    }
}

fn is_bytes(f: Field) -> bool {
    matches!(f, Field::Memory | Field::MemoryNoTtl)
}

fn shown(v: f64, bytes: bool) -> String {
    match (bytes, v < 0.0) {
        (true, false) => human_bytes(v as u64),
        (true, true) => format!("-{}", human_bytes((-v) as u64)),
        (false, _) => format!("{v:.0}"),
    }
}

fn row_value(r: &Row, f: Field) -> u64 {
    match f {
        Field::Memory => r.memory,
        Field::Keys => r.keys,
        Field::MemoryNoTtl => r.memory_no_ttl,
        Field::KeysNoTtl => r.keys_no_ttl,
    }
}

fn table_total(t: &Table, f: Field) -> u64 {
    t.rows.iter().map(|r| row_value(r, f)).sum::<u64>() + row_value(&t.other, f)
}

/// The report's figures a rule reads.
struct Figures<'a> {
    r: &'a Report,
}

impl Figures<'_> {
    fn total(&self, f: Field) -> u64 {
        table_total(&self.r.patterns, f)
    }
    fn whole(&self, f: Field) -> f64 {
        if is_bytes(f) {
            self.r.totals.memory as f64
        } else {
            self.r.totals.keys as f64
        }
    }
}

fn delta_of(d: &ReportDiff, f: Field) -> Delta {
    let t = &d.totals;
    match f {
        Field::Memory => t.memory,
        Field::Keys => t.keys,
        Field::KeysNoTtl => Delta::new(
            t.keys.old - t.keys_with_ttl.old,
            t.keys.new - t.keys_with_ttl.new,
        ),
        Field::MemoryNoTtl => {
            let p = &d.patterns;
            let (o, n) = p
                .rows
                .iter()
                .chain(std::iter::once(&p.rest))
                .fold((0, 0), |(o, n), r| {
                    (o + r.memory_no_ttl.old, n + r.memory_no_ttl.new)
                });
            Delta::new(o, n)
        }
    }
}

/// Evaluates `rules` on a report (`report`) and, for growth rules, a diff whose new side it
/// is. Growth rules without a diff are skipped (the caller refuses them up front).
pub fn evaluate(rules: &[Rule], report: &Report, diff: Option<&ReportDiff>) -> Vec<Failure> {
    let mut out = Vec::new();
    let fig = Figures { r: report };
    for rule in rules {
        let mut check = |v: f64, bytes: bool, whole: Option<f64>, row: Option<String>| {
            let (measured, holds) = match rule.value {
                Value::Amount(t) => (shown(v, bytes), rule.op.holds(v, t)),
                Value::Pct(t) => {
                    let p = match whole {
                        Some(w) if w > 0.0 => v * 100.0 / w,
                        _ => 0.0,
                    };
                    (
                        format!("{p:.2}% ({})", shown(v, bytes)),
                        rule.op.holds(p, t),
                    )
                }
                Value::Severity(_) => return,
            };
            if holds {
                out.push(Failure {
                    rule: rule.text.clone(),
                    measured,
                    row,
                });
            }
        };
        match &rule.quantity {
            Quantity::Memory => check(report.totals.memory as f64, true, None, None),
            Quantity::Keys => check(report.totals.keys as f64, false, None, None),
            Quantity::KeysNoTtl => {
                let v = report.totals.keys - report.totals.keys_with_ttl;
                check(v as f64, false, Some(fig.whole(Field::Keys)), None)
            }
            Quantity::MemoryNoTtl => {
                let v = fig.total(Field::MemoryNoTtl) as f64;
                check(v, true, Some(fig.whole(Field::Memory)), None)
            }
            Quantity::ExpiredMemory => {
                let p = &report.patterns;
                let v =
                    p.rows.iter().map(|r| r.memory_expired).sum::<u64>() + p.other.memory_expired;
                check(v as f64, true, Some(fig.whole(Field::Memory)), None)
            }
            Quantity::BiggestKey => {
                if let Some(k) = report.top_keys.by_memory.first() {
                    check(
                        k.memory as f64,
                        true,
                        None,
                        Some(format!("db{} {}", k.db, k.key)),
                    );
                }
            }
            Quantity::NotInKeys => {
                let rec = &report.reconciliation;
                if let (Some(p), Value::Pct(t)) = (rec.remainder_pct, rule.value) {
                    if rule.op.holds(p, t) {
                        out.push(Failure {
                            rule: rule.text.clone(),
                            measured: format!(
                                "{p:.2}% of used-mem ({})",
                                shown(rec.remainder.unwrap_or(0) as f64, true)
                            ),
                            row: None,
                        });
                    }
                }
            }
            Quantity::StreamPending => {
                for s in &report.streams.top_pending {
                    check(
                        s.pending as f64,
                        false,
                        None,
                        Some(format!("db{} {}", s.key.db, s.key.key)),
                    );
                }
            }
            Quantity::Findings => {
                if let Value::Severity(t) = rule.value {
                    for f in &report.findings {
                        let v = f.severity as u8 as f64;
                        if rule.op.holds(v, t as u8 as f64) {
                            out.push(Failure {
                                rule: rule.text.clone(),
                                measured: format!("{:?}", f.severity).to_lowercase(),
                                row: Some(f.title.clone()),
                            });
                        }
                    }
                }
            }
            Quantity::Rows {
                patterns,
                glob,
                field,
            } => {
                let tables: Vec<&Table> = if *patterns {
                    vec![&report.patterns]
                } else {
                    report.prefixes.levels.iter().collect()
                };
                for t in tables {
                    for r in t
                        .rows
                        .iter()
                        .filter(|r| glob_match(glob.as_bytes(), r.name.as_bytes()))
                    {
                        check(
                            row_value(r, *field) as f64,
                            is_bytes(*field),
                            Some(fig.whole(*field)),
                            Some(r.name.clone()),
                        );
                    }
                }
            }
            Quantity::Growth(f) => {
                if let Some(d) = diff {
                    let g = delta_of(d, *f);
                    check(g.delta as f64, is_bytes(*f), Some(g.old as f64), None);
                }
            }
            Quantity::GrowthPerDay => {
                if let Some(v) = diff.and_then(|d| d.totals.memory_per_day) {
                    check(v, true, None, None);
                }
            }
            Quantity::GrowthRows {
                patterns,
                glob,
                field,
            } => {
                let Some(d) = diff else { continue };
                let tables: Vec<&TableDiff> = if *patterns {
                    vec![&d.patterns]
                } else {
                    d.prefixes.iter().collect()
                };
                for t in tables {
                    for r in t
                        .rows
                        .iter()
                        .filter(|r| glob_match(glob.as_bytes(), r.name.as_bytes()))
                    {
                        let g = match field {
                            Field::Memory => r.memory,
                            Field::Keys => r.keys,
                            Field::MemoryNoTtl => r.memory_no_ttl,
                            Field::KeysNoTtl => continue,
                        };
                        check(
                            g.delta as f64,
                            is_bytes(*field),
                            Some(g.old as f64),
                            Some(r.name.clone()),
                        );
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_as_people_write_them() {
        let r = Rule::parse("memory > 1.5GiB").unwrap();
        assert_eq!(r.value, Value::Amount(1.5 * 1_073_741_824.0));
        assert_eq!(r.op, Op::Gt);
        let r = Rule::parse("pattern(session:*).memory-no-ttl>=10%").unwrap();
        assert!(matches!(r.quantity, Quantity::Rows { patterns: true, .. }));
        assert_eq!((r.op, r.value), (Op::Ge, Value::Pct(10.0)));
        assert!(Rule::parse("growth.prefix(user:).keys > 200k")
            .unwrap()
            .needs_diff());
        assert_eq!(
            Rule::parse("findings >= warning").unwrap().value,
            Value::Severity(Severity::Warning)
        );
        let e = Rule::parse("memroy > 1GiB").unwrap_err();
        assert!(
            e.contains("unknown quantity") && e.contains("biggest-key"),
            "{e}"
        );
        assert!(Rule::parse("memory > 1 parsec")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(Rule::parse("memory 1GiB").unwrap_err().contains("OP"));
        assert!(Rule::parse("not-in-keys > 1MiB").is_err());
        assert!(Rule::parse("biggest-key > 5%").is_err());
        assert!(Rule::parse("findings > loud").is_err());
        assert!(Rule::parse("growth.memory < -1GiB").is_ok());
    }
}
