//! Socket options: the public [`SocketOption`] values and the per-socket [`Options`]
//! they are stored in.
//!
//! Options are read when a connection starts: changing a high-water mark or the
//! heartbeat settings applies to connections made afterwards, like libzmq.

use std::time::Duration;

use bytes::Bytes;
use ringmq_proactor::sockopt::TcpKeepalive;
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::{Null, PlainClient, PlainServer};
use ringmq_zmtp::{Mechanism, Metadata, SessionConfig, SocketType};

use crate::error::Error;
use crate::reason::SecurityConfigError;
use crate::security::CurveKey;
use crate::zap::ZapSlot;

/// `ZMQ_NOTIFY_CONNECT`: a [`SocketOption::RouterNotify`] bit.
pub const NOTIFY_CONNECT: u32 = 1;
/// `ZMQ_NOTIFY_DISCONNECT`: a [`SocketOption::RouterNotify`] bit.
pub const NOTIFY_DISCONNECT: u32 = 2;

/// `ZMQ_RECONNECT_STOP_CONN_REFUSED`: a [`SocketOption::ReconnectStop`] bit.
pub const RECONNECT_STOP_CONN_REFUSED: u32 = 1;
/// `ZMQ_RECONNECT_STOP_HANDSHAKE_FAILED`: a [`SocketOption::ReconnectStop`] bit.
pub const RECONNECT_STOP_HANDSHAKE_FAILED: u32 = 2;
/// `ZMQ_RECONNECT_STOP_AFTER_DISCONNECT`: a [`SocketOption::ReconnectStop`] bit.
pub const RECONNECT_STOP_AFTER_DISCONNECT: u32 = 4;

