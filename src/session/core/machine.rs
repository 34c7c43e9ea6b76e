//! The session's state machine as plain code: admitting receivers (one at a time,
//! 2010 for a second, the close frame for a closed session), writing frames to the
//! attached one, letting it go, and the order of a close. No actor and no runtime:
//! the actor layer (`lifecycle`) runs the handler and acts on the [`Step`] each
//! transition returns; the tests below drive it directly.

use std::time::Instant;

use actix::SpawnHandle;

use super::{SessionCore, State};
use crate::protocol::{CloseFrame, Frame};
use crate::receiver::{Outbound, Receiver, WriteOutcome};
use crate::session::shared::Written;
use crate::vocabulary::CloseReason;

/// What a websocket connection running the session may write from the session's
/// inbox without the session: the prepared messages its handles sent, taken in
/// order while nothing else comes first. Known each time the session has run, and
/// good until it runs again: what it depends on (the context started and waits for
/// nothing, no close or stop asked, nothing queued, a websocket attached) changes
/// only when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteThrough {
    /// Nothing: the session must run.
    No,
    /// Each prepared message's frame (a SockJS websocket).
    Frames,
    /// Each prepared message's text (the raw websocket).
    Texts,
}

/// The receiver currently attached, and what the session knows of it.
pub(crate) struct Attached {
    pub(crate) receiver: Receiver,
    pub(crate) generation: u32,
    /// Notices the request going away (set by the actor layer). A websocket needs
    /// none: its session runs inside the connection and ends with it.
    pub(crate) watch: Option<SpawnHandle>,
    /// A streaming response that has had its `response_limit` of bytes: it gets
    /// nothing more, and it stays attached until its client has read what it was
    /// given (so `response_limit` counts bytes written, and a client that stops
    /// reading keeps its session busy instead of opening new responses to fill).
    pub(crate) draining: bool,
}

/// What became of a receiver that asked to attach.
pub(crate) enum Admission {
    /// Answered at once: the session is closed (what was queued, then the close
    /// frame) or busy (2010).
    Answered,
    /// The attached receiver's request is over and nobody noticed yet: let it go
    /// first ([`SessionCore::ended_as`]), then admit this one again.
    CurrentEnded(Receiver),
    /// Attached. `first`: the session opens now (the open frame goes out, then
    /// `on_open`); otherwise what is queued is flushed to it.
    Attached { first: bool, generation: u32 },
}

/// What the actor layer must do after a transition.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing more.
    Done,
    /// The receiver was let go normally: cancel its request watch.
    Released(Option<SpawnHandle>),
    /// The receiver's client went away before its request was complete: cancel
    /// the watch and interrupt the session (1002).
    Lost(Option<SpawnHandle>),
}

/// How an attached receiver's request ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EndedAs {
    /// A draining streaming response read to its end: detach normally.
    Drained,
    /// Anything else: the client went away.
    Lost,
}

/// What the heartbeat does.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Beat {
    /// Nothing attached, or the session is not open.
    Idle,
    /// The previous websocket ping is unanswered: the client is gone.
    Unanswered,
    /// A heartbeat (and a ping) went out.
    Sent(Step),
}

/// The frame a receiver gets when another one is attached.
fn busy() -> CloseFrame {
    CloseFrame {
        code: 2010,
        reason: "Another connection still open".into(),
    }
}

impl SessionCore {
    /// A receiver asks to attach.
    pub(crate) fn admit(&mut self, mut receiver: Receiver) -> Admission {
        if self.state == State::Closed {
            // A closed session answers every receiver with its close frame until it
            // ends.
            self.shared().set_detached(Instant::now());
            self.answer_closed(receiver);
            return Admission::Answered;
        }
        if self.receiver.as_ref().is_some_and(|a| a.receiver.is_gone()) {
            // A drained streaming response makes room; a client that went away
            // interrupts the session (1002), which is then not busy (2010).
            return Admission::CurrentEnded(receiver);
        }
        if self.receiver.is_some() {
            let busy = busy();
            receiver.send_frame(busy.to_frame());
            receiver.finish(Some(&busy));
            return Admission::Answered;
        }
        self.generation = self.generation.wrapping_add(1);
        self.receiver = Some(Attached {
            receiver,
            generation: self.generation,
            watch: None,
            draining: false,
        });
        self.shared().set_attached();
        let first = self.state == State::New;
        if first {
            self.state = State::Open;
        }
        Admission::Attached {
            first,
            generation: self.generation,
        }
    }

