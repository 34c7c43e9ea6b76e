//! A streaming HTTP response (`xhr_streaming`, `eventsource`, `htmlfile`) that made
//! its session runs it for as long as the response lasts (`transport::hosted`): the
//! response's body polls the session before it takes what the session queued.

use std::convert::Infallible;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;

use super::ReceiverBody;
use super::hosted::{HostedSession, WhenLetGo};
use crate::receiver::stall::{self, Watched};
use crate::session::{SockJsHandler, ToHost};

/// A streaming response's body, running the session it made (if it made one) for as
/// long as the response lasts.
pub(crate) struct HostingBody<H: SockJsHandler> {
    inner: ReceiverBody,
    host: Option<Rc<HostedSession<H>>>,
}

impl<H: SockJsHandler> HostingBody<H> {
    /// `inner`, running `session` (made by this request) until the response ends;
    /// watched for stalls (`write_timeout`) as one connection with its session.
    pub(crate) fn new(
        inner: ReceiverBody,
        session: Option<ToHost<H>>,
        write_timeout: Option<Duration>,
    ) -> Self {
        let host = session.map(|session| {
            let (session, inbox) = session;
            let session = Rc::new(HostedSession::new(
                session,
                inbox,
                inner.queue(),
                WhenLetGo::HandedOff,
            ));
            // Watched even without a write timeout, to be handed off if it stalls.
            let weak: std::rc::Weak<HostedSession<H>> = Rc::downgrade(&session);
            stall::watch(Watched::Local(weak), write_timeout);
            session
        });
        HostingBody { inner, host }
    }
}

impl<H: SockJsHandler> MessageBody for HostingBody<H> {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        // The session first, so what it sends now goes out in this poll.
        if let Some(host) = &this.host {
            host.polled();
            // A streaming response queues every frame (its writer wraps each).
            host.drive(cx, None);
            // While the session runs here, it sends only in `drive`: what it sent is
            // all there, and a wake-up for it would poll this task again for nothing.
            // Once it has been handed off, it sends from a task of its own, and this
            // body asks to be woken.
            if host.hosting() {
                let next = this.inner.next_chunk(None);
                if let Poll::Ready(Some(_)) = next {
                    host.gave_bytes();
                }
                return next.map(|chunk| chunk.map(Ok));
            }
        }
        Pin::new(&mut this.inner).poll_next(cx)
    }
}

impl<H: SockJsHandler> Drop for HostingBody<H> {
    fn drop(&mut self) {
        if let Some(host) = &self.host {
            drop(host.let_go());
        }
    }
}
