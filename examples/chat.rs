//! A chat with rooms: `/chat/{room}` is mounted once and serves every room.
//!
//! `./scripts/demo` (or `cargo run --example chat`), then open http://127.0.0.1:8080/
//! in two browser windows. `--port N` picks another port (0: any free one); the line
//! `chat demo on http://127.0.0.1:PORT/ ...` is printed once the port is bound, which is
//! what the browser tests (`scripts/test-browser`) wait for. Also served: the echo page at `/echo.html`, and the
//! statistics at `/stats` (JSON) and `/stats/prometheus`.
//!
//! Wire format (JSON text messages): the client sends `{"name": "..."}` once, then
//! `{"text": "..."}`; the server sends `{"type": "join" | "leave", "name"}`,
//! `{"type": "message", "name", "text"}` and `{"type": "roster", "names": [...]}`.
//!
//! The pages load sockjs-client from `/sockjs.min.js` when a local copy is installed
//! (`npm install --prefix vendor-js sockjs-client@1`, which `./scripts/demo` does), so
//! the demo works without internet; otherwise from the `sockjs_url` default.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_sockjs::{
    CloseReason, ConnectionInfo, GracefulShutdown, SessionHandle, SockJs, SockJsConfig,
    SockJsContext, SockJsHandler, StatsEndpoint, socket_options,
};
use actix_web::{App, HttpServer};
use parking_lot::Mutex;
use serde_json::json;

mod support;

/// Who is in which room: room name → session → display name.
type Rooms = Arc<Mutex<HashMap<String, HashMap<SessionHandle, String>>>>;

struct ChatMember {
    rooms: Rooms,
    room: String,
    name: Option<String>,
}

impl ChatMember {
    /// Everyone in the room but nobody else; the frame is encoded once.
    fn tell_room(&self, message: &serde_json::Value) {
        let members: Vec<SessionHandle> = self
            .rooms
            .lock()
            .get(&self.room)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        actix_sockjs::broadcast(&members, &message.to_string());
    }
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

impl actix::Actor for ChatMember {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for ChatMember {
    fn on_open(&mut self, info: ConnectionInfo, _: &mut SockJsContext<Self>) {
        self.room = info.param("room").unwrap_or("lobby").to_owned();
    }

    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&msg) else {
            session.close(3001, "messages are JSON");
            return;
        };
        match (&self.name, value["name"].as_str(), value["text"].as_str()) {
            (None, Some(raw), _) => {
                let Some(name) = clean_name(raw) else {
                    session.close(3002, "a name is needed");
                    return;
                };
                let handle = session.handle();
                let names: Vec<String> = {
                    let mut rooms = self.rooms.lock();
                    let members = rooms.entry(self.room.clone()).or_default();
                    members.insert(handle, name.clone());
                    members.values().cloned().collect()
                };
                self.name = Some(name.clone());
                self.tell_room(&json!({"type": "join", "name": name}));
                let _ = session.send_json(&json!({"type": "roster", "names": names}));
            }
            (Some(name), _, Some(text)) => {
                let text: String = text.chars().take(2000).collect();
                self.tell_room(&json!({"type": "message", "name": name, "text": text}));
            }
            _ => {}
        }
    }

    fn on_close(&mut self, _: &CloseReason, session: &mut SockJsContext<Self>) {
        let handle = session.handle();
        {
            let mut rooms = self.rooms.lock();
            if let Some(members) = rooms.get_mut(&self.room) {
                members.remove(&handle);
                if members.is_empty() {
                    rooms.remove(&self.room);
                }
            }
        }
        if let Some(name) = &self.name {
            self.tell_room(&json!({"type": "leave", "name": name}));
        }
    }
}

struct Echo;

impl actix::Actor for Echo {
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

    let rooms = Rooms::default();
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
