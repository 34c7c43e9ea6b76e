//! The oracle for payload decoding, and the JSON-like inputs the properties feed it.
//!
//! serde_json is the reference for what is JSON, but it refuses a lone surrogate
//! escape (`"\ud800"`) that a JavaScript client sends for a string cut in the middle
//! of a surrogate pair, where the library gives U+FFFD. So the oracle is a small
//! strict JSON reader that keeps strings as UTF-16 code units, as JavaScript's
//! `JSON.parse` does; `String::from_utf16_lossy` then gives what the library must
//! return. The properties check the oracle against serde_json wherever serde_json can
//! judge (every input without a lone surrogate), so it is not trusted blindly.

use proptest::prelude::*;

/// A JSON text read as JavaScript's `JSON.parse` would, for the two shapes SockJS
/// accepts; `None` when the text is not that shape (or not JSON at all).
pub(crate) fn parse_array(text: &str) -> Option<Vec<Vec<u16>>> {
    let mut p = Reader(text.chars().peekable());
    p.whitespace();
    p.expect('[')?;
    p.whitespace();
    let mut items = Vec::new();
    if !p.eat(']') {
        loop {
            items.push(p.string()?);
            p.whitespace();
            if p.eat(']') {
                break;
            }
            p.expect(',')?;
            p.whitespace();
        }
    }
    p.whitespace();
    p.end()?;
    Some(items)
}

/// A JSON text that is one string, as UTF-16 code units.
pub(crate) fn parse_string(text: &str) -> Option<Vec<u16>> {
    let mut p = Reader(text.chars().peekable());
    p.whitespace();
    let s = p.string()?;
    p.whitespace();
    p.end()?;
    Some(s)
}

/// The strings as Rust strings: every lone surrogate becomes U+FFFD.
pub(crate) fn lossy(items: &[Vec<u16>]) -> Vec<String> {
    items.iter().map(|u| String::from_utf16_lossy(u)).collect()
}

/// Whether some string holds a lone surrogate (which serde_json refuses).
pub(crate) fn has_lone_surrogate(items: &[Vec<u16>]) -> bool {
    items.iter().any(|u| String::from_utf16(u).is_err())
}

struct Reader<'a>(std::iter::Peekable<std::str::Chars<'a>>);

impl Reader<'_> {
    /// RFC 8259 whitespace: space, tab, line feed, carriage return; nothing else.
    fn whitespace(&mut self) {
        while self
            .0
            .next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
    }

    fn eat(&mut self, want: char) -> bool {
        self.0.next_if_eq(&want).is_some()
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.eat(want).then_some(())
    }

    fn end(&mut self) -> Option<()> {
        self.0.peek().is_none().then_some(())
    }

    fn string(&mut self) -> Option<Vec<u16>> {
        self.expect('"')?;
        let mut units = Vec::new();
        loop {
            match self.0.next()? {
                '"' => return Some(units),
                '\\' => {
                    let unit = match self.0.next()? {
                        '"' => 0x22,
                        '\\' => 0x5c,
                        '/' => 0x2f,
                        'b' => 0x08,
                        'f' => 0x0c,
                        'n' => 0x0a,
                        'r' => 0x0d,
                        't' => 0x09,
                        'u' => {
                            let mut unit = 0u16;
                            for _ in 0..4 {
                                let digit = self.0.next()?.to_digit(16)?;
                                unit = unit * 16 + u16::try_from(digit).ok()?;
                            }
                            unit
                        }
                        _ => return None,
                    };
                    units.push(unit);
                }
                // Control characters must be escaped.
                c if c < ' ' => return None,
                c => units.extend_from_slice(c.encode_utf16(&mut [0; 2])),
            }
        }
    }
}

/// Pieces of JSON and of near-JSON, so that random concatenations hit the edges of
/// the decoder: escapes cut short, surrogate escapes alone, in pairs, in the wrong
/// order or behind an escaped backslash, raw controls, separators, other values.
#[rustfmt::skip]
const PIECES: &[&str] = &[
    "[", "]", "\"", ",", " ", "\n", "\t", "\r", "\\", "\\\\", "\\\"", "\\/", "\\n", "\\b",
    "\\x", "\\u", "\\u0041", "\\u00e9", "\\u0000", "\\ufffd", "\\u2028", "\\uD83D", "\\uDE00",
    "\\ud83d", "\\ude00", "\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud83", "d83d",
    "de00", "u", "a", "bc", "é", "😀", "\u{2028}", "\u{feff}", "\u{1}", "\u{1f}", "\u{7f}",
    "\u{a0}", "0", "1e5", "-", "null", "true", "{}", "{\"a\":\"b\"}", "\"a\"", "[]",
];

