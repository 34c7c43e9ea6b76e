//! `xhr` polling and `xhr_send`: framing, headers, bad input, sizes. Also the protocol
//! suite's classes `XhrPolling` and `SessionURLs` (each test whose doc names a suite
//! method).

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::suite::{self, verify_cors};
use crate::common::{assert_transport_headers, header, server, session_id, text};

async fn poll(srv: &actix_test::TestServer, path: &str) -> (u16, String) {
    let mut res = srv.post(path).send().await.expect("poll");
    (res.status().as_u16(), text(&mut res).await)
}

async fn send(srv: &actix_test::TestServer, path: &str, body: &'static [u8]) -> (u16, String) {
    let mut res = srv.post(path).send_body(body).await.expect("send");
    (res.status().as_u16(), text(&mut res).await)
}

/// `XhrPolling.test_transport`: `o`, a 204 `text/plain` send, the echo; CORS (an
/// Origin echoed, as in the later suite; `*` without one, as in v0.3.3) and no caching
/// on both.
#[actix_rt::test]
async fn xhr_opens_echoes_and_carries_cors_and_no_cache_headers() {
    let (srv, _) = server(common::any_origin());
    let url = format!("/echo/000/{}", session_id());
    let mut res = srv
        .post(format!("{url}/xhr"))
        .insert_header(("Origin", "http://app.example"))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
    assert_transport_headers(
        &res,
        "application/javascript; charset=UTF-8",
        Some("http://app.example"),
    );
    assert_eq!(header(&res, "set-cookie"), None);
    assert_eq!(text(&mut res).await, "o\n");

    let mut res = srv
        .post(format!("{url}/xhr_send"))
        .send_body(r#"["x"]"#)
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    assert_transport_headers(&res, "text/plain; charset=UTF-8", None);
    assert_eq!(text(&mut res).await, "");

    assert_eq!(
        poll(&srv, &format!("{url}/xhr")).await,
        (200, "a[\"x\"]\n".into())
    );
}

/// `SessionURLs.test_ignoringServerId` and `SessionURLs.test_anyValue`: only the
/// session id names a session; any non-empty id without dots opens a new one.
#[actix_rt::test]
async fn the_server_id_is_ignored_and_any_session_id_without_dots_works() {
    let (srv, _) = server(SockJsConfig::default());
    let id = session_id();
    assert_eq!(
        poll(&srv, &format!("/echo/000/{id}/xhr")).await,
        (200, "o\n".into())
    );
    assert_eq!(
        send(&srv, &format!("/echo/000/{id}/xhr_send"), br#"["a"]"#).await,
        (204, String::new())
    );
    assert_eq!(
        poll(&srv, &format!("/echo/999/{id}/xhr")).await.1,
        "a[\"a\"]\n"
    );
    for part in ["/a/a", "/_/_", "/1/1", "/abcdefgh_i-j%20/abcdefg_i-j%20"] {
        assert_eq!(
            poll(&srv, &format!("/echo{part}/xhr")).await,
            (200, "o\n".into()),
            "{part}"
        );
    }
}

/// `SessionURLs.test_invalidPaths`.
#[actix_rt::test]
async fn malformed_session_paths_are_404_for_get_and_post() {
    let (srv, _) = server(SockJsConfig::default());
    for part in ["//", "/a./a", "/a/a.", "/./.", "/", "///"] {
        let path = format!("/echo{part}/xhr");
        let res = srv.get(path.as_str()).send().await.expect("get");
        assert_eq!(res.status().as_u16(), 404, "GET {path}");
        let res = srv.post(path.as_str()).send().await.expect("post");
        assert_eq!(res.status().as_u16(), 404, "POST {path}");
    }
    // Unknown transports too.
    let res = srv
        .post(format!("/echo/000/{}/nope", session_id()))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status().as_u16(), 404);
}

/// `XhrPolling.test_invalid_session`.
#[actix_rt::test]
async fn xhr_send_to_an_unknown_session_is_404() {
    let (srv, _) = server(SockJsConfig::default());
    let (status, _) = send(
        &srv,
        &format!("/echo/000/{}/xhr_send", session_id()),
        br#"["x"]"#,
    )
    .await;
    assert_eq!(status, 404);
}

/// `XhrPolling.test_invalid_json`: `Broken JSON encoding.`, `Payload expected.`, and
/// only the valid message arrives.
#[actix_rt::test]
async fn bad_payloads_get_500_with_the_sockjs_text_and_the_session_lives_on() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, "o\n");
    let send_url = format!("{url}/xhr_send");
    for (body, want) in [
        (&b"[\"x"[..], "Broken JSON encoding."),
        (b"", "Payload expected."),
        (b"{}", "Broken JSON encoding."),
        (b"[1,2]", "Broken JSON encoding."),
        (b"[\"\xff\xfe\"]", "Broken JSON encoding."),
        (b"\"lone string\"", "Broken JSON encoding."),
    ] {
        assert_eq!(
            send(&srv, &send_url, body).await,
            (500, want.to_owned()),
            "{body:?}"
        );
    }
    assert_eq!(
        send(&srv, &send_url, br#"["a"]"#).await,
        (204, String::new())
    );
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, "a[\"a\"]\n");
}

