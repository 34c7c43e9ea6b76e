//! The write timeout: a connection whose socket takes nothing for `write_timeout`
//! while something waits for it is given up, and its session ends as interrupted,
//! even while the client stays connected; other sessions lose nothing, and a
//! connection with nothing to take is never cut.

use std::time::Duration;

use actix_sockjs::{CloseReason, SessionHandle, SockJsConfig, broadcast};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::common;
use crate::common::raw_ws::RawWs;
use crate::common::{Event, next_event, session_id};

const WRITE_TIMEOUT: Duration = Duration::from_millis(1000);

/// A short write timeout, and every other limit out of the way: no heartbeat, and a
/// backlog bound far above what the tests send, so only the write timeout can end a
/// session.
fn config() -> SockJsConfig {
    SockJsConfig::default()
        .write_timeout(Some(WRITE_TIMEOUT))
        .max_queued_bytes(256 * 1024 * 1024)
        .response_limit(256 * 1024 * 1024)
        .heartbeat_delay(Duration::from_secs(3600))
        .websocket_ping(false)
}

async fn opened(events: &mut UnboundedReceiver<Event>) -> SessionHandle {
    match next_event(events).await {
        Event::Open(handle) => handle,
        other => panic!("expected an open, got {other:?}"),
    }
}

/// Broadcasts 256 KiB messages to `stuck` and `good` until the stuck session closes
/// (at most 64 of them: 16 MiB, far more than the kernel's and actix-http's buffers
/// hold), the good client reading each one. Returns how many were sent.
async fn flood_until_closed(
    stuck: &SessionHandle,
    good: &SessionHandle,
    good_ws: &mut RawWs,
) -> usize {
    let chunk = "w".repeat(256 * 1024);
    for i in 0..64 {
        if stuck.is_closed() {
            return i;
        }
        let msg = format!("{i:03}{chunk}");
        assert!(broadcast([stuck, good], &msg) >= 1, "message {i} refused");
        assert_eq!(
            good_ws.next_text().await,
            format!("a[\"{msg}\"]"),
            "message {i}"
        );
    }
    64
}

