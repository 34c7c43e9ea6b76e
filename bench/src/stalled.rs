//! Clients that stop reading: a SockJS session (websocket or xhr_streaming) whose
//! client reads its open frame and then nothing, on a socket with a small receive
//! buffer so the kernel absorbs little of what it ignores. Once the test is over,
//! [`Stalled::drain`] reads what the server left, to see how the session ended.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;

use crate::net::{Http, Ws, WsMessage};
use crate::sockjs::{
    bad_frame, close_code, closed, find_close, session_base, session_path, xhr_stream_start,
};

/// `SO_RCVBUF` of a stalled client.
pub(crate) const RECV_BUFFER: u32 = 4096;
/// A stalled client being drained that gets nothing for this long is taken to be open.
const QUIET: Duration = Duration::from_secs(2);

/// A session whose client reads nothing after its open frame.
pub(crate) enum Stalled {
    /// A SockJS websocket session.
    Ws(Ws),
    /// An xhr_streaming response; `base` is the session's URL without the transport.
    XhrStreaming { http: Http, base: String },
}

/// How a stalled session ended, seen by reading it once the test is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// A close frame (websocket; 1005 if it had no code) or `c[CODE,...]`
    /// (xhr_streaming).
    Closed(u16),
    /// Still open: nothing more came for a while.
    Open,
    /// The connection ended without a close frame.
    Ended,
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Closed(code) => write!(f, "{code}"),
            Ending::Open => f.write_str("open"),
            Ending::Ended => f.write_str("ended"),
        }
    }
}

impl Stalled {
    /// Opens a session of the service at `prefix` (`ws`: websocket, else xhr_streaming)
    /// and reads its open frame; `n` numbers the server part of the URL.
    pub(crate) async fn open(
        addr: SocketAddr,
        prefix: &str,
        n: usize,
        ws: bool,
        deadline: Instant,
    ) -> io::Result<Stalled> {
        if ws {
            let path = session_path(prefix, n, "websocket");
            let mut ws = Ws::connect_with(addr, &path, deadline, Some(RECV_BUFFER)).await?;
            match ws.recv(deadline).await? {
                WsMessage::Text(b"o") => Ok(Stalled::Ws(ws)),
                WsMessage::Text(other) => Err(bad_frame(other)),
                WsMessage::Close => Err(closed()),
            }
        } else {
            let base = session_base(prefix, n);
            let mut http = Http::connect_with(addr, deadline, Some(RECV_BUFFER)).await?;
            xhr_stream_start(&mut http, &format!("{base}/xhr_streaming"), deadline).await?;
            match http.chunk(deadline).await? {
                Some(b"o\n") => Ok(Stalled::XhrStreaming { http, base }),
                Some(other) => Err(bad_frame(other)),
                None => Err(closed()),
            }
        }
    }

    /// The transport's name.
    pub(crate) fn transport(&self) -> &'static str {
        match self {
            Stalled::Ws(_) => "websocket",
            Stalled::XhrStreaming { .. } => "xhr_streaming",
        }
    }

    /// The client's port: with the server's, it names the connection in
    /// `/proc/net/tcp`.
    pub(crate) fn local_port(&self) -> u16 {
        match self {
            Stalled::Ws(ws) => ws.local_port(),
            Stalled::XhrStreaming { http, .. } => http.local_port(),
        }
    }

    /// Reads what the session was sent until its close frame, a quiet spell or
    /// `deadline`. An xhr_streaming response that ended (at `response_limit`) is
    /// followed by a new one on the same session, as a client would, at most 3 times.
    pub(crate) async fn drain(self, deadline: Instant) -> Ending {
        let quiet = || (Instant::now() + QUIET).min(deadline);
        match self {
            Stalled::Ws(mut ws) => loop {
                match ws.recv(quiet()).await {
                    Ok(WsMessage::Text(_)) => {}
                    Ok(WsMessage::Close) => {
                        return Ending::Closed(ws.close_code().unwrap_or(1005));
                    }
                    Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ending::Open,
                    Err(_) => return Ending::Ended,
                }
            },
            Stalled::XhrStreaming { mut http, base } => {
                let mut restarts = 0;
                loop {
                    match http.chunk(quiet()).await {
                        Ok(Some(chunk)) => {
                            if let Some(code) = find_close(chunk).and_then(close_code) {
                                return Ending::Closed(code);
                            }
                        }
                        Ok(None) if restarts < 3 => {
                            restarts += 1;
                            let path = format!("{base}/xhr_streaming");
                            if xhr_stream_start(&mut http, &path, quiet()).await.is_err() {
                                return Ending::Ended;
                            }
                        }
                        Ok(None) => return Ending::Ended,
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ending::Open,
                        Err(_) => return Ending::Ended,
                    }
                }
            }
        }
    }
}
