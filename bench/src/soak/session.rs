//! One client slot of the soak: a session at a time, on a transport and a service
//! picked at random, living for a random while (churn), then closed by its client
//! and followed by a new one. A session that ends without its client closing it is
//! reported (a kill excuses it) and replaced at once; the time until the new one is
//! open is the client's reconnection time.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::Rng;
use super::books::{Broadcasts, Echoes};
use super::ledger::{Books, Ending, Ledger};
use super::wire::{self, HttpTransport, Wire};
use crate::net::{Http, Ws, WsMessage};
use crate::sockjs::{session_base, session_path, sockjs_items};

/// How long opening a session, sending a message or closing may take.
const STEP: Duration = Duration::from_secs(10);
/// The pause between two failed attempts to open a session.
const RETRY: Duration = Duration::from_millis(100);
/// A sending connection idle this long is replaced (HAProxy closes idle keep-alive
/// connections after 10 s).
const SENDER_IDLE: Duration = Duration::from_secs(5);

/// Where the run is: running, settling (no new sessions, no churn, no sends: the
/// books wait for what is in flight), closing (every session settles and closes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Run,
    Settle,
    Close,
}

/// What every slot shares.
pub(crate) struct Shared {
    pub(crate) ledger: RefCell<Ledger>,
    /// HAProxy's front addresses; slot `n` uses `fronts[n % len]`.
    pub(crate) fronts: Vec<SocketAddr>,
    /// The mean life of a session (each lives from half to one and a half times it).
    pub(crate) lifetime: Duration,
    /// Per mille of sessions on `/broadcast` (the rest on `/echo`).
    pub(crate) broadcast_share: u64,
    pub(crate) seed: u64,
}

/// A session's link to its client: a websocket, or an HTTP receiver task and a
/// connection to send on.
enum Link {
    Ws(Ws),
    Http {
        transport: HttpTransport,
        base: String,
        rx: UnboundedReceiver<Wire>,
        task: JoinHandle<()>,
        sender: Option<(Http, Instant)>,
    },
}

/// An open session.
struct Session {
    link: Link,
    /// The HAProxy this session goes through.
    front: SocketAddr,
    number: u64,
    instance: String,
    opened_at: Instant,
    broadcast: bool,
    broadcasts: Broadcasts,
    echoes: Echoes,
    /// Whether the `o` frame was seen (an HTTP receiver passes it on; a second one
    /// means the server did not know the session any more).
    open_seen: bool,
}

/// Why a session's loop stopped.
enum Stop {
    /// Its life is over: the client closes it.
    Life,
    /// It ended by itself.
    Cut(String),
    /// HAProxy sent one of its requests to another instance.
    Moved(String),
    /// The run is closing.
    Final,
}

