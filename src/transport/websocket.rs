//! The `websocket` transport and the raw `/websocket` endpoint.
//!
//! The handshake is actix-web-actors'; what follows it, the connection, is ours
//! (`transport::ws_connection`, reading with `transport::ws_reader`).

use std::rc::Rc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;

use super::hosted::{HostedSession, WhenLetGo};
use super::ws_connection::WsConnection;
use super::ws_deflate;
use super::ws_reader::ClientFrames;
use super::{Budget, FrameWriter, Outbound, Receiver};
use crate::manager::Sessions;
use crate::protocol::Frame;
use crate::receiver::stall::{self, Watched};
use crate::session::Command;
use crate::session::SockJsHandler;
use crate::vocabulary::Transport;
use crate::web::RequestError;
use crate::web::headers::jsessionid_cookie;

/// Checks the upgrade headers the way the protocol suite expects, before the
/// handshake proper.
fn check_upgrade(req: &HttpRequest) -> Result<(), RequestError> {
    let has_token = |name: header::HeaderName, token: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token(header::UPGRADE, "websocket") {
        return Err(RequestError::UpgradeRequired);
    }
    if !has_token(header::CONNECTION, "upgrade") {
        return Err(RequestError::ConnectionNotUpgrade);
    }
    Ok(())
}

/// A frame is one text message, its bytes as they are.
fn write_frame(frame: Frame, _: &str) -> Option<Outbound> {
    Some(Outbound::Text(frame.into_bytestring()))
}

/// The raw websocket takes plain messages, never frames.
fn no_frames(_: Frame, _: &str) -> Option<Outbound> {
    None
}

/// `GET .../websocket` (SockJS framing) or `GET /websocket` (raw).
pub(crate) fn start<H: SockJsHandler>(
    svc: &Sessions<H>,
    req: &HttpRequest,
    payload: web::Payload,
    session: Option<&str>,
) -> Result<HttpResponse, RequestError> {
    check_upgrade(req)?;
    let raw = session.is_none();
    let transport = if raw {
        Transport::RawWebSocket
    } else {
        Transport::WebSocket
    };
    let writer = if raw {
        FrameWriter::new(no_frames)
    } else {
        FrameWriter::new(write_frame)
    };
    // The handshake first: a request that fails it creates no session.
    let mut response = ws::handshake(req).map_err(|_| RequestError::BadHandshake)?;
    // The protocol needs no stickiness for a websocket (one connection is the whole
    // session), but a cookie_needed service sets JSESSIONID on every transport so the
    // browser holds it whichever transport it ends up on.
    if let Some(cookie) =
        jsessionid_cookie(req, svc.config()).and_then(|c| header::HeaderValue::from_str(&c).ok())
    {
        response.append_header((header::SET_COOKIE, cookie));
    }
    // permessage-deflate, if the service offers it and the client asked for it.
    let deflate = svc.config().permessage_deflate.and_then(|ours| {
        let offers = req
            .headers()
            .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
            .filter_map(|v| v.to_str().ok());
        ws_deflate::negotiate(offers, ours)
    });
    if let Some(value) =
        deflate.and_then(|agreed| header::HeaderValue::from_str(&agreed.header_value()).ok())
    {
        response.insert_header((header::SEC_WEBSOCKET_EXTENSIONS, value));
    }
    let (entry, session_future) = svc.websocket_session(req, session, transport)?;
    let (mut receiver, outbound) = Receiver::new(writer, Budget::Unlimited);
    svc.count_connection(&mut receiver);
    // Waits in the session's inbox until the connection first runs the session.
    let _ = entry.inbox.send(Command::Attach(Box::new(receiver)));
    let running = Rc::new(HostedSession::new(
        session_future,
        entry.inbox,
        &outbound,
        WhenLetGo::Ends,
    ));
    // Watched even without a write timeout: its session is handed off when the
    // connection cannot run it.
    let weak: std::rc::Weak<HostedSession<H>> = Rc::downgrade(&running);
    stall::watch(Watched::Local(weak), svc.config().write_timeout);
    let mut client = ClientFrames::new(payload, svc.config().max_message_size);
    if let Some(agreed) = deflate {
        client = client.inflating(!agreed.client_no_context_takeover);
    }
    let window = deflate.map(|agreed| agreed.client_window());
    let connection = WsConnection::new(client, running, outbound, raw, window, svc.in_flight());
    Ok(response.streaming(connection))
}
