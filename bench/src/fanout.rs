//! `fanout-19k`: what one broadcast costs the server per member at the scale one
//! process holds, paced as a real room is rather than back to back.
//!
//! 19,000 SockJS websocket sessions (`--sessions`) on `/broadcast` of one
//! bench-server (one worker). Once every session is open, session 0 sends one
//! 100-byte message (`--size`) every 500 ms, each carrying its sequence number and
//! send time, for the run's duration (10 s at least; `--messages` sets the count
//! instead). Every session, the sender too, reads every message and checks that
//! their numbers come in order, none missing and none twice.
//!
//! `fanout-19k-bare` is the same against `/bare-broadcast`: plain websocket
//! connections and messages, no SockJS, broadcast as cheaply as actix-http allows
//! (`sockjs_bench::bare_fanout`): the floor the crate's fan-out is compared with.
//!
//! The server's user and system CPU time are read apart from `/proc/PID/stat` from
//! the first send to the last delivery: user time is what the crate and actix cost
//! per delivery, system time the kernel's share (one `write` per delivery at this
//! pace: many sessions, one message at a time, nothing to coalesce), which is the
//! floor. Latency is from the send time to the moment a session read the message.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Barrier, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use crate::net::{Ws, WsMessage};
use crate::scenario::{GRACE, SETUP, Settings, micros, percentile};
use crate::sockjs::{bad_frame, closed, session_path, sockjs_items};
use sockjs_bench::cpu_split_seconds;

/// Sessions unless `--sessions` says otherwise: about what one process holds under
/// a 20,000 open-file limit, with the load generator's own sockets in another.
const SESSIONS: usize = 19_000;
/// Message size unless `--size` says otherwise.
const SIZE: usize = 100;
/// One message every this long.
const INTERVAL: Duration = Duration::from_millis(500);
/// The shortest measured part: enough messages that the first ones' warm-up does not
/// dominate.
const MIN_DURATION: Duration = Duration::from_secs(10);
/// Sessions opening at once.
const OPENING: usize = 128;

/// What one session saw.
#[derive(Default)]
struct Seen {
    received: u64,
    lost: u64,
    duplicated: u64,
    latencies: Vec<u32>,
    error: Option<String>,
}

/// What the sessions of a run share.
struct Run {
    /// Against `/bare-broadcast`: plain websocket messages, no SockJS frames.
    bare: bool,
    messages: usize,
    size: usize,
    opening: Semaphore,
    start: Barrier,
}

