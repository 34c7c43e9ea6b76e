//! Protocol suite class `JSONEncoding`: SockJS, not the application, escapes what
//! browsers or proxies would mangle, and decodes whatever the client escaped.
//!
//! * Out: the 44 "server killer" code points above U+00FF (U+200C-200F, U+2028-202F,
//!   U+2060-206F, U+FFF0-FFFF) must leave the server as `\uXXXX`, lowercase hex,
//!   exactly the suite's `server_killer_string_esc`.
//! * In: the 1093 code points the client escapes (`escapable_by_client`, no
//!   surrogates) must decode to the same characters. The suite checks this over
//!   `xhr_send`; here also over `jsonp_send` (form and plain body) and the websocket,
//!   each checked both as the message the handler got and as the echo.

use actix_sockjs::SockJsConfig;

use crate::common::suite::{self, get, post};
use crate::common::{
    Event, next_event, next_open, server, session_id, ws_connect, ws_send, ws_text,
};

/// The suite's `escapable_by_client` class as code point ranges (inclusive).
const CLIENT_ESCAPED: &[(u32, u32)] = &[
    (0x0000, 0x001F),
    (0x0022, 0x0022),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0300, 0x0333),
    (0x033D, 0x0346),
    (0x034A, 0x034C),
    (0x0350, 0x0352),
    (0x0357, 0x0358),
    (0x035C, 0x0362),
    (0x0374, 0x0374),
    (0x037E, 0x037E),
    (0x0387, 0x0387),
    (0x0591, 0x05AF),
    (0x05C4, 0x05C4),
    (0x0600, 0x0604),
    (0x0610, 0x0617),
    (0x0653, 0x0654),
    (0x0657, 0x065B),
    (0x065D, 0x065E),
    (0x06DF, 0x06E2),
    (0x06EB, 0x06EC),
    (0x070F, 0x070F),
    (0x0730, 0x0730),
    (0x0732, 0x0733),
    (0x0735, 0x0736),
    (0x073A, 0x073A),
    (0x073D, 0x073D),
    (0x073F, 0x0741),
    (0x0743, 0x0743),
    (0x0745, 0x0745),
    (0x0747, 0x0747),
    (0x07EB, 0x07F1),
    (0x0951, 0x0951),
    (0x0958, 0x095F),
    (0x09DC, 0x09DD),
    (0x09DF, 0x09DF),
    (0x0A33, 0x0A33),
    (0x0A36, 0x0A36),
    (0x0A59, 0x0A5B),
    (0x0A5E, 0x0A5E),
    (0x0B5C, 0x0B5D),
    (0x0E38, 0x0E39),
    (0x0F43, 0x0F43),
    (0x0F4D, 0x0F4D),
    (0x0F52, 0x0F52),
    (0x0F57, 0x0F57),
    (0x0F5C, 0x0F5C),
    (0x0F69, 0x0F69),
    (0x0F72, 0x0F76),
    (0x0F78, 0x0F78),
    (0x0F80, 0x0F83),
    (0x0F93, 0x0F93),
    (0x0F9D, 0x0F9D),
    (0x0FA2, 0x0FA2),
    (0x0FA7, 0x0FA7),
    (0x0FAC, 0x0FAC),
    (0x0FB9, 0x0FB9),
    (0x17B4, 0x17B5),
    (0x1939, 0x193A),
    (0x1A17, 0x1A17),
    (0x1B6B, 0x1B6B),
    (0x1CDA, 0x1CDB),
    (0x1DC0, 0x1DCF),
    (0x1DFC, 0x1DFC),
    (0x1DFE, 0x1DFE),
    (0x1F71, 0x1F71),
    (0x1F73, 0x1F73),
    (0x1F75, 0x1F75),
    (0x1F77, 0x1F77),
    (0x1F79, 0x1F79),
    (0x1F7B, 0x1F7B),
    (0x1F7D, 0x1F7D),
    (0x1FBB, 0x1FBB),
    (0x1FBE, 0x1FBE),
    (0x1FC9, 0x1FC9),
    (0x1FCB, 0x1FCB),
    (0x1FD3, 0x1FD3),
    (0x1FDB, 0x1FDB),
    (0x1FE3, 0x1FE3),
    (0x1FEB, 0x1FEB),
    (0x1FEE, 0x1FEF),
    (0x1FF9, 0x1FF9),
    (0x1FFB, 0x1FFB),
    (0x1FFD, 0x1FFD),
    (0x2000, 0x20FF),
    (0x2126, 0x2126),
    (0x212A, 0x212B),
    (0x2329, 0x232A),
    (0x2ADC, 0x2ADC),
    (0x302B, 0x302C),
    (0xAAB2, 0xAAB3),
    (0xF900, 0xFA0D),
    (0xFA10, 0xFA10),
    (0xFA12, 0xFA12),
    (0xFA15, 0xFA1E),
    (0xFA20, 0xFA20),
    (0xFA22, 0xFA22),
    (0xFA25, 0xFA26),
    (0xFA2A, 0xFA2D),
    (0xFA30, 0xFA6D),
    (0xFA70, 0xFAD9),
    (0xFB1D, 0xFB1D),
    (0xFB1F, 0xFB1F),
    (0xFB2A, 0xFB36),
    (0xFB38, 0xFB3C),
    (0xFB3E, 0xFB3E),
    (0xFB40, 0xFB41),
    (0xFB43, 0xFB44),
    (0xFB46, 0xFB4E),
    (0xFEFF, 0xFEFF),
    (0xFFF0, 0xFFFF),
];

