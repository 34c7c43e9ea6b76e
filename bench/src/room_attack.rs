//! `sockjs-bench room-attack`: a chat room member that never reads, next to one that
//! floods the room, against the chat example (`cargo run --release --example chat --
//! --port N`), whose rooms reach their members through their actors' `Addr`s.
//!
//! ```text
//! sockjs-bench room-attack --addr 127.0.0.1:PORT --pid PID [--path /chat/lobby]
//!                          [--lines 100000] [--size 1024] [--window 256]
//! ```
//!
//! 1. The victim joins `PATH/000/<id>/websocket` on a socket with a 4 KiB `SO_RCVBUF`,
//!    reads its open frame, sends its name (`{"name":"victim-PID"}`) and reads nothing
//!    more.
//! 2. The flooder joins the same room, waits until it sees the victim in it, then sends
//!    `--lines` lines (`{"text":"SEQ:xxx.."}`, `--size` bytes of text) as fast as it can
//!    with at most `--window` not yet back (0: no limit), while reading everything the
//!    server sends it, and counts its own `"type":"message"` lines as they come back,
//!    in order. The flood ends when every line is back, when nothing came back for
//!    10 s after the last was sent, or after 120 s.
//!
//!    The window keeps the flooder itself from being a slow consumer: with no limit it
//!    sends several MB before the chat has echoed much, its own session's backlog
//!    passes `max_queued_bytes` within some 50 ms and the server closes it (1013),
//!    which ends the flood before the victim was sent much. 256 lines of 1 KiB in
//!    flight stay well under the 1 MiB bound, and still flood at about 100,000 lines a
//!    second.
//! 3. The flooder leaves; 10 s later, with the victim still connected, the server's
//!    RSS is read again, then the victim's socket is drained to see how its session
//!    ended (a websocket close frame, 1013 for a slow consumer, or the connection
//!    closing); every client has then left, and RSS is read once more 6 s later.
//!
//! Prints one JSON object on stdout and a readable line on stderr; exits non-zero
//! unless `ok`: every line came back in order, the victim's session was ended by the
//! server, and the server's peak RSS grew by less than 64 MiB. Everything runs on
//! 127.0.0.1, every read and write has a deadline and every loop a bound.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use crate::net::{Ws, WsMessage};
use crate::rss::PeakRss;
use crate::sockjs::{bad_frame, close_code, closed, session_path, shown};
use crate::stalled::RECV_BUFFER;
use sockjs_bench::{TcpEntry, rss_bytes, tcp_entry};

const USAGE: &str = "usage:
  sockjs-bench room-attack --addr 127.0.0.1:PORT --pid PID [--path /chat/lobby]
                           [--lines 100000] [--size 1024] [--window 256]";

/// Connecting, and each answer before the flood.
const SETUP: Duration = Duration::from_secs(10);
/// The flood's hard deadline.
const FLOOD_LIMIT: Duration = Duration::from_secs(120);
/// Once every line is sent, the flood ends when none came back for this long.
const QUIET: Duration = Duration::from_secs(10);
/// How long after the flood, with the victim still connected, RSS is read.
const AFTER_FLOOD: Duration = Duration::from_secs(10);
/// How long after every client left RSS is read: past `disconnect_delay` (5 s).
const AFTER_LEAVING: Duration = Duration::from_secs(6);
/// How often the server's RSS is sampled during the flood.
const SAMPLE: Duration = Duration::from_millis(50);
/// Draining the victim: at most this long, and it is taken to be open after a quiet
/// spell of [`DRAIN_QUIET`].
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// See [`DRAIN_LIMIT`].
const DRAIN_QUIET: Duration = Duration::from_secs(2);
/// The most frames read from the victim, or while waiting to see it in the room.
const MAX_FRAMES: u64 = 10_000_000;
/// Lines queued per write.
const BATCH: u64 = 64;
/// The most the server's RSS may grow during the flood for the run to be `ok`, as in
/// `sockjs-bench attacks`.
const MAX_GROWTH: u64 = 64 << 20;
/// The chat keeps this many characters of a line.
const MAX_SIZE: usize = 2000;
/// Lines the flooder has in flight at most, unless told otherwise.
const WINDOW: u64 = 256;

