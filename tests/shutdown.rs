//! Graceful shutdown: every session of every transport gets `1001 Server shutting
//! down` (a websocket also its close frame, a stream its final chunk), `on_close`
//! gets `ServerShutdown`, new sessions are refused meanwhile, and the server stops
//! within the deadline. One test: the shutdown reaches every service of the process,
//! so two tests of one binary would shut each other down.
//!
//! For the same reason a test binary of its own, not a module of `tests/it`:
//! `close_all_sessions` and a `GracefulShutdown` that names no service reach every
//! SockJS service of the process, so they would close the sessions of whatever other
//! tests ran beside this one.

// Shared with tests/it, which uses all of it; this binary uses only a few helpers.
#[allow(dead_code, unused_imports)]
#[path = "it/common/mod.rs"]
mod common;

use std::time::Duration;

use actix_sockjs::{CloseReason, GracefulShutdown};
use common::raw_ws::{RawWs, ServerFrame};
use common::{DEADLINE, Event, next_event, session_id};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLOSE: &str = "c[1001,\"Server shutting down\"]";

/// Sends a raw request and reads until `until` is in what came back.
async fn request_until(
    addr: std::net::SocketAddr,
    request: &str,
    until: &str,
) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let seen = common::read_tcp_until(&mut stream, String::new(), until).await;
    (stream, seen)
}

fn post(addr: std::net::SocketAddr, path: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n")
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

#[actix_rt::test]
async fn every_transport_gets_its_close_frame_and_the_server_stops() {
    let common::RecorderServer {
        addr,
        handle,
        mut events,
        ..
    } = common::start_recorder_server();
    let mut opened = 0;

    let mut ws = RawWs::connect(addr, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws.next_text().await, "o");
    opened += 1;
    let (mut xhr_streaming, _) = request_until(
        addr,
        &post(addr, &format!("/rec/000/{}/xhr_streaming", session_id())),
        "o\n",
    )
    .await;
    opened += 1;
    let (mut eventsource, _) = request_until(
        addr,
        &get(addr, &format!("/rec/000/{}/eventsource", session_id())),
        "data: o\r\n\r\n",
    )
    .await;
    opened += 1;
    let (mut htmlfile, _) = request_until(
        addr,
        &get(addr, &format!("/rec/000/{}/htmlfile?c=cb", session_id())),
        "p(\"o\");",
    )
    .await;
    opened += 1;
    // An xhr poll that waits: the session is open, and its next poll is pending.
    let polled = session_id();
    request_until(addr, &post(addr, &format!("/rec/000/{polled}/xhr")), "o\n").await;
    opened += 1;
    let mut waiting_poll = TcpStream::connect(addr).await.expect("connect");
    waiting_poll
        .write_all(post(addr, &format!("/rec/000/{polled}/xhr")).as_bytes())
        .await
        .expect("write");
    // An idle keep-alive connection that made no session (yet).
    let (mut idle, _) = request_until(addr, &get(addr, "/rec/info"), "entropy").await;
    for _ in 0..opened {
        assert!(matches!(next_event(&mut events).await, Event::Open(_)));
    }

    // Sessions first (GracefulShutdown::stop does this, then stops the server).
    let closing = actix_rt::spawn(actix_sockjs::close_all_sessions(DEADLINE));

    // Every handler hears of it, with its own reason.
    for _ in 0..opened {
        assert_eq!(
            next_event(&mut events).await,
            Event::Close(CloseReason::ServerShutdown)
        );
    }
    // The websocket gets the close frame, then a websocket close frame.
    assert_eq!(ws.next_text().await, CLOSE);
    assert_eq!(
        ws.next().await,
        Some(ServerFrame::Close(
            Some(1001),
            "Server shutting down".into()
        ))
    );
    // Each stream ends with the close frame and its final chunk.
    common::read_tcp_until(
        &mut xhr_streaming,
        String::new(),
        &format!("{CLOSE}\n\r\n0\r\n\r\n"),
    )
    .await;
    common::read_tcp_until(
        &mut eventsource,
        String::new(),
        &format!("data: {CLOSE}\r\n\r\n\r\n0\r\n\r\n"),
    )
    .await;
    let html = common::read_tcp_until(&mut htmlfile, String::new(), "0\r\n\r\n").await;
    assert!(
        html.contains(r#"p("c[1001,\"Server shutting down\"]");"#),
        "{html}"
    );
    // The waiting poll is answered with it.
    common::read_tcp_until(&mut waiting_poll, String::new(), &format!("{CLOSE}\n")).await;
    assert_eq!(closing.await.expect("closing"), 0, "sessions left open");
    // The server still runs, but makes no new session, on any transport.
    idle.write_all(post(addr, &format!("/rec/000/{}/xhr", session_id())).as_bytes())
        .await
        .expect("write");
    let refused = common::read_tcp_until(&mut idle, String::new(), "Server shutting down.").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert_eq!(
        RawWs::handshake_status(addr, &format!("/rec/000/{}/websocket", session_id())).await,
        503
    );

    // Then the server stops, within the deadline, letting the idle connection go.
    let stopping = actix_rt::spawn(async move {
        GracefulShutdown::new(handle)
            .deadline(Duration::from_secs(4))
            .stop()
            .await;
    });
    let mut rest = Vec::new();
    let ended = actix_rt::time::timeout(DEADLINE, idle.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the idle connection stayed open");

    actix_rt::time::timeout(DEADLINE, stopping)
        .await
        .expect("the server did not stop")
        .expect("stop task");
    // Stopped: nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}