/// A random concatenation of [`PIECES`], bare or inside one or two string literals of
/// an array (where escapes matter most).
pub(crate) fn json_soup() -> impl Strategy<Value = String> {
    let soup =
        || prop::collection::vec(prop::sample::select(PIECES), 0..16).prop_map(|p| p.concat());
    prop_oneof![
        soup(),
        soup().prop_map(|s| format!("[\"{s}\"]")),
        (soup(), soup()).prop_map(|(a, b)| format!("[\"{a}\", \"{b}\"]")),
        soup().prop_map(|s| format!("\"{s}\"")),
    ]
}

/// One UTF-16 code unit of a JavaScript string: often a surrogate (high and low
/// alike, so pairs, lone halves and reversed pairs all come up), a control
/// character, a quote or a backslash.
fn code_unit() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => 0x20u16..0x7f,
        1 => prop::sample::select(&[0x22u16, 0x5c, 0x2f][..]),
        1 => 0u16..0x20,
        2 => 0x80u16..0xd800,
        1 => 0xe000u16..=0xffff,
        2 => 0xd800u16..0xdc00,
        2 => 0xdc00u16..0xe000,
    ]
}

/// A JavaScript string as code units, each with a choice of how to write it.
fn js_string() -> impl Strategy<Value = Vec<(u16, u8)>> {
    prop::collection::vec((code_unit(), any::<u8>()), 0..12)
}

/// A JSON array of JavaScript strings, written in one of the many ways JSON allows
/// (raw or escaped, upper or lower case hex, short escapes, whitespace between
/// tokens), and the strings a decoder must give for it (lone surrogates as U+FFFD).
pub(crate) fn client_array() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        prop::collection::vec((js_string(), any::<u8>()), 0..5),
        any::<u8>(),
    )
        .prop_map(|(items, ws)| {
            let mut text = String::from(whitespace(ws));
            text.push('[');
            let mut expected = Vec::new();
            for (i, (units, ws)) in items.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(whitespace(*ws));
                write_js_string(units, &mut text);
                text.push_str(whitespace(ws / 4));
                let units: Vec<u16> = units.iter().map(|&(u, _)| u).collect();
                expected.push(String::from_utf16_lossy(&units));
            }
            text.push(']');
            text.push_str(whitespace(ws / 4));
            (text, expected)
        })
}

fn whitespace(choice: u8) -> &'static str {
    ["", "", "", " ", "\n", "\t \r\n"][usize::from(choice % 6)]
}

/// Writes `units` as a JSON string literal, each unit raw where JSON allows it and
/// `how` says so, else as an escape. A surrogate pair written raw is its UTF-8.
fn write_js_string(units: &[(u16, u8)], out: &mut String) {
    out.push('"');
    let mut i = 0;
    while i < units.len() {
        let (unit, how) = units[i];
        let raw = how % 3 == 0;
        let pair = units.get(i + 1).filter(|&&(low, _)| {
            (0xd800..0xdc00).contains(&unit) && (0xdc00..0xe000).contains(&low)
        });
        if let (true, Some(&(low, _))) = (raw, pair) {
            let c = char::decode_utf16([unit, low]).next().and_then(Result::ok);
            out.push(c.unwrap_or('\u{fffd}'));
            i += 2;
            continue;
        }
        let c = char::from_u32(u32::from(unit));
        match (unit, c) {
            (0x22, _) => out.push_str("\\\""),
            (0x5c, _) => out.push_str("\\\\"),
            (0x0a, _) if how % 2 == 0 => out.push_str("\\n"),
            (0x2f, _) if how % 2 == 0 => out.push_str("\\/"),
            (0x20.., Some(c)) if raw => out.push(c),
            _ if how & 0x80 != 0 => out.push_str(&format!("\\u{unit:04X}")),
            _ => out.push_str(&format!("\\u{unit:04x}")),
        }
        i += 1;
    }
    out.push('"');
}

/// Bytes to decode: byte soup, JSON-like soup, a client's array, and a client's
/// array with one byte changed or cut short.
pub(crate) fn payload_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        json_soup().prop_map(String::into_bytes),
        client_array().prop_map(|(text, _)| text.into_bytes()),
        (
            client_array(),
            any::<prop::sample::Index>(),
            any::<u8>(),
            any::<bool>()
        )
            .prop_map(|((text, _), at, byte, cut)| {
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    if cut {
                        bytes.truncate(at);
                    } else {
                        bytes[at] = byte;
                    }
                }
                bytes
            }),
    ]
}
