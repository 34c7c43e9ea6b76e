//! The write timeout: finds connections whose socket has accepted nothing for
//! `write_timeout` while something waited for it, and gives up on them.
//!
//! actix-http stops polling a response body (and a websocket, which is one) as soon
//! as its write buffer is full, so a connection whose client stopped reading cannot
//! notice anything by itself: nothing of it runs. Each worker thread therefore has
//! one watch task, started with the first connection it watches and ended with the
//! last, that looks at every watched connection of its thread once a second. A
//! connection is stalled when, at every look for `write_timeout`, something waited
//! for it (bytes in its queue; for a websocket, also its session woken to run) and
//! it took nothing. A stalled connection is *abandoned*: what waits for it is
//! dropped, and its session ends as interrupted (an HTTP session sees its request
//! go; a websocket's session, which runs inside the stalled connection, is taken
//! out of it and stopped). A streaming response that runs the session it made
//! (`transport::hosted`) hands it off sooner, at the second look that finds it woken
//! and not run, with or without a write timeout, so its session is never held
//! still by its stalled connection. The TCP connection itself stays with actix-http until
//! the kernel or the client ends it; [`crate::socket_options`] has the
//! kernel end it.
//!
//! Watching costs a connection one entry in its thread's list and the look costs a
//! lock per connection once a second; the hot path pays one counter increment per
//! item taken.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

/// How often the watch looks at its connections: once a second, as a look brings a
/// line of each of its thread's connections into the cache, and write timeouts are
/// seconds long.
pub(crate) const WATCH_PERIOD: Duration = Duration::from_secs(1);

/// What a connection shows its watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Whether something waits for the connection to take it.
    pub(crate) waiting: bool,
    /// A count that moves whenever the connection takes something.
    pub(crate) moved: u64,
}

/// A watched connection.
pub(crate) trait Stallable {
    /// Called at every look, before [`progress`](Self::progress): a connection
    /// that runs a session it may hand off (`transport::hosted`) hands it off when it
    /// sat woken and unrun for a whole period. What it returns is dropped after the
    /// look, as [`abandon`](Self::abandon)'s is.
    fn look(&self) -> Option<Box<dyn Any>> {
        None
    }

    /// Called when the thread's [`HandOffSignal`] was raised: a connection whose
    /// session was woken while the connection cannot run it hands it off. What it
    /// returns is dropped after the pass.
    fn hand_off(&self) -> Option<Box<dyn Any>> {
        None
    }

    fn progress(&self) -> Progress;

    /// Gives up on the connection: drops what waits for it and lets its session know.
    /// What it returns is dropped after the look, outside the watch's borrow (it may
    /// run application code, such as a session's `on_close`).
    fn abandon(&self) -> Option<Box<dyn Any>>;
}

/// How the watch holds a connection: weakly, so a connection that ends leaves it.
pub(crate) enum Watched {
    /// Shared with another thread (an HTTP response's queue, whose session may live on
    /// another worker).
    Shared(std::sync::Weak<dyn Stallable + Send + Sync>),
    /// Of this thread only (a websocket connection and the session it runs).
    Local(std::rc::Weak<dyn Stallable>),
}

/// A weak reference the watch can look through.
trait Target {
    fn with<R>(&self, f: impl FnOnce(&dyn Stallable) -> R) -> Option<R>;
}

impl Target for std::sync::Weak<dyn Stallable + Send + Sync> {
    fn with<R>(&self, f: impl FnOnce(&dyn Stallable) -> R) -> Option<R> {
        self.upgrade().map(|t| f(&*t))
    }
}

impl Target for std::rc::Weak<dyn Stallable> {
    fn with<R>(&self, f: impl FnOnce(&dyn Stallable) -> R) -> Option<R> {
        self.upgrade().map(|t| f(&*t))
    }
}

/// One watched connection: 32 bytes (the two kinds are kept apart, so no entry
/// carries a tag).
struct Entry<T> {
    target: T,
    count: Count,
}

/// One connection's looks without progress.
struct Count {
    /// Looks in a row without progress after which the connection is stalled.
    limit: u32,
    /// Looks in a row so far that found something waiting and nothing taken.
    idle_looks: u32,
    seen: u64,
}

/// What one look decided about one entry.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Keep,
    /// The connection is gone.
    Forget,
    Stalled,
}