/// What the command line asks for.
struct Args {
    addr: SocketAddr,
    pid: String,
    path: String,
    lines: u64,
    size: usize,
    window: Option<u64>,
}

/// Parses the arguments after `room-attack`.
fn parse(args: &[String]) -> Result<Args, String> {
    let mut addr: Option<SocketAddr> = None;
    let mut pid: Option<u32> = None;
    let mut path = "/chat/lobby".to_owned();
    let mut lines = 100_000u64;
    let mut size = 1024usize;
    let mut window = WINDOW;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || sockjs_bench::flag_value(flag, &mut it);
        match flag.as_str() {
            "--addr" => addr = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--pid" | "--server-pid" => pid = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--path" => path = value()?.trim_end_matches('/').to_owned(),
            "--lines" => lines = sockjs_bench::flag_number(flag, value()?)?,
            "--size" => size = sockjs_bench::flag_number(flag, value()?)?,
            "--window" => window = sockjs_bench::flag_number(flag, value()?)?,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let addr = addr.ok_or_else(|| format!("--addr is required\n{USAGE}"))?;
    if !addr.ip().is_loopback() {
        return Err("--addr must be a loopback address: the attack is local only".into());
    }
    if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("--path must start with / and hold no spaces".into());
    }
    if !(1..=10_000_000).contains(&lines) {
        return Err("--lines must be between 1 and 10000000".into());
    }
    if !(16..=MAX_SIZE).contains(&size) {
        return Err(format!(
            "--size must be between 16 and {MAX_SIZE} (the chat keeps {MAX_SIZE} characters)"
        ));
    }
    if window > 10_000_000 {
        return Err("--window must be between 0 (no limit) and 10000000".into());
    }
    Ok(Args {
        addr,
        pid: pid
            .ok_or_else(|| format!("--pid is required\n{USAGE}"))?
            .to_string(),
        path,
        lines,
        size,
        window: (window > 0).then_some(window),
    })
}

/// One SockJS client message (`["..."]`) carrying the chat JSON `{"KEY":"VALUE"}`;
/// `value` must need no JSON escaping.
fn chat_message(key: &str, value: &str) -> Vec<u8> {
    format!(r#"["{{\"{key}\":\"{value}\"}}"]"#).into_bytes()
}

/// The chat lines (parsed JSON) of one server frame: none for `o` and `h`; an error
/// for a close frame `c[...]` or anything else.
fn chat_lines(frame: &[u8]) -> io::Result<Vec<Value>> {
    match frame.first() {
        Some(b'o' | b'h') => Ok(Vec::new()),
        Some(b'a') => {
            let items: Vec<String> =
                serde_json::from_slice(&frame[1..]).map_err(|_| bad_frame(frame))?;
            Ok(items
                .iter()
                .filter_map(|item| serde_json::from_str(item).ok())
                .collect())
        }
        Some(b'c') => Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("session closed: {}", shown(frame)),
        )),
        _ => Err(bad_frame(frame)),
    }
}

/// Joins the room at `path` as `name`: opens a websocket session (with `SO_RCVBUF`
/// `recv_buffer`), reads its open frame and sends the name.
async fn join(
    addr: SocketAddr,
    path: &str,
    name: &str,
    recv_buffer: Option<u32>,
    deadline: Instant,
) -> io::Result<Ws> {
    let url = session_path(path, 0, "websocket");
    let mut ws = Ws::connect_with(addr, &url, deadline, recv_buffer).await?;
    match ws.recv(deadline).await? {
        WsMessage::Text(b"o") => {}
        WsMessage::Text(other) => return Err(bad_frame(other)),
        WsMessage::Close => return Err(closed()),
    }
    ws.send_text(&chat_message("name", name), deadline).await?;
    Ok(ws)
}

