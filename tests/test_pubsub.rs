//! `pubsub::Broadcaster` on one instance (no Redis): a publish reaches every member of
//! its topic once and in order, sessions on every transport as `a[...]` frames and
//! actors as `TopicMessage`s; other topics get nothing; leaving stops delivery; closed
//! sessions and stopped actors are pruned at the next publish; the status counts it all.

mod common;

use std::collections::VecDeque;
use std::time::Duration;

use actix::{Actor, ActorContext, Addr, Context, Handler, Message};
use actix_sockjs::pubsub::{
    Broadcaster, BroadcasterStatus, GetStatus, Member, Publish, Subscribe, TopicMessage,
    Unsubscribe, UnsubscribeAll,
};
use actix_sockjs::{
    CloseReason, ConnectionInfo, PreparedMessage, SessionHandle, SockJs, SockJsContext,
    SockJsHandler,
};
use actix_web::App;
use common::clients::{PollClient, StreamClient, WsClient};
use common::{DEADLINE, recv_within, session_id, ws_text};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

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
        self.rooms.do_send(Subscribe::new(self.topic, ctx.handle()));
        let _ = self.seen.send(Seen::Open(ctx.handle()));
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}

    fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
        let _ = self.seen.send(Seen::Closed(ctx.handle()));
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

/// Forwards every `TopicMessage` it gets, as (topic, text), to the test.
struct Forward(UnboundedSender<(String, String)>);

impl Actor for Forward {
    type Context = Context<Self>;

