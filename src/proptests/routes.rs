//! Session URLs (`service::route`) and JSONP callback names (`transport::callback`).

use actix_web::test::TestRequest;
use proptest::prelude::*;
use proptest::sample::Index;

use super::runner::check;
use crate::service::{Route, route};
use crate::transport::callback::callback;
use crate::web::RequestError;

/// What `route(rest, max)` must answer, from the URL scheme: the greeting at `` and
/// `/`, `/info`, `/websocket`, the iframe page at `/iframe.html` and
/// `/iframe-ANYTHING.html`, and `/SERVER/SESSION/TRANSPORT` where both ids are 1 to
/// `max` bytes without a dot and the transport is not empty (`/` separates the three
/// and may appear nowhere else); nothing else.
fn expected_route(rest: &str, max: usize) -> Route<'_> {
    match rest {
        "" | "/" => return Route::Greeting,
        "/info" => return Route::Info,
        "/websocket" => return Route::RawWebSocket,
        _ => {}
    }
    let Some(path) = rest.strip_prefix('/') else {
        return Route::NotFound;
    };
    let id = |s: &str| (1..=max).contains(&s.len()) && !s.contains('.');
    match path.split('/').collect::<Vec<_>>()[..] {
        [name]
            if name == "iframe.html"
                || (name.starts_with("iframe-") && name.ends_with(".html")) =>
        {
            Route::Iframe
        }
        [server, session, transport] if id(server) && id(session) && !transport.is_empty() => {
            Route::Session { session, transport }
        }
        _ => Route::NotFound,
    }
}

/// Pieces of paths that routing looks at (no `/`: the separators are added).
#[rustfmt::skip]
const PATH_PIECES: &[&str] = &[
    ".", "a", "bc", "000", "xhr", "xhr_send", "websocket", "info", "iframe", "iframe-",
    ".html", "iframe.html", "html", "-", "é", "😀", "%2F", " ",
];

/// A path and an id length limit: pieces and slashes in any order, one to five
/// segments of pieces after a `/`, or three segments with the limit at, just under
/// or just over the longer of the first two (so session URLs near the limit come up
/// often).
fn path_and_limit() -> impl Strategy<Value = (String, usize)> {
    let piece = || prop::sample::select(PATH_PIECES);
    let segment = || prop::collection::vec(piece(), 0..3).prop_map(|p| p.concat());
    let max = || prop_oneof![0usize..6, Just(128)];
    prop_oneof![
        (
            prop::collection::vec(prop_oneof![piece(), Just("/")], 0..8).prop_map(|p| p.concat()),
            max()
        ),
        (
            prop::collection::vec(segment(), 1..5).prop_map(|s| format!("/{}", s.join("/"))),
            max()
        ),
        (segment(), segment(), segment(), 0usize..3).prop_map(|(a, b, c, delta)| {
            let max = (a.len().max(b.len()) + delta).saturating_sub(1);
            (format!("/{a}/{b}/{c}"), max)
        }),
    ]
}

/// For any path and id length limit, `route` gives the answer the URL scheme gives
/// (`expected_route`), never a panic.
#[test]
fn any_path_routes_as_the_url_scheme_says() {
    check("route_any_path", 256, path_and_limit(), |(rest, max)| {
        prop_assert_eq!(route(&rest, max), expected_route(&rest, max));
        Ok(())
    });
}

/// For any two ids without `/` or `.` (any other characters, any length) and any
/// transport name without `/`, `/SERVER/SESSION/TRANSPORT` is that session's
/// transport when both ids fit in `max_id_length` bytes, and not found when the
/// longer one is one byte over, nor when either id holds a `.` anywhere.
#[test]
fn session_urls_route_to_their_session_within_the_id_limit() {
    let id = "[^/.]{1,40}";
    let input = (id, id, "[^/]{1,12}", any::<Index>(), any::<bool>());
    check(
        "route_session_url",
        256,
        input,
        |(server, session, transport, at, which)| {
            let rest = format!("/{server}/{session}/{transport}");
            let longest = server.len().max(session.len());
            prop_assert_eq!(
                route(&rest, longest),
                Route::Session {
                    session: &session,
                    transport: &transport
                }
            );
            prop_assert_eq!(route(&rest, longest - 1), Route::NotFound);
            let (mut server, mut session) = (server, session);
            let id = if which { &mut server } else { &mut session };
            let boundaries: Vec<usize> =
                (0..=id.len()).filter(|&i| id.is_char_boundary(i)).collect();
            id.insert(boundaries[at.index(boundaries.len())], '.');
            let dotted = format!("/{server}/{session}/{transport}");
            prop_assert_eq!(route(&dotted, 128), Route::NotFound);
            Ok(())
        },
    );
}

