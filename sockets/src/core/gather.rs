//! GATHER (libzmq draft, RFC 49): PULL with single-part messages: fair-queues over
//! every SCATTER. Never sends.

use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{not_supported, recv_fair, single_part_arrival, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Gather;

impl Pattern for Gather {
    fn send(&mut self, _: &mut Peers, _: &Options, _: Message) -> Result<Sent, Error> {
        Err(not_supported("send", SocketType::Gather))
    }

    /// It cannot send.
    fn writable(&self, _: &Peers, _: &Options) -> bool {
        false
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(recv_fair(peers))
    }

    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, msg: &mut Message) -> bool {
        single_part_arrival(peers, peer, msg, SocketType::Gather)
    }

    fn kind(&self) -> SocketType {
        SocketType::Gather
    }
}
