//! Running a session: its actor context as a future, polled inside the connection
//! that made it (a websocket, a streaming response: `transport::hosted`) or spawned
//! as a task of its own (a session made by a polling request, or handed off by its
//! stream).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use actix::Addr;
use actix::dev::{AsyncContextParts, ContextFut, ContextParts, Mailbox};

use super::context::SockJsContext;
use super::core::WriteThrough;
use super::core::{SessionCore, SessionSetup};
use super::messages::Command;
use super::pump::CommandPump;
use super::shared::Written;
use crate::session::SockJsHandler;
use crate::stats::Stats;

/// A session's mailbox, made before its actor so its address can be registered first.
pub(crate) struct SessionMailbox<A: SockJsHandler>(Mailbox<A>);

impl<A: SockJsHandler> SessionMailbox<A> {
    pub(crate) fn new() -> Self {
        SessionMailbox(Mailbox::default())
    }

    /// The address the session's actor will have.
    pub(crate) fn address(&self) -> Addr<A> {
        self.0.address()
    }

    /// The session's future, for `actor`: it runs until the session ends.
    pub(crate) fn session(self, actor: A, setup: SessionSetup) -> SessionFuture<A> {
        let core = SessionCore::new(setup);
        let mut ctx = SockJsContext::new(ContextParts::new(self.0.sender_producer()), core);
        ctx.spawn_plain(CommandPump);
        ctx.start_heartbeat();
        SessionFuture {
            fut: Some(ContextFut::new(ctx, actor, self.0)),
        }
    }
}

/// A session a request just made, to be run inside its response, and its inbox.
pub(crate) type ToHost<H> = (SessionFuture<H>, super::InboxTx);

/// A session's actor context, run as a future. Dropped before it finished (its
/// websocket connection went away, the runtime is shutting down), it tells the session
/// its connection is gone and runs it once more, so `on_close` runs in every path.
pub(crate) struct SessionFuture<A: SockJsHandler> {
    fut: Option<ContextFut<A, SockJsContext<A>>>,
}

impl<A: SockJsHandler> SessionFuture<A> {
    /// Runs the session as a task of its own on the current arbiter.
    pub(crate) fn spawn(self) {
        actix_rt::spawn(self);
    }
}

impl<A: SockJsHandler> SessionFuture<A> {
    /// Takes what handles sent without running the context, when that is all that
    /// woke the session, giving each frame to `out` (see
    /// `SockJsContext::take_deliveries`). Tells whether the session is settled; if
    /// not, it must be polled.
    pub(crate) fn take_deliveries(&mut self, out: &mut dyn FnMut(Written<'_>)) -> bool {
        self.fut
            .as_mut()
            .is_some_and(|fut| fut.ctx().take_deliveries(out))
    }

    /// What may be written from the session's inbox without it until it next runs.
    pub(crate) fn write_through(&mut self) -> WriteThrough {
        self.fut
            .as_mut()
            .map_or(WriteThrough::No, |fut| fut.ctx().core.write_through())
    }

    /// The statistics its service keeps.
    pub(crate) fn stats(&mut self) -> Option<Stats> {
        self.fut.as_mut().map(|fut| fut.ctx().core.stats().clone())
    }
}

impl<A: SockJsHandler> Future for SessionFuture<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Ready(());
        };
        match Pin::new(&mut *fut).poll(cx) {
            Poll::Ready(()) => {
                // The actor stopped: whatever still waits is answered as by a closed
                // session, and nothing more is taken.
                fut.ctx().answer_left();
                this.fut = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<A: SockJsHandler> Drop for SessionFuture<A> {
    fn drop(&mut self) {
        let Some(mut fut) = self.fut.take() else {
            return;
        };
        if fut.alive() && fut.ctx().parts().started() {
            fut.ctx().core.tell(Command::ConnectionGone);
            let _ = Pin::new(&mut fut).poll(&mut Context::from_waker(Waker::noop()));
        }
        fut.ctx().answer_left();
    }
}
