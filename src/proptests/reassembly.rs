//! Reassembling fragmented websocket messages: `Reassembly`.

use actix_http::ws::OpCode;
use bytes::BytesMut;
use proptest::prelude::*;

use super::runner::check;
use crate::transport::ws_reader::{ClientFrame, Reassembly};

/// One data frame given to `Reassembly::push`.
#[derive(Clone, Debug)]
struct Push {
    fin: bool,
    opcode: OpCode,
    data: Vec<u8>,
}

fn push() -> impl Strategy<Value = Push> {
    let opcode = prop_oneof![
        3 => Just(OpCode::Continue),
        2 => Just(OpCode::Text),
        1 => Just(OpCode::Binary),
    ];
    let data = prop_oneof![
        3 => any::<String>().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..6),
        1 => "é😀".prop_map(|s| s.into_bytes()[1..].to_vec()),
    ];
    (prop::bool::weighted(0.4), opcode, data).prop_map(|(fin, opcode, data)| Push {
        fin,
        opcode,
        data,
    })
}

/// For any sequence of data frames and any limit, `Reassembly` follows RFC 6455
/// §5.4 and §8.1: a text frame starts a message (refused with 1002 while one is in
/// progress), a binary one is refused (1003), a continuation adds to it (1002 when
/// none is), a message over the limit is refused with 1009, a fragment is refused
/// with 1007 as soon as the message so far cannot begin a UTF-8 text (a character
/// cut between fragments is fine), and the last fragment gives the whole text
/// message (1007 if it ends inside a character); `len()` is the size of the message
/// in progress. Checked up to the first refusal, after which the reader stops.
/// Whether `bytes` can begin a UTF-8 text: valid, or cut inside its last character.
fn utf8_prefix(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).map_or_else(|e| e.error_len().is_none(), |_| true)
}

#[test]
fn reassembly_joins_fragments_by_the_rules() {
    let max = prop_oneof![0usize..64, Just(1 << 20)];
    check(
        "reassembly",
        256,
        (prop::collection::vec(push(), 0..8), max),
        |(pushes, max)| {
            let mut reassembly = Reassembly::default();
            let mut kind: Option<OpCode> = None;
            let mut parts: Vec<u8> = Vec::new();
            for push in pushes {
                let expected = match (push.opcode, kind) {
                    (OpCode::Continue, None) => Err(1002),
                    (OpCode::Text | OpCode::Binary, Some(_)) => Err(1002),
                    _ if parts.len() + push.data.len() > max => Err(1009),
                    (OpCode::Binary, _) => Err(1003),
                    _ if !utf8_prefix(&[&parts[..], &push.data[..]].concat()) => Err(1007),
                    (opcode, _) => {
                        let kind_now = kind.unwrap_or(opcode);
                        parts.extend_from_slice(&push.data);
                        if push.fin {
                            kind = None;
                            let whole = std::mem::take(&mut parts);
                            match (kind_now, String::from_utf8(whole)) {
                                (OpCode::Text, Ok(text)) => Ok(Some(text)),
                                (OpCode::Text, Err(_)) => Err(1007),
                                _ => Err(1003),
                            }
                        } else {
                            kind = Some(kind_now);
                            Ok(None)
                        }
                    }
                };
                // As the frame parser gives it: `None` for an empty payload.
                let data = (!push.data.is_empty()).then(|| BytesMut::from(&push.data[..]));
                let got = reassembly.push(push.fin, push.opcode, data, max);
                let got = match got {
                    Ok(None) => Ok(None),
                    Ok(Some(ClientFrame::Text(text))) => Ok(Some(text.to_string())),
                    Ok(Some(other)) => {
                        prop_assert!(false, "not a text message: {:?}", other);
                        Ok(None)
                    }
                    Err(refusal) => Err(refusal.code),
                };
                prop_assert_eq!(&got, &expected);
                if got.is_err() {
                    break;
                }
                prop_assert_eq!(reassembly.len(), parts.len());
            }
            Ok(())
        },
    );
}
