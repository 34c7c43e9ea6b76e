//! The faults the soak injects and the windows they excuse (the rules are in
//! [`super::ledger`]'s documentation).

use std::time::Duration;

use tokio::time::Instant;

/// A Redis outage's window starts this long before Redis was stopped...
pub(crate) const REDIS_BEFORE: Duration = Duration::from_secs(1);
/// ...and ends this long after it accepted connections again (the instances'
/// reconnection backoff is at most 5 s).
pub(crate) const REDIS_AFTER: Duration = Duration::from_secs(6);
/// Sessions of a killed instance end within this long of the kill.
pub(crate) const CUT_WINDOW: Duration = Duration::from_secs(5);
/// A fault the soak injected.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// `kill -9` of an instance, and its restart (`end`).
    Kill {
        instance: String,
        start: Instant,
        end: Option<Instant>,
    },
    /// Redis stopped, and started again on the same port (`end`).
    Redis {
        start: Instant,
        end: Option<Instant>,
    },
    /// A websocket that reads nothing, and when the server closed it (`end`).
    SlowConsumer {
        start: Instant,
        end: Option<Instant>,
    },
}

/// Whether a message published at `at` falls in a Redis outage's window: from
/// [`REDIS_BEFORE`] before Redis stopped until [`REDIS_AFTER`] after it was back.
pub(crate) fn redis_window(faults: &[Fault], at: Instant) -> bool {
    faults.iter().any(|fault| match *fault {
        Fault::Redis { start, end } => {
            let until = end.map_or(at, |end| end + REDIS_AFTER);
            at + REDIS_BEFORE >= start && at <= until
        }
        _ => false,
    })
}

/// When the kill that cut a session on `instance` ending at `t` happened, if one did.
pub(crate) fn cut_by_kill(faults: &[Fault], instance: &str, t: Instant) -> Option<Instant> {
    faults.iter().find_map(|fault| match fault {
        Fault::Kill {
            instance: killed,
            start,
            ..
        } if killed == instance && t >= *start && t <= *start + CUT_WINDOW => Some(*start),
        _ => None,
    })
}

/// Whether a session opened at `opened_at` may have been opened on the survivor
/// for a key that HAProxy sends back to the killed instance once it is up again
/// (consistent hashing: the key's home returns). Its next HTTP request lands on
/// an instance that does not know it.
pub(crate) fn moved_by_restart(faults: &[Fault], opened_at: Instant) -> bool {
    faults.iter().any(|fault| match *fault {
        Fault::Kill { start, end, .. } => {
            opened_at >= start && end.is_none_or(|end| opened_at <= end + CUT_WINDOW)
        }
        _ => false,
    })
}

/// Whether a session could not be opened at `t` because of a kill: from the kill
/// until [`CUT_WINDOW`] after the restart (HAProxy's health checks take ~2 s to
/// notice either).
pub(crate) fn open_excused(faults: &[Fault], t: Instant) -> bool {
    faults.iter().any(|fault| match *fault {
        Fault::Kill { start, end, .. } => t >= start && end.is_none_or(|end| t <= end + CUT_WINDOW),
        _ => false,
    })
}
