//! Service statistics with sockjs-tornado's meaning: live counters and one-second
//! moving averages.
//!
//! The hot path (a message sent or received, a request attached) only bumps relaxed
//! atomics in [`Stats`]; no lock, no message. Once a second the stats collector
//! actor folds the accumulated counts into moving averages over the last ten seconds,
//! as sockjs-tornado's `StatsCollector` does.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use actix::{Actor, AsyncContext, Context};
use parking_lot::Mutex;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::vocabulary::Transport;

/// Every transport a session can open with, in a fixed order for the counters.
const TRANSPORTS: [Transport; 7] = [
    Transport::WebSocket,
    Transport::RawWebSocket,
    Transport::Xhr,
    Transport::XhrStreaming,
    Transport::EventSource,
    Transport::HtmlFile,
    Transport::Jsonp,
];

fn transport_index(t: Transport) -> usize {
    TRANSPORTS.iter().position(|&x| x == t).unwrap_or(0)
}

/// A moving average of per-second counts over the last `period` seconds.
#[derive(Clone, Debug)]
pub(crate) struct MovingAverage {
    period: usize,
    window: VecDeque<u64>,
    sum: u64,
    accumulator: u64,
    last_average: f64,
}

impl MovingAverage {
    /// An average over the last `period` flushes (at least one).
    pub(crate) fn new(period: usize) -> Self {
        let period = period.max(1);
        MovingAverage {
            period,
            window: VecDeque::with_capacity(period + 1),
            sum: 0,
            accumulator: 0,
            last_average: 0.0,
        }
    }

    /// Counts `n` events into the current second.
    pub(crate) fn add(&mut self, n: u64) {
        self.accumulator = self.accumulator.saturating_add(n);
    }

    /// Ends the current second: its count joins the window and the average is updated.
    pub(crate) fn flush(&mut self) {
        let n = std::mem::take(&mut self.accumulator);
        self.window.push_back(n);
        self.sum = self.sum.saturating_add(n);
        if self.window.len() > self.period {
            let oldest = self.window.pop_front().unwrap_or(0);
            self.sum -= oldest;
        }
        // Counts per second stay far below 2^53: the conversion is exact.
        self.last_average = self.sum as f64 / self.window.len() as f64;
    }

    /// The average count per second over the window, as of the last flush.
    pub(crate) fn last_average(&self) -> f64 {
        self.last_average
    }
}

/// The counters of one service, shared by its sessions, its requests and its
/// stats collector. Cloning shares them.
///
/// ```
/// use actix_sockjs::{SockJsContext, SockJs, SockJsHandler};
///
/// struct Echo;
/// impl actix::Actor for Echo {
///     type Context = SockJsContext<Self>;
/// }
/// impl SockJsHandler for Echo {
///     fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
///         session.send(&msg);
///     }
/// }
///
/// let service = SockJs::new("/echo", || Echo);
/// let snapshot = service.stats().snapshot();
/// assert_eq!(snapshot.sessions_active, 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Stats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    sessions_active: AtomicI64,
    transports: [AtomicI64; TRANSPORTS.len()],
    connections_active: AtomicI64,
    connections: AtomicU64,
    packets_sent: AtomicU64,
    packets_recv: AtomicU64,
    slow_consumers: AtomicU64,
    averages: Mutex<Averages>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Averages {
    connections_ps: f64,
    packets_sent_ps: f64,
    packets_recv_ps: f64,
}

