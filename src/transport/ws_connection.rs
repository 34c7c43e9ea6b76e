//! One websocket connection after the handshake: the response body that reads the
//! client's frames, runs the session, and writes what the session sends.
//!
//! It is a plain body stream, not an actor: it needs no mailbox of its own, and
//! writing a frame is one encode into the chunk the poll hands out (actix-web-actors'
//! context queued every frame in a list that kept its room for the connection's whole
//! life, and made a reader and a mailbox of its own that a SockJS connection never
//! used: about 400 bytes of every idle websocket).
//!
//! The session actor runs inside this connection's task, polled between the client's
//! frames and the outbound queue, not as a task of its own: a client message is
//! decoded, handled by the session and its answer encoded and written within one poll
//! of the connection, as in a bare websocket, instead of waking a second task and
//! polling the connection again. The session stays an actor with its own mailbox,
//! context and timers; it ends with the connection.

use std::convert::Infallible;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use super::hosted::HostedSession;
use super::ws_reader::{CLOSE_UNSUPPORTED, ClientFrame, ClientFrames};
use super::{Outbound, QueueRx};
use crate::handler::SockJsHandler;
use crate::protocol::{Messages, decode_websocket_messages};
use crate::session::Command;
use crate::shutdown::InFlight;

/// The body of a websocket response: the connection itself.
pub(crate) struct WsConnection<H: SockJsHandler> {
    client: ClientFrames<web::Payload>,
    /// The session this connection runs, shared with the thread's write-timeout
    /// watch, which takes it out if the connection stalls.
    session: Rc<HostedSession<H>>,
    /// What the session sends.
    outbound: QueueRx<Outbound>,
    raw: bool,
    /// A close frame went out, or the client is gone: the body ends once what was
    /// written is out.
    ending: bool,
    _in_flight: InFlight,
}

impl<H: SockJsHandler> WsConnection<H> {
    pub(crate) fn new(
        client: ClientFrames<web::Payload>,
        session: Rc<HostedSession<H>>,
        outbound: QueueRx<Outbound>,
        raw: bool,
    ) -> Self {
        WsConnection {
            client,
            session,
            outbound,
            raw,
            ending: false,
            _in_flight: InFlight::new(),
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

    fn refuse(&mut self, out: &mut Chunk, code: u16, reason: &str) {
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
    /// `out`.
    fn client_frame(&mut self, out: &mut Chunk, frame: ClientFrame) {
        match frame {
            ClientFrame::Text(text) if self.raw => {
                self.to_session(Command::Message(String::from(text)));
            }
            ClientFrame::Text(text) => match decode_websocket_messages(&text) {
                Ok(None) => {}
                Ok(Some(Messages::One(msg))) => self.to_session(Command::Message(msg)),
                Ok(Some(Messages::Many(messages))) => {
                    self.to_session(Command::Messages(messages));
                }
                // Broken JSON: the session ends (the client sees the socket close).
                Err(_) => self.refuse(out, CLOSE_UNSUPPORTED, "Broken JSON encoding."),
            },
            ClientFrame::Ping(bytes) => write(out.buf(), OpCode::Pong, &bytes),
            ClientFrame::Pong => self.to_session(Command::Pong),
            ClientFrame::Close(reason) => {
                self.to_session(Command::ClientClosed);
                self.close(out, reason);
            }
            ClientFrame::Refuse(refusal) => self.refuse(out, refusal.code, refusal.reason),
        }
    }

    /// Writes what the session sent into `out`.
    fn outbound(&mut self, out: &mut Chunk, item: Outbound) {
        match item {
            Outbound::Text(text) => write(out.buf(), OpCode::Text, text.as_bytes()),
            Outbound::Ping => write(out.buf(), OpCode::Ping, b""),
            Outbound::Close(close) => self.close(
                out,
                Some(CloseReason {
                    code: CloseCode::from(close.code),
                    description: Some(close.reason),
                }),
            ),
            Outbound::Body(_) | Outbound::Prelude(_) => {}
        }
    }

    /// Runs the session if it was woken since it last ran.
    fn drive_session(&mut self, cx: &mut Context<'_>) {
        self.session.drive(cx);
    }
}

impl<H: SockJsHandler> Stream for WsConnection<H> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.session.polled();
        let mut out = Chunk::default();
        // The client's frames first (a batch at most, so a flooding client cannot
        // starve the rest), then the session, so it handles what was just read, then
        // what it sent; again while there is more.
        while !this.ending {
            let mut frames = 0;
            while !this.ending && frames < CLIENT_FRAMES_PER_TURN {
                match Pin::new(&mut this.client).poll_next(cx) {
                    Poll::Ready(Some(frame)) => {
                        this.client_frame(&mut out, frame);
                        frames += 1;
                    }
                    // The client's side of the connection is gone.
                    Poll::Ready(None) => this.ending = true,
                    Poll::Pending => break,
                }
            }
            this.drive_session(cx);
            // While the session runs here, it sends only in `drive_session`: what it
            // sent is all there now, and being woken for it would poll this task
            // again for nothing. Once handed off, it sends from a task of its own.
            let hosting = this.session.hosting();
            while !this.ending {
                let item = if hosting {
                    this.outbound.try_recv()
                } else {
                    this.outbound.poll_recv(cx)
                };
                match item {
                    Poll::Ready(Some(item)) => this.outbound(&mut out, item),
                    // The session let go of this socket.
                    Poll::Ready(None) => this.ending = true,
                    Poll::Pending => break,
                }
            }
            if frames < CLIENT_FRAMES_PER_TURN && !this.session.woken() {
                break;
            }
        }
        if let Some(chunk) = out.take() {
            this.session.gave_bytes();
            return Poll::Ready(Some(Ok(chunk)));
        }
        if this.ending {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}

/// What one poll of the connection writes, handed out whole at its end: nothing is
/// kept between polls (an idle connection holds no buffer, nor room for one), and a
/// poll that writes nothing makes none.
#[derive(Default)]
struct Chunk(Option<BytesMut>);

impl Chunk {
    #[inline]
    fn buf(&mut self) -> &mut BytesMut {
        self.0.get_or_insert_with(BytesMut::new)
    }

    #[inline]
    fn take(self) -> Option<Bytes> {
        self.0.filter(|b| !b.is_empty()).map(BytesMut::freeze)
    }
}

#[inline]
fn write(out: &mut BytesMut, op: OpCode, payload: &[u8]) {
    Parser::write_message(out, payload, op, true, false);
}

/// How many client frames one turn of the connection takes before it runs the session.
const CLIENT_FRAMES_PER_TURN: usize = 64;

impl<H: SockJsHandler> Drop for WsConnection<H> {
    fn drop(&mut self) {
        // Dropping the session lets it take what is already queued for it (messages
        // decoded from the same read, the client's close), then tells it the
        // connection is gone: it closes (on_close runs) if it has not yet, and ends.
        drop(self.session.let_go());
    }
}
