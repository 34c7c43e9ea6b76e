//! The state machine driven directly: no actor, no runtime.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::config::SockJsConfig;
use crate::receiver::{Budget, FrameWriter, Outbound, QueueRx};
use crate::session::core::SessionSetup;
use crate::session::{SessionShared, SessionSlot, inbox};
use crate::stats::Stats;
use crate::vocabulary::{ConnectionInfo, Transport};

fn core() -> SessionCore {
    let req = actix_web::test::TestRequest::default().to_http_request();
    let live = Arc::new(AtomicUsize::new(0));
    SessionCore::new(SessionSetup {
        id: Arc::from("s"),
        info: ConnectionInfo::from_request(&req, Transport::XhrStreaming),
        config: Arc::new(SockJsConfig::default()),
        inbox: inbox(SessionShared::new(None)).1,
        registered: true,
        raw: false,
        stats: Stats::default(),
        slot: SessionSlot::acquire(&live, None).expect("a slot"),
        registration: None,
    })
}

fn plain(frame: Frame, _: &str) -> Option<Outbound> {
    Some(Outbound::Body(bytes::Bytes::copy_from_slice(
        frame.as_str().as_bytes(),
    )))
}

fn receiver(budget: Budget) -> (Receiver, QueueRx<Outbound>) {
    Receiver::new(FrameWriter::new(plain), budget)
}

/// Everything written to a receiver so far, and whether its request is over.
fn written(rx: &mut QueueRx<Outbound>) -> (Vec<String>, bool) {
    let mut out = Vec::new();
    loop {
        match rx.poll_recv(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Some(Outbound::Body(b))) => {
                out.push(String::from_utf8_lossy(&b).into_owned());
            }
            Poll::Ready(Some(other)) => out.push(format!("{other:?}")),
            Poll::Ready(None) => return (out, true),
            Poll::Pending => return (out, false),
        }
    }
}

fn attach(core: &mut SessionCore, budget: Budget) -> QueueRx<Outbound> {
    let (receiver, rx) = receiver(budget);
    assert!(matches!(core.admit(receiver), Admission::Attached { .. }));
    rx
}

#[test]
fn the_first_receiver_opens_the_session_and_a_second_is_told_2010() {
    let mut core = core();
    let (first, _rx1) = receiver(Budget::Bytes(4096));
    assert!(matches!(
        core.admit(first),
        Admission::Attached {
            first: true,
            generation: 1
        }
    ));
    assert_eq!(core.state, State::Open);
    let (second, mut rx2) = receiver(Budget::OneFrame);
    assert!(matches!(core.admit(second), Admission::Answered));
    assert_eq!(
        written(&mut rx2),
        (
            vec![r#"c[2010,"Another connection still open"]"#.to_owned()],
            true
        )
    );
}

#[test]
fn a_receiver_whose_client_left_makes_room_as_an_interruption() {
    let mut core = core();
    let rx = attach(&mut core, Budget::Bytes(4096));
    drop(rx);
    let (next, _rx) = receiver(Budget::OneFrame);
    let Admission::CurrentEnded(next) = core.admit(next) else {
        panic!("the gone receiver should be let go first");
    };
    assert_eq!(core.ended_as(), EndedAs::Lost);
    assert_eq!(core.lose_receiver(), None);
    assert!(matches!(
        core.admit(next),
        Admission::Attached { first: false, .. }
    ));
}

#[test]
fn a_polling_receiver_is_released_after_one_frame_and_a_stream_drains_at_its_limit() {
    let mut core = core();
    let mut poll = attach(&mut core, Budget::OneFrame);
    core.queue_text("a");
    assert_eq!(core.flush_outbox(), Step::Released(None));
    assert_eq!(written(&mut poll), (vec![r#"a["a"]"#.to_owned()], true));
    assert!(core.receiver.is_none());

    let mut stream = attach(&mut core, Budget::Bytes(8));
    core.queue_text("0123456789");
    assert_eq!(core.flush_outbox(), Step::Done);
    assert!(core.receiver.as_ref().is_some_and(|a| a.draining));
    core.queue_text("later");
    assert_eq!(core.flush_outbox(), Step::Done);
    assert_eq!(
        written(&mut stream),
        (vec![r#"a["0123456789"]"#.to_owned()], true)
    );
    assert_eq!(core.ended_as(), EndedAs::Drained);
}

#[test]
fn a_close_delivers_what_was_queued_before_the_close_frame() {
    let mut core = core();
    let mut rx = attach(&mut core, Budget::Bytes(4096));
    core.queue_text("last words");
    let reason = CloseReason::Server {
        code: 3000,
        reason: "Go away!".into(),
    };
    assert_eq!(core.begin_close(&reason), Some(true));
    assert_eq!(core.begin_close(&reason), None);
    assert_eq!(core.finish_close(), Step::Released(None));
    assert_eq!(
        written(&mut rx),
        (
            vec![
                r#"a["last words"]"#.to_owned(),
                r#"c[3000,"Go away!"]"#.to_owned()
            ],
            true
        )
    );
    // Later receivers get the close frame, until the session ends.
    let (late, mut late_rx) = receiver(Budget::OneFrame);
    assert!(matches!(core.admit(late), Admission::Answered));
    assert_eq!(
        written(&mut late_rx),
        (vec![r#"c[3000,"Go away!"]"#.to_owned()], true)
    );
}

#[test]
fn a_slow_consumer_gets_the_close_frame_alone() {
    let mut core = core();
    let mut rx = attach(&mut core, Budget::Bytes(4096));
    core.queue_text("never read");
    assert_eq!(core.begin_close(&CloseReason::SlowConsumer), Some(true));
    core.finish_close();
    assert_eq!(
        written(&mut rx),
        (vec![r#"c[1013,"Slow consumer"]"#.to_owned()], true)
    );
}

#[test]
fn a_session_closed_before_it_opened_reports_it() {
    let mut core = core();
    assert_eq!(core.begin_close(&CloseReason::Timeout), Some(false));
}

#[test]
fn a_write_to_a_gone_client_is_a_loss_and_heartbeats_follow_the_state() {
    let mut core = core();
    assert_eq!(core.beat(), Beat::Idle);
    let rx = attach(&mut core, Budget::Bytes(4096));
    assert_eq!(core.beat(), Beat::Sent(Step::Done));
    drop(rx);
    assert_eq!(core.beat(), Beat::Sent(Step::Lost(None)));
    assert!(core.receiver.is_none());
}
