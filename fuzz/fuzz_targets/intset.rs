//! `cargo fuzz run intset`: see `rdbscope_fuzz::intset`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::intset(data));
