//! `cargo fuzz run lzf`: see `rdbscope_fuzz::lzf`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::lzf(data));
