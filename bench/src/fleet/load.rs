//! `sockjs-bench fleet load`: one load process of `scripts/scale`. It opens its
//! sessions on `/broadcast` (a fixed number per transport, spread over the
//! instances), says so on stdout, then counts what they receive until the script
//! writes `finish COUNT` on its stdin (the publisher sent messages `0..COUNT`); it
//! waits, `--drain` seconds at most, until every open session has every message,
//! and reports. Reports are JSON lines on stdout: `{"event":"opened",..}` and
//! `{"event":"result",..}`. End of stdin without `finish` ends it (the script went).

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use super::counts::{Counts, SessionTally};
use super::session::{self, Plan, Transport};
use sockjs_bench::{flag_number, flag_value, rss_bytes};

/// The settings of one load process.
pub(crate) struct LoadArgs {
    /// The instances; global session `g` goes to `addrs[g % addrs.len()]`.
    addrs: Vec<SocketAddr>,
    /// The global number of this process's first session.
    first: usize,
    /// Sessions per transport ([`Transport::ALL`]'s order).
    sessions: [usize; 3],
    /// Opens in flight at most.
    connects: usize,
    open_timeout: Duration,
    drain: Duration,
    /// The longest the process runs.
    end: Duration,
    /// The name of the process in its reports.
    label: String,
}

/// Parses `fleet load`'s flags.
pub(crate) fn parse(args: &[String]) -> Result<LoadArgs, String> {
    let mut parsed = LoadArgs {
        addrs: Vec::new(),
        first: 0,
        sessions: [0; 3],
        connects: 200,
        open_timeout: Duration::from_secs(120),
        drain: Duration::from_secs(15),
        end: Duration::from_secs(3600),
        label: "load".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = flag_value(flag, &mut it)?;
        let seconds = |v: String| flag_number::<u64>(flag, v).map(Duration::from_secs);
        match flag.as_str() {
            "--addrs" => {
                parsed.addrs = value
                    .split(',')
                    .map(|a| flag_number(flag, a.to_owned()))
                    .collect::<Result<_, _>>()?;
            }
            "--first" => parsed.first = flag_number(flag, value)?,
            "--websocket" => parsed.sessions[0] = flag_number(flag, value)?,
            "--xhr-streaming" => parsed.sessions[1] = flag_number(flag, value)?,
            "--xhr-polling" => parsed.sessions[2] = flag_number(flag, value)?,
            "--connects" => parsed.connects = flag_number(flag, value)?,
            "--open-timeout" => parsed.open_timeout = seconds(value)?,
            "--drain" => parsed.drain = seconds(value)?,
            "--end" => parsed.end = seconds(value)?,
            "--label" => parsed.label = value,
            other => return Err(format!("fleet load: unknown argument {other}")),
        }
    }
    if parsed.addrs.is_empty() {
        return Err("fleet load: --addrs is required".into());
    }
    if let Some(far) = parsed.addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(format!("fleet load: {far} is not a loopback address"));
    }
    Ok(parsed)
}

/// Runs one load process; true when every session opened and got every message
/// once.
pub(crate) fn main(args: &LoadArgs) -> Result<bool, String> {
    let (runtime, _) = sockjs_bench::client_setup(None)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, run(args))
}

/// Reads the script's commands from stdin on a thread of its own; the channel
/// closes at end of input.
fn commands() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            for line in std::io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        eprintln!("fleet load: no stdin reader ({e}): the run cannot finish");
    }
    rx
}

fn report(value: &Value) {
    println!("{value}");
}

