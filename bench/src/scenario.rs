//! The scenarios: each opens its connections, measures a fixed time (or a fixed amount
//! of work) between two readings of the server's CPU time, then tears down.
//!
//! Every connect, read and write has a deadline and every loop a bound, so a
//! scenario ends even if the server stops answering.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{Barrier, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, timeout, timeout_at};

use crate::broadcast::{Body, broadcast};
use crate::net::{Http, Ws, WsMessage};
use crate::sockjs::{
    bad_frame, closed, session_base, session_path, sockjs_count, sockjs_items, xhr_open, xhr_send,
    xhr_stream_start,
};
use sockjs_bench::{cpu_seconds, rss_bytes};

/// How long connecting every client of a scenario may take.
pub(crate) const SETUP: Duration = Duration::from_secs(60);
/// How long a scenario may run past its measured time (draining, slow clients).
pub(crate) const GRACE: Duration = Duration::from_secs(20);
/// The message size of most scenarios, unless `--size` says otherwise.
pub(crate) const SIZE: usize = 32;

/// The message each session of `idle-ws-deflate(-own)` sends compressed and receives back
/// before it idles: about this many bytes of English-like text.
const IDLE_MESSAGE: usize = 1024;

/// One connection's open, echo and close in the connect-rate scenarios.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// What a run is told by the command line.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) addr: SocketAddr,
    pub(crate) server_pid: String,
    pub(crate) duration: Duration,
    pub(crate) clients: Option<usize>,
    pub(crate) window: Option<usize>,
    /// Message size (`--size`); each scenario has its default ([`SIZE`] for most).
    pub(crate) size: Option<usize>,
    pub(crate) sessions: Option<usize>,
    pub(crate) messages: Option<usize>,
    /// A second server (`--peer-addr`, `--peer-pid`): `broadcast-redis` only.
    pub(crate) peer: Option<(SocketAddr, String)>,
    /// The redis-server the two servers of `broadcast-redis` share (`--redis-pid`):
    /// its CPU time is recorded, not counted as the servers'.
    pub(crate) redis_pid: Option<String>,
}

/// Every scenario, in the order `all` runs them. The idle ones, `stuck` and
/// `stuck-addr` are best run each on a fresh server (scripts/bench does), so earlier
/// runs' freed memory does not hide their growth. The `*-deflate` ones offer
/// permessage-deflate and fail unless the server agrees (`bench-server
/// --permessage-deflate`).
pub(crate) const SCENARIOS: &[&str] = &[
    "bare-echo",
    "ws-echo",
    "ws-echo-deflate",
    "raw-ws-echo",
    "bare-echo-pipe",
    "ws-echo-pipe",
    "raw-ws-echo-pipe",
    "broadcast",
    "broadcast-200",
    "broadcast-deflate",
    "broadcast-redis",
    "xhr-echo",
    "xhr-streaming",
    "xhr-streaming-4k",
    "connect-bare",
    "connect-ws",
    "idle-bare",
    "idle-ws",
    "idle-ws-deflate",
    "idle-ws-deflate-own",
    "idle-bare-stream",
    "idle-xhr-streaming",
    "stuck",
    "stuck-addr",
    "fanout-19k",
    "fanout-19k-bare",
];

