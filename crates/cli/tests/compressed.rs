//! Compressed backups, read natively: every fixture and corpus dump compressed by the real
//! command-line tools (gzip, pigz, zstd at levels 1 and 19 and with `--long`, xz, bzip2)
//! gives the JSON report of the uncompressed dump, apart from the file's name and the two
//! codec fields. Concatenated members and frames, a zstd skippable frame, a stream cut
//! short, and wrong files inside a compressed one are checked too. A tool that is missing
//! fails the test, naming the Debian package to install (`.ci/run` installs them).

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn rdbscope() -> Command {
    Command::cargo_bin("rdbscope").unwrap()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures and corpus dumps, smallest first.
fn dumps() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(repo().join("fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rdb"))
        .collect();
    let corpus = repo().join("../shared/corpus");
    if corpus.is_dir() {
        for e in std::fs::read_dir(&corpus).unwrap() {
            let d = e.unwrap().path().join("dump.rdb");
            if d.is_file() {
                out.push(d);
            }
        }
    } else {
        eprintln!("corpus skipped: ../shared/corpus is absent (fixtures only)");
    }
    out.sort_by_key(|p| std::fs::metadata(p).map_or(0, |m| m.len()));
    out
}

/// Runs a compressor on `input`, its output (standard output) in `out`.
fn compress(tool: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let package = match tool {
        "xz" => "xz-utils",
        t => t,
    };
    let mut child = std::process::Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool} not found ({e}): install the Debian package {package}"));
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(&data).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{tool} {args:?} failed");
    out.stdout
}

/// The report of `path`, with its own name replaced by `as_name` and the codec fields
/// taken out (returned apart).
fn report(path: &Path, as_name: &str) -> (String, Value, Value) {
    let out = rdbscope()
        .arg("analyze")
        .arg(path)
        .args(["--quiet", "--json", "-"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let text = text.replace(&path.display().to_string(), as_name);
    let mut v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}: {text}", path.display()));
    let f = v["files"][0].as_object_mut().unwrap();
    let codec = f.remove("codec").unwrap();
    let compressed = f.remove("compressed_bytes").unwrap();
    (serde_json::to_string_pretty(&v).unwrap(), codec, compressed)
}

/// `analyze P --json -`: the exit code, the report and standard error.
fn analyze_json(p: &Path) -> (Option<i32>, Value, String) {
    let out = rdbscope()
        .arg("analyze")
        .arg(p)
        .args(["--quiet", "--json", "-"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap();
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

type Way = (&'static str, &'static str, &'static [&'static str]);

const WAYS: [Way; 7] = [
    ("gzip", "gzip", &["-c", "-6"]),
    ("gzip", "pigz", &["-c", "-p", "2"]),
    ("zstd", "zstd", &["-c", "-q", "-1"]),
    ("zstd", "zstd", &["-c", "-q", "-19"]),
    ("zstd", "zstd", &["-c", "-q", "--long=27"]),
    ("xz", "xz", &["-c", "-1"]),
    ("bzip2", "bzip2", &["-c", "-9"]),
];

#[test]
fn every_dump_compressed_by_every_tool_reports_as_the_plain_dump() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for dump in dumps() {
        let plain = std::fs::read(&dump).unwrap();
        let name = dump.display().to_string();
        let (want, codec, compressed) = report(&dump, &name);
        assert!(codec.is_null() && compressed.is_null(), "{name}");
        for (codec_name, tool, args) in WAYS {
            let bytes = compress(tool, args, &plain);
            let p = dir.path().join(format!("dump.{tool}"));
            std::fs::write(&p, &bytes).unwrap();
            let (got, codec, compressed) = report(&p, &name);
            assert_eq!(codec, codec_name, "{name} by {tool} {args:?}");
            assert_eq!(compressed, bytes.len() as u64, "{name} by {tool} {args:?}");
            assert!(
                got == want,
                "{name} compressed by {tool} {args:?} reports differently"
            );
            checked += 1;
        }
    }
    assert!(checked >= WAYS.len() * 5, "only {checked} files checked");
    eprintln!("{checked} compressed files report as their plain dumps");
}

/// Split points of a dump: three parts, each compressed on its own and concatenated, as
/// `pigz`, `pzstd`, `pixz`/`xz` and `pbzip2` write large files.
fn parts(plain: &[u8]) -> [&[u8]; 3] {
    let (a, rest) = plain.split_at(plain.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    [a, b, c]
}

#[test]
fn concatenated_members_frames_and_streams_are_read_to_the_end() {
    let dump = repo().join("fixtures/mixed.rdb");
    let plain = std::fs::read(&dump).unwrap();
    let name = dump.display().to_string();
    let (want, _, _) = report(&dump, &name);
    let dir = tempfile::tempdir().unwrap();
    for (codec, tool, args) in [
        ("gzip", "gzip", &["-c"][..]),
        ("zstd", "zstd", &["-c", "-q"][..]),
        ("xz", "xz", &["-c"][..]),
        ("bzip2", "bzip2", &["-c"][..]),
    ] {
        let mut bytes = Vec::new();
        if codec == "zstd" {
            // A skippable frame (magic 0x184D2A5?, little-endian length, payload) first.
            bytes.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]);
            bytes.extend_from_slice(b"skip!");
        }
        for part in parts(&plain) {
            bytes.extend(compress(tool, args, part));
        }
        let p = dir.path().join(format!("multi.{tool}"));
        std::fs::write(&p, &bytes).unwrap();
        let (got, c, _) = report(&p, &name);
        assert_eq!(c, codec);
        assert!(
            got == want,
            "{codec}: three concatenated parts report differently"
        );
    }
}

#[test]
fn a_compressed_stream_cut_short_is_a_partial_report_naming_the_codec() {
    let dump = repo().join("fixtures/mixed.rdb");
    let plain = std::fs::read(&dump).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (codec, tool) in [
        ("gzip", "gzip"),
        ("zstd", "zstd"),
        ("xz", "xz"),
        ("bzip2", "bzip2"),
    ] {
        let bytes = compress(tool, &["-c"], &plain);
        let p = dir.path().join(format!("cut.{tool}"));
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let (code, v, stderr) = analyze_json(&p);
        assert_eq!(code, Some(3), "{codec}");
        let f = &v["files"][0];
        assert_eq!(f["complete"], false, "{codec}");
        let msg = f["damage"]["message"].as_str().unwrap();
        let offset = f["damage"]["offset"].as_u64().unwrap();
        assert!(offset < plain.len() as u64, "{codec}: {offset}");
        assert!(msg.contains(&format!("offset {offset}:")), "{codec}: {msg}");
        // Either the decoder saw the cut (and says so) or the RDB parser did first.
        if msg.contains("read error") {
            assert!(
                msg.contains(&format!("{codec} stream is damaged"))
                    && msg.contains("decompressed stream"),
                "{codec}: {msg}"
            );
        }
        assert!(stderr.contains(&p.display().to_string()), "{stderr}");
        // verify says the same damage at the same offset.
        let out = rdbscope().arg("verify").arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "verify {codec}");
        let verr = String::from_utf8_lossy(&out.stderr);
        assert!(
            verr.contains(&format!("offset {offset}:")),
            "verify {codec}: {verr}"
        );
    }
}

