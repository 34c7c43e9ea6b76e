//! A worker's side of a service: every request under its prefix is answered here,
//! at once when nothing has to wait, by a future of its own when something does.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::route::{Endpoint, Route, route};
use crate::config::origin::{self, Verdict};
use crate::manager::Sessions;
use crate::session::SockJsHandler;
use crate::transport::{eventsource, htmlfile, jsonp, websocket, xhr};
use crate::vocabulary::Transport;
use crate::web::RequestError;
use crate::web::iframe::IframePage;
use crate::web::{greeting, info};

/// One worker's view of a service: what request handlers work with.
pub(crate) struct Service<H: SockJsHandler> {
    pub(super) sessions: Sessions<H>,
    pub(super) iframe: IframePage,
    /// Requests' origins are checked: the service does not allow every one.
    pub(super) check_origins: bool,
}

/// A request's response: ready when the handler returns, or a future that waits on
/// the request's session or body.
///
/// Only the session transports that wait (polling, streaming, sends) get a future
/// of their own. Everything else, a websocket's upgrade among it, is answered
/// before actix boxes the handler's future, which then holds only the response:
/// one async function for every route would make each request allocate and move
/// the largest of their states.
pub(crate) enum Answer {
    Now(Ready<HttpResponse>),
    Later(Pin<Box<dyn Future<Output = HttpResponse>>>),
}

impl Future for Answer {
    type Output = HttpResponse;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<HttpResponse> {
        match self.get_mut() {
            Answer::Now(response) => Pin::new(response).poll(cx),
            Answer::Later(future) => future.as_mut().poll(cx),
        }
    }
}

/// The response for `result`, an error's logged.
fn respond(req: &HttpRequest, result: Result<HttpResponse, RequestError>) -> HttpResponse {
    result.unwrap_or_else(|e| {
        log::debug!("{} {}: {} ({e})", req.method(), req.path(), e.status_code());
        e.error_response()
    })
}

impl<H: SockJsHandler> Service<H> {
    pub(super) fn answer(
        self: std::sync::Arc<Self>,
        req: HttpRequest,
        payload: web::Payload,
    ) -> Answer {
        let route = route(
            req.match_info().unprocessed(),
            self.sessions.config().max_id_length,
        );
        if self.check_origins && route != Route::Greeting {
            let allowed = &self.sessions.config().allowed_origins;
            if origin::check(&req, allowed) == Verdict::Refused {
                log::warn!(
                    "origin not allowed: {:?} (referer {:?}) on {}",
                    req.headers().get(actix_web::http::header::ORIGIN),
                    req.headers().get(actix_web::http::header::REFERER),
                    req.path()
                );
                return Answer::Now(ready(RequestError::OriginNotAllowed.error_response()));
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
                match self.endpoint(transport).map(|e| (e, req.method().clone())) {
                    Err(e) => Err(e),
                    Ok((Endpoint::WebSocket, Method::GET)) => {
                        self.websocket(&req, payload, Some(session))
                    }
                    Ok((Endpoint::WebSocket, _)) => Err(RequestError::MethodNotAllowed("GET")),
                    Ok((
                        Endpoint::Xhr | Endpoint::XhrSend | Endpoint::XhrStreaming,
                        Method::OPTIONS,
                    )) => Ok(crate::web::headers::preflight(
                        &req,
                        self.sessions.config(),
                        "OPTIONS, POST",
                    )),
                    Ok((endpoint, method)) => {
                        let session = session.to_owned();
                        return Answer::Later(Box::pin(async move {
                            let result =
                                self.session_transport(&req, payload, &session, endpoint, method);
                            let result = result.await;
                            respond(&req, result)
                        }));
                    }
                }
            }
            Route::NotFound => Err(RequestError::NotFound),
        };
        Answer::Now(ready(respond(&req, result)))
    }

    /// The endpoint a session URL names, if it serves a transport that is enabled.
    fn endpoint(&self, name: &str) -> Result<Endpoint, RequestError> {
        let endpoint = Endpoint::parse(name).ok_or(RequestError::NotFound)?;
        let config = self.sessions.config();
        if endpoint
            .transports()
            .iter()
            .any(|&t| config.transport_enabled(t))
        {
            Ok(endpoint)
        } else {
            Err(RequestError::NotFound)
        }
    }

    /// The session transports that wait: on the session (polling, streaming) or on
    /// the request's body (sends).
    async fn session_transport(
        &self,
        req: &HttpRequest,
        payload: web::Payload,
        session: &str,
        endpoint: Endpoint,
        method: Method,
    ) -> Result<HttpResponse, RequestError> {
        let sessions = &self.sessions;
        match (endpoint, method) {
            (Endpoint::Xhr, Method::POST) => xhr::poll(sessions, req, session).await,
            (Endpoint::XhrSend, Method::POST) => xhr::send(sessions, req, payload, session).await,
            (Endpoint::XhrStreaming, Method::POST) => xhr::streaming(sessions, req, session).await,
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
