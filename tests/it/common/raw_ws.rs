//! A websocket client on a bare TCP stream, for tests that must send what no
//! well-behaved client library would: fragments, huge announced lengths, invalid UTF-8,
//! unmasked frames, or nothing read at all.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::DEADLINE;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame: `fin`, `opcode`, `payload`.
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    header_len(&mut out, payload.len() as u64, true);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// The header of a masked frame announcing `len` bytes (the payload is not included).
pub(crate) fn client_header(opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    header_len(&mut out, len, true);
    out
}

fn header_len(out: &mut Vec<u8>, len: u64, masked: bool) {
    let bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        out.push(bit | len as u8);
    } else if len <= 0xffff {
        out.push(bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(bit | 127);
        out.extend_from_slice(&len.to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&MASK);
    }
}

/// A frame the server sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ServerFrame {
    Text(String),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
    /// A text frame with RSV1 set: a message compressed by permessage-deflate.
    Compressed(Vec<u8>),
    Other(u8, Vec<u8>),
}

/// A websocket connection on a raw TCP stream.
pub(crate) struct RawWs {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Opens `path` on `addr` and completes the handshake (asserts a 101).
    pub(crate) async fn connect(addr: SocketAddr, path: &str) -> RawWs {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::handshake_on(stream, addr, path).await
    }

    /// Completes the handshake for `path` on a connected `stream` (asserts a 101).
    pub(crate) async fn handshake_on(stream: TcpStream, addr: SocketAddr, path: &str) -> RawWs {
        Self::handshake_with(stream, addr, path, "").await.0
    }

    /// Opens `path` on `addr` with `headers` (lines ending in `\r\n`) added to the
    /// request and completes the handshake (asserts a 101); the response head too.
    pub(crate) async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &str,
    ) -> (RawWs, String) {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Self::handshake_with(stream, addr, path, headers).await
    }

    async fn handshake_with(
        mut stream: TcpStream,
        addr: SocketAddr,
        path: &str,
        headers: &str,
    ) -> (RawWs, String) {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut ws = RawWs {
            stream,
            buf: Vec::new(),
        };
        let head_end = loop {
            if let Some(at) = ws.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            assert!(ws.fill().await > 0, "closed during the handshake");
        };
        let head = String::from_utf8_lossy(&ws.buf[..head_end]).to_string();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        ws.buf.drain(..head_end);
        (ws, head)
    }

    /// The status code a websocket handshake for `path` gets.
    pub(crate) async fn handshake_status(addr: SocketAddr, path: &str) -> u16 {
        Self::handshake_status_with(addr, path, "").await
    }

    /// The status code a websocket handshake for `path` gets with `headers` (lines
    /// ending in `\r\n`) added to the request.
    pub(crate) async fn handshake_status_with(addr: SocketAddr, path: &str, headers: &str) -> u16 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut head = [0u8; 12];
        actix_rt::time::timeout(DEADLINE, stream.read_exact(&mut head))
            .await
            .expect("answer in time")
            .expect("status line");
        String::from_utf8_lossy(&head[9..12])
            .parse()
            .expect("status code")
    }

    /// Reads more bytes; 0 when the server closed the connection.
    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16384];
        let n = actix_rt::time::timeout(DEADLINE, self.stream.read(&mut chunk))
            .await
            .expect("data within the deadline")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Sends bytes as they are; false if the server no longer takes them.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Sends one complete text message as a single frame.
    pub(crate) async fn send_text(&mut self, text: &str) {
        assert!(
            self.send_raw(&client_frame(true, 0x1, text.as_bytes()))
                .await
        );
    }

    /// The next frame from the server; `None` once the server closed the connection.
    pub(crate) async fn next(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if self.fill().await == 0 {
                return None;
            }
        }
    }

    /// The next text frame, skipping heartbeats (`h`) and pings.
    pub(crate) async fn next_text(&mut self) -> String {
        loop {
            match self.next().await {
                Some(ServerFrame::Text(t)) if t == "h" => {}
                Some(ServerFrame::Text(t)) => return t,
                Some(ServerFrame::Ping(_)) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads until the server's close frame; its code and reason.
    pub(crate) async fn close_frame(&mut self) -> (Option<u16>, String) {
        loop {
            match self.next().await {
                Some(ServerFrame::Close(code, reason)) => return (code, reason),
                Some(_) => {}
                None => panic!("connection closed without a close frame"),
            }
        }
    }
}

/// One unmasked server frame at the start of `buf`, and its length in bytes.
fn parse_server_frame(buf: &[u8]) -> Option<(ServerFrame, usize)> {
    let opcode = buf.first()? & 0x0f;
    let len7 = buf.get(1)? & 0x7f;
    let (len, mut at) = match len7 {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let payload = buf.get(at..at + len)?.to_vec();
    at += len;
    let compressed = buf[0] & 0x40 != 0;
    let frame = match opcode {
        // A compressed message (permessage-deflate): its payload as it came.
        0x1 if compressed => ServerFrame::Compressed(payload),
        0x1 => ServerFrame::Text(String::from_utf8(payload).expect("utf-8 text frame")),
        0x8 => {
            let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            let reason = String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).to_string();
            ServerFrame::Close(code, reason)
        }
        0x9 => ServerFrame::Ping(payload),
        0xa => ServerFrame::Pong(payload),
        op => ServerFrame::Other(op, payload),
    };
    Some((frame, at))
}
