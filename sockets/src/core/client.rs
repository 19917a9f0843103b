//! CLIENT (libzmq draft, RFC 41): single-part messages, round-robin out to the SERVERs
//! with room, fair-queued in. No envelopes: a SERVER routes its replies by the routing
//! id it gave this connection.

use ringmq_zmtp::SocketType;

use super::peers::Peers;
use super::{recv_fair, send_round_robin, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Client;

impl Pattern for Client {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        Ok(send_round_robin(peers, msg))
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
