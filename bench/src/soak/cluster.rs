//! The processes of the soak, all on free ports of 127.0.0.1 and all children of
//! this one (killed with it): one `redis-server` without persistence, two
//! `test_server --redis` instances, and two HAProxy processes running
//! `deploy/haproxy.cfg` in front of them (two, so that neither needs more file
//! descriptors than the machine grants a process). Every log goes to a file of
//! the run's folder.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use std::io::Write as _;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{Instant, timeout_at};

/// How long a process may take to start.
const START: Duration = Duration::from_secs(30);

/// Where the programs are and where their logs go.
pub(crate) struct Programs {
    pub(crate) test_server: PathBuf,
    pub(crate) haproxy: PathBuf,
    pub(crate) redis_server: PathBuf,
    /// The committed `deploy/haproxy.cfg`.
    pub(crate) haproxy_cfg: PathBuf,
    /// The run's folder: logs and the generated HAProxy configuration.
    pub(crate) dir: PathBuf,
}

/// One `test_server` instance, by HAProxy's name for it.
pub(crate) struct Instance {
    /// `instance1` or `instance2`, as in `deploy/haproxy.cfg`.
    pub(crate) name: String,
    pub(crate) port: u16,
    child: Option<Child>,
    pub(crate) pid: u32,
    /// Its logs, one per life (a restart starts a new one).
    pub(crate) logs: Vec<PathBuf>,
}

/// Everything the soak started.
pub(crate) struct Cluster {
    programs: Programs,
    redis: Option<Child>,
    redis_port: u16,
    redis_lives: usize,
    pub(crate) instances: Vec<Instance>,
    proxies: Vec<Child>,
    /// HAProxy's front addresses.
    pub(crate) fronts: Vec<SocketAddr>,
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Creates a log file, an error naming it if that fails.
fn log_file(path: &Path) -> io::Result<std::fs::File> {
    std::fs::File::create(path).map_err(|e| io::Error::other(format!("{}: {e}", path.display())))
}

impl Cluster {
    /// Starts Redis, the two instances and the proxies; returns once all accept
    /// connections.
    pub(crate) async fn start(programs: Programs, proxies: usize) -> io::Result<Cluster> {
        let redis_port = free_port()?;
        let mut cluster = Cluster {
            programs,
            redis: None,
            redis_port,
            redis_lives: 0,
            instances: Vec::new(),
            proxies: Vec::new(),
            fronts: Vec::new(),
        };
        cluster.start_redis().await?;
        for n in 1..=2 {
            let name = format!("instance{n}");
            let port = free_port()?;
            let mut instance = Instance {
                name,
                port,
                child: None,
                pid: 0,
                logs: Vec::new(),
            };
            cluster.start_instance(&mut instance).await?;
            cluster.instances.push(instance);
        }
        for n in 1..=proxies {
            cluster.start_proxy(n).await?;
        }
        Ok(cluster)
    }

