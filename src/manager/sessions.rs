//! What requests ask of a service's sessions: find one, create one through the
//! manager, attach a receiver to it, hand it client messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use actix::Addr;
use actix_web::HttpRequest;

use super::actor::{Register, Registered, SessionManager};
use super::arbiter::{ActorsSlot, ServiceActors};
use super::registry::{SessionEntry, SessionRegistry};
use crate::config::SockJsConfig;
use crate::receiver::Receiver;
use crate::session::SockJsHandler;
use crate::session::{
    Command, Deregister, InboxTx, SessionFuture, SessionHandle, SessionId, SessionMailbox,
    SessionSetup, SessionShared, SessionSlot, ToHost, inbox,
};
use crate::shutdown::{InFlight, InFlightCount};
use crate::stats::Stats;
use crate::vocabulary::{ConnectionInfo, Transport, client_ip};
use crate::web::RequestError;

/// What every worker's copy of a service shares.
pub(crate) struct SessionsState<H: SockJsHandler> {
    pub(super) factory: Box<dyn Fn() -> H + Send + Sync>,
    pub(super) registry: Arc<SessionRegistry<H>>,
    /// The manager and the stats collector: started with the first session, on the
    /// manager arbiter of its actix system (`manager::arbiter`).
    pub(super) actors: ActorsSlot<H>,
    pub(super) stats: Stats,
    /// How many sessions exist now (every transport), for `max_sessions`.
    pub(super) live_sessions: Arc<AtomicUsize>,
    /// Set by a graceful shutdown: no new session is made.
    pub(super) shutting_down: AtomicBool,
    /// The service's live streams and websockets, which its shutdown waits for.
    pub(super) in_flight: Arc<InFlightCount>,
}

impl<H: SockJsHandler> SessionsState<H> {
    /// The state of a new service whose sessions each get a handler made by `factory`;
    /// a graceful shutdown reaches it.
    pub(crate) fn new(factory: Box<dyn Fn() -> H + Send + Sync>) -> Arc<Self> {
        let state = Arc::new(SessionsState {
            factory,
            registry: Arc::new(SessionRegistry::new()),
            actors: ActorsSlot::default(),
            stats: Stats::default(),
            live_sessions: Arc::new(AtomicUsize::new(0)),
            shutting_down: AtomicBool::new(false),
            in_flight: Arc::default(),
        });
        let weak: std::sync::Weak<SessionsState<H>> = Arc::downgrade(&state);
        crate::shutdown::register(weak);
        state
    }

    /// The service's statistics.
    pub(crate) fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// How many sessions the map holds.
    pub(crate) fn session_count(&self) -> usize {
        self.registry.len()
    }

    /// The session with this id: its address and a handle bounded by `max_queued`.
    pub(crate) fn session(&self, id: &str, max_queued: usize) -> Option<(Addr<H>, SessionHandle)> {
        let (id, entry) = self.registry.get_with_id(id)?;
        let handle = entry.handle(id, max_queued);
        Some((entry.addr.upgrade()?, handle))
    }
}

/// Sessions leave the map when they end, on the thread where they end: a message to
/// the manager would cross to its thread and back for every session.
impl<H: SockJsHandler> Deregister for SessionsState<H> {
    fn deregister(&self, id: SessionId, inbox: InboxTx) {
        self.registry.remove_session(&id, &inbox);
    }
}

/// One service's sessions as its requests see them: its configuration and the state
/// every worker shares.
pub(crate) struct Sessions<H: SockJsHandler> {
    config: Arc<SockJsConfig>,
    state: Arc<SessionsState<H>>,
}

/// A registered session a send request can hand messages to.
pub(crate) struct SendTarget<H: SockJsHandler>(SessionEntry<H>);

impl<H: SockJsHandler> SendTarget<H> {
    /// Hands `messages` to the session; a session that ended meanwhile (it expired
    /// while the body was read) is not found.
    pub(crate) fn post_client_messages(&self, messages: Vec<String>) -> Result<(), RequestError> {
        if messages.is_empty() {
            return Ok(());
        }
        self.0
            .inbox
            .send(Command::Messages(messages))
            .map_err(|_| RequestError::NotFound)
    }
}

impl<H: SockJsHandler> Sessions<H> {
    pub(crate) fn new(config: Arc<SockJsConfig>, state: Arc<SessionsState<H>>) -> Self {
        Sessions { config, state }
    }

