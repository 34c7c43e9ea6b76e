//! Scale-out with the real servers: three `test_server` instances started with
//! `--redis`, behind the committed `deploy/haproxy.cfg`, sharing `/broadcast` through
//! a real `redis-server`; a few hundred client sessions on websocket, xhr_streaming
//! and xhr polling spread over them by HAProxy.
//!
//! One test walks the whole story, since each step starts from the one before:
//! every broadcast reaches every session once and in the sender's order; one instance
//! is killed (`SIGKILL`) mid-stream, its clients' sessions end and reconnect through
//! HAProxy to the survivors and get the later broadcasts, while every session on the
//! survivors gets every message; Redis is killed and restarted on its port, no
//! session ends meanwhile, and broadcasts flow again once the instances reconnect.
//!
//! Ignored by default, since it needs haproxy and redis-server:
//! `./scripts/test-scale-out` installs them (Debian packages) and runs it. Every
//! process started here is killed by its pid when its guard drops, every wait has a
//! deadline, and everything listens on 127.0.0.1.

mod support;

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use support::{ClientLog, Clients, Publisher};

use crate::common::deploy::{
    Instance, Process, TempDir, free_port, start_front, start_haproxy, start_instance, start_redis,
};

/// Sessions per transport.
const PER_TRANSPORT: usize = 100;
/// Bound on each phase of the test (every message to every session, reconnects).
const PHASE: Duration = Duration::from_secs(40);

/// Redis, three instances and HAProxy. Dropped in field order: the proxy, the
/// instances, Redis, then the temp folder.
struct Cluster {
    proxy: Process,
    instances: Vec<Option<Instance>>,
    redis: Option<Process>,
    redis_port: u16,
    front: std::net::SocketAddr,
    dir: TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = TempDir::new("scale-out");
        let redis_port = free_port();
        let redis = start_redis(&dir.0, redis_port, 1);
        let url = format!("redis://127.0.0.1:{redis_port}");
        let instances: Vec<Instance> = (1..=3)
            .map(|n| start_instance(&dir.0, n, &["--redis", &url]))
            .collect();
        let ports: Vec<u16> = instances.iter().map(|i| i.port).collect();
        let (proxy, front) = start_front(|front| start_haproxy(&dir.0, front, &ports));
        Cluster {
            proxy,
            instances: instances.into_iter().map(Some).collect(),
            redis: Some(redis),
            redis_port,
            front,
            dir,
        }
    }

    fn port(&self, n: usize) -> u16 {
        self.instances[n].as_ref().map_or(0, |i| i.port)
    }

    /// `kill -9` of instance `n` (0-based), reaped.
    fn kill_instance(&mut self, n: usize) {
        drop(self.instances[n].take());
    }

    fn restart_redis(&mut self) {
        drop(self.redis.take());
        self.redis = Some(start_redis(&self.dir.0, self.redis_port, 2));
    }

    /// Fails the test if the proxy, Redis or a surviving instance has died.
    fn assert_running(&mut self) {
        self.proxy.assert_running();
        if let Some(redis) = &mut self.redis {
            redis.assert_running();
        }
        for instance in self.instances.iter_mut().flatten() {
            instance.process.assert_running();
        }
    }
}

/// The `m<n>` messages of `texts`, as numbers, in the order received.
fn numbered(texts: &[String]) -> Vec<usize> {
    texts
        .iter()
        .filter_map(|t| t.strip_prefix('m').and_then(|n| n.parse().ok()))
        .collect()
}

/// Fails unless no text appears twice in one session.
fn assert_no_duplicates(client: &ClientLog) {
    for (generation, texts) in client.sessions.iter().enumerate() {
        let mut seen = HashSet::new();
        for text in texts {
            assert!(
                seen.insert(text),
                "client {} ({:?}) got {text:?} twice in session {generation}",
                client.index,
                client.transport
            );
        }
    }
}

