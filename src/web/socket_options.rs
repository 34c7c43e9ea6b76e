//! What every SockJS connection's socket needs from the server, set from
//! `HttpServer::on_connect`: no Nagle delay, and the kernel's half of the write
//! timeout.

use std::any::Any;
use std::time::Duration;

use actix_web::dev::Extensions;

/// A connection callback for [`HttpServer::on_connect`](actix_web::HttpServer::on_connect)
/// that sets up each accepted TCP socket for SockJS (connections other than plain TCP
/// are left as they are):
///
/// - `TCP_NODELAY`. actix-web leaves Nagle's algorithm on, so a small write that
///   follows another (the last chunk of a stream after its frames, a frame right after
///   a heartbeat) waits for the client's delayed acknowledgement, up to 40 ms on
///   Linux. An `xhr_streaming` client whose streams end every few dozen messages ran
///   2.5 times slower with it, the server idle most of the time.
/// - With `write_timeout`, `TCP_USER_TIMEOUT` (Linux): the kernel closes a connection
///   whose sent data stays unacknowledged, or unsent because the client's window is
///   shut, for that long. [`SockJsConfig::write_timeout`](crate::SockJsConfig::write_timeout)
///   ends the *session* of a client whose socket takes nothing, but actix-http keeps
///   the connection itself (and its write buffer) until the socket errors; this makes
///   the kernel error it, so a client that stopped reading, or whose machine or
///   network is gone, leaves nothing behind. Use the same value as `write_timeout`,
///   or more.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_sockjs::{SockJs, SockJsHandler, socket_options};
/// use actix_web::{App, HttpServer};
/// # struct Echo;
/// # impl actix::Actor for Echo {
/// #     type Context = actix_sockjs::SockJsContext<Self>;
/// # }
/// # impl SockJsHandler for Echo {
/// #     fn on_message(&mut self, _: String, _: &mut actix_sockjs::SockJsContext<Self>) {}
/// # }
///
/// # async fn run() -> std::io::Result<()> {
/// let echo = SockJs::new("/echo", || Echo);
/// HttpServer::new(move || App::new().service(echo.clone()))
///     .on_connect(socket_options(Some(Duration::from_secs(30))))
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await
/// # }
/// ```
pub fn socket_options(
    write_timeout: Option<Duration>,
) -> impl Fn(&dyn Any, &mut Extensions) + Clone + Send + Sync + 'static {
    move |connection, _| {
        if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
            if let Err(e) = stream.set_nodelay(true) {
                log::warn!("TCP_NODELAY not set: {e}");
            }
            if let Some(timeout) = write_timeout {
                set_user_timeout(stream, timeout);
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn set_user_timeout(stream: &actix_web::rt::net::TcpStream, timeout: Duration) {
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout)) {
        log::warn!("TCP_USER_TIMEOUT not set: {e}");
    }
}

#[cfg(not(target_os = "linux"))]
fn set_user_timeout(_: &actix_web::rt::net::TcpStream, _: Duration) {}
