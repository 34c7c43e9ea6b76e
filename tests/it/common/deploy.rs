//! Running the committed `deploy/` configurations and the `test_server` example as
//! real processes: each killed by its pid when its guard drops, every wait bounded,
//! everything on 127.0.0.1 (tests/it/behind_proxies.rs, tests/it/scale_out.rs).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{DEADLINE, session_id};

/// A process started by a test, killed (by its pid) and reaped when dropped. Its
/// output goes to `log`.
pub(crate) struct Process {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(name: &'static str, command: &mut Command, log: PathBuf) -> Process {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        Process { name, child, log }
    }

    /// Panics with the process's output if it has ended.
    pub(crate) fn assert_running(&mut self) {
        if let Err(ended) = self.running() {
            panic!("{ended}");
        }
    }

    /// Whether the process still runs; if not, its exit status and output.
    pub(crate) fn running(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(format!(
                "{} ended ({status}):\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )),
            _ => Ok(()),
        }
    }

    /// Waits (bounded by [`DEADLINE`]) until `addr` accepts connections; an error if
    /// the process ends first.
    pub(crate) fn wait_listening(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.running()?;
            if TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok() {
                // A process that failed to bind may be on its way out: make sure it
                // is this one that answered.
                return self.running();
            }
            assert!(
                Instant::now() < deadline,
                "{} not listening on {addr} within {DEADLINE:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this pid; every process is started so that
        // this pid is all there is of it (nginx without a master process, haproxy in
        // the foreground, test_server as itself).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temporary folder for generated configs, logs and nginx's temp files. Removed
/// when dropped, unless the test failed: then its logs are printed and it is kept.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    /// A new folder `actix-sockjs-<name>-<random>` in the system's temp folder.
    pub(crate) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("actix-sockjs-{name}-{}", session_id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.0)
                .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
            logs.sort();
            for log in logs {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                eprintln!("==== {}\n{text}", log.display());
            }
            eprintln!("(kept {})", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The repository's root (where `deploy/` is).
pub(crate) fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The `test_server` example, built next to the test binaries.
pub(crate) fn test_server_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = profile_dir
        .join("examples")
        .join(format!("test_server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} missing: run `cargo build --example test_server` (./scripts/test-proxies does)",
        path.display()
    );
    path
}

/// `name` from `$NGINX` / `$HAPROXY` / `$REDIS_SERVER`, else from PATH or the sbin folders (not always
/// on a user's PATH).
pub(crate) fn binary(name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(name.to_ascii_uppercase().replace('-', "_")) {
        return path.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} not found: ./scripts/test-proxies --install"))
}

/// A port on 127.0.0.1 that was free a moment ago (for the proxies, which cannot be
/// asked to pick one and tell).
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running `test_server` instance.
pub(crate) struct Instance {
    pub(crate) process: Process,
    pub(crate) port: u16,
}

/// Starts `test_server` on a free port (one worker) with `args`, and waits (bounded)
/// for its `listening on` line. Its stderr goes to `instance<n>.log` in `dir`.
pub(crate) fn start_instance(dir: &Path, n: usize, args: &[&str]) -> Instance {
    let mut command = Command::new(test_server_path());
    command.args(["--port", "0", "--workers", "1"]).args(args);
    let log = dir.join(format!("instance{n}.log"));
    let err = std::fs::File::create(&log).expect("log file");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .expect("start test_server");
    let stdout = child.stdout.take().expect("stdout");
    let mut process = Process {
        name: "test_server",
        child,
        log,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads to the end so the instance never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let line = rx.recv_timeout(DEADLINE).unwrap_or_else(|_| {
        process.assert_running();
        panic!("test_server printed nothing within {DEADLINE:?}")
    });
    let port = line
        .strip_prefix("listening on http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Instance { process, port }
}

/// `conf` with the front address (127.0.0.1:8080) and the two instance addresses
/// (127.0.0.1:8081, 127.0.0.1:8082) of the committed configs replaced by `front` and
/// the first two of `instances`.
pub(crate) fn with_addresses(conf: &str, front: u16, instances: &[u16]) -> String {
    assert!(
        instances.len() >= 2,
        "the committed configs have two instances"
    );
    let mut conf = conf.to_owned();
    for (from, to) in [(8080, front), (8081, instances[0]), (8082, instances[1])] {
        let from = format!("127.0.0.1:{from}");
        assert!(conf.contains(&from), "the config no longer uses {from}");
        conf = conf.replace(&from, &format!("127.0.0.1:{to}"));
    }
    conf
}

/// `deploy/haproxy.cfg` for this run. Changed, and only these: the addresses (an
/// instance past the committed two gets a `server` line like theirs); in the
/// `global` section the `chroot`, `user`, `group` and `daemon` lines are dropped (the
/// test runs haproxy as its own foreground child), so is `maxconn` (it needs a file
/// descriptor limit a test machine may not grant), and the syslog target is replaced
/// by stderr, which goes to `haproxy.log` in the temp folder.
pub(crate) fn haproxy_cfg(front: u16, instances: &[u16]) -> String {
    let cfg = std::fs::read_to_string(repo_file("deploy/haproxy.cfg")).expect("deploy/haproxy.cfg");
    let cfg = with_addresses(&cfg, front, instances);
    let mut out = String::new();
    let mut section = "";
    let mut dropped = BTreeSet::new();
    for line in cfg.lines() {
        let header = !line.starts_with(char::is_whitespace) && !line.starts_with('#');
        if header && !line.trim().is_empty() {
            section = line.split_whitespace().next().unwrap_or("");
        }
        let keyword = line.split_whitespace().next().unwrap_or("");
        if section == "global" && line.starts_with(char::is_whitespace) {
            match keyword {
                "chroot" | "user" | "group" | "daemon" | "maxconn" => {
                    dropped.insert(keyword);
                    continue;
                }
                "log" => {
                    dropped.insert(keyword);
                    out.push_str("    log stderr format raw local0\n");
                    continue;
                }
                _ => {}
            }
        }
        out.push_str(line);
        out.push('\n');
        // Instances past the committed two: after the second one's line, alike.
        let second = format!("127.0.0.1:{}", instances[1]);
        if keyword == "server" && line.contains(&second) {
            for (n, port) in instances.iter().enumerate().skip(2) {
                let extra = line
                    .replace("instance2", &format!("instance{}", n + 1))
                    .replace(&second, &format!("127.0.0.1:{port}"));
                out.push_str(&extra);
                out.push('\n');
            }
        }
    }
    assert_eq!(
        dropped,
        BTreeSet::from(["chroot", "daemon", "group", "log", "maxconn", "user"]),
        "deploy/haproxy.cfg changed shape: update haproxy_cfg"
    );
    out
}

/// haproxy in the foreground running `haproxy_cfg(front, instances)`, its output in
/// `haproxy.log` in `dir`.
pub(crate) fn start_haproxy(dir: &Path, front: u16, instances: &[u16]) -> Process {
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(&cfg, haproxy_cfg(front, instances)).expect("write haproxy.cfg");
    Process::spawn(
        "haproxy",
        // -db: in the foreground, one process.
        Command::new(binary("haproxy"))
            .arg("-db")
            .arg("-f")
            .arg(&cfg),
        dir.join("haproxy.log"),
    )
}

/// Starts a proxy, `start(port)`, on a port of 127.0.0.1 that was free a moment ago,
/// and waits (bounded) until it listens. Should something else take the port before
/// the proxy binds it, the proxy fails to start and the next attempt picks another
/// (at most three).
pub(crate) fn start_front(start: impl Fn(u16) -> Process) -> (Process, SocketAddr) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let front = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port());
        let mut proxy = start(front.port());
        match proxy.wait_listening(front) {
            Ok(()) => return (proxy, front),
            Err(ended) if attempt < 3 && ended.contains("Address already in use") => continue,
            Err(ended) => panic!("{ended}"),
        }
    }
}

/// A `redis-server` in the foreground on 127.0.0.1:`port`, without persistence,
/// once it accepts connections; its output in `redis<n>.log` in `dir`.
pub(crate) fn start_redis(dir: &Path, port: u16, n: usize) -> Process {
    let mut process = Process::spawn(
        "redis-server",
        Command::new(binary("redis-server")).args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]),
        dir.join(format!("redis{n}.log")),
    );
    if let Err(ended) = process.wait_listening(([127, 0, 0, 1], port).into()) {
        panic!("{ended}");
    }
    process
}
