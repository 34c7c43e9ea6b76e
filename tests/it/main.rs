//! The integration tests, one binary: one module per area (the SockJS protocol
//! suite, the transports, the actor and pub/sub APIs, limits, shutdown scoping, the
//! deployments behind proxies and scaled out), and the helpers they share in
//! [`common`], compiled once.
//!
//! Run one area with a filter on its module path, e.g.
//! `cargo test --test it suite_jsonp::`. Two areas are test binaries of their own
//! (tests/addr_bound, tests/shutdown.rs: each needs the process to itself; see their
//! top comments), and so are the property tests (tests/prop_protocol.rs).

mod common;

mod actor_api;
mod app_api;
mod behind_proxies;
mod expiry_race;
mod greeting_and_info;
mod handle_deliveries;
mod hosted_sessions;
mod hostile_websocket;
mod limits;
mod manager_arbiter;
mod multiplex;
mod origins;
mod permessage_deflate;
mod pubsub;
mod pubsub_actors;
mod redis_relay;
mod scale_out;
mod session_binding;
mod session_lifecycle;
mod shutdown_scoped;
mod slow_consumers;
mod stats;
mod streaming_transports;
mod suite_eventsource;
mod suite_handling_close;
mod suite_htmlfile;
mod suite_http10_11;
mod suite_iframe;
mod suite_jsessionid;
mod suite_json_encoding;
mod suite_jsonp;
mod suite_protocol;
mod suite_xhr_streaming;
mod test_server;
mod websocket;
mod websocket_closing;
mod write_timeout;
mod xhr_polling;