    /// Answers `receiver` as a closed session does: what was still queued, if
    /// anything, then the close frame.
    pub(crate) fn answer_closed(&mut self, mut receiver: Receiver) {
        if let Some(frame) = self.outbox.take_frame() {
            if receiver.send_frame(frame) != WriteOutcome::Open {
                receiver.finish(None);
                return;
            }
        }
        let close = self
            .close
            .as_deref()
            .cloned()
            .unwrap_or_else(|| CloseReason::go_away().close_frame());
        if !self.is_raw() {
            receiver.send_frame(close.to_frame());
        }
        receiver.finish(Some(&close));
    }

    /// Writes one frame to the attached receiver, if any.
    pub(crate) fn write_frame(&mut self, frame: Frame) -> Step {
        let Some(attached) = self.receiver.as_mut() else {
            return Step::Done;
        };
        if attached.draining {
            return Step::Done;
        }
        match attached.receiver.send_frame(frame) {
            WriteOutcome::Open => Step::Done,
            WriteOutcome::Complete if attached.receiver.is_streaming() => {
                attached.receiver.end();
                attached.draining = true;
                Step::Done
            }
            WriteOutcome::Complete => Step::Released(self.detach_receiver(None)),
            WriteOutcome::Gone => Step::Lost(self.lose_receiver()),
        }
    }

    /// Writes what is queued to the attached receiver: one frame, or the raw
    /// websocket's messages one by one.
    pub(crate) fn flush_outbox(&mut self) -> Step {
        if self.receiver.as_ref().is_none_or(|a| a.draining) {
            return Step::Done;
        }
        if self.is_raw() {
            while let Some(text) = self.outbox.pop_raw() {
                let Some(attached) = self.receiver.as_mut() else {
                    return Step::Done;
                };
                if attached.receiver.send_raw(text) == WriteOutcome::Gone {
                    return Step::Lost(self.lose_receiver());
                }
            }
            Step::Done
        } else if let Some(frame) = self.outbox.take_frame() {
            self.write_frame(frame)
        } else {
            Step::Done
        }
    }

