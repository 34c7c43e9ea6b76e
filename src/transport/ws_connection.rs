//! One websocket connection after the handshake: the response body that reads the
//! client's frames, runs the session, and writes what the session sends.
//!
//! It is a plain body stream, not an actor: it needs no mailbox of its own, and
//! writing a frame is one encode into the chunk the poll hands out; nothing is kept
//! between polls, so an idle connection holds no buffer.
//!
//! The session actor runs inside this connection's task, polled between the client's
//! frames and the outbound queue, not as a task of its own: a client message is
//! decoded, handled by the session and its answer encoded and written within one poll
//! of the connection, as in a bare websocket, instead of waking a second task and
//! polling the connection again. The session stays an actor with its own mailbox,
//! context and timers; it ends with the connection. When the connection cannot run
//! it (its client stopped reading), the session is handed off to a task of its own
//! (`transport::hosted`), and the connection then waits on the outbound queue.
//!
//! Closing (RFC 6455 §7): a client's close frame is answered at once and the body
//! ends. A frame that breaks a rule is answered with its close frame once the session
//! has answered the messages that came before it. When the server closes first, it
//! writes its close frame and reads (dropping data) until the client's, or
//! [`CLOSE_WAIT`]. With permessage-deflate agreed, long messages are written
//! compressed (`transport::ws_deflate`).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use actix_rt::time::Sleep;
use actix_web::web;
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_core::Stream;

use super::hosted::{AfterRun, HostedSession};
use super::ws_deflate::{self, ClientWindow};
use super::ws_reader::{CLOSE_UNSUPPORTED, ClientFrame, ClientFrames, Refusal};
use super::{Outbound, QueueRx};
use crate::protocol::{Messages, decode_websocket_messages};
use crate::session::Command;
use crate::session::{SockJsHandler, Written};
use crate::shutdown::InFlight;
use chunk::Chunk;

mod chunk;

/// The body of a websocket response: the connection itself.
pub(crate) struct WsConnection<H: SockJsHandler> {
    client: ClientFrames<web::Payload>,
    /// The session this connection runs, shared with the thread's write-timeout
    /// watch, which takes it out if the connection stalls.
    session: Rc<HostedSession<H>>,
    /// What the session sends.
    outbound: QueueRx<Outbound>,
    raw: bool,
    /// permessage-deflate was agreed: what the client's inflate window holds, and
    /// which messages go out compressed (boxed: a connection without compression
    /// holds one pointer for it).
    deflate: Option<Box<ClientWindow>>,
    /// A close frame went out, or the client is gone: the body ends once what was
    /// written is out.
    ending: bool,
    /// The server closed (its close frame went out) and waits, until this timer at
    /// most, for the client's close frame before it ends the connection (RFC 6455
    /// §7.1.1). Boxed, as only a closing connection has one.
    closing: Option<Pin<Box<Sleep>>>,
    _in_flight: InFlight,
}

impl<H: SockJsHandler> WsConnection<H> {
    pub(crate) fn new(
        client: ClientFrames<web::Payload>,
        session: Rc<HostedSession<H>>,
        outbound: QueueRx<Outbound>,
        raw: bool,
        deflate: Option<ClientWindow>,
        in_flight: InFlight,
    ) -> Self {
        WsConnection {
            client,
            session,
            outbound,
            raw,
            deflate: deflate.map(Box::new),
            ending: false,
            closing: None,
            _in_flight: in_flight,
        }
    }

    fn to_session(&self, item: Command) {
        // Refused only once the session has stopped: then nobody is listening.
        // Client messages and the client's close, in order, straight into the session.
        let _ = self.session.inbox().send(item);
    }

    /// Writes a close frame into `out`; the connection ends once it is out.
    fn close(&mut self, out: &mut Chunk, reason: Option<CloseReason>) {
        Parser::write_close(out.buf(), reason, false);
        self.ending = true;
    }

    fn refuse(&mut self, out: &mut Chunk, refusal: Refusal) {
        let Refusal { code, reason } = refusal;
        log::warn!("websocket closed with {code} {reason:?}: the client broke a rule or a limit");
        self.close(
            out,
            Some(CloseReason {
                code: CloseCode::from(code),
                description: Some(reason.to_owned()),
            }),
        );
    }

