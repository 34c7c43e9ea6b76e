//! Reading a client's websocket frames (RFC 6455 §5), with our limits.
//!
//! actix-web-actors' own reader buffers whatever the socket delivers before it decodes
//! anything, and checks the size limit only once a whole frame has arrived: a header
//! announcing 2^62 bytes made it read and keep everything the client sent. It also
//! hands over fragments one by one, and ends the stream on a protocol error without
//! saying why. This reader refuses a frame or a fragmented message as soon as its
//! announced size is over the limit, reassembles fragmented messages, and says which
//! close code each broken rule earns.
//!
//! A frame that arrives whole (the usual case) is unmasked in place and its text
//! checked once, without a copy. A text frame whose payload arrives in pieces, and
//! every fragment of a fragmented message, is taken as it comes: each piece is
//! unmasked, checked as UTF-8 (a character may be cut between pieces or fragments)
//! and added to the message, so a message that cannot be text is refused with 1007
//! at the first impossible byte (RFC 6455 §8.1), and the whole message is never
//! checked a second time.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser};
use bytes::{Buf, Bytes, BytesMut};
use bytestring::ByteString;
use futures_core::Stream;

use super::ws_deflate::{self, InflateError, InflateOrSink, Inflater};

mod reassembly;
pub(crate) use reassembly::Reassembly;

/// Close codes of RFC 6455 §7.4.1 that the reader gives.
pub(crate) const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub(crate) const CLOSE_UNSUPPORTED: u16 = 1003;
pub(crate) const CLOSE_INVALID_DATA: u16 = 1007;
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;

/// What the client sent, one complete message or control frame at a time.
#[derive(Debug, PartialEq)]
pub(crate) enum ClientFrame {
    /// A whole text message (reassembled if it came in fragments).
    Text(ByteString),
    /// A ping, to be answered with a pong carrying the same bytes.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The client's close frame.
    Close(Option<CloseReason>),
    /// The client broke a rule: close with this code and reason. Nothing more is read.
    Refuse(Refusal),
}

/// A close code and reason for a client that broke a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

const TOO_BIG: Refusal = Refusal {
    code: CLOSE_TOO_BIG,
    reason: "Message too big.",
};

const NOT_UTF8: Refusal = Refusal {
    code: CLOSE_INVALID_DATA,
    reason: "Invalid UTF-8.",
};

const BINARY: Refusal = Refusal {
    code: CLOSE_UNSUPPORTED,
    reason: "Binary messages are not supported.",
};

/// The close a message that does not inflate earns.
fn inflate_refusal(error: InflateOrSink<Refusal>) -> Refusal {
    match error {
        InflateOrSink::Inflate(InflateError::TooBig) => TOO_BIG,
        InflateOrSink::Inflate(InflateError::Corrupt) => Refusal {
            code: CLOSE_INVALID_DATA,
            reason: "Invalid compressed data.",
        },
        InflateOrSink::Sink(refusal) => refusal,
    }
}

fn protocol_error(reason: &'static str) -> Refusal {
    Refusal {
        code: CLOSE_PROTOCOL_ERROR,
        reason,
    }
}

