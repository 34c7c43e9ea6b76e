//! The smallest SockJS server: echoes every message back.
//!
//! `cargo run --example echo`, then open http://127.0.0.1:8080/ (a page that talks to
//! the service with sockjs-client) or point any SockJS client at
//! http://127.0.0.1:8080/echo.
use std::time::Duration;

use actix_sockjs::{GracefulShutdown, SockJs, SockJsContext, SockJsHandler, socket_options};
use actix_web::{App, HttpResponse, HttpServer, web};

struct Echo;

impl actix::Actor for Echo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let echo = SockJs::new("/echo", || Echo);
    // The demo page loads sockjs-client from the same URL the iframe page uses.
    let page =
        include_str!("../static/echo.html").replace("{{SOCKJS_URL}}", &echo.config().sockjs_url);
    println!("echo demo on http://127.0.0.1:8080/");
    // The app factory gets a clone; `echo` itself names the service to the shutdown.
    let app_echo = echo.clone();
    let server = HttpServer::new(move || {
        let page = page.clone();
        App::new().service(app_echo.clone()).route(
            "/",
            web::get().to(move || {
                let page = page.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .body(page)
                }
            }),
        )
    })
    // SockJS clients never half-close: treat a read EOF as the client leaving, so an
    // aborted streaming request closes its session at once.
    .h1_allow_half_closed(false)
    // A client that stops reading: the kernel ends its connection once the library
    // gave up on it (SockJsConfig::write_timeout, 30 s).
    .on_connect(socket_options(Some(Duration::from_secs(30))))
    // A websocket whose closing handshake is done is closed at once (README).
    .client_disconnect_timeout(Duration::ZERO)
    // Signals are handled by GracefulShutdown below.
    .disable_signals()
    .bind(("127.0.0.1", 8080))?
    .run();
    // SIGTERM, SIGINT, SIGQUIT: every session of the service gets `1001 Server
    // shutting down` (and a websocket close frame) before the server stops, within 5 s.
    GracefulShutdown::new(server.handle())
        .service(&echo)
        .on_signals();
    server.await
}
