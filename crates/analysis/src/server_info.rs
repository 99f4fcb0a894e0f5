//! The saved outputs of a live server, for `--info FILE`: `INFO`, `MEMORY STATS`,
//! `CLIENT LIST` and `CONFIG GET` as `redis-cli` prints them to a file (raw: one item a line)
//! or to a terminal (`1) "name"` / `2) (integer) 5`); one or several in one text, in any order,
//! blank lines and prompt lines (`$ redis-cli info`, `127.0.0.1:6379> INFO`) between them.
//!
//! Shapes, as Redis 7.0's `redis-cli` writes them (real captures in `fixtures/server-info/`):
//! * INFO: `# Section` headers, `name:value` lines, CRLF line ends, blank lines between
//!   sections. It is truncated when it has no `# Memory` section, when that section lacks
//!   `used_memory`, or when the block ends inside it before `mem_allocator`.
//! * MEMORY STATS, raw: alternating name and value lines from `peak.allocated` on. A `db.N`
//!   name is followed at once by its nested map's pairs, with no marker where the map ends:
//!   nested names are those under `overhead.hashtable.` (the terminal form shows the nesting
//!   by indentation, which is used instead). The block ends at a line that is no stats name.
//! * CLIENT LIST: `id=N addr=... name= ...` lines of space-separated `k=v` fields.
//! * CONFIG GET, raw: alternating name and value lines; an empty value is an empty line. A
//!   block counts when it names `maxmemory` or a handful of well-known parameters.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// What the saved outputs of one server say: INFO, MEMORY STATS, CLIENT LIST, CONFIG GET.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerInfo {
    /// INFO fields, `name -> value` as printed (all sections merged; keyspace lines `db0:keys=..` too).
    pub info: BTreeMap<String, String>,
    /// INFO section names in the order seen (e.g. "Server", "Memory").
    pub sections: Vec<String>,
    /// MEMORY STATS, flattened: nested maps joined with '.', e.g. "db.0.overhead.hashtable.main".
    pub memory_stats: BTreeMap<String, String>,
    /// CLIENT LIST, one entry per line, fields in order.
    pub clients: Vec<Client>,
    /// CONFIG GET output, name -> value (empty values kept).
    pub config: BTreeMap<String, String>,
    /// Which outputs the text held, in order of appearance.
    pub parts: Vec<InfoPart>,
}

/// One of the four outputs a saved text can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoPart {
    /// `INFO` (any sections).
    Info,
    /// `MEMORY STATS`.
    MemoryStats,
    /// `CLIENT LIST`.
    ClientList,
    /// `CONFIG GET` (any pattern).
    Config,
}

/// One CLIENT LIST line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Client {
    /// The line's `name=value` fields in the order printed; values may be empty (`name=`).
    pub fields: Vec<(String, String)>,
}

impl Client {
    /// The value of the first field called `name`, if the line has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        let (_, value) = self.fields.iter().find(|(k, _)| k == name)?;
        Some(value)
    }

    /// The field `name` as an unsigned integer (None when absent or not one).
    pub fn u64(&self, name: &str) -> Option<u64> {
        self.get(name)?.trim().parse().ok()
    }
}

/// Why a saved text could not be read as server output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoError {
    /// The 1-based line the problem was found at.
    pub line: usize,
    /// What is wrong, for a person.
    pub message: String,
}

impl fmt::Display for InfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for InfoError {}

