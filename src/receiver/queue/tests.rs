//! The queue between a session and its receiver: order, weights, ends, stalls.

use super::*;
use crate::test_waker::counting_waker as waker;

impl Weighed for i32 {
    fn weight(&self) -> usize {
        usize::try_from(*self).unwrap_or(0)
    }
}

impl Weighed for u8 {
    fn weight(&self) -> usize {
        0
    }
}

impl Weighed for &str {
    fn weight(&self) -> usize {
        self.len()
    }
}

#[test]
fn items_arrive_in_order_and_wake_the_receiver() {
    let (tx, mut rx) = queue();
    let (count, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    assert_eq!(tx.send(1), Ok(()));
    assert_eq!(tx.send(2), Ok(()));
    assert_eq!(count.get(), 1);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(2)));
    drop(tx);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
fn many_waiting_items_keep_their_order() {
    let (tx, mut rx) = queue();
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    for i in 0..5 {
        assert_eq!(tx.send(i), Ok(()));
    }
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(0)));
    assert_eq!(tx.send(5), Ok(()));
    for i in 1..=5 {
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(i)));
    }
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    assert_eq!(tx.send(6), Ok(()));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(6)));
}

#[test]
fn a_new_queue_gives_back_the_room_of_its_first_items_and_a_busy_one_keeps_it() {
    let (tx, mut rx) = queue();
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    // A prelude and an open frame: the room they needed is given back.
    assert_eq!(tx.send(0), Ok(()));
    assert_eq!(tx.send(1), Ok(()));
    assert!(tx.0.lock().rest.is_some());
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(0)));
    assert!(
        tx.0.lock().rest.is_none(),
        "an idle new queue keeps no room"
    );
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
    // Once it has moved a few items, the room it grows stays.
    for i in 2..6 {
        assert_eq!(tx.send(i), Ok(()));
    }
    for i in 2..6 {
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(i)));
    }
    assert!(tx.0.lock().rest.is_some(), "a busy queue keeps its room");
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    assert_eq!(tx.send(6), Ok(()));
    assert_eq!(tx.send(7), Ok(()));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(6)));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(7)));
}

#[test]
fn try_recv_takes_what_waits_without_asking_to_be_woken() {
    let (tx, mut rx) = queue();
    let (count, waker) = waker();
    assert_eq!(rx.try_recv(), Poll::Pending);
    assert_eq!(tx.send(1), Ok(()));
    assert_eq!(count.get(), 0, "no waker was left to wake");
    assert_eq!(rx.try_recv(), Poll::Ready(Some(1)));
    // A receiving end that did ask (poll_recv) is woken as before.
    let mut cx = Context::from_waker(&waker);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
    assert_eq!(tx.send(2), Ok(()));
    assert_eq!(count.get(), 1);
    assert_eq!(rx.try_recv(), Poll::Ready(Some(2)));
    drop(tx);
    assert_eq!(rx.try_recv(), Poll::Ready(None));
}

#[test]
fn queued_items_outlive_the_sender() {
    let (tx, mut rx) = queue();
    assert_eq!(tx.send("a"), Ok(()));
    drop(tx);
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some("a")));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
}

#[test]
fn a_gone_receiver_refuses_items_and_resolves_closed() {
    let (tx, rx) = queue();
    let (count, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    let mut closed = tx.closed();
    assert_eq!(Pin::new(&mut closed).poll(&mut cx), Poll::Pending);
    assert!(!tx.is_closed());
    drop(rx);
    assert_eq!(count.get(), 1);
    assert!(tx.is_closed());
    assert_eq!(Pin::new(&mut closed).poll(&mut cx), Poll::Ready(()));
    assert_eq!(tx.send(7), Err(7));
}

#[test]
fn waiting_bytes_are_counted_until_taken() {
    let (tx, mut rx) = queue();
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(tx.send(3), Ok(()));
    assert_eq!(tx.send(4), Ok(()));
    assert_eq!(tx.queued_bytes(), 7);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(3)));
    assert_eq!(tx.queued_bytes(), 4);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(4)));
    assert_eq!(tx.queued_bytes(), 0);
}

#[test]
fn an_ended_queue_delivers_what_waits_then_ends_and_tells_if_items_were_left() {
    let (tx, mut rx) = queue();
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    assert_eq!(tx.send(1), Ok(()));
    tx.end();
    assert_eq!(tx.send(2), Err(2));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    drop(rx);
    assert!(tx.is_closed());
    assert!(!tx.left_items());

    let (tx, rx) = queue();
    assert_eq!(tx.send(1), Ok(()));
    tx.end();
    drop(rx);
    assert!(tx.left_items());
    assert_eq!(tx.queued_bytes(), 0);
}

#[test]
fn the_write_timeout_sees_waiting_items_and_what_was_taken_and_can_give_up() {
    let (tx, mut rx) = queue();
    let (_, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    let probe = rx.stall_probe();
    assert_eq!(
        probe.progress(),
        Progress {
            waiting: false,
            moved: 0
        }
    );
    assert_eq!(tx.send(5), Ok(()));
    assert_eq!(tx.send(6), Ok(()));
    assert!(probe.progress().waiting);
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(5)));
    assert_eq!(
        probe.progress(),
        Progress {
            waiting: true,
            moved: 1
        }
    );
    let (watcher, watcher_waker) = crate::test_waker::counting_waker();
    let mut closed = tx.closed();
    assert_eq!(
        Pin::new(&mut closed).poll(&mut Context::from_waker(&watcher_waker)),
        Poll::Pending
    );
    probe.abandon();
    // The sending end sees the receiving end gone, with an item left.
    assert_eq!(watcher.get(), 1);
    assert!(tx.is_closed() && tx.left_items());
    assert_eq!(tx.queued_bytes(), 0);
    assert_eq!(tx.send(7), Err(7));
    // The receiving end gets nothing more and ends.
    assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    assert!(!probe.progress().waiting);
}

#[test]
fn a_dropped_watcher_is_not_woken() {
    let (tx, rx) = queue::<u8>();
    let (count, waker) = waker();
    let mut cx = Context::from_waker(&waker);
    let mut closed = tx.closed();
    assert_eq!(Pin::new(&mut closed).poll(&mut cx), Poll::Pending);
    drop(closed);
    drop(rx);
    assert_eq!(count.get(), 0);
}
