//! Protocol suite class `JsonPolling`: `jsonp` polls and `jsonp_send`.
//!
//! Every poll body is `/**/CALLBACK("FRAME");\r\n`, the framing of the later suite:
//! the leading comment stops a response from being read as another content type.
//! Suite v0.3.3 wanted the same without the `/**/`.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{self, get, post_form, verify_content_type, verify_not_cached};
use crate::common::{server, session_id};

/// `JsonPolling.test_transport`: the callback is URL-decoded; polls are JavaScript, a
/// form send answers `200 ok` as `text/plain`; neither may be cached.
#[actix_rt::test]
async fn jsonp_polls_call_the_callback_and_jsonp_send_answers_ok() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let r = get(srv.addr(), &format!("{url}/jsonp?c=%63allback")).await;
    assert_eq!(r.status(), 200);
    verify_content_type(&r.head, "application/javascript;charset=UTF-8");
    verify_not_cached(&r.head);
    assert_eq!(r.text(), "/**/callback(\"o\");\r\n");

    let r = post_form(srv.addr(), &format!("{url}/jsonp_send"), "d=%5B%22x%22%5D").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "ok"));
    verify_content_type(&r.head, "text/plain;charset=UTF-8");
    verify_not_cached(&r.head);

    let r = get(srv.addr(), &format!("{url}/jsonp?c=%63allback")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "/**/callback(\"a[\\\"x\\\"]\");\r\n");
}

/// `JsonPolling.test_no_callback` and (later suite) `test_invalid_callback`: no `c`
/// is 500 `"callback" parameter required`; a `c` outside `[a-zA-Z0-9-_.]` is 500
/// `invalid "callback" parameter`.
#[actix_rt::test]
async fn jsonp_without_a_safe_callback_is_500() {
    let (srv, _) = server(SockJsConfig::default());
    let r = get(srv.addr(), "/echo/a/a/jsonp").await;
    assert_eq!(r.status(), 500);
    assert!(
        r.text().contains("\"callback\" parameter required"),
        "{}",
        r.text()
    );
    for c in ["%20", "*", "abc(", "abc%28"] {
        let r = get(srv.addr(), &format!("/echo/a/a/jsonp?c={c}")).await;
        assert_eq!(r.status(), 500, "{c}");
        assert!(
            r.text().contains("invalid \"callback\" parameter"),
            "{c}: {}",
            r.text()
        );
    }
}

/// `JsonPolling.test_invalid_json`: broken JSON and missing payloads (empty body,
/// empty `d`, no `d`) are 500 with the SockJS texts; only the valid message arrives.
#[actix_rt::test]
async fn jsonp_send_refuses_broken_or_missing_payloads_and_the_session_lives_on() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(
        get(srv.addr(), &format!("{url}/jsonp?c=x")).await.text(),
        "/**/x(\"o\");\r\n"
    );
    let send = format!("{url}/jsonp_send");
    let r = post_form(srv.addr(), &send, "d=%5B%22x").await;
    assert_eq!(r.status(), 500);
    assert!(r.text().contains("Broken JSON encoding."), "{}", r.text());
    for data in ["", "d=", "p=p"] {
        let r = post_form(srv.addr(), &send, data).await;
        assert_eq!(r.status(), 500, "{data:?}");
        assert!(
            r.text().contains("Payload expected."),
            "{data:?}: {}",
            r.text()
        );
    }
    assert_eq!(
        post_form(srv.addr(), &send, "d=%5B%22b%22%5D").await.text(),
        "ok"
    );
    let r = get(srv.addr(), &format!("{url}/jsonp?c=x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "/**/x(\"a[\\\"b\\\"]\");\r\n");
}

/// `JsonPolling.test_content_types`: a form body is URL-decoded; a `text/plain` body is
/// taken as it is (`%61` stays `%61`).
#[actix_rt::test]
async fn jsonp_send_decodes_forms_and_takes_plain_bodies_verbatim() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(
        get(srv.addr(), &format!("{url}/jsonp?c=x")).await.text(),
        "/**/x(\"o\");\r\n"
    );
    let send = format!("{url}/jsonp_send");
    assert_eq!(
        post_form(srv.addr(), &send, "d=%5B%22abc%22%5D")
            .await
            .text(),
        "ok"
    );
    let r = suite::request(
        srv.addr(),
        "POST",
        &send,
        &[("Content-Type", "text/plain")],
        Some(br#"["%61bc"]"#),
    )
    .await;
    assert_eq!(r.text(), "ok");
    let r = get(srv.addr(), &format!("{url}/jsonp?c=x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "/**/x(\"a[\\\"abc\\\",\\\"%61bc\\\"]\");\r\n");
}

/// `JsonPolling.test_close`: `o`, then the close frame, and the close frame again.
#[actix_rt::test]
async fn jsonp_polls_of_a_closed_session_keep_getting_its_close_frame() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/close/000/{}/jsonp?c=x", session_id());
    assert_eq!(get(srv.addr(), &url).await.text(), "/**/x(\"o\");\r\n");
    for _ in 0..2 {
        assert_eq!(
            get(srv.addr(), &url).await.text(),
            "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n"
        );
    }
}

/// `JsonPolling.test_sending_empty_frame` (later suite): `d=[]` is accepted and
/// delivers nothing.
#[actix_rt::test]
async fn jsonp_send_of_an_empty_array_is_accepted_and_delivers_nothing() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(
        get(srv.addr(), &format!("{url}/jsonp?c=x")).await.text(),
        "/**/x(\"o\");\r\n"
    );
    let send = format!("{url}/jsonp_send");
    assert_eq!(post_form(srv.addr(), &send, "d=%5B%5D").await.text(), "ok");
    assert_eq!(
        post_form(srv.addr(), &send, "d=%5B%22x%22%5D").await.text(),
        "ok"
    );
    let r = get(srv.addr(), &format!("{url}/jsonp?c=x")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text(), "/**/x(\"a[\\\"x\\\"]\");\r\n");
}
