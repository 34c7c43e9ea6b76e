//! The soak's books: what was published when, the faults injected and the windows
//! they excuse, and what every session saw, settled into lost, excused and duplicated
//! messages when the session ends.
//!
//! The rules (README, "Soak"; deploy/README.md says what the crate promises):
//!
//! - A broadcast session must receive, in order and once, every message published
//!   from [`OPEN_GRACE`] after it opened until [`DELIVERY_BOUND`] before it ended
//!   (until the last one published, for a session still open at the end), and
//!   nothing may be missing between two messages it received.
//! - Redis outages excuse a missing message only on an instance other than the
//!   publisher's, and only if it was published within the outage's window: from
//!   [`REDIS_BEFORE`] before Redis stopped until [`REDIS_AFTER`] after it was back
//!   (the instances retry at most 5 s apart). On the publisher's instance nothing is
//!   excused: delivery there does not go through Redis.
//! - A killed instance excuses the end of its sessions (within [`CUT_WINDOW`] of the
//!   kill), and with it their last [`DELIVERY_BOUND`]. Its restart excuses the end
//!   of HTTP sessions opened from the kill until [`CUT_WINDOW`] after the restart
//!   whose later request HAProxy sends to the restarted instance (consistent
//!   hashing gives their key back to it; it does not know them). Any other session
//!   that ends without its client closing it is a failure, Redis outages included.
//! - Echo sessions must get back every message they sent, once and in order, within
//!   [`DELIVERY_BOUND`]; Redis is not involved and excuses nothing.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::books::{Broadcasts, Echoes};
use super::faults::{self, Fault};

/// How long a message may take to reach a session that stays up.
pub(crate) const DELIVERY_BOUND: Duration = Duration::from_secs(5);
/// A new session receives what is published from this long after it opened on
/// (its subscription is a message to the instance's broadcaster, which may wait
/// behind others under load).
pub(crate) const OPEN_GRACE: Duration = Duration::from_secs(2);
/// A client cut off by a fault must have a new session within this long.
pub(crate) const RECONNECT_BOUND: Duration = Duration::from_secs(5);
/// Problems kept as examples for the report.
const EXAMPLES: usize = 20;

/// A session's books, for settling them.
pub(crate) enum Books<'a> {
    Broadcasts(&'a Broadcasts),
    Echoes(&'a Echoes),
}

/// How a session ended, for settling its books.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ending {
    /// Its client closed it (churn).
    Closed(Instant),
    /// It ended without its client closing it.
    Cut(Instant),
    /// HAProxy sent one of its requests to another instance than the one holding it.
    Moved(Instant),
    /// Still open at the end of the run.
    Final,
}

/// Every count of the run, and the state the end of the run waits on.
pub(crate) struct Ledger {
    /// When the load started.
    pub(crate) t0: Instant,
    published: Vec<Instant>,
    /// The instance the publisher is connected to (HAProxy's server name).
    pub(crate) publisher_instance: String,
    pub(crate) faults: Vec<Fault>,
    pub(crate) opened: BTreeMap<&'static str, u64>,
    pub(crate) closed: u64,
    pub(crate) cut: u64,
    /// Sessions opened during the kill whose requests HAProxy later sent to the
    /// restarted instance.
    pub(crate) moved: u64,
    pub(crate) unexpected_ends: u64,
    pub(crate) broadcasts_received: u64,
    pub(crate) lost: u64,
    pub(crate) excused: u64,
    pub(crate) duplicated: u64,
    pub(crate) echo_sent: u64,
    pub(crate) echo_received: u64,
    pub(crate) echo_lost: u64,
    pub(crate) echo_duplicated: u64,
    pub(crate) open_failures: u64,
    pub(crate) open_failures_excused: u64,
    pub(crate) reconnects: Vec<Duration>,
    pub(crate) problems: u64,
    pub(crate) examples: Vec<String>,
    /// The last message published, once publishing stopped.
    pub(crate) final_seq: Option<u64>,
    /// The last message received by each open broadcast session, by session number.
    /// (when it opened, the last message it received), by session number.
    open_broadcast: HashMap<u64, (Instant, u64)>,
    /// Echoes awaited by open sessions.
    echo_waiting: usize,
    next_session: u64,
    /// Woken when a session gets closer to the end state (see [`settled`](Self::settled)).
    pub(crate) progress: Rc<Notify>,
}

