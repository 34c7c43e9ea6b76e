//! `sockjs-bench soak`: a long run of a two-instance cluster under churn and faults
//! (`scripts/soak` starts it; README, "Soak").
//!
//! ```text
//! sockjs-bench soak --test-server PATH --haproxy PATH --redis-server PATH
//!                   --haproxy-cfg deploy/haproxy.cfg --dir DIR
//!                   [--minutes 30] [--sessions 10000] [--rate 4] [--seed N] [--gdb PATH]
//! ```
//!
//! It starts Redis, two `test_server --redis` instances and two HAProxy processes
//! ([`cluster`]), then holds `--sessions` client sessions through HAProxy on every
//! transport ([`session`], [`wire`]) on `/broadcast` and `/echo`, closing and opening
//! them all the time, with one publisher ([`publisher`]) broadcasting at `--rate`.
//! Meanwhile it injects the faults ([`schedule`]): a slow consumer, `kill -9` of an
//! instance (restarted), and two Redis restarts. It checks what every session got
//! ([`ledger`]), the instances' memory, file descriptors and logs ([`watch`]), prints
//! a summary ([`report`]) and fails if any check failed.

mod books;
mod cluster;
mod faults;
mod haproxy;
mod ledger;
mod publisher;
mod report;
mod schedule;
mod session;
mod watch;
mod wire;

use std::path::PathBuf;
use std::time::Duration;

/// The soak's settings.
pub(crate) struct Args {
    pub(crate) programs: cluster::Programs,
    pub(crate) duration: Duration,
    pub(crate) sessions: usize,
    /// Broadcasts a second.
    pub(crate) rate: f64,
    pub(crate) seed: u64,
    /// `gdb`, to read the instances' live heap (optional).
    pub(crate) gdb: Option<PathBuf>,
}

const USAGE: &str = "usage: sockjs-bench soak --test-server PATH --haproxy PATH --redis-server PATH
                         --haproxy-cfg PATH --dir DIR [--minutes N] [--sessions N] [--rate N] [--seed N]
                         [--gdb PATH]";

/// The soak's command line.
fn parse(args: &[String]) -> Result<Args, String> {
    let (mut test_server, mut haproxy, mut redis_server, mut haproxy_cfg, mut dir) =
        (None, None, None, None, None);
    let mut minutes = 30.0f64;
    let mut sessions = 10_000usize;
    let mut rate = 4.0f64;
    let mut seed = 1u64;
    let mut gdb = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || sockjs_bench::flag_value(flag, &mut it);
        match flag.as_str() {
            "--test-server" => test_server = Some(PathBuf::from(value()?)),
            "--haproxy" => haproxy = Some(PathBuf::from(value()?)),
            "--redis-server" => redis_server = Some(PathBuf::from(value()?)),
            "--haproxy-cfg" => haproxy_cfg = Some(PathBuf::from(value()?)),
            "--dir" => dir = Some(PathBuf::from(value()?)),
            "--minutes" => minutes = sockjs_bench::flag_number(flag, value()?)?,
            "--sessions" => sessions = sockjs_bench::flag_number(flag, value()?)?,
            "--rate" => rate = sockjs_bench::flag_number(flag, value()?)?,
            "--seed" => seed = sockjs_bench::flag_number(flag, value()?)?,
            "--gdb" => gdb = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !(0.5..=600.0).contains(&minutes) {
        return Err("--minutes must be between 0.5 and 600".into());
    }
    if !(10..=50_000).contains(&sessions) {
        return Err("--sessions must be between 10 and 50000".into());
    }
    if !(0.1..=1000.0).contains(&rate) {
        return Err("--rate must be between 0.1 and 1000".into());
    }
    let need =
        |v: Option<PathBuf>, flag: &str| v.ok_or_else(|| format!("{flag} is required\n{USAGE}"));
    Ok(Args {
        programs: cluster::Programs {
            test_server: need(test_server, "--test-server")?,
            haproxy: need(haproxy, "--haproxy")?,
            redis_server: need(redis_server, "--redis-server")?,
            haproxy_cfg: need(haproxy_cfg, "--haproxy-cfg")?,
            dir: need(dir, "--dir")?,
        },
        duration: Duration::from_secs_f64(minutes * 60.0),
        sessions,
        rate,
        seed,
        gdb,
    })
}

/// `sockjs-bench soak ARGS`: true if every check passed.
pub(crate) fn main(args: &[String]) -> Result<bool, String> {
    let args = parse(args)?;
    let limit = sockjs_bench::raise_nofile_limit();
    // This process holds a connection per session, and a sender per HTTP session now
    // and then.
    let needed = args.sessions as u64 * 5 / 4 + 200;
    if limit < needed {
        return Err(format!(
            "{} sessions need {needed} open files in this process; the limit is {limit}",
            args.sessions
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, schedule::run(args))
}

/// A small fast generator (xorshift64*): the soak's choices need to vary, not to be
/// unpredictable.
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// A number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
