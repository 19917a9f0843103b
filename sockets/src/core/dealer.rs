//! DEALER: round-robin out, fair-queue in, no envelopes.

use ringmq_zmtp::SocketType;

use super::peers::Peers;
use super::{recv_fair, recv_fair_many, send_round_robin, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Dealer;

impl Pattern for Dealer {
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
        SocketType::Dealer
    }
}
