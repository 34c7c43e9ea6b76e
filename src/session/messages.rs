//! Messages the session actor takes from transports and the manager.

use actix::Message;

use crate::transport::Receiver;

/// A transport request wants to receive this session's frames.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Attach(pub(crate) Receiver);

/// Messages from the client, already decoded.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Incoming(pub(crate) Vec<String>);

/// The client closed its websocket.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct ClientClosed;

/// The manager dropped the session after `disconnect_delay` without a receiver.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Expire;
