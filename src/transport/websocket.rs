//! The `websocket` transport and the raw `/websocket` endpoint.
//!
//! This is the only file that imports actix-web-actors (deprecated upstream in favour of
//! actix-ws): swapping the websocket implementation touches nothing else.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use actix::{Actor, ActorContext, ActorFuture, AsyncContext, StreamHandler};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use futures_core::Stream;
use parking_lot::Mutex;

use super::stall::{self, Progress, Stallable, Watched};
use super::ws_reader::{CLOSE_UNSUPPORTED, ClientFrame, ClientFrames};
use super::{Budget, Envelope, Outbound, QueueRx, QueueTx, Receiver, queue};
use crate::error::Error;
use crate::handler::{SockJsHandler, Transport};
use crate::protocol::{Messages, decode_websocket_messages};
use crate::service::Service;
use crate::session::{Attach, EmbeddedSession, FromClient};
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
    // The handshake first: a request that fails it creates no session.
    let mut response = ws::handshake(req).map_err(|_| Error::BadHandshake)?;
    // The protocol needs no stickiness for a websocket (one connection is the whole
    // session), but a cookie_needed service sets JSESSIONID on every transport so the
    // browser holds it whichever transport it ends up on.
    if let Some(cookie) =
        jsessionid_cookie(req, svc.config()).and_then(|c| header::HeaderValue::from_str(&c).ok())
    {
        response.append_header((header::SET_COOKIE, cookie));
    }
    let (mut receiver, outbound) = Receiver::new(envelope, Budget::Unlimited);
    svc.count_connection(&mut receiver);
    let (to_session, from_client) = queue();
    let (session, session_future) = svc.websocket_session(req, session, transport, from_client)?;
    // Waits in the session's mailbox until the connection first runs the session.
    session.do_send(Attach(receiver));
    let running = Rc::new(RunningSession {
        future: RefCell::new(Some(session_future)),
        wake: Arc::new(SessionWake {
            // The first poll starts the session.
            woken: AtomicBool::new(true),
            task: Mutex::new(None),
        }),
        polls: Cell::new(0),
        outbound: outbound.stall_probe(),
    });
    if let Some(timeout) = svc.config().write_timeout {
        let weak: std::rc::Weak<RunningSession<H>> = Rc::downgrade(&running);
        stall::watch(Watched::Local(weak), timeout);
    }
    let connection = WsConnection {
        to_session,
        session: running,
        raw,
        outbound: Some(outbound),
        client: Some(Box::new(ClientFrames::new(
            payload,
            svc.config().max_message_size,
        ))),
    };
    // The context's own reader gets no bytes: `ClientFrames` reads the request body
    // (see `transport::ws_reader` for why).
    Ok(response.streaming(ws::WebsocketContext::create(connection, NoPayload)))
}

/// The websocket side of a session: decodes client messages into the session and writes
/// what the session's receiver queue carries.
///
/// The session actor runs inside this connection's task ([`DriveSession`], one of the
/// connection's context items, polls it between the socket's stream and the outbound
/// queue), not as a task of its own: a client message is decoded, handled by the
/// session and its answer encoded and written within one poll of the connection, as
/// in a bare actix websocket, instead of waking a second task and polling the
/// connection again. The session stays an actor with its own mailbox, context and
/// timers, and ends with the connection (see [`Actor::stopped`] below).
struct WsConnection<H: SockJsHandler> {
    /// Client messages and the client's close, in order, straight into the session.
    to_session: QueueTx<FromClient>,
    /// The session this connection runs, shared with the thread's write-timeout
    /// watch, which takes it out if the connection stalls.
    session: Rc<RunningSession<H>>,
    raw: bool,
    outbound: Option<QueueRx<Outbound>>,
    /// The client's frames, until the connection starts and takes them as a stream
    /// (boxed, so the connection does not carry their room for the rest of its life).
    client: Option<Box<ClientFrames<web::Payload>>>,
}

impl<H: SockJsHandler> Actor for WsConnection<H> {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Items are polled in the order they were added: the client's frames, then the
        // session, then what the session sent.
        if let Some(client) = self.client.take() {
            ctx.add_stream(*client);
        }
        ctx.spawn(DriveSession::new(&self.session.wake));
        if let Some(rx) = self.outbound.take() {
            ctx.add_stream(OutboundStream(rx));
        }
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        let session = self.session.future.borrow_mut().take();
        if let Some(mut session) = session {
            // Let the session take what is already queued for it (messages decoded from
            // the same read, the client's close) while it still runs; dropping it then
            // stops it, and its on_close runs if it has not yet.
            let _ = Pin::new(&mut session).poll(&mut Context::from_waker(Waker::noop()));
        }
    }
}

