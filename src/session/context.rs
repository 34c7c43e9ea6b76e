//! `SockJsContext`: the actor context of a session handler, and the session itself.

use actix::SpawnHandle;
use actix::dev::{
    AsyncContextParts, ContextParts, Envelope, EnvelopeProxy, MessageResponse, OneshotSender,
    ToEnvelope,
};
use actix::{ActorContext, ActorFuture, ActorState, Addr, AsyncContext, Handler, Message};
use serde::Serialize;

use super::core::SessionCore;
use super::handle::{PreparedMessage, SessionHandle};
use super::pump::Settling;
use crate::error::Error;
use crate::session::SockJsHandler;

/// The actor context of a SockJS session handler, as `WebsocketContext` is for a
/// websocket actor: it is the session.
///
/// A handler actor declares `type Context = SockJsContext<Self>`. The context is a full
/// actix context ([`AsyncContext`]): [`address`](AsyncContext::address) gives the
/// actor's `Addr` for other actors to message, and `run_interval`, `run_later`,
/// `spawn`, `notify` and the actor's own `Handler` impls all work. In any of them the
/// session methods ([`send`](Self::send), [`close`](Self::close), ...) act on the
/// session: what one call (a handler method, a message, a timer tick) sends leaves as
/// a single `a[...]` frame when the call returns.
///
/// Messages to the actor's address are handled as they arrive, whatever the state of
/// the session's connection, and what their handlers send counts against
/// [`max_queued_bytes`](crate::SockJsConfig::max_queued_bytes) right after each
/// call: a session whose client stops reading is closed as a slow consumer at the
/// bound, and a sender never waits for it.
///
/// ```
/// use actix::{Actor, AsyncContext, Handler, Message};
/// use actix_sockjs::{SockJsContext, SockJsHandler};
///
/// struct Ticker;
///
/// impl Actor for Ticker {
///     type Context = SockJsContext<Self>;
/// }
///
/// impl SockJsHandler for Ticker {
///     fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) {
///         if msg == "tick" {
///             ctx.run_interval(std::time::Duration::from_secs(1), |_, ctx| ctx.send("tock"));
///         }
///     }
/// }
///
/// /// A message another actor sends to the session's address.
/// #[derive(Message)]
/// #[rtype(result = "()")]
/// struct Notice(String);
///
/// impl Handler<Notice> for Ticker {
///     type Result = ();
///     fn handle(&mut self, notice: Notice, ctx: &mut SockJsContext<Self>) {
///         ctx.send(notice.0);
///     }
/// }
/// ```
pub struct SockJsContext<A: SockJsHandler> {
    parts: ContextParts<A>,
    pub(crate) core: SessionCore,
}

impl<A: SockJsHandler> std::fmt::Debug for SockJsContext<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SockJsContext")
            .field("id", &self.id())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl<A: SockJsHandler> SockJsContext<A> {
    pub(crate) fn new(parts: ContextParts<A>, core: SessionCore) -> Self {
        SockJsContext { parts, core }
    }

    /// The session id (a generated one for a raw websocket).
    pub fn id(&self) -> &str {
        self.core.id()
    }

    /// Queues a message to the client. Ignored once the session is closed.
    pub fn send(&mut self, text: impl AsRef<str>) {
        self.core.queue_text(text.as_ref());
    }

    /// Queues one message made of `parts` written one after another.
    pub(crate) fn send_parts(&mut self, parts: &[&str]) {
        self.core.queue_text_parts(parts);
    }

    /// Queues the JSON encoding of `value` as one message.
    ///
    /// Fails with [`Error::Json`] (carrying `serde_json`'s error) if `value` cannot be
    /// serialised.
    pub fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let text = serde_json::to_string(value).map_err(Error::from)?;
        self.core.queue_text(&text);
        Ok(())
    }

    /// Queues a message encoded once for many sessions.
    pub fn send_prepared(&mut self, msg: &PreparedMessage) {
        self.core.queue_prepared(msg);
    }

    /// Closes the session with `code` and `reason` (3000 `Go away!` is the usual
    /// server close), once what was queued before has been written. In `on_open` this
    /// refuses the session: the client sees the open frame, then the close frame.
    ///
    /// A closed session stays known to the server until it expires, answering every
    /// request with its close frame; the actor keeps running until then. To end the
    /// actor at once, [`stop`](ActorContext::stop) it instead.
    pub fn close(&mut self, code: u16, reason: impl Into<String>) {
        self.core.request_close(code, reason.into());
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    pub(crate) fn closing(&self) -> bool {
        self.core.is_closing()
    }

    /// A cloneable, `Send` handle to this session for use anywhere, bounded by
    /// `max_queued_bytes` (see [`SessionHandle`]).
    pub fn session_handle(&self) -> SessionHandle {
        self.core.handle()
    }

    /// The old name of [`session_handle`](Self::session_handle). Every actix
    /// context's `handle()` is its current `SpawnHandle`, which this shadowed.
    #[deprecated(since = "0.1.0", note = "renamed to `session_handle`")]
    pub fn handle(&self) -> SessionHandle {
        self.session_handle()
    }
}