    /// Room for every message a test publishes at once: an actor member whose
    /// mailbox is full misses messages (`BroadcasterStatus::not_delivered`).
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<TopicMessage> for Forward {
    type Result = ();
    fn handle(&mut self, msg: TopicMessage, _: &mut Context<Self>) {
        let _ = self
            .0
            .send((msg.topic.to_string(), msg.message.text().to_owned()));
    }
}

/// Stops the actor it is sent to.
#[derive(Message)]
#[rtype(result = "()")]
struct Stop;

impl Handler<Stop> for Forward {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A `Forward` actor: its address, its recipient as a member, and what it forwards.
fn forward() -> (Addr<Forward>, Member, UnboundedReceiver<(String, String)>) {
    let (tx, rx) = unbounded_channel();
    let addr = Forward(tx).start();
    let member = Member::Actor(addr.clone().recipient());
    (addr, member, rx)
}

async fn next_forwarded(rx: &mut UnboundedReceiver<(String, String)>) -> (String, String) {
    recv_within(rx, "topic message").await
}

/// Sends `marker` to the actor's own mailbox behind whatever the broadcaster queued
/// to it so far, and returns what it forwards next: the marker if nothing else was
/// queued to it.
async fn next_after_marker(
    addr: &Addr<Forward>,
    rx: &mut UnboundedReceiver<(String, String)>,
    marker: &str,
) -> (String, String) {
    addr.send(TopicMessage {
        topic: "marker".into(),
        message: PreparedMessage::new(marker.to_owned()),
    })
    .await
    .expect("the forwarding actor");
    next_forwarded(rx).await
}

async fn publish(rooms: &Addr<Broadcaster>, topic: &str, text: &str) {
    rooms
        .send(Publish::new(topic, text))
        .await
        .expect("the broadcaster");
}

async fn status(rooms: &Addr<Broadcaster>) -> BroadcasterStatus {
    rooms.send(GetStatus).await.expect("the broadcaster")
}

/// Waits, at most [`DEADLINE`], until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(
            start.elapsed() < DEADLINE,
            "condition not met within {DEADLINE:?}"
        );
        actix_rt::time::sleep(Duration::from_millis(5)).await;
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
async fn actor_members_receive_topic_messages_of_their_topics_only() {
    let rooms = Broadcaster::new().start();
    let (first, first_member, mut first_rx) = forward();
    let (second, second_member, mut second_rx) = forward();
    rooms.do_send(Subscribe::new("lobby", first_member.clone()));
    rooms.do_send(Subscribe::new("lobby", second_member.clone()));
    rooms.do_send(Subscribe::new("kitchen", second_member));

    for i in 0..10 {
        publish(&rooms, "lobby", &format!("lobby {i}")).await;
    }
    publish(&rooms, "kitchen", "kitchen 0").await;
    for i in 0..10 {
        let want = ("lobby".to_owned(), format!("lobby {i}"));
        assert_eq!(next_forwarded(&mut first_rx).await, want);
        assert_eq!(next_forwarded(&mut second_rx).await, want);
    }
    assert_eq!(
        next_forwarded(&mut second_rx).await,
        ("kitchen".to_owned(), "kitchen 0".to_owned())
    );
    assert_eq!(
        next_after_marker(&first, &mut first_rx, "m").await,
        ("marker".to_owned(), "m".to_owned()),
        "nothing from the kitchen, nothing twice"
    );
    assert_eq!(next_after_marker(&second, &mut second_rx, "m").await.1, "m");
}

#[actix_rt::test]
async fn subscribing_a_member_twice_to_a_topic_delivers_once() {
    let rooms = Broadcaster::new().start();
    let (addr, member, mut rx) = forward();
    rooms.do_send(Subscribe::new("lobby", member.clone()));
    rooms.do_send(Subscribe::new("lobby", member));
    let status = status(&rooms).await;
    assert_eq!((status.topics, status.members), (1, 1));
    publish(&rooms, "lobby", "once").await;
    assert_eq!(next_forwarded(&mut rx).await.1, "once");
    assert_eq!(next_after_marker(&addr, &mut rx, "m").await.1, "m");
}

#[actix_rt::test]
async fn unsubscribe_stops_one_topic_and_unsubscribe_all_stops_every_topic_for_actors() {
    let rooms = Broadcaster::new().start();
    let (addr, member, mut rx) = forward();
    let (_other, other_member, mut other_rx) = forward();
    for topic in ["a", "b", "c"] {
        rooms.do_send(Subscribe::new(topic, member.clone()));
    }
    rooms.do_send(Subscribe::new("a", other_member));

    rooms.do_send(Unsubscribe::new("a", member.clone()));
    for topic in ["a", "b", "c"] {
        publish(&rooms, topic, topic).await;
    }
    assert_eq!(next_forwarded(&mut rx).await.1, "b", "left a");
    assert_eq!(next_forwarded(&mut rx).await.1, "c");
    assert_eq!(next_after_marker(&addr, &mut rx, "m1").await.1, "m1");
    assert_eq!(
        next_forwarded(&mut other_rx).await.1,
        "a",
        "the other member of a still gets it"
    );

    rooms.do_send(UnsubscribeAll::new(member));
    for topic in ["a", "b", "c"] {
        publish(&rooms, topic, topic).await;
    }
    assert_eq!(
        next_after_marker(&addr, &mut rx, "m2").await.1,
        "m2",
        "left everything"
    );
    assert_eq!(next_forwarded(&mut other_rx).await.1, "a");
    let status = status(&rooms).await;
    assert_eq!((status.topics, status.members), (1, 1));
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
async fn a_stopped_actor_member_is_pruned_at_the_next_publish() {
    let rooms = Broadcaster::new().start();
    let (stops, stops_member, _stops_rx) = forward();
    let (_stays, stays_member, mut stays_rx) = forward();
    rooms.do_send(Subscribe::new("lobby", stops_member.clone()));
    rooms.do_send(Subscribe::new("lobby", stays_member));
    stops.send(Stop).await.expect("the actor stops");
    let Member::Actor(recipient) = &stops_member else {
        unreachable!("an actor member")
    };
    eventually(|| !recipient.connected()).await;
    assert_eq!(status(&rooms).await.members, 2);
    publish(&rooms, "lobby", "hello").await;
    assert_eq!(next_forwarded(&mut stays_rx).await.1, "hello");
    let status = status(&rooms).await;
    assert_eq!((status.topics, status.members), (1, 1));
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

/// A member actor on its own arbiter, with room for `capacity` messages, that stays
/// in its first message's handler (its thread blocked) until the test lets it go.
struct Stuck {
    gate: std::sync::mpsc::Receiver<()>,
    got: UnboundedSender<String>,
    capacity: usize,
    first: bool,
}

impl Actor for Stuck {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.capacity);
    }
}

impl Handler<TopicMessage> for Stuck {
    type Result = ();
    fn handle(&mut self, msg: TopicMessage, _: &mut Context<Self>) {
        let _ = self.got.send(msg.message.text().to_owned());
        if std::mem::take(&mut self.first) {
            let _ = self.gate.recv_timeout(DEADLINE);
        }
    }
}

/// Answered once everything queued to the actor before it was handled.
#[derive(Message)]
#[rtype(result = "()")]
struct Flush;

impl Handler<Flush> for Stuck {
    type Result = ();
    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {}
}

#[actix_rt::test]
async fn an_actor_member_that_falls_behind_loses_messages_instead_of_queueing_them_all() {
    let rooms = Broadcaster::new().start();
    let (release, gate) = std::sync::mpsc::channel();
    let (got, mut received) = unbounded_channel();
    let arbiter = actix::Arbiter::new();
    let stuck = Stuck::start_in_arbiter(&arbiter.handle(), move |_| Stuck {
        gate,
        got,
        capacity: 2,
        first: true,
    });
    rooms.do_send(Subscribe::new(
        "t",
        stuck.clone().recipient::<TopicMessage>(),
    ));
    publish(&rooms, "t", "m0").await;
    // The member is now inside its first message, its thread held.
    let first = actix_rt::time::timeout(DEADLINE, received.recv()).await;
    assert_eq!(first.ok().flatten().as_deref(), Some("m0"));
    for n in 1..=50 {
        publish(&rooms, "t", &format!("m{n}")).await;
    }
    let behind = status(&rooms).await;
    assert!(
        behind.not_delivered >= 45,
        "a mailbox of 2 took {} of 50",
        50 - behind.not_delivered
    );
    release.send(()).expect("the member waits");
    // What it still gets is what its mailbox held, in order; once that is handled,
    // a marker published after everything comes right behind.
    stuck.send(Flush).await.expect("the member runs");
    publish(&rooms, "t", "end").await;
    let mut after = Vec::new();
    loop {
        let next = actix_rt::time::timeout(DEADLINE, received.recv()).await;
        match next.ok().flatten() {
            Some(text) if text == "end" => break,
            Some(text) => after.push(text),
            None => panic!("no end marker within {DEADLINE:?}"),
        }
    }
    assert!(after.len() <= 3, "more than the mailbox held: {after:?}");
    let numbers: Vec<u32> = after.iter().filter_map(|t| t[1..].parse().ok()).collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "out of order: {after:?}"
    );
    arbiter.stop();
}