impl ServerInfo {
    /// Parses saved text holding one or more of the four outputs; lines of no known shape
    /// between them are skipped.
    ///
    /// # Errors
    /// [`InfoError`] when nothing in it has any of the four shapes (the message quotes the
    /// first non-empty line, cut to 60 characters), or when an INFO block is present but
    /// truncated: no `# Memory` section, a Memory section without `used_memory`, or a block
    /// that ends inside its Memory section before `mem_allocator`.
    pub fn parse(text: &str) -> Result<ServerInfo, InfoError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
        let (mut out, mut blocks, mut first_text) = (ServerInfo::default(), Vec::new(), None);
        let mut i = 0;
        while let Some(&line) = lines.get(i) {
            if line.trim().is_empty() || is_prompt(line) {
                i += 1;
                continue;
            }
            first_text.get_or_insert(i);
            let start = i;
            if section_header(line).is_some() {
                blocks.push(parse_info(&lines, &mut i, &mut out));
                out.note(InfoPart::Info);
            } else if client_line(line).is_some() {
                while let Some(client) = lines.get(i).and_then(|l| client_line(l)) {
                    out.clients.push(client);
                    i += 1;
                }
                out.note(InfoPart::ClientList);
            } else if let Some(form) = form_at(line, |t| t == "peak.allocated") {
                parse_stats(&lines, &mut i, form, &mut out.memory_stats);
                if i > start {
                    out.note(InfoPart::MemoryStats);
                }
            } else if let Some(form) = form_at(line, is_config_name) {
                let pairs = parse_config(&lines, &mut i, form);
                if config_plausible(&pairs) {
                    out.config.extend(pairs);
                    out.note(InfoPart::Config);
                }
            }
            i = i.max(start + 1);
        }
        if out.parts.is_empty() {
            const NONE: &str = "no INFO, MEMORY STATS, CLIENT LIST or CONFIG GET output";
            return Err(match first_text {
                None => err(0, format!("the text is empty: {NONE}")),
                Some(n) => {
                    let quoted = quote(lines[n]);
                    err(n, format!("{NONE}; the first line reads {quoted}"))
                }
            });
        }
        check_info(&blocks)?;
        let mut seen = std::collections::BTreeSet::new();
        out.sections.retain(|s| seen.insert(s.clone()));
        Ok(out)
    }

    fn note(&mut self, part: InfoPart) {
        if !self.parts.contains(&part) {
            self.parts.push(part);
        }
    }

    /// An INFO field as u64 (accepts integers; None when absent or not a number).
    pub fn info_u64(&self, name: &str) -> Option<u64> {
        self.info.get(name)?.trim().parse().ok()
    }

    /// An INFO field as a finite f64 (`1.33`, `100.17%`; None when absent or not a number).
    pub fn info_f64(&self, name: &str) -> Option<f64> {
        to_f64(self.info.get(name)?)
    }

    /// A MEMORY STATS entry (flattened name) as u64 (None when absent, negative or not an integer).
    pub fn stat_u64(&self, name: &str) -> Option<u64> {
        self.memory_stats.get(name)?.trim().parse().ok()
    }

    /// A MEMORY STATS entry (flattened name) as a finite f64.
    pub fn stat_f64(&self, name: &str) -> Option<f64> {
        to_f64(self.memory_stats.get(name)?)
    }

    /// A CONFIG GET parameter's value as printed (may be empty).
    pub fn config(&self, name: &str) -> Option<&str> {
        self.config.get(name).map(String::as_str)
    }

    /// The server's identity for matching to a dump: INFO's master_replid, then run_id.
    pub fn replid(&self) -> Option<&str> {
        let id = self.info.get("master_replid");
        id.or_else(|| self.info.get("run_id")).map(String::as_str)
    }

    /// INFO's `run_id`: this server process (it changes on every restart).
    pub fn run_id(&self) -> Option<&str> {
        self.info.get("run_id").map(String::as_str)
    }
}

fn to_f64(s: &str) -> Option<f64> {
    let s = s.trim();
    let v: f64 = s.strip_suffix('%').unwrap_or(s).parse().ok()?;
    v.is_finite().then_some(v)
}

/// An error at the 0-based line `at`.
fn err(at: usize, message: impl Into<String>) -> InfoError {
    let (line, message) = (at + 1, message.into());
    InfoError { line, message }
}

/// The line quoted for a message: control characters escaped, cut to 60 characters.
fn quote(line: &str) -> String {
    let line = line.trim();
    let mut q: String = line.chars().take(60).flat_map(char::escape_debug).collect();
    if line.chars().nth(60).is_some() {
        q.push('…');
    }
    format!("\"{q}\"")
}

/// `$ redis-cli info`, `127.0.0.1:6379> INFO`, `redis> `, `host:6379[2]> `.
fn is_prompt(line: &str) -> bool {
    let t = line.trim_start();
    let Some((head, rest)) = t.split_once('>') else {
        return t.starts_with("$ ") || t == "$";
    };
    let host = |b: u8| b.is_ascii_alphanumeric() || b".:-_[]".contains(&b);
    let end = head.ends_with(|c: char| c.is_ascii_digit() || c == ']');
    let known = matches!(head, "redis" | "valkey" | "not connected");
    let prompt = !head.is_empty() && head.bytes().all(host) && (end || known);
    t.starts_with("$ ") || (prompt && (rest.is_empty() || rest.starts_with(' ')))
}

