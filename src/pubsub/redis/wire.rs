//! How a published message travels through Redis: pure functions on bytes.
//!
//! A topic is the Redis channel `<prefix><topic>`. A message published by an
//! instance is its text behind a 17-byte header, a NUL byte and the instance's
//! 16-byte id, so the instance can skip its own messages when Redis sends them back
//! (it delivered them to its own members at once). A payload that does not start
//! with NUL is a message from another Redis publisher (`redis-cli PUBLISH`, a worker
//! in another language) and is delivered whole.

/// The first byte of an instance's payload; never the first byte of JSON or of
/// printable text.
const MARK: u8 = 0;

/// An instance's 16-byte id, as written in its payloads.
pub(crate) type Origin = [u8; 16];

/// The Redis channel of `topic`.
pub(crate) fn channel(prefix: &str, topic: &str) -> String {
    let mut channel = String::with_capacity(prefix.len() + topic.len());
    channel.push_str(prefix);
    channel.push_str(topic);
    channel
}

/// The topic of a Redis `channel`, if it carries the prefix.
pub(crate) fn topic<'a>(prefix: &str, channel: &'a [u8]) -> Option<&'a str> {
    let topic = channel.strip_prefix(prefix.as_bytes())?;
    std::str::from_utf8(topic).ok()
}

/// The payload for `message`, published by the instance `origin`.
pub(crate) fn encode(origin: &Origin, message: &str) -> Vec<u8> {
    let mut payload = Vec::with_capacity(1 + origin.len() + message.len());
    payload.push(MARK);
    payload.extend_from_slice(origin);
    payload.extend_from_slice(message.as_bytes());
    payload
}

/// What a received payload holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received<'a> {
    /// This instance published it (and already delivered it locally).
    Own,
    /// A message for the topic's members: valid UTF-8.
    Message(&'a str),
    /// Neither: a header cut short, or text that is not UTF-8.
    Invalid,
}

/// Reads a payload received by the instance `me`.
pub(crate) fn decode<'a>(me: &Origin, payload: &'a [u8]) -> Received<'a> {
    let text = match payload.split_first() {
        Some((&MARK, rest)) => match rest.split_first_chunk::<16>() {
            Some((origin, _)) if origin == me => return Received::Own,
            Some((_, text)) => text,
            None => return Received::Invalid,
        },
        _ => payload,
    };
    match std::str::from_utf8(text) {
        Ok(text) => Received::Message(text),
        Err(_) => Received::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Origin = [7; 16];
    const OTHER: Origin = [9; 16];

    #[test]
    fn an_instance_skips_its_own_payloads_and_reads_the_others() {
        let mine = encode(&ME, "hi");
        assert_eq!(mine.len(), 17 + 2);
        assert_eq!(decode(&ME, &mine), Received::Own);
        assert_eq!(decode(&OTHER, &mine), Received::Message("hi"));
        assert_eq!(decode(&OTHER, &encode(&ME, "")), Received::Message(""));
    }

    #[test]
    fn a_payload_from_another_publisher_is_the_message_whole() {
        assert_eq!(decode(&ME, b"{\"x\":1}"), Received::Message("{\"x\":1}"));
        assert_eq!(decode(&ME, b""), Received::Message(""));
        assert_eq!(decode(&ME, "é".as_bytes()), Received::Message("é"));
    }

    #[test]
    fn cut_headers_and_invalid_utf8_are_refused() {
        assert_eq!(decode(&ME, &[0, 1, 2]), Received::Invalid);
        assert_eq!(decode(&ME, &[0xff, b'a']), Received::Invalid);
        let mut bad = encode(&OTHER, "");
        bad.push(0xc3);
        assert_eq!(decode(&ME, &bad), Received::Invalid);
    }

    #[test]
    fn channels_carry_the_prefix_and_only_prefixed_ones_are_topics() {
        let channel = channel("sockjs:", "room/1");
        assert_eq!(channel, "sockjs:room/1");
        assert_eq!(topic("sockjs:", channel.as_bytes()), Some("room/1"));
        assert_eq!(topic("sockjs:", b"other:room"), None);
        assert_eq!(topic("", b"room"), Some("room"));
        assert_eq!(topic("p:", b"p:\xff"), None);
    }
}
