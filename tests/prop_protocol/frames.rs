//! JSON string escaping, the four frames and `MessageBatch`.

use std::fmt::Write;

use actix_sockjs::protocol::{
    Frame, MessageBatch, decode_messages, decode_websocket_message, escape_json_string,
    escape_json_string_into,
};
use proptest::prelude::*;

use super::runner::check;

/// Pieces of text that matter to escaping: quotes, backslashes, every kind of control
/// character, the code points sockjs-node escapes and their neighbours, astral
/// characters, what HTML and `decodeURI` care about, and runs of plain ASCII long
/// enough for the eight-bytes-at-a-time scan.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\0", "\u{1f}", "\u{7f}", "\u{80}",
    "\u{ff}", "é", "\u{200b}", "\u{200c}", "\u{200f}", "\u{2010}", "\u{2027}", "\u{2028}",
    "\u{2029}", "\u{202f}", "\u{2030}", "\u{205f}", "\u{2060}", "\u{206f}", "\u{2070}",
    "\u{feff}", "\u{ffef}", "\u{fff0}", "\u{fffd}", "\u{ffff}", "\u{10000}", "😀",
    "\u{10ffff}", "<", ">", "&", "</script>", "<!--", "%", "%25", "%0A", ",", "a", " ", "/",
    "abcdefgh", "0123456789abcdefghij",
];

/// Any string, weighted towards the characters escaping is about.
pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|p| p.concat()),
        1 => any::<String>(),
    ]
}

/// Whether sockjs-node writes `c` as a `\u` escape (escape.rs's module docs): outside
/// the BMP, the zero-width and bidi controls, line and paragraph separators, the
/// invisible operators, the BOM and the specials block.
fn sockjs_escapes(c: char) -> bool {
    matches!(u32::from(c),
        0x1_0000.. | 0x200c..=0x200f | 0x2028..=0x202f | 0x2060..=0x206f | 0xfeff | 0xfff0..=0xffff)
}

