//! What the soak reads off the instances: their resident memory and open file
//! descriptors (`/proc/PID`), sampled every second, and their logs, scanned at the
//! end for panics and `ERROR` lines.

use std::collections::BTreeMap;
use std::path::Path;

use tokio::time::Instant;

/// One reading of an instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sample {
    pub(crate) at: Instant,
    pub(crate) rss: u64,
    pub(crate) fds: usize,
}

/// The readings of one life of an instance (a restart starts another).
#[derive(Debug)]
pub(crate) struct Life {
    pub(crate) instance: String,
    pub(crate) pid: u32,
    pub(crate) started: Instant,
    pub(crate) samples: Vec<Sample>,
    /// Its file descriptors once it listened, before any load.
    pub(crate) idle_fds: usize,
}

impl Life {
    /// A life that starts now, with its idle reading.
    pub(crate) fn new(instance: &str, pid: u32) -> Life {
        Life {
            instance: instance.to_owned(),
            pid,
            started: Instant::now(),
            samples: Vec::new(),
            idle_fds: fd_count(pid).unwrap_or(0),
        }
    }

    /// Reads the process now; false if it is gone.
    pub(crate) fn sample(&mut self) -> bool {
        let pid = self.pid.to_string();
        match (sockjs_bench::rss_bytes(&pid), fd_count(self.pid)) {
            (Ok(rss), Some(fds)) => {
                self.samples.push(Sample {
                    at: Instant::now(),
                    rss,
                    fds,
                });
                true
            }
            _ => false,
        }
    }

    /// The first sample at or after `t`.
    pub(crate) fn at(&self, t: Instant) -> Option<Sample> {
        self.samples.iter().find(|s| s.at >= t).copied()
    }

    /// The last sample.
    pub(crate) fn last(&self) -> Option<Sample> {
        self.samples.last().copied()
    }

    /// The highest RSS and fd count seen.
    pub(crate) fn peaks(&self) -> (u64, usize) {
        self.samples
            .iter()
            .fold((0, 0), |(r, f), s| (r.max(s.rss), f.max(s.fds)))
    }
}

/// How many file descriptors process `pid` has open.
pub(crate) fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|dir| dir.count())
}

/// What process `pid`'s open file descriptors are, by kind: TCP sockets by state and
/// by whether their local port is `port` (connections to the instance), other
/// sockets and files by name. For a report when the count is not what it should be.
pub(crate) fn fd_kinds(pid: u32, port: u16) -> BTreeMap<String, usize> {
    let mut tcp: BTreeMap<String, (u16, u16, String)> = BTreeMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port_of = |a: &str| {
                a.rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                    .unwrap_or(0)
            };
            if let (Some(local), Some(remote), Some(state), Some(inode)) =
                (f.get(1), f.get(2), f.get(3), f.get(9))
            {
                tcp.insert(
                    (*inode).to_owned(),
                    (port_of(local), port_of(remote), (*state).to_owned()),
                );
            }
        }
    }
    let mut kinds = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return kinds;
    };
    for entry in dir.flatten() {
        let target = std::fs::read_link(entry.path())
            .map(|t| t.display().to_string())
            .unwrap_or_default();
        let kind = match target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|inode| tcp.get(inode))
        {
            Some((local, remote, state)) if *local == port => {
                format!("tcp to the instance, state {state}")
            }
            Some((_, remote, state)) => format!("tcp to port {remote}, state {state}"),
            None => target.chars().filter(|c| !c.is_ascii_digit()).collect(),
        };
        *kinds.entry(kind).or_default() += 1;
    }
    kinds
}

