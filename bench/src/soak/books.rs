//! The books a session's task keeps: which broadcasts it got (and which it missed
//! between them), which echoes it awaits. The ledger settles them when the session
//! ends.

use std::collections::VecDeque;

use tokio::time::Instant;

/// The books of one broadcast session, kept by its task.
#[derive(Default)]
pub(crate) struct Broadcasts {
    /// The first message received.
    pub(super) first: Option<u64>,
    /// The last message received (0 before any).
    pub(super) last: u64,
    /// The messages missing between the first and the last.
    pub(super) gaps: Vec<u64>,
}

impl Broadcasts {
    /// Takes in message `seq`; false if it came twice or out of order.
    pub(crate) fn receive(&mut self, seq: u64) -> bool {
        match self.first {
            None => self.first = Some(seq),
            Some(_) if seq <= self.last => return false,
            Some(_) => self.gaps.extend(self.last + 1..seq),
        }
        self.last = seq;
        true
    }
}

/// The books of one echo session, kept by its task: what was sent and not yet back.
#[derive(Default)]
pub(crate) struct Echoes {
    next: u64,
    /// What was sent and not yet back, with when it was sent.
    pub(super) waiting: VecDeque<(u64, Instant)>,
}

impl Echoes {
    /// The next message to send, `e<N>`, noted as sent now.
    pub(crate) fn send(&mut self) -> String {
        self.next += 1;
        self.waiting.push_back((self.next, Instant::now()));
        format!("e{}", self.next)
    }

    /// Takes in echo `n`: how many sent before it never came back, or `Err` for a
    /// duplicate or a message never sent.
    pub(crate) fn receive(&mut self, n: u64) -> Result<usize, ()> {
        let at = self.waiting.iter().position(|&(m, _)| m == n).ok_or(())?;
        self.waiting.drain(..=at);
        Ok(at)
    }

    /// Messages still waiting for their echo.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_note_gaps_and_refuse_repeats() {
        let mut b = Broadcasts::default();
        assert!(b.receive(5));
        assert!(b.receive(6));
        assert!(b.receive(9));
        assert!(!b.receive(9));
        assert!(!b.receive(7));
        assert_eq!((b.first, b.last, b.gaps.clone()), (Some(5), 9, vec![7, 8]));
    }

    #[test]
    fn echoes_skipped_are_counted_and_repeats_refused() {
        let mut e = Echoes::default();
        for _ in 0..4 {
            e.send();
        }
        assert_eq!(e.receive(1), Ok(0));
        assert_eq!(e.receive(3), Ok(1));
        assert_eq!(e.receive(3), Err(()));
        assert_eq!(e.waiting(), 1);
    }
}
