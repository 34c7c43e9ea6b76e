//! The server's side of permessage-deflate: compressing what it sends, per worker
//! thread, with the context kept between messages wherever clients can share it.
//!
//! # Why a compressor is shared, and how context survives the sharing
//!
//! A compressor is large (about 319 KB with flate2's default backend; bench/NOTES.md)
//! and a broadcast sends the same frame to every member, so no connection owns one:
//! each worker thread has a few, and a frame that members of one broadcast write
//! is compressed once per thread.
//!
//! Context still pays: a chat line compressed on its own shrinks by about a quarter,
//! compressed after the lines before it by nearly two thirds. Under context takeover
//! a client inflates each message with the window of everything compressed it
//! received before (RFC 7692 §7.2.3; plain messages do not enter it). A compressor's
//! output after messages `m1..mk` refers only to those bytes, by distance back from
//! the end: so it inflates correctly at *every* client whose window ends with
//! `m1..mk`, whoever else compressed those bytes for it. The thread's compressors are
//! therefore *streams*: each compressed message gets a sequence number, and a
//! connection remembers the number of the last message it received whose stream
//! had, since it last started over, compressed exactly what the client's window
//! ends with ([`ClientWindow`]). The members of a room all receive the same
//! messages in the same order, so they all stay in step with one stream, and each
//! new message is compressed once, in context, for all of them.
//!
//! A connection out of step (new, or sent a message of its own meanwhile) gets the
//! message compressed on its own, which every client inflates: a stream starts over
//! with it (a full flush clears its context; what that flush writes is not sent) and
//! everyone who then receives it is in step again. So context is an optimisation
//! that never risks a wrong message: at worst each message is compressed on its own,
//! as if context were off. Traffic that defeats it (many rooms interleaved on one
//! thread, private messages between a room's lines) costs what compressing each
//! message on its own costs.

use std::cell::RefCell;

use bytes::Bytes;
use bytestring::ByteString;
use flate2::{Compress, Compression, FlushCompress};

use super::TAIL;

/// How many compression streams a worker thread keeps at most (each holds a
/// compressor): enough for a few busy rooms on one thread to each keep theirs.
const STREAMS: usize = 4;

/// How many recently compressed messages a thread remembers. A broadcast's members
/// on one thread do not all write its frame one after another: a connection writes
/// what waits for it (several broadcasts in flight) before the next one does, so
/// one remembered message is not enough.
pub(super) const RECENT: usize = 16;

/// What the server compresses for one connection may rely on: what its client's
/// inflate window holds. One per connection that agreed to permessage-deflate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientWindow {
    /// The message (a sequence number of this thread's streams) the client's window
    /// is in step with: the window ends with what that message's stream compressed
    /// from its last start up to it. 0: in step with none.
    in_step_with: u64,
    /// The client keeps its window between messages and it is as large as the
    /// server's compressor's (no `server_no_context_takeover`, no
    /// `server_max_window_bits` under 15), so messages may refer to earlier ones.
    context: bool,
    /// The longest message that may be compressed: with a window under 15 bits, a
    /// message compressed on its own may refer no farther back than its own length.
    max_len: usize,
}

impl ClientWindow {
    /// A new connection's: `context` if the agreement and the service allow the
    /// server's context takeover; `window_bits` as agreed (`None`: 15).
    pub(crate) fn new(context: bool, window_bits: Option<u8>) -> Self {
        let small = window_bits.filter(|bits| *bits < 15);
        ClientWindow {
            in_step_with: 0,
            context: context && small.is_none(),
            max_len: small.map_or(usize::MAX, |bits| 1 << bits),
        }
    }

    /// Whether a message of `len` bytes goes out compressed.
    #[inline]
    pub(crate) fn compresses(&self, len: usize) -> bool {
        (super::COMPRESS_MIN..=self.max_len).contains(&len)
    }
}

/// One of a thread's compressors, and where it stands.
struct Stream {
    compress: Compress,
    /// The sequence number of the last message it compressed.
    head: u64,
}

/// A message compressed lately.
struct Recent {
    /// Kept, so its bytes cannot be freed and reused by another message while it is
    /// a key (messages are matched by address).
    text: ByteString,
    payload: Bytes,
    seq: u64,
    /// The message a client must be in step with to inflate it; 0: compressed on its
    /// own, any client inflates it.
    after: u64,
}

/// A worker thread's compressors and what they compressed last.
#[derive(Default)]
struct ThreadCompressors {
    streams: Vec<Stream>,
    /// The last sequence number given.
    seq: u64,
    recent: Vec<Recent>,
    /// The entry of `recent` replaced next.
    next: usize,
}