    /// Handles one client frame; what it answers at once (a pong, a close) goes into
    /// `out`. A frame that breaks a rule is given back, to be answered once the
    /// session has answered what came before it.
    fn client_frame(&mut self, out: &mut Chunk, frame: ClientFrame) -> Option<Refusal> {
        match frame {
            ClientFrame::Text(text) if self.raw => {
                // Copied as a `str` (one allocation of its length): `String::from` a
                // `ByteString` goes through `Display`, growing the string as it writes.
                self.to_session(Command::Message(String::from(&*text)));
            }
            ClientFrame::Text(text) => match decode_websocket_messages(&text) {
                Ok(None) => {}
                Ok(Some(Messages::One(msg))) => self.to_session(Command::Message(msg)),
                Ok(Some(Messages::Many(messages))) => {
                    self.to_session(Command::Messages(messages));
                }
                // Broken JSON: the session ends (the client sees the socket close).
                Err(_) => {
                    return Some(Refusal {
                        code: CLOSE_UNSUPPORTED,
                        reason: "Broken JSON encoding.",
                    });
                }
            },
            ClientFrame::Ping(bytes) => write(out.buf(), OpCode::Pong, &bytes),
            ClientFrame::Pong => self.to_session(Command::Pong),
            ClientFrame::Close(reason) => {
                self.to_session(Command::ClientClosed);
                self.close(out, reason);
            }
            ClientFrame::Refuse(refusal) => return Some(refusal),
        }
        None
    }

    /// After the server's close frame: reads the client's frames, answering none,
    /// until its close frame (or its end, or a broken rule, or [`CLOSE_WAIT`]).
    /// Whether the connection may end now.
    fn closing_done(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            match Pin::new(&mut self.client).poll_next(cx) {
                Poll::Ready(Some(ClientFrame::Close(_) | ClientFrame::Refuse(_)) | None) => {
                    return true;
                }
                // What the client sent before it saw the close frame is dropped.
                Poll::Ready(Some(_)) => {}
                Poll::Pending => {
                    return self
                        .closing
                        .as_mut()
                        .is_none_or(|timer| timer.as_mut().poll(cx).is_ready());
                }
            }
        }
    }

    /// Runs the session if it was woken since it last ran, then writes what it sent
    /// into `out`: what its handles sent straight from the session when that is all
    /// that woke it (no queue between them), the rest through its queue.
    #[inline(always)]
    fn run_session(&mut self, out: &mut Chunk, cx: &mut Context<'_>) {
        let after = if !self.ending && self.closing.is_none() {
            let deflate = &mut self.deflate;
            self.session
                .drive(cx, Some(&mut |item| write_through(out, deflate, item)))
        } else {
            self.session.drive(cx, None)
        };
        if after == AfterRun::NothingQueued {
            return;
        }
        // While the session runs here, it sends only in `drive`: what it sent is all
        // there now, and being woken for it would poll this task again for nothing.
        // Once handed off, it sends from a task of its own.
        let waker = (!self.session.hosting()).then(|| cx.waker());
        while !self.ending && self.closing.is_none() {
            match self.outbound.next(waker) {
                Poll::Ready(Some(item)) => {
                    write_outbound(out, &mut self.deflate, &mut self.closing, item);
                }
                // The session let go of this socket.
                Poll::Ready(None) => self.ending = true,
                Poll::Pending => break,
            }
        }
    }
}

/// Writes what the session sent into `out`. Its close frame starts the closing
/// handshake: `closing` is set, to wait for the client's.
#[inline]
fn write_outbound(
    out: &mut Chunk,
    deflate: &mut Option<Box<ClientWindow>>,
    closing: &mut Option<Pin<Box<Sleep>>>,
    item: Outbound,
) {
    match item {
        Outbound::Text(text) => write_text(out, deflate, &text),
        Outbound::Ping => write(out.buf(), OpCode::Ping, b""),
        Outbound::Close(close) => {
            // The server starts the closing handshake: its close frame, then it
            // waits for the client's.
            let reason = CloseReason {
                code: CloseCode::from(close.code),
                description: Some(close.reason),
            };
            Parser::write_close(out.buf(), Some(reason), false);
            *closing = Some(Box::pin(actix_rt::time::sleep(CLOSE_WAIT)));
        }
        Outbound::Body(_) | Outbound::Prelude(_) => {}
    }
}

