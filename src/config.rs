//! Per-service settings, and the origin allowlist they hold (`origin`: its patterns
//! and the rule a request's origin is judged by).

pub(crate) mod origin;

use std::net::IpAddr;
use std::time::Duration;

use crate::vocabulary::Transport;
use origin::OriginPattern;

/// The settings of one SockJS service, built with chained setters.
///
/// Every field has the default sockjs-node and sockjs-tornado use, stated on the field.
///
/// ```
/// use std::time::Duration;
/// use actix_sockjs::SockJsConfig;
///
/// let config = SockJsConfig::default()
///     .heartbeat_delay(Duration::from_secs(10))
///     .cookie_needed(true);
/// assert_eq!(config.heartbeat_delay, Duration::from_secs(10));
/// assert_eq!(config.disconnect_delay, Duration::from_secs(5));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SockJsConfig {
    /// How often the server sends an `h` frame to an attached receiver, so proxies do
    /// not close an idle connection. Default: 25 s.
    pub heartbeat_delay: Duration,
    /// How long a session lives without any receiver (no open poll or stream) before it
    /// is closed and forgotten. Default: 5 s.
    pub disconnect_delay: Duration,
    /// How many bytes a streaming response (xhr_streaming, eventsource, htmlfile) may
    /// carry before it is ended and the client opens a new one. Default: 128 KiB.
    pub response_limit: usize,
    /// Whether the `websocket` transport and the raw `/websocket` endpoint are
    /// offered. Default: true.
    pub websocket: bool,
    /// Whether `/info` says `cookie_needed: true` and every transport sets the
    /// `JSESSIONID` cookie, for load balancers that stick sessions by it. Default: false.
    pub cookie_needed: bool,
    /// Where the iframe page loads the sockjs-client script from.
    /// Default: `https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js`.
    pub sockjs_url: String,
    /// The largest incoming payload accepted, in bytes: an HTTP body (xhr_send,
    /// jsonp_send) larger than this gets 413, a websocket message closes the socket
    /// with 1009 (websocket messages stop at 4 GiB - 1 whatever this says). Default:
    /// 1 MiB.
    pub max_message_size: usize,
    /// Transports this service does not offer: their URLs answer 404 (and a disabled
    /// [`Transport::WebSocket`] makes `/info` say `websocket: false`). Disabling
    /// [`Transport::Jsonp`] also removes `jsonp_send`; `xhr_send` goes only when both
    /// [`Transport::Xhr`] and [`Transport::XhrStreaming`] are disabled. Default: none.
    pub disabled_transports: Vec<Transport>,
    /// The addresses of reverse proxies whose `X-Forwarded-For` / `X-Real-IP` headers
    /// are believed. A request from any other peer is taken at its TCP address, so
    /// clients cannot forge their IP. Default: none.
    pub trusted_proxies: Vec<IpAddr>,
    /// The longest server or session id accepted in a session URL
    /// (`/{server}/{session}/{transport}`), in bytes; a longer one is answered 404,
    /// like any malformed session URL. sockjs-client uses 3-digit server ids and
    /// 8-character session ids. Default: 128.
    pub max_id_length: usize,
    /// The most sessions this service holds at once (every transport, websocket
    /// included, counting closed sessions until they expire); `None` for no limit.
    /// A request that would create one more is answered 503 `Too many sessions.`,
    /// before any session is made. Default: `None`.
    pub max_sessions: Option<usize>,
    /// The most bytes a session may hold for its client without the client taking
    /// them: messages queued while no request is attached, handed to a request whose
    /// client does not read, or sent to the session (handles, broadcasts) and not yet
    /// handled. Past it the session is a slow consumer and is closed with
    /// `c[1013,"Slow consumer"]` (on a websocket, a 1013 close frame); its handler's
    /// `on_close` gets [`CloseReason::SlowConsumer`](crate::CloseReason::SlowConsumer),
    /// further sends to it fail, and the stats count it. Default: 1 MiB.
    pub max_queued_bytes: usize,
    /// Whether websocket sessions (SockJS and raw) send a websocket ping with every
    /// heartbeat (`heartbeat_delay`); a client that has not answered with a pong by
    /// the next heartbeat is taken for gone, and its session closes as
    /// [`CloseReason::Interrupted`](crate::CloseReason::Interrupted). Browsers answer
    /// pings by themselves. Default: true.
    pub websocket_ping: bool,
    /// How long a connection (any transport) may take nothing from its socket while
    /// something waits for it, before the server gives up on it: what waited is
    /// dropped and the session closes as
    /// [`CloseReason::Interrupted`](crate::CloseReason::Interrupted). A client that
    /// reads slowly but reads is never cut; a session with nothing to send is never
    /// idle long, as its heartbeat `h` (and websocket ping) waits for the socket too,
    /// so a stalled client is found at most `heartbeat_delay + write_timeout` after
    /// its socket stopped taking bytes. The TCP connection itself is ended by the
    /// kernel, if the server set [`socket_options`](crate::socket_options)
    /// on its sockets. `None` turns the check off. Default: 30 s.
    pub write_timeout: Option<Duration>,
    /// The web origins whose pages may use this service besides its own. A page on
    /// the service's own origin (its `Host`) is always allowed, and so is a request
    /// that names no origin (no `Origin`, no `Referer`) unless the browser marks it
    /// cross-site (`Sec-Fetch-Site`): non-browser clients send none. A request from a
    /// page of any other origin is refused with 403 before anything else happens: a
    /// websocket upgrade (SockJS or raw) before any session is made, every HTTP
    /// transport and `/info` with no CORS headers and no cookie. So by default (an
    /// empty list) no foreign page can open a session with its visitors' cookies
    /// (cross-site websocket hijacking). [`OriginPattern::any`] (`*`) lets every
    /// origin in, unchecked: what SockJS servers did by default, and what the
    /// protocol's test suites expect. `/info` lists the entries (`["*:*"]` for any).
    /// The iframe page of the iframe transports may be framed only by the service's
    /// own origin and the listed ones (`Content-Security-Policy: frame-ancestors`),
    /// unless any origin is allowed. See [`OriginPattern`] for the form of an entry.
    /// Default: empty.
    pub allowed_origins: Vec<OriginPattern>,
    /// Whether a session may be used only from the IP address that opened it
    /// ([`ConnectionInfo::ip`](crate::ConnectionInfo::ip), so behind
    /// [`trusted_proxies`](Self::trusted_proxies) the client's own). A request for an
    /// existing session from another address is answered 404, as a send to an
    /// unknown session, and logged: someone who learnt a session id cannot use it from
    /// elsewhere. Off by default: a phone moving between networks changes address in
    /// the middle of a session, and clients behind a pool of NAT addresses may too.
    /// Websocket sessions are one connection and need no binding. Default: false.
    pub bind_session_to_ip: bool,
    /// permessage-deflate (RFC 7692) on websockets (SockJS and raw), or `None` for
    /// none. When set, a client that offers it (every current browser does) may send
    /// compressed messages: they are inflated, and refused with 1009 `Message too
    /// big.` as soon as one inflates past [`max_message_size`](Self::max_message_size)
    /// (a small frame cannot make the server inflate more). The server compresses its
    /// messages of 128 bytes or more with compressors that no connection owns (a few
    /// per worker thread), in the context of the messages before them where the
    /// client allows it ([`PermessageDeflate::server_context_takeover`]); a
    /// broadcast's frame is compressed once per thread for all its members there.
    /// Shorter messages go out as they are. Default: `None`.
    pub permessage_deflate: Option<PermessageDeflate>,
}

