//! The [`Broadcaster`] actor: topics and their members on this instance, delivery
//! with one encoding per message, and (feature `redis`) the relay through Redis.

use std::time::Duration;

use actix::prelude::SendError;
use actix::{Actor, ActorContext, AsyncContext, Context, Handler, MessageResult};
use bytestring::ByteString;

use super::topics::{Change, Topics};
use super::{
    BroadcasterStatus, GetStatus, Member, Publish, Subscribe, TopicMessage, Unsubscribe,
    UnsubscribeAll,
};
use crate::PreparedMessage;

/// Topics (rooms) and their members, as an actor: applications send it
/// [`Subscribe`], [`Unsubscribe`], [`UnsubscribeAll`] and [`Publish`].
///
/// A published message is encoded once and queued to every member of its topic on
/// this instance, in the order the broadcaster received the publishes. With a
/// `RedisLink` (feature `redis`) it also goes to every other
/// instance on the same Redis, where that instance's broadcaster delivers it to its
/// own members; see the [module documentation](super) for the guarantees.
///
/// Start one per process (`Broadcaster::new().start()`) and give its address to
/// every session; it runs on the arbiter that started it.
#[derive(Default)]
pub struct Broadcaster {
    topics: Topics,
    status: BroadcasterStatus,
    #[cfg(feature = "redis")]
    redis: Option<super::relay::Relay>,
}

impl std::fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcaster")
            .field("topics", &self.topics.topic_count())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Broadcaster {
    /// A broadcaster for this instance alone.
    pub fn new() -> Self {
        Broadcaster::default()
    }

    /// Relays every topic through Redis, so members on every instance that uses the
    /// same Redis (and [channel prefix](super::RedisLink::channel_prefix)) receive
    /// it.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, link: super::RedisLink) -> Self {
        self.redis = Some(super::relay::Relay::new(link));
        self.status.redis_connected = Some(false);
        self
    }

    /// Delivers `message` to the members of `topic` on this instance.
    pub(super) fn fan_out(&mut self, topic: &str, message: ByteString) {
        let Some((name, members)) = self.topics.members(topic) else {
            return;
        };
        let prepared = PreparedMessage::new(message);
        let mut gone = Vec::new();
        for member in members {
            let alive = match member {
                // A slow consumer's session is closing itself; it goes at the next
                // message, once closed.
                Member::Session(session) => {
                    session.send_prepared(&prepared).is_ok() || !session.is_closed()
                }
                // Never more than the actor's mailbox holds: a member that falls
                // behind loses messages rather than the instance its memory.
                Member::Actor(actor) => match actor.try_send(TopicMessage {
                    topic: name.clone(),
                    message: prepared.clone(),
                }) {
                    Ok(()) => true,
                    Err(SendError::Full(_)) => {
                        self.status.not_delivered += 1;
                        true
                    }
                    Err(SendError::Closed(_)) => false,
                },
            };
            if !alive {
                gone.push(member.clone());
            }
        }
        for member in gone {
            let changes = self.topics.unsubscribe_all(&member);
            self.follow(changes);
        }
    }

    /// Drops closed sessions and stopped actors from their topics.
    fn sweep(&mut self) {
        let changes = self.topics.remove_dead(|member| match member {
            Member::Session(session) => !session.is_closed(),
            Member::Actor(actor) => actor.connected(),
        });
        self.follow(changes);
    }

    /// Makes the upstream subscriptions follow the local membership.
    fn follow(&mut self, changes: impl IntoIterator<Item = Change>) {
        #[cfg(feature = "redis")]
        if let Some(relay) = &mut self.redis {
            for change in changes {
                relay.follow(change);
            }
        }
        #[cfg(not(feature = "redis"))]
        drop(changes);
    }
}

/// How often the broadcaster looks whether anybody still holds its address.
const LOOK: Duration = Duration::from_secs(1);
/// How often members that went without leaving are looked for, in `LOOK`s.
const SWEEP_EVERY: u32 = 10;

impl Actor for Broadcaster {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mut looks = 0;
        ctx.run_interval(LOOK, move |this, ctx| {
            // Once no address is left, nothing can reach the broadcaster: it stops,
            // and so do its Redis connections (which would otherwise keep it alive).
            if !ctx.connected() {
                ctx.stop();
                return;
            }
            looks += 1;
            if looks % SWEEP_EVERY == 0 {
                this.sweep();
            }
        });
        #[cfg(feature = "redis")]
        if let Some(relay) = &mut self.redis {
            relay.start(ctx);
        }
    }
}

impl Handler<Subscribe> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) {
        let change = self.topics.subscribe(&msg.topic, msg.member);
        self.follow(change);
    }
}

impl Handler<Unsubscribe> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _: &mut Context<Self>) {
        let change = self.topics.unsubscribe(&msg.topic, &msg.member);
        self.follow(change);
    }
}

impl Handler<UnsubscribeAll> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: UnsubscribeAll, _: &mut Context<Self>) {
        let changes = self.topics.unsubscribe_all(&msg.member);
        self.follow(changes);
    }
}

impl Handler<Publish> for Broadcaster {
    type Result = ();

    fn handle(&mut self, msg: Publish, _: &mut Context<Self>) {
        self.status.published += 1;
        #[cfg(feature = "redis")]
        if let Some(relay) = &mut self.redis {
            relay.publish(&msg.topic, &msg.message);
        }
        self.fan_out(&msg.topic, msg.message.into());
    }
}

impl Handler<GetStatus> for Broadcaster {
    type Result = MessageResult<GetStatus>;

    fn handle(&mut self, _: GetStatus, _: &mut Context<Self>) -> Self::Result {
        let mut status = self.status.clone();
        status.topics = self.topics.topic_count();
        status.members = self.topics.membership_count();
        #[cfg(feature = "redis")]
        if let Some(relay) = &self.redis {
            relay.fill(&mut status);
        }
        MessageResult(status)
    }
}

#[cfg(feature = "redis")]
impl actix::StreamHandler<super::redis::subscriber::LinkEvent> for Broadcaster {
    fn handle(&mut self, event: super::redis::subscriber::LinkEvent, _: &mut Context<Self>) {
        use super::redis::subscriber::LinkEvent;
        match event {
            LinkEvent::Up => self.status.redis_connected = Some(true),
            LinkEvent::Down => {
                if self.status.redis_connected == Some(true) {
                    self.status.redis_outages += 1;
                }
                self.status.redis_connected = Some(false);
            }
            LinkEvent::Message(msg) => {
                let Some(relay) = &self.redis else { return };
                if let Some((topic, text)) = relay.received(&msg) {
                    self.status.received += 1;
                    self.fan_out(topic, text);
                }
            }
        }
    }

    /// The subscriber ends only when the broadcaster does; nothing to do.
    fn finished(&mut self, _: &mut Context<Self>) {}
}
