//! PUB and XPUB: each message goes to every attached peer whose subscriptions
//! prefix-match its first frame; a peer at its SNDHWM misses it (counted) and nobody
//! waits, unless XPUB_NODROP (then the send waits until every matching peer has room).
//! XPUB also receives: the subscription notices (`\x01topic` for the first subscriber
//! of a topic, `\x00topic` when the last one leaves, every subscribe with
//! XPUB_VERBOSE, every cancel too with XPUB_VERBOSER, all of them with XPUB_MANUAL),
//! then data messages from its peers.
//!
//! The default fan-out visits the matching subscribers only (the [`TopicIndex`]).
//! INVERT_MATCHING sends to the peers that match nothing, so it walks every attached
//! peer: O(peers) per message, like the set it sends to. XPUB_NODROP and
//! XPUB_MANUAL_LAST_VALUE collect the matching peers first (one more pass over them,
//! not over the others).

use std::collections::{HashMap, VecDeque};

use bytes::{Buf, Bytes};
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::subscriptions::{Subscriptions, TopicIndex};
use super::{not_supported, recv_fair, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Publish {
    xpub: bool,
    /// Each topic's subscribers (each peer's own set is `Peer::subs`).
    index: TopicIndex,
    /// XPUB: subscription notices for `recv`, with the peer they came from (`None`:
    /// a peer that left).
    notices: VecDeque<(Message, Option<PeerId>)>,
    /// XPUB_MANUAL: each peer's subscriptions as it sent them (reported as cancelled
    /// when it leaves); the applied ones are `Peer::subs`, set by the application.
    manual: HashMap<PeerId, Subscriptions>,
    /// XPUB_MANUAL: the peer of the last notice read, which `subscribe` applies to.
    last_peer: Option<PeerId>,
    /// The peers of the last fan-out that take the message directly.
    fanout: Vec<PeerId>,
    /// The targets of a general fan-out (see the module documentation).
    targets: Vec<PeerId>,
    /// The last fan-out filled some peer's queue to its SNDHWM.
    fanout_full: bool,
}

impl Publish {
    pub(crate) fn new(xpub: bool) -> Publish {
        Publish {
            xpub,
            index: TopicIndex::default(),
            notices: VecDeque::new(),
            manual: HashMap::new(),
            last_peer: None,
            fanout: Vec::new(),
            targets: Vec::new(),
            fanout_full: false,
        }
    }

    fn notice(&mut self, peers: &mut Peers, kind: u8, topic: &[u8], peer: Option<PeerId>) {
        self.notices.push_back((notice(kind, topic), peer));
        peers.wake_receivers();
    }

    /// The general fan-out: INVERT_MATCHING, XPUB_NODROP, or a last-value send.
    fn send_general(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        msg: Message,
        last: Option<PeerId>,
    ) -> Sent {
        let round = peers.begin_fan_out();
        self.targets.clear();
        for peer in self.index.matching(&msg.frames()[0]) {
            if last.is_none_or(|l| l == peer) && peers.mark_fan_out(peer, round) {
                self.targets.push(peer);
            }
        }
        if opts.invert_matching {
            self.targets.clear();
            peers.unmarked(round, &mut self.targets);
        }
        if opts.xpub_nodrop && self.targets.iter().any(|&p| !peers.has_room(p)) {
            return Sent::Blocked(msg);
        }
        if last.is_some() {
            // The last value went to the new subscriber; the next send is for all.
            self.last_peer = None;
        }
        let round = peers.begin_fan_out();
        let mut full = false;
        for &peer in &self.targets {
            full |= peers.fan_out_to(peer, &msg, round, &mut self.fanout);
        }
        self.fanout_full = full;
        if self.fanout.is_empty() {
            Sent::Done
        } else {
            Sent::Fanout(msg)
        }
    }
}

/// An XPUB subscription notice: `kind` (1 subscribe, 0 cancel) then the topic.
pub(crate) fn notice(kind: u8, topic: &[u8]) -> Message {
    let mut v = Vec::with_capacity(topic.len() + 1);
    v.push(kind);
    v.extend_from_slice(topic);
    Message::from(v)
}

fn is_subscription(frame: &Bytes) -> bool {
    matches!(frame.first(), Some(0 | 1))
}

impl Pattern for Publish {
    fn send(&mut self, peers: &mut Peers, opts: &Options, msg: Message) -> Result<Sent, Error> {
        self.fanout.clear();
        let last = self.last_peer.filter(|_| opts.xpub_manual_last_value);
        if opts.invert_matching || opts.xpub_nodrop || last.is_some() {
            return Ok(self.send_general(peers, opts, msg, last));
        }
        let round = peers.begin_fan_out();
        let mut full = false;
        for list in self.index.matching_lists(&msg.frames()[0]) {
            for &peer in list {
                full |= peers.fan_out_to(peer, &msg, round, &mut self.fanout);
            }
        }
        self.fanout_full = full;
        Ok(if self.fanout.is_empty() {
            Sent::Done
        } else {
            Sent::Fanout(msg)
        })
    }

    fn recv(&mut self, peers: &mut Peers, opts: &Options) -> Result<Option<Message>, Error> {
        if !self.xpub {
            return Err(not_supported("recv", SocketType::Pub));
        }
        if let Some((msg, peer)) = self.notices.pop_front() {
            if opts.xpub_manual {
                self.last_peer = peer.filter(|&p| peers.get(p).is_some_and(|p| p.is_attached()));
            }
            return Ok(Some(msg));
        }
        Ok(recv_fair(peers))
    }

    /// Frames of a multi-part message that start with byte 1 or 0 are subscriptions
    /// (like libzmq; single-frame ones are parsed by the session), the rest is data;
    /// with ONLY_FIRST_SUBSCRIBE, a message whose first frame is not a subscription is
    /// all data. PUB ignores data from its subscribers.
    fn accepts(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        peer: PeerId,
        msg: &mut Message,
    ) -> bool {
        let frames = msg.frames();
        if frames.len() > 1
            && (is_subscription(&frames[0])
                || !opts.only_first_subscribe && frames.iter().any(is_subscription))
        {
            for mut topic in msg.take_frames(is_subscription) {
                let on = topic[0] == 1;
                topic.advance(1);
                self.peer_subscription(peers, opts, peer, topic, on);
            }
            if msg.is_empty() {
                return false;
            }
        }
        if !self.xpub {
            peers.drops.discarded += 1;
        }
        self.xpub
    }

    fn peer_subscription(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        peer: PeerId,
        topic: Bytes,
        on: bool,
    ) {
        let Some(p) = peers.get_mut(peer) else {
            return;
        };
        if opts.xpub_manual && self.xpub {
            // Not applied: the application decides (`subscribe` after `recv`).
            let mine = self.manual.entry(peer).or_default();
            if on && !mine.contains(&topic) {
                mine.add(&topic);
            } else if !on {
                mine.remove(&topic);
            }
            self.notice(peers, u8::from(on), &topic, Some(peer));
            return;
        }
        if on {
            // A repeated SUBSCRIBE from the same peer is idempotent, like libzmq's
            // per-pipe trie (libzmq SUBs send duplicates).
            let new_for_peer = !p.subs.contains(&topic);
            if new_for_peer {
                p.subs.add(&topic);
            }
            let first = new_for_peer && self.index.add(&topic, peer);
            if self.xpub && (first || opts.xpub_verbose) {
                self.notice(peers, 1, &topic, Some(peer));
            }
        } else {
            let had = p.subs.remove(&topic);
            let last = had && self.index.remove(&topic, peer);
            if self.xpub && (last || opts.xpub_verbose_unsubs) {
                self.notice(peers, 0, &topic, Some(peer));
            }
        }
    }

    /// XPUB_MANUAL: applies `topic` to the peer of the last notice read (nothing when
    /// there is none, as in libzmq).
    fn subscribe(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        topic: &[u8],
        on: bool,
    ) -> Result<(), Error> {
        if !self.xpub {
            let op = if on { "subscribe" } else { "unsubscribe" };
            return Err(not_supported(op, SocketType::Pub));
        }
        if !opts.xpub_manual {
            return Err(Error::InvalidOption {
                option: if on {
                    "ZMQ_SUBSCRIBE"
                } else {
                    "ZMQ_UNSUBSCRIBE"
                },
                reason: format!(
                    "a {} socket takes it only with ZMQ_XPUB_MANUAL",
                    self.kind()
                ),
            });
        }
        let Some(peer) = self.last_peer else {
            return Ok(());
        };
        let Some(p) = peers.get_mut(peer).filter(|p| p.is_attached()) else {
            self.last_peer = None;
            return Ok(());
        };
        if on {
            if !p.subs.contains(topic) {
                p.subs.add(topic);
                self.index.add(topic, peer);
            }
        } else if p.subs.remove(topic) {
            self.index.remove(topic, peer);
        }
        Ok(())
    }

    /// The welcome message, first to every new peer.
    fn attached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        if self.xpub && !opts.xpub_welcome_msg.is_empty() {
            peers.queue_to(peer, Message::from(opts.xpub_welcome_msg.clone()));
        }
    }

    /// The peer's subscriptions end with its connection; XPUB reports each topic that
    /// has no subscriber left (each of the peer's topics with XPUB_VERBOSER; under
    /// XPUB_MANUAL, each subscription the peer had sent).
    fn detached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        let Some(p) = peers.get(peer) else {
            return;
        };
        let lost: Vec<Bytes> = p.subs.topics();
        let mine = self.manual.remove(&peer);
        if opts.xpub_manual && self.xpub {
            let mine = mine.unwrap_or_default();
            for topic in lost {
                self.index.remove(&topic, peer);
            }
            for topic in mine.topics() {
                self.notice(peers, 0, &topic, None);
            }
        } else {
            for topic in lost {
                let last = self.index.remove(&topic, peer);
                if self.xpub && (last || opts.xpub_verbose_unsubs) {
                    self.notice(peers, 0, &topic, None);
                }
            }
        }
        if self.last_peer == Some(peer) {
            self.last_peer = None;
        }
    }

    fn topics_count(&self) -> Option<usize> {
        Some(self.index.len())
    }

    fn take_fanout(&mut self) -> Vec<PeerId> {
        std::mem::take(&mut self.fanout)
    }

    fn restore_fanout(&mut self, mut targets: Vec<PeerId>) {
        targets.clear();
        self.fanout = targets;
    }

    fn take_fanout_full(&mut self) -> bool {
        std::mem::take(&mut self.fanout_full)
    }

    fn kind(&self) -> SocketType {
        if self.xpub {
            SocketType::XPub
        } else {
            SocketType::Pub
        }
    }
}
