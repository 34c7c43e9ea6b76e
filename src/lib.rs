//! A SockJS 0.3.3 server for actix-web.
//!
//! [SockJS](https://github.com/sockjs/sockjs-client) gives browsers a websocket-like
//! object that falls back to streaming and polling over plain HTTP where a websocket
//! cannot get through (old proxies, corporate firewalls, some load balancers). This
//! crate is the server side: mount a [`SockJs`] service under a prefix, implement
//! [`SockJsHandler`] on an actix actor whose context is the session
//! ([`SockJsContext`]), and reach sessions from anywhere through their actor's `Addr`
//! or through [`SessionHandle`]s.
//!
//! ```no_run
//! use actix_sockjs::{SockJsContext, SockJs, SockJsHandler};
//! use actix_web::{App, HttpServer};
//!
//! struct Echo;
//!
//! impl actix::Actor for Echo {
//!     type Context = SockJsContext<Self>;
//! }
//! impl SockJsHandler for Echo {
//!     fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
//!         session.send(&msg);
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let echo = SockJs::new("/echo", || Echo);
//!     HttpServer::new(move || App::new().service(echo.clone()))
//!         .h1_allow_half_closed(false)
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! # Shape
//!
//! Every session is an actor: the application's handler, whose context
//! ([`SockJsContext`]) owns the session's outgoing queue, its heartbeat and its state.
//! A session manager actor per service owns the session-id map and sweeps sessions
//! that had no request for `disconnect_delay`; it runs on an arbiter of its own, so it
//! outlives any worker of the server. Each transport request attaches to its
//! session as a short-lived receiver; only one at a time.
//!
//! # Rooms: actors that message sessions
//!
//! Other actors reach a session through its actor's address, with the application's
//! own message types; [`SockJs::session`] finds one by id. A room keeps its members'
//! `Recipient`s and sends each a line carrying one [`PreparedMessage`], so the frame is
//! encoded once for the whole room:
//!
//! ```no_run
//! use actix::{Actor, AsyncContext, Context, Handler, Message, Recipient};
//! use actix_sockjs::{CloseReason, ConnectionInfo, PreparedMessage, SockJs, SockJsContext, SockJsHandler};
//!
//! /// What a room sends its members.
//! #[derive(Message, Clone)]
//! #[rtype(result = "()")]
//! struct Line(PreparedMessage);
//!
//! /// What members send their room.
//! #[derive(Message)]
//! #[rtype(result = "()")]
//! enum ToRoom {
//!     Join(String, Recipient<Line>),
//!     Leave(String),
//!     Say(String),
//! }
//!
//! #[derive(Default)]
//! struct Room {
//!     members: std::collections::HashMap<String, Recipient<Line>>,
//! }
//!
//! impl Actor for Room {
//!     type Context = Context<Self>;
//! }
//!
//! impl Handler<ToRoom> for Room {
//!     type Result = ();
//!     fn handle(&mut self, msg: ToRoom, _: &mut Context<Self>) {
//!         match msg {
//!             ToRoom::Join(id, member) => drop(self.members.insert(id, member)),
//!             ToRoom::Leave(id) => drop(self.members.remove(&id)),
//!             ToRoom::Say(text) => {
//!                 let line = Line(PreparedMessage::new(text));
//!                 self.members.values().for_each(|m| m.do_send(line.clone()));
//!             }
//!         }
//!     }
//! }
//!
//! /// One session: an actor whose context is the session.
//! struct Member {
//!     room: actix::Addr<Room>,
//! }
//!
//! impl Actor for Member {
//!     type Context = SockJsContext<Self>;
//! }
//!
//! impl SockJsHandler for Member {
//!     fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
//!         let me = ctx.address().recipient();
//!         self.room.do_send(ToRoom::Join(ctx.id().to_owned(), me));
//!     }
//!     fn on_message(&mut self, msg: String, _: &mut SockJsContext<Self>) {
//!         self.room.do_send(ToRoom::Say(msg));
//!     }
//!     fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
//!         self.room.do_send(ToRoom::Leave(ctx.id().to_owned()));
//!     }
//! }
//!
//! /// The room's lines reach the session as the member's own message type.
//! impl Handler<Line> for Member {
//!     type Result = ();
//!     fn handle(&mut self, Line(line): Line, ctx: &mut SockJsContext<Self>) {
//!         ctx.send_prepared(&line);
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let room = Room::default().start();
//!     let chat = SockJs::new("/chat", move || Member { room: room.clone() });
//!     actix_web::HttpServer::new(move || actix_web::App::new().service(chat.clone()))
//!         .h1_allow_half_closed(false)
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! Without actors of your own, [`SessionHandle`]s (cloneable, `Send`, bounded by
//! `max_queued_bytes`) and [`broadcast`] do the same.
//!
//! # Topics, across instances
//!
//! [`pubsub::Broadcaster`] keeps topics and their members (sessions or actors) for
//! you: `Subscribe`, `Publish`, `UnsubscribeAll`. With the `redis` feature it relays
//! every topic through Redis pub/sub, so rooms span every instance behind a load
//! balancer; the [`pubsub`] module says what is guaranteed, outages included.
//!
//! # Channels
//!
//! [`multiplex`] runs many named channels over one session, wire-compatible with the
//! `websocket-multiplex` browser client.
//!
//! # Layers
//!
//! The modules form layers, and each uses only the layers below it (never one above
//! it, so no two modules depend on each other; `scripts/check-layers` reads this
//! list and fails CI on an edge that points up or a cycle). Top to bottom:
//!
//! ```text
//! service                      | the actix-web service: routes a request to its transport
//! transport                    | one file per SockJS transport, the websocket connection
//! manager multiplex pubsub     | a service's sessions (id map, manager actor, sweeps);
//!                              | channels over a session; topics and their members
//! session                      | the session actor, its context, the SockJsHandler trait
//! web                          | what every route shares: headers, errors, /info, iframe
//! receiver                     | a session's way to its client: the queue, the stall watch
//! config stats error shutdown  | settings (and the origin allowlist), counters, errors,
//!                              | graceful shutdown
//! vocabulary                   | Transport, CloseReason, ConnectionInfo
//! protocol                     | SockJS frames and encodings: pure, no I/O
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]

mod config;
mod error;
mod manager;
pub mod multiplex;
#[cfg(test)]
mod proptests;
pub mod protocol;
pub mod pubsub;
mod receiver;
mod service;
mod session;
mod shutdown;
mod stats;
#[cfg(test)]
mod test_waker;
mod transport;
mod vocabulary;
mod web;

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub use config::origin::{InvalidOriginPattern, OriginPattern};
pub use config::{PermessageDeflate, SockJsConfig};
pub use error::Error;
pub use service::SockJs;
pub use session::{PreparedMessage, SessionHandle, SockJsContext, SockJsHandler, broadcast};
pub use shutdown::{GracefulShutdown, close_all_sessions};
pub use stats::{Stats, StatsSnapshot};
pub use vocabulary::{CloseReason, ConnectionInfo, Transport};
pub use web::socket_options::socket_options;
pub use web::stats_endpoint::StatsEndpoint;
