//! PAIR: exactly one peer at a time; a second one is refused after its handshake.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{recv_fair, recv_fair_many, send_round_robin, Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Pair {
    one: OnePeer,
}

/// The one attached peer of an exclusive socket (PAIR, CHANNEL).
#[derive(Default)]
pub(crate) struct OnePeer(Option<PeerId>);

impl OnePeer {
    /// Admits the peer `existing` (or a new one) unless another is attached: `busy`.
    pub(crate) fn admit(
        &self,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
        busy: Refusal,
    ) -> Result<Admit, Refusal> {
        match self.0 {
            Some(id) if Some(id) != existing => Err(busy),
            _ => Ok(Admit {
                routing_id: identity,
                evict: None,
            }),
        }
    }

    pub(crate) fn attached(&mut self, peer: PeerId) {
        self.0 = Some(peer);
    }

    pub(crate) fn detached(&mut self, peer: PeerId) {
        if self.0 == Some(peer) {
            self.0 = None;
        }
    }
}

impl Pattern for Pair {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        Ok(send_round_robin(peers, msg))
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(recv_fair(peers))
    }

    fn recv_many(
        &mut self,
        peers: &mut Peers,
        _: &Options,
        out: &mut Vec<Message>,
        max: usize,
    ) -> Result<usize, Error> {
        Ok(recv_fair_many(peers, out, max))
    }

    fn admit(
        &mut self,
        _: &Peers,
        _: &Options,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        self.one.admit(existing, identity, Refusal::PairBusy)
    }

    fn attached(&mut self, _: &mut Peers, _: &Options, peer: PeerId) {
        self.one.attached(peer);
    }

    fn detached(&mut self, _: &mut Peers, _: &Options, peer: PeerId) {
        self.one.detached(peer);
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn sends_runs(&self) -> bool {
        true
    }

    /// No filter: arrivals are queued in runs.
    fn accepts_all(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Pair
    }
}