/// Writes what the session wrote through (`transport::hosted`) into `out`. A
/// prepared message that goes out plain is the bytes every connection writes for
/// it, encoded once (`PreparedMessage::on_the_wire`); alone in its chunk, it is the
/// chunk.
#[inline]
fn write_through(out: &mut Chunk, deflate: &mut Option<Box<ClientWindow>>, item: Written<'_>) {
    match item {
        Written::Text(text) => write_text(out, deflate, text),
        Written::Prepared(msg, texts) => {
            let (text, frame) = msg.parts();
            let text = if texts { text } else { frame.as_shared() };
            match deflate {
                Some(window) if window.compresses(text.len()) => {
                    write_compressed(out.buf(), text, window);
                }
                _ => out.push_shared(msg.on_the_wire(texts, encode_text)),
            }
        }
    }
}

/// `text` as one websocket text message.
fn encode_text(text: &str) -> Bytes {
    let mut encoded = BytesMut::with_capacity(text.len() + 10);
    write(&mut encoded, OpCode::Text, text.as_bytes());
    encoded.freeze()
}

/// Writes one text message into `out`, compressed if permessage-deflate was agreed
/// and it is long enough.
#[inline]
fn write_text(out: &mut Chunk, deflate: &mut Option<Box<ClientWindow>>, text: &ByteString) {
    match deflate {
        Some(window) if window.compresses(text.len()) => write_compressed(out.buf(), text, window),
        _ => write(out.buf(), OpCode::Text, text.as_bytes()),
    }
}

impl<H: SockJsHandler> Stream for WsConnection<H> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.session.polled();
        if this.closing.is_some() && !this.ending {
            if !this.closing_done(cx) {
                return Poll::Pending;
            }
            this.ending = true;
        }
        let mut out = Chunk::default();
        // The client's frames first (a batch at most, so a flooding client cannot
        // starve the rest), then the session, so it handles what was just read, then
        // what it sent; again while there is more.
        while !this.ending && this.closing.is_none() {
            let mut frames = 0;
            let mut refused = None;
            while !this.ending && this.closing.is_none() && frames < CLIENT_FRAMES_PER_TURN {
                match Pin::new(&mut this.client).poll_next(cx) {
                    Poll::Ready(Some(frame)) => {
                        refused = this.client_frame(&mut out, frame);
                        frames += 1;
                        if refused.is_some() {
                            break;
                        }
                    }
                    // The client's side of the connection is gone.
                    Poll::Ready(None) => this.ending = true,
                    Poll::Pending => break,
                }
            }
            this.run_session(&mut out, cx);
            if let Some(refusal) = refused {
                // The messages read before the broken rule are messages (RFC 6455
                // §7.1.7): what the session answers to them goes out before the
                // close frame.
                for _ in 0..SETTLE_TURNS {
                    if this.ending || this.closing.is_some() || !this.session.woken() {
                        break;
                    }
                    this.run_session(&mut out, cx);
                }
                if !this.ending && this.closing.is_none() {
                    this.refuse(&mut out, refusal);
                }
                break;
            }
            if frames < CLIENT_FRAMES_PER_TURN && !this.session.woken() {
                break;
            }
        }
        if let Some(chunk) = out.take() {
            this.session.gave_bytes();
            return Poll::Ready(Some(Ok(chunk)));
        }
        if this.closing.is_some() && !this.ending {
            // The close frame went out in an earlier chunk: wait for the client's.
            if !this.closing_done(cx) {
                return Poll::Pending;
            }
            this.ending = true;
        }
        if this.ending {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// Writes `text` as a compressed message: RSV1 set on its frame (RFC 7692 §6).
#[cold]
fn write_compressed(out: &mut BytesMut, text: &ByteString, window: &mut ClientWindow) {
    let payload = ws_deflate::compressed(text, window);
    let start = out.len();
    write(out, OpCode::Text, &payload);
    out[start] |= 0x40;
}

#[inline]
fn write(out: &mut BytesMut, op: OpCode, payload: &[u8]) {
    Parser::write_message(out, payload, op, true, false);
}

/// How many client frames one turn of the connection takes before it runs the session.
const CLIENT_FRAMES_PER_TURN: usize = 64;

/// How long a connection whose server sent a close frame waits for the client's
/// before it ends.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How many more runs a session gets to answer the messages that came before a
/// frame that broke a rule (it handles 64 commands per run, more than one turn reads).
const SETTLE_TURNS: usize = 4;

impl<H: SockJsHandler> Drop for WsConnection<H> {
    fn drop(&mut self) {
        // Dropping the session lets it take what is already queued for it (messages
        // decoded from the same read, the client's close), then tells it the
        // connection is gone: it closes (on_close runs) if it has not yet, and ends.
        drop(self.session.let_go());
    }
}
