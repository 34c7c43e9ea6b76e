//! The soak's summary and verdict: every check, its figures, PASS or FAIL.

use std::time::Duration;

use tokio::time::Instant;

use super::faults::Fault;
use super::ledger::{Ledger, RECONNECT_BOUND};
use super::publisher::SlowOutcome;
use super::schedule::FD_SLACK;
use super::watch::{Life, LogScan};
use crate::stalled::Ending;

/// Largest RSS growth of an instance from the baseline to the end of the load.
const RSS_GROWTH: f64 = 0.05;
/// An instance's warm-up: this many session lifetimes (all its sessions replaced
/// by churn twice over and more) before the baseline, or its RSS is not checked.
const WARM_UP_LIVES: u32 = 3;

/// What the run found, for the summary.
pub(crate) struct Findings {
    pub(crate) sessions: usize,
    pub(crate) duration: Duration,
    pub(crate) rate: f64,
    /// The mean life of a session.
    pub(crate) lifetime: Duration,
    pub(crate) ledger: Ledger,
    pub(crate) lives: Vec<Life>,
    /// When the memory baseline was read.
    pub(crate) baseline: Instant,
    /// When the load stopped (the run started settling).
    pub(crate) load_end: Instant,
    /// Each instance's open file descriptors once every client had gone.
    pub(crate) end_fds: Vec<(String, Option<usize>)>,
    /// Whether each instance was still running at the end.
    pub(crate) alive: Vec<bool>,
    pub(crate) logs: LogScan,
    pub(crate) slow: SlowOutcome,
    /// Open broadcast sessions that never got the last message, and echoes never
    /// back, when the run stopped waiting.
    pub(crate) behind: usize,
    pub(crate) echo_waiting: usize,
    /// Each instance's live heap (its allocator's statistics, through gdb): idle at the start, and once
    /// every client had gone.
    pub(crate) heaps: Vec<(String, [Option<u64>; 2])>,
}

/// Bytes in MiB.
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// The `q` quantile of `times`, in seconds.
fn quantile(times: &[Duration], q: f64) -> f64 {
    let mut sorted: Vec<Duration> = times.to_vec();
    sorted.sort();
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).map_or(0.0, Duration::as_secs_f64)
}