#[test]
fn a_bad_gzip_checksum_is_damage_not_a_clean_report() {
    let dump = repo().join("fixtures/mixed.rdb");
    let mut bytes = compress("gzip", &["-c"], &std::fs::read(&dump).unwrap());
    let n = bytes.len();
    bytes[n - 8] ^= 0xff; // the member's CRC-32
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad-crc.gz");
    std::fs::write(&p, &bytes).unwrap();
    let (code, v, _) = analyze_json(&p);
    assert_eq!(code, Some(3));
    let msg = v["files"][0]["damage"]["message"].as_str().unwrap();
    assert!(msg.contains("gzip stream is damaged"), "{msg}");
}

#[test]
fn wrong_files_inside_compressed_ones_are_named_not_called_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let dump = repo().join("fixtures/mixed.rdb");
    // A tar holding the dump, gzipped: tar's header is 512 bytes, then the file.
    let mut tar = vec![0u8; 512];
    tar[..8].copy_from_slice(b"dump.rdb");
    tar[257..262].copy_from_slice(b"ustar");
    tar.extend(std::fs::read(&dump).unwrap());
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "dump.tar.gz",
            compress("gzip", &["-c"], &tar),
            "gzip-compressed; inside it, this is an RDB inside a tar archive",
        ),
        (
            "info.txt.zst",
            compress(
                "zstd",
                &["-c", "-q"],
                b"# Server\r\nredis_version:7.2.4\r\n",
            ),
            "zstd-compressed; inside it",
        ),
        (
            "twice.gz",
            compress("gzip", &["-c"], &compress("xz", &["-c"], b"REDIS0011")),
            "xz data inside a gzip-compressed file",
        ),
    ];
    for (name, bytes, want) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let out = rdbscope().arg("analyze").arg(&p).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert!(!stderr.contains("damaged"), "{name}: {stderr}");
    }
}

#[test]
fn standard_input_and_verify_read_compressed_streams() {
    let dump = repo().join("fixtures/mixed.rdb");
    let bytes = compress("zstd", &["-c", "-q"], &std::fs::read(&dump).unwrap());
    let out = rdbscope()
        .args(["analyze", "-", "--quiet", "--json", "-"])
        .write_stdin(bytes.clone())
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"][0]["codec"], "zstd");
    assert_eq!(
        v["files"][0]["bytes"],
        std::fs::metadata(&dump).unwrap().len()
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("backup");
    std::fs::write(&p, &bytes).unwrap();
    let out = rdbscope().arg("verify").arg(&p).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("container: zstd"));
}
