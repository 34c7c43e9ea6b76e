//! The `websocket` transport and the raw `/websocket` endpoint, with a real websocket
//! client: framing, echo, closes from either side, heartbeats, limits, HTTP errors.
//!
//! Also the protocol suite's websocket classes (each test whose doc names a suite
//! method): `WebsocketHttpErrors`, `WebsocketHybi10` (v0.3.3; the later suite's
//! `Websocket`, hybi-13 only) and `RawWebsocket`.
//!
//! Hixie-76 websockets (v0.3.3 class `WebsocketHixie76`) are not supported: no browser
//! needs them, and the later suite dropped them. A hixie-76 handshake gets 400, so
//! `WebsocketHixie76.test_haproxy` (response headers before the 8-byte nonce, then the
//! MD5 answer) has no counterpart. Its other tests (transport, close, empty frame,
//! reuse of a session id, broken JSON) are protocol-level and have the RFC 6455
//! counterparts named below.

use std::time::Duration;

use actix_sockjs::{CloseReason, SockJsConfig};

use crate::common;
use crate::common::suite;
use crate::common::{
    Event, header, next_event, next_open, server, session_id, text, ws_close_code, ws_connect,
    ws_next, ws_send, ws_text,
};

/// `WebsocketHybi10.test_transport` (and hixie-76 `test_transport`): `o`, then an
/// ignored empty message, then the echo.
#[actix_rt::test]
async fn websocket_sends_the_open_frame_and_echoes_arrays_and_single_strings() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/echo/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    ws_send(&mut ws, r#"["a"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["a"]"#);
    // Empty messages are ignored; a bare JSON string is one message.
    ws_send(&mut ws, "").await;
    ws_send(&mut ws, r#""b""#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["b"]"#);
    // Several messages in one array are handled in one handler turn: one frame back.
    ws_send(&mut ws, r#"["x","y\u2028"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["x","y\u2028"]"#);
}

/// `WebsocketHybi10.test_close` (and hixie-76 `test_close`): `o`, the close frame, then
/// the socket closes.
#[actix_rt::test]
async fn websocket_server_close_sends_open_then_3000_then_closes_the_socket() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/close/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    assert_eq!(ws_text(&mut ws).await, r#"c[3000,"Go away!"]"#);
    assert_eq!(
        ws_close_code(&mut ws).await,
        Some((3000, "Go away!".to_owned()))
    );
}

/// `Websocket.test_empty_frame` (later suite; hixie-76 `test_empty_frame` without the
/// `[]`): an empty message and an empty array are ignored; the next message echoes.
#[actix_rt::test]
async fn websocket_ignores_empty_messages_and_empty_arrays() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    next_open(&mut events).await;
    ws_send(&mut ws, "").await;
    ws_send(&mut ws, "[]").await;
    ws_send(&mut ws, r#"["a"]"#).await;
    // The handler saw only "a", and the first frame back is its echo.
    assert_eq!(next_event(&mut events).await, Event::Message("a".into()));
    assert_eq!(ws_text(&mut ws).await, r#"a["a"]"#);
}

#[actix_rt::test]
async fn websocket_client_close_ends_the_session_and_calls_on_close_once() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    let handle = next_open(&mut events).await;
    ws_send(&mut ws, r#"["hello"]"#).await;
    assert_eq!(
        next_event(&mut events).await,
        Event::Message("hello".into())
    );
    assert_eq!(ws_text(&mut ws).await, r#"a["hello"]"#);

    use futures_util::SinkExt;
    ws.send(awc::ws::Message::Close(Some(
        awc::ws::CloseCode::Normal.into(),
    )))
    .await
    .expect("close");
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::ClientClosed)
    );
    assert!(handle.is_closed());
    assert_eq!(handle.send("late"), Err(actix_sockjs::Error::SessionClosed));

    // A second session's open is the next event: no second close came in between.
    let mut other = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut other).await, "o");
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
}

#[actix_rt::test]
async fn websocket_handler_close_reaches_the_client_after_queued_messages() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    let handle = next_open(&mut events).await;
    handle.send("first").expect("open session");
    handle.close(3005, "bye \"now\"").expect("open session");
    assert_eq!(ws_text(&mut ws).await, r#"a["first"]"#);
    assert_eq!(ws_text(&mut ws).await, r#"c[3005,"bye \"now\""]"#);
    assert_eq!(
        ws_close_code(&mut ws).await,
        Some((3005, "bye \"now\"".to_owned()))
    );
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Server {
            code: 3005,
            reason: "bye \"now\"".into()
        })
    );
}