/// Prints the summary; true if every check passed.
pub(crate) fn print(f: &Findings) -> bool {
    let l = &f.ledger;
    let mut checks: Vec<(String, bool)> = Vec::new();
    println!(
        "== soak: {} sessions, {:.1} min, 2 instances behind 2 HAProxy, Redis, {} broadcasts/s",
        f.sessions,
        f.duration.as_secs_f64() / 60.0,
        f.rate
    );
    let opened: u64 = l.opened.values().sum();
    let by: Vec<String> = l.opened.iter().map(|(t, n)| format!("{t} {n}")).collect();
    println!("sessions opened     {opened} ({})", by.join(", "));
    println!(
        "sessions ended      {} closed by their clients, {} cut by the kill, {} moved by the restart, {} ended unexpectedly",
        l.closed, l.cut, l.moved, l.unexpected_ends
    );
    println!(
        "broadcasts          {} published, {} delivered, {} lost, {} excused (Redis windows), {} duplicated",
        l.published(),
        l.broadcasts_received,
        l.lost,
        l.excused,
        l.duplicated
    );
    println!(
        "echo                {} sent, {} back, {} lost, {} duplicated",
        l.echo_sent, l.echo_received, l.echo_lost, l.echo_duplicated
    );
    println!(
        "open failures       {} during the kill, {} outside it",
        l.open_failures_excused, l.open_failures
    );
    println!(
        "reconnects          {} after the kill: p50 {:.2} s, max {:.2} s (bound {} s)",
        l.reconnects.len(),
        quantile(&l.reconnects, 0.5),
        quantile(&l.reconnects, 1.0),
        RECONNECT_BOUND.as_secs()
    );
    checks.push(("no message lost".into(), l.lost == 0 && l.echo_lost == 0));
    checks.push((
        "no message duplicated".into(),
        l.duplicated == 0 && l.echo_duplicated == 0,
    ));
    checks.push((
        "no session ended but by its client or the kill".into(),
        l.unexpected_ends == 0,
    ));
    checks.push((
        "no failed open outside the kill".into(),
        l.open_failures == 0,
    ));
    checks.push((
        "every cut client back within 5 s".into(),
        !l.reconnects.is_empty() && l.reconnects.iter().all(|&t| t <= RECONNECT_BOUND),
    ));
    // Only a figure: what the sessions still lack at the end is counted as lost
    // (or excused) when they close.
    println!(
        "at the end          {} broadcast sessions short of the last message, {} echoes awaited",
        f.behind, f.echo_waiting
    );
    println!("faults:");
    for fault in &l.faults {
        let end =
            |e: &Option<Instant>| e.map_or("never".to_owned(), |e| format!("t={:.1}s", l.at(e)));
        match fault {
            Fault::SlowConsumer { start, end: e } => println!(
                "  t={:.1}s slow consumer (websocket, reads nothing): server closed it at {}, close code {}",
                l.at(*start),
                end(e),
                f.slow.ending
            ),
            Fault::Kill {
                instance,
                start,
                end: e,
            } => {
                println!(
                    "  t={:.1}s kill -9 {instance}; restarted at {}",
                    l.at(*start),
                    end(e)
                )
            }
            Fault::Redis { start, end: e } => {
                println!(
                    "  t={:.1}s Redis stopped; started again at {}",
                    l.at(*start),
                    end(e)
                )
            }
        }
    }
    checks.push((
        format!(
            "the server closed the slow consumer ({})",
            match f.slow.ending {
                Ending::Closed(1013) => "1013, slow consumer",
                Ending::Ended => "connection ended: write timeout",
                _ => "not as expected",
            }
        ),
        f.slow.closed_after.is_some() && f.slow.ending != Ending::Open,
    ));
    println!("instances:");
    for life in &f.lives {
        let (peak_rss, peak_fds) = life.peaks();
        let first = life.samples.first();
        let last = life.last();
        let ended_early = last.is_some_and(|s| s.at < f.baseline);
        print!(
            "  {} pid {} (from t={:.1}s): RSS start {:.1} MiB, peak {:.1} MiB, last {:.1} MiB; fds idle {}, peak {}",
            life.instance,
            life.pid,
            l.at(life.started),
            mib(first.map_or(0, |s| s.rss)),
            mib(peak_rss),
            mib(last.map_or(0, |s| s.rss)),
            life.idle_fds,
            peak_fds
        );
        // RSS over the life, at most 12 readings evenly spread.
        let step = (life.samples.len() / 12).max(1);
        let series: Vec<String> = life
            .samples
            .iter()
            .step_by(step)
            .map(|s| format!("{:.0}s:{:.1}/{}", l.at(s.at), mib(s.rss), s.fds))
            .collect();
        print!("\n    time:RSS MiB/fds {}\n   ", series.join(" "));
        if ended_early {
            println!(" (killed before the baseline)");
            continue;
        }
        let age = f.baseline.saturating_duration_since(life.started);
        if age < f.lifetime * WARM_UP_LIVES {
            // A restarted instance takes its share of sessions back as they churn:
            // before then its memory grows with them.
            println!(
                " (started {:.0} s before the baseline, under {WARM_UP_LIVES} session lifetimes: RSS not checked)",
                age.as_secs_f64()
            );
            continue;
        }
        let base = life.at(f.baseline);
        let end = life
            .samples
            .iter()
            .rev()
            .find(|s| s.at <= f.load_end)
            .copied();
        match (base, end) {
            (Some(base), Some(end)) => {
                let growth = end.rss as f64 / base.rss.max(1) as f64 - 1.0;
                println!(
                    "; RSS at baseline t={:.1}s {:.1} MiB, at the end {:.1} MiB ({:+.1} %)",
                    l.at(base.at),
                    mib(base.rss),
                    mib(end.rss),
                    growth * 100.0
                );
                checks.push((
                    format!(
                        "{} RSS flat after warm-up ({:+.1} %, bound +5 %)",
                        life.instance,
                        growth * 100.0
                    ),
                    growth < RSS_GROWTH,
                ));
            }
            _ => {
                println!();
                checks.push((format!("{} RSS sampled", life.instance), false));
            }
        }
    }
    for ((name, fds), alive) in f.end_fds.iter().zip(&f.alive) {
        let idle = f
            .lives
            .iter()
            .find(|life| &life.instance == name)
            .map_or(0, |life| life.idle_fds);
        println!("  {name}: fds after every client left {fds:?} (idle {idle}, slack {FD_SLACK})");
        checks.push((
            format!("{name} fds back to idle after churn"),
            fds.is_some_and(|n| n <= idle + FD_SLACK),
        ));
        checks.push((format!("{name} still running"), *alive));
    }
    for (name, [idle, after]) in &f.heaps {
        let shown = |b: &Option<u64>| b.map_or("-".to_owned(), |b| format!("{:.1}", mib(b)));
        println!(
            "  {name}: live heap (the allocator's statistics, through gdb) {} MiB idle at the start, \
             {} MiB once every client had gone",
            shown(idle),
            shown(after)
        );
    }
    println!(
        "logs                {} lines, {} panic/ERROR lines; warnings by kind:",
        f.logs.lines,
        f.logs.errors.len()
    );
    for (kind, n) in &f.logs.warnings {
        println!("  {n:>6} x {kind}");
    }
    for line in f.logs.errors.iter().filter(|e| !e.is_empty()) {
        println!("  ERROR: {line}");
    }
    checks.push((
        "no panic or ERROR line in the instances' logs".into(),
        f.logs.errors.is_empty(),
    ));
    if !l.examples.is_empty() {
        println!(
            "problems ({} in all; the first {}):",
            l.problems,
            l.examples.len()
        );
        for e in &l.examples {
            println!("  {e}");
        }
    }
    checks.push(("no other problem".into(), l.problems == 0));
    println!("checks:");
    let mut ok = true;
    for (what, pass) in &checks {
        println!("  {} {what}", if *pass { "PASS" } else { "FAIL" });
        ok &= pass;
    }
    println!("soak: {}", if ok { "PASS" } else { "FAIL" });
    ok
}
