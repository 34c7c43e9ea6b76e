//! Property tests of the public protocol functions (`actix_sockjs::protocol`): payload
//! decoding against an oracle, escaping round trips, frames and batches, the
//! transport envelopes and the multiplexing format. Each property is stated in the
//! doc comment above its test; the crate-private ones (session URLs, callback names,
//! the websocket reader) are in `src/proptests/`.
//!
//! A normal `cargo test` runs each property a bounded number of times;
//! `PROPTEST_CASES=N` runs N cases of each (`scripts/fuzz` does, in release mode).

// The case counter and runner, shared with the crate's own property tests.
#[path = "../src/proptests/runner.rs"]
mod runner;

#[path = "prop_protocol/frames.rs"]
mod frames;
#[path = "prop_protocol/json_oracle.rs"]
mod json_oracle;
#[path = "prop_protocol/multiplex.rs"]
mod multiplex;
#[path = "prop_protocol/payload.rs"]
mod payload;
#[path = "prop_protocol/wire.rs"]
mod wire;
