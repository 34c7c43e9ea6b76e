//! `sockjs-bench attacks`: hostile clients against a running server (the release
//! `test_server`), each measured by the server's resident memory while it is
//! connected and after it left, and by what it was answered.
//!
//! ```text
//! sockjs-bench attacks --addr 127.0.0.1:PORT --server-pid PID [--attack NAME[,NAME..]|all]
//!                      [--duration SECS] [--stall-wait SECS] [--settle SECS] [--json FILE]
//! sockjs-bench attacks --list
//! sockjs-bench attacks --report FILE..    # the table of earlier results (JSON lines)
//! ```
//!
//! Each attack prints one JSON line on stdout (appended to `--json` too) and a readable
//! line on stderr; a table of all follows on stderr. An attack is `ok` when the
//! server's peak RSS growth stayed under 64 MiB and the attacker saw what it should.

mod broadcast;
mod frames;
mod harness;
mod long_ids;
mod polling;
mod raw_ws;
mod table;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// What every attack is given.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The server's address (loopback only).
    pub(crate) addr: SocketAddr,
    /// The server's process id, for `/proc/PID`.
    pub(crate) pid: String,
    /// How long a flooding attack goes on.
    pub(crate) duration: Duration,
    /// How long `stalled-peers` waits for the server to close its connections.
    pub(crate) stall_wait: Duration,
    /// How long after an attack the server's memory is read again.
    pub(crate) settle: Duration,
}

/// What an attacker saw.
pub(crate) struct Observed {
    /// One line for the table.
    pub(crate) summary: String,
    /// Whether it is what the attack expects.
    pub(crate) as_expected: bool,
    /// Everything else worth keeping, as JSON.
    pub(crate) details: Value,
}

/// Every attack, in the order `all` runs them, with what the server should do.
pub(crate) const ATTACKS: &[(&str, &str)] = &[
    (
        "xhr-stream-unread",
        "an unread xhr_streaming (4 KiB SO_RCVBUF) while its client posts 1 KiB messages to /echo as fast as it can and opens another unread stream every 3 s: RSS bounded, later requests of the session get c[...] (1013, 2010 or 1002)",
    ),
    (
        "broadcast-unread-ws",
        "a /broadcast websocket member that never reads while another broadcasts up to 200k × 1 KiB: RSS bounded, the broadcaster gets every broadcast in order",
    ),
    (
        "amplify-unpolled",
        "one xhr_send to /amplify asking for 200 × 512 KiB, never polled: RSS bounded, the next poll gets c[1013,\"Slow consumer\"]",
    ),
    (
        "huge-frame",
        "a websocket frame header announcing 2^62 bytes on /echo, then data: close 1009 after little data",
    ),
    (
        "fragmented-10mb",
        "a 10 MB text message in 64 KiB continuations on /echo: close 1009 (max_message_size 1 MiB); a small fragmented message is echoed",
    ),
    ("invalid-utf8", "a text frame that is not UTF-8: close 1007"),
    ("unmasked-frame", "an unmasked client frame: close 1002"),
    ("reserved-opcode", "a frame with opcode 3: close 1002"),
    (
        "long-session-ids",
        "8000 requests with 65,520-byte session ids over every HTTP transport: 404 each, no RSS growth",
    ),
    (
        "stalled-peers",
        "a websocket and an xhr_streaming /broadcast member that stop reading and stay connected while broadcasts flow: RSS bounded, the broadcaster gets everything; whether and when the server closes their connections is measured",
    ),
];

const USAGE: &str = "usage:
  sockjs-bench attacks --addr 127.0.0.1:PORT --server-pid PID [--attack NAME[,NAME..]|all]
                       [--duration SECS] [--stall-wait SECS] [--settle SECS] [--json FILE]
  sockjs-bench attacks --list
  sockjs-bench attacks --report FILE..";

struct Args {
    target: Target,
    attacks: Vec<&'static str>,
    json: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Option<Args>, String> {
    let mut addr: Option<SocketAddr> = None;
    let mut pid: Option<u32> = None;
    let mut names = "all".to_owned();
    let mut duration = 15.0f64;
    let mut stall_wait = 90.0f64;
    let mut settle = 6.0f64;
    let mut json = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || sockjs_bench::flag_value(flag, &mut it);
        match flag.as_str() {
            "--list" => {
                for (name, expect) in ATTACKS {
                    println!("{name:<20} {expect}");
                }
                return Ok(None);
            }
            "--addr" => addr = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--server-pid" => pid = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--attack" => names = value()?,
            "--duration" => duration = sockjs_bench::flag_number(flag, value()?)?,
            "--stall-wait" => stall_wait = sockjs_bench::flag_number(flag, value()?)?,
            "--settle" => settle = sockjs_bench::flag_number(flag, value()?)?,
            "--json" => json = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    for (flag, v, max) in [
        ("--duration", duration, 600.0),
        ("--stall-wait", stall_wait, 3600.0),
        ("--settle", settle, 600.0),
    ] {
        if !(0.0..=max).contains(&v) {
            return Err(format!("{flag} must be between 0 and {max} seconds"));
        }
    }
    let addr = addr.ok_or_else(|| format!("--addr is required\n{USAGE}"))?;
    if !addr.ip().is_loopback() {
        return Err("--addr must be a loopback address: the attacks are local only".into());
    }
    let mut attacks = Vec::new();
    for name in names.split(',') {
        if name == "all" {
            attacks.extend(ATTACKS.iter().map(|(n, _)| *n));
        } else if let Some((n, _)) = ATTACKS.iter().find(|(n, _)| *n == name) {
            attacks.push(*n);
        } else {
            return Err(format!(
                "unknown attack {name}; see `sockjs-bench attacks --list`"
            ));
        }
    }
    Ok(Some(Args {
        target: Target {
            addr,
            pid: pid.ok_or("--server-pid is required")?.to_string(),
            duration: Duration::from_secs_f64(duration),
            stall_wait: Duration::from_secs_f64(stall_wait),
            settle: Duration::from_secs_f64(settle),
        },
        attacks,
        json,
    }))
}

/// Prints the table of the results in `paths` (JSON lines); `Ok(true)` if every
/// attack in them was `ok`.
fn report(paths: &[String]) -> Result<bool, String> {
    if paths.is_empty() {
        return Err(USAGE.into());
    }
    let mut results: Vec<Value> = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            results.push(serde_json::from_str(line).map_err(|e| format!("{path}: {e}"))?);
        }
    }
    print!("{}", table::table(&results));
    Ok(results.iter().all(|v| v["ok"].as_bool() == Some(true)))
}

/// Runs the `attacks` subcommand; `Ok(true)` if every attack was `ok`.
pub(crate) fn main(args: &[String]) -> Result<bool, String> {
    if args.first().map(String::as_str) == Some("--report") {
        return report(&args[1..]);
    }
    let Some(args) = parse(args)? else {
        return Ok(true);
    };
    let (runtime, mut file) = sockjs_bench::client_setup(args.json.as_deref())?;
    let mut results = Vec::new();
    for name in &args.attacks {
        eprintln!("== {name}");
        let value = runtime.block_on(harness::run(name, &args.target));
        eprintln!("{}", table::line(&value));
        let text = value.to_string();
        println!("{text}");
        if let Some(f) = file.as_mut() {
            writeln!(f, "{text}").map_err(|e| format!("writing results: {e}"))?;
        }
        results.push(value);
    }
    eprintln!("\n{}", table::table(&results));
    Ok(results.iter().all(|v| v["ok"].as_bool() == Some(true)))
}
