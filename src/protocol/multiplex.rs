//! The channel multiplexing format of the `websocket-multiplex` 0.1.0 client.
//!
//! Every SockJS message of a multiplexed session is `TYPE,CHANNEL,PAYLOAD`: the client
//! sends `sub,CHANNEL`, `msg,CHANNEL,PAYLOAD` and `uns,CHANNEL`; the server sends
//! `msg,CHANNEL,PAYLOAD`, and `uns,CHANNEL` when it closes a channel. Only the first two
//! commas separate fields, so a payload may contain commas of its own. The client
//! puts channel names through JavaScript's `escape()` before they reach the wire, so
//! a name is matched in its escaped form (see [`escape_channel_name`]).

use std::borrow::Cow;
use std::fmt::{self, Write};

/// One message from a multiplexing client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelMessage<'a> {
    /// `sub,CHANNEL`: open the channel.
    Subscribe(&'a str),
    /// `msg,CHANNEL,PAYLOAD`: a message on an open channel.
    Message(&'a str, &'a str),
    /// `uns,CHANNEL`: the client closed the channel.
    Unsubscribe(&'a str),
}

/// Why a message is not a multiplexing message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelMessageError {
    /// There is no comma after the type, so no channel name.
    MissingChannel,
    /// The type is not `sub`, `msg` or `uns`.
    UnknownType,
}

impl fmt::Display for ChannelMessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChannelMessageError::MissingChannel => "no channel name after the message type",
            ChannelMessageError::UnknownType => "message type is not sub, msg or uns",
        })
    }
}

impl std::error::Error for ChannelMessageError {}

impl<'a> ChannelMessage<'a> {
    /// Parses one message as the reference server does: the type is what precedes the
    /// first comma, the channel what precedes the second, and the payload all the rest
    /// (empty when there is no second comma). Anything after the channel of a `sub`
    /// or `uns` is ignored.
    ///
    /// ```
    /// use actix_sockjs::protocol::ChannelMessage;
    /// assert_eq!(
    ///     ChannelMessage::parse("msg,ann,hello, world"),
    ///     Ok(ChannelMessage::Message("ann", "hello, world"))
    /// );
    /// assert!(ChannelMessage::parse("hello").is_err());
    /// ```
    pub fn parse(text: &'a str) -> Result<Self, ChannelMessageError> {
        let (kind, rest) = text
            .split_once(',')
            .ok_or(ChannelMessageError::MissingChannel)?;
        let (channel, payload) = rest.split_once(',').unwrap_or((rest, ""));
        match kind {
            "sub" => Ok(ChannelMessage::Subscribe(channel)),
            "msg" => Ok(ChannelMessage::Message(channel, payload)),
            "uns" => Ok(ChannelMessage::Unsubscribe(channel)),
            _ => Err(ChannelMessageError::UnknownType),
        }
    }

    /// The channel the message is about.
    pub fn channel(&self) -> &'a str {
        match *self {
            ChannelMessage::Subscribe(c)
            | ChannelMessage::Message(c, _)
            | ChannelMessage::Unsubscribe(c) => c,
        }
    }
}

/// `msg,CHANNEL,PAYLOAD`: a message from the server on `channel` (already escaped).
///
/// ```
/// assert_eq!(actix_sockjs::protocol::channel_message("bob", "a,b"), "msg,bob,a,b");
/// ```
pub fn channel_message(channel: &str, payload: &str) -> String {
    let mut out = String::with_capacity(5 + channel.len() + payload.len());
    out.push_str("msg,");
    out.push_str(channel);
    out.push(',');
    out.push_str(payload);
    out
}

/// `uns,CHANNEL`: the server closed `channel` (already escaped).
pub fn channel_close(channel: &str) -> String {
    let mut out = String::with_capacity(4 + channel.len());
    out.push_str("uns,");
    out.push_str(channel);
    out
}

