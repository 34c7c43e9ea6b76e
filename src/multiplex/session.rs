//! The channel registry, and the session handler that routes messages to channels.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Actor, AsyncContext, Handler};

use super::channel::{ChannelCloseReason, ChannelContext, ChannelHandler, ChannelShared};
use super::handle::{ChannelCommand, ChannelOp, SessionLink};
use crate::protocol::{ChannelMessage, escape_channel_name};
use crate::session::SockJsContext;
use crate::session::SockJsHandler;
use crate::vocabulary::{CloseReason, ConnectionInfo};

type ChannelFactory = Arc<dyn Fn() -> Box<dyn ChannelHandler> + Send + Sync>;

#[derive(Clone)]
struct RegisteredChannel {
    name: Arc<str>,
    wire: Arc<str>,
    factory: ChannelFactory,
}

/// The channels a multiplexed service offers, each with its own handler.
///
/// Build it once, then give [`Multiplex::session`] as the factory of a
/// [`SockJs`](crate::SockJs) service. Cloning is cheap (the registry is shared).
///
/// ```no_run
/// use actix_sockjs::SockJs;
/// use actix_sockjs::multiplex::{ChannelContext, ChannelHandler, Multiplex};
///
/// struct Echo;
///
/// impl ChannelHandler for Echo {
///     fn on_message(&mut self, msg: String, channel: &mut ChannelContext<'_>) {
///         channel.send(&msg);
///     }
/// }
///
/// let channels = Multiplex::new().channel("ann", || Echo).channel("bob", || Echo);
/// let service = SockJs::new("/multiplex", move || channels.session());
/// ```
#[derive(Clone, Default)]
pub struct Multiplex {
    channels: Arc<HashMap<Arc<str>, RegisteredChannel>>,
}

impl std::fmt::Debug for Multiplex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.channels.values().map(|c| &c.name))
            .finish()
    }
}

impl Multiplex {
    /// A registry with no channels.
    pub fn new() -> Self {
        Multiplex::default()
    }

    /// Offers the channel `name`: each subscription to it gets a handler from
    /// `factory`. A second registration of a name replaces the first.
    ///
    /// The client escapes channel names with JavaScript's `escape()`, so `name` is
    /// matched in that form and any name works, spaces and commas included.
    pub fn channel<C, F>(mut self, name: impl Into<String>, factory: F) -> Self
    where
        C: ChannelHandler,
        F: Fn() -> C + Send + Sync + 'static,
    {
        let name: Arc<str> = name.into().into();
        let wire: Arc<str> = escape_channel_name(&name).into();
        let factory: ChannelFactory = Arc::new(move || Box::new(factory()));
        let entry = RegisteredChannel {
            name,
            wire: Arc::clone(&wire),
            factory,
        };
        Arc::make_mut(&mut self.channels).insert(wire, entry);
        self
    }

    /// The registered channel names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.channels.values().map(|c| &*c.name)
    }

    /// The handler of one new session: give this to [`SockJs::new`](crate::SockJs::new).
    pub fn session(&self) -> MultiplexSession {
        MultiplexSession {
            registry: self.clone(),
            open: Vec::new(),
            info: None,
            link: None,
        }
    }
}

struct OpenChannel {
    shared: Arc<ChannelShared>,
    handler: Box<dyn ChannelHandler>,
}

/// The [`SockJsHandler`] of a multiplexed session: it reads `sub`, `msg` and `uns`
/// messages and runs the handlers of the channels the client subscribed to.
///
/// Messages that are not multiplexing messages, subscriptions to channels that are
/// not registered, and messages on channels the client has not subscribed to are
/// ignored (and logged at debug level); they never close the session. When the
/// session closes, every open channel's handler gets `on_close` once, with
/// [`ChannelCloseReason::Session`].
pub struct MultiplexSession {
    registry: Multiplex,
    /// In subscription order; a session has at most one subscription per registered
    /// channel, so a linear search is short.
    open: Vec<OpenChannel>,
    info: Option<ConnectionInfo>,
    link: Option<SessionLink>,
}

