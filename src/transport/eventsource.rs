//! `GET .../eventsource`: Server-Sent Events.

use actix_web::{HttpRequest, HttpResponse};
use bytes::{BufMut, Bytes, BytesMut};

use super::{Budget, Envelope, Receiver, ReceiverBody, streaming_response};
use crate::handler::{SockJsHandler, Transport};
use crate::protocol::Frame;
use crate::service::Service;
use crate::web::headers::transport_headers;

/// `data: FRAME\r\n\r\n`.
pub(crate) fn encode_frame(frame: &Frame) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 10);
    out.put_slice(b"data: ");
    out.put_slice(frame.as_str().as_bytes());
    out.put_slice(b"\r\n\r\n");
    out.freeze()
}

/// Streams frames as events after a `\r\n` prelude, until `response_limit`.
pub(crate) async fn stream<H: SockJsHandler>(
    svc: &Service<H>,
    req: &HttpRequest,
    session: &str,
) -> HttpResponse {
    let budget = Budget::Bytes(svc.config().response_limit.max(1));
    let (receiver, rx) = Receiver::new(Envelope::EventSource, budget);
    svc.receive(req, session, Transport::EventSource, receiver);
    let mut res = HttpResponse::Ok();
    res.content_type("text/event-stream");
    transport_headers(req, svc.config(), &mut res);
    streaming_response(
        req,
        res,
        ReceiverBody::with_prelude(Bytes::from_static(b"\r\n"), rx),
    )
}
