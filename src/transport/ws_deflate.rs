//! permessage-deflate (RFC 7692): choosing what to agree to from a client's offers,
//! and inflating the messages it compresses, within the message size limit. Pure code:
//! no sockets, no actors.
//!
//! The server agrees to the first offer it can honour and answers with the
//! parameters that bind it. It inflates what the client compresses. What it sends
//! is compressed by a few compressors per worker thread that no connection owns, in
//! context where clients can share it (`compress`, which explains how); messages
//! under [`COMPRESS_MIN`] bytes go out uncompressed (RFC 7692 §6 allows that for any
//! message).
//!
//! A compressor is large and an inflater much smaller (bench/NOTES.md has the
//! figures). An inflater per connection is what a client's context takeover needs
//! (`PermessageDeflate::client_no_context_takeover(false)`); by default clients are
//! asked to keep none, and one inflater per thread serves all.

use std::cell::RefCell;

use flate2::{Decompress, FlushDecompress, Status};

use crate::config::PermessageDeflate;

mod compress;

pub(crate) use compress::{ClientWindow, compressed};

/// The extension's name in `Sec-WebSocket-Extensions`.
const NAME: &str = "permessage-deflate";

/// What the server answers a client's permessage-deflate offer with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Agreement {
    /// The server keeps no compression context between messages: the client asked,
    /// or the service's settings say so.
    pub(crate) server_no_context_takeover: bool,
    /// The client will keep no compression context between messages (it offered it,
    /// or the server asked for it): its messages are inflated each on its own.
    pub(crate) client_no_context_takeover: bool,
    /// The largest window the server may compress with, as the client limited it.
    pub(crate) server_max_window_bits: Option<u8>,
}

impl Agreement {
    /// What the server's compression may rely on at the client that agreed.
    pub(crate) fn client_window(&self) -> ClientWindow {
        ClientWindow::new(
            !self.server_no_context_takeover,
            self.server_max_window_bits,
        )
    }

    /// The `Sec-WebSocket-Extensions` response value.
    pub(crate) fn header_value(&self) -> String {
        let mut value = NAME.to_owned();
        if self.server_no_context_takeover {
            value.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            value.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            value.push_str("; server_max_window_bits=");
            value.push_str(&bits.to_string());
        }
        value
    }
}

/// The first permessage-deflate offer in `headers` (the values of every
/// `Sec-WebSocket-Extensions` request header, in order) that the server can honour,
/// as agreed under the service's settings `ours` (which may ask the client to
/// compress each message on its own, and may tell it that the server will). An
/// offer with an unknown or repeated parameter, or a value out of range, is declined
/// (RFC 7692 §5.1, §7.1), and the next one is tried.
pub(crate) fn negotiate<'a>(
    headers: impl IntoIterator<Item = &'a str>,
    ours: PermessageDeflate,
) -> Option<Agreement> {
    headers
        .into_iter()
        .flat_map(|value| split_outside_quotes(value, ','))
        .find_map(|offer| accept(offer, ours))
}

/// One offer (`name; param; param=value ...`), accepted or not.
fn accept(offer: &str, ours: PermessageDeflate) -> Option<Agreement> {
    let mut parts = split_outside_quotes(offer, ';');
    if !parts.next()?.trim().eq_ignore_ascii_case(NAME) {
        return None;
    }
    // The server may answer either `no_context_takeover` unasked (RFC 7692 §7.1.1):
    // asking the client to keep none, telling it that the server keeps none.
    let mut agreed = Agreement {
        client_no_context_takeover: ours.client_no_context_takeover,
        server_no_context_takeover: !ours.server_context_takeover,
        ..Agreement::default()
    };
    let mut seen = [false; 4];
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        let index = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => {
                agreed.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" if value.is_none() => {
                agreed.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                agreed.server_max_window_bits = Some(window_bits(value?)?);
                2
            }
            // The client's window: any up to 15 is inflated, so no answer is needed.
            "client_max_window_bits" => {
                if let Some(value) = value {
                    window_bits(value)?;
                }
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[index], true) {
            return None;
        }
    }
    Some(agreed)
}

/// A window size parameter: 8 to 15, in plain digits.
fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) || value.len() > 2 {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// A parameter value without the quotes of a quoted string (RFC 7230 §3.2.6); `None`
/// for a quoted string that does not end.
fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(inner) => inner.strip_suffix('"'),
        None => Some(value),
    }
}

/// Splits `value` at `sep`, except inside a quoted string.
fn split_outside_quotes(value: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    value
        .split(move |c: char| {
            if c == '"' {
                quoted = !quoted;
            }
            c == sep && !quoted
        })
        .filter(|part| !part.trim().is_empty())
}

