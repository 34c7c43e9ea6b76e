//! Two `Broadcaster`s on one Redis play two instances in one process: a message
//! published on either reaches the members of both once and in order, other Redis
//! publishers reach them too, the last member out unsubscribes the instance, and an
//! outage keeps local delivery going and heals by itself once Redis is back.
//!
//! Each test starts its own `redis-server` on a free port of 127.0.0.1 (and kills it
//! when done), so they are ignored by default: `./scripts/test-scale-out`, or
//! `cargo test --test it -- --ignored redis_relay::` with `redis-server` on the path
//! (or named by `REDIS_SERVER`).

use std::time::Duration;

use actix_sockjs::pubsub::{Subscribe, Unsubscribe, UnsubscribeAll};

/// How long any awaited event or state may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(15);

/// How often a state without an event of its own (a status, a subscriber count) is
/// looked at.
const POLL: Duration = Duration::from_millis(20);

mod support;

use support::RedisServer;
use support::instances::{
    Inbox, PUBLISHERS, assert_nothing_more, instance, probe, wait_connected, wait_status,
};

use crate::common::topics::{publish, status};

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn a_message_published_on_one_instance_reaches_the_members_of_both_once_in_order() {
    let redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    let mut b1 = Inbox::join(&b, "topic", "b1");
    let mut b2 = Inbox::join(&b, "topic", "b2");
    wait_connected(&a).await;
    wait_connected(&b).await;
    redis.wait_numsub("sockjs:topic", 2).await;

    const N: usize = 200;
    for i in 0..N {
        publish(&a, "topic", &format!("from a {i}")).await;
    }
    for i in 0..N {
        let want = format!("from a {i}");
        for member in [&mut a1, &mut b1, &mut b2] {
            assert_eq!(member.next().await, want, "{}", member.name);
        }
    }
    // A's own copies from Redis are skipped; B's members got each once.
    assert_nothing_more(&a, &b, "topic", &mut [&mut a1], &mut [&mut b1, &mut b2]).await;
    // And the other way round.
    for i in 0..N {
        publish(&b, "topic", &format!("from b {i}")).await;
    }
    for i in 0..N {
        let want = format!("from b {i}");
        for member in [&mut b1, &mut b2, &mut a1] {
            assert_eq!(member.next().await, want, "{}", member.name);
        }
    }
    assert_nothing_more(&b, &a, "topic", &mut [&mut b1, &mut b2], &mut [&mut a1]).await;

    let (sa, sb) = (status(&a).await, status(&b).await);
    assert_eq!((sa.published, sa.received), (N as u64 + 2, N as u64 + 2));
    assert_eq!((sb.published, sb.received), (N as u64 + 2, N as u64 + 2));
    assert_eq!((sa.not_relayed, sb.not_relayed), (0, 0));
    assert_eq!((sa.redis_outages, sb.redis_outages), (0, 0));
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn a_topic_first_joined_later_on_one_instance_is_delivered_once_its_subscription_took_effect()
{
    let redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    let mut b1 = Inbox::join(&b, "topic", "b1");
    wait_connected(&a).await;
    wait_connected(&b).await;

    // A new topic on each side, after both are connected: their subscriptions go
    // out on the live connections.
    let mut a_late = Inbox::join(&a, "late", "a_late");
    let mut b_late = Inbox::join(&b, "late", "b_late");
    let last = probe(&a, "late", &mut b_late).await;
    a_late.skip_probes_through(last).await;

    for i in 0..50 {
        publish(&a, "late", &format!("late {i}")).await;
    }
    for i in 0..50 {
        assert_eq!(a_late.next().await, format!("late {i}"));
        assert_eq!(b_late.next().await, format!("late {i}"));
    }
    assert_nothing_more(&a, &b, "late", &mut [&mut a_late], &mut [&mut b_late]).await;
    // The first topic's members heard none of it.
    assert_nothing_more(&b, &a, "topic", &mut [&mut b1], &mut [&mut a1]).await;
    assert_eq!(redis.numsub("sockjs:late").await, 2);
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn another_redis_publisher_reaches_the_members_of_both_instances() {
    let redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    let mut b1 = Inbox::join(&b, "topic", "b1");
    wait_connected(&a).await;
    wait_connected(&b).await;
    redis.wait_numsub("sockjs:topic", 2).await;

    assert_eq!(redis.publish("sockjs:topic", b"hello").await, 2);
    assert_eq!(a1.next().await, "hello");
    assert_eq!(b1.next().await, "hello");

    // An instance's payload (NUL, a 16-byte instance id, the text) from an instance
    // that is neither: delivered as its text.
    let mut framed = vec![0u8];
    framed.extend_from_slice(&[0x5a; 16]);
    framed.extend_from_slice("from elsewhere, é".as_bytes());
    assert_eq!(redis.publish("sockjs:topic", &framed).await, 2);
    assert_eq!(a1.next().await, "from elsewhere, é");
    assert_eq!(b1.next().await, "from elsewhere, é");

    // What is not text, or a header cut short, is dropped; what follows still comes.
    assert_eq!(redis.publish("sockjs:topic", &[0xff, 0xfe]).await, 2);
    assert_eq!(redis.publish("sockjs:topic", &[0, 1, 2]).await, 2);
    let mut bad_text = vec![0u8];
    bad_text.extend_from_slice(&[0x5a; 16]);
    bad_text.push(0xc3);
    assert_eq!(redis.publish("sockjs:topic", &bad_text).await, 2);
    assert_eq!(redis.publish("sockjs:topic", b"after").await, 2);
    assert_eq!(a1.next().await, "after");
    assert_eq!(b1.next().await, "after");
    // A channel without the prefix is no topic.
    assert_eq!(redis.publish("topic", b"unprefixed").await, 0);

    assert_nothing_more(&a, &b, "topic", &mut [&mut a1], &mut [&mut b1]).await;
    let (sa, sb) = (status(&a).await, status(&b).await);
    // hello, from elsewhere, after, and the other instance's marker.
    assert_eq!((sa.received, sb.received), (4, 4));
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn the_last_member_leaving_an_instance_unsubscribes_it_from_redis() {
    let redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    let a2 = Inbox::join(&a, "topic", "a2");
    let b1 = Inbox::join(&b, "topic", "b1");
    wait_connected(&a).await;
    wait_connected(&b).await;
    redis.wait_numsub("sockjs:topic", 2).await;

    // a1 leaves, a2 stays: A stays subscribed. A's subscription changes go out in
    // order, so once a1's next topic is subscribed, its leaving has been handled.
    a.do_send(Unsubscribe::new("topic", a1.member.clone()));
    a.do_send(Subscribe::new("elsewhere", a1.member.clone()));
    redis.wait_numsub("sockjs:elsewhere", 1).await;
    assert_eq!(redis.numsub("sockjs:topic").await, 2, "a2 is still there");

    // a2, A's last member, leaves: 2 → 1.
    a.do_send(Unsubscribe::new("topic", a2.member.clone()));
    redis.wait_numsub("sockjs:topic", 1).await;
    // b1, B's last, leaves everything: 1 → 0.
    b.do_send(UnsubscribeAll::new(b1.member.clone()));
    redis.wait_numsub("sockjs:topic", 0).await;
    let (sa, sb) = (status(&a).await, status(&b).await);
    assert_eq!((sa.topics, sa.members), (1, 1), "a1 in elsewhere");
    assert_eq!((sb.topics, sb.members), (0, 0));

    // A new first member subscribes again, and hears the other instance.
    let mut b3 = Inbox::join(&b, "topic", "b3");
    redis.wait_numsub("sockjs:topic", 1).await;
    a.do_send(Subscribe::new("topic", a1.member.clone()));
    redis.wait_numsub("sockjs:topic", 2).await;
    publish(&b, "topic", "again").await;
    assert_eq!(b3.next().await, "again");
    assert_eq!(a1.next().await, "again");
    // a1 leaves everything, including elsewhere.
    a.do_send(UnsubscribeAll::new(a1.member.clone()));
    redis.wait_numsub("sockjs:elsewhere", 0).await;
    redis.wait_numsub("sockjs:topic", 1).await;
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn an_outage_keeps_local_delivery_and_relaying_resumes_once_redis_is_back() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    let mut b1 = Inbox::join(&b, "topic", "b1");
    wait_connected(&a).await;
    wait_connected(&b).await;
    redis.wait_numsub("sockjs:topic", 2).await;
    publish(&a, "topic", "before").await;
    assert_eq!(a1.next().await, "before");
    assert_eq!(b1.next().await, "before");

    redis.kill();
    for instance in [&a, &b] {
        let down = wait_status(instance, "disconnected", |s| {
            s.redis_connected == Some(false)
        })
        .await;
        assert_eq!(down.redis_outages, 1);
    }
    // Local members still get what is published here; Redis does not.
    const DURING: u64 = 5;
    for i in 0..DURING {
        publish(&a, "topic", &format!("during {i}")).await;
    }
    for i in 0..DURING {
        assert_eq!(a1.next().await, format!("during {i}"));
    }
    // Every one of them is accounted for as not relayed (dropped, never sent late).
    wait_status(&a, "counting the unrelayed", |s| s.not_relayed >= DURING).await;

    redis.restart().await;
    for instance in [&a, &b] {
        let up = wait_connected(instance).await;
        assert_eq!(up.redis_outages, 1);
    }
    // The subscribers resubscribed to their topics, and every publishing connection
    // was remade: those that failed a publish, and the idle ones too (their PING
    // found them gone), so nothing published from now on is lost.
    redis.wait_numsub("sockjs:topic", 2).await;
    redis.wait_clients(2 * (1 + PUBLISHERS)).await;

    for i in 0..50 {
        publish(&a, "topic", &format!("after {i}")).await;
    }
    for i in 0..50 {
        assert_eq!(a1.next().await, format!("after {i}"));
        assert_eq!(
            b1.next().await,
            format!("after {i}"),
            "B never saw \"during\""
        );
    }
    for i in 0..50 {
        publish(&b, "topic", &format!("from b {i}")).await;
    }
    for i in 0..50 {
        assert_eq!(b1.next().await, format!("from b {i}"));
        assert_eq!(a1.next().await, format!("from b {i}"));
    }
    // Nothing arrives twice either way.
    assert_nothing_more(&a, &b, "topic", &mut [&mut a1], &mut [&mut b1]).await;
    assert_nothing_more(&b, &a, "topic", &mut [&mut b1], &mut [&mut a1]).await;
    // Not relayed: exactly what A published during the outage.
    let (sa, sb) = (status(&a).await, status(&b).await);
    assert_eq!(
        (sa.not_relayed, sb.not_relayed),
        (DURING, 0),
        "{sa:?} {sb:?}"
    );
    assert_eq!((sa.redis_outages, sb.redis_outages), (1, 1));
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn after_an_outage_a_new_topic_is_delivered_once_probes_get_through() {
    let mut redis = RedisServer::start().await;
    let (a, b) = (instance(&redis), instance(&redis));
    let mut a1 = Inbox::join(&a, "topic", "a1");
    wait_connected(&a).await;
    wait_connected(&b).await;

    redis.kill();
    for instance in [&a, &b] {
        wait_status(instance, "disconnected", |s| {
            s.redis_connected == Some(false)
        })
        .await;
    }
    // Joined while Redis is down: subscribed once it is back.
    let mut b1 = Inbox::join(&b, "topic", "b1");
    redis.restart().await;
    wait_connected(&a).await;
    wait_connected(&b).await;
    // Probe until B hears A, whatever A's publishing connection is doing.
    let last = probe(&a, "topic", &mut b1).await;
    a1.skip_probes_through(last).await;
    for i in 0..50 {
        publish(&a, "topic", &format!("after {i}")).await;
    }
    for i in 0..50 {
        assert_eq!(a1.next().await, format!("after {i}"));
        assert_eq!(b1.next().await, format!("after {i}"));
    }
    // B has published nothing since the outage: its publishing connections may not
    // have found theirs gone yet (they PING every 200 ms). Once they are remade,
    // what B publishes reaches A too.
    redis.wait_clients(2 * (1 + PUBLISHERS)).await;
    assert_nothing_more(&a, &b, "topic", &mut [&mut a1], &mut [&mut b1]).await;
    assert_eq!(redis.numsub("sockjs:topic").await, 2);
}

#[actix_rt::test]
#[ignore = "needs redis-server: ./scripts/test-scale-out"]
async fn a_broadcaster_nobody_holds_stops_and_closes_its_redis_connections() {
    let redis = RedisServer::start().await;
    let a = instance(&redis);
    wait_connected(&a).await;
    redis.wait_clients(1 + PUBLISHERS).await;
    // Its Redis tasks alone must not keep it alive.
    drop(a);
    redis.wait_clients(0).await;
}
