//! A session run inside the connection that made it, instead of as a task of its own.
//!
//! A websocket's session lives exactly as long as its socket, so the connection runs
//! it for its whole life. A streaming HTTP response (`xhr_streaming`, `eventsource`,
//! `htmlfile`) that creates its session runs it too, for as long as the response
//! lasts: an idle streaming session then costs no task of its own (bench/NOTES.md has
//! what a task costs), and the session's answer to a message is written in the same
//! poll of the connection that runs it. When the response ends
//! while the session goes on (its `response_limit` was reached, the client went
//! away, the write timeout gave up on it), the session is *handed off*: it becomes a
//! task of its own and carries on exactly where it was, as if it had been one all
//! along. Its next poll, in the new task, registers every waker it holds again
//! (actix's context polls all of its futures each time).
//!
//! The connection polls the session only when something woke it (the session's
//! shared state is its waker: it notes that, then wakes the connection's task;
//! hosting allocates nothing of its own), so a busy connection does not run
//! an idle session's whole context on every chunk. When all that woke a websocket's
//! session is what its handles sent (a broadcast, most often), the session does not
//! run at all: the connection writes the prepared messages from the session's inbox
//! itself, as the session would have (what it may write so, [`WriteThrough`], is
//! known after each run of the session), and what the session's core settles without
//! its context goes straight to the connection, not through the queue.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};

use super::{Outbound, QueueRx, StallProbe};
use crate::receiver::stall::{self, Progress, Stallable};
use crate::session::SockJsHandler;
use crate::session::{Command, InboxTx, SessionFuture, WriteThrough, Written};
use crate::stats::Stats;

/// `woken_at_look` when the last look found the session not woken. Should `polls`
/// (which wraps) be this while woken at two looks, the session is handed off all
/// the same; woken at one look only, a look early, which is harmless.
const NOT_WOKEN: u32 = u32::MAX;

/// What a run of a hosted session ([`HostedSession::drive`]) left in the queue its
/// connection reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AfterRun {
    /// Nothing new: the session did not run, or what it sent went to the writer
    /// the connection gave it.
    NothingQueued,
    /// The context ran (or the session no longer runs here): the queue may hold
    /// what it sent.
    MayHaveQueued,
}

/// What becomes of a hosted session when its connection lets go of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WhenLetGo {
    /// It is dropped: it learns that its connection is gone, closes (`on_close`
    /// runs) and ends. A websocket's session.
    Ends,
    /// It goes on as a task of its own. A session made by a streaming response.
    HandedOff,
}

/// The session a connection runs, and what the write timeout watch looks at:
/// something waits when the session was woken and has not run yet, or when frames
/// wait in the outbound queue; progress is the session running or the connection
/// taking a frame.
///
/// In declaration order (`repr(C)`): what the watch's look reads first, beside the
/// reference counts in front of it, then the session itself.
#[repr(C)]
pub(crate) struct HostedSession<H: SockJsHandler> {
    /// How many times the connection ran the session.
    polls: Cell<u32>,
    /// `polls` at the watch's last look: a session that ran since is not held
    /// still, and the look needs nothing more of it (nor of its shared state and
    /// queue, which an idle look would otherwise bring into the cache for each of a
    /// thread's connections once a second).
    polls_at_look: Cell<u32>,
    /// `polls` when the write timeout watch last found the session woken (and
    /// waiting to run), or [`NOT_WOKEN`] if it did not at its last look.
    woken_at_look: Cell<u32>,
    let_go: WhenLetGo,
    /// The session was handed off while its connection went on (the connection
    /// could not run it): a websocket's is told when the connection ends.
    handed_off: Cell<bool>,
    /// What the connection may write from the session's inbox without running it,
    /// as of its last run (`WriteThrough`); `No` unless the session runs here.
    write_through: Cell<WriteThrough>,
    /// The session runs here: `future` holds it (read without borrowing it, nor
    /// reading the future's lines, on every chunk).
    here: Cell<bool>,
    /// The session knows the connection's task (what its waker wakes). Told once:
    /// a response body is polled only by the task of its connection, and a
    /// session once handed off is not run here again.
    host_told: Cell<bool>,
    /// The session's inbox, whose shared state is also the session's waker.
    inbox: InboxTx,
    outbound: StallProbe<Outbound>,
    /// The statistics of the session's service (messages written through count
    /// as sent).
    stats: Option<Stats>,
    future: RefCell<Option<SessionFuture<H>>>,
}

impl<H: SockJsHandler> HostedSession<H> {
    /// `session`, whose inbox is `inbox`, to be run by the connection that reads
    /// `outbound`.
    pub(crate) fn new(
        mut session: SessionFuture<H>,
        inbox: InboxTx,
        outbound: &QueueRx<Outbound>,
        let_go: WhenLetGo,
    ) -> Self {
        // The first poll starts the session.
        inbox.shared().set_woken();
        inbox.shared().hosted_on(stall::hand_off_signal());
        HostedSession {
            stats: session.stats(),
            write_through: Cell::new(WriteThrough::No),
            here: Cell::new(true),
            future: RefCell::new(Some(session)),
            inbox,
            polls: Cell::new(0),
            woken_at_look: Cell::new(NOT_WOKEN),
            polls_at_look: Cell::new(0),
            outbound: outbound.stall_probe(),
            let_go,
            handed_off: Cell::new(false),
            host_told: Cell::new(false),
        }
    }

