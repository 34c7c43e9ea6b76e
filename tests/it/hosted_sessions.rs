//! A session made by a streaming request runs inside that request's response until
//! the response ends, then goes on as a task of its own: the same actor, its state,
//! its timers and its queue carry over, on every streaming transport.

use std::time::Duration;

use actix::{Addr, AsyncContext, Handler, Message};
use actix_sockjs::{
    CloseReason, ConnectionInfo, SessionHandle, SockJs, SockJsConfig, SockJsContext, SockJsHandler,
};
use actix_web::App;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common;
use crate::common::{DEADLINE, session_id, text};

/// Sends `tick N` every few milliseconds from its open on, N counting in the actor;
/// reports its close.
struct Ticker {
    ticks: u64,
    closed: UnboundedSender<CloseReason>,
}

impl actix::Actor for Ticker {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Ticker {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        ctx.run_interval(Duration::from_millis(5), |act, ctx| {
            act.ticks += 1;
            ctx.send(format!("tick {}", act.ticks));
        });
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}

    fn on_close(&mut self, reason: &CloseReason, _: &mut SockJsContext<Self>) {
        let _ = self.closed.send(reason.clone());
    }
}

/// `/tick` with a small `response_limit`, so a stream ends after a few ticks.
fn start() -> (actix_test::TestServer, UnboundedReceiver<CloseReason>) {
    let (tx, rx) = unbounded_channel();
    let config = SockJsConfig::default().response_limit(300);
    let tick = SockJs::new("/tick", move || Ticker {
        ticks: 0,
        closed: tx.clone(),
    })
    .with_config(config);
    (
        actix_test::start(move || App::new().service(tick.clone())),
        rx,
    )
}

/// The tick numbers in a body, in order.
fn ticks(body: &str) -> Vec<u64> {
    body.split("tick ")
        .skip(1)
        .map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().expect("a tick number")
        })
        .collect()
}

/// Reads the stream that makes the session to its end (its `response_limit`), then
/// polls: the ticks go on from where the stream left them, one by one, so the actor
/// that ticked in the stream's response is the one that ticks afterwards, with its
/// count and its timer, and nothing was lost or sent twice at the hand-over.
async fn ticks_go_on_after_the_stream(transport: &str, method: &str) {
    let (srv, mut closed) = start();
    let id = session_id();
    let url = format!("/tick/000/{id}/{transport}");
    let req = if method == "GET" {
        srv.get(url)
    } else {
        srv.post(url)
    };
    let mut res = actix_rt::time::timeout(DEADLINE, req.send())
        .await
        .expect("stream in time")
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    let streamed = actix_rt::time::timeout(DEADLINE, text(&mut res))
        .await
        .expect("the stream ends at its response limit");
    let mut seen = ticks(&streamed);
    assert!(!seen.is_empty(), "no tick in the stream: {streamed:?}");
    let target = seen[seen.len() - 1] + 20;
    // Bounded: each poll returns at least one tick, so 20 polls are enough.
    for _ in 0..40 {
        if seen.last().is_some_and(|&last| last >= target) {
            break;
        }
        let mut poll =
            actix_rt::time::timeout(DEADLINE, srv.post(format!("/tick/000/{id}/xhr")).send())
                .await
                .expect("poll in time")
                .expect("poll");
        assert_eq!(poll.status().as_u16(), 200);
        let body = text(&mut poll).await;
        assert!(body.starts_with("a["), "poll answered {body:?}");
        seen.extend(ticks(&body));
    }
    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
    assert_eq!(seen, expected, "ticks lost, repeated or restarted");
    assert!(seen.len() as u64 >= target);
    assert!(
        closed.try_recv().is_err(),
        "the session closed when its stream ended"
    );
}

#[actix_rt::test]
async fn an_xhr_streaming_session_goes_on_after_the_stream_that_made_it() {
    ticks_go_on_after_the_stream("xhr_streaming", "POST").await;
}

#[actix_rt::test]
async fn an_eventsource_session_goes_on_after_the_stream_that_made_it() {
    ticks_go_on_after_the_stream("eventsource", "GET").await;
}

#[actix_rt::test]
async fn an_htmlfile_session_goes_on_after_the_stream_that_made_it() {
    // htmlfile needs its callback.
    ticks_go_on_after_the_stream("htmlfile?c=cb", "GET").await;
}

