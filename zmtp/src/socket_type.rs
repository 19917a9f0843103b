//! The ZMTP socket types, their wire names and which pairs may talk: the eleven of RFC 37,
//! libzmq's draft types (CLIENT / SERVER, SCATTER / GATHER, PEER, CHANNEL, RADIO / DISH),
//! plus STREAM (raw TCP, no ZMTP: it never meets a ZMTP peer).

use std::fmt;

/// A ZMTP socket type, as carried by the `Socket-Type` READY property. More types
/// (libzmq's draft ones) will join, so matches need a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketType {
    /// `PAIR`
    Pair,
    /// `PUB`
    Pub,
    /// `SUB`
    Sub,
    /// `REQ`
    Req,
    /// `REP`
    Rep,
    /// `DEALER`
    Dealer,
    /// `ROUTER`
    Router,
    /// `PULL`
    Pull,
    /// `PUSH`
    Push,
    /// `XPUB`
    XPub,
    /// `XSUB`
    XSub,
    /// `STREAM`: libzmq's raw-TCP socket. It speaks no ZMTP, so it is not a wire type
    /// ([`SocketType::ALL`], [`SocketType::from_wire`]) and is compatible with no ZMTP
    /// peer.
    Stream,
    /// `SERVER` (draft, RFC 41): single-part messages; each received one carries its
    /// peer's `u32` routing id out of band, a reply names it.
    Server,
    /// `CLIENT` (draft, RFC 41): single-part messages, round-robin out, fair-queue in.
    Client,
    /// `SCATTER` (draft, RFC 49): single-part messages round-robin to GATHERs.
    Scatter,
    /// `GATHER` (draft, RFC 49): single-part messages fair-queued from SCATTERs.
    Gather,
    /// `PEER` (draft, RFC 51): SERVER-like routing by `u32` id among PEERs, and a
    /// `connect_peer` that returns the id of the connected peer.
    Peer,
    /// `CHANNEL` (draft, RFC 51): PAIR with single-part messages.
    Channel,
    /// `RADIO` (draft, RFC 48): sends single-part messages to the DISHes that joined
    /// the message's group (two frames on the wire: group, body).
    Radio,
    /// `DISH` (draft, RFC 48): joins groups and receives their messages.
    Dish,
}

const ALL: [SocketType; 19] = [
    SocketType::Pair,
    SocketType::Pub,
    SocketType::Sub,
    SocketType::Req,
    SocketType::Rep,
    SocketType::Dealer,
    SocketType::Router,
    SocketType::Pull,
    SocketType::Push,
    SocketType::XPub,
    SocketType::XSub,
    SocketType::Server,
    SocketType::Client,
    SocketType::Scatter,
    SocketType::Gather,
    SocketType::Peer,
    SocketType::Channel,
    SocketType::Radio,
    SocketType::Dish,
];

impl SocketType {
    /// The ZMTP types: the eleven of RFC 37, then the draft ones (not
    /// [`SocketType::Stream`]).
    pub const ALL: [SocketType; 19] = ALL;