/// What `callback` must answer for a query string: the value of the first `c=` pair,
/// percent-decoded (`%XX` with two hex digits, `+` as a space); missing or empty:
/// `CallbackRequired`; a malformed escape, bytes that are not UTF-8 or anything
/// outside `[a-zA-Z0-9_.-]`: `InvalidCallback`; else the name.
fn expected_callback(query: &str) -> Result<String, RequestError> {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("c="))
        .ok_or(RequestError::CallbackRequired)?;
    let mut bytes = Vec::new();
    let mut rest = raw.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'%' => {
                let hex = tail
                    .get(..2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit));
                let hex = hex.ok_or(RequestError::InvalidCallback)?;
                let text = std::str::from_utf8(hex).map_err(|_| RequestError::InvalidCallback)?;
                bytes
                    .push(u8::from_str_radix(text, 16).map_err(|_| RequestError::InvalidCallback)?);
                rest = &tail[2..];
            }
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            b => {
                bytes.push(b);
                rest = tail;
            }
        }
    }
    if bytes.is_empty() {
        return Err(RequestError::CallbackRequired);
    }
    let safe = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if !bytes.iter().all(safe) {
        return Err(RequestError::InvalidCallback);
    }
    String::from_utf8(bytes).map_err(|_| RequestError::InvalidCallback)
}

fn callback_of(query: &str) -> Result<String, RequestError> {
    let req = TestRequest::get()
        .uri(&format!("/x?{query}"))
        .to_http_request();
    callback(&req).map(|name| name.to_string())
}

/// Pieces of query strings that callback parsing looks at: `c=`, separators,
/// escapes good and bad, `+`, safe and unsafe characters.
#[rustfmt::skip]
const QUERY_PIECES: &[&str] = &[
    "c=", "c=", "c", "=", "&", "&", "%", "%4", "%41", "%2e", "%2E", "%5f", "%zz", "%+F",
    "%C3%A9", "%FF", "%3C", "%00", "+", "a", "Z", "_", ".", "-", "9", "(", ")", ";", "/",
    "?", ":", "@", "!", "$", "'", "*", ",", "~", "x=1",
];

/// Query strings: pieces in any order, or `c=` and pieces.
fn query() -> impl Strategy<Value = String> {
    let pieces = || prop::collection::vec(prop::sample::select(QUERY_PIECES), 0..10);
    prop_oneof![
        pieces().prop_map(|p| p.concat()),
        pieces().prop_map(|p| format!("c={}", p.concat())),
    ]
}

/// For any query string, `callback` gives the answer the rule gives
/// (`expected_callback`), never a panic; in particular a name it accepts is never
/// anything but `[a-zA-Z0-9_.-]+`, so it cannot inject script into the response.
#[test]
fn callback_names_are_validated_after_percent_decoding() {
    check("callback_any_query", 256, query(), |query| {
        let got = callback_of(&query);
        prop_assert_eq!(&got, &expected_callback(&query));
        if let Ok(name) = got {
            let safe = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
            prop_assert!(!name.is_empty() && name.bytes().all(safe), "{:?}", name);
        }
        Ok(())
    });
}

/// For any bytes, written into `c=` each as itself (where a URL allows it),
/// `%XX` in either case, or `+` for a space, among other pairs (and a later `c=`,
/// which is ignored): `callback` gives back those bytes if they are a valid name,
/// `CallbackRequired` if there are none, `InvalidCallback` otherwise.
#[test]
fn any_encoding_of_a_name_decodes_to_it() {
    let safe = || prop::sample::select(&b"azAZ09_.-"[..]);
    let unsafe_byte = prop_oneof![
        prop::sample::select(&b"()<>\"'; =&+%#/\\\0\x7f\xc3\xff"[..]),
        any::<u8>(),
    ];
    // A name of safe bytes with one other byte somewhere, or any bytes at all.
    let bytes = prop_oneof![
        (
            prop::collection::vec(safe(), 0..8),
            unsafe_byte,
            any::<Index>()
        )
            .prop_map(|(mut name, byte, at)| {
                name.insert(at.index(name.len() + 1), byte);
                name
            }),
        prop::collection::vec(prop_oneof![3 => safe(), 1 => any::<u8>()], 0..12),
    ];
    let name = bytes.prop_flat_map(|bytes| {
        let n = bytes.len();
        (Just(bytes), prop::collection::vec(any::<u8>(), n))
            .prop_map(|(bytes, how)| bytes.into_iter().zip(how).collect::<Vec<_>>())
    });
    let pairs = prop::collection::vec("[abd-z][a-z0-9=]{0,4}", 0..3);
    check(
        "callback_encoded_name",
        256,
        (name, pairs.clone(), pairs),
        |(name, before, after)| {
            let mut value = String::new();
            for &(b, how) in &name {
                let raw_ok = b.is_ascii_alphanumeric() || b"-._~!$'()*,;:@/?=".contains(&b);
                match how % 4 {
                    0 if raw_ok => value.push(char::from(b)),
                    3 if b == b' ' => value.push('+'),
                    1 | 3 => value.push_str(&format!("%{b:02X}")),
                    _ => value.push_str(&format!("%{b:02x}")),
                }
            }
            let mut pairs = before;
            pairs.push(format!("c={value}"));
            pairs.extend(after);
            pairs.push("c=ignored".into());
            let bytes: Vec<u8> = name.iter().map(|&(b, _)| b).collect();
            let safe = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
            let expected = match String::from_utf8(bytes) {
                Ok(s) if s.is_empty() => Err(RequestError::CallbackRequired),
                Ok(s) if s.as_bytes().iter().all(safe) => Ok(s),
                _ => Err(RequestError::InvalidCallback),
            };
            prop_assert_eq!(callback_of(&pairs.join("&")), expected);
            Ok(())
        },
    );
}