fn name_of(s: &str, max: usize, ok: impl Fn(u8) -> bool) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(ok)
}

/// `# Memory` -> `Memory`.
fn section_header(line: &str) -> Option<&str> {
    let name = line.strip_prefix("# ")?.trim();
    name_of(name, 64, |b| b.is_ascii_alphanumeric() || b == b'_').then_some(name)
}

/// `used_memory:1040208`, `cmdstat_client|list:calls=2,...` -> (name, value).
fn info_field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"_|.-/@".contains(&b);
    (name_of(name, 200, ok) && !is_prompt(line)).then_some((name, value))
}

/// Where one INFO block starts and ends, and what the truncation checks need of its
/// `# Memory` section: its line, whether it had used_memory and mem_allocator, whether another
/// section followed it, and the last field read in it.
#[derive(Default)]
struct InfoBlock {
    start: usize,
    last: usize,
    memory: Option<usize>,
    used_memory: bool,
    mem_allocator: bool,
    followed: bool,
    last_field: String,
}

/// Reads an INFO block from `*at` (its first header) into `out`, leaving `*at` after it.
fn parse_info(lines: &[&str], at: &mut usize, out: &mut ServerInfo) -> InfoBlock {
    let mut block = InfoBlock::default();
    (block.start, block.last) = (*at, *at);
    let mut in_memory = false;
    while let Some(&line) = lines.get(*at) {
        if let Some(name) = section_header(line) {
            out.sections.push(name.to_string());
            in_memory = name.eq_ignore_ascii_case("memory");
            block.followed |= block.memory.is_some() && !in_memory;
            if in_memory && block.memory.is_none() {
                block.memory = Some(*at);
            }
            block.last = *at;
        } else if let Some((name, value)) = info_field(line) {
            out.info.insert(name.to_string(), value.to_string());
            if in_memory {
                block.used_memory |= name == "used_memory";
                block.mem_allocator |= name == "mem_allocator";
                name.clone_into(&mut block.last_field);
            }
            block.last = *at;
        } else if !line.trim().is_empty() {
            break;
        }
        *at += 1;
    }
    block
}

fn check_info(blocks: &[InfoBlock]) -> Result<(), InfoError> {
    let Some(first) = blocks.first() else {
        return Ok(());
    };
    if blocks.iter().all(|b| b.memory.is_none()) {
        let why = "the INFO output has no `# Memory` section (truncated, or saved without it: \
                   use `INFO everything`)";
        return Err(err(first.start, why));
    }
    for (m, header) in blocks.iter().filter_map(|b| Some((b, b.memory?))) {
        if !m.used_memory {
            let why = "the INFO output's `# Memory` section has no used_memory: it is truncated";
            return Err(err(header, why));
        }
        if !m.mem_allocator && !m.followed {
            let why = format!(
                "the INFO output ends inside its `# Memory` section, after `{}` and before \
                 mem_allocator: it is truncated",
                m.last_field
            );
            return Err(err(m.last, why));
        }
    }
    Ok(())
}

/// `id=5 addr=127.0.0.1:50000 name= ...`.
fn client_line(line: &str) -> Option<Client> {
    let line = line.trim();
    let _ = line.strip_prefix("id=")?;
    let pair = |f: &str| Some((f.split_once('=')?.0.into(), f.split_once('=')?.1.into()));
    let fields = line.split(' ').filter(|f| !f.is_empty()).map(pair);
    let fields = fields.collect::<Option<Vec<_>>>()?;
    (fields.len() >= 2).then_some(Client { fields })
}

/// How a reply's items are printed: one a line as is, or `N) item` where `col` is the column
/// top-level items' text starts at (text further right is nested).
#[derive(Clone, Copy)]
enum Form {
    Raw,
    Terminal { col: usize },
}

/// One item of a reply: its text, whether it is nested (terminal form only) and its index.
type Item<'a> = (Cow<'a, str>, Option<bool>, u64);

fn item<'a>(lines: &[&'a str], at: usize, form: Form) -> Option<Item<'a>> {
    let line = *lines.get(at)?;
    match form {
        Form::Raw => Some((Cow::Borrowed(line), None, 0)),
        Form::Terminal { col } => {
            let (at_col, index, text) = terminal_item(line)?;
            Some((text, Some(at_col > col), index))
        }
    }
}