/// A socket option and its value, named after libzmq's `ZMQ_*` options.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketOption {
    /// `ZMQ_SNDHWM`: messages queued per peer for sending (0 = unlimited). Default 1000.
    SndHwm(usize),
    /// `ZMQ_RCVHWM`: messages queued per peer on receipt before reading from it stops
    /// (0 = unlimited). Default 1000.
    RcvHwm(usize),
    /// `ZMQ_LINGER`: how long `close` (or drop) keeps delivering queued messages;
    /// `None` = until delivered (libzmq's -1, the default).
    Linger(Option<Duration>),
    /// `ZMQ_ROUTING_ID`: the identity sent to peers (REQ, DEALER, ROUTER); 1 to 255
    /// bytes, not starting with byte 0.
    RoutingId(Bytes),
    /// `ZMQ_RECONNECT_IVL`: first delay before reconnecting. Default 100 ms.
    ReconnectIvl(Duration),
    /// `ZMQ_RECONNECT_IVL_MAX`: cap of the exponential backoff (zero = no backoff).
    ReconnectIvlMax(Duration),
    /// `ZMQ_HEARTBEAT_IVL`: PING interval (zero = no heartbeats, the default).
    HeartbeatIvl(Duration),
    /// `ZMQ_HEARTBEAT_TTL`: TTL announced in our PINGs.
    HeartbeatTtl(Duration),
    /// `ZMQ_HEARTBEAT_TIMEOUT`: silence tolerated after a PING (default: the interval).
    HeartbeatTimeout(Duration),
    /// `ZMQ_HANDSHAKE_IVL`: deadline for the ZMTP handshake (zero = none). Default 30 s.
    HandshakeIvl(Duration),
    /// `ZMQ_MAXMSGSIZE`: largest message (the sum of its frames) accepted from peers;
    /// `None` = unlimited. libzmq checks each frame alone; see docs/RELIABILITY.md.
    MaxMsgSize(Option<u64>),
    /// ringmq-specific, ZMQ has no such option: most frames in one message accepted
    /// from a peer; one that sends more loses its connection. Default
    /// [`DEFAULT_MAX_MESSAGE_FRAMES`](ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES)
    /// (65,536); `None` = unlimited, like libzmq.
    MaxFramesPerMsg(Option<u32>),
    /// ringmq-specific, ZMQ has no such option: longest a peer may take to finish a
    /// message (a frame, or a multipart message) once its first bytes arrived; one that
    /// takes longer loses its connection with
    /// [`PartialMessageTimeout`](ringmq_zmtp::Error::PartialMessageTimeout). The clock
    /// stops while the socket does not read from the peer (RCVHWM). `None` (the
    /// default, like libzmq) waits forever; zero is refused.
    PartialMsgTimeout(Option<Duration>),
    /// ringmq-specific, ZMQ has no such option: longest a handshaken peer may go without
    /// sending a message (subscriptions count, heartbeats do not); one silent for
    /// longer loses its connection with [`IdleTimeout`](ringmq_zmtp::Error::IdleTimeout).
    /// For servers whose peers talk (REP, ROUTER, PULL); not for a PUB whose
    /// subscribers only listen. `None` (the default, like libzmq) keeps idle peers;
    /// zero is refused.
    IdleTimeout(Option<Duration>),
    /// ringmq-specific, ZMQ has no such option: most connections accepted on the
    /// socket's binds at once (handshaking or attached). A connection over the cap is
    /// closed as soon as it is accepted, reported as
    /// [`MonitorEventKind::AcceptRefused`](crate::MonitorEventKind::AcceptRefused) with
    /// [`Refusal::TooManyPeers`](crate::Refusal::TooManyPeers), and counted
    /// ([`Socket::peers_refused`](crate::Socket::peers_refused)). Connections the
    /// socket makes itself (`connect`) do not count. `None` (the default) is no cap;
    /// zero is refused.
    MaxPeers(Option<usize>),
    /// `ZMQ_IMMEDIATE`: queue messages only to connected peers.
    Immediate(bool),
    /// `ZMQ_CONFLATE`: keep only the newest message in each queue (single-part
    /// messages; PUSH, PULL, PUB, SUB, DEALER).
    Conflate(bool),
    /// `ZMQ_TCP_KEEPALIVE`: `None` leaves the OS default (libzmq's -1).
    TcpKeepalive(Option<bool>),
    /// `ZMQ_TCP_KEEPALIVE_IDLE`.
    TcpKeepaliveIdle(Duration),
    /// `ZMQ_TCP_KEEPALIVE_INTVL`.
    TcpKeepaliveIntvl(Duration),
    /// `ZMQ_TCP_KEEPALIVE_CNT`.
    TcpKeepaliveCnt(u32),
    /// `ZMQ_SUBSCRIBE` (SUB only).
    Subscribe(Bytes),
    /// `ZMQ_UNSUBSCRIBE` (SUB only).
    Unsubscribe(Bytes),
    /// `ZMQ_SNDTIMEO`: `None` waits forever (default); zero never waits.
    SndTimeo(Option<Duration>),
    /// `ZMQ_RCVTIMEO`: `None` waits forever (default); zero never waits.
    RcvTimeo(Option<Duration>),
    /// `ZMQ_REQ_RELAXED` (REQ only).
    ReqRelaxed(bool),
    /// `ZMQ_REQ_CORRELATE` (REQ only).
    ReqCorrelate(bool),
    /// `ZMQ_ROUTER_MANDATORY` (ROUTER only).
    RouterMandatory(bool),
    /// `ZMQ_ROUTER_HANDOVER` (ROUTER only).
    RouterHandover(bool),
    /// `ZMQ_XPUB_VERBOSE` (XPUB only): report every subscribe, not only the first of
    /// each topic. Setting it turns XPUB_VERBOSER's unsubscribe reports off, as in
    /// libzmq.
    XpubVerbose(bool),
    /// `ZMQ_XPUB_VERBOSER` (XPUB only): report every subscribe and every unsubscribe
    /// (a peer's cancel, and each of its topics when it leaves), not only the first
    /// and the last of each topic.
    XpubVerboser(bool),
    /// `ZMQ_XPUB_NODROP` (PUB, XPUB): a send that would exceed some matching
    /// subscriber's SNDHWM waits (or fails with `WouldBlock` / `TimedOut` under
    /// SNDTIMEO) instead of dropping the message for that subscriber.
    XpubNodrop(bool),
    /// `ZMQ_XPUB_MANUAL` (XPUB only): peers' subscriptions are not applied; each
    /// subscribe and cancel is passed to `recv`, and the application decides by calling
    /// `subscribe` / `unsubscribe` on the XPUB, which apply to the peer of the last
    /// notice read. When a peer leaves, its subscriptions are reported as cancels.
    XpubManual(bool),
    /// `ZMQ_XPUB_MANUAL_LAST_VALUE` (XPUB only): XPUB_MANUAL, and the first send after
    /// a notice was read goes only to that notice's peer (a last-value cache answers
    /// a new subscriber without repeating the value to everyone).
    XpubManualLastValue(bool),
    /// `ZMQ_XPUB_WELCOME_MSG` (XPUB only): a message sent to each peer when it
    /// connects; empty = none (the default).
    XpubWelcomeMsg(Bytes),
    /// `ZMQ_ONLY_FIRST_SUBSCRIBE` (XPUB, XSUB): in a multi-part message only the first
    /// frame decides whether it carries subscriptions: when it is not a subscribe or
    /// cancel, no frame of the message is (by default every frame starting with byte
    /// 1 or 0 is one).
    OnlyFirstSubscribe(bool),
    /// `ZMQ_INVERT_MATCHING` (PUB, XPUB, SUB, XSUB): PUB / XPUB send each message to
    /// the peers with no matching subscription; SUB / XSUB receive only the messages
    /// that match none of theirs. Both ends must set it.
    InvertMatching(bool),
    /// `ZMQ_PROBE_ROUTER` (ROUTER, DEALER, REQ): send an empty message to each peer
    /// when its connection starts (a ROUTER peer then learns our routing id before we
    /// send anything).
    ProbeRouter(bool),
    /// `ZMQ_CONNECT_ROUTING_ID` (ROUTER, STREAM): the routing id under which the peer
    /// of the next `connect` is known, instead of the one it announces (or a generated
    /// one); 1 to 255 bytes. The next `connect` takes it (it reads back as `None`
    /// after), and that endpoint's reconnections keep it. A peer with that id already
    /// attached makes the connection refused (`DuplicateRoutingId`), or takes over
    /// with ROUTER_HANDOVER.
    ConnectRoutingId(Bytes),
    /// `ZMQ_ROUTER_NOTIFY` (ROUTER): a bit mask of [`NOTIFY_CONNECT`] (receive
    /// `[routing id, ""]` when a peer attaches) and [`NOTIFY_DISCONNECT`] (the same
    /// when its connection ends). Default 0.
    RouterNotify(u32),
    /// `ZMQ_STREAM_NOTIFY` (STREAM): receive `[id, ""]` when a peer connects and when
    /// it disconnects. Default true.
    StreamNotify(bool),
    /// `ZMQ_SNDBUF`: the kernel send buffer of each TCP connection, in bytes; `None`
    /// leaves the OS default (libzmq's -1, the default).
    SndBuf(Option<u32>),
    /// `ZMQ_RCVBUF`: the kernel receive buffer of each TCP connection, in bytes;
    /// `None` leaves the OS default (libzmq's -1, the default).
    RcvBuf(Option<u32>),
    /// `ZMQ_TOS`: the IP type-of-service byte of each TCP connection (0, the default,
    /// leaves the OS default).
    Tos(u8),
    /// `ZMQ_TCP_MAXRT`: how long sent data may stay unacknowledged before the
    /// connection is dropped (`TCP_USER_TIMEOUT` on Linux, as libzmq sets it; whole
    /// milliseconds); zero (the default) leaves the OS default.
    TcpMaxrt(Duration),
    /// `ZMQ_BINDTODEVICE`: bind TCP listeners and connections to this network device
    /// (interface or VRF); empty (the default) = none. Needs `CAP_NET_RAW`: without
    /// it, `bind` fails with the OS error and connections end with it. A connection
    /// is bound to the device right after it is established (its SYN follows the
    /// normal routing), a listener right after it is bound.
    BindToDevice(String),
    /// `ZMQ_BACKLOG`: the accept queue length of TCP and IPC listeners. Default 100.
    Backlog(u32),
    /// `ZMQ_MULTICAST_HOPS`: the time to live (IPv4) or hop limit (IPv6) of the
    /// multicast datagrams a RADIO sends over `udp://`, 1 to 255. Default 1 (the local
    /// network only), as in libzmq. Applies to later `connect`s.
    MulticastHops(u32),
    /// `ZMQ_CONNECT_TIMEOUT`: a TCP connect attempt that takes longer fails (and is
    /// retried after the reconnect interval); zero (the default) = the OS timeout.
    ConnectTimeout(Duration),
    /// `ZMQ_RECONNECT_STOP`: a mask of [`RECONNECT_STOP_CONN_REFUSED`] (stop
    /// reconnecting an endpoint when a connect is refused),
    /// [`RECONNECT_STOP_HANDSHAKE_FAILED`] (when a handshake fails) and
    /// [`RECONNECT_STOP_AFTER_DISCONNECT`] (after `disconnect`; ringmq always stops
    /// then). Default 0.
    ReconnectStop(u32),
    /// `ZMQ_HELLO_MSG` (ROUTER, DEALER, CLIENT, SERVER, PEER): a message sent to each peer when its
    /// connection starts (made or accepted), before anything else; empty = none.
    HelloMsg(Bytes),
    /// `ZMQ_DISCONNECT_MSG` (ROUTER, SERVER, PEER): a message received from a peer
    /// when its connection ends (ROUTER: `[id, msg]`; SERVER, PEER: `msg` with the
    /// peer's routing id); empty = none.
    DisconnectMsg(Bytes),
    /// `ZMQ_HICCUP_MSG` (DEALER, CLIENT, PEER): a message received when a connection
    /// made by `connect` breaks (it will reconnect); PEER's carries the peer's routing
    /// id. Empty = none.
    HiccupMsg(Bytes),
    /// `ZMQ_IPV6`: TCP sockets may use IPv6: `tcp://*:port` binds `[::]` (dual stack:
    /// IPv4 and IPv6 peers), and an interface name may resolve to its IPv6 address.
    /// Default false. (Literal IPv6 addresses and names work either way.)
    Ipv6(bool),
    /// `ZMQ_IPV4ONLY` (deprecated in libzmq): the inverse of [`SocketOption::Ipv6`].
    Ipv4Only(bool),
    /// `ZMQ_PRIORITY`: the priority of each TCP connection's packets (`SO_PRIORITY`;
    /// above 6 needs `CAP_NET_ADMIN`); 0 (the default) leaves the OS default.
    Priority(u32),
    /// `ZMQ_BUSY_POLL`: busy polling on receive for each TCP connection
    /// (`SO_BUSY_POLL`, the value in microseconds as libzmq passes it; raising it
    /// needs `CAP_NET_ADMIN`); 0 (the default) leaves the OS default.
    BusyPoll(u32),
    /// `ZMQ_XSUB_VERBOSE_UNSUBSCRIBE` (XSUB): every unsubscribe is passed to the
    /// peers, not only the one that drops a topic's last reference.
    XsubVerboseUnsubscribe(bool),
    /// `ZMQ_SOCKS_PROXY`: TCP connects go through this SOCKS5 proxy (`host:port`);
    /// the target's host name is passed to the proxy unresolved. Empty (the default)
    /// = direct. Not for STREAM sockets.
    SocksProxy(String),
    /// `ZMQ_SOCKS_USERNAME`: a non-empty username selects username / password
    /// authentication with the proxy (at most 255 bytes); empty = none.
    SocksUsername(String),
    /// `ZMQ_SOCKS_PASSWORD`: the password for the proxy (at most 255 bytes).
    SocksPassword(String),
    /// `ZMQ_PLAIN_SERVER`: act as PLAIN server (true) or go back to NULL (false).
    PlainServer(bool),
    /// `ZMQ_PLAIN_USERNAME`: act as PLAIN client with this username (at most 255 bytes).
    PlainUsername(Bytes),
    /// `ZMQ_PLAIN_PASSWORD`: act as PLAIN client with this password (at most 255 bytes).
    PlainPassword(Bytes),
    /// `ZMQ_CURVE_SERVER`: act as CURVE server (true; needs `CurveSecretKey`) or go back
    /// to NULL (false).
    CurveServer(bool),
    /// `ZMQ_CURVE_PUBLICKEY`: our long-term public key (a client's must match its
    /// secret key; derived from the secret key when not set).
    CurvePublicKey(CurveKey),
    /// `ZMQ_CURVE_SECRETKEY`: our long-term secret key (kept in memory wiped on drop).
    CurveSecretKey(CurveKey),
    /// `ZMQ_CURVE_SERVERKEY`: the server's public key; makes the socket a CURVE client.
    CurveServerKey(CurveKey),
    /// `ZMQ_ZAP_DOMAIN`: the domain sent in ZAP requests; on a NULL server, setting it
    /// turns ZAP on.
    ZapDomain(String),
    /// `ZMQ_ZAP_ENFORCE_DOMAIN`: refuse clients when ZAP is required but no handler is
    /// installed, instead of skipping ZAP.
    ZapEnforceDomain(bool),
    /// `ZMQ_METADATA`: a property sent to peers in READY / INITIATE. The name must start
    /// with `X-` (libzmq's `"X-name:value"`); setting a name again replaces its value.
    Metadata(String, Bytes),
    /// `RINGMQ_PEER_METADATA` (no libzmq equivalent): attach the sending peer's
    /// properties to every received message, for [`Message::peer_metadata`] and
    /// [`Message::peer_property`] (libzmq's `zmq_msg_gets`). Off by default: each message
    /// would hold a reference to its connection's shared properties, an atomic increment
    /// and decrement per message. Applies to messages taken off a connection after it is
    /// set (not to those already queued in the socket).
    ///
    /// [`Message::peer_metadata`]: crate::Message::peer_metadata
    /// [`Message::peer_property`]: crate::Message::peer_property
    PeerMetadata(bool),
}

