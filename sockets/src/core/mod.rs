//! The socket core: pattern and routing state without I/O, the sans-IO half of a
//! socket in the way quinn-proto is the sans-IO half of quinn.
//!
//! [`Core`] owns the peers and their queues ([`peers`]) and one [`Pattern`] (one module
//! per socket type). It never touches a proactor, a ZMTP session or a clock; it takes
//! inputs and says what the I/O shell (the `Socket` API and the connection tasks of
//! `crate::link`) must do:
//!
//! - from the application: [`Core::send`] answers with a [`Sent`] (hand the message to
//!   a peer's link now, wake a link that has queued output, hand it by reference to
//!   each fan-out target, or "blocked"); [`Core::recv`] gives the next message;
//!   [`Core::subscribe`] / [`Core::unsubscribe`];
//! - from connections: [`Core::attach`] after a handshake (may refuse, with a typed
//!   [`Refusal`]), [`Core::detach`] when a connection ends, [`Core::on_message`],
//!   [`Core::on_subscription`], [`Core::input_full`] (stop reading at the RCVHWM),
//!   [`Core::take_output`] / [`Core::flushed`] (a link taking queued messages and
//!   reporting them written);
//! - outputs: [`Core::drain_actions`] ([`Action`]: wake a link, resume a reader, send a
//!   subscription, close a connection) and [`Core::take_wakes`] (wake the application's
//!   waiting receivers / senders). Call them after every input (`has_output` says
//!   whether there is anything).
//!
//! Routing is O(1) per message whatever the number of idle peers: round-robin and
//! fair-queueing rotate over the peers that are ready (see [`peers`]), ROUTER looks its
//! peer up by routing id.

mod channel;
mod client;
mod dealer;
mod dish;
mod gather;
mod pair;
mod peer;
pub(crate) mod peers;
mod publish;
mod pull;
mod push;
mod radio;
mod rep;
mod req;
mod router;
mod scatter;
mod server;
mod stream;
mod subscribe;
pub(crate) mod subscriptions;
mod table;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use ringmq_zmtp::SocketType;

use crate::error::Error;
use crate::message::Message;
use crate::options::{Options, SocketOption};
pub(crate) use peers::PeerId;
use peers::Peers;
pub(crate) use peers::{PeerCounters, PeerSnapshot};
pub(crate) use table::PeerSlots;

/// What the shell does with a message after [`Core::send`].
#[derive(Debug)]
pub(crate) enum Sent {
    /// Nothing more: queued behind earlier messages whose link already knows, or
    /// dropped by design (counted in [`Drops`]).
    Done,
    /// Queued for `peer`, whose link must be woken to take it ([`Core::take_output`]).
    Wake(PeerId),
    /// Nothing is queued for `peer`: hand `msg` to its link now; if the link cannot take
    /// it, give it back with [`Core::requeue`]. It already counts against the SNDHWM,
    /// unless `write_through`: then the link writes it at once (REQ / REP: strict
    /// alternation leaves nothing to batch) and it leaves the socket's accounting.
    Direct {
        peer: PeerId,
        msg: Message,
        write_through: bool,
    },
    /// Fan-out: hand `msg` by reference to each peer of [`Core::take_fanout`] (each
    /// already counted), [`Core::requeue`] a copy where a link cannot take it.
    Fanout(Message),
    /// No peer can take the message now; here it is back.
    Blocked(Message),
}

/// What the core asks the shell to do, besides waking the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Messages wait in `peer`'s queue: its link should take them.
    Output(PeerId),
    /// `peer`'s inbound queue went below the RCVHWM: its link may read again.
    ResumeInput(PeerId),
    /// Send a SUBSCRIBE (`subscribe`) or CANCEL for `topic` to `peer`, or to every
    /// attached peer when `peer` is `None`.
    Subscription {
        peer: Option<PeerId>,
        topic: Bytes,
        subscribe: bool,
    },
    /// End `peer`'s connection.
    Disconnect(PeerId, Refusal),
}

