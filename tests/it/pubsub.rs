//! `pubsub::Broadcaster` on one instance (no Redis) with session members: a publish
//! reaches every session of its topic once and in order, on every transport, as
//! `a[...]` frames; other topics get nothing; leaving stops delivery; closed sessions
//! are pruned at the next publish; the status counts it all. Actor members:
//! `pubsub_actors.rs`.

use std::collections::VecDeque;

use actix::{Actor, Addr};
use actix_sockjs::pubsub::{Broadcaster, Subscribe, Unsubscribe, UnsubscribeAll};
use actix_sockjs::{
    CloseReason, ConnectionInfo, SessionHandle, SockJs, SockJsContext, SockJsHandler,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common::clients::{PollClient, StreamClient, WsClient};
use crate::common::topics::{forward, publish, status};
use crate::common::{eventually, recv_within, session_id, ws_text};

/// What the sessions' handlers report to the test.
#[derive(Debug)]
enum Seen {
    /// A session opened and asked the broadcaster to subscribe it to its topic.
    Open(SessionHandle),
    Closed(SessionHandle),
}

/// A session that joins its service's topic when it opens. It does not leave on
/// close: the broadcaster is left to prune it.
struct TopicMember {
    rooms: Addr<Broadcaster>,
    topic: &'static str,
    seen: UnboundedSender<Seen>,
}

impl Actor for TopicMember {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for TopicMember {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        // Queued to the broadcaster before the test hears of the open, so a publish
        // the test sends after that finds the session subscribed.
        self.rooms
            .do_send(Subscribe::new(self.topic, ctx.session_handle()));
        let _ = self.seen.send(Seen::Open(ctx.session_handle()));
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}

    fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
        let _ = self.seen.send(Seen::Closed(ctx.session_handle()));
    }
}

/// A test server with `/red` and `/blue`, whose sessions join the topics `red` and
/// `blue` of the returned broadcaster.
fn rooms_server() -> (
    actix_test::TestServer,
    Addr<Broadcaster>,
    UnboundedReceiver<Seen>,
) {
    let rooms = Broadcaster::new().start();
    let (tx, rx) = unbounded_channel();
    let service = |topic: &'static str| {
        let rooms = rooms.clone();
        let seen = tx.clone();
        SockJs::new(format!("/{topic}"), move || TopicMember {
            rooms: rooms.clone(),
            topic,
            seen: seen.clone(),
        })
    };
    let (red, blue) = (service("red"), service("blue"));
    let srv = actix_test::start(move || App::new().service(red.clone()).service(blue.clone()));
    (srv, rooms, rx)
}

async fn next_seen(rx: &mut UnboundedReceiver<Seen>) -> Seen {
    recv_within(rx, "handler event").await
}