/// How a service agrees to permessage-deflate ([`SockJsConfig::permessage_deflate`]).
///
/// ```
/// use actix_sockjs::{PermessageDeflate, SockJsConfig};
/// let config = SockJsConfig::default().permessage_deflate(PermessageDeflate::default());
/// assert!(config.permessage_deflate.is_some_and(|d| d.client_no_context_takeover));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PermessageDeflate {
    /// Ask clients to compress each message on its own (`client_no_context_takeover`
    /// in the answer): the server then keeps no inflate window between messages, so
    /// an idle connection holds nothing for it, and one inflater per worker thread
    /// serves every connection's messages; otherwise each connection that sent a
    /// compressed message keeps its own inflater (about 43 KB) for its whole life.
    /// Default: true.
    pub client_no_context_takeover: bool,
    /// Compress messages in the context of the ones before them where clients allow
    /// it (they did not offer `server_no_context_takeover` and kept a 15-bit window).
    /// It costs no memory per connection: each worker thread has up to four
    /// compressors (about 319 KB each) that no connection owns, and the members of
    /// a broadcast, which receive the same messages in the same order, share one;
    /// each broadcast frame is compressed once per thread. Chat lines of about 200
    /// bytes shrink to about 37 % of their size instead of 74 % on their own. When
    /// false, every message is compressed on its own and the answer says so
    /// (`server_no_context_takeover`), which lets clients drop their inflate window
    /// between messages. Default: true.
    pub server_context_takeover: bool,
}

impl Default for PermessageDeflate {
    fn default() -> Self {
        PermessageDeflate {
            client_no_context_takeover: true,
            server_context_takeover: true,
        }
    }
}

impl PermessageDeflate {
    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, ask: bool) -> Self {
        self.client_no_context_takeover = ask;
        self
    }

    /// Sets [`server_context_takeover`](Self::server_context_takeover).
    pub fn server_context_takeover(mut self, keep: bool) -> Self {
        self.server_context_takeover = keep;
        self
    }
}

