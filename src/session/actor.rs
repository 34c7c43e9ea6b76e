//! The session actor: one per SockJS session.
//!
//! It owns the outgoing queue, the heartbeat interval, the state and close reason, and
//! the one receiver currently attached. Transports attach receivers to it; the
//! application's handler lives inside it. How receivers come and go, and the
//! heartbeat they get, is in `receivers`.

mod receivers;

use receivers::Attached;

use std::sync::Arc;

use actix::{Actor, ActorContext, AsyncContext, Context, Handler, StreamHandler};

use super::context::SessionContext;
use super::handle::{Deliver, PreparedMessage, SessionHandle};
use super::messages::{Attach, Expire, FromClient, Incoming, Shutdown};
use super::outbox::Outbox;
use super::shared::{SessionId, SessionShared, SessionSlot};
use crate::config::SockJsConfig;
use crate::handler::Transport;
use crate::handler::{CloseReason, ConnectionInfo, SockJsHandler};
use crate::protocol::CloseFrame;
use crate::stats::Stats;
use crate::transport::QueueRx;

/// A session actor run as a future inside another task.
pub(crate) type EmbeddedSession<H> =
    actix::dev::ContextFut<SessionActor<H>, Context<SessionActor<H>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Created by a receive request; the open frame is not out yet.
    New,
    Open,
    Closed,
}

/// The actor behind one SockJS session, running the application's handler `H`.
///
/// Applications never create it; they see it as the actor of
/// [`SessionContext::actor_context`].
pub struct SessionActor<H: SockJsHandler> {
    handler: H,
    core: SessionCore,
    /// A websocket's messages, until the actor starts and takes them as a stream.
    from_client: Option<QueueRx<FromClient>>,
}

/// Everything of a session but the handler, so a handler call can borrow both.
pub(crate) struct SessionCore {
    id: SessionId,
    state: State,
    outbox: Outbox,
    receiver: Option<Attached>,
    generation: u64,
    close: Option<CloseFrame>,
    close_requested: Option<(u16, String)>,
    /// Only needed until the session opens; boxed so it does not weigh on the actor
    /// for the rest of the session (192 bytes of its ~500).
    info: Option<Box<ConnectionInfo>>,
    config: Arc<SockJsConfig>,
    shared: Arc<SessionShared>,
    /// Registered sessions outlive their receivers until they expire; websocket
    /// sessions end with their socket.
    registered: bool,
    handle: Option<SessionHandle>,
    stats: Stats,
    transport: Transport,
    /// A websocket ping went out and no pong has come back yet.
    awaiting_pong: bool,
    /// This handler call queued more than `max_queued_bytes`: nothing more is queued,
    /// no further client message of the batch is handled, and the session closes as a
    /// slow consumer when the call returns.
    over_bound: bool,
    /// Counts the session in its service's live sessions until it is about to stop
    /// (given back before `on_close`, so a handler that saw the close can count on
    /// the room).
    slot: Option<SessionSlot>,
}

/// How a session is set up.
pub(crate) struct SessionSetup {
    pub(crate) id: SessionId,
    pub(crate) info: ConnectionInfo,
    pub(crate) config: Arc<SockJsConfig>,
    pub(crate) shared: Arc<SessionShared>,
    pub(crate) registered: bool,
    pub(crate) raw: bool,
    pub(crate) stats: Stats,
    /// For a websocket session: the queue its connection puts client messages and
    /// the client's close into. Cheaper than a mailbox message per client message
    /// (no envelope or queue node to allocate), and it keeps their order.
    pub(crate) from_client: Option<QueueRx<FromClient>>,
    pub(crate) slot: SessionSlot,
}

impl SessionCore {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
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
        self.stats.packets_sent(1);
        if self.outbox.bytes() > self.config.max_queued_bytes {
            self.over_bound = true;
        }
    }

    /// Whether the session is closed, a close was asked for in this handler call, or
    /// the call went over the bound.
    pub(crate) fn is_closing(&self) -> bool {
        self.state == State::Closed || self.close_requested.is_some() || self.over_bound
    }

    pub(crate) fn request_close(&mut self, code: u16, reason: String) {
        if self.state != State::Closed && self.close_requested.is_none() {
            self.close_requested = Some((code, reason));
        }
    }

    pub(crate) fn handle<A>(&mut self, ctx: &mut Context<A>) -> SessionHandle
    where
        A: Actor<Context = Context<A>> + Handler<Deliver>,
    {
        if let Some(handle) = &self.handle {
            return handle.clone();
        }
        let handle = SessionHandle::new(
            self.id.clone(),
            ctx.address().recipient(),
            self.shared.clone(),
            self.config.max_queued_bytes,
        );
        self.handle = Some(handle.clone());
        handle
    }
}

