//! Channel multiplexing in the `websocket-multiplex` 0.1.0 format: `sub`, `msg` and
//! `uns` from the client, `msg` and `uns` from the server, several channels on one
//! session, closes from either side, and hostile input that must be ignored.
mod support;

use actix_sockjs::multiplex::{ChannelCloseReason, broadcast_channel};
use actix_sockjs::{CloseReason, Error};
use support::{Client, Seen, mux_server, next_open, next_seen};

use crate::common;
use crate::common::session_id;

#[actix_rt::test]
async fn sub_msg_and_uns_work_and_a_payload_keeps_its_commas() {
    let (srv, _) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,echo").await;
    client
        .send("msg,echo,hello, world,,\"quoted\" \u{2028}")
        .await;
    assert_eq!(
        client.recv().await,
        "msg,echo,hello, world,,\"quoted\" \u{2028}"
    );
    client.send("msg,echo,").await;
    assert_eq!(client.recv().await, "msg,echo,");

    // After `uns`, messages on the channel are ignored and no `uns` comes back: the
    // next message the client gets is the probe's echo on a fresh subscription.
    client.send("uns,echo").await;
    client.send("msg,echo,ignored").await;
    client.send("sub,echo").await;
    client.send("msg,echo,probe").await;
    assert_eq!(client.recv().await, "msg,echo,probe");
}

#[actix_rt::test]
async fn several_channels_run_side_by_side_on_one_session() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    client.send("sub,echo").await;
    client.send("sub,rec2").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    assert_eq!(
        client.recv().await,
        "msg,rec2,hello from rec2 over websocket"
    );
    let rec = next_open(&mut seen).await;
    let rec2 = next_open(&mut seen).await;
    assert_eq!((rec.name(), rec2.name()), ("rec", "rec2"));
    assert_ne!(rec, rec2);
    assert_eq!(rec.session(), rec2.session());

    client.send("msg,rec2,two").await;
    client.send("msg,echo,zero").await;
    client.send("msg,rec,one").await;
    assert_eq!(client.recv().await, "msg,rec2,two");
    assert_eq!(client.recv().await, "msg,echo,zero");
    assert_eq!(client.recv().await, "msg,rec,one");
    match (next_seen(&mut seen).await, next_seen(&mut seen).await) {
        (Seen::Message(a, x), Seen::Message(b, y)) => {
            assert_eq!((a.as_str(), x.as_str()), ("rec2", "two"));
            assert_eq!((b.as_str(), y.as_str()), ("rec", "one"));
        }
        other => panic!("expected two messages, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_channel_closed_by_its_handler_sends_uns_and_stops() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    let handle = next_open(&mut seen).await;

    client.send("msg,rec,close").await;
    // What the call sent before closing goes out, then `uns`; nothing after it.
    assert_eq!(client.recv().await, "msg,rec,bye");
    assert_eq!(client.recv().await, "uns,rec");
    assert!(matches!(next_seen(&mut seen).await, Seen::Message(_, m) if m == "close"));
    assert!(matches!(
        next_seen(&mut seen).await,
        Seen::Close(n, ChannelCloseReason::Server) if n == "rec"
    ));
    assert!(matches!(next_seen(&mut seen).await, Seen::Dropped(n) if n == "rec"));
    assert!(handle.is_closed());
    assert_eq!(handle.send("late"), Err(Error::ChannelClosed));

    client.send("msg,rec,ignored").await;
    client.send("sub,echo").await;
    client.send("msg,echo,probe").await;
    assert_eq!(client.recv().await, "msg,echo,probe");
}

#[actix_rt::test]
async fn a_channel_handle_sends_and_closes_from_outside() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    let handle = next_open(&mut seen).await;

    handle
        .send("from outside, with a comma")
        .expect("open channel");
    handle
        .send_json(&serde_json::json!({"n": 1}))
        .expect("open channel");
    assert_eq!(client.recv().await, "msg,rec,from outside, with a comma");
    assert_eq!(client.recv().await, r#"msg,rec,{"n":1}"#);

    handle.close().expect("open channel");
    assert_eq!(client.recv().await, "uns,rec");
    assert!(matches!(
        next_seen(&mut seen).await,
        Seen::Close(n, ChannelCloseReason::Server) if n == "rec"
    ));
    assert_eq!(handle.send("late"), Err(Error::ChannelClosed));
    assert_eq!(handle.close(), Err(Error::ChannelClosed));

    // A new subscription to the same name is a new channel with new handles.
    client.send("sub,rec").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    assert!(matches!(next_seen(&mut seen).await, Seen::Dropped(_)));
    let again = next_open(&mut seen).await;
    assert_ne!(again, handle);
    assert!(!again.is_closed());
}

#[actix_rt::test]
async fn closing_the_session_closes_every_channel_once() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    client.send("sub,rec2").await;
    let rec = next_open(&mut seen).await;
    let _rec2 = next_open(&mut seen).await;
    let session = rec.session().clone();

    client.send("msg,rec2,kill").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    assert_eq!(
        client.recv().await,
        "msg,rec2,hello from rec2 over websocket"
    );
    assert_eq!(client.close_frame().await, r#"c[3002,"killed"]"#);

    // Each handler: one close with the session's reason, then dropped, and nothing
    // else in between. Events of the two channels may interleave.
    let mut closes = Vec::new();
    let mut dropped = Vec::new();
    while dropped.len() < 2 {
        match next_seen(&mut seen).await {
            Seen::Message(_, m) => assert_eq!(m, "kill"),
            Seen::Close(name, reason) => {
                assert!(!dropped.contains(&name), "{name} closed after its drop");
                let want = ChannelCloseReason::Session(CloseReason::Server {
                    code: 3002,
                    reason: "killed".into(),
                });
                assert_eq!(reason, want);
                closes.push(name);
            }
            Seen::Dropped(name) => dropped.push(name),
            other => panic!("unexpected {other:?}"),
        }
    }
    closes.sort();
    dropped.sort();
    assert_eq!(closes, ["rec", "rec2"]);
    assert_eq!(dropped, ["rec", "rec2"]);
    assert!(session.is_closed());
    assert_eq!(rec.send("late"), Err(Error::SessionClosed));
}

#[actix_rt::test]
async fn a_client_that_goes_away_closes_its_channels() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    let _ = next_open(&mut seen).await;
    drop(client);
    assert!(matches!(
        next_seen(&mut seen).await,
        Seen::Close(_, ChannelCloseReason::Session(_))
    ));
    assert!(matches!(next_seen(&mut seen).await, Seen::Dropped(_)));
}

