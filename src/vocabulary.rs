//! The words every layer shares about a session: how its client is connected
//! ([`Transport`]), who the client is ([`ConnectionInfo`]) and why it closed
//! ([`CloseReason`]). Plain data, no actors: the session, the manager, the
//! transports and the stats all use them, and the application is told them.

use std::net::{IpAddr, SocketAddr};

use actix_web::{HttpRequest, http::header, http::header::HeaderMap};

use crate::protocol::CloseFrame;

mod request_headers;

use request_headers::RequestHeaders;

/// Why a session closed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application closed it with this code and reason (sent to the client).
    Server {
        /// The close code, e.g. 3000.
        code: u16,
        /// The reason text, e.g. `Go away!`.
        reason: String,
    },
    /// The client closed its websocket.
    ClientClosed,
    /// The client went away while a request of this session was open (1002
    /// `Connection interrupted`).
    Interrupted,
    /// No request of the session arrived within `disconnect_delay`.
    Timeout,
    /// The client did not take what was sent to it fast enough: more than
    /// [`max_queued_bytes`](crate::SockJsConfig::max_queued_bytes) waited (1013
    /// `Slow consumer`).
    SlowConsumer,
    /// The server is shutting down ([`GracefulShutdown`](crate::GracefulShutdown);
    /// 1001 `Server shutting down`).
    ServerShutdown,
}

impl CloseReason {
    /// The usual server close, 3000 `Go away!`: what a stopped session and a session
    /// that ended without a reason of its own send.
    pub(crate) fn go_away() -> Self {
        CloseReason::Server {
            code: 3000,
            reason: "Go away!".into(),
        }
    }

    /// The code and reason the client is (or would be) told.
    pub fn close_frame(&self) -> CloseFrame {
        let (code, reason) = match self {
            CloseReason::Server { code, reason } => (*code, reason.as_str()),
            CloseReason::ClientClosed => (1000, "Normal closure"),
            CloseReason::Interrupted => (1002, "Connection interrupted"),
            CloseReason::Timeout => (1000, "Session timed out"),
            CloseReason::SlowConsumer => (1013, "Slow consumer"),
            CloseReason::ServerShutdown => (1001, "Server shutting down"),
        };
        CloseFrame {
            code,
            reason: reason.to_owned(),
        }
    }
}

/// Which SockJS transport a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// `/{server}/{session}/websocket`.
    WebSocket,
    /// `/websocket`: a plain websocket without SockJS framing.
    RawWebSocket,
    /// `xhr` polling.
    Xhr,
    /// `xhr_streaming`.
    XhrStreaming,
    /// `eventsource`.
    EventSource,
    /// `htmlfile`.
    HtmlFile,
    /// `jsonp` polling.
    Jsonp,
}

impl Transport {
    /// The name SockJS uses in URLs and stats, e.g. `xhr_streaming`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket",
            Transport::RawWebSocket => "rawwebsocket",
            Transport::Xhr => "xhr",
            Transport::XhrStreaming => "xhr_streaming",
            Transport::EventSource => "eventsource",
            Transport::HtmlFile => "htmlfile",
            Transport::Jsonp => "jsonp",
        }
    }
}

/// What the server knew about the client when the session opened.
///
/// ```
/// use actix_sockjs::ConnectionInfo;
/// use actix_web::test::TestRequest;
///
/// let req = TestRequest::get()
///     .uri("/echo/000/abc/xhr?name=ann")
///     .insert_header(("Origin", "http://example.com"))
///     .insert_header(("Cookie", "JSESSIONID=xyz"))
///     .to_http_request();
/// let info = ConnectionInfo::from_request(&req, actix_sockjs::Transport::Xhr);
/// assert_eq!(info.query("name"), Some("ann"));
/// assert_eq!(info.header("origin"), Some("http://example.com"));
/// assert_eq!(info.cookie("JSESSIONID"), Some("xyz"));
/// ```
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    peer_addr: Option<SocketAddr>,
    ip: Option<IpAddr>,
    path: String,
    query: Vec<(String, String)>,
    headers: RequestHeaders,
    cookies: Vec<(String, String)>,
    path_params: Vec<(String, String)>,
    transport: Transport,
}

impl ConnectionInfo {
    /// Captures what a request says about its client, trusting no proxy: [`ip`](Self::ip)
    /// is the TCP peer's address.
    pub fn from_request(req: &HttpRequest, transport: Transport) -> Self {
        Self::from_request_trusting(req, transport, &[])
    }

