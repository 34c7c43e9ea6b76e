//! `xhr` polling, `xhr_streaming` and `xhr_send`.

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;

use super::{
    Budget, FrameWriter, Outbound, Receiver, ReceiverBody, first_chunk, streaming_response,
};
use crate::manager::Sessions;
use crate::protocol::{Frame, decode_messages, xhr_chunk};
use crate::session::SockJsHandler;
use crate::vocabulary::Transport;
use crate::web::body::read_body;
use crate::web::headers::transport_headers;

const CONTENT_TYPE: &str = "application/javascript; charset=UTF-8";

/// `FRAME\n`, for xhr polling and xhr_streaming.
fn write_frame(frame: Frame, _: &str) -> Option<Outbound> {
    Some(Outbound::Body(xhr_chunk(&frame)))
}

/// `POST .../xhr`: one frame per request.
pub(crate) async fn poll<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let (receiver, mut rx) = Receiver::new(FrameWriter::new(write_frame), Budget::OneFrame);
    svc.receive(req, session, Transport::Xhr, receiver).await?;
    let body = first_chunk(&mut rx).await.unwrap_or_default();
    let mut res = HttpResponse::Ok();
    res.content_type(CONTENT_TYPE);
    transport_headers(req, svc.config(), &mut res);
    Ok(res.body(body))
}

/// xhr_streaming's prelude: 2048 `h` and a newline, made once.
static XHR_STREAMING_PRELUDE: [u8; 2049] = {
    let mut prelude = [b'h'; 2049];
    prelude[2048] = b'\n';
    prelude
};

/// `POST .../xhr_streaming`: 2 KiB of `h` (so old browsers start delivering the
/// response), then frames until `response_limit` bytes went out.
pub(crate) async fn streaming<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let budget = Budget::Bytes(svc.config().response_limit.max(1));
    let (receiver, rx) = Receiver::new(FrameWriter::new(write_frame), budget);
    receiver.prelude(Bytes::from_static(&XHR_STREAMING_PRELUDE));
    let hosted = svc
        .receive(req, session, Transport::XhrStreaming, receiver)
        .await?;
    let mut res = HttpResponse::Ok();
    res.content_type(CONTENT_TYPE);
    transport_headers(req, svc.config(), &mut res);
    Ok(streaming_response(
        req,
        res,
        ReceiverBody::new(rx, svc.in_flight()),
        hosted,
        svc.config(),
    ))
}

/// `POST .../xhr_send`: messages from the client; 204 once they are handed over.
pub(crate) async fn send<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    payload: web::Payload,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let target = svc.lookup(req, session)?;
    let body = read_body(req, payload, svc.config().max_message_size).await?;
    let messages = decode_messages(&body)?;
    target.post_client_messages(messages)?;
    let mut res = HttpResponse::NoContent();
    res.content_type("text/plain; charset=UTF-8");
    transport_headers(req, svc.config(), &mut res);
    Ok(res.finish())
}
