//! Reading a client's websocket frames (RFC 6455 §5), with our limits.
//!
//! actix-web-actors' own reader buffers whatever the socket delivers before it decodes
//! anything, and checks the size limit only once a whole frame has arrived: a header
//! announcing 2^62 bytes made it read and keep everything the client sent. It also
//! hands over fragments one by one, and ends the stream on a protocol error without
//! saying why. This reader stops reading as soon as it holds a whole frame, refuses a
//! frame or a fragmented message as soon as its announced size is over the limit,
//! reassembles fragmented messages, and says which close code each broken rule earns.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser, ProtocolError};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use futures_core::Stream;

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

/// A message being received in fragments (RFC 6455 §5.4).
#[derive(Default)]
pub(crate) struct Reassembly {
    /// Boxed: most messages come whole, and an idle connection then carries one
    /// pointer instead of a buffer.
    partial: Option<Box<Partial>>,
}

/// The fragments so far, and the opcode of the first.
struct Partial {
    kind: OpCode,
    parts: BytesMut,
}

impl Reassembly {
    /// How many bytes of the message in progress have arrived.
    pub(crate) fn len(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.parts.len())
    }

    /// Takes one data frame (text, binary or continuation); gives the whole message
    /// once its last fragment arrived.
    pub(crate) fn push(
        &mut self,
        fin: bool,
        opcode: OpCode,
        data: Option<BytesMut>,
        max: usize,
    ) -> Result<Option<ClientFrame>, Refusal> {
        let data = data.unwrap_or_default();
        let kind = match (opcode, self.partial.as_ref().map(|p| p.kind)) {
            (OpCode::Continue, Some(kind)) => kind,
            (OpCode::Continue, None) => {
                return Err(protocol_error("Unexpected continuation frame."));
            }
            (_, Some(_)) => return Err(protocol_error("Expected a continuation frame.")),
            (kind, None) => kind,
        };
        if self.len() + data.len() > max {
            return Err(TOO_BIG);
        }
        let whole = match self.partial.take() {
            // The usual case: one frame is the whole message; no copy.
            None if fin => data,
            None => {
                self.partial = Some(Box::new(Partial { kind, parts: data }));
                return Ok(None);
            }
            Some(mut partial) => {
                partial.parts.extend_from_slice(&data);
                if !fin {
                    self.partial = Some(partial);
                    return Ok(None);
                }
                partial.parts
            }
        };
        match kind {
            OpCode::Text => ByteString::try_from(whole.freeze())
                .map(|text| Some(ClientFrame::Text(text)))
                .map_err(|_| Refusal {
                    code: CLOSE_INVALID_DATA,
                    reason: "Invalid UTF-8.",
                }),
            _ => Err(Refusal {
                code: CLOSE_UNSUPPORTED,
                reason: "Binary messages are not supported.",
            }),
        }
    }
}

/// The frames of a websocket request's body, as [`ClientFrame`]s.
pub(crate) struct ClientFrames<S> {
    payload: S,
    buf: BytesMut,
    /// The largest message taken, at most 4 GiB - 1: a `u32`, as it is held by
    /// every websocket for its whole life.
    max: u32,
    message: Reassembly,
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
            done: false,
        }
    }

    /// The next complete message or control frame in the buffer, if there is one.
    fn decode(&mut self) -> Result<Option<ClientFrame>, Refusal> {
        let max = usize::try_from(self.max).unwrap_or(usize::MAX);
        loop {
            let Some(announced) = announced_payload_len(&self.buf) else {
                return Ok(None);
            };
            let data_frame = self.buf[0] & 0x08 == 0;
            let so_far = if data_frame { self.message.len() } else { 0 };
            if announced.saturating_add(so_far as u64) > u64::from(self.max) {
                return Err(TOO_BIG);
            }
            let Some((fin, opcode, data)) =
                Parser::parse(&mut self.buf, true, max).map_err(refusal)?
            else {
                return Ok(None);
            };
            match opcode {
                OpCode::Text | OpCode::Binary | OpCode::Continue => {
                    if let Some(frame) = self.message.push(fin, opcode, data, max)? {
                        return Ok(Some(frame));
                    }
                }
                _ if !fin => return Err(protocol_error("Fragmented control frame.")),
                OpCode::Ping => {
                    return Ok(Some(ClientFrame::Ping(
                        data.map(BytesMut::freeze).unwrap_or_default(),
                    )));
                }
                OpCode::Pong => return Ok(Some(ClientFrame::Pong)),
                OpCode::Close => {
                    let payload = data.unwrap_or_default();
                    return match Parser::try_parse_close_payload(&payload) {
                        Ok(reason) => Ok(Some(ClientFrame::Close(reason))),
                        Err(_) => Err(protocol_error("Invalid close frame.")),
                    };
                }
                OpCode::Bad => return Err(protocol_error("Invalid opcode.")),
            }
        }
    }
}

