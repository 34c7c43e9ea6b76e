//! Which members each topic has on this instance: a plain table with no actors or
//! I/O, so its rules (subscribe upstream on the first member, unsubscribe on the
//! last) are tested directly.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::Member;

/// Topic → members, and member → topics (so a member leaves everything at once).
#[derive(Default)]
pub(crate) struct Topics {
    topics: HashMap<Arc<str>, HashSet<Member>>,
    by_member: HashMap<Member, Vec<Arc<str>>>,
}

/// The topics whose membership went from none to some (`Subscribed`) or from some to
/// none (`Emptied`): what the upstream subscription must follow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Subscribed(Arc<str>),
    Emptied(Arc<str>),
}

impl Topics {
    /// Adds `member` to `topic`; `Some(Subscribed)` if it is the topic's first.
    pub(crate) fn subscribe(&mut self, topic: &str, member: Member) -> Option<Change> {
        let (topic, first) = match self.topics.get_key_value(topic) {
            Some((name, _)) => (Arc::clone(name), false),
            None => (Arc::<str>::from(topic), true),
        };
        let members = self.topics.entry(Arc::clone(&topic)).or_default();
        if members.insert(member.clone()) {
            self.by_member
                .entry(member)
                .or_default()
                .push(Arc::clone(&topic));
        }
        first.then_some(Change::Subscribed(topic))
    }

    /// Removes `member` from `topic`; `Some(Emptied)` if it was the topic's last.
    pub(crate) fn unsubscribe(&mut self, topic: &str, member: &Member) -> Option<Change> {
        let members = self.topics.get_mut(topic)?;
        if !members.remove(member) {
            return None;
        }
        if let Some(topics) = self.by_member.get_mut(member) {
            topics.retain(|t| &**t != topic);
            if topics.is_empty() {
                self.by_member.remove(member);
            }
        }
        if members.is_empty() {
            let (name, _) = self.topics.remove_entry(topic)?;
            return Some(Change::Emptied(name));
        }
        None
    }

    /// Removes `member` from every topic; the topics it leaves empty.
    pub(crate) fn unsubscribe_all(&mut self, member: &Member) -> Vec<Change> {
        let Some(topics) = self.by_member.remove(member) else {
            return Vec::new();
        };
        let mut emptied = Vec::new();
        for topic in topics {
            if let Some(members) = self.topics.get_mut(&topic) {
                members.remove(member);
                if members.is_empty() {
                    self.topics.remove(&topic);
                    emptied.push(Change::Emptied(topic));
                }
            }
        }
        emptied
    }

    /// Removes every member for which `alive` is false from all its topics; the
    /// topics left empty.
    pub(crate) fn remove_dead(&mut self, alive: impl Fn(&Member) -> bool) -> Vec<Change> {
        let dead: Vec<Member> = self
            .by_member
            .keys()
            .filter(|m| !alive(m))
            .cloned()
            .collect();
        dead.iter().flat_map(|m| self.unsubscribe_all(m)).collect()
    }

    /// The topic's shared name and members, if it has any.
    pub(crate) fn members(&self, topic: &str) -> Option<(&Arc<str>, &HashSet<Member>)> {
        self.topics.get_key_value(topic)
    }

    /// Topics with members.
    pub(crate) fn topic_count(&self) -> usize {
        self.topics.len()
    }

    /// Memberships (a member of two topics counts twice).
    pub(crate) fn membership_count(&self) -> usize {
        self.topics.values().map(HashSet::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix::{Actor, Context, Handler};

    use crate::pubsub::TopicMessage;

    struct Sink;
    impl Actor for Sink {
        type Context = Context<Self>;
    }
    impl Handler<TopicMessage> for Sink {
        type Result = ();
        fn handle(&mut self, _: TopicMessage, _: &mut Context<Self>) {}
    }

    fn members(n: usize) -> Vec<Member> {
        (0..n)
            .map(|_| Member::Actor(Sink.start().recipient()))
            .collect()
    }

    #[actix_rt::test]
    async fn the_first_member_subscribes_and_the_last_one_out_unsubscribes() {
        let m = members(2);
        let mut topics = Topics::default();
        assert_eq!(
            topics.subscribe("room", m[0].clone()),
            Some(Change::Subscribed("room".into()))
        );
        assert_eq!(topics.subscribe("room", m[1].clone()), None);
        assert_eq!(
            topics.subscribe("room", m[1].clone()),
            None,
            "twice is once"
        );
        assert_eq!(topics.membership_count(), 2);
        assert_eq!(topics.unsubscribe("room", &m[0]), None);
        assert_eq!(
            topics.unsubscribe("room", &m[0]),
            None,
            "not a member any more"
        );
        assert_eq!(
            topics.unsubscribe("room", &m[1]),
            Some(Change::Emptied("room".into()))
        );
        assert_eq!(topics.topic_count(), 0);
        assert!(topics.members("room").is_none());
        assert_eq!(
            topics.subscribe("room", m[1].clone()),
            Some(Change::Subscribed("room".into())),
            "an emptied topic is subscribed again by its next member"
        );
    }

    #[actix_rt::test]
    async fn leaving_everything_empties_only_the_topics_left_without_members() {
        let m = members(2);
        let mut topics = Topics::default();
        topics.subscribe("a", m[0].clone());
        topics.subscribe("b", m[0].clone());
        topics.subscribe("b", m[1].clone());
        let mut emptied = topics.unsubscribe_all(&m[0]);
        assert_eq!(emptied.pop(), Some(Change::Emptied("a".into())));
        assert!(emptied.is_empty());
        assert!(topics.members("a").is_none());
        assert_eq!(topics.topic_count(), 1);
        assert_eq!(topics.members("b").map(|(_, m)| m.len()), Some(1));
        assert!(topics.unsubscribe_all(&m[0]).is_empty(), "already gone");
        assert_eq!(
            topics.unsubscribe("b", &m[1]),
            Some(Change::Emptied("b".into()))
        );
        assert_eq!(topics.membership_count(), 0);
    }

    #[actix_rt::test]
    async fn the_dead_leave_every_topic_and_empty_the_ones_they_alone_were_in() {
        let m = members(2);
        let mut topics = Topics::default();
        topics.subscribe("a", m[0].clone());
        topics.subscribe("b", m[0].clone());
        topics.subscribe("b", m[1].clone());
        let dead = m[0].clone();
        let emptied = topics.remove_dead(|member| *member != dead);
        assert_eq!(emptied, [Change::Emptied("a".into())]);
        assert_eq!(topics.membership_count(), 1);
        assert!(topics.remove_dead(|_| true).is_empty());
    }

    #[actix_rt::test]
    async fn a_member_that_left_one_topic_still_leaves_the_others_at_once() {
        let m = members(1);
        let mut topics = Topics::default();
        topics.subscribe("a", m[0].clone());
        topics.subscribe("b", m[0].clone());
        topics.unsubscribe("a", &m[0]);
        assert_eq!(topics.unsubscribe_all(&m[0]), [Change::Emptied("b".into())]);
        assert_eq!(topics.topic_count(), 0);
    }
}
