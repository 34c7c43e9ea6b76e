//! Decoding what clients send.

/// Why an incoming payload was refused. The `Display` text is the exact body SockJS
/// answers with (HTTP 500).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The body was empty.
    Expected,
    /// The body was not a JSON array of strings (or not UTF-8).
    BrokenJson,
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PayloadError::Expected => "Payload expected.",
            PayloadError::BrokenJson => "Broken JSON encoding.",
        })
    }
}

impl std::error::Error for PayloadError {}

/// Decodes an `xhr_send` / `jsonp_send` body: a JSON array of strings.
///
/// ```
/// use actix_sockjs::protocol::{decode_messages, PayloadError};
/// assert_eq!(decode_messages(br#"["a","b"]"#), Ok(vec!["a".to_string(), "b".to_string()]));
/// assert_eq!(decode_messages(b""), Err(PayloadError::Expected));
/// assert_eq!(decode_messages(b"[\"x"), Err(PayloadError::BrokenJson));
/// ```
pub fn decode_messages(body: &[u8]) -> Result<Vec<String>, PayloadError> {
    if body.is_empty() {
        return Err(PayloadError::Expected);
    }
    if let Some(msg) = std::str::from_utf8(body)
        .ok()
        .and_then(single_plain_message)
    {
        return Ok(vec![msg.to_owned()]);
    }
    let text = std::str::from_utf8(body).map_err(|_| PayloadError::BrokenJson)?;
    parse_json(text)
}

/// `serde_json::from_str`, except that a lone surrogate escape (which no Rust string
/// can hold) becomes U+FFFD instead of failing the whole payload.
fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PayloadError> {
    serde_json::from_str(text).or_else(|_| match replace_lone_surrogates(text) {
        Some(fixed) => serde_json::from_str(&fixed).map_err(|_| PayloadError::BrokenJson),
        None => Err(PayloadError::BrokenJson),
    })
}

/// `text` with every `\uXXXX` escape of a surrogate that is not half of a
/// high-low pair replaced by `\ufffd`; `None` if there is none. sockjs-client sends
/// every surrogate as such an escape, so a JavaScript string holding a lone one (a
/// string cut in the middle of an emoji, say) arrives as one.
fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let unit_at = |at: usize| -> Option<u16> {
        if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
            return None;
        }
        let hex = text.get(at + 2..at + 6)?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut out: Option<String> = None;
    let mut clean_from = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = unit_at(i) else {
            // Another escape (or a broken one): skip the backslash and what it escapes.
            i += 2;
            continue;
        };
        let lone = match unit {
            0xd800..=0xdbff => {
                !unit_at(i + 6).is_some_and(|next| (0xdc00..=0xdfff).contains(&next))
            }
            0xdc00..=0xdfff => true,
            _ => false,
        };
        if lone {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[clean_from..i]);
            out.push_str("\\ufffd");
            clean_from = i + 6;
            i += 6;
        } else if (0xd800..=0xdbff).contains(&unit) {
            i += 12;
        } else {
            i += 6;
        }
    }
    let mut out = out?;
    out.push_str(&text[clean_from..]);
    Some(out)
}

/// Decodes one websocket text message of the SockJS websocket transport: a JSON array
/// of strings or, as sockjs-node also accepts, a single JSON string. An empty message
/// (or one of JSON whitespace only) decodes to no message; any other leading
/// character, Unicode whitespace included, makes it broken JSON, as for `JSON.parse`.
///
/// ```
/// use actix_sockjs::protocol::decode_websocket_message;
/// assert_eq!(decode_websocket_message(r#"["a"]"#), Ok(vec!["a".to_string()]));
/// assert_eq!(decode_websocket_message(r#""a""#), Ok(vec!["a".to_string()]));
/// assert_eq!(decode_websocket_message(""), Ok(vec![]));
/// ```
pub fn decode_websocket_message(text: &str) -> Result<Vec<String>, PayloadError> {
    Ok(match decode_websocket_messages(text)? {
        None => Vec::new(),
        Some(Messages::One(msg)) => vec![msg],
        Some(Messages::Many(messages)) => messages,
    })
}

/// The four characters JSON allows around its values.
const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The messages of one client websocket message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Messages {
    /// The usual case, kept out of a `Vec`.
    One(String),
    /// Several (never fewer than two).
    Many(Vec<String>),
}

/// [`decode_websocket_message`], without a `Vec` for the usual single message;
/// `None` for no message.
pub(crate) fn decode_websocket_messages(text: &str) -> Result<Option<Messages>, PayloadError> {
    // JSON's whitespace only: anything else before the JSON is broken framing, as it
    // is for `JSON.parse`.
    let trimmed = text.trim_start_matches(JSON_WHITESPACE);
    if trimmed.is_empty() {
        return Ok(None);
    }
    if let Some(msg) = single_plain_message(trimmed) {
        return Ok(Some(Messages::One(msg.to_owned())));
    }
    if !trimmed.starts_with('[') {
        return parse_json::<String>(trimmed).map(|msg| Some(Messages::One(msg)));
    }
    let mut messages: Vec<String> = parse_json(trimmed)?;
    Ok(match messages.len() {
        0 => None,
        1 => messages.pop().map(Messages::One),
        _ => Some(Messages::Many(messages)),
    })
}

