//! The state one socket shares with its connection tasks: peers and their queues, the
//! routing tables, and the per-type REQ / REP / subscription state.
//!
//! Everything lives in one `RefCell<Core>` inside [`Shared`]; no borrow is ever held
//! across an `.await`. The wake-up lists sit beside the cell so tasks can wait on them
//! without borrowing it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use bytes::Bytes;
use ringmq_zmtp::{Metadata, SocketType};

use crate::connection::Conn;
use crate::message::Message;
use crate::monitor::Monitors;
use crate::options::{hwm_bound, Options};
use crate::routing::trie::Subscriptions;
use crate::util::{AbortHandle, Notify, Stop};

pub(crate) type PeerId = u64;

/// Hashes the socket's own ids (peer and connection ids: sequential, never chosen by a
/// peer) with one multiplication instead of SipHash.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A map keyed by the socket's own ids.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// One peer: a connection (current or, on the connect side, expected) with its queues.
pub(crate) struct Peer {
    pub out: VecDeque<Message>,
    pub inq: VecDeque<Message>,
    pub sndhwm: usize,
    pub rcvhwm: usize,
    /// The established connection, if any.
    pub conn: Option<Rc<Conn>>,
    /// ROUTER's key for this peer; on other types the identity the peer announced.
    pub routing_id: Option<Bytes>,
    /// PUB / XPUB: what this peer subscribed to (each topic at most once, like
    /// libzmq's per-pipe trie).
    pub subs: Subscriptions,
    /// The reader stopped reading because `inq` reached the RCVHWM.
    pub reader_paused: bool,
    /// Disconnected; kept only until its received messages are read.
    pub gone: bool,
}

impl Peer {
    pub(crate) fn new(opts: &Options) -> Peer {
        Peer {
            out: VecDeque::new(),
            inq: VecDeque::new(),
            sndhwm: hwm_bound(opts.sndhwm),
            rcvhwm: hwm_bound(opts.rcvhwm),
            conn: None,
            routing_id: None,
            subs: Subscriptions::default(),
            reader_paused: false,
            gone: false,
        }
    }

    /// Whether a message can be queued for this peer now.
    pub(crate) fn can_take(&self, conflate: bool) -> bool {
        !self.gone && (conflate || self.queued() < self.sndhwm)
    }

    /// Messages waiting for the writer: queued, or already encoded into the session's
    /// output ([`Conn::encode_now`]) but not yet taken by the writer.
    pub(crate) fn queued(&self) -> usize {
        self.out.len() + self.conn.as_ref().map_or(0, |c| c.eager.get())
    }

    /// Writes a message from the calling task when the connection is idle (see
    /// [`Conn::write_now`]), else queues it like [`Peer::push_out`]. For REQ and REP,
    /// whose strict alternation leaves nothing to batch: a streaming socket would pay a
    /// system call per message this way.
    pub(crate) fn send_now(&mut self, msg: Message) {
        let mut msg = msg;
        if self.out.is_empty() && !self.gone {
            if let Some(c) = &self.conn {
                match c.write_now(msg) {
                    Ok(()) => return,
                    Err(m) => msg = m,
                }
            }
        }
        self.push_out(msg, false);
    }

    /// Whether a message may skip the queue and go straight into the session's output
    /// batch: nothing queued before it (order), and no CONFLATE (which keeps only the
    /// newest queued message).
    fn may_encode_now(&self, conflate: bool) -> bool {
        !conflate && self.out.is_empty()
    }

    /// Queues a message (the caller checked `can_take`) and wakes the writer. With
    /// nothing queued before it, the message goes straight into the session's output
    /// batch instead ([`Conn::encode_now`]).
    pub(crate) fn push_out(&mut self, msg: Message, conflate: bool) {
        let mut msg = msg;
        if self.may_encode_now(conflate) {
            if let Some(c) = &self.conn {
                match c.encode_now(msg) {
                    Ok(()) => return,
                    Err(m) => msg = m,
                }
            }
        }
        self.enqueue(msg, conflate);
    }

    /// [`Peer::push_out`] for a message every subscriber gets (PUB): encoded by
    /// reference when it may go straight into the batch ([`Conn::encode_shared`]),
    /// cloned into the queue otherwise.
    pub(crate) fn push_out_shared(&mut self, msg: &Message, conflate: bool) {
        let encoded = self.may_encode_now(conflate)
            && self.conn.as_ref().is_some_and(|c| c.encode_shared(msg));
        if !encoded {
            self.enqueue(msg.clone(), conflate);
        }
    }

