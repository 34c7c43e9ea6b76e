//! `sockjs-bench fleet publish`: the one session that publishes. It opens a
//! websocket session on `/broadcast`, sends `--messages` messages of `--size` bytes,
//! one every `--interval-ms` on a fixed schedule (a late tick is sent at once and
//! counted, the schedule is kept), each carrying its sequence number and send time
//! ([`super::message`]), then waits until its own last message came back to it
//! through Redis, and reports one JSON line on stdout: `{"event":"published",..}`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior, interval_at};

use super::message;
use crate::net::{Ws, WsMessage};
use crate::sockjs::{bad_frame, closed, session_base, sockjs_items};
use sockjs_bench::{flag_number, flag_value};

/// How long the last message may take to come back to the publisher.
const ECHO_WAIT: Duration = Duration::from_secs(60);

/// The settings of the publisher.
pub(crate) struct PublishArgs {
    addr: SocketAddr,
    messages: u64,
    interval: Duration,
    size: usize,
}

/// Parses `fleet publish`'s flags.
pub(crate) fn parse(args: &[String]) -> Result<PublishArgs, String> {
    let mut addr: Option<SocketAddr> = None;
    let mut parsed = PublishArgs {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        messages: 120,
        interval: Duration::from_millis(500),
        size: 100,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = flag_value(flag, &mut it)?;
        match flag.as_str() {
            "--addr" => addr = Some(flag_number(flag, value)?),
            "--messages" => parsed.messages = flag_number(flag, value)?,
            "--interval-ms" => {
                parsed.interval = Duration::from_millis(flag_number(flag, value)?);
            }
            "--size" => parsed.size = flag_number(flag, value)?,
            other => return Err(format!("fleet publish: unknown argument {other}")),
        }
    }
    parsed.addr = addr.ok_or("fleet publish: --addr is required")?;
    if !parsed.addr.ip().is_loopback() {
        return Err("fleet publish: --addr must be a loopback address".into());
    }
    if parsed.messages == 0 || parsed.interval.is_zero() || !(32..=65_536).contains(&parsed.size) {
        return Err("fleet publish: --messages and --interval-ms above 0, --size 32..65536".into());
    }
    Ok(parsed)
}

/// Publishes; Ok(true) when every message was sent and the last came back.
pub(crate) fn main(args: &PublishArgs) -> Result<bool, String> {
    let (runtime, _) = sockjs_bench::client_setup(None)?;
    runtime
        .block_on(publish(args))
        .map_err(|e| format!("fleet publish: {e}"))
}

async fn publish(args: &PublishArgs) -> io::Result<bool> {
    let open_deadline = Instant::now() + Duration::from_secs(30);
    let path = format!("{}/websocket", session_base("/broadcast", 999));
    let mut ws = Ws::connect(args.addr, &path, open_deadline).await?;
    match ws.recv(open_deadline).await? {
        WsMessage::Text(b"o") => {}
        WsMessage::Text(frame) => return Err(bad_frame(frame)),
        WsMessage::Close => return Err(closed()),
    }
    let start = Instant::now();
    let end = start + args.interval * u32::try_from(args.messages).unwrap_or(u32::MAX) + ECHO_WAIT;
    let mut ticks = interval_at(start, args.interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let (mut first_sent, mut last_sent, mut late_max) = (0u64, 0u64, Duration::ZERO);
    let mut back = 0u64;
    let last = args.messages - 1;
    let mut last_back = false;
    for seq in 0..args.messages {
        let due = ticks.tick().await;
        late_max = late_max.max(due.elapsed());
        let sent = message::wall_micros();
        let text = message::text(seq, sent, args.size);
        ws.queue_text(&serde_json::to_vec(&[text]).unwrap_or_default());
        // Reads what came back meanwhile, so the server's pings are answered.
        ws.flush_reading(end).await?;
        while let Some(incoming) = ws.try_recv()? {
            let WsMessage::Text(frame) = incoming else {
                return Err(closed());
            };
            (back, last_back) = count_back(frame, back, last, last_back);
        }
        if seq == 0 {
            first_sent = sent;
        }
        last_sent = sent;
    }
    while !last_back {
        match ws.recv(end).await {
            Ok(WsMessage::Text(frame)) => {
                (back, last_back) = count_back(frame, back, last, last_back)
            }
            Ok(WsMessage::Close) | Err(_) => break,
        }
    }
    println!(
        "{}",
        json!({
            "event": "published",
            "pid": std::process::id(),
            "count": args.messages,
            "size": args.size,
            "interval_ms": args.interval.as_millis() as u64,
            "first_sent_micros": first_sent,
            "last_sent_micros": last_sent,
            "late_max_ms": late_max.as_secs_f64() * 1000.0,
            "came_back": back,
            "last_came_back": last_back,
        })
    );
    Ok(last_back)
}

/// Counts the publisher's own messages in a frame that came back; notes whether
/// message `last` was among them.
fn count_back(frame: &[u8], back: u64, last: u64, last_back: bool) -> (u64, bool) {
    let mut back = back;
    let mut last_back = last_back;
    for item in sockjs_items(frame).into_iter().flatten() {
        if let Some((seq, _)) = message::parse(item) {
            back += 1;
            last_back |= seq == last;
        }
    }
    (back, last_back)
}
