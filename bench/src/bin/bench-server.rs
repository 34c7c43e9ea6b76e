//! The server side of the benchmark: SockJS services and, in the same process, the
//! bare actix-web websocket echo they are compared with.
//!
//! ```text
//! bench-server [--port N] [--workers N] [--redis redis://127.0.0.1:PORT] [--count-heap]
//!              [--permessage-deflate]
//! ```
//!
//! Binds 127.0.0.1 (port 0 picks a free one), prints
//! `listening on http://127.0.0.1:PORT pid PID` once it accepts connections, and
//! serves:
//!
//! - `/echo`: SockJS echo, default configuration (`response_limit` 128 KiB);
//! - `/echo-inflating`: `/echo`, whose clients are not asked to compress each message
//!   on its own (under `--permessage-deflate`): each connection that sent a
//!   compressed message keeps an inflater (`idle-ws-deflate-own`);
//! - `/echo4k`: the same with `response_limit` 4 KiB, as test_server's `/echo`, so
//!   xhr_streaming responses end and are reopened every few dozen messages;
//! - `/broadcast`: SockJS, every message to every open session of `/broadcast`, the
//!   frame encoded once ([`actix_sockjs::broadcast`]); with `--redis URL`, to every
//!   `/broadcast` session of every instance started with that URL instead, through an
//!   [`actix_sockjs::pubsub::Broadcaster`] relayed by that Redis (topic `broadcast`):
//!   the `broadcast-redis` scenario's topology;
//! - `/room`: SockJS, every message to every open session of `/room` as a room of
//!   actors does it: each session's actor joins one [`Room`] actor with its `Addr`,
//!   and the room sends every member a [`Line`] carrying one `PreparedMessage` with
//!   `Addr::do_send`, which the member writes with `send_prepared` (the `stuck-addr`
//!   scenario; default configuration, as `/broadcast`);
//! - `/bare`: a plain actix-web websocket echo through `actix_web_actors::ws::start`,
//!   the crate (and version) the SockJS websocket transport uses, no SockJS at all;
//! - `/bare-broadcast`: `/broadcast` without SockJS, as cheaply as actix-http allows
//!   (a plain websocket response whose body writes frames encoded once for every
//!   connection of its thread; [`sockjs_bench::bare_fanout`]): `fanout-19k-bare`;
//! - `/bare-stream` (POST): a plain actix-web streaming response that sends what an
//!   xhr_streaming response starts with (2048 `h` and a newline, then `o` and a
//!   newline) and stays open: the memory floor of an xhr_streaming session;
//! - `/heap`: with `--count-heap`, the live heap bytes its allocator counts
//!   ([`sockjs_bench::heap`]), as a decimal number; 404 without.
//!
//! With `--permessage-deflate`, every SockJS service above agrees to permessage-deflate
//! (RFC 7692, `PermessageDeflate::default()`) with the clients that offer it (the
//! `*-deflate` scenarios); without it, none does.
//!
//! One worker by default, so the whole server runs on one thread (plus actix's idle
//! accept thread) and can be pinned to one core.

use std::collections::HashSet;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix::{Actor, ActorContext, Addr, AsyncContext, Handler, Message, StreamHandler};
use actix_sockjs::pubsub::{Broadcaster, Publish, RedisLink, Subscribe, UnsubscribeAll};
use actix_sockjs::{
    CloseReason, ConnectionInfo, PermessageDeflate, PreparedMessage, SessionHandle, SockJs,
    SockJsConfig, SockJsContext, SockJsHandler,
};
use actix_web::{App, Error, HttpRequest, HttpResponse, HttpServer, web};
use actix_web_actors::ws;
use bytes::Bytes;
use futures_core::Stream;
use parking_lot::Mutex;

/// SockJS echo.
struct Echo;

impl actix::Actor for Echo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

type Members = Arc<Mutex<HashSet<SessionHandle>>>;

/// Where `/broadcast` keeps its members: a set of this instance's sessions (the
/// default), or a broadcaster relayed through Redis (`--redis`).
#[derive(Clone)]
enum Audience {
    Local(Members),
    Topic(Addr<Broadcaster>),
}

/// The Redis topic of `/broadcast` under `--redis`.
const BROADCAST_TOPIC: &str = "broadcast";

/// SockJS broadcast: each message goes to every open session of the service (of every
/// instance, under `--redis`).
struct Broadcast {
    audience: Audience,
}