impl Count {
    fn look(&mut self, progress: Progress) -> Verdict {
        if !progress.waiting || progress.moved != self.seen {
            self.seen = progress.moved;
            self.idle_looks = 0;
            return Verdict::Keep;
        }
        self.idle_looks = self.idle_looks.saturating_add(1);
        if self.idle_looks >= self.limit {
            Verdict::Stalled
        } else {
            Verdict::Keep
        }
    }
}

#[derive(Default)]
struct Watch {
    shared: Vec<Entry<std::sync::Weak<dyn Stallable + Send + Sync>>>,
    local: Vec<Entry<std::rc::Weak<dyn Stallable>>>,
    running: bool,
}

impl Watch {
    fn is_empty(&self) -> bool {
        self.shared.is_empty() && self.local.is_empty()
    }
}

/// Pushes onto a list that grows by a quarter at a time: every connection of a
/// thread has an entry, and doubling would leave up to half of a large list unused.
fn push_growing_by_a_quarter<T>(list: &mut Vec<T>, item: T) {
    if list.len() == list.capacity() {
        list.reserve_exact((list.len() / 4).max(16));
    }
    list.push(item);
}

thread_local! {
    static WATCH: RefCell<Watch> = RefCell::default();
    static HAND_OFF: Arc<HandOffSignal> = Arc::default();
}

/// This thread's hand-off signal: raised (from any thread) when a session is woken
/// while the connection that runs it cannot, answered by this thread's watch task.
pub(crate) fn hand_off_signal() -> Arc<HandOffSignal> {
    HAND_OFF.with(Arc::clone)
}

/// How many looks in a row make `timeout`.
fn looks_for(timeout: Duration) -> u32 {
    let looks = timeout.as_nanos().div_ceil(WATCH_PERIOD.as_nanos());
    u32::try_from(looks).unwrap_or(u32::MAX).max(1)
}

/// Watches `target` on this thread; it is abandoned once it took nothing for
/// `timeout` while something waited for it (never, for `None`: then it is only
/// looked at). Must run on an actix (or tokio local) runtime, as request handlers do.
pub(crate) fn watch(target: Watched, timeout: Option<Duration>) {
    let start = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let count = Count {
            limit: timeout.map_or(u32::MAX, looks_for),
            idle_looks: 0,
            seen: 0,
        };
        match target {
            Watched::Shared(target) => {
                push_growing_by_a_quarter(&mut w.shared, Entry { target, count });
            }
            Watched::Local(target) => {
                push_growing_by_a_quarter(&mut w.local, Entry { target, count });
            }
        }
        !std::mem::replace(&mut w.running, true)
    });
    if start {
        actix_rt::spawn(run());
    }
}

/// Marks the watch stopped however its task ends (also when the runtime drops it),
/// so the next connection starts a new one.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        let _ = WATCH.try_with(|w| w.borrow_mut().running = false);
    }
}

/// What woke the watch task.
enum Turn {
    /// A session was woken while its connection could not run it.
    HandOff,
    /// Time for the regular look.
    Look,
}

async fn run() {
    let _running = Running;
    let signal = hand_off_signal();
    let mut timer = std::pin::pin!(actix_rt::time::sleep(WATCH_PERIOD));
    loop {
        let turn = std::future::poll_fn(|cx| {
            if signal.poll_take(cx) {
                return Poll::Ready(Turn::HandOff);
            }
            timer.as_mut().poll(cx).map(|()| Turn::Look)
        })
        .await;
        match turn {
            Turn::HandOff => hand_off(),
            Turn::Look => {
                timer
                    .as_mut()
                    .reset(actix_rt::time::Instant::now() + WATCH_PERIOD);
                if !look() {
                    return;
                }
            }
        }
    }
}

/// Hands off every session of this thread that was woken while its connection
/// could not run it.
fn hand_off() {
    let mut handed_off = Vec::new();
    WATCH.with(|w| {
        for entry in &w.borrow().local {
            entry.target.with(|t| handed_off.extend(t.hand_off()));
        }
    });
    drop(handed_off);
}

