//! Writes a generated RDB dump of about N MB (realistic small keys of every type), for
//! whole-process timing: `cargo run --release -p rdbscope-benches --example gen_dump -- OUT MB`.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(out), Some(mb)) = (
        args.next(),
        args.next().and_then(|m| m.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: gen_dump OUT MB");
        std::process::exit(2);
    };
    let data = rdbscope_benches::generated_dump(mb << 20);
    if let Err(e) = std::fs::write(&out, &data) {
        eprintln!("{out}: {e}");
        std::process::exit(1);
    }
    eprintln!("{out}: {} bytes", data.len());
}
