//! A chat with rooms: `/chat/{room}` is mounted once and serves every room.
//!
//! `./scripts/demo` (or `cargo run --example chat`), then open http://127.0.0.1:8080/
//! in two browser windows. `--port N` picks another port (0: any free one);
//! `--redis redis://HOST:PORT` makes rooms span every chat instance on that Redis
//! (README, "Scale-out"). The line
//! `chat demo on http://127.0.0.1:PORT/ ...` is printed once the port is bound, which is
//! what the browser tests (`scripts/test-browser`) wait for. Also served: the echo page at `/echo.html`, the
//! statistics at `/stats` (JSON) and `/stats/prometheus`, and live charts of them at
//! `/stats.html`.
//!
//! Each instance has one `Rooms` actor. A room's lines go through a [`Broadcaster`]
//! (topic = the room's name), which `Rooms` subscribes to on behalf of the room's
//! members on this instance and which, with `--redis`, relays them to every instance;
//! `Rooms` hands each line to its members' addresses as one shared frame. The roster
//! spans instances too: an instance's first member of a room makes it ask the others
//! (`{"type": "who"}`, which pages never see), and they answer with a roster line.
//!
//! Wire format (JSON text messages): the client sends `{"name": "..."}` once, then
//! `{"text": "..."}`; the server sends `{"type": "join" | "leave", "name"}`,
//! `{"type": "message", "name", "text"}` and `{"type": "roster", "names": [...]}` (names
//! to add to the list: one when joining, and more as other instances answer).
//!
//! The pages load sockjs-client from `/sockjs.min.js` when a local copy is installed
//! (`npm install --prefix vendor-js sockjs-client@1`, which `./scripts/demo` does), so
//! the demo works without internet; otherwise from the `sockjs_url` default.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, Message, MessageResult, WrapFuture,
};
use actix_sockjs::pubsub::{Broadcaster, Publish, RedisLink, Subscribe, TopicMessage, Unsubscribe};
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

/// One room as this instance sees it.
#[derive(Default)]
struct Room {
    /// The members on this instance, by address.
    members: HashMap<Addr<ChatMember>, String>,
    /// The names in the room on every instance, as announced by its lines.
    names: BTreeSet<String>,
}

impl Room {
    /// The names of this instance's members.
    fn local_names(&self) -> Vec<&String> {
        self.members.values().collect()
    }
}

/// Every room with members on this instance. One actor per instance: lines are
/// published to the broadcaster under the room's name, and come back (from every
/// instance) as [`TopicMessage`]s, which go to each member's address as one shared
/// frame.
struct Rooms {
    broadcaster: Addr<Broadcaster>,
    rooms: HashMap<String, Room>,
}

impl Rooms {
    fn publish(&self, room: &str, message: &serde_json::Value) {
        self.broadcaster
            .do_send(Publish::new(room, message.to_string()));
    }
}

impl Actor for Rooms {
    type Context = Context<Self>;

    /// The broadcaster drops lines for a member actor whose mailbox is full (16 by
    /// default); a busy room needs more.
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<Join> for Rooms {
    type Result = MessageResult<Join>;

    fn handle(&mut self, join: Join, ctx: &mut Context<Self>) -> Self::Result {
        let first_here = !self.rooms.contains_key(&join.room);
        let room = self.rooms.entry(join.room.clone()).or_default();
        room.members.insert(join.member, join.name.clone());
        room.names.insert(join.name.clone());
        let roster = room.names.iter().cloned().collect();
        if first_here {
            // From now on the room's lines reach this actor; the members elsewhere
            // are asked for (they answer with a roster line). Best effort: an answer
            // that reaches Redis before this instance's SUBSCRIBE is missed.
            let me = ctx.address().recipient::<TopicMessage>();
            self.broadcaster.do_send(Subscribe::new(&join.room, me));
            self.publish(&join.room, &json!({"type": "who"}));
        }
        self.publish(&join.room, &json!({"type": "join", "name": join.name}));
        MessageResult(roster)
    }
}

impl Handler<Leave> for Rooms {
    type Result = ();