    /// The wire name (`"DEALER"`).
    pub fn as_str(self) -> &'static str {
        match self {
            SocketType::Pair => "PAIR",
            SocketType::Pub => "PUB",
            SocketType::Sub => "SUB",
            SocketType::Req => "REQ",
            SocketType::Rep => "REP",
            SocketType::Dealer => "DEALER",
            SocketType::Router => "ROUTER",
            SocketType::Pull => "PULL",
            SocketType::Push => "PUSH",
            SocketType::XPub => "XPUB",
            SocketType::XSub => "XSUB",
            SocketType::Stream => "STREAM",
            SocketType::Server => "SERVER",
            SocketType::Client => "CLIENT",
            SocketType::Scatter => "SCATTER",
            SocketType::Gather => "GATHER",
            SocketType::Peer => "PEER",
            SocketType::Channel => "CHANNEL",
            SocketType::Radio => "RADIO",
            SocketType::Dish => "DISH",
        }
    }

    /// Parses a wire name, ignoring ASCII case.
    pub fn from_wire(name: &[u8]) -> Option<SocketType> {
        ALL.into_iter()
            .find(|t| t.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// True when a socket of this type may talk to a `peer` socket (RFC 37 pairs, and
    /// the draft pairs libzmq 4.3 admits: CLIENT-SERVER, SCATTER-GATHER, PEER-PEER,
    /// CHANNEL-CHANNEL).
    pub fn is_compatible(self, peer: SocketType) -> bool {
        use SocketType::*;
        matches!(
            (self, peer),
            (Req, Rep)
                | (Req, Router)
                | (Rep, Req)
                | (Rep, Dealer)
                | (Dealer, Rep)
                | (Dealer, Dealer)
                | (Dealer, Router)
                | (Router, Req)
                | (Router, Dealer)
                | (Router, Router)
                | (Pub, Sub)
                | (Pub, XSub)
                | (XPub, Sub)
                | (XPub, XSub)
                | (Sub, Pub)
                | (Sub, XPub)
                | (XSub, Pub)
                | (XSub, XPub)
                | (Push, Pull)
                | (Pull, Push)
                | (Pair, Pair)
                | (Client, Server)
                | (Server, Client)
                | (Scatter, Gather)
                | (Gather, Scatter)
                | (Peer, Peer)
                | (Channel, Channel)
                | (Radio, Dish)
                | (Dish, Radio)
        )
    }

    /// True for the types that send an `Identity` property in READY (REQ, DEALER,
    /// ROUTER).
    pub fn sends_identity(self) -> bool {
        matches!(
            self,
            SocketType::Req | SocketType::Dealer | SocketType::Router
        )
    }

    /// True for libzmq's draft types, which carry single-part messages only (a
    /// multipart send is refused, a multipart arrival is bad input). Not RADIO / DISH:
    /// their messages are single-part for the application, but two frames (group,
    /// body) on the wire.
    pub fn is_single_part(self) -> bool {
        use SocketType::*;
        matches!(self, Server | Client | Scatter | Gather | Peer | Channel)
    }

    /// True for PUB and XPUB, which receive subscriptions.
    pub fn receives_subscriptions(self) -> bool {
        matches!(self, SocketType::Pub | SocketType::XPub)
    }
}

impl fmt::Display for SocketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_is_symmetric_and_matches_the_seventeen_pairs() {
        let mut pairs = 0;
        for a in SocketType::ALL {
            assert_eq!(SocketType::from_wire(a.as_str().as_bytes()), Some(a));
            for b in SocketType::ALL {
                assert_eq!(a.is_compatible(b), b.is_compatible(a), "{a} {b}");
                if a.is_compatible(b) && a.as_str() <= b.as_str() {
                    pairs += 1;
                }
            }
        }
        // RFC 37's twelve, and CLIENT-SERVER, SCATTER-GATHER, PEER-PEER, CHANNEL-CHANNEL,
        // RADIO-DISH.
        assert_eq!(pairs, 17);
        assert!(SocketType::Radio.is_compatible(SocketType::Dish));
        assert!(!SocketType::Radio.is_compatible(SocketType::Radio));
        assert!(!SocketType::Dish.is_compatible(SocketType::Dish));
        assert!(!SocketType::Dish.is_compatible(SocketType::Pub));
        assert_eq!(SocketType::from_wire(b"dish"), Some(SocketType::Dish));
        assert!(SocketType::Client.is_compatible(SocketType::Server));
        assert!(!SocketType::Client.is_compatible(SocketType::Dealer));
        assert!(!SocketType::Server.is_compatible(SocketType::Router));
        assert!(!SocketType::Channel.is_compatible(SocketType::Pair));
        assert!(!SocketType::Peer.is_compatible(SocketType::Server));
        assert!(!SocketType::Scatter.is_compatible(SocketType::Pull));
        assert_eq!(SocketType::from_wire(b"SCATTER"), Some(SocketType::Scatter));
        assert!(!SocketType::Pub.is_compatible(SocketType::Push));
        assert_eq!(SocketType::from_wire(b"dealer"), Some(SocketType::Dealer));
        assert_eq!(SocketType::from_wire(b"DEALERS"), None);
        // STREAM has no ZMTP handshake: no wire name, no ZMTP peer.
        assert_eq!(SocketType::from_wire(b"STREAM"), None);
        assert!(SocketType::ALL
            .iter()
            .all(|&t| !t.is_compatible(SocketType::Stream)));
    }
}
