//! A websocket client that sends what no well-behaved client would: any header, any
//! opcode, masked or not, announced lengths it never sends. The socket is split so
//! that writing a flood and watching for the server's close frame go on together.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::time::{Instant, sleep_until, timeout_at};

use crate::sockjs::{session_path, shown};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// No frame the server sends these clients is near this.
const MAX_FRAME: usize = 1 << 20;

/// A client frame: `fin`, `opcode`, `payload`, masked (as RFC 6455 requires of
/// clients) or not.
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = client_header(fin, opcode, payload.len() as u64, masked);
    if masked {
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// The header of a frame announcing `len` payload bytes, without the payload.
pub(crate) fn client_header(fin: bool, opcode: u8, len: u64, masked: bool) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    let bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(bit | len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        out.push(bit | 126);
        out.extend_from_slice(&len16.to_be_bytes());
    } else {
        out.push(bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&MASK);
    }
    out
}

/// A frame from the server.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A text or binary message (one frame: the server does not fragment).
    Data(Vec<u8>),
    /// A close frame: its code, if any, and reason.
    Close(Option<u16>, String),
    /// A ping, pong or anything else.
    Control(u8),
}

/// One frame at the start of `buf` and its length in bytes; `Ok(None)` if incomplete.
fn parse_frame(buf: &[u8]) -> io::Result<Option<(Frame, usize)>> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    let (len, at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (usize::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut n = [0u8; 8];
                n.copy_from_slice(b);
                (
                    usize::try_from(u64::from_be_bytes(n)).unwrap_or(usize::MAX),
                    10,
                )
            }
            None => return Ok(None),
        },
        n => (usize::from(n), 2),
    };
    if b1 & 0x80 != 0 || len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "masked or huge frame from the server",
        ));
    }
    let Some(payload) = buf.get(at..at + len) else {
        return Ok(None);
    };
    let frame = match b0 & 0x0f {
        0..=2 => Frame::Data(payload.to_vec()),
        8 => Frame::Close(
            payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]])),
            String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned(),
        ),
        op => Frame::Control(op),
    };
    Ok(Some((frame, at + len)))
}

/// What [`RawWs::push`] saw.
#[derive(Debug)]
pub(crate) struct Pushed {
    /// Bytes the socket took before the close frame arrived or writing stopped.
    pub(crate) written: u64,
    /// The server's close frame, if one came.
    pub(crate) close: Option<(Option<u16>, String)>,
    /// Why it stopped without one: a write or read error, end of stream, the deadline,
    /// or everything written.
    pub(crate) stopped: Option<String>,
}

/// A websocket connection on a split TCP stream.
pub(crate) struct RawWs {
    local_port: u16,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    buf: Vec<u8>,
}

