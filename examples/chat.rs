//! A chat with rooms: `/chat/{room}` is mounted once and serves every room.
//!
//! `./scripts/demo` (or `cargo run --example chat`), then open http://127.0.0.1:8080/
//! in two browser windows. `--port N` picks another port (0: any free one); the line
//! `chat demo on http://127.0.0.1:PORT/ ...` is printed once the port is bound, which is
//! what the browser tests (`scripts/test-browser`) wait for. Also served: the echo page at `/echo.html`, the
//! statistics at `/stats` (JSON) and `/stats/prometheus`, and live charts of them at
//! `/stats.html`.
//!
//! Wire format (JSON text messages): the client sends `{"name": "..."}` once, then
//! `{"text": "..."}`; the server sends `{"type": "join" | "leave", "name"}`,
//! `{"type": "message", "name", "text"}` and `{"type": "roster", "names": [...]}`.
//!
//! The pages load sockjs-client from `/sockjs.min.js` when a local copy is installed
//! (`npm install --prefix vendor-js sockjs-client@1`, which `./scripts/demo` does), so
//! the demo works without internet; otherwise from the `sockjs_url` default.

use std::collections::HashMap;
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, MessageResult, WrapFuture,
};
use actix_sockjs::{
    CloseReason, ConnectionInfo, GracefulShutdown, PreparedMessage, SockJs, SockJsConfig,
    SockJsContext, SockJsHandler, StatsEndpoint, socket_options,
};
use actix_web::{App, HttpServer};
use serde_json::json;

mod support;

/// A frame for a member's client, encoded once for the whole room.
#[derive(Message, Clone)]
#[rtype(result = "()")]
struct Line(PreparedMessage);

/// A member joins `room` as `name`; the answer is the room's roster.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
struct Join {
    room: String,
    name: String,
    member: Addr<ChatMember>,
}

/// A member leaves its room.
#[derive(Message)]
#[rtype(result = "()")]
struct Leave {
    room: String,
    member: Addr<ChatMember>,
}

/// A member said something to its room.
#[derive(Message)]
#[rtype(result = "()")]
struct Say {
    room: String,
    name: String,
    text: String,
}

/// Every room: its members' addresses and names. One actor for the server; a chat line
/// is a message to each member's address carrying one shared frame.
#[derive(Default)]
struct Rooms {
    rooms: HashMap<String, HashMap<Addr<ChatMember>, String>>,
}

impl Rooms {
    fn tell(&self, room: &str, message: &serde_json::Value) {
        let line = Line(PreparedMessage::new(message.to_string()));
        for member in self.rooms.get(room).into_iter().flat_map(|m| m.keys()) {
            // An address's mailbox is not bounded by `max_queued_bytes`: a member whose
            // client stops reading is closed as a slow consumer once its session runs,
            // or after `write_timeout`. For fan-out at high rates, see README.
            member.do_send(line.clone());
        }
    }
}

impl Actor for Rooms {
    type Context = Context<Self>;
}

impl Handler<Join> for Rooms {
    type Result = MessageResult<Join>;

    fn handle(&mut self, join: Join, _: &mut Context<Self>) -> Self::Result {
        let members = self.rooms.entry(join.room.clone()).or_default();
        members.insert(join.member, join.name.clone());
        let roster = members.values().cloned().collect();
        self.tell(&join.room, &json!({"type": "join", "name": join.name}));
        MessageResult(roster)
    }
}

impl Handler<Leave> for Rooms {
    type Result = ();

    fn handle(&mut self, leave: Leave, _: &mut Context<Self>) {
        let Some(members) = self.rooms.get_mut(&leave.room) else {
            return;
        };
        let Some(name) = members.remove(&leave.member) else {
            return;
        };
        if members.is_empty() {
            self.rooms.remove(&leave.room);
        } else {
            self.tell(&leave.room, &json!({"type": "leave", "name": name}));
        }
    }
}

impl Handler<Say> for Rooms {
    type Result = ();

    fn handle(&mut self, say: Say, _: &mut Context<Self>) {
        let message = json!({"type": "message", "name": say.name, "text": say.text});
        self.tell(&say.room, &message);
    }
}

/// One chat session: an actor whose context is the SockJS session.
struct ChatMember {
    rooms: Addr<Rooms>,
    room: String,
    name: Option<String>,
}

