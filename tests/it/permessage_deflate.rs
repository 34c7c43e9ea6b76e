//! permessage-deflate (RFC 7692) on the SockJS websocket and the raw endpoint: what
//! the server agrees to, compressed client messages inflated (whole, fragmented, with
//! and without context takeover), a decompression bomb refused with 1009, and RSV1
//! refused where nothing was agreed; the server's own long messages compressed, its
//! short ones not. The client side is flate2's raw deflate and inflate, used as any
//! client would.

use actix_sockjs::{PermessageDeflate, SockJsConfig};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

use crate::common::raw_ws::{RawWs, ServerFrame, client_frame};
use crate::common::{server, session_id};

const OFFER: &str = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";

fn deflating() -> SockJsConfig {
    SockJsConfig::default().permessage_deflate(PermessageDeflate::default())
}

/// The `Sec-WebSocket-Extensions` value of a response head, if any.
fn extensions(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim().to_owned())
    })
}

/// `text` as a permessage-deflate sender compresses it (raw deflate, sync flush, the
/// final `00 00 ff ff` removed), in `compress`'s context.
fn compressed(compress: &mut Compress, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 2 + 64);
    let start = compress.total_in();
    loop {
        let taken = (compress.total_in() - start) as usize;
        out.reserve(64 * 1024);
        compress
            .compress_vec(&text[taken..], &mut out, FlushCompress::Sync)
            .expect("compress");
        if (compress.total_in() - start) as usize == text.len()
            && out.ends_with(&[0, 0, 0xff, 0xff])
        {
            break;
        }
    }
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
    out.truncate(out.len() - 4);
    out
}

/// A client frame with RSV1 set (the first frame of a compressed message).
fn rsv1(frame: Vec<u8>) -> Vec<u8> {
    let mut frame = frame;
    frame[0] |= 0x40;
    frame
}

async fn sockjs_ws(srv: &actix_test::TestServer, headers: &str) -> (RawWs, String) {
    let path = format!("/echo/000/{}/websocket", session_id());
    let (mut ws, head) = RawWs::connect_with(srv.addr(), &path, headers).await;
    assert_eq!(ws.next_text().await, "o");
    (ws, head)
}

#[actix_rt::test]
async fn offers_are_answered_by_the_rfc_and_only_where_configured() {
    let (srv, _) = server(deflating());
    for (offer, answer) in [
        (
            "permessage-deflate; client_max_window_bits",
            Some("permessage-deflate; client_no_context_takeover"),
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            Some(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10",
            ),
        ),
        ("permessage-deflate; server_max_window_bits=20", None),
        ("permessage-deflate; bogus", None),
        (
            "permessage-deflate; bogus, permessage-deflate",
            Some("permessage-deflate; client_no_context_takeover"),
        ),
    ] {
        let header = format!("Sec-WebSocket-Extensions: {offer}\r\n");
        let (_, head) = sockjs_ws(&srv, &header).await;
        assert_eq!(extensions(&head).as_deref(), answer, "{offer}");
    }
    let (plain, _) = server(SockJsConfig::default());
    let (_, head) = sockjs_ws(&plain, OFFER).await;
    assert_eq!(extensions(&head), None, "a service without the setting");
}

