//! Protocol suite class `JsessionidCookie`, on `/cookie` (the suite's
//! `/cookie_needed_echo`: an echo with `cookie_needed(true)`). Every transport response
//! sets `JSESSIONID` (the client's value, or `dummy`) with `path=/`, for load balancers
//! that stick sessions by it; `/info` sets none.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{
    self, Response, get, post, post_form, stream, verify_cookie, verify_no_cookie,
};
use crate::common::{server, session_id};

/// `JsessionidCookie.test_basic`: `/info` says `cookie_needed: true` and sets no cookie.
#[actix_rt::test]
async fn info_of_a_cookie_service_says_cookie_needed_and_sets_none() {
    let (srv, _) = server(SockJsConfig::default());
    let r = get(srv.addr(), "/cookie/info").await;
    assert_eq!(r.status(), 200);
    verify_no_cookie(&r.head);
    let info: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(info["cookie_needed"], true);
}

/// `JsessionidCookie.test_xhr`: `JSESSIONID=dummy` by default; a client's own
/// `JSESSIONID` is echoed.
#[actix_rt::test]
async fn xhr_sets_jsessionid_dummy_or_echoes_the_clients() {
    let (srv, _) = server(SockJsConfig::default());
    let r = post(srv.addr(), &format!("/cookie/000/{}/xhr", session_id()), "").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "o\n"));
    verify_cookie(&r.head, "dummy");

    let r: Response = suite::request(
        srv.addr(),
        "POST",
        &format!("/cookie/000/{}/xhr", session_id()),
        &[("Cookie", "JSESSIONID=abcdef")],
        None,
    )
    .await;
    assert_eq!((r.status(), r.text().as_str()), (200, "o\n"));
    verify_cookie(&r.head, "abcdef");
}

/// `JsessionidCookie.test_xhr_streaming`, `test_eventsource` and `test_htmlfile`: the
/// streaming responses set the cookie in their head.
#[actix_rt::test]
async fn streaming_transports_set_jsessionid() {
    let (srv, _) = server(SockJsConfig::default());
    for (method, transport) in [
        ("POST", "xhr_streaming"),
        ("GET", "eventsource"),
        ("GET", "htmlfile?c=%63allback"),
    ] {
        let path = format!("/cookie/000/{}/{transport}", session_id());
        let s = stream(srv.addr(), method, &path, &[]).await;
        assert_eq!(s.head.status, 200, "{transport}");
        verify_cookie(&s.head, "dummy");
    }
}

/// `JsessionidCookie.test_jsonp`: the poll and the send both set the cookie.
#[actix_rt::test]
async fn jsonp_and_jsonp_send_set_jsessionid() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/cookie/000/{}", session_id());
    let r = get(srv.addr(), &format!("{url}/jsonp?c=%63allback")).await;
    assert_eq!(r.status(), 200);
    verify_cookie(&r.head, "dummy");
    assert_eq!(r.text(), "/**/callback(\"o\");\r\n");

    let r = post_form(srv.addr(), &format!("{url}/jsonp_send"), "d=%5B%22x%22%5D").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "ok"));
    verify_cookie(&r.head, "dummy");
}
