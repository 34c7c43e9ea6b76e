//! The clients of tests/it/scale_out.rs: SockJS sessions on `/broadcast` through a
//! front address, each a task that reports what it sees, and reconnects (with a new
//! session) when its session ends; a publisher straight to one instance.

use std::net::SocketAddr;
use std::time::Duration;

use actix_rt::time::{sleep, timeout};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::common::{DEADLINE, Ws, session_id, ws_handshake, ws_send, ws_text};

/// Sessions a client opens at most (its first and its reconnects).
const SESSIONS: usize = 4;
/// Attempts to open a session before a client gives up, and the pause between them.
const OPEN_ATTEMPTS: usize = 200;
const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSocket,
    XhrStreaming,
    XhrPolling,
}

/// What one client saw: the messages of each of its sessions, in order.
#[derive(Debug)]
pub(crate) struct ClientLog {
    pub(crate) index: usize,
    pub(crate) transport: Transport,
    pub(crate) session_ids: Vec<String>,
    pub(crate) sessions: Vec<Vec<String>>,
    /// How many of its sessions ended.
    pub(crate) ended: usize,
}

impl ClientLog {
    /// The messages of its latest session.
    pub(crate) fn current(&self) -> &[String] {
        self.sessions.last().map_or(&[], Vec::as_slice)
    }
}

enum Event {
    Opened { client: usize, id: String },
    Message { client: usize, text: String },
    Ended { client: usize },
}

/// Every client's log, fed by their tasks.
pub(crate) struct Clients {
    logs: Vec<ClientLog>,
    events: UnboundedReceiver<Event>,
}

impl Clients {
    /// `per_transport` clients of each transport, connecting through `front`.
    pub(crate) fn start(front: SocketAddr, per_transport: usize) -> Clients {
        let (tx, events) = unbounded_channel();
        let mut logs = Vec::new();
        for transport in [
            Transport::WebSocket,
            Transport::XhrStreaming,
            Transport::XhrPolling,
        ] {
            for _ in 0..per_transport {
                let index = logs.len();
                logs.push(ClientLog {
                    index,
                    transport,
                    session_ids: Vec::new(),
                    sessions: Vec::new(),
                    ended: 0,
                });
                actix_rt::spawn(run_client(index, transport, front, tx.clone()));
            }
        }
        Clients { logs, events }
    }

    pub(crate) fn len(&self) -> usize {
        self.logs.len()
    }

    pub(crate) fn logs(&self) -> &[ClientLog] {
        &self.logs
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Opened { client, id } => {
                let log = &mut self.logs[client];
                log.session_ids.push(id);
                log.sessions.push(Vec::new());
            }
            Event::Message { client, text } => {
                if let Some(session) = self.logs[client].sessions.last_mut() {
                    session.push(text);
                }
            }
            Event::Ended { client } => self.logs[client].ended += 1,
        }
    }

    /// Takes in what the clients reported until `done` holds (true) or `bound`
    /// passed (false).
    pub(crate) async fn wait_for(
        &mut self,
        bound: Duration,
        done: impl Fn(&[ClientLog]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            while let Ok(event) = self.events.try_recv() {
                self.apply(event);
            }
            if done(&self.logs) {
                return true;
            }
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => self.apply(event),
                Ok(None) => panic!("every client task ended"),
                Err(_) => return false,
            }
        }
    }

    /// [`wait_for`](Self::wait_for), failing the test if `what` is not true within
    /// `bound`; the logs.
    pub(crate) async fn wait(
        &mut self,
        bound: Duration,
        what: &str,
        done: impl Fn(&[ClientLog]) -> bool,
    ) -> &[ClientLog] {
        if !self.wait_for(bound, &done).await {
            let late: Vec<_> = self
                .logs
                .iter()
                .filter(|c| !done(std::slice::from_ref(*c)))
                .take(5)
                .collect();
            panic!("not true within {bound:?}: {what}; for instance {late:#?}");
        }
        &self.logs
    }
}

/// A client: a session, then a new one each time it ends, at most [`SESSIONS`].
async fn run_client(
    index: usize,
    transport: Transport,
    front: SocketAddr,
    events: UnboundedSender<Event>,
) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .finish();
    for _ in 0..SESSIONS {
        let mut session = Session {
            index,
            id: session_id(),
            events: events.clone(),
            opened: false,
        };
        let base = format!("{front}/broadcast/000/{}", session.id);
        match transport {
            Transport::WebSocket => websocket(&client, &base, &mut session).await,
            Transport::XhrStreaming => xhr_streaming(&client, &base, &mut session).await,
            Transport::XhrPolling => xhr_polling(&client, &base, &mut session).await,
        }
        if !session.opened {
            return;
        }
        session.report(Event::Ended { client: index });
    }
}

/// One session of a client, as its frames arrive.
struct Session {
    index: usize,
    id: String,
    events: UnboundedSender<Event>,
    opened: bool,
}

/// What a frame means for the session.
#[derive(PartialEq)]
enum Frame {
    Going,
    Closed,
}

impl Session {
    fn report(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Reports what one SockJS frame says. An `o` on a session already open means
    /// the server did not know it any more (its instance went) and started a new
    /// one under the same id.
    fn frame(&mut self, frame: &str) -> Frame {
        let client = self.index;
        match frame.as_bytes().first() {
            Some(b'o') => {
                if self.opened {
                    self.report(Event::Ended { client });
                }
                self.opened = true;
                self.report(Event::Opened {
                    client,
                    id: self.id.clone(),
                });
            }
            Some(b'a') => match serde_json::from_str::<Vec<String>>(&frame[1..]) {
                Ok(texts) => {
                    for text in texts {
                        self.report(Event::Message { client, text });
                    }
                }
                Err(e) => panic!("client {client}: bad frame {frame:?}: {e}"),
            },
            Some(b'c') => return Frame::Closed,
            _ => {}
        }
        Frame::Going
    }

    /// Every complete line of `buffer` as a frame; keeps the incomplete rest.
    fn lines(&mut self, buffer: &mut Vec<u8>) -> Frame {
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]).into_owned();
            if self.frame(&text) == Frame::Closed {
                return Frame::Closed;
            }
        }
        Frame::Going
    }
}

