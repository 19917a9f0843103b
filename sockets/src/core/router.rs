//! ROUTER: every peer has a routing id (the identity it announced, or one generated
//! here); a received message comes with the sender's id in front, and the first frame
//! of a sent message picks the peer. Unknown ids and full peers drop the message, or
//! fail / wait with ROUTER_MANDATORY. A duplicate id is refused, or with
//! ROUTER_HANDOVER takes the id over from the old peer.

use std::collections::HashMap;

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::{Options, NOTIFY_CONNECT, NOTIFY_DISCONNECT};

pub(crate) struct Router {
    ids: RoutingIds,
}

impl Router {
    pub(crate) fn new() -> Router {
        Router {
            ids: RoutingIds::new(),
        }
    }
}

/// The routing ids of a ROUTER's or STREAM's attached peers, and the ids generated for
/// peers that bring none.
pub(crate) struct RoutingIds {
    by_id: HashMap<Bytes, PeerId>,
    next_generated: u32,
}

impl RoutingIds {
    pub(crate) fn new() -> RoutingIds {
        RoutingIds {
            by_id: HashMap::new(),
            // libzmq starts generated ids at a random value; any start works.
            next_generated: std::process::id().wrapping_mul(2_654_435_761),
        }
    }

    /// The attached peer with routing id `rid`.
    pub(crate) fn get(&self, rid: &[u8]) -> Option<PeerId> {
        self.by_id.get(rid).copied()
    }

    /// A fresh 5-byte id starting with byte 0 (ids peers choose may not start with 0).
    pub(crate) fn generate(&mut self) -> Bytes {
        loop {
            self.next_generated = self.next_generated.wrapping_add(1);
            let mut id = Vec::with_capacity(5);
            id.push(0);
            id.extend_from_slice(&self.next_generated.to_be_bytes());
            let id = Bytes::from(id);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// `peer` attached: it is found by the routing id it was admitted with.
    pub(crate) fn attached(&mut self, peers: &Peers, peer: PeerId) {
        if let Some(rid) = peers.get(peer).and_then(|p| p.routing_id.clone()) {
            self.by_id.insert(rid, peer);
        }
    }

    /// `peer` is gone: its id is free again (unless a newer peer took it over).
    pub(crate) fn removed(&mut self, peers: &Peers, peer: PeerId) {
        if let Some(rid) = peers.get(peer).and_then(|p| p.routing_id.as_ref()) {
            if self.by_id.get(rid) == Some(&peer) {
                self.by_id.remove(rid);
            }
        }
    }
}

impl Pattern for Router {
    fn send(&mut self, peers: &mut Peers, opts: &Options, mut msg: Message) -> Result<Sent, Error> {
        let rid = msg.pop_front().expect("the core refuses empty messages");
        let mandatory = opts.router_mandatory;
        let Some(peer) = self.ids.get(&rid) else {
            if mandatory {
                return Err(Error::HostUnreachable);
            }
            peers.drops.unroutable += 1;
            return Ok(Sent::Done);
        };
        if msg.is_empty() {
            peers.drops.unroutable += 1;
            return Ok(Sent::Done);
        }
        if peers.has_room(peer) {
            Ok(peers.hand_over(peer, msg, false))
        } else if mandatory {
            msg.push_front(rid);
            Ok(Sent::Blocked(msg))
        } else {
            peers.drop_at_hwm(peer);
            Ok(Sent::Done)
        }
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(peers.next_input(true).map(|(_, msg)| msg))
    }

    fn recv_many(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        out: &mut Vec<Message>,
        max: usize,
    ) -> Result<usize, Error> {
        Ok(peers.next_inputs(true, out, max))
    }

    fn admit(
        &mut self,
        _: &Peers,
        opts: &Options,
        _: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        let rid = match identity {
            Some(id) => id,
            None => self.ids.generate(),
        };
        let evict = match self.ids.get(&rid) {
            Some(_) if !opts.router_handover => return Err(Refusal::DuplicateRoutingId(rid)),
            Some(old) => Some(old),
            None => None,
        };
        Ok(Admit {
            routing_id: Some(rid),
            evict,
        })
    }

    fn attached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        self.ids.attached(peers, peer);
        if opts.router_notify & NOTIFY_CONNECT != 0 {
            peers.push_input(peer, Message::from(Bytes::new()));
        }
    }

    /// ROUTER_NOTIFY: `[id, ""]` after what the peer sent; DISCONNECT_MSG: `[id, msg]`.
    fn detached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        if opts.router_notify & NOTIFY_DISCONNECT != 0 {
            peers.push_input(peer, Message::from(Bytes::new()));
        }
        if !opts.disconnect_msg.is_empty() {
            peers.push_input(peer, Message::from(opts.disconnect_msg.clone()));
        }
    }

    fn removed(&mut self, peers: &mut Peers, peer: PeerId) {
        self.ids.removed(peers, peer);
    }

    /// A ROUTER's peers are known by the id they announce on each connection, so they
    /// do not outlive it.
    fn keeps_connect_peers(&self) -> bool {
        false
    }

    fn kind(&self) -> SocketType {
        SocketType::Router
    }
}
