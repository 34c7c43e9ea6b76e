//! `stuck` and `stuck-addr`: sessions whose clients never read while a broadcast
//! stream flows past them. What the server holds for such a session is bounded by
//! `max_queued_bytes` (bench-server's `/broadcast` and `/room` use the default, 1 MiB),
//! so its resident memory may grow by at most that plus a small constant per stuck
//! session, however long the stream; and the one client that reads must still get
//! every message, in order.
//!
//! The two differ in how the broadcast reaches the sessions: `stuck` on `/broadcast`,
//! through their `SessionHandle`s (`actix_sockjs::broadcast`); `stuck-addr` on
//! `/room`, through a room actor that sends each member's actor a message with
//! `Addr::do_send`, which the member's handler writes with `send_prepared`. And in how
//! long the stream is by default: 5000 broadcasts for `stuck`, 50,000 for
//! `stuck-addr`. A line held in a mailbox costs its session only its envelope (some
//! 50 B: the frame is shared by every member), so a mailbox that is not bounded grows
//! past the target only with a long stream: with 5000 broadcasts the library
//! before the fix for issue 26 measured some 530 KB per stuck session, as it does
//! after; with 50,000, 2.6 MB before and 510 KB after.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout_at};

use crate::broadcaster::Broadcaster;
use crate::rss::PeakRss;
use crate::scenario::{GRACE, SETUP, Settings, open_concurrently};
use crate::stalled::Stalled;
use sockjs_bench::rss_bytes;

/// `max_queued_bytes` of bench-server's `/broadcast` and `/room` (the default).
const BOUND: u64 = 1 << 20;
/// What a stuck session may hold beyond the bound: its connection, actor and buffers.
const SLACK: u64 = 256 << 10;
/// The size of each broadcast message.
const MESSAGE_SIZE: usize = 1024;
/// How long after the stuck clients leave the server's memory is read again: past
/// `disconnect_delay` (5 s), so their sessions are gone.
const AFTER_LEAVING: Duration = Duration::from_secs(6);

/// Which service a stuck scenario runs on, and the name it reports.
#[derive(Clone, Copy)]
pub(crate) struct Service {
    /// The scenario's name: `stuck` or `stuck-addr`.
    pub(crate) scenario: &'static str,
    /// The SockJS service's prefix on bench-server: `/broadcast` or `/room`.
    pub(crate) prefix: &'static str,
    /// Broadcasts streamed unless `--messages` says otherwise.
    pub(crate) messages: u64,
}

/// `stuck`: the broadcast reaches the sessions through their handles.
pub(crate) const HANDLES: Service = Service {
    scenario: "stuck",
    prefix: "/broadcast",
    messages: 5000,
};

/// `stuck-addr`: the broadcast reaches the sessions through a room actor's `Addr`s.
pub(crate) const ADDRS: Service = Service {
    scenario: "stuck-addr",
    prefix: "/room",
    messages: 50_000,
};

/// Opens `ws` websocket and `xhr` xhr_streaming stuck sessions of the service at
/// `prefix`, 32 at a time.
async fn open_all(
    addr: SocketAddr,
    prefix: &'static str,
    ws: usize,
    xhr: usize,
) -> Result<Vec<Stalled>, String> {
    let deadline = Instant::now() + SETUP;
    open_concurrently(0..ws + xhr, 32, deadline, move |n| {
        Stalled::open(addr, prefix, n, n < ws, deadline)
    })
    .await
    .map_err(|(failed, e)| format!("{failed} stuck session(s) failed to open: {e}"))
}

/// Drains every stuck session at once (bounded by [`GRACE`]) and counts the endings:
/// `"1013"` and other close codes, `"open"`, `"ended"`.
async fn endings(stuck: Vec<Stalled>) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + GRACE;
    let mut tasks = JoinSet::new();
    let total = stuck.len() as u64;
    for s in stuck {
        tasks.spawn(s.drain(deadline));
    }
    let mut counts = BTreeMap::new();
    let _ = timeout_at(deadline + Duration::from_secs(1), async {
        while let Some(joined) = tasks.join_next().await {
            let key = joined.map_or_else(|_| "ended".to_owned(), |ending| ending.to_string());
            *counts.entry(key).or_insert(0) += 1;
        }
    })
    .await;
    tasks.abort_all();
    let seen: u64 = counts.values().sum();
    if seen < total {
        counts.insert(
            "open".into(),
            counts.get("open").unwrap_or(&0) + total - seen,
        );
    }
    counts
}

