//! The little state a session shares with its manager and its handles.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Wake, Waker};
use std::time::Instant;

use bytestring::ByteString;

use super::core::WriteThrough;
use super::handle::PreparedMessage;
use super::inbox::{InboxState, NextDelivery};
use super::pump::COMMANDS_PER_TURN;
use crate::receiver::HandOffSignal;
use crate::vocabulary::CloseReason;

/// A session id as it appears in URLs.
pub(crate) type SessionId = Arc<str>;

/// Counts one session among its service's live sessions until it is dropped.
#[derive(Debug)]
pub(crate) struct SessionSlot(Arc<AtomicUsize>);

impl SessionSlot {
    /// A slot in `live`, unless it already counts `max` sessions.
    pub(crate) fn acquire(live: &Arc<AtomicUsize>, max: Option<usize>) -> Option<Self> {
        live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| match max {
            Some(max) if n >= max => None,
            _ => Some(n + 1),
        })
        .ok()?;
        Some(SessionSlot(live.clone()))
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Read without a message round trip: the manager's expiry sweep reads when the
/// session lost its receiver, handles read whether it is closed.
///
/// In declaration order (`repr(C)`): the flags a send and a connection's poll read,
/// then the inbox (its counters, lock, first command and host first), then what is
/// read seldom, so a message to the session touches as few cache lines as it can.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct SessionShared {
    closed: AtomicBool,
    /// A connection's session was woken since it last ran (`transport::hosted`).
    woken: AtomicBool,
    /// ... through its waker (its actor's mailbox, a timer, a future of its
    /// context), not only by commands in its inbox: its context must run.
    context_woken: AtomicBool,
    /// The connection that runs the session handed its last poll's bytes to
    /// actix-http and has not been polled since (`transport::hosted`): once its
    /// task's poll ended that way, its write buffer is full and it will not run the
    /// session until the client reads.
    host_full: AtomicBool,
    /// What transports, handles and the manager ask of the session, and the task
    /// of the connection that runs the session, if one does (`transport::hosted`;
    /// see the `Wake` impl below).
    pub(crate) inbox: InboxState,
    /// Milliseconds after [`epoch`] at which the last receiver detached, plus one;
    /// zero while a receiver is attached.
    detached_at: AtomicU64,
    /// The address the session is bound to (`bind_session_to_ip`), if any: boxed,
    /// as few services bind sessions, and every session would carry 17 bytes.
    ip: Option<Box<IpAddr>>,
}

