//! The eleven ZMTP socket types, their wire names and which pairs may talk, libzmq's
//! draft RADIO and DISH, plus STREAM (raw TCP, no ZMTP: it never meets a ZMTP peer).

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
    /// `RADIO` (libzmq draft, RFC 48): sends single-part messages to the DISHes that
    /// joined the message's group.
    Radio,
    /// `DISH` (libzmq draft, RFC 48): joins groups and receives their messages.
    Dish,
    /// `STREAM`: libzmq's raw-TCP socket. It speaks no ZMTP, so it is not a wire type
    /// ([`SocketType::ALL`], [`SocketType::from_wire`]) and is compatible with no ZMTP
    /// peer.
    Stream,
}

/// libzmq's draft types that ringmq implements (wire names too, compatible only among
/// themselves).
const DRAFT: [SocketType; 2] = [SocketType::Radio, SocketType::Dish];

const ALL: [SocketType; 11] = [
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
];

impl SocketType {
    /// The eleven ZMTP types (not [`SocketType::Stream`]).
    pub const ALL: [SocketType; 11] = ALL;

    /// The draft types of libzmq (built with `ENABLE_DRAFTS`) that ringmq implements:
    /// RADIO and DISH.
    pub const DRAFT: [SocketType; 2] = DRAFT;

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
            SocketType::Radio => "RADIO",
            SocketType::Dish => "DISH",
            SocketType::Stream => "STREAM",
        }
    }

    /// Parses a wire name, ignoring ASCII case.
    pub fn from_wire(name: &[u8]) -> Option<SocketType> {
        ALL.into_iter()
            .chain(DRAFT)
            .find(|t| t.as_str().as_bytes().eq_ignore_ascii_case(name))
    }

    /// True when a socket of this type may talk to a `peer` socket (RFC 37 pairs).
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
    fn compatibility_is_symmetric_and_matches_the_twelve_pairs() {
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
        assert_eq!(pairs, 12);
        assert!(!SocketType::Pub.is_compatible(SocketType::Push));
        // The draft types talk only to each other.
        for d in SocketType::DRAFT {
            assert_eq!(SocketType::from_wire(d.as_str().as_bytes()), Some(d));
            assert!(SocketType::ALL.iter().all(|&t| !t.is_compatible(d)));
        }
        assert!(SocketType::Radio.is_compatible(SocketType::Dish));
        assert!(SocketType::Dish.is_compatible(SocketType::Radio));
        assert!(!SocketType::Radio.is_compatible(SocketType::Radio));
        assert!(!SocketType::Dish.is_compatible(SocketType::Dish));
        assert_eq!(SocketType::from_wire(b"dish"), Some(SocketType::Dish));
        assert_eq!(SocketType::from_wire(b"dealer"), Some(SocketType::Dealer));
        assert_eq!(SocketType::from_wire(b"DEALERS"), None);
        // STREAM has no ZMTP handshake: no wire name, no ZMTP peer.
        assert_eq!(SocketType::from_wire(b"STREAM"), None);
        assert!(SocketType::ALL
            .iter()
            .all(|&t| !t.is_compatible(SocketType::Stream)));
    }
}