/// A channel name as the `websocket-multiplex` client puts it on the wire: through
/// JavaScript's `escape()`, which keeps ASCII letters, digits and `@*_+-./`, writes
/// other code units below 256 as `%XX` and the rest as `%uXXXX` (UTF-16 code units,
/// upper-case hex).
///
/// ```
/// use actix_sockjs::protocol::escape_channel_name;
/// assert_eq!(escape_channel_name("ann"), "ann");
/// assert_eq!(escape_channel_name("a b,é€"), "a%20b%2C%E9%u20AC");
/// ```
pub fn escape_channel_name(name: &str) -> Cow<'_, str> {
    fn kept(c: char) -> bool {
        c.is_ascii_alphanumeric() || "@*_+-./".contains(c)
    }
    if name.chars().all(kept) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() * 3);
    let mut units = [0u16; 2];
    for c in name.chars() {
        if kept(c) {
            out.push(c);
            continue;
        }
        for unit in c.encode_utf16(&mut units).iter() {
            // Writing to a String cannot fail.
            let _ = if *unit < 0x100 {
                write!(out, "%{unit:02X}")
            } else {
                write!(out, "%u{unit:04X}")
            };
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_client_messages_parse() {
        assert_eq!(
            ChannelMessage::parse("sub,ann"),
            Ok(ChannelMessage::Subscribe("ann"))
        );
        assert_eq!(
            ChannelMessage::parse("uns,ann"),
            Ok(ChannelMessage::Unsubscribe("ann"))
        );
        assert_eq!(
            ChannelMessage::parse("msg,ann,hi"),
            Ok(ChannelMessage::Message("ann", "hi"))
        );
    }

    #[test]
    fn a_payload_keeps_its_commas_and_may_be_empty() {
        assert_eq!(
            ChannelMessage::parse("msg,bob,,a,,b,"),
            Ok(ChannelMessage::Message("bob", ",a,,b,"))
        );
        assert_eq!(
            ChannelMessage::parse("msg,bob,"),
            Ok(ChannelMessage::Message("bob", ""))
        );
        assert_eq!(
            ChannelMessage::parse("msg,bob"),
            Ok(ChannelMessage::Message("bob", ""))
        );
    }

    #[test]
    fn anything_after_the_channel_of_sub_and_uns_is_ignored() {
        assert_eq!(
            ChannelMessage::parse("sub,ann,extra"),
            Ok(ChannelMessage::Subscribe("ann"))
        );
        assert_eq!(
            ChannelMessage::parse("uns,ann,"),
            Ok(ChannelMessage::Unsubscribe("ann"))
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert_eq!(
            ChannelMessage::parse(""),
            Err(ChannelMessageError::MissingChannel)
        );
        assert_eq!(
            ChannelMessage::parse("sub"),
            Err(ChannelMessageError::MissingChannel)
        );
        assert_eq!(
            ChannelMessage::parse("pub,ann,x"),
            Err(ChannelMessageError::UnknownType)
        );
        assert_eq!(
            ChannelMessage::parse("SUB,ann"),
            Err(ChannelMessageError::UnknownType)
        );
    }

    #[test]
    fn server_messages_are_built_as_the_client_splits_them() {
        assert_eq!(channel_message("carl", ""), "msg,carl,");
        assert_eq!(channel_message("carl", "x,y"), "msg,carl,x,y");
        assert_eq!(channel_close("carl"), "uns,carl");
    }

    #[test]
    fn channel_names_are_escaped_like_javascript_escape() {
        assert_eq!(escape_channel_name("A-z_0.9/@*+"), "A-z_0.9/@*+");
        assert_eq!(escape_channel_name("~!"), "%7E%21");
        assert_eq!(escape_channel_name("\u{7f}\u{ff}"), "%7F%FF");
        assert_eq!(escape_channel_name("\u{100}"), "%u0100");
        // Outside the BMP: two UTF-16 code units.
        assert_eq!(escape_channel_name("😀"), "%uD83D%uDE00");
    }
}