/// Runs `fanout-19k` (or, `bare`, `fanout-19k-bare`) once.
pub(crate) async fn fanout(s: Arc<Settings>, bare: bool) -> Result<Value, String> {
    let sessions = s.sessions.unwrap_or(SESSIONS).max(1);
    let duration = s.duration.max(MIN_DURATION);
    let messages = s
        .messages
        .unwrap_or_else(|| (duration.as_millis() / INTERVAL.as_millis()) as usize)
        .max(1);
    let run = Arc::new(Run {
        bare,
        messages,
        size: s.size.unwrap_or(SIZE).max(24),
        opening: Semaphore::new(OPENING),
        start: Barrier::new(sessions + 1),
    });
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    let opened_at = Instant::now();
    for i in 0..sessions {
        let (run, report, addr) = (run.clone(), report_tx.clone(), s.addr);
        tasks.spawn(async move {
            let seen = session(&run, i, addr).await;
            let _ = report.send(seen);
        });
    }
    drop(report_tx);
    timeout(SETUP, run.start.wait())
        .await
        .map_err(|_| format!("{sessions} sessions did not open within 60 s"))?;
    let open_s = opened_at.elapsed().as_secs_f64();
    let cpu0 = server_cpu(&s.server_pid)?;
    let t0 = Instant::now();
    let hard = t0 + INTERVAL * u32::try_from(messages).unwrap_or(u32::MAX) + GRACE;
    let mut total = Seen::default();
    let mut errors = 0u64;
    let mut reported = 0usize;
    while reported < sessions {
        match tokio::time::timeout_at(hard + GRACE, report_rx.recv()).await {
            Ok(Some(seen)) => {
                reported += 1;
                total.received += seen.received;
                total.lost += seen.lost;
                total.duplicated += seen.duplicated;
                total.latencies.extend(seen.latencies);
                if let Some(e) = seen.error {
                    errors += 1;
                    total.error.get_or_insert(e);
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = server_cpu(&s.server_pid)?;
    if reported < sessions {
        errors += (sessions - reported) as u64;
        total
            .error
            .get_or_insert_with(|| format!("{} sessions never reported", sessions - reported));
    }
    tasks.abort_all();
    total.latencies.sort_unstable();
    let (user, sys) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let per = |cpu: f64| (total.received > 0).then(|| cpu * 1e6 / total.received as f64);
    Ok(json!({
        "scenario": if bare { "fanout-19k-bare" } else { "fanout-19k" },
        "unit": "deliveries",
        "sessions": sessions,
        "messages": messages,
        "interval_ms": INTERVAL.as_millis() as u64,
        "size": run.size,
        "open_s": open_s,
        "duration_s": elapsed,
        "ops": total.received,
        "expected": (sessions * messages) as u64,
        "lost": total.lost,
        "duplicated": total.duplicated,
        "rate": total.received as f64 / elapsed.max(1e-9),
        "server_cpu_s": user + sys,
        "server_user_s": user,
        "server_sys_s": sys,
        "per_server_cpu_s": (user + sys > 0.0).then(|| total.received as f64 / (user + sys)),
        "user_us_per_delivery": per(user),
        "sys_us_per_delivery": per(sys),
        "p50_us": percentile(&total.latencies, 0.50),
        "p99_us": percentile(&total.latencies, 0.99),
        "max_us": total.latencies.last(),
        "errors": errors,
        "first_error": total.error,
    }))
}

fn server_cpu(pid: &str) -> Result<(f64, f64), String> {
    cpu_split_seconds(pid).map_err(|e| format!("server pid {pid}: {e}"))
}

/// Session `i`: opens, waits for the others, then reads every message (session 0
/// also sends them, on the beat); reports what it saw.
async fn session(run: &Run, i: usize, addr: std::net::SocketAddr) -> Seen {
    let opened = open(run, addr).await;
    run.start.wait().await;
    let mut seen = Seen::default();
    match opened {
        Ok(mut ws) => {
            if let Err(e) = deliveries(run, i, &mut ws, &mut seen).await {
                seen.error = Some(e.to_string());
            }
            // Lost: every message this session did not get by the end.
            seen.lost += (run.messages as u64).saturating_sub(seen.received);
            let _ = ws.close(Instant::now() + Duration::from_secs(5)).await;
        }
        Err(e) => {
            seen.error = Some(format!("connect: {e}"));
            seen.lost = run.messages as u64;
        }
    }
    seen
}

async fn open(run: &Run, addr: std::net::SocketAddr) -> io::Result<Ws> {
    let _permit = run.opening.acquire().await;
    let deadline = Instant::now() + SETUP;
    if run.bare {
        return Ws::connect(addr, "/bare-broadcast", deadline).await;
    }
    let mut ws = Ws::connect(addr, &session_path("/broadcast", 0, "websocket"), deadline).await?;
    match ws.recv(deadline).await? {
        WsMessage::Text(b"o") => Ok(ws),
        WsMessage::Text(other) => Err(bad_frame(other)),
        WsMessage::Close => Err(closed()),
    }
}

/// The message numbered `seq`, as the client sends it: `["SEQ:MICROS:xx.."]`, or
/// `SEQ:MICROS:xx..` to `/bare-broadcast`.
fn message(seq: usize, size: usize, bare: bool) -> Vec<u8> {
    if bare {
        let mut m = format!("{seq}:{}:", micros()).into_bytes();
        m.resize(size, b'x');
        return m;
    }
    let mut m = format!("[\"{seq}:{}:", micros()).into_bytes();
    m.resize(size + 2, b'x');
    m.extend_from_slice(b"\"]");
    m
}

/// Reads until every message arrived (or the deadline); session 0 sends one every
/// [`INTERVAL`] meanwhile.
async fn deliveries(run: &Run, i: usize, ws: &mut Ws, seen: &mut Seen) -> io::Result<()> {
    let t0 = Instant::now();
    let hard = t0 + INTERVAL * u32::try_from(run.messages).unwrap_or(u32::MAX) + GRACE;
    let mut sent = 0usize;
    let mut next_seq = 0u64;
    while seen.received < run.messages as u64 {
        let mut until = hard;
        if i == 0 && sent < run.messages {
            let due = t0 + INTERVAL * u32::try_from(sent).unwrap_or(u32::MAX);
            if Instant::now() >= due {
                ws.send_text(&message(sent, run.size, run.bare), hard)
                    .await?;
                sent += 1;
                continue;
            }
            until = due;
        }
        let frame = match ws.recv(until).await {
            Ok(WsMessage::Text(frame)) => frame,
            Ok(WsMessage::Close) => return Err(closed()),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && until < hard => continue,
            Err(e) => return Err(e),
        };
        if frame == b"h" && !run.bare {
            continue;
        }
        let now = micros();
        let items: Box<dyn Iterator<Item = &[u8]>> = if run.bare {
            Box::new(std::iter::once(frame))
        } else {
            Box::new(sockjs_items(frame).ok_or_else(|| bad_frame(frame))?)
        };
        for item in items {
            let mut fields = item.split(|&b| b == b':');
            let number = |f: Option<&[u8]>| {
                f.and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.parse::<u64>().ok())
            };
            let (Some(seq), Some(sent_at)) = (number(fields.next()), number(fields.next())) else {
                return Err(bad_frame(frame));
            };
            if seq < next_seq {
                // Numbers come in order: one not above the last seen came twice.
                seen.duplicated += 1;
                continue;
            }
            // One above the next expected means some never came: they count as lost
            // at the end (the session then waits for them until the deadline).
            next_seq = seq + 1;
            seen.received += 1;
            seen.latencies
                .push(u32::try_from(now.saturating_sub(sent_at)).unwrap_or(u32::MAX));
        }
    }
    Ok(())
}
