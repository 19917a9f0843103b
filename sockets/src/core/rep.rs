//! REP: takes requests fair-queued, strips their envelope (every frame up to and
//! including the first empty one), and sends each reply with that envelope back to the
//! peer the request came from. Receive and send strictly alternate.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Rep {
    /// The peer and envelope of the request being answered.
    answering: Option<(PeerId, Vec<Bytes>)>,
}

impl Pattern for Rep {
    fn send(&mut self, peers: &mut Peers, _: &Options, mut msg: Message) -> Result<Sent, Error> {
        let Some((peer, envelope)) = self.answering.take() else {
            return Err(Error::InvalidState {
                reason: "REP must receive a request before sending a reply",
            });
        };
        msg.prepend_owned(envelope);
        // A reply for a peer that left, or is at its HWM, is dropped (like libzmq).
        match peers.live(peer) {
            Some(p) if p.is_attached() => {
                // Written at once (no writer wake-up) in strict alternation; when the
                // peer pipelined more requests, the reply joins the link's batch like
                // streaming output, so a burst of replies is one write, not one each.
                let write_through = !p.has_input();
                if peers.has_room(peer) {
                    return Ok(peers.hand_over(peer, msg, write_through));
                }
                peers.drop_at_hwm(peer);
            }
            _ => peers.drops.peer_gone += 1,
        }
        Ok(Sent::Done)
    }

    /// A request is read only once the last one was answered.
    fn readable(&self, peers: &Peers) -> bool {
        self.answering.is_none() && peers.has_input()
    }

    /// Only a reply to the request being answered can be sent.
    fn writable(&self, _: &Peers, _: &Options) -> bool {
        self.answering.is_some()
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        if self.answering.is_some() {
            return Err(Error::InvalidState {
                reason: "REP must send the reply before receiving another request",
            });
        }
        while let Some((peer, mut msg)) = peers.next_input(false) {
            // A request without the delimiter is malformed and dropped, like libzmq.
            let Some(pos) = msg.frames().iter().position(Bytes::is_empty) else {
                peers.drops.discarded += 1;
                continue;
            };
            let envelope = msg.split_front(pos + 1);
            if msg.is_empty() {
                peers.drops.discarded += 1;
                continue;
            }
            self.answering = Some((peer, envelope));
            return Ok(Some(msg));
        }
        Ok(None)
    }

    fn kind(&self) -> SocketType {
        SocketType::Rep
    }
}