async fn run(args: &LoadArgs) -> Result<bool, String> {
    let started = Instant::now();
    let end = started + args.end;
    let counts = Rc::new(Counts::new(args.connects));
    let mut commands = commands();
    let mut tallies = Vec::new();
    let mut number = args.first;
    for transport in Transport::ALL {
        for _ in 0..args.sessions[transport.index()] {
            let tally = Rc::new(SessionTally::new(transport));
            let plan = Plan {
                transport,
                addr: args.addrs[number % args.addrs.len()],
                number,
                open_timeout: args.open_timeout,
                end,
            };
            tokio::task::spawn_local(session::run(plan, counts.clone(), tally.clone()));
            tallies.push(tally);
            number += 1;
        }
    }
    let total = tallies.len() as u64;
    // Each session gives up after `open_timeout` once it has a permit: the last ones
    // wait for the others' permits first.
    let open_deadline = started + args.open_timeout * 2 + Duration::from_secs(30);
    let all_tried = timeout_at(open_deadline, counts.all_tried(total))
        .await
        .is_ok();
    let opened = counts.opened_per_transport();
    let failed = counts.failed_per_transport();
    let per_transport = |values: [u64; 3]| {
        let mut map = serde_json::Map::new();
        for t in Transport::ALL {
            map.insert(t.name().into(), json!(values[t.index()]));
        }
        Value::Object(map)
    };
    let open_total: u64 = opened.iter().sum();
    report(&json!({
        "event": "opened",
        "label": args.label,
        "pid": std::process::id(),
        "wanted": total,
        "opened": per_transport(opened),
        "failed": per_transport(failed),
        "not_tried": total - open_total - failed.iter().sum::<u64>(),
        "all_tried": all_tried,
        "first_error": counts.first_open_error(),
        "open_secs": started.elapsed().as_secs_f64(),
        "rss_bytes": rss_bytes("self").unwrap_or(0),
    }));

    let count = loop {
        match commands.recv().await {
            Some(line) => {
                let mut words = line.split_whitespace();
                if words.next() == Some("finish") {
                    if let Some(count) = words.next().and_then(|c| c.parse::<u64>().ok()) {
                        break count;
                    }
                }
                eprintln!("fleet load {}: ignored command {line:?}", args.label);
            }
            None => {
                return Err(format!(
                    "fleet load {}: stdin closed before `finish`",
                    args.label
                ));
            }
        }
    };
    let finished = Instant::now();
    counts.finish(count, &tallies);
    let live = tallies
        .iter()
        .filter(|t| t.open.get() && t.broken.borrow().is_none())
        .count() as u64;
    let drained = timeout_at(finished + args.drain, counts.all_complete(live))
        .await
        .is_ok();
    let result = summarize(args, &counts, &tallies, count);
    let ok = result["lost"] == json!(0)
        && result["duplicated"] == json!(0)
        && result["broken"] == json!(0)
        && failed.iter().sum::<u64>() == 0
        && open_total == total;
    let mut result = result;
    result["drained"] = json!(drained);
    result["drain_secs"] = json!(finished.elapsed().as_secs_f64());
    report(&result);
    Ok(ok)
}

/// The `result` report: what the open sessions received of messages `0..count`.
fn summarize(args: &LoadArgs, counts: &Counts, tallies: &[Rc<SessionTally>], count: u64) -> Value {
    let mut lost = [0u64; 3];
    let mut duplicated = [0u64; 3];
    let mut broken = [0u64; 3];
    let mut sessions = [0u64; 3];
    let mut first_broken = None;
    for tally in tallies.iter().filter(|t| t.open.get()) {
        let i = tally.transport.index();
        let received = tally.received.borrow();
        sessions[i] += 1;
        lost[i] += received.missing(count);
        duplicated[i] += received.duplicated();
        if let Some(why) = tally.broken.borrow().as_ref() {
            broken[i] += 1;
            first_broken.get_or_insert_with(|| why.clone());
        }
    }
    let mut per_transport = serde_json::Map::new();
    for t in Transport::ALL {
        let i = t.index();
        per_transport.insert(
            t.name().into(),
            json!({"sessions": sessions[i], "lost": lost[i], "duplicated": duplicated[i],
                   "broken": broken[i]}),
        );
    }
    let (first_delivery, last_delivery) = counts.delivery_span();
    json!({
        "event": "result",
        "label": args.label,
        "pid": std::process::id(),
        "published": count,
        "sessions": sessions.iter().sum::<u64>(),
        "complete": counts.complete(),
        "deliveries": counts.deliveries(),
        "lost": lost.iter().sum::<u64>(),
        "duplicated": duplicated.iter().sum::<u64>(),
        "broken": broken.iter().sum::<u64>(),
        "first_broken": first_broken,
        "foreign": counts.foreign(),
        "per_transport": per_transport,
        "latency_us": counts.latency().to_json(),
        "first_delivery_micros": first_delivery,
        "last_delivery_micros": last_delivery,
        "rss_bytes": rss_bytes("self").unwrap_or(0),
    })
}
