//! `SockJs`: the actix-web service factory that mounts every SockJS route under a prefix.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use actix::{Actor, Addr};
use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::config::SockJsConfig;
use crate::handler::{ConnectionInfo, SockJsHandler, Transport, client_ip};
use crate::manager::{
    Register, Registered, Registration, SessionEntry, SessionManager, SessionRegistry,
};
use crate::session::{
    Command, SessionFuture, SessionHandle, SessionId, SessionMailbox, SessionSetup, SessionShared,
    SessionSlot, inbox,
};
use crate::stats::{Stats, StatsCollector};
use crate::transport::{Receiver, eventsource, htmlfile, jsonp, websocket, xhr};
use crate::web::RequestError;
use crate::web::iframe::IframePage;
use crate::web::origin::{self, Verdict};
use crate::web::{greeting, info};

mod route;
mod shutdown;

pub(crate) use route::{Route, route};

/// A SockJS service: every SockJS route under one prefix, served by handler `H`.
///
/// The prefix may hold path parameters (`/chat/{room}`); the handler reads them from
/// [`ConnectionInfo::param`]. The sessions of a service live in the `SockJs` value:
/// create it once, outside `HttpServer::new`, and clone it into the app factory, so
/// every worker thread sees the same sessions.
///
/// ```no_run
/// use actix_sockjs::{SockJsContext, SockJs, SockJsConfig, SockJsHandler};
/// use actix_web::{App, HttpServer};
///
/// struct Echo;
/// impl actix::Actor for Echo {
///     type Context = SockJsContext<Self>;
/// }
/// impl SockJsHandler for Echo {
///     fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
///         session.send(&msg);
///     }
/// }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let echo = SockJs::new("/echo", || Echo).config(SockJsConfig::default());
///     HttpServer::new(move || App::new().service(echo.clone()))
///         .h1_allow_half_closed(false)
///         .bind(("127.0.0.1", 8080))?
///         .run()
///         .await
/// }
/// ```
pub struct SockJs<H: SockJsHandler> {
    prefix: String,
    config: Arc<SockJsConfig>,
    shared: Arc<Shared<H>>,
}

