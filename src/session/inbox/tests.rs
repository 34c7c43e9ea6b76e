//! The inbox driven directly: order, bounds, closing.

use super::*;

fn inbox() -> (InboxTx, InboxRx) {
    super::inbox(SessionShared::new(None))
}

fn noop() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn texts(rx: &mut InboxRx) -> Vec<String> {
    let mut out = Vec::new();
    while let Poll::Ready(Command::Message(text)) = rx.poll_recv(&mut noop()) {
        out.push(text);
    }
    out
}

#[test]
fn commands_arrive_in_order_from_every_sender() {
    let (a, mut rx) = inbox();
    let b = a.clone();
    a.send(Command::Message("1".into())).ok();
    b.send(Command::Message("2".into())).ok();
    a.send(Command::Message("3".into())).ok();
    assert_eq!(texts(&mut rx), ["1", "2", "3"]);
    assert!(a.same_inbox(&b));
}

#[test]
fn an_inbox_with_waiting_commands_does_not_close_until_they_are_taken() {
    let (tx, mut rx) = inbox();
    tx.send(Command::Message("late".into())).ok();
    assert!(!rx.close_if_empty());
    assert_eq!(texts(&mut rx), ["late"]);
    assert!(rx.close_if_empty());
    assert!(tx.is_closed());
    assert!(matches!(
        tx.send(Command::Message("refused".into())),
        Err(Command::Message(_))
    ));
}

#[test]
fn handle_sends_are_counted_until_taken_and_refused_past_the_bound() {
    let (tx, mut rx) = inbox();
    let text = |n: usize| FromHandle::Text("x".repeat(n));
    let weight = text(100).weight();
    assert_eq!(tx.offer(text(100), 2 * weight), Offer::Queued);
    assert_eq!(tx.offer(text(100), 2 * weight), Offer::Queued);
    assert_eq!(tx.shared().inbox.bytes(), 2 * weight);
    // Past the bound: refused, and the session is told once.
    assert_eq!(tx.offer(text(1), 2 * weight), Offer::Full);
    assert_eq!(tx.offer(text(1), 2 * weight), Offer::Full);
    assert!(tx.shared().inbox.overflowed());
    let mut overflows = 0;
    while let Poll::Ready(command) = rx.poll_recv(&mut noop()) {
        if let Command::FromHandle(FromHandle::Overflow) = command {
            overflows += 1;
        }
    }
    assert_eq!(overflows, 1);
    assert_eq!(tx.shared().inbox.bytes(), 0, "taken, no longer counted");
    assert_eq!(tx.offer(text(100), 2 * weight), Offer::Queued);
    assert_eq!(rx.close().len(), 1);
    assert_eq!(tx.shared().inbox.bytes(), 0, "closed, nothing counted");
    assert_eq!(tx.offer(text(1), 2 * weight), Offer::Closed);
}

#[test]
fn closing_hands_back_what_waits_and_a_dropped_reader_refuses_all() {
    let (tx, rx) = inbox();
    tx.send(Command::Message("x".into())).ok();
    assert_eq!(rx.close().len(), 1);
    let (tx2, rx2) = inbox();
    drop(rx2);
    assert!(tx2.send(Command::Pong).is_err());
    assert!(tx.is_closed());
}
