//! What the application implements per channel, and what a channel handler is given.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use super::handle::{ChannelHandle, SessionLink};
use crate::error::Error;
use crate::session::SockJsHandler;
use crate::session::{SessionHandle, SockJsContext};
use crate::vocabulary::{CloseReason, ConnectionInfo};

/// The application's side of one channel of a multiplexed session.
///
/// A value is made by the channel's factory each time a client subscribes to the
/// channel, and lives as long as that subscription, inside the session's actor: its
/// methods run one at a time, like a [`SockJsHandler`](crate::SockJsHandler)'s.
///
/// ```
/// use actix_sockjs::multiplex::{ChannelContext, ChannelHandler};
///
/// struct Echo;
///
/// impl ChannelHandler for Echo {
///     fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
///         channel.send(&msg);
///     }
/// }
/// ```
pub trait ChannelHandler: 'static {
    /// The client subscribed. `info` describes the session's connection. Calling
    /// [`channel.close()`](ChannelContext::close) here refuses the subscription: the
    /// client gets `uns,CHANNEL` and [`on_close`](Self::on_close) follows.
    fn on_open(&mut self, info: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        let _ = (info, channel);
    }

    /// A message arrived on the channel.
    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>);

    /// The channel closed. Called exactly once per subscription, whatever closed it;
    /// nothing can be sent from here.
    fn on_close(&mut self, reason: &ChannelCloseReason, channel: &mut ChannelContext<'_>) {
        let _ = (reason, channel);
    }
}

/// Why a channel closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelCloseReason {
    /// The client sent `uns,CHANNEL`.
    Unsubscribed,
    /// The server closed it ([`ChannelContext::close`] or [`ChannelHandle::close`]);
    /// the client was sent `uns,CHANNEL`.
    Server,
    /// The whole session closed, for this reason.
    Session(CloseReason),
}

/// One subscription, as both the session and the channel's handles see it.
#[derive(Debug)]
pub(crate) struct ChannelShared {
    /// The name the channel was registered under.
    pub(crate) name: Arc<str>,
    /// The name as it appears on the wire (escaped like JavaScript's `escape()`).
    pub(crate) wire: Arc<str>,
    closed: AtomicBool,
}

impl ChannelShared {
    pub(crate) fn new(name: Arc<str>, wire: Arc<str>) -> Self {
        ChannelShared {
            name,
            wire,
            closed: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn set_closed(&self) {
        self.closed.store(true, Ordering::Release);
    }
}

/// What a channel needs of the session's context: queueing and its state.
pub(crate) trait SessionOutput {
    fn send_parts(&mut self, parts: &[&str]);
    fn session_closed(&self) -> bool;
}

impl<H: SockJsHandler> SessionOutput for SockJsContext<H> {
    fn send_parts(&mut self, parts: &[&str]) {
        SockJsContext::send_parts(self, parts);
    }

    fn session_closed(&self) -> bool {
        self.is_closed()
    }
}

/// A channel as seen from inside one of its handler's calls.
///
/// Sends are queued on the session and leave with everything else the session
/// queued during the call, as one SockJS frame.
pub struct ChannelContext<'a> {
    session: &'a mut (dyn SessionOutput + 'a),
    shared: &'a Arc<ChannelShared>,
    link: &'a SessionLink,
    close_requested: &'a mut bool,
}

impl std::fmt::Debug for ChannelContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelContext")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl<'a> ChannelContext<'a> {
    pub(crate) fn new(
        session: &'a mut (dyn SessionOutput + 'a),
        shared: &'a Arc<ChannelShared>,
        link: &'a SessionLink,
        close_requested: &'a mut bool,
    ) -> Self {
        ChannelContext {
            session,
            shared,
            link,
            close_requested,
        }
    }

    /// The name the channel was registered under.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Whether the channel is closed, or closing at the end of this call.
    pub fn is_closed(&self) -> bool {
        *self.close_requested || self.shared.is_closed() || self.session.session_closed()
    }

    /// Queues a message to the client on this channel. Ignored once the channel is
    /// closed or closing.
    pub fn send(&mut self, text: impl AsRef<str>) {
        if !self.is_closed() {
            self.session
                .send_parts(&["msg,", &self.shared.wire, ",", text.as_ref()]);
        }
    }

    /// Queues the JSON encoding of `value` as one message on this channel.
    pub fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string(value)?;
        self.send(&text);
        Ok(())
    }

    /// Closes the channel at the end of this call: the client gets `uns,CHANNEL`
    /// after what this call sent before, then [`ChannelHandler::on_close`] runs with
    /// [`ChannelCloseReason::Server`]. Later sends in this call are dropped.
    pub fn close(&mut self) {
        if !self.shared.is_closed() {
            *self.close_requested = true;
        }
    }

    /// A handle to this channel for use elsewhere (another session, a task, a room).
    pub fn handle(&self) -> ChannelHandle {
        ChannelHandle::new(Arc::clone(self.shared), self.link.clone())
    }

    /// The handle of the session that carries this channel: its id, or to close the
    /// whole session.
    pub fn session(&self) -> &SessionHandle {
        &self.link.session
    }
}