/// The form of a reply whose first item is `line`, when its text passes `first`.
fn form_at(line: &str, first: impl Fn(&str) -> bool) -> Option<Form> {
    if first(line.trim_end()) {
        return Some(Form::Raw);
    }
    let (col, index, text) = terminal_item(line)?;
    (index == 1 && first(&text)).then_some(Form::Terminal { col })
}

/// A terminal-form line (`22) 1) "name"`, `    2) (integer) 5`): the column its text starts
/// at, its first index and the text, unquoted.
fn terminal_item(line: &str) -> Option<(usize, u64, Cow<'_, str>)> {
    let b = line.as_bytes();
    let spaces = |p: usize| b[p..].iter().take_while(|&&c| c == b' ').count();
    let (mut p, mut index) = (spaces(0), None);
    loop {
        let digits = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
        let close = b.get(p + digits..p + digits + 2) == Some(b") ");
        if digits == 0 || digits > 18 || !close {
            break;
        }
        index = index.or(line[p..p + digits].parse().ok());
        p += digits + 2;
        p += spaces(p);
    }
    let rest = &line[p..];
    let number = rest.strip_prefix("(integer) ");
    let text = if let Some(q) = rest.strip_prefix('"') {
        Cow::Owned(unquote(q)?)
    } else if let Some(n) = number.or_else(|| rest.strip_prefix("(double) ")) {
        Cow::Borrowed(n.trim())
    } else if rest == "(nil)" {
        Cow::Borrowed("")
    } else if rest.starts_with('(') || rest.is_empty() {
        return None;
    } else {
        Cow::Borrowed(rest)
    };
    Some((p, index?, text))
}

/// The inside of a `redis-cli` quoted string (after the opening quote, up to a closing quote
/// that ends the line): `\n \r \t \a \b \" \\ \xHH` decoded.
fn unquote(q: &str) -> Option<String> {
    let (mut out, mut it) = (Vec::new(), q.bytes());
    while let Some(c) = it.next() {
        let byte = match c {
            b'"' if it.len() == 0 => return Some(String::from_utf8_lossy(&out).into()),
            b'"' => return None,
            b'\\' => match it.next()? {
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'a' => 7,
                b'b' => 8,
                b'x' => {
                    let hex = [it.next()?, it.next()?];
                    u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?
                }
                other => other,
            },
            other => other,
        };
        out.push(byte);
    }
    None
}

