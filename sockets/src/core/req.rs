//! REQ: sends each request round-robin with an empty delimiter frame in front (and a
//! request id with REQ_CORRELATE), then takes exactly one reply from the peer it asked.
//! Send and receive strictly alternate unless REQ_RELAXED.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Req {
    /// The peer the last request went to, while its reply is expected.
    waiting_on: Option<PeerId>,
    /// The id of the last request (REQ_CORRELATE).
    request_id: u32,
    /// An empty frame vector kept from the last reply's envelope, reused for the next
    /// request's, so that a round trip allocates no vector on this side.
    spare: Vec<Bytes>,
}

impl Req {
    /// Keeps `frames`'s vector, emptied, for the next request's envelope.
    fn keep_spare(&mut self, mut frames: Vec<Bytes>) {
        frames.clear();
        if frames.capacity() > self.spare.capacity() {
            self.spare = frames;
        }
    }
}

impl Pattern for Req {
    fn send(&mut self, peers: &mut Peers, opts: &Options, mut msg: Message) -> Result<Sent, Error> {
        if self.waiting_on.is_some() && !opts.req_relaxed {
            return Err(Error::InvalidState {
                reason: "REQ must receive the reply before sending another request",
            });
        }
        let body_len = msg.len();
        // Room for the whole message, so prepending allocates once at most.
        let mut envelope = std::mem::take(&mut self.spare);
        if envelope.capacity() < 2 + body_len {
            envelope = Vec::with_capacity(2 + body_len);
        }
        let request_id = self.request_id.wrapping_add(1);
        if opts.req_correlate {
            envelope.push(Bytes::copy_from_slice(&request_id.to_be_bytes()));
        }
        envelope.push(Bytes::new());
        msg.prepend_owned(envelope);
        match peers.round_robin(msg, true) {
            Ok((peer, sent)) => {
                // Whatever the earlier peer or this one still has is not an answer to
                // this request (with REQ_CORRELATE stale replies are told apart by id).
                if let Some(previous) = self.waiting_on.filter(|&p| p != peer) {
                    peers.discard_input(previous);
                }
                if !opts.req_correlate {
                    peers.discard_input(peer);
                }
                self.waiting_on = Some(peer);
                self.request_id = request_id;
                Ok(sent)
            }
            Err(mut msg) => {
                self.keep_spare(msg.split_front(msg.len() - body_len));
                Ok(Sent::Blocked(msg))
            }
        }
    }

    /// A reply can only come from the peer asked.
    fn readable(&self, peers: &Peers) -> bool {
        self.waiting_on.is_some_and(|id| peers.has_input_from(id))
    }

    /// A request goes out once the last reply came (or with REQ_RELAXED) and a peer
    /// has room.
    fn writable(&self, peers: &Peers, opts: &Options) -> bool {
        (self.waiting_on.is_none() || opts.req_relaxed) && peers.has_room_any()
    }

    fn recv(&mut self, peers: &mut Peers, opts: &Options) -> Result<Option<Message>, Error> {
        let Some(asked) = self.waiting_on else {
            return Err(Error::InvalidState {
                reason: "REQ must send a request before receiving",
            });
        };
        while let Some(mut msg) = peers.pop_input_from(asked) {
            if opts.req_correlate {
                let id = msg.pop_front();
                if id.as_deref() != Some(&self.request_id.to_be_bytes()[..]) {
                    peers.drops.discarded += 1;
                    continue;
                }
            }
            if msg.len() < 2 || !msg.frames()[0].is_empty() {
                peers.drops.discarded += 1;
                continue;
            }
            if msg.len() == 2 {
                // The usual one-frame reply: the body alone stays in the message, and
                // the envelope's vector serves the next request.
                self.keep_spare(msg.split_front(1));
            } else {
                let _ = msg.pop_front();
            }
            self.waiting_on = None;
            return Ok(Some(msg));
        }
        Ok(None)
    }

    /// Only the peer that was asked may answer; anything else is discarded on arrival
    /// (libzmq discards it when reading).
    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, _: &mut Message) -> bool {
        if self.waiting_on == Some(peer) {
            return true;
        }
        peers.drops.discarded += 1;
        false
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Req
    }
}