impl<H: SockJsHandler> SessionActor<H> {
    /// Starts a session actor as a task of its own on the current arbiter.
    pub(crate) fn start_with(handler: H, setup: SessionSetup) -> actix::Addr<Self> {
        Self::new(handler, setup).start()
    }

    /// A session actor that is not running yet: its address, and the future that runs
    /// it, for a websocket connection to drive within its own task (see
    /// `transport::ws_connection`).
    pub(crate) fn embedded(
        handler: H,
        setup: SessionSetup,
    ) -> (actix::Addr<Self>, EmbeddedSession<H>) {
        let ctx = Context::new();
        let addr = ctx.address();
        (addr, ctx.into_future(Self::new(handler, setup)))
    }

    fn new(handler: H, setup: SessionSetup) -> Self {
        let transport = setup.info.transport();
        let outbox = if setup.raw {
            Outbox::raw()
        } else {
            Outbox::framed()
        };
        SessionActor {
            handler,
            from_client: setup.from_client,
            core: SessionCore {
                id: setup.id,
                state: State::New,
                outbox,
                receiver: None,
                generation: 0,
                close: None,
                close_requested: None,
                info: Some(Box::new(setup.info)),
                config: setup.config,
                shared: setup.shared,
                registered: setup.registered,
                handle: None,
                stats: setup.stats,
                transport,
                awaiting_pong: false,
                over_bound: false,
                slot: Some(setup.slot),
            },
        }
    }

    fn is_raw(&self) -> bool {
        matches!(self.core.outbox, Outbox::Raw { .. })
    }

    /// Calls the handler with a context, then acts on what it asked for.
    pub(crate) fn call_handler<R>(
        &mut self,
        ctx: &mut Context<Self>,
        f: impl FnOnce(&mut H, &mut SessionContext<'_, H>) -> R,
    ) -> R {
        let result = f(
            &mut self.handler,
            &mut SessionContext::new(&mut self.core, ctx),
        );
        self.settle(ctx);
        result
    }

    /// After a handler call: close if it asked to, else flush what it queued, and
    /// close the session as a slow consumer if its client leaves too much waiting.
    fn settle(&mut self, ctx: &mut Context<Self>) {
        if let Some((code, reason)) = self.core.close_requested.take() {
            self.close(CloseReason::Server { code, reason }, ctx);
        } else {
            if !self.core.over_bound {
                self.flush(ctx);
            }
            self.check_backlog(ctx);
        }
    }

    /// What waits for the client: not yet handled, queued, and handed to the request
    /// but not yet taken.
    fn backlog(&self) -> usize {
        self.core.shared.mailbox_bytes()
            + self.core.outbox.bytes()
            + self
                .core
                .receiver
                .as_ref()
                .map_or(0, |a| a.receiver.queued_bytes())
    }

    fn check_backlog(&mut self, ctx: &mut Context<Self>) {
        if self.core.state != State::Closed
            && (self.core.over_bound
                || self.core.shared.overflowed()
                || self.backlog() > self.core.config.max_queued_bytes)
        {
            self.core.stats.slow_consumer();
            self.close(CloseReason::SlowConsumer, ctx);
        }
    }

    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        if self.core.state == State::Closed {
            return;
        }
        let was_open = self.core.state == State::Open;
        self.core.state = State::Closed;
        match reason {
            CloseReason::SlowConsumer => log::warn!(
                "session {} ({:?}) closed as a slow consumer: more than max_queued_bytes ({}) waited",
                self.core.id(),
                self.core.transport,
                self.core.config.max_queued_bytes
            ),
            _ => log::debug!(
                "session {} ({:?}) closed: {:?}",
                self.core.id(),
                self.core.transport,
                reason
            ),
        }
        if reason == CloseReason::SlowConsumer {
            // What waits is what the client could not take: drop it, and send the
            // close frame alone.
            self.core.outbox.clear();
        }
        if !self.core.registered {
            // It stops right after this: give its place back first.
            self.core.slot = None;
        }
        let frame = reason.close_frame();
        self.core.close = Some(frame.clone());
        self.core.shared.set_closed(reason.clone());
        if was_open {
            self.core.stats.session_closed(self.core.transport);
            // The state is already Closed: what on_close queues is dropped, and a close
            // it asks for is moot.
            self.handler
                .on_close(&reason, &mut SessionContext::new(&mut self.core, ctx));
            self.core.close_requested = None;
        }
        // Deliver what was queued before the close, then the close frame.
        if self.core.receiver.is_some() {
            self.flush(ctx);
        }
        if self.core.receiver.is_some() {
            if !self.is_raw() {
                let Some(attached) = self.core.receiver.as_mut() else {
                    return;
                };
                attached.receiver.send_frame(frame.to_frame());
            }
            self.detach(Some(&frame), ctx);
        }
        if !self.core.registered {
            ctx.stop();
        }
    }
}