fn is_number(s: &str) -> bool {
    let digits = name_of(s, 64, |b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    (digits && s.parse::<f64>().is_ok()) || matches!(s, "inf" | "-inf" | "nan" | "-nan")
}

/// `peak.allocated`, `script.VMs`, `fragmentation`: dotted names (and the one undotted one).
fn is_stat_name(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b".-_".contains(&b);
    let dotted = s.contains('.') || s == "fragmentation";
    name_of(s, 64, ok) && s.starts_with(|c: char| c.is_ascii_alphabetic()) && dotted
}

/// `maxmemory`, `client-output-buffer-limit`, `bio_cpulist`.
fn is_config_name(s: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
    name_of(s, 64, ok) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Reads MEMORY STATS pairs from `*at` into `out`, leaving `*at` after the last one.
fn parse_stats(lines: &[&str], at: &mut usize, form: Form, out: &mut BTreeMap<String, String>) {
    while let (Some(n), Some(v)) = (item(lines, *at, form), item(lines, *at + 1, form)) {
        let ((name, nested, _), (value, value_nested, _)) = (n, v);
        if nested == Some(true) || !is_stat_name(&name) {
            break;
        }
        if value_nested != Some(true) && is_number(&value) {
            out.insert(name.into_owned(), value.into_owned());
            *at += 2;
            continue;
        }
        // A nested map (`db.N`): its pairs follow the name directly.
        let mut k = *at + 1;
        while let (Some(sub), Some(v)) = (item(lines, k, form), item(lines, k + 1, form)) {
            let in_map = sub.1.unwrap_or(sub.0.starts_with("overhead.hashtable."));
            if !in_map || v.1 == Some(false) || !is_stat_name(&sub.0) || !is_number(&v.0) {
                break;
            }
            out.insert(format!("{name}.{}", sub.0), v.0.into_owned());
            k += 2;
        }
        if k == *at + 1 {
            break;
        }
        *at = k;
    }
}

/// Reads CONFIG GET pairs from `*at`, leaving `*at` after the last one.
fn parse_config(lines: &[&str], at: &mut usize, form: Form) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    while let (Some(n), Some(v)) = (item(lines, *at, form), item(lines, *at + 1, form)) {
        let ((name, nested, index), (value, _, _)) = (n, v);
        let aligned = matches!(form, Form::Raw) || (index % 2 == 1 && nested == Some(false));
        if !aligned || !is_config_name(&name) {
            break;
        }
        pairs.push((name.into_owned(), value.into_owned()));
        *at += 2;
    }
    pairs
}

/// Parameters every Redis and Valkey has: a block naming a few of them is CONFIG GET output.
const WELL_KNOWN: &str = "maxmemory-policy maxclients timeout port bind dir dbfilename save \
    appendonly databases hz loglevel daemonize tcp-keepalive maxmemory-samples requirepass";

fn config_plausible(pairs: &[(String, String)]) -> bool {
    let known = WELL_KNOWN.split_whitespace();
    let known = known.filter(|w| pairs.iter().any(|(k, _)| k == w)).count();
    pairs.iter().any(|(k, _)| k == "maxmemory") || known >= 4
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($path:expr) => {
            include_str!(concat!("../../../fixtures/server-info/", $path))
        };
    }
    #[rustfmt::skip]
    macro_rules! scenario {
        ($d:literal) => {
            [
                $d,
                fixture!(concat!($d, "/info.txt")),
                fixture!(concat!($d, "/memory-stats.txt")),
                fixture!(concat!($d, "/client-list.txt")),
                fixture!(concat!($d, "/config.txt")),
                fixture!(concat!($d, "/all.txt")),
            ]
        };
    }

    /// Per scenario: name, info.txt, memory-stats.txt, client-list.txt, config.txt, all.txt.
    #[rustfmt::skip]
    const SCENARIOS: [[&str; 6]; 3] = [
        scenario!("healthy"),
        scenario!("fragmented"),
        scenario!("output-buffer"),
    ];
    #[rustfmt::skip]
    const ALL: [InfoPart; 4] =
        [InfoPart::Info, InfoPart::MemoryStats, InfoPart::ClientList, InfoPart::Config];

    fn parse(text: &str) -> ServerInfo {
        ServerInfo::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The values of space-separated `keys` in `map`, joined with '|' ("?" when absent).
    fn vals(map: &BTreeMap<String, String>, keys: &str) -> String {
        let get = |k: &str| map.get(k).map_or("?", String::as_str);
        let each = keys.split(' ').map(get);
        each.collect::<Vec<_>>().join("|")
    }

    #[test]
    fn server_info_fixture_files_alone_parse() {
        for [name, info, stats, clients, config, _] in SCENARIOS {
            let (i, s, c, g) = (parse(info), parse(stats), parse(clients), parse(config));
            let parts = [&i, &s, &c, &g].map(|x| x.parts.clone());
            assert_eq!(parts, ALL.map(|p| vec![p]), "{name}");
            // Every field of every file is read.
            let fields = info
                .lines()
                .filter(|l| l.contains(':') && !l.starts_with('#'));
            assert_eq!(i.info.len(), fields.count(), "{name}");
            let dbs = stats.lines().filter(|l| l.starts_with("db.")).count();
            assert_eq!(s.memory_stats.len() * 2 + dbs, stats.lines().count());
            assert_eq!(c.clients.len(), clients.lines().count(), "{name}");
            assert_eq!(g.config.len() * 2, config.lines().count(), "{name}");
            // Named values.
            assert_eq!(i.sections[..3], ["Server", "Clients", "Memory"], "{name}");
            let versions = vals(&i.info, "redis_version mem_allocator");
            assert_eq!(versions, "7.0.15|jemalloc-5.3.0", "{name}");
            assert_eq!(i.replid().map(str::len), Some(40), "{name}");
            assert_eq!(i.run_id().map(str::len), Some(40), "{name}");
            assert!(i.info_u64("used_memory") > Some(1 << 20), "{name}");
            let keys = i.info["db0"].split([',', '=']).nth(1);
            assert_eq!(s.stat_u64("keys.count"), keys.and_then(|k| k.parse().ok()));
            assert!(s.stat_u64("db.0.overhead.hashtable.slot-to-keys").is_some());
            assert!(s.stat_f64("fragmentation.bytes").is_some(), "{name}");
            assert!(c.clients.iter().all(|c| c.u64("omem").is_some()), "{name}");
            let empty = vals(&g.config, "masterauth bio_cpulist save");
            assert_eq!(empty, "||", "{name}");
            let limits = g.config("client-output-buffer-limit").unwrap_or_default();
            assert!(limits.contains(" pubsub "), "{name}");
            let maxmemory = i.info.get("maxmemory").map(String::as_str);
            assert_eq!(g.config("maxmemory"), maxmemory, "{name}");
        }
    }

    #[test]
    fn server_info_all_txt_matches_parts() {
        for [name, info, stats, clients, config, all] in SCENARIOS {
            let i = parse(info);
            let expected = ServerInfo {
                info: i.info,
                sections: i.sections,
                memory_stats: parse(stats).memory_stats,
                clients: parse(clients).clients,
                config: parse(config).config,
                parts: ALL.to_vec(),
            };
            assert_eq!(parse(all), expected, "{name}");
            let lf = all.replace("\r\n", "\n");
            assert_eq!(parse(&lf.replace('\n', "\r\n")), expected, "{name}: CRLF");
            assert_eq!(parse(&lf), expected, "{name}: LF");
            // Another order, with prompts and blank lines between.
            let mixed = format!(
                "$ redis-cli config get '*'\n{config}127.0.0.1:6379> CLIENT LIST\n{clients}\n\n\
                 {stats}redis> INFO everything\n{info}"
            );
            let mut m = parse(&mixed);
            assert_eq!(m.parts, [ALL[3], ALL[2], ALL[1], ALL[0]], "{name}");
            m.parts = ALL.to_vec();
            assert_eq!(m, expected, "{name}: mixed");
        }
    }

    #[test]
    fn server_info_scenarios_measured_facts() {
        let [healthy, fragmented, buffered] = SCENARIOS.map(|s| parse(s[5]));
        assert_eq!(healthy.info["maxmemory_policy"], "allkeys-lru");
        assert_eq!(healthy.config("maxmemory"), Some("67108864"));
        assert!(healthy.info_f64("mem_fragmentation_ratio") < Some(1.5));
        assert!(fragmented.info_f64("mem_fragmentation_ratio") > Some(1.5));
        assert_eq!(fragmented.config("activedefrag"), Some("no"));
        assert!(fragmented.info_f64("used_memory_peak_perc") > Some(1.0));
        let name = |n: &str| buffered.clients.iter().find(|c| c.get("name") == Some(n));
        assert!(name("slow-subscriber").and_then(|c| c.u64("omem")) > Some(10 << 20));
        assert_eq!(name("app-worker").and_then(|c| c.u64("omem")), Some(0));
    }

    #[test]
    fn server_info_terminal_forms_parse() {
        let text = concat!(
            "127.0.0.1:6379> MEMORY STATS\n",
            " 1) \"peak.allocated\"\n 2) (integer) 1013712\n 3) \"script.VMs\"\n 4) (integer) 0\n",
            " 5) \"db.0\"\n 6) 1) \"overhead.hashtable.main\"\n    2) (integer) 112\n",
            "    3) \"overhead.hashtable.expires\"\n    4) (integer) 0\n",
            " 7) \"db.3\"\n 8) 1) \"overhead.hashtable.main\"\n    2) (integer) 72\n",
            "    3) \"new.nested.key\"\n    4) (integer) 9\n",
            " 9) \"overhead.total\"\n10) (integer) 876688\n",
            "11) \"fragmentation\"\n12) \"12.989675521850586\"\n",
            "13) \"fragmentation.bytes\"\n14) (integer) -11398728\n",
            "127.0.0.1:6379> CONFIG GET *\n1) \"maxmemory\"\n2) \"0\"\n3) \"masterauth\"\n4) \"\"\n",
            "5) \"client-output-buffer-limit\"\n6) \"normal 0 0 0 pubsub 0 0 0\"\n",
            "7) \"notify-keyspace-events\"\n8) \"K\\\"x\\\\\\xc3\\xa9\"\n127.0.0.1:6379> ",
        );
        let s = parse(text);
        assert_eq!(s.parts, [InfoPart::MemoryStats, InfoPart::Config]);
        assert_eq!((s.memory_stats.len(), s.config.len()), (9, 4));
        let keys = "peak.allocated script.VMs db.0.overhead.hashtable.expires overhead.total";
        assert_eq!(vals(&s.memory_stats, keys), "1013712|0|0|876688");
        let keys = "db.3.new.nested.key fragmentation fragmentation.bytes";
        let nested = vals(&s.memory_stats, keys);
        assert_eq!(nested, "9|12.989675521850586|-11398728", "by indentation");
        assert_eq!(s.stat_u64("fragmentation.bytes"), None);
        let keys = "masterauth client-output-buffer-limit notify-keyspace-events";
        assert_eq!(vals(&s.config, keys), "|normal 0 0 0 pubsub 0 0 0|K\"x\\é");
        // One raw CONFIG GET parameter, and newer servers' extra top-level stats.
        let raw = "maxmemory\n0\npeak.allocated\n5\ndb.0\noverhead.hashtable.main\n1\n\
                   overhead.db.hashtable.lut\n2\ndb.dict.rehashing.count\n0\n";
        let r = parse(raw);
        assert_eq!(r.config("maxmemory"), Some("0"));
        let keys: Vec<&str> = r.memory_stats.keys().map(String::as_str).collect();
        let want = "db.0.overhead.hashtable.main db.dict.rehashing.count overhead.db.hashtable.lut";
        assert_eq!(keys.join(" "), format!("{want} peak.allocated"));
    }

    #[test]
    fn server_info_bad_files_error_or_differ() {
        let e = ServerInfo::parse(fixture!("bad/truncated-info.txt")).expect_err("truncated");
        assert!(e.message.contains("inside its `# Memory` section"), "{e}");
        let info = fixture!("healthy/info.txt");
        let cut = info.split("used_memory:").next().unwrap_or_default();
        let e = ServerInfo::parse(cut).expect_err("cut before used_memory");
        assert!(e.message.contains("has no used_memory"), "{e}");
        let cut = cut.split("# Memory").next().unwrap_or_default();
        let e = ServerInfo::parse(cut).expect_err("cut before Memory");
        assert!(e.message.contains("no `# Memory` section"), "{e}");

        let e = ServerInfo::parse(fixture!("bad/not-info.txt")).expect_err("not info");
        let quoted = "\"Sehr geehrte Damen und Herren, anbei finden Sie die Speicher…\"";
        assert!(e.message.contains(quoted), "{e}");
        assert!(e.to_string().starts_with("line 1: "), "{e}");

        let other = parse(fixture!("bad/other-server-info.txt"));
        let healthy = parse(info);
        assert!(other.replid().is_some() && other.replid() != healthy.replid());
        assert!(other.run_id().is_some() && other.run_id() != healthy.run_id());
    }

    #[test]
    fn server_info_empty_and_garbage_error_without_panic() {
        for text in ["", "\n \r\n", "\u{feff}", "OK\nyes\nno\n", "port\n1"] {
            let e = ServerInfo::parse(text);
            assert!(e.is_err_and(|e| e.line >= 1), "{text:?}");
        }
        let e = ServerInfo::parse("\n\n\u{1}\u{7f}garbage\tline").expect_err("control");
        assert!(e.line == 3, "{e}");
        assert!(e.message.contains("\\u{1}\\u{7f}garbage\\tline"), "{e}");
        let gz = include_bytes!("../../../fixtures/server-info/output-buffer/dump.rdb.gz");
        assert!(ServerInfo::parse(&String::from_utf8_lossy(gz)).is_err());
        for len in [1u64, 7, 64, 1000, 20000] {
            let weyl = |i: u64| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8;
            let bytes: Vec<u8> = (0..len).map(weyl).collect();
            let text = String::from_utf8_lossy(&bytes);
            assert!(ServerInfo::parse(&text).is_err(), "{len}");
        }
        // Every cut of a real file and odd terminal lines: an answer, never a panic.
        let all = SCENARIOS[2][5];
        let cuts = (0..all.len()).step_by(97);
        for cut in cuts.filter(|&c| all.is_char_boundary(c)) {
            let _ = ServerInfo::parse(&all[..cut]);
            let _ = ServerInfo::parse(&all[cut..]);
        }
        let odd = "1) \"peak.allocated\n 1) \"peak.allocated\"\n 2) \"\\x\n1) \n2) \nid=\n";
        for (n, _) in odd.match_indices('\n') {
            let _ = ServerInfo::parse(&odd[n..]);
            let _ = ServerInfo::parse(&odd[..n]);
        }
    }
}
