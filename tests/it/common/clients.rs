//! SockJS clients for the tests, one message at a time, on a websocket, an
//! xhr_streaming response or xhr polls.

use std::collections::VecDeque;

use super::{DEADLINE, Ws, session_id, text, ws_connect, ws_text};

/// The messages a SockJS frame carries: those of an `a[...]` frame, none for the
/// open frame and heartbeats (the xhr_streaming prelude is a long `hhh...`).
pub(crate) fn messages_of(frame: &str) -> Vec<String> {
    match frame.as_bytes().first() {
        Some(b'o' | b'h') if frame.bytes().all(|b| b == frame.as_bytes()[0]) => Vec::new(),
        Some(b'a') => serde_json::from_str(&frame[1..])
            .unwrap_or_else(|e| panic!("bad array frame {frame:?}: {e}")),
        _ => panic!("expected an open, heartbeat or array frame, got {frame:?}"),
    }
}

/// A websocket session's client, one message at a time.
pub(crate) struct WsClient {
    pub(crate) ws: Ws,
    pub(crate) queue: VecDeque<String>,
}

impl WsClient {
    pub(crate) async fn connect(srv: &actix_test::TestServer, service: &str) -> WsClient {
        let mut ws = ws_connect(srv, &format!("/{service}/000/{}/websocket", session_id())).await;
        assert_eq!(ws_text(&mut ws).await, "o");
        WsClient {
            ws,
            queue: VecDeque::new(),
        }
    }

    pub(crate) async fn next_message(&mut self) -> String {
        while self.queue.is_empty() {
            let frame = ws_text(&mut self.ws).await;
            self.queue.extend(messages_of(&frame));
        }
        self.queue.pop_front().expect("a message")
    }
}

/// An xhr_streaming session's client: frames are newline-terminated in one response.
pub(crate) struct StreamClient<S> {
    pub(crate) res: awc::ClientResponse<S>,
    pub(crate) pending: String,
    pub(crate) queue: VecDeque<String>,
}

impl<S> StreamClient<S>
where
    S: futures_core::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
{
    pub(crate) async fn next_message(&mut self) -> String {
        use futures_util::StreamExt;
        while self.queue.is_empty() {
            while let Some(end) = self.pending.find('\n') {
                let frame: String = self.pending.drain(..=end).collect();
                self.queue.extend(messages_of(frame.trim_end_matches('\n')));
            }
            if !self.queue.is_empty() {
                break;
            }
            let chunk = actix_rt::time::timeout(DEADLINE, self.res.next())
                .await
                .unwrap_or_else(|_| panic!("no xhr_streaming data within {DEADLINE:?}"))
                .expect("the stream ended")
                .expect("an xhr_streaming chunk");
            self.pending
                .push_str(std::str::from_utf8(&chunk).expect("utf-8 chunk"));
        }
        self.queue.pop_front().expect("a message")
    }
}

/// An xhr polling session's client: each poll answers one frame.
pub(crate) struct PollClient {
    pub(crate) client: awc::Client,
    pub(crate) url: String,
    pub(crate) queue: VecDeque<String>,
}

impl PollClient {
    /// Opens the session (its first poll answers `o`).
    pub(crate) async fn open(srv: &actix_test::TestServer, service: &str) -> PollClient {
        let mut client = PollClient {
            client: awc::Client::builder().timeout(DEADLINE).finish(),
            url: srv.url(&format!("/{service}/000/{}/xhr", session_id())),
            queue: VecDeque::new(),
        };
        assert_eq!(client.poll().await, "o\n");
        client
    }

    pub(crate) async fn poll(&mut self) -> String {
        let mut res = self.client.post(&self.url).send().await.expect("xhr poll");
        assert_eq!(res.status().as_u16(), 200);
        text(&mut res).await
    }

    /// Polls until a message is there. Only called when one is due, so the long
    /// poll answers at once.
    pub(crate) async fn next_message(&mut self) -> String {
        while self.queue.is_empty() {
            let frame = self.poll().await;
            self.queue.extend(messages_of(frame.trim_end_matches('\n')));
        }
        self.queue.pop_front().expect("a message")
    }
}
