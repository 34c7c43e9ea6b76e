//! A session: its actor context (the handler's `SockJsContext`), its inbox, its state
//! and the public handle.
//!
//! # How a session is reached
//!
//! A session is an actix actor, and everything that reaches it is one of two kinds
//! of message, taken by the one task that runs it:
//!
//! - **The application's messages** (its own types sent to the actor's `Addr` or a
//!   `Recipient` of it, and a multiplexed channel's sends, which are such messages)
//!   arrive in the actor's mailbox, actix's own queue: `Addr<A>` is actix's type,
//!   and a send to it reaches that queue without passing through any code of ours.
//! - **What the crate asks** (a transport request attaching, the client's messages,
//!   the manager's expiry and shutdown, [`SessionHandle`] sends and broadcasts,
//!   topic deliveries to session members) goes through the session's inbox
//!   (`inbox`): a short-locked queue that stores commands inline, and that closes
//!   atomically with a check that nothing waits, which is what makes expiry
//!   race-free.
//!
//! **One bound.** Everything that waits for the client counts against
//! `max_queued_bytes`, and one check (`SockJsContext::check_backlog`, after every
//! call into the application) closes the session as a slow consumer past it: the
//! bytes sent through handles and not yet handled (counted when sent, so a handle
//! is refused at the bound even before the session runs), the outgoing queue, and
//! what its receiver holds but the socket has not taken. An application message
//! counts for what handling it queues. That bounds it too, because a session is
//! never kept from running: while a message waits in its mailbox, the session
//! handles it at its thread's next turn, and what it queues is then counted.
//!
//! **One waker.** A websocket's session, and a session made by a streaming
//! response, run inside their connection's task (`transport::hosted`): a client
//! message is handled and its answer written in one poll. Their waker is the
//! session's shared state (`shared`): it notes that the session has work and wakes
//! the connection. actix-http stops polling a connection whose write buffer is
//! full, so a session woken while its connection's last poll ended by handing out
//! bytes is handed off at once: its thread's watch task (`transport::stall`) moves
//! it to a task of its own, where it goes on exactly where it was, and the
//! connection keeps reading the client's frames into the inbox and writing what the
//! session queues. A slow or stalled client therefore never holds its session
//! still; its session closes as a slow consumer at the bound, and a sender never
//! waits for it.
//!
//! # Where things live
//!
//! [`SockJsContext`] is one type split by concern over three files, each an
//! `impl` block of its own:
//!
//! - `context`: what the application calls (`send`, `close`, `session_handle`, ...)
//!   and what makes it an actix context (`AsyncContext`, envelopes that settle the
//!   session after each message);
//! - `lifecycle`: what the session does with what it is asked: opening, handing
//!   client messages to the handler, settling after each call, closing, ending;
//! - `lifecycle/receivers`: receivers coming and going, and the heartbeat.
//!
//! Its state is `core::SessionCore`, whose receiver decisions are a pure state
//! machine in `core::machine` (unit-tested without actors); its fields change only
//! through its own methods. The rest: `inbox` (the
//! crate's queue into the session), `outbox` (frames waiting for a receiver),
//! `pump` (the futures that run inside the context), `run` (the actor's task and
//! mailbox), `shared` (what handles and the manager share with the session),
//! `handle` ([`SessionHandle`], [`PreparedMessage`]), `messages` (the inbox's
//! commands) and `handler` ([`SockJsHandler`]).

mod context;
mod core;
mod handle;
mod handler;
mod inbox;
mod lifecycle;
mod messages;
mod outbox;
mod pump;
mod run;
mod shared;

pub use context::SockJsContext;
pub(crate) use core::{Deregister, SessionSetup, WriteThrough};
pub use handle::{PreparedMessage, SessionHandle, broadcast};
pub use handler::SockJsHandler;
pub(crate) use inbox::{InboxTx, inbox};
pub(crate) use messages::Command;
pub(crate) use run::{SessionFuture, SessionMailbox, ToHost};
pub(crate) use shared::{SessionId, SessionShared, SessionSlot, Written};