/// Runs one scenario once and returns its JSON result.
pub(crate) async fn run(name: &str, s: &Settings) -> Result<Value, String> {
    let s = Arc::new(s.clone());
    match name {
        "bare-echo" => echo(s, Flavor::Bare, 32, 1, name).await,
        "ws-echo" => echo(s, Flavor::SockJs, 32, 1, name).await,
        "ws-echo-deflate" => echo(s, Flavor::SockJsDeflate, 32, 1, name).await,
        "raw-ws-echo" => echo(s, Flavor::Raw, 32, 1, name).await,
        "bare-echo-pipe" => echo(s, Flavor::Bare, 8, 32, name).await,
        "ws-echo-pipe" => echo(s, Flavor::SockJs, 8, 32, name).await,
        "raw-ws-echo-pipe" => echo(s, Flavor::Raw, 8, 32, name).await,
        "broadcast" => broadcast(s, name, Body::Padded).await,
        "broadcast-200" => broadcast(s, name, Body::Chat { deflate: false }).await,
        "broadcast-deflate" => broadcast(s, name, Body::Chat { deflate: true }).await,
        "broadcast-redis" => crate::broadcast::broadcast_redis(s).await,
        "xhr-echo" => xhr_echo(s).await,
        "xhr-streaming" => xhr_streaming(s, "/echo", "xhr-streaming").await,
        "xhr-streaming-4k" => xhr_streaming(s, "/echo4k", "xhr-streaming-4k").await,
        "connect-bare" => connect_rate(s, Flavor::Bare, name).await,
        "connect-ws" => connect_rate(s, Flavor::SockJs, name).await,
        "idle-bare" => idle(s, Idle::Bare, name).await,
        "idle-ws" => idle(s, Idle::SockJsWebSocket, name).await,
        "idle-ws-deflate" => idle(s, Idle::SockJsWebSocketDeflate, name).await,
        "idle-ws-deflate-own" => idle(s, Idle::SockJsWebSocketDeflateOwn, name).await,
        "idle-bare-stream" => idle(s, Idle::BareStream, name).await,
        "idle-xhr-streaming" => idle(s, Idle::XhrStreaming, name).await,
        "stuck" => crate::stuck::stuck(s, crate::stuck::HANDLES).await,
        "stuck-addr" => crate::stuck::stuck(s, crate::stuck::ADDRS).await,
        "fanout-19k" => crate::fanout::fanout(s, false).await,
        "fanout-19k-bare" => crate::fanout::fanout(s, true).await,
        other => Err(format!("unknown scenario {other}")),
    }
}

