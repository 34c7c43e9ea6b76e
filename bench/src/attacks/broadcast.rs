//! Members of `/broadcast` that stop reading while another member broadcasts: the
//! server must hold no more than `max_queued_bytes` for each and go on delivering to
//! the member that reads. `stalled-peers` also watches, from the kernel's table of
//! connections, whether and when the server gives up the stalled connections.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep_until};

use super::{Observed, Target};
use crate::broadcaster::Broadcaster;
use crate::stalled::{Ending, Stalled};
use sockjs_bench::{TcpEntry, rss_bytes, tcp_entry};

/// Connecting, a single answer, and reading what a stalled member was left.
const SHORT: Duration = Duration::from_secs(10);
/// Size of each broadcast message.
const MESSAGE_SIZE: usize = 1024;
/// Broadcasts in flight at once.
const WINDOW: usize = 32;
/// `stalled-peers`: broadcasts per second while it waits.
const PER_SECOND: u64 = 500;

fn ending_text(ending: Ending) -> String {
    match ending {
        Ending::Closed(code) => format!("close {code}"),
        Ending::Open => "still open".into(),
        Ending::Ended => "connection ended without a close frame".into(),
    }
}

/// Attack 2: a websocket member that never reads, while another broadcasts up to
/// 200,000 messages of 1 KiB (as many as fit in the duration).
pub(crate) async fn unread_member(t: &Target) -> Result<Observed, String> {
    let setup = Instant::now() + SHORT;
    let stalled = Stalled::open(t.addr, "/broadcast", 1, true, setup)
        .await
        .map_err(|e| format!("stalled member: {e}"))?;
    let mut sender = Broadcaster::open(t.addr, "/broadcast", MESSAGE_SIZE, WINDOW, setup)
        .await
        .map_err(|e| format!("broadcaster: {e}"))?;
    let t0 = Instant::now();
    let stop = t0 + t.duration;
    let ran = sender.run(200_000, stop, stop + SHORT).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let (sent, received) = (sender.sent(), sender.received());
    sender.close(Instant::now() + Duration::from_secs(5)).await;
    let ending = stalled.drain(Instant::now() + SHORT).await;
    let error = ran.err().map(|e| e.to_string());
    Ok(Observed {
        summary: format!(
            "broadcaster sent {sent} × 1 KiB in {elapsed:.1} s and got back {received} in order{}; the unread member then read: {}",
            error
                .as_deref()
                .map_or(String::new(), |e| format!(" (error: {e})")),
            ending_text(ending),
        ),
        as_expected: error.is_none() && sent > 0 && received == sent,
        details: json!({
            "sent": sent,
            "received": received,
            "seconds": elapsed,
            "broadcaster_error": error,
            "unread_member": ending.to_string(),
        }),
    })
}

/// The server's end of a stalled peer's connection, as text.
fn state_text(entry: &Option<TcpEntry>) -> String {
    match entry {
        Some(e) => format!("{} (server unsent {} B)", e.state, e.tx_queue),
        None => "gone".into(),
    }
}

/// Attack 8: a websocket and an xhr_streaming member that stop reading and stay
/// connected while 500 broadcasts a second flow, until the server has closed both
/// connections or `stall_wait` is over.
pub(crate) async fn stalled_peers(t: &Target) -> Result<Observed, String> {
    let setup = Instant::now() + SHORT;
    let mut peers = Vec::new();
    for (n, ws) in [(2, true), (3, false)] {
        peers.push(
            Stalled::open(t.addr, "/broadcast", n, ws, setup)
                .await
                .map_err(|e| format!("stalled member: {e}"))?,
        );
    }
    let mut sender = Broadcaster::open(t.addr, "/broadcast", MESSAGE_SIZE, WINDOW, setup)
        .await
        .map_err(|e| format!("broadcaster: {e}"))?;
    let ports: Vec<u16> = peers.iter().map(Stalled::local_port).collect();
    let mut closed_after: Vec<Option<f64>> = vec![None; peers.len()];
    let mut states: Vec<Option<TcpEntry>> = vec![None; peers.len()];
    let mut rss_trace = Vec::new();
    let mut error = None;
    let t0 = Instant::now();
    let end = t0 + t.stall_wait;
    let mut tick = t0;
    loop {
        if let Err(e) = sender
            .run(PER_SECOND, tick + Duration::from_secs(1), tick + SHORT)
            .await
        {
            error = Some(e.to_string());
            break;
        }
        let at = t0.elapsed().as_secs_f64();
        for (i, port) in ports.iter().enumerate() {
            // Unreadable: leave it as it was (an error is not a close).
            let Ok(entry) = tcp_entry(t.addr.port(), *port) else {
                continue;
            };
            if closed_after[i].is_none() && entry.is_none_or(|e| e.state != "ESTABLISHED") {
                closed_after[i] = Some(at);
            }
            states[i] = entry;
        }
        if rss_trace.len() < (at / 5.0) as usize + 1 {
            rss_trace.push(json!([at.round(), rss_bytes(&t.pid).ok()]));
        }
        if closed_after.iter().all(Option::is_some) || Instant::now() >= end {
            break;
        }
        tick += Duration::from_secs(1);
        sleep_until(tick).await;
    }
    let waited = t0.elapsed().as_secs_f64();
    let (sent, received) = (sender.sent(), sender.received());
    sender.close(Instant::now() + Duration::from_secs(5)).await;
    let mut parts = Vec::new();
    let mut report = Vec::new();
    for (i, peer) in peers.into_iter().enumerate() {
        let transport = peer.transport();
        let ending = peer.drain(Instant::now() + SHORT).await;
        let closed = match closed_after[i] {
            Some(s) => format!("server closed it after {s:.0} s"),
            None => format!("server kept it for all {waited:.0} s"),
        };
        parts.push(format!(
            "{transport}: {closed}, now {}, it read {}",
            state_text(&states[i]),
            ending_text(ending)
        ));
        report.push(json!({
            "transport": transport,
            "closed_after_s": closed_after[i],
            "server_side": states[i].map(|e| json!({"state": e.state, "tx_queue": e.tx_queue})),
            "read_at_last": ending.to_string(),
        }));
    }
    Ok(Observed {
        summary: format!(
            "broadcaster got {received} of {sent}{}; {}",
            error
                .as_deref()
                .map_or(String::new(), |e| format!(" (error: {e})")),
            parts.join("; ")
        ),
        as_expected: error.is_none() && sent > 0 && received == sent,
        details: json!({
            "sent": sent,
            "received": received,
            "waited_s": waited,
            "peers": report,
            "rss_every_5s": Value::Array(rss_trace),
            "broadcaster_error": error,
        }),
    })
}
