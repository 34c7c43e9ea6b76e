//! The websocket frame reader: sizes, framing rules, reassembly, UTF-8 as it arrives.

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
fn a_frame_arriving_in_pieces_is_refused_at_its_first_impossible_byte() {
    let mut payload = "ok ✓ ".as_bytes().to_vec();
    payload.push(0xff);
    payload.extend_from_slice(&[b'x'; 1000]);
    let whole = frame(true, 0x1, &payload);
    // The header and the valid start, then the bad byte, then the rest.
    let cut = whole.len() - 1000;
    let chunks = vec![
        whole[..cut - 1].to_vec(),
        whole[cut - 1..cut].to_vec(),
        whole[cut..].to_vec(),
    ];
    let (frames, read) = read_all(chunks, 1 << 20);
    assert_eq!(
        frames,
        [ClientFrame::Refuse(Refusal {
            code: 1007,
            reason: "Invalid UTF-8."
        })]
    );
    assert_eq!(read, 2, "refused before the rest of the frame was read");
}

#[test]
fn a_character_cut_between_pieces_and_fragments_is_fine() {
    let text = "é😀€ end";
    let bytes = text.as_bytes();
    // Fragments cut inside characters, each fragment in one-byte chunks.
    let mut stream = frame(false, 0x1, &bytes[..1]);
    stream.extend(frame(false, 0x0, &bytes[1..4]));
    stream.extend(frame(true, 0x0, &bytes[4..]));
    let chunks = stream.iter().map(|b| vec![*b]).collect();
    let (frames, _) = read_all(chunks, 100);
    assert_eq!(frames, [self::text(text)]);
}

#[test]
fn a_fragment_that_cannot_continue_the_text_is_refused_before_the_last() {
    let mut stream = frame(false, 0x1, b"fine");
    stream.extend(frame(false, 0x0, b"\xc3("));
    let fin = frame(true, 0x0, b"never read");
    let (frames, read) = read_all(vec![stream, fin], 100);
    assert_eq!(
        frames
            .last()
            .map(|f| matches!(f, ClientFrame::Refuse(r) if r.code == 1007)),
        Some(true)
    );
    assert_eq!(read, 1);
}

#[test]
fn frames_split_across_chunks_are_put_together() {
    let whole = frame(true, 0x1, "split ✓".as_bytes());
    let chunks = whole.iter().map(|b| vec![*b]).collect();
    let (frames, _) = read_all(chunks, 100);
    assert_eq!(frames, [text("split ✓")]);
}
