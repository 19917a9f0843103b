//! DISH (libzmq draft, RFC 48): joins groups and receives, fair-queued, the messages
//! of the groups it joined, never any other. `join` / `leave` go to every peer (JOIN /
//! LEAVE commands over ZMTP), and a peer that attaches hears every joined group. A
//! message arrives from a link as two frames, the group then the body, and is
//! delivered single-part with its group out of band ([`Message::group`]). DISH never
//! sends.

use std::collections::HashSet;

use bytes::Bytes;
use ringmq_zmtp::group::MAX_GROUP_LEN;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{not_supported, recv_fair, Action, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Dish {
    groups: HashSet<Bytes>,
}

impl Pattern for Dish {
    fn send(&mut self, _: &mut Peers, _: &Options, _: Message) -> Result<Sent, Error> {
        Err(not_supported("send", SocketType::Dish))
    }

    /// It cannot send.
    fn writable(&self, _: &Peers, _: &Options) -> bool {
        false
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        let Some(mut msg) = recv_fair(peers) else {
            return Ok(None);
        };
        // `accepts` let only [group, body] with a joined group (<= 255 bytes) through.
        let group = msg.pop_front().unwrap_or_default();
        msg.set_group_bytes(group);
        Ok(Some(msg))
    }

    /// Only the groups joined; anything not shaped [group, body] is dropped too (a
    /// ZMTP session already refused it; an inproc peer is a RADIO and cannot send it).
    fn accepts(&mut self, peers: &mut Peers, _: &Options, _: PeerId, msg: &mut Message) -> bool {
        // (A joined group is at most 255 bytes, so an accepted one is too.)
        let ok = msg.len() == 2 && self.groups.contains(&msg.frames()[0]);
        if !ok {
            peers.drops.discarded += 1;
        }
        ok
    }

    /// `join` (`on`) or `leave`, with libzmq's errors: a group over 255 bytes, joining
    /// twice, leaving a group not joined.
    fn subscribe(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        group: &[u8],
        on: bool,
    ) -> Result<(), Error> {
        if group.len() > MAX_GROUP_LEN {
            return Err(Error::GroupTooLong { len: group.len() });
        }
        let changed = if on {
            self.groups.insert(Bytes::copy_from_slice(group))
        } else {
            self.groups.remove(group)
        };
        if !changed {
            return Err(Error::GroupMembership { join: on });
        }
        peers.push_action(Action::Subscription {
            peer: None,
            topic: Bytes::copy_from_slice(group),
            subscribe: on,
        });
        Ok(())
    }

    fn attached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        for group in &self.groups {
            peers.push_action(Action::Subscription {
                peer: Some(peer),
                topic: group.clone(),
                subscribe: true,
            });
        }
    }

    fn kind(&self) -> SocketType {
        SocketType::Dish
    }
}
