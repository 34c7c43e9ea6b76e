//! The soak's timeline, in fractions of the run (T): the sessions ramp up over the
//! first tenth (at most a minute); the slow consumer at 0.10 T; `kill -9` of
//! instance1 at 0.15 T and its restart 6 s later (past the 5 s its clients have to
//! come back); Redis stopped for 3 s at 0.30 T and at 0.70 T. The memory baseline
//! is read at 0.40 T, or later if the restarted instance has not had 2.5 session
//! lifetimes yet to take its share of sessions back. At T the publisher stops and
//! the run settles (every open session gets what is in flight), then every session
//! closes and the instances' file descriptors must come back to their idle count.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::spawn_local;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::Args;
use super::cluster::Cluster;
use super::faults::{Fault, REDIS_AFTER};
use super::ledger::Ledger;
use super::publisher;
use super::report::{self, Findings};
use super::session::{self, Phase, Shared};
use super::watch::{Life, LogScan, fd_count, fd_kinds, heap_in_use, scan_log};

/// How long Redis stays down each time.
const REDIS_DOWN: Duration = Duration::from_secs(3);
/// How long after the kill the instance is started again.
const RESTART_AFTER: Duration = Duration::from_secs(6);
/// How long the end of the run may wait for what is in flight.
const SETTLE: Duration = Duration::from_secs(15);
/// How long the instances have to close what their clients left.
const FDS_BACK: Duration = Duration::from_secs(60);
/// Open file descriptors an idle instance may have beyond its count at start: its
/// Redis connections (one subscriber, two publishers, made on first use) and a
/// health check of each HAProxy in progress.
pub(crate) const FD_SLACK: usize = 6;

/// Starts the cluster, runs the soak, stops the cluster: true if every check passed.
pub(crate) async fn run(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.programs.dir)
        .map_err(|e| format!("{}: {e}", args.programs.dir.display()))?;
    let dir = args.programs.dir.clone();
    let (duration, sessions, rate, seed) = (args.duration, args.sessions, args.rate, args.seed);
    let gdb = args.gdb.clone();
    let mut cluster = Cluster::start(args.programs, 2)
        .await
        .map_err(|e| format!("starting the cluster: {e} (logs in {})", dir.display()))?;
    let outcome = drive(&mut cluster, duration, sessions, rate, seed, gdb.as_deref()).await;
    cluster.stop().await;
    let findings = outcome?;
    Ok(report::print(&findings))
}

