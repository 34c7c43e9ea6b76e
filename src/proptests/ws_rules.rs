//! The websocket frame reader refuses a client that breaks a rule of RFC 6455, with
//! the rule's close code, as soon as the broken frame is in.

use bytes::Bytes;
use proptest::prelude::*;

use super::runner::check;
use super::ws_reader::{chunks_to_hold, cuts, encode, expected_reading, read, valid_stream};
use crate::transport::ws_reader::ClientFrame;

/// One broken rule of RFC 6455, as a client might break it.
#[derive(Clone, Copy, Debug)]
enum Broken {
    Unmasked,
    ReservedBits(u8),
    ReservedOpcode(u8),
    FragmentedControl(u8),
    StrayContinuation,
    NewMessageInsideAnother,
    Binary,
    InvalidUtf8,
    InvalidUtf8AcrossFragments,
    OneByteClose,
    BadCloseCode(u16),
    BadCloseReason,
    LongControl(u8),
}

fn broken() -> impl Strategy<Value = Broken> {
    let control = || prop::sample::select(&[0x8u8, 0x9, 0xa][..]);
    prop_oneof![
        Just(Broken::Unmasked),
        (1u8..8).prop_map(Broken::ReservedBits),
        prop_oneof![3u8..8, 11u8..16].prop_map(Broken::ReservedOpcode),
        control().prop_map(Broken::FragmentedControl),
        Just(Broken::StrayContinuation),
        Just(Broken::NewMessageInsideAnother),
        Just(Broken::Binary),
        Just(Broken::InvalidUtf8),
        Just(Broken::InvalidUtf8AcrossFragments),
        Just(Broken::OneByteClose),
        prop_oneof![0u16..1000, 1004u16..1007, 1015u16..3000, 5000u16..=u16::MAX]
            .prop_map(Broken::BadCloseCode),
        Just(Broken::BadCloseReason),
        control().prop_map(Broken::LongControl),
    ]
}

impl Broken {
    /// The frames that break the rule, and the close code the reader must give.
    fn frames(self) -> (Vec<u8>, u16) {
        let masked = |first: u8, payload: &[u8]| {
            encode(first, Some([7, 0, 9, 1]), payload.len() as u64, 0, payload).0
        };
        match self {
            Broken::Unmasked => (encode(0x81, None, 1, 0, b"x").0, 1002),
            Broken::ReservedBits(rsv) => (masked(0x81 | (rsv << 4), b"x"), 1002),
            Broken::ReservedOpcode(opcode) => (masked(0x80 | opcode, b"x"), 1002),
            Broken::FragmentedControl(opcode) => (masked(opcode, b""), 1002),
            Broken::StrayContinuation => (masked(0x80, b"x"), 1002),
            Broken::NewMessageInsideAnother => {
                ([masked(0x01, b"a"), masked(0x81, b"b")].concat(), 1002)
            }
            Broken::Binary => (masked(0x82, b"bin"), 1003),
            Broken::InvalidUtf8 => (masked(0x81, b"a\xff"), 1007),
            Broken::InvalidUtf8AcrossFragments => {
                ([masked(0x01, b"\xc3"), masked(0x80, b"(")].concat(), 1007)
            }
            Broken::OneByteClose => (masked(0x88, b"\x03"), 1002),
            Broken::BadCloseCode(code) => (masked(0x88, &code.to_be_bytes()), 1002),
            Broken::BadCloseReason => (masked(0x88, b"\x03\xe8\xff"), 1002),
            Broken::LongControl(opcode) => (masked(0x80 | opcode, &[b'x'; 126]), 1002),
        }
    }
}

/// For any valid frames, then frames that break one rule of RFC 6455 (unmasked,
/// reserved bits or opcode, fragmented control frame, continuation without a message
/// or a new message inside one, binary, invalid UTF-8 even across fragments, a
/// malformed close frame, a control frame over 125 bytes), then anything, cut into
/// chunks anywhere: the reader gives the valid frames' messages, then the refusal
/// with the rule's close code (1002, 1003 or 1007), and reads no chunk past the one
/// that completes the broken frame.
#[test]
fn any_broken_rule_is_refused_with_its_code() {
    let after = prop::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from);
    let input = (valid_stream(), broken(), after, cuts());
    check(
        "ws_reader_broken_rules",
        256,
        input,
        |(before, broken, after, cuts)| {
            let max = 1 << 20;
            let (mut bytes, expected) = expected_reading(&before, max)?;
            let (bad, code) = broken.frames();
            bytes.extend_from_slice(&bad);
            let bad_end = bytes.len() - 1;
            bytes.extend_from_slice(&after);
            let cuts = cuts.offsets(bytes.len());
            let (frames, total) = read(&bytes, &cuts, max)?;
            let Some(((last, taken), valid)) = frames.split_last() else {
                prop_assert!(false, "nothing read");
                return Ok(());
            };
            let valid: Vec<&ClientFrame> = valid.iter().map(|(f, _)| f).collect();
            let expected: Vec<&ClientFrame> = expected.iter().map(|(f, _)| f).collect();
            prop_assert_eq!(valid, expected);
            prop_assert!(
                matches!(last, ClientFrame::Refuse(r) if r.code == code),
                "{:?}",
                last
            );
            prop_assert!(
                *taken <= chunks_to_hold(bad_end, bytes.len(), &cuts),
                "read past the broken frame"
            );
            prop_assert_eq!(*taken, total, "read past a refusal");
            Ok(())
        },
    );
}
