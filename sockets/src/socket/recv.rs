//! The receiving half of each socket type, and what happens to messages as they
//! arrive from a peer.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::state::{xpub_notice, Core, PeerId};
use crate::error::Error;
use crate::message::Message;
use crate::routing::next_ready;

impl Core {
    /// Receives without waiting: `Ok(None)` when nothing is ready.
    pub(crate) fn try_recv(&mut self) -> Result<Option<Message>, Error> {
        match self.kind {
            SocketType::Pull
            | SocketType::Dealer
            | SocketType::Pair
            | SocketType::Sub
            | SocketType::XSub
            | SocketType::Router => Ok(self.fair_queue().map(|(_, m)| m)),
            SocketType::XPub => Ok(self
                .xpub_pending
                .pop_front()
                .or_else(|| self.fair_queue().map(|(_, m)| m))),
            SocketType::Req => self.recv_reply(),
            SocketType::Rep => self.recv_request(),
            SocketType::Push | SocketType::Pub => Err(Error::NotSupported {
                operation: "recv",
                socket_type: self.kind,
            }),
        }
    }

    /// Takes the next message, rotating over peers with pending input. ROUTER messages
    /// come back with the routing id in front.
    fn fair_queue(&mut self) -> Option<(PeerId, Message)> {
        let Core {
            order,
            peers,
            in_cursor,
            ..
        } = self;
        let idx = next_ready(order.len(), in_cursor, |i| {
            peers.get(&order[i]).is_some_and(|p| !p.inq.is_empty())
        })?;
        let id = order[idx];
        let msg = self.pop_inbound(id)?;
        Some((id, msg))
    }

    /// Pops one received message from `id`, resuming its reader if it was paused at the
    /// RCVHWM, and forgetting the peer if it is gone and drained.
    fn pop_inbound(&mut self, id: PeerId) -> Option<Message> {
        let is_router = self.kind == SocketType::Router;
        let peer = self.peers.get_mut(&id)?;
        let mut msg = peer.inq.pop_front()?;
        if is_router {
            msg.push_front(peer.routing_id.clone().unwrap_or_default());
        }
        if peer.reader_paused && peer.inq.len() < peer.rcvhwm {
            peer.reader_paused = false;
            if let Some(c) = &peer.conn {
                c.wake_reader.notify();
            }
        }
        if peer.gone && peer.inq.is_empty() {
            self.forget(id);
        }
        Some(msg)
    }

    fn recv_reply(&mut self) -> Result<Option<Message>, Error> {
        let Some(asked) = self.req.waiting_on else {
            return Err(Error::InvalidState {
                reason: "REQ must send a request before receiving",
            });
        };
        // Anything from the other peers is not an answer to this request.
        let others: Vec<PeerId> = self
            .order
            .iter()
            .copied()
            .filter(|&id| id != asked)
            .collect();
        for id in others {
            while self.pop_inbound(id).is_some() {}
        }
        while let Some(mut msg) = self.pop_inbound(asked) {
            if self.opts.req_correlate {
                let id = msg.pop_front();
                if id.as_deref() != Some(&self.req.request_id.to_be_bytes()[..]) {
                    continue;
                }
            }
            if msg.len() < 2 || !msg.frames()[0].is_empty() {
                continue;
            }
            let _ = msg.pop_front();
            self.req.waiting_on = None;
            return Ok(Some(msg));
        }
        Ok(None)
    }

    fn recv_request(&mut self) -> Result<Option<Message>, Error> {
        if self.rep.is_some() {
            return Err(Error::InvalidState {
                reason: "REP must send the reply before receiving another request",
            });
        }
        while let Some((peer, mut msg)) = self.fair_queue() {
            // The envelope runs up to and including the first empty frame; a request
            // without one is malformed and dropped, like libzmq does.
            let Some(pos) = msg.frames().iter().position(Bytes::is_empty) else {
                continue;
            };
            let envelope = msg.split_front(pos + 1);
            if msg.is_empty() {
                continue;
            }
            self.rep = Some((peer, envelope));
            return Ok(Some(msg));
        }
        Ok(None)
    }

    /// A message arrived from `peer`. Returns false when it was filtered out.
    pub(crate) fn on_message(&mut self, peer: PeerId, msg: Message) -> bool {
        let filtered = match self.kind {
            // PUB ignores data from subscribers.
            SocketType::Pub => true,
            // libzmq filters on the SUB side too.
            SocketType::Sub | SocketType::XSub => !self.subscriptions.matches(&msg.frames()[0]),
            _ => false,
        };
        if filtered {
            return false;
        }
        let conflate = self.opts.conflate;
        let Some(p) = self.peers.get_mut(&peer) else {
            return false;
        };
        if conflate {
            p.inq.clear();
        }
        p.inq.push_back(msg);
        true
    }

    /// PUB / XPUB: `peer` subscribed to `topic`. Returns true when XPUB has a new
    /// notice for `recv`.
    pub(crate) fn on_subscribe(&mut self, peer: PeerId, topic: Bytes) -> bool {
        let Some(p) = self.peers.get_mut(&peer) else {
            return false;
        };
        let new_for_peer = !p.subs.contains(&topic);
        if new_for_peer {
            p.subs.add(&topic);
        }
        if self.kind != SocketType::XPub {
            return false;
        }
        let first = new_for_peer && self.subscriptions.add(&topic);
        if first || self.opts.xpub_verbose {
            self.xpub_pending.push_back(xpub_notice(1, &topic));
            return true;
        }
        false
    }

    /// PUB / XPUB: `peer` cancelled `topic`. Returns true when XPUB has a new notice.
    pub(crate) fn on_cancel(&mut self, peer: PeerId, topic: Bytes) -> bool {
        let Some(p) = self.peers.get_mut(&peer) else {
            return false;
        };
        if !p.subs.remove(&topic) {
            return false;
        }
        if self.kind == SocketType::XPub && self.subscriptions.remove(&topic) {
            self.xpub_pending.push_back(xpub_notice(0, &topic));
            return true;
        }
        false
    }

    /// Whether the reader of `peer` should stop reading (RCVHWM reached); marks it
    /// paused so `recv` resumes it.
    pub(crate) fn should_pause(&mut self, peer: PeerId) -> bool {
        match self.peers.get_mut(&peer) {
            Some(p) if p.inq.len() >= p.rcvhwm => {
                p.reader_paused = true;
                true
            }
            _ => false,
        }
    }
}