/// `XhrPolling.test_content_types`: every content type is accepted, and the eight
/// queued messages come back in one frame.
#[actix_rt::test]
async fn xhr_send_accepts_any_content_type() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, "o\n");
    let types = [
        "text/plain",
        "T",
        "application/json",
        "application/xml",
        "",
        "application/json; charset=utf-8",
        "text/xml; charset=utf-8",
        "text/xml",
    ];
    for ct in types {
        let mut res = srv
            .post(format!("{url}/xhr_send"))
            .insert_header(("Content-Type", ct))
            .send_body(r#"["a"]"#)
            .await
            .expect("send");
        assert_eq!(res.status().as_u16(), 204, "{ct:?}");
        assert_eq!(text(&mut res).await, "", "{ct:?}");
    }
    let want = format!("a[{}]\n", vec!["\"a\""; types.len()].join(","));
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, want);
}

#[actix_rt::test]
async fn xhr_send_over_the_size_limit_is_413_and_the_session_lives_on() {
    let (srv, _) = server(SockJsConfig::default().max_message_size(32));
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, "o\n");
    let big = format!("[\"{}\"]", "x".repeat(100));
    let res = srv
        .post(format!("{url}/xhr_send"))
        .send_body(big)
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), br#"["small"]"#)
            .await
            .0,
        204
    );
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await.1, "a[\"small\"]\n");
}

/// `XhrPolling.test_options`: `OPTIONS` on `xhr` and `xhr_send`, for no Origin,
/// `test` and `null` (echoed, as in the later suite).
#[actix_rt::test]
async fn xhr_options_is_a_preflight_cached_for_a_year() {
    let (srv, _) = server(common::any_origin());
    for suffix in ["xhr", "xhr_send"] {
        for origin in [None, Some("test"), Some("null")] {
            let mut req = srv
                .request(
                    actix_web::http::Method::OPTIONS,
                    srv.url(&format!("/echo/abc/abc/{suffix}")),
                )
                .insert_header(("Access-Control-Request-Headers", "x-custom"));
            if let Some(origin) = origin {
                req = req.insert_header(("Origin", origin));
            }
            let mut res = req.send().await.expect("options");
            assert_eq!(res.status().as_u16(), 204);
            let cache = header(&res, "cache-control").unwrap_or_default();
            assert!(cache.contains("public") && cache.contains("max-age=31536000"));
            assert!(header(&res, "expires").is_some());
            assert_eq!(
                header(&res, "access-control-max-age").as_deref(),
                Some("31536000")
            );
            assert_eq!(
                header(&res, "access-control-allow-methods").as_deref(),
                Some("OPTIONS, POST")
            );
            assert_eq!(
                header(&res, "access-control-allow-headers").as_deref(),
                Some("x-custom")
            );
            assert_eq!(
                header(&res, "access-control-allow-origin").as_deref(),
                Some(origin.unwrap_or("*"))
            );
            assert_eq!(
                header(&res, "access-control-allow-credentials").as_deref(),
                Some("true")
            );
            assert_eq!(text(&mut res).await, "");
        }
    }
}

#[actix_rt::test]
async fn xhr_with_the_wrong_method_is_404() {
    let (srv, _) = server(SockJsConfig::default());
    for transport in ["xhr", "xhr_send"] {
        let res = srv
            .get(format!("/echo/000/{}/{transport}", session_id()))
            .send()
            .await
            .expect("get");
        assert_eq!(res.status().as_u16(), 404, "{transport}");
    }
}

/// `XhrPolling.test_request_headers_cors`: `Access-Control-Request-Headers` comes
/// back as `Access-Control-Allow-Headers`; an empty or missing one gives none (falsy).
/// Suite v0.3.3 asks with `POST .../xhr` and no Origin, the later suite with `OPTIONS`
/// and `Origin: test`; both are checked, each on a fresh session.
#[actix_rt::test]
async fn requested_headers_are_allowed_back_on_post_and_preflight() {
    let (srv, _) = server(common::any_origin());
    for (method, origin) in [("POST", None), ("OPTIONS", Some("test"))] {
        for (requested, allowed) in [
            (Some("a, b, c"), Some("a, b, c")),
            (Some(""), None),
            (None, None),
        ] {
            let mut headers = Vec::new();
            if let Some(origin) = origin {
                headers.push(("Origin", origin));
                headers.push(("Access-Control-Request-Method", "POST"));
            }
            if let Some(requested) = requested {
                headers.push(("Access-Control-Request-Headers", requested));
            }
            let path = format!("/echo/000/{}/xhr", session_id());
            let r = suite::request(srv.addr(), method, &path, &headers, None).await;
            let want = if method == "POST" { 200 } else { 204 };
            assert_eq!(r.status(), want, "{method} {requested:?}");
            verify_cors(&r.head, origin);
            match allowed {
                Some(allowed) => {
                    assert_eq!(r.header("access-control-allow-headers"), Some(allowed))
                }
                None => assert!(
                    r.head.falsy("access-control-allow-headers"),
                    "{method} {requested:?}: {:?}",
                    r.head
                ),
            }
        }
    }
}

/// `XhrPolling.test_sending_empty_frame` (later suite): `[]` is a valid send (a client
/// heartbeat) and delivers nothing.
#[actix_rt::test]
async fn xhr_send_of_an_empty_array_is_accepted_and_delivers_nothing() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(poll(&srv, &format!("{url}/xhr")).await, (200, "o\n".into()));
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), b"[]").await,
        (204, String::new())
    );
    assert_eq!(
        send(&srv, &format!("{url}/xhr_send"), br#"["a"]"#).await,
        (204, String::new())
    );
    assert_eq!(
        poll(&srv, &format!("{url}/xhr")).await,
        (200, "a[\"a\"]\n".into())
    );
}
