//! Many named channels over one SockJS session, wire-compatible with the
//! `websocket-multiplex` 0.1.0 client (`multiplex_client.js` on npm).
//!
//! Register channels by name, each with its own [`ChannelHandler`], and mount the
//! registry as a service. In the browser, wrap the SockJS object in a
//! `WebSocketMultiplex` and ask it for channels by the same names: each behaves like a
//! websocket of its own, and on the server each subscription gets a handler value
//! and [`ChannelHandle`]s that work like a session's.
//!
//! ```no_run
//! use actix_sockjs::SockJs;
//! use actix_sockjs::multiplex::{ChannelContext, ChannelHandler, Multiplex};
//! use actix_web::{App, HttpServer};
//!
//! struct Shout;
//!
//! impl ChannelHandler for Shout {
//!     fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
//!         channel.send(msg.to_uppercase());
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let channels = Multiplex::new().channel("shout", || Shout);
//!     let service = SockJs::new("/multiplex", move || channels.session());
//!     HttpServer::new(move || App::new().service(service.clone()))
//!         .h1_allow_half_closed(false)
//!         .bind(("127.0.0.1", 8080))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! The wire format is described in [`crate::protocol::ChannelMessage`].

mod channel;
mod handle;
mod session;

pub use channel::{ChannelCloseReason, ChannelContext, ChannelHandler};
pub use handle::{ChannelHandle, broadcast_channel};
pub use session::{Multiplex, MultiplexSession};
