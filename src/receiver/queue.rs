//! The one-way queue from a session to the request or socket serving it.
//!
//! A session holds at most one receiver at a time, and every open session holds one,
//! so the queue is built for that: a lock around one slot (the queue seldom holds
//! more than one item: the receiving end takes each as it comes), a boxed `VecDeque`
//! for the rest (nothing allocated, and one pointer held, until a second item waits)
//! and two wakers. A general channel allocates a block of slots and padded counters
//! per receiver up front, which would dominate an idle session's memory
//! (bench/NOTES.md has the figures).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use parking_lot::Mutex;

use super::stall::{Progress, Stallable};

/// What an item weighs in a queue's byte count: the bytes it holds for the client.
pub(crate) trait Weighed {
    fn weight(&self) -> usize;
}

/// A queue with one sending end and one receiving end. It counts the bytes of the
/// items waiting in it, so a session knows how much its client has not taken yet.
pub(crate) fn queue<T: Weighed>() -> (QueueTx<T>, QueueRx<T>) {
    let shared = Arc::new(Mutex::new(State {
        first: None,
        rest: None,
        more: false,
        rx_waker: None,
        closed_waker: None,
        bytes: 0,
        tx_gone: false,
        rx_gone: false,
        left_items: false,
        taken: 0,
        abandoned: false,
    }));
    (QueueTx(shared.clone()), QueueRx(shared))
}

struct State<T> {
    /// The oldest waiting item, or none (then `rest` is empty too).
    first: Option<T>,
    /// The items behind `first`, once more than one has waited. The room a new
    /// queue needed for its first items (a streaming response's prelude and open
    /// frame) is given back once they are taken, so an idle session keeps none; a
    /// queue that has moved more keeps its room, rather than make it again for
    /// every burst.
    #[expect(
        clippy::box_collection,
        reason = "one pointer in every queue instead of a VecDeque's four words"
    )]
    rest: Option<Box<VecDeque<T>>>,
    /// Whether `rest` holds an item: read instead of `rest`, so taking the only item
    /// does not touch the room kept behind the pointer.
    more: bool,
    /// The receiving task, waiting for an item.
    rx_waker: Option<Waker>,
    /// The task waiting for the receiving end to go away ([`QueueTx::closed`]).
    closed_waker: Option<Waker>,
    /// The weight of the items waiting.
    bytes: usize,
    tx_gone: bool,
    rx_gone: bool,
    /// The receiving end went away with items still waiting.
    left_items: bool,
    /// How many items the receiving end took: what the write timeout watches.
    taken: u32,
    /// The write timeout gave up on the receiving end (see [`super::stall`]): it gets
    /// nothing more, and to the sending end it is gone.
    abandoned: bool,
}

fn store(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// Moves the oldest item of `rest` into `first`; gives `rest` back once it is empty,
/// if the queue is new (see [`State::rest`]). Out of line, so that the common case
/// (one item waiting) stays small enough to be inlined into the receiving end.
#[inline(never)]
fn next_of_rest<T>(state: &mut State<T>) {
    state.first = state.rest.as_mut().and_then(|rest| rest.pop_front());
    state.more = state.rest.as_ref().is_some_and(|rest| !rest.is_empty());
    if state.taken < FIRST_ITEMS && state.rest.as_ref().is_some_and(|rest| rest.is_empty()) {
        state.rest = None;
    }
}

/// How many items a queue has moved while it is new: until then, the room its
/// first items needed is given back.
const FIRST_ITEMS: u32 = 4;

/// The sending end (the session's).
pub(crate) struct QueueTx<T>(Arc<Mutex<State<T>>>);

impl<T> std::fmt::Debug for QueueTx<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueTx").finish_non_exhaustive()
    }
}

impl<T: Weighed> QueueTx<T> {
    /// Queues `item`; gives it back if the receiving end is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let waker = {
            let mut state = self.0.lock();
            if state.rx_gone || state.tx_gone {
                return Err(item);
            }
            state.bytes += item.weight();
            if state.first.is_none() {
                state.first = Some(item);
            } else {
                state.rest.get_or_insert_default().push_back(item);
                state.more = true;
            }
            state.rx_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Whether the receiving end is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.0.lock().rx_gone
    }

    /// How many bytes wait for the receiving end.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.0.lock().bytes
    }

    /// Sends nothing more: the receiving end gets what waits, then the end, as if the
    /// sending end were dropped.
    pub(crate) fn end(&self) {
        self.finish();
    }

    /// Whether the receiving end went away before it took every item.
    pub(crate) fn left_items(&self) -> bool {
        self.0.lock().left_items
    }

    /// Resolves once the receiving end is gone. Meant for one watcher at a time.
    pub(crate) fn closed(&self) -> Closed<T> {
        Closed(self.0.clone())
    }
}

