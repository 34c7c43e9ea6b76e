//! Rooms that reach their members through the members' actors: an `Addr`, a
//! `Recipient` or a multiplexed channel's `ChannelHandle`, all of which go through the
//! session actor's mailbox. A member whose client stops reading must not make the
//! room's lines pile up without bound: past `max_queued_bytes` its session is closed
//! as a slow consumer (a websocket gets a 1013 close frame, an xhr_streaming response
//! `c[1013,"Slow consumer"]`), while a member that reads gets every line, in order.
//!
//! Each test floods a room with 100,000 lines of 1 KiB (100 MiB) while a websocket
//! and an xhr_streaming member read nothing, and checks with a counting global
//! allocator that the process's heap never grows by 16 MiB over what it was before
//! the flood, and comes back near it once the stalled clients leave. The allocator is
//! shared by every test in this file, so the tests take [`HEAP`] in turn.
//!
//! A test binary of its own, not a module of `tests/it`: the counting allocator is
//! the process's `#[global_allocator]`, so every allocation of every test in the
//! binary counts. Other tests running beside these floods would move the heap they
//! measure.

// Shared with tests/it, which uses all of it; this binary uses only a few helpers.
#[allow(dead_code, unused_imports)]
#[path = "../it/common/mod.rs"]
mod common;
mod heap;
mod room;

use std::pin::pin;
use std::time::{Duration, Instant};

use heap::{HEAP, live, peak, reset_peak};
use room::{Kind, Members, Report, Room, Say, start};

use actix::Addr;
use actix_sockjs::CloseReason;
use common::clients::WsClient;
use common::raw_ws::RawWs;
use common::{DEADLINE, recv_within, session_id, small_buffer_websocket, unread_stream, ws_send};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::{oneshot, watch};

const LINE_BYTES: usize = 1024;
const LINES: usize = 100_000;
/// The most lines the flood is ahead of the reader: the test's own flow control, so a
/// member that reads never has more than 32 KiB waiting anywhere (under the bound, 256 KiB,
/// and in frames under the client's 64 KiB limit).
const WINDOW: usize = 32;
const FLOOD_DEADLINE: Duration = Duration::from_secs(120);
/// How much the heap may grow during the flood: the two victims' bound (2 × 256 KiB),
/// what the reader and the connections hold, and room to spare (about 1 MiB is seen).
/// The issue asks for under 64 MiB; this is tighter, so it also catches a session
/// held still for a second by its stalled stream (up to 40 MiB here at 76fd989),
/// not only one held until its client leaves (205 MiB).
const PEAK_LIMIT: usize = 16 << 20;
/// How far above its level before the flood the heap may stay once the victims left.
const SETTLED_LIMIT: usize = 16 << 20;

/// Line `n`: its number, padded to [`LINE_BYTES`].
fn line(n: usize) -> String {
    format!("{n:08}{:x<pad$}", "", pad = LINE_BYTES - 8)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

async fn joined(reports: &mut UnboundedReceiver<Report>) -> String {
    match recv_within(reports, "a member joining").await {
        Report::Joined(id) => id,
        other => panic!("expected a member joining, got {other:?}"),
    }
}

/// Reads from `stream` until `needle` went by; fails on its end or after [`DEADLINE`]
/// without data.
async fn read_until_seen(stream: &mut TcpStream, needle: &[u8]) {
    let mut tail = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no {:?} within {DEADLINE:?}",
                    String::from_utf8_lossy(needle)
                )
            })
            .expect("read the stream");
        assert!(
            n > 0,
            "the stream ended before {:?}",
            String::from_utf8_lossy(needle)
        );
        tail.extend_from_slice(&chunk[..n]);
        if tail.windows(needle.len()).any(|w| w == needle) {
            return;
        }
        tail.drain(..tail.len().saturating_sub(needle.len()));
    }
}

/// Reads every line in order, telling the flood how far it got; keeps the client.
async fn read_lines(
    mut client: WsClient,
    lines: usize,
    prefix: &'static str,
    progress: watch::Sender<usize>,
) -> WsClient {
    for n in 0..lines {
        let msg = client.next_message().await;
        let expected = line(n);
        assert!(
            msg.strip_prefix(prefix) == Some(expected.as_str()),
            "line {n} was {:?}… ({} bytes)",
            msg.get(..prefix.len() + 8),
            msg.len()
        );
        progress.send_replace(n + 1);
    }
    client
}

