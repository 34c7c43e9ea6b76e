//! Limits on identifiers and on the number of sessions.

use std::time::Duration;

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::raw_ws::RawWs;
use crate::common::{Event, next_event, server, session_id};

#[actix_rt::test]
async fn ids_longer_than_the_limit_are_404_on_every_transport() {
    let (srv, _) = server(SockJsConfig::default().max_id_length(64));
    let long = "s".repeat(65);
    for (method, transport) in [
        ("POST", "xhr"),
        ("POST", "xhr_streaming"),
        ("POST", "xhr_send"),
        ("GET", "eventsource"),
        ("GET", "htmlfile?c=cb"),
        ("GET", "jsonp?c=cb"),
        ("GET", "websocket"),
    ] {
        for path in [
            format!("/echo/000/{long}/{transport}"),
            format!("/echo/{long}/abc/{transport}"),
        ] {
            let req = if method == "POST" {
                srv.post(&path)
            } else {
                srv.get(&path)
            };
            let res = req.send_body("[\"x\"]").await.expect("answer");
            assert_eq!(res.status().as_u16(), 404, "{method} {path}");
        }
    }
    // At the limit it works.
    let ok = "s".repeat(64);
    let res = srv
        .post(format!("/echo/000/{ok}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
}

#[actix_rt::test]
async fn sessions_past_max_sessions_are_refused_with_503_until_one_ends() {
    let config = SockJsConfig::default()
        .max_sessions(Some(2))
        .disconnect_delay(Duration::from_millis(200));
    let (srv, mut events) = server(config);
    // Two sessions: one polling, one websocket.
    let first = session_id();
    let res = srv
        .post(format!("/rec/000/{first}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
    let Event::Open(first_handle) = next_event(&mut events).await else {
        panic!("no open");
    };
    let mut ws = RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws.next_text().await, "o");
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));

    // A third is refused on every transport, before any session is made.
    for (method, transport) in [
        ("POST", "xhr"),
        ("POST", "xhr_streaming"),
        ("GET", "eventsource"),
        ("GET", "htmlfile?c=cb"),
        ("GET", "jsonp?c=cb"),
    ] {
        let path = format!("/rec/000/{}/{transport}", session_id());
        let req = if method == "POST" {
            srv.post(&path)
        } else {
            srv.get(&path)
        };
        let mut res = req.send().await.expect("answer");
        assert_eq!(res.status().as_u16(), 503, "{transport}");
        assert_eq!(common::text(&mut res).await, "Too many sessions.");
    }
    let path = format!("/rec/000/{}/websocket", session_id());
    assert_eq!(
        RawWs::handshake_status(srv.addr(), &path).await,
        503,
        "websocket"
    );
    // The existing session still works: a poll of its id is not a new session.
    let res = srv
        .post(format!("/rec/000/{first}/xhr_send"))
        .send_body("[\"still\"]")
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        next_event(&mut events).await,
        Event::Message("still".into())
    );

    // The polling session expires (no poll for disconnect_delay): room for one more.
    assert!(matches!(next_event(&mut events).await, Event::Close(_)));
    assert!(first_handle.is_closed());
    // Its place was given back before on_close ran.
    let res = srv
        .post(format!("/rec/000/{}/xhr", session_id()))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
}
