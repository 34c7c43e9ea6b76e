//! Property tests of the crate-private pure functions: session URL routing, JSONP
//! callback names, the websocket frame reader, the escaping scan and the websocket
//! payload decoder's inner form. The public protocol functions have theirs in
//! `tests/prop_protocol.rs`. Each property is stated in the doc comment above its
//! test; `PROPTEST_CASES=N` runs N cases of each (see `runner`).

mod protocol;
mod reassembly;
mod routes;
pub(crate) mod runner;
mod ws_reader;
mod ws_rules;