/// Says `lines` lines to the room, never more than [`WINDOW`] ahead of the reader;
/// tells `over` when it is done. How long it took, or why it stopped.
async fn flood(
    room: &Addr<Room>,
    lines: usize,
    progress: &mut watch::Receiver<usize>,
    over: oneshot::Sender<()>,
) -> Result<Duration, String> {
    let started = Instant::now();
    let flooded = actix_rt::time::timeout(FLOOD_DEADLINE, async {
        for n in 0..lines {
            if n >= WINDOW && progress.wait_for(|&read| read + WINDOW > n).await.is_err() {
                return Err(format!(
                    "the reader stopped after {} lines",
                    *progress.borrow()
                ));
            }
            room.do_send(Say(line(n)));
        }
        Ok(())
    })
    .await;
    let _ = over.send(());
    match flooded {
        Ok(Ok(())) => Ok(started.elapsed()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(format!(
            "the flood took more than {FLOOD_DEADLINE:?}; the reader had {} lines",
            *progress.borrow()
        )),
    }
}

/// How the two members that never read were closed.
#[derive(Debug, Default)]
struct Victims {
    websocket: Option<CloseReason>,
    xhr_streaming: Option<CloseReason>,
    /// Anything else the members reported meanwhile.
    others: Vec<Report>,
}

/// Waits for both victims to close (until [`DEADLINE`] after the flood is `over`);
/// those closed as slow consumers must then show the 1013 close to their client once
/// it reads. Both clients leave at the end.
async fn watch_victims(
    reports: &mut UnboundedReceiver<Report>,
    (ws_id, mut ws): (String, RawWs),
    (stream_id, mut stream): (String, TcpStream),
    over: oneshot::Receiver<()>,
) -> Victims {
    let mut deadline = pin!(async {
        let _ = over.await;
        actix_rt::time::sleep(DEADLINE).await;
    });
    let mut victims = Victims::default();
    while victims.websocket.is_none() || victims.xhr_streaming.is_none() {
        tokio::select! {
            () = &mut deadline => break,
            report = reports.recv() => match report {
                Some(Report::Closed(id, reason)) if id == ws_id => {
                    victims.websocket = Some(reason);
                }
                Some(Report::Closed(id, reason)) if id == stream_id => {
                    victims.xhr_streaming = Some(reason);
                }
                Some(other) => victims.others.push(other),
                None => break,
            },
        }
    }
    if victims.websocket == Some(CloseReason::SlowConsumer) {
        assert_eq!(
            ws.close_frame().await,
            (Some(1013), "Slow consumer".to_owned()),
            "the websocket closed as a slow consumer"
        );
    }
    if victims.xhr_streaming == Some(CloseReason::SlowConsumer) {
        read_until_seen(&mut stream, br#"c[1013,"Slow consumer"]"#).await;
    }
    victims
}

/// Polls the live heap until it is at most `limit`, for [`DEADLINE`] at most: `Ok`
/// with the figure once it is, `Err` with the last one if it never is.
async fn heap_settles(limit: usize) -> Result<usize, usize> {
    let started = Instant::now();
    loop {
        let now = live();
        if now <= limit {
            return Ok(now);
        }
        if started.elapsed() > DEADLINE {
            return Err(now);
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A room of `kind` members: a websocket and an xhr_streaming member that never read
/// and one websocket member that reads everything; `lines` lines through the room.
async fn stalled_members_are_closed_and_the_heap_stays_bounded(kind: Kind, lines: usize) {
    let _heap = HEAP.lock().await;
    let (srv, room, arbiter, mut reports) = start(kind);
    let (prefix, subscribe) = match kind {
        Kind::Channel => ("msg,room,", r#"["sub,room"]"#),
        Kind::Addr | Kind::Recipient => ("", ""),
    };

    let mut reader = WsClient::connect(&srv, "room").await;
    if kind == Kind::Channel {
        ws_send(&mut reader.ws, subscribe).await;
    }
    let reader_id = joined(&mut reports).await;

    let ws_id = session_id();
    let mut ws = small_buffer_websocket(srv.addr(), &format!("/room/000/{ws_id}/websocket")).await;
    assert_eq!(ws.next_text().await, "o");
    if kind == Kind::Channel {
        ws.send_text(subscribe).await;
    }
    assert_eq!(joined(&mut reports).await, ws_id);

    let stream_id = session_id();
    let mut stream =
        unread_stream(srv.addr(), &format!("/room/000/{stream_id}/xhr_streaming")).await;
    if kind == Kind::Channel {
        // The session exists once its open frame is out; then it can subscribe.
        read_until_seen(&mut stream, b"o\n").await;
        let res = srv
            .post(format!("/room/000/{stream_id}/xhr_send"))
            .send_body(subscribe)
            .await
            .expect("xhr_send");
        assert_eq!(res.status().as_u16(), 204);
    }
    assert_eq!(joined(&mut reports).await, stream_id);
    assert_eq!(room.send(Members).await.expect("the room runs"), 3);

    let before = reset_peak();
    let (progress_tx, mut progress) = watch::channel(0);
    let reading = actix_rt::spawn(read_lines(reader, lines, prefix, progress_tx));
    let (over_tx, over) = oneshot::channel();
    let (flooded, victims) = tokio::join!(
        flood(&room, lines, &mut progress, over_tx),
        watch_victims(&mut reports, (ws_id, ws), (stream_id, stream), over),
    );
    let reader = actix_rt::time::timeout(FLOOD_DEADLINE, reading).await;
    let peak = peak();
    let read = *progress.borrow();
    // The victims' clients left at the end of `watch_victims`.
    let settled = heap_settles(before + SETTLED_LIMIT).await;

    eprintln!(
        "{kind:?} members: flood of {lines} lines: {flooded:?}; the reader got {read}; \
         victims closed: websocket {:?}, xhr_streaming {:?}, other reports {:?}; \
         heap before the flood {}, peak during it {} (+{}), once the victims left {}",
        victims.websocket,
        victims.xhr_streaming,
        victims.others,
        mib(before),
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(settled.unwrap_or_else(|last| last)),
    );

    assert_eq!(
        (&victims.websocket, &victims.xhr_streaming),
        (
            &Some(CloseReason::SlowConsumer),
            &Some(CloseReason::SlowConsumer)
        ),
        "the websocket and xhr_streaming members that never read are closed as slow \
         consumers"
    );
    assert!(
        !victims
            .others
            .iter()
            .any(|r| matches!(r, Report::Closed(id, _) if *id == reader_id)),
        "the reader's session closed: {:?}",
        victims.others
    );
    let flood_took = flooded.unwrap_or_else(|e| panic!("{e}"));
    match reader {
        Ok(Ok(_client)) => {}
        Ok(Err(e)) => panic!("the reader failed after {read} of {lines} lines: {e}"),
        Err(_) => {
            panic!("the reader had {read} of {lines} lines {FLOOD_DEADLINE:?} after the flood")
        }
    }
    let grew = peak.saturating_sub(before);
    assert!(
        grew < PEAK_LIMIT,
        "the heap grew by {} during the flood ({flood_took:?}), over {}",
        mib(grew),
        mib(PEAK_LIMIT)
    );
    if let Err(last) = settled {
        panic!(
            "the heap is at {} {DEADLINE:?} after the victims left, {} over its {} \
             before the flood",
            mib(last),
            mib(last.saturating_sub(before)),
            mib(before)
        );
    }
    arbiter.stop();
}

#[actix_rt::test]
async fn a_room_of_addrs_closes_members_that_do_not_read_and_keeps_the_heap_bounded() {
    stalled_members_are_closed_and_the_heap_stays_bounded(Kind::Addr, LINES).await;
}

#[actix_rt::test]
async fn a_room_of_recipients_closes_members_that_do_not_read_and_keeps_the_heap_bounded() {
    stalled_members_are_closed_and_the_heap_stays_bounded(Kind::Recipient, LINES).await;
}

#[actix_rt::test]
async fn a_room_of_channel_handles_closes_members_that_do_not_read_and_keeps_the_heap_bounded() {
    stalled_members_are_closed_and_the_heap_stays_bounded(Kind::Channel, LINES).await;
}
