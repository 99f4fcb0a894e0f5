//! Opening inputs: plain files (memory-mapped, or streamed with `--no-mmap`), standard
//! input, compressed files (LZ4, gzip, zstd, xz, bzip2: [`crate::codec`]), Valkey's `VCS`
//! envelope, and multi-part AOF directories. Files are
//! only ever opened read-only, never locked, and never written.

use anyhow::{bail, Context, Result};
use rdbscope_analysis::report::AofIncrement;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How the bytes of an input reach the parser.
pub enum Source {
    /// The whole file, memory-mapped.
    Whole(Bytes),
    /// A stream read through a bounded window (standard input, decompressors, and files
    /// under `--no-mmap`): resident memory is one window, at least 1 MiB and at most about
    /// twice the largest record, whatever the size of the file.
    Stream(Box<dyn Read + Send>),
}

/// A file's contents, mapped read-only.
pub struct Bytes(memmap2::Mmap);

impl rdbscope_analysis::pipeline::Release for Bytes {
    /// Drops the resident pages of bytes `from..to` of a mapped file (whole pages only).
    #[allow(unsafe_code)]
    fn release(&self, from: u64, to: u64) {
        let m = &self.0;
        let page = 4096usize;
        let start = usize::try_from(from).unwrap_or(usize::MAX).div_ceil(page) * page;
        let end = usize::try_from(to).unwrap_or(usize::MAX).min(m.len()) / page * page;
        if end <= start {
            return;
        }
        // SAFETY: the map is read-only and private and never written, so MADV_DONTNEED
        // only drops this process's page-table entries: a later read of these bytes faults
        // the same file contents back in. No reference into the map is invalidated.
        #[cfg(unix)]
        let _ = unsafe {
            m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
        };
    }

    /// Maps bytes `from..to` in one call (`MADV_POPULATE_READ`) instead of a page fault at
    /// a time; whole pages, within the file.
    fn prefetch(&self, from: u64, to: u64) {
        let m = &self.0;
        let page = 4096usize;
        let start = usize::try_from(from).unwrap_or(usize::MAX) / page * page;
        let end = usize::try_from(to).unwrap_or(usize::MAX).min(m.len());
        if end > start {
            #[cfg(target_os = "linux")]
            let _ = m.advise_range(memmap2::Advice::PopulateRead, start, end - start);
        }
    }
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// An opened input.
pub struct Input {
    /// The name used in messages.
    pub name: String,
    /// What kind of container held the RDB (`rdb`, `aof-dir`, `stdin`, or the codec's name:
    /// `lz4`, `vcs`, `gzip`, `zstd`, `xz`, `bzip2`).
    pub container: &'static str,
    /// The codec the RDB was compressed with (`None` for a plain stream).
    pub codec: Option<&'static str>,
    /// The compressed file's size, for a compressed file.
    pub compressed_len: Option<u64>,
    /// Decompressed bytes read so far, for a compressed input.
    pub decoded: Option<Arc<AtomicU64>>,
    /// The bytes.
    pub source: Source,
    /// Bytes of the RDB stream when known before reading (plain files): lets a streamed
    /// file's partial report say how many bytes were left unread.
    pub len: Option<u64>,
    /// The path to open it again with (`None` for standard input).
    pub reopen: Option<String>,
    /// An `appendonlydir`'s incremental files, not applied.
    pub aof_increments: Vec<AofIncrement>,
}

/// Maps a file read-only.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. If another process truncates
    // the file while it is mapped, reading the vanished pages raises SIGBUS; that is
    // documented in the README, and `--no-mmap` reads the file instead.
    let m = unsafe { memmap2::Mmap::map(file)? };
    #[cfg(unix)]
    let _ = m.advise(memmap2::Advice::Sequential);
    Ok(m)
}