/// Reads until the room's roster or a join line names `member`.
async fn await_member(ws: &mut Ws, member: &str, deadline: Instant) -> io::Result<()> {
    for _ in 0..MAX_FRAMES {
        let frame = match ws.recv(deadline).await? {
            WsMessage::Text(frame) => frame,
            WsMessage::Close => return Err(closed()),
        };
        for line in chat_lines(frame)? {
            let named = match line["type"].as_str() {
                Some("roster") => line["names"]
                    .as_array()
                    .is_some_and(|names| names.iter().any(|n| n == member)),
                Some("join") => line["name"] == member,
                _ => false,
            };
            if named {
                return Ok(());
            }
        }
    }
    Err(io::Error::other("too many frames before the victim joined"))
}

/// The flooder's count of its lines: sent, and back from the room.
struct Flood {
    name: String,
    lines: u64,
    size: usize,
    window: Option<u64>,
    sent: u64,
    /// Lines of ours received.
    received: u64,
    /// Lines received in order before the first that was not.
    in_order: u64,
    first_disorder: Option<String>,
    message: Vec<u8>,
}

impl Flood {
    /// Queues up to [`BATCH`] more lines, as many as the window allows; whether any
    /// was.
    fn queue(&mut self, ws: &mut Ws) -> bool {
        let mut queued = false;
        for _ in 0..BATCH {
            let open = self.window.is_none_or(|w| self.sent < self.received + w);
            if self.sent >= self.lines || !open {
                break;
            }
            self.encode(self.sent);
            ws.queue_text(&self.message);
            self.sent += 1;
            queued = true;
        }
        queued
    }

    /// `["{\"text\":\"SEQ:xxx..\"}"]` with `size` bytes of text.
    fn encode(&mut self, seq: u64) {
        let mut text = format!("{seq}:");
        text.extend(std::iter::repeat_n(
            'x',
            self.size.saturating_sub(text.len()),
        ));
        self.message = chat_message("text", &text);
    }

    /// Counts the lines of ours in a server frame.
    fn take(&mut self, frame: &[u8]) -> io::Result<()> {
        for line in chat_lines(frame)? {
            if line["type"] != "message" || line["name"] != self.name.as_str() {
                continue;
            }
            self.received += 1;
            let seq = line["text"]
                .as_str()
                .and_then(|t| t.split(':').next())
                .and_then(|n| n.parse::<u64>().ok());
            if self.first_disorder.is_some() {
                continue;
            }
            if seq == Some(self.in_order) {
                self.in_order += 1;
            } else {
                self.first_disorder = Some(format!(
                    "line {seq:?} arrived where {} was due",
                    self.in_order
                ));
            }
        }
        Ok(())
    }

    /// Sends every line while reading, until every line is back, none came back for
    /// [`QUIET`] after the last was sent, or `hard`.
    async fn run(&mut self, ws: &mut Ws, hard: Instant) -> io::Result<()> {
        let mut last_back = Instant::now();
        while self.received < self.lines {
            if Instant::now() >= hard {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "flood deadline passed",
                ));
            }
            let before = self.received;
            if self.queue(ws) {
                ws.flush_reading(hard).await?;
            } else {
                // Nothing more may be sent yet: wait for what comes back.
                let wait = if self.sent >= self.lines {
                    (last_back + QUIET).min(hard)
                } else {
                    hard
                };
                match ws.recv(wait).await? {
                    WsMessage::Text(frame) => self.take(frame)?,
                    WsMessage::Close => return Err(closed()),
                }
            }
            while let Some(message) = ws.try_recv()? {
                match message {
                    WsMessage::Text(frame) => self.take(frame)?,
                    WsMessage::Close => return Err(closed()),
                }
            }
            if self.received > before {
                last_back = Instant::now();
            }
        }
        Ok(())
    }
}

