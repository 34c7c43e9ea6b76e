//! Turning JSON result lines into the readable table of BENCHMARKS.md: the median of
//! each scenario's runs, its ratio to the bare actix-web echo, its target.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

mod fanout;

/// What a scenario is held to.
#[derive(Clone, Copy)]
enum Target {
    /// No target: shown for information.
    None,
    /// Per-server-CPU-second rate at least this fraction of the baseline's.
    Ratio(f64),
    /// Raw rate at least this much.
    Rate(f64),
    /// At most this many bytes of server memory per session.
    Bytes(f64),
    /// At most this many bytes per session above the baseline's figure.
    BytesAbove(f64),
    /// Per-server-CPU-second rate at least `rate` of the baseline's, and payload
    /// bytes received per operation at most `wire` of the baseline's.
    RatioAndWire { rate: f64, wire: f64 },
}

struct Spec {
    name: &'static str,
    what: &'static str,
    /// The scenario the ratio is taken against (`""`: none).
    baseline: &'static str,
    target: Target,
}

impl Spec {
    /// The unit of a memory row (its figure is bytes per something), `None` for a
    /// rate.
    fn memory_unit(&self) -> Option<&'static str> {
        if self.name.starts_with("idle-") {
            Some("B/session")
        } else if self.name.starts_with("stuck") {
            Some("B/stuck session")
        } else {
            None
        }
    }
}

/// Bytes per idle session allowed above the bare floor of the same kind (issue 17):
/// what SockJS adds to a bare actix connection.
const IDLE_ABOVE_BARE: f64 = 1024.0;

/// Bytes per idle session allowed above `idle-ws` when permessage-deflate was agreed
/// and used once (issue 27).
const IDLE_DEFLATE_ABOVE: f64 = 2048.0;

/// Server memory growth allowed per stuck session: `max_queued_bytes` (1 MiB, the
/// default) plus 256 KiB.
const STUCK_BYTES: f64 = (1024 * 1024 + 256 * 1024) as f64;

