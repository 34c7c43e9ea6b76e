//! The handler is an actix actor whose context is the session: a room actor messages
//! its members by address with the members' own message type, the service finds a
//! session by id on every transport, timers and `notify` send like handler calls, and
//! stopping the actor ends the session.

use std::collections::HashSet;
use std::time::Duration;

use actix::{
    Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, MessageResult, Running,
};
use actix_sockjs::{
    CloseReason, ConnectionInfo, PreparedMessage, SockJs, SockJsConfig, SockJsContext,
    SockJsHandler,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common;
use crate::common::{eventually, read_until, session_id, text, ws_connect, ws_send, ws_text};

/// A chat line, encoded once for every member.
#[derive(Message, Clone)]
#[rtype(result = "()")]
struct Line(PreparedMessage);

#[derive(Message)]
#[rtype(result = "()")]
struct Join(Addr<Member>);

#[derive(Message)]
#[rtype(result = "()")]
struct Leave(Addr<Member>);

#[derive(Message)]
#[rtype(result = "()")]
struct Say(String);

/// How many lines a member has been given.
#[derive(Message)]
#[rtype(result = "usize")]
struct LinesSeen;

/// A room: members' addresses, joins and leaves as messages.
#[derive(Default)]
struct Room {
    members: HashSet<Addr<Member>>,
}

impl Actor for Room {
    type Context = Context<Self>;
}

impl Handler<Join> for Room {
    type Result = ();
    fn handle(&mut self, Join(member): Join, _: &mut Context<Self>) {
        self.members.insert(member);
    }
}

impl Handler<Leave> for Room {
    type Result = ();
    fn handle(&mut self, Leave(member): Leave, _: &mut Context<Self>) {
        self.members.remove(&member);
    }
}

impl Handler<Say> for Room {
    type Result = ();
    fn handle(&mut self, Say(text): Say, _: &mut Context<Self>) {
        let line = Line(PreparedMessage::new(text));
        for member in &self.members {
            member.do_send(line.clone());
        }
    }
}

/// Members report their opens (with their session id) and closes.
#[derive(Debug)]
enum Seen {
    Open(String),
    Closed(CloseReason),
    Stopped,
}

struct Member {
    room: Addr<Room>,
    seen: UnboundedSender<Seen>,
    lines: usize,
}

impl Actor for Member {
    type Context = SockJsContext<Self>;

    fn stopping(&mut self, _: &mut SockJsContext<Self>) -> Running {
        let _ = self.seen.send(Seen::Stopped);
        Running::Stop
    }
}

impl SockJsHandler for Member {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        self.room.do_send(Join(ctx.address()));
        let _ = self.seen.send(Seen::Open(ctx.id().to_owned()));
    }

    fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) {
        match msg.as_str() {
            "stop" => ctx.stop(),
            "later" => {
                ctx.run_later(Duration::from_millis(1), |_, ctx| ctx.send("from a timer"));
            }
            "notify" => ctx.notify(Line(PreparedMessage::new("from notify"))),
            _ => self.room.do_send(Say(msg)),
        }
    }

    fn on_close(&mut self, reason: &CloseReason, ctx: &mut SockJsContext<Self>) {
        self.room.do_send(Leave(ctx.address()));
        let _ = self.seen.send(Seen::Closed(reason.clone()));
    }
}

impl Handler<Line> for Member {
    type Result = ();
    fn handle(&mut self, Line(line): Line, ctx: &mut SockJsContext<Self>) {
        self.lines += 1;
        ctx.send_prepared(&line);
    }
}

impl Handler<LinesSeen> for Member {
    type Result = MessageResult<LinesSeen>;
    fn handle(&mut self, _: LinesSeen, _: &mut SockJsContext<Self>) -> Self::Result {
        MessageResult(self.lines)
    }
}

fn chat_server() -> (
    actix_test::TestServer,
    SockJs<Member>,
    UnboundedReceiver<Seen>,
) {
    let (tx, rx) = unbounded_channel();
    let room = Room::default().start();
    let chat = SockJs::new("/chat", move || Member {
        room: room.clone(),
        seen: tx.clone(),
        lines: 0,
    })
    .with_config(SockJsConfig::default().disconnect_delay(Duration::from_millis(200)));
    let service = chat.clone();
    let srv = actix_test::start(move || App::new().service(service.clone()));
    (srv, chat, rx)
}

async fn next_seen(rx: &mut UnboundedReceiver<Seen>) -> Seen {
    common::recv_within(rx, "member event").await
}