/// Finds the base file of a Redis 7+ multi-part AOF directory from its manifest, and the
/// incremental files listed after it (which rdbscope does not apply).
fn aof_base(dir: &Path) -> Result<(PathBuf, Vec<AofIncrement>)> {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "manifest"))
        .collect();
    manifests.sort();
    let Some(m) = manifests.first() else {
        bail!(
            "{}: a directory, but no *.manifest file (expected a Redis appendonlydir)",
            dir.display()
        );
    };
    let text =
        std::fs::read_to_string(m).with_context(|| format!("{}: cannot read", m.display()))?;
    let mut base = None;
    let mut increments = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let field = |k: &str| {
            words
                .iter()
                .position(|w| *w == k)
                .and_then(|i| words.get(i + 1))
                .copied()
        };
        match (field("type"), field("file")) {
            (Some("b"), Some(name)) if base.is_none() => base = Some(dir.join(name)),
            (Some("i"), Some(name)) => {
                let p = dir.join(name);
                let bytes = std::fs::metadata(&p).map_or(0, |m| m.len());
                increments.push(AofIncrement {
                    file: p.display().to_string(),
                    bytes,
                    commands: File::open(&p).ok().and_then(|f| count_commands(f).ok()),
                });
            }
            _ => {}
        }
    }
    match base {
        Some(b) => Ok((b, increments)),
        None => bail!("{}: no base file (type b) listed", m.display()),
    }
}

/// Counts the top-level RESP arrays (commands) of an AOF, skipping bulk payloads by
/// seeking: reads only the headers, whatever the values' sizes.
fn count_commands(f: File) -> std::io::Result<u64> {
    use std::io::BufRead;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not RESP");
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    let mut n = 0u64;
    let mut header = |r: &mut BufReader<File>, want: u8| -> std::io::Result<Option<u64>> {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        let body = line.strip_suffix(b"\r\n").ok_or_else(bad)?;
        match body.split_first() {
            Some((&c, digits)) if c == want => std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse().ok())
                .map(Some)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    };
    while let Some(args) = header(&mut r, b'*')? {
        for _ in 0..args {
            let len = header(&mut r, b'$')?.ok_or_else(bad)?;
            let skip = i64::try_from(len.saturating_add(2)).map_err(|_| bad())?;
            r.seek_relative(skip)?;
        }
        n += 1;
    }
    Ok(n)
}

/// Opens `path` (`-` = standard input) read-only.
///
/// # Errors
/// The file cannot be opened, or an envelope header is malformed.
pub fn open(path: &str, no_mmap: bool) -> Result<Input> {
    if path == "-" {
        return sniff_stream(
            "<stdin>".into(),
            Box::new(BufReader::new(std::io::stdin())),
            "stdin",
            None,
        );
    }
    let mut p = PathBuf::from(path);
    let mut container = "rdb";
    let mut aof_increments = Vec::new();
    if p.is_dir() {
        (p, aof_increments) = aof_base(&p)?;
        container = "aof-dir";
    }
    let name = p.display().to_string();
    let mut file = File::open(&p).with_context(|| format!("{name}: cannot open for reading"))?;
    let mut head = [0u8; crate::sniff::HEAD];
    let n = read_up_to(&mut file, &mut head).with_context(|| format!("{name}: cannot read"))?;
    if let Some(why) = crate::sniff::wrong_file(&head[..n]) {
        bail!("{name}: {why}");
    }
    let len = file.metadata().ok().map(|m| m.len());
    if head.get(..3) == Some(b"VCS") || crate::codec::detect(&head[..n]).is_some() {
        let file = File::open(&p).with_context(|| format!("{name}: cannot open for reading"))?;
        let mut i = sniff_stream(name, Box::new(BufReader::new(file)), container, None)?;
        i.reopen = Some(path.to_string());
        i.aof_increments = aof_increments;
        i.compressed_len = len;
        return Ok(i);
    }
    let source = if no_mmap {
        // Streamed through the same bounded window as standard input, never read whole:
        // a 10 GB dump needs one window of memory, and a file truncated while it is read
        // gives a damaged-input report instead of SIGBUS.
        file.seek(SeekFrom::Start(0))
            .with_context(|| format!("{name}: cannot read"))?;
        Source::Stream(Box::new(file))
    } else {
        Source::Whole(Bytes(
            map(&file).with_context(|| format!("{name}: cannot map"))?,
        ))
    };
    Ok(Input {
        name,
        container,
        source,
        len,
        reopen: Some(path.to_string()),
        aof_increments,
        codec: None,
        compressed_len: None,
        decoded: None,
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// [`read_up_to`], keeping the bytes read before an error.
fn read_head(r: &mut impl Read, buf: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Chains already-read bytes in front of a reader.
struct Prefixed<R> {
    head: Vec<u8>,
    pos: usize,
    rest: R,
}

impl<R: Read> Read for Prefixed<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.head.len() {
            let n = (self.head.len() - self.pos).min(out.len());
            out[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.rest.read(out)
    }
}

/// A stream whose every read fails with the error its head read met.
struct Failing(std::io::ErrorKind, String);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(self.0, self.1.clone()))
    }
}

/// Counts the bytes read through it.
struct Counted {
    inner: crate::codec::Stream,
    n: Arc<AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(out)?;
        self.n.fetch_add(k as u64, Ordering::Relaxed);
        Ok(k)
    }
}

