//! A session made by a streaming request runs inside that request's response until
//! the response ends, then goes on as a task of its own: the same actor, its state,
//! its timers and its queue carry over, on every streaming transport.
mod common;

use std::time::Duration;

use actix::AsyncContext;
use actix_sockjs::{
    CloseReason, ConnectionInfo, SockJs, SockJsConfig, SockJsContext, SockJsHandler,
};
use actix_web::App;
use common::{DEADLINE, session_id, text};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

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
    .config(config);
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
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("\no\n") {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .expect("the open frame in time")
            .expect("read");
        assert!(n > 0, "the server closed the stream");
        seen.extend_from_slice(&chunk[..n]);
    }
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
