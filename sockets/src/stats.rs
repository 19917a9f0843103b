//! A socket's traffic figures and queue depths: [`Socket::stats`](crate::Socket::stats).

use bytes::Bytes;

use crate::core::Drops;

/// Totals and per-peer figures of one socket, taken at one moment.
///
/// Messages are counted out when the socket hands them to a peer (queued for it or
/// given to its connection), in when a peer's message is queued for the application.
/// Bytes are the connections' traffic, counted per read and write (ZMTP framing and
/// handshake included), so counting costs nothing per message. Totals include the
/// peers that have left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketStats {
    /// Messages received from peers.
    pub messages_in: u64,
    /// Bytes received from peers (wire bytes: framing and handshake included).
    pub bytes_in: u64,
    /// Messages handed to peers.
    pub messages_out: u64,
    /// Bytes sent to peers (wire bytes: framing and handshake included).
    pub bytes_out: u64,
    /// Received messages not read yet, over all peers.
    pub queued_in: usize,
    /// Messages counted against the SNDHWMs (queued, or taken by a connection and not
    /// written yet), over all peers.
    pub queued_out: usize,
    /// Messages dropped by design, by cause (HWM full, unroutable, peer gone, ...).
    pub drops: Drops,
    /// Each current peer.
    pub peers: Vec<PeerStats>,
}

/// The figures of one peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeerStats {
    /// The endpoint the peer came through: the bound endpoint for accepted peers, the
    /// connected one for the others.
    pub endpoint: Option<String>,
    /// Its routing id: ROUTER's key for the peer, or the identity it announced.
    pub routing_id: Option<Bytes>,
    /// A connection is attached (false while a connect-side peer reconnects, or for a
    /// peer that left with unread messages).
    pub connected: bool,
    /// Messages received from the peer.
    pub messages_in: u64,
    /// Bytes received from the peer (wire bytes).
    pub bytes_in: u64,
    /// Messages handed to the peer.
    pub messages_out: u64,
    /// Bytes sent to the peer (wire bytes).
    pub bytes_out: u64,
    /// Its received messages not read yet.
    pub queued_in: usize,
    /// Its messages counted against the SNDHWM.
    pub queued_out: usize,
    /// Messages for it dropped because it was at its SNDHWM (PUB, XPUB, ROUTER, REP).
    pub dropped_hwm: u64,
}
