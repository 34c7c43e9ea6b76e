//! Protocol suite classes `Http10` and `Http11`: byte-exact framing over raw TCP.
//! HTTP/1.0 gets no chunking (a length, or the end of the connection); HTTP/1.1 keeps
//! the connection alive and streams one chunk per frame.

use actix_sockjs::SockJsConfig;

use crate::common::suite::Conn;
use crate::common::{server, session_id};

const GREETING: &[u8] = b"Welcome to SockJS!\n";

/// `Http10.test_synchronous`: the greeting over HTTP/1.0 with `Connection:
/// Keep-Alive`. Either a `Content-Length` (then the connection closes, or is kept
/// alive and serves a second request) or no length and `Connection: close`. Never
/// chunked.
#[actix_rt::test]
async fn http10_greeting_has_a_length_or_closes_and_is_never_chunked() {
    let (srv, _) = server(SockJsConfig::default());
    let mut c = Conn::open(srv.addr()).await;
    let keep_alive = [("Connection", "Keep-Alive")];
    let r = c.request("GET", "/echo", "1.0", &keep_alive, None).await;
    assert_eq!(r.status, 200);
    assert!(r.http == "1.0" || r.http == "1.1", "{}", r.http);
    assert!(r.falsy("transfer-encoding"), "{r:?}");
    if r.falsy("content-length") {
        assert_eq!(
            r.header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("close")
        );
        assert_eq!(c.read_to_eof().await, GREETING);
    } else {
        assert_eq!(r.header("content-length"), Some("19"));
        assert_eq!(c.read_exact(19).await, GREETING);
        let connection = r
            .header("connection")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if connection == "close" || connection.is_empty() {
            c.assert_closed().await;
        } else {
            assert_eq!(connection, "keep-alive");
            let r = c.request("GET", "/echo", "1.0", &keep_alive, None).await;
            assert_eq!(r.status, 200);
        }
    }
}

/// `Http10.test_streaming`: an HTTP/1.0 stream has neither `Transfer-Encoding` nor
/// `Content-Length`: the raw prelude and frames follow the head, and the end of the
/// response is the end of the connection.
#[actix_rt::test]
async fn http10_stream_is_raw_bytes_ended_by_closing_the_connection() {
    let (srv, _) = server(SockJsConfig::default());
    let mut c = Conn::open(srv.addr()).await;
    let path = format!("/close/000/{}/xhr_streaming", session_id());
    let r = c
        .request("POST", &path, "1.0", &[("Connection", "Keep-Alive")], None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.falsy("transfer-encoding"), "{r:?}");
    assert!(r.falsy("content-length"), "{r:?}");
    assert_eq!(c.read_exact(2049).await[0], b'h');
    assert_eq!(c.read_exact(2).await, b"o\n");
    assert_eq!(c.read_exact(19).await, b"c[3000,\"Go away!\"]\n");
    c.assert_closed().await;
}

/// `Http11.test_synchronous`: the greeting over HTTP/1.1 keeps the connection alive,
/// with a `Content-Length` of 19 or as one chunk, and the connection serves a second
/// request.
#[actix_rt::test]
async fn http11_greeting_keeps_the_connection_alive() {
    let (srv, _) = server(SockJsConfig::default());
    let mut c = Conn::open(srv.addr()).await;
    let keep_alive = [("Connection", "Keep-Alive")];
    let r = c.request("GET", "/echo", "1.1", &keep_alive, None).await;
    assert_eq!(r.http, "1.1");
    let connection = r
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(connection == "keep-alive" || connection.is_empty(), "{r:?}");
    if r.falsy("content-length") {
        assert_eq!(
            r.header("transfer-encoding")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("chunked")
        );
        assert_eq!(c.read_chunk().await, GREETING);
        assert_eq!(c.read_chunk().await, b"");
    } else {
        assert_eq!(r.header("content-length"), Some("19"));
        assert_eq!(c.read_exact(19).await, GREETING);
        assert!(r.falsy("transfer-encoding"), "{r:?}");
    }
    let r = c.request("GET", "/echo", "1.1", &keep_alive, None).await;
    assert_eq!(r.status, 200);
}

/// `Http11.test_streaming`: an HTTP/1.1 stream is chunked, with no `Content-Length`:
/// the prelude, `o\n` and the close frame are one chunk each, then the last chunk.
#[actix_rt::test]
async fn http11_stream_sends_one_chunk_per_frame_then_the_last_chunk() {
    let (srv, _) = server(SockJsConfig::default());
    let mut c = Conn::open(srv.addr()).await;
    let path = format!("/close/000/{}/xhr_streaming", session_id());
    let r = c
        .request("POST", &path, "1.1", &[("Connection", "Keep-Alive")], None)
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.falsy("transfer-encoding"), "{r:?}");
    assert!(r.falsy("content-length"), "{r:?}");
    assert_eq!(c.read_chunk().await.first(), Some(&b'h'));
    assert_eq!(c.read_chunk().await, b"o\n");
    assert_eq!(c.read_chunk().await, b"c[3000,\"Go away!\"]\n");
    assert_eq!(c.read_chunk().await, b"");
}