/// Microseconds since the first call: the clock embedded in broadcast messages.
pub(crate) fn micros() -> u64 {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    let base = BASE.get_or_init(std::time::Instant::now);
    u64::try_from(base.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn micros_since(t0: Instant) -> u32 {
    u32::try_from(t0.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// The message every echo sends: `size` bytes that need no JSON escaping.
fn payload(size: usize) -> Vec<u8> {
    (0..size.max(1))
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect()
}

pub(crate) fn percentile(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    Some(f64::from(sorted[rank.min(sorted.len() - 1)]))
}

/// Server and generator CPU time and wall time over the measured part of a run.
struct Meter {
    pids: Vec<String>,
    t0: Instant,
    server0: Vec<f64>,
    client0: f64,
}

pub(crate) struct Measured {
    elapsed: f64,
    /// Summed over every server metered.
    server_cpu: f64,
    /// Each server's, in the order of the pids metered.
    pub(crate) server_cpus: Vec<f64>,
    client_cpu: f64,
}

fn server_cpu(pid: &str) -> Result<f64, String> {
    cpu_seconds(pid).map_err(|e| format!("server pid {pid}: {e}"))
}

impl Meter {
    fn start(pid: &str) -> Result<Meter, String> {
        Meter::start_all(&[pid.to_owned()])
    }

    /// Meters the CPU time of every process of `pids` together.
    fn start_all(pids: &[String]) -> Result<Meter, String> {
        Ok(Meter {
            pids: pids.to_vec(),
            t0: Instant::now(),
            server0: pids
                .iter()
                .map(|p| server_cpu(p))
                .collect::<Result<_, _>>()?,
            client0: cpu_seconds("self").unwrap_or(0.0),
        })
    }

    fn stop(&self) -> Result<Measured, String> {
        let elapsed = self.t0.elapsed().as_secs_f64();
        let mut server_cpus = Vec::with_capacity(self.pids.len());
        for (pid, before) in self.pids.iter().zip(&self.server0) {
            server_cpus.push(server_cpu(pid)? - before);
        }
        Ok(Measured {
            elapsed,
            server_cpu: server_cpus.iter().sum(),
            server_cpus,
            client_cpu: cpu_seconds("self").unwrap_or(0.0) - self.client0,
        })
    }
}

/// What one client of a throughput scenario reports once its measured part is over.
#[derive(Default)]
pub(crate) struct ClientReport {
    pub(crate) ops: u64,
    pub(crate) latencies: Vec<u32>,
    pub(crate) error: Option<String>,
    /// Payload bytes of the websocket data frames received (as they came, compressed
    /// or not), where the scenario counts them.
    pub(crate) wire_bytes: u64,
    /// Compressed messages received.
    pub(crate) compressed: u64,
}

impl ClientReport {
    /// Sets what `ws` received since it had received `before` (its
    /// [`received`] then).
    pub(crate) fn received_since(&mut self, ws: &Ws, before: (u64, u64)) {
        let (wire, compressed) = received(ws);
        self.wire_bytes = wire - before.0;
        self.compressed = compressed - before.1;
    }
}

/// Payload bytes and compressed messages `ws` has received so far.
pub(crate) fn received(ws: &Ws) -> (u64, u64) {
    (ws.wire_bytes(), ws.compressed_received())
}

/// The phases every client goes through together: connect, start, measure, report,
/// wait for teardown, close.
#[derive(Clone)]
pub(crate) struct Phases {
    start: Arc<Barrier>,
    report: mpsc::UnboundedSender<ClientReport>,
    teardown: watch::Receiver<bool>,
}

impl Phases {
    pub(crate) async fn started(&self) {
        self.start.wait().await;
    }

    /// Reports, then waits (bounded) until every client has reported, so closing
    /// connections is not measured.
    pub(crate) async fn finish(&mut self, report: ClientReport) {
        let _ = self.report.send(report);
        let _ = timeout(GRACE, self.teardown.wait_for(|&t| t)).await;
    }
}

/// Totals of a throughput run.
pub(crate) struct Totals {
    clients: usize,
    ops: u64,
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    wire_bytes: u64,
    compressed: u64,
    pub(crate) measured: Measured,
}

/// Spawns `clients` clients made by `make`, starts them together once all are set up,
/// and measures until every one has reported.
pub(crate) async fn drive<F, Fut>(s: &Settings, clients: usize, make: F) -> Result<Totals, String>
where
    F: Fn(usize, Phases) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    drive_metered(
        std::slice::from_ref(&s.server_pid),
        s.duration,
        clients,
        make,
    )
    .await
}

/// [`drive`], metering the CPU time of every server of `pids` (summed).
pub(crate) async fn drive_metered<F, Fut>(
    pids: &[String],
    duration: Duration,
    clients: usize,
    make: F,
) -> Result<Totals, String>
where
    F: Fn(usize, Phases) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Arc::new(Barrier::new(clients + 1));
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    let (teardown_tx, teardown_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    for i in 0..clients {
        tasks.spawn(make(
            i,
            Phases {
                start: start.clone(),
                report: report_tx.clone(),
                teardown: teardown_rx.clone(),
            },
        ));
    }
    drop(report_tx);
    timeout(SETUP, start.wait())
        .await
        .map_err(|_| "clients did not connect within 60 s".to_owned())?;
    let meter = Meter::start_all(pids)?;
    let hard = Instant::now() + duration + GRACE;
    let mut totals = Totals {
        clients,
        ops: 0,
        latencies: Vec::new(),
        errors: 0,
        first_error: None,
        wire_bytes: 0,
        compressed: 0,
        measured: Measured {
            elapsed: 0.0,
            server_cpu: 0.0,
            server_cpus: Vec::new(),
            client_cpu: 0.0,
        },
    };
    let mut reported = 0;
    while reported < clients {
        match timeout_at(hard, report_rx.recv()).await {
            Ok(Some(report)) => {
                reported += 1;
                totals.ops += report.ops;
                totals.latencies.extend(report.latencies);
                totals.wire_bytes += report.wire_bytes;
                totals.compressed += report.compressed;
                if let Some(e) = report.error {
                    totals.errors += 1;
                    totals.first_error.get_or_insert(e);
                }
            }
            Ok(None) => break,
            Err(_) => {
                totals.errors += (clients - reported) as u64;
                totals.first_error.get_or_insert_with(|| {
                    format!("{} clients never reported", clients - reported)
                });
                break;
            }
        }
    }
    totals.measured = meter.stop()?;
    let _ = teardown_tx.send(true);
    let _ = timeout(GRACE, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    Ok(totals)
}

pub(crate) fn result_json(
    name: &str,
    unit: &str,
    s: &Settings,
    window: usize,
    mut t: Totals,
) -> Value {
    t.latencies.sort_unstable();
    let m = &t.measured;
    let rate = t.ops as f64 / m.elapsed.max(1e-9);
    let per_cpu = if m.server_cpu > 0.0 {
        t.ops as f64 / m.server_cpu
    } else {
        0.0
    };
    // Only where the scenario counted them.
    let counted = t.wire_bytes > 0 && t.ops > 0;
    let wire_per_op = counted.then(|| t.wire_bytes as f64 / t.ops as f64);
    let compressed_share = counted.then(|| t.compressed as f64 / t.ops as f64);
    json!({
        "scenario": name,
        "unit": unit,
        "clients": t.clients,
        "window": window,
        "size": s.size.unwrap_or(SIZE),
        "duration_s": m.elapsed,
        "ops": t.ops,
        "rate": rate,
        "server_cpu_s": m.server_cpu,
        "server_cpu_util": m.server_cpu / m.elapsed.max(1e-9),
        "per_server_cpu_s": per_cpu,
        "client_cpu_s": m.client_cpu,
        "client_cpu_util": m.client_cpu / m.elapsed.max(1e-9),
        "p50_us": percentile(&t.latencies, 0.50),
        "p99_us": percentile(&t.latencies, 0.99),
        "wire_bytes": counted.then_some(t.wire_bytes),
        "wire_bytes_per_op": wire_per_op,
        "compressed_share": compressed_share,
        "errors": t.errors,
        "first_error": t.first_error,
    })
}

/// Which websocket endpoint and framing a client uses.
#[derive(Clone, Copy, Debug)]
enum Flavor {
    /// `/bare`: the plain actix-web websocket echo.
    Bare,
    /// `/echo/websocket`: SockJS's raw websocket, no framing.
    Raw,
    /// `/echo/{server}/{session}/websocket` with SockJS framing.
    SockJs,
    /// The same, offering permessage-deflate (the server must agree).
    SockJsDeflate,
    /// The same on `/echo-inflating`, where clients may keep their compression
    /// context, so the server keeps an inflater per connection.
    SockJsDeflateOwn,
}

impl Flavor {
    fn path(self, client: usize) -> String {
        match self {
            Flavor::Bare => "/bare".into(),
            Flavor::Raw => "/echo/websocket".into(),
            Flavor::SockJs | Flavor::SockJsDeflate => session_path("/echo", client, "websocket"),
            Flavor::SockJsDeflateOwn => session_path("/echo-inflating", client, "websocket"),
        }
    }

    /// The bytes to send for one message.
    fn message(self, payload: &[u8]) -> Vec<u8> {
        match self {
            Flavor::Bare | Flavor::Raw => payload.to_vec(),
            Flavor::SockJs | Flavor::SockJsDeflate | Flavor::SockJsDeflateOwn => {
                let mut m = b"[\"".to_vec();
                m.extend_from_slice(payload);
                m.extend_from_slice(b"\"]");
                m
            }
        }
    }

    /// How many echoed messages a received websocket message holds.
    fn count(self, message: &[u8]) -> io::Result<usize> {
        match self {
            Flavor::Bare | Flavor::Raw => Ok(1),
            Flavor::SockJs | Flavor::SockJsDeflate | Flavor::SockJsDeflateOwn => {
                sockjs_count(message)
            }
        }
    }

    /// Connects, and for SockJS waits for the open frame.
    async fn open(self, addr: SocketAddr, client: usize, deadline: Instant) -> io::Result<Ws> {
        let path = self.path(client);
        let mut ws = match self {
            Flavor::SockJsDeflate | Flavor::SockJsDeflateOwn => {
                Ws::connect_deflate(addr, &path, deadline).await?
            }
            _ => Ws::connect(addr, &path, deadline).await?,
        };
        if let Flavor::SockJs | Flavor::SockJsDeflate | Flavor::SockJsDeflateOwn = self {
            match ws.recv(deadline).await? {
                WsMessage::Text(b"o") => {}
                WsMessage::Text(other) => return Err(bad_frame(other)),
                WsMessage::Close => return Err(closed()),
            }
        }
        Ok(ws)
    }
}

/// Websocket echo: `clients` connections, each keeping `window` messages in flight.
async fn echo(
    s: Arc<Settings>,
    flavor: Flavor,
    clients: usize,
    window: usize,
    name: &str,
) -> Result<Value, String> {
    let clients = s.clients.unwrap_or(clients).max(1);
    let window = s.window.unwrap_or(window).max(1);
    let message = Arc::new(flavor.message(&payload(s.size.unwrap_or(SIZE))));
    let settings = s.clone();
    let totals = drive(&s, clients, move |i, mut phases| {
        let s = settings.clone();
        let message = message.clone();
        async move {
            let opened = flavor.open(s.addr, i, Instant::now() + SETUP).await;
            phases.started().await;
            let mut report = ClientReport::default();
            let mut ws = match opened {
                Ok(ws) => ws,
                Err(e) => {
                    report.error = Some(format!("connect: {e}"));
                    phases.finish(report).await;
                    return;
                }
            };
            let deadline = Instant::now() + s.duration;
            let hard = deadline + GRACE;
            let before = received(&ws);
            let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(window);
            let result: io::Result<()> = async {
                loop {
                    let now = Instant::now();
                    while in_flight.len() < window && now < deadline {
                        ws.queue_text(&message);
                        in_flight.push_back(now);
                    }
                    if in_flight.is_empty() {
                        return Ok(());
                    }
                    ws.flush(hard).await?;
                    let n = match ws.recv(hard).await? {
                        WsMessage::Text(text) => flavor.count(text)?,
                        WsMessage::Close => return Err(closed()),
                    };
                    for _ in 0..n {
                        if let Some(t0) = in_flight.pop_front() {
                            report.ops += 1;
                            report.latencies.push(micros_since(t0));
                        }
                    }
                }
            }
            .await;
            if let Err(e) = result {
                report.error = Some(e.to_string());
            }
            report.received_since(&ws, before);
            phases.finish(report).await;
            let _ = ws.close(Instant::now() + Duration::from_secs(5)).await;
        }
    })
    .await?;
    Ok(result_json(name, "msgs", &s, window, totals))
}

/// Sessions opened, one echo, closed: `clients` connecting in parallel.
async fn connect_rate(s: Arc<Settings>, flavor: Flavor, name: &str) -> Result<Value, String> {
    let clients = s.clients.unwrap_or(16).max(1);
    let message = Arc::new(flavor.message(&payload(s.size.unwrap_or(SIZE))));
    let settings = s.clone();
    let totals = drive(&s, clients, move |i, mut phases| {
        let s = settings.clone();
        let message = message.clone();
        async move {
            phases.started().await;
            let mut report = ClientReport::default();
            let deadline = Instant::now() + s.duration;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let op_deadline = t0 + OP_TIMEOUT;
                let result: io::Result<()> = async {
                    let mut ws = flavor.open(s.addr, i, op_deadline).await?;
                    ws.send_text(&message, op_deadline).await?;
                    match ws.recv(op_deadline).await? {
                        WsMessage::Text(text) if flavor.count(text)? == 1 => {}
                        WsMessage::Text(text) => return Err(bad_frame(text)),
                        WsMessage::Close => return Err(closed()),
                    }
                    ws.close(op_deadline).await
                }
                .await;
                match result {
                    Ok(()) => {
                        report.ops += 1;
                        report.latencies.push(micros_since(t0));
                    }
                    Err(e) => {
                        report.error = Some(e.to_string());
                        break;
                    }
                }
            }
            phases.finish(report).await;
        }
    })
    .await?;
    Ok(result_json(name, "sessions", &s, 1, totals))
}

/// xhr polling echo, as a browser does it: a poll always outstanding on one
/// connection, each message sent with `xhr_send` on another.
async fn xhr_echo(s: Arc<Settings>) -> Result<Value, String> {
    let clients = s.clients.unwrap_or(32).max(1);
    let message = Arc::new(Flavor::SockJs.message(&payload(s.size.unwrap_or(SIZE))));
    let settings = s.clone();
    let totals = drive(&s, clients, move |i, mut phases| {
        let s = settings.clone();
        let message = message.clone();
        async move {
            let base = session_base("/echo", i);
            let opened = async {
                let deadline = Instant::now() + SETUP;
                let mut poll = Http::connect(s.addr, deadline).await?;
                let send = Http::connect(s.addr, deadline).await?;
                xhr_open(&mut poll, &base, deadline).await?;
                Ok::<_, io::Error>((poll, send))
            }
            .await;
            phases.started().await;
            let mut report = ClientReport::default();
            let (mut poll, mut send) = match opened {
                Ok(pair) => pair,
                Err(e) => {
                    report.error = Some(format!("connect: {e}"));
                    phases.finish(report).await;
                    return;
                }
            };
            let deadline = Instant::now() + s.duration;
            let hard = deadline + GRACE;
            let poll_path = format!("{base}/xhr");
            let result: io::Result<()> = async {
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    poll.post(&poll_path, b"", hard).await?;
                    xhr_send(&mut send, &base, &message, hard).await?;
                    let got = match poll.response(hard).await? {
                        (200, body) => sockjs_count(body.strip_suffix(b"\n").unwrap_or(body))?,
                        (status, _) => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("xhr: {status}"),
                            ));
                        }
                    };
                    report.ops += got as u64;
                    report.latencies.push(micros_since(t0));
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                report.error = Some(e.to_string());
            }
            phases.finish(report).await;
        }
    })
    .await?;
    Ok(result_json("xhr-echo", "round trips", &s, 1, totals))
}

