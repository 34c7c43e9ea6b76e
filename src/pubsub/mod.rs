//! Topics (rooms) across sessions, and across instances through Redis.
//!
//! A [`Broadcaster`] is an actor that keeps, for each topic, its members on this
//! instance: sessions ([`SessionHandle`](crate::SessionHandle)s) or actors of the
//! application (which receive [`TopicMessage`]s). Sessions and application actors
//! send it [`Subscribe`], [`Unsubscribe`], [`UnsubscribeAll`] and [`Publish`]; a
//! published message is encoded once and reaches every member of its topic.
//!
//! ```
//! use actix::prelude::*;
//! use actix_sockjs::pubsub::{Broadcaster, Publish, Subscribe, UnsubscribeAll};
//! use actix_sockjs::{CloseReason, ConnectionInfo, SockJs, SockJsContext, SockJsHandler};
//!
//! /// Every message goes to everyone in the room.
//! struct Member {
//!     rooms: Addr<Broadcaster>,
//! }
//!
//! impl Actor for Member {
//!     type Context = SockJsContext<Self>;
//! }
//!
//! impl SockJsHandler for Member {
//!     fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
//!         self.rooms.do_send(Subscribe::new("lobby", ctx.session_handle()));
//!     }
//!
//!     fn on_message(&mut self, msg: String, _: &mut SockJsContext<Self>) {
//!         self.rooms.do_send(Publish::new("lobby", msg));
//!     }
//!
//!     fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
//!         self.rooms.do_send(UnsubscribeAll::new(ctx.session_handle()));
//!     }
//! }
//!
//! # fn service() -> SockJs<Member> {
//! // In `main`, before `HttpServer::new`: one broadcaster for every worker.
//! let rooms = Broadcaster::new().start();
//! SockJs::new("/lobby", move || Member { rooms: rooms.clone() })
//! # }
//! ```
//!
//! # Across instances (feature `redis`)
//!
//! `Broadcaster::new().redis(RedisLink::new("redis://127.0.0.1:6379")?)` relays every
//! topic through Redis pub/sub, so rooms span every instance on that Redis (behind a
//! load balancer with sticky sessions: see `deploy/README.md`). Each instance holds
//! one subscriber connection, subscribed to exactly the topics that have members on
//! it (the first member subscribes, the last one out unsubscribes), and a few
//! publishing connections (`RedisLink::publish_connections`); never a connection
//! per session. A message is encoded once per instance.
//!
//! What is guaranteed:
//!
//! - **Once, in order.** A member receives a message at most once. Messages published
//!   to one topic through one broadcaster reach every member in the order they were
//!   published (a topic always publishes through the same connection, and each
//!   instance has one subscriber connection). Members on the publishing instance get
//!   it at once, without the round trip through Redis; the copy Redis sends back is
//!   recognised and skipped.
//! - **At most once across an outage.** When Redis is unreachable, every instance
//!   keeps serving its sessions: nothing panics, no session is closed, and messages
//!   still reach the members on the publishing instance. They do not reach other
//!   instances, then or later: messages published while the link is down are dropped
//!   for Redis (counted in [`BroadcasterStatus::not_relayed`]), and those published
//!   elsewhere while this instance's subscriber is disconnected are never seen here.
//!   The connections come back by themselves (with backoff: `RedisLink::reconnect_backoff`),
//!   the subscriber resubscribes to every current topic, and messages flow again.
//!   The outage and the reconnect are logged (`warn` and `info`).
//! - **From the subscription on.** A member receives what is published after its
//!   instance's subscription took effect: the first member of a topic on an instance
//!   may miss what is published in the round trip to Redis.
//!
//! Other Redis clients can publish to a topic too (`PUBLISH sockjs:lobby hello`): a
//! payload is delivered as it is, unless it starts with a NUL byte, which marks the
//! instances' own payloads (a NUL, a 16-byte instance id, then the text). Payloads
//! that are not UTF-8 are dropped.
//!
//! Memory, and a cluster busier than an instance: what waits for a session is
//! bounded by its [`max_queued_bytes`](crate::SockJsConfig::max_queued_bytes), what
//! waits for an actor member by its mailbox (see [`Member::Actor`]), and at most 1024
//! received messages wait for the broadcaster: an instance that cannot keep up with
//! the rate of its topics drops what does not fit, counted in
//! [`BroadcasterStatus::not_delivered`]. (The `redis` crate reads the subscriber
//! connection into a queue of its own as fast as Redis sends.) A broadcaster whose
//! addresses are all dropped stops within a second, with its Redis connections.
//!

mod broadcaster;
mod messages;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod relay;
mod topics;

pub use broadcaster::Broadcaster;
pub use messages::{
    BroadcasterStatus, GetStatus, Member, Publish, Subscribe, TopicMessage, Unsubscribe,
    UnsubscribeAll,
};
#[cfg(feature = "redis")]
pub use redis::{InvalidRedisUrl, RedisLink};
