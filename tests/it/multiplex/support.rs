//! The channel handlers, the multiplexing server and the websocket client of
//! tests/it/multiplex.rs.

use std::collections::VecDeque;

use actix_sockjs::multiplex::{
    ChannelCloseReason, ChannelContext, ChannelHandle, ChannelHandler, Multiplex,
};
use actix_sockjs::{ConnectionInfo, SockJs};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common::{DEADLINE, Ws, session_id, ws_connect, ws_send, ws_text};

/// Echoes every message on its own channel.
pub(crate) struct ChannelEcho;

impl ChannelHandler for ChannelEcho {
    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
        channel.send(&msg);
    }
}

/// Refuses every subscription.
pub(crate) struct Refuse;

impl ChannelHandler for Refuse {
    fn on_open(&mut self, _: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        channel.close();
    }
    fn on_message(&mut self, _: String, _: &mut ChannelContext<'_>) {}
}

/// What a [`Recorder`] channel saw, tagged with the channel's name.
#[derive(Debug)]
pub(crate) enum Seen {
    Open(ChannelHandle),
    Message(String, String),
    Close(String, ChannelCloseReason),
    /// The handler value was dropped: nothing can be called on it any more.
    Dropped(String),
}

/// Echoes, reports every call, closes its channel on `close`, its session on `kill`,
/// and sends a message after a close to prove it is dropped.
pub(crate) struct Recorder {
    name: String,
    seen: UnboundedSender<Seen>,
}

impl ChannelHandler for Recorder {
    fn on_open(&mut self, info: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        let _ = self.seen.send(Seen::Open(channel.handle()));
        channel.send(format!(
            "hello from {} over {}",
            channel.name(),
            info.transport().name()
        ));
    }

    fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
        let _ = self
            .seen
            .send(Seen::Message(self.name.clone(), msg.clone()));
        match msg.as_str() {
            "close" => {
                channel.send("bye");
                channel.close();
                channel.send("after close");
            }
            "kill" => {
                let _ = channel.session().close(3002, "killed");
            }
            _ => channel.send(&msg),
        }
    }

    fn on_close(&mut self, reason: &ChannelCloseReason, channel: &mut ChannelContext<'_>) {
        channel.send("never sent");
        let _ = self
            .seen
            .send(Seen::Close(self.name.clone(), reason.clone()));
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.seen.send(Seen::Dropped(self.name.clone()));
    }
}

pub(crate) fn mux_server() -> (actix_test::TestServer, UnboundedReceiver<Seen>) {
    let (tx, rx) = unbounded_channel();
    let (tx1, tx2) = (tx.clone(), tx);
    let channels = Multiplex::new()
        .channel("echo", || ChannelEcho)
        .channel("refuse", || Refuse)
        .channel("a b,c", || ChannelEcho)
        .channel("rec", move || Recorder {
            name: "rec".into(),
            seen: tx1.clone(),
        })
        .channel("rec2", move || Recorder {
            name: "rec2".into(),
            seen: tx2.clone(),
        });
    let service = SockJs::new("/mux", move || channels.session());
    let srv = actix_test::start(move || App::new().service(service.clone()));
    (srv, rx)
}

/// A SockJS websocket client that hands out messages one at a time, whatever frames
/// the server batched them in.
pub(crate) struct Client {
    ws: Ws,
    pending: VecDeque<String>,
}

impl Client {
    pub(crate) async fn connect(srv: &actix_test::TestServer) -> Client {
        let mut ws = ws_connect(srv, &format!("/mux/000/{}/websocket", session_id())).await;
        assert_eq!(ws_text(&mut ws).await, "o");
        Client {
            ws,
            pending: VecDeque::new(),
        }
    }

    pub(crate) async fn send(&mut self, msg: &str) {
        let frame = serde_json::to_string(&[msg]).expect("a string serialises");
        ws_send(&mut self.ws, &frame).await;
    }

    /// The next message; fails on a close frame or after the deadline.
    pub(crate) async fn recv(&mut self) -> String {
        loop {
            if let Some(msg) = self.pending.pop_front() {
                return msg;
            }
            let frame = ws_text(&mut self.ws).await;
            match frame.strip_prefix('a') {
                Some(json) => self
                    .pending
                    .extend(serde_json::from_str::<Vec<String>>(json).expect("a[...] frame")),
                None if frame == "h" => continue,
                None => panic!("expected a message frame, got {frame:?}"),
            }
        }
    }

    /// The next frame after the queued messages, which must be the close frame.
    pub(crate) async fn close_frame(&mut self) -> String {
        assert!(self.pending.is_empty(), "unread: {:?}", self.pending);
        ws_text(&mut self.ws).await
    }
}

pub(crate) async fn next_seen(rx: &mut UnboundedReceiver<Seen>) -> Seen {
    match actix_rt::time::timeout(DEADLINE, rx.recv()).await {
        Ok(Some(seen)) => seen,
        Ok(None) => panic!("recorder channel closed"),
        Err(_) => panic!("nothing seen within {DEADLINE:?}"),
    }
}

pub(crate) async fn next_open(rx: &mut UnboundedReceiver<Seen>) -> ChannelHandle {
    match next_seen(rx).await {
        Seen::Open(handle) => handle,
        other => panic!("expected an open, got {other:?}"),
    }
}
