//! Protocol suite class `IframePage`: `/iframe.html` and its versioned and queried
//! names serve one exact, strongly cacheable page; other names are 404.
//!
//! `test_cacheability` (equal ETags, then 304 with no content type and no body) is in
//! `greeting_and_info.rs`, `iframe_page_loads_sockjs_url_and_is_cached_with_a_stable_etag`.

use actix_sockjs::SockJsConfig;

use crate::common::server;
use crate::common::suite::{
    get, verify_content_type, verify_long_cache, verify_no_cookie, verify404,
};

/// The page the suite's regex accepts, `SOCKJS_URL` standing for `[^"]*`.
///
/// This is the later suite's template, which the server follows: `<script src>` first,
/// then `SockJS.bootstrap_iframe();`. Suite v0.3.3 had the inline script first, with
/// `_sockjs_onload = function(){SockJS.bootstrap_iframe();};`, and the `<script src>`
/// after it.
const IFRAME_TEMPLATE: &str = r#"<!DOCTYPE html>
<html>
<head>
  <meta http-equiv="X-UA-Compatible" content="IE=edge" />
  <meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
  <script src="SOCKJS_URL"></script>
  <script>
    document.domain = document.domain;
    SockJS.bootstrap_iframe();
  </script>
</head>
<body>
  <h2>Don't panic!</h2>
  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>
</body>
</html>"#;

/// The suite's `iframe_body.match(body.strip())`: the captured `sockjs_url`, or `None`
/// when the page does not match.
fn match_iframe(body: &str) -> Option<&str> {
    let (before, after) = IFRAME_TEMPLATE
        .split_once("SOCKJS_URL")
        .expect("placeholder");
    let url = body.trim().strip_prefix(before)?.strip_suffix(after)?;
    (!url.contains('"')).then_some(url)
}

/// `IframePage.verify(url)`; returns the page's `sockjs_url`.
async fn verify(srv: &actix_test::TestServer, path: &str) -> String {
    let r = get(srv.addr(), path).await;
    assert_eq!(r.status(), 200, "{path}");
    verify_content_type(&r.head, "text/html;charset=UTF-8");
    verify_long_cache(&r.head);
    assert!(!r.head.falsy("etag"), "{path}: {:?}", r.head);
    assert!(r.head.falsy("last-modified"), "{path}: {:?}", r.head);
    let body = r.text();
    let url = match_iframe(&body)
        .unwrap_or_else(|| panic!("{path}: not the iframe page:\n{body}"))
        .to_owned();
    assert!(url.starts_with('/') || url.starts_with("http"), "{url}");
    verify_no_cookie(&r.head);
    url
}

#[test]
fn the_template_matcher_rejects_other_pages() {
    // The matcher the tests rely on must be able to say no.
    let page = IFRAME_TEMPLATE.replace("SOCKJS_URL", "/s.js");
    assert_eq!(match_iframe(&format!("\n{page}\n")), Some("/s.js"));
    assert_eq!(match_iframe(&page.replace("  <h2>", "<h2>")), None);
    assert_eq!(
        match_iframe(&IFRAME_TEMPLATE.replace("SOCKJS_URL", "a\"b")),
        None
    );
}

/// `IframePage.test_simpleUrl`: `/iframe.html` is exactly the suite's page, and loads
/// the configured `sockjs_url` (default: an `http…` URL; here also a `/…` one).
#[actix_rt::test]
async fn iframe_html_is_exactly_the_suite_page_with_the_configured_sockjs_url() {
    let (srv, _) = server(SockJsConfig::default());
    let url = verify(&srv, "/echo/iframe.html").await;
    assert_eq!(url, SockJsConfig::default().sockjs_url);

    let (srv, _) = server(SockJsConfig::default().sockjs_url("/static/sockjs.min.js"));
    assert_eq!(
        verify(&srv, "/echo/iframe.html").await,
        "/static/sockjs.min.js"
    );
}

/// `IframePage.test_versionedUrl`: `/iframe-<anything>.html` serves the same page.
#[actix_rt::test]
async fn versioned_iframe_names_serve_the_same_page() {
    let (srv, _) = server(SockJsConfig::default());
    for suffix in [
        "/iframe-a.html",
        "/iframe-.html",
        "/iframe-0.1.2.html",
        "/iframe-0.1.2abc-dirty.2144.html",
    ] {
        verify(&srv, &format!("/echo{suffix}")).await;
    }
}

/// `IframePage.test_queriedUrl`: a query string (cache busting) changes nothing.
#[actix_rt::test]
async fn queried_iframe_urls_serve_the_same_page() {
    let (srv, _) = server(SockJsConfig::default());
    for suffix in [
        "/iframe-a.html?t=1234",
        "/iframe-0.1.2.html?t=123414",
        "/iframe-0.1.2abc-dirty.2144.html?t=qweqweq123",
    ] {
        verify(&srv, &format!("/echo{suffix}")).await;
    }
}

/// `IframePage.test_invalidUrl`: other spellings are 404 (matching is case-sensitive).
#[actix_rt::test]
async fn malformed_iframe_names_are_not_found() {
    let (srv, _) = server(SockJsConfig::default());
    for suffix in [
        "/iframe.htm",
        "/iframe",
        "/IFRAME.HTML",
        "/IFRAME",
        "/iframe.HTML",
        "/iframe.xml",
        "/iframe-/.html",
    ] {
        verify404(&get(srv.addr(), &format!("/echo{suffix}")).await);
    }
}
