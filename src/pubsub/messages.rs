//! What applications send a [`Broadcaster`](super::Broadcaster), and what it sends
//! back.

use std::sync::Arc;

use actix::{Message, Recipient};

use crate::{PreparedMessage, SessionHandle};

/// Who receives a topic's messages on this instance: a session (the frame goes
/// straight to its client) or an actor of the application (a room that forwards it
/// to its members as it likes).
///
/// Members compare by identity (the session, or the actor's address), so subscribing
/// one twice to a topic is one membership.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Member {
    /// A session: each message is queued to it with
    /// [`SessionHandle::send_prepared`], from the frame encoded once.
    Session(SessionHandle),
    /// An actor: each message arrives as a [`TopicMessage`], if its mailbox has
    /// room (`try_send`): a member that falls behind loses messages (counted in
    /// [`BroadcasterStatus::not_delivered`]) instead of queueing without bound. An
    /// actor's mailbox holds 16 messages unless it sets more with
    /// `ctx.set_mailbox_capacity(n)`, which members that receive bursts should.
    Actor(Recipient<TopicMessage>),
}

impl From<SessionHandle> for Member {
    fn from(session: SessionHandle) -> Self {
        Member::Session(session)
    }
}

impl From<Recipient<TopicMessage>> for Member {
    fn from(actor: Recipient<TopicMessage>) -> Self {
        Member::Actor(actor)
    }
}

/// A topic's message, for a [`Member::Actor`]: the frame is encoded once for every
/// member on this instance.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct TopicMessage {
    /// The topic it was published to.
    pub topic: Arc<str>,
    /// The message, ready for [`SockJsContext::send_prepared`](crate::SockJsContext::send_prepared)
    /// or [`SessionHandle::send_prepared`].
    pub message: PreparedMessage,
}

/// Makes `member` receive the messages of `topic`. The first member of a topic on
/// this instance subscribes the instance to it upstream (Redis); messages published
/// before that subscription took effect do not reach it.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// The topic (a room's name, say).
    pub topic: String,
    /// Who receives its messages.
    pub member: Member,
}

impl Subscribe {
    /// `member` joins `topic`.
    pub fn new(topic: impl Into<String>, member: impl Into<Member>) -> Self {
        Subscribe {
            topic: topic.into(),
            member: member.into(),
        }
    }
}

/// `member` leaves `topic`; the last member's leaving unsubscribes the instance.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Unsubscribe {
    /// The topic.
    pub topic: String,
    /// The member that leaves it.
    pub member: Member,
}

impl Unsubscribe {
    /// `member` leaves `topic`.
    pub fn new(topic: impl Into<String>, member: impl Into<Member>) -> Self {
        Unsubscribe {
            topic: topic.into(),
            member: member.into(),
        }
    }
}

/// `member` leaves every topic it is in: what a session's `on_close` sends.
///
/// A closed session, or a stopped actor, that never sent it is dropped from its
/// topics anyway, at the next message that finds it gone or at the broadcaster's
/// sweep (every 10 s), whichever comes first; sending it frees the membership (and
/// an emptied topic's Redis subscription) at once.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct UnsubscribeAll {
    /// The member that leaves.
    pub member: Member,
}

impl UnsubscribeAll {
    /// `member` leaves every topic.
    pub fn new(member: impl Into<Member>) -> Self {
        UnsubscribeAll {
            member: member.into(),
        }
    }
}

/// Sends `message` to every member of `topic`: on this instance at once, and, with a
/// `RedisLink`, on every other instance through Redis.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Publish {
    /// The topic.
    pub topic: String,
    /// The message, as the clients receive it.
    pub message: String,
}

impl Publish {
    /// `message` to `topic`.
    pub fn new(topic: impl Into<String>, message: impl Into<String>) -> Self {
        Publish {
            topic: topic.into(),
            message: message.into(),
        }
    }
}

/// Asks a [`Broadcaster`](super::Broadcaster) for its [`BroadcasterStatus`].
#[derive(Message, Debug)]
#[rtype(result = "BroadcasterStatus")]
pub struct GetStatus;

/// What a [`Broadcaster`](super::Broadcaster) holds and has done since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcasterStatus {
    /// Topics with at least one member on this instance.
    pub topics: usize,
    /// Memberships on this instance (a member of two topics counts twice).
    pub members: usize,
    /// Whether the Redis subscriber connection is up: `None` without a
    /// `RedisLink`.
    pub redis_connected: Option<bool>,
    /// Messages published on this instance.
    pub published: u64,
    /// Messages received from other instances (and other Redis publishers).
    pub received: u64,
    /// Published messages that never reached Redis: queued while it was down, beyond
    /// the publish queue, or in a batch whose answer never came.
    pub not_relayed: u64,
    /// Times the subscriber connection was lost.
    pub redis_outages: u64,
    /// Messages this instance dropped instead of delivering: received from Redis
    /// while 1024 others waited for the broadcaster, or for an actor member whose
    /// mailbox was full (see [`Member::Actor`]).
    pub not_delivered: u64,
}