    /// The service's configuration.
    pub(crate) fn config(&self) -> &SockJsConfig {
        &self.config
    }

    fn manager(&self) -> Addr<SessionManager<H>> {
        self.state.actors.manager(|| {
            ServiceActors::start(
                self.state.registry.clone(),
                self.config.disconnect_delay,
                self.state.stats.clone(),
            )
        })
    }

    /// Counts a streaming body or websocket of this service while the guard lives.
    pub(crate) fn in_flight(&self) -> InFlight {
        self.state.in_flight.enter()
    }

    /// Counts `receiver` as an open connection of this service.
    pub(crate) fn count_connection(&self, receiver: &mut Receiver) {
        receiver.count_in(&self.state.stats);
    }

    /// The parts of a new session, before it is in the map (refused while shutting
    /// down or past `max_sessions`).
    fn new_session(
        &self,
        id: &str,
        req: &HttpRequest,
        transport: Transport,
    ) -> Result<NewSession<H>, RequestError> {
        if self.state.shutting_down.load(Ordering::SeqCst) {
            return Err(RequestError::ShuttingDown);
        }
        let Some(slot) = SessionSlot::acquire(&self.state.live_sessions, self.config.max_sessions)
        else {
            log::warn!(
                "session {id} refused: max_sessions ({:?}) reached",
                self.config.max_sessions
            );
            return Err(RequestError::TooManySessions);
        };
        let id: SessionId = Arc::from(id);
        let info =
            ConnectionInfo::from_request_trusting(req, transport, &self.config.trusted_proxies);
        let (tx, rx) = inbox(SessionShared::new(
            info.ip().filter(|_| self.config.bind_session_to_ip),
        ));
        let mailbox = SessionMailbox::new();
        let entry = SessionEntry {
            addr: mailbox.address().downgrade(),
            inbox: tx,
        };
        let setup = SessionSetup {
            registration: Some(self.state.clone()),
            id,
            info,
            config: self.config.clone(),
            inbox: rx,
            registered: transport != Transport::WebSocket && transport != Transport::RawWebSocket,
            raw: transport == Transport::RawWebSocket,
            stats: self.state.stats.clone(),
            slot,
        };
        Ok(NewSession {
            entry,
            mailbox,
            setup,
        })
    }

    /// Runs a new session's actor (not yet started: the caller spawns or embeds it).
    fn start(&self, new: NewSession<H>) -> (SessionEntry<H>, SessionFuture<H>) {
        let session = new.mailbox.session((self.state.factory)(), new.setup);
        if self.state.shutting_down.load(Ordering::SeqCst) {
            // Made while the shutdown went over the sessions: it may have missed this
            // one. Closing a closed session does nothing.
            let _ = new.entry.inbox.send(Command::Shutdown(None));
        }
        (new.entry, session)
    }

    /// Makes a session and has the manager put it in the map, waiting for the
    /// answer: when a live session has the id already, that one is the answer and
    /// nothing is made (two requests for one new id get one session).
    async fn create(
        &self,
        id: &str,
        req: &HttpRequest,
        transport: Transport,
    ) -> Result<(SessionEntry<H>, Option<SessionFuture<H>>), RequestError> {
        let new = self.new_session(id, req, transport)?;
        let registered = self
            .manager()
            .send(Register {
                id: new.setup.id.clone(),
                entry: new.entry.clone(),
            })
            .await
            .map_err(|_| RequestError::ShuttingDown)?;
        if let Registered::Existing(existing) = registered {
            return Ok((existing, None));
        }
        let (entry, session) = self.start(new);
        Ok((entry, Some(session)))
    }

