//! A session's inbox: what transports, handles and the manager ask of it, in order.
//!
//! Every sender (the registry entry, each [`SessionHandle`](crate::SessionHandle), a
//! websocket connection) holds a clone of [`InboxTx`]; the session alone reads. A
//! command is stored inline behind a short lock (the first in the inbox itself, the
//! rest in a `VecDeque`: `queue`; no envelope to allocate, unlike an actor mailbox),
//! and the inbox can be closed atomically with a check of what waits in it, which
//! is what makes expiry race-free: a request either
//! got its command in before the inbox closed, and the session handles it, or is
//! refused and treats the session as unknown.
//!
//! The inbox counts the bytes of what handles sent and the session has not taken
//! yet, under the same lock as the queue: a handle's send past `max_queued_bytes` is
//! refused there (the first refusal also queues [`FromHandle::Overflow`], so the session
//! closes as a slow consumer even if it never runs another handler), and the count
//! goes down as the session takes each command.

mod queue;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::handle::{FromHandle, PreparedMessage};
use super::messages::Command;
use super::shared::SessionShared;
use crate::receiver::HandOffSignal;
use crate::vocabulary::CloseReason;
use queue::CommandQueue;

/// The inbox itself, kept in the session's [`SessionShared`] so that the few things
/// a session shares take one allocation and every holder one pointer.
/// In declaration order (`repr(C)`, as [`SessionShared`]).
#[repr(C)]
pub(crate) struct InboxState {
    /// The bytes of the handles' messages waiting in the queue (changed only under
    /// the lock, read without it).
    bytes: AtomicUsize,
    /// A handle's send was refused at the bound.
    overflowed: AtomicBool,
    state: Mutex<State>,
}

impl InboxState {
    /// An open, empty inbox.
    pub(crate) fn new() -> Self {
        InboxState {
            bytes: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
            state: Mutex::new(State {
                queue: CommandQueue::new(),
                waker: None,
                host: None,
                hand_off: None,
                closed: false,
                close_reason: None,
            }),
        }
    }

    /// The bytes of the handles' messages waiting to be taken.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Acquire)
    }

    /// Whether a handle's send was refused at the bound.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }
}

impl InboxState {
    /// Notes why the session closed.
    pub(crate) fn set_close_reason(&self, reason: CloseReason) {
        self.state.lock().close_reason = Some(Box::new(reason));
    }

    /// Why the session closed, if it has.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.state.lock().close_reason.as_deref().cloned()
    }

    /// What a handle sent, if that is what comes next: a prepared message, or also a
    /// text with `texts`. Taken as [`InboxRx::poll_recv`] would take it; anything
    /// else stays where it is ([`NextDelivery::Other`]).
    pub(crate) fn next_delivery(&self, texts: bool) -> NextDelivery {
        let mut state = self.state.lock();
        let weight = match state.queue.front() {
            None => return NextDelivery::Empty,
            Some(Command::FromHandle(deliver @ FromHandle::Prepared(_))) => deliver.weight(),
            Some(Command::FromHandle(deliver @ FromHandle::Text(_))) if texts => deliver.weight(),
            Some(_) => return NextDelivery::Other,
        };
        let next = match state.queue.pop_front() {
            Some(Command::FromHandle(FromHandle::Text(text))) => NextDelivery::Text(text),
            Some(Command::FromHandle(FromHandle::Prepared(msg))) => NextDelivery::Prepared(msg),
            // The front was just seen, under the same lock: never, but should it be,
            // the command goes back.
            Some(other) => {
                state.queue.push_front(other);
                return NextDelivery::Other;
            }
            None => return NextDelivery::Empty,
        };
        self.bytes.fetch_sub(weight, Ordering::AcqRel);
        next
    }

    /// The task of the connection that runs the session: `waker`.
    pub(crate) fn set_host(&self, waker: &Waker) {
        let mut state = self.state.lock();
        if !state.host.as_ref().is_some_and(|h| h.will_wake(waker)) {
            state.host = Some(waker.clone());
        }
    }

    /// The hand-off signal of the thread whose connection runs the session.
    pub(crate) fn set_hand_off_signal(&self, signal: Arc<HandOffSignal>) {
        self.state.lock().hand_off = Some(signal);
    }

    /// No connection runs the session any more.
    pub(crate) fn clear_host(&self) {
        let (host, signal) = {
            let mut state = self.state.lock();
            (state.host.take(), state.hand_off.take())
        };
        drop((host, signal));
    }

    /// Wakes the connection that runs the session, if one does; if that connection
    /// cannot run it (`full`), asks its thread to hand the session off.
    pub(crate) fn wake_host(&self, full: bool) {
        // Under the lock: a task's waker only schedules the task, it takes no lock
        // of ours, and waking by reference copies nothing.
        let state = self.state.lock();
        if let Some(host) = &state.host {
            host.wake_by_ref();
            if full {
                if let Some(signal) = &state.hand_off {
                    signal.raise();
                }
            }
        }
    }

    /// Asks the thread of the connection that runs the session to look at it.
    pub(crate) fn signal_hand_off(&self) {
        if let Some(signal) = &self.state.lock().hand_off {
            signal.raise();
        }
    }
}

impl std::fmt::Debug for InboxState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxState").finish_non_exhaustive()
    }
}

/// In declaration order (`repr(C)`): what a send and a take touch first.
#[repr(C)]
struct State {
    queue: CommandQueue,
    /// The task of the connection that runs the session (`transport::hosted`), if
    /// one does: what the session's own waker wakes. Under this lock rather than a
    /// lock of its own.
    host: Option<Waker>,
    closed: bool,
    /// The hand-off signal of that connection's thread.
    hand_off: Option<Arc<HandOffSignal>>,
    waker: Option<Waker>,
    /// Why the session closed, once it has (kept under this lock, which the session
    /// has anyway, rather than one of its own; boxed, as it is set once).
    close_reason: Option<Box<CloseReason>>,
}

