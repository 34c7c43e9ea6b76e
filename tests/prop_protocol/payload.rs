//! Decoding what clients send: `decode_messages` (xhr_send, jsonp_send) and
//! `decode_websocket_message`.

use actix_sockjs::protocol::{PayloadError, decode_messages, decode_websocket_message};
use proptest::prelude::*;

use super::json_oracle::{
    client_array, has_lone_surrogate, json_soup, lossy, parse_array, parse_string, payload_bytes,
};
use super::runner::check;

/// What `decode_messages` must answer: `Expected` for an empty body, `BrokenJson`
/// for anything that is not UTF-8 holding a JSON array of strings, else the strings
/// with every lone surrogate as U+FFFD.
fn oracle_messages(body: &[u8]) -> Result<Vec<String>, PayloadError> {
    if body.is_empty() {
        return Err(PayloadError::Expected);
    }
    let text = std::str::from_utf8(body).map_err(|_| PayloadError::BrokenJson)?;
    parse_array(text)
        .map(|items| lossy(&items))
        .ok_or(PayloadError::BrokenJson)
}

/// The oracle agrees with serde_json on every input serde_json can judge: it accepts
/// what serde_json accepts, with the same strings, and refuses what serde_json
/// refuses, except an array holding a lone surrogate, which serde_json refuses.
fn oracle_agrees_with_serde<T>(
    oracle: Option<Vec<Vec<u16>>>,
    serde: Result<T, serde_json::Error>,
    as_vec: impl Fn(T) -> Vec<String>,
) -> Result<(), TestCaseError> {
    match (oracle, serde) {
        (Some(items), Ok(value)) => prop_assert_eq!(lossy(&items), as_vec(value)),
        (Some(items), Err(e)) => prop_assert!(
            has_lone_surrogate(&items),
            "serde_json refused ({}) what the oracle read as {:?}",
            e,
            items
        ),
        (None, Ok(value)) => {
            prop_assert!(
                false,
                "serde_json read {:?}, the oracle refused",
                as_vec(value)
            )
        }
        (None, Err(_)) => {}
    }
    Ok(())
}

/// For any bytes, `decode_messages` returns the oracle's answer: the JSON array's
/// strings or a clean error (`Expected` when empty, `BrokenJson` otherwise), never a
/// panic; a lone surrogate escape gives U+FFFD instead of an error. The oracle
/// itself agrees with serde_json wherever serde_json can judge.
#[test]
fn decode_messages_is_serde_json_with_lone_surrogates_replaced() {
    let body = payload_bytes().prop_map(bytes::Bytes::from);
    check("decode_messages_oracle", 256, body, |body| {
        let got = decode_messages(&body);
        prop_assert_eq!(&got, &oracle_messages(&body));
        if let Ok(text) = std::str::from_utf8(&body) {
            oracle_agrees_with_serde(parse_array(text), serde_json::from_str(text), |v| v)?;
        } else {
            prop_assert_eq!(got, Err(PayloadError::BrokenJson));
        }
        Ok(())
    });
}

/// Whatever way a client writes an array of JavaScript strings as JSON (raw or
/// escaped, either hex case, short escapes, whitespace), `decode_messages` gives back
/// exactly those strings, each lone surrogate as U+FFFD. This one needs no oracle:
/// the expected strings are where the text came from.
#[test]
fn decode_messages_reads_any_client_encoding() {
    check(
        "decode_messages_client",
        256,
        client_array(),
        |(text, expected)| {
            prop_assert_eq!(decode_messages(text.as_bytes()), Ok(expected.clone()));
            prop_assert_eq!(decode_websocket_message(&text), Ok(expected));
            Ok(())
        },
    );
}

const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// What `decode_websocket_message` must answer: no message for a message that is
/// empty or only whitespace; else, after leading whitespace, a JSON array of strings
/// or a single JSON string, lone surrogates as U+FFFD; `BrokenJson` for the rest.
/// Leading whitespace is JSON's four characters only: other Unicode whitespace
/// before the JSON is broken, as for `JSON.parse`.
fn oracle_websocket(text: &str) -> Result<Vec<String>, PayloadError> {
    let trimmed = text.trim_start_matches(JSON_WHITESPACE);
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let items = if trimmed.starts_with('[') {
        parse_array(trimmed)
    } else {
        parse_string(trimmed).map(|s| vec![s])
    };
    items.map(|i| lossy(&i)).ok_or(PayloadError::BrokenJson)
}

/// For any text, `decode_websocket_message` returns the oracle's answer (an array
/// of strings, or one string, or nothing for an empty message), never a panic; the
/// oracle agrees with serde_json wherever serde_json can judge.
#[test]
fn decode_websocket_message_is_serde_json_with_lone_surrogates_replaced() {
    let text = prop_oneof![
        json_soup(),
        client_array().prop_map(|(text, _)| text),
        (
            prop::sample::select(&["", " ", "\n\t", "\u{a0}", "\u{2028}", "\u{b}"][..]),
            json_soup()
        )
            .prop_map(|(ws, s)| format!("{ws}{s}")),
        any::<String>(),
    ];
    check("decode_websocket_message_oracle", 256, text, |text| {
        prop_assert_eq!(decode_websocket_message(&text), oracle_websocket(&text));
        let trimmed = text.trim_start_matches(JSON_WHITESPACE);
        if trimmed.starts_with('[') {
            oracle_agrees_with_serde(parse_array(trimmed), serde_json::from_str(trimmed), |v| v)?;
        } else if !trimmed.is_empty() {
            oracle_agrees_with_serde(
                parse_string(trimmed).map(|s| vec![s]),
                serde_json::from_str::<String>(trimmed),
                |s| vec![s],
            )?;
        }
        Ok(())
    });
}
