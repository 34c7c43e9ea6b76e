//! `GET .../eventsource`: Server-Sent Events. Each frame is one event
//! ([`crate::protocol::eventsource_event`]).

use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;

use super::{Budget, FrameWriter, Outbound, Receiver, ReceiverBody, streaming_response};
use crate::manager::Sessions;
use crate::protocol::{Frame, eventsource_event};
use crate::session::SockJsHandler;
use crate::vocabulary::Transport;
use crate::web::headers::transport_headers;

/// `data: FRAME\r\n\r\n`.
fn write_frame(frame: Frame, _: &str) -> Option<Outbound> {
    Some(Outbound::Body(eventsource_event(&frame)))
}

/// Streams frames as events after a `\r\n` prelude, until `response_limit`.
pub(crate) async fn stream<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let budget = Budget::Bytes(svc.config().response_limit.max(1));
    let (receiver, rx) = Receiver::new(FrameWriter::new(write_frame), budget);
    receiver.prelude(Bytes::from_static(b"\r\n"));
    let hosted = svc
        .receive(req, session, Transport::EventSource, receiver)
        .await?;
    let mut res = HttpResponse::Ok();
    res.content_type("text/event-stream");
    transport_headers(req, svc.config(), &mut res);
    Ok(streaming_response(
        req,
        res,
        ReceiverBody::new(rx, svc.in_flight()),
        hosted,
        svc.config(),
    ))
}