impl SocketOption {
    /// The libzmq name of the option.
    pub fn name(&self) -> &'static str {
        match self {
            SocketOption::SndHwm(_) => "ZMQ_SNDHWM",
            SocketOption::RcvHwm(_) => "ZMQ_RCVHWM",
            SocketOption::Linger(_) => "ZMQ_LINGER",
            SocketOption::RoutingId(_) => "ZMQ_ROUTING_ID",
            SocketOption::ReconnectIvl(_) => "ZMQ_RECONNECT_IVL",
            SocketOption::ReconnectIvlMax(_) => "ZMQ_RECONNECT_IVL_MAX",
            SocketOption::HeartbeatIvl(_) => "ZMQ_HEARTBEAT_IVL",
            SocketOption::HeartbeatTtl(_) => "ZMQ_HEARTBEAT_TTL",
            SocketOption::HeartbeatTimeout(_) => "ZMQ_HEARTBEAT_TIMEOUT",
            SocketOption::HandshakeIvl(_) => "ZMQ_HANDSHAKE_IVL",
            SocketOption::MaxMsgSize(_) => "ZMQ_MAXMSGSIZE",
            SocketOption::MaxFramesPerMsg(_) => "RINGMQ_MAX_FRAMES_PER_MSG",
            SocketOption::PartialMsgTimeout(_) => "RINGMQ_PARTIAL_MSG_TIMEOUT",
            SocketOption::IdleTimeout(_) => "RINGMQ_IDLE_TIMEOUT",
            SocketOption::MaxPeers(_) => "RINGMQ_MAX_PEERS",
            SocketOption::Immediate(_) => "ZMQ_IMMEDIATE",
            SocketOption::Conflate(_) => "ZMQ_CONFLATE",
            SocketOption::TcpKeepalive(_) => "ZMQ_TCP_KEEPALIVE",
            SocketOption::TcpKeepaliveIdle(_) => "ZMQ_TCP_KEEPALIVE_IDLE",
            SocketOption::TcpKeepaliveIntvl(_) => "ZMQ_TCP_KEEPALIVE_INTVL",
            SocketOption::TcpKeepaliveCnt(_) => "ZMQ_TCP_KEEPALIVE_CNT",
            SocketOption::Subscribe(_) => "ZMQ_SUBSCRIBE",
            SocketOption::Unsubscribe(_) => "ZMQ_UNSUBSCRIBE",
            SocketOption::SndTimeo(_) => "ZMQ_SNDTIMEO",
            SocketOption::RcvTimeo(_) => "ZMQ_RCVTIMEO",
            SocketOption::ReqRelaxed(_) => "ZMQ_REQ_RELAXED",
            SocketOption::ReqCorrelate(_) => "ZMQ_REQ_CORRELATE",
            SocketOption::RouterMandatory(_) => "ZMQ_ROUTER_MANDATORY",
            SocketOption::RouterHandover(_) => "ZMQ_ROUTER_HANDOVER",
            SocketOption::XpubVerbose(_) => "ZMQ_XPUB_VERBOSE",
            SocketOption::XpubVerboser(_) => "ZMQ_XPUB_VERBOSER",
            SocketOption::XpubNodrop(_) => "ZMQ_XPUB_NODROP",
            SocketOption::XpubManual(_) => "ZMQ_XPUB_MANUAL",
            SocketOption::XpubManualLastValue(_) => "ZMQ_XPUB_MANUAL_LAST_VALUE",
            SocketOption::XpubWelcomeMsg(_) => "ZMQ_XPUB_WELCOME_MSG",
            SocketOption::OnlyFirstSubscribe(_) => "ZMQ_ONLY_FIRST_SUBSCRIBE",
            SocketOption::InvertMatching(_) => "ZMQ_INVERT_MATCHING",
            SocketOption::ProbeRouter(_) => "ZMQ_PROBE_ROUTER",
            SocketOption::ConnectRoutingId(_) => "ZMQ_CONNECT_ROUTING_ID",
            SocketOption::RouterNotify(_) => "ZMQ_ROUTER_NOTIFY",
            SocketOption::StreamNotify(_) => "ZMQ_STREAM_NOTIFY",
            SocketOption::SndBuf(_) => "ZMQ_SNDBUF",
            SocketOption::RcvBuf(_) => "ZMQ_RCVBUF",
            SocketOption::Tos(_) => "ZMQ_TOS",
            SocketOption::TcpMaxrt(_) => "ZMQ_TCP_MAXRT",
            SocketOption::BindToDevice(_) => "ZMQ_BINDTODEVICE",
            SocketOption::Backlog(_) => "ZMQ_BACKLOG",
            SocketOption::MulticastHops(_) => "ZMQ_MULTICAST_HOPS",
            SocketOption::ConnectTimeout(_) => "ZMQ_CONNECT_TIMEOUT",
            SocketOption::ReconnectStop(_) => "ZMQ_RECONNECT_STOP",
            SocketOption::HelloMsg(_) => "ZMQ_HELLO_MSG",
            SocketOption::DisconnectMsg(_) => "ZMQ_DISCONNECT_MSG",
            SocketOption::HiccupMsg(_) => "ZMQ_HICCUP_MSG",
            SocketOption::Ipv6(_) => "ZMQ_IPV6",
            SocketOption::Ipv4Only(_) => "ZMQ_IPV4ONLY",
            SocketOption::Priority(_) => "ZMQ_PRIORITY",
            SocketOption::BusyPoll(_) => "ZMQ_BUSY_POLL",
            SocketOption::XsubVerboseUnsubscribe(_) => "ZMQ_XSUB_VERBOSE_UNSUBSCRIBE",
            SocketOption::SocksProxy(_) => "ZMQ_SOCKS_PROXY",
            SocketOption::SocksUsername(_) => "ZMQ_SOCKS_USERNAME",
            SocketOption::SocksPassword(_) => "ZMQ_SOCKS_PASSWORD",
            SocketOption::PlainServer(_) => "ZMQ_PLAIN_SERVER",
            SocketOption::PlainUsername(_) => "ZMQ_PLAIN_USERNAME",
            SocketOption::PlainPassword(_) => "ZMQ_PLAIN_PASSWORD",
            SocketOption::CurveServer(_) => "ZMQ_CURVE_SERVER",
            SocketOption::CurvePublicKey(_) => "ZMQ_CURVE_PUBLICKEY",
            SocketOption::CurveSecretKey(_) => "ZMQ_CURVE_SECRETKEY",
            SocketOption::CurveServerKey(_) => "ZMQ_CURVE_SERVERKEY",
            SocketOption::ZapDomain(_) => "ZMQ_ZAP_DOMAIN",
            SocketOption::ZapEnforceDomain(_) => "ZMQ_ZAP_ENFORCE_DOMAIN",
            SocketOption::Metadata(..) => "ZMQ_METADATA",
            SocketOption::PeerMetadata(_) => "RINGMQ_PEER_METADATA",
        }
    }

    /// `CurvePublicKey` from 32 raw bytes or 40 Z85 characters; a bad key is
    /// [`Error::InvalidOption`] naming `ZMQ_CURVE_PUBLICKEY` and the problem.
    pub fn curve_public_key(key: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(SocketOption::CurvePublicKey(parse_key(
            key.as_ref(),
            "ZMQ_CURVE_PUBLICKEY",
        )?))
    }

    /// `CurveSecretKey` from 32 raw bytes or 40 Z85 characters (see
    /// [`SocketOption::curve_public_key`]).
    pub fn curve_secret_key(key: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(SocketOption::CurveSecretKey(parse_key(
            key.as_ref(),
            "ZMQ_CURVE_SECRETKEY",
        )?))
    }

    /// `CurveServerKey` from 32 raw bytes or 40 Z85 characters (see
    /// [`SocketOption::curve_public_key`]).
    pub fn curve_server_key(key: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(SocketOption::CurveServerKey(parse_key(
            key.as_ref(),
            "ZMQ_CURVE_SERVERKEY",
        )?))
    }

    /// The socket types this option applies to; `None` means all of them.
    fn applies_to(&self) -> Option<&'static [SocketType]> {
        use SocketType::*;
        Some(match self {
            SocketOption::RoutingId(_) => &[Req, Dealer, Router],
            SocketOption::Conflate(_) => &[Push, Pull, Pub, Sub, Dealer],
            SocketOption::Subscribe(_) | SocketOption::Unsubscribe(_) => &[Sub, XPub],
            SocketOption::ReqRelaxed(_) | SocketOption::ReqCorrelate(_) => &[Req],
            SocketOption::RouterMandatory(_) | SocketOption::RouterHandover(_) => &[Router],
            SocketOption::XpubVerbose(_)
            | SocketOption::XpubVerboser(_)
            | SocketOption::XpubManual(_)
            | SocketOption::XpubManualLastValue(_)
            | SocketOption::XpubWelcomeMsg(_) => &[XPub],
            SocketOption::XpubNodrop(_) => &[Pub, XPub],
            SocketOption::ProbeRouter(_) => &[Router, Dealer, Req],
            SocketOption::ConnectRoutingId(_) => &[Router, Stream],
            SocketOption::RouterNotify(_) => &[Router],
            SocketOption::StreamNotify(_) => &[Stream],
            SocketOption::HelloMsg(_) => &[Router, Dealer, Client, Server, Peer],
            SocketOption::DisconnectMsg(_) => &[Router, Server, Peer],
            SocketOption::XsubVerboseUnsubscribe(_) => &[XSub],
            SocketOption::HiccupMsg(_) => &[Dealer, Client, Peer],
            SocketOption::OnlyFirstSubscribe(_) => &[XPub, XSub],
            SocketOption::InvertMatching(_) => &[Pub, XPub, Sub, XSub],
            _ => return None,
        })
    }

    /// Checks that the option applies to `kind`.
    pub(crate) fn check(&self, kind: SocketType) -> Result<(), Error> {
        match self.applies_to() {
            Some(types) if !types.contains(&kind) => Err(Error::InvalidOption {
                option: self.name(),
                reason: format!("does not apply to a {kind} socket"),
            }),
            _ => Ok(()),
        }
    }
}

