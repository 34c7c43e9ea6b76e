//! How each HTTP transport wraps a frame on the wire, and why the bytes survive the
//! real client.
//!
//! A frame (`o`, `h`, `a[...]`, `c[...]`) is already JSON escaped for every transport
//! (see [`escape_json_string`]): no raw control character, quote, backslash, line or
//! paragraph separator, BOM or specials-block character is left in it. What a
//! transport adds is an envelope, and the envelope must survive whatever
//! sockjs-client 1.x does to the bytes before it hands the frame to `JSON.parse`
//! (`SockJS.prototype._transportMessage` in `lib/main.js`: the first character is
//! the frame type, the rest is parsed as JSON):
//!
//! | transport | what the client does before `JSON.parse` | so the server writes |
//! |---|---|---|
//! | `websocket` | nothing: `e.data` of the text message (`lib/transport/websocket.js`) | the frame as the message |
//! | `xhr`, `xhr_streaming` | splits `responseText` on `\n` (`lib/transport/receiver/xhr.js`) | `FRAME\n`; a frame holds no raw `\n` |
//! | `eventsource` | the browser splits events on `\r`, `\n` and `\r\n`, drops one space after `data:`, a NUL may end the line; then **`decodeURI(e.data)`** (`lib/transport/receiver/eventsource.js`), which turns `%XX` escapes back into characters and throws `URIError` on a malformed one | `data: FRAME\r\n\r\n` with `%`, `\r`, `\n` and NUL percent-escaped (`%25`, `%0D`, `%0A`, `%00`), as sockjs-node does: `decodeURI` restores exactly those, and nothing else in the frame looks like an escape |
//! | `htmlfile` | the frame is a JavaScript string literal in a `<script>` block, passed to `c.message` (`lib/transport/receiver/htmlfile.js`) | `p("FRAME");` with the frame JSON-quoted again and `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`, so no `</script>` or `<!--` can appear |
//! | `jsonp` | the frame is a string literal argument of the callback (`lib/transport/receiver/jsonp.js`) | `/**/CALLBACK("FRAME");\r\n`, the frame JSON-quoted again |
//! | `iframe-*` | the inner page's receiver as above, then `postMessage(JSON.stringify(...))` and `JSON.parse` in the parent (`lib/transport/iframe.js`), which round-trips any string | as the inner transport |
//!
//! What sockjs-client sends is `escape.quote` of the message (`lib/utils/escape.js`):
//! `JSON.stringify`, then every surrogate and a list of other troublesome characters
//! as `\uXXXX`. A lone surrogate therefore arrives as a lone `\uXXXX` escape, which a
//! Rust `String` cannot hold: [`decode_messages`](super::decode_messages) turns it
//! into U+FFFD, the replacement the WHATWG encoding rules give it anywhere a string
//! becomes UTF-8.

use bytes::{BufMut, Bytes, BytesMut};

use super::escape::escape_json_string;
use super::frame::Frame;

/// An `xhr` or `xhr_streaming` chunk: `FRAME\n`.
///
/// ```
/// use actix_sockjs::protocol::{Frame, xhr_chunk};
/// assert_eq!(&xhr_chunk(&Frame::open())[..], b"o\n");
/// ```
pub fn xhr_chunk(frame: &Frame) -> Bytes {
    let mut out = BytesMut::with_capacity(frame.len() + 1);
    out.put_slice(frame.as_str().as_bytes());
    out.put_u8(b'\n');
    out.freeze()
}

/// An `eventsource` event: `data: FRAME\r\n\r\n`, with every `%`, `\r`, `\n` and NUL
/// of the frame percent-escaped, because sockjs-client passes the event's data
/// through `decodeURI` before parsing it.
///
/// ```
/// use actix_sockjs::protocol::{Frame, eventsource_event};
/// assert_eq!(&eventsource_event(&Frame::message("50% off"))[..], b"data: a[\"50%25 off\"]\r\n\r\n");
/// ```
pub fn eventsource_event(frame: &Frame) -> Bytes {
    let text = frame.as_str().as_bytes();
    let escapes = text
        .iter()
        .filter(|&&b| eventsource_escape(b).is_some())
        .count();
    let mut out = BytesMut::with_capacity(text.len() + 2 * escapes + 10);
    out.put_slice(b"data: ");
    if escapes == 0 {
        out.put_slice(text);
    } else {
        let mut clean_from = 0;
        for (i, &b) in text.iter().enumerate() {
            if let Some(escape) = eventsource_escape(b) {
                out.put_slice(&text[clean_from..i]);
                out.put_slice(escape);
                clean_from = i + 1;
            }
        }
        out.put_slice(&text[clean_from..]);
    }
    out.put_slice(b"\r\n\r\n");
    out.freeze()
}

/// The percent escape of a byte that must not appear raw in an event's data.
fn eventsource_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'%' => Some(b"%25"),
        b'\r' => Some(b"%0D"),
        b'\n' => Some(b"%0A"),
        0 => Some(b"%00"),
        _ => None,
    }
}

/// An `htmlfile` script block: `<script>\np("FRAME");\n</script>\r\n`, with `<`, `>`
/// and `&` escaped inside the string so a message holding `</script>` cannot end the
/// block.
///
/// ```
/// use actix_sockjs::protocol::{Frame, htmlfile_script};
/// let out = htmlfile_script(&Frame::message("</script>"));
/// assert_eq!(&out[..], b"<script>\np(\"a[\\\"\\u003c/script\\u003e\\\"]\");\n</script>\r\n");
/// ```
pub fn htmlfile_script(frame: &Frame) -> Bytes {
    let quoted = escape_json_string(frame.as_str());
    let mut out = BytesMut::with_capacity(quoted.len() + 32);
    out.put_slice(b"<script>\np(");
    for b in quoted.bytes() {
        match b {
            b'<' => out.put_slice(b"\\u003c"),
            b'>' => out.put_slice(b"\\u003e"),
            b'&' => out.put_slice(b"\\u0026"),
            b => out.put_u8(b),
        }
    }
    out.put_slice(b");\n</script>\r\n");
    out.freeze()
}

