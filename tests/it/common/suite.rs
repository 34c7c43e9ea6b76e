//! The SockJS protocol suite's harness (`utils.py`) and its shared checks (class
//! `Test` of `sockjs-protocol.py`), for the `test_suite_*` files.
//!
//! Requests go over raw TCP to 127.0.0.1, one connection per request, and responses
//! are read the way the suite reads them:
//!
//! * a synchronous request ([`request`], the suite's `GET`/`POST`/`OPTIONS`) reads the
//!   body by `Transfer-Encoding: chunked`, else `Content-Length`, else a `Connection:
//!   close` token (to EOF), and otherwise accepts only status 101, 204 or 304 with no
//!   body: any other response without framing fails, as it fails the suite;
//! * a streaming request ([`stream`], the suite's `GET_async`/`POST_async`) must be
//!   chunked, and [`Stream::read`] returns exactly **one** HTTP chunk, so a frame that is
//!   not its own chunk fails the equality checks, as in the suite;
//! * a header that appears several times reads as its last value, an absent header as
//!   `None`; "falsy" means absent or empty.
//!
//! Every read is bounded by [`DEADLINE`].
//!
//! Where the suite at v0.3.3 and the later single `sockjs-protocol.py` disagree, the
//! checks here follow the later suite, as the server does; each such point says so.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::DEADLINE;

/// `Cache-Control` of every response that must not be cached. The later suite's value
/// (with `no-transform`); v0.3.3 wanted `no-store, no-cache, must-revalidate, max-age=0`.
pub(crate) const NO_CACHE: &str = "no-store, no-cache, no-transform, must-revalidate, max-age=0";

/// The xhr_streaming prelude: 2048 `h` and a newline.
pub(crate) fn xhr_prelude() -> Vec<u8> {
    let mut p = vec![b'h'; 2048];
    p.push(b'\n');
    p
}

