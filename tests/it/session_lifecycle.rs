//! What a session does over its life, seen through xhr polling and streaming: the open
//! frame, heartbeats, one receiver at a time, interrupted receivers, server closes,
//! expiry, and the application's handles and broadcasts.

use std::time::Duration;

use actix_sockjs::{CloseReason, Error, SockJsConfig, broadcast};

use crate::common;
use crate::common::{DEADLINE, Event, next_event, next_open, read_until, server, session_id, text};

async fn poll(srv: &actix_test::TestServer, path: &str) -> String {
    let mut res = srv.post(path).send().await.expect("poll");
    assert_eq!(res.status().as_u16(), 200, "{path}");
    text(&mut res).await
}

async fn send(srv: &actix_test::TestServer, path: &str, body: &str) -> u16 {
    srv.post(path)
        .send_body(body.to_owned())
        .await
        .expect("send")
        .status()
        .as_u16()
}

fn prelude() -> String {
    format!("{}\n", "h".repeat(2048))
}

#[actix_rt::test]
async fn a_waiting_poll_gets_a_heartbeat_at_the_configured_delay() {
    let (srv, _) = server(SockJsConfig::default().heartbeat_delay(Duration::from_millis(50)));
    let url = format!("/echo/000/{}/xhr", session_id());
    assert_eq!(poll(&srv, &url).await, "o\n");
    assert_eq!(poll(&srv, &url).await, "h\n");
}

#[actix_rt::test]
async fn a_session_without_a_receiver_expires_and_is_forgotten() {
    let (srv, mut events) =
        server(SockJsConfig::default().disconnect_delay(Duration::from_millis(100)));
    let id = session_id();
    assert_eq!(poll(&srv, &format!("/rec/000/{id}/xhr")).await, "o\n");
    let handle = next_open(&mut events).await;
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Timeout)
    );
    assert!(handle.is_closed());
    assert_eq!(handle.close_reason(), Some(CloseReason::Timeout));
    assert_eq!(
        send(&srv, &format!("/rec/000/{id}/xhr_send"), r#"["x"]"#).await,
        404
    );
    // The id is free again: a new session opens under it, and on_close was not
    // called a second time for the old one.
    assert_eq!(poll(&srv, &format!("/rec/000/{id}/xhr")).await, "o\n");
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
}

#[actix_rt::test]
async fn an_attached_receiver_keeps_its_session_alive_past_the_disconnect_delay() {
    let (srv, _) = server(
        SockJsConfig::default()
            .disconnect_delay(Duration::from_millis(50))
            .heartbeat_delay(Duration::from_millis(20)),
    );
    let url = format!("/echo/000/{}", session_id());
    let mut res = srv
        .post(format!("{url}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    let mut body = String::new();
    read_until(&mut res, &mut body, "o\n").await;
    // Ten heartbeats span four disconnect delays; the session must still be there.
    let want = format!("{}o\n{}", prelude(), "h\n".repeat(10));
    read_until(&mut res, &mut body, &want).await;
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), r#"["alive"]"#).await,
        204
    );
    read_until(&mut res, &mut body, "a[\"alive\"]\n").await;
}

#[actix_rt::test]
async fn a_second_receiver_gets_2010_and_its_response_ends() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let mut first = srv
        .post(format!("{url}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    let mut body = String::new();
    read_until(&mut first, &mut body, "o\n").await;

    let mut second = srv
        .post(format!("{url}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    let second_body = actix_rt::time::timeout(DEADLINE, text(&mut second))
        .await
        .expect("second stream ends");
    assert_eq!(
        second_body,
        format!("{}c[2010,\"Another connection still open\"]\n", prelude())
    );
    assert_eq!(
        poll(&srv, &format!("{url}/xhr")).await,
        "c[2010,\"Another connection still open\"]\n"
    );

    // The first receiver is untouched.
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), r#"["still"]"#).await,
        204
    );
    read_until(&mut first, &mut body, "a[\"still\"]\n").await;
}

#[actix_rt::test]
async fn an_aborted_receiver_closes_the_session_with_1002() {
    // The test server allows half-closed connections, so actix notices the client is
    // gone when a write fails: a short heartbeat makes that write happen. (Servers set
    // up as the README says, with `h1_allow_half_closed(false)`, notice at once; the
    // test_server test checks that.)
    let (srv, mut events) =
        server(SockJsConfig::default().heartbeat_delay(Duration::from_millis(50)));
    let id = session_id();
    let stream = common::raw_request_until(
        srv.addr(),
        format!(
            "POST /rec/000/{id}/xhr_streaming HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .as_bytes(),
        b"o\n\r\n",
    )
    .await;
    next_open(&mut events).await;
    drop(stream);
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Interrupted)
    );
    assert_eq!(
        poll(&srv, &format!("/rec/000/{id}/xhr")).await,
        "c[1002,\"Connection interrupted\"]\n"
    );
}

