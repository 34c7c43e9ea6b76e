//! `allowed_origins`: pages of other origins are refused on every transport (403, no
//! CORS headers, no cookie, no session); allowed origins, the service's own origin and
//! non-browser clients get through. The default lets in only the service's own
//! origin and clients naming none; every origin (`*`) is an explicit opt-in.

use actix_sockjs::{OriginPattern, SockJsConfig};

use crate::common;
use crate::common::raw_ws::RawWs;
use crate::common::{Event, next_event, session_id};

const EVIL: &str = "http://evil.example";
const APP: &str = "http://app.example";

fn config() -> SockJsConfig {
    let origins: Vec<OriginPattern> = [APP, "https://*.example.com"]
        .iter()
        .map(|o| o.parse().expect("pattern"))
        .collect();
    SockJsConfig::default().allowed_origins(origins)
}

/// A new session's first xhr poll from a page of `origin` (or naming none) opens it;
/// the response, for its headers.
async fn xhr_opens(
    srv: &actix_test::TestServer,
    origin: Option<&str>,
) -> awc::ClientResponse<impl futures_core::Stream> {
    let mut req = srv.post(format!("/echo/000/{}/xhr", session_id()));
    if let Some(origin) = origin {
        req = req.insert_header(("Origin", origin));
    }
    let mut res = req.send().await.expect("poll");
    assert_eq!(res.status().as_u16(), 200, "{origin:?}");
    assert_eq!(common::text(&mut res).await, "o\n");
    res
}

fn origin_header(origin: &str) -> String {
    format!("Origin: {origin}\r\n")
}

#[actix_rt::test]
async fn a_foreign_origin_gets_no_websocket_and_no_session() {
    let (srv, mut events) = common::server(config());
    let addr = srv.addr();
    for path in [
        format!("/rec/000/{}/websocket", session_id()),
        "/rec/websocket".into(),
    ] {
        for origin in [EVIL, "null", "http://app.example.evil.example"] {
            assert_eq!(
                RawWs::handshake_status_with(addr, &path, &origin_header(origin)).await,
                403,
                "{origin} on {path}"
            );
        }
        assert_eq!(
            RawWs::handshake_status_with(addr, &path, "Origin: https://chat.example.com\r\n").await,
            101,
            "{path}"
        );
    }
    // The first session the handler saw is the first allowed one: the refused
    // upgrades made none.
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
}

#[actix_rt::test]
async fn a_foreign_origin_is_refused_on_every_http_transport_without_cors_or_cookie() {
    let (srv, _events) = common::server(config());
    let id = session_id();
    let requests = [
        ("POST", format!("/cookie/000/{id}/xhr")),
        ("POST", format!("/cookie/000/{id}/xhr_send")),
        ("POST", format!("/cookie/000/{id}/xhr_streaming")),
        ("OPTIONS", format!("/cookie/000/{id}/xhr")),
        ("GET", format!("/cookie/000/{id}/eventsource")),
        ("GET", format!("/cookie/000/{id}/htmlfile?c=cb")),
        ("GET", format!("/cookie/000/{id}/jsonp?c=cb")),
        ("POST", format!("/cookie/000/{id}/jsonp_send")),
        ("GET", "/cookie/info".to_owned()),
        ("OPTIONS", "/cookie/info".to_owned()),
        ("GET", "/cookie/iframe.html".to_owned()),
    ];
    for (method, path) in &requests {
        let req = srv
            .request(method.parse().expect("method"), srv.url(path))
            .insert_header(("Origin", EVIL));
        let mut res = req.send_body("[\"x\"]").await.expect("response");
        assert_eq!(res.status().as_u16(), 403, "{method} {path}");
        for name in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "set-cookie",
        ] {
            assert_eq!(
                common::header(&res, name),
                None,
                "{name} on {method} {path}"
            );
        }
        assert_eq!(common::text(&mut res).await, "Origin not allowed.");
    }
    // The refused xhr made no session: a send to it finds none.
    let res = srv
        .post(format!("/cookie/000/{id}/xhr_send"))
        .send_body("[\"x\"]")
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 404);
}

#[actix_rt::test]
async fn allowed_origins_the_own_origin_and_clients_naming_none_get_through() {
    let (srv, _events) = common::server(config());
    let own = format!("http://{}", srv.addr());
    for origin in [
        Some(APP),
        Some("https://a.b.example.com"),
        Some(own.as_str()),
        None,
    ] {
        let res = xhr_opens(&srv, origin).await;
        assert_eq!(
            common::header(&res, "access-control-allow-origin").as_deref(),
            Some(origin.unwrap_or("*"))
        );
    }
}

