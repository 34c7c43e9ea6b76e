//! A lean client: a buffered TCP connection, a websocket client (RFC 6455, client
//! side: masked frames out, unmasked frames in) and HTTP/1.1 keep-alive requests with
//! fixed-length or chunked responses. Only what the scenarios need; every read and
//! write has a deadline. The websocket client may offer permessage-deflate (RFC 7692,
//! [`crate::deflate`]) and counts the payload bytes it receives.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout_at};

use crate::deflate;

/// No response head or frame the server sends us is anywhere near this.
const MAX_BUFFER: usize = 4 << 20;

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, format!("{what} timed out"))
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A TCP connection with a read buffer.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    /// Connects; `recv_buffer` sets `SO_RCVBUF` first (a client that means to stop
    /// reading asks for a small one, so the kernel does not absorb what it ignores).
    pub(crate) async fn connect(
        addr: SocketAddr,
        deadline: Instant,
        recv_buffer: Option<u32>,
    ) -> io::Result<Conn> {
        let connecting = async {
            match recv_buffer {
                None => TcpStream::connect(addr).await,
                Some(size) => {
                    let socket = if addr.is_ipv4() {
                        TcpSocket::new_v4()?
                    } else {
                        TcpSocket::new_v6()?
                    };
                    socket.set_recv_buffer_size(size)?;
                    socket.connect(addr).await
                }
            }
        };
        let stream = timeout_at(deadline, connecting)
            .await
            .map_err(|_| timed_out("connect"))??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: vec![0; 2048],
            start: 0,
            end: 0,
        })
    }

    /// The local port: with the server's port it names the connection in
    /// `/proc/net/tcp`.
    pub(crate) fn local_port(&self) -> u16 {
        self.stream.local_addr().map_or(0, |a| a.port())
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Makes room at the end of the buffer, moving what is unread to its start or
    /// growing it; false when it holds [`MAX_BUFFER`] bytes unread.
    fn make_room(&mut self) -> bool {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() >= MAX_BUFFER {
                return false;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        true
    }

    /// Reads at least one more byte; end of stream is an error.
    async fn fill(&mut self, deadline: Instant) -> io::Result<()> {
        if !self.make_room() {
            return Err(invalid("response too large"));
        }
        let n = timeout_at(deadline, self.stream.read(&mut self.buf[self.end..]))
            .await
            .map_err(|_| timed_out("read"))??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        self.end += n;
        Ok(())
    }

    async fn write_all(&mut self, data: &[u8], deadline: Instant) -> io::Result<()> {
        timeout_at(deadline, self.stream.write_all(data))
            .await
            .map_err(|_| timed_out("write"))?
    }

    /// Writes all of `data` while reading into the buffer whatever arrives meanwhile
    /// (while the buffer has room), so a peer that answers as it reads is never
    /// blocked by us. Reading comes first: what is there is read before each write.
    /// End of stream is an error, what was read before it stays buffered.
    async fn write_all_reading(&mut self, data: &[u8], deadline: Instant) -> io::Result<()> {
        /// What one step of the loop did.
        enum Step {
            Wrote(io::Result<usize>),
            Read(io::Result<usize>),
        }
        let mut written = 0;
        while written < data.len() {
            let room = self.make_room();
            let (mut reader, mut writer) = self.stream.split();
            let buf = &mut self.buf[self.end..];
            let step = timeout_at(deadline, async {
                tokio::select! {
                    biased;
                    read = reader.read(buf), if room => Step::Read(read),
                    wrote = writer.write(&data[written..]) => Step::Wrote(wrote),
                }
            })
            .await
            .map_err(|_| timed_out("write"))?;
            match step {
                Step::Wrote(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Step::Wrote(Ok(n)) => written += n,
                Step::Read(Ok(0)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed",
                    ));
                }
                Step::Read(Ok(n)) => self.end += n,
                Step::Wrote(Err(e)) | Step::Read(Err(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads an HTTP response head; returns its status and headers (lower-cased names),
    /// leaving what follows in the buffer.
    async fn read_head(&mut self, deadline: Instant) -> io::Result<Head> {
        loop {
            if let Some(at) = find(self.available(), b"\r\n\r\n") {
                let head = Head::parse(&self.available()[..at])?;
                self.consume(at + 4);
                return Ok(head);
            }
            if self.end - self.start > 64 * 1024 {
                return Err(invalid("response head too large"));
            }
            self.fill(deadline).await?;
        }
    }

    /// Reads until `n` bytes are buffered.
    async fn want(&mut self, n: usize, deadline: Instant) -> io::Result<()> {
        while self.end - self.start < n {
            self.fill(deadline).await?;
        }
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The parts of an HTTP response head the scenarios look at.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    content_length: Option<usize>,
    chunked: bool,
    /// `Sec-WebSocket-Extensions`, if the response has it.
    extensions: Option<String>,
    /// `X-Served-By`, if the response has it: a proxy in front may name the backend
    /// that answered (the soak's HAProxy does).
    served_by: Option<String>,
}

impl Head {
    fn parse(head: &[u8]) -> io::Result<Head> {
        let text = std::str::from_utf8(head).map_err(|_| invalid("non-UTF-8 head"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let mut content_length = None;
        let mut chunked = false;
        let mut extensions = None;
        let mut served_by = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("sec-websocket-extensions") {
                extensions = Some(value.to_owned());
            } else if name.eq_ignore_ascii_case("x-served-by") {
                served_by = Some(value.to_owned());
            }
        }
        Ok(Head {
            status,
            content_length,
            chunked,
            extensions,
            served_by,
        })
    }
}

/// What a websocket read returned.
pub(crate) enum WsMessage<'a> {
    /// A whole text (or binary) message.
    Text(&'a [u8]),
    /// The server's close frame.
    Close,
}

/// Where [`Ws::advance`] found the next message.
enum Next {
    /// No whole message is buffered.
    Incomplete,
    /// An unfragmented message: its payload's place in the read buffer.
    Whole { at: usize, len: usize },
    /// A fragmented message, now whole in `Ws::fragments`.
    Fragmented,
    /// A compressed message, now inflated in `Ws::inflated`.
    Inflated,
    /// The server's close frame.
    Close,
}

enum Parsed {
    Incomplete,
    /// A data frame: fin, RSV1 (a compressed message's first frame), opcode, payload
    /// offset and length, total frame length.
    Data {
        fin: bool,
        rsv1: bool,
        opcode: u8,
        offset: usize,
        len: usize,
        total: usize,
    },
}

fn parse_frame(buf: &[u8]) -> io::Result<Parsed> {
    if buf.len() < 2 {
        return Ok(Parsed::Incomplete);
    }
    let fin = buf[0] & 0x80 != 0;
    let rsv1 = buf[0] & 0x40 != 0;
    let opcode = buf[0] & 0x0f;
    if buf[1] & 0x80 != 0 {
        return Err(invalid("masked frame from the server"));
    }
    let (len, offset) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            let len = usize::try_from(u64::from_be_bytes(b)).map_err(|_| invalid("huge frame"))?;
            (len, 10)
        }
        126 | 127 => return Ok(Parsed::Incomplete),
        n => (usize::from(n), 2),
    };
    if len > MAX_BUFFER {
        return Err(invalid("frame too large"));
    }
    if buf.len() < offset + len {
        return Ok(Parsed::Incomplete);
    }
    Ok(Parsed::Data {
        fin,
        rsv1,
        opcode,
        offset,
        len,
        total: offset + len,
    })
}

/// A websocket client connection.
pub(crate) struct Ws {
    conn: Conn,
    mask: u32,
    out: Vec<u8>,
    fragments: Vec<u8>,
    in_fragmented: bool,
    close_code: Option<u16>,
    /// The server agreed to permessage-deflate.
    deflate: bool,
    /// The fragmented message in progress is compressed.
    fragments_compressed: bool,
    /// The last compressed message, inflated; what we compress, before it is sent.
    inflated: Vec<u8>,
    /// What the server's compressed messages may refer to.
    history: deflate::History,
    /// Payload bytes of the data frames received, as they came (compressed or not).
    wire_bytes: u64,
    /// Compressed messages received.
    compressed: u64,
    /// The handshake answer's `X-Served-By`, if it had one.
    served_by: Option<String>,
}

impl Ws {
    /// Connects and completes the opening handshake on `path`.
    pub(crate) async fn connect(addr: SocketAddr, path: &str, deadline: Instant) -> io::Result<Ws> {
        Ws::connect_with(addr, path, deadline, None).await
    }

    /// [`connect`](Self::connect) with `SO_RCVBUF` set to `recv_buffer`.
    pub(crate) async fn connect_with(
        addr: SocketAddr,
        path: &str,
        deadline: Instant,
        recv_buffer: Option<u32>,
    ) -> io::Result<Ws> {
        Ws::open(addr, path, deadline, recv_buffer, false).await
    }

    /// [`connect`](Self::connect), offering permessage-deflate as browsers do
    /// ([`deflate::OFFER`]); an error if the server does not agree to it.
    pub(crate) async fn connect_deflate(
        addr: SocketAddr,
        path: &str,
        deadline: Instant,
    ) -> io::Result<Ws> {
        Ws::open(addr, path, deadline, None, true).await
    }

    /// Connects (with `SO_RCVBUF` set to `recv_buffer`, if given) and completes the
    /// opening handshake on `path`, offering permessage-deflate when `deflate` says so.
    async fn open(
        addr: SocketAddr,
        path: &str,
        deadline: Instant,
        recv_buffer: Option<u32>,
        deflate: bool,
    ) -> io::Result<Ws> {
        let mut conn = Conn::connect(addr, deadline, recv_buffer).await?;
        let offer = if deflate {
            format!("Sec-WebSocket-Extensions: {}\r\n", deflate::OFFER)
        } else {
            String::new()
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n{offer}\r\n"
        );
        conn.write_all(request.as_bytes(), deadline).await?;
        let head = conn.read_head(deadline).await?;
        if head.status != 101 {
            return Err(invalid(format!("handshake answered {}", head.status)));
        }
        if deflate && !deflate::agreed(head.extensions.as_deref()) {
            return Err(invalid(
                "the server did not agree to permessage-deflate (bench-server --permessage-deflate?)",
            ));
        }
        let seed = conn
            .stream
            .local_addr()
            .map(|a| u32::from(a.port()))
            .unwrap_or(1);
        Ok(Ws {
            conn,
            mask: seed.wrapping_mul(2_654_435_761) | 1,
            out: Vec::with_capacity(256),
            fragments: Vec::new(),
            in_fragmented: false,
            close_code: None,
            deflate,
            fragments_compressed: false,
            inflated: Vec::new(),
            history: deflate::History::default(),
            wire_bytes: 0,
            compressed: 0,
            served_by: head.served_by,
        })
    }

    /// Payload bytes of the data frames received so far, as they came on the wire
    /// (compressed, when they were).
    pub(crate) fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Compressed messages received so far.
    pub(crate) fn compressed_received(&self) -> u64 {
        self.compressed
    }

    /// The code of the server's close frame, once [`recv`](Self::recv) returned it
    /// (`None` before, or when the frame carried no code).
    pub(crate) fn close_code(&self) -> Option<u16> {
        self.close_code
    }

    /// The local port of the connection.
    pub(crate) fn local_port(&self) -> u16 {
        self.conn.local_port()
    }

    /// The handshake answer's `X-Served-By` (which backend a proxy chose), if any.
    pub(crate) fn served_by(&self) -> Option<&str> {
        self.served_by.as_deref()
    }

    fn next_mask(&mut self) -> [u8; 4] {
        // xorshift32: masks need not be secret here, only present.
        let mut x = self.mask;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask = x;
        x.to_ne_bytes()
    }

    fn encode(&mut self, opcode: u8, payload: &[u8]) {
        self.encode_frame(0x80 | opcode, payload);
    }

    /// Queues one masked frame whose first byte is `first`.
    fn encode_frame(&mut self, first: u8, payload: &[u8]) {
        let mask = self.next_mask();
        self.out.push(first);
        let len = payload.len();
        if len < 126 {
            self.out.push(0x80 | len as u8);
        } else if let Ok(len16) = u16::try_from(len) {
            self.out.push(0x80 | 126);
            self.out.extend_from_slice(&len16.to_be_bytes());
        } else {
            self.out.push(0x80 | 127);
            self.out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&mask);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    }

    /// Queues a text message; [`flush`](Self::flush) writes what is queued.
    pub(crate) fn queue_text(&mut self, payload: &[u8]) {
        self.encode(1, payload);
    }

    /// Queues a text message compressed (RSV1 set, the payload deflated on its own);
    /// an error if permessage-deflate was not agreed.
    pub(crate) fn queue_compressed(&mut self, text: &[u8]) -> io::Result<()> {
        if !self.deflate {
            return Err(invalid("permessage-deflate was not agreed"));
        }
        let mut payload = std::mem::take(&mut self.inflated);
        deflate::compress(text, &mut payload);
        self.encode_frame(0x80 | 0x40 | 1, &payload);
        self.inflated = payload;
        Ok(())
    }

    /// Writes every queued frame.
    pub(crate) async fn flush(&mut self, deadline: Instant) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.conn.write_all(&out, deadline).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Sends one text message.
    pub(crate) async fn send_text(&mut self, payload: &[u8], deadline: Instant) -> io::Result<()> {
        self.queue_text(payload);
        self.flush(deadline).await
    }

    /// The next message; pings are answered, pongs skipped.
    pub(crate) async fn recv(&mut self, deadline: Instant) -> io::Result<WsMessage<'_>> {
        loop {
            let next = self.advance()?;
            // Pongs to the pings just read.
            self.flush(deadline).await?;
            match next {
                Next::Incomplete => self.conn.fill(deadline).await?,
                next => return Ok(self.message(next)),
            }
        }
    }

    /// The next message already read from the connection (by
    /// [`flush_reading`](Self::flush_reading) or an earlier [`recv`](Self::recv)),
    /// without waiting: `None` when no whole one is buffered. Pings are answered with
    /// the next flush.
    pub(crate) fn try_recv(&mut self) -> io::Result<Option<WsMessage<'_>>> {
        match self.advance()? {
            Next::Incomplete => Ok(None),
            next => Ok(Some(self.message(next))),
        }
    }

    /// Writes every queued frame while reading what the server sends meanwhile, for
    /// [`try_recv`](Self::try_recv): a client that sends a long stream and reads the
    /// answers on the same connection.
    pub(crate) async fn flush_reading(&mut self, deadline: Instant) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.out);
        let result = self.conn.write_all_reading(&out, deadline).await;
        self.out = out;
        self.out.clear();
        result
    }

    /// Consumes the buffered frames up to the next message (a pong queued for each
    /// ping on the way) and says where it is.
    fn advance(&mut self) -> io::Result<Next> {
        loop {
            let Parsed::Data {
                fin,
                rsv1,
                opcode,
                offset,
                len,
                total,
            } = parse_frame(self.conn.available())?
            else {
                return Ok(Next::Incomplete);
            };
            let at = self.conn.start + offset;
            // The payload stays where it is until the buffer is next filled.
            self.conn.consume(total);
            match opcode {
                1 | 2 if fin && !self.in_fragmented && !rsv1 => {
                    self.wire_bytes += len as u64;
                    return Ok(Next::Whole { at, len });
                }
                0..=2 => {
                    self.wire_bytes += len as u64;
                    if rsv1 && (opcode == 0 || !self.deflate) {
                        return Err(invalid("RSV1 set where no compressed message may start"));
                    }
                    if opcode != 0 {
                        self.fragments.clear();
                        self.fragments_compressed = rsv1;
                    }
                    self.in_fragmented = !fin;
                    self.fragments
                        .extend_from_slice(&self.conn.buf[at..at + len]);
                    if fin && self.fragments_compressed {
                        deflate::inflate(&self.fragments, &mut self.history, &mut self.inflated)?;
                        self.compressed += 1;
                        return Ok(Next::Inflated);
                    }
                    if fin {
                        return Ok(Next::Fragmented);
                    }
                }
                8 => {
                    if len >= 2 {
                        let code = &self.conn.buf[at..at + 2];
                        self.close_code = Some(u16::from_be_bytes([code[0], code[1]]));
                    }
                    return Ok(Next::Close);
                }
                9 => {
                    let payload = self.conn.buf[at..at + len].to_vec();
                    self.encode(10, &payload);
                }
                _ => {}
            }
        }
    }

    /// The message [`advance`](Self::advance) found.
    fn message(&self, next: Next) -> WsMessage<'_> {
        match next {
            Next::Whole { at, len } => WsMessage::Text(&self.conn.buf[at..at + len]),
            Next::Fragmented => WsMessage::Text(&self.fragments),
            Next::Inflated => WsMessage::Text(&self.inflated),
            Next::Close | Next::Incomplete => WsMessage::Close,
        }
    }

    /// Starts the closing handshake (1000) and waits for the server's close frame or
    /// the end of the connection, until `deadline`.
    pub(crate) async fn close(mut self, deadline: Instant) -> io::Result<()> {
        self.encode(8, &1000u16.to_be_bytes());
        self.flush(deadline).await?;
        loop {
            match self.recv(deadline).await {
                Ok(WsMessage::Close) => return Ok(()),
                Ok(WsMessage::Text(_)) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }
}

/// An HTTP/1.1 keep-alive connection.
pub(crate) struct Http {
    conn: Conn,
    host: String,
    request: Vec<u8>,
    body: Vec<u8>,
    /// Inside a chunked response: whether it has ended.
    chunked_done: bool,
    /// The last response head's `X-Served-By`, if it had one.
    served_by: Option<String>,
}

impl Http {
    pub(crate) async fn connect(addr: SocketAddr, deadline: Instant) -> io::Result<Http> {
        Http::connect_with(addr, deadline, None).await
    }

    /// [`connect`](Self::connect) with `SO_RCVBUF` set to `recv_buffer`.
    pub(crate) async fn connect_with(
        addr: SocketAddr,
        deadline: Instant,
        recv_buffer: Option<u32>,
    ) -> io::Result<Http> {
        Ok(Http {
            conn: Conn::connect(addr, deadline, recv_buffer).await?,
            host: addr.to_string(),
            request: Vec::with_capacity(256),
            body: Vec::new(),
            chunked_done: true,
            served_by: None,
        })
    }

    /// Writes a POST request (without waiting for the answer).
    pub(crate) async fn post(
        &mut self,
        path: &str,
        body: &[u8],
        deadline: Instant,
    ) -> io::Result<()> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\
             Content-Type: text/plain;charset=UTF-8\r\n\r\n",
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        let request = std::mem::take(&mut self.request);
        let result = self.conn.write_all(&request, deadline).await;
        self.request = request;
        result
    }

    /// Writes a GET request (without waiting for the answer).
    pub(crate) async fn get(&mut self, path: &str, deadline: Instant) -> io::Result<()> {
        use std::io::Write as _;
        self.request.clear();
        write!(
            self.request,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n\r\n",
            self.host
        )?;
        let request = std::mem::take(&mut self.request);
        let result = self.conn.write_all(&request, deadline).await;
        self.request = request;
        result
    }

    /// The local port of the connection.
    pub(crate) fn local_port(&self) -> u16 {
        self.conn.local_port()
    }

    /// The last response head's `X-Served-By` (which backend a proxy chose), if any.
    pub(crate) fn served_by(&self) -> Option<&str> {
        self.served_by.as_deref()
    }

    /// Reads a response head.
    pub(crate) async fn head(&mut self, deadline: Instant) -> io::Result<Head> {
        let mut head = self.conn.read_head(deadline).await?;
        self.chunked_done = !head.chunked;
        self.served_by = head.served_by.take();
        Ok(head)
    }

    /// Reads a whole response (head and body) and returns its status and body.
    pub(crate) async fn response(&mut self, deadline: Instant) -> io::Result<(u16, &[u8])> {
        let head = self.head(deadline).await?;
        if head.chunked {
            let mut body = std::mem::take(&mut self.body);
            body.clear();
            let result = async {
                while let Some(chunk) = self.chunk(deadline).await? {
                    body.extend_from_slice(chunk);
                }
                Ok::<(), io::Error>(())
            }
            .await;
            self.body = body;
            result?;
            return Ok((head.status, &self.body));
        }
        let len = match head.status {
            204 | 304 => 0,
            _ => head.content_length.unwrap_or(0),
        };
        self.conn.want(len, deadline).await?;
        let at = self.conn.start;
        self.conn.consume(len);
        Ok((head.status, &self.conn.buf[at..at + len]))
    }

    /// The next chunk of a chunked response; `None` once it has ended.
    pub(crate) async fn chunk(&mut self, deadline: Instant) -> io::Result<Option<&[u8]>> {
        if self.chunked_done {
            return Ok(None);
        }
        let (size, line) = loop {
            if let Some(at) = find(self.conn.available(), b"\r\n") {
                let text = std::str::from_utf8(&self.conn.available()[..at])
                    .map_err(|_| invalid("bad chunk size"))?;
                let hex = text.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(hex, 16).map_err(|_| invalid("bad chunk size"))?;
                break (size, at + 2);
            }
            if self.conn.end - self.conn.start > 1024 {
                return Err(invalid("bad chunk size line"));
            }
            self.conn.fill(deadline).await?;
        };
        if size > MAX_BUFFER {
            return Err(invalid("chunk too large"));
        }
        self.conn.want(line + size + 2, deadline).await?;
        let at = self.conn.start + line;
        self.conn.consume(line + size + 2);
        if size == 0 {
            // No trailers from actix: the terminating chunk ends the response.
            self.chunked_done = true;
            return Ok(None);
        }
        Ok(Some(&self.conn.buf[at..at + size]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_lengths_of_every_size_class() {
        let mut short = vec![0x81, 3];
        short.extend_from_slice(b"abc");
        assert!(matches!(
            parse_frame(&short),
            Ok(Parsed::Data {
                fin: true,
                rsv1: false,
                opcode: 1,
                offset: 2,
                len: 3,
                total: 5
            })
        ));
        let mut medium = vec![0x81, 126, 0x01, 0x00];
        medium.resize(4 + 256, b'x');
        assert!(matches!(
            parse_frame(&medium),
            Ok(Parsed::Data { len: 256, .. })
        ));
        assert!(matches!(
            parse_frame(&medium[..100]),
            Ok(Parsed::Incomplete)
        ));
        assert!(parse_frame(&[0x81, 0x83, 0, 0, 0, 0]).is_err());
    }

    /// A server that answers the handshake with `answer`'s extensions header (if
    /// any), then writes `frames` and keeps the connection until the client goes.
    async fn serve_once(answer: Option<&'static str>, frames: Vec<u8>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.is_ok_and(|n| n == 1)
            {
                head.push(byte[0]);
            }
            let extensions = answer.map_or(String::new(), |a| {
                format!("Sec-WebSocket-Extensions: {a}\r\n")
            });
            let response = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                 Connection: Upgrade\r\n{extensions}\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.write_all(&frames).await;
            let mut rest = [0u8; 256];
            while stream.read(&mut rest).await.is_ok_and(|n| n > 0) {}
        });
        addr
    }

    #[tokio::test]
    async fn compressed_messages_are_inflated_and_wire_bytes_counted() {
        let text = b"a[\"the same words, the same words, the same words again\"]";
        let mut payload = Vec::new();
        deflate::compress(text, &mut payload);
        // One compressed frame, the same compressed in two fragments, a plain one.
        let mut frames = vec![0xc1, payload.len() as u8];
        frames.extend_from_slice(&payload);
        let (first, second) = payload.split_at(3);
        frames.extend_from_slice(&[0x41, first.len() as u8]);
        frames.extend_from_slice(first);
        frames.extend_from_slice(&[0x80, second.len() as u8]);
        frames.extend_from_slice(second);
        frames.extend_from_slice(&[0x81, 1, b'h']);
        let addr = serve_once(
            Some("permessage-deflate; client_no_context_takeover"),
            frames,
        )
        .await;
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut ws = Ws::connect_deflate(addr, "/x", deadline)
            .await
            .expect("connects");
        for _ in 0..2 {
            match ws.recv(deadline).await.expect("message") {
                WsMessage::Text(got) => assert_eq!(got, text),
                WsMessage::Close => panic!("closed"),
            }
        }
        assert!(matches!(ws.recv(deadline).await, Ok(WsMessage::Text(b"h"))));
        assert_eq!(ws.compressed_received(), 2);
        assert_eq!(ws.wire_bytes(), 2 * payload.len() as u64 + 1);
        ws.queue_compressed(text).expect("agreed");
    }

    #[tokio::test]
    async fn deflate_is_refused_where_it_was_not_agreed() {
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let addr = serve_once(None, Vec::new()).await;
        assert!(Ws::connect_deflate(addr, "/x", deadline).await.is_err());
        // A compressed frame on a connection that did not offer it.
        let addr = serve_once(None, vec![0xc1, 1, 0]).await;
        let mut ws = Ws::connect(addr, "/x", deadline).await.expect("connects");
        assert!(ws.recv(deadline).await.is_err());
        assert!(ws.queue_compressed(b"x").is_err());
    }

    #[test]
    fn heads_give_status_and_framing() {
        let head = Head::parse(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx: y").expect("head");
        assert_eq!(
            (head.status, head.content_length, head.chunked),
            (200, Some(12), false)
        );
        let head = Head::parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked").expect("head");
        assert!(head.chunked);
        assert!(Head::parse(b"garbage").is_err());
    }
}
