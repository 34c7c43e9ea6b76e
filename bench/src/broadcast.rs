//! The broadcast scenarios: one session sends numbered, timestamped messages to
//! `/broadcast` and every session (the sender too) counts what reaches it.
//!
//! - `broadcast`: 1000 sessions on one bench-server, which keeps its members in a set
//!   of its own;
//! - `broadcast-200` and `broadcast-deflate`: the same with chat lines of about 200
//!   bytes ([`crate::chat`]), permessage-deflate off and on (bench-server
//!   `--permessage-deflate`), counting the payload bytes received too;
//! - `broadcast-redis`: 2 × 250 sessions over two bench-servers started with
//!   `--redis` on the same redis-server, so every message goes from the sender's
//!   instance to its own members at once and, through Redis, to the other
//!   instance's. The sender's window counts the messages back at a session on the
//!   *other* instance, so what is in flight is bounded across Redis too.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tokio::time::{Instant, timeout};

use crate::net::{Ws, WsMessage};
use crate::scenario::{
    ClientReport, GRACE, Phases, SETUP, Settings, drive, drive_metered, micros, percentile,
    received, result_json,
};
use crate::sockjs::{bad_frame, closed, session_path, sockjs_escaped_items, sockjs_items};
use sockjs_bench::cpu_seconds;

/// The item the sender of `broadcast-redis` probes with until the other instance
/// receives it: every session skips it.
const PROBE: &[u8] = b"w";
/// How often the sender probes, and for how long at most.
const PROBE_EVERY: Duration = Duration::from_millis(100);
const PROBE_WAIT: Duration = Duration::from_secs(15);

/// What a broadcast says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// `SEQ:MICROS:xxx..`, `--size` bytes (32 by default).
    Padded,
    /// A chat line ([`crate::chat::line`]) of about `--size` bytes (200 by default),
    /// with permessage-deflate offered (`true`) or not.
    Chat { deflate: bool },
}

/// The size of a chat line unless `--size` says otherwise.
const CHAT_LINE: usize = 200;

impl Body {
    /// The message of broadcast `seq`, sent now, as the client sends it (`["..."]`).
    fn message(self, seq: usize, size: Option<usize>) -> Vec<u8> {
        match self {
            Body::Padded => {
                let size = size.unwrap_or(crate::scenario::SIZE);
                let mut m = format!("[\"{seq}:{}:", micros()).into_bytes();
                while m.len() < size + 2 {
                    m.push(b'x');
                }
                m.extend_from_slice(b"\"]");
                m
            }
            Body::Chat { .. } => {
                let line = crate::chat::line(seq as u64, micros(), size.unwrap_or(CHAT_LINE));
                serde_json::to_vec(&[line]).unwrap_or_default()
            }
        }
    }

    /// The send time in a received item: an error naming `frame` when there is none.
    fn sent_at(self, item: &[u8], frame: &[u8]) -> io::Result<u64> {
        let sent = match self {
            Body::Padded => item
                .split(|&b| b == b':')
                .nth(1)
                .and_then(|t| std::str::from_utf8(t).ok())
                .and_then(|t| t.parse::<u64>().ok()),
            Body::Chat { .. } => crate::chat::sent_at(item),
        };
        sent.ok_or_else(|| bad_frame(frame))
    }
}

/// What the sessions of one run share.
struct Run {
    settings: Arc<Settings>,
    body: Body,
    /// Session `i` connects to `addrs[i % addrs.len()]`: the sender (session 0) to the
    /// first, the watched session (session 1) to the second, if there is one.
    addrs: Vec<SocketAddr>,
    messages: usize,
    window: usize,
    /// How many messages the sender sent in the end (it may stop early at the
    /// duration); `usize::MAX` until it knows.
    total: AtomicUsize,
    connecting: Semaphore,
    /// Deliveries so far at the watched session (two instances only).
    watched: AtomicU64,
    /// Woken when the watched session received a probe or more deliveries.
    progress: Notify,
    /// Whether the watched session has received a probe: the second instance
    /// receives what the first publishes.
    relayed: AtomicBool,
    /// The latencies of the deliveries to sessions on another instance than the
    /// sender's.
    remote: Mutex<Vec<u32>>,
}

impl Run {
    fn new(settings: Arc<Settings>, addrs: Vec<SocketAddr>, body: Body) -> Arc<Run> {
        Arc::new(Run {
            body,
            messages: settings.messages.unwrap_or(1000).max(1),
            window: settings.window.unwrap_or(4).max(1),
            settings,
            addrs,
            total: AtomicUsize::new(usize::MAX),
            connecting: Semaphore::new(64),
            watched: AtomicU64::new(0),
            progress: Notify::new(),
            relayed: AtomicBool::new(false),
            remote: Mutex::new(Vec::new()),
        })
    }

    /// Whether the sessions span two instances.
    fn cross(&self) -> bool {
        self.addrs.len() > 1
    }
}

