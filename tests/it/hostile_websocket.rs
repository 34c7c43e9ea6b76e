//! Websocket clients that break the rules (RFC 6455 §5, §7.4): each gets a close frame
//! with the code its fault earns, without the server reading more than it must, and
//! other sessions go on.

use actix_sockjs::SockJsConfig;

use crate::common::raw_ws::{RawWs, ServerFrame, client_frame, client_header};
use crate::common::{Event, next_event, server, session_id};

fn ws_path(service: &str) -> String {
    format!("/{service}/000/{}/websocket", session_id())
}

async fn opened(service: &str, srv: &actix_test::TestServer) -> RawWs {
    let mut ws = RawWs::connect(srv.addr(), &ws_path(service)).await;
    assert_eq!(ws.next_text().await, "o");
    ws
}

#[actix_rt::test]
async fn a_fragmented_message_is_reassembled_and_echoed() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = opened("echo", &srv).await;
    let json = r#"["fragmented ✓ message"]"#.as_bytes();
    let (a, rest) = json.split_at(5);
    let (b, c) = rest.split_at(9);
    let mut bytes = client_frame(false, 0x1, a);
    // A ping between fragments is allowed and answered.
    bytes.extend(client_frame(true, 0x9, b"between"));
    bytes.extend(client_frame(false, 0x0, b));
    bytes.extend(client_frame(true, 0x0, c));
    assert!(ws.send_raw(&bytes).await);
    assert_eq!(
        ws.next().await,
        Some(ServerFrame::Pong(b"between".to_vec()))
    );
    assert_eq!(ws.next_text().await, r#"a["fragmented ✓ message"]"#);
    // And the raw endpoint.
    let mut raw = RawWs::connect(srv.addr(), "/echo/websocket").await;
    let mut bytes = client_frame(false, 0x1, b"raw ");
    bytes.extend(client_frame(true, 0x0, b"pieces"));
    assert!(raw.send_raw(&bytes).await);
    assert_eq!(raw.next_text().await, "raw pieces");
}

#[actix_rt::test]
async fn a_huge_announced_frame_is_closed_with_1009_after_its_header() {
    let (srv, mut events) = server(SockJsConfig::default().max_message_size(64 * 1024));
    let mut ws = RawWs::connect(srv.addr(), &ws_path("rec")).await;
    assert_eq!(ws.next_text().await, "o");
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
    // 2^62 bytes announced, 16 KiB sent: the server must answer without the rest.
    let mut bytes = client_header(0x1, 1 << 62);
    bytes.extend(vec![b'x'; 16 * 1024]);
    assert!(ws.send_raw(&bytes).await);
    assert_eq!(
        ws.close_frame().await,
        (Some(1009), "Message too big.".into())
    );
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(actix_sockjs::CloseReason::Interrupted),
        "the session ends as interrupted"
    );
}

#[actix_rt::test]
async fn fragments_adding_up_past_the_limit_are_closed_with_1009() {
    let (srv, _) = server(SockJsConfig::default().max_message_size(10_000));
    let mut ws = opened("echo", &srv).await;
    let mut sent = 0;
    assert!(ws.send_raw(&client_frame(false, 0x1, &[b'a'; 4000])).await);
    let (code, _) = loop {
        // Each continuation is small; only their sum is over the limit.
        if !ws.send_raw(&client_frame(false, 0x0, &[b'a'; 4000])).await {
            break ws.close_frame().await;
        }
        sent += 1;
        if sent == 3 {
            break ws.close_frame().await;
        }
    };
    assert_eq!(code, Some(1009));
}

#[actix_rt::test]
async fn invalid_utf8_is_closed_with_1007() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = opened("echo", &srv).await;
    assert!(ws.send_raw(&client_frame(true, 0x1, b"[\"\xff\"]")).await);
    assert_eq!(
        ws.close_frame().await,
        (Some(1007), "Invalid UTF-8.".into())
    );
}

#[actix_rt::test]
async fn a_client_that_stops_answering_pings_is_closed_as_interrupted() {
    let config = SockJsConfig::default().heartbeat_delay(std::time::Duration::from_millis(50));
    let (srv, mut events) = server(config);
    let mut ws = RawWs::connect(srv.addr(), &ws_path("rec")).await;
    assert_eq!(ws.next_text().await, "o");
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
    // Answered pings keep it open: three heartbeats, each with its ping.
    for _ in 0..3 {
        loop {
            match ws.next().await {
                Some(ServerFrame::Ping(payload)) => {
                    assert!(ws.send_raw(&client_frame(true, 0xa, &payload)).await);
                    break;
                }
                Some(ServerFrame::Text(t)) => assert_eq!(t, "h"),
                other => panic!("{other:?}"),
            }
        }
    }
    // Then the client stops answering (its network went away): by the next
    // heartbeat but one, the session is over.
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(actix_sockjs::CloseReason::Interrupted)
    );
    let (code, _) = ws.close_frame().await;
    assert_eq!(code, Some(1002));
}

