//! CLIENT (libzmq draft, RFC 41): single-part messages, round-robin out to the SERVERs
//! with room, fair-queued in. No envelopes: a SERVER routes its replies by the routing
//! id it gave this connection.

use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{recv_fair, send_round_robin, single_part_arrival, single_part_send, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Client;

impl Pattern for Client {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        single_part_send(&msg, SocketType::Client)?;
        Ok(send_round_robin(peers, msg))
    }

    fn accepts(&mut self, peers: &mut Peers, _: &Options, peer: PeerId, msg: &mut Message) -> bool {
        single_part_arrival(peers, peer, msg, SocketType::Client)
    }

    fn recv(&mut self, peers: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Ok(recv_fair(peers))
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Client
    }
}
