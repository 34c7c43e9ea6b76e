//! A text message received in pieces (fragments, or a frame read in several reads),
//! checked as UTF-8 as it comes.

use actix_http::ws::OpCode;
#[cfg(test)]
use bytes::BytesMut;
use bytestring::ByteString;

use super::{BINARY, ClientFrame, NOT_UTF8, Refusal, TOO_BIG, protocol_error};

/// A text message being received in pieces: fragments (RFC 6455 §5.4), or a frame
/// whose payload arrives in several reads. What has arrived is checked as it comes.
#[derive(Default)]
pub(crate) struct Reassembly {
    /// Boxed: most messages come whole, and an idle connection then carries one
    /// pointer instead of a buffer.
    partial: Option<Box<Partial>>,
}

/// The text so far, and the start of a character cut at its end.
#[derive(Default)]
struct Partial {
    text: String,
    cut: [u8; 4],
    cut_len: u8,
    /// The message is compressed (permessage-deflate): its frames' payloads are
    /// inflated before they are text.
    compressed: bool,
}

impl Partial {
    /// Adds `bytes` to the text, refusing them as soon as they cannot continue it.
    fn extend(&mut self, mut bytes: &[u8]) -> Result<(), Refusal> {
        if self.cut_len > 0 {
            // The cut character first, with the new bytes it needs (a character is
            // at most four bytes).
            let held = usize::from(self.cut_len);
            let more = bytes.len().min(4 - held);
            let mut joined = [0u8; 4];
            joined[..held].copy_from_slice(&self.cut[..held]);
            joined[held..held + more].copy_from_slice(&bytes[..more]);
            let joined = &joined[..held + more];
            let valid = match std::str::from_utf8(joined) {
                Ok(_) => joined.len(),
                Err(e) if e.error_len().is_some() => return Err(NOT_UTF8),
                Err(e) => e.valid_up_to(),
            };
            if valid == 0 {
                // Still cut: all the new bytes went into it.
                self.cut[..joined.len()].copy_from_slice(joined);
                self.cut_len = joined.len() as u8;
                return Ok(());
            }
            self.text
                .push_str(std::str::from_utf8(&joined[..valid]).map_err(|_| NOT_UTF8)?);
            self.cut_len = 0;
            bytes = &bytes[valid - held..];
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => self.text.push_str(text),
            Err(e) if e.error_len().is_some() => return Err(NOT_UTF8),
            Err(e) => {
                let (valid, cut) = bytes.split_at(e.valid_up_to());
                self.text
                    .push_str(std::str::from_utf8(valid).map_err(|_| NOT_UTF8)?);
                self.cut[..cut.len()].copy_from_slice(cut);
                self.cut_len = cut.len() as u8;
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.text.len() + usize::from(self.cut_len)
    }
}

impl Reassembly {
    /// How many bytes of the message in progress have arrived.
    pub(crate) fn len(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.len())
    }

    /// Whether a message is in progress.
    pub(super) fn in_progress(&self) -> bool {
        self.partial.is_some()
    }

    /// Whether the message in progress is compressed.
    pub(super) fn compressed(&self) -> bool {
        self.partial.as_ref().is_some_and(|p| p.compressed)
    }

    /// A data frame (text, binary or continuation) starts: checks that it may, and
    /// that the message stays within `max` bytes with its `len` more.
    pub(super) fn begin(
        &mut self,
        opcode: OpCode,
        len: u64,
        max: usize,
        compressed: bool,
    ) -> Result<(), Refusal> {
        match (opcode, self.in_progress()) {
            (OpCode::Continue, false) => Err(protocol_error("Unexpected continuation frame.")),
            (OpCode::Text | OpCode::Binary, true) => {
                Err(protocol_error("Expected a continuation frame."))
            }
            _ if len.saturating_add(self.len() as u64) > max as u64 => Err(TOO_BIG),
            (OpCode::Binary, _) => Err(BINARY),
            (OpCode::Text, _) => {
                self.partial = Some(Box::new(Partial {
                    compressed,
                    ..Partial::default()
                }));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Payload bytes of the current frame, unmasked.
    pub(super) fn piece(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        match self.partial.as_mut() {
            Some(partial) => partial.extend(bytes),
            None => Ok(()),
        }
    }

    /// The current frame ended: with `fin`, the message is whole.
    pub(super) fn end(&mut self, fin: bool) -> Result<Option<ClientFrame>, Refusal> {
        if !fin {
            return Ok(None);
        }
        match self.partial.take() {
            Some(partial) if partial.cut_len > 0 => Err(NOT_UTF8),
            Some(partial) => Ok(Some(ClientFrame::Text(ByteString::from(partial.text)))),
            None => Ok(None),
        }
    }

    /// Takes one whole data frame (text, binary or continuation); gives the whole
    /// message once its last fragment arrived.
    #[cfg(test)]
    pub(crate) fn push(
        &mut self,
        fin: bool,
        opcode: OpCode,
        data: Option<BytesMut>,
        max: usize,
    ) -> Result<Option<ClientFrame>, Refusal> {
        let data = data.unwrap_or_default();
        self.begin(opcode, data.len() as u64, max, false)?;
        self.piece(&data)?;
        self.end(fin)
    }
}
