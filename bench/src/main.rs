//! `sockjs-bench`: the load generator of the benchmark.
//!
//! ```text
//! sockjs-bench run --addr 127.0.0.1:PORT --server-pid PID [--scenario NAME[,NAME..]|all]
//!                  [--duration SECS] [--reps N] [--clients N] [--window N] [--size BYTES]
//!                  [--sessions N] [--messages N] [--json FILE]
//!                  [--peer-addr 127.0.0.1:PORT --peer-pid PID] [--redis-pid PID]
//! sockjs-bench report FILE..      # the markdown table of BENCHMARKS.md
//! sockjs-bench list               # the scenario names
//! sockjs-bench attacks --addr 127.0.0.1:PORT --server-pid PID [...]   # see attacks/mod.rs
//! sockjs-bench room-attack --addr 127.0.0.1:PORT --pid PID [...]      # see room_attack.rs
//! ```
//!
//! `run` speaks SockJS as a client (websocket, xhr polling, xhr streaming) and the plain
//! websocket protocol to `bench-server`, reading the server's CPU time and memory from
//! `/proc/PID`. Each run prints one JSON line on stdout (and appends it to `--json`)
//! and one readable line on stderr. Everything runs on one thread, so the generator
//! can be pinned to one core.
//!
//! `broadcast-redis` needs a second bench-server on the same Redis as the first
//! (`--peer-addr`, `--peer-pid`; both started with `--redis URL`); `--redis-pid`
//! records that redis-server's CPU time too.

mod attacks;
mod broadcast;
mod broadcaster;
mod chat;
mod deflate;
mod fanout;
mod fleet;
mod net;
mod report;
mod room_attack;
mod rss;
mod scenario;
mod soak;
mod sockjs;
mod stalled;
mod stuck;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use scenario::{SCENARIOS, Settings};

const USAGE: &str = "usage:
  sockjs-bench run --addr 127.0.0.1:PORT --server-pid PID [--scenario NAME[,NAME..]|all]
                   [--duration SECS] [--reps N] [--clients N] [--window N] [--size BYTES]
                   [--sessions N] [--messages N] [--json FILE]
                   [--peer-addr 127.0.0.1:PORT --peer-pid PID] [--redis-pid PID]
  sockjs-bench report FILE..
  sockjs-bench list
  sockjs-bench attacks --addr 127.0.0.1:PORT --server-pid PID [--attack NAME[,NAME..]|all]
                       [--duration SECS] [--stall-wait SECS] [--settle SECS] [--json FILE]
  sockjs-bench attacks --list
  sockjs-bench room-attack --addr 127.0.0.1:PORT --pid PID [--path /chat/lobby]
                           [--lines 100000] [--size 1024] [--window 256]";

