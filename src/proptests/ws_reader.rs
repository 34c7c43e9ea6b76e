//! The websocket frame reader: `announced_payload_len` and `ClientFrames`, driven
//! synchronously over an in-memory stream of chunks; the helpers that write client
//! frames and read them back are shared with `ws_rules`.

use std::cell::Cell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_http::ws::{CloseCode, CloseReason};
use bytes::Bytes;
use bytestring::ByteString;
use futures_core::Stream;
use proptest::prelude::*;
use proptest::sample::Index;

use super::runner::check;
use crate::transport::ws_reader::{ClientFrame, ClientFrames, Refusal, announced_payload_len};

const TOO_BIG: Refusal = Refusal {
    code: 1009,
    reason: "Message too big.",
};

/// The chunks of a request body, handed out one per poll; counts how many were taken.
struct Chunks {
    chunks: VecDeque<Bytes>,
    taken: Rc<Cell<usize>>,
}

impl Stream for Chunks {
    type Item = Result<Bytes, actix_web::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let chunk = self.chunks.pop_front();
        if chunk.is_some() {
            self.taken.set(self.taken.get() + 1);
        }
        Poll::Ready(chunk.map(Ok))
    }
}

/// What a reader made of `bytes` cut at `cuts`: each frame with how many chunks had
/// been taken when it came out, and how many were taken in all. Checks on the way
/// that the stream never waits (it cannot: every chunk is there), and that once it
/// ended it stays ended without taking anything more.
pub(super) fn read(
    bytes: &[u8],
    cuts: &[usize],
    max: usize,
) -> Result<(Vec<(ClientFrame, usize)>, usize), TestCaseError> {
    let chunks = split(bytes, cuts);
    let limit = chunks.len() + bytes.len() + 2;
    let taken = Rc::new(Cell::new(0));
    let stream = Chunks {
        chunks: chunks.into_iter().map(Bytes::from).collect(),
        taken: taken.clone(),
    };
    let mut reader = ClientFrames::new(stream, max);
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = Vec::new();
    loop {
        match Pin::new(&mut reader).poll_next(&mut cx) {
            Poll::Ready(Some(frame)) => frames.push((frame, taken.get())),
            Poll::Ready(None) => break,
            Poll::Pending => prop_assert!(false, "a stream that never waits made the reader wait"),
        }
        prop_assert!(frames.len() <= limit, "more frames than bytes");
    }
    let total = taken.get();
    for _ in 0..2 {
        prop_assert!(matches!(
            Pin::new(&mut reader).poll_next(&mut cx),
            Poll::Ready(None)
        ));
    }
    prop_assert_eq!(taken.get(), total, "read after the end");
    Ok((frames, total))
}

/// `bytes` cut at the given offsets (sorted; repeated offsets give empty chunks).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in cuts {
        chunks.push(bytes[from..cut].to_vec());
        from = cut;
    }
    chunks.push(bytes[from..].to_vec());
    chunks
}

/// How many chunks a reader has taken once it holds the byte at `offset`.
pub(super) fn chunks_to_hold(offset: usize, bytes_len: usize, cuts: &[usize]) -> usize {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes_len)).collect();
    cuts.sort_unstable();
    // The chunk holding `offset` is the one after every cut at or before it.
    cuts.iter().filter(|&&c| c <= offset).count() + 1
}

/// A frame as a client writes it: `first` is FIN, RSV and opcode; the length is
/// written in the shortest form, or (`form` 1) at least 16 bits, or (`form` 2) 64
/// bits; `announced` may differ from the payload's length (a lying header). Returns
/// the bytes and where the length field ends.
pub(super) fn encode(
    first: u8,
    mask: Option<[u8; 4]>,
    announced: u64,
    form: u8,
    payload: &[u8],
) -> (Vec<u8>, usize) {
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![first];
    match (announced, form % 3) {
        (0..=125, 0) => out.push(mask_bit | announced as u8),
        (0..=0xffff, 0 | 1) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(announced as u16).to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&announced.to_be_bytes());
        }
    }
    let length_end = out.len();
    match mask {
        Some(mask) => {
            out.extend_from_slice(&mask);
            out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
        }
        None => out.extend_from_slice(payload),
    }
    (out, length_end)
}

