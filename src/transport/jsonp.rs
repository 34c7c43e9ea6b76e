//! `GET .../jsonp` polling and `POST .../jsonp_send`. A frame is answered as a
//! callback call ([`crate::protocol::jsonp_call`]).

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::callback::callback;
use super::{Budget, FrameWriter, Outbound, Receiver, first_chunk};
use crate::manager::Sessions;
use crate::protocol::{Frame, PayloadError, decode_messages, jsonp_call};
use crate::session::SockJsHandler;
use crate::vocabulary::Transport;
use crate::web::body::read_body;
use crate::web::headers::transport_headers;

/// `/**/CALLBACK("FRAME");\r\n`.
fn write_frame(frame: Frame, callback: &str) -> Option<Outbound> {
    Some(Outbound::Body(jsonp_call(callback, &frame)))
}

/// `GET .../jsonp?c=CALLBACK`: one frame per request.
pub(crate) async fn poll<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let callback = callback(req)?;
    let (receiver, mut rx) = Receiver::new(
        FrameWriter::with_arg(write_frame, String::from(&*callback)),
        Budget::OneFrame,
    );
    svc.receive(req, session, Transport::Jsonp, receiver)
        .await?;
    let body = first_chunk(&mut rx).await.unwrap_or_default();
    let mut res = HttpResponse::Ok();
    res.content_type("application/javascript; charset=UTF-8");
    res.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    transport_headers(req, svc.config(), &mut res);
    Ok(res.body(body))
}

/// `POST .../jsonp_send`: a form field `d` or a raw body holding the JSON array.
pub(crate) async fn send<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    payload: web::Payload,
    session: &str,
) -> Result<HttpResponse, crate::web::RequestError> {
    let target = svc.lookup(req, session)?;
    let body = read_body(req, payload, svc.config().max_message_size).await?;
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let messages = if is_form {
        let form: Vec<(String, String)> =
            serde_urlencoded_pairs(&body).ok_or(PayloadError::BrokenJson)?;
        let data = form
            .into_iter()
            .find(|(k, _)| k == "d")
            .map(|(_, v)| v)
            .unwrap_or_default();
        decode_messages(data.as_bytes())?
    } else {
        decode_messages(&body)?
    };
    target.post_client_messages(messages)?;
    let mut res = HttpResponse::Ok();
    res.content_type("text/plain; charset=UTF-8");
    transport_headers(req, svc.config(), &mut res);
    Ok(res.body("ok"))
}

fn serde_urlencoded_pairs(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    web::Query::<Vec<(String, String)>>::from_query(text)
        .ok()
        .map(|q| q.into_inner())
}
