//! The SockJS wire format as plain data and pure functions: no actors, no I/O.
//!
//! Every transport writes the same four frames (`o`, `h`, `a[...]`, `c[code,"reason"]`)
//! and reads the same payload (a JSON array of strings); only the envelope around a
//! frame differs, and that is [`wire`]'s (`xhr_chunk`, `eventsource_event`,
//! `htmlfile_script`, `jsonp_call`).

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