/// The bytes process `pid`'s allocator has handed out and not had back (its live
/// heap), read by asking it to print its statistics (through `gdb`, which stops it
/// for a moment) to its stderr, `log`: jemalloc's `malloc_stats_print` (test_server's
/// allocator, built with statistics) when the process has it, else glibc's
/// `malloc_stats()`. `None` without gdb or when the reading fails. RSS keeps what the
/// allocator keeps (freed but fragmented pages); this tells a leak from that.
pub(crate) async fn heap_in_use(gdb: &Path, pid: u32, log: &Path) -> Option<u64> {
    // Only what the process prints from now on.
    let before = std::fs::metadata(log).map_or(0, |m| m.len() as usize);
    let mut child = tokio::process::Command::new(gdb)
        .args([
            "-p",
            &pid.to_string(),
            "-batch",
            // The prefixed name tikv-jemalloc-sys gives jemalloc's function; gdb
            // goes on to the next command when a process lacks it.
            "-ex",
            "call (void)_rjem_malloc_stats_print((void*)0, (void*)0, (char*)0)",
            "-ex",
            "call (void)malloc_stats()",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    // gdb's exit status says little (1 when the binary has no debugging symbols):
    // what counts is what the process printed.
    tokio::time::timeout(std::time::Duration::from_secs(30), child.wait())
        .await
        .ok()?
        .ok()?;
    let bytes = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(bytes.get(before..)?);
    jemalloc_allocated(&text).or_else(|| glibc_in_use(&text))
}

/// `Allocated: N, active: ...` in what jemalloc's `malloc_stats_print` printed.
fn jemalloc_allocated(text: &str) -> Option<u64> {
    let at = text.rfind("\nAllocated: ")?;
    text[at + "\nAllocated: ".len()..]
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// `in use bytes = N` under `Total (incl. mmap):` in what glibc's `malloc_stats()`
/// printed; glibc's totals count only what glibc allocated.
fn glibc_in_use(text: &str) -> Option<u64> {
    let total = text.rfind("Total (incl. mmap):")?;
    text[total..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("in use bytes"))
        .and_then(|rest| rest.trim_start_matches([' ', '=']).trim().parse().ok())
}

/// What a log holds: panics and `ERROR` lines (failures), and the warnings by kind.
#[derive(Debug, Default)]
pub(crate) struct LogScan {
    pub(crate) lines: usize,
    pub(crate) errors: Vec<String>,
    pub(crate) warnings: BTreeMap<String, usize>,
}

/// Scans one log of an instance (env_logger's format: `[TIME LEVEL target] text`).
pub(crate) fn scan_log(path: &Path, scan: &mut LogScan) {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            scan.errors.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    for line in text.lines() {
        scan.lines += 1;
        if line.contains("panicked") || line.contains(" ERROR ") {
            if scan.errors.len() < 10 {
                scan.errors.push(format!("{}: {line}", path.display()));
            } else {
                scan.errors.push(String::new());
            }
        } else if line.contains(" WARN ") {
            *scan.warnings.entry(warning_kind(line)).or_default() += 1;
        }
    }
}

/// A warning without its time and the numbers in it, to count warnings by kind.
fn warning_kind(line: &str) -> String {
    let text = line.split_once("] ").map_or(line, |(_, t)| t);
    let kind: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    // Session ids differ; keep the text around them.
    let mut words: Vec<&str> = kind.split(' ').collect();
    if words.first() == Some(&"session") && words.len() > 1 {
        words[1] = "ID";
    }
    let kind = words.join(" ");
    kind.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_are_counted_by_kind_and_errors_kept() {
        let dir = std::env::temp_dir().join(format!("soak-watch-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let log = dir.join("i.log");
        std::fs::write(
            &log,
            "[2026-01-01T00:00:00Z WARN  actix_sockjs] session abc1 (WebSocket) closed as a slow consumer: 1048576\n\
             [2026-01-01T00:00:01Z WARN  actix_sockjs] session xyz9 (WebSocket) closed as a slow consumer: 1048576\n\
             [2026-01-01T00:00:02Z ERROR actix_sockjs] bad\n\
             thread 'x' panicked at src/a.rs:1:1\n",
        )
        .expect("write");
        let mut scan = LogScan::default();
        scan_log(&log, &mut scan);
        assert_eq!(scan.errors.len(), 2);
        assert_eq!(scan.warnings.values().copied().collect::<Vec<_>>(), vec![2]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_live_heap_is_read_from_either_allocator_s_statistics() {
        let jemalloc = "___ Begin jemalloc statistics ___\n  opt.retain: true\n\
                        Allocated: 1702400, active: 1998848, metadata: 1801104 (n_thp 0), \
                        resident: 3624960, mapped: 10387456, retained: 6389760\n";
        assert_eq!(jemalloc_allocated(jemalloc), Some(1_702_400));
        assert_eq!(glibc_in_use(jemalloc), None);
        let glibc = "Arena 0:\nsystem bytes     =     135168\nin use bytes     =      15184\n\
                     Total (incl. mmap):\nsystem bytes     =     540672\n\
                     in use bytes     =      14304\nmax mmap regions =          0\n";
        assert_eq!(glibc_in_use(glibc), Some(14_304));
        assert_eq!(jemalloc_allocated(glibc), None);
    }
}