/// The option values of one socket.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    pub sndhwm: usize,
    pub rcvhwm: usize,
    pub linger: Option<Duration>,
    pub routing_id: Bytes,
    pub reconnect_ivl: Duration,
    pub reconnect_ivl_max: Duration,
    pub heartbeat_ivl: Option<Duration>,
    pub heartbeat_ttl: Option<Duration>,
    pub heartbeat_timeout: Option<Duration>,
    pub handshake_ivl: Option<Duration>,
    pub max_msg_size: Option<u64>,
    pub max_frames_per_msg: Option<u32>,
    pub partial_msg_timeout: Option<Duration>,
    pub idle_timeout: Option<Duration>,
    pub max_peers: Option<usize>,
    pub immediate: bool,
    pub conflate: bool,
    pub tcp_keepalive: Option<bool>,
    pub tcp_keepalive_idle: Option<Duration>,
    pub tcp_keepalive_intvl: Option<Duration>,
    pub tcp_keepalive_cnt: Option<u32>,
    pub sndtimeo: Option<Duration>,
    pub rcvtimeo: Option<Duration>,
    pub req_relaxed: bool,
    pub req_correlate: bool,
    pub router_mandatory: bool,
    pub router_handover: bool,
    pub xpub_verbose: bool,
    pub xpub_verbose_unsubs: bool,
    pub xpub_nodrop: bool,
    pub xpub_manual: bool,
    pub xpub_manual_last_value: bool,
    pub xpub_welcome_msg: Bytes,
    pub only_first_subscribe: bool,
    pub invert_matching: bool,
    pub probe_router: bool,
    pub connect_routing_id: Option<Bytes>,
    pub router_notify: u32,
    pub stream_notify: bool,
    pub sndbuf: Option<u32>,
    pub rcvbuf: Option<u32>,
    pub tos: u8,
    pub tcp_maxrt: Option<Duration>,
    pub bind_to_device: String,
    pub backlog: u32,
    pub multicast_hops: u32,
    pub connect_timeout: Option<Duration>,
    pub reconnect_stop: u32,
    pub hello_msg: Bytes,
    pub disconnect_msg: Bytes,
    pub hiccup_msg: Bytes,
    pub ipv6: bool,
    pub priority: u32,
    pub busy_poll: u32,
    pub xsub_verbose_unsubs: bool,
    pub socks_proxy: String,
    pub socks_username: String,
    pub socks_password: String,
    pub security: Security,
    pub zap_domain: String,
    pub zap_enforce_domain: bool,
    pub metadata: Metadata,
    /// `SocketOption::PeerMetadata`.
    pub peer_metadata: bool,
    /// The context's ZAP handler slot.
    pub zap: ZapSlot,
}

/// Which mechanism the options select, like libzmq's `options.mechanism` +
/// `options.as_server`: the last security option set decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum MechanismKind {
    #[default]
    Null,
    Plain,
    Curve,
}

/// The security options of a socket. Secret material is wiped on drop (`CurveKey`);
/// the PLAIN password lives in a `Bytes` like every option value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Security {
    pub mechanism: MechanismKind,
    pub as_server: bool,
    pub plain_username: Bytes,
    pub plain_password: Bytes,
    pub curve_public: Option<CurveKey>,
    pub curve_secret: Option<CurveKey>,
    pub curve_server_key: Option<CurveKey>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sndhwm: 1000,
            rcvhwm: 1000,
            linger: None,
            routing_id: Bytes::new(),
            reconnect_ivl: Duration::from_millis(100),
            reconnect_ivl_max: Duration::ZERO,
            heartbeat_ivl: None,
            heartbeat_ttl: None,
            heartbeat_timeout: None,
            handshake_ivl: Some(Duration::from_secs(30)),
            max_msg_size: None,
            max_frames_per_msg: Some(ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES),
            partial_msg_timeout: None,
            idle_timeout: None,
            max_peers: None,
            immediate: false,
            conflate: false,
            tcp_keepalive: None,
            tcp_keepalive_idle: None,
            tcp_keepalive_intvl: None,
            tcp_keepalive_cnt: None,
            sndtimeo: None,
            rcvtimeo: None,
            req_relaxed: false,
            req_correlate: false,
            router_mandatory: false,
            router_handover: false,
            xpub_verbose: false,
            xpub_verbose_unsubs: false,
            xpub_nodrop: false,
            xpub_manual: false,
            xpub_manual_last_value: false,
            xpub_welcome_msg: Bytes::new(),
            only_first_subscribe: false,
            invert_matching: false,
            probe_router: false,
            connect_routing_id: None,
            router_notify: 0,
            stream_notify: true,
            sndbuf: None,
            rcvbuf: None,
            tos: 0,
            tcp_maxrt: None,
            bind_to_device: String::new(),
            backlog: 100,
            multicast_hops: 1,
            connect_timeout: None,
            reconnect_stop: 0,
            hello_msg: Bytes::new(),
            disconnect_msg: Bytes::new(),
            hiccup_msg: Bytes::new(),
            ipv6: false,
            priority: 0,
            busy_poll: 0,
            xsub_verbose_unsubs: false,
            socks_proxy: String::new(),
            socks_username: String::new(),
            socks_password: String::new(),
            security: Security::default(),
            zap_domain: String::new(),
            zap_enforce_domain: false,
            metadata: Metadata::new(),
            peer_metadata: false,
            zap: ZapSlot::default(),
        }
    }
}