    /// Settles a session that only queued what its handles sent, without its
    /// handler: what `settle` does then (flush to the attached websocket), when it
    /// cannot need the handler, except that the frame goes to `out` instead of the
    /// receiver's queue. For the websocket connection that runs the session: it
    /// writes what `out` is given at once, and empties the queue after every run,
    /// so nothing waits in the queue to go before it. `None`, and nothing done, when
    /// settling might need the handler: a close or stop was asked, the call went
    /// over the bound, or the receiver is not a websocket.
    pub(crate) fn settle_deliveries_into(
        &mut self,
        out: &mut dyn FnMut(Written<'_>),
    ) -> Option<()> {
        if self.close_requested.is_some() || self.stop_requested || self.over_bound {
            return None;
        }
        let raw = self.is_raw();
        let attached = match &self.receiver {
            Some(a) if a.receiver.is_websocket() && !a.draining => a,
            _ => return None,
        };
        if self.dirty {
            if raw {
                while let Some(text) = self.outbox.pop_raw() {
                    out(Written::Text(&text));
                }
            } else if let Some(frame) = self.outbox.take_frame() {
                // A websocket's writer makes every frame one text message.
                if let Some(Outbound::Text(text)) = attached.receiver.encode_frame(frame) {
                    out(Written::Text(&text));
                }
            }
            self.dirty = false;
        }
        Some(())
    }

    /// Whether the session is open and may take what handles sent without its
    /// handler ([`settle_deliveries_into`](Self::settle_deliveries_into)): its
    /// context started and waits for no future of the application's (the context
    /// would take no command then), nothing asked of it since it last settled, and
    /// a websocket attached. Whether that websocket is still there is the caller's
    /// to know (its connection is the caller), so the queue is not looked at.
    pub(crate) fn takes_deliveries_alone(&self) -> bool {
        self.started
            && self.waits == 0
            && self.state == State::Open
            && !self.dirty
            && self.close_requested.is_none()
            && !self.stop_requested
            && !self.over_bound
            && self
                .receiver
                .as_ref()
                .is_some_and(|a| a.receiver.is_websocket())
    }

    /// What the connection running the session may write straight from its inbox
    /// until the context next runs (see [`WriteThrough`]): while the session takes
    /// deliveries alone with nothing queued, every prepared message as it is.
    pub(crate) fn write_through(&self) -> WriteThrough {
        if !self.takes_deliveries_alone() {
            WriteThrough::No
        } else if self.is_raw() {
            WriteThrough::Texts
        } else {
            WriteThrough::Frames
        }
    }

    /// Ends the attached receiver's request normally (a websocket with `close`);
    /// gives back its watch to cancel.
    pub(crate) fn detach_receiver(&mut self, close: Option<&CloseFrame>) -> Option<SpawnHandle> {
        let attached = self.receiver.take()?;
        attached.receiver.finish(close);
        self.shared().set_detached(Instant::now());
        attached.watch
    }

    /// Lets go of a receiver whose client went away; gives back its watch to cancel.
    pub(crate) fn lose_receiver(&mut self) -> Option<SpawnHandle> {
        let attached = self.receiver.take()?;
        self.shared().set_detached(Instant::now());
        attached.watch
    }

    /// How the attached receiver's request, which is over, ended.
    pub(crate) fn ended_as(&self) -> EndedAs {
        let drained = self
            .receiver
            .as_ref()
            .is_some_and(|a| a.draining && !a.receiver.left_items());
        if drained {
            EndedAs::Drained
        } else {
            EndedAs::Lost
        }
    }

    /// The first half of a close: the state, the close frame, what waits. Tells
    /// whether the session was open (then `on_close` runs before
    /// [`finish_close`](Self::finish_close)); `None` if it was closed already.
    pub(crate) fn begin_close(&mut self, reason: &CloseReason) -> Option<bool> {
        if self.state == State::Closed {
            return None;
        }
        let was_open = self.state == State::Open;
        self.state = State::Closed;
        if *reason == CloseReason::SlowConsumer {
            // What waits is what the client could not take: drop it, and send the
            // close frame alone.
            self.outbox.clear();
        }
        if !self.registered || self.stop_requested {
            // It ends right after this: give its place back first.
            self.slot = None;
        }
        self.close = Some(Box::new(reason.close_frame()));
        self.shared().set_closed(reason.clone());
        if was_open {
            self.stats.session_closed(self.transport);
        }
        Some(was_open)
    }

    /// The second half of a close, after `on_close`: the attached receiver gets what
    /// was queued before the close, then the close frame, and is let go.
    pub(crate) fn finish_close(&mut self) -> Step {
        self.close_requested = None;
        let flushed = self.flush_outbox();
        if flushed != Step::Done {
            return flushed;
        }
        let Some(frame) = self.close.as_deref().cloned() else {
            return Step::Done;
        };
        if !self.is_raw() {
            if let Some(attached) = self.receiver.as_mut() {
                attached.receiver.send_frame(frame.to_frame());
            }
        }
        Step::Released(self.detach_receiver(Some(&frame)))
    }

    /// Every `heartbeat_delay`: an `h` frame for the attached receiver, and for a
    /// websocket a ping, unless the previous one is still unanswered.
    pub(crate) fn beat(&mut self) -> Beat {
        if self.state != State::Open {
            return Beat::Idle;
        }
        let Some(attached) = self.receiver.as_mut() else {
            return Beat::Idle;
        };
        if self.config.websocket_ping && attached.receiver.is_websocket() {
            if self.awaiting_pong {
                return Beat::Unanswered;
            }
            attached.receiver.send_ping();
            self.awaiting_pong = true;
        }
        if self.is_raw() {
            Beat::Sent(Step::Done)
        } else {
            Beat::Sent(self.write_frame(Frame::heartbeat()))
        }
    }
}

#[cfg(test)]
mod tests;
