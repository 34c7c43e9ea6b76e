//! The SockJS transports. Each file says only what is particular to its transport
//! (method, content type, prelude, how a frame is written, when the response ends);
//! they share one receiver mechanism in `receiver`.

mod body;
pub(crate) mod callback;
pub(crate) mod eventsource;
pub(crate) mod hosted;
mod hosting_body;
pub(crate) mod htmlfile;
pub(crate) mod jsonp;
pub(crate) mod websocket;
mod ws_connection;
mod ws_deflate;
pub(crate) mod ws_reader;
pub(crate) mod xhr;

pub(crate) use crate::receiver::{Budget, FrameWriter, Outbound, QueueRx, Receiver, StallProbe};
pub(crate) use body::{ReceiverBody, first_chunk, streaming_response};