fn nonzero(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Converts a high-water mark (0 = unlimited) into a queue bound.
pub(crate) fn hwm_bound(hwm: usize) -> usize {
    if hwm == 0 {
        usize::MAX
    } else {
        hwm
    }
}

impl Options {
    /// Stores `opt` (already checked to apply to the socket type). Subscriptions are
    /// handled by the socket itself.
    pub(crate) fn set(&mut self, opt: SocketOption) -> Result<(), Error> {
        match opt {
            SocketOption::SndHwm(v) => self.sndhwm = v,
            SocketOption::RcvHwm(v) => self.rcvhwm = v,
            SocketOption::Linger(v) => self.linger = v,
            SocketOption::RoutingId(id) => {
                if id.is_empty() || id.len() > 255 || id[0] == 0 {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_ROUTING_ID",
                        reason: "must be 1 to 255 bytes and not start with byte 0".into(),
                    });
                }
                self.routing_id = id;
            }
            SocketOption::ReconnectIvl(v) => self.reconnect_ivl = v,
            SocketOption::ReconnectIvlMax(v) => self.reconnect_ivl_max = v,
            SocketOption::HeartbeatIvl(v) => self.heartbeat_ivl = nonzero(v),
            SocketOption::HeartbeatTtl(v) => self.heartbeat_ttl = nonzero(v),
            SocketOption::HeartbeatTimeout(v) => self.heartbeat_timeout = nonzero(v),
            SocketOption::HandshakeIvl(v) => self.handshake_ivl = nonzero(v),
            SocketOption::MaxMsgSize(v) => self.max_msg_size = v,
            SocketOption::MaxFramesPerMsg(Some(0)) => {
                return Err(Error::InvalidOption {
                    option: "RINGMQ_MAX_FRAMES_PER_MSG",
                    reason: "a message has at least one frame".into(),
                });
            }
            SocketOption::MaxFramesPerMsg(v) => self.max_frames_per_msg = v,
            SocketOption::PartialMsgTimeout(Some(d)) | SocketOption::IdleTimeout(Some(d))
                if d.is_zero() =>
            {
                return Err(Error::InvalidOption {
                    option: opt.name(),
                    reason: "use None for no timeout".into(),
                });
            }
            SocketOption::PartialMsgTimeout(v) => self.partial_msg_timeout = v,
            SocketOption::IdleTimeout(v) => self.idle_timeout = v,
            SocketOption::MaxPeers(Some(0)) => {
                return Err(Error::InvalidOption {
                    option: "RINGMQ_MAX_PEERS",
                    reason: "use None for no cap".into(),
                });
            }
            SocketOption::MaxPeers(v) => self.max_peers = v,
            SocketOption::Immediate(v) => self.immediate = v,
            SocketOption::Conflate(v) => self.conflate = v,
            SocketOption::TcpKeepalive(v) => self.tcp_keepalive = v,
            SocketOption::TcpKeepaliveIdle(v) => self.tcp_keepalive_idle = Some(v),
            SocketOption::TcpKeepaliveIntvl(v) => self.tcp_keepalive_intvl = Some(v),
            SocketOption::TcpKeepaliveCnt(v) => self.tcp_keepalive_cnt = Some(v),
            SocketOption::SndTimeo(v) => self.sndtimeo = v,
            SocketOption::RcvTimeo(v) => self.rcvtimeo = v,
            SocketOption::ReqRelaxed(v) => self.req_relaxed = v,
            SocketOption::ReqCorrelate(v) => self.req_correlate = v,
            SocketOption::RouterMandatory(v) => self.router_mandatory = v,
            SocketOption::RouterHandover(v) => self.router_handover = v,
            SocketOption::XpubVerbose(v) => {
                self.xpub_verbose = v;
                self.xpub_verbose_unsubs = false;
            }
            SocketOption::XpubVerboser(v) => {
                self.xpub_verbose = v;
                self.xpub_verbose_unsubs = v;
            }
            SocketOption::XpubNodrop(v) => self.xpub_nodrop = v,
            SocketOption::XpubManual(v) => self.xpub_manual = v,
            SocketOption::XpubManualLastValue(v) => {
                self.xpub_manual = v;
                self.xpub_manual_last_value = v;
            }
            SocketOption::XpubWelcomeMsg(v) => self.xpub_welcome_msg = v,
            SocketOption::OnlyFirstSubscribe(v) => self.only_first_subscribe = v,
            SocketOption::InvertMatching(v) => self.invert_matching = v,
            SocketOption::ProbeRouter(v) => self.probe_router = v,
            SocketOption::ConnectRoutingId(id) => {
                if id.is_empty() || id.len() > 255 {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_CONNECT_ROUTING_ID",
                        reason: "must be 1 to 255 bytes".into(),
                    });
                }
                self.connect_routing_id = Some(id);
            }
            SocketOption::RouterNotify(v) => {
                if v > NOTIFY_CONNECT | NOTIFY_DISCONNECT {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_ROUTER_NOTIFY",
                        reason: "a mask of NOTIFY_CONNECT (1) and NOTIFY_DISCONNECT (2)".into(),
                    });
                }
                self.router_notify = v;
            }
            SocketOption::StreamNotify(v) => self.stream_notify = v,
            SocketOption::SndBuf(v) => self.sndbuf = v,
            SocketOption::RcvBuf(v) => self.rcvbuf = v,
            SocketOption::Tos(v) => self.tos = v,
            SocketOption::TcpMaxrt(v) => self.tcp_maxrt = nonzero(v),
            SocketOption::BindToDevice(v) => {
                if v.len() >= 16 || v.contains('\0') {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_BINDTODEVICE",
                        reason: "a device name is at most 15 bytes, without NUL".into(),
                    });
                }
                self.bind_to_device = v;
            }
            SocketOption::Backlog(v) => self.backlog = v,
            SocketOption::MulticastHops(v) => {
                if !(1..=255).contains(&v) {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_MULTICAST_HOPS",
                        reason: "1 to 255 hops".into(),
                    });
                }
                self.multicast_hops = v;
            }
            SocketOption::ConnectTimeout(v) => self.connect_timeout = nonzero(v),
            SocketOption::ReconnectStop(v) => {
                let all = RECONNECT_STOP_CONN_REFUSED
                    | RECONNECT_STOP_HANDSHAKE_FAILED
                    | RECONNECT_STOP_AFTER_DISCONNECT;
                if v & !all != 0 {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_RECONNECT_STOP",
                        reason: "a mask of the RECONNECT_STOP_* bits".into(),
                    });
                }
                self.reconnect_stop = v;
            }
            SocketOption::HelloMsg(v) => self.hello_msg = v,
            SocketOption::DisconnectMsg(v) => self.disconnect_msg = v,
            SocketOption::HiccupMsg(v) => self.hiccup_msg = v,
            SocketOption::Ipv6(v) => self.ipv6 = v,
            SocketOption::Ipv4Only(v) => self.ipv6 = !v,
            SocketOption::Priority(v) => self.priority = v,
            SocketOption::BusyPoll(v) => self.busy_poll = v,
            SocketOption::XsubVerboseUnsubscribe(v) => self.xsub_verbose_unsubs = v,
            SocketOption::SocksProxy(v) => self.socks_proxy = v,
            SocketOption::SocksUsername(v) => {
                check_len(&Bytes::from(v.clone()), "ZMQ_SOCKS_USERNAME")?;
                self.socks_username = v;
            }
            SocketOption::SocksPassword(v) => {
                check_len(&Bytes::from(v.clone()), "ZMQ_SOCKS_PASSWORD")?;
                self.socks_password = v;
            }
            SocketOption::PlainServer(v) => {
                self.security.as_server = v;
                self.security.mechanism = if v {
                    MechanismKind::Plain
                } else {
                    MechanismKind::Null
                };
            }
            SocketOption::PlainUsername(v) => {
                check_len(&v, "ZMQ_PLAIN_USERNAME")?;
                self.security.plain_username = v;
                self.security.mechanism = MechanismKind::Plain;
                self.security.as_server = false;
            }
            SocketOption::PlainPassword(v) => {
                check_len(&v, "ZMQ_PLAIN_PASSWORD")?;
                self.security.plain_password = v;
                self.security.mechanism = MechanismKind::Plain;
                self.security.as_server = false;
            }
            SocketOption::CurveServer(v) => {
                self.security.as_server = v;
                self.security.mechanism = if v {
                    MechanismKind::Curve
                } else {
                    MechanismKind::Null
                };
            }
            SocketOption::CurvePublicKey(k) => {
                self.security.curve_public = Some(k);
                self.security.mechanism = MechanismKind::Curve;
            }
            SocketOption::CurveSecretKey(k) => {
                self.security.curve_secret = Some(k);
                self.security.mechanism = MechanismKind::Curve;
            }
            SocketOption::CurveServerKey(k) => {
                self.security.curve_server_key = Some(k);
                self.security.mechanism = MechanismKind::Curve;
                self.security.as_server = false;
            }
            SocketOption::ZapDomain(d) => {
                if d.len() > 255 {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_ZAP_DOMAIN",
                        reason: "at most 255 bytes".into(),
                    });
                }
                self.zap_domain = d;
            }
            SocketOption::ZapEnforceDomain(v) => self.zap_enforce_domain = v,
            SocketOption::PeerMetadata(v) => self.peer_metadata = v,
            SocketOption::Metadata(name, value) => {
                let reserved = ["socket-type", "identity", "resource", "user-id"];
                if name.len() < 3
                    || name.len() > 255
                    || !name.starts_with("X-")
                    || reserved.contains(&name.to_ascii_lowercase().as_str())
                {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_METADATA",
                        reason: format!(
                            "property name {name:?} must start with \"X-\", have a \
                             non-empty rest and be at most 255 bytes"
                        ),
                    });
                }
                if value.len() > u32::MAX as usize {
                    return Err(Error::InvalidOption {
                        option: "ZMQ_METADATA",
                        reason: "value too long".into(),
                    });
                }
                self.metadata.insert(name, value);
            }
            SocketOption::Subscribe(_) | SocketOption::Unsubscribe(_) => {}
        }
        Ok(())
    }

    /// The ZMTP session configuration for a new connection of a `kind` socket.
    pub(crate) fn session_config(&self, kind: SocketType) -> SessionConfig {
        let mut c = SessionConfig::new(kind);
        if kind.sends_identity() {
            c.identity = self.routing_id.clone();
        }
        c.max_message_size = self.max_msg_size;
        c.max_message_frames = self.max_frames_per_msg;
        c.heartbeat_ivl = self.heartbeat_ivl;
        c.heartbeat_ttl = self.heartbeat_ttl;
        c.heartbeat_timeout = self.heartbeat_timeout;
        c.handshake_ivl = self.handshake_ivl;
        c.partial_message_timeout = self.partial_msg_timeout;
        c.idle_timeout = self.idle_timeout;
        c.metadata = self.metadata.clone();
        c
    }

    /// Applies the kernel options of new TCP streams (keepalive, SNDBUF / RCVBUF, TOS,
    /// TCP_MAXRT, BINDTODEVICE). Best effort like libzmq, except BINDTODEVICE, whose
    /// failure (e.g. no `CAP_NET_RAW`) is returned: the connection must not go on
    /// unbound.
    pub(crate) fn apply_to_tcp(&self, s: &impl std::os::fd::AsRawFd) -> std::io::Result<()> {
        use ringmq_proactor::sockopt;
        if let Some(ka) = self.keepalive() {
            let _ = sockopt::set_tcp_keepalive(s, &ka);
        }
        if let Some(b) = self.sndbuf {
            let _ = sockopt::set_send_buffer(s, b);
        }
        if let Some(b) = self.rcvbuf {
            let _ = sockopt::set_recv_buffer(s, b);
        }
        if self.tos != 0 {
            let _ = sockopt::set_tos(s, self.tos);
        }
        if let Some(t) = self.tcp_maxrt {
            let _ = sockopt::set_tcp_user_timeout(s, t);
        }
        if self.priority != 0 {
            let _ = sockopt::set_priority(s, self.priority);
        }
        if self.busy_poll != 0 {
            let _ = sockopt::set_busy_poll(s, self.busy_poll);
        }
        if !self.bind_to_device.is_empty() {
            sockopt::set_bind_to_device(s, self.bind_to_device.as_bytes())?;
        }
        Ok(())
    }

    /// The keepalive settings to apply to new TCP streams; `None` leaves the OS default.
    pub(crate) fn keepalive(&self) -> Option<TcpKeepalive> {
        let enabled = self.tcp_keepalive?;
        Some(TcpKeepalive {
            enabled,
            idle: self.tcp_keepalive_idle,
            interval: self.tcp_keepalive_intvl,
            count: self.tcp_keepalive_cnt,
        })
    }
}