    /// Attaches a receive request to its session, creating the session on first use
    /// (refused past `max_sessions`). A streaming request that made its session gets
    /// the session back, to run inside its response (`transport::hosted`); any other
    /// new session is started as a task of its own.
    pub(crate) async fn receive(
        &self,
        req: &HttpRequest,
        session: &str,
        transport: Transport,
        mut receiver: Receiver,
    ) -> Result<Option<ToHost<H>>, RequestError> {
        self.count_connection(&mut receiver);
        let streaming = receiver.is_streaming();
        // A polling response takes its one frame as soon as it is given (the session
        // then lets go of it): only streams can leave frames waiting. A stream that
        // runs its session is watched together with it, by the response.
        let stall_watch = self
            .config()
            .write_timeout
            .filter(|_| streaming)
            .map(|timeout| (receiver.stall_watch(), timeout));
        let mut hosted = None;
        // A session found in the map may end before it takes the request (it
        // expired): then the manager is asked, as for an unknown id, and replaces it.
        // Each round trip either makes a session or finds a live one, so two are
        // enough unless sessions of this id keep ending at once.
        let mut ask_manager = false;
        for _ in 0..4 {
            let found = if ask_manager {
                None
            } else {
                self.state.registry.get(session)
            };
            let entry = match found {
                Some(entry) => entry,
                None => {
                    // Boxed: a poll of an existing session, the common case, then carries
                    // a small future.
                    let (entry, started) = Box::pin(self.create(session, req, transport)).await?;
                    match started {
                        Some(started) if streaming => {
                            hosted = Some((started, entry.inbox.clone()));
                        }
                        Some(started) => started.spawn(),
                        None => {}
                    }
                    entry
                }
            };
            if let Err(refused) = self.check_bound(req, &entry) {
                // Not bound here: the session is one this request did not make.
                if let Some((made, _)) = hosted.take() {
                    made.spawn();
                }
                return Err(refused);
            }
            match entry.inbox.send(Command::Attach(Box::new(receiver))) {
                Ok(()) => {
                    if let (None, Some((watch, timeout))) = (&hosted, stall_watch) {
                        watch.start(timeout);
                    }
                    return Ok(hosted);
                }
                Err(Command::Attach(back)) => {
                    // It ended and may still be in the map: the manager replaces it.
                    receiver = *back;
                    ask_manager = true;
                    if let Some((made, _)) = hosted.take() {
                        made.spawn();
                    }
                }
                Err(_) => break,
            }
        }
        Err(RequestError::NotFound)
    }

    /// The registered session a send request names.
    pub(crate) fn lookup(
        &self,
        req: &HttpRequest,
        session: &str,
    ) -> Result<SendTarget<H>, RequestError> {
        let entry = self
            .state
            .registry
            .get(session)
            .ok_or(RequestError::NotFound)?;
        if entry.inbox.is_closed() {
            return Err(RequestError::NotFound);
        }
        self.check_bound(req, &entry)?;
        Ok(SendTarget(entry))
    }

    /// With `bind_session_to_ip`: a session is used only from the address that
    /// opened it; for another, it does not exist.
    fn check_bound(&self, req: &HttpRequest, entry: &SessionEntry<H>) -> Result<(), RequestError> {
        let Some(bound) = entry
            .inbox
            .shared()
            .bound_ip()
            .filter(|_| self.config.bind_session_to_ip)
        else {
            return Ok(());
        };
        let ip = client_ip(req, req.peer_addr(), &self.config.trusted_proxies);
        if ip == Some(bound) {
            return Ok(());
        }
        log::warn!(
            "session bound to {bound} asked for from {}: {}",
            ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string()),
            req.path()
        );
        Err(RequestError::NotFound)
    }

    /// A session that lives exactly as long as one websocket, not started: the
    /// websocket connection runs it inside its own task. It takes the id of its URL
    /// when that is free; two websockets on one URL are two sessions (the protocol
    /// suite's `test_reuseSessionId`), so the second gets a generated id, as a raw
    /// websocket does.
    ///
    /// A websocket is its own session: nothing else can ask for its id, so the
    /// manager is told, not asked, and the handshake does not wait for it. Should
    /// another session take the id first, the manager keeps that one, and this one
    /// is not found by id.
    pub(crate) fn websocket_session(
        &self,
        req: &HttpRequest,
        session: Option<&str>,
        transport: Transport,
    ) -> Result<(SessionEntry<H>, SessionFuture<H>), RequestError> {
        let generated;
        let id = match session {
            Some(id) if self.state.registry.get(id).is_none() => id,
            _ => {
                generated = uuid::Uuid::new_v4().simple().to_string();
                &generated
            }
        };
        let new = self.new_session(id, req, transport)?;
        // Put in the map here, on the connection's thread (the manager's sweeps
        // leave websocket sessions alone: they end with their connection). Its id
        // is fresh or was free a moment ago; should another session have taken it
        // since, this one is reached through its connection only.
        let _ = self
            .state
            .registry
            .insert_unless_live(new.setup.id.clone(), new.entry.clone());
        Ok(self.start(new))
    }
}

/// A session made and not yet running.
struct NewSession<H: SockJsHandler> {
    entry: SessionEntry<H>,
    mailbox: SessionMailbox<H>,
    setup: SessionSetup,
}
