//! Broadcaster instances on a test's Redis, and member actors that record what they
//! get, for tests/it/redis_relay.rs.

use std::time::{Duration, Instant};

use actix::{Actor, Addr};
use actix_sockjs::pubsub::{Broadcaster, BroadcasterStatus, Member, RedisLink, Subscribe};
use tokio::sync::mpsc::UnboundedReceiver;

use super::super::{DEADLINE, POLL};
use super::RedisServer;
use crate::common::topics::{forward, publish, status};

// --- instances and their members -------------------------------------------------

/// Publishing connections per instance.
pub(crate) const PUBLISHERS: usize = 2;

/// A broadcaster on `redis`, quick to notice an outage and to come back.
pub(crate) fn instance(redis: &RedisServer) -> Addr<Broadcaster> {
    let link = RedisLink::new(&redis.url())
        .expect("a valid Redis URL")
        .publish_connections(PUBLISHERS)
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .ping_interval(Duration::from_millis(200))
        .reply_timeout(Duration::from_secs(1));
    Broadcaster::new().redis(link).start()
}

/// A member actor on `instance`, subscribed to `topic`: its membership and what it
/// receives.
pub(crate) struct Inbox {
    pub(crate) member: Member,
    /// (topic, text) of what it gets.
    rx: UnboundedReceiver<(String, String)>,
    pub(crate) name: &'static str,
}

impl Inbox {
    pub(crate) fn join(instance: &Addr<Broadcaster>, topic: &str, name: &'static str) -> Inbox {
        let (_, member, rx) = forward();
        instance.do_send(Subscribe::new(topic, member.clone()));
        Inbox { member, rx, name }
    }

    /// The next message, failing the test after [`DEADLINE`].
    pub(crate) async fn next(&mut self) -> String {
        match actix_rt::time::timeout(DEADLINE, self.rx.recv()).await {
            Ok(Some((_, text))) => text,
            Ok(None) => panic!("{}: the member actor is gone", self.name),
            Err(_) => panic!("{}: no message within {DEADLINE:?}", self.name),
        }
    }

    /// The next message, if one comes within `wait`.
    pub(crate) async fn within(&mut self, wait: Duration) -> Option<String> {
        actix_rt::time::timeout(wait, self.rx.recv())
            .await
            .ok()
            .flatten()
            .map(|(_, text)| text)
    }

    /// Reads probes (`probe <n>`, strictly increasing) up to and including `probe
    /// <last>`; anything else fails the test.
    pub(crate) async fn skip_probes_through(&mut self, last: u32) {
        let mut previous: Option<u32> = None;
        loop {
            let text = self.next().await;
            let n: u32 = text
                .strip_prefix("probe ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}: expected a probe, got {text:?}", self.name));
            assert!(
                previous.is_none_or(|p| n > p),
                "{}: probe {n} after probe {previous:?}",
                self.name
            );
            if n == last {
                return;
            }
            previous = Some(n);
        }
    }
}

/// Polls the status until `done` holds; that status.
pub(crate) async fn wait_status(
    instance: &Addr<Broadcaster>,
    what: &str,
    done: impl Fn(&BroadcasterStatus) -> bool,
) -> BroadcasterStatus {
    let start = Instant::now();
    loop {
        let now = status(instance).await;
        if done(&now) {
            return now;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "not {what} within {DEADLINE:?}: {now:?}"
        );
        actix_rt::time::sleep(POLL).await;
    }
}

pub(crate) async fn wait_connected(instance: &Addr<Broadcaster>) -> BroadcasterStatus {
    wait_status(instance, "connected to Redis", |s| {
        s.redis_connected == Some(true)
    })
    .await
}

/// Publishes `probe 0`, `probe 1`, ... to `topic` on `from` until `to` receives one
/// (its instance's subscription has taken effect and `from`'s messages reach Redis);
/// reads `to`'s probes through the last one published, and returns that one's
/// number (for the other members to skip theirs).
pub(crate) async fn probe(from: &Addr<Broadcaster>, topic: &str, to: &mut Inbox) -> u32 {
    let start = Instant::now();
    for n in 0.. {
        publish(from, topic, &format!("probe {n}")).await;
        if let Some(first) = to.within(Duration::from_millis(100)).await {
            let first: u32 = first
                .strip_prefix("probe ")
                .and_then(|k| k.parse().ok())
                .unwrap_or_else(|| panic!("{}: expected a probe, got {first:?}", to.name));
            // Every probe after the first one received follows it, in order.
            if first < n {
                to.skip_probes_through(n).await;
            }
            return n;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{}: no probe arrived within {DEADLINE:?}",
            to.name
        );
    }
    unreachable!("probes are numbered without end")
}

/// Proves nothing more is on its way to the members, duplicates included: `last`'s
/// marker crosses Redis after `first`'s, so every member's next message is first's
/// marker, then last's (a copy of an earlier message would come before them).
pub(crate) async fn assert_nothing_more(
    first: &Addr<Broadcaster>,
    last: &Addr<Broadcaster>,
    topic: &str,
    first_members: &mut [&mut Inbox],
    last_members: &mut [&mut Inbox],
) {
    publish(first, topic, "marker 1").await;
    expect_all(first_members, "marker 1").await;
    expect_all(last_members, "marker 1").await;
    // Every member of `last`'s instance got marker 1 through Redis: Redis has passed
    // on everything `first` published before it.
    publish(last, topic, "marker 2").await;
    expect_all(first_members, "marker 2").await;
    expect_all(last_members, "marker 2").await;
}

/// Every member's next message is `text`.
pub(crate) async fn expect_all(members: &mut [&mut Inbox], text: &str) {
    for member in members.iter_mut() {
        assert_eq!(member.next().await, text, "{}", member.name);
    }
}

// --- the tests -------------------------------------------------------------------
