//! A session: its actor context (the handler's `SockJsContext`), its inbox, its state
//! and the public handle.

mod context;
mod core;
mod handle;
mod inbox;
mod lifecycle;
mod machine;
mod messages;
mod outbox;
mod pump;
mod run;
mod shared;

pub use context::SockJsContext;
pub(crate) use core::{Deregister, SessionSetup};
pub use handle::{PreparedMessage, SessionHandle, broadcast};
pub(crate) use inbox::{InboxTx, inbox};
pub(crate) use messages::Command;
pub(crate) use run::{SessionFuture, SessionMailbox};
pub(crate) use shared::{SessionId, SessionShared, SessionSlot};
