//! The Redis side of a [`Broadcaster`](super::Broadcaster) (feature `redis`): one
//! subscriber connection that follows the instance's topics, and a few publishing
//! connections.

mod backoff;
pub(crate) mod publisher;
pub(crate) mod subscriber;
pub(crate) mod wire;

use std::time::Duration;

pub(crate) use backoff::Backoff;

/// Where and how a [`Broadcaster`](super::Broadcaster) reaches Redis: give it to
/// [`Broadcaster::redis`](super::Broadcaster::redis).
///
/// Connections are made in the background once the broadcaster starts, and remade
/// after any failure (see the [module documentation](super) for what an outage
/// means for messages); nothing here connects.
///
/// ```
/// use std::time::Duration;
/// use actix_sockjs::pubsub::RedisLink;
///
/// let link = RedisLink::new("redis://127.0.0.1:6379")?
///     .channel_prefix("chat:")
///     .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(2));
/// # Ok::<(), actix_sockjs::pubsub::InvalidRedisUrl>(())
/// ```
#[derive(Clone, Debug)]
pub struct RedisLink {
    pub(crate) client: ::redis::Client,
    pub(crate) prefix: String,
    pub(crate) publishers: usize,
    pub(crate) publish_queue: usize,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) reply_timeout: Duration,
}

/// A Redis URL that the `redis` crate does not accept (`redis://host:port/db`,
/// `redis+unix:///path`, ...).
#[derive(Debug)]
pub struct InvalidRedisUrl(String);

impl std::fmt::Display for InvalidRedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid Redis URL: {}", self.0)
    }
}

impl std::error::Error for InvalidRedisUrl {}

impl RedisLink {
    /// A link to the Redis server at `url`, with the defaults below.
    pub fn new(url: &str) -> Result<RedisLink, InvalidRedisUrl> {
        let client = ::redis::Client::open(url).map_err(|e| InvalidRedisUrl(e.to_string()))?;
        Ok(RedisLink {
            client,
            prefix: "sockjs:".into(),
            publishers: 2,
            publish_queue: 8192,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            ping_interval: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(2),
        })
    }

    /// What every topic's Redis channel starts with (default `sockjs:`): the topic
    /// `lobby` is the channel `sockjs:lobby`. Instances that share rooms use the same
    /// prefix; applications sharing one Redis use different ones.
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many connections publish (default 2, at least 1). A topic always
    /// publishes through the same one, which keeps its messages in order.
    pub fn publish_connections(mut self, n: usize) -> Self {
        self.publishers = n.max(1);
        self
    }

    /// How many messages may wait for each publishing connection (default 8192, at
    /// least 1); beyond that, a message reaches only this instance's members and is
    /// counted in [`BroadcasterStatus::not_relayed`](super::BroadcasterStatus::not_relayed).
    /// The memory this can take is this many times the size of the largest messages
    /// published, per connection, while Redis is slow to answer (at most
    /// [`reply_timeout`](Self::reply_timeout)).
    pub fn publish_queue(mut self, n: usize) -> Self {
        self.publish_queue = n.max(1);
        self
    }

    /// The wait before reconnecting: `min` (at least 10 ms) after the first failure,
    /// doubling to at most `max` (defaults 100 ms and 5 s), each shortened by up to a
    /// quarter at random.
    pub fn reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        // Never a reconnect loop at full speed.
        self.min_backoff = min.max(Duration::from_millis(10));
        self.max_backoff = max;
        self
    }

    /// How often the subscriber connection, and each publishing connection while it
    /// has nothing to send, is checked with a `PING` (default 5 s): a Redis that
    /// stopped answering without closing the connection is noticed within this plus
    /// [`reply_timeout`](Self::reply_timeout), and a publishing connection lost while
    /// idle is remade before its next message instead of losing it.
    pub fn ping_interval(mut self, every: Duration) -> Self {
        self.ping_interval = every.max(Duration::from_millis(10));
        self
    }

    /// How long Redis may take to answer a connect, a subscribe, a `PING` or a batch
    /// of publishes (default 2 s) before the connection counts as lost.
    pub fn reply_timeout(mut self, timeout: Duration) -> Self {
        self.reply_timeout = timeout;
        self
    }
}