    /// The waker the session sees: it notes that the session has work, then wakes
    /// whichever task last ran [`drive`](Self::drive).
    pub(crate) fn waker(&self) -> Waker {
        Waker::from(self.inbox.shared().clone())
    }

    /// Whether the session runs here, was woken and has not run since.
    pub(crate) fn woken(&self) -> bool {
        self.inbox.shared().woken() && self.hosting()
    }

    /// Where the connection sends the client's messages.
    pub(crate) fn inbox(&self) -> &InboxTx {
        &self.inbox
    }

    /// Whether the session still runs here (not stopped, nor let go).
    pub(crate) fn hosting(&self) -> bool {
        self.here.get()
    }

    /// Runs the session if it was woken since it last ran. With `out` (a websocket
    /// connection that writes what `out` is given at once, and empties the queue
    /// after every run that may have filled it), what the session's handles sent
    /// goes straight to `out` when that is all that woke it. Tells whether the
    /// queue may hold something new.
    pub(crate) fn drive(
        &self,
        cx: &mut Context<'_>,
        out: Option<&mut dyn FnMut(Written<'_>)>,
    ) -> AfterRun {
        match (out, self.write_through.get()) {
            (Some(out), through) if through != WriteThrough::No => {
                self.write_through_inbox(cx, through, out)
            }
            (out, _) => self.run(cx, out, None),
        }
    }

    /// What the session's handles sent, written from its inbox as the session would
    /// write it (a broadcast's frame as it was encoded), without the session itself:
    /// not even its memory is read, unless it has to run.
    fn write_through_inbox(
        &self,
        cx: &mut Context<'_>,
        through: WriteThrough,
        out: &mut dyn FnMut(Written<'_>),
    ) -> AfterRun {
        let shared = self.inbox.shared();
        if !shared.take_woken() {
            // While it runs here it sends only when run.
            return AfterRun::NothingQueued;
        }
        self.polls.set(self.polls.get().wrapping_add(1));
        if shared.take_context_woken() {
            return self.run(cx, Some(out), Some(true));
        }
        let (written, all) = shared.write_through(through, out);
        if written > 0
            && let Some(stats) = &self.stats
        {
            stats.packets_sent(written);
        }
        if all {
            return AfterRun::NothingQueued;
        }
        self.run(cx, Some(out), Some(false))
    }

    /// Runs the session, if it was woken: `woken` is `Some(context_woken)` when
    /// [`write_through_inbox`](Self::write_through_inbox) took the session's woken
    /// flags already.
    fn run(
        &self,
        cx: &mut Context<'_>,
        out: Option<&mut dyn FnMut(Written<'_>)>,
        woken: Option<bool>,
    ) -> AfterRun {
        let Ok(mut future) = self.future.try_borrow_mut() else {
            return AfterRun::MayHaveQueued;
        };
        let Some(session) = future.as_mut() else {
            // Stopped, or let go: it sends from elsewhere, if at all.
            return AfterRun::MayHaveQueued;
        };
        let context_woken = match woken {
            Some(context_woken) => context_woken,
            None => {
                let shared = self.inbox.shared();
                if !self.host_told.replace(true) {
                    shared.host_task(cx.waker());
                }
                if !shared.take_woken() {
                    // While it runs here it sends only when run.
                    return AfterRun::NothingQueued;
                }
                self.polls.set(self.polls.get().wrapping_add(1));
                shared.take_context_woken()
            }
        };
        // Woken only by what its handles sent (a broadcast, most often): taken
        // without running the context (its mailbox, timers and futures were not
        // woken), unless that needs the handler.
        if !context_woken && let Some(out) = out {
            let settled = session.take_deliveries(out);
            self.write_through.set(session.write_through());
            if settled {
                return AfterRun::NothingQueued;
            }
        }
        // Made per run (a reference count) rather than kept by the connection: the
        // futures inside keep the one they hold, as it wakes the same state.
        let session_waker = self.waker();
        if Pin::new(&mut *session)
            .poll(&mut Context::from_waker(&session_waker))
            .is_ready()
        {
            *future = None;
            self.gone_from_here();
        } else {
            self.write_through.set(session.write_through());
        }
        AfterRun::MayHaveQueued
    }

    /// Takes the session out, if it is here: it no longer runs here.
    fn take_session(&self) -> Option<SessionFuture<H>> {
        let session = self.future.try_borrow_mut().ok()?.take()?;
        self.gone_from_here();
        Some(session)
    }

    /// The session no longer runs here.
    fn gone_from_here(&self) {
        self.here.set(false);
        self.write_through.set(WriteThrough::No);
    }

    /// The connection is being polled: it can run the session.
    pub(crate) fn polled(&self) {
        self.inbox.shared().host_polled();
    }

    /// The connection hands actix-http a chunk: if its write buffer is full now, it
    /// is not polled again until its client reads, and a session woken meanwhile is
    /// handed off (see [`Stallable::hand_off`]).
    pub(crate) fn gave_bytes(&self) {
        if self.hosting() {
            self.inbox.shared().host_gave_bytes();
        }
    }

    /// The connection is done with the session: it ends or is handed off, by its
    /// [`WhenLetGo`]. What comes back is to be dropped outside any borrow of the
    /// caller's (it may run application code, such as the session's `on_close`).
    /// A websocket's session that was handed off already is told here that its
    /// connection is gone.
    pub(crate) fn let_go(&self) -> Option<LetGo<H>> {
        let Some(session) = self.future.try_borrow_mut().ok()?.take() else {
            if self.let_go == WhenLetGo::Ends && self.handed_off.replace(false) {
                let _ = self.inbox.send(Command::ConnectionGone);
            }
            return None;
        };
        self.gone_from_here();
        Some(LetGo {
            session: Some(session),
            hand_off: self.let_go == WhenLetGo::HandedOff,
        })
    }

    /// Hands the session off to a task of its own while the connection goes on
    /// (reading the client's frames into the inbox, writing what the session
    /// queues): the connection cannot run it now.
    fn hand_off_now(&self) -> Option<Box<dyn Any>> {
        let session = self.take_session()?;
        self.handed_off.set(true);
        self.inbox.shared().clear_host_task();
        Some(Box::new(LetGo {
            session: Some(session),
            hand_off: true,
        }))
    }
}

impl<H: SockJsHandler> Drop for HostedSession<H> {
    fn drop(&mut self) {
        self.inbox.shared().clear_host_task();
    }
}

impl<H: SockJsHandler> Stallable for HostedSession<H> {
    /// actix-http stops polling a response body while its write buffer is full, so
    /// a connection whose client reads slowly (or not at all) would hold its
    /// session still: no message handled, no slow-consumer close, no timer. The
    /// session is handed off as soon as it is woken while its connection is full
    /// ([`hand_off`](Stallable::hand_off)); should that signal ever be missed, once
    /// two looks in a row (a second or more apart) found it woken and not run
    /// since. Its queue stays with the connection.
    fn look(&self) -> Option<Box<dyn Any>> {
        let polls = self.polls.get();
        if polls != self.polls_at_look.get() {
            // It ran since the last look. For the fallback below it counts as not
            // woken at this look (so a hand-off waits a look longer, never less).
            self.woken_at_look.set(NOT_WOKEN);
            return None;
        }
        let woken = self.woken();
        let seen = self
            .woken_at_look
            .replace(if woken { polls } else { NOT_WOKEN });
        if woken && seen == polls {
            return self.hand_off_now();
        }
        None
    }

    /// Asked when the thread's hand-off signal was raised: a session that was woken
    /// while its connection's last poll ended by handing out bytes cannot run until
    /// the client reads (actix-http polls a body again in the same poll unless its
    /// write buffer is full), so it is handed off now, and whatever is sent to it
    /// is handled (and counted against `max_queued_bytes`) at once.
    fn hand_off(&self) -> Option<Box<dyn Any>> {
        if self.woken() && self.inbox.shared().host_full() {
            return self.hand_off_now();
        }
        None
    }

    fn progress(&self) -> Progress {
        let polls = self.polls.get();
        if self.polls_at_look.replace(polls) != polls {
            // It ran since the last look: progress, whatever waits.
            return Progress {
                waiting: false,
                moved: u64::from(polls),
            };
        }
        let queue = self.outbound.progress();
        let woken = self.woken();
        Progress {
            waiting: queue.waiting || woken,
            moved: queue.moved.wrapping_add(u64::from(self.polls.get())),
        }
    }

    fn abandon(&self) -> Option<Box<dyn Any>> {
        self.outbound.abandon();
        // Let go by the watch, outside the connection: a websocket's session stops
        // (on_close runs, the connection interrupted); a streaming response's goes on
        // in a task of its own and finds its receiver gone.
        let let_go = self.let_go()?;
        Some(Box::new(let_go))
    }
}

/// A session its connection let go of: dropping it ends the session or hands it
/// off, as the connection said.
pub(crate) struct LetGo<H: SockJsHandler> {
    session: Option<SessionFuture<H>>,
    hand_off: bool,
}

impl<H: SockJsHandler> Drop for LetGo<H> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        // A task can only be spawned from inside one: a connection dropped while
        // the runtime itself is being torn down (no task is running) drops its
        // session instead, which then closes as interrupted, on_close included.
        if self.hand_off && tokio::task::try_id().is_some() {
            session.spawn();
        }
    }
}
