//! `cargo fuzz run records`: see `rdbscope_fuzz::records`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::records(data));
