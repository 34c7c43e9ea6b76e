//! `sockjs-bench fleet summary FILE`: the table `scripts/scale` prints, from the JSON
//! lines of one run: the script's own (`run`, `instance`, `redis`), the load
//! processes' (`opened`, `result`) and the publisher's (`published`). Ok(true) when
//! every session opened and every message reached every session exactly once.

use serde_json::Value;

use super::session::Transport;
use super::tally::Histogram;

/// What the lines of one run add up to.
#[derive(Default)]
struct Totals {
    wanted: [u64; 3],
    opened: [u64; 3],
    failed: [u64; 3],
    first_open_error: Option<String>,
    results: usize,
    sessions: u64,
    deliveries: u64,
    lost: u64,
    duplicated: u64,
    broken: u64,
    first_broken: Option<String>,
    foreign: u64,
    drained: bool,
    latency: Histogram,
    last_delivery: u64,
    load_rss: u64,
}

fn number(value: &Value, key: &str) -> u64 {
    value[key].as_u64().unwrap_or(0)
}

fn float(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or(0.0)
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds, in the unit that reads best.
fn duration(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

fn mib(bytes: f64) -> String {
    format!("{:.0} MiB", bytes / (1024.0 * 1024.0))
}

fn add_transports(into: &mut [u64; 3], value: &Value) {
    for t in Transport::ALL {
        into[t.index()] += value[t.name()].as_u64().unwrap_or(0);
    }
}

fn per_transport(values: &[u64; 3]) -> String {
    Transport::ALL
        .iter()
        .map(|t| format!("{} {}", t.name(), grouped(values[t.index()])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the run's lines from `path`, prints the summary; Ok(true) when it passed.
pub(crate) fn main(args: &[String]) -> Result<bool, String> {
    let [path] = args else {
        return Err("usage: sockjs-bench fleet summary FILE".into());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{path}: {e}: {l}")))
        .collect::<Result<_, _>>()?;
    let of = |event: &'static str| lines.iter().filter(move |v| v["event"] == event);
    let run = of("run").next().ok_or("no `run` line")?;
    let published = of("published").next();
    let mut t = Totals {
        drained: true,
        ..Totals::default()
    };
    add_transports(&mut t.wanted, &run["wanted"]);
    for opened in of("opened") {
        add_transports(&mut t.opened, &opened["opened"]);
        add_transports(&mut t.failed, &opened["failed"]);
        if t.first_open_error.is_none() {
            t.first_open_error = opened["first_error"].as_str().map(str::to_owned);
        }
    }
    for result in of("result") {
        t.results += 1;
        t.sessions += number(result, "sessions");
        t.deliveries += number(result, "deliveries");
        t.lost += number(result, "lost");
        t.duplicated += number(result, "duplicated");
        t.broken += number(result, "broken");
        t.foreign += number(result, "foreign");
        t.drained &= result["drained"] == true;
        t.last_delivery = t.last_delivery.max(number(result, "last_delivery_micros"));
        t.load_rss += number(result, "rss_bytes");
        if t.first_broken.is_none() {
            t.first_broken = result["first_broken"].as_str().map(str::to_owned);
        }
        let latency = Histogram::from_json(&result["latency_us"]).ok_or("bad latency_us")?;
        t.latency.merge(&latency);
    }
    let load_processes = number(run, "load_processes") as usize;
    let wanted: u64 = t.wanted.iter().sum();
    let opened: u64 = t.opened.iter().sum();
    let count = published.map_or(0, |p| number(p, "count"));
    let expected = t.sessions * count;

    println!("| what | measured |");
    println!("|---|---|");
    let row = |what: &str, value: String| println!("| {what} | {value} |");
    row(
        "sessions open",
        format!(
            "{} of {} ({})",
            grouped(opened),
            grouped(wanted),
            per_transport(&t.opened)
        ),
    );
    if t.failed.iter().sum::<u64>() > 0 {
        row(
            "sessions that failed to open",
            format!(
                "{} (first: {})",
                per_transport(&t.failed),
                t.first_open_error.as_deref().unwrap_or("?")
            ),
        );
    }
    let open_secs = float(run, "open_secs");
    row(
        "time to open them",
        format!(
            "{open_secs:.1} s ({} sessions/s)",
            grouped((opened as f64 / open_secs.max(1e-3)) as u64)
        ),
    );
    row(
        "processes",
        format!(
            "{} test_server instances (`--workers 1 --redis`), {} load processes, 1 redis-server",
            number(run, "instances"),
            load_processes
        ),
    );
    instance_rows(&lines, t.deliveries, &row);
    if t.results > 0 {
        row(
            "load processes' RSS",
            format!(
                "{} in all, {} B per session",
                mib(t.load_rss as f64),
                grouped(t.load_rss / t.sessions.max(1))
            ),
        );
    }
    if let Some(p) = published {
        row(
            "published",
            format!(
                "{} messages of {} B, one every {} ms, from one websocket session (latest tick {:.1} ms late)",
                grouped(count),
                number(p, "size"),
                number(p, "interval_ms"),
                float(p, "late_max_ms")
            ),
        );
        let span_us = t
            .last_delivery
            .saturating_sub(number(p, "first_sent_micros"));
        row(
            "deliveries",
            format!(
                "{} of {} due; {} per second (first send to last delivery, {:.1} s)",
                grouped(t.deliveries),
                grouped(expected),
                grouped((t.deliveries as f64 / (span_us as f64 / 1e6).max(1e-3)) as u64),
                span_us as f64 / 1e6
            ),
        );
    } else {
        row("published", "nothing: the publisher did not report".into());
    }
    for redis in of("redis") {
        row(
            "Redis CPU while publishing",
            format!(
                "{:.2} s over {:.1} s ({:.1} % of a core), RSS {}",
                float(redis, "cpu_secs"),
                float(redis, "publish_secs"),
                100.0 * float(redis, "cpu_secs") / float(redis, "publish_secs").max(1e-3),
                mib(number(redis, "rss_kb") as f64 * 1024.0)
            ),
        );
    }
    let q = |q: f64| t.latency.quantile(q).map_or("–".into(), duration);
    row(
        "latency p50 / p99 / max",
        format!(
            "{} / {} / {} (send to receipt, over {} deliveries)",
            q(0.5),
            q(0.99),
            duration(t.latency.max()),
            grouped(t.latency.total())
        ),
    );
    row("messages lost", grouped(t.lost));
    row("messages duplicated", grouped(t.duplicated));
    if t.broken > 0 {
        row(
            "sessions whose connection broke",
            format!(
                "{} (first: {})",
                grouped(t.broken),
                t.first_broken.as_deref().unwrap_or("?")
            ),
        );
    }
    if t.foreign > 0 {
        row("items that were not the publisher's", grouped(t.foreign));
    }
    let mut failures = Vec::new();
    if opened < wanted {
        failures.push(format!("{} sessions did not open", wanted - opened));
    }
    if published.is_none_or(|p| p["last_came_back"] != true) {
        failures.push("the publisher did not finish".into());
    }
    if t.results != load_processes {
        failures.push(format!(
            "{} of {load_processes} load processes reported",
            t.results
        ));
    }
    if t.lost > 0 || t.duplicated > 0 || t.broken > 0 {
        failures.push(format!(
            "{} lost, {} duplicated, {} sessions broken",
            t.lost, t.duplicated, t.broken
        ));
    }
    if !t.drained && failures.is_empty() {
        failures.push("some load process did not drain".into());
    }
    if failures.is_empty() {
        row("result", "**PASS**".into());
    } else {
        row("result", format!("**FAIL**: {}", failures.join("; ")));
    }
    Ok(failures.is_empty())
}

/// The instances' memory: before the sessions, with them, and per session.
fn instance_rows(lines: &[Value], deliveries: u64, row: &impl Fn(&str, String)) {
    let instances: Vec<&Value> = lines.iter().filter(|v| v["event"] == "instance").collect();
    if instances.is_empty() {
        return;
    }
    let mut per_session = Vec::new();
    let mut cells = Vec::new();
    for i in &instances {
        let before = number(i, "rss_before_kb") * 1024;
        let open = number(i, "rss_open_kb") * 1024;
        let sessions = number(i, "sessions").max(1);
        let each = open.saturating_sub(before) / sessions;
        per_session.push(each);
        cells.push(format!(
            "#{}: {} → {} ({} sessions, {} B each)",
            number(i, "index"),
            mib(before as f64),
            mib(open as f64),
            grouped(sessions),
            grouped(each)
        ));
    }
    row("instance RSS before → with sessions", cells.join("; "));
    let mean = per_session.iter().sum::<u64>() / per_session.len() as u64;
    row(
        "instance RSS per session (mean)",
        format!(
            "{} B: {} sessions per GiB per instance",
            grouped(mean),
            grouped((1u64 << 30) / mean.max(1))
        ),
    );
    let cpu: f64 = instances.iter().map(|i| float(i, "cpu_secs")).sum();
    let publish_secs = instances.first().map_or(0.0, |i| float(i, "publish_secs"));
    if publish_secs > 0.0 {
        row(
            "instances' CPU while publishing",
            format!(
                "{cpu:.1} s over {publish_secs:.1} s in all ({:.0} % of a core, {:.0} % each on average)",
                100.0 * cpu / publish_secs,
                100.0 * cpu / publish_secs / instances.len() as f64
            ),
        );
        if deliveries > 0 {
            row(
                "instances' CPU per delivery",
                format!("{:.1} µs", cpu * 1e6 / deliveries as f64),
            );
        }
    }
}