/// The suite's `escapable_by_server` class above U+00FF.
const SERVER_ESCAPED: &[(u32, u32)] = &[
    (0x200C, 0x200F),
    (0x2028, 0x202F),
    (0x2060, 0x206F),
    (0xFFF0, 0xFFFF),
];

fn chars(ranges: &[(u32, u32)]) -> String {
    ranges
        .iter()
        .flat_map(|&(a, b)| a..=b)
        .map(|c| char::from_u32(c).expect("no surrogates"))
        .collect()
}

/// A JSON string literal of `s` with every character as `\uXXXX`, lowercase hex (the
/// suite's `*_killer_string_esc`).
fn all_escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        out.push_str(&format!("\\u{:04x}", u32::from(c)));
    }
    out.push('"');
    out
}

/// The suite's `r.body.strip()[2:-1]`: an `a[...]\n` body without `a[` and `]`.
fn single_message(body: &[u8]) -> String {
    let body = std::str::from_utf8(body.trim_ascii()).expect("utf-8");
    body.strip_prefix("a[")
        .and_then(|b| b.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not a one-message frame: {body:?}"))
        .to_owned()
}

/// Percent-encodes everything but unreserved characters, for a form body.
fn form_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_code_point_sets_are_the_suites() {
    assert_eq!(chars(CLIENT_ESCAPED).chars().count(), 1093);
    assert_eq!(chars(SERVER_ESCAPED).chars().count(), 44);
    assert!(all_escaped("\u{200c}\u{ffff}") == r#""\u200c\uffff""#);
}

/// `JSONEncoding.test_xhr_server_encodes`: the 44 characters sent raw (UTF-8) come
/// back as exactly `server_killer_string_esc`.
#[actix_rt::test]
async fn xhr_poll_escapes_every_server_killer_character_in_lowercase_hex() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!((r.status(), r.text().as_str()), (200, "o\n"));
    let killer = chars(SERVER_ESCAPED);
    let r = post(
        srv.addr(),
        &format!("{url}/xhr_send"),
        &format!("[\"{killer}\"]"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!(r.status(), 200);
    assert_eq!(single_message(&r.body), all_escaped(&killer));
}

/// `JSONEncoding.test_xhr_server_encodes`, the other way: the same characters sent
/// escaped (pure ASCII) come back the same way.
#[actix_rt::test]
async fn xhr_poll_keeps_server_killer_characters_escaped_when_they_arrive_escaped() {
    let (srv, _) = server(SockJsConfig::default());
    let url = format!("/echo/000/{}", session_id());
    assert_eq!(
        post(srv.addr(), &format!("{url}/xhr"), "").await.text(),
        "o\n"
    );
    let escaped = all_escaped(&chars(SERVER_ESCAPED));
    let r = post(
        srv.addr(),
        &format!("{url}/xhr_send"),
        &format!("[{escaped}]"),
    )
    .await;
    assert_eq!(r.status(), 204);
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!(r.status(), 200);
    assert_eq!(single_message(&r.body), escaped);
}

/// `JSONEncoding.test_xhr_server_decodes`: `client_killer_string_esc` sent to
/// `xhr_send` reaches the handler as the 1093 characters, and the echo decodes to them.
#[actix_rt::test]
async fn xhr_send_decodes_every_client_escaped_code_point() {
    let (srv, mut events) = server(SockJsConfig::default());
    let url = format!("/rec/000/{}", session_id());
    assert_eq!(
        post(srv.addr(), &format!("{url}/xhr"), "").await.text(),
        "o\n"
    );
    next_open(&mut events).await;
    let killer = chars(CLIENT_ESCAPED);
    let payload = format!("[{}]", all_escaped(&killer));
    let r = post(srv.addr(), &format!("{url}/xhr_send"), &payload).await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        next_event(&mut events).await,
        Event::Message(killer.clone())
    );
    let r = post(srv.addr(), &format!("{url}/xhr"), "").await;
    assert_eq!(r.status(), 200);
    let echoed: String = serde_json::from_str(&single_message(&r.body)).expect("a JSON string");
    assert_eq!(echoed, killer);
}

/// `JSONEncoding.test_xhr_server_decodes` over `jsonp_send`, as a form (`d=`,
/// percent-encoded) and as a plain body; the jsonp poll's echo decodes to the same.
#[actix_rt::test]
async fn jsonp_send_decodes_every_client_escaped_code_point() {
    let (srv, mut events) = server(SockJsConfig::default());
    let killer = chars(CLIENT_ESCAPED);
    let payload = format!("[{}]", all_escaped(&killer));
    for form in [true, false] {
        let url = format!("/rec/000/{}", session_id());
        assert_eq!(
            get(srv.addr(), &format!("{url}/jsonp?c=x")).await.text(),
            "/**/x(\"o\");\r\n"
        );
        next_open(&mut events).await;
        let r = if form {
            suite::post_form(
                srv.addr(),
                &format!("{url}/jsonp_send"),
                &format!("d={}", form_encode(&payload)),
            )
            .await
        } else {
            suite::request(
                srv.addr(),
                "POST",
                &format!("{url}/jsonp_send"),
                &[("Content-Type", "text/plain")],
                Some(payload.as_bytes()),
            )
            .await
        };
        assert_eq!((r.status(), r.text().as_str()), (200, "ok"), "form: {form}");
        assert_eq!(
            next_event(&mut events).await,
            Event::Message(killer.clone())
        );

        let body = get(srv.addr(), &format!("{url}/jsonp?c=x")).await.text();
        let frame: String = body
            .strip_prefix("/**/x(")
            .and_then(|b| b.strip_suffix(");\r\n"))
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_else(|| panic!("not a jsonp frame: {body:.80}"));
        let echoed: Vec<String> = frame
            .strip_prefix('a')
            .and_then(|a| serde_json::from_str(a).ok())
            .unwrap_or_else(|| panic!("not a message frame: {frame:.80}"));
        assert_eq!(echoed, vec![killer.clone()], "form: {form}");
    }
}

/// `JSONEncoding.test_xhr_server_decodes` over the websocket transport.
#[actix_rt::test]
async fn websocket_decodes_every_client_escaped_code_point() {
    let (srv, mut events) = server(SockJsConfig::default());
    let mut ws = ws_connect(&srv, &format!("/rec/000/{}/websocket", session_id())).await;
    assert_eq!(ws_text(&mut ws).await, "o");
    next_open(&mut events).await;
    let killer = chars(CLIENT_ESCAPED);
    ws_send(&mut ws, &format!("[{}]", all_escaped(&killer))).await;
    assert_eq!(
        next_event(&mut events).await,
        Event::Message(killer.clone())
    );
    let frame = ws_text(&mut ws).await;
    let echoed: String =
        serde_json::from_str(&single_message(frame.as_bytes())).expect("a JSON string");
    assert_eq!(echoed, killer);
}
