//! The transport envelopes: `xhr_chunk`, `eventsource_event`, `htmlfile_script`,
//! `jsonp_call`. Each property reads the envelope back the way sockjs-client does and
//! must get the frame's exact text, for any frame: the frames the library builds,
//! and (because an envelope must not rely on its frame being escaped) a batch holding
//! any text at all through `push_encoded`.

use actix_sockjs::protocol::{
    Frame, MessageBatch, eventsource_event, htmlfile_script, jsonp_call, xhr_chunk,
};
use proptest::prelude::*;

use super::frames::text;
use super::runner::check;

/// Whether a frame came from the library's own constructors (so it is JSON escaped).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Made {
    Escaped,
    Raw,
}

fn frame() -> impl Strategy<Value = (Frame, Made)> {
    prop_oneof![
        Just((Frame::open(), Made::Escaped)),
        Just((Frame::heartbeat(), Made::Escaped)),
        (any::<u16>(), text())
            .prop_map(|(code, reason)| (Frame::close(code, &reason), Made::Escaped)),
        prop::collection::vec(text(), 0..4).prop_map(|messages| {
            let mut batch = MessageBatch::default();
            for m in &messages {
                batch.push_text(m);
            }
            (batch.finish(), Made::Escaped)
        }),
        text().prop_map(|raw| {
            let mut batch = MessageBatch::default();
            batch.push_encoded(&raw);
            (batch.finish(), Made::Raw)
        }),
    ]
}

/// JavaScript's `decodeURI` (ECMA-262, "Decode"): each `%XX` escape, or run of them
/// forming one UTF-8 character, becomes that character, except the reserved
/// characters `;/?:@&=+$,#`, whose escapes stay as they are; a malformed escape or
/// invalid UTF-8 is a `URIError`.
fn decode_uri(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let hex_at = |at: usize| -> Result<u8, String> {
        if bytes.get(at) != Some(&b'%') {
            return Err(format!("URIError: no escape at {at}"));
        }
        s.get(at + 1..at + 3)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .ok_or_else(|| format!("URIError: malformed escape at {at}"))
    };
    let mut out = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            let c = s[i..].chars().next().ok_or("cut")?;
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let first = hex_at(i)?;
        if first < 0x80 {
            if b";/?:@&=+$,#".contains(&first) {
                out.push_str(&s[i..i + 3]);
            } else {
                out.push(char::from(first));
            }
            i += 3;
            continue;
        }
        let n = match first.leading_ones() {
            2 => 2,
            3 => 3,
            4 => 4,
            _ => return Err(format!("URIError: bad lead byte at {i}")),
        };
        let mut utf8 = vec![first];
        for k in 1..n {
            utf8.push(hex_at(i + 3 * k)?);
        }
        // from_utf8 refuses overlong forms, surrogates and code points past U+10FFFF,
        // as decodeURI does.
        out.push_str(std::str::from_utf8(&utf8).map_err(|e| format!("URIError: {e}"))?);
        i += 3 * n;
    }
    Ok(out)
}

/// For any frame, `xhr_chunk` is the frame and one `\n`; a frame the library escaped
/// holds no other `\n`, so sockjs-client's split on newlines gives the frame back.
#[test]
fn xhr_chunk_is_the_frame_and_one_newline() {
    check("xhr_chunk", 256, frame(), |(frame, made)| {
        let chunk = xhr_chunk(&frame);
        let expected = format!("{frame}\n");
        prop_assert_eq!(&chunk[..], expected.as_bytes());
        if made == Made::Escaped {
            prop_assert_eq!(chunk.iter().filter(|&&b| b == b'\n').count(), 1);
        }
        Ok(())
    });
}

/// For any frame, `eventsource_event` is one event, `data: DATA\r\n\r\n`, whose data
/// holds no `\r`, `\n` or NUL (which would end or cut the event), and which
/// `decodeURI` (what sockjs-client does to it) turns back into exactly the frame.
#[test]
fn eventsource_data_survives_decode_uri() {
    check("eventsource_event", 256, frame(), |(frame, _)| {
        let event = eventsource_event(&frame);
        let event = std::str::from_utf8(&event).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let data = event
            .strip_prefix("data: ")
            .and_then(|e| e.strip_suffix("\r\n\r\n"));
        prop_assert!(data.is_some(), "not one event: {:?}", event);
        let data = data.unwrap_or_default();
        prop_assert!(!data.contains(['\r', '\n', '\0']), "{:?}", data);
        prop_assert_eq!(decode_uri(data), Ok(frame.to_string()));
        Ok(())
    });
}

/// For any frame, `htmlfile_script` is one `<script>` block calling `p` with one
/// JavaScript string whose value is exactly the frame, and which holds no raw `<`,
/// `>` or `&` (so no `</script>` or `<!--` can end or hide the block) and no raw
/// U+2028/2029 or control character (which end a JavaScript string literal).
#[test]
fn htmlfile_script_holds_the_frame_as_one_safe_string() {
    check("htmlfile_script", 256, frame(), |(frame, _)| {
        let script = htmlfile_script(&frame);
        let script =
            std::str::from_utf8(&script).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let literal = script
            .strip_prefix("<script>\np(")
            .and_then(|s| s.strip_suffix(");\n</script>\r\n"));
        prop_assert!(literal.is_some(), "not one script block: {:?}", script);
        let literal = literal.unwrap_or_default();
        let raw_bad = literal
            .chars()
            .find(|&c| matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') || c < ' ');
        prop_assert_eq!(raw_bad, None, "raw in {:?}", literal);
        prop_assert_eq!(
            serde_json::from_str::<String>(literal).ok(),
            Some(frame.to_string())
        );
        Ok(())
    });
}

/// For any valid callback name and any frame, `jsonp_call` is
/// `/**/NAME("FRAME");\r\n`: one call of the callback with one JavaScript string
/// whose value is exactly the frame, holding no raw U+2028/2029 or control character.
#[test]
fn jsonp_call_passes_the_frame_as_one_string() {
    let input = ("[a-zA-Z0-9_.-]{1,16}", frame());
    check("jsonp_call", 256, input, |(callback, (frame, _))| {
        let call = jsonp_call(&callback, &frame);
        let call = std::str::from_utf8(&call).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let prefix = format!("/**/{callback}(");
        let literal = call
            .strip_prefix(prefix.as_str())
            .and_then(|s| s.strip_suffix(");\r\n"));
        prop_assert!(literal.is_some(), "not one call: {:?}", call);
        let literal = literal.unwrap_or_default();
        let raw_bad = literal
            .chars()
            .find(|&c| matches!(c, '\u{2028}' | '\u{2029}') || c < ' ');
        prop_assert_eq!(raw_bad, None, "raw in {:?}", literal);
        prop_assert_eq!(
            serde_json::from_str::<String>(literal).ok(),
            Some(frame.to_string())
        );
        Ok(())
    });
}

/// The oracle can fail: what `decodeURI` makes of a frame written without the
/// escaping is not the frame, or an error.
#[test]
fn the_decode_uri_oracle_can_fail() {
    assert_eq!(decode_uri("a[\"%20\"]"), Ok("a[\" \"]".into()));
    assert_eq!(decode_uri("%3B%e2%80%a8"), Ok("%3B\u{2028}".into()));
    assert!(decode_uri("a[\"100%\"]").is_err());
    assert!(decode_uri("%C0%80").is_err(), "overlong");
    assert!(decode_uri("%ED%A0%80").is_err(), "surrogate");
}
