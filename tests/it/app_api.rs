//! The application API at parity with sockjs-tornado and TornadIO: what `on_open` is
//! told, refusing a session, path parameters, JSON messages, several services in one
//! App, disabled transports and trusted proxies.

use actix_sockjs::{
    CloseReason, ConnectionInfo, SockJs, SockJsConfig, SockJsContext, SockJsHandler, Transport,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::common;
use crate::common::{Echo, header, session_id, text};

/// Sends what it learnt in `on_open` as a JSON message, refuses sessions asked to, and
/// reports its close reason.
struct Probe {
    closes: UnboundedSender<CloseReason>,
}

impl actix::Actor for Probe {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Probe {
    fn on_open(&mut self, info: ConnectionInfo, session: &mut SockJsContext<Self>) {
        if info.query("refuse").is_some() {
            session.close(4001, "not today");
            return;
        }
        let seen = serde_json::json!({
            "room": info.param("room"),
            "ip": info.ip().map(|ip| ip.to_string()),
            "name": info.query("name"),
            "cookie": info.cookie("token"),
            "agent": info.header("user-agent"),
            "path": info.path(),
            "transport": info.transport().name(),
        });
        session.send_json(&seen).expect("a JSON value serialises");
    }

    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }

    fn on_close(&mut self, reason: &CloseReason, _: &mut SockJsContext<Self>) {
        let _ = self.closes.send(reason.clone());
    }
}

fn app_server(
    probe_config: SockJsConfig,
) -> (
    actix_test::TestServer,
    tokio::sync::mpsc::UnboundedReceiver<CloseReason>,
) {
    let (tx, rx) = unbounded_channel();
    let chat =
        SockJs::new("/chat/{room}", move || Probe { closes: tx.clone() }).with_config(probe_config);
    let plain =
        SockJs::new("/plain", || Echo).with_config(SockJsConfig::default().disabled_transports([
            Transport::WebSocket,
            Transport::RawWebSocket,
            Transport::Jsonp,
            Transport::Xhr,
        ]));
    let srv = actix_test::start(move || App::new().service(chat.clone()).service(plain.clone()));
    (srv, rx)
}

/// Opens an xhr session and returns the JSON the probe sent.
async fn probe(
    srv: &actix_test::TestServer,
    url: &str,
    headers: &[(&str, &str)],
) -> serde_json::Value {
    let mut req = srv.post(format!("{url}/xhr"));
    for h in headers {
        // Appended: a name given twice goes out as two header lines.
        req = req.append_header(*h);
    }
    let mut res = req.send().await.expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
    let mut res = srv.post(format!("{url}/xhr")).send().await.expect("poll");
    let body = text(&mut res).await;
    let frame: Vec<String> = serde_json::from_str(
        body.strip_prefix('a')
            .and_then(|b| b.strip_suffix('\n'))
            .expect("message frame"),
    )
    .expect("json array");
    serde_json::from_str(&frame[0]).expect("the probe sends JSON")
}

#[actix_rt::test]
async fn one_prefix_with_a_path_parameter_serves_every_room() {
    let (srv, _) = app_server(SockJsConfig::default());
    for room in ["lobby", "kitchen"] {
        let seen = probe(&srv, &format!("/chat/{room}/000/{}", session_id()), &[]).await;
        assert_eq!(seen["room"], room);
        assert_eq!(seen["transport"], "xhr");
        assert!(
            seen["path"]
                .as_str()
                .unwrap_or("")
                .starts_with(&format!("/chat/{room}/"))
        );
    }
    // The greeting and /info answer under every room too.
    let mut res = srv.get("/chat/attic/info").send().await.expect("info");
    assert_eq!(res.status().as_u16(), 200);
    let info: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
    assert_eq!(info["websocket"], true);
}

#[actix_rt::test]
async fn on_open_sees_query_cookies_headers_and_the_peer_ip() {
    let (srv, _) = app_server(SockJsConfig::default());
    let seen = probe(
        &srv,
        &format!("/chat/r/000/{}", session_id()),
        &[
            ("Cookie", "token=abc; other=1"),
            ("User-Agent", "probe/1.0"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
    )
    .await;
    assert_eq!(seen["cookie"], "abc");
    assert_eq!(seen["agent"], "probe/1.0");
    // No trusted proxy configured: the forged header is ignored.
    assert_eq!(seen["ip"], "127.0.0.1");
    assert_eq!(seen["name"], serde_json::Value::Null);

    let mut res = srv
        .post(format!("/chat/r/000/{}/xhr?name=ann%20b", session_id()))
        .send()
        .await
        .expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
}

#[actix_rt::test]
async fn a_trusted_proxy_reports_the_client_address() {
    let (srv, _) =
        app_server(SockJsConfig::default().trusted_proxies(["127.0.0.1".parse().expect("ip")]));
    let seen = probe(
        &srv,
        &format!("/chat/r/000/{}", session_id()),
        &[("X-Forwarded-For", "198.51.100.1, 203.0.113.9")],
    )
    .await;
    // The right-most untrusted hop is the client the proxy saw.
    assert_eq!(seen["ip"], "203.0.113.9");
    let seen = probe(
        &srv,
        &format!("/chat/r/000/{}", session_id()),
        &[("X-Real-IP", "192.0.2.44")],
    )
    .await;
    assert_eq!(seen["ip"], "192.0.2.44");
    // HAProxy's `option forwardfor` adds its own X-Forwarded-For line after the one
    // the client sent: the lines form one list, so the client's forgery stays on the
    // left, where it cannot win.
    let seen = probe(
        &srv,
        &format!("/chat/r/000/{}", session_id()),
        &[
            ("X-Forwarded-For", "198.51.100.66"),
            ("X-Forwarded-For", "203.0.113.9"),
        ],
    )
    .await;
    assert_eq!(seen["ip"], "203.0.113.9");
    // A proxy that adds X-Real-IP rather than replacing it adds it last.
    let seen = probe(
        &srv,
        &format!("/chat/r/000/{}", session_id()),
        &[("X-Real-IP", "198.51.100.66"), ("X-Real-IP", "192.0.2.44")],
    )
    .await;
    assert_eq!(seen["ip"], "192.0.2.44");
}

#[actix_rt::test]
async fn on_open_may_refuse_with_its_own_code_and_on_close_follows() {
    let (srv, mut closes) = app_server(SockJsConfig::default());
    let url = format!("/chat/r/000/{}/xhr?refuse=1", session_id());
    let mut res = srv.post(url.as_str()).send().await.expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
    let mut res = srv.post(url.as_str()).send().await.expect("poll");
    assert_eq!(text(&mut res).await, "c[4001,\"not today\"]\n");
    let reason = actix_rt::time::timeout(common::DEADLINE, closes.recv())
        .await
        .expect("on_close in time")
        .expect("channel open");
    assert_eq!(
        reason,
        CloseReason::Server {
            code: 4001,
            reason: "not today".into()
        }
    );
}

#[actix_rt::test]
async fn services_in_one_app_keep_their_own_handlers_configs_and_transports() {
    let (srv, _) = app_server(SockJsConfig::default());
    let mut res = srv.get("/plain/info").send().await.expect("info");
    let info: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
    assert_eq!(info["websocket"], false);

    let id = session_id();
    for (method, transport) in [
        ("POST", "xhr"),
        ("GET", "jsonp?c=cb"),
        ("POST", "jsonp_send"),
        ("GET", "websocket"),
    ] {
        let url = format!("/plain/000/{id}/{transport}");
        let req = if method == "GET" {
            srv.get(url.as_str())
        } else {
            srv.post(url.as_str())
        };
        let res = req.send().await.expect("request");
        assert_eq!(res.status().as_u16(), 404, "{method} {transport}");
    }
    let res = srv
        .get("/plain/websocket")
        .insert_header(("Upgrade", "websocket"))
        .insert_header(("Connection", "Upgrade"))
        .send()
        .await
        .expect("raw websocket");
    assert_eq!(res.status().as_u16(), 404);

    // Streaming and its xhr_send stay on; the echo handler answers, not the probe.
    let mut res = srv
        .post(format!("/plain/000/{id}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/javascript; charset=UTF-8")
    );
    let res2 = srv
        .post(format!("/plain/000/{id}/xhr_send"))
        .send_body(r#"["plain echo"]"#)
        .await
        .expect("send");
    assert_eq!(res2.status().as_u16(), 204);
    let mut body = String::new();
    common::read_until(&mut res, &mut body, "a[\"plain echo\"]\n").await;
}

#[actix_rt::test]
async fn handles_send_json_values_as_one_message() {
    let (srv, mut events) = common::server(SockJsConfig::default());
    let url = format!("/rec/000/{}/xhr", session_id());
    let mut res = srv.post(url.as_str()).send().await.expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
    let handle = common::next_open(&mut events).await;
    handle
        .send_json(&serde_json::json!({"user": "ann", "text": "hi\u{2028}"}))
        .expect("open session");
    let mut res = srv.post(url.as_str()).send().await.expect("poll");
    let body = text(&mut res).await;
    let frame: Vec<String> = serde_json::from_str(&body[1..body.len() - 1]).expect("json array");
    let value: serde_json::Value = serde_json::from_str(&frame[0]).expect("json message");
    assert_eq!(value["user"], "ann");
    assert_eq!(value["text"], "hi\u{2028}");
}
