//! What handles send to a websocket session that nothing else woke: the session
//! takes it without running its context (`transport::hosted`), and the client must
//! see exactly what the pump would give it: one frame per send, in order, a close
//! after what came before it, the handler's answers between them.

use std::time::Duration;

use actix_sockjs::{CloseReason, PreparedMessage, SockJsConfig};

use crate::common;
use crate::common::raw_ws::RawWs;
use crate::common::{Event, next_event, session_id};

fn config() -> SockJsConfig {
    SockJsConfig::default().heartbeat_delay(Duration::from_secs(3600))
}

/// A server with the recording service, and one websocket session of it, open: the
/// server (kept alive), its events, the client's socket and the session's handle.
async fn open_recorded_websocket() -> (
    actix_test::TestServer,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
    RawWs,
    actix_sockjs::SessionHandle,
) {
    let (srv, mut events) = common::server(config());
    let mut ws = RawWs::connect(srv.addr(), &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws.next_text().await, "o");
    let Event::Open(handle) = next_event(&mut events).await else {
        panic!("expected the session to open");
    };
    (srv, events, ws, handle)
}

/// The client gets the close frame `code` `reason` next, and the handler's
/// `on_close` sees the server's close.
async fn closed_by_the_server(
    ws: &mut RawWs,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    code: u16,
    reason: &str,
) {
    assert_eq!(ws.next_text().await, format!("c[{code},\"{reason}\"]"));
    assert_eq!(
        next_event(events).await,
        Event::Close(CloseReason::Server {
            code,
            reason: reason.into()
        })
    );
}

