//! The StatsCollector and the stats endpoint: counters follow sessions and requests,
//! averages follow traffic, and both output formats parse.

use std::time::Duration;

use actix_sockjs::{SockJs, SockJsConfig, StatsEndpoint};
use actix_web::App;

use crate::common;
use crate::common::{DEADLINE, Echo, session_id, text, ws_connect, ws_send, ws_text};

fn stats_server() -> (actix_test::TestServer, actix_sockjs::Stats) {
    let echo = SockJs::new("/echo", || Echo)
        .with_config(SockJsConfig::default().disconnect_delay(Duration::from_millis(100)));
    let stats = echo.stats();
    let endpoint = StatsEndpoint::new("/stats").service("echo", echo.stats());
    let srv = actix_test::start(move || App::new().service(echo.clone()).service(endpoint.clone()));
    (srv, stats)
}

/// Waits (bounded) until `check` holds for the endpoint's JSON for `echo`.
async fn await_json(
    srv: &actix_test::TestServer,
    what: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let until = std::time::Instant::now() + DEADLINE;
    loop {
        let mut res = srv.get("/stats").send().await.expect("stats");
        assert_eq!(res.status().as_u16(), 200);
        let json: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
        if check(&json["echo"]) {
            return json;
        }
        assert!(
            std::time::Instant::now() < until,
            "{what} not seen within {DEADLINE:?}: {json}"
        );
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn counters_follow_sessions_opening_and_closing() {
    let (srv, stats) = stats_server();
    assert_eq!(stats.snapshot().sessions_active, 0);
    let id = session_id();
    let mut res = srv
        .post(format!("/echo/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
    let json = await_json(&srv, "an xhr session", |s| s["sessions_active"] == 1).await;
    assert_eq!(json["echo"]["transp_xhr"], 1);
    assert_eq!(json["echo"]["transp_websocket"], 0);

    let mut ws = ws_connect(&srv, &format!("/echo/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    let snap = stats.snapshot();
    assert_eq!(snap.sessions_active, 2);
    assert_eq!(snap.transports["websocket"], 1);
    // The open websocket is a live connection.
    assert!(snap.connections_active >= 1);

    // Traffic shows up in the one-second averages at the next tick.
    for _ in 0..5 {
        ws_send(&mut ws, r#"["x"]"#).await;
        assert_eq!(ws_text(&mut ws).await, r#"a["x"]"#);
    }
    await_json(&srv, "packets in the averages", |s| {
        s["packets_recv_ps"].as_f64().unwrap_or(0.0) > 0.0
            && s["packets_sent_ps"].as_f64().unwrap_or(0.0) > 0.0
            && s["connections_ps"].as_f64().unwrap_or(0.0) > 0.0
    })
    .await;

    // The websocket closes and the xhr session expires (disconnect_delay 100 ms).
    drop(ws);
    let json = await_json(&srv, "every session closed", |s| {
        s["sessions_active"] == 0 && s["connections_active"] == 0
    })
    .await;
    assert_eq!(json["echo"]["transp_xhr"], 0);
    assert_eq!(json["echo"]["transp_websocket"], 0);
}

#[actix_rt::test]
async fn prometheus_text_parses_as_the_exposition_format() {
    let (srv, _) = stats_server();
    let mut res = srv
        .post(format!("/echo/000/{}/xhr", session_id()))
        .send()
        .await
        .expect("poll");
    assert_eq!(text(&mut res).await, "o\n");
    let mut res = srv.get("/stats/prometheus").send().await.expect("metrics");
    assert_eq!(res.status().as_u16(), 200);
    assert!(
        common::header(&res, "content-type")
            .unwrap_or_default()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = text(&mut res).await;
    let mut samples = std::collections::HashMap::new();
    for line in body.lines() {
        if line.starts_with('#') {
            let mut parts = line.splitn(4, ' ');
            assert!(matches!(parts.next(), Some("#")));
            assert!(matches!(parts.next(), Some("HELP" | "TYPE")), "{line}");
            continue;
        }
        // name{labels} value
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value.parse().expect("numeric value");
        let (name, labels) = series.split_once('{').expect("labels");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{name}"
        );
        let labels = labels.strip_suffix('}').expect("closing brace");
        for pair in labels.split(',') {
            let (k, v) = pair.split_once('=').expect("label pair");
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            assert!(v.starts_with('"') && v.ends_with('"'), "{pair}");
        }
        samples.insert(series.to_owned(), value);
    }
    assert_eq!(samples["sockjs_sessions_active{service=\"echo\"}"], 1.0);
    assert_eq!(
        samples["sockjs_transport_sessions_active{service=\"echo\",transport=\"xhr\"}"],
        1.0
    );
    assert!(samples.contains_key("sockjs_packets_sent_per_second{service=\"echo\"}"));
}
