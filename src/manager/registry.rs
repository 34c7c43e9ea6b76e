//! The id → session map of one service: read by requests without a round trip,
//! written only by its manager actor.

use std::collections::HashMap;
use std::hash::BuildHasher;

use actix::WeakAddr;
use parking_lot::RwLock;

use crate::session::SockJsHandler;
use crate::session::{InboxTx, SessionHandle, SessionId};

const SHARDS: usize = 16;

/// A session in the map: its actor's address, its inbox and the state the sweep reads.
pub(crate) struct SessionEntry<H: SockJsHandler> {
    /// Weak: the map does not keep an actor's mailbox open, and a look-up on the
    /// polling path copies no sender.
    pub(crate) addr: WeakAddr<H>,
    /// Also what the sweep reads ([`InboxTx::shared`]).
    pub(crate) inbox: InboxTx,
}

impl<H: SockJsHandler> Clone for SessionEntry<H> {
    fn clone(&self) -> Self {
        SessionEntry {
            addr: self.addr.clone(),
            inbox: self.inbox.clone(),
        }
    }
}

impl<H: SockJsHandler> SessionEntry<H> {
    /// A handle to the session.
    pub(crate) fn handle(&self, id: SessionId, max_queued: usize) -> SessionHandle {
        SessionHandle::new(id, self.inbox.clone(), max_queued)
    }

    /// Whether the session ended (it takes no command).
    pub(crate) fn ended(&self) -> bool {
        self.inbox.is_closed()
    }
}

pub(super) type Shard<H> = RwLock<HashMap<SessionId, SessionEntry<H>>>;

/// The id → session map of one service: read by requests, written by its manager.
pub(crate) struct SessionRegistry<H: SockJsHandler> {
    pub(super) shards: Box<[Shard<H>]>,
    hasher: std::collections::hash_map::RandomState,
}

impl<H: SockJsHandler> SessionRegistry<H> {
    pub(crate) fn new() -> Self {
        SessionRegistry {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    pub(super) fn shard(&self, id: &str) -> &Shard<H> {
        let index = usize::try_from(self.hasher.hash_one(id) % SHARDS as u64).unwrap_or(0);
        &self.shards[index]
    }

    /// The session with this id, if it exists (the polling path: nothing but the
    /// entry is copied).
    pub(crate) fn get(&self, id: &str) -> Option<SessionEntry<H>> {
        self.shard(id).read().get(id).cloned()
    }

    /// The session with this id and the id as the map keeps it, if it exists.
    pub(crate) fn get_with_id(&self, id: &str) -> Option<(SessionId, SessionEntry<H>)> {
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

    /// Puts `entry` in the map under `id`, unless a live session has that id: then
    /// that one is given back and nothing changes.
    pub(crate) fn insert_unless_live(
        &self,
        id: SessionId,
        entry: SessionEntry<H>,
    ) -> Option<SessionEntry<H>> {
        let mut shard = self.shard(&id).write();
        if let Some(existing) = shard.get(&id).filter(|e| !e.ended()) {
            return Some(existing.clone());
        }
        shard.insert(id, entry);
        None
    }

    /// Takes the session `id` out of the map, if the entry there is still the one
    /// whose inbox is `inbox` (a new session may have taken the id since).
    pub(crate) fn remove_session(&self, id: &str, inbox: &InboxTx) {
        let mut shard = self.shard(id).write();
        if shard.get(id).is_some_and(|e| e.inbox.same_inbox(inbox)) {
            shard.remove(id);
        }
    }

    /// How many sessions the map holds.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}