/// Broadcast on one server: `sessions` SockJS websocket sessions on `/broadcast`;
/// session 0 sends `messages` messages of `body` (at most `window` not yet back at
/// itself), each reaching every session. Counts deliveries and the payload bytes
/// received; latency from the send time embedded in each message.
pub(crate) async fn broadcast(s: Arc<Settings>, name: &str, body: Body) -> Result<Value, String> {
    let sessions = s.sessions.unwrap_or(1000).max(1);
    let run = Run::new(s.clone(), vec![s.addr], body);
    let sessions_run = run.clone();
    let totals = drive(&s, sessions, move |i, phases| {
        session(sessions_run.clone(), i, phases)
    })
    .await?;
    let mut value = result_json(name, "deliveries", &s, run.window, totals);
    value["sessions"] = json!(sessions);
    if let Body::Chat { .. } = body {
        value["size"] = json!(s.size.unwrap_or(CHAT_LINE));
    }
    Ok(value)
}

/// Broadcast across two servers relayed by Redis: the sessions alternate between
/// `--addr` and `--peer-addr` (session 0, the sender, on the first); the window
/// counts messages back at both the sender and session 1 (on the second). The CPU
/// time is both servers' (not Redis's, which is recorded apart when `--redis-pid` is
/// given); the remote deliveries' latencies are reported apart too.
pub(crate) async fn broadcast_redis(s: Arc<Settings>) -> Result<Value, String> {
    let (peer, peer_pid) = s.peer.clone().ok_or(
        "broadcast-redis needs a second bench-server on the same Redis: \
         --peer-addr and --peer-pid",
    )?;
    let sessions = s.sessions.unwrap_or(500).max(2);
    let run = Run::new(s.clone(), vec![s.addr, peer], Body::Padded);
    let redis_cpu = |pid: &str| cpu_seconds(pid).map_err(|e| format!("redis pid {pid}: {e}"));
    let redis0 = s.redis_pid.as_deref().map(redis_cpu).transpose()?;
    let pids = [s.server_pid.clone(), peer_pid];
    let sessions_run = run.clone();
    let totals = drive_metered(&pids, s.duration, sessions, move |i, phases| {
        session(sessions_run.clone(), i, phases)
    })
    .await?;
    let redis_cpu = match (s.redis_pid.as_deref(), redis0) {
        (Some(pid), Some(before)) => Some(redis_cpu(pid)? - before),
        _ => None,
    };
    let each = totals.measured.server_cpus.clone();
    let mut remote = std::mem::take(&mut *run.remote.lock());
    remote.sort_unstable();
    let mut value = result_json("broadcast-redis", "deliveries", &s, run.window, totals);
    value["sessions"] = json!(sessions);
    value["instances"] = json!(run.addrs.len());
    value["server_cpu_s_each"] = json!(each);
    value["remote_deliveries"] = json!(remote.len());
    value["remote_p50_us"] = json!(percentile(&remote, 0.50));
    value["remote_p99_us"] = json!(percentile(&remote, 0.99));
    // From before the sessions connect to after they closed: Redis does nearly
    // nothing outside the measured part (two subscriptions and their ends).
    value["redis_cpu_s"] = json!(redis_cpu);
    Ok(value)
}

/// One session of a run: opens, warms up (two instances), waits for the start,
/// receives (and for session 0 sends), reports, closes.
async fn session(run: Arc<Run>, i: usize, mut phases: Phases) {
    let home = i % run.addrs.len();
    let opened = match open(&run, i, run.addrs[home]).await {
        Ok(ws) if run.cross() && i == 0 => probe(&run, ws).await,
        Ok(ws) if run.cross() && i == 1 => await_probe(&run, ws).await,
        other => other,
    };
    phases.started().await;
    let mut report = ClientReport::default();
    let mut ws = match opened {
        Ok(ws) => ws,
        Err(e) => {
            report.error = Some(format!("connect: {e}"));
            if i == 0 {
                run.total.store(0, Ordering::Relaxed);
            }
            phases.finish(report).await;
            return;
        }
    };
    let mut sent = 0usize;
    let before = received(&ws);
    if let Err(e) = deliveries(&run, i, &mut ws, &mut report, &mut sent).await {
        report.error = Some(e.to_string());
        if i == 0 {
            run.total.store(sent, Ordering::Relaxed);
        }
    }
    report.received_since(&ws, before);
    if home != 0 {
        run.remote.lock().extend_from_slice(&report.latencies);
    }
    phases.finish(report).await;
    let _ = ws.close(Instant::now() + Duration::from_secs(5)).await;
}

/// Opens session `i` on `/broadcast` at `addr` (64 opening at a time) and reads its
/// open frame.
async fn open(run: &Run, i: usize, addr: SocketAddr) -> io::Result<Ws> {
    let _permit = run.connecting.acquire().await;
    let path = session_path("/broadcast", i, "websocket");
    let deadline = Instant::now() + SETUP;
    let mut ws = match run.body {
        Body::Chat { deflate: true } => Ws::connect_deflate(addr, &path, deadline).await?,
        _ => Ws::connect(addr, &path, deadline).await?,
    };
    match ws.recv(deadline).await? {
        WsMessage::Text(b"o") => Ok(ws),
        WsMessage::Text(other) => Err(bad_frame(other)),
        WsMessage::Close => Err(closed()),
    }
}