/// A decompressed stream, counted, as an input.
fn decoded(
    name: String,
    dec: crate::codec::Stream,
    codec: &'static str,
    outer: Option<&'static str>,
) -> Result<Input> {
    if let Some(o) = outer {
        bail!("{name}: {codec} data inside a {o}-compressed file: decompress it first");
    }
    let n = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: dec,
        n: Arc::clone(&n),
    };
    let mut i = sniff_stream(name, Box::new(counted), codec, Some(codec))?;
    i.codec = Some(codec);
    i.decoded = Some(n);
    Ok(i)
}

/// Looks at the first bytes of a stream and unwraps compressed streams and the `VCS`
/// envelope. `outer` names the codec the stream came out of, if any: compressed data
/// inside compressed data, and a wrong file inside a compressed one, are told as such.
fn sniff_stream(
    name: String,
    mut r: Box<dyn Read + Send>,
    container: &'static str,
    outer: Option<&'static str>,
) -> Result<Input> {
    let mut head = [0u8; crate::sniff::HEAD];
    let (n, failed) = read_head(&mut r, &mut head);
    let r: Box<dyn Read + Send> = match failed {
        None => r,
        // A decompressed stream damaged in its first bytes is a damaged input (its report
        // is partial, exit 3), not an unreadable one: the error is met again when read.
        // The bytes read before it are put back in front below.
        Some(e) if outer.is_some() => Box::new(Failing(e.kind(), e.to_string())),
        Some(e) => return Err(e).with_context(|| format!("{name}: cannot read")),
    };
    let head = head[..n].to_vec();
    if crate::codec::detect(&head).is_none() {
        if let Some(why) = crate::sniff::wrong_file(&head) {
            match outer {
                Some(o) => bail!("{name}: {o}-compressed; inside it, {why}"),
                None => bail!("{name}: {why}"),
            }
        }
    }
    if head.starts_with(b"VCS") {
        // Valkey 9.2 `rdbcompression lz4`: "VCS", version 1, codec 1 (LZ4), reserved 0,
        // stream kind 1 (RDB), then one LZ4 frame holding a plain RDB.
        if n < 7 {
            bail!("{name}: offset {n}: expected a 7-byte VCS envelope header, the input ended");
        }
        let r = Prefixed {
            head: head.get(7..).unwrap_or(&[]).to_vec(),
            pos: 0,
            rest: r,
        };
        if head[3] != 1 {
            bail!(
                "{name}: offset 3: expected VCS envelope version 1, found {}",
                head[3]
            );
        }
        if head[4] != 1 {
            bail!(
                "{name}: offset 4: expected VCS codec 1 (LZ4), found {} (not supported)",
                head[4]
            );
        }
        if head[5] != 0 || head[6] != 1 {
            bail!("{name}: offset 5: expected VCS reserved byte 0 and stream kind 1 (RDB)");
        }
        let dec = Box::new(lz4_flex::frame::FrameDecoder::new(r));
        return decoded(name, dec, "vcs", outer);
    }
    let r = Prefixed {
        head: head.clone(),
        pos: 0,
        rest: r,
    };
    if let Some(c) = crate::codec::detect(&head) {
        let dec = c
            .decode(Box::new(r))
            .with_context(|| format!("{name}: cannot start the {} decoder", c.name))?;
        return decoded(name, dec, c.name, outer);
    }
    Ok(Input {
        name,
        container,
        source: Source::Stream(Box::new(r)),
        len: None,
        reopen: None,
        aof_increments: Vec::new(),
        codec: None,
        compressed_len: None,
        decoded: None,
    })
}