#[actix_rt::test]
async fn a_stream_whose_socket_takes_nothing_ends_its_session_as_interrupted() {
    let (srv, mut events) = common::server(config());
    let id = session_id();
    let _stuck_conn =
        common::unread_stream(srv.addr(), &format!("/rec/000/{id}/xhr_streaming")).await;
    let stuck = opened(&mut events).await;
    let mut good_ws =
        RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(good_ws.next_text().await, "o");
    let good = opened(&mut events).await;

    let sent = flood_until_closed(&stuck, &good, &mut good_ws).await;
    // Whether or not the flood outran it, the stalled stream ends its session, while
    // its client is still connected.
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Interrupted)
    );
    assert_eq!(stuck.close_reason(), Some(CloseReason::Interrupted));
    assert!(sent > 0);
    // The session answers its next request with the interruption.
    let mut res = srv
        .post(format!("/rec/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(
        common::text(&mut res).await,
        "c[1002,\"Connection interrupted\"]\n"
    );
    // The good session lost nothing and still works.
    assert!(!good.is_closed());
    good_ws.send_text(r#"["after"]"#).await;
    assert_eq!(good_ws.next_text().await, r#"a["after"]"#);
}

#[actix_rt::test]
async fn a_websocket_whose_socket_takes_nothing_ends_its_session_as_interrupted() {
    let (srv, mut events) = common::server(config());
    let _stuck_ws =
        common::small_buffer_websocket(srv.addr(), &format!("/rec/000/{}/websocket", session_id()))
            .await;
    let stuck = opened(&mut events).await;
    let mut good_ws =
        RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(good_ws.next_text().await, "o");
    let good = opened(&mut events).await;

    flood_until_closed(&stuck, &good, &mut good_ws).await;
    // The stuck session runs inside its connection's task, which actix-http no longer
    // polls: the write timeout takes it out of there and ends it.
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Interrupted)
    );
    assert_eq!(stuck.close_reason(), Some(CloseReason::Interrupted));
    assert!(!good.is_closed());
    good_ws.send_text(r#"["after"]"#).await;
    assert_eq!(good_ws.next_text().await, r#"a["after"]"#);
}

#[actix_rt::test]
async fn a_slow_reader_that_keeps_reading_is_not_cut() {
    let (srv, mut events) = common::server(config());
    let mut slow =
        common::small_buffer_websocket(srv.addr(), &format!("/rec/000/{}/websocket", session_id()))
            .await;
    assert_eq!(slow.next_text().await, "o");
    let handle = opened(&mut events).await;
    // 8 MiB queued at once: the client takes it 4 KiB at a time, over several write
    // timeouts' worth of reads, which is progress all along.
    let chunk = "s".repeat(64 * 1024);
    for i in 0..128 {
        handle.send(format!("{i:03}{chunk}")).expect("send");
    }
    for i in 0..128 {
        assert_eq!(
            slow.next_text().await,
            format!("a[\"{i:03}{chunk}\"]"),
            "message {i}"
        );
        if i % 16 == 15 {
            // A pause shorter than the write timeout, eight times: the reading spans
            // about two write timeouts (the time passing is what is tested here).
            actix_rt::time::sleep(WRITE_TIMEOUT / 4).await;
        }
    }
    assert!(!handle.is_closed());
}

#[actix_rt::test]
async fn a_connection_with_nothing_to_take_is_never_cut() {
    let (srv, mut events) = common::server(config());
    let mut ws = RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws.next_text().await, "o");
    let handle = opened(&mut events).await;
    // Idle for three write timeouts (the time passing is what is tested here).
    actix_rt::time::sleep(WRITE_TIMEOUT * 3).await;
    assert!(!handle.is_closed());
    ws.send_text(r#"["still here"]"#).await;
    assert_eq!(ws.next_text().await, r#"a["still here"]"#);
    // Nothing was closed meanwhile: the next thing the handler saw is the message.
    assert_eq!(
        next_event(&mut events).await,
        Event::Message("still here".into())
    );
}

/// With `socket_options` on the server, the kernel also ends the TCP connection
/// of a client that stopped reading (the library alone can end only its session:
/// actix-http holds the connection until its socket errors). The kernel drops such a
/// connection without a word to the client; the client learns of it (a reset) once it
/// reads again.
#[cfg(target_os = "linux")]
#[actix_rt::test]
async fn with_socket_options_the_kernel_ends_the_stalled_connection() {
    use actix_sockjs::{SockJs, socket_options};
    use actix_web::{App, HttpServer};
    use tokio::io::AsyncReadExt;

    /// Put in a connection's extensions: says when actix-http let go of the connection.
    struct Dropped(tokio::sync::mpsc::UnboundedSender<()>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }

    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let (dropped_tx, mut dropped) = tokio::sync::mpsc::unbounded_channel();
    let rec =
        SockJs::new("/rec", move || common::Recorder { events: tx.clone() }).with_config(config());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let set_timeout = socket_options(Some(WRITE_TIMEOUT));
    let server = HttpServer::new(move || App::new().service(rec.clone()))
        .workers(1)
        .disable_signals()
        .on_connect(move |connection, extensions| {
            set_timeout(connection, extensions);
            extensions.insert(Dropped(dropped_tx.clone()));
        })
        .listen(listener)
        .expect("listen")
        .run();
    let server_handle = server.handle();
    actix_rt::spawn(server);

    let mut stuck_conn =
        common::unread_stream(addr, &format!("/rec/000/{}/xhr_streaming", session_id())).await;
    let stuck = opened(&mut events).await;
    let chunk = "k".repeat(256 * 1024);
    for _ in 0..64 {
        if stuck.send(chunk.clone()).is_err() {
            break;
        }
    }
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Interrupted)
    );
    // The server lets go of the connection while the client still reads nothing.
    actix_rt::time::timeout(common::DEADLINE, dropped.recv())
        .await
        .expect("the server kept the stalled connection")
        .expect("dropped");
    // The client, reading at last, gets what its buffer held, then the reset.
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0usize;
    let error = loop {
        match actix_rt::time::timeout(common::DEADLINE, stuck_conn.read(&mut buf)).await {
            Ok(Ok(0)) => panic!("the connection ended cleanly after {total} bytes"),
            Ok(Ok(n)) if total < 1024 * 1024 => total += n,
            Ok(Ok(_)) => panic!("the stalled connection still delivers"),
            Ok(Err(e)) => break e,
            Err(_) => panic!("the connection is still open after {total} bytes"),
        }
    };
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    server_handle.stop(false).await;
}
