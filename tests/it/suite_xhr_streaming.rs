//! Protocol suite class `XhrStreaming`: the prelude and every frame are separate
//! HTTP chunks, read one at a time as the suite's `POST_async(...).read()` does.

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::suite::{
    Stream, post, stream, verify_content_type, verify_cors, verify_not_cached, verify_options,
    xhr_prelude,
};
use crate::common::{server, session_id};

/// Opens `POST .../xhr_streaming` (with `Origin` when given); checks the head.
async fn open(addr: std::net::SocketAddr, url: &str, origin: Option<&str>) -> Stream {
    let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
    let s = stream(addr, "POST", &format!("{url}/xhr_streaming"), &headers).await;
    assert_eq!(s.head.status, 200);
    verify_content_type(&s.head, "application/javascript;charset=UTF-8");
    verify_cors(&s.head, origin);
    verify_not_cached(&s.head);
    s
}

/// `XhrStreaming.test_options`.
#[actix_rt::test]
async fn xhr_streaming_options_is_the_suite_preflight() {
    let (srv, _) = server(common::any_origin());
    verify_options(srv.addr(), "/echo/abc/abc/xhr_streaming", "OPTIONS, POST").await;
}

/// `XhrStreaming.test_transport`: chunk 1 is 2048 `h` and a newline, chunk 2 `o\n`,
/// and each sent message comes as its own chunk. Without an Origin (v0.3.3, `*`) and
/// with `Origin: test` (the later suite, echoed).
#[actix_rt::test]
async fn xhr_streaming_sends_the_prelude_the_open_frame_and_each_message_as_its_own_chunk() {
    let (srv, _) = server(common::any_origin());
    for origin in [None, Some("test")] {
        let url = format!("/echo/000/{}", session_id());
        let mut s = open(srv.addr(), &url, origin).await;
        assert_eq!(s.read().await, xhr_prelude());
        assert_eq!(s.read_text().await, "o\n");
        let r = post(srv.addr(), &format!("{url}/xhr_send"), r#"["x"]"#).await;
        assert_eq!(r.status(), 204);
        assert!(r.body.is_empty());
        assert_eq!(s.read_text().await, "a[\"x\"]\n");
    }
}

/// `XhrStreaming.test_response_limit`, with the suite's 4096-byte limit: the prelude
/// does not count, so after `o\n` thirty 134-byte frames leave the response open
/// (2 + 30 × 134 < 4096) and the thirty-first ends it (2 + 31 × 134 ≥ 4096). Were the
/// prelude counted, it would end after the sixteenth.
#[actix_rt::test]
async fn xhr_streaming_ends_once_frames_pass_the_response_limit_not_counting_the_prelude() {
    let (srv, _) = server(SockJsConfig::default().response_limit(4096));
    let url = format!("/echo/000/{}", session_id());
    let mut s = open(srv.addr(), &url, None).await;
    assert!(!s.read().await.is_empty(), "prelude");
    assert_eq!(s.read_text().await, "o\n");
    let msg = format!("\"{}\"", "x".repeat(128));
    for i in 0..31 {
        let r = post(srv.addr(), &format!("{url}/xhr_send"), &format!("[{msg}]")).await;
        assert_eq!(r.status(), 204, "message {i}");
        assert_eq!(s.read_text().await, format!("a[{msg}]\n"), "message {i}");
    }
    assert_eq!(s.read().await, b"", "the response ended");
}
