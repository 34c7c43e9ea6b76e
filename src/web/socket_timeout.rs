//! The kernel's half of the write timeout: `TCP_USER_TIMEOUT` on every accepted
//! socket, set from `HttpServer::on_connect`.

use std::any::Any;
use std::time::Duration;

use actix_web::dev::Extensions;

/// A connection callback for [`HttpServer::on_connect`](actix_web::HttpServer::on_connect)
/// that has the kernel close any TCP connection whose sent data stays unacknowledged,
/// or unsent because the client's window is shut, for `timeout` (`TCP_USER_TIMEOUT`;
/// Linux only, a no-op elsewhere and on connections other than plain TCP).
///
/// [`SockJsConfig::write_timeout`](crate::SockJsConfig::write_timeout) ends the
/// *session* of a client whose socket takes nothing, but actix-http keeps the
/// connection itself (and its write buffer) until the socket errors; this makes the
/// kernel error it, so a client that stopped reading, or whose machine or network is
/// gone, leaves nothing behind. Use the same value as `write_timeout`, or more.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_sockjs::{SockJs, SockJsHandler, socket_write_timeout};
/// use actix_web::{App, HttpServer};
/// # struct Echo;
/// # impl SockJsHandler for Echo {
/// #     fn on_message(&mut self, _: String, _: &mut actix_sockjs::SessionContext<'_, Self>) {}
/// # }
///
/// # async fn run() -> std::io::Result<()> {
/// let echo = SockJs::new("/echo", || Echo);
/// HttpServer::new(move || App::new().service(echo.clone()))
///     .on_connect(socket_write_timeout(Duration::from_secs(30)))
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await
/// # }
/// ```
pub fn socket_write_timeout(
    timeout: Duration,
) -> impl Fn(&dyn Any, &mut Extensions) + Clone + Send + Sync + 'static {
    move |connection, _| set_user_timeout(connection, timeout)
}

#[cfg(target_os = "linux")]
fn set_user_timeout(connection: &dyn Any, timeout: Duration) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout)) {
            log::warn!("TCP_USER_TIMEOUT not set: {e}");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn set_user_timeout(_: &dyn Any, _: Duration) {}
