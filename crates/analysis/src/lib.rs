//! # rdbscope-analysis
//!
//! Redis and Valkey internals and aggregation over [`rdbscope_parser`] records: input
//! drivers (in-memory and streamed), the snapshot inventory `verify` prints, Redis's LZF
//! compressor ([`lzf`]), the memory model per server line ([`model`]) and the predicted
//! `used_memory` ([`used_memory`]), and `analyze`: key prefixes and inferred patterns
//! ([`pattern`]), a capped deterministic table of rows ([`capped`]), a mergeable top-N
//! ([`topk`]), the mergeable per-key aggregate ([`aggregate`]), the parallel pipeline
//! ([`pipeline`]), the report and its findings ([`report`], [`findings`]). Nothing here
//! knows about terminals.

pub mod aggregate;
pub mod alloc;
pub mod alloc_infer;
pub mod budget;
pub mod capped;
pub mod context;
pub mod diff;
pub mod diff_keys;
pub mod doctor;
pub mod filter;
pub mod findings;
pub mod inventory;
/// Redis's bundled LZF compressor, ported byte for byte: the compressed sizes of quicklist
/// nodes under `list-compress-depth`.
pub mod lzf;
pub mod model;
pub mod pattern;
pub mod pipeline;
pub mod rax;
pub mod reconcile;
pub mod report;
pub mod report_json;
pub mod salvage;
pub mod server_info;
pub mod source;
pub mod topk;
pub mod units;
pub mod used_memory;