fn clean_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(32)
        .collect();
    (!name.is_empty()).then_some(name)
}

impl Actor for ChatMember {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for ChatMember {
    fn on_open(&mut self, info: ConnectionInfo, _: &mut SockJsContext<Self>) {
        self.room = info.param("room").unwrap_or("lobby").to_owned();
    }

    fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&msg) else {
            ctx.close(3001, "messages are JSON");
            return;
        };
        match (&self.name, value["name"].as_str(), value["text"].as_str()) {
            (None, Some(raw), _) => {
                let Some(name) = clean_name(raw) else {
                    ctx.close(3002, "a name is needed");
                    return;
                };
                self.name = Some(name.clone());
                let join = Join {
                    room: self.room.clone(),
                    name,
                    member: ctx.address(),
                };
                // The roster comes back as the answer; the session sends it on.
                let roster = self.rooms.send(join).into_actor(self);
                ctx.spawn(roster.map(|roster, _, ctx| {
                    if let Ok(names) = roster {
                        let _ = ctx.send_json(&json!({"type": "roster", "names": names}));
                    }
                }));
            }
            (Some(name), _, Some(text)) => self.rooms.do_send(Say {
                room: self.room.clone(),
                name: name.clone(),
                text: text.chars().take(2000).collect(),
            }),
            _ => {}
        }
    }

    fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
        if self.name.is_some() {
            self.rooms.do_send(Leave {
                room: self.room.clone(),
                member: ctx.address(),
            });
        }
    }
}

/// A room line reaches the member's session as the member's own message type.
impl Handler<Line> for ChatMember {
    type Result = ();

    fn handle(&mut self, Line(line): Line, ctx: &mut SockJsContext<Self>) {
        ctx.send_prepared(&line);
    }
}

struct Echo;

impl Actor for Echo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init_from_env(env_logger::Env::default().default_filter_or("info"));
    let port = support::parse_port("chat")?;
    let local = support::vendor_file("sockjs-client/dist/sockjs.min.js");
    let mut config = SockJsConfig::default();
    if local.is_some() {
        config = config.sockjs_url("/sockjs.min.js");
    }
    let sockjs_url = config.sockjs_url.clone();
    let script = local.map(std::fs::read).transpose()?;

    let rooms = Rooms::default().start();
    let chat = SockJs::new("/chat/{room}", move || ChatMember {
        rooms: rooms.clone(),
        room: String::new(),
        name: None,
    })
    .config(config.clone());
    let echo = SockJs::new("/echo", || Echo).config(config);
    let stats = StatsEndpoint::new("/stats")
        .service("chat", chat.stats())
        .service("echo", echo.stats());

    let page_url = sockjs_url.clone();
    let server = HttpServer::new(move || {
        App::new()
            .service(chat.clone())
            .service(echo.clone())
            .service(stats.clone())
            .route(
                "/",
                support::page(include_str!("../static/chat.html"), &page_url),
            )
            .route(
                "/stats.html",
                support::page(include_str!("../static/stats.html"), &page_url),
            )
            .route(
                "/echo.html",
                support::page(include_str!("../static/echo.html"), &page_url),
            )
            .route("/sockjs.min.js", support::script(script.clone()))
    })
    // Aborted streaming requests close their sessions at once (see README).
    .h1_allow_half_closed(false)
    // A client that stops reading: the kernel ends its connection once the library
    // gave up on it (SockJsConfig::write_timeout, 30 s).
    .on_connect(socket_options(Some(Duration::from_secs(30))))
    // Signals are handled by GracefulShutdown below.
    .disable_signals()
    .bind(("127.0.0.1", port))
    .unwrap_or_else(|e| support::explain_bind_error(e, "chat", port));
    let port = server.addrs().first().map_or(port, |a| a.port());
    let running = server.run();
    // SIGTERM, SIGINT, SIGQUIT: every session gets `1001 Server shutting down` (and a
    // websocket close frame) before the server stops, within 5 s.
    GracefulShutdown::new(running.handle()).on_signals();
    println!(
        "chat demo on http://127.0.0.1:{port}/ (sockjs-client from {sockjs_url}); echo page on /echo.html"
    );
    running.await
}
