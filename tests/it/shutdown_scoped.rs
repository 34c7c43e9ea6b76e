//! A graceful shutdown reaches the services it names and no other: two servers of one
//! process, each with its own SockJS service, shut down one after the other. The
//! first one's clients get `1001 Server shutting down` while the second's sessions
//! stay open and keep echoing; then the second shuts down on its own.

use actix_sockjs::{CloseReason, GracefulShutdown};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::raw_ws::{RawWs, ServerFrame};
use crate::common::{DEADLINE, Event, next_event, session_id};

const CLOSE: &str = "c[1001,\"Server shutting down\"]";

use crate::common::RecorderServer as Server;
use crate::common::start_recorder_server as start;

/// A client of one server: a websocket session and an xhr_streaming session.
struct Clients {
    ws: RawWs,
    stream: TcpStream,
    stream_session: String,
}

impl Clients {
    async fn open(server: &mut Server) -> Clients {
        let addr = server.addr;
        let mut ws = RawWs::connect(addr, &format!("/rec/000/{}/websocket", session_id())).await;
        assert_eq!(ws.next_text().await, "o");
        let stream_session = session_id();
        let request = format!(
            "POST /rec/000/{stream_session}/xhr_streaming HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(request.as_bytes()).await.expect("write");
        read_until(&mut stream, "o\n").await;
        for _ in 0..2 {
            assert!(matches!(
                next_event(&mut server.events).await,
                Event::Open(_)
            ));
        }
        Clients {
            ws,
            stream,
            stream_session,
        }
    }

    /// Both sessions are open: the websocket echoes, and a message sent for the
    /// streaming session comes back on its stream.
    async fn still_echo(&mut self, server: &mut Server, text: &str) {
        self.ws.send_text(&format!("[\"{text}\"]")).await;
        assert_eq!(self.ws.next_text().await, format!("a[\"{text}\"]"));
        assert_eq!(
            next_event(&mut server.events).await,
            Event::Message(text.into())
        );
        let body = format!("[\"{text}\"]");
        let send = format!(
            "POST /rec/000/{}/xhr_send HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
            self.stream_session,
            server.addr,
            body.len()
        );
        let mut sender = TcpStream::connect(server.addr).await.expect("connect");
        sender.write_all(send.as_bytes()).await.expect("write");
        let answer = read_until(&mut sender, "\r\n\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
        read_until(&mut self.stream, &format!("a[\"{text}\"]\n")).await;
        assert_eq!(
            next_event(&mut server.events).await,
            Event::Message(text.into())
        );
    }

    /// Both sessions got the shutdown's close frame, and their connections ended.
    async fn closed_for_shutdown(&mut self, server: &mut Server) {
        assert_eq!(self.ws.next_text().await, CLOSE);
        assert_eq!(
            self.ws.next().await,
            Some(ServerFrame::Close(
                Some(1001),
                "Server shutting down".into()
            ))
        );
        read_until(&mut self.stream, &format!("{CLOSE}\n\r\n0\r\n\r\n")).await;
        for _ in 0..2 {
            assert_eq!(
                next_event(&mut server.events).await,
                Event::Close(CloseReason::ServerShutdown)
            );
        }
    }
}

/// Reads until `until` is in what comes back (what came before was read already).
async fn read_until(stream: &mut TcpStream, until: &str) -> String {
    crate::common::read_tcp_until(stream, String::new(), until).await
}

/// Stops `server` through a shutdown that names its service, and waits for it.
/// The deadline is longer than the test's: a stop that waited for the other
/// server's streams (which never end by themselves) would not finish in time.
async fn shut_down(server: &Server) {
    let shutdown = GracefulShutdown::new(server.handle.clone())
        .service(&server.rec)
        .deadline(DEADLINE * 6);
    actix_rt::time::timeout(DEADLINE, shutdown.stop())
        .await
        .expect("the server did not stop within the deadline");
}

#[actix_rt::test]
async fn a_shutdown_closes_its_own_services_and_leaves_the_others_open() {
    let mut first = start();
    let mut second = start();
    let mut first_clients = Clients::open(&mut first).await;
    let mut second_clients = Clients::open(&mut second).await;

    // The first server stops: its clients get the close frame, and it stops
    // without waiting for the second server's streams.
    let stopping = actix_rt::spawn({
        let (handle, rec) = (first.handle.clone(), first.rec.clone());
        async move {
            let shutdown = GracefulShutdown::new(handle)
                .service(&rec)
                .deadline(DEADLINE * 6);
            actix_rt::time::timeout(DEADLINE, shutdown.stop()).await
        }
    });
    first_clients.closed_for_shutdown(&mut first).await;
    stopping
        .await
        .expect("stop task")
        .expect("the first server did not stop within the deadline");
    assert!(TcpStream::connect(first.addr).await.is_err());

    // The second server's sessions are open: they still echo, nothing closed them,
    // and it makes new sessions.
    second_clients.still_echo(&mut second, "still here").await;
    assert!(second.events.try_recv().is_err(), "unexpected event");
    let mut late = Clients::open(&mut second).await;
    late.still_echo(&mut second, "late").await;

    // Then the second server shuts down on its own.
    shut_down(&second).await;
    second_clients.closed_for_shutdown(&mut second).await;
    late.closed_for_shutdown(&mut second).await;
    assert!(TcpStream::connect(second.addr).await.is_err());
}

#[actix_rt::test]
async fn close_sessions_closes_and_refuses_only_its_own_services() {
    let mut first = start();
    let mut second = start();
    let mut first_clients = Clients::open(&mut first).await;
    let mut second_clients = Clients::open(&mut second).await;

    let left = GracefulShutdown::new(first.handle.clone())
        .service(&first.rec)
        .deadline(DEADLINE)
        .close_sessions()
        .await;
    assert_eq!(left, 0, "sessions left open");
    first_clients.closed_for_shutdown(&mut first).await;
    // The first service refuses new sessions; its server still runs.
    assert_eq!(
        RawWs::handshake_status(first.addr, &format!("/rec/000/{}/websocket", session_id())).await,
        503
    );
    // The second does not.
    second_clients.still_echo(&mut second, "open").await;
    let mut late = Clients::open(&mut second).await;
    late.still_echo(&mut second, "late").await;

    shut_down(&second).await;
    second_clients.closed_for_shutdown(&mut second).await;
    late.closed_for_shutdown(&mut second).await;
    shut_down(&first).await;
}