/// A status line and headers.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    /// The version of the status line: `1.0` or `1.1`.
    pub(crate) http: String,
    pub(crate) status: u16,
    /// In order, names lower-cased, values without surrounding whitespace.
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// A header's value: the last one when repeated (as the suite's dict).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header is absent or empty (falsy in the suite).
    pub(crate) fn falsy(&self, name: &str) -> bool {
        self.header(name).is_none_or(str::is_empty)
    }

    /// Whether `Connection` holds `token` (case-insensitive).
    pub(crate) fn connection_has(&self, token: &str) -> bool {
        self.header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// A whole response of a synchronous request.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) head: Head,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn status(&self) -> u16 {
        self.head.status
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// The body as UTF-8 text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// One raw HTTP connection (the suite's `RawHttpConnection`).
pub(crate) struct Conn {
    stream: TcpStream,
    addr: SocketAddr,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects to the server, within [`DEADLINE`].
    pub(crate) async fn open(addr: SocketAddr) -> Conn {
        assert!(addr.ip().is_loopback(), "tests talk to 127.0.0.1 only");
        let stream = actix_rt::time::timeout(DEADLINE, TcpStream::connect(addr))
            .await
            .expect("connected in time")
            .expect("connect");
        Conn {
            stream,
            addr,
            buf: Vec::new(),
        }
    }

    /// Writes bytes as they are.
    pub(crate) async fn write(&mut self, bytes: &[u8]) {
        actix_rt::time::timeout(DEADLINE, self.stream.write_all(bytes))
            .await
            .expect("written in time")
            .expect("write");
    }

    /// Writes a request as the suite does: the request line, the given headers,
    /// `Host: host:port`, and `Content-Length` whenever there is a body (a POST always
    /// has one, empty by default).
    pub(crate) async fn send(
        &mut self,
        method: &str,
        path: &str,
        http: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) {
        let body = match (method, body) {
            ("POST", None) => Some(&b""[..]),
            (_, body) => body,
        };
        let mut req = format!("{method} {path} HTTP/{http}\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!("Host: {}\r\n", self.addr));
        if let Some(body) = body {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        self.write(&bytes).await;
    }

    /// Sends a request and reads the response head.
    pub(crate) async fn request(
        &mut self,
        method: &str,
        path: &str,
        http: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Head {
        self.send(method, path, http, headers, body).await;
        self.read_head().await
    }

    /// Reads more bytes into the buffer; 0 at EOF.
    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = actix_rt::time::timeout(DEADLINE, self.stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "nothing more within {DEADLINE:?}; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                )
            })
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// One line, without its `\r\n` (or `\n`).
    pub(crate) async fn read_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return line;
            }
            assert!(
                self.fill().await > 0,
                "connection closed inside a line: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Exactly `n` bytes (the suite's `read(n)`); the connection must not close first.
    pub(crate) async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill().await > 0,
                "connection closed after {} of {n} bytes",
                self.buf.len()
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Everything up to EOF.
    pub(crate) async fn read_to_eof(&mut self) -> Vec<u8> {
        while self.fill().await > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// The response head.
    pub(crate) async fn read_head(&mut self) -> Head {
        let status_line = String::from_utf8(self.read_line().await).expect("ascii status line");
        let mut parts = status_line.splitn(3, ' ');
        let http = parts
            .next()
            .and_then(|v| v.strip_prefix("HTTP/"))
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"))
            .to_owned();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status: {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = String::from_utf8(self.read_line().await).expect("ascii header");
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap_or((line.as_str(), ""));
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        Head {
            http,
            status,
            headers,
        }
    }

    /// One HTTP chunk's data (the suite's `read_chunk`); empty for the last chunk.
    pub(crate) async fn read_chunk(&mut self) -> Vec<u8> {
        let line = String::from_utf8(self.read_line().await).expect("ascii chunk size");
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("not a chunk size line: {line:?}"));
        let mut data = self.read_exact(size + 2).await;
        assert_eq!(&data[size..], b"\r\n", "chunk data ends with CRLF");
        data.truncate(size);
        data
    }

    /// The peer has closed the connection: the next read is EOF, with nothing before it
    /// (the suite's `closed()`).
    pub(crate) async fn assert_closed(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unread bytes before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let n = self.fill().await;
        assert_eq!(
            n,
            0,
            "socket not closed: got {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// The body of a synchronous response, read by the suite's rules.
    pub(crate) async fn read_body(&mut self, head: &Head) -> Vec<u8> {
        if head
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            let mut body = Vec::new();
            loop {
                let chunk = self.read_chunk().await;
                if chunk.is_empty() {
                    return body;
                }
                body.extend_from_slice(&chunk);
            }
        }
        if let Some(cl) = head.header("content-length").filter(|v| !v.is_empty()) {
            let cl: usize = cl.parse().expect("numeric content-length");
            return self.read_exact(cl).await;
        }
        if head.connection_has("close") {
            return self.read_to_eof().await;
        }
        assert!(
            matches!(head.status, 101 | 204 | 304),
            "No Transfer-Encoding:chunked nor Content-Length nor Connection:Close! {head:?}"
        );
        Vec::new()
    }
}

/// A synchronous HTTP/1.1 request on its own connection (the suite's `GET`, `POST`,
/// `OPTIONS`).
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    let mut conn = Conn::open(addr).await;
    let head = conn.request(method, path, "1.1", headers, body).await;
    let body = conn.read_body(&head).await;
    Response { head, body }
}

/// `GET path`.
pub(crate) async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], None).await
}

/// `POST path` with `body` (empty by default, with `Content-Length: 0`).
pub(crate) async fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    request(addr, "POST", path, &[], Some(body.as_bytes())).await
}

/// A form-encoded `POST` (jsonp_send).
pub(crate) async fn post_form(addr: SocketAddr, path: &str, body: &str) -> Response {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(body.as_bytes()),
    )
    .await
}

/// A streaming response (the suite's `GET_async`/`POST_async`): the head is read, the
/// body is read one chunk at a time.
pub(crate) struct Stream {
    pub(crate) head: Head,
    pub(crate) conn: Conn,
}

impl Stream {
    /// The next HTTP chunk; empty once the response ended (the suite's `r.read()`).
    pub(crate) async fn read(&mut self) -> Vec<u8> {
        self.conn.read_chunk().await
    }

    /// The next chunk as text.
    pub(crate) async fn read_text(&mut self) -> String {
        String::from_utf8(self.read().await).expect("utf-8 chunk")
    }
}

/// Opens a streaming request; the response must be chunked, as the suite needs to
/// read it chunk by chunk.
pub(crate) async fn stream(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Stream {
    let mut conn = Conn::open(addr).await;
    let head = conn.request(method, path, "1.1", headers, None).await;
    assert!(
        head.header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked")),
        "a streaming response is chunked: {head:?}"
    );
    Stream { head, conn }
}

mod checks;
pub(crate) use checks::*;
