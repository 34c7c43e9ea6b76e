//! The plain HTTP routes: greeting, /info, the iframe page, 404s. Also the protocol
//! suite's classes `BaseUrlGreeting` and `InfoTest`, and `IframePage.test_cacheability`
//! (each test whose doc names a suite method).

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::suite::{
    self, verify_content_type, verify_cors, verify_no_cookie, verify_not_cached, verify_options,
    verify404,
};
use crate::common::{header, server, text};

/// `BaseUrlGreeting.test_greeting`: `/echo` and `/echo/` greet, with no cookie.
#[actix_rt::test]
async fn greeting_answers_with_and_without_trailing_slash() {
    let (srv, _) = server(SockJsConfig::default());
    for path in ["/echo", "/echo/"] {
        let mut res = srv.get(path).send().await.expect("request");
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&res, "content-type").as_deref(),
            Some("text/plain; charset=UTF-8")
        );
        assert_eq!(header(&res, "set-cookie"), None);
        assert_eq!(text(&mut res).await, "Welcome to SockJS!\n");
    }
}

/// `BaseUrlGreeting.test_notFound`: other short paths under the prefix are 404.
#[actix_rt::test]
async fn paths_next_to_the_greeting_are_not_found() {
    let (srv, _) = server(SockJsConfig::default());
    for suffix in ["/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/"] {
        verify404(&suite::get(srv.addr(), &format!("/echo{suffix}")).await);
    }
}

#[actix_rt::test]
async fn info_describes_the_service_and_is_never_cached() {
    let (srv, _) = server(common::any_origin().cookie_needed(true).websocket(false));
    let mut res = srv
        .get("/echo/info")
        .insert_header(("Origin", "http://a.test"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/json; charset=UTF-8")
    );
    assert_eq!(
        header(&res, "cache-control").as_deref(),
        Some("no-store, no-cache, no-transform, must-revalidate, max-age=0")
    );
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("http://a.test")
    );
    assert_eq!(
        header(&res, "access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(&res, "set-cookie"),
        None,
        "/info never sets JSESSIONID"
    );
    let info: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
    assert_eq!(info["websocket"], false);
    assert_eq!(info["cookie_needed"], true);
    assert_eq!(info["origins"], serde_json::json!(["*:*"]));
    assert!(
        info["entropy"]
            .as_u64()
            .is_some_and(|e| e <= u64::from(u32::MAX))
    );
}

/// `InfoTest.test_basic`, with no Origin (suite v0.3.3: ACAO `*`) and with `Origin:
/// test` (the later suite: echoed), on a service open to any origin (as the suite's
/// server is): websockets on, JSON content type, no cookie, not cached.
#[actix_rt::test]
async fn info_describes_a_service_open_to_any_origin() {
    let (srv, _) = server(common::any_origin());
    for origin in [None, Some("test")] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        let r = suite::request(srv.addr(), "GET", "/echo/info", &headers, None).await;
        assert_eq!(r.status(), 200);
        verify_content_type(&r.head, "application/json;charset=UTF-8");
        verify_no_cookie(&r.head);
        verify_not_cached(&r.head);
        verify_cors(&r.head, origin);
        let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(info["websocket"], true);
        assert!(info["cookie_needed"].is_boolean(), "{info}");
        assert_eq!(info["origins"], serde_json::json!(["*:*"]));
        assert!(info["entropy"].is_u64(), "entropy is an integer: {info}");
    }
}

/// A default service lets only its own origin in: `/info` lists no other, and a
/// foreign page's request is refused.
#[actix_rt::test]
async fn info_of_a_default_service_lists_no_origin_and_a_foreign_page_is_refused() {
    let (srv, _) = server(SockJsConfig::default());
    let r = suite::get(srv.addr(), "/echo/info").await;
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(info["origins"], serde_json::json!([]));
    let foreign = suite::request(
        srv.addr(),
        "GET",
        "/echo/info",
        &[("Origin", "http://a.test")],
        None,
    )
    .await;
    assert_eq!(foreign.status(), 403);
    assert_eq!(foreign.header("access-control-allow-origin"), None);
}

/// `InfoTest.test_options`: `OPTIONS /info` is the suite's preflight, `OPTIONS, GET`.
#[actix_rt::test]
async fn info_options_is_a_long_cached_preflight_for_every_origin() {
    let (srv, _) = server(common::any_origin());
    verify_options(srv.addr(), "/echo/info", "OPTIONS, GET").await;
}

