//! SUB and XSUB: receive fair-queued the messages whose first frame starts with one of
//! their subscriptions (publishers filter too; filtering here as well is what libzmq
//! does). Subscriptions are counted (two subscribes need two unsubscribes); every
//! subscribe is forwarded to every peer, a cancel only when the count reaches zero, and
//! a peer that attaches gets them all. SUB subscribes through `subscribe`; XSUB through
//! messages (`\x01topic`, `\x00topic`), and sends any other message to every peer.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::subscriptions::Subscriptions;
use super::{not_supported, recv_fair, recv_fair_many, Action, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Subscribe {
    xsub: bool,
    topics: Subscriptions,
    /// XSUB: the peers of the last fan-out that take the message directly.
    fanout: Vec<PeerId>,
}

impl Subscribe {
    pub(crate) fn new(xsub: bool) -> Subscribe {
        Subscribe {
            xsub,
            topics: Subscriptions::default(),
            fanout: Vec::new(),
        }
    }

    /// `verbose_unsubs`: XSUB_VERBOSE_UNSUBSCRIBE, every cancel is forwarded.
    fn change(&mut self, peers: &mut Peers, topic: &[u8], on: bool, verbose_unsubs: bool) {
        let forward = if on {
            self.topics.add(topic);
            true
        } else {
            self.topics.remove(topic) || verbose_unsubs
        };
        if forward {
            peers.push_action(Action::Subscription {
                peer: None,
                topic: Bytes::copy_from_slice(topic),
                subscribe: on,
            });
        }
    }
}

fn is_subscription(frame: &Bytes) -> bool {
    matches!(frame.first(), Some(0 | 1))
}

impl Pattern for Subscribe {
    /// XSUB: a frame starting with byte 1 or 0 is a subscribe or cancel, also inside a
    /// multi-part message (like libzmq), unless ONLY_FIRST_SUBSCRIBE and the first
    /// frame is not one; the other frames go to every peer as one message.
    fn send(&mut self, peers: &mut Peers, opts: &Options, mut msg: Message) -> Result<Sent, Error> {
        if !self.xsub {
            return Err(not_supported("send", SocketType::Sub));
        }
        let frames = msg.frames();
        if is_subscription(&frames[0])
            || !opts.only_first_subscribe && frames.iter().any(is_subscription)
        {
            for frame in msg.take_frames(is_subscription) {
                let verbose = opts.xsub_verbose_unsubs;
                self.change(peers, &frame[1..], frame[0] == 1, verbose);
            }
            if msg.is_empty() {
                return Ok(Sent::Done);
            }
        }
        self.fanout.clear();
        peers.fan_out_all(&msg, &mut self.fanout);
        Ok(if self.fanout.is_empty() {
            Sent::Done
        } else {
            Sent::Fanout(msg)
        })
    }

    /// SUB cannot send; XSUB sends subscriptions, always taken.
    fn writable(&self, _: &Peers, _: &Options) -> bool {
        self.xsub
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(recv_fair(peers))
    }

    fn recv_many(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        out: &mut Vec<Message>,
        max: usize,
    ) -> Result<usize, Error> {
        Ok(recv_fair_many(peers, out, max))
    }

    /// With INVERT_MATCHING, the messages that match no subscription.
    fn accepts(&mut self, _: &mut Peers, opts: &Options, _: PeerId, msg: &mut Message) -> bool {
        self.topics.matches(&msg.frames()[0]) != opts.invert_matching
    }

    /// [`accepts`](Pattern::accepts) is the topic match alone.
    fn input_topics(&self) -> Option<&Subscriptions> {
        Some(&self.topics)
    }

    fn subscribe(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        topic: &[u8],
        on: bool,
    ) -> Result<(), Error> {
        if self.xsub {
            let op = if on { "subscribe" } else { "unsubscribe" };
            return Err(not_supported(op, SocketType::XSub));
        }
        self.change(peers, topic, on, false);
        Ok(())
    }

    fn attached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        for topic in self.topics.topics() {
            peers.push_action(Action::Subscription {
                peer: Some(peer),
                topic,
                subscribe: true,
            });
        }
    }

    fn topics_count(&self) -> Option<usize> {
        Some(self.topics.len())
    }

    fn take_fanout(&mut self) -> Vec<PeerId> {
        std::mem::take(&mut self.fanout)
    }

    fn restore_fanout(&mut self, mut targets: Vec<PeerId>) {
        targets.clear();
        self.fanout = targets;
    }

    fn kind(&self) -> SocketType {
        if self.xsub {
            SocketType::XSub
        } else {
            SocketType::Sub
        }
    }
}