    /// Puts a message on the outbound queue and wakes the writer.
    fn enqueue(&mut self, msg: Message, conflate: bool) {
        if conflate {
            self.out.clear();
        }
        self.out.push_back(msg);
        if let Some(c) = &self.conn {
            c.wake_writer.notify();
        }
    }
}

/// REQ's position in its send / receive cycle.
#[derive(Default)]
pub(crate) struct ReqState {
    /// The peer the last request went to, while a reply is expected.
    pub waiting_on: Option<PeerId>,
    /// The request id of the last request (REQ_CORRELATE).
    pub request_id: u32,
}

/// A bound endpoint.
pub(crate) struct BindEntry {
    pub id: u64,
    pub given: String,
    pub actual: String,
    pub stop: Rc<Stop>,
    /// The accept loop: aborting it closes the listener synchronously.
    pub task: AbortHandle,
}

/// A connected endpoint.
pub(crate) struct ConnectEntry {
    pub id: u64,
    pub endpoint: String,
    /// The peer that outlives reconnects (not with IMMEDIATE, nor on ROUTER).
    pub peer: Option<PeerId>,
    pub stop: Rc<Stop>,
}

/// The socket state.
pub(crate) struct Core {
    pub kind: SocketType,
    pub opts: Options,
    pub peers: IdMap<Peer>,
    /// Peer ids in arrival order; the routing cursors index into it.
    pub order: Vec<PeerId>,
    pub out_cursor: usize,
    pub in_cursor: usize,
    next_id: u64,
    /// ROUTER: routing id to peer.
    pub by_routing_id: HashMap<Bytes, PeerId>,
    next_generated_id: u32,
    /// SUB / XSUB: our subscriptions (counted). XPUB: topics subscribed by at least one
    /// peer, counted once per peer.
    pub subscriptions: Subscriptions,
    /// XPUB: subscription messages for `recv`.
    pub xpub_pending: VecDeque<Message>,
    pub req: ReqState,
    /// REP: the peer and envelope of the request being answered.
    pub rep: Option<(PeerId, Vec<Bytes>)>,
    pub binds: Vec<BindEntry>,
    pub connects: Vec<ConnectEntry>,
    /// Every live connection, handshaking or established, by id.
    pub conns: IdMap<Rc<Conn>>,
    pub monitors: Monitors,
    pub last_endpoint: Option<String>,
    /// `close` started (or the socket was dropped): no more send / recv.
    pub closing: bool,
    /// Every task was told to stop.
    pub terminated: bool,
    /// PUB / XPUB: a send filled some peer's queue to its SNDHWM, so the next one would
    /// be dropped for that peer unless its writer runs first (`Socket::send` yields).
    pub fanout_full: bool,
}

/// What a socket shares with its background tasks.
pub(crate) struct Shared<P> {
    pub proactor: P,
    pub core: RefCell<Core>,
    /// A message arrived (or a peer went away: REQ / XPUB state changed).
    pub recv_ready: Notify,
    /// Room appeared in some peer's queue, or a peer arrived.
    pub send_ready: Notify,
    /// A writer flushed, or a peer went away (for `close` with linger).
    pub progress: Notify,
    /// Sends completed without waiting since the sender last let other tasks run.
    pub unyielded_sends: Cell<u32>,
}

