//! Where session managers and stats collectors run: an arbiter (thread) of their own,
//! one per actix system, not a worker of the server.
//!
//! Not on a worker: a worker can stop while the server goes on (actix-server replaces
//! a worker that faulted; an application may serve a service from arbiters of its own
//! and stop them), and a manager on it would go with it: registrations would fail
//! with 503 and nothing would sweep expired sessions any more.
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
//! Should the manager stop all the same (its system stopped while a server of another
//! system still serves the service, as when one `SockJs` value is mounted on two
//! actix-test servers one after the other), the next session made starts another on
//! the arbiter of the request's system, and it takes over the map: the map is the
//! service's (`SessionRegistry`), not the manager's. Until then nothing sweeps, which
//! is why this is the fallback and not the design.
//!
//! The managers' work is small (a map insertion per new session, a sweep that reads
//! 16 shards a few times a second), so one thread is plenty; requests reach it by
//! message, as they reached a manager on another worker before.

use std::sync::{Arc, Weak};
use std::time::Duration;

use actix::{Actor, Addr};
use actix_rt::{Arbiter, ArbiterHandle, System};
use parking_lot::{Mutex, RwLock};

use super::actor::SessionManager;
use super::registry::SessionRegistry;
use crate::session::SockJsHandler;
use crate::stats::{Stats, StatsCollector};

/// A service's manager and stats collector, and the arbiter they run on (held so
/// that it runs while they are the service's).
pub(crate) struct ServiceActors<H: SockJsHandler> {
    manager: Addr<SessionManager<H>>,
    _stats: Addr<StatsCollector>,
    _arbiter: Option<Arc<ManagerArbiter>>,
}

impl<H: SockJsHandler> ServiceActors<H> {
    /// Starts a manager of `registry` and a collector of `stats` on the manager
    /// arbiter of the current actix system (outside one, where no worker serves
    /// requests either: on the current thread).
    pub(crate) fn start(
        registry: Arc<SessionRegistry<H>>,
        disconnect_delay: Duration,
        stats: Stats,
    ) -> Self {
        let manager = SessionManager::new(registry, disconnect_delay);
        let stats = StatsCollector::new(stats);
        match ManagerArbiter::of_this_system() {
            Some(arbiter) => ServiceActors {
                manager: SessionManager::start_in_arbiter(arbiter.handle(), |_| manager),
                _stats: StatsCollector::start_in_arbiter(arbiter.handle(), |_| stats),
                _arbiter: Some(arbiter),
            },
            None => ServiceActors {
                manager: manager.start(),
                _stats: stats.start(),
                _arbiter: None,
            },
        }
    }
}

/// Where a service keeps its actors: none until its first session, then running
/// ones (replaced if they stopped). Locked only to make a session and when one ends,
/// never on a poll.
pub(crate) struct ActorsSlot<H: SockJsHandler>(RwLock<Option<ServiceActors<H>>>);

impl<H: SockJsHandler> Default for ActorsSlot<H> {
    fn default() -> Self {
        ActorsSlot(RwLock::new(None))
    }
}

impl<H: SockJsHandler> ActorsSlot<H> {
    /// The running manager; `start` makes the actors when there are none or they
    /// stopped.
    pub(crate) fn manager(
        &self,
        start: impl FnOnce() -> ServiceActors<H>,
    ) -> Addr<SessionManager<H>> {
        if let Some(actors) = &*self.0.read() {
            if actors.manager.connected() {
                return actors.manager.clone();
            }
        }
        let mut slot = self.0.write();
        match &*slot {
            // Another request started them meanwhile.
            Some(actors) if actors.manager.connected() => actors.manager.clone(),
            _ => {
                if slot.is_some() {
                    log::warn!("session manager stopped with its arbiter; starting another");
                }
                let actors = slot.insert(start());
                actors.manager.clone()
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manager::registry::SessionEntry;
    use crate::manager::registry::tests::{Nop, entry};
    use crate::session::{SessionShared, inbox};

    async fn register(manager: &Addr<SessionManager<Nop>>, id: &str, e: SessionEntry<Nop>) {
        let msg = super::super::actor::Register {
            id: Arc::from(id),
            entry: e,
        };
        assert!(
            manager.send(msg).await.is_ok(),
            "the manager did not answer"
        );
    }

    #[actix_rt::test]
    async fn a_stopped_manager_is_replaced_by_one_that_takes_over_the_map() {
        let registry = Arc::new(SessionRegistry::<Nop>::new());
        let delay = Duration::from_secs(3600);
        let slot = ActorsSlot::default();
        // The first manager runs on an arbiter the test stops.
        let arbiter = Arbiter::new();
        let first = slot.manager(|| ServiceActors {
            manager: SessionManager::start_in_arbiter(&arbiter.handle(), {
                let registry = registry.clone();
                move |_| SessionManager::new(registry, delay)
            }),
            _stats: StatsCollector::start_in_arbiter(&arbiter.handle(), |_| {
                StatsCollector::new(Stats::default())
            }),
            _arbiter: None,
        });
        let (live, _live_rx) = inbox(SessionShared::new(None));
        register(&first, "live", entry(live)).await;
        // A session ends while no manager runs: its removal is lost.
        assert!(arbiter.stop());
        actix_rt::task::spawn_blocking(move || arbiter.join())
            .await
            .expect("join task")
            .expect("arbiter thread");
        assert!(!first.connected());
        let (gone, gone_rx) = inbox(SessionShared::new(None));
        registry
            .shard("gone")
            .write()
            .insert(Arc::from("gone"), entry(gone));
        // Its removal never happened (it ended with no manager to see it).
        drop(gone_rx);

        // The next session made starts another manager, which takes the map over.
        let mut started = false;
        let second = slot.manager(|| {
            started = true;
            ServiceActors::start(registry.clone(), delay, Stats::default())
        });
        assert!(started && second.connected());
        let (next, _next_rx) = inbox(SessionShared::new(None));
        register(&second, "next", entry(next)).await;
        assert!(registry.get("gone").is_none(), "the ended session stayed");
        assert!(registry.get("live").is_some() && registry.get("next").is_some());
        // And it is the one kept.
        let mut again = false;
        let _ = slot.manager(|| {
            again = true;
            ServiceActors::start(registry.clone(), delay, Stats::default())
        });
        assert!(!again);
    }
}
