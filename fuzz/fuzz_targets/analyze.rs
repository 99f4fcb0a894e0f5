//! `cargo fuzz run analyze`: see `src/analyze.rs`.
#![no_main]

#[path = "../src/analyze.rs"]
mod analyze;

libfuzzer_sys::fuzz_target!(|data: &[u8]| analyze::analyze(data));
