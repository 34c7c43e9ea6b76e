//! The receiver contract between a session and whatever serves its client: the one
//! mechanism every transport shares, below the session (which holds a receiver) and
//! the transports (which read from one).
//!
//! A receiver is the write end of a queue ([`queue`]) whose read end is an HTTP
//! response body or a websocket connection. The connections that read are watched by
//! their thread ([`stall`]): one that stops taking what waits is given up, and a
//! session its connection cannot run is handed off. The session holds at most one receiver and writes frames to it;
//! the transport's [`FrameWriter`] says how a frame is written, the [`Budget`] when the
//! response is over (after one frame for polling, after `response_limit` bytes for
//! streaming, never for websockets).

use bytes::Bytes;
use bytestring::ByteString;

use crate::protocol::{CloseFrame, Frame};
use crate::stats::{ConnectionGuard, Stats};
use queue::{QueueTx, queue};

pub(crate) mod queue;
pub(crate) mod stall;

pub(crate) use queue::{QueueRx, StallProbe, Weighed};
pub(crate) use stall::HandOffSignal;

/// What travels from a session to the request or socket that serves it.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Bytes of an HTTP response body.
    Body(Bytes),
    /// What a streaming response starts with, before any frame (its padding or
    /// callback page). Weighs nothing: it is not the session's to hold back.
    Prelude(Bytes),
    /// One websocket text message.
    Text(ByteString),
    /// Close the websocket with this code and reason.
    Close(CloseFrame),
    /// Send a websocket ping.
    Ping,
}

impl Weighed for Outbound {
    fn weight(&self) -> usize {
        match self {
            Outbound::Body(b) => b.len(),
            Outbound::Text(t) => t.len(),
            Outbound::Prelude(_) | Outbound::Close(_) | Outbound::Ping => 0,
        }
    }
}

/// How a transport writes a frame onto its request or socket. Each transport file
/// makes its own and hands it to the receiver; the receiver knows no transport.
#[derive(Clone, Debug)]
pub(crate) struct FrameWriter {
    /// What a frame becomes, given `arg`; `None` for a receiver that takes no frames
    /// (the raw websocket's, which takes plain messages).
    write: fn(Frame, &str) -> Option<Outbound>,
    /// A per-request argument of the writer: jsonp's callback name. Every other
    /// transport has none, and holds one pointer for it rather than two.
    #[expect(
        clippy::box_collection,
        reason = "a thin pointer: every receiver but jsonp's holds none"
    )]
    arg: Option<Box<String>>,
}

impl FrameWriter {
    /// A writer that needs no argument.
    pub(crate) fn new(write: fn(Frame, &str) -> Option<Outbound>) -> Self {
        FrameWriter { write, arg: None }
    }

    /// A writer that needs `arg` (jsonp's callback).
    pub(crate) fn with_arg(write: fn(Frame, &str) -> Option<Outbound>, arg: String) -> Self {
        FrameWriter {
            write,
            arg: Some(Box::new(arg)),
        }
    }
}

/// When a receiver's response is complete.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Budget {
    /// Polling: one frame answers the request.
    OneFrame,
    /// Streaming: end the response once this many more bytes went out.
    Bytes(usize),
    /// Websockets: until the socket closes. Only a websocket's receiver has it.
    Unlimited,
}

/// What happened to a frame handed to a receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteOutcome {
    /// Written; the receiver takes more.
    Open,
    /// Written, and the response is complete: detach the receiver.
    Complete,
    /// The client is gone; nothing was written.
    Gone,
}

/// The session's end of one transport request.
#[derive(Debug)]
pub(crate) struct Receiver {
    tx: QueueTx<Outbound>,
    writer: FrameWriter,
    budget: Budget,
    /// Counts this request in the service's `connections_active` while it lives.
    connection: Option<ConnectionGuard>,
}

impl Receiver {
    /// A receiver and the channel end its request reads from.
    pub(crate) fn new(writer: FrameWriter, budget: Budget) -> (Self, QueueRx<Outbound>) {
        let (tx, rx) = queue();
        (
            Receiver {
                tx,
                writer,
                budget,
                connection: None,
            },
            rx,
        )
    }

    /// A future that resolves once the request or socket behind this receiver is gone.
    pub(crate) fn closed(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.tx.closed()
    }

