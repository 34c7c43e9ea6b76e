//! Protocol suite class `HandlingClose`: what streaming and polling receivers see when
//! the session closes, when a second receiver comes, and when a client aborts.
//!
//! The abort tests run on a [`crate::common::strict_server`], set up as the README says
//! (`h1_allow_half_closed(false)`): only then does actix notice at once that a
//! client closed its connection while its request was pending.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{Conn, Stream, post, stream, xhr_prelude};
use crate::common::{server, session_id, strict_server};

const BUSY: &str = "c[2010,\"Another connection still open\"]\n";
const INTERRUPTED: &str = "c[1002,\"Connection interrupted\"]\n";

async fn xhr_streaming(addr: std::net::SocketAddr, url: &str) -> Stream {
    let mut s = stream(addr, "POST", &format!("{url}/xhr_streaming"), &[]).await;
    assert_eq!(s.head.status, 200);
    assert_eq!(s.read().await, xhr_prelude());
    s
}

/// `HandlingClose.test_close_frame`: a receiver attached when the session closes gets
/// the close frame; a later one gets it too; both responses then end.
#[actix_rt::test]
async fn a_closing_session_sends_its_close_frame_to_each_stream_and_ends_them() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/close/000/{}", session_id());
    let mut r1 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r1.read_text().await, "o\n");
    assert_eq!(r1.read_text().await, "c[3000,\"Go away!\"]\n");
    let mut r2 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r2.read_text().await, "c[3000,\"Go away!\"]\n");
    assert_eq!(r1.read().await, b"", "r1 ended");
    assert_eq!(r2.read().await, b"", "r2 ended");
}

/// `HandlingClose.test_close_request`: a second stream on a session gets 2010 and
/// ends.
#[actix_rt::test]
async fn a_second_stream_gets_2010_and_ends() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let mut r1 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r1.read_text().await, "o\n");
    let mut r2 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r2.read_text().await, BUSY);
    assert_eq!(r2.read().await, b"", "r2 ended");
}

/// `HandlingClose.test_abort_xhr_streaming`: after the attached stream's client closed
/// its connection, the next stream gets a new session's `o` or the 1002 close frame,
/// at once (the suite opens it right after the close), never 2010.
#[actix_rt::test]
async fn a_stream_after_an_aborted_stream_gets_1002_not_2010() {
    let (srv, _) = strict_server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let mut r1 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r1.read_text().await, "o\n");
    let mut r2 = xhr_streaming(srv.addr(), &url).await;
    assert_eq!(r2.read_text().await, BUSY);
    assert_eq!(r2.read().await, b"", "r2 ended");

    drop(r1);
    let mut r3 = xhr_streaming(srv.addr(), &url).await;
    let got = r3.read_text().await;
    assert!(got == "o\n" || got == INTERRUPTED, "{got:?}");
}

/// `HandlingClose.test_abort_xhr_polling`: the same with polls. While a poll waits, a
/// second poll gets 2010 (either may reach the session first; see
/// `suite_protocol.rs`); the waiting poll's client then closes its connection,
/// and the next poll gets `o` or 1002 at once.
#[actix_rt::test]
async fn a_poll_after_an_aborted_poll_gets_1002_not_2010() {
    let (srv, _) = strict_server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
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
    let (mut busy, waiting) = if first_is_c1 { (c1, c2) } else { (c2, c1) };
    assert_eq!(head.status, 200);
    assert_eq!(busy.read_body(&head).await, BUSY.as_bytes());

    drop(waiting);
    let r3 = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!(r3.status(), 200);
    let got = r3.text();
    assert!(got == "o\n" || got == INTERRUPTED, "{got:?}");
}