const SPECS: &[Spec] = &[
    Spec {
        name: "bare-echo",
        what: "bare actix-web websocket echo (`/bare`), 32 clients, 1 message in flight each",
        baseline: "bare-echo",
        target: Target::None,
    },
    Spec {
        name: "ws-echo",
        what: "SockJS websocket echo, `[\"msg\"]` → `a[\"msg\"]`, 32 clients, 1 in flight",
        baseline: "bare-echo",
        target: Target::Ratio(0.90),
    },
    Spec {
        name: "ws-echo-deflate",
        what: "`ws-echo` with permessage-deflate agreed (bench-server `--permessage-deflate`): \
               its frames (37 bytes) are under the compression threshold and go out plain",
        baseline: "ws-echo",
        target: Target::Ratio(0.97),
    },
    Spec {
        name: "raw-ws-echo",
        what: "SockJS raw websocket echo (`/echo/websocket`), 32 clients, 1 in flight",
        baseline: "bare-echo",
        target: Target::Ratio(0.95),
    },
    Spec {
        name: "bare-echo-pipe",
        what: "bare echo pipelined, 8 clients, 32 messages in flight each",
        baseline: "bare-echo-pipe",
        target: Target::None,
    },
    Spec {
        name: "ws-echo-pipe",
        what: "SockJS websocket echo pipelined, 8 clients × 32 in flight",
        baseline: "bare-echo-pipe",
        target: Target::Ratio(0.90),
    },
    Spec {
        name: "raw-ws-echo-pipe",
        what: "raw websocket echo pipelined, 8 clients × 32 in flight",
        baseline: "bare-echo-pipe",
        target: Target::Ratio(0.95),
    },
    Spec {
        name: "broadcast",
        what: "`/broadcast` to 1000 websocket sessions, 1000 messages (4 in flight): deliveries",
        baseline: "bare-echo",
        target: Target::Ratio(2.0),
    },
    Spec {
        name: "broadcast-200",
        what: "`broadcast` with chat lines of about 200 bytes \
               (`{\"type\":\"message\",\"id\":…,\"sent\":…,\"name\":…,\"text\":…}`, \
               English-like text, different each message), no compression; ratio to `broadcast`",
        baseline: "broadcast",
        target: Target::None,
    },
    Spec {
        name: "broadcast-deflate",
        what: "`broadcast-200` with permessage-deflate agreed by every session \
               (bench-server `--permessage-deflate`)",
        baseline: "broadcast-200",
        target: Target::RatioAndWire {
            rate: 0.70,
            wire: 0.50,
        },
    },
    Spec {
        name: "broadcast-redis",
        what: "`/broadcast` across two bench-servers started with `--redis` on one redis-server \
               (both servers and Redis pinned with bench-server): 2 × 250 websocket sessions, \
               1000 messages from a session on the first instance (4 in flight, counted at \
               both instances): deliveries on both; CPU is both servers' summed (not Redis's); \
               latency over every delivery (in parentheses: the other instance's); ratio to \
               `broadcast`",
        baseline: "broadcast",
        target: Target::None,
    },
    Spec {
        name: "xhr-echo",
        what: "xhr polling echo: `xhr_send` + outstanding `xhr` poll, 32 sessions (round trips)",
        baseline: "bare-echo",
        target: Target::Rate(17_000.0),
    },
    Spec {
        name: "xhr-streaming",
        what: "`xhr_send` → `xhr_streaming`, 32 sessions, 1 in flight (messages received)",
        baseline: "bare-echo",
        target: Target::None,
    },
    Spec {
        name: "xhr-streaming-4k",
        what: "the same on `/echo4k` (`response_limit` 4 KiB: streams end and reopen every few dozen messages)",
        baseline: "xhr-streaming",
        target: Target::Ratio(0.80),
    },
    Spec {
        name: "connect-bare",
        what: "bare websocket: connect, handshake, one echo, close; 16 in parallel",
        baseline: "connect-bare",
        target: Target::None,
    },
    Spec {
        name: "connect-ws",
        what: "SockJS websocket session: connect, `o`, one echo, close; 16 in parallel",
        baseline: "connect-bare",
        target: Target::Ratio(0.90),
    },
    Spec {
        name: "idle-bare",
        what: "server memory per idle bare websocket (5000 open)",
        baseline: "idle-bare",
        target: Target::None,
    },
    Spec {
        name: "idle-ws",
        what: "server memory per idle SockJS websocket session (5000 open)",
        baseline: "idle-bare",
        target: Target::BytesAbove(IDLE_ABOVE_BARE),
    },
    Spec {
        name: "idle-ws-deflate",
        what: "`idle-ws` with permessage-deflate agreed, each session having sent a compressed \
               message of 1 KiB and received it back compressed first",
        baseline: "idle-ws",
        target: Target::BytesAbove(IDLE_DEFLATE_ABOVE),
    },
    Spec {
        name: "idle-ws-deflate-own",
        what: "`idle-ws-deflate` where clients keep their compression context \
               (`client_no_context_takeover(false)`): each connection holds an inflater",
        baseline: "idle-ws",
        target: Target::None,
    },
    Spec {
        name: "idle-bare-stream",
        what: "server memory per idle bare actix streaming response with xhr_streaming's prelude and `o` (5000 open)",
        baseline: "idle-bare-stream",
        target: Target::None,
    },
    Spec {
        name: "idle-xhr-streaming",
        what: "server memory per idle xhr_streaming session (5000 open)",
        baseline: "idle-bare-stream",
        target: Target::BytesAbove(IDLE_ABOVE_BARE),
    },
    Spec {
        name: "stuck",
        what: "peak server memory growth per stuck session: 50 websocket + 50 xhr_streaming `/broadcast` sessions that never read (4 KiB SO_RCVBUF) while 5000 broadcasts of 1 KiB flow; a reading member gets all",
        // Nothing to compare with: the target is the bound itself.
        baseline: "",
        target: Target::Bytes(STUCK_BYTES),
    },
    Spec {
        name: "stuck-addr",
        what: "the same on `/room`, where the broadcast reaches the sessions through a room actor's `Addr`s (`do_send` of a `PreparedMessage` to each member actor, which writes it with `send_prepared`) instead of their `SessionHandle`s, with 50,000 broadcasts",
        baseline: "",
        target: Target::Bytes(STUCK_BYTES),
    },
];