impl actix::Actor for Broadcast {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Broadcast {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SockJsContext<Self>) {
        match &self.audience {
            Audience::Local(members) => {
                members.lock().insert(session.session_handle());
            }
            Audience::Topic(topics) => {
                topics.do_send(Subscribe::new(BROADCAST_TOPIC, session.session_handle()));
            }
        }
    }

    fn on_message(&mut self, msg: String, _: &mut SockJsContext<Self>) {
        match &self.audience {
            // One worker: the lock is never contended. Broadcasting while holding it
            // saves cloning 1000 handles per message; `broadcast` only queues (it never
            // calls back into a handler), so this cannot deadlock.
            Audience::Local(members) => {
                actix_sockjs::broadcast(members.lock().iter(), &msg);
            }
            Audience::Topic(topics) => topics.do_send(Publish::new(BROADCAST_TOPIC, msg)),
        }
    }

    fn on_close(&mut self, _: &CloseReason, session: &mut SockJsContext<Self>) {
        match &self.audience {
            Audience::Local(members) => {
                members.lock().remove(&session.session_handle());
            }
            Audience::Topic(topics) => {
                topics.do_send(UnsubscribeAll::new(session.session_handle()))
            }
        }
    }
}

/// A line of `/room`, encoded once for every member.
#[derive(Message, Clone)]
#[rtype(result = "()")]
struct Line(PreparedMessage);

/// What a `/room` member tells its room.
#[derive(Message)]
#[rtype(result = "()")]
enum ToRoom {
    /// A session opened: its actor's address joins.
    Join(Addr<RoomMember>),
    /// A session closed: its actor's address leaves.
    Leave(Addr<RoomMember>),
    /// A member said something: to every member, the sayer included.
    Say(String),
}

/// The one room of `/room`, an ordinary actor: its members' addresses.
#[derive(Default)]
struct Room {
    members: HashSet<Addr<RoomMember>>,
}

impl Actor for Room {
    type Context = actix::Context<Self>;
}

impl Handler<ToRoom> for Room {
    type Result = ();

    fn handle(&mut self, msg: ToRoom, _: &mut actix::Context<Self>) {
        match msg {
            ToRoom::Join(member) => {
                self.members.insert(member);
            }
            ToRoom::Leave(member) => {
                self.members.remove(&member);
            }
            ToRoom::Say(text) => {
                let line = Line(PreparedMessage::new(text));
                // `do_send`, as a room does: it never waits for, nor drops on, a
                // member's full mailbox. What bounds a member that does not read is
                // the library's business (`max_queued_bytes`).
                for member in &self.members {
                    member.do_send(line.clone());
                }
            }
        }
    }
}

/// A `/room` session: an actor whose context is the session, in the room from open to
/// close.
struct RoomMember {
    room: Addr<Room>,
}

impl Actor for RoomMember {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for RoomMember {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        self.room.do_send(ToRoom::Join(ctx.address()));
    }

    fn on_message(&mut self, msg: String, _: &mut SockJsContext<Self>) {
        self.room.do_send(ToRoom::Say(msg));
    }

    fn on_close(&mut self, _: &CloseReason, ctx: &mut SockJsContext<Self>) {
        self.room.do_send(ToRoom::Leave(ctx.address()));
    }
}

/// A room's line reaches the member's session as the member's own message.
impl Handler<Line> for RoomMember {
    type Result = ();

    fn handle(&mut self, Line(line): Line, ctx: &mut SockJsContext<Self>) {
        ctx.send_prepared(&line);
    }
}

/// The baseline: the smallest websocket echo actix-web-actors allows.
struct BareEcho;

impl Actor for BareEcho {
    type Context = ws::WebsocketContext<Self>;
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for BareEcho {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) => ctx.text(text),
            Ok(ws::Message::Binary(bytes)) => ctx.binary(bytes),
            Ok(ws::Message::Ping(bytes)) => ctx.pong(&bytes),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(_) => {}
            Err(_) => ctx.stop(),
        }
    }
}

async fn bare(req: HttpRequest, stream: web::Payload) -> Result<HttpResponse, Error> {
    ws::start(BareEcho, &req, stream)
}

/// A response body that yields the xhr_streaming prelude and an open frame, then
/// nothing: actix drops it when the client goes.
struct HeldStream {
    step: u8,
}

impl Stream for HeldStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.step = self.step.saturating_add(1);
        match self.step {
            1 => {
                let mut prelude = vec![b'h'; 2048];
                prelude.push(b'\n');
                Poll::Ready(Some(Ok(Bytes::from(prelude))))
            }
            2 => Poll::Ready(Some(Ok(Bytes::from_static(b"o\n")))),
            _ => Poll::Pending,
        }
    }
}