/// What became of a handle's send ([`InboxTx::offer`]).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Queued,
    /// Refused: the handles' messages waiting would pass the bound.
    Full,
    /// Refused: the session has ended.
    Closed,
}

/// The two ends of `shared`'s inbox.
pub(crate) fn inbox(shared: SessionShared) -> (InboxTx, InboxRx) {
    let shared = Arc::new(shared);
    (InboxTx(shared.clone()), InboxRx(shared))
}

/// A sending end of a session's inbox. Cloning it is one reference count.
#[derive(Clone)]
pub(crate) struct InboxTx(Arc<SessionShared>);

impl std::fmt::Debug for InboxTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxTx")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl InboxTx {
    /// Queues `command`; gives it back if the session has ended.
    pub(crate) fn send(&self, command: Command) -> Result<(), Command> {
        let waker = {
            let mut state = self.0.inbox.state.lock();
            if state.closed {
                return Err(command);
            }
            state.queue.push_back(command);
            // Nothing but what handles send can be taken without the context.
            self.0.mark_context_woken();
            self.wake_reader(&mut state)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Queues what a handle sends, unless the handles' messages waiting would then
    /// pass `max` bytes ([`Offer::Full`]; the first such refusal queues
    /// [`FromHandle::Overflow`] for the session) or the session has ended.
    pub(crate) fn offer(&self, deliver: FromHandle, max: usize) -> Offer {
        let inbox = &self.0.inbox;
        let weight = deliver.weight();
        let (waker, offer) = {
            let mut state = inbox.state.lock();
            if state.closed {
                return Offer::Closed;
            }
            let bytes = inbox.bytes.load(Ordering::Relaxed);
            let offer = if bytes + weight <= max {
                inbox.bytes.store(bytes + weight, Ordering::Release);
                state.queue.push_back(Command::FromHandle(deliver));
                Offer::Queued
            } else if !inbox.overflowed.swap(true, Ordering::AcqRel) {
                // The first refusal tells the session.
                state
                    .queue
                    .push_back(Command::FromHandle(FromHandle::Overflow));
                Offer::Full
            } else {
                return Offer::Full;
            };
            (self.wake_reader(&mut state), offer)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        offer
    }

    /// After a command was queued, under the lock: a session run inside a
    /// connection is marked woken and its connection's task woken, as its waker
    /// would, but without marking its context woken (`transport::hosted` then hands
    /// it what handles sent without running its context, when that is all it got).
    /// Otherwise the task that waits for a command, if any, is given back to be woken
    /// outside the lock.
    fn wake_reader(&self, state: &mut State) -> Option<Waker> {
        let Some(host) = &state.host else {
            return state.waker.take();
        };
        let shared = &self.0;
        shared.set_woken();
        host.wake_by_ref();
        if shared.host_full() {
            if let Some(signal) = &state.hand_off {
                signal.raise();
            }
        }
        None
    }

    /// Whether the session has ended (it takes no more commands).
    pub(crate) fn is_closed(&self) -> bool {
        self.0.inbox.state.lock().closed
    }

    /// Whether two ends belong to one inbox.
    pub(crate) fn same_inbox(&self, other: &InboxTx) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// What the session shares besides its inbox.
    pub(crate) fn shared(&self) -> &Arc<SessionShared> {
        &self.0
    }
}

/// What comes next in an inbox, for [`InboxState::next_delivery`].
pub(crate) enum NextDelivery {
    /// A text a handle sent (taken).
    Text(String),
    /// A prepared message a handle sent (taken).
    Prepared(PreparedMessage),
    /// Another command (left where it is).
    Other,
    /// Nothing.
    Empty,
}

/// The session's reading end.
pub(crate) struct InboxRx(Arc<SessionShared>);

impl InboxRx {
    /// A sending end of this inbox.
    pub(crate) fn sender(&self) -> InboxTx {
        InboxTx(self.0.clone())
    }

    /// What the session shares besides its inbox.
    pub(crate) fn shared(&self) -> &SessionShared {
        &self.0
    }

    /// The next command, or pending (the task is woken by the next send).
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Command> {
        let inbox = &self.0.inbox;
        let mut state = inbox.state.lock();
        if let Some(command) = state.queue.pop_front() {
            if let Command::FromHandle(deliver) = &command {
                let weight = deliver.weight();
                inbox.bytes.fetch_sub(weight, Ordering::AcqRel);
            }
            return Poll::Ready(command);
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// What a handle sent, if that is what comes next (a text or a prepared
    /// message): taken as [`poll_recv`](Self::poll_recv) would take it. Anything else
    /// stays where it is.
    pub(crate) fn next_delivery(&mut self) -> NextDelivery {
        self.0.inbox.next_delivery(true)
    }

    /// Closes the inbox if nothing waits in it, so a session that had nothing more
    /// to do can end without losing a command sent at the same moment. Tells whether
    /// it closed.
    pub(crate) fn close_if_empty(&self) -> bool {
        let mut state = self.0.inbox.state.lock();
        if state.queue.is_empty() {
            state.closed = true;
        }
        state.closed
    }

    /// Closes the inbox and hands back what waits, to be answered.
    pub(crate) fn close(&self) -> VecDeque<Command> {
        let mut state = self.0.inbox.state.lock();
        state.closed = true;
        state.waker = None;
        self.0.inbox.bytes.store(0, Ordering::Release);
        state.queue.take_all()
    }
}

impl Drop for InboxRx {
    fn drop(&mut self) {
        let left = self.close();
        drop(left);
    }
}

#[cfg(test)]
mod tests;