/// The escaping, written one character at a time: JSON's short escapes, `\u00XX` for
/// the other control characters, `\uXXXX` (lower-case hex, surrogate pairs outside the
/// BMP) for what sockjs-node escapes, everything else as it is.
fn reference_escape(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || sockjs_escapes(c) => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// For any string `s`, `escape_json_string(s)` is a JSON string literal that decodes
/// back to `s`, with serde_json and with the library's own decoders (as one message
/// of an `xhr_send` body and as a websocket message), and holds none of what a
/// browser would mangle raw: no control character, no U+2028/2029, nothing outside
/// the BMP, nothing else sockjs-node escapes. (`<` and `>` stay raw here: only the
/// htmlfile envelope needs them escaped; see `prop_protocol/wire.rs`.)
#[test]
fn escaping_round_trips_and_leaves_nothing_a_browser_mangles() {
    check("escape_round_trip", 256, text(), |s| {
        let escaped = escape_json_string(&s);
        prop_assert_eq!(
            serde_json::from_str::<String>(&escaped).ok(),
            Some(s.clone())
        );
        prop_assert_eq!(
            decode_messages(format!("[{escaped}]").as_bytes()),
            Ok(vec![s.clone()])
        );
        prop_assert_eq!(decode_websocket_message(&escaped), Ok(vec![s.clone()]));
        let raw_bad = escaped.chars().find(|&c| c < ' ' || sockjs_escapes(c));
        prop_assert_eq!(raw_bad, None, "raw in {:?}", escaped);
        Ok(())
    });
}

/// For any string, the escaping (which scans eight bytes at a time and copies clean
/// runs in one piece) is exactly the character-at-a-time reference, and
/// `escape_json_string_into` appends that to what its buffer held.
#[test]
fn escaping_is_the_character_at_a_time_reference() {
    check("escape_reference", 256, (text(), text()), |(s, before)| {
        let escaped = escape_json_string(&s);
        prop_assert_eq!(&escaped, &reference_escape(&s));
        let mut out = before.clone();
        escape_json_string_into(&s, &mut out);
        prop_assert_eq!(out, before + &escaped);
        Ok(())
    });
}

/// For any code and reason, `Frame::close` is `c` and the JSON array
/// `[code,"reason"]`: the code in plain decimal, the reason escaped.
#[test]
fn close_frames_carry_any_code_and_reason() {
    check(
        "close_frame",
        256,
        (any::<u16>(), text()),
        |(code, reason)| {
            let frame = Frame::close(code, &reason);
            let expected_start = format!("c[{code},");
            prop_assert!(frame.as_str().starts_with(&expected_start), "{}", frame);
            let parsed: Option<(u16, String)> = serde_json::from_str(&frame.as_str()[1..]).ok();
            prop_assert_eq!(parsed, Some((code, reason.clone())));
            prop_assert_eq!(
                frame.as_str(),
                format!("c[{code},{}]", escape_json_string(&reason))
            );
            prop_assert_eq!(frame.messages_json(), None);
            Ok(())
        },
    );
}

/// How one message gets into a batch.
#[derive(Clone, Debug)]
enum Push {
    /// `push_text`.
    Text(String),
    /// `push_text_parts`: the message is the parts joined.
    Parts(Vec<String>),
    /// `push_encoded` of another batch's `messages_json` (one or more messages).
    Encoded(Vec<String>),
}

fn push() -> impl Strategy<Value = Push> {
    prop_oneof![
        text().prop_map(Push::Text),
        prop::collection::vec(text(), 0..4).prop_map(Push::Parts),
        prop::collection::vec(text(), 0..4).prop_map(Push::Encoded),
    ]
}

/// Any sequence of pushes (`push_text`, `push_text_parts`, `push_encoded` of any
/// batch's `messages_json`, an empty one's included) makes one `a[...]` frame whose
/// JSON array is every message in order: exactly `a[` and the pushed items, escaped,
/// joined with commas, and `]`. `len()` counts the pushes (an empty `push_encoded`
/// adds nothing), `byte_len()` the frame so far, and `push_text_parts(parts)` writes
/// exactly what `push_text(parts joined)` does. `Frame::message(s)` is the batch of
/// `s` alone. (An empty `push_encoded` once gave `a[,"x"]`: this property found it.)
#[test]
fn a_batch_is_a_json_array_of_its_messages_in_order() {
    let pushes = prop::collection::vec(push(), 0..6);
    check("message_batch", 256, pushes, |pushes| {
        let mut batch = MessageBatch::default();
        let mut joined = MessageBatch::default();
        let mut expected = Vec::new();
        let mut items = Vec::new();
        for push in &pushes {
            match push {
                Push::Text(s) => {
                    batch.push_text(s);
                    joined.push_text(s);
                    expected.push(s.clone());
                    items.push(escape_json_string(s));
                }
                Push::Parts(parts) => {
                    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                    batch.push_text_parts(&refs);
                    joined.push_text(&parts.concat());
                    expected.push(parts.concat());
                    items.push(escape_json_string(&parts.concat()));
                }
                Push::Encoded(messages) => {
                    let mut inner = MessageBatch::default();
                    for m in messages {
                        inner.push_text(m);
                    }
                    let frame = inner.finish();
                    let json = frame.messages_json().unwrap_or_default();
                    batch.push_encoded(json);
                    joined.push_encoded(json);
                    expected.extend(messages.iter().cloned());
                    if !json.is_empty() {
                        items.push(json.to_owned());
                    }
                }
            }
        }
        prop_assert_eq!(batch.len(), items.len());
        prop_assert_eq!(batch.is_empty(), items.is_empty());
        let byte_len = batch.byte_len();
        let frame = batch.finish();
        prop_assert_eq!(&frame, &joined.finish());
        prop_assert_eq!(frame.as_str(), format!("a[{}]", items.join(",")));
        if !items.is_empty() {
            prop_assert_eq!(byte_len + 1, frame.len());
        }
        let parsed: Option<Vec<String>> = serde_json::from_str(&frame.as_str()[1..]).ok();
        prop_assert_eq!(parsed, Some(expected.clone()));
        if let [Push::Text(one)] = &pushes[..] {
            prop_assert_eq!(&frame, &Frame::message(one));
            let escaped = escape_json_string(one);
            prop_assert_eq!(frame.messages_json(), Some(escaped.as_str()));
        }
        Ok(())
    });
}
