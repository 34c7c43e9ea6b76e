//! What a session is, apart from its handler and its actor machinery: its state, its
//! outgoing queue, its receiver slot and its bounds.
//!
//! [`SessionCore`]'s fields are private to this module and its child `machine` (the
//! receiver state machine, a split by concern): the actor layer reads and changes
//! the session only through the methods here and there, so every change of state
//! has one place to look.

mod machine;

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use super::handle::{PreparedMessage, SessionHandle};
use super::inbox::{InboxRx, InboxTx, NextDelivery};
use super::messages::Command;
use super::outbox::Outbox;
use super::shared::{SessionId, SessionShared, SessionSlot};
use crate::config::SockJsConfig;
use crate::protocol::CloseFrame;
use crate::stats::Stats;
use crate::vocabulary::{ConnectionInfo, Transport};

use machine::Attached;
pub(crate) use machine::{Admission, Beat, EndedAs, Step, WriteThrough};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Created by a receive request; the open frame is not out yet.
    New,
    Open,
    Closed,
}

/// Everything of a session but the handler and the actor context's own parts.
///
/// In declaration order (`repr(C)`): what every message to the session reads and
/// writes first, together, then what is set once or read seldom, so a broadcast
/// brings as few of a session's cache lines in as it can.
#[repr(C)]
pub(crate) struct SessionCore {
    state: State,
    /// Something was queued, or a close or stop asked for, since the session last
    /// settled.
    dirty: bool,
    /// This handler call queued more than `max_queued_bytes`: nothing more is queued,
    /// no further client message of the batch is handled, and the session closes as a
    /// slow consumer when the call returns.
    over_bound: bool,
    /// The application stopped the actor: the session closes and ends.
    stop_requested: bool,
    /// A websocket ping went out and no pong has come back yet.
    awaiting_pong: bool,
    /// Registered sessions outlive their receivers until they expire; websocket
    /// sessions end with their socket.
    registered: bool,
    transport: Transport,
    /// The context has run the actor's `started` (its command pump has run).
    started: bool,
    /// Futures the application made the context wait for (`ctx.wait`) that have not
    /// finished: until they have, the context takes no command.
    waits: u16,
    generation: u32,
    /// Boxed, as `close`: each is set once in a session's life, and inline they
    /// would weigh on every session for all of it.
    close_requested: Option<Box<(u16, String)>>,
    receiver: Option<Attached>,
    outbox: Outbox,
    /// What transports, handles and the manager ask of the session, in the state it
    /// shares with them ([`SessionCore::shared`]).
    inbox_rx: InboxRx,
    config: Arc<SockJsConfig>,
    stats: Stats,
    id: SessionId,
    close: Option<Box<CloseFrame>>,
    /// Only needed until the session opens; boxed so it does not weigh on the session
    /// for the rest of its life.
    info: Option<Box<ConnectionInfo>>,
    /// Counts the session in its service's live sessions until it is about to stop
    /// (given back before `on_close`, so a handler that saw the close can count on
    /// the room).
    slot: Option<SessionSlot>,
    /// Takes the session out of its service's id map when the session is dropped.
    registration: Option<Arc<dyn Deregister>>,
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
            started: false,
            waits: 0,
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

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }

    pub(crate) fn config(&self) -> &SockJsConfig {
        &self.config
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Registered sessions outlive their receivers until they expire.
    pub(crate) fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether the application stopped the actor, or the session ended.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// The next command in the inbox, if one waits.
    pub(crate) fn poll_command(&mut self, task: &mut Context<'_>) -> Poll<Command> {
        self.inbox_rx.poll_recv(task)
    }

    /// What a handle sent, if that is what waits first in the inbox.
    pub(crate) fn next_delivery(&mut self) -> NextDelivery {
        self.inbox_rx.next_delivery()
    }

    /// Puts a command in the session's own inbox, as a handle would.
    pub(crate) fn tell(&self, command: Command) {
        let _ = self.inbox_rx.sender().send(command);
    }

    /// The context ran the actor's `started`: its command pump runs.
    pub(crate) fn mark_started(&mut self) {
        self.started = true;
    }

    /// The application made the context wait for a future.
    pub(crate) fn wait_began(&mut self) {
        self.waits = self.waits.saturating_add(1);
    }

    /// A future the context waited for finished.
    pub(crate) fn wait_ended(&mut self) {
        self.waits = self.waits.saturating_sub(1);
    }

    /// The application stopped the actor: the session closes and ends when it next
    /// settles.
    pub(crate) fn request_stop(&mut self) {
        self.stop_requested = true;
        self.dirty = true;
    }

    /// A handle's send went over the bound: the next settle sees it.
    pub(crate) fn note_overflow(&mut self) {
        self.dirty = true;
    }

    /// The client answered the last websocket ping.
    pub(crate) fn pong_received(&mut self) {
        self.awaiting_pong = false;
    }

    /// What the session settles after a call into the application, or `None` when
    /// nothing was queued or asked for since it last settled. Clears the mark.
    pub(crate) fn take_settle(&mut self) -> Option<Settle> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(match self.close_requested.take() {
            Some(close) => {
                let (code, reason) = *close;
                Settle::Close { code, reason }
            }
            None if self.stop_requested && self.state != State::Closed => Settle::Stop,
            None => Settle::Flush {
                over_bound: self.over_bound,
            },
        })
    }

    /// The handler call is over: the next one may queue again.
    pub(crate) fn end_call(&mut self) {
        self.over_bound = false;
    }

    /// Whether the open session went past `max_queued_bytes` with `handed` bytes
    /// handed to the request but not yet taken: in this call, in its inbox, or in
    /// everything that waits for the client (not yet handled, queued, handed).
    fn over_bound_with(&self, handed: usize) -> bool {
        self.state != State::Closed
            && (self.over_bound
                || self.shared().inbox.overflowed()
                || self.shared().inbox.bytes() + self.outbox.bytes() + handed
                    > self.config.max_queued_bytes)
    }

    /// [`over_backlog_bound`](Self::over_backlog_bound) for a session whose
    /// receiver's queue is empty (its connection writes what it sends at once:
    /// `settle_deliveries_into`), which is then not looked at.
    pub(crate) fn over_bound_writing_through(&self) -> bool {
        self.over_bound_with(0)
    }

    /// Whether the open session went past `max_queued_bytes`: in this call, in its
    /// inbox, or in everything that waits for the client.
    pub(crate) fn over_backlog_bound(&self) -> bool {
        self.over_bound_with(
            self.receiver
                .as_ref()
                .map_or(0, |a| a.receiver.queued_bytes()),
        )
    }

    /// The session ends: it gives back its place among the service's live sessions
    /// and takes no more commands; the actor stops.
    pub(crate) fn mark_ended(&mut self) {
        self.slot = None;
        self.stop_requested = true;
    }

    /// Closes the inbox; what still waited in it.
    pub(crate) fn close_inbox(&mut self) -> VecDeque<Command> {
        self.inbox_rx.close()
    }

    /// The expiry sweep's check: nothing happened since `deadline` and nothing waits.
    /// When so, the inbox is closed and the session gives back its place.
    pub(crate) fn expire_if_idle(&mut self, deadline: Instant) -> bool {
        if self.shared().detached_before(deadline) && self.inbox_rx.close_if_empty() {
            self.slot = None;
            true
        } else {
            false
        }
    }

    /// The connection details, once: for `on_open`.
    pub(crate) fn take_info(&mut self) -> Option<ConnectionInfo> {
        self.info.take().map(|info| *info)
    }

    /// The generation of the attached receiver, if any.
    pub(crate) fn attached_generation(&self) -> Option<u32> {
        self.receiver.as_ref().map(|a| a.generation)
    }

    /// Keeps the handle of the task watching the attached receiver's request.
    pub(crate) fn set_receiver_watch(&mut self, watch: actix::SpawnHandle) {
        if let Some(attached) = self.receiver.as_mut() {
            attached.watch = Some(watch);
        }
    }
}

/// What settling a session after a call into the application comes to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    /// The application asked to close with this code and reason.
    Close { code: u16, reason: String },
    /// The application stopped the actor of an open session: it closes (go away).
    Stop,
    /// Flush what was queued, unless the call went over the bound, then check the
    /// backlog.
    Flush { over_bound: bool },
}
