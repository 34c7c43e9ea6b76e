//! `pubsub::Broadcaster` with actor members (`Recipient<TopicMessage>`), on one
//! instance: each gets its topics' messages once, leaving stops them, a stopped
//! actor is pruned at the next publish, and one that falls behind loses messages
//! (counted) instead of queueing them all.

use actix::{Actor, Addr, Context, Handler, Message};
use actix_sockjs::PreparedMessage;
use actix_sockjs::pubsub::{
    Broadcaster, Member, Subscribe, TopicMessage, Unsubscribe, UnsubscribeAll,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common::topics::{Forward, Stop, forward, publish, status};
use crate::common::{DEADLINE, eventually, recv_within};

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
