//! Messages waiting for a receiver.

use std::collections::VecDeque;

use bytestring::ByteString;

use crate::protocol::{Frame, MessageBatch};

/// The session's outgoing queue. For SockJS transports it is an `a[...]` frame being
/// built (so a flush is one frame however many messages wait); a lone broadcast frame
/// is kept as is, so it goes out without being copied. For the raw websocket it is the
/// plain messages in order.
#[derive(Debug)]
pub(crate) enum Outbox {
    /// SockJS transports: the frame being built (empty when nothing waits).
    Batch(MessageBatch),
    /// SockJS transports: one prepared frame, alone, as it was encoded.
    Shared(Frame),
    /// The raw websocket.
    Raw {
        queue: VecDeque<ByteString>,
        /// The bytes of the messages in `queue`.
        bytes: usize,
    },
}

impl Outbox {
    pub(crate) fn framed() -> Self {
        Outbox::Batch(MessageBatch::default())
    }

    pub(crate) fn raw() -> Self {
        Outbox::Raw {
            queue: VecDeque::new(),
            bytes: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        match self {
            Outbox::Batch(batch) => batch.is_empty(),
            Outbox::Shared(_) => false,
            Outbox::Raw { queue, .. } => queue.is_empty(),
        }
    }

    /// The frame being built, with a lone prepared frame's messages moved into it
    /// first; `None` for the raw websocket.
    fn batch(&mut self) -> Option<&mut MessageBatch> {
        if let Outbox::Shared(frame) = self {
            let mut batch = MessageBatch::default();
            batch.push_encoded(frame.messages_json().unwrap_or("\"\""));
            *self = Outbox::Batch(batch);
        }
        match self {
            Outbox::Batch(batch) => Some(batch),
            Outbox::Shared(_) | Outbox::Raw { .. } => None,
        }
    }

    /// Queues a plain message for the raw websocket.
    fn push_raw(&mut self, text: ByteString) {
        if let Outbox::Raw { queue, bytes } = self {
            *bytes += text.len();
            queue.push_back(text);
        }
    }

    pub(crate) fn push_text(&mut self, text: &str) {
        match self {
            Outbox::Batch(batch) => batch.push_text(text),
            Outbox::Raw { .. } => self.push_raw(ByteString::from(text)),
            Outbox::Shared(_) => {
                if let Some(batch) = self.batch() {
                    batch.push_text(text);
                }
            }
        }
    }

    /// Queues one message made of `parts`, without joining them first (framed).
    pub(crate) fn push_text_parts(&mut self, parts: &[&str]) {
        match self.batch() {
            Some(batch) => batch.push_text_parts(parts),
            None => self.push_raw(ByteString::from(parts.concat())),
        }
    }

    /// Queues a message that is already encoded: `frame` is its `a["..."]` frame.
    pub(crate) fn push_prepared(&mut self, text: &ByteString, frame: &Frame) {
        if let Outbox::Batch(batch) = self
            && batch.is_empty()
        {
            // The empty batch it replaces is dropped as a batch: the broadcast path
            // does not go through the whole outbox's drop.
            if let Outbox::Batch(empty) = std::mem::replace(self, Outbox::Shared(frame.clone())) {
                drop(empty);
            }
            return;
        }
        match self.batch() {
            Some(batch) => batch.push_encoded(frame.messages_json().unwrap_or("\"\"")),
            None => self.push_raw(text.clone()),
        }
    }

    /// Takes everything queued as one frame (SockJS transports).
    pub(crate) fn take_frame(&mut self) -> Option<Frame> {
        match self {
            Outbox::Batch(batch) if batch.is_empty() => None,
            Outbox::Batch(batch) => Some(std::mem::take(batch).finish()),
            Outbox::Shared(_) => match std::mem::replace(self, Outbox::framed()) {
                Outbox::Shared(frame) => Some(frame),
                _ => None,
            },
            Outbox::Raw { .. } => None,
        }
    }

    /// How many bytes wait: the frame being built, or the raw messages.
    pub(crate) fn bytes(&self) -> usize {
        match self {
            Outbox::Batch(batch) => batch.byte_len(),
            Outbox::Shared(frame) => frame.len(),
            Outbox::Raw { bytes, .. } => *bytes,
        }
    }

    /// Takes the next raw message (raw websocket).
    pub(crate) fn pop_raw(&mut self) -> Option<ByteString> {
        match self {
            Outbox::Raw { queue, bytes } => {
                let text = queue.pop_front()?;
                *bytes -= text.len();
                Some(text)
            }
            Outbox::Batch(_) | Outbox::Shared(_) => None,
        }
    }

    pub(crate) fn clear(&mut self) {
        match self {
            Outbox::Batch(_) | Outbox::Shared(_) => *self = Outbox::framed(),
            Outbox::Raw { queue, bytes } => {
                queue.clear();
                *bytes = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_in_parts_is_escaped_as_one_message() {
        let mut framed = Outbox::framed();
        framed.push_text("x");
        framed.push_text_parts(&["msg,", "ann", ",", "\u{2028}\""]);
        assert_eq!(
            framed.take_frame().map(|f| f.as_str().to_owned()),
            Some(r#"a["x","msg,ann,\u2028\""]"#.into())
        );
        let mut raw = Outbox::raw();
        raw.push_text_parts(&["uns,", "ann"]);
        assert_eq!(raw.pop_raw().as_deref(), Some("uns,ann"));
    }

    #[test]
    fn several_messages_flush_as_one_frame() {
        let mut outbox = Outbox::framed();
        outbox.push_text("a");
        outbox.push_text("b");
        assert_eq!(
            outbox.take_frame().map(|f| f.as_str().to_owned()),
            Some(r#"a["a","b"]"#.into())
        );
        assert!(outbox.is_empty());
        assert_eq!(outbox.take_frame(), None);
    }

    #[test]
    fn a_lone_prepared_frame_is_passed_through_shared() {
        let frame = Frame::message("x");
        let mut outbox = Outbox::framed();
        outbox.push_prepared(&ByteString::from("x"), &frame);
        let out = outbox.take_frame().expect("frame");
        assert_eq!(out, frame);
        // Same allocation, not a copy.
        assert_eq!(out.as_str().as_ptr(), frame.as_str().as_ptr());
    }

    #[test]
    fn prepared_and_text_messages_keep_their_order() {
        let mut outbox = Outbox::framed();
        outbox.push_prepared(&ByteString::from("1"), &Frame::message("1"));
        outbox.push_text("2");
        outbox.push_prepared(&ByteString::from("3"), &Frame::message("3"));
        assert_eq!(
            outbox.take_frame().map(|f| f.as_str().to_owned()),
            Some(r#"a["1","2","3"]"#.into())
        );
    }

    #[test]
    fn raw_outbox_keeps_plain_messages() {
        let mut outbox = Outbox::raw();
        outbox.push_text("a\"");
        outbox.push_prepared(&ByteString::from("b"), &Frame::message("b"));
        assert_eq!(outbox.take_frame(), None);
        assert_eq!(outbox.pop_raw().as_deref(), Some("a\""));
        assert_eq!(outbox.pop_raw().as_deref(), Some("b"));
        assert!(outbox.is_empty());
    }
}
