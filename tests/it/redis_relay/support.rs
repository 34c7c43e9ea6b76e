//! A `redis-server` of a test's own, and a RESP client over a raw TCP connection to
//! look at it as another Redis client would (tests/it/redis_relay.rs).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{DEADLINE, POLL};

pub(crate) mod instances;

// --- redis-server ---------------------------------------------------------------

/// A `redis-server` child process on 127.0.0.1, killed (by its pid) when dropped.
pub(crate) struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits until it answers `PING`.
    pub(crate) async fn start() -> RedisServer {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|listener| listener.local_addr())
                .expect("a free port on 127.0.0.1")
                .port();
            let mut server = RedisServer { port, child: None };
            if server.spawn_and_wait().await {
                return server;
            }
            // Someone else took the port between our look and redis-server's bind.
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Spawns redis-server on `self.port`; true once it answers `PING`, false if it
    /// exited first (its port was taken).
    async fn spawn_and_wait(&mut self) -> bool {
        let program = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&program)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {program} ({e}): is redis-server installed?"));
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Ok(Resp::Simple(pong)) = try_command(self.port, &[b"PING"]).await {
                assert_eq!(pong, "PONG");
                return true;
            }
            let child = self.child.as_mut().expect("the child just spawned");
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return false;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "redis-server on port {} not answering within {DEADLINE:?}",
                self.port
            );
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL, and waits for the process to be gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts redis-server again on the same port, after [`kill`](Self::kill).
    pub(crate) async fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        let start = Instant::now();
        // The port was ours a moment ago; retry briefly should the bind fail.
        while !self.spawn_and_wait().await {
            assert!(
                start.elapsed() < DEADLINE,
                "redis-server could not bind port {} again",
                self.port
            );
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many connections are subscribed to `channel` (`PUBSUB NUMSUB`).
    pub(crate) async fn numsub(&self, channel: &str) -> i64 {
        match command(self.port, &[b"PUBSUB", b"NUMSUB", channel.as_bytes()]).await {
            Resp::Array(Some(items)) => match items.as_slice() {
                [Resp::Bulk(Some(name)), Resp::Int(n)] if name == channel.as_bytes() => *n,
                other => panic!("unexpected NUMSUB reply {other:?}"),
            },
            other => panic!("unexpected NUMSUB reply {other:?}"),
        }
    }

    /// Waits until `channel` has `n` subscribed connections.
    pub(crate) async fn wait_numsub(&self, channel: &str, n: i64) {
        let start = Instant::now();
        loop {
            let now = self.numsub(channel).await;
            if now == n {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{channel} has {now} subscriber(s), not {n}, after {DEADLINE:?}"
            );
            actix_rt::time::sleep(POLL).await;
        }
    }

    /// Waits until `n` clients are connected, besides the one that asks.
    pub(crate) async fn wait_clients(&self, n: usize) {
        let start = Instant::now();
        loop {
            let list = match command(self.port, &[b"CLIENT", b"LIST"]).await {
                Resp::Bulk(Some(list)) => String::from_utf8(list).expect("a text client list"),
                other => panic!("unexpected CLIENT LIST reply {other:?}"),
            };
            let others = list
                .lines()
                .filter(|client| !client.contains("cmd=client|list"))
                .count();
            if others == n {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{others} client(s) connected, not {n}, after {DEADLINE:?}:\n{list}"
            );
            actix_rt::time::sleep(POLL).await;
        }
    }

    /// `PUBLISH channel payload`, as another Redis client would; how many
    /// connections received it.
    pub(crate) async fn publish(&self, channel: &str, payload: &[u8]) -> i64 {
        match command(self.port, &[b"PUBLISH", channel.as_bytes(), payload]).await {
            Resp::Int(n) => n,
            other => panic!("unexpected PUBLISH reply {other:?}"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// --- RESP over a raw TCP connection ----------------------------------------------

/// A Redis reply.
#[derive(Debug, PartialEq)]
pub(crate) enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

/// Parses one reply from the start of `buf`: the reply and the bytes it took, or
/// `None` if `buf` holds only part of it.
pub(crate) fn parse(buf: &[u8]) -> Option<(Resp, usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&buf[1..end]).expect("a RESP header line");
    let mut used = end + 2;
    let reply = match buf.first()? {
        b'+' => Resp::Simple(line.to_owned()),
        b'-' => Resp::Error(line.to_owned()),
        b':' => Resp::Int(line.parse().expect("a RESP integer")),
        b'$' => {
            let len: i64 = line.parse().expect("a RESP length");
            if len < 0 {
                Resp::Bulk(None)
            } else {
                let len = len as usize;
                if buf.len() < used + len + 2 {
                    return None;
                }
                let bulk = buf[used..used + len].to_vec();
                used += len + 2;
                Resp::Bulk(Some(bulk))
            }
        }
        b'*' => {
            let len: i64 = line.parse().expect("a RESP length");
            if len < 0 {
                Resp::Array(None)
            } else {
                let mut items = Vec::new();
                for _ in 0..len {
                    let (item, n) = parse(&buf[used..])?;
                    items.push(item);
                    used += n;
                }
                Resp::Array(Some(items))
            }
        }
        other => panic!("unexpected RESP type byte {other:#x}"),
    };
    Some((reply, used))
}

/// Sends one command on a new connection and reads its reply.
pub(crate) async fn try_command(port: u16, args: &[&[u8]]) -> std::io::Result<Resp> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((reply, _)) = parse(&buf) {
                return Ok(reply);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    actix_rt::time::timeout(DEADLINE, exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

pub(crate) async fn command(port: u16, args: &[&[u8]]) -> Resp {
    try_command(port, args)
        .await
        .unwrap_or_else(|e| panic!("redis on port {port} did not answer: {e}"))
}
