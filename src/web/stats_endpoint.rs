//! An optional route serving the services' statistics as JSON and as Prometheus text.

use std::sync::Arc;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::{HttpResponse, web};

use crate::stats::Stats;
use crate::web::headers::no_cache;

/// Serves the [`Stats`] of one or more services: `GET {path}` answers a JSON object
/// with one [`StatsSnapshot`](crate::StatsSnapshot) per service name, and
/// `GET {path}/prometheus` the same figures in the Prometheus text format.
///
/// ```no_run
/// use actix_sockjs::{SockJsContext, SockJs, SockJsHandler, StatsEndpoint};
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
///     let echo = SockJs::new("/echo", || Echo);
///     let stats = StatsEndpoint::new("/stats").service("echo", echo.stats());
///     HttpServer::new(move || App::new().service(echo.clone()).service(stats.clone()))
///         .bind(("127.0.0.1", 8080))?
///         .run()
///         .await
/// }
/// ```
#[derive(Clone, Debug)]
pub struct StatsEndpoint {
    path: String,
    services: Arc<Vec<(String, Stats)>>,
}

impl StatsEndpoint {
    /// An endpoint at `path` (e.g. `/stats`) with no services yet.
    pub fn new(path: impl Into<String>) -> Self {
        StatsEndpoint {
            path: path.into().trim_end_matches('/').to_owned(),
            services: Arc::new(Vec::new()),
        }
    }

    /// Adds a service's statistics under `name`.
    pub fn service(mut self, name: impl Into<String>, stats: Stats) -> Self {
        Arc::make_mut(&mut self.services).push((name.into(), stats));
        self
    }

    fn json(&self) -> HttpResponse {
        let body: serde_json::Map<String, serde_json::Value> = self
            .services
            .iter()
            .map(|(name, stats)| {
                let value = serde_json::to_value(stats.snapshot()).unwrap_or_default();
                (name.clone(), value)
            })
            .collect();
        let mut res = HttpResponse::Ok();
        no_cache(&mut res);
        res.content_type("application/json; charset=UTF-8")
            .body(serde_json::Value::Object(body).to_string())
    }

    fn prometheus(&self) -> HttpResponse {
        let mut out = String::new();
        for (i, (name, stats)) in self.services.iter().enumerate() {
            stats.snapshot().write_prometheus(&mut out, name, i == 0);
        }
        let mut res = HttpResponse::Ok();
        no_cache(&mut res);
        res.content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(out)
    }
}

impl HttpServiceFactory for StatsEndpoint {
    fn register(self, config: &mut AppService) {
        let json = self.clone();
        let prometheus = self.clone();
        web::scope(&self.path)
            .route(
                "",
                web::get().to(move || {
                    let page = json.json();
                    async move { page }
                }),
            )
            .route(
                "/prometheus",
                web::get().to(move || {
                    let page = prometheus.prometheus();
                    async move { page }
                }),
            )
            .register(config);
    }
}