    /// Captures what a request says about its client. When the TCP peer is one of
    /// `trusted_proxies`, [`ip`](Self::ip) comes from `X-Forwarded-For` (the last
    /// address not itself a trusted proxy) or else `X-Real-IP`.
    ///
    /// ```
    /// use actix_sockjs::{ConnectionInfo, Transport};
    /// use actix_web::test::TestRequest;
    ///
    /// let proxy = "10.0.0.2:4000".parse().unwrap();
    /// let req = TestRequest::get()
    ///     .peer_addr(proxy)
    ///     .insert_header(("X-Forwarded-For", "203.0.113.7, 10.0.0.2"))
    ///     .to_http_request();
    /// let trusted = ["10.0.0.2".parse().unwrap()];
    /// let info = ConnectionInfo::from_request_trusting(&req, Transport::Xhr, &trusted);
    /// assert_eq!(info.ip(), Some("203.0.113.7".parse().unwrap()));
    /// let untrusting = ConnectionInfo::from_request(&req, Transport::Xhr);
    /// assert_eq!(untrusting.ip(), Some("10.0.0.2".parse().unwrap()));
    /// ```
    pub fn from_request_trusting(
        req: &HttpRequest,
        transport: Transport,
        trusted_proxies: &[IpAddr],
    ) -> Self {
        // Most requests have neither: nothing to parse, nothing to allocate (the
        // cookie jar would be made and kept in the request's extensions).
        let query = match req.query_string() {
            "" => Vec::new(),
            query => actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
                .map(|q| q.into_inner())
                .unwrap_or_default(),
        };
        let cookies = if req.headers().contains_key(header::COOKIE) {
            req.cookies()
                .map(|jar| {
                    jar.iter()
                        .map(|c| (c.name().to_owned(), c.value().to_owned()))
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let path_params = req
            .match_info()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let peer_addr = req.peer_addr();
        ConnectionInfo {
            ip: client_ip(req, peer_addr, trusted_proxies),
            peer_addr,
            path: req.path().to_owned(),
            query,
            headers: RequestHeaders::copy_of(req.headers()),
            cookies,
            path_params,
            transport,
        }
    }

    /// The address of the TCP peer (a proxy, when there is one).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer_addr
    }

    /// The client's IP address: the TCP peer's, or, behind a trusted proxy (see
    /// [`SockJsConfig::trusted_proxies`](crate::SockJsConfig::trusted_proxies)), the one
    /// the proxy reported.
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The request path, e.g. `/echo/000/abc/xhr`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The first value of a query argument.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every query argument, in order.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// A request header as text (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.text(name)
    }

    /// Every request header (the map is made on the first call).
    pub fn headers(&self) -> &HeaderMap {
        self.headers.map()
    }

    /// The value of a cookie.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a path parameter of the service's prefix, e.g. `room` for a
    /// service mounted at `/chat/{room}`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The transport of the request that opened the session.
    pub fn transport(&self) -> Transport {
        self.transport
    }
}

/// The client address of a request: the peer's, unless the peer is a trusted proxy that
/// says otherwise. `X-Forwarded-For` is read right to left, skipping trusted proxies, so
/// a value the client itself put at the left cannot win. Several `X-Forwarded-For` lines
/// are one list, in order (RFC 9110, section 5.3): HAProxy's `option forwardfor` adds a
/// line of its own after any the client sent. Of several `X-Real-IP` lines, the last
/// one, the one a proxy added, counts.
pub(crate) fn client_ip(
    req: &HttpRequest,
    peer: Option<SocketAddr>,
    trusted_proxies: &[IpAddr],
) -> Option<IpAddr> {
    let peer_ip = peer.map(|p| p.ip());
    let trusted = |ip: &IpAddr| trusted_proxies.contains(ip);
    if !peer_ip.as_ref().is_some_and(trusted) {
        return peer_ip;
    }
    let headers = req.headers();
    // A line that is not text cannot be read: it ends the walk like a bad address.
    let hops = headers
        .get_all("x-forwarded-for")
        .rev()
        .flat_map(|line| line.to_str().unwrap_or("?").rsplit(','));
    let mut last = None;
    for hop in hops {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted(&ip) => last = Some(ip),
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    if last.is_some() {
        return last;
    }
    headers
        .get_all("x-real-ip")
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(peer_ip)
}
