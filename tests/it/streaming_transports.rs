//! xhr_streaming, eventsource, htmlfile and jsonp: envelopes, preludes, limits, headers.

use actix_sockjs::SockJsConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common;
use crate::common::{DEADLINE, header, server, session_id, text};

/// Reads from a raw connection until `want` bytes arrived or the peer closed.
async fn read_at_least(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>, want: usize) {
    let mut chunk = [0u8; 8192];
    while buf.len() < want {
        let n = actix_rt::time::timeout(DEADLINE, stream.read(&mut chunk))
            .await
            .expect("data in time")
            .expect("read");
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the peer closes the connection.
async fn read_to_close(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    actix_rt::time::timeout(DEADLINE, stream.read_to_end(&mut buf))
        .await
        .expect("closed in time")
        .expect("read");
    buf
}

fn split_head(raw: &[u8]) -> (String, Vec<u8>) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of head");
    (
        String::from_utf8_lossy(&raw[..at]).to_lowercase(),
        raw[at + 4..].to_vec(),
    )
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).expect("hex"), 16)
            .expect("size");
        body = &body[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

#[actix_rt::test]
async fn xhr_streaming_sends_a_2k_prelude_then_frames_and_ends_at_the_response_limit() {
    let (srv, _) = server(SockJsConfig::default().response_limit(4096));
    let id = session_id();
    let mut res = srv
        .post(format!("/echo/000/{id}/xhr_streaming"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    common::assert_transport_headers(&res, "application/javascript; charset=UTF-8", None);
    let client = awc::Client::default();
    let url = srv.url(&format!("/echo/000/{id}/xhr_send"));
    actix_rt::spawn(async move {
        for _ in 0..5 {
            let _ = client
                .post(url.clone())
                .send_body(format!("[\"{}\"]", "z".repeat(1000)))
                .await;
        }
    });
    let body = actix_rt::time::timeout(DEADLINE, text(&mut res))
        .await
        .expect("stream ends");
    let (prelude, frames) = body.split_at(2049);
    assert_eq!(prelude, format!("{}\n", "h".repeat(2048)));
    let lines: Vec<&str> = frames.lines().collect();
    assert_eq!(lines[0], "o");
    assert!(
        lines[1..].iter().all(|l| l.starts_with("a[\"z")),
        "{lines:?}"
    );
    assert!(
        frames.len() >= 4096,
        "ended at the limit, not before: {}",
        frames.len()
    );

    // The session outlives the response: the client reconnects to it.
    let res = srv
        .post(format!("/echo/000/{id}/xhr_send"))
        .send_body(r#"["again"]"#)
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 204);
    let mut again = srv
        .post(format!("/echo/000/{id}/xhr"))
        .send()
        .await
        .expect("poll");
    let next = text(&mut again).await;
    assert!(
        next.starts_with("a[") && next.ends_with("\"again\"]\n"),
        "{next:.60}"
    );
}

#[actix_rt::test]
async fn eventsource_frames_are_data_lines() {
    let (srv, _) = server(SockJsConfig::default().response_limit(4096));
    let id = session_id();
    let mut res = srv
        .get(format!("/echo/000/{id}/eventsource"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    common::assert_transport_headers(&res, "text/event-stream", None);
    let client = awc::Client::default();
    let url = srv.url(&format!("/echo/000/{id}/xhr_send"));
    actix_rt::spawn(async move {
        let _ = client.post(url.clone()).send_body(r#"["a\u2028b"]"#).await;
        let _ = client
            .post(url)
            .send_body(format!("[\"{}\"]", "q".repeat(5000)))
            .await;
    });
    let body = actix_rt::time::timeout(DEADLINE, text(&mut res))
        .await
        .expect("stream ends");
    assert!(
        body.starts_with("\r\ndata: o\r\n\r\ndata: a[\"a\\u2028b\"]\r\n\r\ndata: a[\"qqq"),
        "{body:.80}"
    );
    assert!(body.ends_with("\"]\r\n\r\n"));
}

/// sockjs-client passes every event's data through `decodeURI` before parsing the
/// frame, so a `%` must arrive as `%25` (else `%20` becomes a space and `100%` throws
/// `URIError`), and nothing else may be percent-escaped.
#[actix_rt::test]
async fn eventsource_percent_escapes_what_the_client_decodes() {
    let (srv, _) = server(SockJsConfig::default());
    let id = session_id();
    let mut res = srv
        .get(format!("/echo/000/{id}/eventsource"))
        .send()
        .await
        .expect("stream");
    let mut body = String::new();
    common::read_until(&mut res, &mut body, "data: o\r\n\r\n").await;
    let sent = r#"["%20","100%","%%","%zz","%E2%80%A8","a\r\n\u0000b","%"]"#;
    let status = awc::Client::default()
        .post(srv.url(&format!("/echo/000/{id}/xhr_send")))
        .send_body(sent)
        .await
        .expect("xhr_send")
        .status();
    assert_eq!(status.as_u16(), 204);
    // The echo handler answers the batch in one call, so one frame carries them all.
    let want = concat!(
        r#"data: a["%2520","100%25","%25%25","%25zz","%25E2%2580%25A8","#,
        r#""a\r\n\u0000b","%25"]"#,
        "\r\n\r\n"
    );
    common::read_until(&mut res, &mut body, want).await;
    assert_eq!(body, format!("\r\ndata: o\r\n\r\n{want}"));
}

#[actix_rt::test]
async fn htmlfile_requires_a_valid_callback_and_escapes_script_tags() {
    let (srv, _) = server(SockJsConfig::default());
    let id = session_id();
    let mut res = srv
        .get(format!("/echo/000/{id}/htmlfile"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(text(&mut res).await, "\"callback\" parameter required");
    let mut res = srv
        .get(format!("/echo/000/{id}/htmlfile?c=%3Cx%3E"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 500);
    let body = text(&mut res).await;
    assert_eq!(body, "invalid \"callback\" parameter");
    assert!(!body.contains("<x>"));

    let mut res = srv
        .get(format!("/echo/000/{id}/htmlfile?c=window.cb"))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("text/html; charset=UTF-8")
    );
    assert_eq!(
        header(&res, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    srv.post(format!("/echo/000/{id}/xhr_send"))
        .send_body(r#"["</script><b>&"]"#)
        .await
        .expect("send");
    srv.post(format!("/echo/000/{id}/xhr_send"))
        .send_body(r#"["close"]"#)
        .await
        .expect("send");
    // Read the stream until the echoed message is in; it stays open, so read chunks.
    let mut body = String::new();
    common::read_until(&mut res, &mut body, "close").await;
    let head_end = body.find("\r\n\r\n").expect("prelude ends");
    assert!(head_end >= 1024, "prelude padded past 1 KiB");
    assert!(body[..head_end].contains("var c = parent.window.cb;"));
    let frames = &body[head_end + 4..];
    assert!(
        frames.starts_with("<script>\np(\"o\");\n</script>\r\n"),
        "{frames}"
    );
    // Exactly the frames' own closing tags: the message's </script> was escaped.
    assert_eq!(
        frames.matches("</script>").count(),
        frames.matches("<script>").count()
    );
    assert!(
        frames.contains(r#"\u003c/script\u003e\u003cb\u003e\u0026"#),
        "{frames}"
    );
}

#[actix_rt::test]
async fn jsonp_polls_with_a_commented_callback_and_jsonp_send_takes_forms_and_raw_bodies() {
    let (srv, _) = server(SockJsConfig::default());
    let id = session_id();
    let mut res = srv
        .get(format!("/echo/000/{id}/jsonp"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(text(&mut res).await, "\"callback\" parameter required");
    let mut res = srv
        .get(format!("/echo/000/{id}/jsonp?c=a(b)"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        (res.status().as_u16(), text(&mut res).await),
        (500, "invalid \"callback\" parameter".into())
    );

    let mut res = srv
        .get(format!("/echo/000/{id}/jsonp?c=cb"))
        .send()
        .await
        .expect("poll");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(
        header(&res, "content-type").as_deref(),
        Some("application/javascript; charset=UTF-8")
    );
    assert_eq!(
        header(&res, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(text(&mut res).await, "/**/cb(\"o\");\r\n");

    let mut res = srv
        .post(format!("/echo/000/{id}/jsonp_send"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body("d=%5B%22x%22%5D")
        .await
        .expect("send");
    assert_eq!(
        (res.status().as_u16(), text(&mut res).await),
        (200, "ok".into())
    );
    let mut res = srv
        .post(format!("/echo/000/{id}/jsonp_send"))
        .send_body(r#"["y"]"#)
        .await
        .expect("send");
    assert_eq!(
        (res.status().as_u16(), text(&mut res).await),
        (200, "ok".into())
    );
    let mut res = srv
        .get(format!("/echo/000/{id}/jsonp?c=cb"))
        .send()
        .await
        .expect("poll");
    assert_eq!(
        text(&mut res).await,
        "/**/cb(\"a[\\\"x\\\",\\\"y\\\"]\");\r\n"
    );

    for (ct, body, want) in [
        (
            "application/x-www-form-urlencoded",
            "d=",
            "Payload expected.",
        ),
        ("text/plain", "", "Payload expected."),
        (
            "application/x-www-form-urlencoded",
            "d=%5B%22x",
            "Broken JSON encoding.",
        ),
        ("text/plain", "[\"x", "Broken JSON encoding."),
    ] {
        let mut res = srv
            .post(format!("/echo/000/{id}/jsonp_send"))
            .insert_header(("Content-Type", ct))
            .send_body(body)
            .await
            .expect("send");
        assert_eq!(
            (res.status().as_u16(), text(&mut res).await),
            (500, want.to_owned()),
            "{ct} {body}"
        );
    }
    let res = srv
        .post(format!("/echo/000/{}/jsonp_send", session_id()))
        .send_body(r#"["x"]"#)
        .await
        .expect("send");
    assert_eq!(res.status().as_u16(), 404);
}

#[actix_rt::test]
async fn http10_streaming_is_not_chunked_and_ends_by_closing() {
    let (srv, _) = server(SockJsConfig::default().response_limit(1));
    let mut stream = tokio::net::TcpStream::connect(srv.addr())
        .await
        .expect("connect");
    let id = session_id();
    let request =
        format!("POST /echo/000/{id}/xhr_streaming HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    // response_limit 1: the open frame ends the response, and HTTP/1.0 ends it by closing.
    let raw = read_to_close(&mut stream).await;
    let (head, body) = split_head(&raw);
    assert!(
        head.starts_with("http/1.0 200") || head.starts_with("http/1.1 200"),
        "{head}"
    );
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(body, format!("{}\no\n", "h".repeat(2048)).into_bytes());
}

#[actix_rt::test]
async fn http11_streaming_is_chunked_and_keeps_the_connection() {
    let (srv, _) = server(SockJsConfig::default().response_limit(1));
    let mut stream = tokio::net::TcpStream::connect(srv.addr())
        .await
        .expect("connect");
    let id = session_id();
    let request = format!(
        "POST /echo/000/{id}/xhr_streaming HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    while !raw.ends_with(b"0\r\n\r\n") {
        let want = raw.len() + 1;
        read_at_least(&mut stream, &mut raw, want).await;
    }
    let (head, body) = split_head(&raw);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert_eq!(
        dechunk(&body),
        format!("{}\no\n", "h".repeat(2048)).into_bytes()
    );

    // Keep-alive: the same connection serves the next request.
    stream
        .write_all(b"GET /echo/info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    read_at_least(&mut stream, &mut raw, 12).await;
    assert!(
        raw.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}