/// Reads streaming chunks until at least one message arrived; reconnects when the
/// response ended at `response_limit`. Returns how many messages arrived.
async fn xhr_stream_messages(http: &mut Http, base: &str, deadline: Instant) -> io::Result<usize> {
    loop {
        let Some(chunk) = http.chunk(deadline).await? else {
            xhr_stream_start(http, &format!("{base}/xhr_streaming"), deadline).await?;
            continue;
        };
        let mut n = 0;
        for frame in chunk.split(|&b| b == b'\n').filter(|f| !f.is_empty()) {
            n += sockjs_count(frame)?;
        }
        if n > 0 {
            return Ok(n);
        }
    }
}

/// Messages sent with `xhr_send` and received over `xhr_streaming`, one in flight per
/// session, on the service at `prefix` (whose `response_limit` says how often the
/// streams end and are reopened).
async fn xhr_streaming(
    s: Arc<Settings>,
    prefix: &'static str,
    name: &str,
) -> Result<Value, String> {
    let clients = s.clients.unwrap_or(32).max(1);
    let message = Arc::new(Flavor::SockJs.message(&payload(s.size.unwrap_or(SIZE))));
    let settings = s.clone();
    let totals = drive(&s, clients, move |i, mut phases| {
        let s = settings.clone();
        let message = message.clone();
        async move {
            let base = session_base(prefix, i);
            let opened = async {
                let deadline = Instant::now() + SETUP;
                let mut stream = Http::connect(s.addr, deadline).await?;
                let send = Http::connect(s.addr, deadline).await?;
                xhr_stream_start(&mut stream, &format!("{base}/xhr_streaming"), deadline).await?;
                match stream.chunk(deadline).await? {
                    Some(b"o\n") => Ok((stream, send)),
                    _ => Err(io::Error::new(io::ErrorKind::InvalidData, "no open frame")),
                }
            }
            .await;
            phases.started().await;
            let mut report = ClientReport::default();
            let (mut stream, mut send) = match opened {
                Ok(pair) => pair,
                Err(e) => {
                    report.error = Some(format!("connect: {e}"));
                    phases.finish(report).await;
                    return;
                }
            };
            let deadline = Instant::now() + s.duration;
            let hard = deadline + GRACE;
            let result: io::Result<()> = async {
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    xhr_send(&mut send, &base, &message, hard).await?;
                    report.ops += xhr_stream_messages(&mut stream, &base, hard).await? as u64;
                    report.latencies.push(micros_since(t0));
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                report.error = Some(e.to_string());
            }
            phases.finish(report).await;
        }
    })
    .await?;
    Ok(result_json(name, "msgs", &s, 1, totals))
}

