//! The inbox's queue: the oldest command inline, the rest behind a pointer.
//!
//! A session's inbox seldom holds more than one command (the session takes each as it
//! comes), so the one that waits first is kept inline, beside the lock: queueing it
//! and taking it touch no other memory, and an idle session holds no room for
//! commands. The commands behind it go to a `VecDeque` made when two first wait at
//! once, and kept from then on (a session that is sent bursts keeps its room rather
//! than make it again for each).

use std::collections::VecDeque;

use super::Command;

/// A FIFO of commands, the first inline.
#[repr(C)]
pub(super) struct CommandQueue {
    first: Option<Command>,
    /// Whether `rest` holds a command: read instead of `rest` itself, so taking the
    /// only command does not touch the room kept behind the pointer.
    more: bool,
    #[expect(
        clippy::box_collection,
        reason = "one pointer in every inbox instead of a VecDeque's four words"
    )]
    rest: Option<Box<VecDeque<Command>>>,
}

impl CommandQueue {
    pub(super) const fn new() -> Self {
        CommandQueue {
            first: None,
            more: false,
            rest: None,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(super) fn front(&self) -> Option<&Command> {
        self.first.as_ref()
    }

    pub(super) fn push_back(&mut self, command: Command) {
        if self.first.is_none() {
            self.first = Some(command);
        } else {
            self.rest.get_or_insert_default().push_back(command);
            self.more = true;
        }
    }

    /// Puts `command` back in front (it was just taken).
    pub(super) fn push_front(&mut self, command: Command) {
        if let Some(old) = self.first.replace(command) {
            self.rest.get_or_insert_default().push_front(old);
            self.more = true;
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<Command> {
        let command = self.first.take()?;
        if self.more {
            if let Some(rest) = self.rest.as_mut() {
                self.first = rest.pop_front();
                self.more = !rest.is_empty();
            }
        }
        Some(command)
    }

    /// Every command, oldest first; the queue is left empty (its room given back).
    pub(super) fn take_all(&mut self) -> VecDeque<Command> {
        let mut all = self.rest.take().map(|rest| *rest).unwrap_or_default();
        if let Some(first) = self.first.take() {
            all.push_front(first);
        }
        self.more = false;
        all
    }

    /// The room kept for commands behind the first.
    #[cfg(test)]
    pub(super) fn room(&self) -> usize {
        self.rest.as_ref().map_or(0, |rest| rest.capacity())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Command {
        Command::Message(text.into())
    }

    fn text(command: Option<Command>) -> Option<String> {
        match command {
            Some(Command::Message(text)) => Some(text),
            _ => None,
        }
    }

    #[test]
    fn first_in_first_out_across_the_inline_slot_and_the_rest() {
        let mut queue = CommandQueue::new();
        assert!(queue.is_empty());
        for t in ["a", "b", "c"] {
            queue.push_back(message(t));
        }
        assert_eq!(text(queue.pop_front()).as_deref(), Some("a"));
        queue.push_back(message("d"));
        // Put back in front, as a look that does not take it does.
        let b = queue.pop_front();
        queue.push_front(b.expect("b waits"));
        let got: Vec<_> = std::iter::from_fn(|| text(queue.pop_front())).collect();
        assert_eq!(got, ["b", "c", "d"]);
        assert!(queue.is_empty());
    }

    #[test]
    fn one_command_at_a_time_needs_no_room_and_a_burst_keeps_its_room() {
        let mut queue = CommandQueue::new();
        queue.push_back(message("only"));
        assert_eq!(text(queue.pop_front()).as_deref(), Some("only"));
        assert_eq!(queue.room(), 0);
        queue.push_back(message("a"));
        queue.push_back(message("b"));
        let grown = queue.room();
        assert!(grown >= 1);
        assert_eq!(text(queue.pop_front()).as_deref(), Some("a"));
        assert_eq!(text(queue.pop_front()).as_deref(), Some("b"));
        queue.push_back(message("c"));
        assert_eq!(text(queue.pop_front()).as_deref(), Some("c"));
        assert_eq!(queue.room(), grown, "a busy session keeps its room");
    }

    #[test]
    fn take_all_gives_every_command_in_order_and_empties_the_queue() {
        let mut queue = CommandQueue::new();
        for t in ["a", "b", "c"] {
            queue.push_back(message(t));
        }
        let all: Vec<_> = queue
            .take_all()
            .into_iter()
            .map(|c| text(Some(c)))
            .collect();
        assert_eq!(all, [Some("a".into()), Some("b".into()), Some("c".into())]);
        assert!(queue.is_empty());
        assert_eq!(queue.room(), 0);
        assert!(queue.pop_front().is_none());
    }
}
