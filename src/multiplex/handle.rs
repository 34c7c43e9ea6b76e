//! The application's way to reach one channel of a multiplexed session from anywhere.

use std::sync::Arc;

use actix::{Message, Recipient};

use super::channel::ChannelShared;
use crate::error::Error;
use crate::protocol::channel_message;
use crate::session::{PreparedMessage, SessionHandle};

/// What a channel handle asks of the session that carries the channel.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ChannelCommand {
    pub(crate) channel: Arc<ChannelShared>,
    pub(crate) op: ChannelOp,
}

#[derive(Debug)]
pub(crate) enum ChannelOp {
    Text(String),
    /// A whole `msg,CHANNEL,PAYLOAD` message, encoded once for many sessions.
    Prepared(PreparedMessage),
    Close,
}

/// The session a channel lives in: its public handle, and the recipient of its
/// channel commands.
#[derive(Clone)]
pub(crate) struct SessionLink {
    pub(crate) session: SessionHandle,
    pub(crate) commands: Recipient<ChannelCommand>,
}

/// A cloneable, `Send` address of one channel subscription, usable from any thread or
/// actor: the channel counterpart of a [`SessionHandle`].
///
/// What one handle sends arrives in order, and after anything the session's own
/// handles sent before it. The session checks that the subscription is still open
/// when the message reaches it, so nothing is sent on a channel after its
/// `uns,CHANNEL`. Sending on a closed channel is an [`Error::ChannelClosed`] (or
/// [`Error::SessionClosed`]), never a panic. Handles compare and hash by the
/// subscription they address; a new subscription to the same channel name gets new
/// handles.
#[derive(Clone)]
pub struct ChannelHandle {
    channel: Arc<ChannelShared>,
    link: SessionLink,
}

impl std::fmt::Debug for ChannelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelHandle")
            .field("name", &self.name())
            .field("session", &self.link.session.id())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PartialEq for ChannelHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.channel, &other.channel)
    }
}

impl Eq for ChannelHandle {}

impl std::hash::Hash for ChannelHandle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.channel), state);
    }
}

impl ChannelHandle {
    pub(crate) fn new(channel: Arc<ChannelShared>, link: SessionLink) -> Self {
        ChannelHandle { channel, link }
    }

    /// The name the channel was registered under.
    pub fn name(&self) -> &str {
        &self.channel.name
    }

    /// The session that carries the channel.
    pub fn session(&self) -> &SessionHandle {
        &self.link.session
    }

    /// Whether the channel (or its session) is closed.
    pub fn is_closed(&self) -> bool {
        self.channel.is_closed() || self.link.session.is_closed()
    }

    fn command(&self, op: ChannelOp) -> Result<(), Error> {
        if self.link.session.is_closed() {
            return Err(Error::SessionClosed);
        }
        if self.channel.is_closed() {
            return Err(Error::ChannelClosed);
        }
        self.link.commands.do_send(ChannelCommand {
            channel: Arc::clone(&self.channel),
            op,
        });
        Ok(())
    }

    /// Queues a message to the client on this channel.
    pub fn send(&self, text: impl Into<String>) -> Result<(), Error> {
        self.command(ChannelOp::Text(text.into()))
    }

    /// Queues the JSON encoding of `value` as one message on this channel.
    pub fn send_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::ChannelClosed);
        }
        let text = serde_json::to_string(value).map_err(Error::Json)?;
        self.send(text)
    }

    /// Closes the channel: the client gets `uns,CHANNEL` after what was queued, and
    /// the channel's handler's `on_close` runs with
    /// [`ChannelCloseReason::Server`](super::ChannelCloseReason::Server).
    pub fn close(&self) -> Result<(), Error> {
        self.command(ChannelOp::Close)
    }
}

/// Sends `text` on every channel in `channels`, encoding each distinct channel's
/// message once (usually all the handles of a room share one channel name, so the
/// frame is encoded once and shared).
///
/// Returns how many channels it was queued for; closed channels are skipped.
///
/// ```no_run
/// # fn demo(room: &[actix_sockjs::multiplex::ChannelHandle]) {
/// let delivered = actix_sockjs::multiplex::broadcast_channel(room, "hello, everyone");
/// # }
/// ```
pub fn broadcast_channel<'a>(
    channels: impl IntoIterator<Item = &'a ChannelHandle>,
    text: &str,
) -> usize {
    let mut prepared: Option<(Arc<str>, PreparedMessage)> = None;
    let mut sent = 0;
    for channel in channels {
        let wire = &channel.channel.wire;
        let msg = match &prepared {
            Some((name, msg)) if name == wire => msg.clone(),
            _ => {
                let msg = PreparedMessage::new(channel_message(wire, text));
                prepared = Some((Arc::clone(wire), msg.clone()));
                msg
            }
        };
        if channel.command(ChannelOp::Prepared(msg)).is_ok() {
            sent += 1;
        }
    }
    sent
}
