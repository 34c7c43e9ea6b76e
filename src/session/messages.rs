//! What a session's inbox carries: from transports, handles and the manager.

use std::time::Instant;

use super::handle::FromHandle;
use crate::receiver::Receiver;
use crate::shutdown::CountdownGuard;

/// One thing a session is asked to do, in the order it was asked.
pub(crate) enum Command {
    /// A transport request wants to receive this session's frames. Boxed, so every
    /// command (and the inbox's room for one) stays small.
    Attach(Box<Receiver>),
    /// One message from the client, already decoded.
    Message(String),
    /// Messages that came together (an `xhr_send` body, a websocket frame holding
    /// several): one handler call, one frame back.
    Messages(Vec<String>),
    /// The client closed its websocket.
    ClientClosed,
    /// The client answered a ping.
    Pong,
    /// The websocket connection the session ran in is gone.
    ConnectionGone,
    /// What a [`SessionHandle`](crate::SessionHandle) asks.
    FromHandle(FromHandle),
    /// The manager's sweep found the session without a receiver since before this
    /// instant: it ends, unless something happened since.
    Expire(Instant),
    /// A graceful shutdown: close with `1001 Server shutting down`. The guard, if
    /// any, counts the session until it has closed.
    Shutdown(Option<CountdownGuard>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Command::Attach(_) => "Attach",
            Command::Message(_) => "Message",
            Command::Messages(_) => "Messages",
            Command::ClientClosed => "ClientClosed",
            Command::Pong => "Pong",
            Command::ConnectionGone => "ConnectionGone",
            Command::FromHandle(_) => "FromHandle",
            Command::Expire(_) => "Expire",
            Command::Shutdown(_) => "Shutdown",
        };
        f.write_str(name)
    }
}
