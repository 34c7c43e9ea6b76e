//! Where session managers and stats collectors run: an arbiter (thread) of their own,
//! one per actix system, not a worker of the server.
//!
//! They used to start on the worker that served a service's first request. A worker
//! can stop while the server goes on (actix-server replaces a worker that faulted; an
//! application may serve a service from arbiters of its own and stop them), and with
//! it would go the manager: registrations would fail with 503 and nothing would sweep expired
//! sessions any more.
//!
//! Supervising the manager and restarting it would not do: actix's `Supervisor`
//! restarts an actor on the arbiter it ran on, which is the one that stopped, and a
//! restart elsewhere waits for a request to notice the loss, while expiry sweeps stop
//! in between. So the managers run where no request can stop them: on an arbiter that
//! serves nothing else, made on first use. One per actix system, shared by every
//! service of that system, so a process with many services does not get a thread
//! each; and per system, not per process, because a system stops its arbiters when it
//! stops (a test process runs a system per test, and actix-test a system per server).
//! The arbiter lives as long as a service of its system holds it, and stops with the
//! last one or with its system.
//!
//! The managers' work is small (a map insertion per new session, a sweep that reads
//! 16 shards a few times a second), so one thread is plenty; requests reach it by
//! message, as they reached a manager on another worker before.

use std::sync::{Arc, Weak};

use actix_rt::{Arbiter, ArbiterHandle, System};
use parking_lot::Mutex;

/// The arbiter of one actix system that runs its services' managers; stopped when
/// the last service holding it lets go.
pub(crate) struct ManagerArbiter {
    handle: ArbiterHandle,
    system: usize,
}

/// The manager arbiter of each system, weakly: the services hold them.
static ARBITERS: Mutex<Vec<Weak<ManagerArbiter>>> = Mutex::new(Vec::new());

impl ManagerArbiter {
    /// The manager arbiter of the current actix system, made if it has none; `None`
    /// outside an actix system.
    pub(crate) fn of_this_system() -> Option<Arc<Self>> {
        let system = System::try_current()?.id();
        let mut arbiters = ARBITERS.lock();
        arbiters.retain(|a| a.strong_count() > 0);
        if let Some(found) = arbiters
            .iter()
            .filter_map(Weak::upgrade)
            .find(|a| a.system == system)
        {
            return Some(found);
        }
        let arbiter = Arc::new(ManagerArbiter {
            handle: Arbiter::new().handle(),
            system,
        });
        arbiters.push(Arc::downgrade(&arbiter));
        Some(arbiter)
    }

    /// Where to start actors.
    pub(crate) fn handle(&self) -> &ArbiterHandle {
        &self.handle
    }
}

impl Drop for ManagerArbiter {
    fn drop(&mut self) {
        // Its actors go with it; a stopped system stopped it already.
        self.handle.stop();
    }
}
