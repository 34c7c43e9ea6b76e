//! The actor side of receivers: attaching one (the decisions are the state machine's,
//! in `session::core::machine`), watching its request, following up on each step, and the
//! heartbeat.

use actix::{ActorFutureExt, AsyncContext};

use crate::protocol::Frame;
use crate::receiver::Receiver;
use crate::session::SockJsHandler;
use crate::session::context::SockJsContext;
use crate::session::core::State;
use crate::session::core::{Admission, Beat, EndedAs, Step};
use crate::vocabulary::CloseReason;

impl<A: SockJsHandler> SockJsContext<A> {
    pub(crate) fn attach(&mut self, receiver: Receiver, act: &mut A) {
        let watch_request = !receiver.is_websocket();
        let closed = watch_request.then(|| receiver.closed());
        match self.core.admit(receiver) {
            Admission::Answered => {}
            Admission::CurrentEnded(receiver) => {
                self.receiver_ended(act);
                self.attach(receiver, act);
            }
            Admission::Attached { first, generation } => {
                if let Some(closed) = closed {
                    let watch = self.spawn(
                        actix::fut::wrap_future::<_, A>(closed)
                            .map(move |(), act, ctx| ctx.receiver_closed(generation, act)),
                    );
                    self.core.set_receiver_watch(watch);
                }
                if first {
                    self.open(act);
                } else {
                    self.flush(act);
                }
            }
        }
    }

    fn open(&mut self, act: &mut A) {
        self.core.stats().session_opened(self.core.transport());
        log::debug!(
            "session {} opened ({:?})",
            self.core.id(),
            self.core.transport()
        );
        // The open frame goes out before the handler runs, as the protocol requires even
        // of a session the handler closes at once (`/close`: `o`, then `c[3000,...]`).
        if !self.core.is_raw() {
            self.write_frame(Frame::open(), act);
        }
        if self.core.state() != State::Open {
            // The client vanished before the open frame reached it.
            return;
        }
        self.opened(act);
    }

    /// Acts on what a state-machine step asks.
    pub(crate) fn follow(&mut self, step: Step, act: &mut A) {
        match step {
            Step::Done => {}
            Step::Released(watch) => self.cancel_watch(watch),
            Step::Lost(watch) => {
                self.cancel_watch(watch);
                self.close_session(act, CloseReason::Interrupted);
                if !self.core.is_registered() {
                    self.end();
                }
            }
        }
    }

    fn cancel_watch(&mut self, watch: Option<actix::SpawnHandle>) {
        if let Some(watch) = watch {
            self.cancel_future(watch);
        }
    }

    /// Writes one frame to the attached receiver, if any, and follows up on it.
    pub(crate) fn write_frame(&mut self, frame: Frame, act: &mut A) {
        let step = self.core.write_frame(frame);
        self.follow(step, act);
    }

    pub(crate) fn flush(&mut self, act: &mut A) {
        let step = self.core.flush_outbox();
        self.follow(step, act);
    }

    fn receiver_closed(&mut self, generation: u32, act: &mut A) {
        let current = self.core.attached_generation();
        if current == Some(generation) {
            self.receiver_ended(act);
        }
    }

    /// The attached receiver's request is over: a streaming response that was
    /// draining and was read to its end detaches normally (what is queued waits for
    /// the next request); anything else means the client went away.
    fn receiver_ended(&mut self, act: &mut A) {
        let step = match self.core.ended_as() {
            EndedAs::Drained => Step::Released(self.core.detach_receiver(None)),
            EndedAs::Lost => Step::Lost(self.core.lose_receiver()),
        };
        self.follow(step, act);
    }

    /// Every `heartbeat_delay`: an `h` frame for the attached receiver, and for a
    /// websocket a ping, unless the previous one is still unanswered: then the client
    /// is gone (its network, its machine) and the session is interrupted.
    pub(crate) fn heartbeat(&mut self, act: &mut A) {
        match self.core.beat() {
            Beat::Idle => {}
            Beat::Unanswered => self.close_session(act, CloseReason::Interrupted),
            Beat::Sent(step) => self.follow(step, act),
        }
    }
}
