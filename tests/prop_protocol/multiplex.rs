//! The multiplexing format: `ChannelMessage::parse`, `channel_message`,
//! `channel_close`, `escape_channel_name`.

use actix_sockjs::protocol::{
    ChannelMessage, ChannelMessageError, channel_close, channel_message, escape_channel_name,
};
use proptest::prelude::*;

use super::frames::text;
use super::runner::check;

/// Pieces that matter to parsing: the three types and near misses, commas.
#[rustfmt::skip]
const PIECES: &[&str] = &["sub", "msg", "uns", ",", ",", "SUB", "su", "msgx", " ", ""];

/// Text made of those pieces and any other text, or a type (or near miss) and
/// fields joined with commas, as a client writes them.
fn message_text() -> impl Strategy<Value = String> {
    let piece =
        || prop_oneof![3 => prop::sample::select(PIECES).prop_map(str::to_owned), 1 => text()];
    let field = prop::collection::vec(piece(), 0..3).prop_map(|p| p.concat());
    prop_oneof![
        prop::collection::vec(piece(), 0..6).prop_map(|p| p.concat()),
        (
            prop::sample::select(PIECES),
            prop::collection::vec(field, 0..4)
        )
            .prop_map(|(kind, fields)| [vec![kind.to_owned()], fields].concat().join(",")),
    ]
}

/// For any text, `ChannelMessage::parse` splits as the reference server does: the
/// type is what precedes the first comma (no comma: `MissingChannel`; not `sub`,
/// `msg` or `uns`: `UnknownType`), the channel what precedes the second comma, the
/// payload of a `msg` all the rest (empty without a second comma), and the rest of a
/// `sub` or `uns` is ignored. Never a panic.
#[test]
fn parse_splits_on_the_first_two_commas() {
    check("channel_message_parse", 256, message_text(), |text| {
        let expected = match text.split_once(',') {
            None => Err(ChannelMessageError::MissingChannel),
            Some((kind, rest)) => {
                let mut fields = rest.splitn(2, ',');
                let channel = fields.next().unwrap_or_default();
                let payload = fields.next().unwrap_or_default();
                match kind {
                    "sub" => Ok(ChannelMessage::Subscribe(channel)),
                    "msg" => Ok(ChannelMessage::Message(channel, payload)),
                    "uns" => Ok(ChannelMessage::Unsubscribe(channel)),
                    _ => Err(ChannelMessageError::UnknownType),
                }
            }
        };
        let parsed = ChannelMessage::parse(&text);
        prop_assert_eq!(parsed, expected);
        if let Ok(message) = parsed {
            prop_assert!(!message.channel().contains(','));
        }
        Ok(())
    });
}

/// For any channel name (escaped, so without commas) and any payload, what the
/// server writes parses back to what it meant: `channel_message(c, p)` is
/// `Message(c, p)` and `channel_close(c)` is `Unsubscribe(c)`; `sub,c` is
/// `Subscribe(c)`.
#[test]
fn server_messages_parse_back() {
    check(
        "channel_round_trip",
        256,
        (text(), text()),
        |(name, payload)| {
            let channel = escape_channel_name(&name);
            let message = channel_message(&channel, &payload);
            prop_assert_eq!(
                ChannelMessage::parse(&message),
                Ok(ChannelMessage::Message(&channel, &payload))
            );
            let close = channel_close(&channel);
            prop_assert_eq!(
                ChannelMessage::parse(&close),
                Ok(ChannelMessage::Unsubscribe(&channel))
            );
            let subscribe = format!("sub,{channel}");
            prop_assert_eq!(
                ChannelMessage::parse(&subscribe),
                Ok(ChannelMessage::Subscribe(&channel))
            );
            Ok(())
        },
    );
}

/// JavaScript's `unescape`: `%XX` and `%uXXXX` become the UTF-16 code unit they
/// name; anything else stays as it is.
fn js_unescape(s: &str) -> Option<String> {
    let mut units = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let hex = |digits: &str| {
            digits
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
                .then(|| u16::from_str_radix(digits, 16).ok())
                .flatten()
        };
        let escape = if let Some(digits) = rest.strip_prefix("%u").and_then(|r| r.get(..4)) {
            hex(digits).map(|u| (u, 6))
        } else if let Some(digits) = rest.strip_prefix('%').and_then(|r| r.get(..2)) {
            hex(digits).map(|u| (u, 3))
        } else {
            None
        };
        match escape {
            Some((unit, len)) => {
                units.push(unit);
                rest = &rest[len..];
            }
            None => {
                units.extend_from_slice(c.encode_utf16(&mut [0; 2]));
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    String::from_utf16(&units).ok()
}

/// For any name, `escape_channel_name` is JavaScript's `escape`: only ASCII letters,
/// digits, `@*_+-./` and `%XX` / `%uXXXX` escapes (upper-case hex, `XX` below 0x100),
/// JavaScript's `unescape` gives the name back, no comma can appear (so a name
/// cannot break the `TYPE,CHANNEL,PAYLOAD` split), and a name needing no escape is
/// returned as it is.
#[test]
fn channel_names_escape_like_javascript() {
    check("escape_channel_name", 256, text(), |name| {
        let escaped = escape_channel_name(&name);
        prop_assert_eq!(js_unescape(&escaped), Some(name.clone()));
        let kept = |c: char| c.is_ascii_alphanumeric() || "@*_+-./".contains(c);
        let mut rest: &str = &escaped;
        while let Some(c) = rest.chars().next() {
            if let Some(hex) = rest.strip_prefix("%u").and_then(|r| r.get(..4)) {
                let upper = hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
                let unit = u16::from_str_radix(hex, 16).ok();
                prop_assert!(upper && unit >= Some(0x100), "{:?}", escaped);
                rest = &rest[6..];
            } else if let Some(hex) = rest.strip_prefix('%').and_then(|r| r.get(..2)) {
                let upper = hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
                prop_assert!(upper, "{:?}", escaped);
                rest = &rest[3..];
            } else {
                prop_assert!(kept(c), "{:?} raw in {:?}", c, escaped);
                rest = &rest[c.len_utf8()..];
            }
        }
        prop_assert_eq!(escaped == name.as_str(), name.chars().all(kept));
        Ok(())
    });
}
