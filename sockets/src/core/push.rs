//! PUSH: round-robin over the peers with room; waits when every peer is full. Never
//! receives.

use ringmq_zmtp::SocketType;

use super::peers::{PeerId, Peers};
use super::{not_supported, send_round_robin, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Push;

impl Pattern for Push {
    fn send(&mut self, peers: &mut Peers, _: &Options, msg: Message) -> Result<Sent, Error> {
        Ok(send_round_robin(peers, msg))
    }

    fn recv(&mut self, _: &mut Peers, _: &Options) -> Result<Option<Message>, Error> {
        Err(not_supported("recv", SocketType::Push))
    }

    /// A PULL never sends: data from a peer is discarded instead of filling a queue
    /// nobody reads.
    fn accepts(&mut self, peers: &mut Peers, _: &Options, _: PeerId, _: &mut Message) -> bool {
        peers.drops.discarded += 1;
        false
    }

    fn sends_round_robin(&self) -> bool {
        true
    }

    fn sends_runs(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Push
    }
}