impl std::fmt::Debug for MultiplexSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiplexSession")
            .field("channels", &self.registry)
            .field(
                "open",
                &self.open.iter().map(|c| &c.shared.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl MultiplexSession {
    fn position(&self, wire: &str) -> Option<usize> {
        self.open.iter().position(|c| &*c.shared.wire == wire)
    }

    fn ensure_link(&mut self, session: &mut SockJsContext<Self>) {
        if self.link.is_none() {
            let commands = session.address().recipient();
            self.link = Some(SessionLink {
                session: session.session_handle(),
                commands,
            });
        }
    }

    /// Runs `f` on the handler of the open channel at `index`, then closes the
    /// channel if the handler asked to.
    fn call(
        &mut self,
        index: usize,
        session: &mut SockJsContext<Self>,
        f: impl FnOnce(&mut dyn ChannelHandler, &ConnectionInfo, &mut ChannelContext<'_>),
    ) {
        let (Some(open), Some(link), Some(info)) = (
            self.open.get_mut(index),
            self.link.as_ref(),
            self.info.as_ref(),
        ) else {
            return;
        };
        let mut close = false;
        f(
            open.handler.as_mut(),
            info,
            &mut ChannelContext::new(session, &open.shared, link, &mut close),
        );
        if close {
            self.close_channel(index, ChannelCloseReason::Server, session);
        }
    }

    /// Removes the open channel at `index` and tells its handler why. The client is
    /// told with `uns,CHANNEL` unless it was the one that unsubscribed.
    fn close_channel(
        &mut self,
        index: usize,
        reason: ChannelCloseReason,
        session: &mut SockJsContext<Self>,
    ) {
        let Some(link) = self.link.as_ref() else {
            return;
        };
        let mut open = self.open.remove(index);
        open.shared.set_closed();
        if reason == ChannelCloseReason::Server {
            session.send_parts(&["uns,", &open.shared.wire]);
        }
        let mut ignored = false;
        open.handler.on_close(
            &reason,
            &mut ChannelContext::new(session, &open.shared, link, &mut ignored),
        );
    }

    fn subscribe(&mut self, wire: &str, session: &mut SockJsContext<Self>) {
        if self.position(wire).is_some() {
            log::debug!("multiplex: `sub` to channel {wire:?}, already subscribed; ignored");
            return;
        }
        let Some(registered) = self.registry.channels.get(wire) else {
            log::debug!("multiplex: `sub` to unknown channel {wire:?}; ignored");
            return;
        };
        let shared = Arc::new(ChannelShared::new(
            Arc::clone(&registered.name),
            Arc::clone(&registered.wire),
        ));
        let handler = (registered.factory)();
        self.open.push(OpenChannel { shared, handler });
        let index = self.open.len() - 1;
        self.call(index, session, |handler, info, channel| {
            handler.on_open(info, channel)
        });
    }

    /// Acts on a command from a channel handle, if its subscription is still open.
    fn command(&mut self, command: ChannelCommand, session: &mut SockJsContext<Self>) {
        let Some(index) = self
            .open
            .iter()
            .position(|c| Arc::ptr_eq(&c.shared, &command.channel))
        else {
            return;
        };
        match command.op {
            ChannelOp::Text(text) => {
                session.send_parts(&["msg,", &command.channel.wire, ",", &text]);
            }
            ChannelOp::Prepared(msg) => session.send_prepared(&msg),
            ChannelOp::Close => self.close_channel(index, ChannelCloseReason::Server, session),
        }
    }
}

/// A multiplexed session is an actor like any session handler; channel handles reach
/// it through its address.
impl Actor for MultiplexSession {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for MultiplexSession {
    fn on_open(&mut self, info: ConnectionInfo, session: &mut SockJsContext<Self>) {
        self.info = Some(info);
        self.ensure_link(session);
    }

    fn on_message(&mut self, mut msg: String, session: &mut SockJsContext<Self>) {
        let (index, payload_at) = match ChannelMessage::parse(&msg) {
            Ok(ChannelMessage::Subscribe(wire)) => {
                self.subscribe(wire, session);
                return;
            }
            Ok(ChannelMessage::Unsubscribe(wire)) => {
                match self.position(wire) {
                    Some(index) => {
                        self.close_channel(index, ChannelCloseReason::Unsubscribed, session)
                    }
                    None => log::debug!("multiplex: `uns` of channel {wire:?}, not subscribed"),
                }
                return;
            }
            Ok(ChannelMessage::Message(wire, payload)) => match self.position(wire) {
                Some(index) => (index, msg.len() - payload.len()),
                None => {
                    log::debug!("multiplex: `msg` on channel {wire:?}, not subscribed; ignored");
                    return;
                }
            },
            Err(e) => {
                log::debug!("multiplex: malformed message ({e}); ignored");
                return;
            }
        };
        // The payload is the tail of the message: cut the head off in place rather
        // than copy the payload into a new string.
        msg.replace_range(..payload_at, "");
        self.call(index, session, |handler, _, channel| {
            handler.on_message(msg, channel)
        });
    }

    fn on_close(&mut self, reason: &CloseReason, session: &mut SockJsContext<Self>) {
        while !self.open.is_empty() {
            self.close_channel(0, ChannelCloseReason::Session(reason.clone()), session);
        }
    }
}

impl Handler<ChannelCommand> for MultiplexSession {
    type Result = ();

    fn handle(&mut self, command: ChannelCommand, ctx: &mut SockJsContext<Self>) {
        self.command(command, ctx);
    }
}