/// The sender, before the start: broadcasts a probe every [`PROBE_EVERY`] until the
/// watched session on the other instance has received one (the instance's Redis
/// subscription takes effect a round trip after its first member opens), for at
/// most [`PROBE_WAIT`]. Its own copies are skipped later.
async fn probe(run: &Run, mut ws: Ws) -> io::Result<Ws> {
    let deadline = Instant::now() + PROBE_WAIT;
    let mut probe = b"[\"".to_vec();
    probe.extend_from_slice(PROBE);
    probe.extend_from_slice(b"\"]");
    while !run.relayed.load(Ordering::Relaxed) {
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no broadcast reached the second instance through Redis within 15 s",
            ));
        }
        ws.send_text(&probe, deadline).await?;
        let _ = timeout(PROBE_EVERY, run.progress.notified()).await;
    }
    Ok(ws)
}

/// The watched session, before the start: reads until a probe arrives (for at most
/// [`PROBE_WAIT`]) and tells the sender.
async fn await_probe(run: &Run, mut ws: Ws) -> io::Result<Ws> {
    let deadline = Instant::now() + PROBE_WAIT;
    loop {
        let seen = match ws.recv(deadline).await? {
            WsMessage::Text(frame) => {
                sockjs_items(frame).is_some_and(|mut items| items.any(|item| item == PROBE))
            }
            WsMessage::Close => return Err(closed()),
        };
        if seen {
            run.relayed.store(true, Ordering::Relaxed);
            run.progress.notify_one();
            return Ok(ws);
        }
    }
}

/// The measured part of session `i`: session 0 sends its messages (`sent` counts
/// them); every session counts and times what reaches it until it has every message
/// the sender sent, or until the duration and [`GRACE`] are over.
async fn deliveries(
    run: &Run,
    i: usize,
    ws: &mut Ws,
    report: &mut ClientReport,
    sent: &mut usize,
) -> io::Result<()> {
    let deadline = Instant::now() + run.settings.duration;
    let hard = deadline + GRACE;
    // Across instances the sender also waits for the watched session on the other
    // one, so the messages queued behind Redis are bounded by the window too.
    let paced_by_watched = run.cross() && i == 0;
    let watched = run.cross() && i == 1;
    loop {
        if i == 0 {
            let now = Instant::now();
            let mut back = report.ops;
            if paced_by_watched {
                back = back.min(run.watched.load(Ordering::Relaxed));
            }
            let back = usize::try_from(back).unwrap_or(usize::MAX);
            let mut queued = false;
            while *sent < run.messages && *sent < back.saturating_add(run.window) && now < deadline
            {
                ws.queue_text(&run.body.message(*sent, run.settings.size));
                *sent += 1;
                queued = true;
            }
            if queued {
                ws.flush(hard).await?;
            }
            if report.ops as usize >= *sent && (*sent == run.messages || now >= deadline) {
                run.total.store(*sent, Ordering::Relaxed);
            }
        }
        if report.ops as usize >= run.total.load(Ordering::Relaxed) {
            return Ok(());
        }
        let now = Instant::now();
        if now >= hard {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "broadcast did not arrive",
            ));
        }
        // Short reads, so a receiver notices when the sender is done.
        let poll = (now + Duration::from_millis(50)).min(hard);
        let received = if paced_by_watched {
            // The watched session's progress may open the window.
            tokio::select! {
                r = ws.recv(poll) => r,
                () = run.progress.notified() => continue,
            }
        } else {
            ws.recv(poll).await
        };
        let before = report.ops;
        match received {
            Ok(WsMessage::Text(frame)) => {
                if frame == b"h" {
                    continue;
                }
                let now = micros();
                let mut take = |item: &[u8]| -> io::Result<()> {
                    let sent_at = run.body.sent_at(item, frame)?;
                    report.ops += 1;
                    report
                        .latencies
                        .push(u32::try_from(now.saturating_sub(sent_at)).unwrap_or(u32::MAX));
                    Ok(())
                };
                // Chat lines hold escaped quotes; the padded messages none.
                match run.body {
                    Body::Padded => sockjs_items(frame)
                        .ok_or_else(|| bad_frame(frame))?
                        .filter(|&item| item != PROBE)
                        .try_for_each(&mut take)?,
                    Body::Chat { .. } => sockjs_escaped_items(frame)
                        .ok_or_else(|| bad_frame(frame))?
                        .try_for_each(&mut take)?,
                }
            }
            Ok(WsMessage::Close) => return Err(closed()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {}
            Err(e) => return Err(e),
        }
        if watched && report.ops > before {
            run.watched.store(report.ops, Ordering::Relaxed);
            run.progress.notify_one();
        }
    }
}
