//! Three channels over one SockJS connection, as in the `websocket-multiplex` and
//! sockjs-cyclone examples: `ann` greets and nods at everything, `bob` disagrees with
//! everything, and `carl` says goodbye and closes his channel at once.
//!
//! `cargo run --example multiplex`, then open http://127.0.0.1:8080/ (`--port N` picks
//! another port; 0 any free one). The line `multiplex demo on http://127.0.0.1:PORT/ ...`
//! is printed once the port is bound. The page loads sockjs-client from
//! `/sockjs.min.js` and the multiplexing client from `/multiplex.js`, both served from
//! the npm packages `./scripts/demo` installs into `vendor-js/` (never vendored in the
//! repository). Without them the page says what to install.

use std::time::Duration;

use actix_sockjs::multiplex::{ChannelContext, ChannelHandler, Multiplex};
use actix_sockjs::{ConnectionInfo, GracefulShutdown, SockJs, SockJsConfig, socket_options};
use actix_web::{App, HttpServer};

mod support;

struct Ann;

impl ChannelHandler for Ann {
    fn on_open(&mut self, _: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        channel.send("Ann says hi!");
    }

    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
        channel.send(format!("Ann nods: {msg}"));
    }
}

struct Bob;

impl ChannelHandler for Bob {
    fn on_open(&mut self, _: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        channel.send("Bob doesn't agree.");
    }

    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
        channel.send(format!("Bob says no to: {msg}"));
    }
}

struct Carl;

impl ChannelHandler for Carl {
    fn on_open(&mut self, _: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        channel.send("Carl says goodbye!");
        channel.close();
    }

    fn on_message(&mut self, _: String, _: &mut ChannelContext<'_>) {}
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init_from_env(env_logger::Env::default().default_filter_or("info"));
    let port = support::parse_args("multiplex", false)?.port;
    let sockjs = support::vendor_file("sockjs-client/dist/sockjs.min.js");
    let multiplex = support::vendor_file("websocket-multiplex/multiplex_client.js");
    let mut config = SockJsConfig::default();
    if sockjs.is_some() {
        config = config.sockjs_url("/sockjs.min.js");
    }
    let sockjs_url = config.sockjs_url.clone();
    let sockjs = sockjs.map(std::fs::read).transpose()?;
    let multiplex = multiplex.map(std::fs::read).transpose()?;

    let channels = Multiplex::new()
        .channel("ann", || Ann)
        .channel("bob", || Bob)
        .channel("carl", || Carl);
    let service = SockJs::new("/multiplex", move || channels.session()).with_config(config);

    let page_url = sockjs_url.clone();
    let app_service = service.clone();
    let server = HttpServer::new(move || {
        App::new()
            .service(app_service.clone())
            .route(
                "/",
                support::page(include_str!("../static/multiplex.html"), &page_url),
            )
            .route("/sockjs.min.js", support::script(sockjs.clone()))
            .route("/multiplex.js", support::script(multiplex.clone()))
    })
    // Aborted streaming requests close their sessions at once (see README).
    .h1_allow_half_closed(false)
    // A client that stops reading: the kernel ends its connection once the library
    // gave up on it (SockJsConfig::write_timeout, 30 s).
    .on_connect(socket_options(Some(Duration::from_secs(30))))
    // A websocket whose closing handshake is done is closed at once (README).
    .client_disconnect_timeout(Duration::ZERO)
    // Signals are handled by GracefulShutdown below.
    .disable_signals()
    .bind(("127.0.0.1", port))
    .unwrap_or_else(|e| support::explain_bind_error(e, "multiplex", port));
    let port = server.addrs().first().map_or(port, |a| a.port());
    let running = server.run();
    // SIGTERM, SIGINT, SIGQUIT: every session of the service gets `1001 Server
    // shutting down` (and a websocket close frame) before the server stops, within 5 s.
    GracefulShutdown::new(running.handle())
        .service(&service)
        .on_signals();
    println!("multiplex demo on http://127.0.0.1:{port}/ (sockjs-client from {sockjs_url})");
    running.await
}
