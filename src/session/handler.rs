//! What the application implements: the session's handler, an actor whose context is
//! the session.

use actix::Actor;

use super::SockJsContext;
use crate::vocabulary::{CloseReason, ConnectionInfo};

/// The application's side of a SockJS session: an actor whose context is the session.
///
/// One actor is made per session by the factory given to [`SockJs::new`](crate::SockJs::new)
/// and runs for as long as the session lives. Its context, [`SockJsContext`], is the
/// session: sends queued during one call (a method below, a message to the actor's
/// address, a timer) leave as a single `a[...]` frame when the call returns. Other
/// actors reach a session through its `Addr` (with the actor's own message types) or
/// through a [`SessionHandle`](crate::SessionHandle).
///
/// ```
/// use actix::Actor;
/// use actix_sockjs::{SockJsContext, SockJsHandler};
///
/// struct Echo;
///
/// impl Actor for Echo {
///     type Context = SockJsContext<Self>;
/// }
///
/// impl SockJsHandler for Echo {
///     fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) {
///         ctx.send(&msg);
///     }
/// }
/// ```
pub trait SockJsHandler: Actor<Context = SockJsContext<Self>> {
    /// The session has opened (its open frame is on its way to the client). To refuse
    /// it, call [`ctx.close(code, reason)`](SockJsContext::close) here: the client then
    /// gets the close frame right after the open frame, as the protocol's `/close`
    /// service does, and [`on_close`](Self::on_close) follows.
    fn on_open(&mut self, info: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        let _ = (info, ctx);
    }

    /// A message arrived from the client. It is exactly the string the client sent,
    /// with one exception a Rust `String` forces: a lone UTF-16 surrogate (half of
    /// an emoji cut off in JavaScript) arrives as U+FFFD.
    fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>);

    /// The session closed. Called exactly once for every session that was opened,
    /// whatever closed it, before the actor stops.
    fn on_close(&mut self, reason: &CloseReason, ctx: &mut SockJsContext<Self>) {
        let _ = (reason, ctx);
    }
}
