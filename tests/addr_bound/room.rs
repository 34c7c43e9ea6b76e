//! A room actor and its members: sessions that join it through their actors.

use std::collections::HashMap;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, AsyncContext, Context, Handler, Message, Recipient};
use actix_sockjs::multiplex::{
    ChannelCloseReason, ChannelContext, ChannelHandle, ChannelHandler, Multiplex, broadcast_channel,
};
use actix_sockjs::{
    CloseReason, ConnectionInfo, PreparedMessage, SockJs, SockJsConfig, SockJsContext,
    SockJsHandler,
};
use actix_web::App;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Every session's `max_queued_bytes`.
pub(crate) const BOUND: usize = 256 * 1024;

pub(crate) fn config() -> SockJsConfig {
    SockJsConfig::default()
        .max_queued_bytes(BOUND)
        .heartbeat_delay(Duration::from_secs(3600))
        .response_limit(64 * 1024 * 1024)
}

/// What a room sends its members.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub(crate) struct Line(PreparedMessage);

/// How a room reaches one member.
pub(crate) enum Member {
    Addr(Addr<RoomMember>),
    Recipient(Recipient<Line>),
    Channel(ChannelHandle),
}

/// A member joins, under its session id.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Join(String, Member);

#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Leave(String);

/// A line for every member.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Say(pub(crate) String);

/// How many members the room has; answered after everything sent to it before.
#[derive(Message)]
#[rtype(result = "usize")]
pub(crate) struct Members;

#[derive(Default)]
pub(crate) struct Room {
    members: HashMap<String, Member>,
}

impl Actor for Room {
    type Context = Context<Self>;
}

impl Handler<Join> for Room {
    type Result = ();
    fn handle(&mut self, Join(id, member): Join, _: &mut Context<Self>) {
        self.members.insert(id, member);
    }
}

impl Handler<Leave> for Room {
    type Result = ();
    fn handle(&mut self, Leave(id): Leave, _: &mut Context<Self>) {
        self.members.remove(&id);
    }
}

impl Handler<Say> for Room {
    type Result = ();
    fn handle(&mut self, Say(text): Say, _: &mut Context<Self>) {
        // Encoded once, for the members that take a `Line`.
        let mut prepared = None;
        let mut channels = Vec::new();
        for member in self.members.values() {
            let mut line = || {
                prepared
                    .get_or_insert_with(|| Line(PreparedMessage::new(text.as_str())))
                    .clone()
            };
            match member {
                Member::Addr(addr) => addr.do_send(line()),
                Member::Recipient(recipient) => recipient.do_send(line()),
                Member::Channel(channel) => channels.push(channel),
            }
        }
        broadcast_channel(channels, &text);
    }
}

impl Handler<Members> for Room {
    type Result = usize;
    fn handle(&mut self, _: Members, _: &mut Context<Self>) -> usize {
        self.members.len()
    }
}

/// What members tell the test, with their session id.
#[derive(Debug)]
pub(crate) enum Report {
    Joined(String),
    Closed(String, CloseReason),
    /// A channel closed without its session (shown when a test fails).
    #[allow(dead_code, reason = "read through Debug")]
    ChannelClosed(String, ChannelCloseReason),
}

/// A session that joins the room as its actor's `Addr` or as a `Recipient<Line>`.
pub(crate) struct RoomMember {
    room: Addr<Room>,
    as_recipient: bool,
    reports: UnboundedSender<Report>,
}

impl Actor for RoomMember {
    type Context = SockJsContext<Self>;
}

impl SockJsHandler for RoomMember {
    fn on_open(&mut self, _: ConnectionInfo, ctx: &mut SockJsContext<Self>) {
        let id = ctx.id().to_owned();
        let member = if self.as_recipient {
            Member::Recipient(ctx.address().recipient())
        } else {
            Member::Addr(ctx.address())
        };
        self.room.do_send(Join(id.clone(), member));
        let _ = self.reports.send(Report::Joined(id));
    }

    fn on_message(&mut self, _: String, _: &mut SockJsContext<Self>) {}

    fn on_close(&mut self, reason: &CloseReason, ctx: &mut SockJsContext<Self>) {
        let id = ctx.id().to_owned();
        self.room.do_send(Leave(id.clone()));
        let _ = self.reports.send(Report::Closed(id, reason.clone()));
    }
}

impl Handler<Line> for RoomMember {
    type Result = ();
    fn handle(&mut self, Line(line): Line, ctx: &mut SockJsContext<Self>) {
        ctx.send_prepared(&line);
    }
}

/// A subscription to the multiplexed channel `room`: joins the room as its handle.
pub(crate) struct RoomChannel {
    room: Addr<Room>,
    reports: UnboundedSender<Report>,
}

impl ChannelHandler for RoomChannel {
    fn on_open(&mut self, _: &ConnectionInfo, channel: &mut ChannelContext<'_>) {
        let id = channel.session().id().to_owned();
        self.room
            .do_send(Join(id.clone(), Member::Channel(channel.handle())));
        let _ = self.reports.send(Report::Joined(id));
    }

    fn on_message(&mut self, _: String, _: &mut ChannelContext<'_>) {}

    fn on_close(&mut self, reason: &ChannelCloseReason, channel: &mut ChannelContext<'_>) {
        let id = channel.session().id().to_owned();
        self.room.do_send(Leave(id.clone()));
        let report = match reason {
            ChannelCloseReason::Session(reason) => Report::Closed(id, reason.clone()),
            other => Report::ChannelClosed(id, other.clone()),
        };
        let _ = self.reports.send(report);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Addr,
    Recipient,
    Channel,
}

/// A room on an arbiter of its own (so the test's flood never runs it inline), and a
/// server at `/room` whose sessions join it as `kind`.
pub(crate) fn start(
    kind: Kind,
) -> (
    actix_test::TestServer,
    Addr<Room>,
    Arbiter,
    UnboundedReceiver<Report>,
) {
    let arbiter = Arbiter::new();
    let room = Room::start_in_arbiter(&arbiter.handle(), |_| Room::default());
    let (reports, rx) = unbounded_channel();
    let member_room = room.clone();
    let srv = if kind == Kind::Channel {
        let channels = Multiplex::new().channel("room", move || RoomChannel {
            room: member_room.clone(),
            reports: reports.clone(),
        });
        let service = SockJs::new("/room", move || channels.session()).with_config(config());
        actix_test::start(move || App::new().service(service.clone()))
    } else {
        let as_recipient = kind == Kind::Recipient;
        let service = SockJs::new("/room", move || RoomMember {
            room: member_room.clone(),
            as_recipient,
            reports: reports.clone(),
        })
        .with_config(config());
        actix_test::start(move || App::new().service(service.clone()))
    };
    (srv, room, arbiter, rx)
}