/// A valid frame of a client, before masking.
#[derive(Clone, Debug)]
pub(super) enum Sent {
    /// A fragment of a text message: first or continuation, last or not.
    Fragment {
        first: bool,
        fin: bool,
        data: Bytes,
    },
    Ping(Bytes),
    Pong(Bytes),
    /// A close frame with an allowed code and a reason, or empty.
    Close(Option<(u16, String)>),
}

impl Sent {
    fn first_byte(&self) -> u8 {
        match self {
            Sent::Fragment { first, fin, .. } => (u8::from(*fin) << 7) | u8::from(*first),
            Sent::Ping(_) => 0x89,
            Sent::Pong(_) => 0x8a,
            Sent::Close(_) => 0x88,
        }
    }

    pub(super) fn payload(&self) -> Vec<u8> {
        match self {
            Sent::Fragment { data, .. } | Sent::Ping(data) | Sent::Pong(data) => data.to_vec(),
            Sent::Close(None) => Vec::new(),
            Sent::Close(Some((code, reason))) => {
                let mut out = code.to_be_bytes().to_vec();
                out.extend_from_slice(reason.as_bytes());
                out
            }
        }
    }
}

fn control() -> impl Strategy<Value = Sent> {
    let data = || prop::collection::vec(any::<u8>(), 0..=125).prop_map(Bytes::from);
    let code = prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999];
    prop_oneof![
        data().prop_map(Sent::Ping),
        data().prop_map(Sent::Pong),
        Just(Sent::Close(None)),
        (code, "[a-z é😀]{0,30}").prop_map(|(code, reason)| Sent::Close(Some((code, reason)))),
    ]
}

/// One text message, cut into fragments at byte offsets (anywhere, so inside a
/// character too), with control frames between some of them.
fn message() -> impl Strategy<Value = Vec<Sent>> {
    let text = prop_oneof![
        8 => any::<String>(),
        3 => "[a-z]{100,300}",
        1 => (65_500usize..65_600).prop_map(|n| "x".repeat(n)),
    ];
    let controls = prop::collection::vec(prop::option::weighted(0.3, control()), 0..4);
    (text, prop::collection::vec(any::<Index>(), 0..4), controls).prop_map(
        |(text, cuts, controls)| {
            let bytes = text.into_bytes();
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
            cuts.sort_unstable();
            cuts.push(bytes.len());
            let mut sent = Vec::new();
            let mut from = 0;
            for (i, &cut) in cuts.iter().enumerate() {
                sent.push(Sent::Fragment {
                    first: i == 0,
                    fin: i + 1 == cuts.len(),
                    data: Bytes::copy_from_slice(&bytes[from..cut]),
                });
                from = cut;
                if let Some(Some(c)) = controls.get(i) {
                    if i + 1 < cuts.len() {
                        sent.push(c.clone());
                    }
                }
            }
            sent
        },
    )
}

/// A client's frames: messages and control frames, each encoded with its own mask
/// and length form.
pub(super) fn valid_stream() -> impl Strategy<Value = Vec<(Sent, [u8; 4], u8)>> {
    let sent = prop_oneof![3 => message(), 1 => control().prop_map(|c| vec![c])];
    // More masks and forms than an item has frames (at most nine); the rest go unused.
    let encodings = prop::collection::vec(
        (any::<[u8; 4]>(), prop_oneof![4 => Just(0u8), 1 => 1u8..3]),
        10,
    );
    let item = (sent, encodings).prop_map(|(sent, encodings)| {
        sent.into_iter()
            .zip(encodings)
            .map(|(s, (mask, form))| (s, mask, form))
            .collect::<Vec<_>>()
    });
    prop::collection::vec(item, 0..5).prop_map(|items| items.concat())
}

/// Where a body is cut into chunks.
#[derive(Clone, Debug)]
pub(super) enum Cuts {
    /// One chunk.
    None,
    /// At these places (the same place twice makes an empty chunk).
    At(Vec<Index>),
    /// After every byte (of the first 400; the rest in one chunk).
    EveryByte,
}