/// Why the socket refuses a peer that completed its handshake, or drops one.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// ROUTER: another peer already uses this routing id (ROUTER_HANDOVER is off).
    DuplicateRoutingId(Bytes),
    /// ROUTER with ROUTER_HANDOVER: a new peer took over this peer's routing id.
    HandedOver(Bytes),
    /// PAIR: the socket already has its one peer.
    PairBusy,
    /// The socket already holds `max` accepted connections (`RINGMQ_MAX_PEERS`): the
    /// new one is closed as soon as it is accepted, before its handshake.
    TooManyPeers {
        /// The cap.
        max: usize,
    },
    /// CHANNEL: the socket already has its one peer.
    ChannelBusy,
    /// A multipart message arrived on a draft socket type, which carries single-part
    /// messages only (libzmq drops such a message silently; ringmq drops the peer).
    Multipart(SocketType),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::DuplicateRoutingId(_) => f.write_str("duplicate routing id"),
            Refusal::HandedOver(_) => f.write_str("routing id taken over by a new peer"),
            Refusal::PairBusy => f.write_str("PAIR socket already has a peer"),
            Refusal::TooManyPeers { max } => {
                write!(
                    f,
                    "socket already holds its cap of {max} accepted connections"
                )
            }
            Refusal::ChannelBusy => f.write_str("CHANNEL socket already has a peer"),
            Refusal::Multipart(kind) => {
                write!(f, "multipart message on a {kind} socket (single-part only)")
            }
        }
    }
}

/// Messages dropped by design, by cause (libzmq drops the same ones without counting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drops {
    /// PUB / XPUB: a subscriber was at its SNDHWM; ROUTER: the peer was at its SNDHWM
    /// (without ROUTER_MANDATORY).
    pub hwm: u64,
    /// ROUTER: no peer has the routing id (without ROUTER_MANDATORY), or the message
    /// had nothing after the routing id.
    pub unroutable: u64,
    /// A reply (REP) or routed message whose peer had left.
    pub peer_gone: u64,
    /// Queued, or taken by a connection and not yet written, when the peer's connection
    /// ended for good (disconnect, unbind, ROUTER / bind-side peers) or broke.
    pub disconnected: u64,
    /// Replaced by a newer message under CONFLATE.
    pub conflated: u64,
    /// Received but not for the application: REQ replies from a peer it did not ask (or
    /// to an earlier request), REP requests without an envelope delimiter, data sent
    /// to PUB or PUSH.
    pub discarded: u64,
}

/// One socket type's behaviour: how it routes sends, what `recv` returns, which peers
/// it admits and what it does when they come and go. The [`Peers`] machinery does
/// the queueing; a new socket type is one module implementing this plus its arm in
/// [`pattern_for`].
pub(crate) trait Pattern {
    /// Routes one message (not empty).
    fn send(&mut self, peers: &mut Peers, opts: &Options, msg: Message) -> Result<Sent, Error>;

    /// The next message for the application, if one is ready.
    fn recv(&mut self, peers: &mut Peers, opts: &Options) -> Result<Option<Message>, Error>;

