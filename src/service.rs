//! `SockJs`: the actix-web service factory that mounts every SockJS route under a prefix.

use std::sync::Arc;

use actix::Addr;
use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::config::SockJsConfig;
use crate::config::origin::{self, Verdict};
use crate::manager::{Sessions, SessionsState};
use crate::session::SessionHandle;
use crate::session::SockJsHandler;
use crate::shutdown::{GracefulShutdown, ShutDown};
use crate::stats::Stats;
use crate::transport::{eventsource, htmlfile, jsonp, websocket, xhr};
use crate::vocabulary::Transport;
use crate::web::RequestError;
use crate::web::iframe::IframePage;
use crate::web::{greeting, info};

mod route;

pub(crate) use route::{Endpoint, Route, route};

/// A SockJS service: every SockJS route under one prefix, served by handler `H`.
///
/// The prefix may hold path parameters (`/chat/{room}`); the handler reads them from
/// [`ConnectionInfo::param`](crate::ConnectionInfo::param). The sessions of a service live in the `SockJs` value:
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
///     let echo = SockJs::new("/echo", || Echo).with_config(SockJsConfig::default());
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
    state: Arc<SessionsState<H>>,
}

impl<H: SockJsHandler> std::fmt::Debug for SockJs<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SockJs")
            .field("prefix", &self.prefix)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<H: SockJsHandler> Clone for SockJs<H> {
    fn clone(&self) -> Self {
        SockJs {
            prefix: self.prefix.clone(),
            config: self.config.clone(),
            state: self.state.clone(),
        }
    }
}

impl<H: SockJsHandler> SockJs<H> {
    /// A service at `prefix` whose sessions each get a handler made by `factory`.
    pub fn new(prefix: impl Into<String>, factory: impl Fn() -> H + Send + Sync + 'static) -> Self {
        let prefix = prefix.into().trim_end_matches('/').to_owned();
        SockJs {
            prefix,
            config: Arc::new(SockJsConfig::default()),
            state: SessionsState::new(Box::new(factory)),
        }
    }

