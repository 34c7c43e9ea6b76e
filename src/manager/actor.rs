//! The SessionManager actor: every insertion into and removal from the id map, and
//! the expiry sweep.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler, Message};

use super::registry::{SessionEntry, SessionRegistry};
use crate::session::SockJsHandler;
use crate::session::{Command, SessionId};

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

    /// Takes every session that ended out of the map.
    fn remove_ended(&self) {
        for shard in self.registry.shards.iter() {
            shard.write().retain(|_, entry| !entry.ended());
        }
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
                if entry.inbox.shared().detached_before(deadline)
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
        // A manager that takes over from one that stopped (`manager::arbiter`) finds
        // the sessions that ended while none ran: their `Remove` was lost.
        self.remove_ended();
        ctx.run_interval(self.sweep_interval(), |act, _| act.sweep());
    }
}

impl<H: SockJsHandler> Handler<Register<H>> for SessionManager<H> {
    type Result = actix::MessageResult<Register<H>>;

    fn handle(&mut self, msg: Register<H>, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(match self.registry.insert_unless_live(msg.id, msg.entry) {
            Some(existing) => Registered::Existing(existing),
            None => Registered::Inserted,
        })
    }
}
