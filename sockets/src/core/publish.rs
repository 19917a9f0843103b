//! PUB and XPUB: each message goes to every attached peer whose subscriptions
//! prefix-match its first frame; a peer at its SNDHWM misses it (counted) and nobody
//! waits. XPUB also receives: the subscription notices (`\x01topic` for the first
//! subscriber of a topic, `\x00topic` when the last one leaves, every subscribe with
//! XPUB_VERBOSE), then data messages from its peers.

use std::collections::VecDeque;

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::subscriptions::TopicIndex;
use super::{not_supported, recv_fair, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Publish {
    xpub: bool,
    /// Each topic's subscribers (each peer's own set is `Peer::subs`).
    index: TopicIndex,
    /// XPUB: subscription notices for `recv`.
    notices: VecDeque<Message>,
    /// The peers of the last fan-out that take the message directly.
    fanout: Vec<PeerId>,
    /// The last fan-out filled some peer's queue to its SNDHWM.
    fanout_full: bool,
}

impl Publish {
    pub(crate) fn new(xpub: bool) -> Publish {
        Publish {
            xpub,
            index: TopicIndex::default(),
            notices: VecDeque::new(),
            fanout: Vec::new(),
            fanout_full: false,
        }
    }

    fn notice(&mut self, peers: &mut Peers, kind: u8, topic: &[u8]) {
        self.notices.push_back(notice(kind, topic));
        peers.wake_receivers();
    }
}

/// An XPUB subscription notice: `kind` (1 subscribe, 0 cancel) then the topic.
pub(crate) fn notice(kind: u8, topic: &[u8]) -> Message {
    let mut v = Vec::with_capacity(topic.len() + 1);
    v.push(kind);
    v.extend_from_slice(topic);
    Message::from(v)
}

impl Pattern for Publish {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        self.fanout.clear();
        let round = peers.begin_fan_out();
        let mut full = false;
        for peer in self.index.matching(&msg.frames()[0]) {
            full |= peers.fan_out_to(peer, &msg, round, &mut self.fanout);
        }
        self.fanout_full = full;
        Ok(if self.fanout.is_empty() {
            Sent::Done
        } else {
            Sent::Fanout(msg)
        })
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        if !self.xpub {
            return Err(not_supported("recv", SocketType::Pub));
        }
        Ok(self.notices.pop_front().or_else(|| recv_fair(peers)))
    }

    /// PUB ignores data from its subscribers.
    fn accepts(&mut self, peers: &mut Peers, _: PeerId, _: &Message) -> bool {
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
        if on {
            // A repeated SUBSCRIBE from the same peer is idempotent, like libzmq's
            // per-pipe trie (libzmq SUBs send duplicates).
            let new_for_peer = !p.subs.contains(&topic);
            if new_for_peer {
                p.subs.add(&topic);
            }
            let first = new_for_peer && self.index.add(&topic, peer);
            if self.xpub && (first || opts.xpub_verbose) {
                self.notice(peers, 1, &topic);
            }
        } else if p.subs.remove(&topic) && self.index.remove(&topic, peer) && self.xpub {
            self.notice(peers, 0, &topic);
        }
    }

    /// The peer's subscriptions end with its connection; XPUB reports each topic that
    /// has no subscriber left.
    fn detached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        let Some(p) = peers.get(peer) else {
            return;
        };
        let lost: Vec<Bytes> = p.subs.topics().cloned().collect();
        for topic in lost {
            if self.index.remove(&topic, peer) && self.xpub {
                self.notice(peers, 0, &topic);
            }
        }
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