async fn next_open(rx: &mut UnboundedReceiver<Seen>) -> SessionHandle {
    match next_seen(rx).await {
        Seen::Open(handle) => handle,
        other => panic!("expected an open, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_publish_reaches_every_session_of_its_topic_once_in_order_on_every_transport() {
    let (srv, rooms, mut seen) = rooms_server();
    let mut ws = WsClient::connect(&srv, "red").await;
    next_open(&mut seen).await;
    let res = awc::Client::new()
        .post(srv.url(&format!("/red/000/{}/xhr_streaming", session_id())))
        .send()
        .await
        .expect("xhr_streaming");
    assert_eq!(res.status().as_u16(), 200);
    let mut stream = StreamClient {
        res,
        pending: String::new(),
        queue: VecDeque::new(),
    };
    next_open(&mut seen).await;
    let mut poll = PollClient::open(&srv, "red").await;
    next_open(&mut seen).await;
    assert_eq!(status(&rooms).await.members, 3);

    let sent: Vec<String> = (0..50).map(|i| format!("red {i}")).collect();
    for text in &sent {
        publish(&rooms, "red", text).await;
    }
    // A last marker: the message after the 50th is the marker, so none came twice.
    publish(&rooms, "red", "end").await;
    for (i, text) in sent.iter().enumerate() {
        assert_eq!(&ws.next_message().await, text, "websocket, message {i}");
        assert_eq!(&stream.next_message().await, text, "xhr_streaming, {i}");
        assert_eq!(&poll.next_message().await, text, "xhr polling, {i}");
    }
    assert_eq!(ws.next_message().await, "end");
    assert_eq!(stream.next_message().await, "end");
    assert_eq!(poll.next_message().await, "end");
}

#[actix_rt::test]
async fn a_publish_arrives_as_one_array_frame_per_message_on_a_websocket() {
    let (srv, rooms, mut seen) = rooms_server();
    let mut ws = WsClient::connect(&srv, "red").await;
    next_open(&mut seen).await;
    publish(&rooms, "red", r#"quote " and \ backslash"#).await;
    assert_eq!(
        ws_text(&mut ws.ws).await,
        r#"a["quote \" and \\ backslash"]"#
    );
}

#[actix_rt::test]
async fn sessions_on_another_topic_get_nothing_until_their_own_topic_speaks() {
    let (srv, rooms, mut seen) = rooms_server();
    let mut red = WsClient::connect(&srv, "red").await;
    next_open(&mut seen).await;
    let mut blue = WsClient::connect(&srv, "blue").await;
    next_open(&mut seen).await;
    let mut blue_poll = PollClient::open(&srv, "blue").await;
    next_open(&mut seen).await;

    for i in 0..20 {
        publish(&rooms, "red", &format!("red {i}")).await;
    }
    publish(&rooms, "no such topic", "lost").await;
    publish(&rooms, "blue", "blue marker").await;
    assert_eq!(blue.next_message().await, "blue marker");
    assert_eq!(blue_poll.next_message().await, "blue marker");
    for i in 0..20 {
        assert_eq!(red.next_message().await, format!("red {i}"));
    }
    publish(&rooms, "red", "red marker").await;
    assert_eq!(red.next_message().await, "red marker", "no blue on red");
    assert_eq!(status(&rooms).await.topics, 2);
}

#[actix_rt::test]
async fn unsubscribe_and_unsubscribe_all_stop_delivery_to_a_session() {
    let (srv, rooms, mut seen) = rooms_server();
    let mut ws = WsClient::connect(&srv, "red").await;
    let handle = next_open(&mut seen).await;
    rooms.do_send(Subscribe::new("blue", handle.clone()));
    rooms.do_send(Subscribe::new("green", handle.clone()));
    assert_eq!(status(&rooms).await.members, 3);

    rooms.do_send(Unsubscribe::new("red", handle.clone()));
    publish(&rooms, "red", "red 1").await;
    publish(&rooms, "blue", "blue 1").await;
    assert_eq!(ws.next_message().await, "blue 1", "left red");

    rooms.do_send(UnsubscribeAll::new(handle.clone()));
    for topic in ["red", "blue", "green"] {
        publish(&rooms, topic, topic).await;
    }
    // The publishes above were queued to the session (or not) before this.
    handle.send("direct").expect("the session is open");
    assert_eq!(ws.next_message().await, "direct", "left everything");
    let status = status(&rooms).await;
    assert_eq!((status.topics, status.members), (0, 0));
}

#[actix_rt::test]
async fn a_closed_session_is_pruned_when_the_next_publish_finds_it_closed() {
    let (srv, rooms, mut seen) = rooms_server();
    let mut stays = WsClient::connect(&srv, "red").await;
    next_open(&mut seen).await;
    let leaves = WsClient::connect(&srv, "red").await;
    let leaving = next_open(&mut seen).await;
    assert_eq!(status(&rooms).await.members, 2);

    drop(leaves);
    match next_seen(&mut seen).await {
        Seen::Closed(handle) => assert_eq!(handle, leaving),
        other => panic!("expected the close, got {other:?}"),
    }
    eventually(|| leaving.is_closed()).await;
    let before = status(&rooms).await;
    assert_eq!(
        (before.topics, before.members),
        (1, 2),
        "still a member until a publish finds it closed"
    );

    publish(&rooms, "red", "after the close").await;
    let after = status(&rooms).await;
    assert_eq!((after.topics, after.members), (1, 1));
    assert_eq!(stays.next_message().await, "after the close");

    // The last member goes too: the topic goes with it.
    drop(stays);
    match next_seen(&mut seen).await {
        Seen::Closed(_) => {}
        other => panic!("expected the close, got {other:?}"),
    }
    publish(&rooms, "red", "to nobody").await;
    let last = status(&rooms).await;
    assert_eq!((last.topics, last.members), (0, 0));
}

#[actix_rt::test]
async fn the_status_counts_topics_memberships_and_publishes_and_has_no_redis_without_a_link() {
    let rooms = Broadcaster::new().start();
    let empty = status(&rooms).await;
    assert_eq!(
        (empty.topics, empty.members, empty.published),
        (0, 0, 0),
        "{empty:?}"
    );
    assert_eq!(empty.redis_connected, None);

    let (_a, a, _a_rx) = forward();
    let (_b, b, _b_rx) = forward();
    rooms.do_send(Subscribe::new("one", a.clone()));
    rooms.do_send(Subscribe::new("two", a.clone()));
    rooms.do_send(Subscribe::new("one", b.clone()));
    let status_now = status(&rooms).await;
    assert_eq!((status_now.topics, status_now.members), (2, 3));

    publish(&rooms, "one", "1").await;
    publish(&rooms, "two", "2").await;
    publish(&rooms, "nobody's", "3").await;
    let published = status(&rooms).await;
    assert_eq!(
        published.published, 3,
        "every publish counts, with or without members"
    );
    assert_eq!(
        (
            published.received,
            published.not_relayed,
            published.redis_outages
        ),
        (0, 0, 0)
    );
    assert_eq!(published.redis_connected, None);

    rooms.do_send(Unsubscribe::new("one", a.clone()));
    let one_left = status(&rooms).await;
    assert_eq!((one_left.topics, one_left.members), (2, 2));
    rooms.do_send(UnsubscribeAll::new(a));
    let a_left = status(&rooms).await;
    assert_eq!((a_left.topics, a_left.members), (1, 1));
    rooms.do_send(Unsubscribe::new("one", b));
    let all_left = status(&rooms).await;
    assert_eq!(
        (all_left.topics, all_left.members, all_left.published),
        (0, 0, 3)
    );
}
