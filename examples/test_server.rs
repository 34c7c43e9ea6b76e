//! The services of sockjs-node's test server and the SockJS protocol suite, so any
//! SockJS test tool can be pointed at this crate.
//!
//! ```text
//! cargo run --release --example test_server -- --port 8081 [--workers N] [--sockjs-url URL]
//!     [--trusted-proxies IP[,IP...]] [--allowed-origins ORIGIN[,ORIGIN...]]
//!     [--redis redis://HOST:PORT]
//! ```
//!
//! Binds 127.0.0.1 and prints `listening on http://127.0.0.1:PORT` once it accepts
//! connections. Services: `/echo` (response_limit 4096), `/close` (closes at once with
//! 3000 `Go away!`), `/disabled_websocket_echo`, `/cookie_needed_echo`, `/broadcast`
//! (every message to every open session of `/broadcast`), `/amplify` (message `n`
//! answers `x` repeated 2^n times, n clamped to 1..19), `/ticker` (`tick` every second),
//! `/multiplex` (channels `ann`, `bob` and `carl` for the `websocket-multiplex` client,
//! each echoing every message back on its own channel).
//!
//! Not part of the protocol suite: `/client_info` sends, on open, one message
//! `{"ip":"<ConnectionInfo::ip()>","port":<this instance's port>}` and then echoes; the
//! proxy tests (`tests/it/behind_proxies.rs`) use it to see which instance a request
//! reached and which client address the handler was given. `--trusted-proxies` sets
//! `SockJsConfig::trusted_proxies` on every service (default: none);
//! `--allowed-origins` sets `SockJsConfig::allowed_origins` on every service (default
//! here: any origin, `OriginPattern::any()`, said explicitly, as the protocol suite
//! expects; the library's default is the service's own origin only; entries as
//! `OriginPattern` documents, e.g. `http://localhost:*`).
//!
//! `--permessage-deflate` offers websocket compression (RFC 7692) on every service
//! (`SockJsConfig::permessage_deflate`); off without it.
//!
//! `--redis URL` makes `/broadcast` span instances: every message goes, through a
//! [`Broadcaster`] relayed by that Redis (topic `broadcast`), to the `/broadcast`
//! sessions of every instance started with the same URL. Without it, `/broadcast`
//! keeps its members in a set of its own (the benchmark's single-instance baseline).

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext};
use actix_sockjs::multiplex::{ChannelContext, ChannelHandler, Multiplex};
use actix_sockjs::pubsub::{Broadcaster, Publish, RedisLink, Subscribe, UnsubscribeAll};
use actix_sockjs::{
    CloseReason, ConnectionInfo, GracefulShutdown, OriginPattern, PermessageDeflate, SessionHandle,
    SockJs, SockJsConfig, SockJsContext, SockJsHandler, socket_options,
};
use actix_web::{App, HttpServer};
use parking_lot::Mutex;

/// jemalloc rather than the platform's malloc: under session churn it gives pages
/// that stay free back to the system, so an instance's RSS follows what it holds
/// (the soak's check; Cargo.toml and README's deployment section say more).
#[cfg(all(unix, not(target_env = "musl")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

struct Echo;

impl actix::Actor for Echo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

struct Close;

impl actix::Actor for Close {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Close {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SockJsContext<Self>) {
        session.close(3000, "Go away!");
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}
}

type Members = Arc<Mutex<HashSet<SessionHandle>>>;

/// Where `/broadcast` keeps its members: a set of this instance's sessions, or a
/// broadcaster relayed through Redis (`--redis`).
#[derive(Clone)]
enum Audience {
    Local(Members),
    Topic(Addr<Broadcaster>),
}

/// The Redis topic of `/broadcast`.
const BROADCAST_TOPIC: &str = "broadcast";

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
            Audience::Local(members) => {
                let members: Vec<SessionHandle> = members.lock().iter().cloned().collect();
                actix_sockjs::broadcast(&members, &msg);
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

struct Amplify;

impl actix::Actor for Amplify {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Amplify {
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        let n = msg.trim().parse::<u32>().unwrap_or(1).clamp(1, 19);
        session.send("x".repeat(1 << n));
    }
}

struct Ticker;

impl actix::Actor for Ticker {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Ticker {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SockJsContext<Self>) {
        session.run_interval(Duration::from_secs(1), |_, session| session.send("tick"));
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}
}

struct ChannelEcho;

impl ChannelHandler for ChannelEcho {
    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
        channel.send(&msg);
    }
}

/// Tells the client, on open, the address the handler was given and the port of this
/// instance, then echoes.
struct ClientInfo {
    /// Set once the server is bound (`--port 0` picks any free port).
    port: Arc<AtomicU16>,
}