/// What reading the victim's socket after the flood found.
struct Drained {
    /// `close CODE` (1005: a close frame without a code), `ended` (the connection
    /// closed without a close frame), `open` (nothing more came) or `deadline`.
    ending: String,
    /// The code of the websocket close frame.
    close_code: Option<u16>,
    /// The code of a SockJS close frame `c[CODE,...]` read before it.
    sockjs_close: Option<u16>,
    frames: u64,
    bytes: u64,
}

/// Reads what the server left on the victim's connection, until its close frame, the
/// end of the connection, a quiet spell or `deadline`.
async fn drain(mut ws: Ws, deadline: Instant) -> Drained {
    let mut drained = Drained {
        ending: "deadline".into(),
        close_code: None,
        sockjs_close: None,
        frames: 0,
        bytes: 0,
    };
    for _ in 0..MAX_FRAMES {
        let quiet = (Instant::now() + DRAIN_QUIET).min(deadline);
        match ws.recv(quiet).await {
            Ok(WsMessage::Text(frame)) => {
                drained.frames += 1;
                drained.bytes += frame.len() as u64;
                if frame.starts_with(b"c[") {
                    drained.sockjs_close = close_code(frame);
                }
            }
            Ok(WsMessage::Close) => {
                let code = ws.close_code().unwrap_or(1005);
                drained.close_code = Some(code);
                drained.ending = format!("close {code}");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                if Instant::now() < deadline {
                    drained.ending = "open".into();
                }
                break;
            }
            Err(_) => {
                drained.ending = "ended".into();
                break;
            }
        }
    }
    drained
}

/// The server's end of a connection, as JSON.
fn server_side(entry: Option<TcpEntry>) -> Value {
    entry.map_or(
        Value::Null,
        |e| json!({"state": e.state, "tx_queue": e.tx_queue, "rx_queue": e.rx_queue}),
    )
}

/// Runs the attack and returns its JSON result.
async fn attack(a: &Args) -> Result<Value, String> {
    let rss = || rss_bytes(&a.pid).map_err(|e| format!("server pid {}: {e}", a.pid));
    let victim_name = format!("victim-{}", std::process::id());
    let flooder_name = format!("flooder-{}", std::process::id());
    let before = rss()?;

    let setup = Instant::now() + SETUP;
    let victim = join(a.addr, &a.path, &victim_name, Some(RECV_BUFFER), setup)
        .await
        .map_err(|e| format!("victim: {e}"))?;
    let victim_port = victim.local_port();
    let mut flooder = join(a.addr, &a.path, &flooder_name, None, setup)
        .await
        .map_err(|e| format!("flooder: {e}"))?;
    await_member(&mut flooder, &victim_name, setup)
        .await
        .map_err(|e| format!("flooder, waiting for the victim to join: {e}"))?;

    let mut flood = Flood {
        name: flooder_name,
        lines: a.lines,
        size: a.size,
        window: a.window,
        sent: 0,
        received: 0,
        in_order: 0,
        first_disorder: None,
        message: Vec::new(),
    };
    let peak = PeakRss::every(&a.pid, SAMPLE);
    let t0 = Instant::now();
    let flooded = flood.run(&mut flooder, t0 + FLOOD_LIMIT).await;
    let flood_s = t0.elapsed().as_secs_f64();
    let peak = peak.stop();
    let _ = flooder.close(Instant::now() + Duration::from_secs(5)).await;

    sleep(AFTER_FLOOD).await;
    let after_flood = rss()?;
    let victim_server_side = tcp_entry(a.addr.port(), victim_port).ok().flatten();
    let drained = drain(victim, Instant::now() + DRAIN_LIMIT).await;
    sleep(AFTER_LEAVING).await;
    let after_leaving = rss()?;

    let flood_error = flooded.err().map(|e| e.to_string());
    let all_back = flood.in_order == a.lines && flood.received == a.lines;
    let victim_ended = drained.close_code.is_some() || drained.ending == "ended";
    let growth = peak.saturating_sub(before);
    Ok(json!({
        "attack": "room-attack",
        "path": a.path,
        "lines": a.lines,
        "size": a.size,
        "window": a.window,
        "sent": flood.sent,
        "received": flood.received,
        "in_order": flood.in_order,
        "first_disorder": flood.first_disorder,
        "flood_error": flood_error,
        "flood_s": flood_s,
        "rss_before": before,
        "rss_peak_flood": peak,
        "peak_growth": growth,
        "rss_after_flood_10s": after_flood,
        "rss_after_leaving_6s": after_leaving,
        "victim_server_side": server_side(victim_server_side),
        "victim_ending": drained.ending,
        "victim_close_code": drained.close_code,
        "victim_closed_1013": drained.close_code == Some(1013),
        "victim_sockjs_close": drained.sockjs_close,
        "victim_drained_frames": drained.frames,
        "victim_drained_bytes": drained.bytes,
        "max_growth": MAX_GROWTH,
        "ok": all_back && victim_ended && growth < MAX_GROWTH,
    }))
}

