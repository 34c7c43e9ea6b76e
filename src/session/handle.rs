//! The application's way to reach a session from anywhere.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use bytestring::ByteString;

use super::inbox::{InboxTx, Offer};
use super::shared::SessionId;
use crate::error::Error;
use crate::protocol::Frame;
use crate::vocabulary::CloseReason;

/// A message encoded once, ready to be sent to any number of sessions.
///
/// Cloning is one reference-count increment; every session that receives it writes
/// the same bytes.
///
/// ```
/// use actix_sockjs::PreparedMessage;
/// let msg = PreparedMessage::new("hello");
/// assert_eq!(msg.text(), "hello");
/// assert_eq!(msg.frame().as_str(), r#"a["hello"]"#);
/// ```
#[derive(Clone, Debug)]
pub struct PreparedMessage(Arc<Prepared>);

/// Behind one pointer, so a message waiting in a session's inbox is small.
#[derive(Debug)]
struct Prepared {
    text: ByteString,
    frame: Frame,
    /// What a websocket connection writes for it, made by the first that does and
    /// shared by the rest: the frame as a websocket message (a SockJS websocket),
    /// and the text as one (the raw websocket).
    on_the_wire: [OnceLock<Bytes>; 2],
}

impl PreparedMessage {
    /// Encodes `text` once.
    pub fn new(text: impl Into<ByteString>) -> Self {
        let text = text.into();
        let frame = Frame::message(&text);
        PreparedMessage(Arc::new(Prepared {
            text,
            frame,
            on_the_wire: [OnceLock::new(), OnceLock::new()],
        }))
    }

    /// The message as sent by the application.
    pub fn text(&self) -> &str {
        &self.0.text
    }

    /// The `a["..."]` frame carrying it.
    pub fn frame(&self) -> &Frame {
        &self.0.frame
    }

    pub(crate) fn parts(&self) -> (&ByteString, &Frame) {
        (&self.0.text, &self.0.frame)
    }

    /// What a websocket writes for this message: its frame (a SockJS websocket) or,
    /// `raw`, its text, as one websocket message, which `encode` makes of them. Made
    /// once, by the first connection that asks, and shared (a reference count) by
    /// every other: a broadcast's websocket frame is encoded once.
    pub(crate) fn on_the_wire(&self, raw: bool, encode: impl FnOnce(&str) -> Bytes) -> Bytes {
        let (slot, text) = if raw {
            (&self.0.on_the_wire[1], &*self.0.text)
        } else {
            (&self.0.on_the_wire[0], self.0.frame.as_str())
        };
        slot.get_or_init(|| encode(text)).clone()
    }
}

/// What a handle asks of its session.
#[derive(Debug)]
pub(crate) enum FromHandle {
    Text(String),
    Prepared(PreparedMessage),
    Close {
        code: u16,
        reason: String,
    },
    /// A handle found the session over `max_queued_bytes`.
    Overflow,
}

/// What one message in a session's inbox costs besides its text: the command and
/// its share of the queue, so a flood of tiny messages is bounded too.
const INBOX_ITEM_OVERHEAD: usize = 64;

impl FromHandle {
    /// What the message counts in its session's inbox.
    pub(crate) fn weight(&self) -> usize {
        INBOX_ITEM_OVERHEAD
            + match self {
                FromHandle::Text(text) => text.len(),
                FromHandle::Prepared(msg) => msg.frame().len(),
                FromHandle::Close { reason, .. } => reason.len(),
                FromHandle::Overflow => return 0,
            }
    }
}