/// What a session writes straight to the websocket connection that runs it
/// (`transport::hosted`), to be written at once.
#[derive(Debug)]
pub(crate) enum Written<'a> {
    /// One text message (a frame, or a raw websocket's message).
    Text(&'a ByteString),
    /// A prepared message as it is: its frame, or its text when `true` (the raw
    /// websocket).
    Prepared(&'a PreparedMessage, bool),
}

/// The instant session timestamps count from: the process's first session.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl SessionShared {
    /// A session that is being attached to (so it cannot expire yet).
    pub(crate) fn new(ip: Option<IpAddr>) -> Self {
        epoch();
        SessionShared {
            ip: ip.map(Box::new),
            inbox: InboxState::new(),
            detached_at: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            woken: AtomicBool::new(false),
            context_woken: AtomicBool::new(false),
            host_full: AtomicBool::new(false),
        }
    }

    /// The address the session is bound to (`bind_session_to_ip`), if any.
    pub(crate) fn bound_ip(&self) -> Option<IpAddr> {
        self.ip.as_deref().copied()
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(epoch()).as_millis()).unwrap_or(u64::MAX - 1)
    }

    pub(crate) fn set_attached(&self) {
        self.detached_at.store(0, Ordering::Relaxed);
    }

    pub(crate) fn set_detached(&self, at: Instant) {
        self.detached_at
            .store(self.millis(at) + 1, Ordering::Relaxed);
    }

    /// Whether the session has had no receiver since before `deadline`. A deadline
    /// before the epoch (a sweep in the first `disconnect_delay` of the process)
    /// finds none: counted from the epoch, it would read as the epoch itself, and a
    /// session detached in the epoch's first millisecond would expire at once.
    pub(crate) fn detached_before(&self, deadline: Instant) -> bool {
        if deadline < epoch() {
            return false;
        }
        match self.detached_at.load(Ordering::Relaxed) {
            0 => false,
            at => at - 1 <= self.millis(deadline),
        }
    }

    pub(crate) fn set_closed(&self, reason: CloseReason) {
        self.inbox.set_close_reason(reason);
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Whether a connection's session was woken since it last ran; clears it.
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }

    /// The session's context must run at its next poll (a command only it takes
    /// waits).
    pub(crate) fn mark_context_woken(&self) {
        self.context_woken.store(true, Ordering::SeqCst);
    }

    /// Whether the session's waker was woken since this was last asked (its
    /// context must run); clears it.
    pub(crate) fn take_context_woken(&self) -> bool {
        self.context_woken.swap(false, Ordering::AcqRel)
    }

    /// Whether a connection's session was woken and has not run since.
    pub(crate) fn woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }

    /// Marks the session woken, so its first poll runs it.
    pub(crate) fn set_woken(&self) {
        self.woken.store(true, Ordering::SeqCst);
    }

    /// A connection on the thread whose hand-off signal is `signal` runs the session.
    pub(crate) fn hosted_on(&self, signal: Arc<HandOffSignal>) {
        self.inbox.set_hand_off_signal(signal);
    }

    /// The task of the connection that runs the session: `waker`.
    pub(crate) fn host_task(&self, waker: &Waker) {
        self.inbox.set_host(waker);
    }

    /// The connection is being polled: it can run the session.
    pub(crate) fn host_polled(&self) {
        // Read first: a store would make every poll write the line.
        if self.host_full.load(Ordering::Relaxed) {
            self.host_full.store(false, Ordering::Relaxed);
        }
    }

    /// The connection hands actix-http its bytes and may not be polled again until
    /// its client reads. If the session was woken meanwhile, its thread is asked to
    /// look (the waker may have read the flag before it was set: with both sides
    /// sequentially consistent, one of the two sees the other).
    pub(crate) fn host_gave_bytes(&self) {
        self.host_full.store(true, Ordering::SeqCst);
        if self.woken.load(Ordering::SeqCst) {
            self.inbox.signal_hand_off();
        }
    }

    /// Whether the connection's last poll ended by handing out bytes (see
    /// `host_full`).
    pub(crate) fn host_full(&self) -> bool {
        self.host_full.load(Ordering::SeqCst)
    }

    /// Writes what the session's handles sent to `out` straight from its inbox,
    /// without the session, as the session would have written it (`kind`, known
    /// when it last ran): prepared messages, in order, until something else comes
    /// first, the inbox is empty, a handle was refused at the bound (the session
    /// must run to close), or a turn's worth was written. Tells how many it wrote
    /// and whether that left the inbox empty.
    pub(crate) fn write_through(
        &self,
        kind: WriteThrough,
        out: &mut dyn FnMut(Written<'_>),
    ) -> (u64, bool) {
        let mut written = 0;
        if kind == WriteThrough::No {
            return (written, false);
        }
        for _ in 0..COMMANDS_PER_TURN {
            if self.inbox.overflowed() {
                break;
            }
            match self.inbox.next_delivery(false) {
                NextDelivery::Prepared(msg) => {
                    out(Written::Prepared(&msg, kind == WriteThrough::Texts));
                    written += 1;
                }
                NextDelivery::Empty => return (written, true),
                // Texts are left in the inbox (`next_delivery(false)`): the session
                // frames them.
                NextDelivery::Text(_) | NextDelivery::Other => break,
            }
        }
        (written, false)
    }

    /// No connection runs the session any more: its task is not kept alive (nor
    /// woken) through the session's handles.
    pub(crate) fn clear_host_task(&self) {
        self.inbox.clear_host();
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.inbox.close_reason()
    }
}

