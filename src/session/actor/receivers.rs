//! The receivers of a session: attaching one (or answering it busy or closed), writing
//! frames to it, and noticing when its request is complete or its client gone; and
//! the heartbeat the attached receiver gets.

use std::time::Instant;

use actix::{ActorContext, ActorFutureExt, AsyncContext, Context, SpawnHandle, WrapFuture};

use super::{SessionActor, State};
use crate::handler::{CloseReason, SockJsHandler};
use crate::protocol::{CloseFrame, Frame};
use crate::transport::{Delivery, Receiver};

/// The receiver currently attached, and what the session knows of it.
pub(super) struct Attached {
    pub(super) receiver: Receiver,
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

impl<H: SockJsHandler> SessionActor<H> {
    pub(super) fn attach(&mut self, mut receiver: Receiver, ctx: &mut Context<Self>) {
        if self.core.state == State::Closed {
            // A closed session answers every receiver with its close frame until it
            // expires (after what was still queued, if anything).
            self.core.shared.set_detached(Instant::now());
            if let Some(frame) = self.core.outbox.take_frame() {
                if receiver.send_frame(frame) != Delivery::Open {
                    receiver.finish(None);
                    return;
                }
            }
            let close = self
                .core
                .close
                .clone()
                .unwrap_or_else(|| CloseReason::Timeout.close_frame());
            receiver.send_frame(close.to_frame());
            receiver.finish(Some(&close));
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
            self.receiver_ended(ctx);
            self.attach(receiver, ctx);
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
            ctx.spawn(
                receiver
                    .closed()
                    .into_actor(self)
                    .map(move |(), act, ctx| act.receiver_closed(generation, ctx)),
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
            self.open(ctx);
        } else {
            self.flush(ctx);
        }
    }

    pub(super) fn open(&mut self, ctx: &mut Context<Self>) {
        self.core.state = State::Open;
        self.core.stats.session_opened(self.core.transport);
        log::debug!(
            "session {} opened ({:?})",
            self.core.id(),
            self.core.transport
        );
        // The open frame goes out before the handler runs, as the protocol requires even
        // of a session the handler closes at once (`/close`: `o`, then `c[3000,...]`).
        if !self.is_raw() {
            self.deliver(Frame::open(), ctx);
        }
        if self.core.state != State::Open {
            // The client vanished before the open frame reached it.
            return;
        }
        if let Some(info) = self.core.info.take() {
            self.call_handler(ctx, |handler, session| handler.on_open(*info, session));
        }
    }

    /// Writes one frame to the attached receiver, if any, and follows up on it.
    pub(super) fn deliver(&mut self, frame: Frame, ctx: &mut Context<Self>) -> Delivery {
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
            Delivery::Complete => self.detach(None, ctx),
            Delivery::Gone => self.receiver_lost(ctx),
        }
        delivery
    }

    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.core.receiver.as_ref().is_none_or(|a| a.draining) {
            return;
        }
        if self.is_raw() {
            while let Some(text) = self.core.outbox.pop_raw() {
                let Some(attached) = self.core.receiver.as_mut() else {
                    return;
                };
                if attached.receiver.send_raw(text) == Delivery::Gone {
                    self.receiver_lost(ctx);
                    return;
                }
            }
        } else if let Some(frame) = self.core.outbox.take_frame() {
            self.deliver(frame, ctx);
        }
    }

    /// Ends the attached receiver's request normally.
    pub(super) fn detach(&mut self, close: Option<&CloseFrame>, ctx: &mut Context<Self>) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                ctx.cancel_future(watch);
            }
            attached.receiver.finish(close);
            self.core.shared.set_detached(Instant::now());
        }
    }

    /// The attached receiver's client went away before its request was complete.
    pub(super) fn receiver_lost(&mut self, ctx: &mut Context<Self>) {
        if let Some(attached) = self.core.receiver.take() {
            if let Some(watch) = attached.watch {
                ctx.cancel_future(watch);
            }
            self.core.shared.set_detached(Instant::now());
        }
        self.close(CloseReason::Interrupted, ctx);
        if !self.core.registered {
            ctx.stop();
        }
    }

    pub(super) fn receiver_closed(&mut self, generation: u64, ctx: &mut Context<Self>) {
        let current = self.core.receiver.as_ref().map(|a| a.generation);
        if current == Some(generation) {
            self.receiver_ended(ctx);
        }
    }

    /// The attached receiver's request is over: a streaming response that was
    /// draining and was read to its end detaches normally (what is queued waits for
    /// the next request); anything else means the client went away.
    pub(super) fn receiver_ended(&mut self, ctx: &mut Context<Self>) {
        let drained = self
            .core
            .receiver
            .as_ref()
            .is_some_and(|a| a.draining && !a.receiver.left_items());
        if drained {
            self.detach(None, ctx);
        } else {
            self.receiver_lost(ctx);
        }
    }

    /// Every `heartbeat_delay`: an `h` frame for the attached receiver, and for a
    /// websocket a ping, unless the previous one is still unanswered: then the client
    /// is gone (its network, its machine) and the session is interrupted.
    pub(super) fn heartbeat(&mut self, ctx: &mut Context<Self>) {
        if self.core.state != State::Open {
            return;
        }
        let Some(attached) = self.core.receiver.as_mut() else {
            return;
        };
        if self.core.config.websocket_ping && attached.receiver.is_websocket() {
            if self.core.awaiting_pong {
                self.close(CloseReason::Interrupted, ctx);
                return;
            }
            attached.receiver.send_ping();
            self.core.awaiting_pong = true;
        }
        if !self.is_raw() {
            self.deliver(Frame::heartbeat(), ctx);
        }
    }
}