impl Cuts {
    pub(super) fn offsets(&self, len: usize) -> Vec<usize> {
        match self {
            Cuts::None => Vec::new(),
            Cuts::At(at) => at.iter().map(|i| i.index(len + 1)).collect(),
            Cuts::EveryByte => (1..len.min(400)).collect(),
        }
    }
}

pub(super) fn cuts() -> impl Strategy<Value = Cuts> {
    prop_oneof![
        1 => Just(Cuts::None),
        4 => prop::collection::vec(any::<Index>(), 0..8).prop_map(Cuts::At),
        1 => Just(Cuts::EveryByte),
    ]
}

/// A valid stream's bytes, and what a reader must give for it with limit `max`:
/// each frame with the offset of the byte that completes it (for a refusal, the
/// last byte of the length field), up to the first refusal.
pub(super) type Expected = (Vec<u8>, Vec<(ClientFrame, usize)>);

pub(super) fn expected_reading(
    stream: &[(Sent, [u8; 4], u8)],
    max: usize,
) -> Result<Expected, TestCaseError> {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    let mut message = Vec::new();
    for (sent, mask, form) in stream {
        let payload = sent.payload();
        let (frame, length_end) = encode(
            sent.first_byte(),
            Some(*mask),
            payload.len() as u64,
            *form,
            &payload,
        );
        let start = bytes.len();
        bytes.extend_from_slice(&frame);
        let so_far = if matches!(sent, Sent::Fragment { .. }) {
            message.len()
        } else {
            0
        };
        if so_far + payload.len() > max {
            expected.push((ClientFrame::Refuse(TOO_BIG), start + length_end - 1));
            break;
        }
        let out = match sent {
            Sent::Fragment { fin, data, .. } => {
                message.extend_from_slice(data);
                if !fin {
                    continue;
                }
                let text = String::from_utf8(std::mem::take(&mut message))
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                ClientFrame::Text(ByteString::from(text))
            }
            Sent::Ping(data) => ClientFrame::Ping(data.clone()),
            Sent::Pong(_) => ClientFrame::Pong,
            Sent::Close(None) => ClientFrame::Close(None),
            Sent::Close(Some((code, reason))) => ClientFrame::Close(Some(CloseReason {
                code: CloseCode::from(*code),
                description: (!reason.is_empty()).then(|| reason.clone()),
            })),
        };
        expected.push((out, bytes.len() - 1));
    }
    Ok((bytes, expected))
}

/// For any sequence of valid masked client frames (text messages cut into fragments
/// anywhere, control frames between fragments, any length form) cut into chunks
/// anywhere, the reader gives what the rules say, in order: a message once its last
/// fragment is in, each ping, pong and close as it comes, and `1009` as soon as the
/// length field of a frame takes its message (or a control frame) over the limit,
/// after which nothing. Each comes out as soon as the chunk holding its last byte
/// (for a refusal, the last byte of the length field) is taken, and not one chunk
/// later: the reader never reads ahead of a whole frame, nor past a refusal.
#[test]
fn any_split_of_valid_frames_reads_the_same_messages() {
    let max = prop_oneof![0usize..300, Just(1 << 20)];
    let input = (valid_stream(), max, cuts());
    check(
        "ws_reader_valid_frames",
        256,
        input,
        |(stream, max, cuts)| {
            let (bytes, expected) = expected_reading(&stream, max)?;
            let cuts = cuts.offsets(bytes.len());
            let expected: Vec<(ClientFrame, usize)> = expected
                .into_iter()
                .map(|(frame, offset)| (frame, chunks_to_hold(offset, bytes.len(), &cuts)))
                .collect();
            let (frames, _) = read(&bytes, &cuts, max)?;
            prop_assert_eq!(frames, expected);
            Ok(())
        },
    );
}

