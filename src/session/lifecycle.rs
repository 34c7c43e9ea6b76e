//! What a session does with what it is asked: opening, handing client messages to its
//! handler, settling after each call, closing and ending. How receivers come and go,
//! and the heartbeat they get, is in `receivers`.

mod receivers;

use actix::ActorContext;

use super::context::SockJsContext;
use super::core::{Settle, State};
use super::handle::FromHandle;
use super::inbox::NextDelivery;
use super::messages::Command;
use super::pump::Heartbeat;
use super::shared::Written;
use crate::session::SockJsHandler;
use crate::vocabulary::CloseReason;

impl<A: SockJsHandler> SockJsContext<A> {
    /// After a call into the application (a handler method, a message, a timer):
    /// close if it asked to, else flush what it queued, and close the session as a
    /// slow consumer if its client leaves too much waiting.
    pub(crate) fn settle(&mut self, act: &mut A) {
        let Some(settle) = self.core.take_settle() else {
            return;
        };
        match settle {
            Settle::Close { code, reason } => {
                self.close_session(act, CloseReason::Server { code, reason });
            }
            Settle::Stop => self.close_session(act, CloseReason::go_away()),
            Settle::Flush { over_bound } => {
                if !over_bound {
                    self.flush(act);
                }
                self.check_backlog(act);
            }
        }
        if self.core.stop_requested() {
            self.end();
        }
        self.core.end_call();
    }

    fn check_backlog(&mut self, act: &mut A) {
        if self.core.over_backlog_bound() {
            self.core.stats().slow_consumer();
            self.close_session(act, CloseReason::SlowConsumer);
        }
    }

    /// Closes the session for `reason`: `on_close` runs, the attached receiver gets
    /// what was queued and then the close frame. A websocket session then ends; a
    /// registered one answers later requests with its close frame until it expires.
    pub(crate) fn close_session(&mut self, act: &mut A, reason: CloseReason) {
        let Some(was_open) = self.core.begin_close(&reason) else {
            return;
        };
        match reason {
            CloseReason::SlowConsumer => log::warn!(
                "session {} ({:?}) closed as a slow consumer: more than max_queued_bytes ({}) waited",
                self.core.id(),
                self.core.transport(),
                self.core.config().max_queued_bytes
            ),
            _ => log::debug!(
                "session {} ({:?}) closed: {:?}",
                self.core.id(),
                self.core.transport(),
                reason
            ),
        }
        if was_open {
            // The state is already Closed: what on_close queues is dropped, and a close
            // it asks for is moot.
            act.on_close(&reason, self);
        }
        let step = self.core.finish_close();
        self.follow(step, act);
        if !self.core.is_registered() {
            self.end();
        }
    }

    /// Ends the session: it takes no more commands (what still waits is answered as
    /// a closed session answers) and the actor stops.
    pub(crate) fn end(&mut self) {
        self.core.mark_ended();
        self.answer_left();
        if self.state() == actix::ActorState::Running {
            self.parts_stop();
        }
    }

    fn parts_stop(&mut self) {
        use actix::dev::AsyncContextParts;
        self.parts().stop();
    }

    /// Closes the inbox and answers what waited in it as an ended session would.
    pub(crate) fn answer_left(&mut self) {
        for command in self.core.close_inbox() {
            match command {
                Command::Attach(receiver) => self.core.answer_closed(*receiver),
                Command::Shutdown(guard) => drop(guard),
                _ => {}
            }
        }
    }