/// `WebsocketHybi10.test_broken_json` (and hixie-76 `test_broken_json`).
#[actix_rt::test]
async fn websocket_broken_json_terminates_the_connection() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    next_open(&mut events).await;
    ws_send(&mut ws, r#"["a"#).await;
    // No echo: the socket closes.
    assert!(matches!(
        ws_next(&mut ws).await,
        Some(awc::ws::Frame::Close(_)) | None
    ));
    assert!(matches!(next_event(&mut events).await, Event::Close(_)));
}

#[actix_rt::test]
async fn websocket_heartbeats_at_the_configured_delay() {
    let (srv, _) = server(SockJsConfig::default().heartbeat_delay(Duration::from_millis(50)));
    let mut ws = ws_connect(&srv, &format!("/echo/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    assert_eq!(ws_text(&mut ws).await, "h");
    assert_eq!(ws_text(&mut ws).await, "h");
}

#[actix_rt::test]
async fn websocket_message_over_the_size_limit_closes_with_1009() {
    let (srv, _) = server(SockJsConfig::default().max_message_size(64));
    let mut ws = ws_connect(&srv, &format!("/echo/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    ws_send(&mut ws, r#"["ok"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["ok"]"#);
    ws_send(&mut ws, &format!("[\"{}\"]", "x".repeat(200))).await;
    assert_eq!(ws_close_code(&mut ws).await.map(|c| c.0), Some(1009));
}

#[actix_rt::test]
async fn websocket_binary_messages_close_with_1003() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/echo/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    use futures_util::SinkExt;
    ws.send(awc::ws::Message::Binary(bytes::Bytes::from_static(
        b"\x00\x01",
    )))
    .await
    .expect("send");
    assert_eq!(ws_close_code(&mut ws).await.map(|c| c.0), Some(1003));
}

/// `WebsocketHixie76.test_reuseSessionId` over RFC 6455 (the later suite's
/// `Websocket.test_reuseSessionId`): two sockets on one URL are two sessions, and the
/// id is free again after they close.
#[actix_rt::test]
async fn websocket_sessions_may_share_an_id_and_reuse_it_after_closing() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}/websocket", session_id());
    let mut ws1 = ws_connect(&srv, &url).await;
    assert_eq!(ws_text(&mut ws1).await, "o");
    let mut ws2 = ws_connect(&srv, &url).await;
    assert_eq!(ws_text(&mut ws2).await, "o");
    ws_send(&mut ws1, r#"["a"]"#).await;
    assert_eq!(ws_text(&mut ws1).await, r#"a["a"]"#);
    ws_send(&mut ws2, r#"["b"]"#).await;
    assert_eq!(ws_text(&mut ws2).await, r#"a["b"]"#);
    drop(ws1);
    drop(ws2);
    let mut ws3 = ws_connect(&srv, &url).await;
    assert_eq!(ws_text(&mut ws3).await, "o");
    ws_send(&mut ws3, r#"["c"]"#).await;
    assert_eq!(ws_text(&mut ws3).await, r#"a["c"]"#);
}

#[actix_rt::test]
async fn websocket_vanished_client_closes_the_session_as_interrupted() {
    let (srv, mut events) = server(SockJsConfig::default());
    let ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    next_open(&mut events).await;
    drop(ws);
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Interrupted)
    );
}

/// `WebsocketHttpErrors.test_httpMethod`, `test_invalidConnectionHeader` and
/// `test_invalidMethod` (`verify405`: no content type, `Allow`, no body).
#[actix_rt::test]
async fn websocket_url_without_upgrade_is_400_and_post_is_405() {
    let (srv, _) = server(SockJsConfig::default());
    let mut res = srv
        .get("/echo/0/0/websocket")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        text(&mut res).await,
        "Can \"Upgrade\" only to \"WebSocket\"."
    );

    let mut res = srv
        .get("/echo/0/0/websocket")
        .insert_header(("Upgrade", "WebSocket"))
        .insert_header(("Connection", "close"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(text(&mut res).await, "\"Connection\" must be \"Upgrade\".");

    for upgrade in [true, false] {
        let mut req = srv.post("/echo/0/0/websocket");
        if upgrade {
            req = req
                .insert_header(("Upgrade", "WebSocket"))
                .insert_header(("Connection", "Upgrade"));
        }
        let mut res = req.send().await.expect("request");
        assert_eq!(res.status().as_u16(), 405);
        assert_eq!(header(&res, "allow").as_deref(), Some("GET"));
        assert_eq!(header(&res, "content-type"), None);
        assert_eq!(text(&mut res).await, "");
    }

    // The same through the suite's harness, which also needs every response but a
    // 101, 204 or 304 to be framed (length, chunks or `Connection: close`).
    let plain = suite::get(srv.addr(), "/echo/0/0/websocket").await;
    assert_eq!(plain.status(), 400);
    let bad_connection = suite::request(
        srv.addr(),
        "GET",
        "/echo/0/0/websocket",
        &[("Upgrade", "WebSocket"), ("Connection", "close")],
        None,
    )
    .await;
    assert_eq!(bad_connection.status(), 400);
    for headers in [
        &[("Upgrade", "WebSocket"), ("Connection", "Upgrade")][..],
        &[],
    ] {
        let r = suite::request(srv.addr(), "POST", "/echo/0/0/websocket", headers, None).await;
        suite::verify405(&r);
    }
}

#[actix_rt::test]
async fn websocket_is_404_when_disabled() {
    let (srv, _) = server(SockJsConfig::default());
    for url in [
        format!("/nows/000/{}/websocket", session_id()),
        "/nows/websocket".to_owned(),
    ] {
        let res = srv
            .get(url.as_str())
            .insert_header(("Upgrade", "websocket"))
            .insert_header(("Connection", "Upgrade"))
            .insert_header(("Sec-WebSocket-Version", "13"))
            .insert_header(("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw=="))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status().as_u16(), 404, "{url}");
    }
}

/// Sends a raw HTTP request and returns the response head, lower-cased.
async fn raw_head(srv: &actix_test::TestServer, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(srv.addr())
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = actix_rt::time::timeout(common::DEADLINE, stream.read(&mut byte))
            .await
            .expect("head in time")
            .expect("read");
        assert_eq!(n, 1, "connection closed inside the head");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

/// `WebsocketHybi10.test_headersSanity` (versions 7, 8, 13) and
/// `test_firefox_602_connection_header`.
#[actix_rt::test]
async fn websocket_handshake_accepts_hybi_versions_and_firefox_connection_header() {
    let (srv, _) = server(SockJsConfig::default());
    for (version, connection) in [
        ("7", "Upgrade"),
        ("8", "Upgrade"),
        ("13", "Upgrade"),
        ("7", "keep-alive, Upgrade"),
    ] {
        let head = raw_head(
            &srv,
            &format!(
                "GET /echo/000/{}/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                 Upgrade: websocket\r\nConnection: {connection}\r\n\
                 Sec-WebSocket-Version: {version}\r\nSec-WebSocket-Origin: http://asd\r\n\
                 Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\r\n",
                session_id()
            ),
        )
        .await;
        assert!(
            head.starts_with("http/1.1 101"),
            "version {version}: {head}"
        );
        assert!(
            head.contains("\r\nsec-websocket-accept: hsmrc0smlyukagmm5oppg2hagwk=\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nupgrade: websocket\r\n"), "{head}");
        assert!(head.contains("\r\nconnection: upgrade\r\n"), "{head}");
        assert!(!head.contains("content-length"), "{head}");
    }
}

/// `RawWebsocket.test_transport`: no framing, no `o`.
#[actix_rt::test]
async fn raw_websocket_passes_plain_text_both_ways() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, "/echo/websocket").await;
    // No open frame, no framing: what goes in comes back verbatim.
    for msg in [
        "Hello world!\u{ffff}",
        "[\"not\",\"framed\"]",
        "\u{2028}\u{1f600}",
    ] {
        ws_send(&mut ws, msg).await;
        assert_eq!(ws_text(&mut ws).await, msg);
    }
}

/// `RawWebsocket.test_close`: the socket closes before any message, with reason
/// `Go away!` (the later suite checks the reason).
#[actix_rt::test]
async fn raw_websocket_server_close_closes_the_socket_with_its_code() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, "/close/websocket").await;
    assert_eq!(
        ws_close_code(&mut ws).await,
        Some((3000, "Go away!".to_owned()))
    );
}

#[actix_rt::test]
async fn raw_websocket_sessions_reach_the_handler() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, "/rec/websocket").await;
    let handle = next_open(&mut events).await;
    ws_send(&mut ws, "hi").await;
    assert_eq!(next_event(&mut events).await, Event::Message("hi".into()));
    assert_eq!(ws_text(&mut ws).await, "hi");
    handle.send("pushed").expect("open");
    assert_eq!(ws_text(&mut ws).await, "pushed");
    drop(ws);
    assert!(matches!(next_event(&mut events).await, Event::Close(_)));
}

#[actix_rt::test]
async fn websocket_handshake_of_a_cookie_service_sets_jsessionid() {
    let (srv, _) = server(SockJsConfig::default());
    let request = |prefix: &str| {
        format!(
            "GET /{prefix}/000/{}/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nCookie: JSESSIONID=abc\r\n\r\n",
            session_id()
        )
    };
    let head = raw_head(&srv, &request("cookie")).await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(
        head.contains("\r\nset-cookie: jsessionid=abc; path=/\r\n"),
        "{head}"
    );
    let head = raw_head(&srv, &request("echo")).await;
    assert!(!head.contains("set-cookie"), "{head}");
}
