//! Graceful shutdown: every session of the services a server runs closed with a close
//! frame before the server stops, within a deadline.
//!
//! actix-web tells an application nothing when its server stops: a graceful stop
//! waits (30 s by default) for connections that a SockJS stream or websocket never
//! ends by itself, then drops them without a word, and SIGINT drops them at once. So
//! the stop goes through [`GracefulShutdown`]: it closes every session of the
//! [`SockJs`](crate::SockJs) services it was given with `1001 Server shutting down`
//! (streams write the close frame and end, waiting polls are answered with it,
//! websockets get it and a close frame; `on_close` gets
//! [`CloseReason::ServerShutdown`](crate::CloseReason::ServerShutdown)), refuses new
//! sessions of those services, waits for their streams to end, then stops the server,
//! all within its deadline.
//!
//! A shutdown is scoped to its services, so two servers of one process stop
//! separately: each service counts its own live streams and websockets
//! ([`InFlight`]), and a shutdown waits only for those of its services. A shutdown
//! given no service reaches every service of the process (the list below), as
//! [`close_all_sessions`] does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use parking_lot::Mutex;

/// A service that can be shut down (type-erased, for the process-wide list).
pub(crate) trait ShutDown: Send + Sync {
    /// Refuses new sessions and asks every session to close; each holds a clone of
    /// `countdown` until it has.
    fn shut_down(&self, countdown: &Countdown);

    /// The service's live streams and websockets.
    fn in_flight(&self) -> &InFlightCount;
}

/// How long, once every SockJS session has closed, the application's other requests
/// get to finish before the server drops what is left.
const OTHER_REQUESTS_GRACE: Duration = Duration::from_secs(1);

/// How many response bodies (streams, websockets) of one service are alive, so a
/// shutdown waits for its own services' streams only.
#[derive(Default)]
pub(crate) struct InFlightCount {
    count: AtomicUsize,
    /// Woken when `count` drops to zero.
    none: tokio::sync::Notify,
}

