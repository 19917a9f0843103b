//! SERVER (libzmq draft, RFC 41): single-part messages. Every peer gets a `u32`
//! routing id (never 0) when it becomes a peer: at `connect` on the connect side, at
//! the handshake on the bind side. A received message carries its peer's id out of
//! band ([`Message::routing_id`]); a sent one names its peer the same way. Unknown or
//! missing ids fail with `HostUnreachable`; a peer at its SNDHWM makes the send wait.
//! PEER routes the same way (see `peer.rs`).

use std::collections::HashMap;

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{single_part_arrival, single_part_send, Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Server {
    kind: SocketType,
    by_id: HashMap<u32, PeerId>,
    next_id: u32,
}

impl Server {
    /// A SERVER, or with `SocketType::Peer` a PEER.
    pub(crate) fn new(kind: SocketType) -> Server {
        Server {
            kind,
            by_id: HashMap::new(),
            // libzmq starts at a random value; any start works.
            next_id: std::process::id().wrapping_mul(2_654_435_761),
        }
    }

    /// The next routing id that is neither 0 nor in use.
    fn generate(&mut self) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            if self.next_id != 0 && !self.by_id.contains_key(&self.next_id) {
                return self.next_id;
            }
        }
    }
}

/// A peer's routing id as the core stores it (`Peer::routing_id`: 4 bytes, big endian).
pub(crate) fn routing_id_of(peers: &Peers, peer: PeerId) -> Option<u32> {
    let rid = peers.get(peer)?.routing_id.as_deref()?;
    Some(u32::from_be_bytes(rid.try_into().ok()?))
}

impl Pattern for Server {
    fn send(&mut self, peers: &mut Peers, _: &Options, mut msg: Message) -> Result<Sent, Error> {
        single_part_send(&msg, self.kind)?;
        let Some(&peer) = msg.routing_id().and_then(|id| self.by_id.get(&id)) else {
            return Err(Error::HostUnreachable);
        };
        if !peers.has_room(peer) {
            return Ok(Sent::Blocked(msg));
        }
        // The id addressed this socket's peer; the message leaves without it.
        msg.set_routing_id(0);
        Ok(peers.hand_over(peer, msg, false))
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        // Arrivals carry their peer's id already (`Pattern::stamp`): the peer may be
        // forgotten by the time its last message is read.
        Ok(peers.next_input(false).map(|(_, msg)| msg))
    }

    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, msg: &mut Message) -> bool {
        single_part_arrival(peers, peer, msg, self.kind)
    }

    fn stamp(&mut self, peers: &Peers, peer: PeerId, msg: &mut Message) {
        msg.set_routing_id(routing_id_of(peers, peer).unwrap_or(0));
    }

    fn connect_peer_added(&mut self, peers: &mut Peers, peer: PeerId) {
        let id = self.generate();
        self.by_id.insert(id, peer);
        if let Some(p) = peers.get_mut(peer) {
            p.routing_id = Some(Bytes::copy_from_slice(&id.to_be_bytes()));
        }
    }

    fn admit(
        &mut self,
        peers: &Peers,
        _: &Options,
        existing: Option<PeerId>,
        _: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        // A connect-side peer keeps the id it got at `connect` across reconnects.
        let kept = existing.and_then(|p| routing_id_of(peers, p));
        let id = match kept {
            Some(id) => id,
            None => self.generate(),
        };
        Ok(Admit {
            routing_id: Some(Bytes::copy_from_slice(&id.to_be_bytes())),
            evict: None,
        })
    }

    fn attached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        if let Some(id) = routing_id_of(peers, peer) {
            self.by_id.insert(id, peer);
        }
    }

    /// DISCONNECT_MSG: the message, with the peer's routing id, after what it sent.
    fn detached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        if !opts.disconnect_msg.is_empty() {
            let mut msg = Message::from(opts.disconnect_msg.clone());
            msg.set_routing_id(routing_id_of(peers, peer).unwrap_or(0));
            peers.push_input(peer, msg);
        }
    }

    fn removed(&mut self, peers: &mut Peers, peer: PeerId) {
        if let Some(id) = routing_id_of(peers, peer) {
            if self.by_id.get(&id) == Some(&peer) {
                self.by_id.remove(&id);
            }
        }
    }

    fn kind(&self) -> SocketType {
        self.kind
    }
}
