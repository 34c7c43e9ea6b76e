//! A member of a broadcasting service (`/broadcast`, or `/room`, where a room actor
//! fans out to its members' addresses) that sends a numbered stream of messages and
//! reads every one back in order: the well-behaved client next to the stuck ones of
//! the `stuck` and `stuck-addr` scenarios and of the broadcast attacks. It must get
//! everything, whoever else stalls.

use std::io;
use std::net::SocketAddr;

use tokio::time::Instant;

use crate::net::{Ws, WsMessage};
use crate::sockjs::{bad_frame, closed, session_path, sockjs_items};

/// A SockJS websocket session of a broadcasting service that checks its own broadcasts
/// come back.
pub(crate) struct Broadcaster {
    ws: Ws,
    size: usize,
    window: u64,
    sent: u64,
    received: u64,
    message: Vec<u8>,
}

impl Broadcaster {
    /// Opens a session of the service at `prefix` (`/broadcast`, `/room`) and waits for
    /// its open frame. Each message will carry `size` bytes; at most `window` are sent
    /// and not yet back.
    pub(crate) async fn open(
        addr: SocketAddr,
        prefix: &str,
        size: usize,
        window: usize,
        deadline: Instant,
    ) -> io::Result<Broadcaster> {
        let path = session_path(prefix, 0, "websocket");
        let mut ws = Ws::connect(addr, &path, deadline).await?;
        match ws.recv(deadline).await? {
            WsMessage::Text(b"o") => {}
            WsMessage::Text(other) => return Err(bad_frame(other)),
            WsMessage::Close => return Err(closed()),
        }
        Ok(Broadcaster {
            ws,
            size: size.max(16),
            window: window.max(1) as u64,
            sent: 0,
            received: 0,
            message: Vec::with_capacity(size + 8),
        })
    }

    /// Messages sent so far.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// Messages received back so far, every one in order.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Sends `count` more messages (none after `stop_sending`) and waits until every
    /// message sent has come back. Fails if one is missing or out of order, if the
    /// session closes, or at `hard`.
    pub(crate) async fn run(
        &mut self,
        count: u64,
        stop_sending: Instant,
        hard: Instant,
    ) -> io::Result<()> {
        let target = self.sent + count;
        loop {
            let now = Instant::now();
            let mut queued = false;
            while self.sent < target
                && self.sent < self.received + self.window
                && now < stop_sending
            {
                self.encode(self.sent);
                self.ws.queue_text(&self.message);
                self.sent += 1;
                queued = true;
            }
            if queued {
                self.ws.flush(hard).await?;
            }
            if self.received >= self.sent && (self.sent >= target || now >= stop_sending) {
                return Ok(());
            }
            let frame = match self.ws.recv(hard).await? {
                WsMessage::Text(b"h") => continue,
                WsMessage::Text(frame) => frame,
                WsMessage::Close => return Err(closed()),
            };
            let items = sockjs_items(frame).ok_or_else(|| bad_frame(frame))?;
            for item in items {
                let seq = item
                    .split(|&b| b == b':')
                    .next()
                    .and_then(|n| std::str::from_utf8(n).ok())
                    .and_then(|n| n.parse::<u64>().ok())
                    .ok_or_else(|| bad_frame(frame))?;
                if seq != self.received {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("broadcast {seq} arrived where {} was due", self.received),
                    ));
                }
                self.received += 1;
            }
        }
    }

    /// `["SEQ:xxx..."]`, `size` bytes between the quotes.
    fn encode(&mut self, seq: u64) {
        use std::io::Write as _;
        self.message.clear();
        let _ = write!(self.message, "[\"{seq}:");
        while self.message.len() < self.size + 2 {
            self.message.push(b'x');
        }
        self.message.extend_from_slice(b"\"]");
    }

    /// Closes the session (bounded by `deadline`).
    pub(crate) async fn close(self, deadline: Instant) {
        let _ = self.ws.close(deadline).await;
    }
}