    /// Up to `max` messages, appended to `out`, exactly as that many [`Pattern::recv`]
    /// calls would give them: how many. An error before the first is returned; after,
    /// it ends the batch (the next call meets it again: receive errors follow the
    /// pattern's state). Fair-queueing types move the messages of a lone peer with
    /// input in one go ([`Peers::next_inputs`]).
    fn recv_many(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        out: &mut Vec<Message>,
        max: usize,
    ) -> Result<usize, Error> {
        let mut n = 0;
        while n < max {
            match self.recv(peers, opts) {
                Ok(Some(m)) => {
                    out.push(m);
                    n += 1;
                }
                Ok(None) => break,
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }

    /// A connection finished its handshake: admit it (saying the routing id to record,
    /// and a peer to evict) or refuse it. `existing`: the connect-side peer it joins.
    fn admit(
        &mut self,
        peers: &Peers,
        opts: &Options,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<Admit, Refusal> {
        let _ = (peers, opts, existing);
        Ok(Admit {
            routing_id: identity,
            evict: None,
        })
    }

    /// `peer` was attached (after [`Pattern::admit`]).
    fn attached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        let _ = (peers, opts, peer);
    }

    /// `peer`'s connection ended (the peer itself may stay, on the connect side).
    fn detached(&mut self, peers: &mut Peers, opts: &Options, peer: PeerId) {
        let _ = (peers, opts, peer);
    }

    /// `peer` leaves the routing set.
    fn removed(&mut self, peers: &mut Peers, peer: PeerId) {
        let _ = (peers, peer);
    }

    /// Whether a message that arrived from `peer` is kept for `recv` (false: filtered
    /// out or discarded). The pattern may take frames out of it (PUB / XPUB:
    /// subscriptions inside a multi-part message).
    fn accepts(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        peer: PeerId,
        msg: &mut Message,
    ) -> bool {
        let _ = (peers, opts, peer, msg);
        true
    }

    /// Whether every send is a plain [`Peers::round_robin_sent`] with no state of the
    /// pattern's own (PUSH, DEALER, PAIR): a batch may then hand a run of messages to
    /// one peer at once ([`Core::send_run`]).
    fn sends_runs(&self) -> bool {
        false
    }

    /// Whether [`Pattern::accepts`] keeps every message unchanged (it is not
    /// overridden): arrivals may then be queued in runs ([`Core::on_messages`]).
    fn accepts_all(&self) -> bool {
        false
    }

    /// SUB / XSUB: the subscriptions [`Pattern::accepts`] matches a message's first
    /// frame against, and nothing else: arrivals may then be queued in runs that
    /// filter them the same way ([`Core::input_run`]).
    fn input_topics(&self) -> Option<&subscriptions::Subscriptions> {
        None
    }

    /// SERVER / PEER: a message from `peer` is kept for `recv` ([`Pattern::accepts`]
    /// said yes): attach what travels out of band, the routing id (replacing any the
    /// message brought over inproc). Only called for those types.
    fn stamp(&mut self, peers: &Peers, peer: PeerId, msg: &mut Message) {
        let _ = (peers, peer, msg);
    }

    /// `connect` created `peer` before any connection (SERVER / PEER: its routing id
    /// is given now, so that `connect_peer` can return it).
    fn connect_peer_added(&mut self, peers: &mut Peers, peer: PeerId) {
        let _ = (peers, peer);
    }

    /// SUB: the application (un)subscribes; XPUB with XPUB_MANUAL: subscribes the peer
    /// of the last subscription notice read.
    fn subscribe(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        topic: &[u8],
        on: bool,
    ) -> Result<(), Error> {
        let _ = (peers, opts, topic, on);
        Err(Error::NotSupported {
            operation: if on { "subscribe" } else { "unsubscribe" },
            socket_type: self.kind(),
        })
    }

    /// PUB / XPUB: `peer` subscribed (`on`) to or cancelled `topic`.
    fn peer_subscription(
        &mut self,
        peers: &mut Peers,
        opts: &Options,
        peer: PeerId,
        topic: Bytes,
        on: bool,
    ) {
        let _ = (peers, opts, peer, topic, on);
    }

    /// RADIO: `peer` takes every group (a datagram link; the DISH behind it filters).
    fn receives_everything(&mut self, peer: PeerId) {
        let _ = peer;
    }

    /// Whether connect-side peers outlive their connections (queues survive
    /// reconnects).
    fn keeps_connect_peers(&self) -> bool {
        true
    }

    /// Whether the pattern sends round-robin ([`Peers::round_robin`]), so that the
    /// peers keep a rotation of those with room.
    fn sends_round_robin(&self) -> bool {
        false
    }

    /// ZMQ_EVENTS' POLLIN: whether `recv` would return a message now (a filtered or
    /// malformed one may still be skipped, as in libzmq).
    fn readable(&self, peers: &Peers) -> bool {
        peers.has_input()
    }

    /// ZMQ_EVENTS' POLLOUT: whether `send` would take a message now without waiting.
    /// Round-robin types: a peer has room. The routing and fan-out types are always
    /// writable, as in libzmq (what happens to a message for a full or unknown peer is
    /// their send's business); types that cannot send override this with false.
    fn writable(&self, peers: &Peers, opts: &Options) -> bool {
        let _ = opts;
        !self.sends_round_robin() || peers.has_room_any()
    }

    /// PUB / XPUB: the peers of the last fan-out to hand the message to directly.
    fn take_fanout(&mut self) -> Vec<PeerId> {
        Vec::new()
    }

    /// Gives the vector of [`Pattern::take_fanout`] back for reuse.
    fn restore_fanout(&mut self, targets: Vec<PeerId>) {
        let _ = targets;
    }

    /// PUB / XPUB: the last send filled some subscriber's queue to its SNDHWM.
    fn take_fanout_full(&mut self) -> bool {
        false
    }

    /// PUB / XPUB / SUB / XSUB: the number of distinct topics subscribed (libzmq's
    /// `ZMQ_TOPICS_COUNT`); `None` for the other types.
    fn topics_count(&self) -> Option<usize> {
        None
    }

    /// The socket type.
    fn kind(&self) -> SocketType;
}

/// What [`Pattern::admit`] decided.
pub(crate) struct Admit {
    /// The routing id to record for the peer.
    pub routing_id: Option<Bytes>,
    /// A peer that must leave first (ROUTER_HANDOVER).
    pub evict: Option<PeerId>,
}

/// The pattern of a socket type: the one place that lists them.
fn pattern_for(kind: SocketType) -> Box<dyn Pattern> {
    match kind {
        SocketType::Req => Box::new(req::Req::default()),
        SocketType::Rep => Box::new(rep::Rep::default()),
        SocketType::Dealer => Box::new(dealer::Dealer),
        SocketType::Router => Box::new(router::Router::new()),
        SocketType::Pub => Box::new(publish::Publish::new(false)),
        SocketType::XPub => Box::new(publish::Publish::new(true)),
        SocketType::Sub => Box::new(subscribe::Subscribe::new(false)),
        SocketType::XSub => Box::new(subscribe::Subscribe::new(true)),
        SocketType::Push => Box::new(push::Push),
        SocketType::Pull => Box::new(pull::Pull),
        SocketType::Pair => Box::new(pair::Pair::default()),
        SocketType::Stream => Box::new(stream::Stream::new()),
        SocketType::Radio => Box::new(radio::Radio::default()),
        SocketType::Dish => Box::new(dish::Dish::default()),
        SocketType::Server => Box::new(server::Server::new(SocketType::Server)),
        SocketType::Client => Box::new(client::Client),
        SocketType::Scatter => Box::new(scatter::Scatter),
        SocketType::Gather => Box::new(gather::Gather),
        SocketType::Peer => Box::new(peer::peer()),
        SocketType::Channel => Box::new(channel::Channel::default()),
        // `SocketType` may grow; a test checks that every type has its arm.
        other => unreachable!("socket type {other} has no pattern"),
    }
}

/// The socket core: options, peers, pattern. See the module documentation.
pub(crate) struct Core {
    kind: SocketType,
    /// SERVER / PEER: arrivals get their peer's routing id ([`Pattern::stamp`]).
    stamps: bool,
    /// Arrivals may be queued in runs ([`Core::input_run`]): the pattern keeps every
    /// message as it is or filters by topic alone, and does not stamp them.
    queues_runs: bool,
    pub(crate) opts: Options,
    peers: Peers,
    pattern: Box<dyn Pattern>,
}

impl Core {
    pub(crate) fn new(kind: SocketType, opts: Options) -> Core {
        let pattern = pattern_for(kind);
        let mut peers = Peers::new(pattern.sends_round_robin());
        peers.conflate = opts.conflate;
        let stamps = matches!(kind, SocketType::Server | SocketType::Peer);
        Core {
            kind,
            stamps,
            queues_runs: !stamps && (pattern.accepts_all() || pattern.input_topics().is_some()),
            opts,
            peers,
            pattern,
        }
    }

    pub(crate) fn kind(&self) -> SocketType {
        self.kind
    }

    /// Wire bytes of a connection of `peer` that ended (see `Peers::add_traffic`).
    pub(crate) fn add_traffic(&mut self, peer: PeerId, bytes_in: u64, bytes_out: u64) {
        self.peers.add_traffic(peer, bytes_in, bytes_out);
    }

    /// Every peer's figures and the counters of the peers that left (`Socket::stats`).
    pub(crate) fn snapshot(&self) -> (Vec<PeerSnapshot>, PeerCounters) {
        self.peers.snapshot()
    }

    /// Number of peers (attached, connecting, or gone with unread messages).
    /// ZMQ_EVENTS: (readable, writable), see [`Pattern::readable`].
    pub(crate) fn events(&self) -> (bool, bool) {
        (
            self.pattern.readable(&self.peers),
            self.pattern.writable(&self.peers, &self.opts),
        )
    }

    pub(crate) fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Sets an option (already checked to apply to the socket type).
    pub(crate) fn set_option(&mut self, opt: SocketOption) -> Result<(), Error> {
        match opt {
            SocketOption::Subscribe(topic) => self.subscribe(&topic),
            SocketOption::Unsubscribe(topic) => self.unsubscribe(&topic),
            other => {
                self.opts.set(other)?;
                self.peers.conflate = self.opts.conflate;
                Ok(())
            }
        }
    }

    // ---- the application's side

    /// Routes a message (see [`Sent`]).
    pub(crate) fn send(&mut self, msg: Message) -> Result<Sent, Error> {
        if msg.is_empty() {
            return Err(Error::EmptyMessage);
        }
        self.pattern.send(&mut self.peers, &self.opts, msg)
    }

    /// A batch send: when the next `max` messages (none of them empty) would all go
    /// to one peer's link directly, as many [`Core::send`]s would route them (a
    /// pattern that [`sends_runs`](Pattern::sends_runs), one peer in the rotation,
    /// nothing queued for it), routes up to `max` of them at once: the peer and how
    /// many, counted as handed to its link. `None`: route them one by one.
    pub(crate) fn send_run(&mut self, max: usize) -> Option<(PeerId, usize)> {
        if !self.pattern.sends_runs() {
            return None;
        }
        self.peers.direct_run(max)
    }

    /// The next message, if one is ready.
    pub(crate) fn recv(&mut self) -> Result<Option<Message>, Error> {
        self.pattern.recv(&mut self.peers, &self.opts)
    }

    /// Up to `max` messages that are ready, appended to `out`, each as
    /// [`Core::recv`] would give it: how many (see [`Pattern::recv_many`]).
    pub(crate) fn recv_many(&mut self, out: &mut Vec<Message>, max: usize) -> Result<usize, Error> {
        self.pattern
            .recv_many(&mut self.peers, &self.opts, out, max)
    }

    /// SUB / XSUB: subscribes (counted; every subscribe is forwarded, like libzmq).
    /// DISH: joins a group.
    pub(crate) fn subscribe(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.pattern
            .subscribe(&mut self.peers, &self.opts, topic, true)
    }

    /// SUB / XSUB: drops one subscription; peers hear of it when it was the last.
    /// DISH: leaves a group.
    pub(crate) fn unsubscribe(&mut self, topic: &[u8]) -> Result<(), Error> {
        self.pattern
            .subscribe(&mut self.peers, &self.opts, topic, false)
    }

    /// `ZMQ_TOPICS_COUNT` (PUB, XPUB, SUB, XSUB).
    pub(crate) fn topics_count(&self) -> Result<usize, Error> {
        self.pattern.topics_count().ok_or(Error::NotSupported {
            operation: "topics_count",
            socket_type: self.kind,
        })
    }

    /// After [`Sent::Fanout`]: the peers to hand the message to.
    pub(crate) fn take_fanout(&mut self) -> Vec<PeerId> {
        self.pattern.take_fanout()
    }

    pub(crate) fn restore_fanout(&mut self, targets: Vec<PeerId>) {
        self.pattern.restore_fanout(targets);
    }

    /// Whether the last send filled some subscriber's queue to its SNDHWM (the next one
    /// would be dropped for it unless its link writes first).
    pub(crate) fn take_fanout_full(&mut self) -> bool {
        self.pattern.take_fanout_full()
    }

    /// A link could not take a message handed to it ([`Sent::Direct`] with its
    /// `write_through`, or [`Sent::Fanout`] with false): it waits in the queue; false
    /// when the peer is gone.
    pub(crate) fn requeue(&mut self, peer: PeerId, msg: Message, write_through: bool) -> bool {
        self.peers.requeue(peer, msg, write_through)
    }

    /// `(queued, received)` of `peer`, see [`Peers::queue_lens`].
    pub(crate) fn queue_lens(&self, peer: PeerId) -> Option<(usize, usize)> {
        self.peers.queue_lens(peer)
    }

    /// Messages dropped by design so far.
    pub(crate) fn drops(&self) -> Drops {
        self.peers.drops
    }

    // ---- the connections' side

    /// Whether connect-side peers outlive their connections on this socket (not with
    /// IMMEDIATE, nor on ROUTER).
    pub(crate) fn keeps_connect_peers(&self) -> bool {
        !self.opts.immediate && self.pattern.keeps_connect_peers()
    }

    /// A peer for a `connect` that exists before its connection (messages queue for
    /// it), when the socket keeps such peers.
    pub(crate) fn add_connect_peer(&mut self) -> Option<PeerId> {
        if !self.keeps_connect_peers() {
            return None;
        }
        let peer = self.peers.add(&self.opts);
        self.pattern.connect_peer_added(&mut self.peers, peer);
        Some(peer)
    }

    /// A connection finished its handshake, announcing `identity`: joins it to
    /// `existing` (its connect-side peer) or to a new peer.
    pub(crate) fn attach(
        &mut self,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<PeerId, Refusal> {
        let existing = existing.filter(|&id| self.peers.live(id).is_some());
        let admit = self
            .pattern
            .admit(&self.peers, &self.opts, existing, identity)?;
        if let Some(old) = admit.evict {
            let rid = self.routing_id(old).unwrap_or_default();
            self.peers
                .push_action(Action::Disconnect(old, Refusal::HandedOver(rid)));
            self.detach(old, true);
        }
        let id = existing.unwrap_or_else(|| self.peers.add(&self.opts));
        self.peers.attach(id, admit.routing_id);
        if self.opts.probe_router
            && matches!(
                self.kind,
                SocketType::Router | SocketType::Dealer | SocketType::Req
            )
        {
            // PROBE_ROUTER: an empty message, before anything queued for the peer.
            self.peers.queue_to(id, Message::from(Bytes::new()));
        }
        if !self.opts.hello_msg.is_empty()
            && matches!(
                self.kind,
                SocketType::Router
                    | SocketType::Dealer
                    | SocketType::Client
                    | SocketType::Server
                    | SocketType::Peer
            )
        {
            // HELLO_MSG: first of all (before the probe).
            let hello = Message::from(self.opts.hello_msg.clone());
            self.peers.queue_to(id, hello);
        }
        self.pattern.attached(&mut self.peers, &self.opts, id);
        Ok(id)
    }

    /// The routing id of `peer` (ROUTER's key, or the identity it announced).
    pub(crate) fn routing_id(&self, peer: PeerId) -> Option<Bytes> {
        self.peers.get(peer)?.routing_id.clone()
    }

    /// A connection made by `connect` broke and will be retried: DEALER, CLIENT and
    /// PEER with HICCUP_MSG receive that message (before the shell detaches the
    /// peer; PEER's carries the peer's routing id, as its other arrivals do).
    pub(crate) fn hiccup(&mut self, peer: PeerId) {
        if matches!(
            self.kind,
            SocketType::Dealer | SocketType::Client | SocketType::Peer
        ) && !self.opts.hiccup_msg.is_empty()
        {
            let mut msg = Message::from(self.opts.hiccup_msg.clone());
            if self.stamps {
                self.pattern.stamp(&self.peers, peer, &mut msg);
            }
            self.peers.push_input(peer, msg);
        }
    }

    /// `peer`'s connection ended. With `remove` the peer leaves the routing set too
    /// (its queue is dropped; its received messages stay readable).
    pub(crate) fn detach(&mut self, peer: PeerId, remove: bool) {
        if self.peers.get(peer).is_none() {
            return;
        }
        self.pattern.detached(&mut self.peers, &self.opts, peer);
        self.peers.detach(peer);
        if remove {
            self.pattern.removed(&mut self.peers, peer);
            self.peers.remove(peer);
        }
    }

    /// How many more messages `peer`'s inbound queue takes before its RCVHWM; at 0
    /// its link is marked paused, as by [`Core::input_full`].
    pub(crate) fn input_room(&mut self, peer: PeerId) -> usize {
        self.peers.input_room(peer)
    }

    /// A run of messages arrived from `peer`, in order (at most [`Core::input_room`]
    /// of them): each is handled as [`Core::on_message`] would, in one look-up of the
    /// peer when the pattern keeps every message as it is ([`Pattern::accepts_all`]).
    pub(crate) fn on_messages(&mut self, peer: PeerId, msgs: impl Iterator<Item = Message>) {
        if self.stamps || !self.pattern.accepts_all() {
            for msg in msgs {
                self.on_message(peer, msg);
            }
            return;
        }
        self.peers.push_inputs(peer, msgs);
    }

    /// Whether arrivals may be queued in runs ([`Core::input_run`]): the pattern keeps
    /// every message as it is ([`Pattern::accepts_all`]) or filters by topic alone
    /// ([`Pattern::input_topics`]), and does not stamp them.
    pub(crate) fn queues_runs(&self) -> bool {
        self.queues_runs
    }

    /// For a run of messages arriving from `peer` one at a time: a handle that queues
    /// each as [`Core::on_message`] would, with one look-up of the peer, when the
    /// pattern keeps every message as it is ([`Pattern::accepts_all`]) and does not
    /// stamp them; `None` otherwise (call `on_message` for each), or for an unknown
    /// peer, or under CONFLATE.
    pub(crate) fn input_run(&mut self, peer: PeerId) -> Option<peers::InputRun<'_>> {
        if !self.queues_runs {
            return None;
        }
        let filter = match self.pattern.accepts_all() {
            true => None,
            false => Some(peers::TopicFilter {
                topics: self.pattern.input_topics()?,
                invert: self.opts.invert_matching,
            }),
        };
        self.peers.input_run(peer, filter)
    }

    /// A message arrived from `peer`. False when it was filtered out or discarded (a
    /// multipart message on a draft type also ends the peer's connection).
    pub(crate) fn on_message(&mut self, peer: PeerId, mut msg: Message) -> bool {
        if !self
            .pattern
            .accepts(&mut self.peers, &self.opts, peer, &mut msg)
        {
            return false;
        }
        if self.stamps {
            self.pattern.stamp(&self.peers, peer, &mut msg);
        }
        self.peers.push_input(peer, msg)
    }

    /// PUB / XPUB: `peer` subscribed (`on`) or cancelled `topic`.
    pub(crate) fn on_subscription(&mut self, peer: PeerId, topic: Bytes, on: bool) {
        self.pattern
            .peer_subscription(&mut self.peers, &self.opts, peer, topic, on);
    }

    /// RADIO: `peer` (a datagram link) takes every group.
    pub(crate) fn receives_everything(&mut self, peer: PeerId) {
        self.pattern.receives_everything(peer);
    }

    /// Whether `peer`'s link should stop reading (its inbound queue is at the RCVHWM);
    /// [`Action::ResumeInput`] follows once `recv` drains it.
    pub(crate) fn input_full(&mut self, peer: PeerId) -> bool {
        self.peers.input_full(peer)
    }

    /// Hands `peer`'s queued messages to its link (`take` encodes one and says whether
    /// it wants more); they count as taken until [`Core::flushed`].
    pub(crate) fn take_output(&mut self, peer: PeerId, take: impl FnMut(Message) -> bool) {
        self.peers.take_output(peer, take);
    }

    /// Whether messages wait in `peer`'s queue.
    pub(crate) fn has_queued_output(&self, peer: PeerId) -> bool {
        self.peers.has_queued_output(peer)
    }

    /// `peer`'s link took its batch to write it: room below the SNDHWM again. Returns
    /// how many messages left the accounting (the link counts them until written).
    pub(crate) fn flushed(&mut self, peer: PeerId) -> usize {
        self.peers.flushed(peer)
    }

    /// A connection ended with `n` messages that had left the socket's accounting
    /// (taken for a write, or written through) and were not yet handed to the kernel:
    /// dropped with it (counted as [`Drops::disconnected`]).
    pub(crate) fn lost_in_flight(&mut self, n: u64) {
        self.peers.drops.disconnected += n;
    }

    /// Messages that arrived on a connection the socket refused after its handshake
    /// (in the same read): never delivered (counted as [`Drops::discarded`]).
    pub(crate) fn refused_input(&mut self, n: u64) {
        self.peers.drops.discarded += n;
    }

    /// `peer`'s link passed on `n` of the messages it took (an inproc link whose peer
    /// socket took them): room below the SNDHWM for as many.
    pub(crate) fn flushed_some(&mut self, peer: PeerId, n: usize) {
        self.peers.flushed_some(peer, n);
    }

    /// True when no message waits in any peer's queue (links may still be writing).
    pub(crate) fn all_sent(&self) -> bool {
        self.peers.all_sent()
    }

    // ---- outputs

    /// Whether actions or wake-ups are pending.
    pub(crate) fn has_output(&self) -> bool {
        self.peers.has_output()
    }

    /// Whether actions are pending.
    pub(crate) fn has_actions(&self) -> bool {
        self.peers.has_actions()
    }

    /// Moves the pending actions into `into`.
    pub(crate) fn drain_actions(&mut self, into: &mut Vec<Action>) {
        self.peers.drain_actions(into);
    }

    /// The wake-ups asked for since the last call: `(receivers, senders)`.
    pub(crate) fn take_wakes(&mut self) -> (bool, bool) {
        self.peers.take_wakes()
    }
}

/// Round-robin send with `write_through` as the only choice (PUSH, DEALER, PAIR).
fn send_round_robin(peers: &mut Peers, msg: Message) -> Sent {
    peers.round_robin_sent(msg)
}

/// Fair-queued receive (PULL, DEALER, PAIR, SUB, XSUB).
fn recv_fair(peers: &mut Peers) -> Option<Message> {
    peers.next_input_msg()
}

/// [`recv_fair`] for up to `max` messages ([`Pattern::recv_many`]).
fn recv_fair_many(peers: &mut Peers, out: &mut Vec<Message>, max: usize) -> usize {
    peers.next_inputs(false, out, max)
}

/// The draft types carry single-part messages only: a multipart send is refused with a
/// clear error (libzmq: `EINVAL`). Checked in their patterns, off the other types' path.
fn single_part_send(msg: &Message, kind: SocketType) -> Result<(), Error> {
    if msg.len() > 1 {
        return Err(not_supported("sending a multipart message", kind));
    }
    Ok(())
}

/// A draft type's arrival: false for a multipart message, which is dropped (counted)
/// and costs `peer` its connection (`Refusal::Multipart`; libzmq drops the message
/// silently and keeps the connection).
fn single_part_arrival(peers: &mut Peers, peer: PeerId, msg: &Message, kind: SocketType) -> bool {
    if msg.len() > 1 {
        peers.drops.discarded += 1;
        peers.push_action(Action::Disconnect(peer, Refusal::Multipart(kind)));
        return false;
    }
    true
}

fn not_supported(operation: &'static str, socket_type: SocketType) -> Error {
    Error::NotSupported {
        operation,
        socket_type,
    }
}