fn parse_key(data: &[u8], option: &'static str) -> Result<CurveKey, Error> {
    CurveKey::try_from(data).map_err(|e| Error::InvalidOption {
        option,
        reason: e.to_string(),
    })
}

fn check_len(v: &Bytes, option: &'static str) -> Result<(), Error> {
    if v.len() > 255 {
        return Err(Error::InvalidOption {
            option,
            reason: "at most 255 bytes".into(),
        });
    }
    Ok(())
}

/// The security mechanism for a new connection, from the socket's options (the role
/// comes from the options, not from bind / connect, like libzmq). `Err` explains a
/// configuration that cannot work; the connection is then refused.
pub(crate) fn mechanism_for(opts: &Options) -> Result<Box<dyn Mechanism>, SecurityConfigError> {
    let sec = &opts.security;
    Ok(match (sec.mechanism, sec.as_server) {
        (MechanismKind::Null, _) => {
            let has_handler = opts.zap.get().is_some();
            if !opts.zap_domain.is_empty() && (has_handler || opts.zap_enforce_domain) {
                Box::new(Null::with_auth())
            } else {
                Box::new(Null::new())
            }
        }
        (MechanismKind::Plain, true) => Box::new(PlainServer::new()),
        (MechanismKind::Plain, false) => Box::new(
            PlainClient::new(sec.plain_username.clone(), sec.plain_password.clone())
                .map_err(SecurityConfigError::Plain)?,
        ),
        (MechanismKind::Curve, true) => Box::new(CurveServer::new(curve_pair(sec, true)?)),
        (MechanismKind::Curve, false) => {
            let pair = curve_pair(sec, false)?;
            let server = sec
                .curve_server_key
                .as_ref()
                .ok_or(SecurityConfigError::MissingServerKey)?;
            Box::new(CurveClient::new(pair, *server.as_bytes()))
        }
    })
}

/// The CURVE key pair of a server or client: the secret key, and the public key when
/// set must match it.
fn curve_pair(sec: &Security, server: bool) -> Result<CurveKeyPair, SecurityConfigError> {
    let secret = sec
        .curve_secret
        .as_ref()
        .ok_or(SecurityConfigError::MissingSecretKey { server })?;
    let pair = CurveKeyPair::from_secret(*secret.as_bytes());
    if let Some(public) = &sec.curve_public {
        if public.as_bytes() != pair.public() {
            return Err(SecurityConfigError::PublicKeyMismatch);
        }
    }
    Ok(pair)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_against_the_socket_type() {
        assert!(SocketOption::Subscribe(Bytes::new())
            .check(SocketType::Sub)
            .is_ok());
        let e = SocketOption::Subscribe(Bytes::new())
            .check(SocketType::Pub)
            .unwrap_err();
        assert!(e.to_string().contains("ZMQ_SUBSCRIBE"), "{e}");
        assert!(SocketOption::SndHwm(1).check(SocketType::Pub).is_ok());
        assert!(SocketOption::RouterMandatory(true)
            .check(SocketType::Dealer)
            .is_err());
    }

    #[test]
    fn security_options_select_the_mechanism_like_libzmq() {
        let mut o = Options::default();
        assert!(mechanism_for(&o).unwrap().name() == b"NULL");
        o.set(SocketOption::PlainServer(true)).unwrap();
        let m = mechanism_for(&o).unwrap();
        assert_eq!((m.name(), m.as_server()), (&b"PLAIN"[..], true));
        o.set(SocketOption::PlainServer(false)).unwrap();
        assert_eq!(mechanism_for(&o).unwrap().name(), b"NULL");
        o.set(SocketOption::PlainUsername("u".into())).unwrap();
        let m = mechanism_for(&o).unwrap();
        assert_eq!((m.name(), m.as_server()), (&b"PLAIN"[..], false));
        let (public, secret) = CurveKey::generate_pair();
        o.set(SocketOption::CurveServer(true)).unwrap();
        let e = mechanism_for(&o).err().unwrap();
        assert_eq!(e, SecurityConfigError::MissingSecretKey { server: true });
        assert!(e.to_string().contains("ZMQ_CURVE_SECRETKEY"), "{e}");
        o.set(SocketOption::curve_secret_key(secret.to_z85()).unwrap())
            .unwrap();
        assert_eq!(mechanism_for(&o).unwrap().name(), b"CURVE");
        let (other, _) = CurveKey::generate_pair();
        o.set(SocketOption::CurvePublicKey(other)).unwrap();
        let e = mechanism_for(&o).err().unwrap();
        assert_eq!(e, SecurityConfigError::PublicKeyMismatch);
        o.set(SocketOption::CurvePublicKey(public.clone())).unwrap();
        o.set(SocketOption::curve_server_key(public.as_bytes()).unwrap())
            .unwrap();
        let m = mechanism_for(&o).unwrap();
        assert_eq!((m.name(), m.as_server()), (&b"CURVE"[..], false));
        let e = SocketOption::curve_server_key(b"not a key").unwrap_err();
        assert!(e.to_string().contains("ZMQ_CURVE_SERVERKEY"), "{e}");
        assert!(o
            .set(SocketOption::Metadata("X-".into(), "v".into()))
            .is_err());
        assert!(o
            .set(SocketOption::PlainPassword(vec![b'p'; 256].into()))
            .is_err());
        o.set(SocketOption::Metadata("X-Team".into(), "blue".into()))
            .unwrap();
        let c = o.session_config(SocketType::Push);
        assert_eq!(c.metadata.get("X-Team").unwrap(), "blue");
    }

    #[test]
    fn kernel_options_reach_the_tcp_socket() {
        use ringmq_proactor::sockopt;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let mut o = Options::default();
        o.set(SocketOption::SndBuf(Some(40000))).unwrap();
        o.set(SocketOption::RcvBuf(Some(50000))).unwrap();
        o.set(SocketOption::Tos(0x10)).unwrap();
        o.set(SocketOption::TcpMaxrt(Duration::from_millis(1500)))
            .unwrap();
        o.set(SocketOption::Priority(5)).unwrap();
        o.set(SocketOption::BusyPoll(50)).unwrap();
        let before = sockopt::tos(&s).unwrap();
        assert_ne!(before, 0x10);
        o.apply_to_tcp(&s).unwrap();
        // Linux doubles the buffer sizes it was given.
        assert_eq!(sockopt::send_buffer(&s).unwrap(), 80000);
        assert_eq!(sockopt::recv_buffer(&s).unwrap(), 100000);
        assert_eq!(sockopt::tos(&s).unwrap(), 0x10);
        assert_eq!(
            sockopt::tcp_user_timeout(&s).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(sockopt::priority(&s).unwrap(), 5);
        // SO_BUSY_POLL needs CAP_NET_ADMIN to raise (the suite runs as root).
        let bp = sockopt::busy_poll(&s).unwrap();
        assert!(bp == 50 || sockopt::set_busy_poll(&s, 50).is_err(), "{bp}");
        o.set(SocketOption::Ipv4Only(false)).unwrap();
        assert!(o.snapshot().ipv6() && !o.snapshot().ipv4only());
        assert_eq!(o.snapshot().mechanism(), "NULL");
        // BINDTODEVICE needs CAP_NET_RAW (the test suite runs as root).
        o.set(SocketOption::BindToDevice("lo".into())).unwrap();
        match o.apply_to_tcp(&s) {
            Ok(()) => assert_eq!(sockopt::bind_to_device(&s).unwrap(), b"lo"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}"),
        }
        let snap = o.snapshot();
        assert_eq!(
            (snap.sndbuf(), snap.rcvbuf(), snap.tos(), snap.tcp_maxrt()),
            (Some(40000), Some(50000), 0x10, Duration::from_millis(1500))
        );
        assert_eq!(snap.bind_to_device(), "lo");
        assert!(o.set(SocketOption::ReconnectStop(8)).is_err());
    }

    #[test]
    fn routing_id_is_validated() {
        let mut o = Options::default();
        assert!(o
            .set(SocketOption::RoutingId(Bytes::from_static(b"\0x")))
            .is_err());
        assert!(o.set(SocketOption::RoutingId(Bytes::new())).is_err());
        o.set(SocketOption::RoutingId(Bytes::from_static(b"abc")))
            .unwrap();
        assert_eq!(o.session_config(SocketType::Dealer).identity, "abc");
        assert!(o.session_config(SocketType::Push).identity.is_empty());
    }
}

/// The values of a socket's options at one moment, with a typed getter for every
/// option that can be set (`socket.options()`). Durations that libzmq spells 0 for
/// "off" read back as set (`Duration::ZERO`). SUBSCRIBE / UNSUBSCRIBE have no getter
/// (libzmq has none either). `Send + Sync`: handles return it too.
///
/// Options are read when a connection (or a connect-side peer) starts: an HWM set
/// after `connect()` applies to the peers made afterwards, as in libzmq.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    o: Values,
}

