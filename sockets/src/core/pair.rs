//! PAIR: exactly one peer at a time; a second one is refused after its handshake.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{recv_fair, send_round_robin, Admit, Pattern, Refusal, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Pair {
    /// The peer whose connection is attached.
    attached: Option<PeerId>,
}

impl Pattern for Pair {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        Ok(send_round_robin(peers, msg))
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(recv_fair(peers))
    }

    fn admit(
        &mut self,
        _: &Peers,
        _: &Options,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        match self.attached {
            Some(id) if Some(id) != existing => Err(Refusal::PairBusy),
            _ => Ok(Admit {
                routing_id: identity,
                evict: None,
            }),
        }
    }

    fn attached(&mut self, _: &mut Peers, _: &Options, peer: PeerId) {
        self.attached = Some(peer);
    }

    fn detached(&mut self, _: &mut Peers, _: &Options, peer: PeerId) {
        if self.attached == Some(peer) {
            self.attached = None;
        }
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Pair
    }
}