/// The usual client message, `["text"]` with nothing in `text` to unescape, read
/// without a JSON parser (serde_json costs several times more for it). Anything else
/// (several messages, escapes, whitespace, control characters, which JSON forbids
/// raw) is left to serde_json, so both paths accept exactly the same input.
fn single_plain_message(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("[\"")?.strip_suffix("\"]")?;
    (super::escape::plain_prefix(inner.as_bytes(), true) == inner.len()).then_some(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_body_is_payload_expected() {
        assert_eq!(decode_messages(b""), Err(PayloadError::Expected));
        assert_eq!(PayloadError::Expected.to_string(), "Payload expected.");
    }

    #[test]
    fn non_array_or_non_string_items_are_broken_json() {
        for body in [
            &b"x"[..],
            b"[",
            b"{}",
            b"[1]",
            b"\"a\"",
            b"[\"a\",]",
            b"[\"\\ud800\",]",
            b"[\"\\ud80\"]",
        ] {
            assert_eq!(
                decode_messages(body),
                Err(PayloadError::BrokenJson),
                "{body:?}"
            );
        }
        assert_eq!(
            PayloadError::BrokenJson.to_string(),
            "Broken JSON encoding."
        );
    }

    #[test]
    fn invalid_utf8_is_broken_json() {
        assert_eq!(
            decode_messages(b"[\"\xff\"]"),
            Err(PayloadError::BrokenJson)
        );
    }

    #[test]
    fn escaped_code_points_decode() {
        let body = br#"["\u2028\ud83d\ude00\u0000x"]"#;
        assert_eq!(
            decode_messages(body),
            Ok(vec!["\u{2028}\u{1f600}\u{0}x".to_string()])
        );
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        for (body, want) in [
            (r#"["\ud800"]"#, "\u{fffd}"),
            (r#"["\udc00x"]"#, "\u{fffd}x"),
            (r#"["a\ud83d"]"#, "a\u{fffd}"),
            (r#"["\ud83d\ud83d\ude00"]"#, "\u{fffd}\u{1f600}"),
            (r#"["\ude00\ud83d"]"#, "\u{fffd}\u{fffd}"),
            (r#"["\ud83d\n"]"#, "\u{fffd}\n"),
            (r#"["\\ud800"]"#, "\\ud800"),
            (r#"["\\\ud800"]"#, "\\\u{fffd}"),
        ] {
            assert_eq!(
                decode_messages(body.as_bytes()),
                Ok(vec![want.to_string()]),
                "{body}"
            );
            assert_eq!(
                decode_websocket_message(body),
                Ok(vec![want.to_string()]),
                "{body}"
            );
        }
        assert_eq!(
            decode_websocket_message(r#""\udfff""#),
            Ok(vec!["\u{fffd}".to_string()])
        );
        // Each message of a batch on its own.
        assert_eq!(
            decode_messages(br#"["\ud800","ok","\ud83d\ude00"]"#),
            Ok(vec!["\u{fffd}".into(), "ok".into(), "\u{1f600}".into()])
        );
        assert_eq!(replace_lone_surrogates(r#"["\ud83d\ude00"]"#), None);
    }

    #[test]
    fn the_plain_fast_path_agrees_with_serde_json() {
        for body in [
            r#"["abc"]"#,
            r#"[""]"#,
            r#"["a","b"]"#,
            r#"["a\"b"]"#,
            r#"["a\\"]"#,
            "[\"a\u{1}\"]",
            "[\"a\u{7f}é😀\"]",
            r#"["a"] "#,
            r#"["a"]x"#,
            r#"["]"#,
            r#"["a" ]"#,
        ] {
            let serde: Result<Vec<String>, PayloadError> =
                serde_json::from_str(body).map_err(|_| PayloadError::BrokenJson);
            assert_eq!(decode_messages(body.as_bytes()), serde, "{body:?}");
            assert_eq!(decode_websocket_message(body), serde, "{body:?}");
        }
        assert_eq!(single_plain_message(r#"["x y"]"#), Some("x y"));
        assert_eq!(single_plain_message(r#"["x","y"]"#), None);
    }

    #[test]
    fn empty_array_is_no_messages() {
        assert_eq!(decode_messages(b"[]"), Ok(vec![]));
    }

    #[test]
    fn websocket_accepts_array_or_string_and_rejects_the_rest() {
        assert_eq!(
            decode_websocket_message(r#"["a","b"]"#),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(decode_websocket_message(r#""a""#), Ok(vec!["a".into()]));
        assert_eq!(
            decode_websocket_message(r#"["a"#),
            Err(PayloadError::BrokenJson)
        );
        assert_eq!(decode_websocket_message("1"), Err(PayloadError::BrokenJson));
    }
}