/// Messages shorter than this (in bytes) go out uncompressed: below it, deflate's
/// block framing and the time it takes outweigh what it saves. A chat line (150 to
/// 250 bytes as a SockJS frame) is over it: compressed on its own it shrinks by about
/// a quarter, after the lines before it by nearly two thirds, and a broadcast's is
/// compressed once per thread, so its members share the cost.
pub(crate) const COMPRESS_MIN: usize = 128;

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates past the message size limit.
    TooBig,
    /// It is not a deflate stream.
    Corrupt,
}

/// Inflates one client's compressed messages: a piece at a time, never more than
/// the limit of output per message, into the caller's sink.
pub(crate) struct Inflater {
    inflate: Decompress,
    /// Keep the window between messages (the client's context takeover).
    takeover: bool,
    /// Output of the message in progress so far.
    out: u64,
}

/// How much is inflated at a time.
const STEP: usize = 8 * 1024;

/// The bytes RFC 7692 §7.2.2 has the receiver append to a message before inflating
/// it (the sender removed them).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

thread_local! {
    /// A worker thread's spare inflater for clients that keep no context between
    /// messages: a compressed message takes it (or makes one, should another
    /// connection's message hold it) and gives it back when it is whole, so such
    /// connections hold none between messages and a message makes none.
    static SPARE_INFLATER: RefCell<Option<Box<Inflater>>> = const { RefCell::new(None) };
}

/// An inflater for a compressed message; the thread's spare one, if the client keeps
/// no context between messages (`!takeover`) and it is free.
pub(crate) fn take_inflater(takeover: bool) -> Box<Inflater> {
    if !takeover {
        if let Some(spare) = SPARE_INFLATER.with(|spare| spare.borrow_mut().take()) {
            return spare;
        }
    }
    Box::new(Inflater::new(takeover))
}

/// Gives back an inflater whose message is whole (and which has been reset), to be
/// the thread's spare if it has none.
pub(crate) fn give_back_inflater(inflater: Box<Inflater>) {
    if !inflater.takeover && inflater.out == 0 {
        SPARE_INFLATER.with(|spare| {
            let mut spare = spare.borrow_mut();
            if spare.is_none() {
                *spare = Some(inflater);
            }
        });
    }
}

impl Inflater {
    /// An inflater for a client that keeps its context between messages or not.
    pub(crate) fn new(takeover: bool) -> Self {
        Inflater {
            inflate: Decompress::new(false),
            takeover,
            out: 0,
        }
    }

    /// Inflates `input`, part of the message in progress, handing the output to
    /// `sink` in pieces; refuses once the message inflates past `max` bytes, having
    /// produced at most `max` (plus one step).
    pub(crate) fn piece<E>(
        &mut self,
        input: &[u8],
        max: u64,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), InflateOrSink<E>> {
        let mut input = input;
        let mut step = [0u8; STEP];
        loop {
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let status = self
                .inflate
                .decompress(input, &mut step, FlushDecompress::Sync)
                .map_err(|_| InflateOrSink::Inflate(InflateError::Corrupt))?;
            let used = (self.inflate.total_in() - before_in) as usize;
            let made = (self.inflate.total_out() - before_out) as usize;
            input = &input[used..];
            self.out += made as u64;
            if self.out > max {
                return Err(InflateOrSink::Inflate(InflateError::TooBig));
            }
            if made > 0 {
                sink(&step[..made]).map_err(InflateOrSink::Sink)?;
            }
            match status {
                // A final block ends the stream: nothing after it may follow.
                Status::StreamEnd if !input.is_empty() => {
                    return Err(InflateOrSink::Inflate(InflateError::Corrupt));
                }
                Status::StreamEnd => return Ok(()),
                _ if made == STEP => {}
                _ if input.is_empty() => return Ok(()),
                _ if used == 0 && made == 0 => {
                    return Err(InflateOrSink::Inflate(InflateError::Corrupt));
                }
                _ => {}
            }
        }
    }

    /// The message in progress is complete: inflates the tail RFC 7692 removes, and
    /// gets ready for the next message.
    pub(crate) fn finish<E>(
        &mut self,
        max: u64,
        sink: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), InflateOrSink<E>> {
        let result = self.piece(&TAIL, max, sink);
        self.out = 0;
        if !self.takeover {
            self.inflate.reset(false);
        }
        result
    }
}

/// An inflate error, or the sink's.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateOrSink<E> {
    Inflate(InflateError),
    Sink(E),
}

#[cfg(test)]
mod tests;
