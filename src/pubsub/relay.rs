//! The broadcaster's Redis side (feature `redis`): starts the subscriber and the
//! publishers, turns topic changes into subscriptions, publishes, and reads what
//! arrives.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::{AsyncContext, Context};
use bytes::Bytes;
use bytestring::ByteString;
use tokio::sync::mpsc;

use super::redis::publisher::{self, Outgoing};
use super::redis::subscriber::{self, LinkEvent};
use super::redis::wire::{self, Origin, Received};
use super::topics::Change;
use super::{Broadcaster, BroadcasterStatus, RedisLink};

/// How many received messages may wait between the subscriber and the broadcaster.
const EVENTS: usize = 1024;

pub(crate) struct Relay {
    link: RedisLink,
    /// This instance's id in its payloads.
    origin: Origin,
    changes: Option<mpsc::UnboundedSender<subscriber::Change>>,
    publishers: Vec<mpsc::Sender<Outgoing>>,
    not_relayed: Arc<AtomicU64>,
    /// Messages from Redis dropped before the broadcaster took them.
    not_delivered: Arc<AtomicU64>,
}

impl Relay {
    pub(crate) fn new(link: RedisLink) -> Relay {
        Relay {
            link,
            origin: *uuid::Uuid::new_v4().as_bytes(),
            changes: None,
            publishers: Vec::new(),
            not_relayed: Arc::default(),
            not_delivered: Arc::default(),
        }
    }

    /// Spawns the subscriber and the publishers on the broadcaster's arbiter.
    pub(crate) fn start(&mut self, ctx: &mut Context<Broadcaster>) {
        let seed = u64::from_le_bytes(self.origin[..8].try_into().unwrap_or([1; 8]));
        let (changes, changes_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::channel(EVENTS);
        let outages = Arc::new(AtomicU64::new(0));
        actix_rt::spawn(subscriber::run(
            self.link.clone(),
            seed,
            changes_rx,
            events_tx,
            Arc::clone(&outages),
            Arc::clone(&self.not_delivered),
        ));
        ctx.add_stream(Events(events));
        self.changes = Some(changes);
        for n in 0..self.link.publishers {
            let (tx, rx) = mpsc::channel(self.link.publish_queue);
            actix_rt::spawn(publisher::run(
                self.link.clone(),
                seed.rotate_left(n as u32 + 1),
                rx,
                Arc::clone(&self.not_relayed),
                Arc::clone(&outages),
            ));
            self.publishers.push(tx);
        }
    }

    /// Subscribes to a topic that got its first member, unsubscribes from one that
    /// lost its last.
    pub(crate) fn follow(&mut self, change: Change) {
        let change = match change {
            Change::Subscribed(topic) => {
                subscriber::Change::Subscribe(wire::channel(&self.link.prefix, &topic))
            }
            Change::Emptied(topic) => {
                subscriber::Change::Unsubscribe(wire::channel(&self.link.prefix, &topic))
            }
        };
        if let Some(changes) = &self.changes {
            let _ = changes.send(change);
        }
    }

    /// Queues `message` for Redis on the topic's publishing connection; counts it as
    /// not relayed if that queue is full or gone.
    pub(crate) fn publish(&mut self, topic: &str, message: &str) {
        if self.publishers.is_empty() {
            return;
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        topic.hash(&mut hasher);
        let queue = &self.publishers[hasher.finish() as usize % self.publishers.len()];
        let out = Outgoing {
            channel: wire::channel(&self.link.prefix, topic).into(),
            payload: Bytes::from(wire::encode(&self.origin, message)),
        };
        if queue.try_send(out).is_err() {
            self.not_relayed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The topic and text of a message from Redis, unless this instance sent it or it
    /// is not a message.
    pub(crate) fn received<'m>(&self, msg: &'m ::redis::Msg) -> Option<(&'m str, ByteString)> {
        let topic = wire::topic(&self.link.prefix, msg.get_channel_name().as_bytes())?;
        match wire::decode(&self.origin, msg.get_payload_bytes()) {
            Received::Own => None,
            Received::Message(text) => Some((topic, ByteString::from(text))),
            Received::Invalid => {
                log::debug!("redis: a message on {topic:?} that is not UTF-8 text was dropped");
                None
            }
        }
    }

    pub(crate) fn fill(&self, status: &mut BroadcasterStatus) {
        status.not_relayed = self.not_relayed.load(Ordering::Relaxed);
        status.not_delivered += self.not_delivered.load(Ordering::Relaxed);
    }
}

/// The subscriber's events as a stream for `add_stream`.
struct Events(mpsc::Receiver<LinkEvent>);

impl futures_core::Stream for Events {
    type Item = LinkEvent;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<LinkEvent>> {
        self.0.poll_recv(cx)
    }
}