#[actix_rt::test]
async fn compressed_messages_are_inflated_whole_or_fragmented() {
    let (srv, _) = server(deflating());
    let (mut ws, _) = sockjs_ws(&srv, OFFER).await;
    let mut compress = Compress::new(Compression::default(), false);
    let text = format!(r#"["{}"]"#, "compressed ✓ ".repeat(100));
    ws.send_raw(&rsv1(client_frame(
        true,
        0x1,
        &compressed(&mut compress, text.as_bytes()),
    )))
    .await;
    let echoed = match ws.next().await {
        Some(ServerFrame::Compressed(payload)) => ClientInflater::new(false).inflated(&payload),
        other => panic!("a long echo goes out compressed: {other:?}"),
    };
    assert_eq!(echoed, format!("a{text}"));
    // Fragmented: RSV1 on the first frame only.
    compress.reset();
    let wire = compressed(&mut compress, br#"["in three fragments"]"#);
    let (a, rest) = wire.split_at(wire.len() / 3);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut bytes = rsv1(client_frame(false, 0x1, a));
    bytes.extend(client_frame(false, 0x0, b));
    bytes.extend(client_frame(true, 0x0, c));
    ws.send_raw(&bytes).await;
    assert_eq!(ws.next_text().await, r#"a["in three fragments"]"#);
    // An uncompressed message is still fine.
    ws.send_text(r#"["plain"]"#).await;
    assert_eq!(ws.next_text().await, r#"a["plain"]"#);
}

#[actix_rt::test]
async fn with_context_takeover_a_message_may_refer_to_the_ones_before() {
    let config = SockJsConfig::default()
        .permessage_deflate(PermessageDeflate::default().client_no_context_takeover(false));
    let (srv, _) = server(config);
    let (mut ws, head) = RawWs::connect_with(srv.addr(), "/echo/websocket", OFFER).await;
    assert_eq!(extensions(&head).as_deref(), Some("permessage-deflate"));
    let mut compress = Compress::new(Compression::default(), false);
    let line = "the same line, again and again";
    let first = compressed(&mut compress, line.as_bytes());
    let second = compressed(&mut compress, line.as_bytes());
    assert!(second.len() < first.len(), "the second refers to the first");
    ws.send_raw(&rsv1(client_frame(true, 0x1, &first))).await;
    ws.send_raw(&rsv1(client_frame(true, 0x1, &second))).await;
    assert_eq!(ws.next_text().await, line);
    assert_eq!(ws.next_text().await, line);
}

/// A client's inflater: it keeps its window between messages (the server may refer
/// to earlier messages), unless it was told the server keeps no context, when it
/// inflates each message on its own.
struct ClientInflater {
    inflate: Decompress,
    each_alone: bool,
}

impl ClientInflater {
    fn new(each_alone: bool) -> Self {
        ClientInflater {
            inflate: Decompress::new(false),
            each_alone,
        }
    }

    /// What a compressed server message inflates to.
    fn inflated(&mut self, payload: &[u8]) -> String {
        if self.each_alone {
            self.inflate.reset(false);
        }
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(64 * 1024);
        self.inflate
            .decompress_vec(&input, &mut out, FlushDecompress::Sync)
            .expect("a deflate stream");
        String::from_utf8(out).expect("UTF-8")
    }
}

#[actix_rt::test]
async fn long_messages_go_out_compressed_and_short_ones_as_they_are() {
    let (srv, _) = server(deflating());
    for raw in [false, true] {
        let (mut ws, path) = if raw {
            let (ws, _) = RawWs::connect_with(srv.addr(), "/echo/websocket", OFFER).await;
            (ws, "raw")
        } else {
            (sockjs_ws(&srv, OFFER).await.0, "sockjs")
        };
        let long = "a line worth compressing ".repeat(40);
        let short = "short";
        let mut client = ClientInflater::new(false);
        let mut sizes = Vec::new();
        for text in [&long[..], short, &long[..]] {
            if raw {
                ws.send_text(text).await;
            } else {
                ws.send_text(&format!(r#"["{text}"]"#)).await;
            }
            let expected = if raw {
                text.to_owned()
            } else {
                format!(r#"a["{text}"]"#)
            };
            match ws.next().await {
                Some(ServerFrame::Compressed(payload)) => {
                    assert!(text.len() >= 128, "{path}: {} bytes compressed", text.len());
                    assert!(payload.len() < expected.len() / 4, "{path}");
                    assert_eq!(client.inflated(&payload), expected, "{path}");
                    sizes.push(payload.len());
                }
                Some(ServerFrame::Text(t)) => {
                    assert!(
                        text.len() < 128,
                        "{path}: {} bytes not compressed",
                        text.len()
                    );
                    assert_eq!(t, expected, "{path}");
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        // The second long message refers to the first (the server's context
        // takeover): smaller than the same message compressed on its own.
        assert!(sizes[1] < sizes[0], "{path}: {sizes:?}");
    }
    // Without an agreement, nothing is compressed.
    let (mut ws, _) = sockjs_ws(&srv, "").await;
    let long = "a line worth compressing ".repeat(40);
    ws.send_text(&format!(r#"["{long}"]"#)).await;
    assert_eq!(
        ws.next().await,
        Some(ServerFrame::Text(format!(r#"a["{long}"]"#)))
    );
}

#[actix_rt::test]
async fn where_the_server_keeps_no_context_every_message_inflates_alone() {
    let no_context = SockJsConfig::default()
        .permessage_deflate(PermessageDeflate::default().server_context_takeover(false));
    let (quiet, _) = server(no_context);
    let (srv, _) = server(deflating());
    let asked = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n";
    // The service's setting, said in the answer; or the client's own request.
    for (srv, offer) in [(&quiet, OFFER), (&srv, asked)] {
        let (mut ws, head) = sockjs_ws(srv, offer).await;
        assert_eq!(
            extensions(&head).as_deref(),
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            "{offer}"
        );
        let mut client = ClientInflater::new(true);
        let long = "the same long line, said twice over ".repeat(8);
        for _ in 0..3 {
            ws.send_text(&format!(r#"["{long}"]"#)).await;
            match ws.next().await {
                Some(ServerFrame::Compressed(payload)) => {
                    assert_eq!(client.inflated(&payload), format!(r#"a["{long}"]"#));
                }
                other => panic!("{offer}: {other:?}"),
            }
        }
    }
}

#[actix_rt::test]
async fn a_decompression_bomb_is_refused_with_1009() {
    let (srv, _) = server(deflating());
    let (mut ws, _) = sockjs_ws(&srv, OFFER).await;
    let mut compress = Compress::new(Compression::best(), false);
    // 64 MiB of text in a few tens of KiB, against the default 1 MiB limit.
    let bomb = compressed(&mut compress, &vec![b'a'; 64 << 20]);
    assert!(bomb.len() < 128 << 10, "{} bytes", bomb.len());
    ws.send_raw(&rsv1(client_frame(true, 0x1, &bomb))).await;
    assert_eq!(
        ws.close_frame().await,
        (Some(1009), "Message too big.".into())
    );
}

#[actix_rt::test]
async fn rsv1_is_a_protocol_error_where_nothing_was_agreed() {
    let (srv, _) = server(SockJsConfig::default());
    let (mut ws, _) = sockjs_ws(&srv, OFFER).await;
    ws.send_raw(&rsv1(client_frame(true, 0x1, b"[\"x\"]")))
        .await;
    assert_eq!(ws.close_frame().await.0, Some(1002));
    // And on a continuation, where it was.
    let (srv, _) = server(deflating());
    let (mut ws, _) = sockjs_ws(&srv, OFFER).await;
    let mut bytes = client_frame(false, 0x1, b"[\"x");
    bytes.extend(rsv1(client_frame(true, 0x0, b"\"]")));
    ws.send_raw(&bytes).await;
    assert_eq!(ws.close_frame().await.0, Some(1002));
}
