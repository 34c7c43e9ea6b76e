//! What a handler is given to act on its session.

use std::time::Duration;

use actix::{AsyncContext, Context, SpawnHandle};
use serde::Serialize;

use super::actor::{SessionActor, SessionCore};
use super::handle::{PreparedMessage, SessionHandle};
use crate::handler::SockJsHandler;

/// The session as seen from inside a handler call.
///
/// Sends are queued and leave as one frame when the call returns; a close takes effect
/// after the call, once what was queued before it has been written.
pub struct SessionContext<'a, H: SockJsHandler> {
    core: &'a mut SessionCore,
    ctx: &'a mut Context<SessionActor<H>>,
}

impl<'a, H: SockJsHandler> SessionContext<'a, H> {
    pub(crate) fn new(core: &'a mut SessionCore, ctx: &'a mut Context<SessionActor<H>>) -> Self {
        SessionContext { core, ctx }
    }

    /// The session id.
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
    pub fn send_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        let text = serde_json::to_string(value)?;
        self.core.queue_text(&text);
        Ok(())
    }

    /// Queues a message encoded once for many sessions.
    pub fn send_prepared(&mut self, msg: &PreparedMessage) {
        self.core.queue_prepared(msg);
    }

    /// Closes the session with `code` and `reason` (3000 `Go away!` is the usual
    /// server close). In `on_open` this refuses the session: the client sees the open
    /// frame, then the close frame, and nothing else.
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

    /// A handle to this session for use elsewhere (another session, a task, a room).
    pub fn handle(&mut self) -> SessionHandle {
        self.core.handle(self.ctx)
    }

    /// Runs `f` on the handler every `every`, for as long as the session lives.
    pub fn run_interval<F>(&mut self, every: Duration, mut f: F) -> SpawnHandle
    where
        F: FnMut(&mut H, &mut SessionContext<'_, H>) + 'static,
    {
        self.ctx
            .run_interval(every, move |act, ctx| act.call_handler(ctx, |h, s| f(h, s)))
    }

    /// Runs `f` on the handler once, after `after`.
    pub fn run_later<F>(&mut self, after: Duration, f: F) -> SpawnHandle
    where
        F: FnOnce(&mut H, &mut SessionContext<'_, H>) + 'static,
    {
        self.ctx
            .run_later(after, move |act, ctx| act.call_handler(ctx, f))
    }

    /// The underlying actor context, to spawn futures or take other messages.
    pub fn actor_context(&mut self) -> &mut Context<SessionActor<H>> {
        self.ctx
    }
}