#[actix_rt::test]
async fn a_closed_session_answers_every_receiver_with_its_close_frame() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/close/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await, "o\n");
    for _ in 0..2 {
        assert_eq!(
            poll(&srv, &format!("{url}/xhr")).await,
            "c[3000,\"Go away!\"]\n"
        );
    }
    let mut res = srv
        .post(format!("{url}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    let body = actix_rt::time::timeout(DEADLINE, text(&mut res))
        .await
        .expect("stream ends");
    assert_eq!(body, format!("{}c[3000,\"Go away!\"]\n", prelude()));
}

#[actix_rt::test]
async fn a_close_from_the_handler_reaches_the_client_and_on_close_runs_once() {
    let (srv, mut events) = server(SockJsConfig::default());
    let url = format!("/rec/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await, "o\n");
    let handle = next_open(&mut events).await;
    // The recorder echoes, and closes with 3001 on "close": both in one handler turn.
    assert_eq!(
        send(
            &srv,
            &format!("{url}/xhr_send"),
            r#"["bye","close","ignored"]"#
        )
        .await,
        204
    );
    assert_eq!(next_event(&mut events).await, Event::Message("bye".into()));
    assert_eq!(
        next_event(&mut events).await,
        Event::Message("close".into())
    );
    let closed = Event::Close(CloseReason::Server {
        code: 3001,
        reason: "asked to".into(),
    });
    assert_eq!(next_event(&mut events).await, closed);
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await, "a[\"bye\"]\n");
    assert_eq!(
        poll(&srv, &format!("{url}/xhr")).await,
        "c[3001,\"asked to\"]\n"
    );
    assert_eq!(handle.send("late"), Err(Error::SessionClosed));
    assert_eq!(handle.close(3000, "again"), Err(Error::SessionClosed));
    // Sends to a closed session are dropped silently on the HTTP side.
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), r#"["after"]"#).await,
        204
    );
    // A new session's open is the next event: the close was reported once.
    assert_eq!(
        poll(&srv, &format!("/rec/000/{}/xhr", session_id())).await,
        "o\n"
    );
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
}

#[actix_rt::test]
async fn messages_queued_between_polls_flush_as_one_frame_in_send_order() {
    let (srv, mut events) = server(SockJsConfig::default());
    let url = format!("/rec/000/{}/xhr", session_id());
    assert_eq!(poll(&srv, &url).await, "o\n");
    let handle = next_open(&mut events).await;
    let sent: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    for msg in &sent {
        handle.send(msg.as_str()).expect("open session");
    }
    // The session may flush early batches to a poll as they come; gather until all 100
    // arrived and check order.
    let mut got = Vec::new();
    while got.len() < sent.len() {
        let body = poll(&srv, &url).await;
        let frame = body
            .strip_prefix('a')
            .and_then(|b| b.strip_suffix('\n'))
            .unwrap_or_else(|| panic!("not a message frame: {body:?}"));
        let batch: Vec<String> = serde_json::from_str(frame).expect("json array");
        got.extend(batch);
    }
    assert_eq!(got, sent);
}

#[actix_rt::test]
async fn handle_sends_while_no_receiver_is_attached_become_one_frame() {
    let (srv, mut events) = server(SockJsConfig::default());
    let url = format!("/rec/000/{}/xhr", session_id());
    assert_eq!(poll(&srv, &url).await, "o\n");
    let handle = next_open(&mut events).await;
    handle.send("1").expect("open");
    handle
        .send_json(&serde_json::json!({"n": 2}))
        .expect("open");
    // A message that round-trips through the handler proves the two above were queued
    // (the recorder echoes it into the same queue, after them).
    assert_eq!(
        send(&srv, &url.replace("/xhr", "/xhr_send"), r#"["3"]"#).await,
        204
    );
    assert_eq!(next_event(&mut events).await, Event::Message("3".into()));
    assert_eq!(poll(&srv, &url).await, "a[\"1\",\"{\\\"n\\\":2}\",\"3\"]\n");
}

#[actix_rt::test]
async fn broadcast_reaches_exactly_the_sessions_it_is_given() {
    let (srv, mut events) = server(SockJsConfig::default());
    let urls: Vec<String> = (0..3)
        .map(|_| format!("/rec/000/{}/xhr", session_id()))
        .collect();
    let mut handles = Vec::new();
    for url in &urls {
        assert_eq!(poll(&srv, url).await, "o\n");
        handles.push(next_open(&mut events).await);
    }
    // A fourth session that is already closed is skipped.
    let gone = format!("/close/000/{}/xhr", session_id());
    assert_eq!(poll(&srv, &gone).await, "o\n");
    assert_eq!(broadcast(&handles[..2], "to two"), 2);
    handles[2].send("only you").expect("open");
    assert_eq!(poll(&srv, &urls[0]).await, "a[\"to two\"]\n");
    assert_eq!(poll(&srv, &urls[1]).await, "a[\"to two\"]\n");
    assert_eq!(poll(&srv, &urls[2]).await, "a[\"only you\"]\n");
    handles[0].close(3000, "done").expect("open");
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::Server {
            code: 3000,
            reason: "done".into()
        })
    );
    assert_eq!(broadcast(&handles, "to the rest"), 2);
}

#[actix_rt::test]
async fn bad_requests_leave_other_sessions_untouched() {
    let (srv, _) = server(SockJsConfig::default().max_message_size(1024));
    let good = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{good}/xhr")).await, "o\n");
    let bad = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{bad}/xhr")).await, "o\n");
    for body in ["[\"x", "", "{\"a\":1}", &"y".repeat(5000)] {
        let status = send(&srv, &format!("{bad}/xhr_send"), body).await;
        assert!(status == 500 || status == 413, "{status}");
    }
    for path in [
        "/echo/000/../xhr".to_owned(),
        "/echo/000/%00/xhr_send".to_owned(),
        format!("/echo/000/{}/xhr_send", "z".repeat(4000)),
        "/echo/%ff%fe/%ff/xhr".to_owned(),
    ] {
        let res = srv.post(path.as_str()).send().await.expect("request");
        assert!(res.status().as_u16() < 600, "{path}");
    }
    assert_eq!(
        send(&srv, &format!("{good}/xhr_send"), r#"["fine"]"#).await,
        204
    );
    assert_eq!(poll(&srv, &format!("{good}/xhr")).await, "a[\"fine\"]\n");
}
