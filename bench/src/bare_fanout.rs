//! `/bare-broadcast` of bench-server: `fanout-19k`'s fan-out as cheaply as
//! actix-http allows it, for `fanout-19k-bare` to measure the floor the crate's
//! fan-out is compared with. No SockJS, no session, no actor, no lock: each
//! connection is a plain actix-web websocket response whose body is a queue of
//! encoded frames on its worker thread. A text message from any connection is
//! encoded once as a websocket frame and handed to every connection of the same
//! thread (a reference count each), each of which writes it as its next chunk.
//! Members are per worker thread: the scenario runs bench-server with one worker.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use actix_http::ws::{OpCode, Parser};
use actix_web::{Error, HttpRequest, HttpResponse, web};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;

/// The largest client message taken.
const MAX_MESSAGE: usize = 64 * 1024;

/// One connection, as the broadcaster sees it.
#[derive(Default)]
struct Member {
    /// Encoded frames waiting for the connection to write them.
    queue: RefCell<VecDeque<Bytes>>,
    /// The connection's task, while it waits for a frame.
    waker: RefCell<Option<Waker>>,
}

thread_local! {
    /// Every connection of this thread.
    static MEMBERS: RefCell<Vec<Weak<Member>>> = const { RefCell::new(Vec::new()) };
}

/// `message` to every connection of this thread: encoded once, queued for each.
fn broadcast(message: &[u8]) {
    let mut encoded = BytesMut::with_capacity(message.len() + 10);
    Parser::write_message(&mut encoded, message, OpCode::Text, true, false);
    let frame = encoded.freeze();
    MEMBERS.with(|members| {
        members.borrow_mut().retain(|member| {
            let Some(member) = member.upgrade() else {
                return false;
            };
            member.queue.borrow_mut().push_back(frame.clone());
            if let Some(waker) = member.waker.borrow().as_ref() {
                waker.wake_by_ref();
            }
            true
        });
    });
}

/// The websocket handshake, then the connection as its response body.
pub async fn bare_broadcast(
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    let mut response = actix_web_actors::ws::handshake(&req)?;
    let member = Rc::new(Member::default());
    MEMBERS.with(|members| members.borrow_mut().push(Rc::downgrade(&member)));
    Ok(response.streaming(BareConnection {
        member,
        payload,
        buf: BytesMut::new(),
    }))
}

/// A connection: reads the client's frames (a text message is broadcast, a close
/// ends it) and writes what was queued for it.
struct BareConnection {
    member: Rc<Member>,
    payload: web::Payload,
    buf: BytesMut,
}

impl Stream for BareConnection {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match Parser::parse(&mut this.buf, true, MAX_MESSAGE) {
                Ok(Some((_, OpCode::Text, Some(message)))) => broadcast(&message),
                Ok(Some((_, OpCode::Close, _))) | Err(_) => return Poll::Ready(None),
                Ok(Some(_)) => {}
                Ok(None) => match Pin::new(&mut this.payload).poll_next(cx) {
                    Poll::Ready(Some(Ok(chunk))) => this.buf.extend_from_slice(&chunk),
                    Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(None),
                    Poll::Pending => break,
                },
            }
        }
        let mut queue = this.member.queue.borrow_mut();
        let Some(first) = queue.pop_front() else {
            let mut waker = this.member.waker.borrow_mut();
            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *waker = Some(cx.waker().clone());
            }
            return Poll::Pending;
        };
        if queue.is_empty() {
            return Poll::Ready(Some(Ok(first)));
        }
        // Several waiting: one chunk.
        let mut chunk = BytesMut::from(&first[..]);
        for frame in queue.drain(..) {
            chunk.extend_from_slice(&frame);
        }
        Poll::Ready(Some(Ok(chunk.freeze())))
    }
}
