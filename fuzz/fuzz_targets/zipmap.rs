//! `cargo fuzz run zipmap`: see `rdbscope_fuzz::zipmap`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::zipmap(data));