impl RawWs {
    /// Connects and completes the opening handshake on `path` (101 expected).
    pub(crate) async fn connect(
        addr: SocketAddr,
        path: &str,
        deadline: Instant,
    ) -> io::Result<RawWs> {
        let stream = timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(|_| timed_out())??;
        stream.set_nodelay(true)?;
        let local_port = stream.local_addr()?.port();
        let (read, write) = stream.into_split();
        let mut ws = RawWs {
            local_port,
            read,
            write,
            buf: Vec::new(),
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        ws.send(request.as_bytes(), deadline).await?;
        let end = loop {
            if let Some(at) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if ws.buf.len() > 16 * 1024 || ws.fill(deadline).await? == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "no handshake"));
            }
        };
        if !ws.buf.starts_with(b"HTTP/1.1 101") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("handshake answered {:?}", shown(&ws.buf[..end])),
            ));
        }
        ws.buf.drain(..end);
        Ok(ws)
    }

    /// Opens a SockJS websocket session of the service at `prefix` and reads its
    /// open frame.
    pub(crate) async fn sockjs(
        addr: SocketAddr,
        prefix: &str,
        deadline: Instant,
    ) -> io::Result<RawWs> {
        let mut ws = RawWs::connect(addr, &session_path(prefix, 0, "websocket"), deadline).await?;
        match ws.next(deadline).await? {
            Some(Frame::Data(o)) if o == b"o" => Ok(ws),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected the open frame, got {other:?}"),
            )),
        }
    }

    /// The client's port: with the server's, it names the connection in
    /// `/proc/net/tcp`.
    pub(crate) fn local_port(&self) -> u16 {
        self.local_port
    }

    /// Reads more bytes; 0 at end of stream.
    async fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = timeout_at(deadline, self.read.read(&mut chunk))
            .await
            .map_err(|_| timed_out())??;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Writes `bytes` as they are.
    pub(crate) async fn send(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<()> {
        timeout_at(deadline, self.write.write_all(bytes))
            .await
            .map_err(|_| timed_out())?
    }

    /// The next frame; `None` at end of stream.
    pub(crate) async fn next(&mut self, deadline: Instant) -> io::Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.buf)? {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            if self.fill(deadline).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Reads until the server's close frame: its code and reason; `None` if the
    /// connection ended without one.
    pub(crate) async fn close_frame(
        &mut self,
        deadline: Instant,
    ) -> io::Result<Option<(Option<u16>, String)>> {
        loop {
            match self.next(deadline).await {
                Ok(Some(Frame::Close(code, reason))) => return Ok(Some((code, reason))),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes `pieces` one after the other while watching for the server's close
    /// frame, until it comes, writing fails or `deadline`. After each piece it pauses
    /// for `pace`, so the close frame is seen soon after the server sends it, and the
    /// bytes written until then are about what the server took (not what the kernel
    /// buffers on both sides absorb while a writer outruns the server).
    pub(crate) async fn push(
        &mut self,
        mut pieces: impl Iterator<Item = Vec<u8>>,
        pace: Duration,
        deadline: Instant,
    ) -> Pushed {
        let mut pushed = Pushed {
            written: 0,
            close: None,
            stopped: None,
        };
        let mut piece = pieces.next();
        let mut at = 0;
        let mut resume = Instant::now();
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            match parse_frame(&self.buf) {
                Ok(Some((Frame::Close(code, reason), _))) => {
                    pushed.close = Some((code, reason));
                    return pushed;
                }
                Ok(Some((_, used))) => {
                    self.buf.drain(..used);
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    pushed.stopped = Some(e.to_string());
                    return pushed;
                }
            }
            let Some(current) = piece.as_deref() else {
                // Everything written: wait for the answer.
                match self.close_frame(deadline).await {
                    Ok(close) => pushed.close = close,
                    Err(e) => pushed.stopped = Some(format!("all written, then {e}")),
                }
                if pushed.close.is_none() && pushed.stopped.is_none() {
                    pushed.stopped = Some("all written, connection ended".into());
                }
                return pushed;
            };
            tokio::select! {
                read = self.read.read(&mut chunk) => match read {
                    Ok(0) => {
                        pushed.stopped = Some("connection ended".into());
                        return pushed;
                    }
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                    Err(e) => {
                        pushed.stopped = Some(format!("read: {e}"));
                        return pushed;
                    }
                },
                wrote = async {
                    sleep_until(resume).await;
                    self.write.write(&current[at..]).await
                } => match wrote {
                    Ok(n) => {
                        pushed.written += n as u64;
                        at += n;
                        if at == current.len() {
                            piece = pieces.next();
                            at = 0;
                            resume = Instant::now() + pace;
                        }
                    }
                    Err(e) => {
                        // The server may have closed after its close frame: read it.
                        let soon = (Instant::now() + Duration::from_secs(2)).min(deadline);
                        match self.close_frame(soon).await {
                            Ok(Some(close)) => pushed.close = Some(close),
                            _ => pushed.stopped = Some(format!("write: {e}")),
                        }
                        return pushed;
                    }
                },
                () = sleep_until(deadline) => {
                    pushed.stopped = Some("deadline".into());
                    return pushed;
                }
            }
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "timed out")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_announce_every_length_class() {
        assert_eq!(client_header(true, 1, 5, false), vec![0x81, 5]);
        assert_eq!(client_header(false, 0, 300, false), vec![0x00, 126, 1, 44]);
        let huge = client_header(true, 1, 1 << 62, true);
        assert_eq!(&huge[..2], &[0x81, 0xff]);
        assert_eq!(&huge[2..10], &(1u64 << 62).to_be_bytes());
        assert_eq!(huge.len(), 14);
    }

    #[test]
    fn masked_payloads_unmask_to_the_original() {
        let frame = client_frame(true, 1, b"hello", true);
        let unmasked: Vec<u8> = frame[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ frame[2 + (i & 3)])
            .collect();
        assert_eq!(unmasked, b"hello");
    }

    #[test]
    fn server_frames_parse_with_close_codes() {
        let close = [0x88, 4, 0x03, 0xf1, b'o', b'k'];
        assert_eq!(
            parse_frame(&close).ok().flatten(),
            Some((Frame::Close(Some(1009), "ok".into()), 6))
        );
        assert!(matches!(parse_frame(&[0x81, 3, b'a']), Ok(None)));
        assert!(parse_frame(&[0x81, 0x81, 0, 0, 0, 0, 0]).is_err());
    }
}
