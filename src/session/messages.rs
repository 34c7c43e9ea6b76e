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

/// What a websocket connection hands its session, in the order it came: messages
/// and, last, the client's close. Queued straight into the session (see
/// `SessionSetup::from_client`), not sent through its mailbox.
#[derive(Debug)]
pub(crate) enum FromClient {
    /// One decoded message.
    Message(String),
    /// Several messages that came together: one handler call, one frame back.
    Messages(Vec<String>),
    /// The client closed its websocket.
    Closed,
    /// The client answered a ping.
    Pong,
}

/// The manager dropped the session after `disconnect_delay` without a receiver.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Expire;

impl crate::transport::Weighed for FromClient {
    /// What a client sends is bounded by `max_message_size` per message and read no
    /// faster than the session takes it; only the way out is counted.
    fn weight(&self) -> usize {
        0
    }
}

/// A graceful shutdown: close with `1001 Server shutting down`. The guard, if any,
/// counts the session until it has closed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Shutdown(pub(crate) Option<crate::shutdown::CountdownGuard>);