async fn websocket(client: &awc::Client, base: &str, session: &mut Session) {
    let url = format!("ws://{base}/websocket");
    let mut ws = None;
    for _ in 0..OPEN_ATTEMPTS {
        if let Ok(Ok((_, socket))) = timeout(DEADLINE, client.ws(&url).connect()).await {
            ws = Some(socket);
            break;
        }
        sleep(RETRY_PAUSE).await;
    }
    let Some(mut ws) = ws else { return };
    while let Some(Ok(frame)) = ws.next().await {
        match frame {
            awc::ws::Frame::Text(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if session.frame(&text) == Frame::Closed {
                    return;
                }
            }
            awc::ws::Frame::Ping(bytes) => {
                let answered = ws.send(awc::ws::Message::Pong(bytes)).await;
                if answered.is_err() {
                    return;
                }
            }
            awc::ws::Frame::Close(_) => return,
            _ => {}
        }
    }
}

async fn xhr_streaming(client: &awc::Client, base: &str, session: &mut Session) {
    let url = format!("http://{base}/xhr_streaming");
    let mut attempts = 0;
    loop {
        let response = client.post(&url).send().await;
        let mut response = match response {
            Ok(response) if response.status().is_success() => response,
            _ if session.opened => return,
            _ => {
                attempts += 1;
                if attempts >= OPEN_ATTEMPTS {
                    return;
                }
                sleep(RETRY_PAUSE).await;
                continue;
            }
        };
        let mut buffer = Vec::new();
        loop {
            match response.next().await {
                Some(Ok(chunk)) => {
                    buffer.extend_from_slice(&chunk);
                    if session.lines(&mut buffer) == Frame::Closed {
                        return;
                    }
                }
                // The connection broke: the session is gone with its instance.
                Some(Err(_)) => return,
                // The stream ended (its response limit): the session goes on in a
                // new request.
                None => break,
            }
        }
    }
}

async fn xhr_polling(client: &awc::Client, base: &str, session: &mut Session) {
    let url = format!("http://{base}/xhr");
    let mut attempts = 0;
    loop {
        let response = client.post(&url).send().await;
        let body = match response {
            Ok(mut response) if response.status().is_success() => {
                response.body().limit(1 << 20).await.ok()
            }
            _ => None,
        };
        let Some(body) = body else {
            if session.opened {
                return;
            }
            attempts += 1;
            if attempts >= OPEN_ATTEMPTS {
                return;
            }
            sleep(RETRY_PAUSE).await;
            continue;
        };
        let mut buffer = body.to_vec();
        if session.lines(&mut buffer) == Frame::Closed {
            return;
        }
    }
}

/// Whether the instance on `port` holds the session `id`: an empty `xhr_send` to it
/// answers 204 from the instance that does, 404 from the others, and sends nothing.
pub(crate) async fn holds(port: u16, id: &str) -> bool {
    let url = format!("http://127.0.0.1:{port}/broadcast/000/{id}/xhr_send");
    match awc::Client::default().post(&url).send_body("[]").await {
        Ok(response) => response.status().as_u16() == 204,
        Err(e) => panic!("xhr_send to {url}: {e}"),
    }
}

/// A websocket session on `/broadcast` straight to one instance, which publishes
/// the test's messages.
pub(crate) struct Publisher {
    ws: Ws,
}

impl Publisher {
    pub(crate) async fn connect(port: u16) -> Publisher {
        let url = format!(
            "ws://127.0.0.1:{port}/broadcast/000/{}/websocket",
            session_id()
        );
        let mut ws = ws_handshake(&awc::Client::default(), &url, &[]).await;
        assert_eq!(ws_text(&mut ws).await, "o");
        Publisher { ws }
    }

    /// Sends `text` and waits for its own copy (as a member of `/broadcast`), so that
    /// the next message leaves after this one.
    pub(crate) async fn publish(&mut self, text: &str) {
        let message = serde_json::to_string(&[text]).unwrap_or_default();
        ws_send(&mut self.ws, &message).await;
        loop {
            let frame = ws_text(&mut self.ws).await;
            if let Some(texts) = frame
                .strip_prefix('a')
                .and_then(|a| serde_json::from_str::<Vec<String>>(a).ok())
                && texts.iter().any(|t| t == text)
            {
                return;
            }
        }
    }

    /// Publishes `<prefix>0`, `<prefix>1`, ... until one reaches every client's
    /// current session within 300 ms; fails the test after `bound`.
    pub(crate) async fn probe_until_all_receive(
        &mut self,
        clients: &mut Clients,
        prefix: &str,
        bound: Duration,
    ) {
        let deadline = std::time::Instant::now() + bound;
        for n in 0.. {
            assert!(
                std::time::Instant::now() < deadline,
                "no probe reached every session within {bound:?}"
            );
            let probe = format!("{prefix}{n}");
            self.publish(&probe).await;
            let reached = clients
                .wait_for(Duration::from_millis(300), |logs| {
                    logs.iter().all(|c| c.current().contains(&probe))
                })
                .await;
            if reached {
                return;
            }
        }
    }
}
