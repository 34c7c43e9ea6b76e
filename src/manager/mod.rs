//! The SessionManager side of a service: the actor that owns the session-id map and
//! sweeps it (`actor`), the map requests read (`registry`), and what requests ask of
//! a service's sessions (`sessions`: find, create, attach, hand messages to).
//!
//! Every insertion and removal is a message to the manager, so two requests for one
//! new id get one session, and a session leaves the map only through it. Requests read
//! the map without a round trip (a sharded read view), because a look-up sits on
//! every polling request; they never act on a session the map no longer holds: a
//! session that ended (expired, stopped) refuses every command, and the request then
//! asks the manager, as for an unknown id.
//!
//! The manager and the service's stats collector run on an arbiter of their own
//! (`arbiter`), not on the worker that served the first request, so they outlive any
//! worker.

mod actor;
mod arbiter;
mod registry;
mod sessions;
mod shutdown;

pub(crate) use sessions::{Sessions, SessionsState};
