//! `cargo fuzz run listpack`: see `rdbscope_fuzz::listpack`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rdbscope_fuzz::listpack(data));
