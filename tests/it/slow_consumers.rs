//! Clients that do not read: what a session holds for its client is bounded by
//! `max_queued_bytes`, past which the session is closed as a slow consumer, while
//! well-behaved sessions get every message.

use std::time::Duration;

use actix_sockjs::{
    CloseReason, Error, SessionHandle, SockJs, SockJsConfig, SockJsContext, SockJsHandler,
    broadcast,
};
use actix_web::App;
use tokio::sync::mpsc::unbounded_channel;

use crate::common;
use crate::common::raw_ws::RawWs;
use crate::common::{DEADLINE, Event, Recorder, next_event, session_id};

const BOUND: usize = 256 * 1024;

fn config() -> SockJsConfig {
    SockJsConfig::default()
        .max_queued_bytes(BOUND)
        .response_limit(64 * 1024 * 1024)
        .heartbeat_delay(Duration::from_secs(3600))
}

/// A server with `/rec` (a [`Recorder`]) and `/amp` (answers `n` with `n` messages of
/// 1 KiB), on [`config`].
fn start() -> (
    actix_test::TestServer,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    start_with(config())
}

fn start_with(
    config: SockJsConfig,
) -> (
    actix_test::TestServer,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    let (tx, rx) = unbounded_channel();
    let amp_events = tx.clone();
    let rec =
        SockJs::new("/rec", move || Recorder { events: tx.clone() }).with_config(config.clone());
    let amp = SockJs::new("/amp", move || Amplify {
        events: amp_events.clone(),
    })
    .with_config(config);
    let srv = actix_test::start(move || App::new().service(rec.clone()).service(amp.clone()));
    (srv, rx)
}

struct Amplify {
    events: tokio::sync::mpsc::UnboundedSender<Event>,
}

