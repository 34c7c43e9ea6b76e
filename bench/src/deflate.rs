//! The client side of permessage-deflate (RFC 7692) for the load generator: inflating
//! the server's compressed messages and compressing one of our own.
//!
//! The server asks us to compress each message on its own
//! (`client_no_context_takeover`), so one compressor serves every connection of the
//! thread (the generator runs on one), reset before each message. The server may
//! compress its messages in the context of the ones before them, so each connection
//! keeps what it inflated lately (its [`History`]: the last 32 KiB), and one inflater
//! serves all, primed with a connection's window before each message it inflates.
//!
//! A broadcast reaches every member as the same compressed bytes (the server
//! compresses its frame once per worker thread, in the context its members share).
//! Inflating them at every one of 1000 members would make the generator's core, not
//! the server's, what limits the run, so the last [`RECENT`] messages inflated are
//! kept with their compressed bytes and the history they were inflated after: a
//! message whose compressed bytes equal one of them, byte for byte, at a connection
//! with the same history, is that message.

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

/// The window of an inflater (RFC 7692's largest): how far back a message may refer.
const WINDOW: usize = 32 * 1024;

/// What one connection has inflated: the last [`WINDOW`] bytes of it, which its next
/// message may refer to, and a name for that history (0: nothing yet), equal at two
/// connections that inflated the same messages from their start.
#[derive(Debug, Default)]
pub(crate) struct History {
    id: u64,
    window: Vec<u8>,
}

impl History {
    fn went_on(&mut self, id: u64, message: &[u8]) {
        self.id = id;
        self.window.extend_from_slice(message);
        // Trimmed only when twice the window, so at a copy of the window per window
        // of messages.
        if self.window.len() > 2 * WINDOW {
            self.window.drain(..self.window.len() - WINDOW);
        }
    }

    fn last_window(&self) -> &[u8] {
        &self.window[self.window.len().saturating_sub(WINDOW)..]
    }
}

/// A message inflated lately.
struct Recent {
    /// The history it was inflated after, and the one it made.
    before: u64,
    after: u64,
    payload: Vec<u8>,
    plain: Vec<u8>,
}

/// The thread's inflater and the messages it inflated last.
struct Inflating {
    inflate: Decompress,
    /// The oldest is replaced first.
    recent: Vec<Recent>,
    /// The entry of `recent` replaced next.
    next: usize,
    /// The last history name given.
    histories: u64,
}

thread_local! {
    static INFLATING: RefCell<Inflating> = RefCell::new(Inflating {
        inflate: Decompress::new(false),
        recent: Vec::with_capacity(RECENT),
        next: 0,
        histories: 0,
    });
    static COMPRESS: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Inflates one compressed message (`payload`: its frames' payloads joined) at the
/// connection whose history is `history` into `out` (emptied first).
pub(crate) fn inflate(payload: &[u8], history: &mut History, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    INFLATING.with(|inflating| {
        let mut inflating = inflating.borrow_mut();
        let seen = inflating
            .recent
            .iter()
            .find(|r| r.before == history.id && r.payload == payload);
        if let Some(recent) = seen {
            out.extend_from_slice(&recent.plain);
            history.went_on(recent.after, out);
            return Ok(());
        }
        let window = history.last_window();
        inflate_after(&mut inflating.inflate, window, payload, out)?;
        out.drain(..window.len());
        inflating.histories += 1;
        let entry = Recent {
            before: history.id,
            after: inflating.histories,
            payload: payload.to_vec(),
            plain: out.clone(),
        };
        history.went_on(entry.after, out);
        let next = inflating.next;
        inflating.next = (next + 1) % RECENT;
        match inflating.recent.get_mut(next) {
            Some(slot) => *slot = entry,
            None => inflating.recent.push(entry),
        }
        Ok(())
    })
}

/// Inflates `window` (as a stored block, so that `payload` may refer to it), then
/// `payload` and the [`TAIL`], with a reset `inflate` into `out`, within
/// [`MAX_INFLATED`] bytes past the window.
fn inflate_after(
    inflate: &mut Decompress,
    window: &[u8],
    payload: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<()> {
    inflate.reset(false);
    // A stored block that is not the last (RFC 1951 §3.2.4): its header's three bits
    // and the padding make a zero byte, then LEN and NLEN.
    let len = u16::try_from(window.len()).map_err(|_| invalid("a window over 64 KiB"))?;
    let [l0, l1] = len.to_le_bytes();
    let stored = [0, l0, l1, !l0, !l1];
    for input in [&stored[..], window, payload, &TAIL[..]] {
        if input.is_empty() {
            continue;
        }
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
            if out.len() > MAX_INFLATED + window.len() {
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
        let (mut one, mut two) = (History::default(), History::default());
        inflate(&wire, &mut one, &mut out).expect("inflates");
        assert_eq!(out, text.as_bytes());
        // Again at another connection with the same history (from the recent ones),
        // and after RECENT others (inflated anew).
        inflate(&wire, &mut two, &mut out).expect("inflates again");
        assert_eq!(out, text.as_bytes());
        assert_eq!(one.id, two.id);
        for i in 0..RECENT + 1 {
            let other = format!("{i} {text}");
            let mut other_wire = Vec::new();
            compress(other.as_bytes(), &mut other_wire);
            inflate(&other_wire, &mut one, &mut out).expect("inflates");
            assert_eq!(out, other.as_bytes());
        }
        inflate(&wire, &mut one, &mut out).expect("inflates once more");
        assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn messages_that_refer_to_earlier_ones_inflate_at_each_history() {
        // A sender that keeps its context: the second message refers to the first.
        let mut sender = Compress::new(Compression::default(), false);
        let mut deflate = |text: &[u8]| {
            let mut out = Vec::with_capacity(text.len() + 64);
            let _ = sender.compress_vec(text, &mut out, FlushCompress::Sync);
            out.truncate(out.len() - TAIL.len());
            out
        };
        let first = "the first line of a chat, with words worth keeping ".repeat(3);
        let second = "and the first line of a chat, with words worth keeping ".repeat(3);
        let (a, b) = (deflate(first.as_bytes()), deflate(second.as_bytes()));
        assert!(
            b.len() < a.len() / 2,
            "in context: {} and {}",
            a.len(),
            b.len()
        );
        let mut out = Vec::new();
        for _member in 0..3 {
            let mut history = History::default();
            inflate(&a, &mut history, &mut out).expect("the first");
            assert_eq!(out, first.as_bytes());
            inflate(&b, &mut history, &mut out).expect("the second");
            assert_eq!(out, second.as_bytes());
        }
        // Without the first message, the second means something else (or nothing).
        let mut newcomer = History::default();
        let without = inflate(&b, &mut newcomer, &mut out);
        assert!(without.is_err() || out != second.as_bytes());
    }

    #[test]
    fn large_messages_inflate_whole() {
        let text: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        compress(&text, &mut wire);
        let mut out = Vec::new();
        inflate(&wire, &mut History::default(), &mut out).expect("inflates");
        assert_eq!(out, text);
    }

    #[test]
    fn garbage_and_bombs_are_refused() {
        let mut out = Vec::new();
        let mut history = History::default();
        assert!(inflate(&[0xff, 0xff, 0xff, 0xff], &mut history, &mut out).is_err());
        let zeros = vec![0u8; 5 << 20];
        let mut wire = Vec::new();
        compress(&zeros, &mut wire);
        assert!(inflate(&wire, &mut history, &mut out).is_err());
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
