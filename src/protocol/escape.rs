//! JSON string escaping as SockJS needs it.
//!
//! Plain JSON escaping is not enough: some browsers mangle or drop certain code points
//! inside an XHR or an iframe (U+2028/2029 end JavaScript lines, U+FEFF is eaten as a
//! BOM, U+FFF0..U+FFFF and surrogates are replaced, the zero-width and bidi controls
//! vanish). Like sockjs-node, the server writes those as `\uXXXX` escapes so the
//! client's `JSON.parse` gets them back intact. Everything else non-ASCII is sent as
//! UTF-8, which keeps frames small.

/// Returns `s` as a JSON string literal (with the surrounding quotes), escaped for
/// every SockJS transport.
///
/// ```
/// use actix_sockjs::protocol::escape_json_string;
/// assert_eq!(escape_json_string("a\"b\n"), r#""a\"b\n""#);
/// assert_eq!(escape_json_string("\u{2028}"), r#""\u2028""#);
/// assert_eq!(escape_json_string("😀"), r#""\ud83d\ude00""#);
/// ```
pub fn escape_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    escape_json_string_into(s, &mut out);
    out
}

/// Appends `s` as an escaped JSON string literal (with quotes) to `out`.
///
/// The common case, ASCII without quotes or backslashes, is found eight bytes at a
/// time and copied in one piece.
pub fn escape_json_string_into(s: &str, out: &mut String) {
    // Room for the common case (nothing to escape) at once, not a reallocation per
    // push as the string grows.
    out.reserve(s.len() + 2);
    out.push('"');
    escape_json_chars_into(s, out);
    out.push('"');
}

/// Appends the escaped characters of `s` to `out`, without quotes. Escaping is per
/// character, so the pieces of one string may be escaped one after another.
pub(crate) fn escape_json_chars_into(s: &str, out: &mut String) {
    let bytes = s.as_bytes();
    let mut clean_from = 0;
    let mut i = plain_prefix(bytes, false);
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            // A control character, quote or backslash (plain_prefix stops at nothing else).
            out.push_str(&s[clean_from..i]);
            push_ascii_escape(b, out);
            i += 1;
            clean_from = i;
        } else {
            // Multi-byte: decode the char starting here (s is valid UTF-8, i is a boundary).
            let Some(ch) = s[i..].chars().next() else {
                break;
            };
            let len = ch.len_utf8();
            if needs_escape(ch) {
                out.push_str(&s[clean_from..i]);
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    push_u_escape(*unit, out);
                }
                clean_from = i + len;
            }
            i += len;
        }
        i += plain_prefix(&bytes[i..], false);
    }
    out.push_str(&s[clean_from..]);
}

/// How many leading bytes of `bytes` go into a JSON string literal as they are: no
/// control character, quote or backslash and, unless `non_ascii`, no byte of a
/// multi-byte character. Looks at eight bytes at a time.
pub(crate) fn plain_prefix(bytes: &[u8], non_ascii: bool) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether some byte of `v` is zero / below `n` (n <= 0x80): exact as a yes or no.
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let has_below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH != 0;
    let plain = |b: u8| b >= 0x20 && b != b'"' && b != b'\\' && (non_ascii || b < 0x80);
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let v = u64::from_le_bytes(word);
        if has_below(v, 0x20)
            || has_zero(v ^ (ONES * u64::from(b'"')))
            || has_zero(v ^ (ONES * u64::from(b'\\')))
            || (!non_ascii && v & HIGH != 0)
        {
            break;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(|&b| plain(b)) {
        i += 1;
    }
    i
}

fn push_ascii_escape(b: u8, out: &mut String) {
    match b {
        b'"' => out.push_str("\\\""),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        _ => push_u_escape(u16::from(b), out),
    }
}

fn push_u_escape(unit: u16, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from(HEX[usize::from((unit >> shift) & 0xf)]));
    }
}

/// The non-ASCII code points sockjs-node escapes on output: everything outside the
/// BMP (written as a surrogate pair), the zero-width / bidi controls, the line and
/// paragraph separators, invisible operators, the BOM and the specials block.
fn needs_escape(ch: char) -> bool {
    let c = u32::from(ch);
    c > 0xffff
        || (0x200c..=0x200f).contains(&c)
        || (0x2028..=0x202f).contains(&c)
        || (0x2060..=0x206f).contains(&c)
        || c == 0xfeff
        || (0xfff0..=0xffff).contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> String {
        serde_json::from_str(json).expect("escaped output is valid JSON")
    }

    #[test]
    fn plain_ascii_is_quoted_unchanged() {
        assert_eq!(escape_json_string("hello world"), "\"hello world\"");
    }

    #[test]
    fn quotes_backslashes_and_controls_are_escaped() {
        assert_eq!(escape_json_string("\"\\"), r#""\"\\""#);
        assert_eq!(escape_json_string("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(escape_json_string("\u{0}\u{1f}"), r#""\u0000\u001f""#);
    }

    #[test]
    fn line_separators_bom_and_specials_are_escaped() {
        assert_eq!(escape_json_string("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(escape_json_string("\u{feff}"), r#""\ufeff""#);
        assert_eq!(escape_json_string("\u{fff0}\u{ffff}"), r#""\ufff0\uffff""#);
        assert_eq!(escape_json_string("\u{200c}\u{206f}"), r#""\u200c\u206f""#);
    }

    #[test]
    fn astral_code_points_become_surrogate_pairs() {
        assert_eq!(escape_json_string("\u{1f600}"), r#""\ud83d\ude00""#);
        assert_eq!(escape_json_string("\u{10ffff}"), r#""\udbff\udfff""#);
    }

    #[test]
    fn other_non_ascii_stays_utf8() {
        assert_eq!(escape_json_string("żółw é ü"), "\"żółw é ü\"");
        assert_eq!(
            escape_json_string("\u{2027}\u{2030}"),
            "\"\u{2027}\u{2030}\""
        );
        assert_eq!(escape_json_string("\u{ffef}"), "\"\u{ffef}\"");
    }

    #[test]
    fn plain_prefix_stops_at_the_first_byte_to_escape() {
        let base = b"abcdefghijklmnopqrstuvwxyz0123456789".to_vec();
        for special in [0x00, 0x1f, b'"', b'\\', 0x80, 0xff] {
            for at in 0..base.len() {
                let mut bytes = base.clone();
                bytes[at] = special;
                assert_eq!(plain_prefix(&bytes, false), at, "{special:#x} at {at}");
                let expected = if special >= 0x80 { bytes.len() } else { at };
                assert_eq!(plain_prefix(&bytes, true), expected, "{special:#x} at {at}");
            }
        }
        for len in 0..base.len() {
            assert_eq!(plain_prefix(&base[..len], false), len);
        }
        assert_eq!(plain_prefix(b" !#[]~\x7f", false), 7);
    }

    #[test]
    fn every_code_point_round_trips_through_json() {
        let all: String = (0u32..=0x10ffff).filter_map(char::from_u32).collect();
        let escaped = escape_json_string(&all);
        assert_eq!(decode(&escaped), all);
        // And nothing that must be escaped is left raw.
        assert!(
            !escaped[1..escaped.len() - 1]
                .chars()
                .any(|c| c < ' ' || needs_escape(c))
        );
    }
}