async fn bare_stream() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=UTF-8")
        .streaming(HeldStream { step: 0 })
}

/// Counts live heap bytes under `--count-heap` (and costs one relaxed load per
/// allocation without).
#[global_allocator]
static ALLOCATOR: sockjs_bench::heap::CountingAllocator = sockjs_bench::heap::CountingAllocator;

/// `GET /heap`: the live heap bytes, when counted.
async fn heap() -> HttpResponse {
    if sockjs_bench::heap::enabled() {
        HttpResponse::Ok().body(sockjs_bench::heap::live().to_string())
    } else {
        HttpResponse::NotFound().body("bench-server runs without --count-heap")
    }
}

struct Args {
    port: u16,
    workers: usize,
    redis: Option<RedisLink>,
    count_heap: bool,
    /// `--permessage-deflate`: the SockJS services agree to it.
    permessage_deflate: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8090,
        workers: 1,
        redis: None,
        count_heap: false,
        permessage_deflate: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--workers" => {
                args.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?;
            }
            "--redis" => {
                let url = value()?;
                args.redis = Some(RedisLink::new(&url).map_err(|e| format!("--redis: {e}"))?);
            }
            "--count-heap" => args.count_heap = true,
            "--permessage-deflate" => args.permessage_deflate = true,
            "-h" | "--help" => {
                return Err("usage: bench-server [--port N] [--workers N] \
                     [--redis redis://HOST:PORT] [--count-heap] [--permessage-deflate]"
                    .into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::init_from_env(env_logger::Env::default().default_filter_or("warn"));
    let args =
        parse_args().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    if args.count_heap {
        sockjs_bench::heap::enable();
    }
    // The idle scenarios hold 5000+ connections.
    let nofile = sockjs_bench::raise_nofile_limit();
    // Every SockJS service's configuration starts here: the default, with
    // permessage-deflate under `--permessage-deflate`.
    let base = if args.permessage_deflate {
        SockJsConfig::default().permessage_deflate(PermessageDeflate::default())
    } else {
        SockJsConfig::default()
    };
    let echo = SockJs::new("/echo", || Echo).with_config(base.clone());
    let echo4k = SockJs::new("/echo4k", || Echo).with_config(base.clone().response_limit(4096));
    // The same echo whose clients keep their compression context, so that each
    // connection that sent a compressed message holds an inflater of its own.
    let own_inflater = base.permessage_deflate.map(|deflate| {
        base.clone()
            .permessage_deflate(deflate.client_no_context_takeover(false))
    });
    let echo_inflating = SockJs::new("/echo-inflating", || Echo)
        .with_config(own_inflater.unwrap_or_else(|| base.clone()));
    // One broadcaster for the process, shared by every worker.
    let audience = match args.redis {
        Some(link) => Audience::Topic(Broadcaster::new().redis(link).start()),
        None => Audience::Local(Members::default()),
    };
    let broadcast = SockJs::new("/broadcast", move || Broadcast {
        audience: audience.clone(),
    })
    .with_config(base.clone());
    // One room for the process, started here (on the system's arbiter), shared by
    // every worker.
    let room = Room::default().start();
    let room = SockJs::new("/room", move || RoomMember { room: room.clone() }).with_config(base);
    let server = HttpServer::new(move || {
        App::new()
            .service(echo.clone())
            .service(echo4k.clone())
            .service(echo_inflating.clone())
            .service(broadcast.clone())
            .service(room.clone())
            .route("/bare", web::get().to(bare))
            .route(
                "/bare-broadcast",
                web::get().to(sockjs_bench::bare_fanout::bare_broadcast),
            )
            .route("/bare-stream", web::post().to(bare_stream))
            .route("/heap", web::get().to(heap))
    })
    .workers(args.workers.max(1))
    // As in the examples: a client that goes away is noticed at once.
    .h1_allow_half_closed(false)
    .backlog(4096)
    // TCP_NODELAY on every connection, bare ones included, as a SockJS server sets it
    // (README, "Limits and slow consumers").
    .on_connect(actix_sockjs::socket_options(None))
    .bind(("127.0.0.1", args.port))?;
    let port = server.addrs().first().map_or(args.port, |a| a.port());
    let running = server.run();
    println!(
        "listening on http://127.0.0.1:{port} pid {} nofile {nofile}",
        std::process::id()
    );
    running.await
}