impl Default for SockJsConfig {
    fn default() -> Self {
        SockJsConfig {
            heartbeat_delay: Duration::from_secs(25),
            disconnect_delay: Duration::from_secs(5),
            response_limit: 128 * 1024,
            websocket: true,
            cookie_needed: false,
            sockjs_url: "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"
                .to_owned(),
            max_message_size: 1024 * 1024,
            disabled_transports: Vec::new(),
            trusted_proxies: Vec::new(),
            max_id_length: 128,
            max_sessions: None,
            max_queued_bytes: 1024 * 1024,
            websocket_ping: true,
            write_timeout: Some(Duration::from_secs(30)),
            allowed_origins: Vec::new(),
            bind_session_to_ip: false,
            permessage_deflate: None,
        }
    }
}

impl SockJsConfig {
    /// Sets [`heartbeat_delay`](Self::heartbeat_delay).
    pub fn heartbeat_delay(mut self, delay: Duration) -> Self {
        self.heartbeat_delay = delay;
        self
    }

    /// Sets [`disconnect_delay`](Self::disconnect_delay).
    pub fn disconnect_delay(mut self, delay: Duration) -> Self {
        self.disconnect_delay = delay;
        self
    }

    /// Sets [`response_limit`](Self::response_limit).
    pub fn response_limit(mut self, bytes: usize) -> Self {
        self.response_limit = bytes;
        self
    }

    /// Sets [`websocket`](Self::websocket).
    pub fn websocket(mut self, enabled: bool) -> Self {
        self.websocket = enabled;
        self
    }

    /// Sets [`cookie_needed`](Self::cookie_needed).
    pub fn cookie_needed(mut self, needed: bool) -> Self {
        self.cookie_needed = needed;
        self
    }

    /// Sets [`sockjs_url`](Self::sockjs_url).
    pub fn sockjs_url(mut self, url: impl Into<String>) -> Self {
        self.sockjs_url = url.into();
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`disabled_transports`](Self::disabled_transports).
    ///
    /// ```
    /// use actix_sockjs::{SockJsConfig, Transport};
    /// let config = SockJsConfig::default().disabled_transports([Transport::HtmlFile]);
    /// assert!(!config.transport_enabled(Transport::HtmlFile));
    /// assert!(config.transport_enabled(Transport::Xhr));
    /// ```
    pub fn disabled_transports(mut self, transports: impl IntoIterator<Item = Transport>) -> Self {
        self.disabled_transports = transports.into_iter().collect();
        self
    }

    /// Sets [`trusted_proxies`](Self::trusted_proxies).
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Sets [`max_id_length`](Self::max_id_length).
    pub fn max_id_length(mut self, bytes: usize) -> Self {
        self.max_id_length = bytes;
        self
    }

    /// Sets [`max_sessions`](Self::max_sessions).
    ///
    /// ```
    /// use actix_sockjs::SockJsConfig;
    /// assert_eq!(SockJsConfig::default().max_sessions(Some(10_000)).max_sessions, Some(10_000));
    /// ```
    pub fn max_sessions(mut self, sessions: Option<usize>) -> Self {
        self.max_sessions = sessions;
        self
    }

    /// Sets [`max_queued_bytes`](Self::max_queued_bytes).
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// Sets [`websocket_ping`](Self::websocket_ping).
    pub fn websocket_ping(mut self, ping: bool) -> Self {
        self.websocket_ping = ping;
        self
    }

    /// Sets [`write_timeout`](Self::write_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_sockjs::SockJsConfig;
    /// let config = SockJsConfig::default().write_timeout(Some(Duration::from_secs(10)));
    /// assert_eq!(config.write_timeout, Some(Duration::from_secs(10)));
    /// ```
    pub fn write_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets [`allowed_origins`](Self::allowed_origins) to `origins`.
    ///
    /// ```
    /// use actix_sockjs::{OriginPattern, SockJsConfig};
    /// # fn main() -> Result<(), actix_sockjs::InvalidOriginPattern> {
    /// let config = SockJsConfig::default().allowed_origins([
    ///     "https://app.example.com".parse::<OriginPattern>()?,
    ///     "https://*.example.com".parse()?,
    /// ]);
    /// assert_eq!(config.allowed_origins.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn allowed_origins(mut self, origins: impl IntoIterator<Item = OriginPattern>) -> Self {
        self.allowed_origins = origins.into_iter().collect();
        self
    }

    /// Sets [`bind_session_to_ip`](Self::bind_session_to_ip).
    pub fn bind_session_to_ip(mut self, bind: bool) -> Self {
        self.bind_session_to_ip = bind;
        self
    }

    /// Turns on [`permessage_deflate`](Self::permessage_deflate) with `deflate`.
    pub fn permessage_deflate(mut self, deflate: PermessageDeflate) -> Self {
        self.permessage_deflate = Some(deflate);
        self
    }

    /// Whether `transport` is offered: not disabled, and for the websocket transports,
    /// [`websocket`](Self::websocket) is on.
    pub fn transport_enabled(&self, transport: Transport) -> bool {
        let ws_ok =
            self.websocket || !matches!(transport, Transport::WebSocket | Transport::RawWebSocket);
        ws_ok && !self.disabled_transports.contains(&transport)
    }
}
