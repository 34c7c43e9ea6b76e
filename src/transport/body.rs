//! The HTTP response bodies that read a receiver's queue ([`crate::receiver`]), and
//! how a streaming response is finished.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;

use super::hosting_body::HostingBody;
use crate::config::SockJsConfig;
use crate::receiver::{Outbound, QueueRx};
use crate::session::{SockJsHandler, ToHost};
use crate::shutdown::InFlight;

/// An HTTP response body fed by a [`Receiver`]: streams until the session drops the
/// receiver. Dropping the body (the client went away) is what the session notices as
/// an interrupted connection.
pub(crate) struct ReceiverBody {
    /// Its prelude first ([`Receiver::prelude`]), then what the session sends.
    rx: QueueRx<Outbound>,
    _in_flight: InFlight,
}

impl ReceiverBody {
    /// A body that streams what waits in `rx`, then what the session sends, counted
    /// in its service's `in_flight` while it lives.
    pub(crate) fn new(rx: QueueRx<Outbound>, in_flight: InFlight) -> Self {
        ReceiverBody {
            rx,
            _in_flight: in_flight,
        }
    }
}

impl ReceiverBody {
    /// The queue the body streams from.
    pub(crate) fn queue(&self) -> &QueueRx<Outbound> {
        &self.rx
    }

    /// The next chunk; with `cx`, its task is woken by the next send if none waits
    /// (without, the caller looks again itself: see [`QueueRx::try_recv`]).
    pub(crate) fn next_chunk(&mut self, mut cx: Option<&mut Context<'_>>) -> Poll<Option<Bytes>> {
        loop {
            let item = match cx.as_deref_mut() {
                Some(cx) => self.rx.poll_recv(cx),
                None => self.rx.try_recv(),
            };
            return match item {
                Poll::Ready(Some(Outbound::Body(bytes) | Outbound::Prelude(bytes))) => {
                    Poll::Ready(Some(bytes))
                }
                // Websocket items never reach an HTTP body; skip them defensively.
                Poll::Ready(Some(_)) => continue,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl MessageBody for ReceiverBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.next_chunk(Some(cx)).map(|chunk| chunk.map(Ok))
    }
}

/// Waits for the first body chunk of a polling receiver (xhr, jsonp).
pub(crate) async fn first_chunk(rx: &mut QueueRx<Outbound>) -> Option<Bytes> {
    while let Some(item) = rx.recv().await {
        if let Outbound::Body(bytes) = item {
            return Some(bytes);
        }
    }
    None
}

/// Finishes a streaming response, which runs `hosted`, the session it made, if it
/// made one ([`Sessions::receive`](crate::manager::Sessions::receive)). HTTP/1.1
/// clients get a chunked body on a keep-alive connection; HTTP/1.0 has no chunking,
/// so the body runs until the connection closes.
pub(crate) fn streaming_response<H: SockJsHandler>(
    req: &actix_web::HttpRequest,
    mut res: actix_web::HttpResponseBuilder,
    body: ReceiverBody,
    hosted: Option<ToHost<H>>,
    config: &SockJsConfig,
) -> actix_web::HttpResponse {
    let body = HostingBody::new(body, hosted, config.write_timeout);
    if req.version() == actix_web::http::Version::HTTP_10 {
        res.force_close();
        let mut res = res.body(body);
        res.head_mut().no_chunking(true);
        return res;
    }
    res.body(body)
}