impl Stats {
    pub(crate) fn session_opened(&self, transport: Transport) {
        self.inner.sessions_active.fetch_add(1, Ordering::Relaxed);
        self.inner.transports[transport_index(transport)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn session_closed(&self, transport: Transport) {
        self.inner.sessions_active.fetch_sub(1, Ordering::Relaxed);
        self.inner.transports[transport_index(transport)].fetch_sub(1, Ordering::Relaxed);
    }

    /// A transport request (or websocket) started; the guard ends it when dropped.
    pub(crate) fn connection(&self) -> ConnectionGuard {
        self.inner
            .connections_active
            .fetch_add(1, Ordering::Relaxed);
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self.clone())
    }

    pub(crate) fn packets_sent(&self, n: u64) {
        self.inner.packets_sent.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn slow_consumer(&self) {
        self.inner.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn packets_received(&self, n: u64) {
        self.inner.packets_recv.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now and the averages as of the last one-second tick.
    pub fn snapshot(&self) -> StatsSnapshot {
        let c = &self.inner;
        let count = |a: &AtomicI64| u64::try_from(a.load(Ordering::Relaxed)).unwrap_or(0);
        let averages = *c.averages.lock();
        StatsSnapshot {
            sessions_active: count(&c.sessions_active),
            transports: TRANSPORTS
                .iter()
                .zip(c.transports.iter())
                .map(|(t, n)| (t.name(), count(n)))
                .collect(),
            connections_active: count(&c.connections_active),
            slow_consumers: c.slow_consumers.load(Ordering::Relaxed),
            connections_ps: averages.connections_ps,
            packets_sent_ps: averages.packets_sent_ps,
            packets_recv_ps: averages.packets_recv_ps,
        }
    }
}

/// Counts one open connection while it lives.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Stats);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0
            .inner
            .connections_active
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a service's [`Stats`] said at one moment, with sockjs-tornado's field names.
///
/// It serialises flat, as sockjs-tornado's `dump()` does: `sessions_active`,
/// `connections_active`, `connections_ps`, `packets_sent_ps`, `packets_recv_ps` and a
/// `transp_<transport>` count of open sessions per transport.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Sessions open now.
    pub sessions_active: u64,
    /// Sessions open now, by the transport that opened them (`xhr`, `websocket`, ...).
    pub transports: BTreeMap<&'static str, u64>,
    /// Transport requests and websockets open now.
    pub connections_active: u64,
    /// Sessions closed as slow consumers since the service started (see
    /// [`SockJsConfig::max_queued_bytes`](crate::SockJsConfig::max_queued_bytes)).
    pub slow_consumers: u64,
    /// New transport requests per second, averaged over the last ten seconds.
    pub connections_ps: f64,
    /// Messages sent to clients per second, averaged over the last ten seconds.
    pub packets_sent_ps: f64,
    /// Messages received from clients per second, averaged over the last ten seconds.
    pub packets_recv_ps: f64,
}

impl Serialize for StatsSnapshot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(6 + self.transports.len()))?;
        map.serialize_entry("sessions_active", &self.sessions_active)?;
        map.serialize_entry("connections_active", &self.connections_active)?;
        map.serialize_entry("connections_ps", &self.connections_ps)?;
        map.serialize_entry("packets_sent_ps", &self.packets_sent_ps)?;
        map.serialize_entry("packets_recv_ps", &self.packets_recv_ps)?;
        map.serialize_entry("slow_consumers", &self.slow_consumers)?;
        for (name, n) in &self.transports {
            map.serialize_entry(&format!("transp_{name}"), n)?;
        }
        map.end()
    }
}

impl StatsSnapshot {
    /// The snapshot in the Prometheus text exposition format, every sample labelled
    /// `service="<service>"`.
    ///
    /// ```
    /// use actix_sockjs::Stats;
    /// let text = Stats::default().snapshot().to_prometheus("echo");
    /// assert!(text.contains("sockjs_sessions_active{service=\"echo\"} 0\n"));
    /// ```
    pub fn to_prometheus(&self, service: &str) -> String {
        let mut out = String::new();
        self.write_prometheus(&mut out, service, true);
        out
    }

    /// Appends the samples to `out`; `help` adds the `# HELP` / `# TYPE` lines (once per
    /// metric when several services share one exposition).
    pub(crate) fn write_prometheus(&self, out: &mut String, service: &str, help: bool) {
        let service = escape_label(service);
        let mut metric = |name: &str, kind: &str, doc: &str, labels: &str, value: f64| {
            if help {
                let _ = writeln!(out, "# HELP {name} {doc}");
                let _ = writeln!(out, "# TYPE {name} {kind}");
            }
            let _ = writeln!(out, "{name}{{service=\"{service}\"{labels}}} {value}");
        };
        metric(
            "sockjs_sessions_active",
            "gauge",
            "Sessions open now.",
            "",
            self.sessions_active as f64,
        );
        metric(
            "sockjs_connections_active",
            "gauge",
            "Transport requests and websockets open now.",
            "",
            self.connections_active as f64,
        );
        metric(
            "sockjs_slow_consumers_total",
            "counter",
            "Sessions closed because their client did not take what was sent fast enough.",
            "",
            self.slow_consumers as f64,
        );
        metric(
            "sockjs_connections_per_second",
            "gauge",
            "New transport requests per second, ten-second moving average.",
            "",
            self.connections_ps,
        );
        metric(
            "sockjs_packets_sent_per_second",
            "gauge",
            "Messages sent per second, ten-second moving average.",
            "",
            self.packets_sent_ps,
        );
        metric(
            "sockjs_packets_received_per_second",
            "gauge",
            "Messages received per second, ten-second moving average.",
            "",
            self.packets_recv_ps,
        );
        let mut first = help;
        for (transport, n) in &self.transports {
            let name = "sockjs_transport_sessions_active";
            if first {
                let _ = writeln!(out, "# HELP {name} Sessions open now, by transport.");
                let _ = writeln!(out, "# TYPE {name} gauge");
                first = false;
            }
            let _ = writeln!(
                out,
                "{name}{{service=\"{service}\",transport=\"{transport}\"}} {n}"
            );
        }
    }
}

fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The actor that turns a service's counts into one-second moving averages.
///
/// Started with the service's first session; it ticks once a second.
pub(crate) struct StatsCollector {
    stats: Stats,
    connections: MovingAverage,
    packets_sent: MovingAverage,
    packets_recv: MovingAverage,
}

impl StatsCollector {
    /// A collector for `stats`, averaging over ten seconds like sockjs-tornado.
    pub(crate) fn new(stats: Stats) -> Self {
        StatsCollector {
            stats,
            connections: MovingAverage::new(10),
            packets_sent: MovingAverage::new(10),
            packets_recv: MovingAverage::new(10),
        }
    }

    fn tick(&mut self) {
        let c = &self.stats.inner;
        self.connections
            .add(c.connections.swap(0, Ordering::Relaxed));
        self.packets_sent
            .add(c.packets_sent.swap(0, Ordering::Relaxed));
        self.packets_recv
            .add(c.packets_recv.swap(0, Ordering::Relaxed));
        self.connections.flush();
        self.packets_sent.flush();
        self.packets_recv.flush();
        *c.averages.lock() = Averages {
            connections_ps: self.connections.last_average(),
            packets_sent_ps: self.packets_sent.last_average(),
            packets_recv_ps: self.packets_recv.last_average(),
        };
    }
}

impl Actor for StatsCollector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(1), |act, _| act.tick());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_covers_the_last_period_seconds() {
        let mut avg = MovingAverage::new(3);
        for n in [3, 6, 9] {
            avg.add(n);
            avg.flush();
        }
        assert_eq!(avg.last_average(), 6.0);
        avg.add(12);
        avg.flush(); // window 6, 9, 12
        assert_eq!(avg.last_average(), 9.0);
        for _ in 0..3 {
            avg.flush();
        }
        assert_eq!(avg.last_average(), 0.0);
    }

    #[test]
    fn counters_move_and_the_collector_averages_them() {
        let stats = Stats::default();
        stats.session_opened(Transport::Xhr);
        stats.session_opened(Transport::WebSocket);
        let guard = stats.connection();
        stats.packets_sent(20);
        stats.packets_received(10);
        let mut collector = StatsCollector::new(stats.clone());
        collector.tick();
        let snap = stats.snapshot();
        assert_eq!(snap.sessions_active, 2);
        assert_eq!(snap.transports["xhr"], 1);
        assert_eq!(snap.transports["websocket"], 1);
        assert_eq!(snap.connections_active, 1);
        assert_eq!(snap.connections_ps, 1.0);
        assert_eq!(snap.packets_sent_ps, 20.0);
        assert_eq!(snap.packets_recv_ps, 10.0);
        drop(guard);
        stats.session_closed(Transport::Xhr);
        collector.tick();
        let snap = stats.snapshot();
        assert_eq!(snap.sessions_active, 1);
        assert_eq!(snap.transports["xhr"], 0);
        assert_eq!(snap.connections_active, 0);
        assert_eq!(snap.packets_sent_ps, 10.0);
    }

    #[test]
    fn snapshot_serialises_flat_like_sockjs_tornado() {
        let stats = Stats::default();
        stats.session_opened(Transport::EventSource);
        let json = serde_json::to_value(stats.snapshot()).expect("json");
        assert_eq!(json["sessions_active"], 1);
        assert_eq!(json["transp_eventsource"], 1);
        assert_eq!(json["transp_xhr"], 0);
        assert_eq!(json["packets_recv_ps"], 0.0);
    }

    #[test]
    fn prometheus_text_has_help_type_and_escaped_labels() {
        let text = Stats::default().snapshot().to_prometheus("a\"b");
        assert!(text.contains("# TYPE sockjs_sessions_active gauge\n"));
        assert!(text.contains("sockjs_sessions_active{service=\"a\\\"b\"} 0\n"));
        assert!(text.contains(
            "sockjs_transport_sessions_active{service=\"a\\\"b\",transport=\"xhr\"} 0\n"
        ));
    }
}
