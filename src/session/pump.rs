//! The futures that run inside a session's context: the pump that hands the session
//! its inbox, the heartbeat, and the wrapper that settles the session after each of
//! the application's own futures runs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::{ActorContext, ActorFuture, ActorState, AsyncContext};
use actix_rt::time::Sleep;

use super::context::SockJsContext;
use crate::session::SockJsHandler;

/// How many commands one run of the pump handles before it lets the rest of the
/// context (mailbox, timers) and the task's other work run.
pub(crate) const COMMANDS_PER_TURN: usize = 64;

/// Takes the session's inbox, one command at a time, for as long as the session
/// lives.
pub(crate) struct CommandPump;

impl<A: SockJsHandler> ActorFuture<A> for CommandPump {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut SockJsContext<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        // Settles what the actor's `started` queued or asked for.
        ctx.core.mark_started();
        ctx.settle(act);
        for _ in 0..COMMANDS_PER_TURN {
            if ctx.state() != ActorState::Running || ctx.waiting() {
                // Stopping, or the actor waits on a future: the rest waits.
                return Poll::Pending;
            }
            match ctx.core.poll_command(task) {
                Poll::Ready(command) => {
                    if ctx.command(command, act) {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        task.waker().wake_by_ref();
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// The session's heartbeat interval: every `heartbeat_delay`, an `h` frame (or a
    /// websocket ping). Its own future rather than actix's `run_interval`, which
    /// boxes a closure and keeps the period beside the timer: 32 bytes less in every
    /// session.
    pub(crate) struct Heartbeat {
        #[pin]
        timer: Sleep,
    }
}

impl Heartbeat {
    pub(crate) fn new(every: Duration) -> Self {
        Heartbeat {
            timer: actix_rt::time::sleep(period(every)),
        }
    }
}

/// A zero `heartbeat_delay` would make the timer due forever and never yield.
fn period(every: Duration) -> Duration {
    every.max(Duration::from_millis(1))
}

impl<A: SockJsHandler> ActorFuture<A> for Heartbeat {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut SockJsContext<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        let mut timer = self.project().timer;
        while timer.as_mut().poll(task).is_ready() {
            let next = timer.deadline() + period(ctx.core.config().heartbeat_delay);
            timer.as_mut().reset(next);
            ctx.heartbeat(act);
            ctx.settle(act);
        }
        Poll::Pending
    }
}

pin_project_lite::pin_project! {
    /// One of the application's futures (a timer, a stream, a spawned future, a
    /// `notify`): the session settles after each time it runs.
    pub(crate) struct Settling<F> {
        #[pin]
        inner: F,
        // The context waits for it (`ctx.wait`): the core counts it until it ends.
        waited: bool,
    }
}

impl<F> Settling<F> {
    pub(crate) fn new(inner: F) -> Self {
        Settling {
            inner,
            waited: false,
        }
    }

    /// A future the context waits for; the caller counted it
    /// (`SessionCore::wait_began`).
    pub(crate) fn waited(inner: F) -> Self {
        Settling {
            inner,
            waited: true,
        }
    }
}

impl<A: SockJsHandler, F: ActorFuture<A, Output = ()>> ActorFuture<A> for Settling<F> {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut SockJsContext<A>,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.project();
        let poll = this.inner.poll(act, ctx, task);
        if poll.is_ready() && std::mem::take(this.waited) {
            ctx.core.wait_ended();
        }
        ctx.settle(act);
        poll
    }
}