/// Stopping a session actor ends its session: the client gets `c[3000,"Go away!"]`
/// (unless the session is already closed) and `on_close` runs, right after the call
/// that stopped it; a later request for its id finds no session.
impl<A: SockJsHandler> ActorContext for SockJsContext<A> {
    fn stop(&mut self) {
        self.core.request_stop();
        self.parts.stop();
    }

    fn terminate(&mut self) {
        self.core.request_stop();
        self.parts.terminate();
    }

    fn state(&self) -> ActorState {
        self.parts.state()
    }
}

impl<A: SockJsHandler> AsyncContext<A> for SockJsContext<A> {
    fn address(&self) -> Addr<A> {
        self.parts.address()
    }

    /// Spawns `fut`; each time it runs, the session settles after it (what it sent
    /// leaves as one frame).
    fn spawn<F>(&mut self, fut: F) -> SpawnHandle
    where
        F: ActorFuture<A, Output = ()> + 'static,
    {
        self.parts.spawn(Settling::new(fut))
    }

    fn wait<F>(&mut self, fut: F)
    where
        F: ActorFuture<A, Output = ()> + 'static,
    {
        self.core.wait_began();
        self.parts.wait(Settling::waited(fut))
    }

    fn waiting(&self) -> bool {
        self.parts.waiting()
    }

    fn cancel_future(&mut self, handle: SpawnHandle) -> bool {
        self.parts.cancel_future(handle)
    }
}

impl<A: SockJsHandler> AsyncContextParts<A> for SockJsContext<A> {
    fn parts(&mut self) -> &mut ContextParts<A> {
        &mut self.parts
    }
}

impl<A: SockJsHandler> SockJsContext<A> {
    /// Spawns one of the session's own futures (the command pump, the receiver watch,
    /// the heartbeat), which settle the session themselves.
    pub(crate) fn spawn_plain<F>(&mut self, fut: F) -> SpawnHandle
    where
        F: ActorFuture<A, Output = ()> + 'static,
    {
        self.parts.spawn(fut)
    }
}

/// Messages sent to a session actor's address settle the session after the actor's
/// handler ran, like every other call.
impl<A, M> ToEnvelope<A, M> for SockJsContext<A>
where
    A: SockJsHandler + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    fn pack(msg: M, tx: Option<OneshotSender<M::Result>>) -> Envelope<A> {
        Envelope::with_proxy(Box::new(SettlingEnvelope { msg: Some(msg), tx }))
    }
}

/// An actor message that settles the session once handled.
struct SettlingEnvelope<M: Message> {
    msg: Option<M>,
    tx: Option<OneshotSender<M::Result>>,
}

impl<A, M> EnvelopeProxy<A> for SettlingEnvelope<M>
where
    A: SockJsHandler + Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    fn handle(&mut self, act: &mut A, ctx: &mut SockJsContext<A>) {
        let tx = self.tx.take();
        if tx.as_ref().is_some_and(|tx| tx.is_closed()) {
            return;
        }
        if let Some(msg) = self.msg.take() {
            let response = <A as Handler<M>>::handle(act, msg, ctx);
            response.handle(ctx, tx);
            ctx.settle(act);
        }
    }
}