fn refusal(err: ProtocolError) -> Refusal {
    match err {
        ProtocolError::Overflow => TOO_BIG,
        ProtocolError::UnmaskedFrame => protocol_error("Unmasked frame."),
        ProtocolError::InvalidOpcode(_) | ProtocolError::BadOpCode => {
            protocol_error("Invalid opcode.")
        }
        ProtocolError::InvalidLength(_) => protocol_error("Invalid control frame length."),
        _ => protocol_error("Protocol error."),
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
mod tests {
    use super::*;

    const MASK: [u8; 4] = [1, 2, 3, 4];

    /// A masked client frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= 0xffff => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        out
    }

    /// Everything a reader makes of `chunks`, and how many chunks it read.
    fn read_all(chunks: Vec<Vec<u8>>, max: usize) -> (Vec<ClientFrame>, usize) {
        let total = chunks.len();
        let stream = ChunkStream(chunks.into_iter().map(Bytes::from).collect());
        let mut reader = ClientFrames::new(stream, max);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut reader).poll_next(&mut cx) {
            out.push(frame);
        }
        (out, total - reader.payload.0.len())
    }

    struct ChunkStream(std::collections::VecDeque<Bytes>);

    impl Stream for ChunkStream {
        type Item = Result<Bytes, actix_web::error::PayloadError>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    fn text(s: &str) -> ClientFrame {
        ClientFrame::Text(ByteString::from(s))
    }

    #[test]
    fn announced_lengths_are_read_from_the_header() {
        assert_eq!(announced_payload_len(&[0x81]), None);
        assert_eq!(announced_payload_len(&[0x81, 0x85]), Some(5));
        assert_eq!(announced_payload_len(&[0x81, 0xfe, 0x01]), None);
        assert_eq!(announced_payload_len(&[0x81, 0xfe, 0x01, 0x00]), Some(256));
        let mut huge = vec![0x81, 0xff];
        huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert_eq!(announced_payload_len(&huge), Some(1 << 62));
        assert_eq!(announced_payload_len(&huge[..9]), None);
    }

    #[test]
    fn fragmented_messages_are_reassembled() {
        let chunks = vec![
            frame(false, 0x1, b"hel"),
            frame(true, 0x9, b"ping in between"),
            frame(false, 0x0, b"lo "),
            frame(true, 0x0, "wörld".as_bytes()),
            frame(true, 0x1, b"next"),
        ];
        let (frames, _) = read_all(chunks, 1024);
        assert_eq!(
            frames,
            [
                ClientFrame::Ping(Bytes::from_static(b"ping in between")),
                text("hello wörld"),
                text("next")
            ]
        );
    }

    #[test]
    fn a_huge_announced_frame_is_refused_after_its_header() {
        let mut header = vec![0x81, 0xff];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        header.extend_from_slice(&MASK);
        let mut chunks = vec![header];
        chunks.extend((0..100).map(|_| vec![b'x'; 65536]));
        let (frames, read) = read_all(chunks, 1 << 20);
        assert_eq!(frames, [ClientFrame::Refuse(TOO_BIG)]);
        assert_eq!(read, 1, "read past the header");
    }

    #[test]
    fn fragments_adding_up_past_the_limit_are_refused() {
        let mut chunks = vec![frame(false, 0x1, &[b'a'; 600])];
        chunks.extend((0..100).map(|_| frame(false, 0x0, &[b'b'; 600])));
        let (frames, read) = read_all(chunks, 1000);
        assert_eq!(frames, [ClientFrame::Refuse(TOO_BIG)]);
        assert_eq!(read, 2);
    }

    #[test]
    fn a_message_exactly_at_the_limit_passes() {
        let (frames, _) = read_all(
            vec![
                frame(false, 0x1, &[b'a'; 500]),
                frame(true, 0x0, &[b'a'; 500]),
            ],
            1000,
        );
        assert_eq!(frames, [text(&"a".repeat(1000))]);
        let (frames, _) = read_all(vec![frame(true, 0x1, &[b'a'; 1001])], 1000);
        assert_eq!(frames, [ClientFrame::Refuse(TOO_BIG)]);
    }

    #[test]
    fn invalid_utf8_is_1007_even_across_fragments() {
        let (frames, _) = read_all(vec![frame(true, 0x1, b"\xff")], 100);
        assert_eq!(
            frames,
            [ClientFrame::Refuse(Refusal {
                code: 1007,
                reason: "Invalid UTF-8."
            })]
        );
        // A character split between fragments is fine.
        let (frames, _) = read_all(
            vec![frame(false, 0x1, b"\xc3"), frame(true, 0x0, b"\xa9")],
            100,
        );
        assert_eq!(frames, [text("é")]);
    }

    #[test]
    fn broken_framing_is_a_protocol_error() {
        let code = |chunks: Vec<Vec<u8>>| match read_all(chunks, 100).0.last() {
            Some(ClientFrame::Refuse(r)) => r.code,
            other => panic!("not refused: {other:?}"),
        };
        assert_eq!(
            code(vec![frame(true, 0x0, b"x")]),
            1002,
            "continuation first"
        );
        assert_eq!(
            code(vec![frame(false, 0x1, b"x"), frame(true, 0x1, b"y")]),
            1002
        );
        assert_eq!(code(vec![frame(false, 0x9, b"")]), 1002, "fragmented ping");
        assert_eq!(code(vec![frame(true, 0x3, b"")]), 1002, "reserved opcode");
        assert_eq!(code(vec![vec![0x81, 0x01, b'x']]), 1002, "unmasked");
        assert_eq!(
            code(vec![vec![0xc1, 0x80, 1, 2, 3, 4]]),
            1002,
            "reserved bit"
        );
        assert_eq!(
            code(vec![frame(true, 0x8, b"\x03")]),
            1002,
            "one-byte close"
        );
        assert_eq!(code(vec![frame(true, 0x2, b"bin")]), 1003, "binary");
    }

    #[test]
    fn close_frames_carry_their_reason() {
        let (frames, _) = read_all(vec![frame(true, 0x8, b"\x03\xe8bye")], 100);
        assert!(matches!(
            &frames[..],
            [ClientFrame::Close(Some(r))] if u16::from(r.code) == 1000 && r.description.as_deref() == Some("bye")
        ));
    }

    #[test]
    fn frames_split_across_chunks_are_put_together() {
        let whole = frame(true, 0x1, "split ✓".as_bytes());
        let chunks = whole.iter().map(|b| vec![*b]).collect();
        let (frames, _) = read_all(chunks, 100);
        assert_eq!(frames, [text("split ✓")]);
    }
}