impl Ledger {
    /// Empty books; `publisher_instance` is the server name of the publisher's instance.
    pub(crate) fn new(publisher_instance: &str) -> Ledger {
        Ledger {
            t0: Instant::now(),
            published: Vec::new(),
            publisher_instance: publisher_instance.to_owned(),
            faults: Vec::new(),
            opened: BTreeMap::new(),
            closed: 0,
            cut: 0,
            moved: 0,
            unexpected_ends: 0,
            broadcasts_received: 0,
            lost: 0,
            excused: 0,
            duplicated: 0,
            echo_sent: 0,
            echo_received: 0,
            echo_lost: 0,
            echo_duplicated: 0,
            open_failures: 0,
            open_failures_excused: 0,
            reconnects: Vec::new(),
            problems: 0,
            examples: Vec::new(),
            final_seq: None,
            open_broadcast: HashMap::new(),
            echo_waiting: 0,
            next_session: 0,
            progress: Rc::new(Notify::new()),
        }
    }

    /// Seconds since the start, for reports.
    pub(crate) fn at(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.t0).as_secs_f64()
    }

    /// Notes a failed check, keeping the first few as examples.
    pub(crate) fn problem(&mut self, what: impl FnOnce() -> String) {
        self.problems += 1;
        if self.examples.len() < EXAMPLES {
            let line = format!("t={:.1}s {}", self.at(Instant::now()), what());
            self.examples.push(line);
        }
    }

    /// Notes a message published now; its sequence number.
    pub(crate) fn publish(&mut self) -> u64 {
        self.published.push(Instant::now());
        self.published.len() as u64
    }

    /// Messages published so far.
    pub(crate) fn published(&self) -> u64 {
        self.published.len() as u64
    }

    /// How many messages were published at or before `t`.
    fn published_by(&self, t: Instant) -> u64 {
        self.published.partition_point(|&p| p <= t) as u64
    }

    /// Whether the loss of message `seq` at a session on `instance` is excused by a
    /// Redis outage.
    fn excused_by_redis(&self, seq: u64, instance: &str) -> bool {
        if instance == self.publisher_instance {
            return false;
        }
        usize::try_from(seq - 1)
            .ok()
            .and_then(|i| self.published.get(i))
            .is_some_and(|&at| faults::redis_window(&self.faults, at))
    }

    /// A session opened on `transport`; its number.
    pub(crate) fn opened(&mut self, transport: &'static str, broadcast: bool) -> u64 {
        *self.opened.entry(transport).or_default() += 1;
        self.next_session += 1;
        if broadcast {
            self.open_broadcast
                .insert(self.next_session, (Instant::now(), 0));
        }
        self.next_session
    }

    /// An attempt to open a session failed at `t`.
    pub(crate) fn open_failed(&mut self, t: Instant, why: &str) {
        if faults::open_excused(&self.faults, t) {
            self.open_failures_excused += 1;
        } else {
            self.open_failures += 1;
            self.problem(|| format!("opening a session failed outside a kill window: {why}"));
        }
    }

    /// A client cut off by a fault has a new session, `took` after its old one ended.
    pub(crate) fn reconnected(&mut self, took: Duration) {
        if took > RECONNECT_BOUND {
            self.problem(|| format!("a client took {took:?} to reconnect"));
        }
        self.reconnects.push(took);
    }

    /// Broadcast session `session` received message `seq` (`fresh`: in order, first time).
    pub(crate) fn broadcast_received(&mut self, session: u64, seq: u64, fresh: bool) {
        self.broadcasts_received += 1;
        if !fresh {
            self.duplicated += 1;
            self.problem(|| format!("broadcast {seq} came twice or out of order"));
            return;
        }
        if let Some((_, last)) = self.open_broadcast.get_mut(&session) {
            *last = seq;
        }
        if self.final_seq.is_some_and(|f| seq >= f) {
            self.progress.notify_one();
        }
    }

    /// An echo session sent a message.
    pub(crate) fn echo_sent(&mut self) {
        self.echo_sent += 1;
        self.echo_waiting += 1;
    }

    /// An echo came back: `skipped` sent before it never did; `Err` for a duplicate.
    pub(crate) fn echo_received(&mut self, n: u64, outcome: Result<usize, ()>) {
        self.echo_received += 1;
        match outcome {
            Ok(skipped) => {
                self.echo_waiting = self.echo_waiting.saturating_sub(skipped + 1);
                if skipped > 0 {
                    self.echo_lost += skipped as u64;
                    self.problem(|| format!("{skipped} echo(es) before e{n} never came back"));
                }
            }
            Err(()) => {
                self.echo_duplicated += 1;
                self.problem(|| format!("echo e{n} came twice or was never sent"));
            }
        }
        if self.final_seq.is_some() && self.echo_waiting == 0 {
            self.progress.notify_one();
        }
    }

    /// A session's end: how it ended is judged (a cut outside a kill window is a
    /// failure), and its broadcasts and echoes are settled.
    pub(crate) fn ended(
        &mut self,
        session: u64,
        instance: &str,
        opened_at: Instant,
        ending: Ending,
        books: Books<'_>,
        why: &str,
    ) {
        self.open_broadcast.remove(&session);
        let until = match ending {
            Ending::Closed(t) => {
                self.closed += 1;
                Some(t)
            }
            Ending::Cut(t) => match faults::cut_by_kill(&self.faults, instance, t) {
                // It was gone from the kill on, whenever its client noticed.
                Some(kill) => {
                    self.cut += 1;
                    Some(kill.min(t))
                }
                None => {
                    self.unexpected_ends += 1;
                    self.problem(|| format!("a session on {instance} ended: {why}"));
                    Some(t)
                }
            },
            // A request of a killed instance's session that HAProxy, once it has
            // taken the instance out, sends to the survivor: cut by the kill.
            Ending::Moved(t) if faults::cut_by_kill(&self.faults, instance, t).is_some() => {
                self.cut += 1;
                faults::cut_by_kill(&self.faults, instance, t).map(|kill| kill.min(t))
            }
            Ending::Moved(t) => {
                if faults::moved_by_restart(&self.faults, opened_at) {
                    self.moved += 1;
                } else {
                    self.unexpected_ends += 1;
                    self.problem(|| format!("a session on {instance} moved: {why}"));
                }
                Some(t)
            }
            Ending::Final => None,
        };
        let e = match books {
            Books::Broadcasts(b) => return self.settle_broadcasts(b, instance, opened_at, until),
            Books::Echoes(e) => e,
        };
        {
            self.echo_waiting = self.echo_waiting.saturating_sub(e.waiting());
            let late = e
                .waiting
                .iter()
                .filter(|&&(_, sent)| until.is_none_or(|t| sent + DELIVERY_BOUND <= t))
                .count();
            if late > 0 {
                self.echo_lost += late as u64;
                self.problem(|| format!("{late} echo(es) on {instance} never came back"));
            }
        }
    }

    /// Counts the messages a broadcast session should have had and did not.
    fn settle_broadcasts(
        &mut self,
        b: &Broadcasts,
        instance: &str,
        opened_at: Instant,
        until: Option<Instant>,
    ) {
        let lo = self.published_by(opened_at + OPEN_GRACE) + 1;
        let hi = match until {
            Some(t) => t
                .checked_sub(DELIVERY_BOUND)
                .map_or(0, |t| self.published_by(t)),
            None => self.final_seq.unwrap_or(self.published()),
        };
        let mut missing: Vec<u64> = b.gaps.clone();
        match b.first {
            None => missing.extend(lo..=hi),
            Some(first) => {
                missing.extend(lo..first.min(hi + 1));
                missing.extend((b.last + 1).max(lo)..=hi);
            }
        }
        let (mut lost, mut excused) = (0u64, 0u64);
        for &seq in &missing {
            if self.excused_by_redis(seq, instance) {
                excused += 1;
            } else {
                lost += 1;
            }
        }
        self.excused += excused;
        if lost > 0 {
            self.lost += lost;
            let sample: Vec<u64> = missing.iter().take(8).copied().collect();
            let got = b
                .first
                .map_or("none".into(), |f| format!("{f}..={}", b.last));
            let opened = self.at(opened_at);
            self.problem(|| {
                format!(
                    "a session on {instance} (opened t={opened:.1}s) missed {lost} broadcast(s), \
                     e.g. {sample:?}; it got {got}, should have got {lo}..={hi}"
                )
            });
        }
    }

    /// Whether every open session has what it is waiting for: the last message
    /// published (if it opened [`OPEN_GRACE`] before it), and every echo.
    pub(crate) fn settled(&self) -> bool {
        self.final_seq.is_some() && self.echo_waiting == 0 && self.behind() == 0
    }

    /// Open broadcast sessions still short of the last message published, of those
    /// that opened [`OPEN_GRACE`] before it.
    pub(crate) fn behind(&self) -> usize {
        let Some(f) = self.final_seq else {
            return 0;
        };
        let Some(&published_at) = usize::try_from(f)
            .ok()
            .and_then(|f| f.checked_sub(1))
            .and_then(|i| self.published.get(i))
        else {
            return 0;
        };
        self.open_broadcast
            .values()
            .filter(|&&(opened, last)| last < f && opened + OPEN_GRACE <= published_at)
            .count()
    }

    /// Echoes still awaited.
    pub(crate) fn echo_waiting(&self) -> usize {
        self.echo_waiting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_outages_excuse_only_other_instances_within_the_window() {
        let mut l = Ledger::new("instance2");
        let start = Instant::now();
        l.published = vec![
            start,
            start + Duration::from_secs(3),
            start + Duration::from_secs(60),
        ];
        l.faults.push(Fault::Redis {
            start: start + Duration::from_millis(500),
            end: Some(start + Duration::from_secs(2)),
        });
        assert!(l.excused_by_redis(1, "instance1"));
        assert!(l.excused_by_redis(2, "instance1"));
        assert!(!l.excused_by_redis(3, "instance1"));
        assert!(!l.excused_by_redis(1, "instance2"));
    }
}
