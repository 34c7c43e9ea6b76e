//! The SessionManager: the session-id map of one service and its expiry sweep.
//!
//! Look-ups sit on every polling request, so the map is sharded behind short
//! read locks that request handlers take directly (no actor round trip, no global
//! lock); the manager actor is the one that sweeps expired sessions out of it.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr, AsyncContext, Context};
use parking_lot::RwLock;

use crate::handler::SockJsHandler;
use crate::session::{Expire, SessionActor, SessionId, SessionShared};

const SHARDS: usize = 16;

/// A registered session: its address and the state the sweep reads.
pub(crate) struct SessionEntry<H: SockJsHandler> {
    pub(crate) addr: Addr<SessionActor<H>>,
    pub(crate) shared: Arc<SessionShared>,
    /// The address the session is bound to (`bind_session_to_ip`), if any.
    pub(crate) ip: Option<std::net::IpAddr>,
}

impl<H: SockJsHandler> Clone for SessionEntry<H> {
    fn clone(&self) -> Self {
        SessionEntry {
            addr: self.addr.clone(),
            shared: self.shared.clone(),
            ip: self.ip,
        }
    }
}

type Shard<H> = RwLock<HashMap<SessionId, SessionEntry<H>>>;

/// The id → session map of one service.
pub(crate) struct SessionRegistry<H: SockJsHandler> {
    shards: Box<[Shard<H>]>,
    hasher: std::collections::hash_map::RandomState,
    epoch: Instant,
}

impl<H: SockJsHandler> SessionRegistry<H> {
    pub(crate) fn new() -> Self {
        SessionRegistry {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            epoch: Instant::now(),
        }
    }

    /// The instant session timestamps count from.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    fn shard(&self, id: &str) -> &Shard<H> {
        let index = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// The session with this id, if it exists.
    pub(crate) fn get(&self, id: &str) -> Option<SessionEntry<H>> {
        self.shard(id).read().get(id).cloned()
    }

    /// The session with this id, created by `create` when there is none (or what
    /// `create` refused it with).
    pub(crate) fn get_or_create<E>(
        &self,
        id: &str,
        create: impl FnOnce(SessionId) -> Result<SessionEntry<H>, E>,
    ) -> Result<SessionEntry<H>, E> {
        if let Some(entry) = self.get(id) {
            return Ok(entry);
        }
        let mut shard = self.shard(id).write();
        if let Some(entry) = shard.get(id) {
            return Ok(entry.clone());
        }
        let key: SessionId = Arc::from(id);
        let entry = create(key.clone())?;
        shard.insert(key, entry.clone());
        Ok(entry)
    }

    /// Calls `f` with every registered session.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&SessionEntry<H>)) {
        for shard in self.shards.iter() {
            shard.read().values().for_each(&mut f);
        }
    }

    /// How many sessions are registered.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    /// Removes and returns every session detached since before `deadline`.
    fn take_expired(&self, deadline: Instant) -> Vec<SessionEntry<H>> {
        let mut expired = Vec::new();
        for shard in self.shards.iter() {
            if !shard
                .read()
                .values()
                .any(|e| e.shared.detached_before(deadline))
            {
                continue;
            }
            shard.write().retain(|_, entry| {
                let keep = !entry.shared.detached_before(deadline);
                if !keep {
                    expired.push(entry.clone());
                }
                keep
            });
        }
        expired
    }
}

/// The actor that sweeps a service's expired sessions.
pub(crate) struct SessionManager<H: SockJsHandler> {
    registry: Arc<SessionRegistry<H>>,
    disconnect_delay: Duration,
}

impl<H: SockJsHandler> SessionManager<H> {
    pub(crate) fn new(registry: Arc<SessionRegistry<H>>, disconnect_delay: Duration) -> Self {
        SessionManager {
            registry,
            disconnect_delay,
        }
    }

    /// How often to sweep: often enough that a session outlives `disconnect_delay` by at
    /// most half of it, and by at most a quarter second (a sweep only reads 16 shards,
    /// so this costs next to nothing; tools that reuse session ids wait barely more
    /// than the delay).
    fn sweep_interval(&self) -> Duration {
        (self.disconnect_delay / 2).clamp(Duration::from_millis(10), Duration::from_millis(250))
    }

    fn sweep(&mut self) {
        let Some(deadline) = Instant::now().checked_sub(self.disconnect_delay) else {
            return;
        };
        for entry in self.registry.take_expired(deadline) {
            entry.addr.do_send(Expire);
        }
    }
}

impl<H: SockJsHandler> Actor for SessionManager<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sweep_interval(), |act, _| act.sweep());
    }
}