/// Looks at every entry of `list` once, keeping those still watched.
fn look_at<T: Target>(
    list: &mut Vec<Entry<T>>,
    abandoned: &mut Vec<Option<Box<dyn Any>>>,
    handed_off: &mut Vec<Box<dyn Any>>,
) {
    list.retain_mut(|entry| {
        let verdict = entry
            .target
            .with(|t| {
                handed_off.extend(t.look());
                let verdict = entry.count.look(t.progress());
                if verdict == Verdict::Stalled {
                    abandoned.push(t.abandon());
                }
                verdict
            })
            .unwrap_or(Verdict::Forget);
        verdict == Verdict::Keep
    });
    if list.is_empty() {
        // Released now rather than at the next connection.
        *list = Vec::new();
    } else if list.capacity() > 2 * list.len() + 16 {
        // Most connections went: give back what the list no longer needs.
        list.shrink_to(list.len() + list.len() / 4);
    }
}

/// Looks at every watched connection once; false when none is left.
fn look() -> bool {
    let mut abandoned = Vec::new();
    let mut handed_off = Vec::new();
    let left = WATCH.with(|w| {
        let mut w = w.borrow_mut();
        let w = &mut *w;
        look_at(&mut w.shared, &mut abandoned, &mut handed_off);
        look_at(&mut w.local, &mut abandoned, &mut handed_off);
        !w.is_empty()
    });
    if !abandoned.is_empty() {
        log::warn!(
            "write timeout: gave up on {} connection(s) that took nothing",
            abandoned.len()
        );
    }
    drop(abandoned);
    drop(handed_off);
    left
}

/// One worker thread's request to hand off the sessions its stalled connections
/// hold (this module's watch answers it): raised by a session woken while its
/// connection cannot run it, from any thread.
#[derive(Debug, Default)]
pub(crate) struct HandOffSignal {
    raised: AtomicBool,
    waker: parking_lot::Mutex<Option<Waker>>,
}

impl HandOffSignal {
    /// Asks the thread to look; wakes the task that answers.
    pub(crate) fn raise(&self) {
        if !self.raised.swap(true, Ordering::AcqRel) {
            if let Some(waker) = self.waker.lock().as_ref() {
                waker.wake_by_ref();
            }
        }
    }

    /// Whether the signal was raised since the last call; if not, `cx` is woken by
    /// the next raise.
    pub(crate) fn poll_take(&self, cx: &mut std::task::Context<'_>) -> bool {
        {
            let mut waker = self.waker.lock();
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
        }
        self.raised.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(limit: u32) -> Count {
        Count {
            limit,
            idle_looks: 0,
            seen: 0,
        }
    }

    struct Fake;

    impl Stallable for Fake {
        fn progress(&self) -> Progress {
            Progress {
                waiting: false,
                moved: 0,
            }
        }

        fn abandon(&self) -> Option<Box<dyn Any>> {
            None
        }
    }

    const WAITING: Progress = Progress {
        waiting: true,
        moved: 0,
    };

    #[test]
    fn stalled_only_after_the_limit_of_looks_without_progress() {
        let mut e = entry(3);
        assert_eq!(e.look(WAITING), Verdict::Keep);
        assert_eq!(e.look(WAITING), Verdict::Keep);
        assert_eq!(e.look(WAITING), Verdict::Stalled);
    }

    #[test]
    fn progress_or_nothing_waiting_starts_the_count_again() {
        let mut e = entry(2);
        assert_eq!(e.look(WAITING), Verdict::Keep);
        let moved = Progress {
            waiting: true,
            moved: 1,
        };
        assert_eq!(e.look(moved), Verdict::Keep);
        assert_eq!(e.look(moved), Verdict::Keep);
        let idle = Progress {
            waiting: false,
            moved: 1,
        };
        // Nothing waits: an idle connection is never stalled, however long.
        for _ in 0..10 {
            assert_eq!(e.look(idle), Verdict::Keep);
        }
        assert_eq!(e.look(moved), Verdict::Keep);
        assert_eq!(e.look(moved), Verdict::Stalled);
    }

    #[test]
    fn a_timeout_is_counted_in_whole_looks_and_at_least_one() {
        assert_eq!(looks_for(Duration::from_secs(30)), 30);
        assert_eq!(looks_for(Duration::from_millis(1200)), 2);
        assert_eq!(looks_for(Duration::from_millis(600)), 1);
        assert_eq!(looks_for(Duration::ZERO), 1);
    }

    #[test]
    fn a_gone_connection_is_forgotten() {
        let target: std::rc::Weak<dyn Stallable> = std::rc::Weak::<Fake>::new();
        assert!(target.with(|_| ()).is_none());
    }
}
