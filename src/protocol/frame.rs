//! The four SockJS frames.

use bytestring::ByteString;

use super::escape::{escape_json_chars_into, escape_json_string_into};

/// One encoded SockJS frame: `o`, `h`, `a[...]` or `c[code,"reason"]`.
///
/// A frame is immutable UTF-8 text behind a reference count, so one frame can be
/// handed to many sessions (a broadcast) without copying it.
///
/// ```
/// use actix_sockjs::protocol::Frame;
/// assert_eq!(Frame::open().as_str(), "o");
/// assert_eq!(Frame::message("hi").as_str(), r#"a["hi"]"#);
/// assert_eq!(Frame::close(3000, "Go away!").as_str(), r#"c[3000,"Go away!"]"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Frame(ByteString);

impl Frame {
    /// The open frame, `o`, sent once when a session starts.
    pub fn open() -> Self {
        Frame(ByteString::from_static("o"))
    }

    /// The heartbeat frame, `h`.
    pub fn heartbeat() -> Self {
        Frame(ByteString::from_static("h"))
    }

    /// The close frame `c[code,"reason"]`.
    pub fn close(code: u16, reason: &str) -> Self {
        // Exactly its size when the reason needs no escaping (`c[`, `,"`, `"]`), so
        // it becomes shared bytes without another allocation.
        let code = itoa_u16(code);
        let mut s = String::with_capacity(code.as_str().len() + reason.len() + 6);
        s.push_str("c[");
        s.push_str(code.as_str());
        s.push(',');
        escape_json_string_into(reason, &mut s);
        s.push(']');
        Frame(ByteString::from(s))
    }

    /// A message frame carrying one message: `a["text"]`.
    pub fn message(text: &str) -> Self {
        let mut batch = MessageBatch::default();
        batch.push_text(text);
        batch.finish()
    }

    /// The frame as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The length of the frame in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a frame has at least one byte.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// For an `a[...]` frame, the escaped, comma-separated messages between the
    /// brackets; `None` for the other frames.
    ///
    /// ```
    /// use actix_sockjs::protocol::Frame;
    /// assert_eq!(Frame::message("x").messages_json(), Some(r#""x""#));
    /// assert_eq!(Frame::heartbeat().messages_json(), None);
    /// ```
    pub fn messages_json(&self) -> Option<&str> {
        self.0.strip_prefix("a[")?.strip_suffix(']')
    }

    /// The shared text of the frame.
    pub fn into_bytestring(self) -> ByteString {
        self.0
    }

    /// The shared text of the frame, by reference (a connection that writes it keeps
    /// its identity: the compressor knows a broadcast by it).
    pub(crate) fn as_shared(&self) -> &ByteString {
        &self.0
    }

    /// A clone of the shared text of the frame.
    pub fn to_bytestring(&self) -> ByteString {
        self.0.clone()
    }
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds one `a[...]` frame out of several messages.
///
/// Queued messages are flushed as one frame, so a session that sends ten messages
/// while its client is between polls answers the next poll with one `a[...]`.
///
/// ```
/// use actix_sockjs::protocol::{Frame, MessageBatch};
/// let mut batch = MessageBatch::default();
/// batch.push_text("one");
/// batch.push_encoded(Frame::message("two").messages_json().unwrap());
/// assert_eq!(batch.finish().as_str(), r#"a["one","two"]"#);
/// ```
#[derive(Debug, Default)]
pub struct MessageBatch {
    buf: String,
    count: usize,
}

impl MessageBatch {
    /// An empty batch with room for `bytes` bytes of frame.
    pub fn with_capacity(bytes: usize) -> Self {
        MessageBatch {
            buf: String::with_capacity(bytes),
            count: 0,
        }
    }

    /// Opens the next item, making room for `len` more bytes of it and for the
    /// closing `]`: a frame whose messages need no escaping is built in one
    /// allocation of exactly its size (so it becomes shared bytes without copying).
    fn start_item(&mut self, len: usize) {
        self.buf.reserve(len + if self.count == 0 { 3 } else { 2 });
        if self.count == 0 {
            self.buf.push_str("a[");
        } else {
            self.buf.push(',');
        }
        self.count += 1;
    }

    /// Adds a message, escaping it.
    pub fn push_text(&mut self, text: &str) {
        // The quotes around the escaped text.
        self.start_item(text.len() + 2);
        escape_json_string_into(text, &mut self.buf);
    }

