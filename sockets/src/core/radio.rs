//! RADIO (libzmq draft, RFC 48): each message goes to the peers that joined its group
//! (an exact match, found through an index from group to members, so peers of other
//! groups cost nothing), plus the datagram links of `udp://`, which take every group
//! (the DISH at the other end filters, as in libzmq). A peer at its SNDHWM misses the
//! message (counted); nobody waits. Messages are single-part, with the group out of
//! band ([`Message::group`]); on a link a message travels as two frames, the group then
//! the body, the form libzmq's RADIO sessions write. RADIO never receives.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::subscriptions::TopicIndex;
use super::{not_supported, single_part_send, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Radio {
    /// Each group's members (each peer's own groups are in `Peer::subs`).
    index: TopicIndex,
    /// Peers that take every group (datagram links).
    everything: Vec<PeerId>,
    /// The peers of the last fan-out that take the message directly.
    fanout: Vec<PeerId>,
    /// The last fan-out filled some peer's queue to its SNDHWM.
    fanout_full: bool,
}

/// The form of a grouped message on a link: the group frame, then the body.
pub(crate) fn to_wire(mut msg: Message) -> Message {
    let group = msg.take_group();
    msg.push_front(group);
    msg
}

impl Pattern for Radio {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        single_part_send(&msg, SocketType::Radio)?;
        self.fanout.clear();
        let round = peers.begin_fan_out();
        let wire = to_wire(msg);
        let mut full = false;
        let group = &wire.frames()[0];
        for peer in self
            .index
            .exact(group)
            .chain(self.everything.iter().copied())
        {
            full |= peers.fan_out_to(peer, &wire, round, &mut self.fanout);
        }
        self.fanout_full = full;
        Ok(if self.fanout.is_empty() {
            Sent::Done
        } else {
            Sent::Fanout(wire)
        })
    }

    fn recv(&mut self, _: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Err(not_supported("recv", SocketType::Radio))
    }

    /// DISHes send no data; a raw peer's is dropped (counted).
    fn accepts(&mut self, peers: &mut Peers, _: &Options, _: PeerId, _: &mut Message) -> bool {
        peers.drops.discarded += 1;
        false
    }

    /// A DISH joined (`on`) or left `group`; its session checked the length.
    fn peer_subscription(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        peer: PeerId,
        group: Bytes,
        on: bool,
    ) {
        let Some(p) = peers.get_mut(peer) else {
            return;
        };
        if on {
            // libzmq's DISH never sends a JOIN twice; a raw peer's repeat changes nothing.
            if !p.subs.contains(&group) {
                p.subs.add(&group);
                self.index.add(&group, peer);
            }
        } else if p.subs.remove(&group) {
            self.index.remove(&group, peer);
        }
    }

    fn receives_everything(&mut self, peer: PeerId) {
        if !self.everything.contains(&peer) {
            self.everything.push(peer);
        }
    }

    /// The peer's groups end with its connection.
    fn detached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        self.everything.retain(|&p| p != peer);
        let Some(p) = peers.get(peer) else {
            return;
        };
        let groups: Vec<Bytes> = p.subs.topics();
        for group in groups {
            self.index.remove(&group, peer);
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
        SocketType::Radio
    }
}
