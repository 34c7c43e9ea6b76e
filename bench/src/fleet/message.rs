//! The messages the publisher sends through `/broadcast`: `SEQ:MICROS:xxx..`, the
//! sequence number, the send time in wall-clock microseconds (every process of the
//! run is on one machine, so one clock), and padding up to the size asked for. No
//! character of it needs JSON escaping, so it arrives as written.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock microseconds since the Unix epoch: comparable between processes.
pub(crate) fn wall_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The text of message `seq` sent at `sent_micros`, padded with `x` to `size` bytes
/// (longer when the numbers alone need more).
pub(crate) fn text(seq: u64, sent_micros: u64, size: usize) -> String {
    let mut text = format!("{seq}:{sent_micros}:");
    while text.len() < size {
        text.push('x');
    }
    text
}

/// The sequence number and send time of a received message; `None` when it is not
/// one of ours.
pub(crate) fn parse(item: &[u8]) -> Option<(u64, u64)> {
    let mut fields = item.split(|&b| b == b':');
    let mut number = || -> Option<u64> { std::str::from_utf8(fields.next()?).ok()?.parse().ok() };
    let seq = number()?;
    let sent = number()?;
    Some((seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_gives_back_its_number_and_time() {
        let text = text(42, 1_700_000_000_123_456, 100);
        assert_eq!(text.len(), 100);
        assert_eq!(parse(text.as_bytes()), Some((42, 1_700_000_000_123_456)));
    }

    #[test]
    fn foreign_items_are_not_messages() {
        assert_eq!(parse(b"hello"), None);
        assert_eq!(parse(b"1:"), None);
        assert_eq!(parse(b"-1:5:x"), None);
    }

    #[test]
    fn wall_clock_is_past_2020() {
        assert!(wall_micros() > 1_577_836_800_000_000);
    }
}