/// [`Options`] without the context's ZAP slot (which is not `Send`).
#[derive(Clone, Debug)]
struct Values {
    sndhwm: usize,
    rcvhwm: usize,
    linger: Option<Duration>,
    routing_id: Bytes,
    reconnect_ivl: Duration,
    reconnect_ivl_max: Duration,
    heartbeat_ivl: Option<Duration>,
    heartbeat_ttl: Option<Duration>,
    heartbeat_timeout: Option<Duration>,
    handshake_ivl: Option<Duration>,
    max_msg_size: Option<u64>,
    immediate: bool,
    conflate: bool,
    tcp_keepalive: Option<bool>,
    tcp_keepalive_idle: Option<Duration>,
    tcp_keepalive_intvl: Option<Duration>,
    tcp_keepalive_cnt: Option<u32>,
    sndtimeo: Option<Duration>,
    rcvtimeo: Option<Duration>,
    req_relaxed: bool,
    req_correlate: bool,
    router_mandatory: bool,
    router_handover: bool,
    xpub_verbose: bool,
    xpub_verbose_unsubs: bool,
    xpub_nodrop: bool,
    xpub_manual: bool,
    xpub_manual_last_value: bool,
    xpub_welcome_msg: Bytes,
    only_first_subscribe: bool,
    invert_matching: bool,
    probe_router: bool,
    connect_routing_id: Option<Bytes>,
    router_notify: u32,
    stream_notify: bool,
    sndbuf: Option<u32>,
    rcvbuf: Option<u32>,
    tos: u8,
    tcp_maxrt: Option<Duration>,
    bind_to_device: String,
    backlog: u32,
    multicast_hops: u32,
    connect_timeout: Option<Duration>,
    reconnect_stop: u32,
    hello_msg: Bytes,
    disconnect_msg: Bytes,
    hiccup_msg: Bytes,
    ipv6: bool,
    priority: u32,
    busy_poll: u32,
    xsub_verbose_unsubs: bool,
    socks_proxy: String,
    socks_username: String,
    socks_password: String,
    security: Security,
    zap_domain: String,
    zap_enforce_domain: bool,
    metadata: Metadata,
    peer_metadata: bool,
}

impl Options {
    /// The values, for [`SocketOptions`].
    pub(crate) fn snapshot(&self) -> SocketOptions {
        let o = self;
        SocketOptions {
            o: Values {
                sndhwm: o.sndhwm,
                rcvhwm: o.rcvhwm,
                linger: o.linger,
                routing_id: o.routing_id.clone(),
                reconnect_ivl: o.reconnect_ivl,
                reconnect_ivl_max: o.reconnect_ivl_max,
                heartbeat_ivl: o.heartbeat_ivl,
                heartbeat_ttl: o.heartbeat_ttl,
                heartbeat_timeout: o.heartbeat_timeout,
                handshake_ivl: o.handshake_ivl,
                max_msg_size: o.max_msg_size,
                immediate: o.immediate,
                conflate: o.conflate,
                tcp_keepalive: o.tcp_keepalive,
                tcp_keepalive_idle: o.tcp_keepalive_idle,
                tcp_keepalive_intvl: o.tcp_keepalive_intvl,
                tcp_keepalive_cnt: o.tcp_keepalive_cnt,
                sndtimeo: o.sndtimeo,
                rcvtimeo: o.rcvtimeo,
                req_relaxed: o.req_relaxed,
                req_correlate: o.req_correlate,
                router_mandatory: o.router_mandatory,
                router_handover: o.router_handover,
                xpub_verbose: o.xpub_verbose,
                xpub_verbose_unsubs: o.xpub_verbose_unsubs,
                xpub_nodrop: o.xpub_nodrop,
                xpub_manual: o.xpub_manual,
                xpub_manual_last_value: o.xpub_manual_last_value,
                xpub_welcome_msg: o.xpub_welcome_msg.clone(),
                only_first_subscribe: o.only_first_subscribe,
                invert_matching: o.invert_matching,
                probe_router: o.probe_router,
                connect_routing_id: o.connect_routing_id.clone(),
                router_notify: o.router_notify,
                stream_notify: o.stream_notify,
                sndbuf: o.sndbuf,
                rcvbuf: o.rcvbuf,
                tos: o.tos,
                tcp_maxrt: o.tcp_maxrt,
                bind_to_device: o.bind_to_device.clone(),
                backlog: o.backlog,
                multicast_hops: o.multicast_hops,
                connect_timeout: o.connect_timeout,
                reconnect_stop: o.reconnect_stop,
                hello_msg: o.hello_msg.clone(),
                disconnect_msg: o.disconnect_msg.clone(),
                hiccup_msg: o.hiccup_msg.clone(),
                ipv6: o.ipv6,
                priority: o.priority,
                busy_poll: o.busy_poll,
                xsub_verbose_unsubs: o.xsub_verbose_unsubs,
                socks_proxy: o.socks_proxy.clone(),
                socks_username: o.socks_username.clone(),
                socks_password: o.socks_password.clone(),
                security: o.security.clone(),
                zap_domain: o.zap_domain.clone(),
                zap_enforce_domain: o.zap_enforce_domain,
                metadata: o.metadata.clone(),
                peer_metadata: o.peer_metadata,
            },
        }
    }
}

fn or_zero(d: Option<Duration>) -> Duration {
    d.unwrap_or(Duration::ZERO)
}

