//! What the load generator (`sockjs-bench`) and the server (`bench-server`) share:
//! file-descriptor limits and readings of a process (and of its TCP connections) from
//! `/proc`.

use std::io;

pub mod bare_fanout;
pub mod heap;

/// A command-line flag's numeric value, or an error naming the flag.
pub fn flag_number<T: std::str::FromStr>(flag: &str, value: String) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a number: {value}"))
}

/// The value that follows `flag` on the command line, or an error naming the flag.
pub fn flag_value<'a>(
    flag: &str,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<String, String> {
    rest.next()
        .cloned()
        .ok_or_else(|| format!("{flag} needs a value"))
}

/// What every load-generating command sets up: the open-file limit raised, a
/// single-threaded tokio runtime, and the JSON-lines results file (appended to), if
/// one was named.
pub fn client_setup(
    json: Option<&std::path::Path>,
) -> Result<(tokio::runtime::Runtime, Option<std::fs::File>), String> {
    raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let file = json
        .map(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .transpose()?;
    Ok((runtime, file))
}

/// Raises the soft limit on open files to the hard limit and returns the new soft
/// limit (the old one if it could not be raised). The idle scenarios hold 5000+
/// connections on each side.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        let old = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return old;
        }
    }
    lim.rlim_cur
}

/// Clock ticks per second, the unit of the CPU times in `/proc/PID/stat`.
pub fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

/// CPU time (user + system, all threads) a process has used so far, in seconds, from
/// `/proc/PID/stat` (`pid` may be `"self"`).
pub fn cpu_seconds(pid: &str) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks as f64 / clock_ticks_per_second())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/stat"))
}

/// CPU time a process has used so far in user space and in the kernel, apart, in
/// seconds, from `/proc/PID/stat` (`pid` may be `"self"`).
pub fn cpu_split_seconds(pid: &str) -> io::Result<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let per_second = clock_ticks_per_second();
    parse_cpu_split(&stat)
        .map(|(user, sys)| (user as f64 / per_second, sys as f64 / per_second))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/PID/stat"))
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    parse_cpu_split(stat).map(|(utime, stime)| utime + stime)
}

/// utime and stime of a `/proc/PID/stat` line, in clock ticks.
fn parse_cpu_split(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) is in parentheses and may hold spaces: count the
    // fields from the last ')'. After it come field 3 (state) ... 14 (utime), 15 (stime).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

/// The resident set size of a process in bytes, from `VmRSS` in `/proc/PID/status`.
pub fn rss_bytes(pid: &str) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kb(&status)
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/PID/status"))
}

fn parse_vm_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One IPv4 TCP socket as the kernel lists it in `/proc/net/tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpEntry {
    /// The connection state: `ESTABLISHED`, `FIN_WAIT1`, `CLOSE_WAIT`, ...
    pub state: &'static str,
    /// Bytes written by the socket's owner and not yet acknowledged by the peer.
    pub tx_queue: u64,
    /// Bytes received and not yet read by the socket's owner.
    pub rx_queue: u64,
}

/// The IPv4 socket of this machine whose local port is `local_port` and whose peer's
/// port is `remote_port`, or `None` if the kernel no longer has it (closed and gone).
/// On loopback both ends of a connection are listed: with `local_port` the server's
/// port, this is the server's end, which shows whether the server has closed it even
/// when the client reads nothing.
pub fn tcp_entry(local_port: u16, remote_port: u16) -> io::Result<Option<TcpEntry>> {
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    Ok(find_tcp_entry(&table, local_port, remote_port))
}

fn find_tcp_entry(table: &str, local_port: u16, remote_port: u16) -> Option<TcpEntry> {
    let port = |addr: &str| {
        addr.rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        // sl local_address rem_address st tx_queue:rx_queue ...
        let mut fields = line.split_whitespace().skip(1);
        let local = port(fields.next()?)?;
        let remote = port(fields.next()?)?;
        if (local, remote) != (local_port, remote_port) {
            return None;
        }
        let state = tcp_state_name(u8::from_str_radix(fields.next()?, 16).ok()?);
        let (tx, rx) = fields.next()?.split_once(':')?;
        Some(TcpEntry {
            state,
            tx_queue: u64::from_str_radix(tx, 16).ok()?,
            rx_queue: u64::from_str_radix(rx, 16).ok()?,
        })
    })
}

fn tcp_state_name(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime() {
        let stat = "1234 (a b) c) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 31 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(281));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn vm_rss_is_read_in_kb() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmRSS:\t   2048 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss_kb(status), Some(2048));
    }

    #[test]
    fn tcp_entries_are_found_by_both_ports() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when\n   \
            0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000\n   \
            1: 0100007F:1F90 0100007F:C350 04 0001F000:00000010 01:00000014\n";
        assert_eq!(
            find_tcp_entry(table, 0x1f90, 0xc350),
            Some(TcpEntry {
                state: "FIN_WAIT1",
                tx_queue: 0x1f000,
                rx_queue: 0x10
            })
        );
        assert_eq!(find_tcp_entry(table, 0x1f90, 1), None);
    }

    #[test]
    fn own_process_can_be_read() {
        assert!(cpu_seconds("self").is_ok());
        assert!(rss_bytes("self").expect("rss") > 0);
    }
}