impl actix::Actor for ClientInfo {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for ClientInfo {
    fn on_open(&mut self, info: ConnectionInfo, session: &mut SockJsContext<Self>) {
        let ip = info.ip().map(|ip| ip.to_string());
        let port = self.port.load(Ordering::Relaxed);
        session.send(serde_json::json!({ "ip": ip, "port": port }).to_string());
    }

    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
}

struct Args {
    port: u16,
    workers: Option<usize>,
    sockjs_url: Option<String>,
    trusted_proxies: Vec<IpAddr>,
    allowed_origins: Option<Vec<OriginPattern>>,
    redis: Option<RedisLink>,
    permessage_deflate: bool,
}

fn parse_ips(list: &str) -> Result<Vec<IpAddr>, String> {
    list.split(',')
        .map(|ip| {
            ip.trim()
                .parse()
                .map_err(|e| format!("--trusted-proxies: {ip:?}: {e}"))
        })
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 8081,
        workers: None,
        sockjs_url: None,
        trusted_proxies: Vec::new(),
        allowed_origins: None,
        redis: None,
        permessage_deflate: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().map_err(|e| format!("--port: {e}"))?,
            "--workers" => {
                args.workers = Some(value()?.parse().map_err(|e| format!("--workers: {e}"))?)
            }
            "--sockjs-url" => args.sockjs_url = Some(value()?),
            "--trusted-proxies" => args.trusted_proxies = parse_ips(&value()?)?,
            "--allowed-origins" => {
                let list = value()?
                    .split(',')
                    .map(|o| {
                        o.trim()
                            .parse()
                            .map_err(|e| format!("--allowed-origins: {e}"))
                    })
                    .collect::<Result<_, _>>()?;
                args.allowed_origins = Some(list);
            }
            "--redis" => {
                let url = value()?;
                args.redis = Some(RedisLink::new(&url).map_err(|e| format!("--redis: {e}"))?);
            }
            "--permessage-deflate" => args.permessage_deflate = true,
            "-h" | "--help" => {
                return Err(
                    "usage: test_server [--port N] [--workers N] [--sockjs-url URL] \
                     [--trusted-proxies IP[,IP...]] [--allowed-origins ORIGIN[,ORIGIN...]] \
                     [--redis redis://HOST:PORT] [--permessage-deflate]"
                        .into(),
                );
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
    let mut base = SockJsConfig::default();
    if let Some(url) = args.sockjs_url {
        base = base.sockjs_url(url);
    }
    base = base.trusted_proxies(args.trusted_proxies);
    // Every origin unless told otherwise: the protocol's test suites open sessions
    // from pages of other origins, and expect `/info` to say `*:*`. A service's
    // default is its own origin only.
    base = base.allowed_origins(
        args.allowed_origins
            .unwrap_or_else(|| vec![OriginPattern::any()]),
    );
    if args.permessage_deflate {
        base = base.permessage_deflate(PermessageDeflate::default());
    }
    let echo = SockJs::new("/echo", || Echo).with_config(base.clone().response_limit(4096));
    let close = SockJs::new("/close", || Close).with_config(base.clone());
    let no_ws =
        SockJs::new("/disabled_websocket_echo", || Echo).with_config(base.clone().websocket(false));
    let cookie =
        SockJs::new("/cookie_needed_echo", || Echo).with_config(base.clone().cookie_needed(true));
    let audience = match args.redis {
        Some(link) => Audience::Topic(Broadcaster::new().redis(link).start()),
        None => Audience::Local(Members::default()),
    };
    let broadcast = SockJs::new("/broadcast", move || Broadcast {
        audience: audience.clone(),
    })
    .with_config(base.clone());
    let amplify = SockJs::new("/amplify", || Amplify).with_config(base.clone());
    let ticker = SockJs::new("/ticker", || Ticker).with_config(base.clone());
    let channels = Multiplex::new()
        .channel("ann", || ChannelEcho)
        .channel("bob", || ChannelEcho)
        .channel("carl", || ChannelEcho);
    let multiplex = SockJs::new("/multiplex", move || channels.session()).with_config(base.clone());
    let bound_port = Arc::new(AtomicU16::new(0));
    let info_port = bound_port.clone();
    let client_info = SockJs::new("/client_info", move || ClientInfo {
        port: info_port.clone(),
    })
    .with_config(base);

    // The shutdown names every service the server runs.
    let shutdown = |handle| {
        GracefulShutdown::new(handle)
            .service(&echo)
            .service(&close)
            .service(&no_ws)
            .service(&cookie)
            .service(&broadcast)
            .service(&amplify)
            .service(&ticker)
            .service(&multiplex)
            .service(&client_info)
    };
    let services = (
        echo.clone(),
        close.clone(),
        no_ws.clone(),
        cookie.clone(),
        broadcast.clone(),
        amplify.clone(),
        ticker.clone(),
        multiplex.clone(),
        client_info.clone(),
    );
    let mut server = HttpServer::new(move || {
        let (echo, close, no_ws, cookie, broadcast, amplify, ticker, multiplex, client_info) =
            services.clone();
        App::new()
            .service(echo)
            .service(close)
            .service(no_ws)
            .service(cookie)
            .service(broadcast)
            .service(amplify)
            .service(ticker)
            .service(multiplex)
            .service(client_info)
    })
    // A client that aborts a streaming request must close its session at once (the
    // protocol suite checks it); with half-closed connections allowed, actix would
    // notice only at the next write.
    .h1_allow_half_closed(false)
    // A client that stops reading: the kernel ends its connection once the library
    // gave up on it (SockJsConfig::write_timeout, 30 s).
    .on_connect(socket_options(Some(Duration::from_secs(30))))
    // A websocket whose closing handshake is done is closed at once (RFC 6455
    // §7.1.1), not after actix-web's one-second wait for the client to hang up.
    .client_disconnect_timeout(Duration::ZERO)
    // Signals are handled by GracefulShutdown below.
    .disable_signals();
    if let Some(workers) = args.workers {
        server = server.workers(workers.max(1));
    }
    let server = server.bind(("127.0.0.1", args.port))?;
    let port = server.addrs().first().map_or(args.port, |a| a.port());
    bound_port.store(port, Ordering::Relaxed);
    let running = server.run();
    // SIGTERM, SIGINT, SIGQUIT: every session of every service gets `1001 Server
    // shutting down` (and a websocket close frame) before the server stops, within 5 s.
    shutdown(running.handle()).on_signals();
    println!("listening on http://127.0.0.1:{port}");
    running.await
}