/// Slot `n`: sessions one after the other until the run closes.
pub(crate) async fn slot(
    n: usize,
    shared: Rc<Shared>,
    start: Instant,
    mut phase: watch::Receiver<Phase>,
) {
    let mut rng = Rng::new(shared.seed ^ (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    sleep_until(start).await;
    let front = shared.fronts[n % shared.fronts.len()];
    let mut cut_at: Option<Instant> = None;
    loop {
        let broadcast = rng.below(1000) < shared.broadcast_share;
        let transport = pick_transport(&mut rng);
        let Some(mut session) = open(n, front, broadcast, transport, &shared, &mut phase).await
        else {
            return;
        };
        if let Some(at) = cut_at.take() {
            shared
                .ledger
                .borrow_mut()
                .reconnected(session.opened_at - at);
        }
        let life = shared.lifetime / 2 + shared.lifetime.mul_f64(rng.unit());
        let stop = run(&mut session, &shared, life, &mut rng, &mut phase).await;
        let now = Instant::now();
        let (ending, why) = match &stop {
            Stop::Life => (Ending::Closed(now), String::new()),
            Stop::Cut(why) => (Ending::Cut(now), why.clone()),
            Stop::Moved(why) => (Ending::Moved(now), why.clone()),
            Stop::Final => (Ending::Final, String::new()),
        };
        shared.ledger.borrow_mut().ended(
            session.number,
            &session.instance,
            session.opened_at,
            ending,
            if session.broadcast {
                Books::Broadcasts(&session.broadcasts)
            } else {
                Books::Echoes(&session.echoes)
            },
            &why,
        );
        close(session.link).await;
        match stop {
            Stop::Final => return,
            Stop::Cut(_) | Stop::Moved(_) => cut_at = Some(now),
            Stop::Life => {
                let pause = Duration::from_millis(rng.below(500));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = phase.changed() => {}
                }
            }
        }
    }
}

/// Mostly websockets; each HTTP transport 6 %.
fn pick_transport(rng: &mut Rng) -> Option<HttpTransport> {
    match rng.below(100) {
        0..70 => None,
        70..76 => Some(HttpTransport::Xhr),
        76..82 => Some(HttpTransport::XhrStreaming),
        82..88 => Some(HttpTransport::EventSource),
        88..94 => Some(HttpTransport::HtmlFile),
        _ => Some(HttpTransport::Jsonp),
    }
}

/// Opens a session (`None` for a websocket), retrying until it is open or the run
/// stops running; failures are noted.
async fn open(
    n: usize,
    front: SocketAddr,
    broadcast: bool,
    transport: Option<HttpTransport>,
    shared: &Shared,
    phase: &mut watch::Receiver<Phase>,
) -> Option<Session> {
    let prefix = if broadcast { "/broadcast" } else { "/echo" };
    loop {
        if *phase.borrow() != Phase::Run {
            return None;
        }
        let deadline = Instant::now() + STEP;
        let attempt = match transport {
            None => open_ws(front, &session_path(prefix, n, "websocket"), deadline).await,
            Some(t) => open_http(front, session_base(prefix, n), t, deadline).await,
        };
        match attempt {
            Ok((link, instance)) => {
                let name = transport.map_or("websocket", HttpTransport::name);
                let number = shared.ledger.borrow_mut().opened(name, broadcast);
                return Some(Session {
                    link,
                    front,
                    number,
                    instance,
                    opened_at: Instant::now(),
                    broadcast,
                    broadcasts: Broadcasts::default(),
                    echoes: Echoes::default(),
                    open_seen: transport.is_none(),
                });
            }
            Err(why) => {
                shared.ledger.borrow_mut().open_failed(Instant::now(), &why);
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Opens a websocket session at `path`; its link and instance.
async fn open_ws(
    front: SocketAddr,
    path: &str,
    deadline: Instant,
) -> Result<(Link, String), String> {
    let mut ws = Ws::connect(front, path, deadline)
        .await
        .map_err(|e| format!("websocket: {e}"))?;
    match ws.recv(deadline).await {
        Ok(WsMessage::Text(b"o")) => {}
        Ok(_) => return Err("websocket: no open frame".into()),
        Err(e) => return Err(format!("websocket: {e}")),
    }
    let instance = ws.served_by().unwrap_or("?").to_owned();
    Ok((Link::Ws(ws), instance))
}

/// Opens an HTTP session at `base`: starts its receiver and waits for its `o`.
async fn open_http(
    front: SocketAddr,
    base: String,
    transport: HttpTransport,
    deadline: Instant,
) -> Result<(Link, String), String> {
    let (tx, mut rx) = unbounded_channel();
    let task = tokio::task::spawn_local(wire::receive(front, base.clone(), transport, tx));
    let first = timeout_at(deadline, rx.recv()).await;
    let instance = match first {
        Ok(Some(Wire::Opened(instance))) => instance.unwrap_or_else(|| "?".into()),
        Ok(Some(Wire::End(why))) => {
            task.abort();
            return Err(format!("{}: {why}", transport.name()));
        }
        _ => {
            task.abort();
            return Err(format!("{}: no answer", transport.name()));
        }
    };
    let link = Link::Http {
        transport,
        base,
        rx,
        task,
        sender: None,
    };
    Ok((link, instance))
}

/// Runs an open session until its life is over, it ends, or the run closes.
async fn run(
    s: &mut Session,
    shared: &Shared,
    life: Duration,
    rng: &mut Rng,
    phase: &mut watch::Receiver<Phase>,
) -> Stop {
    let life_end = s.opened_at + life;
    let mut next_echo = Instant::now() + Duration::from_millis(500 + rng.below(3000));
    loop {
        let running = *phase.borrow() == Phase::Run;
        if *phase.borrow() == Phase::Close {
            return Stop::Final;
        }
        let echo = !s.broadcast && running;
        let step = match &mut s.link {
            Link::Ws(ws) => tokio::select! {
                m = ws.recv(Instant::now() + Duration::from_secs(120)) => match m {
                    Ok(WsMessage::Text(frame)) => Step::Frame(frame.to_vec()),
                    Ok(WsMessage::Close) => Step::Ended("websocket closed by the server".into()),
                    Err(e) => Step::Ended(format!("websocket: {e}")),
                },
                _ = sleep_until(next_echo), if echo => Step::Echo,
                _ = sleep_until(life_end), if running => Step::Life,
                _ = phase.changed() => Step::Phase,
            },
            Link::Http { rx, .. } => tokio::select! {
                w = rx.recv() => match w {
                    Some(Wire::Frame(frame)) => Step::Frame(frame.into_bytes()),
                    Some(Wire::End(why)) if why.starts_with(wire::MOVED) => Step::Moved(why),
                    Some(Wire::End(why)) => Step::Ended(why),
                    Some(Wire::Opened(_)) | None => Step::Ended("receiver gone".into()),
                },
                _ = sleep_until(next_echo), if echo => Step::Echo,
                _ = sleep_until(life_end), if running => Step::Life,
                _ = phase.changed() => Step::Phase,
            },
        };
        match step {
            Step::Frame(frame) => {
                if let Err(why) = s.frame(&frame, shared) {
                    return Stop::Cut(why);
                }
            }
            Step::Ended(why) => return Stop::Cut(why),
            Step::Moved(why) => return Stop::Moved(why),
            Step::Life => return Stop::Life,
            Step::Phase => {}
            Step::Echo => {
                next_echo = Instant::now() + Duration::from_millis(1000 + rng.below(3000));
                match s.send_echo(shared).await {
                    Ok(()) => {}
                    Err(why) if why.starts_with(wire::MOVED) => return Stop::Moved(why),
                    Err(why) => return Stop::Cut(why),
                }
            }
        }
    }
}

/// What woke a session's loop.
enum Step {
    Frame(Vec<u8>),
    Ended(String),
    Moved(String),
    Echo,
    Life,
    Phase,
}

impl Session {
    /// Takes in one SockJS frame; `Err` if it ends the session.
    fn frame(&mut self, frame: &[u8], shared: &Shared) -> Result<(), String> {
        match frame.first() {
            Some(b'o') if !self.open_seen => {
                self.open_seen = true;
                Ok(())
            }
            Some(b'o') => Err("opened again: the server did not know the session".into()),
            Some(b'h') => Ok(()),
            Some(b'a') => {
                let items = sockjs_items(frame).ok_or_else(|| shown("bad frame", frame))?;
                let mut ledger = shared.ledger.borrow_mut();
                for item in items {
                    let number = item
                        .get(1..)
                        .and_then(|n| std::str::from_utf8(n).ok())
                        .and_then(|n| n.parse::<u64>().ok());
                    match (item.first(), number, self.broadcast) {
                        (Some(b'b'), Some(seq), true) => {
                            let fresh = self.broadcasts.receive(seq);
                            ledger.broadcast_received(self.number, seq, fresh);
                        }
                        (Some(b'e'), Some(n), false) => {
                            let outcome = self.echoes.receive(n);
                            ledger.echo_received(n, outcome);
                        }
                        _ => ledger.problem(|| shown("unexpected message", item)),
                    }
                }
                Ok(())
            }
            _ => Err(shown("ended by", frame)),
        }
    }

    /// Sends the next echo message; `Err` if the session cannot be reached.
    async fn send_echo(&mut self, shared: &Shared) -> Result<(), String> {
        let text = self.echoes.send();
        shared.ledger.borrow_mut().echo_sent();
        let deadline = Instant::now() + STEP;
        match &mut self.link {
            Link::Ws(ws) => ws
                .send_text(format!("[\"{text}\"]").as_bytes(), deadline)
                .await
                .map_err(|e| format!("websocket send: {e}")),
            Link::Http {
                transport,
                base,
                sender,
                ..
            } => {
                if sender
                    .as_ref()
                    .is_none_or(|(_, used)| used.elapsed() > SENDER_IDLE)
                {
                    let http = Http::connect(self.front, deadline)
                        .await
                        .map_err(|e| format!("send connection: {e}"))?;
                    *sender = Some((http, Instant::now()));
                }
                let Some((http, used)) = sender.as_mut() else {
                    return Err("no send connection".into());
                };
                *used = Instant::now();
                let (url, ok) = match transport {
                    HttpTransport::Jsonp => (format!("{base}/jsonp_send"), 200),
                    _ => (format!("{base}/xhr_send"), 204),
                };
                let body = format!("[\"{text}\"]");
                let sent = async {
                    http.post(&url, body.as_bytes(), deadline).await?;
                    let (status, _) = http.response(deadline).await?;
                    Ok::<u16, std::io::Error>(status)
                }
                .await;
                // No name: HAProxy answered itself (the instance is down).
                let served_by = http.served_by().unwrap_or(self.instance.as_str());
                if sent.is_ok() && served_by != self.instance {
                    let why = format!(
                        "{} a send reached {served_by}, not {}",
                        wire::MOVED,
                        self.instance
                    );
                    *sender = None;
                    return Err(why);
                }
                match sent {
                    Ok(status) if status == ok => Ok(()),
                    Ok(status) => {
                        *sender = None;
                        Err(format!("send answered {status}"))
                    }
                    Err(e) => {
                        *sender = None;
                        Err(format!("send: {e}"))
                    }
                }
            }
        }
    }
}

/// Closes a session as its client would: the websocket closing handshake, or the
/// HTTP connections dropped.
async fn close(link: Link) {
    match link {
        Link::Ws(ws) => {
            let _ = ws.close(Instant::now() + STEP).await;
        }
        Link::Http { task, .. } => task.abort(),
    }
}

/// `what` and up to 80 characters of `bytes`, for a report.
fn shown(what: &str, bytes: &[u8]) -> String {
    format!("{what} {:?}", crate::sockjs::shown(bytes))
}