#[actix_rt::test]
async fn without_origin_a_cross_site_request_is_judged_by_its_referer() {
    let (srv, _events) = common::server(config());
    // A `<script src=...jsonp>` tag on another site sends no Origin.
    let jsonp = |referer: Option<&str>, site: Option<&str>| {
        let mut req = srv.get(format!("/echo/000/{}/jsonp?c=cb", session_id()));
        if let Some(referer) = referer {
            req = req.insert_header(("Referer", referer));
        }
        if let Some(site) = site {
            req = req.insert_header(("Sec-Fetch-Site", site));
        }
        req.send()
    };
    let status = |res: awc::ClientResponse<_>| res.status().as_u16();
    let got = jsonp(Some("http://evil.example/steal.html"), Some("cross-site")).await;
    assert_eq!(status(got.expect("jsonp")), 403);
    let got = jsonp(None, Some("cross-site")).await;
    assert_eq!(status(got.expect("jsonp")), 403);
    let got = jsonp(Some("http://app.example/chat"), Some("cross-site")).await;
    assert_eq!(status(got.expect("jsonp")), 200);
    let got = jsonp(None, None).await;
    assert_eq!(status(got.expect("jsonp")), 200);
}

#[actix_rt::test]
async fn info_lists_the_origins_and_the_iframe_may_be_framed_only_by_them() {
    let (srv, _events) = common::server(config());
    let mut res = srv.get("/echo/info").send().await.expect("info");
    let info: serde_json::Value =
        serde_json::from_str(&common::text(&mut res).await).expect("json");
    assert_eq!(
        info["origins"],
        serde_json::json!(["http://app.example", "https://*.example.com"])
    );
    let res = srv.get("/echo/iframe.html").send().await.expect("iframe");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        common::header(&res, "content-security-policy").as_deref(),
        Some("frame-ancestors 'self' http://app.example https://*.example.com")
    );
}

#[actix_rt::test]
async fn by_default_only_the_services_own_origin_and_clients_naming_none_get_in() {
    let (srv, mut events) = common::server(SockJsConfig::default());
    let own = format!("http://{}", srv.addr());
    let path = format!("/rec/000/{}/websocket", session_id());
    // A foreign page: no websocket, no session, no HTTP transport, no CORS.
    for origin in [EVIL, "null"] {
        assert_eq!(
            RawWs::handshake_status_with(srv.addr(), &path, &origin_header(origin)).await,
            403,
            "{origin}"
        );
    }
    let res = srv
        .post(format!("/echo/000/{}/xhr", session_id()))
        .insert_header(("Origin", EVIL))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(common::header(&res, "access-control-allow-origin"), None);
    // The service's own pages, and a client that names no origin.
    assert_eq!(
        RawWs::handshake_status_with(srv.addr(), &path, &origin_header(&own)).await,
        101
    );
    assert!(matches!(next_event(&mut events).await, Event::Open(_)));
    for origin in [Some(own.as_str()), None] {
        xhr_opens(&srv, origin).await;
    }
    let mut res = srv.get("/echo/info").send().await.expect("info");
    let info: serde_json::Value =
        serde_json::from_str(&common::text(&mut res).await).expect("json");
    assert_eq!(info["origins"], serde_json::json!([]));
    let res = srv.get("/echo/iframe.html").send().await.expect("iframe");
    assert_eq!(
        common::header(&res, "content-security-policy").as_deref(),
        Some("frame-ancestors 'self'")
    );
}

#[actix_rt::test]
async fn every_origin_is_an_explicit_opt_in() {
    let (srv, _events) = common::server(common::any_origin());
    let path = format!("/echo/000/{}/websocket", session_id());
    assert_eq!(
        RawWs::handshake_status_with(srv.addr(), &path, &origin_header(EVIL)).await,
        101
    );
    let res = srv
        .post(format!("/echo/000/{}/xhr", session_id()))
        .insert_header(("Origin", EVIL))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        common::header(&res, "access-control-allow-origin").as_deref(),
        Some(EVIL)
    );
    let mut res = srv.get("/echo/info").send().await.expect("info");
    let info: serde_json::Value =
        serde_json::from_str(&common::text(&mut res).await).expect("json");
    assert_eq!(info["origins"], serde_json::json!(["*:*"]));
    let res = srv.get("/echo/iframe.html").send().await.expect("iframe");
    assert_eq!(common::header(&res, "content-security-policy"), None);
}
