//! Protocol suite class `Protocol`: a session over xhr polling, seen the way the
//! suite sees it (raw HTTP/1.1, one connection per request).
//!
//! `Protocol.test_closeSession` (`o`, then the close frame to every later poll) is
//! `session_lifecycle.rs`, `a_closed_session_answers_every_receiver_with_its_close_frame`.
//! The suite's comments on timing (a session times out 5 s after its last receiver; a
//! heartbeat `h` every 25 s) are asserted nowhere in the suite. Here: the defaults
//! below, and, with short configured delays, `session_lifecycle.rs`
//! (`a_session_without_a_receiver_expires_and_is_forgotten`,
//! `a_waiting_poll_gets_a_heartbeat_at_the_configured_delay`).

use std::time::Duration;

use actix_sockjs::SockJsConfig;

use crate::common;
use crate::common::server;
use crate::common::suite::{Conn, post, verify404};

/// `Protocol.test_simpleSession`, steps 1-4: a new session id opens with `o`, a send
/// is 204 with no body, the echo comes back as `a[...]`, and a send to an unknown
/// session is 404.
#[actix_rt::test]
async fn a_new_session_opens_echoes_and_sends_to_unknown_sessions_are_404() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", common::session_id());
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "o\n"));
    let r = post(srv.addr(), &format!("{url}/xhr_send"), r#"["a"]"#).await;
    assert_eq!(r.status(), 204);
    assert!(r.body.is_empty());
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "a[\"a\"]\n"));
    verify404(&post(srv.addr(), "/echo/000/bad_session/xhr_send", r#"["a"]"#).await);
}

/// `Protocol.test_simpleSession`, step 5: while a poll waits on a session, another
/// poll gets `200 c[2010,"Another connection still open"]`, and the waiting one keeps
/// its place.
///
/// The suite sends the first poll, sleeps 0.25 s and sends the second. Without a
/// sleep, either may reach the session first: both are sent, the first to answer must
/// be the 2010, and the other must then be the one that receives the next message.
#[actix_rt::test]
async fn a_second_poll_while_one_waits_gets_2010_and_the_waiting_one_stays_attached() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", common::session_id());
    assert_eq!(
        post(srv.addr(), &format!("{url}/xhr"), "").await.text(),
        "o\n"
    );

    let mut c1 = Conn::open(srv.addr()).await;
    c1.send("POST", &format!("{url}/xhr"), "1.1", &[], None)
        .await;
    let mut c2 = Conn::open(srv.addr()).await;
    c2.send("POST", &format!("{url}/xhr"), "1.1", &[], None)
        .await;
    let (first_is_c1, head) = tokio::select! {
        head = c1.read_head() => (true, head),
        head = c2.read_head() => (false, head),
    };
    let (mut busy, mut waiting) = if first_is_c1 { (c1, c2) } else { (c2, c1) };
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(
        busy.read_body(&head).await,
        b"c[2010,\"Another connection still open\"]\n"
    );

    let r = post(srv.addr(), &format!("{url}/xhr_send"), r#"["b"]"#).await;
    assert_eq!(r.status(), 204);
    let head = waiting.read_head().await;
    assert_eq!(head.status, 200);
    assert_eq!(waiting.read_body(&head).await, b"a[\"b\"]\n");
}

/// `Protocol.test_simpleSession` (comments): by default a session times out 5 s after
/// its last receiver left, and an attached receiver gets a heartbeat every 25 s.
#[test]
fn the_default_timing_is_a_5s_session_timeout_and_a_25s_heartbeat() {
    let config = SockJsConfig::default();
    assert_eq!(config.disconnect_delay, Duration::from_secs(5));
    assert_eq!(config.heartbeat_delay, Duration::from_secs(25));
}