impl actix::Actor for Amplify {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Amplify {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        let _ = self.events.send(Event::Message(msg.clone()));
        let n: usize = msg.parse().unwrap_or(1);
        let line = "x".repeat(1024);
        for _ in 0..n {
            session.send(&line);
        }
    }
    fn on_close(&mut self, reason: &CloseReason, _: &mut SockJsContext<Self>) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

async fn opened(events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> SessionHandle {
    match next_event(events).await {
        Event::Open(handle) => handle,
        other => panic!("expected an open, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_stream_that_is_not_read_is_closed_as_a_slow_consumer_and_others_get_everything() {
    unread_stream_closed_as_slow_consumer(config()).await;
}

/// The stream made its session, so the session runs inside the stream's response
/// until the response lets it go; actix-http stops polling a body whose socket takes
/// nothing, so the session must be handed off to close, with no write timeout to
/// give up on the stream either.
#[actix_rt::test]
async fn an_unread_stream_that_made_its_session_lets_it_close_without_a_write_timeout() {
    unread_stream_closed_as_slow_consumer(config().write_timeout(None)).await;
}

async fn unread_stream_closed_as_slow_consumer(config: SockJsConfig) {
    let (srv, mut events) = start_with(config);
    let _stuck_conn = common::unread_stream(
        srv.addr(),
        &format!("/rec/000/{}/xhr_streaming", session_id()),
    )
    .await;
    let stuck = opened(&mut events).await;
    let mut good_ws =
        RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(good_ws.next_text().await, "o");
    let good = opened(&mut events).await;

    let chunk = "y".repeat(8 * 1024);
    let mut sent = 0;
    let mut stuck_refused = false;
    // 4000 × 8 KiB = 32 MiB at most: far past what the kernel buffers hold.
    for i in 0..4000 {
        let msg = format!("{i:05}{chunk}");
        let delivered = broadcast([&stuck, &good], &msg);
        assert!(delivered >= 1, "the good session refused message {i}");
        sent += 1;
        // The good client reads each message before the next is sent.
        let frame = good_ws.next_text().await;
        assert_eq!(frame, format!("a[\"{msg}\"]"), "message {i}");
        if delivered == 1 {
            stuck_refused = true;
            break;
        }
        if stuck.is_closed() {
            break;
        }
    }
    assert!(
        stuck_refused || stuck.is_closed(),
        "the stuck session took {sent} messages"
    );
    // The stuck session is closed as a slow consumer; the good one is not.
    assert_eq!(
        next_event(&mut events).await,
        Event::Close(CloseReason::SlowConsumer)
    );
    assert_eq!(stuck.close_reason(), Some(CloseReason::SlowConsumer));
    assert!(!good.is_closed());
    assert_eq!(stuck.send("more"), Err(Error::SessionClosed));
    // The good session still works.
    good_ws.send_text(r#"["after"]"#).await;
    assert_eq!(good_ws.next_text().await, r#"a["after"]"#);
    assert!(sent > 1);
}

#[actix_rt::test]
async fn a_session_that_queues_past_the_bound_with_no_request_is_closed_with_1013() {
    let (srv, mut events) = start();
    // 2000 answers of 1 KiB to one message, and nobody polls.
    amplify_unpolled(&srv, &mut events, "[\"2000\"]", "2000").await;
}

#[actix_rt::test]
async fn a_websocket_that_is_not_read_takes_no_more_than_the_bound_and_is_released_when_it_leaves()
{
    let (srv, mut events) = start();
    let mut ws =
        common::small_buffer_websocket(srv.addr(), &format!("/rec/000/{}/websocket", session_id()))
            .await;
    assert_eq!(ws.next_text().await, "o");
    let stuck = opened(&mut events).await;
    let chunk = "z".repeat(8 * 1024);
    let mut refused_after = None;
    for i in 0..20_000 {
        match stuck.send(chunk.clone()) {
            Ok(()) => {}
            // Refused by the handle: its mailbox reached the bound.
            Err(Error::SlowConsumer) => {
                refused_after = Some(i);
                break;
            }
            // Or the session, which ran meanwhile on the server's thread, found what
            // it holds for the socket past the bound first, and closed: both bounds
            // are `max_queued_bytes`, and which one is reached first is a race.
            Err(Error::SessionClosed) => {
                assert_eq!(
                    stuck.close_reason(),
                    Some(CloseReason::SlowConsumer),
                    "closed after {i} messages, not as a slow consumer"
                );
                refused_after = Some(i);
                break;
            }
            Err(e) => panic!("unexpected {e:?} after {i} messages"),
        }
    }
    assert!(
        refused_after.is_some(),
        "20,000 × 8 KiB sent to a client that reads nothing"
    );
    // Once the client leaves, the session ends and lets go of what it held.
    drop(ws);
    let closed = actix_rt::time::timeout(DEADLINE, next_event(&mut events)).await;
    assert!(matches!(closed, Ok(Event::Close(_))), "{closed:?}");
    assert!(stuck.is_closed());
}

#[actix_rt::test]
async fn one_batch_whose_answers_pass_the_bound_stops_at_the_bound() {
    let (srv, mut events) = start();
    // One send of 64 messages, each answered with 1000 × 1 KiB: 64 MiB if every
    // answer were kept until the handler call returns. The first message's answers
    // pass the 256 KiB bound: the rest of the batch is not handled.
    let batch = format!("[{}]", vec!["\"1000\""; 64].join(","));
    amplify_unpolled(&srv, &mut events, &batch, "1000").await;
}

/// Opens an `/amp` session, sends `batch` through `xhr_send` while nobody polls, and
/// checks that the handler saw `first` alone before the session closed as a slow
/// consumer, which the next poll is told.
async fn amplify_unpolled(
    srv: &actix_test::TestServer,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    batch: &str,
    first: &str,
) {
    let id = session_id();
    let mut res = srv
        .post(format!("/amp/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(common::text(&mut res).await, "o\n");
    let res = srv
        .post(format!("/amp/000/{id}/xhr_send"))
        .send_body(batch.to_owned())
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(next_event(events).await, Event::Message(first.into()));
    assert_eq!(
        next_event(events).await,
        Event::Close(CloseReason::SlowConsumer)
    );
    let mut res = srv
        .post(format!("/amp/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(common::text(&mut res).await, "c[1013,\"Slow consumer\"]\n");
}