    /// Adds one message made of `parts` written one after another, escaping it, without
    /// first joining the parts into a new string.
    ///
    /// ```
    /// use actix_sockjs::protocol::MessageBatch;
    /// let mut batch = MessageBatch::default();
    /// batch.push_text_parts(&["msg,", "ann", ",", "\"hi\""]);
    /// assert_eq!(batch.finish().as_str(), r#"a["msg,ann,\"hi\""]"#);
    /// ```
    pub fn push_text_parts(&mut self, parts: &[&str]) {
        self.start_item(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
        self.buf.push('"');
        for part in parts {
            escape_json_chars_into(part, &mut self.buf);
        }
        self.buf.push('"');
    }

    /// Adds messages that are already escaped JSON (see [`Frame::messages_json`]),
    /// counted as one item by [`len`](Self::len). An empty `json` (the messages of an
    /// empty batch) adds nothing.
    pub fn push_encoded(&mut self, json: &str) {
        if json.is_empty() {
            return;
        }
        self.start_item(json.len());
        self.buf.push_str(json);
    }

    /// How many bytes of frame the batch holds so far.
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// How many items the batch holds: messages pushed one by one, and
    /// [`push_encoded`](Self::push_encoded) calls.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch holds no message.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `a[...]` frame; `a[]` for an empty batch.
    pub fn finish(mut self) -> Frame {
        if self.count == 0 {
            self.buf.push_str("a[");
        }
        self.buf.push(']');
        Frame(ByteString::from(self.buf))
    }
}

/// A close code and reason as carried by a `c[...]` frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseFrame {
    /// The close code, e.g. 3000.
    pub code: u16,
    /// The human-readable reason, e.g. `Go away!`.
    pub reason: String,
}

impl CloseFrame {
    /// The encoded `c[code,"reason"]` frame.
    pub fn to_frame(&self) -> Frame {
        Frame::close(self.code, &self.reason)
    }
}

struct SmallDecimal {
    buf: [u8; 5],
    start: usize,
}

impl SmallDecimal {
    fn as_str(&self) -> &str {
        // Only ASCII digits are ever written into `buf`.
        std::str::from_utf8(&self.buf[self.start..]).unwrap_or("0")
    }
}

fn itoa_u16(mut n: u16) -> SmallDecimal {
    let mut buf = [0u8; 5];
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    SmallDecimal { buf, start }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_frames_are_single_letters() {
        assert_eq!(Frame::open().as_str(), "o");
        assert_eq!(Frame::heartbeat().as_str(), "h");
    }

    #[test]
    fn close_frame_escapes_its_reason() {
        assert_eq!(
            Frame::close(3000, "Go away!").as_str(),
            r#"c[3000,"Go away!"]"#
        );
        assert_eq!(Frame::close(0, "").as_str(), r#"c[0,""]"#);
        assert_eq!(Frame::close(65535, "a\"b").as_str(), r#"c[65535,"a\"b"]"#);
        assert_eq!(
            CloseFrame {
                code: 2010,
                reason: "Another connection still open".into()
            }
            .to_frame()
            .as_str(),
            r#"c[2010,"Another connection still open"]"#
        );
    }

    #[test]
    fn message_frame_is_a_json_array() {
        let frame = Frame::message("a\u{2028}b");
        assert_eq!(frame.as_str(), r#"a["a\u2028b"]"#);
        let parsed: Vec<String> = serde_json::from_str(&frame.as_str()[1..]).expect("json array");
        assert_eq!(parsed, vec!["a\u{2028}b".to_string()]);
    }

    #[test]
    fn batch_joins_messages_with_commas() {
        let mut batch = MessageBatch::default();
        assert!(batch.is_empty());
        batch.push_text("1");
        batch.push_text("");
        batch.push_text("[\"x\"]");
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.finish().as_str(), r#"a["1","","[\"x\"]"]"#);
    }

    #[test]
    fn empty_batch_is_an_empty_array() {
        assert_eq!(MessageBatch::default().finish().as_str(), "a[]");
    }

    #[test]
    fn messages_json_round_trips_into_a_batch() {
        let one = Frame::message("x");
        let mut batch = MessageBatch::default();
        batch.push_encoded(one.messages_json().expect("message frame"));
        batch.push_encoded(one.messages_json().expect("message frame"));
        assert_eq!(batch.finish().as_str(), r#"a["x","x"]"#);
        assert_eq!(Frame::open().messages_json(), None);
    }
}
