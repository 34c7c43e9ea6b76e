//! What one poll of a websocket connection hands actix-http: its chunk.

use bytes::{Bytes, BytesMut};

/// What one poll of the connection writes, handed out whole at its end: nothing is
/// kept between polls (an idle connection holds no buffer, nor room for one), and a
/// poll that writes nothing takes none. Written into the thread's chunk buffer
/// ([`CHUNKS`]), unless all it holds is one message encoded for every connection
/// (a broadcast's), which is then the chunk itself.
#[derive(Default)]
pub(super) struct Chunk {
    buf: Option<BytesMut>,
    /// The chunk, while all it holds is one message encoded for many connections
    /// (then `buf` is `None`).
    shared: Option<Bytes>,
}

thread_local! {
    /// The buffer every connection of this thread writes its chunks into. A chunk is
    /// split off it and frozen; actix-http copies the chunk into the connection's
    /// write buffer and drops it within the same poll, so the buffer is again the
    /// only owner of its memory by the next chunk, which reuses it: a delivery
    /// allocates nothing, and an idle connection holds no buffer.
    static CHUNKS: std::cell::Cell<BytesMut> = std::cell::Cell::new(BytesMut::new());
}

/// What the thread's chunk buffer may keep between chunks.
const CHUNK_BUFFER_KEPT: usize = 64 * 1024;

impl Chunk {
    #[inline]
    pub(super) fn buf(&mut self) -> &mut BytesMut {
        let shared = &mut self.shared;
        self.buf.get_or_insert_with(|| {
            let mut buf = CHUNKS.take();
            if let Some(bytes) = shared.take() {
                buf.extend_from_slice(&bytes);
            }
            buf
        })
    }

    /// Adds bytes encoded for many connections: the chunk itself, if it is the
    /// first thing in it.
    #[inline]
    pub(super) fn push_shared(&mut self, bytes: Bytes) {
        if self.buf.is_none() && self.shared.is_none() {
            self.shared = Some(bytes);
        } else {
            self.buf().extend_from_slice(&bytes);
        }
    }

    #[inline]
    pub(super) fn take(mut self) -> Option<Bytes> {
        if let Some(bytes) = self.shared.take() {
            return Some(bytes);
        }
        let buf = self.buf.as_mut()?;
        if buf.is_empty() {
            return None;
        }
        if buf.len() > CHUNK_BUFFER_KEPT {
            // A large chunk takes its memory with it rather than leave the thread
            // holding it.
            return self.buf.take().map(BytesMut::freeze);
        }
        Some(buf.split().freeze())
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            CHUNKS.set(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_http::ws::{OpCode, Parser};

    #[test]
    fn a_chunk_is_a_shared_message_alone_or_a_copy_of_it_followed_by_the_rest() {
        let shared = Bytes::from_static(b"\x81\x02hi");
        let mut alone = Chunk::default();
        alone.push_shared(shared.clone());
        let taken = alone.take().expect("a chunk");
        // The very bytes, not a copy.
        assert_eq!(taken.as_ptr(), shared.as_ptr());

        let mut mixed = Chunk::default();
        mixed.push_shared(shared.clone());
        Parser::write_message(mixed.buf(), b"yo", OpCode::Text, true, false);
        mixed.push_shared(shared.clone());
        assert_eq!(
            mixed.take().expect("a chunk").as_ref(),
            b"\x81\x02hi\x81\x02yo\x81\x02hi"
        );
        assert!(Chunk::default().take().is_none());
    }
}
