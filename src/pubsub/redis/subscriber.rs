//! The instance's one subscriber connection: follows the topics that have local
//! members, hands every message to the broadcaster, and reconnects (with backoff)
//! and resubscribes whenever the connection is lost.

use std::collections::HashSet;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ::redis::aio::{PubSubSink, PubSubStream};
use actix_rt::time::{sleep, timeout};
use futures_core::Stream;
use tokio::sync::mpsc;

use super::{Backoff, RedisLink};

/// The most channels in one `SUBSCRIBE` when resubscribing.
const SUBSCRIBE_CHUNK: usize = 1024;

/// A change of the instance's topics, as Redis channel names.
#[derive(Debug)]
pub(crate) enum Change {
    Subscribe(String),
    Unsubscribe(String),
}

/// What the subscriber tells the broadcaster.
pub(crate) enum LinkEvent {
    /// Connected, and subscribed to every wanted channel.
    Up,
    /// The connection was lost (or never made); reconnecting.
    Down,
    /// A message on one of the channels.
    Message(::redis::Msg),
}

/// Runs until the broadcaster goes (its `changes` sender or `events` receiver
/// dropped).
pub(crate) async fn run(
    link: RedisLink,
    seed: u64,
    mut changes: mpsc::UnboundedReceiver<Change>,
    events: mpsc::Sender<LinkEvent>,
    outages: Arc<AtomicU64>,
    not_delivered: Arc<AtomicU64>,
) {
    let mut wanted: HashSet<String> = HashSet::new();
    let mut backoff = Backoff::new(link.min_backoff, link.max_backoff, seed);
    let mut down_since: Option<Instant> = None;
    loop {
        // Changes made while disconnected only update the set to subscribe.
        loop {
            match changes.try_recv() {
                Ok(change) => apply(&mut wanted, change),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        let (sink, stream) = match connect(&link, &wanted).await {
            Ok(connected) => connected,
            Err(why) => {
                if down_since.is_none() {
                    log::warn!("redis: cannot subscribe ({why}); retrying with backoff");
                    down_since = Some(Instant::now());
                    if events.send(LinkEvent::Down).await.is_err() {
                        return;
                    }
                } else {
                    log::debug!("redis: subscriber reconnect failed: {why}");
                }
                if !wait(backoff.next_delay(), &mut changes, &mut wanted).await {
                    return;
                }
                continue;
            }
        };
        backoff.reset();
        match down_since.take() {
            Some(since) => log::info!(
                "redis: subscriber connected again after {:.1} s, {} channel(s)",
                since.elapsed().as_secs_f64(),
                wanted.len()
            ),
            None => log::info!("redis: subscriber connected"),
        }
        if events.send(LinkEvent::Up).await.is_err() {
            return;
        }
        match serve(
            &link,
            sink,
            stream,
            &mut changes,
            &mut wanted,
            &events,
            &not_delivered,
        )
        .await
        {
            Lost::Ended => return,
            Lost::Connection(why) => {
                log::warn!("redis: subscriber connection lost ({why}); reconnecting");
                // The publishers remake their connections before their next batch.
                outages.fetch_add(1, Ordering::Relaxed);
                down_since = Some(Instant::now());
                if events.send(LinkEvent::Down).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn apply(wanted: &mut HashSet<String>, change: Change) {
    match change {
        Change::Subscribe(channel) => {
            wanted.insert(channel);
        }
        Change::Unsubscribe(channel) => {
            wanted.remove(&channel);
        }
    }
}

async fn connect(
    link: &RedisLink,
    wanted: &HashSet<String>,
) -> Result<(PubSubSink, PubSubStream), String> {
    let pubsub = match timeout(link.reply_timeout, link.client.get_async_pubsub()).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("no answer".to_owned()),
    };
    let (mut sink, stream) = pubsub.split();
    // In chunks, each with its own time limit: Redis answers a SUBSCRIBE with one
    // confirmation per channel, and a huge one at once overflows its output buffer
    // for the connection.
    let channels: Vec<&str> = wanted.iter().map(String::as_str).collect();
    for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
        match timeout(link.reply_timeout, sink.subscribe(chunk)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("no answer to SUBSCRIBE".to_owned()),
        }
    }
    Ok((sink, stream))
}

/// Sleeps `delay` while keeping `wanted` up to date; false if the broadcaster went.
async fn wait(
    delay: std::time::Duration,
    changes: &mut mpsc::UnboundedReceiver<Change>,
    wanted: &mut HashSet<String>,
) -> bool {
    let pause = sleep(delay);
    tokio::pin!(pause);
    loop {
        tokio::select! {
            () = &mut pause => return true,
            change = changes.recv() => match change {
                Some(change) => apply(wanted, change),
                None => return false,
            },
        }
    }
}

enum Lost {
    /// The broadcaster went: stop.
    Ended,
    /// The connection failed: reconnect.
    Connection(String),
}

async fn serve(
    link: &RedisLink,
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    changes: &mut mpsc::UnboundedReceiver<Change>,
    wanted: &mut HashSet<String>,
    events: &mpsc::Sender<LinkEvent>,
    not_delivered: &AtomicU64,
) -> Lost {
    let mut ping = actix_rt::time::interval(link.ping_interval);
    // The first tick is immediate; the connection was just checked by subscribing.
    ping.tick().await;
    loop {
        tokio::select! {
            msg = poll_fn(|cx| std::pin::Pin::new(&mut stream).poll_next(cx)) => match msg {
                // The broadcaster cannot keep up: what it has not taken is dropped
                // here, never waited for (the crate reads the connection into an
                // unbounded queue meanwhile, and Redis would cut a slow reader).
                Some(msg) => match events.try_send(LinkEvent::Message(msg)) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        not_delivered.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return Lost::Ended,
                },
                None => return Lost::Connection("closed by the server".into()),
            },
            change = changes.recv() => {
                let Some(change) = change else { return Lost::Ended };
                let sent = match &change {
                    Change::Subscribe(channel) => {
                        timeout(link.reply_timeout, sink.subscribe(channel.as_str())).await
                    }
                    Change::Unsubscribe(channel) => {
                        timeout(link.reply_timeout, sink.unsubscribe(channel.as_str())).await
                    }
                };
                apply(wanted, change);
                match sent {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Lost::Connection(e.to_string()),
                    Err(_) => return Lost::Connection("no answer to SUBSCRIBE".into()),
                }
            }
            _ = ping.tick() => {
                match timeout(link.reply_timeout, sink.ping::<::redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Lost::Connection(e.to_string()),
                    Err(_) => return Lost::Connection("no answer to PING".into()),
                }
            }
        }
    }
}
