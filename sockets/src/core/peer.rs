//! PEER (libzmq draft, RFC 51): routes like SERVER (see `server.rs`: `u32` routing ids
//! out of band, single-part messages) among PEERs, and `Socket::connect_peer` returns
//! the routing id of the peer a `connect` created, so a PEER can speak first.

use ringmq_zmtp::SocketType;

use super::server::Server;

/// A PEER: SERVER's routing under its own socket type.
pub(crate) fn peer() -> Server {
    Server::new(SocketType::Peer)
}