#[actix_rt::test]
#[ignore = "needs haproxy and redis-server; run by ./scripts/test-scale-out"]
async fn broadcasts_span_instances_through_redis_and_survive_a_killed_instance_and_a_redis_restart()
{
    let mut cluster = Cluster::start();
    let mut clients = Clients::start(cluster.front, PER_TRANSPORT);
    let total = clients.len();
    clients
        .wait(PHASE, "every client opened a session", |logs| {
            logs.iter().all(|c| c.sessions.len() == 1)
        })
        .await;
    let mut publisher = Publisher::connect(cluster.port(0)).await;

    // Every instance has members, hence a subscription; until it took effect, a
    // broadcast may miss an instance: probe until one reaches everybody.
    publisher
        .probe_until_all_receive(&mut clients, "p", PHASE)
        .await;

    // Phase 1: every message to every session, once, in the sender's order.
    for n in 0..100 {
        publisher.publish(&format!("m{n}")).await;
    }
    clients
        .wait(PHASE, "every session got m0..m99", |logs| {
            logs.iter()
                .all(|c| numbered(c.current()).last() == Some(&99))
        })
        .await;
    for client in clients.logs() {
        assert_eq!(
            numbered(client.current()),
            (0..100).collect::<Vec<_>>(),
            "client {} ({:?})",
            client.index,
            client.transport
        );
    }

    // Which sessions the third instance holds: an empty xhr_send straight to an
    // instance answers 204 only from the one holding the session (and sends nothing).
    let mut on_third = BTreeSet::new();
    for client in clients.logs() {
        let held: Vec<usize> = {
            let mut held = Vec::new();
            for n in 0..3 {
                if support::holds(cluster.port(n), &client.session_ids[0]).await {
                    held.push(n);
                }
            }
            held
        };
        assert_eq!(held.len(), 1, "client {}: held by {held:?}", client.index);
        if held[0] == 2 {
            on_third.insert(client.index);
        }
    }
    assert!(
        !on_third.is_empty(),
        "HAProxy put no HTTP session on the third instance"
    );

    // Phase 2: the third instance is killed mid-stream.
    for n in 100..200 {
        if n == 150 {
            cluster.kill_instance(2);
        }
        publisher.publish(&format!("m{n}")).await;
    }
    let ended: BTreeSet<usize> = clients
        .wait(
            PHASE,
            "the killed instance's sessions ended and reconnected",
            |logs| {
                logs.iter().all(|c| {
                    let expected = usize::from(on_third.contains(&c.index));
                    c.ended >= expected && c.ended <= 1 && c.sessions.len() == c.ended + 1
                })
            },
        )
        .await
        .iter()
        .filter(|c| c.ended > 0)
        .map(|c| c.index)
        .collect();
    assert_eq!(
        ended, on_third,
        "the sessions that ended are exactly those of the killed instance"
    );
    assert!(ended.len() < total, "sessions on the survivors must stay");

    // Phase 3: the later broadcasts reach the reconnected sessions too.
    for n in 200..250 {
        publisher.publish(&format!("m{n}")).await;
    }
    clients
        .wait(PHASE, "every session got m249", |logs| {
            logs.iter()
                .all(|c| numbered(c.current()).last() == Some(&249))
        })
        .await;
    for client in clients.logs() {
        assert_no_duplicates(client);
        if ended.contains(&client.index) {
            let before = numbered(&client.sessions[0]);
            let last = before.last().copied().unwrap_or(0);
            assert_eq!(before, (0..=last).collect::<Vec<_>>(), "before the kill");
            assert!(last >= 99, "client {} lost phase 1", client.index);
            let after = numbered(&client.sessions[1]);
            let first = after.first().copied().unwrap_or(250);
            assert!(
                first <= 200,
                "client {} missed later broadcasts: {:?}",
                client.index,
                client.sessions
            );
            assert_eq!(
                after,
                (first..250).collect::<Vec<_>>(),
                "after reconnecting"
            );
        } else {
            assert_eq!(
                numbered(client.current()),
                (0..250).collect::<Vec<_>>(),
                "client {} ({:?}) on a surviving instance",
                client.index,
                client.transport
            );
        }
    }
    cluster.assert_running();

    // Phase 4: Redis restarts. No session ends; once the instances are back on
    // Redis, broadcasts reach everybody again, once and in order.
    let sessions_before: Vec<usize> = clients.logs().iter().map(|c| c.sessions.len()).collect();
    cluster.restart_redis();
    publisher
        .probe_until_all_receive(&mut clients, "q", PHASE)
        .await;
    for n in 250..300 {
        publisher.publish(&format!("m{n}")).await;
    }
    clients
        .wait(PHASE, "every session got m299", |logs| {
            logs.iter()
                .all(|c| numbered(c.current()).last() == Some(&299))
        })
        .await;
    for (client, before) in clients.logs().iter().zip(sessions_before) {
        assert_eq!(
            client.sessions.len(),
            before,
            "client {} lost its session during the Redis restart",
            client.index
        );
        assert_no_duplicates(client);
        let got = numbered(client.current());
        let first = got.first().copied().unwrap_or(0);
        assert_eq!(
            got,
            (first..300).collect::<Vec<_>>(),
            "client {}",
            client.index
        );
    }
    cluster.assert_running();
}