    fn handle(&mut self, leave: Leave, ctx: &mut Context<Self>) {
        let Some(room) = self.rooms.get_mut(&leave.room) else {
            return;
        };
        let Some(name) = room.members.remove(&leave.member) else {
            return;
        };
        let emptied = room.members.is_empty();
        self.publish(&leave.room, &json!({"type": "leave", "name": name}));
        if emptied {
            self.rooms.remove(&leave.room);
            let me = ctx.address().recipient::<TopicMessage>();
            self.broadcaster.do_send(Unsubscribe::new(&leave.room, me));
        }
    }
}

impl Handler<Say> for Rooms {
    type Result = ();

    fn handle(&mut self, say: Say, _: &mut Context<Self>) {
        let message = json!({"type": "message", "name": say.name, "text": say.text});
        self.publish(&say.room, &message);
    }
}

/// A line of a room, from any instance: into the roster, and to every member here.
/// Rosters merge in the page, so a roster line is as good as several joins.
impl Handler<TopicMessage> for Rooms {
    type Result = ();

    fn handle(&mut self, msg: TopicMessage, _: &mut Context<Self>) {
        let Some(room) = self.rooms.get_mut(&*msg.topic) else {
            return;
        };
        let line: serde_json::Value = serde_json::from_str(msg.message.text()).unwrap_or_default();
        let name = line["name"].as_str().map(str::to_owned);
        match (line["type"].as_str(), name) {
            (Some("join"), Some(name)) => {
                room.names.insert(name);
            }
            (Some("leave"), Some(name)) => {
                room.names.remove(&name);
            }
            (Some("roster"), _) => {
                let names = line["names"].as_array().into_iter().flatten();
                room.names
                    .extend(names.filter_map(|n| n.as_str().map(str::to_owned)));
            }
            (Some("who"), _) => {
                // Another instance's first member of this room asks who is here.
                let roster = json!({"type": "roster", "names": room.local_names()});
                self.publish(&msg.topic, &roster);
                return;
            }
            _ => {}
        }
        let line = Line(msg.message);
        for member in room.members.keys() {
            // Never waits for a member: one whose client stops reading is closed as
            // a slow consumer once more than `max_queued_bytes` waits for it.
            member.do_send(line.clone());
        }
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
    let args = support::parse_args("chat", true)?;
    let port = args.port;
    let local = support::vendor_file("sockjs-client/dist/sockjs.min.js");
    let mut config = SockJsConfig::default();
    if local.is_some() {
        config = config.sockjs_url("/sockjs.min.js");
    }
    let sockjs_url = config.sockjs_url.clone();
    let script = local.map(std::fs::read).transpose()?;

    let mut broadcaster = Broadcaster::new();
    if let Some(url) = &args.redis {
        let link = RedisLink::new(url)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        broadcaster = broadcaster.redis(link);
    }
    let rooms = Rooms {
        broadcaster: broadcaster.start(),
        rooms: HashMap::new(),
    }
    .start();
    let chat = SockJs::new("/chat/{room}", move || ChatMember {
        rooms: rooms.clone(),
        room: String::new(),
        name: None,
    })
    .with_config(config.clone());
    let echo = SockJs::new("/echo", || Echo).with_config(config);
    let stats = StatsEndpoint::new("/stats")
        .service("chat", chat.stats())
        .service("echo", echo.stats());

    let page_url = sockjs_url.clone();
    // The app factory gets clones; `chat` and `echo` name the services to the shutdown.
    let (app_chat, app_echo) = (chat.clone(), echo.clone());
    let server = HttpServer::new(move || {
        App::new()
            .service(app_chat.clone())
            .service(app_echo.clone())
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
    // A websocket whose closing handshake is done is closed at once (README).
    .client_disconnect_timeout(Duration::ZERO)
    // Signals are handled by GracefulShutdown below.
    .disable_signals()
    .bind(("127.0.0.1", port))
    .unwrap_or_else(|e| support::explain_bind_error(e, "chat", port));
    let port = server.addrs().first().map_or(port, |a| a.port());
    let running = server.run();
    // SIGTERM, SIGINT, SIGQUIT: every session of both services gets `1001 Server
    // shutting down` (and a websocket close frame) before the server stops, within 5 s.
    GracefulShutdown::new(running.handle())
        .service(&chat)
        .service(&echo)
        .on_signals();
    println!(
        "chat demo on http://127.0.0.1:{port}/ (sockjs-client from {sockjs_url}); echo page on /echo.html"
    );
    running.await
}
