//! Property tests of the public protocol functions (`actix_sockjs::protocol`): payload
//! decoding against an oracle, escaping round trips, frames and batches, the
//! transport envelopes and the multiplexing format. Each property is stated in the
//! doc comment above its test; the crate-private ones (session URLs, callback names,
//! the websocket reader) are in `src/proptests/`.
//!
//! A normal `cargo test` runs each property a bounded number of times;
//! `PROPTEST_CASES=N` runs N cases of each (`scripts/fuzz` does, in release mode).
//!
//! A test binary of its own, not a module of `tests/it`: `scripts/fuzz` builds and
//! runs it in release mode with millions of cases, which needs none of the servers,
//! clients and helpers of the integration tests (nor their build time), and it shares
//! its runner with `src/proptests/` by path rather than `tests/it/common`.

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