/// `InfoTest.test_options_null_origin`: a page on a `file://` URL sends `Origin: null`.
/// The server echoes `null`, as the later suite asserts (v0.3.3 asserted `*`).
#[actix_rt::test]
async fn info_options_echoes_a_null_origin() {
    let (srv, _) = server(common::any_origin());
    let r = suite::request(
        srv.addr(),
        "OPTIONS",
        "/echo/info",
        &[
            ("Origin", "null"),
            ("Access-Control-Request-Method", "POST"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status(), 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("access-control-allow-origin"), Some("null"));
}

/// `InfoTest.test_disabled_websocket`: the suite's `disabled_websocket_echo` service
/// (ours: `/nows`) says `websocket: false`.
#[actix_rt::test]
async fn info_of_a_service_without_websockets_says_so() {
    let (srv, _) = server(SockJsConfig::default());
    let r = suite::get(srv.addr(), "/nows/info").await;
    assert_eq!(r.status(), 200);
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(info["websocket"], false);
}

/// `InfoTest.test_entropy`: entropy is random.
#[actix_rt::test]
async fn info_entropy_differs_between_requests() {
    let (srv, _) = server(SockJsConfig::default());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let mut res = srv.get("/echo/info").send().await.expect("request");
        let info: serde_json::Value = serde_json::from_str(&text(&mut res).await).expect("json");
        seen.insert(info["entropy"].as_u64().expect("entropy"));
    }
    assert!(seen.len() > 1, "entropy is random");
}

#[actix_rt::test]
async fn info_options_is_a_cached_preflight() {
    let (srv, _) = server(common::any_origin());
    let res = srv
        .request(actix_web::http::Method::OPTIONS, srv.url("/echo/info"))
        .insert_header(("Origin", "http://a.test"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        header(&res, "cache-control").as_deref(),
        Some("public, max-age=31536000")
    );
    assert_eq!(
        header(&res, "access-control-max-age").as_deref(),
        Some("31536000")
    );
    assert_eq!(
        header(&res, "access-control-allow-methods").as_deref(),
        Some("OPTIONS, GET")
    );
    assert!(header(&res, "expires").is_some());
    assert_eq!(
        header(&res, "access-control-allow-origin").as_deref(),
        Some("http://a.test")
    );
}

/// `IframePage.test_cacheability`: the ETag is stable; `If-None-Match` gets a 304
/// with no content type and no body.
#[actix_rt::test]
async fn iframe_page_loads_sockjs_url_and_is_cached_with_a_stable_etag() {
    let (srv, _) = server(SockJsConfig::default().sockjs_url("http://cdn.test/sockjs.js"));
    let mut etags = Vec::new();
    for path in [
        "/echo/iframe.html",
        "/echo/iframe-1.2.3.html",
        "/echo/iframe-a.html?t=1",
    ] {
        let mut res = srv.get(path).send().await.expect("request");
        assert_eq!(res.status().as_u16(), 200, "{path}");
        assert_eq!(
            header(&res, "content-type").as_deref(),
            Some("text/html; charset=UTF-8")
        );
        assert_eq!(
            header(&res, "cache-control").as_deref(),
            Some("public, max-age=31536000")
        );
        assert!(header(&res, "expires").is_some());
        assert_eq!(header(&res, "set-cookie"), None);
        assert_eq!(header(&res, "last-modified"), None);
        etags.push(header(&res, "etag").expect("etag"));
        let body = text(&mut res).await;
        assert!(
            body.contains(r#"<script src="http://cdn.test/sockjs.js"></script>"#),
            "{body}"
        );
        assert!(body.contains("document.domain = document.domain;"));
    }
    assert!(etags.windows(2).all(|w| w[0] == w[1]), "{etags:?}");

    let mut res = srv
        .get("/echo/iframe.html")
        .insert_header(("If-None-Match", etags[0].as_str()))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 304);
    assert_eq!(text(&mut res).await, "");
    assert_eq!(header(&res, "content-type"), None);
}

#[actix_rt::test]
async fn malformed_urls_are_not_found() {
    let (srv, _) = server(SockJsConfig::default());
    for path in [
        "/echo/iframe.htm",
        "/echo/iframe-.htm",
        "/echo/iframe.html.js",
        "/echo/a/b",
        "/echo/a/b/c/d",
        "/echo/a.b/c/xhr",
        "/echo/a/b.c/xhr",
        "/echo//b/xhr",
        "/echo/a/b/unknown",
        "/echo/info/x",
    ] {
        let res = srv.post(path).send().await.expect("request");
        assert_eq!(res.status().as_u16(), 404, "{path}");
    }
}
