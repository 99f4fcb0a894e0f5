//! `cargo fuzz run ziplist`: see `rdbscope_fuzz::ziplist`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::ziplist(data));
