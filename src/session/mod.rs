//! The session actor, the context handlers see, and the public session handle.

mod actor;
mod context;
mod handle;
mod messages;
mod outbox;
mod shared;

pub use actor::SessionActor;
pub(crate) use actor::{EmbeddedSession, SessionSetup};
pub use context::SessionContext;
pub use handle::{PreparedMessage, SessionHandle, broadcast};
pub(crate) use messages::{Attach, Expire, FromClient, Incoming, Shutdown};
pub(crate) use shared::{SessionId, SessionShared, SessionSlot};
