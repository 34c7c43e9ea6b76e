//! Requests racing the expiry sweep: `xhr_send` and polls sent as a session expires,
//! thousands of times. Every message a send had accepted (204) reaches the handler;
//! a request for a session that expired is answered as for an unknown id (a send gets
//! 404, a poll opens a new session), never with an empty body or a lost message.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actix_sockjs::{SockJs, SockJsConfig, SockJsContext, SockJsHandler};
use actix_web::App;
use parking_lot::Mutex;

use crate::common;

/// Echoes every message and records it as delivered.
struct Ledger {
    delivered: Arc<Mutex<HashSet<String>>>,
}

impl actix::Actor for Ledger {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for Ledger {
    fn on_message(&mut self, msg: String, ctx: &mut SockJsContext<Self>) {
        self.delivered.lock().insert(msg.clone());
        ctx.send(msg);
    }
}

/// What one round saw: each message sent and the answer to its send, then the body
/// of the poll that followed.
struct Round {
    sends: Vec<(String, u16)>,
    poll_body: String,
}

/// Sends per round, back to back, so some land while the session expires.
const SENDS: usize = 5;

const ROUNDS: usize = 2000;
const CONCURRENT: usize = 40;

async fn post(client: &awc::Client, url: String, body: String) -> (u16, String) {
    let request = client
        .post(url)
        .insert_header(("Content-Type", "text/plain"))
        .timeout(common::DEADLINE)
        .send_body(body);
    let mut res = request.await.expect("request within the deadline");
    let status = res.status().as_u16();
    let body = res.body().await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn round(client: awc::Client, base: String, n: usize) -> Round {
    let id = format!("race-{n}-{}", common::session_id());
    let session = format!("{base}/ledger/000/{id}");
    let (status, opened) = post(&client, format!("{session}/xhr"), String::new()).await;
    assert_eq!((status, opened.as_str()), (200, "o\n"), "round {n}: open");
    // Spread the sends over the expiry: before, around and after it.
    let delay = Duration::from_micros(((n * 7919) % 60_000) as u64);
    actix_rt::time::sleep(delay).await;
    let mut sends = Vec::with_capacity(SENDS);
    for k in 0..SENDS {
        let message = format!("m{n}.{k}");
        let body = format!("[\"{message}\"]");
        let (status, _) = post(&client, format!("{session}/xhr_send"), body).await;
        sends.push((message, status));
    }
    let (status, poll_body) = post(&client, format!("{session}/xhr"), String::new()).await;
    assert_eq!(status, 200, "round {n}: poll");
    Round { sends, poll_body }
}

#[actix_rt::test]
async fn sends_and_polls_racing_expiry_lose_nothing_and_never_reach_an_expired_session() {
    let delivered = Arc::new(Mutex::new(HashSet::new()));
    let ledger = {
        let delivered = delivered.clone();
        SockJs::new("/ledger", move || Ledger {
            delivered: delivered.clone(),
        })
        .with_config(SockJsConfig::default().disconnect_delay(Duration::from_millis(30)))
    };
    // Two workers: the sweep and the requests run on different threads, as in
    // production, so a request can act while the sweep does.
    let server = actix_web::HttpServer::new(move || App::new().service(ledger.clone()))
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind 127.0.0.1");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);
    let base = format!("http://{addr}");
    let client = awc::Client::new();

    let mut rounds = Vec::with_capacity(ROUNDS);
    for batch in (0..ROUNDS).collect::<Vec<_>>().chunks(CONCURRENT) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&n| actix_rt::spawn(round(client.clone(), base.clone(), n)))
            .collect();
        for task in tasks {
            rounds.push(task.await.expect("round"));
        }
    }

    handle.stop(false).await;
    let delivered = delivered.lock();
    let (mut accepted, mut refused) = (0, 0);
    for r in &rounds {
        let mut expired = false;
        let mut echoes = String::from("a[");
        for (message, status) in &r.sends {
            match status {
                204 => {
                    accepted += 1;
                    assert!(!expired, "{message} was accepted by an expired session");
                    assert!(
                        delivered.contains(message),
                        "{message} was accepted and never reached the handler"
                    );
                    if echoes.len() > 2 {
                        echoes.push(',');
                    }
                    echoes.push_str(&format!("\"{message}\""));
                }
                404 => {
                    refused += 1;
                    expired = true;
                    assert!(
                        !delivered.contains(message),
                        "{message} was refused and still reached the handler"
                    );
                }
                other => panic!("{message}: send answered {other}"),
            }
        }
        echoes.push_str("]\n");
        // After a refusal the session is gone: the poll opens a new one. Otherwise
        // it gets every echo, in order, unless the session expired after handling
        // them (then it opens a new session too).
        if expired {
            assert_eq!(
                r.poll_body, "o\n",
                "a poll after expiry opens a new session"
            );
        } else {
            assert!(
                r.poll_body == echoes || r.poll_body == "o\n",
                "poll after accepted sends got {:?}, not {echoes:?}",
                r.poll_body
            );
        }
    }
    // Both outcomes happened, so the race was run.
    assert!(
        accepted > 0 && refused > 0,
        "accepted {accepted}, refused {refused}"
    );
    eprintln!("{accepted} sends accepted, {refused} refused after expiry");
}
