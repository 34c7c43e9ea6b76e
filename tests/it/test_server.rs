//! The `test_server` example keeps the contract outside SockJS test tools rely on:
//! command line, the line it prints, and its services.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::common;
use crate::common::{DEADLINE, text};

/// The example binary, built by `cargo test --all-targets` next to the test binaries.
fn example_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    debug_dir
        .join("examples")
        .join(format!("test_server{}", std::env::consts::EXE_SUFFIX))
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the example on a free port and waits (bounded) for its `listening on` line.
fn start() -> Running {
    let path = example_path();
    assert!(
        path.exists(),
        "{} missing: build it with `cargo build --examples`",
        path.display()
    );
    let mut child = Command::new(path)
        .args(["--port", "0", "--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn test_server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("test_server printed nothing");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    Running { child, base }
}

async fn post(client: &awc::Client, url: String, body: &str) -> (u16, String) {
    let mut res = actix_rt::time::timeout(DEADLINE, client.post(url).send_body(body.to_owned()))
        .await
        .expect("in time")
        .expect("request");
    (res.status().as_u16(), text(&mut res).await)
}

async fn get_json(client: &awc::Client, url: String) -> serde_json::Value {
    let mut res = client.get(url).send().await.expect("request");
    serde_json::from_str(&text(&mut res).await).expect("json")
}

#[actix_rt::test]
async fn test_server_serves_the_protocol_suite_services() {
    let server = start();
    let base = &server.base;
    let client = awc::Client::builder().timeout(DEADLINE).finish();

    // /echo: greeting and an xhr echo.
    let mut res = client
        .get(format!("{base}/echo"))
        .send()
        .await
        .expect("greeting");
    assert_eq!(text(&mut res).await, "Welcome to SockJS!\n");
    assert_eq!(
        post(&client, format!("{base}/echo/0/e1/xhr"), "").await,
        (200, "o\n".into())
    );
    assert_eq!(
        post(&client, format!("{base}/echo/0/e1/xhr_send"), r#"["hi"]"#)
            .await
            .0,
        204
    );
    assert_eq!(
        post(&client, format!("{base}/echo/0/e1/xhr"), "").await,
        (200, "a[\"hi\"]\n".into())
    );

    // /close: opens, then closes at once with 3000, and keeps saying so.
    assert_eq!(
        post(&client, format!("{base}/close/0/c1/xhr"), "").await,
        (200, "o\n".into())
    );
    for _ in 0..2 {
        assert_eq!(
            post(&client, format!("{base}/close/0/c1/xhr"), "").await,
            (200, "c[3000,\"Go away!\"]\n".into())
        );
    }

    // /disabled_websocket_echo and /cookie_needed_echo say so in /info.
    let info = get_json(&client, format!("{base}/disabled_websocket_echo/info")).await;
    assert_eq!(info["websocket"], false);
    let info = get_json(&client, format!("{base}/cookie_needed_echo/info")).await;
    assert_eq!(info["cookie_needed"], true);
    let res = client
        .post(format!("{base}/cookie_needed_echo/0/k1/xhr"))
        .send()
        .await
        .expect("xhr");
    assert_eq!(
        common::header(&res, "set-cookie").as_deref(),
        Some("JSESSIONID=dummy; path=/")
    );

    // /amplify: n -> 2^n x's, clamped.
    assert_eq!(
        post(&client, format!("{base}/amplify/0/a1/xhr"), "")
            .await
            .1,
        "o\n"
    );
    post(&client, format!("{base}/amplify/0/a1/xhr_send"), r#"["3"]"#).await;
    assert_eq!(
        post(&client, format!("{base}/amplify/0/a1/xhr"), "")
            .await
            .1,
        "a[\"xxxxxxxx\"]\n"
    );
    post(&client, format!("{base}/amplify/0/a1/xhr_send"), r#"["0"]"#).await;
    assert_eq!(
        post(&client, format!("{base}/amplify/0/a1/xhr"), "")
            .await
            .1,
        "a[\"xx\"]\n"
    );

    // /broadcast: a message reaches every open session.
    for id in ["b1", "b2"] {
        assert_eq!(
            post(&client, format!("{base}/broadcast/0/{id}/xhr"), "")
                .await
                .1,
            "o\n"
        );
    }
    post(
        &client,
        format!("{base}/broadcast/0/b1/xhr_send"),
        r#"["to all"]"#,
    )
    .await;
    for id in ["b1", "b2"] {
        assert_eq!(
            post(&client, format!("{base}/broadcast/0/{id}/xhr"), "")
                .await
                .1,
            "a[\"to all\"]\n"
        );
    }

    // /ticker: a tick arrives (bounded by the client timeout).
    assert_eq!(
        post(&client, format!("{base}/ticker/0/t1/xhr"), "").await.1,
        "o\n"
    );
    assert_eq!(
        post(&client, format!("{base}/ticker/0/t1/xhr"), "").await.1,
        "a[\"tick\"]\n"
    );

    // /multiplex: ann, bob and carl each echo on their own channel; others are unknown.
    assert_eq!(
        post(&client, format!("{base}/multiplex/0/m1/xhr"), "")
            .await
            .1,
        "o\n"
    );
    let sends = r#"["sub,ann","sub,bob","sub,carl","sub,dave","msg,dave,x","msg,carl,3","msg,ann,1, one","msg,bob,2"]"#;
    assert_eq!(
        post(&client, format!("{base}/multiplex/0/m1/xhr_send"), sends)
            .await
            .0,
        204
    );
    assert_eq!(
        post(&client, format!("{base}/multiplex/0/m1/xhr"), "")
            .await
            .1,
        "a[\"msg,carl,3\",\"msg,ann,1, one\",\"msg,bob,2\"]\n"
    );
}

#[actix_rt::test]
async fn test_server_echo_ends_streams_after_4096_bytes() {
    let server = start();
    let client = awc::Client::builder().timeout(DEADLINE).finish();
    let base = &server.base;
    let mut res = client
        .post(format!("{base}/echo/0/s1/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    // The prelude and open frame arrive; the stream then stays open until 4096 bytes of
    // frames went out, so send enough to pass the limit from a second connection.
    let sender = client.clone();
    let url = format!("{base}/echo/0/s1/xhr_send");
    actix_rt::spawn(async move {
        let big = "y".repeat(1000);
        for _ in 0..5 {
            let _ = sender
                .post(url.clone())
                .send_body(format!("[\"{big}\"]"))
                .await;
        }
    });
    let body = actix_rt::time::timeout(DEADLINE, text(&mut res))
        .await
        .expect("stream ended in time");
    assert!(body.starts_with(&"h".repeat(2048)), "prelude");
    let frames: Vec<&str> = body[2049..].lines().collect();
    assert_eq!(frames[0], "o");
    let frame_bytes: usize = body[2049..].len();
    assert!(frame_bytes >= 4096, "ended after {frame_bytes} bytes");
    assert!(
        frame_bytes < 4096 + 1100,
        "ended soon after the limit: {frame_bytes}"
    );
}

#[actix_rt::test]
async fn test_server_closes_a_session_whose_streaming_client_aborted() {
    let server = start();
    let base = &server.base;
    let addr = base
        .trim_start_matches("http://")
        .parse()
        .expect("socket address");
    let stream = common::raw_request_until(
        addr,
        b"POST /echo/000/abort1/xhr_streaming HTTP/1.1\r\nHost: 127.0.0.1\r\n\
          Content-Length: 0\r\n\r\n",
        b"o\n\r\n",
    )
    .await;
    drop(stream);
    // No heartbeat is due for 25 s: the server must learn of the abort from the closed
    // connection itself. Until it has, a poll still finds the stream attached (2010);
    // once it has, the session is closed with 1002. Bounded: at most 100 polls.
    let client = awc::Client::builder().timeout(DEADLINE).finish();
    let busy = "c[2010,\"Another connection still open\"]\n";
    let mut answer = String::new();
    for _ in 0..100 {
        answer = post(&client, format!("{base}/echo/000/abort1/xhr"), "")
            .await
            .1;
        if answer != busy {
            break;
        }
    }
    assert_eq!(answer, "c[1002,\"Connection interrupted\"]\n");
}

/// SIGTERM and SIGINT: every client gets its close frame (a websocket also a close
/// frame, a stream its end), and the process exits, within the 5 s deadline.
#[cfg(unix)]
#[actix_rt::test]
async fn a_signal_closes_every_session_with_1001_and_the_server_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    for signal in ["TERM", "INT"] {
        let mut server = start();
        let addr: std::net::SocketAddr = server
            .base
            .trim_start_matches("http://")
            .parse()
            .expect("address");
        let mut ws = common::raw_ws::RawWs::connect(addr, "/echo/000/sig/websocket").await;
        assert_eq!(ws.next_text().await, "o");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "POST /broadcast/000/sig/xhr_streaming HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut seen = String::new();
        let mut chunk = [0u8; 4096];
        let mut read_until = async |seen: &mut String, until: &str| {
            while !seen.contains(until) {
                let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
                    .await
                    .expect("in time")
                    .expect("read");
                assert!(n > 0, "{signal}: closed before {until:?}: {seen:?}");
                seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        };
        read_until(&mut seen, "o\n").await;

        let pid = server.child.id().to_string();
        let status = Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .expect("kill");
        assert!(status.success());

        assert_eq!(
            ws.next_text().await,
            "c[1001,\"Server shutting down\"]",
            "{signal}"
        );
        assert_eq!(
            ws.next().await,
            Some(common::raw_ws::ServerFrame::Close(
                Some(1001),
                "Server shutting down".into()
            )),
            "{signal}"
        );
        read_until(&mut seen, "c[1001,\"Server shutting down\"]\n\r\n0\r\n\r\n").await;

        // The process exits by itself.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut child = std::mem::replace(
            &mut server.child,
            Command::new("true").spawn().expect("placeholder"),
        );
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let exit = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("{signal}: test_server still runs"))
            .expect("wait");
        assert!(exit.success(), "{signal}: {exit:?}");
    }
}
