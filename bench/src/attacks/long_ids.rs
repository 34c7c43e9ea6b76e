//! Session ids of up to 65,520 bytes on every HTTP transport: each request must be
//! refused with 404 (`max_id_length`) before the server makes or looks up anything,
//! so thousands of them leave its memory where it was.
//!
//! 65,520 bytes is what fits in `/echo/000/ID/xhr`: actix-web (the `http` crate)
//! takes request targets of at most 65,534 bytes and answers longer ones 400 before
//! any application sees them, so the other transports get the longest id that fits.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use super::{Observed, Target};
use crate::net::Http;

/// The longest session id sent.
const ID_LEN: usize = 65_520;
/// The longest request target actix-web accepts.
const MAX_TARGET: usize = 65_534;
/// Everything of a session URL before the session id.
const PREFIX: &str = "/echo/000/";
/// How many requests, at most.
const REQUESTS: usize = 8000;
/// Connections sending them, one request at a time each.
const CONNECTIONS: usize = 8;
/// One request's answer.
const PER_REQUEST: Duration = Duration::from_secs(5);
/// Each transport tried, in turn: whether it is a POST, its path after the session
/// id, and the body it is sent with (what a browser sends).
const TRANSPORTS: &[(bool, &str, &[u8])] = &[
    (true, "xhr", b""),
    (true, "xhr_send", b"[\"x\"]"),
    (true, "xhr_streaming", b""),
    (false, "eventsource", b""),
    (false, "htmlfile?c=cb", b""),
    (false, "jsonp?c=cb", b""),
];

/// The session URL with the longest id (at most [`ID_LEN`]) that fits in
/// [`MAX_TARGET`].
fn long_path(transport: &str) -> String {
    let id_len = ID_LEN.min(MAX_TARGET - PREFIX.len() - 1 - transport.len());
    format!("{PREFIX}{}/{transport}", "s".repeat(id_len))
}

/// Whether an error means the server had closed a kept-alive connection (it does
/// after answering a request whose body it did not read).
fn stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<String, u64>,
    reconnects: u64,
    errors: u64,
    first_error: Option<String>,
}

/// One request on `http` (connected first if need be); its status.
async fn request(
    http: &mut Option<Http>,
    addr: SocketAddr,
    (post, path, body): (bool, &str, &[u8]),
    deadline: Instant,
) -> io::Result<u16> {
    let conn = match http.as_mut() {
        Some(conn) => conn,
        None => http.insert(Http::connect(addr, deadline).await?),
    };
    if post {
        conn.post(path, body, deadline).await?;
    } else {
        conn.get(path, deadline).await?;
    }
    conn.response(deadline).await.map(|(status, _)| status)
}

async fn one_connection(t: Target, paths: Arc<Vec<String>>, next: Arc<AtomicUsize>) -> Tally {
    let stop = Instant::now() + t.duration;
    let mut tally = Tally::default();
    let mut http: Option<Http> = None;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= REQUESTS || Instant::now() >= stop {
            return tally;
        }
        let deadline = Instant::now() + PER_REQUEST;
        let (post, _, body) = TRANSPORTS[n % TRANSPORTS.len()];
        let req = (post, paths[n % TRANSPORTS.len()].as_str(), body);
        let reused = http.is_some();
        let mut answer = request(&mut http, t.addr, req, deadline).await;
        if reused && answer.as_ref().is_err_and(stale) {
            tally.reconnects += 1;
            http = None;
            answer = request(&mut http, t.addr, req, deadline).await;
        }
        match answer {
            Ok(status) => *tally.statuses.entry(status.to_string()).or_insert(0) += 1,
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e.to_string());
                // Whatever state the connection is in, start afresh.
                http = None;
            }
        }
    }
}

/// The attack: up to [`REQUESTS`] requests over [`CONNECTIONS`] connections.
pub(crate) async fn long_session_ids(t: &Target) -> Result<Observed, String> {
    let paths: Arc<Vec<String>> =
        Arc::new(TRANSPORTS.iter().map(|(_, tr, _)| long_path(tr)).collect());
    let id_lengths: Vec<usize> = paths
        .iter()
        .map(|p| p.split('/').nth(3).map_or(0, str::len))
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..CONNECTIONS {
        tasks.spawn(one_connection(t.clone(), paths.clone(), next.clone()));
    }
    let mut total = Tally::default();
    let hard = Instant::now() + t.duration + PER_REQUEST + Duration::from_secs(5);
    let finished = timeout_at(hard, async {
        while let Some(joined) = tasks.join_next().await {
            let Ok(tally) = joined else { continue };
            for (status, n) in tally.statuses {
                *total.statuses.entry(status).or_insert(0) += n;
            }
            total.errors += tally.errors;
            total.reconnects += tally.reconnects;
            if let Some(e) = tally.first_error {
                total.first_error.get_or_insert(e);
            }
        }
    })
    .await;
    tasks.abort_all();
    let answered: u64 = total.statuses.values().sum();
    let all_404 = total.statuses.keys().all(|s| s == "404");
    let mut summary = format!(
        "{answered} requests answered: {}",
        total
            .statuses
            .iter()
            .map(|(s, n)| format!("{n} × {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    summary += &format!(
        " (session ids of {}–{} bytes; {} reconnects after the server closed a kept-alive connection)",
        id_lengths.iter().min().unwrap_or(&0),
        id_lengths.iter().max().unwrap_or(&0),
        total.reconnects
    );
    if total.errors > 0 {
        summary += &format!(
            "; {} failed ({})",
            total.errors,
            total.first_error.as_deref().unwrap_or("?")
        );
    }
    if finished.is_err() {
        summary += "; abandoned at the deadline";
    }
    Ok(Observed {
        summary,
        as_expected: answered > 0 && all_404 && total.errors == 0 && finished.is_ok(),
        details: json!({
            "transports": TRANSPORTS.iter().map(|(_, tr, _)| *tr).collect::<Vec<_>>(),
            "id_lengths": id_lengths,
            "reconnects": total.reconnects,
            "statuses": total.statuses,
            "errors": total.errors,
            "first_error": total.first_error,
        }),
    })
}