#[actix_rt::test]
async fn handle_sends_arrive_one_frame_each_in_order_and_a_handle_close_comes_after_them() {
    let (_srv, mut events, mut ws, handle) = open_recorded_websocket().await;

    // Texts and a prepared message, sent while the session idles.
    let prepared = PreparedMessage::new("p");
    for i in 0..20 {
        handle.send(format!("h{i}")).expect("send");
        if i == 9 {
            handle.send_prepared(&prepared).expect("send prepared");
        }
    }
    for i in 0..20 {
        assert_eq!(ws.next_text().await, format!("a[\"h{i}\"]"), "send {i}");
        if i == 9 {
            assert_eq!(ws.next_text().await, "a[\"p\"]");
        }
    }

    // The handler still runs for the client's messages, between handle sends.
    ws.send_text(r#"["c"]"#).await;
    assert_eq!(ws.next_text().await, r#"a["c"]"#);
    assert_eq!(next_event(&mut events).await, Event::Message("c".into()));
    handle.send("after").expect("send");
    assert_eq!(ws.next_text().await, r#"a["after"]"#);

    // A close from a handle, right behind a send: the send first, then the close,
    // and the handler's on_close.
    handle.send("last").expect("send");
    handle.close(3002, "done").expect("close");
    assert_eq!(ws.next_text().await, r#"a["last"]"#);
    closed_by_the_server(&mut ws, &mut events, 3002, "done").await;
    assert!(handle.send("too late").is_err());
}

#[actix_rt::test]
async fn many_sends_at_once_all_arrive_in_order() {
    // More than one turn of the session's pump (64 commands) at once.
    let (_srv, _events, mut ws, handle) = open_recorded_websocket().await;
    for i in 0..300 {
        handle.send(format!("{i}")).expect("send");
    }
    for i in 0..300 {
        assert_eq!(ws.next_text().await, format!("a[\"{i}\"]"), "send {i}");
    }
}

/// Waits (`ctx.wait`) for 300 ms when the client sends `wait`, then sends `waited`;
/// tells the test when it starts waiting and hands it the session's handle.
struct Waiter {
    waiting: tokio::sync::mpsc::UnboundedSender<actix_sockjs::SessionHandle>,
}

impl actix::Actor for Waiter {
    type Context = actix_sockjs::SockJsContext<Self>;
}

impl actix_sockjs::SockJsHandler for Waiter {
    fn on_message(&mut self, msg: String, ctx: &mut actix_sockjs::SockJsContext<Self>) {
        use actix::{ActorFutureExt, AsyncContext, WrapFuture};
        if msg == "wait" {
            ctx.wait(
                actix_rt::time::sleep(Duration::from_millis(300))
                    .into_actor(self)
                    .map(|(), _, ctx: &mut actix_sockjs::SockJsContext<Self>| ctx.send("waited")),
            );
            let _ = self.waiting.send(ctx.session_handle());
        }
    }
}

#[actix_rt::test]
async fn what_a_handle_sends_while_the_session_waits_for_a_future_comes_after_it() {
    let (tx, mut waiting) = tokio::sync::mpsc::unbounded_channel();
    let service = actix_sockjs::SockJs::new("/wait", move || Waiter {
        waiting: tx.clone(),
    })
    .with_config(config());
    let srv = actix_test::start(move || actix_web::App::new().service(service.clone()));
    let mut ws = RawWs::connect(srv.addr(), &format!("/wait/000/{}/websocket", session_id())).await;
    assert_eq!(ws.next_text().await, "o");
    ws.send_text(r#"["wait"]"#).await;
    let handle = actix_rt::time::timeout(common::DEADLINE, waiting.recv())
        .await
        .expect("the handler waits")
        .expect("a handle");
    // The context takes no command while it waits, so these come after `waited`:
    // neither the session's core nor its connection (which writes prepared
    // messages straight from the inbox) takes them first.
    handle
        .send_prepared(&PreparedMessage::new("prepared during"))
        .expect("send prepared");
    handle.send("during").expect("send");
    assert_eq!(ws.next_text().await, r#"a["waited"]"#);
    assert_eq!(ws.next_text().await, r#"a["prepared during"]"#);
    assert_eq!(ws.next_text().await, r#"a["during"]"#);
    // Once it waits no more, a prepared message alone.
    handle
        .send_prepared(&PreparedMessage::new("after"))
        .expect("send prepared");
    assert_eq!(ws.next_text().await, r#"a["after"]"#);
}

#[actix_rt::test]
async fn the_raw_websocket_gets_prepared_messages_as_their_text_in_order_with_sends() {
    let (srv, mut events) = common::server(config());
    let mut ws = RawWs::connect(srv.addr(), "/rec/websocket").await;
    let Event::Open(handle) = next_event(&mut events).await else {
        panic!("expected the session to open");
    };
    // Prepared messages alone (written from the inbox as they are), then mixed
    // with texts (which the session's core takes), then alone again.
    let prepared: Vec<PreparedMessage> = (0..4)
        .map(|i| PreparedMessage::new(format!("p{i}")))
        .collect();
    handle.send_prepared(&prepared[0]).expect("send prepared");
    assert_eq!(ws.next_text().await, "p0");
    handle.send_prepared(&prepared[1]).expect("send prepared");
    handle.send("t").expect("send");
    handle.send_prepared(&prepared[2]).expect("send prepared");
    assert_eq!(ws.next_text().await, "p1");
    assert_eq!(ws.next_text().await, "t");
    assert_eq!(ws.next_text().await, "p2");
    handle.send_prepared(&prepared[3]).expect("send prepared");
    assert_eq!(ws.next_text().await, "p3");
}

#[actix_rt::test]
async fn prepared_messages_then_a_handle_close_come_in_order() {
    let (_srv, mut events, mut ws, handle) = open_recorded_websocket().await;
    let msg = PreparedMessage::new("all");
    for _ in 0..100 {
        handle.send_prepared(&msg).expect("send prepared");
    }
    handle.close(3003, "bye").expect("close");
    for i in 0..100 {
        assert_eq!(ws.next_text().await, r#"a["all"]"#, "message {i}");
    }
    closed_by_the_server(&mut ws, &mut events, 3003, "bye").await;
}
