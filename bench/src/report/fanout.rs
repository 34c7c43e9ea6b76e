//! The fan-out section of BENCHMARKS.md: `fanout-19k`'s runs, the server's user and
//! kernel CPU time per delivery apart, and its targets; beside them
//! `fanout-19k-bare`'s, the same fan-out with no SockJS as cheaply as actix-http
//! allows (the floor).

use std::fmt::Write as _;

use serde_json::Value;

use super::{latency, median, thousands};

/// The scenario this section reports.
pub(super) const NAME: &str = "fanout-19k";
/// The floor it is compared with.
pub(super) const BARE: &str = "fanout-19k-bare";

/// Whether `name` is one of this section's scenarios.
pub(super) fn reports(name: &str) -> bool {
    name == NAME || name == BARE
}
/// Server user-space CPU time per delivery at most this many microseconds.
const USER_US: f64 = 2.5;
/// 99th percentile latency at most this many microseconds.
const P99_US: f64 = 300_000.0;

/// The section, or nothing when no run of [`NAME`] is in `lines`.
pub(super) fn section(lines: &[Value]) -> String {
    let of = |name: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|v| v.get("scenario").and_then(Value::as_str) == Some(name))
            .collect()
    };
    let (runs, bare) = (of(NAME), of(BARE));
    if runs.is_empty() {
        return String::new();
    }
    let field = |name: &str| median(runs.iter().filter_map(|r| r.get(name)?.as_f64()).collect());
    let sum = |name: &str| -> u64 { runs.iter().filter_map(|r| r.get(name)?.as_u64()).sum() };
    let (user, sys) = (field("user_us_per_delivery"), field("sys_us_per_delivery"));
    let p99 = field("p99_us");
    let (lost, duplicated, errors) = (sum("lost"), sum("duplicated"), sum("errors"));
    let pass = errors == 0
        && lost == 0
        && duplicated == 0
        && user.is_some_and(|u| u <= USER_US)
        && p99.is_some_and(|p| p <= P99_US);
    let us = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.2} µs"));
    let mut out = String::new();
    out.push_str("\n## Fan-out\n\n");
    let _ = writeln!(
        out,
        "`{NAME}`: {} SockJS websocket sessions on one worker, one {}-byte broadcast every {} ms to all \
         of them; the server's CPU time per delivery, user space and kernel apart (medians of {} runs, \
         each on a fresh server, on jemalloc with transparent huge pages, as README advises for \
         large rooms). Target: user space ≤ {USER_US} µs per delivery, p99 ≤ {} ms, nothing lost \
         or duplicated.\n",
        thousands(field("sessions").unwrap_or(0.0)),
        field("size").unwrap_or(0.0),
        field("interval_ms").unwrap_or(0.0),
        runs.len(),
        P99_US / 1000.0,
    );
    if !bare.is_empty() {
        let _ = writeln!(
            out,
            "`{BARE}` is the same fan-out against bench-server's `/bare-broadcast`: plain websocket \
             connections of actix-web, no SockJS, no session and no actor, each message encoded once \
             and queued for every connection of the worker (`bench/src/bare_fanout.rs`): what \
             actix-http itself costs, the floor of any server built on it (medians of {} runs).\n",
            bare.len()
        );
    }
    out.push_str(
        "| server | deliveries / s | user CPU / delivery | kernel CPU / delivery | p50 | p99 | max | lost | duplicated | result |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    let result = if errors > 0 {
        format!(
            "**ERRORS** ({errors}): {}",
            runs.iter()
                .find_map(|r| r.get("first_error")?.as_str())
                .unwrap_or("?")
        )
    } else if pass {
        "**PASS**".into()
    } else {
        "**MISS**".into()
    };
    let _ = writeln!(
        out,
        "| `{NAME}` (this crate) | {} | {} | {} | {} | {} | {} | {lost} | {duplicated} | {result} |",
        field("rate").map_or("–".into(), thousands),
        us(user),
        us(sys),
        latency(field("p50_us")),
        latency(p99),
        latency(field("max_us")),
    );
    if !bare.is_empty() {
        let field =
            |name: &str| median(bare.iter().filter_map(|r| r.get(name)?.as_f64()).collect());
        let sum = |name: &str| -> u64 { bare.iter().filter_map(|r| r.get(name)?.as_u64()).sum() };
        let _ = writeln!(
            out,
            "| `{BARE}` (actix-web alone) | {} | {} | {} | {} | {} | {} | {} | {} | floor |",
            field("rate").map_or("–".into(), thousands),
            us(field("user_us_per_delivery")),
            us(field("sys_us_per_delivery")),
            latency(field("p50_us")),
            latency(field("p99_us")),
            latency(field("max_us")),
            sum("lost"),
            sum("duplicated"),
        );
    }
    out
}

/// One readable line for a run of [`NAME`].
pub(super) fn line(v: &Value) -> String {
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    let name = v.get("scenario").and_then(Value::as_str).unwrap_or(NAME);
    let mut s = format!(
        "{name:<20} {} sessions, {} deliveries/s  user {:.2} µs  kernel {:.2} µs per delivery  \
         p50 {}  p99 {}  max {}  lost {}  duplicated {}  (opened in {:.1} s)",
        v["sessions"],
        thousands(f("rate").unwrap_or(0.0)),
        f("user_us_per_delivery").unwrap_or(0.0),
        f("sys_us_per_delivery").unwrap_or(0.0),
        latency(f("p50_us")),
        latency(f("p99_us")),
        latency(f("max_us")),
        v["lost"],
        v["duplicated"],
        f("open_s").unwrap_or(0.0),
    );
    if let Some(e) = v.get("first_error").and_then(Value::as_str) {
        let _ = write!(s, "  ERRORS {}: {e}", v["errors"]);
    }
    s
}
