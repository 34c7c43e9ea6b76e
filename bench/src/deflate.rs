//! The client side of permessage-deflate (RFC 7692) for the load generator: inflating
//! the server's compressed messages and compressing one of our own.
//!
//! The server compresses each message on its own (no context between messages) and
//! asks us to do the same (`client_no_context_takeover`), so one inflater and one
//! compressor serve every connection of the thread (the generator runs on one), reset
//! before each message; a connection holds nothing for compression.
//!
//! A broadcast reaches every member as the same compressed bytes (the server
//! compresses its frame once per worker thread). Inflating them at every one of 1000
//! members would make the generator's core, not the server's, what limits the run, so
//! the last [`RECENT`] messages inflated are kept with their compressed bytes: a
//! message whose compressed bytes equal one of them, byte for byte, is that message.

use std::cell::RefCell;
use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What the client offers in its handshake: what browsers offer.
pub(crate) const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The bytes a sender removes from the end of each compressed message and the
/// receiver appends before inflating it (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How many inflated messages are kept: more than a broadcast's messages in flight.
const RECENT: usize = 16;

/// No message the scenarios exchange inflates to anything near this.
const MAX_INFLATED: usize = 4 << 20;

/// The thread's inflater and the messages it inflated last.
struct Inflating {
    inflate: Decompress,
    /// Compressed bytes and what they inflate to; the oldest is replaced first.
    recent: Vec<(Vec<u8>, Vec<u8>)>,
    /// The entry of `recent` replaced next.
    next: usize,
}

thread_local! {
    static INFLATING: RefCell<Inflating> = RefCell::new(Inflating {
        inflate: Decompress::new(false),
        recent: Vec::with_capacity(RECENT),
        next: 0,
    });
    static COMPRESS: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Inflates one compressed message (`payload`: its frames' payloads joined) into
/// `out` (emptied first).
pub(crate) fn inflate(payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    INFLATING.with(|inflating| {
        let mut inflating = inflating.borrow_mut();
        if let Some((_, plain)) = inflating.recent.iter().find(|(c, _)| c == payload) {
            out.extend_from_slice(plain);
            return Ok(());
        }
        inflate_alone(&mut inflating.inflate, payload, out)?;
        let next = inflating.next;
        inflating.next = (next + 1) % RECENT;
        if let Some((compressed, plain)) = inflating.recent.get_mut(next) {
            compressed.clear();
            compressed.extend_from_slice(payload);
            plain.clear();
            plain.extend_from_slice(out);
        } else {
            inflating.recent.push((payload.to_vec(), out.clone()));
        }
        Ok(())
    })
}

/// Inflates `payload` and the [`TAIL`] with a reset `inflate` into `out`, within
/// [`MAX_INFLATED`] bytes.
fn inflate_alone(inflate: &mut Decompress, payload: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    inflate.reset(false);
    for input in [payload, &TAIL[..]] {
        let start = inflate.total_in();
        // Each pass takes input or fills the room it is given, and the room is
        // bounded: so is the loop.
        loop {
            let taken = usize::try_from(inflate.total_in() - start).unwrap_or(usize::MAX);
            let rest = input.get(taken..).unwrap_or_default();
            if out.capacity() - out.len() < 256 {
                out.reserve(out.capacity().max(1024));
            }
            let room = out.capacity() - out.len();
            let made_before = out.len();
            let status = inflate
                .decompress_vec(rest, out, FlushDecompress::Sync)
                .map_err(|_| invalid("a compressed message that does not inflate"))?;
            if out.len() > MAX_INFLATED {
                return Err(invalid("a compressed message that inflates past 4 MiB"));
            }
            let took = usize::try_from(inflate.total_in() - start).unwrap_or(usize::MAX) - taken;
            let made = out.len() - made_before;
            match status {
                // A final block: nothing more to inflate (the server never sends
                // one, but a message may end so).
                Status::StreamEnd => return Ok(()),
                _ if taken + took >= input.len() && made < room => break,
                _ if took == 0 && made == 0 => {
                    return Err(invalid("a compressed message that does not inflate"));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// `text` compressed on its own, as a permessage-deflate payload (raw deflate, the
/// final [`TAIL`] removed), into `out` (emptied first).
pub(crate) fn compress(text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    COMPRESS.with(|compress| {
        let mut compress = compress.borrow_mut();
        compress.reset();
        // Each pass takes input or fills the room it is given, and the output is at
        // most the input and a few bytes a block: the loop ends.
        loop {
            let taken = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(text.len() / 2 + 64));
            }
            // Only an output buffer without room fails, and there is room.
            let _ = compress.compress_vec(
                text.get(taken..).unwrap_or_default(),
                out,
                FlushCompress::Sync,
            );
            let done = usize::try_from(compress.total_in()).unwrap_or(usize::MAX) >= text.len();
            if done && out.ends_with(&TAIL) {
                out.truncate(out.len() - TAIL.len());
                return;
            }
        }
    });
}

/// Whether a `Sec-WebSocket-Extensions` answer agrees to permessage-deflate.
pub(crate) fn agreed(extensions: Option<&str>) -> bool {
    extensions.is_some_and(|value| {
        value.split(',').any(|offer| {
            offer
                .split(';')
                .next()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("permessage-deflate"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_compressed_inflates_back_and_repeats_come_from_the_recent_ones() {
        let text = "the quick brown fox jumps over the lazy dog ".repeat(30);
        let mut wire = Vec::new();
        compress(text.as_bytes(), &mut wire);
        assert!(wire.len() < text.len() / 4, "{} bytes", wire.len());
        let mut out = Vec::new();
        inflate(&wire, &mut out).expect("inflates");
        assert_eq!(out, text.as_bytes());
        // Again (from the recent ones), and after RECENT others (inflated anew).
        inflate(&wire, &mut out).expect("inflates again");
        assert_eq!(out, text.as_bytes());
        for i in 0..RECENT + 1 {
            let other = format!("{i} {text}");
            let mut other_wire = Vec::new();
            compress(other.as_bytes(), &mut other_wire);
            inflate(&other_wire, &mut out).expect("inflates");
            assert_eq!(out, other.as_bytes());
        }
        inflate(&wire, &mut out).expect("inflates once more");
        assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn large_messages_inflate_whole() {
        let text: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        compress(&text, &mut wire);
        let mut out = Vec::new();
        inflate(&wire, &mut out).expect("inflates");
        assert_eq!(out, text);
    }

    #[test]
    fn garbage_and_bombs_are_refused() {
        let mut out = Vec::new();
        assert!(inflate(&[0xff, 0xff, 0xff, 0xff], &mut out).is_err());
        let zeros = vec![0u8; 5 << 20];
        let mut wire = Vec::new();
        compress(&zeros, &mut wire);
        assert!(inflate(&wire, &mut out).is_err());
    }

    #[test]
    fn answers_are_recognised() {
        assert!(agreed(Some(
            "permessage-deflate; client_no_context_takeover"
        )));
        assert!(agreed(Some("x-foo, Permessage-Deflate")));
        assert!(!agreed(Some("x-webkit-deflate-frame")));
        assert!(!agreed(None));
    }
}
