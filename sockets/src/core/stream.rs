//! STREAM (libzmq's `ZMQ_STREAM`): raw byte-stream peers with no ZMTP. Every peer gets a
//! generated routing id; a received message is `[id, bytes]` (what one read returned,
//! or a zero-length frame when the peer connected and when it went away), a sent one
//! is `[id, bytes]`, and `[id, ""]` closes that peer once what was sent before it is
//! written. An unknown id fails with `HostUnreachable`, a full peer waits, as with
//! ROUTER_MANDATORY (libzmq's STREAM behaves the same).

use std::collections::HashMap;

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Stream {
    by_id: HashMap<Bytes, PeerId>,
    next_generated: u32,
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream {
            by_id: HashMap::new(),
            next_generated: std::process::id().wrapping_mul(2_654_435_761),
        }
    }

    /// A fresh 5-byte id starting with byte 0, as ROUTER generates them.
    fn generate(&mut self) -> Bytes {
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
}

impl Pattern for Stream {
    fn send(&mut self, peers: &mut Peers, _: &Options, mut msg: Message) -> Result<Sent, Error> {
        if msg.len() != 2 {
            return Err(Error::InvalidState {
                reason: "a STREAM message is a routing id and one data frame",
            });
        }
        let rid = msg.pop_front().expect("two frames");
        let Some(&peer) = self.by_id.get(&rid) else {
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
            Some(id) if self.by_id.contains_key(&id) => {
                return Err(Refusal::DuplicateRoutingId(id))
            }
            Some(id) => id,
            None => self.generate(),
        };
        Ok(Admit {
            routing_id: Some(routing_id),
            evict: None,
        })
    }

    fn attached(&mut self, peers: &mut Peers, _: &Options, peer: PeerId) {
        if let Some(rid) = peers.get(peer).and_then(|p| p.routing_id.clone()) {
            self.by_id.insert(rid, peer);
        }
    }

    fn removed(&mut self, peers: &mut Peers, peer: PeerId) {
        if let Some(rid) = peers.get(peer).and_then(|p| p.routing_id.as_ref()) {
            if self.by_id.get(rid) == Some(&peer) {
                self.by_id.remove(rid);
            }
        }
    }

    /// Each connection is a new peer with a new id.
    fn keeps_connect_peers(&self) -> bool {
        false
    }

    fn kind(&self) -> SocketType {
        SocketType::Stream
    }
}
