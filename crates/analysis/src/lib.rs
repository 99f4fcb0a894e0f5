//! # rdbscope-analysis
//!
//! Redis and Valkey internals and aggregation over [`rdbscope_parser`] records: input
//! drivers (in-memory and streamed), the snapshot inventory `verify` prints, Redis's LZF
//! compressor ([`lzf`]), and (next) the memory model and the mergeable aggregates of
//! `analyze`. Nothing here knows about terminals.

pub mod alloc;
pub mod capped;
pub mod filter;
pub mod inventory;
/// Redis's bundled LZF compressor, ported byte for byte: the compressed sizes of quicklist
/// nodes under `list-compress-depth`.
pub mod lzf;
pub mod model;
pub mod pattern;
pub mod rax;
pub mod source;
pub mod used_memory;
