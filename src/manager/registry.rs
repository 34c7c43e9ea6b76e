//! The id → session map of one service: read by requests without a round trip,
//! written only by its manager actor.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    /// Where [`shard`](Self::shard)'s hash starts, random for each registry.
    seed: u64,
}

impl<H: SockJsHandler> SessionRegistry<H> {
    pub(crate) fn new() -> Self {
        SessionRegistry {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            seed: std::collections::hash_map::RandomState::new().hash_one(SHARDS),
        }
    }

    /// The shard of `id`, chosen by a seeded FNV-1a hash of it, mixed: cheaper than
    /// the maps' own hashing, which every request that names a session also pays.
    /// Ids come from clients, so the maps inside hash with SipHash (std's default),
    /// which keeps chosen ids from colliding; the shard only spreads the locks, and a
    /// client that piled its ids into one would only share that lock.
    pub(super) fn shard(&self, id: &str) -> &Shard<H> {
        let hash = id.bytes().fold(self.seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
        // FNV's last bytes reach only some bits: mixed (MurmurHash3's finalizer step).
        let mixed = (hash ^ (hash >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let index = usize::try_from((mixed ^ (mixed >> 33)) % SHARDS as u64).unwrap_or(0);
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
        match shard.entry(id) {
            Entry::Occupied(existing) if !existing.get().ended() => Some(existing.get().clone()),
            Entry::Occupied(mut ended) => {
                ended.insert(entry);
                None
            }
            Entry::Vacant(vacant) => {
                vacant.insert(entry);
                None
            }
        }
    }

    /// Takes the session `id` out of the map, if the entry there is still the one
    /// whose inbox is `inbox` (a new session may have taken the id since).
    pub(crate) fn remove_session(&self, id: &str, inbox: &InboxTx) {
        let mut shard = self.shard(id).write();
        // One lookup when the entry is this session's, as it nearly always is; a
        // new session's entry is put back.
        if let Some((key, entry)) = shard.remove_entry(id)
            && !entry.inbox.same_inbox(inbox)
        {
            shard.insert(key, entry);
        }
    }

    /// How many sessions the map holds.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::session::{SessionMailbox, SessionShared, inbox};
    use crate::{SockJsContext, SockJsHandler};

    /// A handler that does nothing, for sessions the manager's tests put in a map.
    pub(in crate::manager) struct Nop;

    impl actix::Actor for Nop {
        type Context = SockJsContext<Self>;
    }

    impl SockJsHandler for Nop {
        fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}
    }

    /// A map entry for the session whose inbox is `inbox`.
    pub(in crate::manager) fn entry(inbox: InboxTx) -> SessionEntry<Nop> {
        SessionEntry {
            addr: SessionMailbox::<Nop>::new().address().downgrade(),
            inbox,
        }
    }

    fn session() -> (SessionEntry<Nop>, impl Sized) {
        let (tx, rx) = inbox(SessionShared::new(None));
        (entry(tx), rx)
    }

    #[actix_rt::test]
    async fn a_live_session_keeps_its_id_and_an_ended_one_gives_it_up() {
        let registry = SessionRegistry::<Nop>::new();
        let (first, first_rx) = session();
        let first_inbox = first.inbox.clone();
        assert!(registry.insert_unless_live(Arc::from("a"), first).is_none());
        let (second, _second_rx) = session();
        let second_inbox = second.inbox.clone();
        let kept = registry.insert_unless_live(Arc::from("a"), second.clone());
        assert!(kept.is_some_and(|e| e.inbox.same_inbox(&first_inbox)));
        // The first session ends: the id is free for the second.
        drop(first_rx);
        assert!(
            registry
                .insert_unless_live(Arc::from("a"), second)
                .is_none()
        );
        assert!(
            registry
                .get("a")
                .is_some_and(|e| e.inbox.same_inbox(&second_inbox))
        );
        assert_eq!(registry.len(), 1);
    }

    #[actix_rt::test]
    async fn a_session_removes_its_own_entry_and_no_other() {
        let registry = SessionRegistry::<Nop>::new();
        let (old, old_rx) = session();
        let old_inbox = old.inbox.clone();
        registry.insert_unless_live(Arc::from("a"), old);
        drop(old_rx);
        let (new, _new_rx) = session();
        let new_inbox = new.inbox.clone();
        registry.insert_unless_live(Arc::from("a"), new);
        // The old session's late removal leaves the new one's entry.
        registry.remove_session("a", &old_inbox);
        assert!(
            registry
                .get("a")
                .is_some_and(|e| e.inbox.same_inbox(&new_inbox))
        );
        registry.remove_session("a", &new_inbox);
        assert!(registry.get("a").is_none());
        assert_eq!(registry.len(), 0);
    }

    #[test]
    fn ids_spread_over_every_shard() {
        let registry = SessionRegistry::<Nop>::new();
        let mut counts = [0u32; SHARDS];
        for i in 0..1000 {
            let shard = registry.shard(&format!("session-{i}"));
            let index = registry
                .shards
                .iter()
                .position(|s| std::ptr::eq(s, shard))
                .expect("one of the registry's shards");
            counts[index] += 1;
        }
        // About 62 each; under 30 is over four standard deviations off.
        assert!(counts.iter().all(|&c| c >= 30), "ids per shard: {counts:?}");
    }
}