/// One readable line for the result.
fn line(v: &Value) -> String {
    let mib = |key: &str| v[key].as_u64().unwrap_or(0) as f64 / (1 << 20) as f64;
    format!(
        "room-attack: RSS {:.1} MiB before, peak {:.1} MiB during the flood, {:.1} MiB 10 s after \
         (victim connected), {:.1} MiB after leaving; flooder got {} of {} lines ({} in order) in \
         {:.1} s; victim: {}; ok: {}",
        mib("rss_before"),
        mib("rss_peak_flood"),
        mib("rss_after_flood_10s"),
        mib("rss_after_leaving_6s"),
        v["received"],
        v["lines"],
        v["in_order"],
        v["flood_s"].as_f64().unwrap_or(0.0),
        v["victim_ending"].as_str().unwrap_or("?"),
        v["ok"],
    )
}

/// Runs the `room-attack` subcommand; `Ok(true)` if the result is `ok`.
pub(crate) fn main(args: &[String]) -> Result<bool, String> {
    let args = parse(args)?;
    let (runtime, _) = sockjs_bench::client_setup(None)?;
    let result = runtime.block_on(attack(&args))?;
    eprintln!("{}", line(&result));
    println!("{result}");
    Ok(result["ok"].as_bool() == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_messages_are_sockjs_arrays_of_json() {
        let message = chat_message("text", "7:xx");
        let items: Vec<String> = serde_json::from_slice(&message).expect("array");
        let line: Value = serde_json::from_str(&items[0]).expect("json");
        assert_eq!(line["text"], "7:xx");
    }

    #[test]
    fn own_lines_are_counted_in_order() {
        let mut flood = Flood {
            name: "f".into(),
            lines: 3,
            size: 16,
            window: None,
            sent: 3,
            received: 0,
            in_order: 0,
            first_disorder: None,
            message: Vec::new(),
        };
        let frame = |seqs: &[u64]| {
            let items: Vec<String> = seqs
                .iter()
                .map(|s| json!({"type": "message", "name": "f", "text": format!("{s}:x")}))
                .chain([json!({"type": "message", "name": "other", "text": "0:x"})])
                .map(|v| v.to_string())
                .collect();
            format!("a{}", serde_json::to_string(&items).expect("frame"))
        };
        flood.take(frame(&[0, 1]).as_bytes()).expect("take");
        assert_eq!((flood.received, flood.in_order), (2, 2));
        flood.take(frame(&[5]).as_bytes()).expect("take");
        assert_eq!((flood.received, flood.in_order), (3, 2));
        assert!(flood.first_disorder.is_some());
        assert!(flood.take(b"c[1013,\"Slow consumer\"]").is_err());
        assert!(flood.take(b"h").is_ok());
    }
}
