//! One session of the fleet on `/broadcast`: opened on its transport, then reading
//! every frame until the process ends, each message counted in the fleet's
//! [`Counts`](super::counts::Counts).
//!
//! - websocket: one connection, frames as websocket messages;
//! - `xhr_streaming`: one keep-alive connection holding a streaming response, which
//!   the server ends at `response_limit` (128 KiB by default); a new one is started
//!   at once on the same connection, and the session's queue fills it;
//! - xhr polling: one keep-alive connection, a new `xhr` POST as soon as the last one
//!   was answered (with a message, or `h` after `heartbeat_delay`).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::time::{Instant, timeout};

use super::counts::{Counts, SessionTally};
use crate::net::{Http, Ws, WsMessage};
use crate::sockjs::{
    bad_frame, closed, session_base, shown, sockjs_items, xhr_open, xhr_stream_start,
};

/// The SockJS service every session joins.
const SERVICE: &str = "/broadcast";

/// A SockJS transport of the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `websocket`.
    WebSocket,
    /// `xhr_streaming`.
    XhrStreaming,
    /// `xhr` polling.
    XhrPolling,
}

impl Transport {
    /// Every transport, in the order reports list them.
    pub(crate) const ALL: [Transport; 3] = [
        Transport::WebSocket,
        Transport::XhrStreaming,
        Transport::XhrPolling,
    ];

    /// The name reports use (and SockJS's, but for polling's `xhr_polling`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::XhrStreaming => "xhr_streaming",
            Transport::XhrPolling => "xhr_polling",
        }
    }

    /// Index into per-transport arrays ([`Transport::ALL`]'s order).
    pub(crate) fn index(self) -> usize {
        match self {
            Transport::WebSocket => 0,
            Transport::XhrStreaming => 1,
            Transport::XhrPolling => 2,
        }
    }
}

/// An open session's connection.
enum Link {
    WebSocket(Ws),
    Streaming { http: Http, base: String },
    Polling { http: Http, base: String },
}

/// Where and how one session connects, and how long opening may take.
pub(crate) struct Plan {
    pub(crate) transport: Transport,
    pub(crate) addr: SocketAddr,
    /// Used for the session URL's server part.
    pub(crate) number: usize,
    pub(crate) open_timeout: Duration,
    /// No read waits past this: the end of the whole run.
    pub(crate) end: Instant,
}

/// Opens the session (holding one of `counts`' connect permits meanwhile), records
/// whether it opened, then counts what it receives until the connection breaks or
/// the process ends.
pub(crate) async fn run(plan: Plan, counts: Rc<Counts>, tally: Rc<SessionTally>) {
    let opened = {
        let _permit = counts.connect_permit().await;
        timeout(plan.open_timeout, open(&plan))
            .await
            .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "open timed out")))
    };
    let link = match opened {
        Ok(link) => link,
        Err(e) => {
            counts.failed_to_open(plan.transport, &e.to_string());
            return;
        }
    };
    counts.opened(plan.transport);
    tally.open.set(true);
    if let Err(e) = receive(link, &plan, &counts, &tally).await {
        tally.broke(&format!("{}: {e}", plan.transport.name()));
    }
}

async fn open(plan: &Plan) -> io::Result<Link> {
    let deadline = Instant::now() + plan.open_timeout;
    let base = session_base(SERVICE, plan.number);
    match plan.transport {
        Transport::WebSocket => {
            let mut ws = Ws::connect(plan.addr, &format!("{base}/websocket"), deadline).await?;
            match ws.recv(deadline).await? {
                WsMessage::Text(b"o") => Ok(Link::WebSocket(ws)),
                WsMessage::Text(frame) => Err(bad_frame(frame)),
                WsMessage::Close => Err(closed()),
            }
        }
        Transport::XhrStreaming => {
            let mut http = Http::connect(plan.addr, deadline).await?;
            xhr_stream_start(&mut http, &format!("{base}/xhr_streaming"), deadline).await?;
            match http.chunk(deadline).await? {
                Some(b"o\n") => Ok(Link::Streaming { http, base }),
                Some(other) => Err(bad_frame(other)),
                None => Err(closed()),
            }
        }
        Transport::XhrPolling => {
            let mut http = Http::connect(plan.addr, deadline).await?;
            xhr_open(&mut http, &base, deadline).await?;
            Ok(Link::Polling { http, base })
        }
    }
}

async fn receive(link: Link, plan: &Plan, counts: &Counts, tally: &SessionTally) -> io::Result<()> {
    let end = plan.end;
    match link {
        Link::WebSocket(mut ws) => loop {
            match ws.recv(end).await? {
                WsMessage::Text(frame) => take_frame(frame, counts, tally)?,
                WsMessage::Close => return Err(closed()),
            }
        },
        Link::Streaming { mut http, base } => loop {
            match http.chunk(end).await? {
                Some(chunk) => take_frames(chunk, counts, tally)?,
                // The response reached `response_limit`: the next one on the same
                // connection.
                None => xhr_stream_start(&mut http, &format!("{base}/xhr_streaming"), end).await?,
            }
        },
        Link::Polling { mut http, base } => {
            let path = format!("{base}/xhr");
            loop {
                http.post(&path, b"", end).await?;
                match http.response(end).await? {
                    (200, body) => take_frames(body, counts, tally)?,
                    (status, body) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("poll answered {status} {:?}", shown(body)),
                        ));
                    }
                }
            }
        }
    }
}

/// Newline-ended frames, as HTTP transports send them.
fn take_frames(text: &[u8], counts: &Counts, tally: &SessionTally) -> io::Result<()> {
    for frame in text.split(|&b| b == b'\n').filter(|f| !f.is_empty()) {
        take_frame(frame, counts, tally)?;
    }
    Ok(())
}

/// One SockJS frame: the messages of `a[...]` counted, heartbeats skipped, a close
/// frame (or anything else) an error.
fn take_frame(frame: &[u8], counts: &Counts, tally: &SessionTally) -> io::Result<()> {
    match frame.first() {
        Some(b'h') => Ok(()),
        Some(b'a') => {
            let items = sockjs_items(frame).ok_or_else(|| bad_frame(frame))?;
            let now = super::message::wall_micros();
            for item in items {
                counts.delivered(tally, item, now);
            }
            Ok(())
        }
        _ => Err(bad_frame(frame)),
    }
}
