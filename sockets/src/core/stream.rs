//! STREAM (libzmq's `ZMQ_STREAM`): raw byte-stream peers with no ZMTP. Every peer gets a
//! generated routing id; a received message is `[id, bytes]` (what one read returned,
//! or a zero-length frame when the peer connected and when it went away), a sent one
//! is `[id, bytes]`, and `[id, ""]` closes that peer once what was sent before it is
//! written. An unknown id fails with `HostUnreachable`, a full peer waits, as with
//! ROUTER_MANDATORY (libzmq's STREAM behaves the same).

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::router::RoutingIds;
use super::{Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Stream {
    ids: RoutingIds,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream {
            ids: RoutingIds::new(),
        }
    }
}

impl Pattern for Stream {
    fn send(&mut self, peers: &mut Peers, _: &Options, mut msg: Message) -> Result<Sent, Error> {
        if msg.len() != 2 {
            return Err(Error::InvalidState {
                reason: "a STREAM message is a routing id and one data frame",
            });
        }
        let rid = msg.pop_front().expect("two frames");
        let Some(peer) = self.ids.get(&rid) else {
            return Err(Error::HostUnreachable);
        };
        if peers.has_room(peer) {
            Ok(peers.hand_over(peer, msg, false))
        } else {
            msg.push_front(rid);
            Ok(Sent::Blocked(msg))
        }
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(peers.next_input(true).map(|(_, msg)| msg))
    }

    /// Raw peers announce nothing: every one gets a generated id, unless the shell
    /// passes the connect's CONNECT_ROUTING_ID as `assigned` (refused when taken).
    fn admit(
        &mut self,
        _: &Peers,
        _: &Options,
        _: Option<PeerId>,
        assigned: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        let routing_id = match assigned {
            Some(id) if self.ids.get(&id).is_some() => return Err(Refusal::DuplicateRoutingId(id)),
            Some(id) => id,
            None => self.ids.generate(),
        };
        Ok(Admit {
            routing_id: Some(routing_id),
            evict: None,
        })
    }

    fn attached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        self.ids.attached(peers, peer);
    }

    fn removed(&mut self, peers: &mut Peers, peer: PeerId) {
        self.ids.removed(peers, peer);
    }

    /// Each connection is a new peer with a new id.
    fn keeps_connect_peers(&self) -> bool {
        false
    }

    fn kind(&self) -> SocketType {
        SocketType::Stream
    }
}
