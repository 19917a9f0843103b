//! The sending half of each socket type.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::state::{Core, PeerId};
use crate::error::Error;
use crate::message::Message;
use crate::routing::next_ready;

/// The result of a send attempt that did not fail.
pub(crate) enum Sent {
    Done,
    /// No peer can take the message now; here it is back.
    Blocked(Message),
}

impl Core {
    /// Sends without waiting. `Blocked` means the caller may wait for room.
    pub(crate) fn try_send(&mut self, msg: Message) -> Result<Sent, Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        match self.kind {
            SocketType::Push | SocketType::Dealer | SocketType::Pair => {
                Ok(match self.send_round_robin(msg) {
                    Ok(_) => Sent::Done,
                    Err(msg) => Sent::Blocked(msg),
                })
            }
            SocketType::Req => self.send_request(msg),
            SocketType::Rep => self.send_reply(msg),
            SocketType::Router => self.send_routed(msg),
            SocketType::Pub | SocketType::XPub => {
                self.send_fanout(&msg, true);
                Ok(Sent::Done)
            }
            SocketType::XSub => self.send_xsub(msg),
            SocketType::Sub | SocketType::Pull => Err(Error::NotSupported {
                operation: "send",
                socket_type: self.kind,
            }),
        }
    }

    /// Round-robin over peers that can take a message.
    fn send_round_robin(&mut self, msg: Message) -> Result<PeerId, Message> {
        let conflate = self.opts.conflate;
        let Core {
            order,
            peers,
            out_cursor,
            kind,
            ..
        } = self;
        let Some(idx) = next_ready(order.len(), out_cursor, |i| {
            peers.get(&order[i]).is_some_and(|p| p.can_take(conflate))
        }) else {
            return Err(msg);
        };
        let id = order[idx];
        let peer = peers.get_mut(&id).expect("order lists live peers");
        if *kind == SocketType::Req {
            peer.send_now(msg);
        } else {
            peer.push_out(msg, conflate);
        }
        Ok(id)
    }

    fn send_request(&mut self, mut msg: Message) -> Result<Sent, Error> {
        if self.req.waiting_on.is_some() && !self.opts.req_relaxed {
            return Err(Error::InvalidState {
                reason: "REQ must receive the reply before sending another request",
            });
        }
        let body_len = msg.len();
        // Room for the whole message, so prepending allocates once.
        let mut envelope = Vec::with_capacity(2 + body_len);
        let request_id = self.req.request_id.wrapping_add(1);
        if self.opts.req_correlate {
            envelope.push(Bytes::copy_from_slice(&request_id.to_be_bytes()));
        }
        envelope.push(Bytes::new());
        msg.prepend_owned(envelope);
        match self.send_round_robin(msg) {
            Ok(peer) => {
                self.req.waiting_on = Some(peer);
                self.req.request_id = request_id;
                // A reply to an earlier request (REQ_RELAXED) is no longer wanted.
                if let Some(p) = self.peers.get_mut(&peer) {
                    if !self.opts.req_correlate {
                        p.inq.clear();
                    }
                }
                Ok(Sent::Done)
            }
            Err(mut msg) => {
                let _ = msg.split_front(msg.len() - body_len);
                Ok(Sent::Blocked(msg))
            }
        }
    }

    fn send_reply(&mut self, mut msg: Message) -> Result<Sent, Error> {
        let Some((peer, envelope)) = self.rep.take() else {
            return Err(Error::InvalidState {
                reason: "REP must receive a request before sending a reply",
            });
        };
        msg.prepend_owned(envelope);
        // A reply for a peer that left, or is at its HWM, is dropped (like libzmq).
        if let Some(p) = self.peers.get_mut(&peer) {
            if p.conn.is_some() && p.can_take(false) {
                p.send_now(msg);
            }
        }
        Ok(Sent::Done)
    }

    fn send_routed(&mut self, mut msg: Message) -> Result<Sent, Error> {
        let rid = msg.pop_front().expect("checked non-empty");
        let mandatory = self.opts.router_mandatory;
        let Some(&peer) = self.by_routing_id.get(&rid) else {
            return if mandatory {
                Err(Error::HostUnreachable)
            } else {
                Ok(Sent::Done)
            };
        };
        if msg.is_empty() {
            return Ok(Sent::Done);
        }
        let p = self
            .peers
            .get_mut(&peer)
            .expect("routing table lists live peers");
        if p.can_take(false) {
            p.push_out(msg, false);
            Ok(Sent::Done)
        } else if mandatory {
            msg.push_front(rid);
            Ok(Sent::Blocked(msg))
        } else {
            Ok(Sent::Done)
        }
    }

    /// Sends to every connected peer (subscribed to the first frame, when `filter`);
    /// a peer at its HWM misses the message, the others are not held up.
    fn send_fanout(&mut self, msg: &Message, filter: bool) {
        let conflate = self.opts.conflate;
        let first = &msg.frames()[0];
        for p in self.peers.values_mut() {
            if p.conn.is_none() || (filter && !p.subs.matches(first)) {
                continue;
            }
            if !p.can_take(conflate) {
                continue;
            }
            p.push_out_shared(msg, conflate);
            if !conflate && p.queued() >= p.sndhwm {
                self.fanout_full = true;
            }
        }
    }

    /// XSUB: `\x01topic` subscribes, `\x00topic` cancels, anything else goes to every
    /// peer.
    fn send_xsub(&mut self, msg: Message) -> Result<Sent, Error> {
        let first = &msg.frames()[0];
        match first.first() {
            Some(1) if msg.len() == 1 => {
                let topic = first.slice(1..);
                self.subscribe(&topic);
            }
            Some(0) if msg.len() == 1 => {
                let topic = first.slice(1..);
                self.unsubscribe(&topic);
            }
            _ => self.send_fanout(&msg, false),
        }
        Ok(Sent::Done)
    }

    /// SUB / XSUB: records the subscription and forwards it to every connected peer
    /// (every subscribe is forwarded, like libzmq, so a forwarding chain of XPUB
    /// verbose sockets sees them all).
    pub(crate) fn subscribe(&mut self, topic: &[u8]) {
        self.subscriptions.add(topic);
        self.for_each_session(|s| s.subscribe(topic));
    }

    /// SUB / XSUB: drops one reference; the peers hear of it when it was the last.
    pub(crate) fn unsubscribe(&mut self, topic: &[u8]) {
        if self.subscriptions.remove(topic) {
            self.for_each_session(|s| s.cancel(topic));
        }
    }

    fn for_each_session(
        &mut self,
        mut f: impl FnMut(&mut ringmq_zmtp::Session) -> Result<(), ringmq_zmtp::Error>,
    ) {
        for p in self.peers.values() {
            if let Some(c) = &p.conn {
                // Fails only when the session already failed; its reader reports that.
                let _ = f(&mut c.session.borrow_mut());
                c.wake_writer.notify();
            }
        }
    }
}
