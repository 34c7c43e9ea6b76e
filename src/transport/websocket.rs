//! The `websocket` transport and the raw `/websocket` endpoint.
//!
//! This is the only file that imports actix-web-actors (deprecated upstream in favour of
//! actix-ws): swapping the websocket implementation touches nothing else.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix::{Actor, ActorContext, Addr, AsyncContext, StreamHandler};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use futures_core::Stream;

use super::{Budget, Envelope, Outbound, QueueRx, Receiver};
use crate::error::Error;
use crate::handler::{SockJsHandler, Transport};
use crate::protocol::decode_websocket_message;
use crate::service::Service;
use crate::session::{Attach, ClientClosed, Incoming, SessionActor};
use crate::web::headers::jsessionid_cookie;

/// Checks the upgrade headers the way the protocol suite expects, before the
/// handshake proper.
fn check_upgrade(req: &HttpRequest) -> Result<(), Error> {
    let has_token = |name: header::HeaderName, token: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token(header::UPGRADE, "websocket") {
        return Err(Error::UpgradeRequired);
    }
    if !has_token(header::CONNECTION, "upgrade") {
        return Err(Error::ConnectionNotUpgrade);
    }
    Ok(())
}

/// `GET .../websocket` (SockJS framing) or `GET /websocket` (raw).
pub(crate) fn start<H: SockJsHandler>(
    svc: &Service<H>,
    req: &HttpRequest,
    payload: web::Payload,
    session: Option<&str>,
) -> Result<HttpResponse, Error> {
    check_upgrade(req)?;
    let raw = session.is_none();
    let transport = if raw {
        Transport::RawWebSocket
    } else {
        Transport::WebSocket
    };
    let envelope = if raw {
        Envelope::RawWebSocket
    } else {
        Envelope::WebSocket
    };
    let (mut receiver, outbound) = Receiver::new(envelope, Budget::Unlimited);
    svc.count_connection(&mut receiver);
    let connection = WsConnection {
        session: None,
        raw,
        outbound: Some(outbound),
    };
    let max = svc.config().max_message_size;
    // The session is started only once the handshake succeeded.
    let (addr, mut response) = ws::WsResponseBuilder::new(connection, req, payload)
        .frame_size(max)
        .start_with_addr()
        .map_err(|_| Error::BadHandshake)?;
    // The protocol needs no stickiness for a websocket (one connection is the whole
    // session), but a cookie_needed service sets JSESSIONID on every transport so the
    // browser holds it whichever transport it ends up on.
    if let Some(cookie) =
        jsessionid_cookie(req, svc.config()).and_then(|c| header::HeaderValue::from_str(&c).ok())
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    let session_addr = svc.start_unregistered(req, session, transport);
    session_addr.do_send(Attach(receiver));
    addr.do_send(BindSession(session_addr));
    Ok(response)
}

/// Tells the connection which session it feeds.
struct BindSession<H: SockJsHandler>(Addr<SessionActor<H>>);

impl<H: SockJsHandler> actix::Message for BindSession<H> {
    type Result = ();
}

/// The websocket side of a session: decodes client messages into the session and writes
/// what the session's receiver channel carries.
struct WsConnection<H: SockJsHandler> {
    session: Option<Addr<SessionActor<H>>>,
    raw: bool,
    outbound: Option<QueueRx<Outbound>>,
}

impl<H: SockJsHandler> Actor for WsConnection<H> {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(rx) = self.outbound.take() {
            ctx.add_stream(OutboundStream(rx));
        }
    }
}

impl<H: SockJsHandler> actix::Handler<BindSession<H>> for WsConnection<H> {
    type Result = ();

    fn handle(&mut self, BindSession(addr): BindSession<H>, _: &mut Self::Context) {
        self.session = Some(addr);
    }
}

impl<H: SockJsHandler> WsConnection<H> {
    fn to_session(&self, messages: Vec<String>) {
        if let Some(session) = &self.session {
            if !messages.is_empty() {
                session.do_send(Incoming(messages));
            }
        }
    }
}

impl<H: SockJsHandler> StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsConnection<H> {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) if self.raw => self.to_session(vec![text.to_string()]),
            Ok(ws::Message::Text(text)) => match decode_websocket_message(&text) {
                Ok(messages) => self.to_session(messages),
                Err(_) => {
                    // Broken JSON: the session ends (the client sees the socket close).
                    ctx.close(Some(ws::CloseReason {
                        code: ws::CloseCode::Unsupported,
                        description: Some("Broken JSON encoding.".into()),
                    }));
                    ctx.stop();
                }
            },
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Close(reason)) => {
                if let Some(session) = &self.session {
                    session.do_send(ClientClosed);
                }
                ctx.close(reason);
                ctx.stop();
            }
            Ok(ws::Message::Binary(_)) => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Unsupported,
                    description: Some("Binary messages are not supported.".into()),
                }));
                ctx.stop();
            }
            Ok(ws::Message::Pong(_) | ws::Message::Continuation(_) | ws::Message::Nop) => {}
            Err(ws::ProtocolError::Overflow) => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::Size,
                    description: Some("Message too big.".into()),
                }));
                ctx.stop();
            }
            Err(_) => ctx.stop(),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

impl<H: SockJsHandler> StreamHandler<Outbound> for WsConnection<H> {
    fn handle(&mut self, item: Outbound, ctx: &mut Self::Context) {
        match item {
            Outbound::Text(text) => ctx.text(text),
            Outbound::Close(close) => {
                ctx.close(Some(ws::CloseReason {
                    code: ws::CloseCode::from(close.code),
                    description: Some(close.reason),
                }));
                ctx.stop();
            }
            Outbound::Body(_) => {}
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The session let go of this socket.
        ctx.stop();
    }
}

struct OutboundStream(QueueRx<Outbound>);

impl Stream for OutboundStream {
    type Item = Outbound;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outbound>> {
        self.0.poll_recv(cx)
    }
}
