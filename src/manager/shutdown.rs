//! What a graceful shutdown reaches in a service: every session in its map, websocket
//! sessions included.

use std::sync::atomic::Ordering;

use super::SessionsState;
use crate::session::Command;
use crate::session::SockJsHandler;
use crate::shutdown::{Countdown, InFlightCount, ShutDown};

impl<H: SockJsHandler> ShutDown for SessionsState<H> {
    fn shut_down(&self, countdown: &Countdown) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.registry.for_each(|entry| {
            // A session that already ended has nothing to close.
            let _ = entry.inbox.send(Command::Shutdown(Some(countdown.guard())));
        });
    }

    fn in_flight(&self) -> &InFlightCount {
        &self.in_flight
    }
}