/// What an idle session holds open.
#[derive(Clone, Copy)]
enum Idle {
    Bare,
    SockJsWebSocket,
    /// A SockJS websocket with permessage-deflate agreed, that sent one compressed
    /// message of [`IDLE_MESSAGE`] bytes and received it back compressed.
    SockJsWebSocketDeflate,
    /// The same where the server keeps an inflater per connection.
    SockJsWebSocketDeflateOwn,
    /// `/bare-stream`: the actix streaming response xhr_streaming is compared with.
    BareStream,
    XhrStreaming,
}

enum Held {
    Ws(#[allow(dead_code)] Ws),
    Http(#[allow(dead_code)] Http),
}

async fn open_idle(
    kind: Idle,
    addr: SocketAddr,
    client: usize,
    deadline: Instant,
) -> io::Result<Held> {
    match kind {
        Idle::Bare => Ok(Held::Ws(Flavor::Bare.open(addr, client, deadline).await?)),
        Idle::SockJsWebSocket => Ok(Held::Ws(Flavor::SockJs.open(addr, client, deadline).await?)),
        Idle::SockJsWebSocketDeflate | Idle::SockJsWebSocketDeflateOwn => {
            let flavor = match kind {
                Idle::SockJsWebSocketDeflateOwn => Flavor::SockJsDeflateOwn,
                _ => Flavor::SockJsDeflate,
            };
            let mut ws = flavor.open(addr, client, deadline).await?;
            compressed_echo(&mut ws, client, deadline).await?;
            Ok(Held::Ws(ws))
        }
        Idle::BareStream | Idle::XhrStreaming => {
            let mut http = Http::connect(addr, deadline).await?;
            let path = match kind {
                Idle::BareStream => "/bare-stream".to_owned(),
                _ => format!("{}/xhr_streaming", session_base("/echo", client)),
            };
            xhr_stream_start(&mut http, &path, deadline).await?;
            match http.chunk(deadline).await? {
                Some(b"o\n") => Ok(Held::Http(http)),
                _ => Err(io::Error::new(io::ErrorKind::InvalidData, "no open frame")),
            }
        }
    }
}

/// Sends `/echo` one compressed message of about [`IDLE_MESSAGE`] bytes (English-like
/// text, its own for each `client`) and reads it back, compressed.
async fn compressed_echo(ws: &mut Ws, client: usize, deadline: Instant) -> io::Result<()> {
    let text = crate::chat::english(client as u64, IDLE_MESSAGE);
    ws.queue_compressed(&Flavor::SockJs.message(text.as_bytes()))?;
    ws.flush(deadline).await?;
    match ws.recv(deadline).await? {
        WsMessage::Text(frame)
            if sockjs_items(frame)
                .is_some_and(|mut items| items.next() == Some(text.as_bytes())) => {}
        WsMessage::Text(frame) => return Err(bad_frame(frame)),
        WsMessage::Close => return Err(closed()),
    }
    if ws.compressed_received() == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the echo of a compressed message came back uncompressed",
        ));
    }
    Ok(())
}