#[actix_rt::test]
async fn protocol_errors_are_closed_with_1002() {
    let (srv, _) = server(SockJsConfig::default());
    for (what, bytes) in [
        ("an unmasked frame", vec![0x81, 0x02, b'[', b']']),
        ("a reserved opcode", client_frame(true, 0x3, b"")),
        (
            "a continuation with no message",
            client_frame(true, 0x0, b"x"),
        ),
        ("a fragmented ping", client_frame(false, 0x9, b"")),
    ] {
        let mut ws = opened("echo", &srv).await;
        assert!(ws.send_raw(&bytes).await, "{what}");
        let (code, _) = ws.close_frame().await;
        assert_eq!(code, Some(1002), "{what}");
    }
    // The server still serves everyone else.
    let mut ws = opened("echo", &srv).await;
    ws.send_text(r#"["still here"]"#).await;
    assert_eq!(ws.next_text().await, r#"a["still here"]"#);
}

/// RFC 6455 §7.1.7: a message received before the frame that broke a rule is a
/// message; the handler's answer to it is written before the close frame.
#[actix_rt::test]
async fn messages_before_a_protocol_error_are_answered_before_the_close_frame() {
    let (srv, _) = server(SockJsConfig::default());
    for (what, broken, code) in [
        ("reserved bits", vec![0xc1, 0x80, 1, 2, 3, 4], 1002),
        ("a reserved opcode", client_frame(true, 0x3, b""), 1002),
        (
            "a continuation with no message",
            client_frame(true, 0x0, b"x"),
            1002,
        ),
        ("broken JSON", client_frame(true, 0x1, b"[\"x"), 1003),
    ] {
        let mut ws = opened("echo", &srv).await;
        // One write: the valid messages and the broken frame reach the server
        // together.
        let mut bytes = client_frame(true, 0x1, br#"["first"]"#);
        bytes.extend(client_frame(true, 0x1, br#"["second","third"]"#));
        bytes.extend(broken);
        assert!(ws.send_raw(&bytes).await, "{what}");
        let mut answers = Vec::new();
        let closed = loop {
            match ws.next().await {
                Some(ServerFrame::Text(t)) => answers.push(t),
                Some(ServerFrame::Close(code, _)) => break code,
                other => panic!("{what}: {other:?} before the close frame"),
            }
        };
        assert_eq!(
            answers.concat(),
            r#"a["first"]a["second","third"]"#,
            "{what}"
        );
        assert_eq!(closed, Some(code), "{what}");
    }
}

/// The same on the raw websocket endpoint, which echoes plain text.
#[actix_rt::test]
async fn raw_messages_before_a_protocol_error_are_answered_before_the_close_frame() {
    let (srv, _) = server(SockJsConfig::default());
    let mut ws = RawWs::connect(srv.addr(), "/echo/websocket").await;
    let mut bytes = client_frame(true, 0x1, b"first");
    bytes.extend(client_frame(true, 0x1, b"second"));
    bytes.extend(client_frame(true, 0x3, b""));
    assert!(ws.send_raw(&bytes).await);
    assert_eq!(ws.next().await, Some(ServerFrame::Text("first".into())));
    assert_eq!(ws.next().await, Some(ServerFrame::Text("second".into())));
    let (code, _) = ws.close_frame().await;
    assert_eq!(code, Some(1002));
}

/// RFC 6455 §8.1: invalid UTF-8 fails the connection as soon as it arrives, not once
/// the frame is whole: here the rest of the frame is never sent.
#[actix_rt::test]
async fn invalid_utf8_is_refused_at_the_first_bad_piece_of_a_frame() {
    let (srv, _) = server(SockJsConfig::default());
    for path in [ws_path("echo"), "/echo/websocket".to_owned()] {
        let mut ws = RawWs::connect(srv.addr(), &path).await;
        if path.contains("/000/") {
            assert_eq!(ws.next_text().await, "o");
        }
        let mut payload = br#"["valid start "#.to_vec();
        payload.push(0xfe);
        payload.extend_from_slice(&[b'x'; 4096]);
        let frame = client_frame(true, 0x1, &payload);
        // The header, the valid start and the bad byte; the 4 KiB after it never.
        let sent = frame.len() - 4096;
        assert!(ws.send_raw(&frame[..sent]).await, "{path}");
        assert_eq!(
            ws.close_frame().await,
            (Some(1007), "Invalid UTF-8.".into()),
            "{path}"
        );
    }
}
