//! The escaping scan and the websocket decoder's inner form.

use proptest::prelude::*;

use super::runner::check;
use crate::protocol::escape::plain_prefix;
use crate::protocol::{Messages, decode_websocket_message, decode_websocket_messages};

/// Bytes weighted towards long plain runs (so the eight-bytes-at-a-time scan goes
/// far) broken by the bytes it must stop at, and their neighbours.
fn scan_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => prop::sample::select(&b"abcdefgh !#[]~"[..]),
        2 => prop::sample::select(
            &[0x00, 0x1f, 0x20, b'"', b'\\', 0x7f, 0x80, 0xc3, 0xe2, 0xff, 0x21, 0x5b, 0x5d][..]
        ),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..40)
}

/// For any bytes, `plain_prefix(bytes, non_ascii)` (eight bytes at a time, with bit
/// tricks) is the length of the longest prefix of bytes at or above 0x20, neither `"`
/// nor `\`, and (unless `non_ascii`) below 0x80: the byte-at-a-time definition.
#[test]
fn plain_prefix_is_the_byte_at_a_time_scan() {
    check(
        "plain_prefix",
        256,
        (scan_bytes(), any::<bool>()),
        |(bytes, non_ascii)| {
            let plain = |b: u8| b >= 0x20 && b != b'"' && b != b'\\' && (non_ascii || b < 0x80);
            let expected = bytes.iter().take_while(|&&b| plain(b)).count();
            prop_assert_eq!(plain_prefix(&bytes, non_ascii), expected);
            Ok(())
        },
    );
}

/// Pieces of websocket messages: arrays of plain and escaped strings, JSON-like soup.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "[", "]", "\"", ",", " ", "\u{a0}", "\\", "\\u", "\\ud800", "\\ude00", "\\n", "a", "é",
    "\u{1}", "\"a\"", "[\"a\"]", "[\"a\",\"b\"]", "[]", "1",
];

/// Text for the websocket decoder: pieces in any order, or anything.
fn websocket_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..10).prop_map(|p| p.concat()),
        any::<String>(),
    ]
}

/// For any text, `decode_websocket_messages` (no `Vec` for one message) says what
/// the public `decode_websocket_message` says: `None` for no message, `One` for one,
/// `Many` (never fewer than two) for more, and the same error.
#[test]
fn the_inner_websocket_decoder_agrees_with_the_public_one() {
    check("decode_websocket_messages", 256, websocket_text(), |text| {
        let public = decode_websocket_message(&text);
        let inner = decode_websocket_messages(&text).map(|m| match m {
            None => Vec::new(),
            Some(Messages::One(m)) => vec![m],
            Some(Messages::Many(m)) => m,
        });
        prop_assert_eq!(&inner, &public);
        if let Ok(Some(Messages::Many(m))) = decode_websocket_messages(&text) {
            prop_assert!(m.len() >= 2);
        }
        Ok(())
    });
}