/// Opens `count` sessions (64 at a time) numbered from `first`.
async fn open_many(
    kind: Idle,
    addr: SocketAddr,
    first: usize,
    count: usize,
) -> Result<Vec<Held>, String> {
    let deadline = Instant::now() + SETUP;
    open_concurrently(first..first + count, 64, deadline, move |i| {
        open_idle(kind, addr, i, deadline)
    })
    .await
    .map_err(|(failed, e)| format!("{failed} of {count} sessions failed to open: {e}"))
}

/// Runs `open(i)` for every `i` of `numbers`, `parallel` at a time, until `deadline`
/// (and a few seconds more); all the connections, or how many failed and the first
/// error.
pub(crate) async fn open_concurrently<T, F, Fut>(
    numbers: std::ops::Range<usize>,
    parallel: usize,
    deadline: Instant,
    open: F,
) -> Result<Vec<T>, (usize, String)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>> + Send + 'static,
{
    let count = numbers.len();
    let limit = Arc::new(Semaphore::new(parallel));
    let mut tasks = JoinSet::new();
    for i in numbers {
        let limit = limit.clone();
        let opening = open(i);
        tasks.spawn(async move {
            let _permit = limit.acquire().await;
            opening.await
        });
    }
    let mut opened = Vec::with_capacity(count);
    let mut first_error = None;
    let collected = timeout_at(deadline + Duration::from_secs(5), async {
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(c)) => opened.push(c),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e.to_string());
                }
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
    })
    .await;
    tasks.abort_all();
    if collected.is_err() {
        return Err((count - opened.len(), "timed out".into()));
    }
    match first_error {
        Some(e) => Err((count - opened.len(), e)),
        None => Ok(opened),
    }
}

