//! What a graceful shutdown reaches in a service: its registered sessions, and its
//! websocket sessions, listed here while their connections live.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix::Addr;

use super::Shared;
use crate::handler::SockJsHandler;
use crate::session::{EmbeddedSession, SessionActor, Shutdown};
use crate::shutdown::{Countdown, ShutDown};

impl<H: SockJsHandler> ShutDown for Shared<H> {
    fn shut_down(&self, countdown: &Countdown) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.registry
            .for_each(|entry| entry.addr.do_send(Shutdown(Some(countdown.guard()))));
        for addr in self.websockets.lock().values() {
            addr.do_send(Shutdown(Some(countdown.guard())));
        }
    }
}

/// A websocket session made for its connection: its address, the future that runs
/// it, and its place in the service's list.
pub(crate) type WebsocketSession<H> = (
    Addr<SessionActor<H>>,
    EmbeddedSession<H>,
    WebsocketListing<H>,
);

/// A websocket session's place in its service's list, given up with the connection.
pub(crate) struct WebsocketListing<H: SockJsHandler> {
    shared: Arc<Shared<H>>,
    key: u64,
}

impl<H: SockJsHandler> WebsocketListing<H> {
    pub(super) fn new(shared: &Arc<Shared<H>>, addr: Addr<SessionActor<H>>) -> Self {
        let key = shared.next_websocket.fetch_add(1, Ordering::Relaxed);
        shared.websockets.lock().insert(key, addr);
        WebsocketListing {
            shared: shared.clone(),
            key,
        }
    }
}

impl<H: SockJsHandler> Drop for WebsocketListing<H> {
    fn drop(&mut self) {
        self.shared.websockets.lock().remove(&self.key);
    }
}
