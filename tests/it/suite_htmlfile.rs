//! Protocol suite class `HtmlFile`: a page head padded past 1 KiB in the first chunk,
//! then one `<script>` block per frame and chunk.
//!
//! `HtmlFile.test_no_callback` is `streaming_transports.rs`,
//! `htmlfile_requires_a_valid_callback_and_escapes_script_tags`.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{Stream, get, post, stream, verify_content_type, verify_not_cached};
use crate::common::{server, session_id};

/// The page head the suite expects (after `strip()`), for callback `c`.
fn head(c: &str) -> String {
    format!(
        r#"<!doctype html>
<html><head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
</head><body><h2>Don't panic!</h2>
  <script>
    document.domain = document.domain;
    var c = parent.{c};
    c.start();
    function p(d) {{c.message(d);}};
    window.onload = function() {{c.stop();}};
  </script>"#
    )
}

/// Opens `GET .../htmlfile?<query>`; checks the head.
async fn open(addr: std::net::SocketAddr, url: &str, query: &str) -> Stream {
    let s = stream(addr, "GET", &format!("{url}/htmlfile?{query}"), &[]).await;
    assert_eq!(s.head.status, 200);
    verify_content_type(&s.head, "text/html;charset=UTF-8");
    verify_not_cached(&s.head);
    s
}

/// `HtmlFile.test_transport`: the callback is URL-decoded (`%63allback`); the first
/// chunk is the head, padded with whitespace past 1024 bytes; then `p("o")`, then each
/// frame as a JSON string.
#[actix_rt::test]
async fn htmlfile_sends_the_padded_head_then_each_frame_as_a_script_chunk() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let mut s = open(srv.addr(), &url, "c=%63allback").await;
    let d = s.read_text().await;
    assert_eq!(d.trim(), head("callback"));
    assert!(d.len() > 1024, "{}", d.len());
    assert_eq!(s.read_text().await, "<script>\np(\"o\");\n</script>\r\n");

    let r = post(srv.addr(), &format!("{url}/xhr_send"), r#"["x"]"#).await;
    assert_eq!(r.status(), 204);
    assert!(r.body.is_empty());
    assert_eq!(
        s.read_text().await,
        "<script>\np(\"a[\\\"x\\\"]\");\n</script>\r\n"
    );
}

/// `HtmlFile.test_invalid_callback` (later suite): a callback outside
/// `[a-zA-Z0-9-_.]` is 500 `invalid "callback" parameter`.
#[actix_rt::test]
async fn htmlfile_refuses_a_callback_with_unsafe_characters() {
    let (srv, _) = server(SockJsConfig::default());
    for c in ["%20", "*", "abc(", "abc%28"] {
        let r = get(srv.addr(), &format!("/echo/a/a/htmlfile?c={c}")).await;
        assert_eq!(r.status(), 500, "{c}");
        assert!(
            r.text().contains("invalid \"callback\" parameter"),
            "{c}: {}",
            r.text()
        );
    }
}

/// `HtmlFile.test_response_limit`: with a 4096-byte limit, one 4096-character message
/// is delivered whole, then the response ends.
#[actix_rt::test]
async fn htmlfile_ends_after_the_frame_that_passes_the_response_limit() {
    let (srv, _) = server(SockJsConfig::default().response_limit(4096));
    let url = format!("/echo/000/{}", session_id());
    let mut s = open(srv.addr(), &url, "c=callback").await;
    assert!(!s.read().await.is_empty(), "prelude");
    assert_eq!(s.read_text().await, "<script>\np(\"o\");\n</script>\r\n");
    let msg = "x".repeat(4096);
    let r = post(
        srv.addr(),
        &format!("{url}/xhr_send"),
        &format!("[\"{msg}\"]"),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        s.read_text().await,
        format!("<script>\np(\"a[\\\"{msg}\\\"]\");\n</script>\r\n")
    );
    assert_eq!(s.read().await, b"", "the response ended");
}
