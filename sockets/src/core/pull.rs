//! PULL: fair-queues over every peer. Never sends.

use ringmq_zmtp::SocketType;

use super::peers::Peers;
use super::{not_supported, recv_fair, recv_fair_many, Pattern, Sent};
use crate::error::Error;
use crate::message::Message;
use crate::options::Options;

pub(crate) struct Pull;

impl Pattern for Pull {
    fn send(&mut self, _: &mut Peers, _: &Options, _: Message) -> Result<Sent, Error> {
        Err(not_supported("send", SocketType::Pull))
    }

    /// It cannot send.
    fn writable(&self, _: &Peers, _: &Options) -> bool {
        false
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

    /// No filter: arrivals are queued in runs.
    fn accepts_all(&self) -> bool {
        true
    }

    fn kind(&self) -> SocketType {
        SocketType::Pull
    }
}