    /// The Redis URL the instances use.
    fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis_port)
    }

    /// Starts `redis-server` on its port and waits for its "Ready to accept
    /// connections" line.
    pub(crate) async fn start_redis(&mut self) -> io::Result<()> {
        self.redis_lives += 1;
        let log = self
            .programs
            .dir
            .join(format!("redis{}.log", self.redis_lives));
        let port = self.redis_port.to_string();
        let mut child = Command::new(&self.programs.redis_server)
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&log.with_extension("err"))?)
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        self.redis = Some(child);
        let mut lines = BufReader::new(stdout).lines();
        // Redis writes a line now and then: plain writes are fine here.
        let mut file = log_file(&log)?;
        let ready = timeout_at(Instant::now() + START, async {
            while let Some(line) = lines.next_line().await? {
                writeln!(file, "{line}")?;
                if line.contains("Ready to accept connections") {
                    return Ok(());
                }
            }
            Err(io::Error::other(format!(
                "redis-server ended; see {}",
                log.display()
            )))
        })
        .await
        .map_err(|_| io::Error::other("redis-server did not get ready"))?;
        // The rest of its output goes on to the log.
        tokio::task::spawn_local(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(file, "{line}");
            }
        });
        ready
    }

    /// Stops Redis (SIGTERM) and waits until it has exited.
    pub(crate) async fn stop_redis(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.redis.take() {
            signal(&child, libc::SIGTERM);
            timeout_at(Instant::now() + START, child.wait())
                .await
                .map_err(|_| io::Error::other("redis-server did not stop"))??;
        }
        Ok(())
    }

    /// Starts an instance on its port (`RUST_LOG=info`, its stderr to a new log)
    /// and waits for its `listening on` line.
    pub(crate) async fn start_instance(&self, instance: &mut Instance) -> io::Result<()> {
        let life = instance.logs.len() + 1;
        let log = self
            .programs
            .dir
            .join(format!("{}-{life}.log", instance.name));
        let mut child = Command::new(&self.programs.test_server)
            .args([
                "--port",
                &instance.port.to_string(),
                "--redis",
                &self.redis_url(),
            ])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        instance.logs.push(log);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        instance.pid = child.id().unwrap_or(0);
        instance.child = Some(child);
        let mut lines = BufReader::new(stdout).lines();
        let first = timeout_at(Instant::now() + START, lines.next_line())
            .await
            .map_err(|_| io::Error::other(format!("{} did not start", instance.name)))??;
        let want = format!("listening on http://127.0.0.1:{}", instance.port);
        if first.as_deref() != Some(want.as_str()) {
            return Err(io::Error::other(format!(
                "{} printed {first:?}, not {want:?}",
                instance.name
            )));
        }
        // Reads its stdout to the end, so that it never blocks on a full pipe.
        tokio::task::spawn_local(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(())
    }

    /// `kill -9` of instance `i`; waits until it is gone.
    pub(crate) async fn kill_instance(&mut self, i: usize) -> io::Result<()> {
        if let Some(mut child) = self.instances[i].child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Starts instance `i` again on its port.
    pub(crate) async fn restart_instance(&mut self, i: usize) -> io::Result<()> {
        let mut instance = std::mem::replace(
            &mut self.instances[i],
            Instance {
                name: String::new(),
                port: 0,
                child: None,
                pid: 0,
                logs: Vec::new(),
            },
        );
        let started = self.start_instance(&mut instance).await;
        self.instances[i] = instance;
        started
    }

    /// Whether instance `i` is running (it has not exited by itself).
    pub(crate) fn instance_alive(&mut self, i: usize) -> bool {
        self.instances[i]
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// HAProxy `n` on a free port, running this run's version of the committed
    /// configuration; waits until it accepts connections.
    async fn start_proxy(&mut self, n: usize) -> io::Result<()> {
        let front = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()?));
        let committed = std::fs::read_to_string(&self.programs.haproxy_cfg)?;
        let ports: Vec<u16> = self.instances.iter().map(|i| i.port).collect();
        let cfg = super::haproxy::config(&committed, front.port(), &ports)?;
        let path = self.programs.dir.join(format!("haproxy{n}.cfg"));
        std::fs::write(&path, cfg)?;
        let log = self.programs.dir.join(format!("haproxy{n}.log"));
        let child = Command::new(&self.programs.haproxy)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        self.proxies.push(child);
        let deadline = Instant::now() + START;
        // HAProxy says nothing when it is ready: try its port until it answers.
        loop {
            if tokio::net::TcpStream::connect(front).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "haproxy {n} did not start; see {}",
                    log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.fronts.push(front);
        Ok(())
    }

    /// Stops everything: SIGTERM, then SIGKILL for what is left after a few seconds.
    pub(crate) async fn stop(&mut self) {
        let mut children: Vec<Child> = self.proxies.drain(..).collect();
        children.extend(self.instances.iter_mut().filter_map(|i| i.child.take()));
        children.extend(self.redis.take());
        for child in &children {
            signal(child, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in &mut children {
            if timeout_at(deadline, child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

/// Sends `sig` to a child still running.
fn signal(child: &Child, sig: libc::c_int) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill only sends a signal to the process we started.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}
