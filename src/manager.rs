//! The SessionManager: the actor that owns a service's session-id map and sweeps it.
//!
//! Every insertion and removal is a message to the manager, so two requests for one
//! new id get one session, and a session leaves the map only through it. Requests read
//! the map without a round trip (a sharded read view), because a look-up sits on
//! every polling request; they never act on a session the map no longer holds: a
//! session that ended (expired, stopped) refuses every command, and the request then
//! asks the manager again, as for an unknown id.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message};
use parking_lot::RwLock;

use crate::handler::SockJsHandler;
use crate::session::{Command, InboxTx, SessionHandle, SessionId, SessionShared};

const SHARDS: usize = 16;

/// A session in the map: its actor's address, its inbox and the state the sweep reads.
pub(crate) struct SessionEntry<H: SockJsHandler> {
    pub(crate) addr: Addr<H>,
    pub(crate) inbox: InboxTx,
    pub(crate) shared: Arc<SessionShared>,
    /// The address the session is bound to (`bind_session_to_ip`), if any.
    pub(crate) ip: Option<std::net::IpAddr>,
}

impl<H: SockJsHandler> Clone for SessionEntry<H> {
    fn clone(&self) -> Self {
        SessionEntry {
            addr: self.addr.clone(),
            inbox: self.inbox.clone(),
            shared: self.shared.clone(),
            ip: self.ip,
        }
    }
}

impl<H: SockJsHandler> SessionEntry<H> {
    /// A handle to the session.
    pub(crate) fn handle(&self, id: SessionId, max_queued: usize) -> SessionHandle {
        SessionHandle::new(id, self.inbox.clone(), self.shared.clone(), max_queued)
    }

    /// Whether the session ended (it takes no command).
    fn ended(&self) -> bool {
        self.inbox.is_closed()
    }
}

type Shard<H> = RwLock<HashMap<SessionId, SessionEntry<H>>>;

/// The id → session map of one service: read by requests, written by its manager.
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

    /// The session with this id, with the id as the map keeps it, if it exists.
    pub(crate) fn get(&self, id: &str) -> Option<(SessionId, SessionEntry<H>)> {
        self.shard(id)
            .read()
            .get_key_value(id)
            .map(|(k, e)| (k.clone(), e.clone()))
    }

    /// Calls `f` with every session.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&SessionEntry<H>)) {
        for shard in self.shards.iter() {
            shard.read().values().for_each(&mut f);
        }
    }

    /// How many sessions the map holds.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}

/// Puts a session in the map, unless a live one has its id: then that one is the
/// answer.
pub(crate) struct Register<H: SockJsHandler> {
    pub(crate) id: SessionId,
    pub(crate) entry: SessionEntry<H>,
}

/// What [`Register`] did.
pub(crate) enum Registered<H: SockJsHandler> {
    Inserted,
    Existing(SessionEntry<H>),
}

impl<H: SockJsHandler> Message for Register<H> {
    type Result = Registered<H>;
}

/// A session ended: its entry leaves the map (if it is still that session's).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Remove {
    id: SessionId,
    inbox: InboxTx,
}

/// Held by a registered session for its whole life: when the session is dropped, it
/// tells the manager to take it out of the map.
pub(crate) struct Registration<H: SockJsHandler> {
    manager: Addr<SessionManager<H>>,
    remove: Option<Remove>,
}

impl<H: SockJsHandler> Registration<H> {
    pub(crate) fn new(manager: Addr<SessionManager<H>>, id: SessionId, inbox: InboxTx) -> Self {
        Registration {
            manager,
            remove: Some(Remove { id, inbox }),
        }
    }
}

impl<H: SockJsHandler> Drop for Registration<H> {
    fn drop(&mut self) {
        if let Some(remove) = self.remove.take() {
            self.manager.do_send(remove);
        }
    }
}

/// The actor that owns a service's session map and sweeps expired sessions.
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

    /// Asks every session that has had no receiver for `disconnect_delay` to end. A
    /// session ends only if nothing happened since and nothing waits for it (it
    /// checks, in order with what it was asked before), then leaves the map through
    /// [`Remove`]. A session that already ended leaves the map here.
    fn sweep(&mut self) {
        let Some(deadline) = Instant::now().checked_sub(self.disconnect_delay) else {
            return;
        };
        for shard in self.registry.shards.iter() {
            let mut ended = Vec::new();
            for (id, entry) in shard.read().iter() {
                if entry.shared.detached_before(deadline)
                    && entry.inbox.send(Command::Expire(deadline)).is_err()
                {
                    ended.push(id.clone());
                }
            }
            if !ended.is_empty() {
                let mut shard = shard.write();
                for id in ended {
                    if shard.get(&id).is_some_and(|e| e.ended()) {
                        shard.remove(&id);
                    }
                }
            }
        }
    }
}

impl<H: SockJsHandler> Actor for SessionManager<H> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.sweep_interval(), |act, _| act.sweep());
    }
}

impl<H: SockJsHandler> Handler<Register<H>> for SessionManager<H> {
    type Result = actix::MessageResult<Register<H>>;

    fn handle(&mut self, msg: Register<H>, _: &mut Context<Self>) -> Self::Result {
        let mut shard = self.registry.shard(&msg.id).write();
        if let Some(existing) = shard.get(&msg.id).filter(|e| !e.ended()) {
            return actix::MessageResult(Registered::Existing(existing.clone()));
        }
        shard.insert(msg.id, msg.entry);
        actix::MessageResult(Registered::Inserted)
    }
}

impl<H: SockJsHandler> Handler<Remove> for SessionManager<H> {
    type Result = ();

    fn handle(&mut self, msg: Remove, _: &mut Context<Self>) {
        let mut shard = self.registry.shard(&msg.id).write();
        if shard
            .get(&msg.id)
            .is_some_and(|e| e.inbox.same_inbox(&msg.inbox))
        {
            shard.remove(&msg.id);
        }
    }
}
