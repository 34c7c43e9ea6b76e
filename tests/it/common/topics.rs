//! Topic members for the `pubsub::Broadcaster` tests (one instance and across Redis):
//! an actor that forwards every `TopicMessage` it gets to the test, and the
//! broadcaster's calls.

use actix::{Actor, ActorContext, Addr, Context, Handler, Message};
use actix_sockjs::pubsub::{
    Broadcaster, BroadcasterStatus, GetStatus, Member, Publish, TopicMessage,
};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// Forwards every `TopicMessage` it gets, as (topic, text), to the test.
pub(crate) struct Forward(pub UnboundedSender<(String, String)>);

impl Actor for Forward {
    type Context = Context<Self>;

    /// Room for every message a test publishes at once: an actor member whose
    /// mailbox is full misses messages (`BroadcasterStatus::not_delivered`).
    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

impl Handler<TopicMessage> for Forward {
    type Result = ();
    fn handle(&mut self, msg: TopicMessage, _: &mut Context<Self>) {
        let _ = self
            .0
            .send((msg.topic.to_string(), msg.message.text().to_owned()));
    }
}

/// Stops the actor it is sent to.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Stop;

impl Handler<Stop> for Forward {
    type Result = ();
    fn handle(&mut self, _: Stop, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

/// A `Forward` actor: its address, its recipient as a member, and what it forwards.
pub(crate) fn forward() -> (Addr<Forward>, Member, UnboundedReceiver<(String, String)>) {
    let (tx, rx) = unbounded_channel();
    let addr = Forward(tx).start();
    let member = Member::Actor(addr.clone().recipient());
    (addr, member, rx)
}

/// Publishes `text` on `topic` and waits for the broadcaster to take it.
pub(crate) async fn publish(broadcaster: &Addr<Broadcaster>, topic: &str, text: &str) {
    broadcaster
        .send(Publish::new(topic, text))
        .await
        .expect("the broadcaster answers");
}

/// The broadcaster's status.
pub(crate) async fn status(broadcaster: &Addr<Broadcaster>) -> BroadcasterStatus {
    broadcaster
        .send(GetStatus)
        .await
        .expect("the broadcaster answers")
}