/// The waker of a session run inside its connection: it notes that the session has
/// work, then wakes the connection's task. Kept in the state every holder of the
/// session already points to, so hosting a session allocates nothing more.
impl Wake for SessionShared {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark_context_woken();
        self.set_woken();
        self.inbox.wake_host(self.host_full());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn slots_are_refused_at_the_maximum_and_given_back_when_dropped() {
        let live = Arc::new(AtomicUsize::new(0));
        let a = SessionSlot::acquire(&live, Some(2));
        let b = SessionSlot::acquire(&live, Some(2));
        assert!(a.is_some() && b.is_some());
        assert!(SessionSlot::acquire(&live, Some(2)).is_none());
        drop(a);
        assert!(SessionSlot::acquire(&live, Some(2)).is_some());
        assert_eq!(live.load(Ordering::Acquire), 1);
        assert!(SessionSlot::acquire(&live, None).is_some());
    }

    #[test]
    fn attached_sessions_never_expire() {
        let epoch = Instant::now();
        let shared = SessionShared::new(None);
        assert!(!shared.detached_before(epoch + Duration::from_secs(3600)));
    }

    #[test]
    fn detached_sessions_expire_after_their_detach_time() {
        let epoch = Instant::now();
        let shared = SessionShared::new(None);
        shared.set_detached(epoch + Duration::from_millis(100));
        assert!(!shared.detached_before(epoch + Duration::from_millis(99)));
        assert!(shared.detached_before(epoch + Duration::from_millis(100)));
        shared.set_attached();
        assert!(!shared.detached_before(epoch + Duration::from_secs(10)));
    }

    #[test]
    fn a_deadline_before_the_epoch_expires_nothing() {
        let shared = SessionShared::new(None);
        shared.set_detached(epoch());
        let Some(before) = epoch().checked_sub(Duration::from_millis(1)) else {
            return;
        };
        assert!(!shared.detached_before(before));
        assert!(shared.detached_before(epoch() + Duration::from_millis(1)));
    }

    #[test]
    fn a_raised_hand_off_signal_wakes_its_task_and_is_taken_once() {
        let signal = HandOffSignal::default();
        let (wakes, waker) = crate::test_waker::counting_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(!signal.poll_take(&mut cx));
        signal.raise();
        signal.raise();
        assert_eq!(wakes.get(), 1, "raised twice, woken once");
        assert!(signal.poll_take(&mut cx));
        assert!(!signal.poll_take(&mut cx));
    }

    #[test]
    fn a_session_woken_while_its_connection_is_full_raises_the_hand_off_signal() {
        let shared = Arc::new(SessionShared::new(None));
        let signal = Arc::new(HandOffSignal::default());
        let (host_wakes, host) = crate::test_waker::counting_waker();
        let (signal_wakes, watch) = crate::test_waker::counting_waker();
        assert!(!signal.poll_take(&mut std::task::Context::from_waker(&watch)));
        shared.hosted_on(signal.clone());
        shared.host_task(&host);
        let session_waker = Waker::from(shared.clone());

        // The connection can run the session: a wake reaches the connection only.
        shared.host_polled();
        session_waker.wake_by_ref();
        assert_eq!(host_wakes.get(), 1);
        assert_eq!(signal_wakes.get(), 0);
        assert!(shared.take_woken());

        // Its last poll handed out bytes: a wake also raises the signal.
        shared.host_gave_bytes();
        assert_eq!(signal_wakes.get(), 0);
        session_waker.wake_by_ref();
        assert_eq!(signal_wakes.get(), 1);
        assert!(shared.host_full());
        assert!(signal.poll_take(&mut std::task::Context::from_waker(&watch)));

        // Woken before the connection handed out its bytes: the connection raises it.
        shared.host_polled();
        session_waker.wake_by_ref();
        assert!(!signal.poll_take(&mut std::task::Context::from_waker(&watch)));
        shared.host_gave_bytes();
        assert!(signal.poll_take(&mut std::task::Context::from_waker(&watch)));

        // Once no connection runs it, nothing is raised.
        shared.clear_host_task();
        shared.host_gave_bytes();
        session_waker.wake_by_ref();
        assert!(!signal.poll_take(&mut std::task::Context::from_waker(&watch)));
    }

    #[test]
    fn close_reason_is_visible_once_closed() {
        let shared = SessionShared::new(None);
        assert!(!shared.is_closed());
        shared.set_closed(CloseReason::Timeout);
        assert!(shared.is_closed());
        assert_eq!(shared.close_reason(), Some(CloseReason::Timeout));
    }
}
