//! What one load process counts, shared by its sessions (one thread, so `Cell`s):
//! sessions opened and failed per transport, deliveries, their latencies, and each
//! session's [`SessionTally`]; and the wait for every session to have every message.

use std::cell::{Cell, RefCell};

use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use super::message;
use super::session::Transport;
use super::tally::{Histogram, Received};

/// One session's messages and how it ended.
#[derive(Debug)]
pub(crate) struct SessionTally {
    pub(crate) transport: Transport,
    /// Whether the session opened.
    pub(crate) open: Cell<bool>,
    pub(crate) received: RefCell<Received>,
    /// Why the session's connection ended before the process did.
    pub(crate) broken: RefCell<Option<String>>,
}

impl SessionTally {
    /// A tally for a session on `transport`, with nothing received.
    pub(crate) fn new(transport: Transport) -> SessionTally {
        SessionTally {
            transport,
            open: Cell::new(false),
            received: RefCell::new(Received::default()),
            broken: RefCell::new(None),
        }
    }

    /// Records why the session's connection ended.
    pub(crate) fn broke(&self, why: &str) {
        self.broken.replace(Some(why.to_owned()));
    }
}

/// The counts of every session of the process.
pub(crate) struct Counts {
    connecting: Semaphore,
    opened: [Cell<u64>; 3],
    failed: [Cell<u64>; 3],
    first_open_error: RefCell<Option<String>>,
    /// Woken when a session opened or failed to.
    open_progress: Notify,
    latency: RefCell<Histogram>,
    deliveries: Cell<u64>,
    /// Items that were not the publisher's messages.
    foreign: Cell<u64>,
    /// Wall-clock microseconds of the first and the last delivery.
    first_delivery: Cell<u64>,
    last_delivery: Cell<u64>,
    /// How many messages were published, once the run says (`finish`).
    published: Cell<Option<u64>>,
    /// Sessions that have every published message.
    complete: Cell<u64>,
    /// Woken when a session became complete.
    completion: Notify,
}

impl Counts {
    /// Counts for sessions opened `connects` at a time at most.
    pub(crate) fn new(connects: usize) -> Counts {
        Counts {
            connecting: Semaphore::new(connects.max(1)),
            opened: Default::default(),
            failed: Default::default(),
            first_open_error: RefCell::new(None),
            open_progress: Notify::new(),
            latency: RefCell::new(Histogram::default()),
            deliveries: Cell::new(0),
            foreign: Cell::new(0),
            first_delivery: Cell::new(0),
            last_delivery: Cell::new(0),
            published: Cell::new(None),
            complete: Cell::new(0),
            completion: Notify::new(),
        }
    }

    /// Waits for one of the connect permits.
    pub(crate) async fn connect_permit(&self) -> Option<SemaphorePermit<'_>> {
        self.connecting.acquire().await.ok()
    }

    /// A session on `transport` opened.
    pub(crate) fn opened(&self, transport: Transport) {
        let cell = &self.opened[transport.index()];
        cell.set(cell.get() + 1);
        self.open_progress.notify_one();
    }

    /// A session on `transport` could not be opened.
    pub(crate) fn failed_to_open(&self, transport: Transport, why: &str) {
        let cell = &self.failed[transport.index()];
        cell.set(cell.get() + 1);
        self.first_open_error
            .borrow_mut()
            .get_or_insert_with(|| format!("{}: {why}", transport.name()));
        self.open_progress.notify_one();
    }

    /// Sessions opened, per transport ([`Transport::ALL`]'s order).
    pub(crate) fn opened_per_transport(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| self.opened[i].get())
    }

    /// Sessions that failed to open, per transport.
    pub(crate) fn failed_per_transport(&self) -> [u64; 3] {
        [0, 1, 2].map(|i| self.failed[i].get())
    }

    /// The first reason a session could not be opened.
    pub(crate) fn first_open_error(&self) -> Option<String> {
        self.first_open_error.borrow().clone()
    }

    /// Waits until `sessions` sessions have opened or failed to.
    pub(crate) async fn all_tried(&self, sessions: u64) {
        loop {
            let tried: u64 = (0..3)
                .map(|i| self.opened[i].get() + self.failed[i].get())
                .sum();
            if tried >= sessions {
                return;
            }
            self.open_progress.notified().await;
        }
    }

    /// Item `item` of a frame reached the session of `tally` at `now` (wall-clock
    /// microseconds).
    pub(crate) fn delivered(&self, tally: &SessionTally, item: &[u8], now: u64) {
        let Some((seq, sent)) = message::parse(item) else {
            self.foreign.set(self.foreign.get() + 1);
            return;
        };
        self.deliveries.set(self.deliveries.get() + 1);
        if self.first_delivery.get() == 0 {
            self.first_delivery.set(now);
        }
        self.last_delivery.set(now);
        self.latency.borrow_mut().record(now.saturating_sub(sent));
        let mut received = tally.received.borrow_mut();
        if received.mark(seq)
            && self
                .published
                .get()
                .is_some_and(|count| received.distinct() >= count && received.missing(count) == 0)
        {
            self.complete.set(self.complete.get() + 1);
            self.completion.notify_one();
        }
    }

    /// The run published messages `0..count`: counts the sessions that have them all
    /// already; later ones count themselves as their last missing message arrives.
    pub(crate) fn finish(&self, count: u64, tallies: &[std::rc::Rc<SessionTally>]) {
        self.published.set(Some(count));
        let complete = tallies
            .iter()
            .filter(|t| t.received.borrow().missing(count) == 0)
            .count() as u64;
        self.complete.set(complete);
    }

    /// Waits until `sessions` sessions have every published message.
    pub(crate) async fn all_complete(&self, sessions: u64) {
        while self.complete.get() < sessions {
            self.completion.notified().await;
        }
    }

    /// Sessions that have every published message.
    pub(crate) fn complete(&self) -> u64 {
        self.complete.get()
    }

    /// Deliveries of the publisher's messages (duplicates included).
    pub(crate) fn deliveries(&self) -> u64 {
        self.deliveries.get()
    }

    /// Items that were not the publisher's messages.
    pub(crate) fn foreign(&self) -> u64 {
        self.foreign.get()
    }

    /// Wall-clock microseconds of the first and last delivery (0 when none).
    pub(crate) fn delivery_span(&self) -> (u64, u64) {
        (self.first_delivery.get(), self.last_delivery.get())
    }

    /// The latencies of every delivery so far.
    pub(crate) fn latency(&self) -> Histogram {
        self.latency.borrow().clone()
    }
}