/// The payload length a frame header announces, once its length bytes are in `src`
/// (`None` before that). Looks at nothing but the length.
pub(crate) fn announced_payload_len(src: &[u8]) -> Option<u64> {
    let len = src.get(1)? & 0x7f;
    match len {
        126 => {
            let bytes = src.get(2..4)?;
            Some(u64::from(u16::from_be_bytes([bytes[0], bytes[1]])))
        }
        127 => {
            let bytes: [u8; 8] = src.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        n => Some(u64::from(n)),
    }
}

/// A frame header (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug)]
struct Header {
    fin: bool,
    /// The three reserved bits.
    rsv: u8,
    opcode: u8,
    /// The masking key; `None` for an unmasked frame.
    mask: Option<[u8; 4]>,
    len: u64,
    /// The header's own length in bytes.
    size: usize,
}

/// The header at the start of `src`, once all of it is there.
fn header(src: &[u8]) -> Option<Header> {
    let first = *src.first()?;
    let second = *src.get(1)?;
    let len = announced_payload_len(src)?;
    let at = match second & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    let (mask, size) = if second & 0x80 == 0 {
        (None, at)
    } else {
        (Some(src.get(at..at + 4)?.try_into().ok()?), at + 4)
    };
    Some(Header {
        fin: first & 0x80 != 0,
        rsv: first & 0x70,
        opcode: first & 0x0f,
        mask,
        len,
        size,
    })
}

/// Unmasks `bytes`, the payload from its `offset`-th byte on, with `mask`.
fn unmask(bytes: &mut [u8], mask: [u8; 4], offset: usize) {
    let m: [u8; 4] = std::array::from_fn(|i| mask[(offset + i) % 4]);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut words = bytes.chunks_exact_mut(8);
    for chunk in &mut words {
        if let Ok(eight) = <[u8; 8]>::try_from(&*chunk) {
            chunk.copy_from_slice(&(u64::from_ne_bytes(eight) ^ word).to_ne_bytes());
        }
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

/// A data frame whose payload is still arriving.
struct Arriving {
    fin: bool,
    mask: [u8; 4],
    /// Payload bytes taken so far.
    taken: u64,
    len: u64,
}

/// The frames of a websocket request's body, as [`ClientFrame`]s.
pub(crate) struct ClientFrames<S> {
    payload: S,
    buf: BytesMut,
    /// The largest message taken, at most 4 GiB - 1: a `u32`, as it is held by
    /// every websocket for its whole life.
    max: u32,
    message: Reassembly,
    /// Boxed, as it is there only while a frame arrives in pieces.
    arriving: Option<Box<Arriving>>,
    /// permessage-deflate was agreed: `Some(takeover)`, where `takeover` says whether
    /// the client keeps its compression context between messages.
    deflate: Option<bool>,
    /// The inflater of the compressed message in progress (kept between messages
    /// only with the client's context takeover).
    inflater: Option<Box<Inflater>>,
    done: bool,
}

impl<S> ClientFrames<S> {
    /// Reads `payload`, refusing messages over `max` bytes (over 4 GiB - 1, if `max`
    /// is more).
    pub(crate) fn new(payload: S, max: usize) -> Self {
        ClientFrames {
            payload,
            buf: BytesMut::new(),
            max: u32::try_from(max).unwrap_or(u32::MAX),
            message: Reassembly::default(),
            arriving: None,
            deflate: None,
            inflater: None,
            done: false,
        }
    }

    /// Takes compressed messages (permessage-deflate), from a client that keeps its
    /// compression context between messages or not (`takeover`).
    pub(crate) fn inflating(mut self, takeover: bool) -> Self {
        self.deflate = Some(takeover);
        self
    }

    /// Payload bytes of the message in progress, unmasked: inflated first if the
    /// message is compressed.
    fn feed(&mut self, piece: &[u8]) -> Result<(), Refusal> {
        if !self.message.compressed() {
            return self.message.piece(piece);
        }
        let max = u64::from(self.max);
        let takeover = self.deflate.unwrap_or(false);
        let inflater = self
            .inflater
            .get_or_insert_with(|| ws_deflate::take_inflater(takeover));
        let message = &mut self.message;
        inflater
            .piece(piece, max, &mut |out| message.piece(out))
            .map_err(inflate_refusal)
    }

    /// The frame in progress ended: with `fin`, its message is whole.
    fn end_frame(&mut self, fin: bool) -> Result<Option<ClientFrame>, Refusal> {
        if fin && self.message.compressed() {
            let max = u64::from(self.max);
            if let Some(inflater) = self.inflater.as_mut() {
                let message = &mut self.message;
                inflater
                    .finish(max, &mut |out| message.piece(out))
                    .map_err(inflate_refusal)?;
            }
            if self.deflate != Some(true) {
                if let Some(inflater) = self.inflater.take() {
                    ws_deflate::give_back_inflater(inflater);
                }
            }
        }
        self.message.end(fin)
    }

    /// Takes what has arrived of the frame in progress; the message, if the frame
    /// was its last.
    fn take_arriving(&mut self) -> Result<Option<ClientFrame>, Refusal> {
        let Some(arriving) = self.arriving.as_mut() else {
            return Ok(None);
        };
        let want = arriving.len - arriving.taken;
        let n = usize::try_from(want).map_or(self.buf.len(), |want| want.min(self.buf.len()));
        if n > 0 {
            let mut piece = self.buf.split_to(n);
            let offset = usize::try_from(arriving.taken % 4).unwrap_or(0);
            unmask(&mut piece, arriving.mask, offset);
            arriving.taken += n as u64;
            let done = arriving.taken == arriving.len;
            self.feed(&piece)?;
            if !done {
                return Ok(None);
            }
        } else if arriving.taken < arriving.len {
            return Ok(None);
        }
        let fin = self.arriving.as_ref().is_some_and(|a| a.fin);
        self.arriving = None;
        self.end_frame(fin)
    }

    /// The next complete message or control frame in the buffer, if there is one.
    fn decode(&mut self) -> Result<Option<ClientFrame>, Refusal> {
        let max = usize::try_from(self.max).unwrap_or(usize::MAX);
        loop {
            if self.arriving.is_some() {
                let frame = self.take_arriving()?;
                if frame.is_some() || self.arriving.is_some() {
                    return Ok(frame);
                }
                continue;
            }
            let Some(announced) = announced_payload_len(&self.buf) else {
                return Ok(None);
            };
            let data_frame = self.buf[0] & 0x08 == 0;
            let so_far = if data_frame { self.message.len() } else { 0 };
            if announced.saturating_add(so_far as u64) > u64::from(self.max) {
                return Err(TOO_BIG);
            }
            let Some(header) = header(&self.buf) else {
                return Ok(None);
            };
            let opcode = OpCode::from(header.opcode);
            // RSV1 marks the first frame of a compressed message, once
            // permessage-deflate is agreed (RFC 7692 §6); any other reserved bit, or
            // RSV1 anywhere else, breaks the protocol.
            let compressed = match header.rsv {
                0 => false,
                0x40 if self.deflate.is_some()
                    && matches!(opcode, OpCode::Text | OpCode::Binary) =>
                {
                    true
                }
                _ => return Err(protocol_error("Reserved bits set.")),
            };
            let Some(mask) = header.mask else {
                return Err(protocol_error("Unmasked frame."));
            };
            match opcode {
                OpCode::Text | OpCode::Binary | OpCode::Continue => {
                    let whole = header.size as u64 + header.len;
                    if opcode == OpCode::Text
                        && header.fin
                        && !compressed
                        && !self.message.in_progress()
                        && whole <= self.buf.len() as u64
                    {
                        // The usual case: the whole message in one frame, here (its
                        // size was checked above); no copy, one check.
                        self.buf.advance(header.size);
                        let mut payload = self.buf.split_to(header.len as usize);
                        unmask(&mut payload, mask, 0);
                        return ByteString::try_from(payload.freeze())
                            .map(|text| Some(ClientFrame::Text(text)))
                            .map_err(|_| NOT_UTF8);
                    }
                    self.message.begin(opcode, header.len, max, compressed)?;
                    self.buf.advance(header.size);
                    self.arriving = Some(Box::new(Arriving {
                        fin: header.fin,
                        mask,
                        taken: 0,
                        len: header.len,
                    }));
                }
                OpCode::Bad => return Err(protocol_error("Invalid opcode.")),
                _ if !header.fin => return Err(protocol_error("Fragmented control frame.")),
                _ if header.len > 125 => {
                    return Err(protocol_error("Invalid control frame length."));
                }
                _ => {
                    let whole = header.size + header.len as usize;
                    if self.buf.len() < whole {
                        return Ok(None);
                    }
                    self.buf.advance(header.size);
                    let mut payload = self.buf.split_to(header.len as usize);
                    unmask(&mut payload, mask, 0);
                    return match opcode {
                        OpCode::Ping => Ok(Some(ClientFrame::Ping(payload.freeze()))),
                        OpCode::Pong => Ok(Some(ClientFrame::Pong)),
                        _ => match Parser::try_parse_close_payload(&payload) {
                            Ok(reason) => Ok(Some(ClientFrame::Close(reason))),
                            Err(_) => Err(protocol_error("Invalid close frame.")),
                        },
                    };
                }
            }
        }
    }
}

impl<S> Stream for ClientFrames<S>
where
    S: Stream<Item = Result<Bytes, actix_web::error::PayloadError>> + Unpin,
{
    type Item = ClientFrame;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ClientFrame>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.decode() {
                Ok(Some(frame)) => return Poll::Ready(Some(frame)),
                Ok(None) => {}
                Err(refusal) => {
                    this.done = true;
                    this.buf = BytesMut::new();
                    this.message = Reassembly::default();
                    this.arriving = None;
                    this.inflater = None;
                    return Poll::Ready(Some(ClientFrame::Refuse(refusal)));
                }
            }
            // Read only while no whole frame is waiting: the buffer holds at most one
            // frame (within the limit) and one chunk.
            match Pin::new(&mut this.payload).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => this.buf.extend_from_slice(&chunk),
                Poll::Ready(Some(Err(_)) | None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests;