/// The medians of one scenario's runs.
#[derive(Default)]
struct Summary {
    runs: usize,
    errors: u64,
    first_error: Option<String>,
    rate: Option<f64>,
    per_cpu: Option<f64>,
    cpu_util: Option<f64>,
    p50: Option<f64>,
    p99: Option<f64>,
    /// Latencies of the deliveries to another instance than the sender's
    /// (`broadcast-redis`).
    remote_p50: Option<f64>,
    remote_p99: Option<f64>,
    bytes: Option<f64>,
    /// Live heap bytes per session, when the server counted them.
    heap: Option<f64>,
    /// Payload bytes received per operation, where counted.
    wire: Option<f64>,
    /// The share of the operations that arrived compressed, where counted.
    compressed: Option<f64>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

fn summarise(runs: &[&Value]) -> Summary {
    let field = |name: &str| -> Option<f64> {
        median(runs.iter().filter_map(|r| r.get(name)?.as_f64()).collect())
    };
    Summary {
        runs: runs.len(),
        errors: runs.iter().filter_map(|r| r.get("errors")?.as_u64()).sum(),
        first_error: runs
            .iter()
            .find_map(|r| r.get("first_error")?.as_str().map(str::to_owned)),
        rate: field("rate"),
        per_cpu: field("per_server_cpu_s"),
        cpu_util: field("server_cpu_util"),
        p50: field("p50_us"),
        p99: field("p99_us"),
        remote_p50: field("remote_p50_us"),
        remote_p99: field("remote_p99_us"),
        bytes: field("bytes_per_session").or_else(|| field("bytes_per_stuck_session")),
        heap: field("heap_bytes_per_session"),
        wire: field("wire_bytes_per_op"),
        compressed: field("compressed_share"),
    }
}

/// `12345` → `12,345`.
fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn latency(us: Option<f64>) -> String {
    match us {
        None => "–".into(),
        Some(us) if us >= 10_000.0 => format!("{:.0} ms", us / 1000.0),
        Some(us) if us >= 1000.0 => format!("{:.1} ms", us / 1000.0),
        Some(us) => format!("{us:.0} µs"),
    }
}

/// Payload bytes received per operation, and the share that came compressed when
/// any did.
fn wire(bytes: Option<f64>, compressed: Option<f64>) -> String {
    match (bytes, compressed) {
        (None, _) => "–".into(),
        (Some(b), Some(c)) if c > 0.0 => format!("{b:.0} ({:.0} % compressed)", c * 100.0),
        (Some(b), _) => format!("{b:.0}"),
    }
}

/// `p50 / p99`, and the remote deliveries' `(remote p50 / p99)` when there are any.
fn latencies(p50: Option<f64>, p99: Option<f64>, r50: Option<f64>, r99: Option<f64>) -> String {
    let all = format!("{} / {}", latency(p50), latency(p99));
    match (r50, r99) {
        (None, None) => all,
        _ => format!("{all} (remote {} / {})", latency(r50), latency(r99)),
    }
}

/// The markdown table of every scenario found in `lines` (JSON result lines), in the
/// order of [`SPECS`], followed by unknown scenarios.
pub(crate) fn table(lines: &[Value]) -> String {
    let mut by_name: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for line in lines {
        if let Some(name) = line.get("scenario").and_then(Value::as_str) {
            by_name.entry(name).or_default().push(line);
        }
    }
    let summaries: BTreeMap<&str, Summary> = by_name
        .iter()
        .map(|(name, runs)| (*name, summarise(runs)))
        .collect();
    let mut out = String::new();
    out.push_str(
        "| scenario | what is measured | runs | raw rate | per server CPU-second | wire bytes / op | server CPU | p50 / p99 latency | ratio to bare | target | result |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for spec in SPECS {
        let Some(sum) = summaries.get(spec.name) else {
            continue;
        };
        let base = summaries.get(spec.baseline);
        let unit = spec.memory_unit();
        let (raw, per_cpu, ratio) = if let Some(unit) = unit {
            let ratio = match (sum.bytes, base.and_then(|b| b.bytes)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            (
                sum.bytes
                    .map_or("–".into(), |b| format!("{} {unit}", thousands(b))),
                "–".to_owned(),
                ratio,
            )
        } else {
            let ratio = match (sum.per_cpu, base.and_then(|b| b.per_cpu)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            (
                sum.rate
                    .map_or("–".into(), |r| format!("{}/s", thousands(r))),
                sum.per_cpu.map_or("–".into(), thousands),
                ratio,
            )
        };
        let (target, pass) = match spec.target {
            Target::None => ("–".to_owned(), None),
            Target::Ratio(r) => (
                format!("≥ {:.0} % of `{}`", r * 100.0, spec.baseline),
                ratio.map(|x| x >= r),
            ),
            Target::RatioAndWire { rate, wire } => {
                let wire_ratio = match (sum.wire, base.and_then(|b| b.wire)) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                };
                (
                    format!(
                        "≥ {:.0} % of `{}` per server CPU-second, ≤ {:.0} % of its wire bytes / op{}",
                        rate * 100.0,
                        spec.baseline,
                        wire * 100.0,
                        wire_ratio.map_or(String::new(), |w| format!(" (here {:.0} %)", w * 100.0))
                    ),
                    ratio.zip(wire_ratio).map(|(r, w)| r >= rate && w <= wire),
                )
            }
            Target::Rate(r) => (format!("≥ {}/s", thousands(r)), sum.rate.map(|x| x >= r)),
            Target::Bytes(b) => (
                format!("≤ {} {}", thousands(b), unit.unwrap_or("B")),
                sum.bytes.map(|x| x <= b),
            ),
            Target::BytesAbove(b) => {
                let above = match (sum.bytes, base.and_then(|s| s.bytes)) {
                    (Some(x), Some(floor)) => Some(x - floor),
                    _ => None,
                };
                // The heap difference, which does not move from run to run, for
                // information: the target is held to resident memory.
                let heap_above = match (sum.heap, base.and_then(|s| s.heap)) {
                    (Some(x), Some(floor)) => format!("; heap + {}", thousands(x - floor)),
                    _ => String::new(),
                };
                (
                    format!(
                        "≤ `{}` + {} {}{}",
                        spec.baseline,
                        thousands(b),
                        unit.unwrap_or("B"),
                        above.map_or(String::new(), |a| format!(
                            " (here + {}{heap_above})",
                            thousands(a)
                        ))
                    ),
                    above.map(|a| a <= b),
                )
            }
        };
        let result = if sum.errors > 0 {
            format!(
                "ERROR ({} client errors: {})",
                sum.errors,
                sum.first_error.as_deref().unwrap_or("?")
            )
        } else {
            match pass {
                None => "info".into(),
                Some(true) => "**PASS**".into(),
                Some(false) => "**MISS**".into(),
            }
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            spec.name,
            spec.what,
            sum.runs,
            raw,
            per_cpu,
            wire(sum.wire, sum.compressed),
            sum.cpu_util
                .map_or("–".into(), |u| format!("{:.0} %", u * 100.0)),
            if unit.is_some() {
                "–".into()
            } else {
                latencies(sum.p50, sum.p99, sum.remote_p50, sum.remote_p99)
            },
            ratio.map_or("–".into(), |r| format!("{:.2}", r)),
            target,
            result
        );
    }
    for (name, sum) in &summaries {
        if SPECS.iter().all(|s| s.name != *name) && !fanout::reports(name) {
            let _ = writeln!(
                out,
                "| `{name}` | (unknown scenario) | {} | {} | {} | – | – | – | – | – | info |",
                sum.runs,
                sum.rate.map_or("–".into(), thousands),
                sum.per_cpu.map_or("–".into(), thousands),
            );
        }
    }
    out.push_str(&fanout::section(lines));
    out
}

/// One readable line for a run, printed as it finishes.
pub(crate) fn line(v: &Value) -> String {
    let name = v["scenario"].as_str().unwrap_or("?");
    if fanout::reports(name) {
        return fanout::line(v);
    }
    if let Some(bytes) = v.get("bytes_per_stuck_session").and_then(Value::as_f64) {
        let mut s = format!(
            "{name:<20} {:>10} B/stuck session  (limit {}; {} sessions, RSS {} KiB, peak +{} KiB, \
             {} after leaving; closed {}; broadcaster got {} of {})",
            thousands(bytes),
            thousands(v["limit"].as_f64().unwrap_or(0.0)),
            v["sessions"],
            v["rss_before"].as_u64().unwrap_or(0) / 1024,
            v["peak_growth"].as_u64().unwrap_or(0) / 1024,
            v["rss_after_leaving"].as_u64().unwrap_or(0) / 1024,
            v["stuck_endings"],
            v["received"],
            v["messages"],
        );
        if let Some(e) = v.get("first_error").and_then(Value::as_str) {
            let _ = write!(s, "  ERROR: {e}");
        }
        return s;
    }
    if let Some(bytes) = v.get("bytes_per_session").and_then(Value::as_f64) {
        let heap = v
            .get("heap_bytes_per_session")
            .and_then(Value::as_f64)
            .map_or(String::new(), |h| {
                format!(", heap {} B/session", thousands(h))
            });
        return format!(
            "{name:<20} {:>10} B/session  ({} sessions, RSS {} → {} KiB{heap})",
            thousands(bytes),
            v["sessions"],
            v["rss_before"].as_u64().unwrap_or(0) / 1024,
            v["rss_after"].as_u64().unwrap_or(0) / 1024,
        );
    }
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    let mut s = format!(
        "{name:<20} {:>10}/s  {:>10} per server CPU-s  server {:>3.0} %  client {:>3.0} %  p50 {}  p99 {}",
        thousands(f("rate").unwrap_or(0.0)),
        thousands(f("per_server_cpu_s").unwrap_or(0.0)),
        f("server_cpu_util").unwrap_or(0.0) * 100.0,
        f("client_cpu_util").unwrap_or(0.0) * 100.0,
        latency(f("p50_us")),
        latency(f("p99_us")),
    );
    if let Some(bytes) = f("wire_bytes_per_op") {
        let _ = write!(
            s,
            "  wire {bytes:.0} B/op ({:.0} % compressed)",
            f("compressed_share").unwrap_or(0.0) * 100.0
        );
    }
    if let Some(remote) = v.get("remote_deliveries").and_then(Value::as_u64) {
        let _ = write!(
            s,
            "  remote: {remote} deliveries, p50 {} p99 {}",
            latency(f("remote_p50_us")),
            latency(f("remote_p99_us")),
        );
    }
    if let Some(cpu) = f("redis_cpu_s") {
        let _ = write!(s, "  redis CPU {cpu:.2} s");
    }
    if let Some(e) = v.get("first_error").and_then(Value::as_str) {
        let _ = write!(s, "  ERRORS {}: {e}", v["errors"]);
    }
    s
}

#[cfg(test)]
mod tests;
