//! The deployment of `deploy/` with the real nginx and HAProxy: two `test_server`
//! instances behind each proxy, driven by websocket, xhr-streaming and xhr-polling
//! sessions from a client on 127.0.0.2.
//!
//! The proxies run the committed `deploy/nginx.conf` and `deploy/haproxy.cfg`, with
//! only the addresses (free ports on 127.0.0.1) and the machine-level lines (user,
//! pid file, log files, temp paths, daemon mode) changed so that they run as this
//! test's own children with everything in a temporary folder; `nginx_conf` and
//! `haproxy_cfg` say line by line what they change.
//!
//! Ignored by default, since they need nginx and haproxy installed:
//! `./scripts/test-proxies` installs them (Debian packages) and runs these tests.
//! Every process started here is killed by its pid when its guard drops, every wait
//! has a deadline, and everything listens on 127.0.0.1.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use crate::common::deploy::{
    Instance, Process, TempDir, binary, repo_file, start_front, start_haproxy, start_instance,
    with_addresses,
};
use crate::common::{client_from, read_until, session_id, text, ws_handshake, ws_send, ws_text};

/// Where the test clients connect from: not the proxies' own address.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// Where the proxies connect to the instances from.
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Sent by the client with every request that opens a session: behind a trusted
/// proxy the handler must still see the client's own address, never these.
const FORGED: [(&str, &str); 2] = [
    ("X-Forwarded-For", "198.51.100.66"),
    ("X-Real-IP", "198.51.100.67"),
];

#[derive(Clone, Copy, Debug)]
enum Proxy {
    Nginx,
    Haproxy,
}

/// `deploy/nginx.conf` for this run. Changed, and only these: the addresses; the
/// `user` line is dropped (switching users needs root; the test's own user runs it);
/// `pid`, `error_log` and `access_log` point into `dir`; and the http block gets temp
/// paths in `dir` (nginx's built-in ones are system folders it checks at start).
fn nginx_conf(dir: &Path, front: u16, instances: &[u16]) -> String {
    let conf = std::fs::read_to_string(repo_file("deploy/nginx.conf")).expect("deploy/nginx.conf");
    let conf = with_addresses(&conf, front, instances);
    let d = dir.display();
    let mut out = String::new();
    let mut rewritten = BTreeSet::new();
    for line in conf.lines() {
        let directive = line.trim_start();
        let keyword = directive.split_whitespace().next().unwrap_or("");
        match keyword {
            "user" => {}
            "pid" => out.push_str(&format!("pid {d}/nginx.pid;\n")),
            "error_log" => out.push_str(&format!("error_log {d}/nginx-error.log warn;\n")),
            "access_log" => out.push_str(&format!("access_log {d}/nginx-access.log;\n")),
            "http" => {
                out.push_str(line);
                out.push('\n');
                for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                    out.push_str(&format!("    {temp}_temp_path {d}/{temp}_temp;\n"));
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
                continue;
            }
        }
        rewritten.insert(keyword);
    }
    assert_eq!(
        rewritten,
        BTreeSet::from(["access_log", "error_log", "http", "pid", "user"]),
        "deploy/nginx.conf changed shape: update nginx_conf"
    );
    out
}

/// Two instances behind one proxy, all on 127.0.0.1. Dropped in field order: the
/// proxy, the instances, then the temp folder.
struct Deployment {
    proxy: Process,
    instances: Vec<Instance>,
    front: SocketAddr,
    _dir: TempDir,
}

impl Deployment {
    fn start(kind: Proxy, trust_proxy: bool) -> Deployment {
        let dir = TempDir::new("proxies");
        let proxy_ip = PROXY.to_string();
        let trusted: &[&str] = if trust_proxy {
            &["--trusted-proxies", &proxy_ip]
        } else {
            &[]
        };
        let instances: Vec<Instance> = (1..=2)
            .map(|n| start_instance(&dir.0, n, trusted))
            .collect();
        let ports = [instances[0].port, instances[1].port];
        let (proxy, front) = start_front(|front| match kind {
            Proxy::Nginx => start_nginx(&dir.0, front, &ports),
            Proxy::Haproxy => start_haproxy(&dir.0, front, &ports),
        });
        Deployment {
            proxy,
            instances,
            front,
            _dir: dir,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.front)
    }

    fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.front)
    }

    fn instance_ports(&self) -> BTreeSet<u16> {
        self.instances.iter().map(|i| i.port).collect()
    }

    /// Fails the test if the proxy or an instance has died.
    fn assert_running(&mut self) {
        self.proxy.assert_running();
        for instance in &mut self.instances {
            instance.process.assert_running();
        }
    }
}

fn start_nginx(dir: &Path, front: u16, instances: &[u16]) -> Process {
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(dir, front, instances)).expect("write nginx.conf");
    Process::spawn(
        "nginx",
        Command::new(binary("nginx"))
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            // In the foreground, and as a single process: nginx's master would
            // otherwise leave its workers running when killed.
            .args(["-g", "daemon off; master_process off;"]),
        dir.join("nginx.log"),
    )
}

