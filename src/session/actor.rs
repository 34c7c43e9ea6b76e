//! The session actor: one per SockJS session.
//!
//! It owns the outgoing queue, the heartbeat interval, the state and close reason, and
//! the one receiver currently attached. Transports attach receivers to it; the
//! application's handler lives inside it.

use std::sync::Arc;
use std::time::Instant;

use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, SpawnHandle,
    StreamHandler, WrapFuture,
};

use super::context::SessionContext;
use super::handle::{Deliver, PreparedMessage, SessionHandle};
use super::messages::{Attach, Expire, FromClient, Incoming};
use super::outbox::Outbox;
use super::shared::{SessionId, SessionShared, SessionSlot};
use crate::config::SockJsConfig;
use crate::handler::Transport;
use crate::handler::{CloseReason, ConnectionInfo, SockJsHandler};
use crate::protocol::{CloseFrame, Frame};
use crate::stats::Stats;
use crate::transport::{Delivery, QueueRx, Receiver};

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

struct Attached {
    receiver: Receiver,
    generation: u64,
    /// Notices the request going away. A websocket needs none: its session runs
    /// inside the connection and is stopped with it.
    watch: Option<SpawnHandle>,
    /// A streaming response that has had its `response_limit` of bytes: it gets
    /// nothing more, and it stays attached until its client has read what it was
    /// given (so `response_limit` counts bytes written, and a client that stops
    /// reading keeps its session busy instead of opening new responses to fill).
    draining: bool,
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
        if self.state != State::Closed {
            self.outbox.push_text(text);
            self.stats.packets_sent(1);
        }
    }

    pub(crate) fn queue_text_parts(&mut self, parts: &[&str]) {
        if self.state != State::Closed {
            self.outbox.push_text_parts(parts);
            self.stats.packets_sent(1);
        }
    }

    pub(crate) fn queue_prepared(&mut self, msg: &PreparedMessage) {
        if self.state != State::Closed {
            let (text, frame) = msg.parts();
            self.outbox.push_prepared(text, frame);
            self.stats.packets_sent(1);
        }
    }

    /// Whether the session is closed or a close was asked for in this handler call.
    pub(crate) fn is_closing(&self) -> bool {
        self.state == State::Closed || self.close_requested.is_some()
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
    /// `transport::websocket`).
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
            self.flush(ctx);
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
            && (self.core.shared.overflowed() || self.backlog() > self.core.config.max_queued_bytes)
        {
            self.core.stats.slow_consumer();
            self.close(CloseReason::SlowConsumer, ctx);
        }
    }

    fn attach(&mut self, mut receiver: Receiver, ctx: &mut Context<Self>) {
        if self.core.state == State::Closed {
            // A closed session answers every receiver with its close frame until it
            // expires (after what was still queued, if anything).
            self.core.shared.set_detached(Instant::now());
            if let Some(frame) = self.core.outbox.take_frame() {
                if receiver.send_frame(frame) != Delivery::Open {
                    receiver.finish(None);
                    return;
                }
            }
            let close = self
                .core
                .close
                .clone()
                .unwrap_or_else(|| CloseReason::Timeout.close_frame());
            receiver.send_frame(close.to_frame());
            receiver.finish(Some(&close));
            return;
        }
        if self
            .core
            .receiver
            .as_ref()
            .is_some_and(|a| a.receiver.is_gone())
        {
            // The attached receiver's request is over and the watch has not run yet:
            // a drained streaming response makes room; a client that went away
            // interrupts the session (1002), which is then not busy (2010).
            self.receiver_ended(ctx);
            self.attach(receiver, ctx);
            return;
        }
        if self.core.receiver.is_some() {
            let busy = CloseFrame {
                code: 2010,
                reason: "Another connection still open".into(),
            };
            receiver.send_frame(busy.to_frame());
            receiver.finish(Some(&busy));
            return;
        }
        self.core.generation += 1;
        let generation = self.core.generation;
        let watch = (!receiver.is_websocket()).then(|| {
            ctx.spawn(
                receiver
                    .closed()
                    .into_actor(self)
                    .map(move |(), act, ctx| act.receiver_closed(generation, ctx)),
            )
        });
        self.core.receiver = Some(Attached {
            receiver,
            generation,
            watch,
            draining: false,
        });
        self.core.shared.set_attached();
        if self.core.state == State::New {
            self.open(ctx);
        } else {
            self.flush(ctx);
        }
    }

    fn open(&mut self, ctx: &mut Context<Self>) {
        self.core.state = State::Open;
        self.core.stats.session_opened(self.core.transport);
        // The open frame goes out before the handler runs, as the protocol requires even
        // of a session the handler closes at once (`/close`: `o`, then `c[3000,...]`).
        if !self.is_raw() {
            self.deliver(Frame::open(), ctx);
        }
        if self.core.state != State::Open {
            // The client vanished before the open frame reached it.
            return;
        }
        if let Some(info) = self.core.info.take() {
            self.call_handler(ctx, |handler, session| handler.on_open(*info, session));
        }
    }

    /// Writes one frame to the attached receiver, if any, and follows up on it.
    fn deliver(&mut self, frame: Frame, ctx: &mut Context<Self>) -> Delivery {
        let Some(attached) = self.core.receiver.as_mut() else {
            return Delivery::Gone;
        };
        if attached.draining {
            return Delivery::Complete;
        }
        let delivery = attached.receiver.send_frame(frame);
        match delivery {
            Delivery::Open => {}
            Delivery::Complete if attached.receiver.is_streaming() => {
                attached.receiver.end();
                attached.draining = true;
            }
            Delivery::Complete => self.detach(None, ctx),
            Delivery::Gone => self.receiver_lost(ctx),
        }
        delivery
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.core.receiver.as_ref().is_none_or(|a| a.draining) {
            return;
        }
        if self.is_raw() {
            while let Some(text) = self.core.outbox.pop_raw() {
                let Some(attached) = self.core.receiver.as_mut() else {
                    return;
                };
                if attached.receiver.send_raw(text) == Delivery::Gone {
                    self.receiver_lost(ctx);
                    return;
                }
            }
        } else if let Some(frame) = self.core.outbox.take_frame() {
            self.deliver(frame, ctx);
        }
    }

    /// Ends the attached receiver's request normally.
    fn detach(&mut self, close: Option<&CloseFrame>, ctx: &mut Context<Self>) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                ctx.cancel_future(watch);
            }
            attached.receiver.finish(close);
            self.core.shared.set_detached(Instant::now());
        }
    }

    /// The attached receiver's client went away before its request was complete.
    fn receiver_lost(&mut self, ctx: &mut Context<Self>) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                ctx.cancel_future(watch);
            }
            self.core.shared.set_detached(Instant::now());
        }
        self.close(CloseReason::Interrupted, ctx);
        if !self.core.registered {
            ctx.stop();
        }
    }

    fn receiver_closed(&mut self, generation: u64, ctx: &mut Context<Self>) {
        let current = self.core.receiver.as_ref().map(|a| a.generation);
        if current == Some(generation) {
            self.receiver_ended(ctx);
        }
    }

    /// The attached receiver's request is over: a streaming response that was
    /// draining and was read to its end detaches normally (what is queued waits for
    /// the next request); anything else means the client went away.
    fn receiver_ended(&mut self, ctx: &mut Context<Self>) {
        let drained = self
            .core
            .receiver
            .as_ref()
            .is_some_and(|a| a.draining && !a.receiver.left_items());
        if drained {
            self.detach(None, ctx);
        } else {
            self.receiver_lost(ctx);
        }
    }

    fn close(&mut self, reason: CloseReason, ctx: &mut Context<Self>) {
        if self.core.state == State::Closed {
            return;
        }
        let was_open = self.core.state == State::Open;
        self.core.state = State::Closed;
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

impl<H: SockJsHandler> SessionActor<H> {
    /// Every `heartbeat_delay`: an `h` frame for the attached receiver, and for a
    /// websocket a ping, unless the previous one is still unanswered: then the client
    /// is gone (its network, its machine) and the session is interrupted.
    fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.core.state != State::Open {
            return;
        }
        let Some(attached) = self.core.receiver.as_mut() else {
            return;
        };
        if self.core.config.websocket_ping && attached.receiver.is_websocket() {
            if self.core.awaiting_pong {
                self.close(CloseReason::Interrupted, ctx);
                return;
            }
            attached.receiver.send_ping();
            self.core.awaiting_pong = true;
        }
        if !self.is_raw() {
            self.deliver(Frame::heartbeat(), ctx);
        }
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