/// The run itself, on a started cluster.
async fn drive(
    cluster: &mut Cluster,
    duration: Duration,
    sessions: usize,
    rate: f64,
    seed: u64,
    gdb: Option<&Path>,
) -> Result<Findings, String> {
    let lifetime = (duration / 30).clamp(Duration::from_secs(10), Duration::from_secs(60));
    let shared = Rc::new(Shared {
        ledger: RefCell::new(Ledger::new("instance2")),
        fronts: cluster.fronts.clone(),
        lifetime,
        broadcast_share: 600,
        seed,
    });
    let t0 = shared.ledger.borrow().t0;
    let at = |f: f64| t0 + duration.mul_f64(f);
    let lives: Rc<RefCell<Vec<Life>>> = Rc::new(RefCell::new(
        cluster
            .instances
            .iter()
            .map(|i| Life::new(&i.name, i.pid))
            .collect(),
    ));
    let sampler = spawn_local(sample(lives.clone()));
    // The live heap of each instance, idle: before the load and once every client
    // has gone (gdb stops an instance while it reads: not under load).
    let mut heaps: Vec<(String, [Option<u64>; 2])> = cluster
        .instances
        .iter()
        .map(|i| (i.name.clone(), [None; 2]))
        .collect();
    read_heaps(cluster, gdb, &mut heaps, 0).await;
    let (phase_tx, phase) = watch::channel(Phase::Run);
    let addr2 = SocketAddr::from(([127, 0, 0, 1], cluster.instances[1].port));
    let publisher = spawn_local(publisher::publish(
        addr2,
        rate,
        shared.clone(),
        phase.clone(),
    ));
    let ramp = (duration / 10).min(Duration::from_secs(60));
    let slots: Vec<_> = (0..sessions)
        .map(|n| {
            let start = t0 + ramp.mul_f64(n as f64 / sessions as f64);
            spawn_local(session::slot(n, shared.clone(), start, phase.clone()))
        })
        .collect();

    sleep_until(at(0.10)).await;
    let slow = spawn_local(publisher::slow_consumer(addr2, shared.clone()));

    sleep_until(at(0.15)).await;
    let fault = push_fault(
        &shared,
        Fault::Kill {
            instance: cluster.instances[0].name.clone(),
            start: Instant::now(),
            end: None,
        },
    );
    cluster
        .kill_instance(0)
        .await
        .map_err(|e| format!("kill: {e}"))?;
    sleep_until(Instant::now() + RESTART_AFTER).await;
    cluster
        .restart_instance(0)
        .await
        .map_err(|e| format!("restart: {e}"))?;
    let restarted = Instant::now();
    end_fault(&shared, fault, restarted);
    lives.borrow_mut().push(Life::new(
        &cluster.instances[0].name,
        cluster.instances[0].pid,
    ));

    sleep_until(at(0.30)).await;
    redis_outage(cluster, &shared).await?;

    let baseline = at(0.40).max(restarted + lifetime.mul_f64(2.5));
    sleep_until(baseline).await;

    sleep_until(at(0.70).max(baseline + Duration::from_secs(1))).await;
    redis_outage(cluster, &shared).await?;

    // Not within the last outage's window: the end must see the relay back.
    sleep_until(at(1.0).max(Instant::now() + REDIS_AFTER + Duration::from_secs(5))).await;
    let load_end = Instant::now();
    let _ = phase_tx.send(Phase::Settle);
    let settle_deadline = Instant::now() + SETTLE;
    let progress = shared.ledger.borrow().progress.clone();
    while !shared.ledger.borrow().settled() && Instant::now() < settle_deadline {
        let _ = timeout_at(settle_deadline, progress.notified()).await;
    }
    let (behind, echo_waiting) = {
        let ledger = shared.ledger.borrow();
        (ledger.behind(), ledger.echo_waiting())
    };
    let _ = phase_tx.send(Phase::Close);
    let close_deadline = Instant::now() + Duration::from_secs(60);
    for slot in slots {
        if timeout_at(close_deadline, slot).await.is_err() {
            shared
                .ledger
                .borrow_mut()
                .problem(|| "sessions did not close within 60 s".into());
            break;
        }
    }
    match timeout_at(close_deadline, publisher).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => shared
            .ledger
            .borrow_mut()
            .problem(|| format!("publisher: {e}")),
        _ => shared
            .ledger
            .borrow_mut()
            .problem(|| "the publisher did not finish".into()),
    }
    let slow = slow.await.map_err(|e| format!("slow consumer task: {e}"))?;

    // Every client is gone: each instance must come back to its idle descriptors
    // once HAProxy has closed its connections and the sessions have expired. A long
    // poll whose client left stays with HAProxy until it is answered (HAProxy does
    // not abort a request sent to a server when its client goes): by the next
    // heartbeat (25 s); then its session expires (5 s).
    let fds_deadline = Instant::now() + FDS_BACK;
    // An instance's idle count is its first life's, read before any load, with
    // its Redis connections up (a restarted one is read before they are).
    let idle = |cluster: &Cluster, lives: &[Life]| {
        cluster.instances.iter().all(|i| {
            let life = lives.iter().find(|l| l.instance == i.name);
            let idle = life.map_or(0, |l| l.idle_fds);
            fd_count(i.pid).is_some_and(|n| n <= idle + FD_SLACK)
        })
    };
    while !idle(cluster, &lives.borrow()) && Instant::now() < fds_deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let end_fds: Vec<(String, Option<usize>)> = cluster
        .instances
        .iter()
        .map(|i| (i.name.clone(), fd_count(i.pid)))
        .collect();
    if !idle(cluster, &lives.borrow()) {
        for i in &cluster.instances {
            println!("{} open files: {:?}", i.name, fd_kinds(i.pid, i.port));
        }
    }
    sampler.abort();
    read_heaps(cluster, gdb, &mut heaps, 1).await;
    let alive: Vec<bool> = (0..cluster.instances.len())
        .map(|i| cluster.instance_alive(i))
        .collect();
    let mut logs = LogScan::default();
    for instance in &cluster.instances {
        for log in &instance.logs {
            scan_log(log, &mut logs);
        }
    }
    let lives = std::mem::take(&mut *lives.borrow_mut());
    let ledger = std::mem::replace(&mut *shared.ledger.borrow_mut(), Ledger::new(""));
    Ok(Findings {
        sessions,
        duration,
        rate,
        lifetime,
        ledger,
        lives,
        baseline,
        load_end,
        end_fds,
        alive,
        logs,
        slow,
        behind,
        echo_waiting,
        heaps,
    })
}

/// Reads every instance's live heap into column `at` of `heaps` (with gdb only).
async fn read_heaps(
    cluster: &Cluster,
    gdb: Option<&Path>,
    heaps: &mut [(String, [Option<u64>; 2])],
    at: usize,
) {
    let Some(gdb) = gdb else {
        return;
    };
    for (instance, (_, row)) in cluster.instances.iter().zip(heaps.iter_mut()) {
        if let Some(log) = instance.logs.last() {
            row[at] = heap_in_use(gdb, instance.pid, log).await;
        }
    }
}

/// Stops Redis, waits [`REDIS_DOWN`], starts it again on its port; noted as a fault.
async fn redis_outage(cluster: &mut Cluster, shared: &Shared) -> Result<(), String> {
    let fault = push_fault(
        shared,
        Fault::Redis {
            start: Instant::now(),
            end: None,
        },
    );
    cluster
        .stop_redis()
        .await
        .map_err(|e| format!("stopping Redis: {e}"))?;
    sleep_until(Instant::now() + REDIS_DOWN).await;
    cluster
        .start_redis()
        .await
        .map_err(|e| format!("starting Redis: {e}"))?;
    end_fault(shared, fault, Instant::now());
    Ok(())
}

/// Notes a fault as started; its index.
fn push_fault(shared: &Shared, fault: Fault) -> usize {
    let mut ledger = shared.ledger.borrow_mut();
    ledger.faults.push(fault);
    ledger.faults.len() - 1
}

/// Notes when fault `fault` ended.
fn end_fault(shared: &Shared, fault: usize, at: Instant) {
    match shared.ledger.borrow_mut().faults.get_mut(fault) {
        Some(
            Fault::Kill { end, .. } | Fault::Redis { end, .. } | Fault::SlowConsumer { end, .. },
        ) => {
            *end = Some(at);
        }
        None => {}
    }
}

/// Reads every live instance once a second.
async fn sample(lives: Rc<RefCell<Vec<Life>>>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut gone: Vec<u32> = Vec::new();
    loop {
        tick.tick().await;
        for life in lives.borrow_mut().iter_mut() {
            if !gone.contains(&life.pid) && !life.sample() {
                gone.push(life.pid);
            }
        }
    }
}