/// The session a websocket connection runs, and what the write timeout watch looks
/// at: something waits when the session was woken and has not run yet, or when
/// frames wait in the outbound queue; progress is the session running or the
/// connection taking a frame.
struct RunningSession<H: SockJsHandler> {
    future: RefCell<Option<EmbeddedSession<H>>>,
    wake: Arc<SessionWake>,
    /// How many times the connection ran the session.
    polls: Cell<u64>,
    outbound: Arc<dyn Stallable + Send + Sync>,
}

impl<H: SockJsHandler> Stallable for RunningSession<H> {
    fn progress(&self) -> Progress {
        let queue = self.outbound.progress();
        let woken = self.wake.woken.load(Ordering::Acquire)
            && self.future.try_borrow().is_ok_and(|f| f.is_some());
        Progress {
            waiting: queue.waiting || woken,
            moved: queue.moved.wrapping_add(self.polls.get()),
        }
    }

    fn abandon(&self) -> Option<Box<dyn Any>> {
        self.outbound.abandon();
        // Dropped by the watch, outside the connection: the session stops, and its
        // on_close runs, with the connection interrupted.
        let session = self.future.try_borrow_mut().ok()?.take()?;
        Some(Box::new(session))
    }
}

/// Polls the connection's session, as one of the connection's context items, when
/// the session was woken (its mailbox, the client's messages, a timer), not every
/// time the connection is polled for its socket.
struct DriveSession {
    waker: Waker,
}

impl DriveSession {
    fn new(wake: &Arc<SessionWake>) -> Self {
        DriveSession {
            waker: Waker::from(wake.clone()),
        }
    }
}

/// The waker the embedded session sees: notes that the session has work, then wakes
/// the connection's task.
struct SessionWake {
    woken: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for SessionWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(task) = self.task.lock().as_ref() {
            task.wake_by_ref();
        }
    }
}

impl<H: SockJsHandler> ActorFuture<WsConnection<H>> for DriveSession {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut WsConnection<H>,
        _: &mut ws::WebsocketContext<WsConnection<H>>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        let this = self.get_mut();
        let running = &*act.session;
        let mut future = running.future.borrow_mut();
        let Some(session) = future.as_mut() else {
            // Stopped, or taken out by the write timeout.
            return Poll::Ready(());
        };
        {
            let mut task = running.wake.task.lock();
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if !running.wake.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        running.polls.set(running.polls.get().wrapping_add(1));
        let done = Pin::new(session).poll(&mut Context::from_waker(&this.waker));
        if done.is_ready() {
            *future = None;
        }
        done
    }
}

impl<H: SockJsHandler> WsConnection<H> {
    fn to_session(&self, item: FromClient) {
        // Refused only once the session has stopped: then nobody is listening.
        let _ = self.to_session.send(item);
    }
}

impl<H: SockJsHandler> WsConnection<H> {
    /// Closes the socket with a close frame and stops the connection (and so the session).
    fn refuse(&mut self, code: u16, reason: &str, ctx: &mut ws::WebsocketContext<Self>) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::from(code),
            description: Some(reason.into()),
        }));
        ctx.stop();
    }
}

impl<H: SockJsHandler> StreamHandler<ClientFrame> for WsConnection<H> {
    fn handle(&mut self, frame: ClientFrame, ctx: &mut Self::Context) {
        match frame {
            ClientFrame::Text(text) if self.raw => {
                self.to_session(FromClient::Message(String::from(text)));
            }
            ClientFrame::Text(text) => match decode_websocket_messages(&text) {
                Ok(None) => {}
                Ok(Some(Messages::One(msg))) => self.to_session(FromClient::Message(msg)),
                Ok(Some(Messages::Many(messages))) => {
                    self.to_session(FromClient::Messages(messages));
                }
                // Broken JSON: the session ends (the client sees the socket close).
                Err(_) => self.refuse(CLOSE_UNSUPPORTED, "Broken JSON encoding.", ctx),
            },
            ClientFrame::Ping(bytes) => ctx.pong(&bytes),
            ClientFrame::Pong => self.to_session(FromClient::Pong),
            ClientFrame::Close(reason) => {
                self.to_session(FromClient::Closed);
                ctx.close(reason);
                ctx.stop();
            }
            ClientFrame::Refuse(refusal) => self.refuse(refusal.code, refusal.reason, ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        // The client's side of the connection is gone.
        ctx.stop();
    }
}

/// The context's own reader is given no bytes and never ends; it is required by
/// `WebsocketContext::create`, which wants the actor to handle what it reads.
struct NoPayload;

impl Stream for NoPayload {
    type Item = Result<bytes::Bytes, actix_web::error::PayloadError>;

    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Pending
    }
}

impl<H: SockJsHandler> StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsConnection<H> {
    fn handle(&mut self, _: Result<ws::Message, ws::ProtocolError>, _: &mut Self::Context) {}

    fn finished(&mut self, _: &mut Self::Context) {}
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
            Outbound::Ping => ctx.ping(b""),
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