/// A cloneable, `Send` address of one session, usable from any thread or actor.
///
/// Messages one handle sends arrive in the order they were sent. Sending to a closed
/// session is an [`Error::SessionClosed`], never a panic.
///
/// Handles compare and hash by the session they address (two handles of one session
/// are equal, whatever its state), so they can key maps and sets of members. Clippy's
/// `mutable_key_type` lint does not know that: list `actix_sockjs::SessionHandle` under
/// `ignore-interior-mutability` in `clippy.toml`.
#[derive(Clone)]
pub struct SessionHandle {
    id: SessionId,
    /// Also the session's shared state ([`InboxTx::shared`]).
    inbox: InboxTx,
    /// The session's `max_queued_bytes`.
    max_queued: usize,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle")
            .field("id", &self.id)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PartialEq for SessionHandle {
    fn eq(&self, other: &Self) -> bool {
        self.inbox.same_inbox(&other.inbox)
    }
}

impl Eq for SessionHandle {}

impl std::hash::Hash for SessionHandle {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(self.inbox.shared()), state);
    }
}

impl SessionHandle {
    pub(crate) fn new(id: SessionId, inbox: InboxTx, max_queued: usize) -> Self {
        SessionHandle {
            id,
            inbox,
            max_queued,
        }
    }

    /// The session id from the URL (websocket sessions get a generated one).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.inbox.shared().is_closed() || self.inbox.is_closed()
    }

    /// Why the session closed, once it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.inbox.shared().close_reason()
    }

    fn ask(&self, msg: FromHandle) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::SessionClosed);
        }
        // Never more than max_queued_bytes waits in the inbox, whether or not the
        // session can run now.
        match self.inbox.offer(msg, self.max_queued) {
            Offer::Queued => Ok(()),
            Offer::Full => Err(Error::SlowConsumer),
            Offer::Closed => Err(Error::SessionClosed),
        }
    }

    /// Queues a message to the client.
    pub fn send(&self, text: impl Into<String>) -> Result<(), Error> {
        self.ask(FromHandle::Text(text.into()))
    }

    /// Queues the JSON encoding of `value` as one message.
    ///
    /// Fails with [`Error::Json`] if `value` cannot be serialised, and with
    /// [`Error::SessionClosed`] if the session is closed.
    pub fn send_json<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), Error> {
        if self.is_closed() {
            return Err(Error::SessionClosed);
        }
        let text = serde_json::to_string(value).map_err(Error::Json)?;
        self.ask(FromHandle::Text(text))
    }

    /// Queues a message that was encoded once for many sessions.
    pub fn send_prepared(&self, msg: &PreparedMessage) -> Result<(), Error> {
        self.ask(FromHandle::Prepared(msg.clone()))
    }

    /// Closes the session: the client gets `c[code,"reason"]` after what was queued.
    pub fn close(&self, code: u16, reason: impl Into<String>) -> Result<(), Error> {
        self.ask(FromHandle::Close {
            code,
            reason: reason.into(),
        })
    }
}

/// Sends `text` to every session in `sessions`, encoding the frame once.
///
/// Returns how many sessions it was queued for; closed sessions are skipped.
///
/// ```no_run
/// # fn demo(room: &[actix_sockjs::SessionHandle]) {
/// let delivered = actix_sockjs::broadcast(room, "hello, everyone");
/// # }
/// ```
pub fn broadcast<'a>(sessions: impl IntoIterator<Item = &'a SessionHandle>, text: &str) -> usize {
    let msg = PreparedMessage::new(text);
    sessions
        .into_iter()
        .filter(|s| s.send_prepared(&msg).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_message_is_encoded_for_the_wire_once_per_form() {
        let msg = PreparedMessage::new("hi");
        let mut encoded = Vec::new();
        let mut encode = |text: &str| {
            encoded.push(text.to_owned());
            Bytes::copy_from_slice(text.as_bytes())
        };
        let frame = msg.on_the_wire(false, &mut encode);
        let again = msg.clone().on_the_wire(false, &mut encode);
        let text = msg.on_the_wire(true, &mut encode);
        assert_eq!(frame.as_ref(), br#"a["hi"]"#);
        assert_eq!(again.as_ptr(), frame.as_ptr());
        assert_eq!(text.as_ref(), b"hi");
        assert_eq!(encoded, vec![r#"a["hi"]"#.to_owned(), "hi".to_owned()]);
    }
}
