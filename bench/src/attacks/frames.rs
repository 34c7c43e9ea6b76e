//! Websocket frames that break the rules or the size limit, on `/echo`'s SockJS
//! websocket: each must earn a close frame with its code, the oversized ones before
//! the server has taken much of what was announced.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use super::raw_ws::{Frame, Pushed, RawWs, client_frame, client_header};
use super::{Observed, Target};
use sockjs_bench::tcp_entry;

/// Connecting and a single answer.
const SHORT: Duration = Duration::from_secs(10);
/// The pieces the floods are written in.
const CHUNK: usize = 64 * 1024;
/// The pause after each piece of a flood, to see the close frame when it comes.
const PACE: Duration = Duration::from_millis(10);
/// The most a flood writes when the server never says stop.
const FLOOD_CAP: usize = 256 << 20;
/// What "little data" means for a message over the limit: the bytes written before
/// the close frame came back. `max_message_size` (1 MiB) and one piece more.
const LITTLE: u64 = (1 << 20) + 2 * CHUNK as u64;

fn describe(pushed: &Pushed, read: Option<u64>) -> String {
    let read = read.map_or(String::new(), |n| format!(", {n} read by the server"));
    match (&pushed.close, &pushed.stopped) {
        (Some((code, reason)), _) => format!(
            "close {} {reason:?} after {} bytes written{read}",
            code.map_or("(no code)".into(), |c| c.to_string()),
            pushed.written
        ),
        (None, Some(why)) => format!(
            "no close frame ({why}) after {} bytes written",
            pushed.written
        ),
        (None, None) => format!("no close frame after {} bytes written", pushed.written),
    }
}

/// Of the bytes written, those the server process has read: neither still in the
/// client's send queue nor in the server's receive queue (from `/proc/net/tcp`, taken
/// when the close frame arrived). `None` once either end is gone from the table.
fn server_read(t: &Target, ws: &RawWs, written: u64) -> Option<u64> {
    let server = t.addr.port();
    let client = tcp_entry(ws.local_port(), server).ok()??;
    let server_end = tcp_entry(server, ws.local_port()).ok()??;
    Some(written.saturating_sub(client.tx_queue + server_end.rx_queue))
}

fn code(pushed: &Pushed) -> Option<u16> {
    pushed.close.as_ref().and_then(|(code, _)| *code)
}

/// A text frame announcing 2^62 bytes, followed by data until the server closes.
pub(crate) async fn huge_frame(t: &Target) -> Result<Observed, String> {
    let mut ws = RawWs::sockjs(t.addr, "/echo", Instant::now() + SHORT)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let filler = vec![b'x'; CHUNK];
    let pieces = std::iter::once(client_header(true, 0x1, 1 << 62, true))
        .chain(std::iter::repeat_n(filler, FLOOD_CAP / CHUNK));
    let pushed = ws.push(pieces, PACE, Instant::now() + t.duration).await;
    let read = server_read(t, &ws, pushed.written);
    Ok(Observed {
        summary: describe(&pushed, read),
        as_expected: code(&pushed) == Some(1009) && pushed.written <= LITTLE,
        details: json!({
            "close_code": code(&pushed),
            "bytes_written_before_close": pushed.written,
            "bytes_read_by_server": read,
            "stopped": pushed.stopped,
        }),
    })
}

/// A small fragmented message (must be echoed), then a 10 MB one in 64 KiB
/// continuations on another session (must be closed with 1009).
pub(crate) async fn fragmented(t: &Target) -> Result<Observed, String> {
    let deadline = Instant::now() + SHORT;
    let mut small = RawWs::sockjs(t.addr, "/echo", deadline)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let mut bytes = client_frame(false, 0x1, b"[\"frag", true);
    bytes.extend(client_frame(false, 0x0, b"men", true));
    bytes.extend(client_frame(true, 0x0, b"ted\"]", true));
    small
        .send(&bytes, deadline)
        .await
        .map_err(|e| format!("small fragments: {e}"))?;
    let echoed = loop {
        match small.next(deadline).await {
            Ok(Some(Frame::Data(h))) if h == b"h" => {}
            Ok(Some(Frame::Control(_))) => {}
            Ok(Some(Frame::Data(text))) => break String::from_utf8_lossy(&text).into_owned(),
            Ok(Some(Frame::Close(code, reason))) => break format!("close {code:?} {reason:?}"),
            Ok(None) => break "connection ended".into(),
            Err(e) => break format!("error: {e}"),
        }
    };
    drop(small);

    const TOTAL: usize = 10_000_000;
    let frames = TOTAL.div_ceil(CHUNK);
    let mut ws = RawWs::sockjs(t.addr, "/echo", Instant::now() + SHORT)
        .await
        .map_err(|e| format!("open: {e}"))?;
    let pieces = (0..frames).map(|i| {
        let mut payload = vec![b'x'; CHUNK];
        if i == 0 {
            payload[..2].copy_from_slice(b"[\"");
        }
        let last = i + 1 == frames;
        if last {
            let end = payload.len();
            payload[end - 2..].copy_from_slice(b"\"]");
        }
        client_frame(last, if i == 0 { 0x1 } else { 0x0 }, &payload, true)
    });
    let pushed = ws.push(pieces, PACE, Instant::now() + t.duration).await;
    let read = server_read(t, &ws, pushed.written);
    let small_ok = echoed == r#"a["fragmented"]"#;
    Ok(Observed {
        summary: format!(
            "small fragmented message answered {echoed}; 10 MB: {}",
            describe(&pushed, read)
        ),
        as_expected: small_ok && code(&pushed) == Some(1009) && pushed.written <= LITTLE,
        details: json!({
            "small_echo": echoed,
            "close_code": code(&pushed),
            "bytes_written_before_close": pushed.written,
            "bytes_read_by_server": read,
            "stopped": pushed.stopped,
        }),
    })
}

/// A broken rule of RFC 6455.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fault {
    /// A text frame that is not UTF-8: 1007.
    InvalidUtf8,
    /// A client frame without a mask: 1002.
    Unmasked,
    /// Opcode 3 (reserved): 1002.
    ReservedOpcode,
}

/// Sends one frame with `fault` on a new `/echo` session and reads the close frame.
pub(crate) async fn rule_broken(t: &Target, fault: Fault) -> Result<Observed, String> {
    let deadline = Instant::now() + SHORT;
    let (frame, expected) = match fault {
        Fault::InvalidUtf8 => (client_frame(true, 0x1, b"[\"\xff\xfe\"]", true), 1007),
        Fault::Unmasked => (client_frame(true, 0x1, b"[\"x\"]", false), 1002),
        Fault::ReservedOpcode => (client_frame(true, 0x3, b"", true), 1002),
    };
    let mut ws = RawWs::sockjs(t.addr, "/echo", deadline)
        .await
        .map_err(|e| format!("open: {e}"))?;
    ws.send(&frame, deadline)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (summary, code) = match ws.close_frame(deadline).await {
        Ok(Some((code, reason))) => (
            format!(
                "close {} {reason:?}",
                code.map_or("(no code)".into(), |c| c.to_string())
            ),
            code,
        ),
        Ok(None) => ("connection ended without a close frame".into(), None),
        Err(e) => (format!("no close frame: {e}"), None),
    };
    Ok(Observed {
        summary,
        as_expected: code == Some(expected),
        details: json!({ "close_code": code, "expected_code": expected }),
    })
}