impl SocketOptions {
    /// `ZMQ_SNDHWM` (0 = unlimited).
    pub fn sndhwm(&self) -> usize {
        self.o.sndhwm
    }
    /// `ZMQ_RCVHWM` (0 = unlimited).
    pub fn rcvhwm(&self) -> usize {
        self.o.rcvhwm
    }
    /// `ZMQ_LINGER` (`None` = until delivered).
    pub fn linger(&self) -> Option<Duration> {
        self.o.linger
    }
    /// `ZMQ_ROUTING_ID` (`None` when not set).
    pub fn routing_id(&self) -> Option<Bytes> {
        (!self.o.routing_id.is_empty()).then(|| self.o.routing_id.clone())
    }
    /// `ZMQ_RECONNECT_IVL`.
    pub fn reconnect_ivl(&self) -> Duration {
        self.o.reconnect_ivl
    }
    /// `ZMQ_RECONNECT_IVL_MAX` (zero = no backoff).
    pub fn reconnect_ivl_max(&self) -> Duration {
        self.o.reconnect_ivl_max
    }
    /// `ZMQ_HEARTBEAT_IVL` (zero = no heartbeats).
    pub fn heartbeat_ivl(&self) -> Duration {
        or_zero(self.o.heartbeat_ivl)
    }
    /// `ZMQ_HEARTBEAT_TTL` (zero = none announced).
    pub fn heartbeat_ttl(&self) -> Duration {
        or_zero(self.o.heartbeat_ttl)
    }
    /// `ZMQ_HEARTBEAT_TIMEOUT` (zero = the interval).
    pub fn heartbeat_timeout(&self) -> Duration {
        or_zero(self.o.heartbeat_timeout)
    }
    /// `ZMQ_HANDSHAKE_IVL` (zero = no deadline).
    pub fn handshake_ivl(&self) -> Duration {
        or_zero(self.o.handshake_ivl)
    }
    /// `ZMQ_MAXMSGSIZE` (`None` = unlimited).
    pub fn max_msg_size(&self) -> Option<u64> {
        self.o.max_msg_size
    }
    /// `ZMQ_IMMEDIATE`.
    pub fn immediate(&self) -> bool {
        self.o.immediate
    }
    /// `ZMQ_CONFLATE`.
    pub fn conflate(&self) -> bool {
        self.o.conflate
    }
    /// `ZMQ_TCP_KEEPALIVE` (`None` = the OS default).
    pub fn tcp_keepalive(&self) -> Option<bool> {
        self.o.tcp_keepalive
    }
    /// `ZMQ_TCP_KEEPALIVE_IDLE` (`None` = the OS default).
    pub fn tcp_keepalive_idle(&self) -> Option<Duration> {
        self.o.tcp_keepalive_idle
    }
    /// `ZMQ_TCP_KEEPALIVE_INTVL` (`None` = the OS default).
    pub fn tcp_keepalive_intvl(&self) -> Option<Duration> {
        self.o.tcp_keepalive_intvl
    }
    /// `ZMQ_TCP_KEEPALIVE_CNT` (`None` = the OS default).
    pub fn tcp_keepalive_cnt(&self) -> Option<u32> {
        self.o.tcp_keepalive_cnt
    }
    /// `ZMQ_SNDTIMEO` (`None` = forever).
    pub fn sndtimeo(&self) -> Option<Duration> {
        self.o.sndtimeo
    }
    /// `ZMQ_RCVTIMEO` (`None` = forever).
    pub fn rcvtimeo(&self) -> Option<Duration> {
        self.o.rcvtimeo
    }
    /// `ZMQ_REQ_RELAXED`.
    pub fn req_relaxed(&self) -> bool {
        self.o.req_relaxed
    }
    /// `ZMQ_REQ_CORRELATE`.
    pub fn req_correlate(&self) -> bool {
        self.o.req_correlate
    }
    /// `ZMQ_ROUTER_MANDATORY`.
    pub fn router_mandatory(&self) -> bool {
        self.o.router_mandatory
    }
    /// `ZMQ_ROUTER_HANDOVER`.
    pub fn router_handover(&self) -> bool {
        self.o.router_handover
    }
    /// `ZMQ_XPUB_VERBOSE`: every subscribe is reported (also true under
    /// XPUB_VERBOSER).
    pub fn xpub_verbose(&self) -> bool {
        self.o.xpub_verbose
    }
    /// `ZMQ_XPUB_VERBOSER`: every unsubscribe is reported too.
    pub fn xpub_verboser(&self) -> bool {
        self.o.xpub_verbose_unsubs
    }
    /// `ZMQ_XPUB_NODROP`.
    pub fn xpub_nodrop(&self) -> bool {
        self.o.xpub_nodrop
    }
    /// `ZMQ_XPUB_MANUAL` (also true under XPUB_MANUAL_LAST_VALUE).
    pub fn xpub_manual(&self) -> bool {
        self.o.xpub_manual
    }
    /// `ZMQ_XPUB_MANUAL_LAST_VALUE`.
    pub fn xpub_manual_last_value(&self) -> bool {
        self.o.xpub_manual_last_value
    }
    /// `ZMQ_XPUB_WELCOME_MSG` (`None` when not set).
    pub fn xpub_welcome_msg(&self) -> Option<Bytes> {
        (!self.o.xpub_welcome_msg.is_empty()).then(|| self.o.xpub_welcome_msg.clone())
    }
    /// `ZMQ_ONLY_FIRST_SUBSCRIBE`.
    pub fn only_first_subscribe(&self) -> bool {
        self.o.only_first_subscribe
    }
    /// `ZMQ_INVERT_MATCHING`.
    pub fn invert_matching(&self) -> bool {
        self.o.invert_matching
    }
    /// `ZMQ_PROBE_ROUTER`.
    pub fn probe_router(&self) -> bool {
        self.o.probe_router
    }
    /// `ZMQ_CONNECT_ROUTING_ID`: the id the next `connect` will take (`None` when
    /// none is pending).
    pub fn connect_routing_id(&self) -> Option<Bytes> {
        self.o.connect_routing_id.clone()
    }
    /// `ZMQ_ROUTER_NOTIFY` (a mask of [`NOTIFY_CONNECT`] and [`NOTIFY_DISCONNECT`]).
    pub fn router_notify(&self) -> u32 {
        self.o.router_notify
    }
    /// `ZMQ_STREAM_NOTIFY`.
    pub fn stream_notify(&self) -> bool {
        self.o.stream_notify
    }
    /// `ZMQ_SNDBUF` (`None` = the OS default).
    pub fn sndbuf(&self) -> Option<u32> {
        self.o.sndbuf
    }
    /// `ZMQ_RCVBUF` (`None` = the OS default).
    pub fn rcvbuf(&self) -> Option<u32> {
        self.o.rcvbuf
    }
    /// `ZMQ_TOS` (0 = the OS default).
    pub fn tos(&self) -> u8 {
        self.o.tos
    }
    /// `ZMQ_TCP_MAXRT` (zero = the OS default).
    pub fn tcp_maxrt(&self) -> Duration {
        or_zero(self.o.tcp_maxrt)
    }
    /// `ZMQ_BINDTODEVICE` (empty = none).
    pub fn bind_to_device(&self) -> &str {
        &self.o.bind_to_device
    }
    /// `ZMQ_BACKLOG`.
    pub fn backlog(&self) -> u32 {
        self.o.backlog
    }
    /// `ZMQ_MULTICAST_HOPS`.
    pub fn multicast_hops(&self) -> u32 {
        self.o.multicast_hops
    }
    /// `ZMQ_CONNECT_TIMEOUT` (zero = the OS timeout).
    pub fn connect_timeout(&self) -> Duration {
        or_zero(self.o.connect_timeout)
    }
    /// `ZMQ_RECONNECT_STOP` (a mask of the `RECONNECT_STOP_*` bits).
    pub fn reconnect_stop(&self) -> u32 {
        self.o.reconnect_stop
    }
    /// `ZMQ_HELLO_MSG` (`None` when not set).
    pub fn hello_msg(&self) -> Option<Bytes> {
        (!self.o.hello_msg.is_empty()).then(|| self.o.hello_msg.clone())
    }
    /// `ZMQ_DISCONNECT_MSG` (`None` when not set).
    pub fn disconnect_msg(&self) -> Option<Bytes> {
        (!self.o.disconnect_msg.is_empty()).then(|| self.o.disconnect_msg.clone())
    }
    /// `ZMQ_HICCUP_MSG` (`None` when not set).
    pub fn hiccup_msg(&self) -> Option<Bytes> {
        (!self.o.hiccup_msg.is_empty()).then(|| self.o.hiccup_msg.clone())
    }
    /// `ZMQ_IPV6`.
    pub fn ipv6(&self) -> bool {
        self.o.ipv6
    }
    /// `ZMQ_IPV4ONLY` (the inverse of `ipv6`).
    pub fn ipv4only(&self) -> bool {
        !self.o.ipv6
    }
    /// `ZMQ_PRIORITY` (0 = the OS default).
    pub fn priority(&self) -> u32 {
        self.o.priority
    }
    /// `ZMQ_BUSY_POLL` (0 = the OS default).
    pub fn busy_poll(&self) -> u32 {
        self.o.busy_poll
    }
    /// `ZMQ_XSUB_VERBOSE_UNSUBSCRIBE`.
    pub fn xsub_verbose_unsubscribe(&self) -> bool {
        self.o.xsub_verbose_unsubs
    }
    /// `ZMQ_MECHANISM` (get-only): `"NULL"`, `"PLAIN"` or `"CURVE"`, the mechanism the
    /// security options select.
    pub fn mechanism(&self) -> &'static str {
        match self.o.security.mechanism {
            MechanismKind::Null => "NULL",
            MechanismKind::Plain => "PLAIN",
            MechanismKind::Curve => "CURVE",
        }
    }
    /// `ZMQ_SOCKS_PROXY` (empty = none).
    pub fn socks_proxy(&self) -> &str {
        &self.o.socks_proxy
    }
    /// `ZMQ_SOCKS_USERNAME`.
    pub fn socks_username(&self) -> &str {
        &self.o.socks_username
    }
    /// `ZMQ_SOCKS_PASSWORD`.
    pub fn socks_password(&self) -> &str {
        &self.o.socks_password
    }
    /// `ZMQ_PLAIN_SERVER`: PLAIN is the mechanism and this side is its server.
    pub fn plain_server(&self) -> bool {
        self.o.security.mechanism == MechanismKind::Plain && self.o.security.as_server
    }
    /// `ZMQ_PLAIN_USERNAME`.
    pub fn plain_username(&self) -> Bytes {
        self.o.security.plain_username.clone()
    }
    /// `ZMQ_PLAIN_PASSWORD`.
    pub fn plain_password(&self) -> Bytes {
        self.o.security.plain_password.clone()
    }
    /// `ZMQ_CURVE_SERVER`: CURVE is the mechanism and this side is its server.
    pub fn curve_server(&self) -> bool {
        self.o.security.mechanism == MechanismKind::Curve && self.o.security.as_server
    }
    /// `ZMQ_CURVE_PUBLICKEY` as set (not derived).
    pub fn curve_public_key(&self) -> Option<CurveKey> {
        self.o.security.curve_public.clone()
    }
    /// `ZMQ_CURVE_SECRETKEY`.
    pub fn curve_secret_key(&self) -> Option<CurveKey> {
        self.o.security.curve_secret.clone()
    }
    /// `ZMQ_CURVE_SERVERKEY`.
    pub fn curve_server_key(&self) -> Option<CurveKey> {
        self.o.security.curve_server_key.clone()
    }
    /// `ZMQ_ZAP_DOMAIN`.
    pub fn zap_domain(&self) -> &str {
        &self.o.zap_domain
    }
    /// `ZMQ_ZAP_ENFORCE_DOMAIN`.
    pub fn zap_enforce_domain(&self) -> bool {
        self.o.zap_enforce_domain
    }
    /// `RINGMQ_PEER_METADATA` (see [`SocketOption::PeerMetadata`]).
    pub fn peer_metadata(&self) -> bool {
        self.o.peer_metadata
    }
    /// `ZMQ_METADATA`: the value of the property `name` set on this socket.
    pub fn metadata(&self, name: &str) -> Option<Bytes> {
        self.o.metadata.get(name).cloned()
    }
}