/// The server's live heap bytes (`GET /heap`), if it counts them
/// (`bench-server --count-heap`).
async fn heap_bytes(addr: SocketAddr) -> Option<i64> {
    let deadline = Instant::now() + OP_TIMEOUT;
    let mut http = Http::connect(addr, deadline).await.ok()?;
    http.get("/heap", deadline).await.ok()?;
    match http.response(deadline).await.ok()? {
        (200, body) => std::str::from_utf8(body).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// Idle sessions: the server's resident memory growth per open session, and its
/// live heap growth when the server counts it.
async fn idle(s: Arc<Settings>, kind: Idle, name: &str) -> Result<Value, String> {
    let sessions = s.sessions.unwrap_or(5000).max(1);
    let rss = |pid: &str| rss_bytes(pid).map_err(|e| format!("server pid {pid}: {e}"));
    // A few sessions first, so what every session needs once (actors, buffers of the
    // worker, the service's statistics) is not counted per session.
    let warm = open_many(kind, s.addr, 0, 100).await?;
    sleep(Duration::from_millis(300)).await;
    let before = rss(&s.server_pid)?;
    let heap_before = heap_bytes(s.addr).await;
    let cpu = Meter::start(&s.server_pid)?;
    let held = open_many(kind, s.addr, 100, sessions).await?;
    let opened = cpu.stop()?;
    sleep(Duration::from_secs(1)).await;
    let after = rss(&s.server_pid)?;
    let heap_after = heap_bytes(s.addr).await;
    let per_session = (after as f64 - before as f64) / sessions as f64;
    // Each reading is taken by a request of its own, which the other does not hold
    // any more: it cancels out.
    let heap_per_session = heap_before
        .zip(heap_after)
        .map(|(before, after)| (after - before) as f64 / sessions as f64);
    drop(held);
    drop(warm);
    Ok(json!({
        "scenario": name,
        "unit": "bytes/session",
        "sessions": sessions,
        "rss_before": before,
        "rss_after": after,
        "bytes_per_session": per_session,
        "heap_bytes_per_session": heap_per_session,
        "duration_s": opened.elapsed,
        "server_cpu_s": opened.server_cpu,
        "client_cpu_s": opened.client_cpu,
        "rate": sessions as f64 / opened.elapsed.max(1e-9),
        "errors": 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_by_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(51.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