#[actix_rt::test]
async fn hostile_and_malformed_messages_are_ignored_and_the_session_lives_on() {
    let (srv, mut seen) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,rec").await;
    assert_eq!(client.recv().await, "msg,rec,hello from rec over websocket");
    let rec = next_open(&mut seen).await;
    let long_name = format!("sub,{}", "x".repeat(100_000));
    for msg in [
        "",
        ",",
        ",,,",
        "sub",
        "msg",
        "hello",
        "pub,echo,x",
        "SUB,echo",
        "sub,nope",
        "sub,",
        "msg,nope,x",
        "uns,nope",
        "msg,echo,not subscribed",
        "uns,echo",
        "sub,rec",
        "sub,a b,c",
        "\u{0}\u{2028}\u{fffe}",
        &long_name,
    ] {
        client.send(msg).await;
    }
    client.send("sub,echo").await;
    client.send("msg,echo,still here").await;
    assert_eq!(client.recv().await, "msg,echo,still here");
    // The second `sub,rec` did not open a second rec channel.
    client.send("msg,rec,one").await;
    assert_eq!(client.recv().await, "msg,rec,one");
    assert!(matches!(next_seen(&mut seen).await, Seen::Message(_, m) if m == "one"));
    assert!(!rec.is_closed());
}

#[actix_rt::test]
async fn a_refused_subscription_gets_uns_at_once() {
    let (srv, _) = mux_server();
    let mut client = Client::connect(&srv).await;
    client.send("sub,refuse").await;
    assert_eq!(client.recv().await, "uns,refuse");
    client.send("msg,refuse,x").await;
    client.send("sub,echo").await;
    client.send("msg,echo,probe").await;
    assert_eq!(client.recv().await, "msg,echo,probe");
}

#[actix_rt::test]
async fn channel_names_are_matched_in_their_escaped_wire_form() {
    let (srv, _) = mux_server();
    let mut client = Client::connect(&srv).await;
    // What `multiplexer.channel("a b,c")` sends in the browser.
    client.send("sub,a%20b%2Cc").await;
    client.send("msg,a%20b%2Cc,x,y").await;
    assert_eq!(client.recv().await, "msg,a%20b%2Cc,x,y");
}

#[actix_rt::test]
async fn broadcast_on_channels_reaches_every_open_subscription() {
    let (srv, mut seen) = mux_server();
    let mut ann = Client::connect(&srv).await;
    let mut bob = Client::connect(&srv).await;
    ann.send("sub,rec").await;
    let first = next_open(&mut seen).await;
    bob.send("sub,rec").await;
    let second = next_open(&mut seen).await;
    assert_ne!(first.session(), second.session());
    assert_eq!(ann.recv().await, "msg,rec,hello from rec over websocket");
    assert_eq!(bob.recv().await, "msg,rec,hello from rec over websocket");

    let room = [first.clone(), second.clone()];
    assert_eq!(broadcast_channel(&room, "to all, of you"), 2);
    assert_eq!(ann.recv().await, "msg,rec,to all, of you");
    assert_eq!(bob.recv().await, "msg,rec,to all, of you");

    bob.send("uns,rec").await;
    assert!(matches!(
        next_seen(&mut seen).await,
        Seen::Close(_, ChannelCloseReason::Unsubscribed)
    ));
    assert_eq!(broadcast_channel(&room, "to who is left"), 1);
    assert_eq!(ann.recv().await, "msg,rec,to who is left");
}

#[actix_rt::test]
async fn channels_work_over_xhr_polling_too() {
    let (srv, _) = mux_server();
    let client = awc::Client::new();
    let base = format!("/mux/000/{}", session_id());
    let poll = |srv: &actix_test::TestServer| client.post(srv.url(&format!("{base}/xhr"))).send();
    let mut res = poll(&srv).await.expect("open poll");
    assert_eq!(common::text(&mut res).await, "o\n");
    for msg in ["sub,echo", "msg,echo,over, xhr"] {
        let res = client
            .post(srv.url(&format!("{base}/xhr_send")))
            .send_body(serde_json::to_string(&[msg]).expect("serialises"))
            .await
            .expect("xhr_send");
        assert_eq!(res.status(), 204);
    }
    let mut res = poll(&srv).await.expect("poll");
    assert_eq!(common::text(&mut res).await, "a[\"msg,echo,over, xhr\"]\n");
}
