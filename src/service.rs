//! `SockJs`: the actix-web service factory that mounts every SockJS route under a prefix.

use std::sync::Arc;

use actix::Addr;
use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::{HttpRequest, web};

use crate::config::SockJsConfig;
use crate::config::origin;
use crate::manager::{Sessions, SessionsState};
use crate::session::SessionHandle;
use crate::session::SockJsHandler;
use crate::shutdown::{GracefulShutdown, ShutDown};
use crate::stats::Stats;
use crate::web::iframe::IframePage;

mod dispatch;
mod route;

use dispatch::Service;
#[cfg(test)]
pub(crate) use route::{Route, route};

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
            move |req: HttpRequest, payload: web::Payload| service.clone().answer(req, payload),
        ));
        scope.register(config);
    }
}