impl InFlightCount {
    /// Counts one more body until the guard is dropped.
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.count.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn load(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    async fn none(&self) {
        loop {
            let notified = self.none.notified();
            if self.load() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Held by a streaming response body or a websocket connection while it lives, so a
/// shutdown of its service can wait until every close frame has been handed to
/// actix-http. One pointer: it is part of every idle stream and websocket.
pub(crate) struct InFlight(Arc<InFlightCount>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.none.notify_waiters();
        }
    }
}

/// Every service of the process, weakly: a dropped service leaves the list.
static SERVICES: Mutex<Vec<Weak<dyn ShutDown>>> = Mutex::new(Vec::new());

/// Adds a service to the list [`GracefulShutdown`] closes.
pub(crate) fn register(service: Weak<dyn ShutDown>) {
    let mut services = SERVICES.lock();
    services.retain(|s| s.strong_count() > 0);
    services.push(service);
}

/// Counts the sessions that have not closed yet: each session asked to close holds
/// one [`CountdownGuard`] and drops it once closed (or when its message is dropped
/// because the session is gone already).
#[derive(Clone, Default)]
pub(crate) struct Countdown(Arc<CountdownInner>);

#[derive(Default)]
pub(crate) struct CountdownInner {
    left: AtomicUsize,
    done: tokio::sync::Notify,
}

impl Countdown {
    pub(crate) fn guard(&self) -> CountdownGuard {
        self.0.left.fetch_add(1, Ordering::AcqRel);
        CountdownGuard(self.0.clone())
    }

    async fn finished(&self) {
        loop {
            let notified = self.0.done.notified();
            if self.0.left.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One session's part of a [`Countdown`].
pub(crate) struct CountdownGuard(Arc<CountdownInner>);

impl Drop for CountdownGuard {
    fn drop(&mut self) {
        if self.0.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.done.notify_waiters();
        }
    }
}

/// Closes the sessions of the SockJS services it is given, then stops an actix
/// server; on SIGTERM, SIGINT and SIGQUIT if asked to.
///
/// Name the services the server runs with [`service`](Self::service): the shutdown
/// then reaches those and no other, so each server of a process can be shut down on
/// its own. A shutdown given no service closes every session of every
/// [`SockJs`](crate::SockJs) service of the process (as [`close_all_sessions`]
/// does) and waits for all their streams: enough for a process with one server, and
/// wrong for a process with several.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_sockjs::{GracefulShutdown, SockJs, SockJsHandler};
/// use actix_web::{App, HttpServer};
/// # struct Echo;
/// # impl actix::Actor for Echo {
/// #     type Context = actix_sockjs::SockJsContext<Self>;
/// # }
/// # impl SockJsHandler for Echo {
/// #     fn on_message(&mut self, _: String, _: &mut actix_sockjs::SockJsContext<Self>) {}
/// # }
///
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let echo = SockJs::new("/echo", || Echo);
///     let chat = SockJs::new("/chat", || Echo);
///     let server = HttpServer::new({
///         let (echo, chat) = (echo.clone(), chat.clone());
///         move || App::new().service(echo.clone()).service(chat.clone())
///     })
///     // The signals are ours: actix's own handling would drop every
///     // connection (SIGINT) or hold them for 30 s (SIGTERM) without a word.
///     .disable_signals()
///     .bind(("127.0.0.1", 8080))?
///     .run();
///     // The services this server runs: their sessions are closed, and no other's.
///     GracefulShutdown::new(server.handle())
///         .service(&echo)
///         .service(&chat)
///         .deadline(Duration::from_secs(5))
///         .on_signals();
///     server.await
/// }
/// ```
#[derive(Clone)]
pub struct GracefulShutdown {
    handle: ServerHandle,
    deadline: Duration,
    /// The services named; none: every service of the process.
    services: Vec<Arc<dyn ShutDown>>,
}

impl std::fmt::Debug for GracefulShutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GracefulShutdown")
            .field("deadline", &self.deadline)
            .field("services", &self.services.len())
            .finish_non_exhaustive()
    }
}

impl GracefulShutdown {
    /// For the server behind `handle`, with a 5 s deadline. Name its services with
    /// [`service`](Self::service).
    pub fn new(handle: ServerHandle) -> Self {
        GracefulShutdown {
            handle,
            deadline: Duration::from_secs(5),
            services: Vec::new(),
        }
    }

    /// Adds a service to those it reaches (once: naming one twice is naming it once).
    /// [`service`](Self::service), the public way in, is in `service.rs`, so this
    /// module stays below the service layer.
    pub(crate) fn add_service(mut self, service: Arc<dyn ShutDown>) -> Self {
        let same = |s: &Arc<dyn ShutDown>| std::ptr::addr_eq(Arc::as_ptr(s), Arc::as_ptr(&service));
        if !self.services.iter().any(same) {
            self.services.push(service);
        }
        self
    }

    /// How long [`stop`](Self::stop) may take in all: sessions that have not closed
    /// by then, and connections still open, are dropped. Default: 5 s.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Stops gracefully on SIGTERM, SIGINT or SIGQUIT (Unix; Ctrl-C elsewhere). Call it
    /// from within the actix system (as in `#[actix_web::main]`), with actix's own
    /// signal handling turned off (`HttpServer::disable_signals`).
    pub fn on_signals(self) {
        actix_rt::spawn(async move {
            wait_for_signal().await;
            self.stop().await;
        });
    }

    /// The services it reaches: those named, or every service of the process.
    fn targets(&self) -> Vec<Arc<dyn ShutDown>> {
        if self.services.is_empty() {
            every_service()
        } else {
            self.services.clone()
        }
    }

    /// Closes every session of its services with `1001 Server shutting down` and
    /// refuses their new sessions (`503 Server shutting down.`), as
    /// [`close_all_sessions`] does for every service of the process. Resolves once
    /// each of those sessions has closed, or after the deadline; returns how many had
    /// not by then. The server keeps running: [`stop`](Self::stop) does this first.
    pub async fn close_sessions(&self) -> usize {
        close_sessions(&self.targets(), self.deadline).await
    }

    /// Closes every session of its services with `1001 Server shutting down` and
    /// refuses new ones ([`close_sessions`](Self::close_sessions)), waits until every
    /// stream and websocket of those services has written its close frame and ended,
    /// then stops the server: it takes no new connection, the application's other
    /// requests get a second more, and what is left then (idle keep-alive connections
    /// above all) is dropped. All within the deadline.
    pub async fn stop(&self) {
        let started = actix_rt::time::Instant::now();
        let services = self.targets();
        close_sessions(&services, self.deadline).await;
        // The close frames are queued; wait until every stream and websocket of these
        // services has handed its last bytes to actix-http and ended. (No new one
        // starts: their sessions are closed and no new session is made.)
        let left = self.deadline.saturating_sub(started.elapsed());
        let _ = actix_rt::time::timeout(left, async {
            for service in &services {
                service.in_flight().none().await;
            }
        })
        .await;
        log::debug!(
            "shutting down: sessions closed, {} stream(s) left, after {:?}",
            services.iter().map(|s| s.in_flight().load()).sum::<usize>(),
            started.elapsed()
        );
        drop(services);
        // The server takes no new connection, and the application's other requests
        // get a moment to finish; then the server is stopped and the rest (idle
        // keep-alive connections above all, which a graceful actix stop would wait
        // for until they time out) is dropped. (A graceful stop cannot be hurried
        // once asked for, so it is not asked for.)
        self.handle.pause().await;
        let left = self.deadline.saturating_sub(started.elapsed());
        actix_rt::time::sleep(left.min(OTHER_REQUESTS_GRACE)).await;
        self.handle.stop(false).await;
    }
}

/// Closes every session of every [`SockJs`](crate::SockJs) service of the process,
/// whichever server runs it, with `1001 Server shutting down` (streams write it and
/// end, waiting polls are answered with it, websockets get it and a close frame;
/// `on_close` gets [`CloseReason::ServerShutdown`](crate::CloseReason::ServerShutdown)),
/// and refuses new sessions from then on (`503 Server shutting down.`). Resolves once
/// every session has closed, or after `deadline`; returns how many had not by then.
///
/// Process-wide: where a process runs several servers, close one server's services
/// with [`GracefulShutdown::close_sessions`] (or stop it with
/// [`GracefulShutdown::stop`]) instead.
pub async fn close_all_sessions(deadline: Duration) -> usize {
    close_sessions(&every_service(), deadline).await
}

/// Every service of the process that still exists.
fn every_service() -> Vec<Arc<dyn ShutDown>> {
    SERVICES.lock().iter().filter_map(Weak::upgrade).collect()
}

/// Shuts `services` down and waits, at most `deadline`, for their sessions to close;
/// returns how many had not.
async fn close_sessions(services: &[Arc<dyn ShutDown>], deadline: Duration) -> usize {
    let countdown = Countdown::default();
    for service in services {
        service.shut_down(&countdown);
    }
    let asked = countdown.0.left.load(Ordering::Acquire);
    log::info!("shutting down: closing {asked} SockJS session(s)");
    if actix_rt::time::timeout(deadline, countdown.finished())
        .await
        .is_ok()
    {
        return 0;
    }
    let left = countdown.0.left.load(Ordering::Acquire);
    log::warn!("shutting down: {left} session(s) did not close in time");
    left
}

#[cfg(unix)]
async fn wait_for_signal() {
    use actix_rt::signal::unix::{SignalKind, signal};
    let kinds = [
        SignalKind::terminate(),
        SignalKind::interrupt(),
        SignalKind::quit(),
    ];
    let mut streams: Vec<_> = kinds.into_iter().filter_map(|k| signal(k).ok()).collect();
    if streams.is_empty() {
        log::warn!("no signal handler could be installed; graceful shutdown only by stop()");
        std::future::pending::<()>().await;
    }
    std::future::poll_fn(|cx| {
        for stream in &mut streams {
            if stream.poll_recv(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await;
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = actix_rt::signal::ctrl_c().await;
}
