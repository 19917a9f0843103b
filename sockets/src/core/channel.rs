//! CHANNEL (libzmq draft, RFC 51): PAIR with single-part messages: exactly one peer at
//! a time, a second one is refused after its handshake.

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use super::pair::OnePeer;
use super::peers::{PeerId, Peers};
use super::{
    recv_fair, send_round_robin, single_part_arrival, single_part_send, Admit, Pattern, Refusal,
    Sent,
};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

#[derive(Default)]
pub(crate) struct Channel {
    one: OnePeer,
}

impl Pattern for Channel {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        single_part_send(&msg, SocketType::Channel)?;
        Ok(send_round_robin(peers, msg))
    }

    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, msg: &mut Message) -> bool {
        single_part_arrival(peers, peer, msg, SocketType::Channel)
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
        self.one.admit(existing, identity, Refusal::ChannelBusy)
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

    fn kind(&self) -> SocketType {
        SocketType::Channel
    }
}