/// A `jsonp` answer: `/**/CALLBACK("FRAME");\r\n`, the frame as a JavaScript string
/// argument. The leading comment keeps the response from being sniffed as another
/// content type. `callback` must already be validated (`^[a-zA-Z0-9_.-]+$`).
///
/// ```
/// use actix_sockjs::protocol::{Frame, jsonp_call};
/// assert_eq!(&jsonp_call("cb", &Frame::open())[..], b"/**/cb(\"o\");\r\n");
/// ```
pub fn jsonp_call(callback: &str, frame: &Frame) -> Bytes {
    let quoted = escape_json_string(frame.as_str());
    let mut out = BytesMut::with_capacity(callback.len() + quoted.len() + 10);
    out.put_slice(b"/**/");
    out.put_slice(callback.as_bytes());
    out.put_u8(b'(');
    out.put_slice(quoted.as_bytes());
    out.put_slice(b");\r\n");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the browser's `decodeURI` does to an event's data: `%XX` sequences that
    /// form UTF-8 become characters, except those of the reserved set `;/?:@&=+$,#`,
    /// which stay escaped; a malformed escape is an error (`URIError`).
    fn decode_uri(s: &str) -> Result<String, String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'%' {
                out.push(bytes[i]);
                i += 1;
                continue;
            }
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("URIError: malformed at {i}"))?;
            if hex < 0x80 && b";/?:@&=+$,#".contains(&hex) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(hex);
            }
            i += 3;
        }
        String::from_utf8(out).map_err(|e| format!("URIError: {e}"))
    }

    /// The message of a one-message frame as sockjs-client gets it from an event.
    fn client_reads(event: &[u8]) -> Result<String, String> {
        let text = std::str::from_utf8(event).map_err(|e| e.to_string())?;
        let data = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\r\n\r\n"))
            .ok_or("not one event")?;
        assert!(!data.contains(['\r', '\n', '\0']), "{data:?}");
        let frame = decode_uri(data)?;
        let json = frame.strip_prefix('a').ok_or("not a message frame")?;
        let mut messages: Vec<String> = serde_json::from_str(json).map_err(|e| e.to_string())?;
        assert_eq!(messages.len(), 1);
        messages.pop().ok_or_else(|| "no message".into())
    }

    #[test]
    fn eventsource_percent_escapes_exactly_what_decode_uri_restores() {
        assert_eq!(
            &eventsource_event(&Frame::message("%20"))[..],
            b"data: a[\"%2520\"]\r\n\r\n"
        );
        assert_eq!(
            &eventsource_event(&Frame::message("%%"))[..],
            b"data: a[\"%25%25\"]\r\n\r\n"
        );
        assert_eq!(&eventsource_event(&Frame::open())[..], b"data: o\r\n\r\n");
    }

    #[test]
    fn eventsource_escapes_raw_line_breaks_and_nul() {
        // Message frames never hold them raw (they are JSON escaped), but a frame
        // is only text: the envelope must not depend on that.
        let mut batch = crate::protocol::MessageBatch::default();
        batch.push_encoded("\"a\r\nb\0%\"");
        assert_eq!(
            &eventsource_event(&batch.finish())[..],
            b"data: a[\"a%0D%0Ab%00%25\"]\r\n\r\n"
        );
    }

    #[test]
    fn every_message_survives_decode_uri_and_json_parse() {
        let mut cases: Vec<String> = [
            "%",
            "%20",
            "%%",
            "%zz",
            "%E2%80%A8",
            "100%",
            "50% off",
            "%25",
            "%u2028",
            "%0A",
            "%3B%2F%3F",
            "a\u{2028}%\u{2029}b",
            "\r\n\0",
            "% \u{ffff} \u{1f600} %",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every code point, in chunks.
        let all: Vec<char> = (0u32..=0x10ffff).filter_map(char::from_u32).collect();
        cases.extend(all.chunks(4096).map(|c| c.iter().collect::<String>()));
        for msg in cases {
            let event = eventsource_event(&Frame::message(&msg));
            assert_eq!(client_reads(&event).as_ref(), Ok(&msg), "{msg:?}");
        }
    }

    #[test]
    fn without_escaping_the_client_would_fail() {
        // The oracle itself can fail: the unescaped frame loses or breaks messages.
        assert_eq!(decode_uri("a[\"%20\"]"), Ok("a[\" \"]".into()));
        assert!(decode_uri("a[\"100%\"]").is_err());
    }

    #[test]
    fn xhr_chunk_is_the_frame_and_a_newline() {
        assert_eq!(&xhr_chunk(&Frame::message("a\nb"))[..], b"a[\"a\\nb\"]\n");
    }

    #[test]
    fn htmlfile_script_end_tags_in_messages_are_escaped() {
        let out = htmlfile_script(&Frame::message("</script>&<!--"));
        let text = std::str::from_utf8(&out).expect("utf8");
        assert_eq!(text.matches("</script>").count(), 1, "{text}");
        assert!(!text.contains("<!--"), "{text}");
        assert!(text.ends_with("</script>\r\n"));
    }

    #[test]
    fn jsonp_call_is_a_commented_callback_call() {
        assert_eq!(
            &jsonp_call("cb", &Frame::message("x"))[..],
            b"/**/cb(\"a[\\\"x\\\"]\");\r\n"
        );
    }
}