/// A piece of byte soup: random bytes, or a frame with random header bits (FIN,
/// reserved bits, any opcode, masked or not, a length form, a header that may lie
/// about the payload's length).
fn soup_piece() -> impl Strategy<Value = Vec<u8>> {
    let opcode = prop_oneof![4 => prop::sample::select(&[0u8, 1, 2, 8, 9, 10][..]), 1 => 0u8..16];
    let rsv = prop_oneof![6 => Just(0u8), 1 => 1u8..8];
    let lie = prop_oneof![
        6 => Just(None),
        1 => any::<u64>().prop_map(Some),
        1 => (0u64..200).prop_map(Some),
    ];
    let frame = (
        (any::<bool>(), rsv, opcode),
        prop::option::weighted(0.9, any::<[u8; 4]>()),
        lie,
        0u8..3,
        prop::collection::vec(any::<u8>(), 0..140),
    )
        .prop_map(|((fin, rsv, opcode), mask, lie, form, payload)| {
            let first = (u8::from(fin) << 7) | (rsv << 4) | opcode;
            let announced = lie.unwrap_or(payload.len() as u64);
            encode(first, mask, announced, form, &payload).0
        });
    prop_oneof![1 => prop::collection::vec(any::<u8>(), 0..12), 4 => frame]
}

/// For any bytes (random, or frames with random header bits that may lie about
/// their length) cut into chunks anywhere and any limit: the reader never panics,
/// gives frames and at most one refusal, which is the last thing it gives (with
/// code 1002, 1003, 1007 or 1009) and after which it reads nothing; and it gives the
/// same frames whatever the cuts, as when everything comes in one chunk.
#[test]
fn any_byte_soup_gives_frames_or_one_refusal() {
    let max = prop_oneof![0usize..200, Just(1 << 20)];
    let bytes = prop::collection::vec(soup_piece(), 0..6).prop_map(|p| Bytes::from(p.concat()));
    check(
        "ws_reader_byte_soup",
        256,
        (bytes, max, cuts()),
        |(bytes, max, cuts)| {
            let cuts = cuts.offsets(bytes.len());
            let (frames, total) = read(&bytes, &cuts, max)?;
            let refusals: Vec<usize> = frames
                .iter()
                .enumerate()
                .filter_map(|(i, (f, _))| matches!(f, ClientFrame::Refuse(_)).then_some(i))
                .collect();
            prop_assert!(refusals.len() <= 1, "{:?}", frames);
            if let Some(&i) = refusals.first() {
                prop_assert_eq!(i + 1, frames.len(), "something after a refusal");
                let (refusal, taken) = &frames[i];
                if let ClientFrame::Refuse(r) = refusal {
                    prop_assert!([1002, 1003, 1007, 1009].contains(&r.code), "{:?}", r);
                }
                prop_assert_eq!(*taken, total, "read past a refusal");
            }
            let (whole, _) = read(&bytes, &[], max)?;
            let frames: Vec<ClientFrame> = frames.into_iter().map(|(f, _)| f).collect();
            let whole: Vec<ClientFrame> = whole.into_iter().map(|(f, _)| f).collect();
            prop_assert_eq!(frames, whole);
            Ok(())
        },
    );
}

/// For any bytes, `announced_payload_len` is the length the header announces (7
/// bits, or the 16- or 64-bit big-endian field that 126 or 127 call for) once the
/// bytes hold the whole length field, and `None` before; whatever the other bits.
#[test]
fn announced_payload_len_reads_the_length_field() {
    let header = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12),
        (any::<u8>(), any::<u64>(), 0u8..3, any::<Index>()).prop_map(|(first, len, form, cut)| {
            let (bytes, _) = encode(first, Some([0; 4]), len, form, &[]);
            bytes[..cut.index(bytes.len() + 1)].to_vec()
        }),
    ];
    check("announced_payload_len", 256, header, |src| {
        let expected = match src.get(1).map(|b| b & 0x7f) {
            None => None,
            Some(126) => src
                .get(2..4)
                .map(|b| (u64::from(b[0]) << 8) | u64::from(b[1])),
            Some(127) => src
                .get(2..10)
                .map(|b| b.iter().fold(0u64, |n, &byte| (n << 8) | u64::from(byte))),
            Some(n) => Some(u64::from(n)),
        };
        prop_assert_eq!(announced_payload_len(&src), expected);
        Ok(())
    });
}
