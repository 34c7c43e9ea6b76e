//! The websocket closing handshake (RFC 6455 §7.1.1), on the SockJS websocket and the
//! raw endpoint: a client's close is answered and the connection closed at once; a
//! server's close waits for the client's close frame, then hangs up, and hangs up
//! anyway on a client that never answers.

use std::time::Duration;

use crate::common::raw_ws::{RawWs, client_frame};
use crate::common::{server, session_id};
use actix_sockjs::SockJsConfig;

/// RFC 6455 §7.1.1: the client starts the close; the server answers with its close
/// frame and closes the TCP connection at once, on the SockJS websocket and the raw
/// endpoint. (actix-test's server does not wait for the client to hang up, as
/// `HttpServer::client_disconnect_timeout(Duration::ZERO)` makes a server do: see
/// README.)
#[actix_rt::test]
async fn a_client_close_is_answered_then_the_connection_is_closed() {
    let (srv, _) = server(SockJsConfig::default());
    for path in [
        format!("/echo/000/{}/websocket", session_id()),
        "/echo/websocket".to_owned(),
    ] {
        let mut ws = RawWs::connect(srv.addr(), &path).await;
        if path.contains("/000/") {
            assert_eq!(ws.next_text().await, "o");
        }
        assert!(
            ws.send_raw(&client_frame(true, 0x8, &1000u16.to_be_bytes()))
                .await
        );
        assert_eq!(ws.close_frame().await.0, Some(1000), "{path}");
        assert_eq!(ws.next().await, None, "{path}: the connection is closed");
    }
}

/// RFC 6455 §7.1.1: the server starts the close (`/close` closes every session as it
/// opens): its close frame, then it waits for the client's, then it closes the
/// connection.
#[actix_rt::test]
async fn a_server_close_waits_for_the_clients_close_frame() {
    let (srv, _) = server(SockJsConfig::default());
    let path = format!("/close/000/{}/websocket", session_id());
    let mut ws = RawWs::connect(srv.addr(), &path).await;
    assert_eq!(ws.next_text().await, "o");
    assert_eq!(ws.close_frame().await.0, Some(3000));
    // Still open while the client has not answered (the server waits a second)...
    let early = actix_rt::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(early.is_err(), "the server hung up first: {early:?}");
    // ...and closed once it has.
    assert!(
        ws.send_raw(&client_frame(true, 0x8, &3000u16.to_be_bytes()))
            .await
    );
    assert_eq!(ws.next().await, None);
}

/// A client that never answers the server's close frame is hung up on all the same.
#[actix_rt::test]
async fn a_client_that_never_answers_a_server_close_is_hung_up_on() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = RawWs::connect(
        srv.addr(),
        &format!("/close/000/{}/websocket", session_id()),
    )
    .await;
    assert_eq!(ws.next_text().await, "o");
    assert_eq!(ws.close_frame().await.0, Some(3000));
    assert_eq!(ws.next().await, None);
}