struct RunArgs {
    settings: Settings,
    scenarios: Vec<String>,
    reps: usize,
    json: Option<PathBuf>,
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut addr: Option<SocketAddr> = None;
    let mut pid: Option<String> = None;
    let mut scenarios = vec!["all".to_owned()];
    let mut duration = 3.0f64;
    let mut reps = 1usize;
    let mut clients = None;
    let mut window = None;
    let mut size = None;
    let mut sessions = None;
    let mut messages = None;
    let mut json = None;
    let mut peer_addr: Option<SocketAddr> = None;
    let mut peer_pid: Option<String> = None;
    let mut redis_pid: Option<String> = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || sockjs_bench::flag_value(flag, &mut it);
        match flag.as_str() {
            "--addr" => addr = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--server-pid" => {
                pid = Some(sockjs_bench::flag_number::<u32>(flag, value()?)?.to_string())
            }
            "--scenario" => scenarios = value()?.split(',').map(str::to_owned).collect(),
            "--duration" => duration = sockjs_bench::flag_number(flag, value()?)?,
            "--reps" => reps = sockjs_bench::flag_number(flag, value()?)?,
            "--clients" => clients = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--window" => window = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--size" => size = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--sessions" => sessions = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--messages" => messages = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--json" => json = Some(PathBuf::from(value()?)),
            "--peer-addr" => peer_addr = Some(sockjs_bench::flag_number(flag, value()?)?),
            "--peer-pid" => {
                peer_pid = Some(sockjs_bench::flag_number::<u32>(flag, value()?)?.to_string())
            }
            "--redis-pid" => {
                redis_pid = Some(sockjs_bench::flag_number::<u32>(flag, value()?)?.to_string())
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !(0.05..=600.0).contains(&duration) {
        return Err("--duration must be between 0.05 and 600 seconds".into());
    }
    if !(1..=100).contains(&reps) {
        return Err("--reps must be between 1 and 100".into());
    }
    if size.is_some_and(|size| !(1..=1 << 20).contains(&size)) {
        return Err("--size must be between 1 and 1048576".into());
    }
    let addr = addr.ok_or("--addr is required")?;
    if !addr.ip().is_loopback() {
        return Err("--addr must be a loopback address: the benchmark is local only".into());
    }
    let peer = match (peer_addr, peer_pid) {
        (Some(addr), Some(pid)) if addr.ip().is_loopback() => Some((addr, pid)),
        (Some(_), Some(_)) => {
            return Err(
                "--peer-addr must be a loopback address: the benchmark is local only".into(),
            );
        }
        (None, None) => None,
        _ => return Err("--peer-addr and --peer-pid go together".into()),
    };
    if scenarios.iter().any(|s| s == "all") {
        scenarios = SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    }
    if let Some(bad) = scenarios.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        return Err(format!("unknown scenario {bad}; see `sockjs-bench list`"));
    }
    Ok(RunArgs {
        settings: Settings {
            addr,
            server_pid: pid.ok_or("--server-pid is required")?,
            duration: Duration::from_secs_f64(duration),
            clients,
            window,
            size,
            sessions,
            messages,
            peer,
            redis_pid,
        },
        scenarios,
        reps,
        json,
    })
}

fn run(args: RunArgs) -> Result<bool, String> {
    let (runtime, mut file) = sockjs_bench::client_setup(args.json.as_deref())?;
    let mut all_ok = true;
    let mut results = Vec::new();
    for rep in 1..=args.reps {
        for name in &args.scenarios {
            let outcome = runtime.block_on(scenario::run(name, &args.settings));
            let mut value = match outcome {
                Ok(v) => v,
                Err(e) => {
                    all_ok = false;
                    eprintln!("{name:<20} FAILED: {e}");
                    serde_json::json!({"scenario": name, "errors": 1, "first_error": e})
                }
            };
            value["rep"] = serde_json::json!(rep);
            if value["errors"].as_u64().unwrap_or(0) > 0 || value["ops"].as_u64() == Some(0) {
                all_ok = false;
            }
            eprintln!("{}", report::line(&value));
            let text = value.to_string();
            println!("{text}");
            if let Some(f) = file.as_mut() {
                writeln!(f, "{text}").map_err(|e| format!("writing results: {e}"))?;
            }
            results.push(value);
            // Let the server settle (closing handshakes, expiring sessions) between runs.
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    if results.len() > 1 {
        eprintln!("\n{}", report::table(&results));
    }
    Ok(all_ok)
}

fn report_files(paths: &[String]) -> Result<(), String> {
    if paths.is_empty() {
        return Err(USAGE.into());
    }
    let mut lines = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            lines.push(serde_json::from_str(line).map_err(|e| format!("{path}: {e}"))?);
        }
    }
    print!("{}", report::table(&lines));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => parse_run(&args[1..]).and_then(run).inspect(|&ok| {
            if !ok {
                eprintln!("some runs had errors or did nothing");
            }
        }),
        Some("report") => report_files(&args[1..]).map(|()| true),
        Some("attacks") => attacks::main(&args[1..]).inspect(|&ok| {
            if !ok {
                eprintln!("some attacks were not ok");
            }
        }),
        Some("fleet") => fleet::main(&args[1..]),
        Some("room-attack") => room_attack::main(&args[1..]).inspect(|&ok| {
            if !ok {
                eprintln!("the room attack was not ok");
            }
        }),
        Some("soak") => soak::main(&args[1..]),
        Some("list") => {
            for s in SCENARIOS {
                println!("{s}");
            }
            Ok(true)
        }
        _ => Err(USAGE.into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
