//! The transport seam: what the socket needs from one connection, whatever carries it.
//!
//! A [`Link`] is the socket's handle on an attached connection: a ZMTP session over a
//! proactor stream (tcp, ipc: `crate::connection`), or one side of an in-process pipe
//! (inproc: `crate::inproc`), which hands [`Message`]s over without encoding them.
//!
//! The other direction, a connection feeding the socket, goes through the shell's
//! `Shared` (in `socket::shared`): `attach` after its handshake, `deliver` for messages,
//! `subscription`, `take_output` / `flushed` for the queued messages it writes, and
//! `detach` when it ends. Those calls drive the pure core (`crate::core`) and carry out
//! what it answers.

use crate::core::PeerId;
use crate::message::Message;
use crate::reason::DisconnectReason;

/// Where a connection came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Accepted on the bind with this id.
    Bind(u64),
    /// Made by the connect with this id; `peer` is the peer that outlives reconnects.
    Connect { id: u64, peer: Option<PeerId> },
}

/// The socket's handle on one connection.
pub(crate) trait Link {
    /// Where the connection came from (for `unbind` / `disconnect`).
    fn origin(&self) -> Origin;

    /// Takes `msg` now if the connection can: nothing waiting before it, and room in
    /// its batch. Without `write_through` the message joins the link's current batch
    /// and counts against the SNDHWM until the link reports the batch taken
    /// (`flushed`). With `write_through` (REQ / REP) the link writes it at once from the
    /// calling task when the connection is idle and hands whatever the kernel did not
    /// take to its writer; on a busy connection it joins the batch being written. Either
    /// way it leaves the socket's accounting right away (the batch is bounded). Gives
    /// the message back when the link cannot take it now (the socket queues it and
    /// wakes the link).
    fn offer(&self, msg: Message, write_through: bool) -> Result<(), Message>;

    /// [`Link::offer`] (not write-through) for a run of messages, in order: takes as
    /// many as it can from the front of `msgs` and leaves the rest there.
    fn offer_many(&self, msgs: &mut Vec<Message>) {
        let mut n = 0;
        while n < msgs.len() {
            match self.offer(std::mem::take(&mut msgs[n]), false) {
                Ok(()) => n += 1,
                Err(msg) => {
                    msgs[n] = msg;
                    break;
                }
            }
        }
        msgs.drain(..n);
    }

    /// [`Link::offer`] for a message shared by several peers (fan-out), without taking
    /// it: small frames are copied into the batch. False when not taken.
    fn offer_shared(&self, msg: &Message) -> bool;

    /// [`Link::offer_shared`] with the message already encoded as ZMTP frames (`wire`,
    /// from [`ringmq_zmtp::frame::encode_message`]): a fan-out encodes a small message
    /// once for all its targets. A ZMTP link copies `wire` into its batch unless its
    /// mechanism encrypts; the others take `msg`.
    fn offer_encoded(&self, msg: &Message, wire: &[u8]) -> bool {
        let _ = wire;
        self.offer_shared(msg)
    }

    /// Messages wait in the socket's queue for this peer: take them when possible.
    fn wake_output(&self);

    /// The peer's inbound queue has room again: read on.
    fn resume_input(&self);

    /// Sends a SUBSCRIBE (`subscribe`) or CANCEL for `topic`.
    fn send_subscription(&self, topic: &[u8], subscribe: bool);

    /// Ends the connection (the first reason given wins).
    fn close(&self, reason: DisconnectReason);

    /// Nothing taken from the socket waits in the link or is being written (LINGER).
    fn is_flushed(&self) -> bool;

    /// Bytes received and sent on this link so far, as its transport counts them (the
    /// ZMTP link: bytes read and written, framing and handshake included; counted per
    /// read and write, not per message). For `Socket::stats`.
    fn traffic(&self) -> (u64, u64) {
        (0, 0)
    }
}