/// The messages of an `a[...]` frame.
fn messages(frame: &str) -> Vec<String> {
    let array = frame
        .trim_end()
        .strip_prefix('a')
        .unwrap_or_else(|| panic!("expected a message frame, got {frame:?}"));
    serde_json::from_str(array).unwrap_or_else(|e| panic!("bad frame {frame:?}: {e}"))
}

/// What `/client_info` reported on open: the client address its handler was given
/// and the port of the instance that holds the session.
#[derive(Debug, Clone, PartialEq)]
struct ClientInfo {
    ip: Option<String>,
    port: u16,
}

fn client_info(frame: &str) -> ClientInfo {
    let messages = messages(frame);
    assert_eq!(messages.len(), 1, "one message in {frame:?}");
    let value: serde_json::Value =
        serde_json::from_str(&messages[0]).expect("/client_info sends JSON");
    ClientInfo {
        ip: value["ip"].as_str().map(str::to_owned),
        port: value["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("a port"),
    }
}

/// POSTs `body` with `headers`; the status and the body.
async fn post(
    client: &awc::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut request = client.post(url);
    for (name, value) in headers {
        request = request.append_header((*name, *value));
    }
    let mut res = request
        .send_body(body.to_owned())
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = res.status().as_u16();
    (status, text(&mut res).await)
}

/// A websocket session on `/echo` echoes, and one on `/client_info` reports the
/// client's address.
async fn websocket_sessions(deployment: &Deployment) -> ClientInfo {
    let client = client_from(CLIENT);
    let url = deployment.ws_url(&format!("/echo/000/{}/websocket", session_id()));
    let mut ws = ws_handshake(&client, &url, &[]).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    ws_send(&mut ws, r#"["over a websocket"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["over a websocket"]"#);

    let url = deployment.ws_url(&format!("/client_info/000/{}/websocket", session_id()));
    let mut ws = ws_handshake(&client, &url, &FORGED).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    let info = client_info(&ws_text(&mut ws).await);
    ws_send(&mut ws, r#"["again"]"#).await;
    assert_eq!(ws_text(&mut ws).await, r#"a["again"]"#);
    info
}

/// An xhr-streaming session on `/client_info`: the report arrives on the stream, and
/// so does the echo of a message sent with xhr_send.
async fn xhr_streaming_session(deployment: &Deployment) -> ClientInfo {
    let client = client_from(CLIENT);
    let base = deployment.url(&format!("/client_info/000/{}", session_id()));
    let mut request = client.post(format!("{base}/xhr_streaming"));
    for header in FORGED {
        request = request.append_header(header);
    }
    let mut stream = request.send().await.expect("xhr_streaming");
    assert_eq!(stream.status().as_u16(), 200);
    let mut body = String::new();
    // The prelude, the open frame, then the report (a JSON object in a string).
    read_until(&mut stream, &mut body, "}\"]\n").await;
    let frames: Vec<&str> = body.lines().collect();
    assert_eq!(frames[0], "h".repeat(2048), "prelude");
    assert_eq!(frames[1], "o");
    let info = client_info(frames[2]);
    let sent = post(&client, &format!("{base}/xhr_send"), &[], r#"["streamed"]"#).await;
    assert_eq!(sent.0, 204, "xhr_send: {sent:?}");
    read_until(&mut stream, &mut body, "a[\"streamed\"]\n").await;
    info
}

/// An xhr-polling session on `/client_info` with `round_trips` xhr_send + xhr round
/// trips. Had any request reached the instance that does not hold the session, its
/// xhr_send would have answered 404 and its xhr poll would have opened a new session
/// (`o`): every request must instead be answered by the session itself. Asked
/// directly afterwards, the instance on the reported port has the session and the
/// other one has never heard of it.
async fn xhr_polling_session(deployment: &Deployment, round_trips: usize) -> ClientInfo {
    let client = client_from(CLIENT);
    let path = format!("/client_info/000/{}", session_id());
    let base = deployment.url(&path);
    let xhr = format!("{base}/xhr");
    let xhr_send = format!("{base}/xhr_send");
    assert_eq!(post(&client, &xhr, &FORGED, "").await, (200, "o\n".into()));
    let (status, report) = post(&client, &xhr, &[], "").await;
    assert_eq!(status, 200);
    let info = client_info(&report);
    for n in 0..round_trips {
        let sent = post(&client, &xhr_send, &[], &format!("[\"poll {n}\"]")).await;
        assert_eq!(sent, (204, String::new()), "xhr_send {n}");
        let polled = post(&client, &xhr, &[], "").await;
        assert_eq!(polled, (200, format!("a[\"poll {n}\"]\n")), "poll {n}");
    }
    for port in deployment.instance_ports() {
        let direct = format!("http://127.0.0.1:{port}{path}/xhr_send");
        let expected = if port == info.port { 204 } else { 404 };
        let status = post(&client, &direct, &[], r#"["direct"]"#).await.0;
        assert_eq!(
            status, expected,
            "xhr_send straight to the instance on {port}"
        );
    }
    info
}

/// New xhr-polling sessions (at most 40) until both instances have been reached; the
/// ports reached.
async fn instances_reached(deployment: &Deployment) -> BTreeSet<u16> {
    let client = client_from(CLIENT);
    let mut reached = BTreeSet::new();
    for _ in 0..40 {
        let xhr = deployment.url(&format!("/client_info/000/{}/xhr", session_id()));
        assert_eq!(post(&client, &xhr, &[], "").await, (200, "o\n".into()));
        let (status, report) = post(&client, &xhr, &[], "").await;
        assert_eq!(status, 200);
        reached.insert(client_info(&report).port);
        if reached.len() == 2 {
            break;
        }
    }
    reached
}

/// The URLs outside sessions pass too: `/info`, and the raw websocket (no framing).
async fn info_and_raw_websocket(deployment: &Deployment) {
    let client = client_from(CLIENT);
    let mut res = client
        .get(deployment.url("/echo/info"))
        .send()
        .await
        .expect("/info");
    assert_eq!(res.status().as_u16(), 200);
    let info: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
    assert_eq!(info["websocket"], true);

    let mut ws = ws_handshake(&client, &deployment.ws_url("/echo/websocket"), &[]).await;
    ws_send(&mut ws, "raw").await;
    assert_eq!(ws_text(&mut ws).await, "raw");
}

/// Every transport through `kind` to two instances trusting it: echoes arrive, the
/// handler sees the client's address (not the proxy's, not the forged headers), a
/// session's requests all reach one instance, and sessions reach both.
async fn sessions_through(kind: Proxy) {
    let mut deployment = Deployment::start(kind, true);
    let client_ip = Some(CLIENT.to_string());
    let ports = deployment.instance_ports();

    info_and_raw_websocket(&deployment).await;

    let info = websocket_sessions(&deployment).await;
    assert_eq!(info.ip, client_ip, "websocket through {kind:?}");
    assert!(ports.contains(&info.port), "{info:?}");

    let info = xhr_streaming_session(&deployment).await;
    assert_eq!(info.ip, client_ip, "xhr_streaming through {kind:?}");
    assert!(ports.contains(&info.port), "{info:?}");

    for _ in 0..3 {
        let info = xhr_polling_session(&deployment, 5).await;
        assert_eq!(info.ip, client_ip, "xhr polling through {kind:?}");
        assert!(ports.contains(&info.port), "{info:?}");
    }

    assert_eq!(
        instances_reached(&deployment).await,
        ports,
        "40 sessions through {kind:?} did not reach both instances"
    );
    deployment.assert_running();
}

/// With instances that do not trust the proxy, the handler sees the proxy's address,
/// while a client reaching an instance directly is seen with its own.
async fn untrusted_proxy(kind: Proxy) {
    let mut deployment = Deployment::start(kind, false);
    let info = xhr_polling_session(&deployment, 1).await;
    assert_eq!(
        info.ip,
        Some(PROXY.to_string()),
        "an instance not trusting {kind:?} must see the proxy's address"
    );

    let client = client_from(CLIENT);
    let direct = format!(
        "http://127.0.0.1:{}/client_info/000/{}/xhr",
        deployment.instances[0].port,
        session_id()
    );
    assert_eq!(post(&client, &direct, &FORGED, "").await.1, "o\n");
    let info = client_info(&post(&client, &direct, &[], "").await.1);
    assert_eq!(info.ip, Some(CLIENT.to_string()), "direct from {CLIENT}");
    deployment.assert_running();
}

#[actix_rt::test]
#[ignore = "needs nginx and haproxy; run by ./scripts/test-proxies"]
async fn nginx_carries_every_transport_sticky_with_the_client_address() {
    sessions_through(Proxy::Nginx).await;
}

#[actix_rt::test]
#[ignore = "needs nginx and haproxy; run by ./scripts/test-proxies"]
async fn haproxy_carries_every_transport_sticky_with_the_client_address() {
    sessions_through(Proxy::Haproxy).await;
}

#[actix_rt::test]
#[ignore = "needs nginx and haproxy; run by ./scripts/test-proxies"]
async fn instances_not_trusting_nginx_see_the_proxy_address() {
    untrusted_proxy(Proxy::Nginx).await;
}

#[actix_rt::test]
#[ignore = "needs nginx and haproxy; run by ./scripts/test-proxies"]
async fn instances_not_trusting_haproxy_see_the_proxy_address() {
    untrusted_proxy(Proxy::Haproxy).await;
}
