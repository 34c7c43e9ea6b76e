//! A server a test starts and stops itself (the shutdown tests), and reading a raw
//! TCP stream until an expected text.

use std::time::Duration;

use actix_sockjs::{SockJs, SockJsConfig};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::{DEADLINE, Event, Recorder};

/// A server of its own (not the test server): one worker, actix's signal handling
/// off, half-closed connections noticed, on 127.0.0.1, running `/rec` (a
/// [`Recorder`] whose heartbeat never comes in a test's time). The shutdown tests
/// stop it themselves.
pub(crate) struct RecorderServer {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) handle: actix_web::dev::ServerHandle,
    pub(crate) rec: SockJs<Recorder>,
    pub(crate) events: UnboundedReceiver<Event>,
}

/// Starts a [`RecorderServer`] on the current actix system.
pub(crate) fn start_recorder_server() -> RecorderServer {
    let (tx, events) = unbounded_channel();
    let rec = SockJs::new("/rec", move || Recorder { events: tx.clone() })
        .with_config(SockJsConfig::default().heartbeat_delay(Duration::from_secs(3600)));
    let app_rec = rec.clone();
    let server = actix_web::HttpServer::new(move || App::new().service(app_rec.clone()))
        .workers(1)
        .disable_signals()
        .h1_allow_half_closed(false)
        .bind(("127.0.0.1", 0))
        .expect("bind");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    RecorderServer {
        addr,
        handle,
        rec,
        events,
    }
}

/// Reads `stream` onto `seen` until `until` is in it, within [`DEADLINE`]; panics
/// if the connection closes or the deadline passes first.
pub(crate) async fn read_tcp_until(
    stream: &mut tokio::net::TcpStream,
    mut seen: String,
    until: &str,
) -> String {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 8192];
    while !seen.contains(until) {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{until:?} not within the deadline; got {seen:?}"))
            .expect("read");
        assert!(n > 0, "closed before {until:?}; got {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    seen
}
