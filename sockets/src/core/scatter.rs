//! SCATTER (libzmq draft, RFC 49): PUSH with single-part messages: round-robin over the
//! GATHERs with room, waiting when every one is full. Never receives.

use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{
    not_supported, send_round_robin, single_part_arrival, single_part_send, Pattern, Sent,
};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Scatter;

impl Pattern for Scatter {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        single_part_send(&msg, SocketType::Scatter)?;
        Ok(send_round_robin(peers, msg))
    }

    fn recv(&mut self, _: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Err(not_supported("recv", SocketType::Scatter))
    }

    /// A GATHER never sends: data from a peer is discarded (a multipart message also
    /// costs the peer its connection, as on every draft type).
    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, msg: &mut Message) -> bool {
        if single_part_arrival(peers, peer, msg, SocketType::Scatter) {
            peers.drops.discarded += 1;
        }
        false
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Scatter
    }
}
