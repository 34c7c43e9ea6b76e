//! Attacks through the HTTP transports: a session whose streaming response is never
//! read while its client keeps sending, and answers that are never polled. Either way
//! the session holds at most `max_queued_bytes` and is closed as a slow consumer.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::time::{Instant, sleep};

use super::{Observed, Target};
use crate::net::Http;
use crate::sockjs::{session_base, shown, xhr_open};
use crate::stalled::RECV_BUFFER;

/// Connecting and a single answer.
const SHORT: Duration = Duration::from_secs(10);
/// How often the stalled client opens another unread stream on its session.
const RESTREAM: Duration = Duration::from_secs(3);
/// Messages per `xhr_send` body, 1 KiB each.
const BATCH: usize = 8;

fn tally(counts: &mut BTreeMap<String, u64>, key: String) {
    *counts.entry(key).or_insert(0) += 1;
}

fn listed(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Posts an `xhr_streaming` request on a socket with a small receive buffer and never
/// reads the answer.
async fn unread_stream(addr: SocketAddr, path: &str, deadline: Instant) -> io::Result<Http> {
    let mut http = Http::connect_with(addr, deadline, Some(RECV_BUFFER)).await?;
    http.post(path, b"", deadline).await?;
    Ok(http)
}

/// What an unread streaming request was answered, read at last: its status and the
/// first frame after the prelude.
async fn first_frame(mut http: Http, deadline: Instant) -> String {
    let answer = async {
        let head = http.head(deadline).await?;
        if head.status != 200 {
            return Ok(format!("HTTP {}", head.status));
        }
        let _prelude = http.chunk(deadline).await?;
        Ok::<_, io::Error>(match http.chunk(deadline).await? {
            Some(chunk) => shown(chunk.split(|&b| b == b'\n').next().unwrap_or(chunk)),
            None => "response ended".into(),
        })
    }
    .await;
    answer.unwrap_or_else(|e| format!("no answer ({e})"))
}

/// One `xhr_send` of `body`; the status, or `None` if the request failed.
async fn send(
    sender: &mut Option<Http>,
    addr: SocketAddr,
    path: &str,
    body: &[u8],
) -> io::Result<u16> {
    let deadline = Instant::now() + SHORT;
    let conn = match sender.as_mut() {
        Some(conn) => conn,
        None => sender.insert(Http::connect(addr, deadline).await?),
    };
    conn.post(path, body, deadline).await?;
    let status = conn.response(deadline).await?.0;
    Ok(status)
}

/// Attack 1: an unread `xhr_streaming` on `/echo` (response_limit 4096) whose client
/// posts 1 KiB messages as fast as it can and opens another unread stream on the same
/// session every 3 s.
pub(crate) async fn xhr_stream_unread(t: &Target) -> Result<Observed, String> {
    let base = session_base("/echo", 0);
    let stream_path = format!("{base}/xhr_streaming");
    let send_path = format!("{base}/xhr_send");
    let stop = Instant::now() + t.duration;
    let mut streams = vec![
        unread_stream(t.addr, &stream_path, Instant::now() + SHORT)
            .await
            .map_err(|e| format!("stream: {e}"))?,
    ];
    // The session is made by the streaming request; let it exist before sending.
    sleep(Duration::from_millis(200)).await;
    let message = format!("\"{}\"", "m".repeat(1024));
    let body = format!("[{}]", vec![message; BATCH].join(","));
    let mut sender = None;
    let mut statuses = BTreeMap::new();
    let mut accepted = 0u64;
    let mut stream_errors = 0;
    let mut next_stream = Instant::now() + RESTREAM;
    while Instant::now() < stop {
        if Instant::now() >= next_stream {
            next_stream += RESTREAM;
            match unread_stream(t.addr, &stream_path, Instant::now() + SHORT).await {
                Ok(http) => streams.push(http),
                Err(_) => stream_errors += 1,
            }
        }
        match send(&mut sender, t.addr, &send_path, body.as_bytes()).await {
            Ok(status) => {
                if status == 204 {
                    accepted += BATCH as u64;
                }
                tally(&mut statuses, status.to_string());
            }
            Err(e) => {
                tally(&mut statuses, format!("error ({e})"));
                sender = None;
            }
        }
    }
    // Only now read what the later streams were answered.
    let mut later = BTreeMap::new();
    let read_by = Instant::now() + Duration::from_secs(5);
    let mut frames = Vec::new();
    for http in streams.drain(1..) {
        frames.push(first_frame(http, read_by).await);
    }
    for frame in &frames {
        tally(&mut later, frame.clone());
    }
    let deadline = Instant::now() + SHORT;
    let poll = async {
        let mut http = Http::connect(t.addr, deadline).await?;
        http.post(&format!("{base}/xhr"), b"", deadline).await?;
        let (status, body) = http.response(deadline).await?;
        Ok::<_, io::Error>(format!("{status} {}", shown(body).trim_end()))
    }
    .await
    .unwrap_or_else(|e| format!("no answer ({e})"));
    let closed = frames.iter().any(|f| f.starts_with("c[")) || poll.contains(" c[");
    Ok(Observed {
        summary: format!(
            "{accepted} messages accepted (xhr_send: {}); later streams: {}; a final poll: {poll}",
            listed(&statuses),
            if later.is_empty() {
                "none".into()
            } else {
                listed(&later)
            },
        ),
        as_expected: closed,
        details: json!({
            "messages_accepted": accepted,
            "message_size": 1024,
            "xhr_send_statuses": statuses,
            "later_streams": later,
            "later_stream_errors": stream_errors,
            "final_poll": poll,
        }),
    })
}

/// Attack 3: one `xhr_send` to `/amplify` asking for 200 answers of 2^19 bytes
/// (100 MiB) that are never polled, then a poll a second later; repeated on new
/// sessions for the duration (at most 10 rounds).
pub(crate) async fn amplify_unpolled(t: &Target) -> Result<Observed, String> {
    const ASKS: usize = 200;
    let body = format!("[{}]", vec!["\"19\""; ASKS].join(","));
    let stop = Instant::now() + t.duration;
    let mut polls = BTreeMap::new();
    let mut rounds = 0;
    let mut all_1013 = true;
    while rounds == 0 || (rounds < 10 && Instant::now() < stop) {
        rounds += 1;
        let base = session_base("/amplify", rounds);
        let deadline = Instant::now() + SHORT;
        let answer = async {
            let mut http = Http::connect(t.addr, deadline).await?;
            xhr_open(&mut http, &base, deadline).await?;
            http.post(&format!("{base}/xhr_send"), body.as_bytes(), deadline)
                .await?;
            let sent = http.response(deadline).await?.0;
            sleep(Duration::from_secs(1)).await;
            let deadline = Instant::now() + SHORT;
            http.post(&format!("{base}/xhr"), b"", deadline).await?;
            let (status, text) = http.response(deadline).await?;
            Ok::<_, io::Error>(format!(
                "send {sent}, poll {status} {}",
                shown(text).trim_end()
            ))
        }
        .await
        .unwrap_or_else(|e| format!("failed: {e}"));
        all_1013 &= answer.contains(r#"poll 200 c[1013,"Slow consumer"]"#);
        tally(&mut polls, answer);
    }
    Ok(Observed {
        summary: format!("{rounds} rounds: {}", listed(&polls)),
        as_expected: all_1013,
        details: json!({
            "rounds": rounds,
            "answers_asked_per_send": ASKS,
            "answer_size": 1 << 19,
            "answers": polls,
        }),
    })
}