impl<H: SockJsHandler> Actor for SessionActor<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if let Some(from_client) = self.from_client.take() {
            ctx.add_stream(from_client);
        }
        if !self.is_raw() || self.core.config.websocket_ping {
            ctx.run_interval(self.core.config.heartbeat_delay, |act, ctx| {
                act.heartbeat(ctx)
            });
        }
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        // A session stopped from outside (the server shutting down) still tells its
        // handler, so on_close runs once in every path.
        if self.core.state != State::Closed {
            self.close(CloseReason::Interrupted, ctx);
        }
        self.core.outbox.clear();
    }
}

impl<H: SockJsHandler> Handler<Attach> for SessionActor<H> {
    type Result = ();

    fn handle(&mut self, Attach(receiver): Attach, ctx: &mut Context<Self>) {
        self.attach(receiver, ctx);
    }
}

impl<H: SockJsHandler> SessionActor<H> {
    /// Hands messages from the client to the handler, in one handler call.
    fn receive(&mut self, messages: Vec<String>, ctx: &mut Context<Self>) {
        if self.core.state != State::Open {
            return;
        }
        self.core.stats.packets_received(messages.len() as u64);
        self.call_handler(ctx, |handler, session| {
            for msg in messages {
                handler.on_message(msg, session);
                if session.closing() {
                    break;
                }
            }
        });
    }
}

impl<H: SockJsHandler> Handler<Incoming> for SessionActor<H> {
    type Result = ();

    fn handle(&mut self, Incoming(messages): Incoming, ctx: &mut Context<Self>) {
        self.receive(messages, ctx);
    }
}

impl<H: SockJsHandler> StreamHandler<FromClient> for SessionActor<H> {
    fn handle(&mut self, item: FromClient, ctx: &mut Context<Self>) {
        match item {
            FromClient::Message(msg) => {
                if self.core.state != State::Open {
                    return;
                }
                self.core.stats.packets_received(1);
                self.call_handler(ctx, |handler, session| handler.on_message(msg, session));
            }
            FromClient::Messages(messages) => self.receive(messages, ctx),
            FromClient::Closed => self.close(CloseReason::ClientClosed, ctx),
            FromClient::Pong => self.core.awaiting_pong = false,
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The connection is gone; it stops the session itself.
    }
}

impl<H: SockJsHandler> Handler<Expire> for SessionActor<H> {
    type Result = ();

    fn handle(&mut self, _: Expire, ctx: &mut Context<Self>) {
        // Expired: it stops right after this; give its place back first.
        self.core.slot = None;
        self.close(CloseReason::Timeout, ctx);
        ctx.stop();
    }
}

impl<H: SockJsHandler> Handler<Shutdown> for SessionActor<H> {
    type Result = ();

    fn handle(&mut self, Shutdown(countdown): Shutdown, ctx: &mut Context<Self>) {
        self.close(CloseReason::ServerShutdown, ctx);
        // Closed, and the close frame handed to the request or socket it has.
        drop(countdown);
    }
}

impl<H: SockJsHandler> Handler<Deliver> for SessionActor<H> {
    type Result = ();

    fn handle(&mut self, msg: Deliver, ctx: &mut Context<Self>) {
        self.core.shared.release(msg.weight());
        match msg {
            Deliver::Text(text) => self.core.queue_text(&text),
            Deliver::Prepared(msg) => self.core.queue_prepared(&msg),
            Deliver::Close { code, reason } => self.core.request_close(code, reason),
            // settle() sees the overflow.
            Deliver::Overflow => {}
        }
        self.settle(ctx);
    }
}
