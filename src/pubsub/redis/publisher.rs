//! One publishing connection: takes the broadcaster's outgoing messages in order,
//! sends whatever has queued up as one pipeline of `PUBLISH`es, checks the connection
//! with a `PING` while idle, and reconnects (with backoff) after a failure. While it
//! is disconnected, what arrives is dropped and counted: a message is relayed at most
//! once, never late.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_rt::time::{sleep, timeout};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Backoff, RedisLink};

/// The most `PUBLISH`es sent in one pipeline.
const BATCH: usize = 256;

/// A message for Redis: its channel and payload.
pub(crate) struct Outgoing {
    pub(crate) channel: Arc<str>,
    pub(crate) payload: Bytes,
}

/// Whether `e` means the connection is gone (rather than Redis refusing one command,
/// an ACL say, on a connection that still works).
fn connection_lost(e: &::redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()
}

/// Runs until the broadcaster drops the queue's sender.
pub(crate) async fn run(
    link: RedisLink,
    seed: u64,
    mut queue: mpsc::Receiver<Outgoing>,
    not_relayed: Arc<AtomicU64>,
    outages: Arc<AtomicU64>,
) {
    let mut backoff = Backoff::new(link.min_backoff, link.max_backoff, seed);
    // Whether the current outage was logged: once as a warning, then at the
    // reconnect as info.
    let mut failing = false;
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
    let mut pipe = ::redis::pipe();
    // The crate's own timeouts would fire before (and apart from) reply_timeout.
    let config = ::redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(link.reply_timeout))
        .set_response_timeout(Some(link.reply_timeout));
    loop {
        let connected = timeout(
            link.reply_timeout,
            link.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        let mut conn = match connected {
            Ok(Ok(conn)) => conn,
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no answer".to_owned(),
                };
                if !failing {
                    log::warn!("redis: cannot connect to publish ({why}); retrying with backoff");
                    failing = true;
                }
                // A batch kept for the new connection would now be late: dropped.
                not_relayed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                batch.clear();
                if !drop_while_waiting(backoff.next_delay(), &mut queue, &not_relayed).await {
                    return;
                }
                continue;
            }
        };
        if failing {
            log::info!("redis: publishing connection up again");
        }
        // The subscriber's outages as of this connection: when it sees Redis go,
        // this connection most likely went too.
        let outages_seen = outages.load(Ordering::Relaxed);
        // An idle connection is checked too: one that died unnoticed (Redis
        // restarted, an idle timeout) would lose the next batch after it came back.
        let mut ping = actix_rt::time::interval(link.ping_interval);
        ping.tick().await;
        let why = loop {
            if batch.is_empty() {
                tokio::select! {
                    received = queue.recv_many(&mut batch, BATCH) => if received == 0 {
                        return;
                    },
                    _ = ping.tick() => {
                        // Any answer, an error included (an ACL without PING), says
                        // the connection works.
                        let ping = ::redis::cmd("PING");
                        match timeout(link.reply_timeout, ping.query_async::<::redis::Value>(&mut conn)).await {
                            Ok(Ok(_)) => {
                                backoff.reset();
                                continue;
                            }
                            Ok(Err(e)) if !connection_lost(&e) => continue,
                            Ok(Err(e)) => break Some(e.to_string()),
                            Err(_) => break Some("no answer to PING".to_owned()),
                        }
                    }
                }
            }
            if outages.load(Ordering::Relaxed) != outages_seen {
                // Reconnect at once; the batch goes out on the new connection.
                break None;
            }
            pipe.clear();
            for out in &batch {
                pipe.cmd("PUBLISH").arg(&*out.channel).arg(&out.payload[..]);
            }
            let sent = timeout(link.reply_timeout, pipe.query_async::<()>(&mut conn)).await;
            let count = batch.len() as u64;
            batch.clear();
            match sent {
                Ok(Ok(())) => backoff.reset(),
                Ok(Err(e)) if !connection_lost(&e) => {
                    // Redis refused (an ACL, a read-only replica): the connection
                    // stays, the batch is not relayed.
                    not_relayed.fetch_add(count, Ordering::Relaxed);
                    log::warn!("redis: PUBLISH refused ({e}); {count} message(s) not relayed");
                }
                Ok(Err(e)) => {
                    // Some of the batch may have been published; none is sent again.
                    not_relayed.fetch_add(count, Ordering::Relaxed);
                    break Some(format!("{e}; {count} message(s) not relayed"));
                }
                Err(_) => {
                    not_relayed.fetch_add(count, Ordering::Relaxed);
                    break Some(format!("no answer; {count} message(s) not relayed"));
                }
            }
        };
        failing = true;
        let Some(why) = why else {
            log::info!("redis: the subscriber lost Redis; remaking a publishing connection");
            continue;
        };
        log::warn!("redis: publishing connection lost ({why}); reconnecting");
        // A connection that fails at once again and again backs off too.
        if !drop_while_waiting(backoff.next_delay(), &mut queue, &not_relayed).await {
            return;
        }
    }
}

/// Waits `delay`, dropping (and counting) every message that arrives meanwhile;
/// false once the queue's sender is gone.
async fn drop_while_waiting(
    delay: std::time::Duration,
    queue: &mut mpsc::Receiver<Outgoing>,
    not_relayed: &AtomicU64,
) -> bool {
    let pause = sleep(delay);
    tokio::pin!(pause);
    loop {
        tokio::select! {
            () = &mut pause => return true,
            out = queue.recv() => match out {
                Some(_) => {
                    not_relayed.fetch_add(1, Ordering::Relaxed);
                }
                None => return false,
            },
        }
    }
}