    /// This receiver's queue, for this thread's write timeout watch to give up on the
    /// request if it takes nothing for `write_timeout` while frames wait for it (see
    /// `transport::stall`).
    pub(crate) fn stall_watch(&self) -> StallWatch {
        StallWatch(self.tx.stall_target())
    }

    /// Counts the receiver as an open connection of `stats` until it is dropped.
    pub(crate) fn count_in(&mut self, stats: &Stats) {
        self.connection = Some(stats.connection());
    }

    /// Whether this receiver is a websocket's (SockJS or raw).
    pub(crate) fn is_websocket(&self) -> bool {
        matches!(self.budget, Budget::Unlimited)
    }

    /// Whether this receiver streams many frames into one HTTP response.
    pub(crate) fn is_streaming(&self) -> bool {
        matches!(self.budget, Budget::Bytes(_))
    }

    /// How many bytes were handed to this receiver and not yet taken by its request or
    /// socket.
    pub(crate) fn queued_bytes(&self) -> usize {
        self.tx.queued_bytes()
    }

    /// Sends nothing more: the response ends once what waits is written.
    pub(crate) fn end(&self) {
        self.tx.end();
    }

    /// Whether the request went away before taking everything it was given.
    pub(crate) fn left_items(&self) -> bool {
        self.tx.left_items()
    }

    /// Whether the request or socket behind this receiver is gone already.
    pub(crate) fn is_gone(&self) -> bool {
        self.tx.is_closed()
    }

    /// Writes one frame in the transport's envelope. Taking the frame by value lets
    /// a websocket send its bytes as they are, without even a reference-count bump.
    pub(crate) fn send_frame(&mut self, frame: Frame) -> WriteOutcome {
        let arg = self.writer.arg.as_deref().map_or("", String::as_str);
        match (self.writer.write)(frame, arg) {
            Some(item) => self.push(item),
            None => WriteOutcome::Open,
        }
    }

    /// What [`send_frame`](Self::send_frame) would queue, given to the caller
    /// instead: for a websocket connection that runs its session and writes what it
    /// sends itself, while its queue is empty (`transport::hosted`).
    pub(crate) fn encode_frame(&self, frame: Frame) -> Option<Outbound> {
        let arg = self.writer.arg.as_deref().map_or("", String::as_str);
        (self.writer.write)(frame, arg)
    }

    /// Queues what the response starts with, ahead of every frame: to be called
    /// before the receiver is handed to its session.
    pub(crate) fn prelude(&self, prelude: Bytes) {
        // The queue's receiving end is the caller's own: it is there.
        let _ = self.tx.send(Outbound::Prelude(prelude));
    }

    /// Sends a websocket ping (websockets only); false if the socket is gone.
    pub(crate) fn send_ping(&mut self) -> bool {
        self.tx.send(Outbound::Ping).is_ok()
    }

    /// Writes one raw message (raw websocket only).
    pub(crate) fn send_raw(&mut self, text: ByteString) -> WriteOutcome {
        self.push(Outbound::Text(text))
    }

    fn push(&mut self, item: Outbound) -> WriteOutcome {
        let len = Weighed::weight(&item);
        if self.tx.send(item).is_err() {
            return WriteOutcome::Gone;
        }
        match &mut self.budget {
            Budget::OneFrame => WriteOutcome::Complete,
            Budget::Unlimited => WriteOutcome::Open,
            Budget::Bytes(left) => {
                *left = left.saturating_sub(len);
                if *left == 0 {
                    WriteOutcome::Complete
                } else {
                    WriteOutcome::Open
                }
            }
        }
    }

    /// Ends the request: an HTTP response simply ends; a websocket is closed with
    /// `close` (or a normal closure).
    pub(crate) fn finish(self, close: Option<&CloseFrame>) {
        if self.is_websocket() {
            let close = close.cloned().unwrap_or(CloseFrame {
                code: 1000,
                reason: String::new(),
            });
            let _ = self.tx.send(Outbound::Close(close));
        }
    }
}

/// A receiver's queue, to be watched by this thread's write timeout watch.
pub(crate) struct StallWatch(std::sync::Weak<dyn stall::Stallable + Send + Sync>);

impl StallWatch {
    /// Watches it: it is abandoned once it took nothing for `timeout` while frames
    /// waited for it.
    pub(crate) fn start(self, timeout: std::time::Duration) {
        stall::watch(stall::Watched::Shared(self.0), Some(timeout));
    }
}
