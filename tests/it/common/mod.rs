//! Shared helpers for the integration tests: servers on 127.0.0.1 with the handlers the
//! tests need, an event recorder to await what a handler saw, and small HTTP helpers.

use std::time::Duration;

use actix_sockjs::{
    CloseReason, ConnectionInfo, SessionHandle, SockJs, SockJsConfig, SockJsContext, SockJsHandler,
};
use actix_web::{App, web};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

pub(crate) mod clients;
pub(crate) mod deploy;
pub(crate) mod own_server;
pub(crate) mod raw_ws;
pub(crate) mod suite;
pub(crate) mod topics;

/// How long any single awaited event may take before the test fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// Echoes every message.
pub(crate) struct Echo;

impl actix::Actor for Echo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

/// Closes every session at once with 3000 `Go away!`.
pub(crate) struct Close;

impl actix::Actor for Close {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Close {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SockJsContext<Self>) {
        session.close(3000, "Go away!");
    }
    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}
}

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Event {
    /// A session opened; its handle lets the test act as the application.
    Open(SessionHandle),
    Message(String),
    Close(CloseReason),
}

/// Echoes, and reports every handler call to the test.
pub(crate) struct Recorder {
    pub(crate) events: UnboundedSender<Event>,
}

impl actix::Actor for Recorder {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Recorder {
    fn on_open(&mut self, info: ConnectionInfo, session: &mut SockJsContext<Self>) {
        let _ = info;
        let _ = self.events.send(Event::Open(session.session_handle()));
    }
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        let _ = self.events.send(Event::Message(msg.clone()));
        if msg == "close" {
            session.close(3001, "asked to");
        } else {
            session.send(&msg);
        }
    }
    fn on_close(&mut self, reason: &CloseReason, _: &mut SockJsContext<Self>) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

/// The services every test server mounts, all on one config: `/echo`, `/close`, `/rec`
/// (a [`Recorder`]), `/nows` (an echo with websockets off, the suite's
/// `/disabled_websocket_echo`) and `/cookie` (an echo with `cookie_needed`, the suite's
/// `/cookie_needed_echo`).
#[derive(Clone)]
struct Services {
    echo: SockJs<Echo>,
    close: SockJs<Close>,
    nows: SockJs<Echo>,
    rec: SockJs<Recorder>,
    cookie: SockJs<Echo>,
}

impl Services {
    fn new(config: SockJsConfig) -> (Self, UnboundedReceiver<Event>) {
        let (tx, rx) = unbounded_channel();
        let services = Services {
            echo: SockJs::new("/echo", || Echo).with_config(config.clone()),
            close: SockJs::new("/close", || Close).with_config(config.clone()),
            nows: SockJs::new("/nows", || Echo).with_config(config.clone().websocket(false)),
            cookie: SockJs::new("/cookie", || Echo).with_config(config.clone().cookie_needed(true)),
            rec: SockJs::new("/rec", move || Recorder { events: tx.clone() }).with_config(config),
        };
        (services, rx)
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.service(self.echo.clone())
            .service(self.close.clone())
            .service(self.nows.clone())
            .service(self.rec.clone())
            .service(self.cookie.clone());
    }
}

/// A configuration that lets pages of every origin in (`OriginPattern::any()`), as
/// the protocol's test suite expects of its server; the default lets in only the
/// service's own.
pub(crate) fn any_origin() -> SockJsConfig {
    SockJsConfig::default().allowed_origins([actix_sockjs::OriginPattern::any()])
}

/// A test server with `/echo`, `/close`, `/rec` (a [`Recorder`]), all on `config`,
/// `/nows`, an echo on `config` with websockets off, and `/cookie`, an echo on `config`
/// with `cookie_needed(true)`.
pub(crate) fn server(config: SockJsConfig) -> (actix_test::TestServer, UnboundedReceiver<Event>) {
    let (services, rx) = Services::new(config);
    let srv = actix_test::start(move || {
        let services = services.clone();
        App::new().configure(move |cfg| services.configure(cfg))
    });
    (srv, rx)
}

/// A server set up as the README says (`h1_allow_half_closed(false)`), so a client
/// that closes its connection is noticed at once: the protocol suite's abort tests
/// assume it. Same services as [`server`]; one worker on 127.0.0.1.
pub(crate) struct StrictServer {
    addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
}

impl StrictServer {
    /// The address it listens on.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }
}

impl Drop for StrictServer {
    fn drop(&mut self) {
        // `stop` sends the command at once; the spawned future only awaits its end.
        actix_rt::spawn(self.handle.stop(false));
    }
}

/// Starts a [`StrictServer`] on `config` (inside an actix system, as `actix_rt::test`).
pub(crate) fn strict_server(config: SockJsConfig) -> (StrictServer, UnboundedReceiver<Event>) {
    let (services, rx) = Services::new(config);
    let server = actix_web::HttpServer::new(move || {
        let services = services.clone();
        App::new().configure(move |cfg| services.configure(cfg))
    })
    .h1_allow_half_closed(false)
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind 127.0.0.1");
    let addr = server.addrs().first().copied().expect("bound address");
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (StrictServer { addr, handle }, rx)
}

/// The next recorded event, which must be an open: the session's handle.
pub(crate) async fn next_open(rx: &mut UnboundedReceiver<Event>) -> SessionHandle {
    match next_event(rx).await {
        Event::Open(handle) => handle,
        other => panic!("expected an open, got {other:?}"),
    }
}

/// A websocket client connection.
pub(crate) type Ws = actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>;

/// Opens a websocket to `path` on the test server, failing the test after [`DEADLINE`].
pub(crate) async fn ws_connect(srv: &actix_test::TestServer, path: &str) -> Ws {
    ws_handshake(&awc::Client::new(), &srv.url(path), &[]).await
}

/// Opens a websocket to `url` with `client`, sending `headers` with the handshake;
/// fails the test after [`DEADLINE`].
pub(crate) async fn ws_handshake(client: &awc::Client, url: &str, headers: &[(&str, &str)]) -> Ws {
    let mut request = client.ws(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match actix_rt::time::timeout(DEADLINE, request.connect()).await {
        Ok(Ok((_, ws))) => ws,
        Ok(Err(e)) => panic!("websocket handshake to {url} failed: {e}"),
        Err(_) => panic!("no websocket handshake to {url} within {DEADLINE:?}"),
    }
}

/// An HTTP and websocket client whose connections leave from `ip`. Linux's loopback
/// answers on all of 127.0.0.0/8, so a client from 127.0.0.2 reaching a server or proxy
/// on 127.0.0.1 shows up there with an address of its own. Requests time out after
/// [`DEADLINE`].
pub(crate) fn client_from(ip: std::net::IpAddr) -> awc::Client {
    awc::Client::builder()
        .local_address(ip)
        .timeout(DEADLINE)
        .finish()
}

/// The next frame from a websocket, failing the test after [`DEADLINE`]; `None` once
/// the socket is gone.
pub(crate) async fn ws_next(ws: &mut Ws) -> Option<awc::ws::Frame> {
    use futures_util::StreamExt;
    match actix_rt::time::timeout(DEADLINE, ws.next()).await {
        Ok(Some(Ok(frame))) => Some(frame),
        Ok(Some(Err(_)) | None) => None,
        Err(_) => panic!("no websocket frame within {DEADLINE:?}"),
    }
}

/// The next websocket frame, which must be text; pings on the way are answered, as a
/// browser does.
pub(crate) async fn ws_text(ws: &mut Ws) -> String {
    use futures_util::SinkExt;
    loop {
        match ws_next(ws).await {
            Some(awc::ws::Frame::Text(bytes)) => {
                return String::from_utf8(bytes.to_vec()).expect("utf-8");
            }
            Some(awc::ws::Frame::Ping(bytes)) => {
                ws.send(awc::ws::Message::Pong(bytes)).await.expect("pong");
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// Reads frames until the socket's close frame; returns its code and reason.
pub(crate) async fn ws_close_code(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        match ws_next(ws).await {
            Some(awc::ws::Frame::Close(reason)) => {
                return reason.map(|r| (u16::from(r.code), r.description.unwrap_or_default()));
            }
            Some(awc::ws::Frame::Text(t)) => panic!("text before close: {t:?}"),
            Some(_) => continue,
            None => return None,
        }
    }
}

/// Sends one text message over a websocket.
pub(crate) async fn ws_send(ws: &mut Ws, text: &str) {
    use futures_util::SinkExt;
    ws.send(awc::ws::Message::Text(text.into()))
        .await
        .expect("websocket send");
}

/// Waits, at most [`DEADLINE`], until `done` holds: for state that has no event of
/// its own (a session leaving the map after its actor stopped, a member pruned).
pub(crate) async fn eventually(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "condition not met within {DEADLINE:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The next recorded event, failing the test after [`DEADLINE`].
pub(crate) async fn next_event(rx: &mut UnboundedReceiver<Event>) -> Event {
    match actix_rt::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("recorder channel closed"),
        Err(_) => panic!("no event within {DEADLINE:?}"),
    }
}

/// The next item from `rx`, failing the test after [`DEADLINE`] (or if every
/// sender is gone) with `what` in the message.
pub(crate) async fn recv_within<T>(rx: &mut UnboundedReceiver<T>, what: &str) -> T {
    match actix_rt::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("{what}: every sender is gone"),
        Err(_) => panic!("no {what} within {DEADLINE:?}"),
    }
}

/// A fresh random session id.
pub(crate) fn session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Body of a response as text.
pub(crate) async fn text<S>(res: &mut awc::ClientResponse<S>) -> String
where
    S: futures_core::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = res.body().limit(16 * 1024 * 1024).await.expect("body");
    String::from_utf8(body.to_vec()).expect("utf-8 body")
}

/// A header of a response as text.
pub(crate) fn header<S>(res: &awc::ClientResponse<S>, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads a streaming response until the body read so far contains `needle`; returns
/// that body. Fails the test after [`DEADLINE`] per chunk or if the stream ends first.
pub(crate) async fn read_until<S>(res: &mut awc::ClientResponse<S>, body: &mut String, needle: &str)
where
    S: futures_core::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    use futures_util::StreamExt;
    while !body.contains(needle) {
        let chunk = actix_rt::time::timeout(DEADLINE, res.next())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within {DEADLINE:?}; got {body:?}"))
            .unwrap_or_else(|| panic!("stream ended before {needle:?}; got {body:?}"))
            .expect("chunk");
        body.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
}

/// Sends `request` on a new raw TCP connection to `addr` and reads until the bytes
/// received end with `suffix`; returns the open connection.
pub(crate) async fn raw_request_until(
    addr: std::net::SocketAddr,
    request: &[u8],
    suffix: &[u8],
) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    while !raw.ends_with(suffix) {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .expect("data in time")
            .expect("read");
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&raw));
        raw.extend_from_slice(&chunk[..n]);
    }
    stream
}

/// The headers every dynamic transport response carries: `content_type`, CORS for
/// `origin` (`*` when the request had none) with credentials, and never cached.
pub(crate) fn assert_transport_headers<S>(
    res: &awc::ClientResponse<S>,
    content_type: &str,
    origin: Option<&str>,
) {
    assert_eq!(header(res, "content-type").as_deref(), Some(content_type));
    assert_eq!(
        header(res, "access-control-allow-origin").as_deref(),
        Some(origin.unwrap_or("*"))
    );
    assert_eq!(
        header(res, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(res, "cache-control").as_deref(),
        Some(suite::NO_CACHE)
    );
    assert_eq!(header(res, "expires"), None);
    assert_eq!(header(res, "last-modified"), None);
}

/// Opens an xhr_streaming (or any POST streaming) request for `path` on a raw
/// connection with a 4 KiB receive buffer, and never reads it: a client whose socket
/// soon takes nothing more.
pub(crate) async fn unread_stream(addr: std::net::SocketAddr, path: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = small_buffer_connect(addr).await;
    let request = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream
}

/// A websocket for `path` on a connection with a 4 KiB receive buffer; the test reads
/// from it only as much as it wants to.
pub(crate) async fn small_buffer_websocket(
    addr: std::net::SocketAddr,
    path: &str,
) -> raw_ws::RawWs {
    raw_ws::RawWs::handshake_on(small_buffer_connect(addr).await, addr, path).await
}

async fn small_buffer_connect(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

pub(crate) use own_server::{RecorderServer, read_tcp_until, start_recorder_server};
