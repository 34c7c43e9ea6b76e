//! Shared helpers for the integration tests: servers on 127.0.0.1 with the handlers the
//! tests need, an event recorder to await what a handler saw, and small HTTP helpers.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use actix_sockjs::{
    CloseReason, ConnectionInfo, SessionContext, SockJs, SockJsConfig, SockJsHandler,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long any single awaited event may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Echoes every message.
pub struct Echo;

impl SockJsHandler for Echo {
    fn on_message(&mut self, msg: String, session: &mut SessionContext<'_, Self>) {
        session.send(&msg);
    }
}

/// Closes every session at once with 3000 `Go away!`.
pub struct Close;

impl SockJsHandler for Close {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SessionContext<'_, Self>) {
        session.close(3000, "Go away!");
    }
    fn on_message(&mut self, _: String, _: &mut SessionContext<'_, Self>) {}
}

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Open(String),
    Message(String),
    Close(CloseReason),
}

/// Echoes, and reports every handler call to the test.
pub struct Recorder {
    pub events: UnboundedSender<Event>,
}

impl SockJsHandler for Recorder {
    fn on_open(&mut self, info: ConnectionInfo, session: &mut SessionContext<'_, Self>) {
        let _ = info;
        let _ = self.events.send(Event::Open(session.id().to_owned()));
    }
    fn on_message(&mut self, msg: String, session: &mut SessionContext<'_, Self>) {
        let _ = self.events.send(Event::Message(msg.clone()));
        if msg == "close" {
            session.close(3001, "asked to");
        } else {
            session.send(&msg);
        }
    }
    fn on_close(&mut self, reason: &CloseReason, _: &mut SessionContext<'_, Self>) {
        let _ = self.events.send(Event::Close(reason.clone()));
    }
}

/// A test server with `/echo`, `/close` and `/rec` (a [`Recorder`]), all on `config`.
pub fn server(config: SockJsConfig) -> (actix_test::TestServer, UnboundedReceiver<Event>) {
    let (tx, rx) = unbounded_channel();
    let echo = SockJs::new("/echo", || Echo).config(config.clone());
    let close = SockJs::new("/close", || Close).config(config.clone());
    let rec = SockJs::new("/rec", move || Recorder { events: tx.clone() }).config(config);
    let srv = actix_test::start(move || {
        App::new()
            .service(echo.clone())
            .service(close.clone())
            .service(rec.clone())
    });
    (srv, rx)
}

/// The next recorded event, failing the test after [`DEADLINE`].
pub async fn next_event(rx: &mut UnboundedReceiver<Event>) -> Event {
    match actix_rt::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("recorder channel closed"),
        Err(_) => panic!("no event within {DEADLINE:?}"),
    }
}

/// A fresh random session id.
pub fn session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Body of a response as text.
pub async fn text<S>(res: &mut awc::ClientResponse<S>) -> String
where
    S: futures_core::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    let body = res.body().limit(16 * 1024 * 1024).await.expect("body");
    String::from_utf8(body.to_vec()).expect("utf-8 body")
}

/// A header of a response as text.
pub fn header<S>(res: &awc::ClientResponse<S>, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
