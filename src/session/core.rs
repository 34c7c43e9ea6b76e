//! What a session is, apart from its handler and its actor machinery: its state, its
//! outgoing queue, its receiver slot and its bounds.

use std::sync::Arc;

use super::handle::{PreparedMessage, SessionHandle};
use super::inbox::{InboxRx, InboxTx};
use super::machine::Attached;
use super::outbox::Outbox;
use super::shared::{SessionId, SessionShared, SessionSlot};
use crate::config::SockJsConfig;
use crate::protocol::CloseFrame;
use crate::stats::Stats;
use crate::vocabulary::{ConnectionInfo, Transport};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Created by a receive request; the open frame is not out yet.
    New,
    Open,
    Closed,
}

/// Everything of a session but the handler and the actor context's own parts.
pub(crate) struct SessionCore {
    pub(crate) id: SessionId,
    pub(crate) state: State,
    pub(crate) outbox: Outbox,
    pub(crate) receiver: Option<Attached>,
    pub(crate) generation: u32,
    /// Boxed, as `close_requested`: each is set once in a session's life, and inline
    /// they would weigh on every session for all of it.
    pub(crate) close: Option<Box<CloseFrame>>,
    pub(crate) close_requested: Option<Box<(u16, String)>>,
    /// Only needed until the session opens; boxed so it does not weigh on the session
    /// for the rest of its life.
    pub(crate) info: Option<Box<ConnectionInfo>>,
    pub(crate) config: Arc<SockJsConfig>,
    /// What transports, handles and the manager ask of the session, in the state it
    /// shares with them ([`SessionCore::shared`]).
    pub(crate) inbox_rx: InboxRx,
    /// Registered sessions outlive their receivers until they expire; websocket
    /// sessions end with their socket.
    pub(crate) registered: bool,
    pub(crate) stats: Stats,
    pub(crate) transport: Transport,
    /// A websocket ping went out and no pong has come back yet.
    pub(crate) awaiting_pong: bool,
    /// This handler call queued more than `max_queued_bytes`: nothing more is queued,
    /// no further client message of the batch is handled, and the session closes as a
    /// slow consumer when the call returns.
    pub(crate) over_bound: bool,
    /// Something was queued, or a close or stop asked for, since the session last
    /// settled.
    pub(crate) dirty: bool,
    /// The application stopped the actor: the session closes and ends.
    pub(crate) stop_requested: bool,
    /// Counts the session in its service's live sessions until it is about to stop
    /// (given back before `on_close`, so a handler that saw the close can count on
    /// the room).
    pub(crate) slot: Option<SessionSlot>,
    /// Takes the session out of its service's id map when the session is dropped.
    pub(crate) registration: Option<Arc<dyn Deregister>>,
}

/// What takes an ended session out of its service's id map (through the manager).
pub(crate) trait Deregister: Send + Sync {
    /// The session `id`, whose inbox is `inbox`, ended.
    fn deregister(&self, id: SessionId, inbox: InboxTx);
}

impl Drop for SessionCore {
    fn drop(&mut self) {
        if let Some(registration) = self.registration.take() {
            registration.deregister(self.id.clone(), self.inbox_rx.sender());
        }
    }
}

/// How a session is set up.
pub(crate) struct SessionSetup {
    pub(crate) id: SessionId,
    pub(crate) info: ConnectionInfo,
    pub(crate) config: Arc<SockJsConfig>,
    /// The session's reading end (its handles get sending ends from it).
    pub(crate) inbox: InboxRx,
    pub(crate) registered: bool,
    pub(crate) raw: bool,
    pub(crate) stats: Stats,
    pub(crate) slot: SessionSlot,
    /// Told when the session ends: takes it out of the id map.
    pub(crate) registration: Option<Arc<dyn Deregister>>,
}

impl SessionCore {
    /// The core of a new session.
    pub(crate) fn new(setup: SessionSetup) -> Self {
        let transport = setup.info.transport();
        let outbox = if setup.raw {
            Outbox::raw()
        } else {
            Outbox::framed()
        };
        let inbox_rx = setup.inbox;
        SessionCore {
            id: setup.id,
            state: State::New,
            outbox,
            receiver: None,
            generation: 0,
            close: None,
            close_requested: None,
            info: Some(Box::new(setup.info)),
            config: setup.config,
            inbox_rx,
            registered: setup.registered,
            stats: setup.stats,
            transport,
            awaiting_pong: false,
            over_bound: false,
            dirty: false,
            stop_requested: false,
            slot: Some(setup.slot),
            registration: setup.registration,
        }
    }

    /// What the session shares with its manager and its handles.
    pub(crate) fn shared(&self) -> &SessionShared {
        self.inbox_rx.shared()
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    pub(crate) fn is_raw(&self) -> bool {
        matches!(self.outbox, Outbox::Raw { .. })
    }

    pub(crate) fn queue_text(&mut self, text: &str) {
        if self.takes_more() {
            self.outbox.push_text(text);
            self.queued();
        }
    }

    pub(crate) fn queue_text_parts(&mut self, parts: &[&str]) {
        if self.takes_more() {
            self.outbox.push_text_parts(parts);
            self.queued();
        }
    }

    pub(crate) fn queue_prepared(&mut self, msg: &PreparedMessage) {
        if self.takes_more() {
            let (text, frame) = msg.parts();
            self.outbox.push_prepared(text, frame);
            self.queued();
        }
    }

    /// Whether a message may still be queued: the session is open and this handler
    /// call has not gone over the bound.
    fn takes_more(&self) -> bool {
        self.state != State::Closed && !self.over_bound
    }

    /// After a message was queued: counts it, and notes when the outbox alone went
    /// over the bound (a handler answering one message, or each of a batch, with more
    /// than the bound must not hold it all before the call returns).
    fn queued(&mut self) {
        self.dirty = true;
        self.stats.packets_sent(1);
        if self.outbox.bytes() > self.config.max_queued_bytes {
            self.over_bound = true;
        }
    }

    /// Whether the session is closed, a close was asked for in this handler call, or
    /// the call went over the bound.
    pub(crate) fn is_closing(&self) -> bool {
        self.state == State::Closed
            || self.close_requested.is_some()
            || self.over_bound
            || self.stop_requested
    }

    pub(crate) fn request_close(&mut self, code: u16, reason: String) {
        if self.state != State::Closed && self.close_requested.is_none() {
            self.close_requested = Some(Box::new((code, reason)));
            self.dirty = true;
        }
    }

    /// A handle to this session.
    pub(crate) fn handle(&self) -> SessionHandle {
        SessionHandle::new(
            self.id.clone(),
            self.inbox_rx.sender(),
            self.config.max_queued_bytes,
        )
    }
}
