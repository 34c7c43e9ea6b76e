//! The SockJS wire format as plain data and pure functions: no actors, no I/O.
//!
//! Every transport writes the same four frames (`o`, `h`, `a[...]`, `c[code,"reason"]`)
//! and reads the same payload (a JSON array of strings); only the envelope around a
//! frame differs, and that is [`wire`]'s (`xhr_chunk`, `eventsource_event`,
//! `htmlfile_script`, `jsonp_call`).
//!
//! # Stability
//!
//! This module is a stable, public API: the SockJS 0.3.3 encoding as functions, for
//! tools that speak the protocol (test clients, proxies, fuzzers) and for the crate's
//! property tests. Its functions change only with the protocol; the session machinery
//! that uses them is not part of it.

pub(crate) mod escape;
mod frame;
mod multiplex;
mod payload;
pub mod wire;

pub use escape::{escape_json_string, escape_json_string_into};
pub use frame::{CloseFrame, Frame, MessageBatch};
pub use multiplex::{
    ChannelMessage, ChannelMessageError, channel_close, channel_message, escape_channel_name,
};
pub(crate) use payload::{Messages, decode_websocket_messages};
pub use payload::{PayloadError, decode_messages, decode_websocket_message};
pub use wire::{eventsource_event, htmlfile_script, jsonp_call, xhr_chunk};