/// A stuck scenario on `service`: N sessions (half websocket, half xhr_streaming) that
/// never read, one reading broadcaster, `messages` broadcasts of 1 KiB (by default the
/// service's).
pub(crate) async fn stuck(s: Arc<Settings>, service: Service) -> Result<Value, String> {
    let sessions = s.sessions.unwrap_or(100).max(2);
    let (ws, xhr) = (sessions / 2, sessions - sessions / 2);
    let messages = s.messages.map_or(service.messages, |m| m as u64).max(1);
    let window = s.window.unwrap_or(16).max(1);
    let pid = s.server_pid.as_str();
    let rss = || rss_bytes(pid).map_err(|e| format!("server pid {pid}: {e}"));

    let setup = Instant::now() + SETUP;
    let mut reader = Broadcaster::open(s.addr, service.prefix, MESSAGE_SIZE, window, setup)
        .await
        .map_err(|e| format!("broadcaster: {e}"))?;
    // A few broadcasts first, so what the first ones allocate once is not counted.
    let warm = Instant::now() + SETUP;
    reader
        .run(50, warm, warm)
        .await
        .map_err(|e| format!("warm-up: {e}"))?;
    sleep(Duration::from_millis(300)).await;
    let before = rss()?;
    let stuck = open_all(s.addr, service.prefix, ws, xhr).await?;
    sleep(Duration::from_millis(500)).await;
    let connected = rss()?;

    let peak = PeakRss::start(pid);
    let t0 = Instant::now();
    let hard = t0 + SETUP;
    let streamed = reader.run(messages, hard, hard).await;
    let elapsed = t0.elapsed().as_secs_f64();
    // Whatever the server still writes or closes happens under the sampler.
    sleep(Duration::from_secs(1)).await;
    let peak = peak.stop();
    let after_stream = rss()?;
    let received = reader.received().saturating_sub(50);
    let ends = endings(stuck).await;
    reader.close(Instant::now() + Duration::from_secs(5)).await;
    sleep(AFTER_LEAVING).await;
    let after_leaving = rss()?;

    let growth = peak.saturating_sub(before);
    let per_session = growth as f64 / sessions as f64;
    let ok = per_session <= (BOUND + SLACK) as f64;
    let closed: u64 = ends
        .iter()
        .filter(|(k, _)| k.parse::<u16>().is_ok())
        .map(|(_, n)| n)
        .sum();
    let error = match streamed {
        Err(e) => Some(format!("broadcaster: {e}")),
        Ok(()) if received != messages => Some(format!(
            "broadcaster received {received} of {messages} messages"
        )),
        Ok(()) => None,
    };
    Ok(json!({
        "scenario": service.scenario,
        "service": service.prefix,
        "unit": "bytes/stuck session",
        "sessions": sessions,
        "ws_sessions": ws,
        "xhr_streaming_sessions": xhr,
        "messages": messages,
        "size": MESSAGE_SIZE,
        "window": window,
        "received": received,
        "ops": received,
        "duration_s": elapsed,
        "rate": received as f64 / elapsed.max(1e-9),
        "rss_before": before,
        "rss_connected": connected,
        "rss_peak": peak,
        "peak_growth": growth,
        "bytes_per_stuck_session": per_session,
        "bound": BOUND,
        "limit": BOUND + SLACK,
        "ok": ok,
        "stuck_closed": closed,
        "stuck_endings": ends,
        "rss_after_stream": after_stream,
        "rss_after_leaving": after_leaving,
        "errors": u64::from(error.is_some()),
        "first_error": error,
    }))
}