    /// Handles one command. Tells whether the session has ended.
    pub(crate) fn command(&mut self, command: Command, act: &mut A) -> bool {
        match command {
            Command::Attach(receiver) => self.attach(*receiver, act),
            Command::Message(msg) => {
                if self.core.state() == State::Open {
                    self.core.stats().packets_received(1);
                    act.on_message(msg, self);
                }
            }
            Command::Messages(messages) => self.receive(messages, act),
            Command::ClientClosed => self.close_session(act, CloseReason::ClientClosed),
            Command::Pong => self.core.pong_received(),
            Command::ConnectionGone => {
                self.close_session(act, CloseReason::Interrupted);
                self.end();
            }
            Command::FromHandle(deliver) => {
                match deliver {
                    FromHandle::Text(text) => self.core.queue_text(&text),
                    FromHandle::Prepared(msg) => self.core.queue_prepared(&msg),
                    FromHandle::Close { code, reason } => self.core.request_close(code, reason),
                    // settle() sees the overflow.
                    FromHandle::Overflow => self.core.note_overflow(),
                }
            }
            Command::Expire(deadline) => {
                // Expired only if nothing happened since the sweep looked, and nothing
                // waits: a request that got a command in first is served.
                if self.core.expire_if_idle(deadline) {
                    self.close_session(act, CloseReason::Timeout);
                    self.end();
                }
            }
            Command::Shutdown(guard) => {
                self.close_session(act, CloseReason::ServerShutdown);
                // Closed, and the close frame handed to the request or socket it has.
                drop(guard);
            }
        }
        self.settle(act);
        self.core.stop_requested() && self.state() != actix::ActorState::Running
    }

    /// Takes what handles sent (texts and prepared messages) without running the
    /// context, when that is all that woke the session (`transport::hosted`): each is
    /// queued as [`command`](Self::command) queues it, and the session settled as
    /// [`settle`](Self::settle) settles it, which needs no handler for an open
    /// websocket session that asked for nothing else, except that each frame goes
    /// to `out` (the connection running the session writes it at once) instead of
    /// the receiver's queue. Tells whether that was all; if not (anything else
    /// waits, or settling might need the handler: a close, the bound), the context
    /// must run, and its pump settles what was queued here and takes the rest.
    pub(crate) fn take_deliveries(&mut self, out: &mut dyn FnMut(Written<'_>)) -> bool {
        // The context's own flags are not read (they are cache lines a broadcast
        // would otherwise bring in for every member): the core knows whether the
        // context started and whether it waits, and a stop sets `stop_requested`.
        if !self.core.takes_deliveries_alone() {
            return false;
        }
        // One at a time, each settled before the next, as the pump does: each
        // leaves as a frame of its own, and the bound is checked after each.
        for _ in 0..super::pump::COMMANDS_PER_TURN {
            match self.core.next_delivery() {
                NextDelivery::Text(text) => self.core.queue_text(&text),
                NextDelivery::Prepared(msg) => self.core.queue_prepared(&msg),
                // Anything else (a close or overflow from a handle, the client's
                // messages, a receiver): the pump takes it.
                NextDelivery::Other => return false,
                NextDelivery::Empty => return true,
            }
            if self.core.is_closing() || self.core.settle_deliveries_into(out).is_none() {
                return false;
            }
            if self.core.over_bound_writing_through() {
                // The slow-consumer close needs the handler: the context's next settle.
                self.core.note_overflow();
                return false;
            }
            self.core.end_call();
        }
        // More than a turn's worth: the pump takes the rest.
        false
    }

    /// Hands messages from the client to the handler, in one call: everything the
    /// handler sends for them leaves as one frame.
    fn receive(&mut self, messages: Vec<String>, act: &mut A) {
        if self.core.state() != State::Open {
            return;
        }
        self.core.stats().packets_received(messages.len() as u64);
        for msg in messages {
            act.on_message(msg, self);
            if self.closing() {
                break;
            }
        }
    }

    /// The session has just opened: the open frame goes out, then `on_open` runs.
    pub(crate) fn opened(&mut self, act: &mut A) {
        if let Some(info) = self.core.take_info() {
            act.on_open(info, self);
        }
    }

    /// Schedules the heartbeat.
    pub(crate) fn start_heartbeat(&mut self) {
        if !self.core.is_raw() || self.core.config().websocket_ping {
            let every = self.core.config().heartbeat_delay;
            self.spawn_plain(Heartbeat::new(every));
        }
    }
}