/// A client that goes away from the stream that made its session: the session
/// learns it, as it would in a task of its own (the protocol's 1002 to the next
/// request, `on_close` with the interruption), and nothing hangs.
#[actix_rt::test]
async fn a_stream_that_made_its_session_and_went_away_interrupts_it() {
    let (srv, mut closed) = start();
    let id = session_id();
    let mut stream =
        common::unread_stream(srv.addr(), &format!("/tick/000/{id}/xhr_streaming")).await;
    // Up to the open frame: the session exists and runs in this response.
    read_until(&mut stream, "the open frame", |seen| {
        contains(seen, b"\no\n")
    })
    .await;
    drop(stream);
    let reason = common::recv_within(&mut closed, "the session's close").await;
    assert_eq!(reason, CloseReason::Interrupted);
    let mut poll = srv
        .post(format!("/tick/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(
        text(&mut poll).await,
        "c[1002,\"Connection interrupted\"]\n"
    );
}

/// Answers [`WhichTask`] with the task its session runs in; hands its handle and
/// address to the test when it opens.
struct TaskReporter {
    opened: UnboundedSender<(SessionHandle, Addr<TaskReporter>)>,
}

impl actix::Actor for TaskReporter {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for TaskReporter {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        let _ = self.opened.send((ctx.session_handle(), ctx.address()));
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}
}

/// Which tokio task the session runs in.
#[derive(Message)]
#[rtype(result = "String")]
struct WhichTask;

impl Handler<WhichTask> for TaskReporter {
    type Result = String;

    fn handle(&mut self, _: WhichTask, _: &mut SockJsContext<Self>) -> String {
        format!("{:?}", tokio::task::try_id())
    }
}

/// A stream that made its session and whose client stops reading: actix-http stops
/// polling the response, so the session is handed off to a task of its own; it
/// goes on there, and the response, once its client reads again, delivers every
/// message in order, the ones sent after the hand-off included.
#[actix_rt::test]
async fn a_stalled_stream_gets_what_its_handed_off_session_sent_once_it_reads_again() {
    let (tx, mut opened) = unbounded_channel();
    let config = SockJsConfig::default()
        .max_queued_bytes(512 * 1024 * 1024)
        .response_limit(1024 * 1024 * 1024)
        .heartbeat_delay(Duration::from_secs(3600))
        .write_timeout(None);
    let svc =
        SockJs::new("/probe", move || TaskReporter { opened: tx.clone() }).with_config(config);
    let srv = actix_test::start(move || App::new().service(svc.clone()));
    let path = format!("/probe/000/{}/xhr_streaming", session_id());
    let mut stream = common::unread_stream(srv.addr(), &path).await;
    let (handle, addr) = common::recv_within(&mut opened, "the session's open").await;
    let which_task = || async {
        actix_rt::time::timeout(DEADLINE, addr.send(WhichTask))
            .await
            .expect("the session answers in time")
            .expect("the session is alive")
    };
    let hosted_in = which_task().await;
    // Messages of 1 MiB, each a chunk of its own, until the session answers from
    // another task: the response's socket took no more, actix-http stopped polling
    // the response, and the session was handed off. 64 MiB at most.
    let chunk = "y".repeat(1024 * 1024);
    let mut sent = 0u32;
    loop {
        handle
            .send(format!("{sent:06}{chunk}"))
            .expect("within the bound");
        sent += 1;
        if which_task().await != hosted_in {
            break;
        }
        assert!(sent < 64, "not handed off after {sent} MiB");
    }
    handle.send("the end").expect("within the bound");
    // Everything, in order, then the last one.
    let seen = read_until(&mut stream, "the stream once read", |seen| {
        seen.ends_with(b"\n") && contains(&seen[seen.len().saturating_sub(64)..], b"[\"the end\"]")
    })
    .await;
    let body = String::from_utf8_lossy(&seen);
    let numbers: Vec<u32> = body
        .split("a[\"")
        .skip(1)
        .filter_map(|frame| frame.get(..6)?.parse().ok())
        .collect();
    assert_eq!(numbers, (0..sent).collect::<Vec<_>>());
    // All read: the response waits for more, and what the session (now in a task of
    // its own) sends next must wake it.
    handle.send("and later").expect("open");
    read_until(&mut stream, "a message after the hand-off", |seen| {
        contains(seen, b"[\"and later\"]")
    })
    .await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Reads `stream` until what it gave satisfies `done`, and returns that; each read
/// must come within [`DEADLINE`] (`what` names what was awaited), and the stream must
/// stay open.
async fn read_until(
    stream: &mut tokio::net::TcpStream,
    what: &str,
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while !done(&seen) {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{what} within {DEADLINE:?}"))
            .expect("read");
        assert!(n > 0, "the server closed the stream before {what}");
        seen.extend_from_slice(&buf[..n]);
    }
    seen
}