impl<T: Send + 'static> QueueTx<T> {
    /// The queue as the write timeout watches it, weakly (an HTTP response's).
    pub(crate) fn stall_target(&self) -> std::sync::Weak<dyn Stallable + Send + Sync> {
        let weak: std::sync::Weak<Mutex<State<T>>> = Arc::downgrade(&self.0);
        weak
    }
}

impl<T> QueueTx<T> {
    /// Marks the sending end gone and wakes the receiving end.
    fn finish(&self) {
        let waker = {
            let mut state = self.0.lock();
            state.tx_gone = true;
            state.rx_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for QueueTx<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The future of [`QueueTx::closed`].
pub(crate) struct Closed<T>(Arc<Mutex<State<T>>>);

impl<T> Future for Closed<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock();
        if state.rx_gone {
            return Poll::Ready(());
        }
        store(&mut state.closed_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Closed<T> {
    fn drop(&mut self) {
        // No stale wake-up of a watcher that stopped watching.
        self.0.lock().closed_waker = None;
    }
}

/// The receiving end (the request's body or the websocket's).
pub(crate) struct QueueRx<T>(Arc<Mutex<State<T>>>);

impl<T: Weighed> QueueRx<T> {
    /// The next item; `None` once the sending end is gone and the queue is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.next(Some(cx.waker()))
    }

    /// The next item, without asking to be woken for the next one: for a receiving
    /// end that runs the sending end itself and looks again after each run (a
    /// websocket connection and its hosted session), a wake-up would only poll its
    /// task once more for nothing. `None` once the sending end is gone and the queue
    /// is empty.
    pub(crate) fn try_recv(&mut self) -> Poll<Option<T>> {
        self.next(None)
    }

    /// The next item; pending, and `waker` (if any: see [`try_recv`](Self::try_recv))
    /// woken by the next send, if none waits.
    #[inline(always)]
    pub(crate) fn next(&mut self, waker: Option<&Waker>) -> Poll<Option<T>> {
        let mut state = self.0.lock();
        if let Some(item) = state.first.take() {
            if state.more {
                next_of_rest(&mut state);
            }
            state.bytes -= item.weight();
            state.taken = state.taken.wrapping_add(1);
            return Poll::Ready(Some(item));
        }
        if state.tx_gone || state.abandoned {
            return Poll::Ready(None);
        }
        if let Some(waker) = waker {
            store(&mut state.rx_waker, waker);
        }
        Poll::Pending
    }

    /// The next item; `None` once the sending end is gone and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T: Send + 'static> QueueRx<T> {
    /// The queue as the write timeout watches it, held (a websocket connection's,
    /// which the connection watches together with its session).
    pub(crate) fn stall_probe(&self) -> StallProbe<T> {
        StallProbe(self.0.clone())
    }
}

/// A queue as the write timeout watches it: a thin pointer, unlike a trait object.
pub(crate) struct StallProbe<T>(Arc<Mutex<State<T>>>);

impl<T: Send + 'static> StallProbe<T> {
    pub(crate) fn progress(&self) -> Progress {
        self.0.progress()
    }

    pub(crate) fn abandon(&self) {
        receiving_end_gone(&self.0, true);
    }
}

/// Something waits while the receiving end takes nothing; giving up on it drops what
/// waits and tells the sending end's [`QueueTx::closed`] watcher that the receiving
/// end is gone (with items left).
impl<T: Send + 'static> Stallable for Mutex<State<T>> {
    fn progress(&self) -> Progress {
        let state = self.lock();
        Progress {
            waiting: state.first.is_some() && !state.rx_gone,
            moved: u64::from(state.taken),
        }
    }

    fn abandon(&self) -> Option<Box<dyn std::any::Any>> {
        receiving_end_gone(self, true);
        None
    }
}

impl<T: Weighed> futures_core::Stream for QueueRx<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.poll_recv(cx)
    }
}

impl<T> Drop for QueueRx<T> {
    fn drop(&mut self) {
        receiving_end_gone(&self.0, false);
    }
}

/// The receiving end is gone (dropped, or `abandoned` by the write timeout): the
/// queue lets go of what it held, and the [`QueueTx::closed`] watcher is woken, both
/// outside the lock.
fn receiving_end_gone<T>(shared: &Mutex<State<T>>, abandoned: bool) {
    let (items, waker) = {
        let mut state = shared.lock();
        state.rx_gone = true;
        state.abandoned |= abandoned;
        state.left_items |= abandoned || state.first.is_some();
        state.bytes = 0;
        state.more = false;
        (
            (state.first.take(), std::mem::take(&mut state.rest)),
            state.closed_waker.take(),
        )
    };
    drop(items);
    if let Some(waker) = waker {
        waker.wake();
    }
}

#[cfg(test)]
mod tests;