thread_local! {
    static COMPRESSORS: RefCell<ThreadCompressors> = RefCell::new(ThreadCompressors::default());
}

/// `text` compressed as one permessage-deflate message payload for the client whose
/// window is `window` (raw deflate, the final `00 00 ff ff` removed), and `window`
/// brought up to date. A message compressed lately for another connection (another
/// member of a broadcast, on this thread) is not compressed again when its payload
/// inflates at this client too.
pub(crate) fn compressed(text: &ByteString, window: &mut ClientWindow) -> Bytes {
    COMPRESSORS.with(|compressors| compressors.borrow_mut().compressed(text, window))
}

impl ThreadCompressors {
    fn compressed(&mut self, text: &ByteString, window: &mut ClientWindow) -> Bytes {
        if let Some(payload) = self.remembered(text, window) {
            return payload;
        }
        let stream = window
            .context
            .then(|| {
                let at = window.in_step_with;
                self.streams.iter().position(|s| at != 0 && s.head == at)
            })
            .flatten();
        let (index, after) = match stream {
            Some(index) => (index, self.streams[index].head),
            None => (self.start_over(), 0),
        };
        self.seq += 1;
        let seq = self.seq;
        let stream = &mut self.streams[index];
        let payload = Bytes::from(deflate_next(&mut stream.compress, text.as_bytes()));
        stream.head = seq;
        window.in_step_with = if window.context { seq } else { 0 };
        let entry = Recent {
            text: text.clone(),
            payload: payload.clone(),
            seq,
            after,
        };
        if self.recent.len() < RECENT {
            self.recent.push(entry);
        } else {
            self.recent[self.next] = entry;
            self.next = (self.next + 1) % RECENT;
        }
        payload
    }

    /// A payload of `text` compressed lately that inflates at `window`'s client:
    /// one in context with what it holds, or else one compressed on its own.
    fn remembered(&self, text: &ByteString, window: &mut ClientWindow) -> Option<Bytes> {
        let mut found: Option<(&Bytes, bool)> = None;
        let mut in_step_with = 0;
        for entry in &self.recent {
            if entry.text.as_ptr() != text.as_ptr() || entry.text.len() != text.len() {
                continue;
            }
            let in_context = entry.after != 0;
            if in_context && !(window.context && entry.after == window.in_step_with) {
                continue;
            }
            // Whichever payload it gets, its window ends with `text` after it: in
            // step with every stream that started over with `text`, and with the
            // one that compressed this payload.
            in_step_with = in_step_with.max(entry.seq);
            if found.is_none_or(|(_, context)| in_context && !context) {
                found = Some((&entry.payload, in_context));
            }
        }
        let (payload, _) = found?;
        window.in_step_with = if window.context { in_step_with } else { 0 };
        Some(payload.clone())
    }

    /// A stream cleared of its context (a new one while there are fewer than
    /// [`STREAMS`]; otherwise the one whose last message is the oldest): its index.
    fn start_over(&mut self) -> usize {
        let oldest = self
            .streams
            .iter()
            .enumerate()
            .min_by_key(|(_, stream)| stream.head)
            .map(|(index, _)| index);
        let index = match oldest {
            Some(index) if self.streams.len() >= STREAMS => index,
            _ => {
                self.streams.push(Stream {
                    compress: Compress::new(Compression::default(), false),
                    head: 0,
                });
                return self.streams.len() - 1;
            }
        };
        let stream = &mut self.streams[index];
        // A full flush forgets what came before: what follows refers to nothing
        // earlier, whoever inflates it. It is cheaper than a reset, which clears all
        // the compressor's tables. What it writes (an empty block, whole bytes after
        // the last message's sync flush) is not part of any message, and leaving it
        // out leaves the stream whole.
        let mut discard = Vec::with_capacity(64);
        let _ = stream
            .compress
            .compress_vec(&[], &mut discard, FlushCompress::Full);
        stream.head = 0;
        index
    }
}

/// `input` compressed with `compress` after what it compressed before, ended by a
/// sync flush: its payload in a compressed message.
fn deflate_next(compress: &mut Compress, input: &[u8]) -> Vec<u8> {
    let start = compress.total_in();
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        let taken = usize::try_from(compress.total_in() - start).unwrap_or(input.len());
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        // Only an output buffer without room fails, and there is room.
        let _ = compress.compress_vec(
            &input[taken.min(input.len())..],
            &mut out,
            FlushCompress::Sync,
        );
        let done =
            usize::try_from(compress.total_in() - start).unwrap_or(input.len()) >= input.len();
        if done && out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
            return out;
        }
    }
}

#[cfg(test)]
mod tests;
