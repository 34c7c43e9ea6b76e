//! Protocol suite class `EventSource`: a `\r\n` prelude, then one `data: FRAME\r\n\r\n`
//! event per HTTP chunk.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{Stream, post, stream, verify_content_type, verify_not_cached};
use crate::common::{server, session_id};

/// Opens `GET .../eventsource`; checks the head.
///
/// The content type is the bare `text/event-stream` of the later suite; suite v0.3.3
/// wanted `text/event-stream;charset=UTF-8`. The suite checks no CORS headers here.
async fn open(addr: std::net::SocketAddr, url: &str) -> Stream {
    let s = stream(addr, "GET", &format!("{url}/eventsource"), &[]).await;
    assert_eq!(s.head.status, 200);
    verify_content_type(&s.head, "text/event-stream");
    verify_not_cached(&s.head);
    s
}

/// `EventSource.test_transport`: chunks `\r\n`, `data: o\r\n\r\n`, then one event per
/// message. JSON escapes sent by the client (`\u0000`, `\n`, `\r`) stay escapes in the
/// event, so no raw control character or newline can break the event stream.
#[actix_rt::test]
async fn eventsource_sends_a_crlf_prelude_then_each_frame_as_a_data_event_chunk() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let mut s = open(srv.addr(), &url).await;
    assert_eq!(s.read_text().await, "\r\n");
    assert_eq!(s.read_text().await, "data: o\r\n\r\n");

    let r = post(srv.addr(), &format!("{url}/xhr_send"), r#"["x"]"#).await;
    assert_eq!(r.status(), 204);
    assert!(r.body.is_empty());
    assert_eq!(s.read_text().await, "data: a[\"x\"]\r\n\r\n");

    // The 17 characters `["  \u0000\n\r "]`, backslashes and all.
    let r = post(
        srv.addr(),
        &format!("{url}/xhr_send"),
        r#"["  \u0000\n\r "]"#,
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.body.is_empty());
    assert_eq!(s.read_text().await, "data: a[\"  \\u0000\\n\\r \"]\r\n\r\n");
}

/// `EventSource.test_response_limit`: with a 4096-byte limit, one 4096-character
/// message is delivered whole, then the response ends.
#[actix_rt::test]
async fn eventsource_ends_after_the_frame_that_passes_the_response_limit() {
    let (srv, _) = server(SockJsConfig::default().response_limit(4096));
    let url = format!("/echo/000/{}", session_id());
    let mut s = open(srv.addr(), &url).await;
    assert!(!s.read().await.is_empty(), "prelude");
    assert_eq!(s.read_text().await, "data: o\r\n\r\n");
    let msg = format!("\"{}\"", "x".repeat(4096));
    let r = post(srv.addr(), &format!("{url}/xhr_send"), &format!("[{msg}]")).await;
    assert_eq!(r.status(), 204);
    assert_eq!(s.read_text().await, format!("data: a[{msg}]\r\n\r\n"));
    assert_eq!(s.read().await, b"", "the response ended");
}
