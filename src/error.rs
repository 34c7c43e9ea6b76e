//! The error of the calls an application makes on sessions and channels.

/// Why a message could not be sent, or a session or channel closed, from a
/// [`SessionHandle`](crate::SessionHandle), a [`SockJsContext`](crate::SockJsContext)
/// or a multiplex [`ChannelHandle`](crate::multiplex::ChannelHandle). Never a panic.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The session is closed (or gone): nothing more can be sent to it.
    SessionClosed,
    /// The session's client does not take what is sent to it fast enough: more than
    /// [`max_queued_bytes`](crate::SockJsConfig::max_queued_bytes) waits. The message
    /// was dropped and the session is being closed as a slow consumer.
    SlowConsumer,
    /// The multiplexed channel is closed (unsubscribed, closed by the server, or its
    /// session closed): nothing more can be sent on it.
    ChannelClosed,
    /// A value given to `send_json` could not be serialised; serde_json's error is
    /// the [`source`](std::error::Error::source).
    Json(serde_json::Error),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::SessionClosed => f.write_str("session closed"),
            Error::SlowConsumer => f.write_str("slow consumer"),
            Error::ChannelClosed => f.write_str("channel closed"),
            Error::Json(_) => f.write_str("JSON serialisation failed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}

/// Errors compare by kind (two `Json` errors are equal whatever serde_json said), so
/// tests can `assert_eq!` an outcome.
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl Eq for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn a_json_error_keeps_serde_json_s_error_as_its_source() {
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let e = Error::from(
            serde_json::to_string(&map).expect_err("a map with tuple keys is not JSON"),
        );
        assert_eq!(e.to_string(), "JSON serialisation failed");
        let source = e.source().map(|s| s.to_string()).unwrap_or_default();
        assert!(source.contains("key must be a string"), "{source}");
        assert_ne!(e, Error::SessionClosed);
    }
}