async fn next_open(rx: &mut UnboundedReceiver<Seen>) -> String {
    match next_seen(rx).await {
        Seen::Open(id) => id,
        other => panic!("expected an open, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_room_actor_reaches_members_on_every_transport_by_address() {
    let (srv, chat, mut seen) = chat_server();
    let mut ws = ws_connect(&srv, &format!("/chat/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    let ws_id = next_open(&mut seen).await;

    let stream_id = session_id();
    let mut stream = awc::Client::new()
        .post(srv.url(&format!("/chat/000/{stream_id}/xhr_streaming")))
        .send()
        .await
        .expect("xhr_streaming");
    let mut body = String::new();
    read_until(&mut stream, &mut body, "o\n").await;
    assert_eq!(next_open(&mut seen).await, stream_id);

    ws_send(&mut ws, r#"["hello, room"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["hello, room"]"#);
    read_until(&mut stream, &mut body, "a[\"hello, room\"]\n").await;

    // Request and response through the address: the member counted its line.
    let (ws_addr, _) = chat
        .session(&ws_id)
        .expect("the websocket session is found");
    assert_eq!(ws_addr.send(LinesSeen).await.expect("answer"), 1);
    let (stream_addr, stream_handle) = chat.session(&stream_id).expect("found");
    assert_eq!(stream_addr.send(LinesSeen).await.expect("answer"), 1);
    assert_eq!(stream_handle.id(), stream_id);

    // A message to one member's address reaches only that member.
    ws_addr.do_send(Line(PreparedMessage::new("just you")));
    assert_eq!(ws_text(&mut ws).await, r#"a["just you"]"#);
    assert_eq!(chat.session_count(), 2);
}

#[actix_rt::test]
async fn every_transport_is_found_by_id_and_counted_until_it_ends() {
    let (srv, chat, mut seen) = chat_server();
    // A websocket session has its URL's id; a raw websocket a generated one.
    let ws_id = session_id();
    let mut ws = ws_connect(&srv, &format!("/chat/000/{ws_id}/websocket")).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    assert_eq!(next_open(&mut seen).await, ws_id);
    let mut raw = ws_connect(&srv, "/chat/websocket").await;
    let raw_id = next_open(&mut seen).await;
    assert_ne!(raw_id, ws_id);
    let xhr_id = session_id();
    let mut res = awc::Client::new()
        .post(srv.url(&format!("/chat/000/{xhr_id}/xhr")))
        .send()
        .await
        .expect("xhr");
    assert_eq!(text(&mut res).await, "o\n");
    assert_eq!(next_open(&mut seen).await, xhr_id);

    assert_eq!(chat.session_count(), 3);
    for id in [&ws_id, &raw_id, &xhr_id] {
        assert!(chat.session(id).is_some(), "{id} not found");
    }
    assert!(chat.session("no-such-session").is_none());

    // A handle found by id sends like any other.
    let (_, raw_handle) = chat.session(&raw_id).expect("found");
    raw_handle.send("through a handle").expect("open");
    assert_eq!(ws_text(&mut raw).await, "through a handle");

    // The websocket ends: its session leaves the map.
    drop(ws);
    assert!(matches!(next_seen(&mut seen).await, Seen::Closed(_)));
    assert!(matches!(next_seen(&mut seen).await, Seen::Stopped));
    eventually(|| chat.session_count() == 2).await;
    assert!(chat.session(&ws_id).is_none());
    assert!(chat.session(&raw_id).is_some() && chat.session(&xhr_id).is_some());
}

#[actix_rt::test]
async fn timers_and_notify_send_like_handler_calls() {
    let (srv, _chat, mut seen) = chat_server();
    let mut ws = ws_connect(&srv, &format!("/chat/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    next_open(&mut seen).await;
    ws_send(&mut ws, r#"["later"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["from a timer"]"#);
    ws_send(&mut ws, r#"["notify"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["from notify"]"#);
}

#[actix_rt::test]
async fn stopping_the_actor_closes_the_session_and_forgets_its_id() {
    let (srv, chat, mut seen) = chat_server();
    let id = session_id();
    let url = |t: &str| srv.url(&format!("/chat/000/{id}/{t}"));
    let client = awc::Client::new();
    let mut stream = client
        .post(url("xhr_streaming"))
        .send()
        .await
        .expect("stream");
    let mut body = String::new();
    read_until(&mut stream, &mut body, "o\n").await;
    next_open(&mut seen).await;

    let sent = client
        .post(url("xhr_send"))
        .insert_header(("Content-Type", "text/plain"))
        .send_body(r#"["stop"]"#)
        .await
        .expect("xhr_send");
    assert_eq!(sent.status().as_u16(), 204);
    read_until(&mut stream, &mut body, "c[3000,\"Go away!\"]\n").await;
    match next_seen(&mut seen).await {
        Seen::Closed(reason) => assert_eq!(
            reason,
            CloseReason::Server {
                code: 3000,
                reason: "Go away!".into()
            }
        ),
        other => panic!("expected the close, got {other:?}"),
    }
    assert!(matches!(next_seen(&mut seen).await, Seen::Stopped));

    // The id is free: a send finds nothing, a poll opens a new session.
    eventually(|| chat.session(&id).is_none()).await;
    let res = client
        .post(url("xhr_send"))
        .insert_header(("Content-Type", "text/plain"))
        .send_body(r#"["x"]"#)
        .await
        .expect("xhr_send");
    assert_eq!(res.status().as_u16(), 404);
    let mut res = client.post(url("xhr")).send().await.expect("xhr");
    assert_eq!(text(&mut res).await, "o\n");
}