impl Core {
    pub(crate) fn new(kind: SocketType) -> Core {
        Core {
            kind,
            opts: Options::default(),
            peers: IdMap::default(),
            order: Vec::new(),
            out_cursor: 0,
            in_cursor: 0,
            next_id: 1,
            by_routing_id: HashMap::new(),
            // libzmq starts generated ids at a random value; any start works.
            next_generated_id: std::process::id().wrapping_mul(2_654_435_761),
            subscriptions: Subscriptions::default(),
            xpub_pending: VecDeque::new(),
            req: ReqState::default(),
            rep: None,
            binds: Vec::new(),
            connects: Vec::new(),
            conns: IdMap::default(),
            monitors: Monitors::default(),
            last_endpoint: None,
            closing: false,
            terminated: false,
            fanout_full: false,
        }
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Adds a peer to the routing set.
    pub(crate) fn add_peer(&mut self, peer: Peer) -> PeerId {
        let id = self.next_id();
        self.peers.insert(id, peer);
        self.order.push(id);
        id
    }

    /// Whether connect-side peers survive disconnections on this socket.
    pub(crate) fn keeps_connect_peers(&self) -> bool {
        !self.opts.immediate && self.kind != SocketType::Router
    }

    /// A connection finished its handshake: joins it to its peer (creating the peer on
    /// the bind side and with IMMEDIATE). `Err` refuses the peer with a reason.
    pub(crate) fn attach(
        &mut self,
        conn: &Rc<Conn>,
        existing: Option<PeerId>,
        metadata: &Metadata,
    ) -> Result<PeerId, String> {
        let identity = metadata
            .get(ringmq_zmtp::metadata::IDENTITY)
            .filter(|id| !id.is_empty())
            .cloned();
        if self.kind == SocketType::Pair {
            let busy = self
                .peers
                .iter()
                .any(|(id, p)| Some(*id) != existing && p.conn.is_some());
            if busy {
                return Err("PAIR socket already has a peer".into());
            }
        }
        let routing_id = if self.kind == SocketType::Router {
            let rid = match identity {
                Some(id) => id,
                None => self.generate_routing_id(),
            };
            if let Some(&old) = self.by_routing_id.get(&rid) {
                if !self.opts.router_handover {
                    return Err("duplicate routing id".into());
                }
                if let Some(c) = self.peers.get(&old).and_then(|p| p.conn.clone()) {
                    c.end("routing id taken over by a new peer".into());
                }
                self.detach(old, true);
            }
            Some(rid)
        } else {
            identity
        };
        let id = match existing.filter(|id| self.peers.contains_key(id)) {
            Some(id) => id,
            None => {
                let peer = Peer::new(&self.opts);
                self.add_peer(peer)
            }
        };
        if let Some(rid) = &routing_id {
            if self.kind == SocketType::Router {
                self.by_routing_id.insert(rid.clone(), id);
            }
        }
        let peer = self.peers.get_mut(&id).expect("peer inserted above");
        peer.routing_id = routing_id;
        peer.conn = Some(conn.clone());
        peer.gone = false;
        if !peer.out.is_empty() {
            conn.wake_writer.notify();
        }
        if matches!(self.kind, SocketType::Sub | SocketType::XSub) {
            let mut session = conn.session.borrow_mut();
            for topic in self.subscriptions.topics() {
                // Fails only if the session already failed; the reader reports that.
                let _ = session.subscribe(topic);
            }
            conn.wake_writer.notify();
        }
        Ok(id)
    }

    fn generate_routing_id(&mut self) -> Bytes {
        loop {
            self.next_generated_id = self.next_generated_id.wrapping_add(1);
            let mut id = vec![0u8];
            id.extend_from_slice(&self.next_generated_id.to_be_bytes());
            let id = Bytes::from(id);
            if !self.by_routing_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// A peer's connection ended. Connect-side peers that survive reconnects stay (with
    /// their queue) unless `remove`; others leave the routing set, and are forgotten
    /// once their received messages were read.
    pub(crate) fn detach(&mut self, id: PeerId, remove: bool) {
        let kind = self.kind;
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.conn = None;
        peer.reader_paused = false;
        let lost: Vec<Bytes> = peer.subs.topics().cloned().collect();
        peer.subs = Subscriptions::default();
        if kind == SocketType::XPub {
            for topic in lost {
                if self.subscriptions.remove(&topic) {
                    self.xpub_pending.push_back(xpub_notice(0, &topic));
                }
            }
        }
        if !remove {
            return;
        }
        let peer = self.peers.get_mut(&id).expect("checked above");
        peer.gone = true;
        peer.out.clear();
        if let Some(rid) = &peer.routing_id {
            if self.by_routing_id.get(rid) == Some(&id) {
                self.by_routing_id.remove(rid);
            }
        }
        if peer.inq.is_empty() {
            self.forget(id);
        }
    }

    /// Drops a peer entirely.
    pub(crate) fn forget(&mut self, id: PeerId) {
        self.peers.remove(&id);
        if let Some(pos) = self.order.iter().position(|&p| p == id) {
            self.order.remove(pos);
            if self.out_cursor > pos {
                self.out_cursor -= 1;
            }
            if self.in_cursor > pos {
                self.in_cursor -= 1;
            }
        }
        let len = self.order.len().max(1);
        self.out_cursor %= len;
        self.in_cursor %= len;
    }

    /// True when every queued message was handed to its connection and written.
    pub(crate) fn flushed(&self) -> bool {
        self.peers.values().all(|p| p.out.is_empty()) && self.conns.values().all(|c| c.is_idle())
    }
}

/// An XPUB subscription notice: `kind` (1 subscribe, 0 cancel) then the topic.
pub(crate) fn xpub_notice(kind: u8, topic: &[u8]) -> Message {
    let mut v = Vec::with_capacity(topic.len() + 1);
    v.push(kind);
    v.extend_from_slice(topic);
    Message::from(v)
}
