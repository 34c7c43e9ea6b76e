//! The two special clients of the soak: the publisher, a `/broadcast` websocket
//! straight on one instance that sends `b<N>` at a fixed rate (and, being a member
//! too, must get each back, in order: its instance delivers without Redis), and the
//! slow consumer, a websocket that never reads, which the server must close.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::faults::Fault;
use super::session::{Phase, Shared};
use crate::net::{Ws, WsMessage};
use crate::sockjs::{session_path, sockjs_items};
use crate::stalled::{Ending, Stalled};

/// Publishes `rate` messages a second to instance `addr` while the run runs; when it
/// settles, notes the last one. What it receives back is checked like a session's.
pub(crate) async fn publish(
    addr: SocketAddr,
    rate: f64,
    shared: Rc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut ws = Ws::connect(
        addr,
        &session_path("/broadcast", 999, "websocket"),
        deadline,
    )
    .await?;
    match ws.recv(deadline).await? {
        WsMessage::Text(b"o") => {}
        _ => return Err(io::Error::other("the publisher's session did not open")),
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_back = 0u64;
    loop {
        let running = *phase.borrow() == Phase::Run;
        tokio::select! {
            m = ws.recv(Instant::now() + Duration::from_secs(120)) => {
                let frame = match m? {
                    WsMessage::Text(frame) => frame,
                    WsMessage::Close => return Err(io::Error::other("the publisher's session was closed")),
                };
                let mut ledger = shared.ledger.borrow_mut();
                for item in sockjs_items(frame).into_iter().flatten() {
                    let seq = std::str::from_utf8(item.get(1..).unwrap_or_default()).ok().and_then(|n| n.parse::<u64>().ok());
                    match seq {
                        Some(seq) if seq == last_back + 1 => last_back = seq,
                        Some(seq) => {
                            ledger.problem(|| format!("the publisher got {seq} back after {last_back}"));
                            last_back = last_back.max(seq);
                        }
                        None => ledger.problem(|| "the publisher got a stranger's message".into()),
                    }
                }
            }
            _ = tick.tick(), if running => {
                let seq = shared.ledger.borrow_mut().publish();
                ws.send_text(format!("[\"b{seq}\"]").as_bytes(), Instant::now() + Duration::from_secs(10)).await?;
            }
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() == Phase::Close {
                    break;
                }
                let mut ledger = shared.ledger.borrow_mut();
                ledger.final_seq = Some(ledger.published());
                ledger.progress.notify_one();
            }
        }
    }
    let published = shared.ledger.borrow().published();
    if last_back != published {
        shared
            .ledger
            .borrow_mut()
            .problem(|| format!("the publisher got {last_back} of its {published} back"));
    }
    let _ = ws.close(Instant::now() + Duration::from_secs(5)).await;
    Ok(())
}

/// How long the server may take to close the slow consumer: a heartbeat (25 s) and
/// the write timeout (30 s), and some.
pub(crate) const SLOW_BOUND: Duration = Duration::from_secs(75);
/// How long one request of the slow consumer may take to send.
const ASK: Duration = Duration::from_secs(2);

/// What became of the slow consumer.
#[derive(Debug)]
pub(crate) struct SlowOutcome {
    /// From its first request to the server's end of the connection closing.
    pub(crate) closed_after: Option<Duration>,
    /// Its close code, read once it was closed (1013: slow consumer).
    pub(crate) ending: Ending,
}

/// A websocket on `/amplify` straight on instance `addr` (no proxy buffers in
/// between), with a small receive buffer, that asks for 512 KiB answers and reads
/// nothing. The server must close it: as a slow consumer (1013) once more than
/// `max_queued_bytes` waits, or, if it took no more requests in while its answers
/// could not be written, once its write timeout (30 s) passes (then the connection
/// just ends). Waits (up to [`SLOW_BOUND`]) until the server's end of the
/// connection is no longer established, then reads what is left to find the close
/// code.
pub(crate) async fn slow_consumer(addr: SocketAddr, shared: Rc<Shared>) -> SlowOutcome {
    let start = Instant::now();
    let deadline = start + SLOW_BOUND;
    let fault = shared.ledger.borrow().faults.len();
    shared
        .ledger
        .borrow_mut()
        .faults
        .push(Fault::SlowConsumer { start, end: None });
    let stalled = match Stalled::open(addr, "/amplify", 998, true, deadline).await {
        Ok(stalled) => stalled,
        Err(e) => {
            shared
                .ledger
                .borrow_mut()
                .problem(|| format!("slow consumer: {e}"));
            return SlowOutcome {
                closed_after: None,
                ending: Ending::Ended,
            };
        }
    };
    let Stalled::Ws(mut ws) = stalled else {
        return SlowOutcome {
            closed_after: None,
            ending: Ending::Ended,
        };
    };
    let port = ws.local_port();
    // Four answers of 512 KiB: twice `max_queued_bytes`, should the server take all
    // four requests in while the answers wait. A send that cannot complete (the
    // server reads no more of this connection) is left.
    for _ in 0..4 {
        let _ = ws.send_text(b"[\"19\"]", Instant::now() + ASK).await;
    }
    let mut closed_after = None;
    let mut look = tokio::time::interval(Duration::from_millis(250));
    while Instant::now() < deadline {
        look.tick().await;
        let state = sockjs_bench::tcp_entry(addr.port(), port)
            .ok()
            .flatten()
            .map(|e| e.state);
        if state != Some("ESTABLISHED") {
            closed_after = Some(start.elapsed());
            break;
        }
    }
    if let Some(Fault::SlowConsumer { end, .. }) = shared.ledger.borrow_mut().faults.get_mut(fault)
    {
        *end = closed_after.map(|after| start + after);
    }
    let ending = Stalled::Ws(ws)
        .drain(Instant::now() + Duration::from_secs(20))
        .await;
    if closed_after.is_none() || ending == Ending::Open {
        shared.ledger.borrow_mut().problem(|| {
            format!("the slow consumer was not closed: after {closed_after:?}, {ending}")
        });
    }
    SlowOutcome {
        closed_after,
        ending,
    }
}
