//! Chat-like messages for the scenarios that compress: English-like text, varied and
//! deterministic, and the JSON lines a chat broadcasts
//! (`{"type":"message","id":7,"sent":123456,"name":"alice_smith","text":"..."}`), with
//! the send time a receiver reads back without parsing the whole line.

/// Words the text is made of: common English ones, so the text compresses about as
/// chat does (some repeats, no long runs).
const WORDS: &[&str] = &[
    "the", "be", "to", "of", "and", "a", "in", "that", "have", "it", "for", "not", "on", "with",
    "he", "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say", "her",
    "she", "or", "an", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up",
    "out", "if", "about", "who", "get", "which", "go", "me", "when", "make", "can", "like", "time",
    "no", "just", "him", "know", "take", "people", "into", "year", "your", "good", "some", "could",
    "them", "see", "other", "than", "then", "now", "look", "only", "come", "its", "over", "think",
    "also", "back", "after", "use", "two", "how", "our", "work", "first", "well", "way", "even",
    "new", "want", "because", "any", "these", "give", "day", "most", "us", "meeting", "lunch",
    "tomorrow", "deploy", "server", "coffee", "weekend", "review", "build", "ticket",
];

/// Who says a line.
const NAMES: &[&str] = &[
    "alice_smith",
    "bob_jones",
    "carol_white",
    "dave_brown",
    "erin_clark",
    "frank_lee",
    "grace_hall",
    "heidi_young",
];

/// splitmix64: the next pseudo-random number of `state`.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` bytes of English-like sentences, the same for the same `seed`: words, spaces,
/// commas and full stops, no character JSON would escape.
pub(crate) fn english(seed: u64, len: usize) -> String {
    let mut state = seed;
    let mut text = String::with_capacity(len + 16);
    let mut sentence_left = 0;
    while text.len() < len {
        if sentence_left == 0 {
            if !text.is_empty() {
                text.push_str(". ");
            }
            sentence_left = 4 + next(&mut state) % 9;
        } else if next(&mut state) % 11 == 0 {
            text.push_str(", ");
        } else {
            text.push(' ');
        }
        let word = WORDS[(next(&mut state) % WORDS.len() as u64) as usize];
        let start = text.len();
        text.push_str(word);
        if text[..start].ends_with(". ") || start == 0 {
            text[start..start + 1].make_ascii_uppercase();
        }
        sentence_left -= 1;
    }
    text.truncate(len.saturating_sub(1));
    text.push('.');
    text.truncate(len);
    text
}

/// The start of every chat line, up to its `id`.
const LINE_START: &str = r#"{"type":"message","id":"#;
/// [`LINE_START`] as it appears inside a SockJS frame, its quotes escaped.
const ESCAPED_START: &[u8] = br#"{\"type\":\"message\",\"id\":"#;

/// Chat line `id` (a JSON object, about `size` bytes: its text fills what the other
/// fields leave, at least 20 bytes), sent at `sent` (microseconds).
pub(crate) fn line(id: u64, sent: u64, size: usize) -> String {
    let name = NAMES[(id % NAMES.len() as u64) as usize];
    let head = format!(r#"{LINE_START}{id},"sent":{sent},"name":"{name}","text":""#);
    let text = english(id, size.saturating_sub(head.len() + 2).max(20));
    format!("{head}{text}\"}}")
}

/// The send time of a chat line as it appears inside a SockJS frame (its quotes
/// escaped: `{\"type\":\"message\",\"id\":7,\"sent\":123456,...`).
pub(crate) fn sent_at(item: &[u8]) -> Option<u64> {
    let rest = item.strip_prefix(ESCAPED_START)?;
    let comma = rest.iter().position(|&b| b == b',')?;
    let rest = rest[comma..].strip_prefix(br#",\"sent\":"#)?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_deterministic_varied_and_needs_no_escaping() {
        let a = english(1, 150);
        assert_eq!(a.len(), 150);
        assert_eq!(a, english(1, 150));
        assert_ne!(a, english(2, 150));
        assert!(a.starts_with(|c: char| c.is_ascii_uppercase()), "{a}");
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphabetic() || b" .,".contains(&b)),
            "{a}"
        );
    }

    #[test]
    fn lines_are_json_of_about_their_size_and_give_back_their_send_time() {
        let l = line(7, 123_456, 200);
        assert_eq!(l.len(), 200, "{l}");
        let v: serde_json::Value = serde_json::from_str(&l).expect("json");
        assert_eq!(v["type"], "message");
        assert_eq!(v["id"], 7);
        assert_eq!(v["name"], NAMES[7]);
        // As it is inside a SockJS frame: a JSON string, its quotes escaped.
        let framed = serde_json::to_string(&l).expect("string");
        let item = &framed.as_bytes()[1..framed.len() - 1];
        assert_eq!(sent_at(item), Some(123_456));
        assert_eq!(sent_at(b"7:123:xx"), None);
        assert_eq!(ESCAPED_START, LINE_START.replace('"', "\\\"").as_bytes());
    }
}