impl<H: SockJsHandler> Clone for SockJs<H> {
    fn clone(&self) -> Self {
        SockJs {
            prefix: self.prefix.clone(),
            config: self.config.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// What every worker's copy of a service shares.
struct Shared<H: SockJsHandler> {
    factory: Box<dyn Fn() -> H + Send + Sync>,
    registry: Arc<SessionRegistry<H>>,
    /// Started with the first session, on the arbiter that serves it.
    actors: OnceLock<(Addr<SessionManager<H>>, Addr<StatsCollector>)>,
    stats: Stats,
    /// How many sessions exist now (every transport), for `max_sessions`.
    live_sessions: Arc<AtomicUsize>,
    /// Set by a graceful shutdown: no new session is made.
    shutting_down: AtomicBool,
}

impl<H: SockJsHandler> SockJs<H> {
    /// A service at `prefix` whose sessions each get a handler made by `factory`.
    pub fn new(prefix: impl Into<String>, factory: impl Fn() -> H + Send + Sync + 'static) -> Self {
        let prefix = prefix.into().trim_end_matches('/').to_owned();
        SockJs {
            prefix,
            config: Arc::new(SockJsConfig::default()),
            shared: Self::shared(Box::new(factory)),
        }
    }

    fn shared(factory: Box<dyn Fn() -> H + Send + Sync>) -> Arc<Shared<H>> {
        let shared = Arc::new(Shared {
            factory,
            registry: Arc::new(SessionRegistry::new()),
            actors: OnceLock::new(),
            stats: Stats::default(),
            live_sessions: Arc::new(AtomicUsize::new(0)),
            shutting_down: AtomicBool::new(false),
        });
        let weak: std::sync::Weak<Shared<H>> = Arc::downgrade(&shared);
        crate::shutdown::register(weak);
        shared
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: SockJsConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// The configuration in force.
    pub fn settings(&self) -> &SockJsConfig {
        &self.config
    }

    /// The service's statistics: counters and one-second moving averages, with
    /// sockjs-tornado's names. See [`Stats::snapshot`].
    pub fn stats(&self) -> Stats {
        self.shared.stats.clone()
    }

    /// How many sessions exist now, on every transport (a closed session counts until
    /// it expires).
    pub fn session_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// The session with this id, if it exists: its actor's address (for the actor's
    /// own messages) and a handle. A raw websocket's session has a generated id (see
    /// [`SockJsContext::id`](crate::SockJsContext::id)). A websocket session is found
    /// once its connection is set up, which is before its `on_open` runs.
    pub fn session(&self, id: &str) -> Option<(Addr<H>, SessionHandle)> {
        let (id, entry) = self.shared.registry.get(id)?;
        let handle = entry.handle(id, self.config.max_queued_bytes);
        Some((entry.addr, handle))
    }
}

impl<H: SockJsHandler> HttpServiceFactory for SockJs<H> {
    fn register(self, config: &mut AppService) {
        let service = Arc::new(Service {
            iframe: IframePage::new(
                &self.config.sockjs_url,
                self.config.allowed_origins.as_deref(),
            ),
            config: self.config,
            shared: self.shared,
        });
        let scope = web::scope(&self.prefix).default_service(web::to(
            move |req: HttpRequest, payload: web::Payload| {
                let service = service.clone();
                async move { service.dispatch(req, payload).await }
            },
        ));
        scope.register(config);
    }
}

/// One worker's view of a service: what request handlers work with.
pub(crate) struct Service<H: SockJsHandler> {
    config: Arc<SockJsConfig>,
    shared: Arc<Shared<H>>,
    iframe: IframePage,
}

/// A registered session a send request can hand messages to.
pub(crate) struct SendTarget<H: SockJsHandler>(SessionEntry<H>);

impl<H: SockJsHandler> SendTarget<H> {
    /// Hands `messages` to the session; a session that ended meanwhile (it expired
    /// while the body was read) is not found.
    pub(crate) fn deliver(&self, messages: Vec<String>) -> Result<(), RequestError> {
        if messages.is_empty() {
            return Ok(());
        }
        self.0
            .inbox
            .send(Command::Messages(messages))
            .map_err(|_| RequestError::NotFound)
    }
}

impl<H: SockJsHandler> Service<H> {
    pub(crate) fn config(&self) -> &SockJsConfig {
        &self.config
    }

    async fn dispatch(&self, req: HttpRequest, payload: web::Payload) -> HttpResponse {
        let rest = req.match_info().unprocessed().to_owned();
        let route = route(&rest, self.config.max_id_length);
        if let Some(allowed) = &self.config.allowed_origins {
            if route != Route::Greeting && origin::check(&req, allowed) == Verdict::Refused {
                log::warn!(
                    "origin not allowed: {:?} (referer {:?}) on {}",
                    req.headers().get(actix_web::http::header::ORIGIN),
                    req.headers().get(actix_web::http::header::REFERER),
                    req.path()
                );
                return RequestError::OriginNotAllowed.error_response();
            }
        }
        let result = match route {
            Route::Greeting => match *req.method() {
                Method::GET | Method::HEAD => Ok(greeting::greeting()),
                _ => Err(RequestError::MethodNotAllowed("GET")),
            },
            Route::Info => match *req.method() {
                Method::GET => Ok(info::info(&req, &self.config)),
                Method::OPTIONS => Ok(crate::web::headers::preflight(
                    &req,
                    &self.config,
                    "OPTIONS, GET",
                )),
                _ => Err(RequestError::MethodNotAllowed("OPTIONS, GET")),
            },
            Route::Iframe => match *req.method() {
                Method::GET | Method::HEAD => Ok(self.iframe.respond(&req)),
                _ => Err(RequestError::MethodNotAllowed("GET")),
            },
            Route::RawWebSocket if self.config.transport_enabled(Transport::RawWebSocket) => {
                self.websocket(&req, payload, None).await
            }
            Route::RawWebSocket => Err(RequestError::NotFound),
            Route::Session { session, transport } => {
                self.transport(&req, payload, session, transport).await
            }
            Route::NotFound => Err(RequestError::NotFound),
        };
        result.unwrap_or_else(|e| {
            log::debug!("{} {}: {} ({e})", req.method(), req.path(), e.status_code());
            e.error_response()
        })
    }

    async fn transport(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        session: &str,
        transport: &str,
    ) -> Result<HttpResponse, RequestError> {
        if !self.offers(transport) {
            return Err(RequestError::NotFound);
        }
        let method = req.method().clone();
        let preflight = |methods| Ok(crate::web::headers::preflight(req, &self.config, methods));
        match (transport, method) {
            ("websocket", Method::GET) => self.websocket(req, payload, Some(session)).await,
            ("websocket", _) => Err(RequestError::MethodNotAllowed("GET")),
            ("xhr", Method::POST) => xhr::poll(self, req, session).await,
            ("xhr_send", Method::POST) => xhr::send(self, req, payload, session).await,
            ("xhr_streaming", Method::POST) => xhr::streaming(self, req, session).await,
            ("xhr" | "xhr_send" | "xhr_streaming", Method::OPTIONS) => preflight("OPTIONS, POST"),
            ("eventsource", Method::GET) => eventsource::stream(self, req, session).await,
            ("htmlfile", Method::GET) => htmlfile::stream(self, req, session).await,
            ("jsonp", Method::GET) => jsonp::poll(self, req, session).await,
            ("jsonp_send", Method::POST) => jsonp::send(self, req, payload, session).await,
            _ => Err(RequestError::NotFound),
        }
    }

    /// Whether the URL transport name is offered by this service's configuration.
    fn offers(&self, name: &str) -> bool {
        let on = |t| self.config.transport_enabled(t);
        match name {
            "websocket" => on(Transport::WebSocket),
            "xhr" => on(Transport::Xhr),
            "xhr_streaming" => on(Transport::XhrStreaming),
            "xhr_send" => on(Transport::Xhr) || on(Transport::XhrStreaming),
            "eventsource" => on(Transport::EventSource),
            "htmlfile" => on(Transport::HtmlFile),
            "jsonp" | "jsonp_send" => on(Transport::Jsonp),
            _ => true,
        }
    }

    async fn websocket(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        session: Option<&str>,
    ) -> Result<HttpResponse, RequestError> {
        if !self.config.websocket {
            return Err(RequestError::NotFound);
        }
        if req.method() != Method::GET {
            return Err(RequestError::MethodNotAllowed("GET"));
        }
        websocket::start(self, req, payload, session).await
    }

    fn manager(&self) -> Addr<SessionManager<H>> {
        let (manager, _) = self.shared.actors.get_or_init(|| {
            (
                SessionManager::new(self.shared.registry.clone(), self.config.disconnect_delay)
                    .start(),
                StatsCollector::new(self.shared.stats.clone()).start(),
            )
        });
        manager.clone()
    }

    /// Counts `receiver` as an open connection of this service.
    pub(crate) fn count_connection(&self, receiver: &mut Receiver) {
        receiver.count_in(&self.shared.stats);
    }

    /// Makes a session and has the manager put it in the map. When a live session
    /// has the id already, that one is the answer and nothing is made.
    async fn create(
        &self,
        id: &str,
        req: &HttpRequest,
        transport: Transport,
    ) -> Result<(SessionEntry<H>, Option<SessionFuture<H>>), RequestError> {
        if self.shared.shutting_down.load(Ordering::SeqCst) {
            return Err(RequestError::ShuttingDown);
        }
        let Some(slot) = SessionSlot::acquire(&self.shared.live_sessions, self.config.max_sessions)
        else {
            log::warn!(
                "session {id} refused: max_sessions ({:?}) reached",
                self.config.max_sessions
            );
            return Err(RequestError::TooManySessions);
        };
        let id: SessionId = Arc::from(id);
        let info =
            ConnectionInfo::from_request_trusting(req, transport, &self.config.trusted_proxies);
        let shared = Arc::new(SessionShared::new(self.shared.registry.epoch()));
        let (tx, rx) = inbox();
        let mailbox = SessionMailbox::new();
        let entry = SessionEntry {
            addr: mailbox.address(),
            inbox: tx.clone(),
            shared: shared.clone(),
            ip: info.ip().filter(|_| self.config.bind_session_to_ip),
        };
        let manager = self.manager();
        let registered = manager
            .send(Register {
                id: id.clone(),
                entry: entry.clone(),
            })
            .await
            .map_err(|_| RequestError::ShuttingDown)?;
        if let Registered::Existing(existing) = registered {
            return Ok((existing, None));
        }
        let setup = SessionSetup {
            registration: Some(Box::new(Registration::new(manager, id.clone(), tx.clone()))),
            id,
            info,
            config: self.config.clone(),
            shared,
            inbox: (tx, rx),
            registered: transport != Transport::WebSocket && transport != Transport::RawWebSocket,
            raw: transport == Transport::RawWebSocket,
            stats: self.shared.stats.clone(),
            slot,
        };
        let session = mailbox.session((self.shared.factory)(), setup);
        if self.shared.shutting_down.load(Ordering::SeqCst) {
            // Made while the shutdown went over the sessions: it may have missed this
            // one. Closing a closed session does nothing.
            let _ = entry.inbox.send(Command::Shutdown(None));
        }
        Ok((entry, Some(session)))
    }

    /// Attaches a receive request to its session, creating the session on first use
    /// (refused past `max_sessions`).
    pub(crate) async fn receive(
        &self,
        req: &HttpRequest,
        session: &str,
        transport: Transport,
        mut receiver: Receiver,
    ) -> Result<(), RequestError> {
        self.count_connection(&mut receiver);
        // A polling response takes its one frame as soon as it is given (the session
        // then lets go of it): only streams can leave frames waiting.
        if let (Some(timeout), true) = (self.config().write_timeout, receiver.is_streaming()) {
            receiver.watch_stalls(timeout);
        }
        // A session found in the map may end before it takes the request (it
        // expired): then the manager is asked, as for an unknown id, and replaces it.
        // Each round trip either makes a session or finds a live one, so two are
        // enough unless sessions of this id keep ending at once.
        let mut ask_manager = false;
        for _ in 0..4 {
            let found = if ask_manager {
                None
            } else {
                self.shared.registry.get(session)
            };
            let entry = match found {
                Some((_, entry)) => entry,
                None => {
                    let (entry, started) = self.create(session, req, transport).await?;
                    if let Some(started) = started {
                        started.spawn();
                    }
                    entry
                }
            };
            self.check_bound(req, &entry)?;
            match entry.inbox.send(Command::Attach(receiver)) {
                Ok(()) => return Ok(()),
                Err(Command::Attach(back)) => {
                    // It ended and may still be in the map: the manager replaces it.
                    receiver = back;
                    ask_manager = true;
                }
                Err(_) => break,
            }
        }
        Err(RequestError::NotFound)
    }

    /// The registered session a send request names.
    pub(crate) fn lookup(
        &self,
        req: &HttpRequest,
        session: &str,
    ) -> Result<SendTarget<H>, RequestError> {
        let (_, entry) = self
            .shared
            .registry
            .get(session)
            .ok_or(RequestError::NotFound)?;
        if entry.inbox.is_closed() {
            return Err(RequestError::NotFound);
        }
        self.check_bound(req, &entry)?;
        Ok(SendTarget(entry))
    }

    /// With `bind_session_to_ip`: a session is used only from the address that
    /// opened it; for another, it does not exist.
    fn check_bound(&self, req: &HttpRequest, entry: &SessionEntry<H>) -> Result<(), RequestError> {
        let Some(bound) = entry.ip.filter(|_| self.config.bind_session_to_ip) else {
            return Ok(());
        };
        let ip = client_ip(req, req.peer_addr(), &self.config.trusted_proxies);
        if ip == Some(bound) {
            return Ok(());
        }
        log::warn!(
            "session bound to {bound} asked for from {}: {}",
            ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
            req.path()
        );
        Err(RequestError::NotFound)
    }

    /// A session that lives exactly as long as one websocket, not started: the
    /// websocket connection runs it inside its own task. It takes the id of its URL
    /// when that is free; two websockets on one URL are two sessions (the protocol
    /// suite's `test_reuseSessionId`), so the second gets a generated id, as a raw
    /// websocket does.
    pub(crate) async fn websocket_session(
        &self,
        req: &HttpRequest,
        session: Option<&str>,
        transport: Transport,
    ) -> Result<(SessionEntry<H>, SessionFuture<H>), RequestError> {
        if let Some(id) = session {
            if let (entry, Some(session)) = self.create(id, req, transport).await? {
                return Ok((entry, session));
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        match self.create(&id, req, transport).await? {
            (entry, Some(session)) => Ok((entry, session)),
            (_, None) => Err(RequestError::ShuttingDown),
        }
    }
}
