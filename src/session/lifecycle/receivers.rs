//! The receivers of a session: attaching one (or answering it busy or closed), writing
//! frames to it, and noticing when its request is complete or its client gone; and
//! the heartbeat the attached receiver gets.

use std::time::Instant;

use actix::{ActorFutureExt, AsyncContext, SpawnHandle};

use crate::handler::{CloseReason, SockJsHandler};
use crate::protocol::{CloseFrame, Frame};
use crate::session::context::SockJsContext;
use crate::session::core::State;
use crate::transport::{Delivery, Receiver};

/// The receiver currently attached, and what the session knows of it.
pub(crate) struct Attached {
    pub(crate) receiver: Receiver,
    generation: u64,
    /// Notices the request going away. A websocket needs none: its session runs
    /// inside the connection and is stopped with it.
    watch: Option<SpawnHandle>,
    /// A streaming response that has had its `response_limit` of bytes: it gets
    /// nothing more, and it stays attached until its client has read what it was
    /// given (so `response_limit` counts bytes written, and a client that stops
    /// reading keeps its session busy instead of opening new responses to fill).
    draining: bool,
}

impl<A: SockJsHandler> SockJsContext<A> {
    /// Answers `receiver` as a closed session does: what was still queued, if
    /// anything, then the close frame.
    pub(crate) fn answer_closed(&mut self, mut receiver: Receiver) {
        if let Some(frame) = self.core.outbox.take_frame() {
            if receiver.send_frame(frame) != Delivery::Open {
                receiver.finish(None);
                return;
            }
        }
        let close = self.core.close.clone().unwrap_or_else(|| {
            CloseReason::Server {
                code: 3000,
                reason: "Go away!".into(),
            }
            .close_frame()
        });
        if !self.core.is_raw() {
            receiver.send_frame(close.to_frame());
        }
        receiver.finish(Some(&close));
    }

    pub(crate) fn attach(&mut self, mut receiver: Receiver, act: &mut A) {
        if self.core.state == State::Closed {
            // A closed session answers every receiver with its close frame until it
            // expires.
            self.core.shared.set_detached(Instant::now());
            self.answer_closed(receiver);
            return;
        }
        if self
            .core
            .receiver
            .as_ref()
            .is_some_and(|a| a.receiver.is_gone())
        {
            // The attached receiver's request is over and the watch has not run yet:
            // a drained streaming response makes room; a client that went away
            // interrupts the session (1002), which is then not busy (2010).
            self.receiver_ended(act);
            self.attach(receiver, act);
            return;
        }
        if self.core.receiver.is_some() {
            let busy = CloseFrame {
                code: 2010,
                reason: "Another connection still open".into(),
            };
            receiver.send_frame(busy.to_frame());
            receiver.finish(Some(&busy));
            return;
        }
        self.core.generation += 1;
        let generation = self.core.generation;
        let watch = (!receiver.is_websocket()).then(|| {
            self.spawn(
                actix::fut::wrap_future::<_, A>(receiver.closed())
                    .map(move |(), act, ctx| ctx.receiver_closed(generation, act)),
            )
        });
        self.core.receiver = Some(Attached {
            receiver,
            generation,
            watch,
            draining: false,
        });
        self.core.shared.set_attached();
        if self.core.state == State::New {
            self.open(act);
        } else {
            self.flush(act);
        }
    }

    fn open(&mut self, act: &mut A) {
        self.core.state = State::Open;
        self.core.stats.session_opened(self.core.transport);
        log::debug!(
            "session {} opened ({:?})",
            self.core.id(),
            self.core.transport
        );
        // The open frame goes out before the handler runs, as the protocol requires even
        // of a session the handler closes at once (`/close`: `o`, then `c[3000,...]`).
        if !self.core.is_raw() {
            self.deliver(Frame::open(), act);
        }
        if self.core.state != State::Open {
            // The client vanished before the open frame reached it.
            return;
        }
        self.opened(act);
    }

    /// Writes one frame to the attached receiver, if any, and follows up on it.
    pub(crate) fn deliver(&mut self, frame: Frame, act: &mut A) -> Delivery {
        let Some(attached) = self.core.receiver.as_mut() else {
            return Delivery::Gone;
        };
        if attached.draining {
            return Delivery::Complete;
        }
        let delivery = attached.receiver.send_frame(frame);
        match delivery {
            Delivery::Open => {}
            Delivery::Complete if attached.receiver.is_streaming() => {
                attached.receiver.end();
                attached.draining = true;
            }
            Delivery::Complete => self.detach(None),
            Delivery::Gone => self.receiver_lost(act),
        }
        delivery
    }

    pub(crate) fn flush(&mut self, act: &mut A) {
        if self.core.receiver.as_ref().is_none_or(|a| a.draining) {
            return;
        }
        if self.core.is_raw() {
            while let Some(text) = self.core.outbox.pop_raw() {
                let Some(attached) = self.core.receiver.as_mut() else {
                    return;
                };
                if attached.receiver.send_raw(text) == Delivery::Gone {
                    self.receiver_lost(act);
                    return;
                }
            }
        } else if let Some(frame) = self.core.outbox.take_frame() {
            self.deliver(frame, act);
        }
    }

    /// Ends the attached receiver's request normally.
    pub(crate) fn detach(&mut self, close: Option<&CloseFrame>) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                self.cancel_future(watch);
            }
            attached.receiver.finish(close);
            self.core.shared.set_detached(Instant::now());
        }
    }

    /// The attached receiver's client went away before its request was complete.
    pub(crate) fn receiver_lost(&mut self, act: &mut A) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                self.cancel_future(watch);
            }
            self.core.shared.set_detached(Instant::now());
        }
        self.close_session(act, CloseReason::Interrupted);
        if !self.core.registered {
            self.end();
        }
    }

    fn receiver_closed(&mut self, generation: u64, act: &mut A) {
        let current = self.core.receiver.as_ref().map(|a| a.generation);
        if current == Some(generation) {
            self.receiver_ended(act);
        }
    }

    /// The attached receiver's request is over: a streaming response that was
    /// draining and was read to its end detaches normally (what is queued waits for
    /// the next request); anything else means the client went away.
    fn receiver_ended(&mut self, act: &mut A) {
        let drained = self
            .core
            .receiver
            .as_ref()
            .is_some_and(|a| a.draining && !a.receiver.left_items());
        if drained {
            self.detach(None);
        } else {
            self.receiver_lost(act);
        }
    }

    /// Every `heartbeat_delay`: an `h` frame for the attached receiver, and for a
    /// websocket a ping, unless the previous one is still unanswered: then the client
    /// is gone (its network, its machine) and the session is interrupted.
    pub(crate) fn heartbeat(&mut self, act: &mut A) {
        if self.core.state != State::Open {
            return;
        }
        let Some(attached) = self.core.receiver.as_mut() else {
            return;
        };
        if self.core.config.websocket_ping && attached.receiver.is_websocket() {
            if self.core.awaiting_pong {
                self.close_session(act, CloseReason::Interrupted);
                return;
            }
            attached.receiver.send_ping();
            self.core.awaiting_pong = true;
        }
        if !self.core.is_raw() {
            self.deliver(Frame::heartbeat(), act);
        }
    }
}
