//! A service's session manager does not live on the worker that served its first
//! request: when that worker stops, new sessions still open and abandoned sessions
//! still expire.

use std::time::Duration;

use actix_rt::Arbiter;
use actix_sockjs::{
    CloseReason, ConnectionInfo, SockJs, SockJsConfig, SockJsContext, SockJsHandler,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::common::{eventually, recv_within, text};

/// What happened to which session: opened (`None`) or closed (with its reason).
type Seen = (String, Option<CloseReason>);

/// Reports each session's opening and closing, with its id.
struct Tell(UnboundedSender<Seen>);

impl actix::Actor for Tell {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Tell {
    fn on_open(&mut self, _: ConnectionInfo, session: &mut SockJsContext<Self>) {
        let _ = self.0.send((session.id().to_owned(), None));
    }
    fn on_message(&mut self, msg: String, session: &mut SockJsContext<Self>) {
        session.send(&msg);
    }
    fn on_close(&mut self, reason: &CloseReason, session: &mut SockJsContext<Self>) {
        let _ = self.0.send((session.id().to_owned(), Some(reason.clone())));
    }
}

#[actix_rt::test]
async fn the_manager_outlives_the_worker_that_started_it() {
    let (tx, mut seen) = unbounded_channel();
    let delay = Duration::from_millis(200);
    let rec = SockJs::new("/rec", move || Tell(tx.clone())).with_config(
        SockJsConfig::default()
            .disconnect_delay(delay)
            .heartbeat_delay(Duration::from_secs(3600)),
    );

    // The service's first request is served on an arbiter of the test's, as by a
    // worker of a server; the manager starts then.
    let worker = Arbiter::new();
    let (answer_tx, mut answer) = unbounded_channel();
    let first = rec.clone();
    // (The app is not Send: it is made on that thread.)
    assert!(worker.spawn_fn(move || {
        actix_rt::spawn(async move {
            let app = actix_web::test::init_service(App::new().service(first)).await;
            let req = actix_web::test::TestRequest::post()
                .uri("/rec/000/first/xhr")
                .to_request();
            let res = actix_web::test::call_service(&app, req).await;
            let status = res.status();
            let body = actix_web::test::read_body(res).await;
            let _ = answer_tx.send((status, body));
        });
    }));
    let (status, body) = recv_within(&mut answer, "first answer").await;
    assert_eq!((status.as_u16(), &body[..]), (200, &b"o\n"[..]));
    assert_eq!(
        recv_within(&mut seen, "first open").await,
        ("first".into(), None)
    );

    // That worker stops, and its thread ends.
    assert!(worker.stop());
    actix_rt::task::spawn_blocking(move || worker.join())
        .await
        .expect("join task")
        .expect("the worker thread panicked");

    // The same service on a server: new sessions open (no 503) ...
    let served = rec.clone();
    let srv = actix_test::start(move || App::new().service(served.clone()));
    let mut res = srv
        .post("/rec/000/second/xhr")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(text(&mut res).await, "o\n");
    // ... and one left without a request expires after `disconnect_delay`.
    let closed = loop {
        match recv_within(&mut seen, "the second session's events").await {
            (id, Some(reason)) if id == "second" => break reason,
            (id, None) if id == "second" => {}
            // The first session stopped with its worker.
            (id, _) => assert_eq!(id, "first"),
        }
    };
    assert_eq!(closed, CloseReason::Timeout);
    // It leaves the map: its id then makes a new session.
    eventually(|| rec.session("second").is_none()).await;
    let mut res = srv
        .post("/rec/000/second/xhr")
        .send()
        .await
        .expect("request");
    assert_eq!(text(&mut res).await, "o\n");
}