    /// The service with this configuration in place of the one it had.
    ///
    /// ```
    /// use actix_sockjs::{SockJs, SockJsConfig};
    /// # use actix_sockjs::{SockJsContext, SockJsHandler};
    /// # struct Echo;
    /// # impl actix::Actor for Echo { type Context = SockJsContext<Self>; }
    /// # impl SockJsHandler for Echo {
    /// #     fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) { ctx.send(&msg) }
    /// # }
    /// let echo = SockJs::new("/echo", || Echo)
    ///     .with_config(SockJsConfig::default().response_limit(64 * 1024));
    /// assert_eq!(echo.config().response_limit, 64 * 1024);
    /// ```
    pub fn with_config(mut self, config: SockJsConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &SockJsConfig {
        &self.config
    }

    /// The configuration in force: the old name of [`SockJs::config`].
    #[deprecated(since = "0.1.0", note = "renamed to `config`")]
    pub fn settings(&self) -> &SockJsConfig {
        self.config()
    }

    /// The service's statistics: counters and one-second moving averages, with
    /// sockjs-tornado's names. See [`Stats::snapshot`].
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// How many sessions exist now, on every transport (a closed session counts until
    /// it expires).
    pub fn session_count(&self) -> usize {
        self.state.session_count()
    }

    /// The session with this id, if it exists: its actor's address (for the actor's
    /// own messages) and a handle. A raw websocket's session has a generated id (see
    /// [`SockJsContext::id`](crate::SockJsContext::id)). A websocket session is found
    /// once the manager has taken it in, right after its handshake (its handshake
    /// does not wait for the manager).
    pub fn session(&self, id: &str) -> Option<(Addr<H>, SessionHandle)> {
        self.state.session(id, self.config.max_queued_bytes)
    }
}

impl GracefulShutdown {
    /// Adds a service whose sessions the shutdown closes and whose streams it waits
    /// for: the `SockJs` value (or any clone of it) that the server's app factory
    /// mounts. Naming one service twice is naming it once.
    pub fn service<H: SockJsHandler>(self, service: &SockJs<H>) -> Self {
        let target: Arc<dyn ShutDown> = service.state.clone();
        self.add_service(target)
    }
}

impl<H: SockJsHandler> HttpServiceFactory for SockJs<H> {
    fn register(self, config: &mut AppService) {
        let service = Arc::new(Service {
            iframe: IframePage::new(&self.config.sockjs_url, &self.config.allowed_origins),
            check_origins: !origin::allows_any(&self.config.allowed_origins),
            sessions: Sessions::new(self.config, self.state),
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
    sessions: Sessions<H>,
    iframe: IframePage,
    /// Requests' origins are checked: the service does not allow every one.
    check_origins: bool,
}

impl<H: SockJsHandler> Service<H> {
    async fn dispatch(&self, req: HttpRequest, payload: web::Payload) -> HttpResponse {
        let rest = req.match_info().unprocessed().to_owned();
        let route = route(&rest, self.sessions.config().max_id_length);
        if self.check_origins && route != Route::Greeting {
            let allowed = &self.sessions.config().allowed_origins;
            if origin::check(&req, allowed) == Verdict::Refused {
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
                Method::GET => Ok(info::info(&req, self.sessions.config())),
                Method::OPTIONS => Ok(crate::web::headers::preflight(
                    &req,
                    self.sessions.config(),
                    "OPTIONS, GET",
                )),
                _ => Err(RequestError::MethodNotAllowed("OPTIONS, GET")),
            },
            Route::Iframe => match *req.method() {
                Method::GET | Method::HEAD => Ok(self.iframe.respond(&req)),
                _ => Err(RequestError::MethodNotAllowed("GET")),
            },
            Route::RawWebSocket
                if self
                    .sessions
                    .config()
                    .transport_enabled(Transport::RawWebSocket) =>
            {
                self.websocket(&req, payload, None)
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
        let Some(endpoint) = Endpoint::parse(transport) else {
            return Err(RequestError::NotFound);
        };
        let config = self.sessions.config();
        if !endpoint
            .transports()
            .iter()
            .any(|&t| config.transport_enabled(t))
        {
            return Err(RequestError::NotFound);
        }
        let method = req.method().clone();
        let preflight = |methods| Ok(crate::web::headers::preflight(req, config, methods));
        let sessions = &self.sessions;
        match (endpoint, method) {
            (Endpoint::WebSocket, Method::GET) => self.websocket(req, payload, Some(session)),
            (Endpoint::WebSocket, _) => Err(RequestError::MethodNotAllowed("GET")),
            (Endpoint::Xhr, Method::POST) => xhr::poll(sessions, req, session).await,
            (Endpoint::XhrSend, Method::POST) => xhr::send(sessions, req, payload, session).await,
            (Endpoint::XhrStreaming, Method::POST) => xhr::streaming(sessions, req, session).await,
            (Endpoint::Xhr | Endpoint::XhrSend | Endpoint::XhrStreaming, Method::OPTIONS) => {
                preflight("OPTIONS, POST")
            }
            (Endpoint::EventSource, Method::GET) => {
                eventsource::stream(sessions, req, session).await
            }
            (Endpoint::HtmlFile, Method::GET) => htmlfile::stream(sessions, req, session).await,
            (Endpoint::Jsonp, Method::GET) => jsonp::poll(sessions, req, session).await,
            (Endpoint::JsonpSend, Method::POST) => {
                jsonp::send(sessions, req, payload, session).await
            }
            _ => Err(RequestError::NotFound),
        }
    }

    fn websocket(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        session: Option<&str>,
    ) -> Result<HttpResponse, RequestError> {
        if !self.sessions.config().websocket {
            return Err(RequestError::NotFound);
        }
        if req.method() != Method::GET {
            return Err(RequestError::MethodNotAllowed("GET"));
        }
        websocket::start(&self.sessions, req, payload, session)
    }
}
