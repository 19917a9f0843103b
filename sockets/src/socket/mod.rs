//! The generic socket ([`Socket`]) and the typed sockets built on it.

pub(crate) mod shared;
mod typed;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ringmq_proactor::{Endpoint, Proactor};
use ringmq_zmtp::SocketType;

use crate::connector::connect_loop;
use crate::context::Scope;
use crate::context::Terminable;
use crate::core::{Core, Drops, PeerId, Sent};
use crate::error::Error;
use crate::inproc;
use crate::link::Origin;
use crate::listener::accept_loop;
use crate::message::Message;
use crate::monitor::{Monitor, MonitorEventKind};
use crate::options::{Options, SocketOption, SocketOptions};
use crate::reason::DisconnectReason;
use crate::stats::{PeerStats, SocketStats};
use crate::util::{abortable, with_deadline, yield_now, Notify, Stop};
use shared::{BindEntry, ConnectEntry, CtxLink, Shared};

/// `send` lets other tasks run after this many sends in a row that did not wait.
const YIELD_EVERY: u32 = 1024;

pub use typed::{
    DealerSocket, DishSocket, PairSocket, PubSocket, PullSocket, PushSocket, RadioSocket,
    RepSocket, ReqSocket, RouterSocket, StreamSocket, SubSocket, XPubSocket, XSubSocket,
};
// libzmq's draft types.
pub use typed::{
    ChannelSocket, ClientSocket, GatherSocket, PeerSocket, ScatterSocket, ServerSocket,
};

/// A ZeroMQ socket of any type, like a libzmq socket: it can bind and connect to
/// several endpoints, and keeps a queue per peer.
///
/// Calls that do not apply to the type fail with [`Error::NotSupported`]; the typed
/// sockets ([`PushSocket`], ...) expose only what applies.
pub struct Socket<P: Proactor> {
    shared: Rc<Shared<P>>,
    closed: Cell<bool>,
    /// Registrations and the pending message of the poll API (`poll_recv`, the
    /// `Stream` / `Sink` impls).
    polling: Polling,
}

/// State of the poll API, kept between polls.
#[derive(Default)]
struct Polling {
    recv_wait: Cell<Option<(u64, u64)>>,
    send_wait: Cell<Option<(u64, u64)>>,
    /// A message given to `start_send` that found no room yet.
    pending: RefCell<Option<Message>>,
}

impl<P: Proactor> fmt::Debug for Socket<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.shared.core.borrow();
        f.debug_struct("Socket")
            .field("type", &core.kind())
            .field("peers", &core.peer_count())
            .field("last_endpoint", &self.shared.io.borrow().last_endpoint)
            .finish()
    }
}

impl<P: Proactor> Socket<P> {
    pub(crate) fn new(proactor: P, kind: SocketType, scope: Scope) -> Self {
        let opts = Options {
            zap: scope.zap,
            ..Options::default()
        };
        let ctx = CtxLink {
            hub: scope.hub,
            local: scope.local,
        };
        let shared = Rc::new(Shared::new(proactor, ctx, Core::new(kind, opts)));
        let weak: Weak<Shared<P>> = Rc::downgrade(&shared);
        shared.ctx.local.register(weak);
        if shared.ctx.hub.is_terminated() {
            // Made after the termination: every call fails with `Terminated`.
            shared.ctx_terminated.set(true);
            shared.closing.set(true);
        }
        Socket {
            shared,
            closed: Cell::new(false),
            polling: Polling::default(),
        }
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.shared.core.borrow().kind()
    }

    /// How many messages the socket dropped by design so far, by cause (HWM reached on
    /// PUB / ROUTER, unroutable ROUTER messages, replies to peers that left, queues of
    /// peers that left, CONFLATE, discarded input). libzmq drops the same messages
    /// without telling.
    pub fn drops(&self) -> Drops {
        self.shared.core.borrow().drops()
    }

    /// How many connections the socket closed as soon as it accepted them because it
    /// held its cap of accepted connections (`SocketOption::MaxPeers`), so far.
    pub fn peers_refused(&self) -> u64 {
        self.shared.io.borrow().peers_refused
    }

    /// Traffic, queue depths and drops, in total and per peer (see [`SocketStats`]).
    pub fn stats(&self) -> SocketStats {
        let (snapshot, retired) = self.shared.core.borrow().snapshot();
        let drops = self.shared.core.borrow().drops();
        let io = self.shared.io.borrow();
        let bound = |id: u64| {
            io.binds
                .iter()
                .find(|b| b.id == id)
                .map(|b| b.actual.clone())
        };
        let connected = |id: u64| {
            io.connects
                .iter()
                .find(|c| c.id == id)
                .map(|c| c.endpoint.clone())
        };
        let mut stats = SocketStats {
            drops,
            ..SocketStats::default()
        };
        let mut totals = retired;
        for s in snapshot {
            let link = io.links.get(s.id);
            let (link_in, link_out) = link.map_or((0, 0), |l| l.traffic());
            let endpoint = match link.map(|l| l.origin()) {
                Some(Origin::Bind(id)) => bound(id),
                Some(Origin::Connect { id, .. }) => connected(id),
                None => io
                    .connects
                    .iter()
                    .find(|c| c.peer == Some(s.id))
                    .map(|c| c.endpoint.clone()),
            };
            let mut c = s.counters;
            c.bytes_in += link_in;
            c.bytes_out += link_out;
            totals.add(&c);
            stats.queued_in += s.queued_in;
            stats.queued_out += s.queued_out;
            stats.peers.push(PeerStats {
                endpoint,
                routing_id: s.routing_id,
                connected: s.attached,
                messages_in: c.msgs_in,
                bytes_in: c.bytes_in,
                messages_out: c.msgs_out,
                bytes_out: c.bytes_out,
                queued_in: s.queued_in,
                queued_out: s.queued_out,
                dropped_hwm: c.dropped_hwm,
            });
        }
        stats.messages_in = totals.msgs_in;
        stats.bytes_in = totals.bytes_in;
        stats.messages_out = totals.msgs_out;
        stats.bytes_out = totals.bytes_out;
        stats
    }

    /// Binds to `endpoint` (`tcp://host:port`, `tcp://*:*`, `ipc:///path`,
    /// `ipc://@name`, `inproc://name`) and returns the bound endpoint, with the real
    /// port for port `*` / `0`. Connections are accepted in the background. An inproc
    /// name is visible to the sockets of every Context sharing this socket's
    /// [`ContextHandle`](crate::ContextHandle); binding one already bound there gives
    /// [`Error::AddrInUse`].
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        let ep: Endpoint = endpoint.parse()?;
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        shared.watch_context();
        if let Endpoint::Inproc(name) = &ep {
            return self.bind_inproc(name, endpoint);
        }
        if let Endpoint::Udp { .. } = &ep {
            return self.bind_udp(&ep, endpoint);
        }
        let p = &shared.proactor;
        let ep = bind_host(ep, shared.core.borrow().opts.ipv6);
        let listened = p.listen(&ep).and_then(|l| {
            configure_listener(&l, &shared.core.borrow().opts, &ep)?;
            Ok(l)
        });
        let listener = match listened {
            Ok(l) => l,
            Err(e) => {
                let in_use = e.kind() == std::io::ErrorKind::AddrInUse;
                let error = crate::reason::IoError::from(e);
                let kind = MonitorEventKind::BindFailed {
                    error: error.clone(),
                };
                shared.emit(kind, endpoint, None);
                return Err(if in_use {
                    Error::AddrInUse(endpoint.to_owned())
                } else {
                    Error::Io(std::io::Error::new(error.kind(), error))
                });
            }
        };
        let actual = p
            .listener_endpoint(&listener)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| endpoint.to_owned());
        let stop = Rc::new(Stop::default());
        let tcp = matches!(ep, Endpoint::Tcp { .. });
        let mut io = shared.io.borrow_mut();
        let id = io.next_id();
        // The accept loop owns the listener; aborting it (unbind, close) drops the
        // listener at once, so the address can be bound again right away.
        let (task, handle) = abortable(accept_loop(
            shared.clone(),
            listener,
            id,
            actual.clone(),
            tcp,
            stop.clone(),
        ));
        io.binds.push(BindEntry {
            id,
            given: endpoint.to_owned(),
            actual: actual.clone(),
            stop,
            task: handle,
        });
        io.last_endpoint = Some(actual.clone());
        io.monitors.emit(MonitorEventKind::Listening, &actual, None);
        drop(io);
        p.spawn_local(task);
        Ok(actual)
    }

    /// Connects to `endpoint` in the background, reconnecting whenever the connection
    /// is lost (the peer need not be up yet; an `inproc://` name nobody bound yet is
    /// waited for). Unless IMMEDIATE is set, the peer and its
    /// queue exist from now on: messages sent to it wait until it is connected.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.connect_inner(endpoint).map(drop)
    }

    /// PEER: connects to `endpoint` like [`Socket::connect`] and returns the routing id
    /// of the peer this creates, like libzmq's `zmq_connect_peer`: a message with
    /// that id ([`Message::with_routing_id`]) waits for the connection and goes to it
    /// (and to its reconnections). Only on PEER sockets, and not with IMMEDIATE (the
    /// peer would not exist before its connection).
    pub fn connect_peer(&self, endpoint: &str) -> Result<u32, Error> {
        let kind = self.socket_type();
        if kind != SocketType::Peer {
            return Err(Error::NotSupported {
                operation: "connect_peer",
                socket_type: kind,
            });
        }
        if self.shared.core.borrow().opts.immediate {
            return Err(Error::InvalidState {
                reason: "connect_peer needs IMMEDIATE off (the peer exists before its \
                         connection)",
            });
        }
        let peer = self
            .connect_inner(endpoint)?
            .expect("PEER keeps connect-side peers");
        let rid = self.shared.core.borrow().routing_id(peer);
        let rid = rid.and_then(|b| <[u8; 4]>::try_from(&b[..]).ok());
        Ok(u32::from_be_bytes(
            rid.expect("a PEER gives every connect-side peer an id"),
        ))
    }

    /// `connect`, returning the connect-side peer it created (none with IMMEDIATE, or
    /// on ROUTER).
    fn connect_inner(&self, endpoint: &str) -> Result<Option<PeerId>, Error> {
        let ep: Endpoint = endpoint.parse()?;
        let shared = &self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        shared.watch_context();
        // A udp:// socket is made now, so a wrong address or an engine without
        // datagram sockets fails here (a host name is looked up in the background).
        let datagram = match &ep {
            Endpoint::Udp { .. } => {
                let (kind, hops) = {
                    let core = shared.core.borrow();
                    (core.kind(), core.opts.multicast_hops)
                };
                Some(match crate::udp::connect(&ep, kind, hops)? {
                    crate::udp::Radio::Ready(socket) => {
                        Ok(shared.proactor.adopt_datagram(socket).map_err(Error::Io)?)
                    }
                    crate::udp::Radio::Resolve { name, port } => Err((name, port)),
                })
            }
            _ => None,
        };
        let (peer, routing_id) = {
            let mut core = shared.core.borrow_mut();
            (core.add_connect_peer(), core.opts.connect_routing_id.take())
        };
        let stop = Rc::new(Stop::default());
        let id = {
            let mut io = shared.io.borrow_mut();
            let id = io.next_id();
            io.connects.push(ConnectEntry {
                id,
                endpoint: endpoint.to_owned(),
                peer,
                stop: stop.clone(),
                routing_id,
            });
            io.last_endpoint = Some(endpoint.to_owned());
            id
        };
        shared.run_core_output();
        if let Some(datagram) = datagram {
            let origin = Origin::Connect { id, peer };
            match datagram {
                Ok(stream) => crate::udp::start(shared, stream, origin, endpoint.to_owned()),
                Err((name, port)) => {
                    let Endpoint::Udp { interface, .. } = ep else {
                        unreachable!("a datagram link comes from a udp:// endpoint")
                    };
                    shared.proactor.spawn_local(crate::udp::resolve_and_start(
                        shared.clone(),
                        name,
                        port,
                        interface,
                        endpoint.to_owned(),
                        origin,
                        stop,
                    ));
                }
            }
        } else if let Endpoint::Inproc(name) = ep {
            let task = inproc::connect_loop(shared.clone(), name, endpoint.to_owned(), id, stop);
            shared.proactor.spawn_local(task);
        } else {
            shared.proactor.spawn_local(connect_loop(
                shared.clone(),
                ep,
                endpoint.to_owned(),
                id,
                stop,
            ));
        }
        Ok(peer)
    }

    /// `bind` for `udp://`: a DISH receives on the address (a multicast group is
    /// joined) through one peer, whoever sends.
    fn bind_udp(&self, ep: &Endpoint, endpoint: &str) -> Result<String, Error> {
        let shared = &self.shared;
        let kind = shared.core.borrow().kind();
        let socket = crate::udp::bind(ep, kind)?;
        // The real port, and the interface prefix given (a RADIO connecting to what
        // `bind` returns names the same interface).
        let prefix = match ep {
            Endpoint::Udp {
                interface: Some(i), ..
            } => format!("{i};"),
            _ => String::new(),
        };
        let actual = socket
            .local_addr()
            .map(|a| format!("udp://{prefix}{a}"))
            .unwrap_or_else(|_| endpoint.to_owned());
        let stream = shared.proactor.adopt_datagram(socket).map_err(Error::Io)?;
        let id = shared.io.borrow_mut().next_id();
        // Nothing to accept: the bind's task ends at once; the link's own task ends
        // when `unbind` or `close` closes it.
        let (task, handle) = abortable(async {});
        {
            let mut io = shared.io.borrow_mut();
            io.binds.push(BindEntry {
                id,
                given: endpoint.to_owned(),
                actual: actual.clone(),
                stop: Rc::new(Stop::default()),
                task: handle,
            });
            io.last_endpoint = Some(actual.clone());
            io.monitors.emit(MonitorEventKind::Listening, &actual, None);
        }
        shared.proactor.spawn_local(task);
        crate::udp::start(shared, stream, Origin::Bind(id), actual.clone());
        Ok(actual)
    }

    /// `bind` for `inproc://name`: the name is registered at once (a connect on any
    /// thread of the same context finds it), `AddrInUse` when it is taken.
    fn bind_inproc(&self, name: &str, endpoint: &str) -> Result<String, Error> {
        let shared = &self.shared;
        let kind = shared.core.borrow().kind();
        let Some(binding) = inproc::Binding::new(&shared.ctx.hub, name, kind) else {
            let error = crate::reason::IoError::from(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{endpoint} is bound by another socket"),
            ));
            shared.emit(MonitorEventKind::BindFailed { error }, endpoint, None);
            return Err(Error::AddrInUse(endpoint.to_owned()));
        };
        let stop = Rc::new(Stop::default());
        let mut io = shared.io.borrow_mut();
        let id = io.next_id();
        let actual = endpoint.to_owned();
        // Aborting the task (unbind, close) drops the binding: the name is free at once.
        let (task, handle) = abortable(inproc::accept_loop(
            shared.clone(),
            binding,
            id,
            actual.clone(),
            stop.clone(),
        ));
        io.binds.push(BindEntry {
            id,
            given: endpoint.to_owned(),
            actual: actual.clone(),
            stop,
            task: handle,
        });
        io.last_endpoint = Some(actual.clone());
        io.monitors.emit(MonitorEventKind::Listening, &actual, None);
        drop(io);
        shared.proactor.spawn_local(task);
        Ok(actual)
    }

    /// Stops listening on `endpoint` (as given to `bind` or as it returned) and closes
    /// the connections accepted there.
    pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        let (entry, conns) = {
            let mut io = self.shared.io.borrow_mut();
            let Some(pos) = io
                .binds
                .iter()
                .position(|b| b.given == endpoint || b.actual == endpoint)
            else {
                return Err(Error::UnknownEndpoint(endpoint.to_owned()));
            };
            let entry = io.binds.remove(pos);
            io.monitors
                .emit(MonitorEventKind::Closed, &entry.actual, None);
            let conns: Vec<_> = io
                .conns
                .values()
                .filter(|c| c.origin() == Origin::Bind(entry.id))
                .cloned()
                .collect();
            (entry, conns)
        };
        entry.stop.stop();
        for c in conns {
            c.close(DisconnectReason::Unbound);
        }
        entry.task.abort();
        Ok(())
    }

    /// Stops connecting to `endpoint`, closes the connection and drops its queue.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        let (entry, conns) = {
            let mut io = self.shared.io.borrow_mut();
            let Some(pos) = io.connects.iter().position(|c| c.endpoint == endpoint) else {
                return Err(Error::UnknownEndpoint(endpoint.to_owned()));
            };
            let entry = io.connects.remove(pos);
            let conns: Vec<_> = io
                .conns
                .values()
                .filter(|c| matches!(c.origin(), Origin::Connect { id, .. } if id == entry.id))
                .cloned()
                .collect();
            (entry, conns)
        };
        entry.stop.stop();
        for c in conns {
            c.close(DisconnectReason::EndpointDisconnected);
        }
        if let Some(peer) = entry.peer {
            self.shared.core.borrow_mut().detach(peer, true);
        }
        self.shared.run_core_output();
        self.shared.progress.notify();
        Ok(())
    }

    /// The endpoint of the last successful `bind` (with the real port) or `connect`.
    pub fn last_endpoint(&self) -> Option<String> {
        self.shared.io.borrow().last_endpoint.clone()
    }

    /// Sets an option. Options that do not apply to this socket type are refused with
    /// [`Error::InvalidOption`] naming them. HWMs, heartbeats, the handshake interval,
    /// MAXMSGSIZE, keepalive and ROUTING_ID are read when a connection (or a
    /// connect-side peer) starts: set after `connect()`, they apply to the peers made
    /// afterwards, as in libzmq. Read them back with [`options`](Self::options).
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        {
            let mut core = self.shared.core.borrow_mut();
            opt.check(core.kind())?;
            core.set_option(opt)?;
        }
        self.shared.run_core_output();
        Ok(())
    }

    /// The current value of every option, with typed getters (see [`SocketOptions`]).
    /// Options are read when a connection or connect-side peer starts: an HWM set
    /// after `connect()` applies to the peers made afterwards, as in libzmq.
    pub fn options(&self) -> SocketOptions {
        self.shared.core.borrow().opts.snapshot()
    }

    /// `ZMQ_TOPICS_COUNT`: the number of distinct topics subscribed (PUB / XPUB: by
    /// any peer; SUB / XSUB: by this socket); `NotSupported` on other types.
    pub fn topics_count(&self) -> Result<usize, Error> {
        self.shared.core.borrow().topics_count()
    }

    /// What `send` and `recv` would do now without waiting: libzmq's ZMQ_EVENTS
    /// (POLLIN / POLLOUT) for programs that poll instead of awaiting (see [`Events`]).
    pub fn events(&self) -> Events {
        let (readable, writable) = self.shared.core.borrow().events();
        Events { readable, writable }
    }

    /// A new monitor receiving this socket's events from now on.
    pub fn monitor(&self) -> Monitor {
        self.shared.io.borrow_mut().monitors.add()
    }

    /// Subscribes to messages whose first frame starts with `topic` (SUB). On an XPUB
    /// with XPUB_MANUAL: subscribes the peer of the last subscription notice read
    /// (nothing when that peer left); on other XPUBs, [`Error::InvalidOption`].
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.shared.core.borrow_mut().subscribe(topic)?;
        self.shared.run_core_output();
        Ok(())
    }

    /// Drops one subscription to `topic` (SUB, where subscriptions are counted; XPUB
    /// with XPUB_MANUAL, for the peer of the last notice read).
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.shared.core.borrow_mut().unsubscribe(topic)?;
        self.shared.run_core_output();
        Ok(())
    }

    /// DISH: joins `group` (at most 255 bytes), like `zmq_join`: every peer is sent a
    /// JOIN, and messages of the group are delivered from then on. Joining a group
    /// twice is [`Error::GroupMembership`], as in libzmq.
    pub fn join(&self, group: impl AsRef<[u8]>) -> Result<(), Error> {
        self.group_membership(group.as_ref(), true)
    }

    /// DISH: leaves `group`, like `zmq_leave` (a group not joined is
    /// [`Error::GroupMembership`]).
    pub fn leave(&self, group: impl AsRef<[u8]>) -> Result<(), Error> {
        self.group_membership(group.as_ref(), false)
    }

    fn group_membership(&self, group: &[u8], join: bool) -> Result<(), Error> {
        let kind = self.socket_type();
        if kind != SocketType::Dish {
            let operation = if join { "join" } else { "leave" };
            return Err(Error::NotSupported {
                operation,
                socket_type: kind,
            });
        }
        if join {
            self.subscribe(group)
        } else {
            self.unsubscribe(group)
        }
    }

    /// Sends a message, waiting while the socket type's high-water mark policy says so
    /// (PUSH, DEALER, REQ, PAIR wait for room; PUB, XPUB, ROUTER drop). Honours
    /// SNDTIMEO: zero gives [`Error::WouldBlock`], a longer timeout [`Error::TimedOut`].
    ///
    /// Cancel safety: a `send` dropped while it waits for room loses its message (it
    /// was not queued anywhere); once it returned `Ok`, the message is queued and is
    /// delivered whatever happens to the caller.
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        // The first attempt inline; the waiting loop is a boxed future of its own, so
        // that the future of a `send` that does not wait (the usual case) stays small:
        // it is created, moved and dropped once per message, and the waits (a timer, a
        // notification) would make it several times larger.
        match self.send_once(msg.into())? {
            Attempt::Sent { full } => {
                self.after_sent(full).await;
                Ok(())
            }
            Attempt::Blocked(m) => Box::pin(self.send_waiting(m)).await,
        }
    }

    /// After a send that did not wait: a send that never waits (PUB) would otherwise
    /// queue everything before any writer runs: every so many sends, and whenever a
    /// peer's queue just reached its SNDHWM (the next message would be dropped for it),
    /// let the writers (and readers) run, so I/O overlaps with the sending loop.
    /// `try_send` never yields.
    async fn after_sent(&self, full: bool) {
        let n = self.shared.unyielded_sends.get() + 1;
        if n >= YIELD_EVERY || full {
            self.shared.unyielded_sends.set(0);
            self.shared.report_drops();
            yield_now(&self.shared.proactor).await;
        } else {
            self.shared.unyielded_sends.set(n);
        }
    }

    /// `send` once its first attempt found no room: waits for room (SNDTIMEO counts
    /// from now) and tries again.
    async fn send_waiting(&self, mut msg: Message) -> Result<(), Error> {
        // Set at the first wait.
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            self.wait_for_room(&mut deadline, true).await?;
            match self.send_once(msg)? {
                Attempt::Sent { full } => {
                    self.after_sent(full).await;
                    return Ok(());
                }
                Attempt::Blocked(m) => msg = m,
            }
        }
    }

    /// Sends without waiting ([`Error::WouldBlock`] where `send` would wait).
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        match self.send_once(msg.into())? {
            Attempt::Sent { .. } => Ok(()),
            Attempt::Blocked(_) => Err(Error::WouldBlock),
        }
    }

    /// Sends every message of `msgs`, in order, waiting for room as [`send`](Self::send)
    /// does (SNDHWM and SNDTIMEO alike): the explicit batch API. On `Ok` every message
    /// was taken and `msgs` is empty (its capacity is kept, to fill it again).
    ///
    /// The messages are routed one after another in one call: each is handed to the
    /// pattern exactly as `send` would hand it (round-robin, fan-out, REQ's
    /// alternation, ROUTER's addressing; a multipart message stays one message), and
    /// goes straight into its connection's output batch while that batch has room, so
    /// the writer is woken once for many messages. What a batch saves against as many
    /// `send`s is the per-call work: one future, one closed check, one yield decision.
    /// Like `send`, it lets other tasks run after 1,024 messages without a
    /// wait, and as soon as a PUB subscriber's queue reaches its SNDHWM.
    ///
    /// Partial progress is never lost: on an error, the messages not yet taken stay in
    /// `msgs`, in order. The message that failed (a REQ in the wrong state, ROUTER
    /// mandatory routing to an unknown peer, an empty message, ...) is dropped with the
    /// error, as `send` drops it; those before it were sent, those after it remain.
    /// With SNDTIMEO, [`Error::WouldBlock`] / [`Error::TimedOut`] leave every message
    /// that found no room in `msgs`.
    ///
    /// Cancel safety: a `send_batch` dropped while it waits leaves the messages not yet
    /// taken in `msgs`; those taken are queued and delivered.
    pub async fn send_batch(&self, msgs: &mut Vec<Message>) -> Result<(), Error> {
        self.send_batch_timed(msgs, true).await
    }

    /// `send_batch` without SNDTIMEO: waits for room as long as it takes (handle
    /// pumps).
    pub(crate) async fn send_batch_untimed(&self, msgs: &mut Vec<Message>) -> Result<(), Error> {
        self.send_batch_timed(msgs, false).await
    }

    async fn send_batch_timed(&self, msgs: &mut Vec<Message>, timed: bool) -> Result<(), Error> {
        let p = &self.shared.proactor;
        // Set when the first attempt finds no room (SNDTIMEO counts from then).
        let mut deadline: Option<Option<Instant>> = None;
        while !msgs.is_empty() {
            let batch = self.send_batch_once(msgs, YIELD_EVERY as usize)?;
            let mut yielded = false;
            if batch.taken > 0 {
                let n = self.shared.unyielded_sends.get() + batch.taken as u32;
                if n >= YIELD_EVERY || batch.full {
                    self.shared.unyielded_sends.set(0);
                    self.shared.report_drops();
                    yield_now(p).await;
                    yielded = true;
                } else {
                    self.shared.unyielded_sends.set(n);
                }
            }
            // Not blocked (stopped to yield), or other tasks ran since the attempt (room
            // may have appeared unseen): try again at once.
            if msgs.is_empty() || !batch.blocked || yielded {
                continue;
            }
            self.wait_for_room(&mut deadline, timed).await?;
        }
        Ok(())
    }

    /// Waits until a send may find room (woken by the socket), within SNDTIMEO when
    /// `timed`, counted from the first wait of the call (`deadline`, set then):
    /// [`Error::WouldBlock`] at SNDTIMEO 0, [`Error::TimedOut`] once it passed.
    async fn wait_for_room(
        &self,
        deadline: &mut Option<Option<Instant>>,
        timed: bool,
    ) -> Result<(), Error> {
        self.shared.unyielded_sends.set(0);
        let timeout = match timed {
            true => self.shared.core.borrow().opts.sndtimeo,
            false => None,
        };
        self.wait_on(&self.shared.send_ready, timeout, deadline)
            .await
    }

    /// Sends as many messages of `msgs` as can be taken now, in order, without
    /// waiting (the non-blocking [`send_batch`](Self::send_batch)), and removes them
    /// from `msgs`: `Ok(n)` with the number taken, at least one unless `msgs` was
    /// empty; [`Error::WouldBlock`] when none could be (`msgs` untouched). On another
    /// error the messages before the failing one were taken, the failing one is
    /// dropped with the error, and the rest stay in `msgs`. Never yields.
    pub fn try_send_batch(&self, msgs: &mut Vec<Message>) -> Result<usize, Error> {
        if msgs.is_empty() {
            return Ok(0);
        }
        let batch = self.send_batch_once(msgs, usize::MAX)?;
        if batch.taken == 0 {
            return Err(Error::WouldBlock);
        }
        Ok(batch.taken)
    }

    /// Routes the messages of `msgs` from the front, each exactly as `send_once` would,
    /// until one is blocked (it stays first in `msgs`), one fails (it is dropped, as
    /// `send` drops it, and the error returned), `limit` were taken, or one filled a
    /// subscriber's queue (PUB: the caller yields before going on). Removes the
    /// messages taken from `msgs`.
    fn send_batch_once(&self, msgs: &mut Vec<Message>, limit: usize) -> Result<Batch, Error> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        let mut batch = Batch::default();
        let mut i = 0;
        let mut failed = None;
        let mut run = Run::default();
        // A run of messages that all go to one peer's link skips the routing of each.
        if let Some(k) = self.send_run(msgs, limit) {
            batch.taken = k;
            if msgs.is_empty() {
                return Ok(batch);
            }
        }
        while i < msgs.len() && batch.taken < limit {
            match self.route_batched(std::mem::take(&mut msgs[i]), &mut run) {
                Ok(Attempt::Sent { full }) => {
                    i += 1;
                    batch.taken += 1;
                    if full {
                        batch.full = true;
                        break;
                    }
                }
                Ok(Attempt::Blocked(m)) => {
                    msgs[i] = m;
                    batch.blocked = true;
                    break;
                }
                Err(e) => {
                    i += 1;
                    failed = Some(e);
                    break;
                }
            }
        }
        run.flush(shared);
        msgs.drain(..i);
        match failed {
            Some(e) => Err(e),
            None => Ok(batch),
        }
    }

    /// The front of a batch routed as one run ([`Core::send_run`]) when the pattern
    /// allows it: offered to the peer's link together and removed from `msgs`; how
    /// many (`None`: route them one by one).
    ///
    /// [`Core::send_run`]: crate::core::Core::send_run
    fn send_run(&self, msgs: &mut Vec<Message>, limit: usize) -> Option<usize> {
        let shared = &*self.shared;
        // An empty message fails in its turn, as `send` fails it.
        let max = msgs
            .iter()
            .take(limit)
            .take_while(|m| !m.is_empty())
            .count();
        let (peer, k, more) = {
            let mut core = shared.core.borrow_mut();
            let (peer, k) = core.send_run(max)?;
            (peer, k, core.has_output())
        };
        if k == msgs.len() {
            shared.offer_run(peer, msgs);
        } else {
            let mut run: Vec<Message> = msgs.drain(..k).collect();
            shared.offer_run(peer, &mut run);
        }
        if more {
            shared.run_core_output();
        }
        Some(k)
    }

    /// One attempt: the core routes the message (one borrow), then the shell hands it
    /// to the link(s) the core chose.
    fn send_once(&self, msg: Message) -> Result<Attempt, Error> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        self.route(msg)
    }

    /// [`send_once`](Self::send_once) on a socket known to be open.
    fn route(&self, msg: Message) -> Result<Attempt, Error> {
        let (sent, more) = {
            let mut core = self.shared.core.borrow_mut();
            let sent = core.send(msg)?;
            (sent, core.has_output())
        };
        if let (Sent::Done, false) = (&sent, more) {
            // Queued behind messages its link already knows of: nothing to carry out
            // (most sends of a busy socket).
            return Ok(Attempt::Sent { full: false });
        }
        self.carry_out(sent, more)
    }

    /// [`route`](Self::route) in a batch: messages the core hands straight to one
    /// peer's link are collected in `run` and offered to the link together ([`Run`]);
    /// anything else offers the run first, so every link sees its messages in order.
    fn route_batched(&self, msg: Message, run: &mut Run) -> Result<Attempt, Error> {
        let shared = &*self.shared;
        let routed = {
            let mut core = shared.core.borrow_mut();
            core.send(msg).map(|sent| (sent, core.has_output()))
        };
        match routed {
            Ok((
                Sent::Direct {
                    peer,
                    msg,
                    write_through: false,
                },
                more,
            )) => {
                if run.peer != Some(peer) {
                    run.flush(shared);
                    run.peer = Some(peer);
                }
                run.msgs.push(msg);
                if more {
                    run.flush(shared);
                    shared.run_core_output();
                }
                Ok(Attempt::Sent { full: false })
            }
            routed => {
                run.flush(shared);
                let (sent, more) = routed?;
                self.carry_out(sent, more)
            }
        }
    }

    /// The shell's half of a send: hands the message to the link(s) the core chose
    /// (`more`: the core has output to carry out as well).
    #[inline]
    fn carry_out(&self, sent: Sent, more: bool) -> Result<Attempt, Error> {
        let shared = &*self.shared;
        let mut full = false;
        match sent {
            Sent::Direct {
                peer,
                msg,
                write_through,
            } => shared.offer(peer, msg, write_through),
            Sent::Done => {}
            Sent::Wake(peer) => shared.wake_output(peer),
            Sent::Fanout(msg) => {
                shared.fan_out(&msg);
                full = shared.core.borrow_mut().take_fanout_full();
            }
            Sent::Blocked(m) => return Ok(Attempt::Blocked(m)),
        }
        if more {
            shared.run_core_output();
        }
        Ok(Attempt::Sent { full })
    }

    /// Receives a message, waiting for one. Honours RCVTIMEO like `send` honours
    /// SNDTIMEO.
    ///
    /// Cancel safety: `recv` is cancel-safe. A message is taken from the queue only in
    /// the poll that returns it, so a `recv` dropped while it waits (a `select!` whose
    /// other branch won) loses nothing; measured through 100,000 such `select`s
    /// (`tests/streams.rs`).
    pub async fn recv(&self) -> Result<Message, Error> {
        if let Some(m) = self.recv_once()? {
            return Ok(m);
        }
        // Without RCVTIMEO the wait is a registration on `recv_ready` ([`RecvWait`]):
        // no timer, no allocation. With it, the timed loop is boxed, off the path of a
        // message that is ready (as in `send`).
        if self.shared.core.borrow().opts.rcvtimeo.is_some() {
            return Box::pin(self.recv_waiting()).await;
        }
        self.check_driven()?;
        // A termination must be able to wake this wait.
        self.shared.watch_context();
        RecvWait {
            socket: self,
            slot: Cell::new(None),
        }
        .await
    }

    /// `recv` once its first attempt found nothing: waits (RCVTIMEO counts from now)
    /// and tries again.
    async fn recv_waiting(&self) -> Result<Message, Error> {
        // Set at the first wait.
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            self.wait_for_input(&mut deadline).await?;
            if let Some(m) = self.recv_once()? {
                return Ok(m);
            }
        }
    }

    /// Polls for the next message: `Ready` with one (or an error), `Pending` with the
    /// task's waker registered. For hand-written poll loops and a poller over several
    /// sockets; RCVTIMEO does not apply (time out with your own timer). One task at a
    /// time should poll a socket this way (the registration is per socket; `recv`
    /// futures have their own).
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        let wait = &self.polling.recv_wait;
        let polled = match self.recv_once() {
            Ok(Some(m)) => Poll::Ready(Ok(m)),
            Err(e) => Poll::Ready(Err(e)),
            Ok(None) => match self.check_driven() {
                Ok(()) => self.poll_recv_after_miss(wait, cx),
                Err(e) => return Poll::Ready(Err(e)),
            },
        };
        if polled.is_ready() {
            self.shared.recv_ready.forget(wait);
        }
        polled
    }

    /// The wait of [`poll_recv`](Self::poll_recv) and of an untimed `recv`
    /// ([`RecvWait`]) after an attempt found nothing: registered on `recv_ready` under
    /// the key kept in `slot`, tries again each time that was notified.
    fn poll_recv_after_miss(
        &self,
        slot: &Cell<Option<(u64, u64)>>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Message, Error>> {
        while self.shared.recv_ready.poll_wait(slot, cx).is_ready() {
            match self.recv_once() {
                Ok(Some(m)) => return Poll::Ready(Ok(m)),
                Err(e) => return Poll::Ready(Err(e)),
                Ok(None) => {}
            }
            self.check_driven()?;
        }
        Poll::Pending
    }

    /// Sends the message left by [`start_send`](Self::start_send), if any: `Ready(Ok)`
    /// once the socket took it (or there was none), `Pending` while it has no room.
    /// SNDTIMEO does not apply.
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let wait = &self.polling.send_wait;
        loop {
            let Some(msg) = self.polling.pending.borrow_mut().take() else {
                self.shared.send_ready.forget(wait);
                return Poll::Ready(Ok(()));
            };
            match self.send_once(msg) {
                Ok(Attempt::Sent { .. }) => {
                    self.shared.send_ready.forget(wait);
                    return Poll::Ready(Ok(()));
                }
                Ok(Attempt::Blocked(m)) => *self.polling.pending.borrow_mut() = Some(m),
                Err(e) => {
                    self.shared.send_ready.forget(wait);
                    return Poll::Ready(Err(e));
                }
            }
            if let Err(e) = self.check_driven() {
                return Poll::Ready(Err(e));
            }
            if self.shared.send_ready.poll_wait(wait, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    /// Hands `msg` to the socket, or keeps it until [`poll_flush`](Self::poll_flush)
    /// can: call `poll_flush` first until it is ready (the `Sink` protocol). A message
    /// still kept is replaced (and dropped).
    pub fn start_send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let msg = msg.into();
        match self.send_once(msg)? {
            Attempt::Sent { .. } => {}
            Attempt::Blocked(m) => *self.polling.pending.borrow_mut() = Some(m),
        }
        Ok(())
    }

    /// Before waiting: [`Error::NotDriven`] when nothing drives the socket's engine on
    /// this thread (the wait would never end).
    fn check_driven(&self) -> Result<(), Error> {
        if self.shared.proactor.is_driving() {
            Ok(())
        } else {
            Err(Error::NotDriven)
        }
    }

    /// Receives a message if one is ready ([`Error::WouldBlock`] otherwise).
    pub fn try_recv(&self) -> Result<Message, Error> {
        self.recv_once()?.ok_or(Error::WouldBlock)
    }

    /// Receives up to `max` messages into `out` (appended, in order), waiting until at
    /// least one is ready: the explicit batch receive. Returns how many were added
    /// (`Ok(0)` only when `max` is 0). Honours RCVTIMEO like [`recv`](Self::recv).
    ///
    /// The messages are exactly those `max` calls of `recv` would return, in the same
    /// order (fair-queued across peers, REQ's single reply, ROUTER's routing-id frame,
    /// multipart messages whole), taken in one borrow of the socket with one wake-up
    /// and one resume of the readers paused at the RCVHWM. Reusing `out` across calls
    /// keeps its allocation. An error once some messages were taken ends the batch;
    /// the next call reports it (the patterns' receive errors depend on the socket's
    /// state, so they repeat).
    ///
    /// Cancel safety: as `recv`, cancel-safe: messages are moved into `out` only in the
    /// poll that returns them.
    pub async fn recv_many(&self, out: &mut Vec<Message>, max: usize) -> Result<usize, Error> {
        if max == 0 {
            return Ok(0);
        }
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            let n = self.recv_many_once(out, max)?;
            if n > 0 {
                return Ok(n);
            }
            self.wait_for_input(&mut deadline).await?;
        }
    }

    /// Waits until a receive may find a message (woken by the socket), within
    /// RCVTIMEO counted from the first wait of the call (`deadline`, set then):
    /// [`Error::WouldBlock`] at RCVTIMEO 0, [`Error::TimedOut`] once it passed.
    async fn wait_for_input(&self, deadline: &mut Option<Option<Instant>>) -> Result<(), Error> {
        let timeout = self.shared.core.borrow().opts.rcvtimeo;
        self.wait_on(&self.shared.recv_ready, timeout, deadline)
            .await
    }

    /// The wait of [`wait_for_room`](Self::wait_for_room) and
    /// [`wait_for_input`](Self::wait_for_input): until `ready` is notified, within
    /// `timeout` counted from the first wait of the call (`deadline`, set then);
    /// [`Error::WouldBlock`] at a zero timeout, [`Error::TimedOut`] once it passed.
    async fn wait_on(
        &self,
        ready: &Notify,
        timeout: Option<Duration>,
        deadline: &mut Option<Option<Instant>>,
    ) -> Result<(), Error> {
        if timeout == Some(Duration::ZERO) {
            return Err(Error::WouldBlock);
        }
        self.check_driven()?;
        let p = &self.shared.proactor;
        let deadline = *deadline.get_or_insert_with(|| timeout.map(|d| p.now() + d));
        // A termination must be able to wake this wait.
        self.shared.watch_context();
        match with_deadline(p, deadline, ready.notified()).await {
            Some(()) => Ok(()),
            None => Err(Error::TimedOut),
        }
    }

    /// Takes up to `max` messages that are ready into `out` without waiting (the
    /// non-blocking [`recv_many`](Self::recv_many)): `Ok(n)` with at least one
    /// (`Ok(0)` only when `max` is 0), [`Error::WouldBlock`] when none is ready.
    pub fn try_recv_many(&self, out: &mut Vec<Message>, max: usize) -> Result<usize, Error> {
        if max == 0 {
            return Ok(0);
        }
        match self.recv_many_once(out, max)? {
            0 => Err(Error::WouldBlock),
            n => Ok(n),
        }
    }

    fn recv_many_once(&self, out: &mut Vec<Message>, max: usize) -> Result<usize, Error> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        let (n, more) = {
            let mut core = shared.core.borrow_mut();
            let n = core.recv_many(out, max)?;
            (n, core.has_output())
        };
        if more {
            // Readers paused at the RCVHWM may resume.
            shared.run_core_output();
        }
        Ok(n)
    }

    fn recv_once(&self) -> Result<Option<Message>, Error> {
        let shared = &*self.shared;
        if shared.is_closed() {
            return Err(shared.closed_error());
        }
        let (msg, more) = {
            let mut core = shared.core.borrow_mut();
            let msg = core.recv()?;
            (msg, core.has_output())
        };
        if more {
            // A reader paused at the RCVHWM may resume.
            shared.run_core_output();
        }
        Ok(msg)
    }

    /// Closes the socket: stops listening at once, then waits up to LINGER for queued
    /// messages to be written, then stops every connection.
    pub async fn close(self) {
        self.closed.set(true);
        close_shared(self.shared.clone()).await;
    }

    /// LINGER as set.
    pub(crate) fn linger(&self) -> Option<Duration> {
        self.shared.core.borrow().opts.linger
    }

    /// `close` for a socket shared by the tasks of a [`SocketHandle`](crate::SocketHandle).
    pub(crate) async fn close_in_place(&self) {
        self.closed.set(true);
        close_shared(self.shared.clone()).await;
    }

    /// `recv` without RCVTIMEO: waits as long as it takes (handle pumps).
    pub(crate) async fn recv_untimed(&self) -> Result<Message, Error> {
        loop {
            let ready = self.shared.recv_ready.notified();
            if let Some(m) = self.recv_once()? {
                return Ok(m);
            }
            ready.await;
        }
    }
}

/// The outcome of one send attempt that did not fail.
enum Attempt {
    /// Done; `full`: it filled some subscriber's queue to its SNDHWM (PUB).
    Sent { full: bool },
    /// No peer can take the message now; here it is back.
    Blocked(Message),
}

/// The wait of an untimed [`Socket::recv`] whose first attempt found nothing: registered
/// on the socket's `recv_ready` under its own key (in `slot`), it tries again each time
/// that is notified. A message is taken only in the poll that returns it (cancel-safe),
/// and the registration goes with the future.
struct RecvWait<'a, P: Proactor> {
    socket: &'a Socket<P>,
    slot: Cell<Option<(u64, u64)>>,
}

impl<P: Proactor> std::future::Future for RecvWait<'_, P> {
    type Output = Result<Message, Error>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Registers at the first poll (the attempt before it found nothing, with no
        // yield since).
        self.socket.poll_recv_after_miss(&self.slot, cx)
    }
}

impl<P: Proactor> Drop for RecvWait<'_, P> {
    fn drop(&mut self) {
        self.socket.shared.recv_ready.forget(&self.slot);
    }
}

/// Messages of a batch that the core handed straight to `peer`'s link
/// ([`Sent::Direct`], not write-through), not yet offered: they are offered together
/// ([`Shared::offer_run`]: one lookup of the link, one borrow of its session, one
/// notify of its writer) when the batch moves on to another peer, when anything else
/// must happen first, and at the end of the pass. No task runs meanwhile, so the
/// peer's queue stays empty and every message the core routes to it in the run is
/// direct too.
#[derive(Default)]
struct Run {
    peer: Option<PeerId>,
    msgs: Vec<Message>,
}

impl Run {
    fn flush<P: Proactor>(&mut self, shared: &Shared<P>) {
        if let Some(peer) = self.peer.take() {
            shared.offer_run(peer, &mut self.msgs);
        }
    }
}

/// The outcome of one pass of `send_batch_once` that did not fail.
#[derive(Default)]
struct Batch {
    /// Messages taken (removed from the caller's vector).
    taken: usize,
    /// Stopped at a message no peer can take now (it is first in the vector).
    blocked: bool,
    /// The last message taken filled some subscriber's queue to its SNDHWM (PUB).
    full: bool,
}

impl<P: Proactor> Drop for Socket<P> {
    fn drop(&mut self) {
        if self.closed.get() {
            return;
        }
        let quick =
            self.shared.core.borrow().opts.linger == Some(Duration::ZERO) || flushed(&self.shared);
        if quick {
            begin_close(&self.shared);
            terminate(&self.shared);
        } else {
            // Deliver what is queued in the background, up to LINGER.
            self.shared
                .proactor
                .spawn_local(close_shared(self.shared.clone()));
        }
    }
}

/// True when every queued message was handed to its connection and written.
fn flushed<P: Proactor>(shared: &Shared<P>) -> bool {
    shared.core.borrow().all_sent() && shared.io.borrow().conns.values().all(|c| c.is_flushed())
}

/// Stops accepting and refuses further calls; returns the linger time.
fn begin_close<P: Proactor>(shared: &Shared<P>) -> Option<Duration> {
    shared.closing.set(true);
    let binds = {
        let mut io = shared.io.borrow_mut();
        let binds = std::mem::take(&mut io.binds);
        for b in &binds {
            b.stop.stop();
            io.monitors.emit(MonitorEventKind::Closed, &b.actual, None);
        }
        binds
    };
    for b in binds {
        b.task.abort();
    }
    shared.core.borrow().opts.linger
}

async fn close_shared<P: Proactor>(shared: Rc<Shared<P>>) {
    if shared.io.borrow().terminated || shared.lingering.replace(true) {
        return;
    }
    let linger = begin_close(&shared);
    shared.recv_ready.notify();
    shared.send_ready.notify();
    // The context's termination ends an infinite LINGER: watch for it.
    shared.watch_context();
    let p = &shared.proactor;
    let deadline = linger.map(|d| p.now() + d);
    while !flushed(&shared) {
        if linger.is_none() && shared.ctx_terminated.get() {
            break;
        }
        let progress = shared.progress.notified();
        if with_deadline(p, deadline, progress).await.is_none() {
            break;
        }
    }
    terminate(&shared);
}

impl<P: Proactor> Terminable for Shared<P> {
    /// Calls fail with `Terminated` from now on (the waiting ones are woken); the
    /// socket stops listening and delivers what it has queued within a finite LINGER
    /// (what is left then is dropped and counted), at once with an infinite one. A
    /// socket already closing (`close`, or dropped and lingering) keeps its deadline,
    /// and stops at once if it had none.
    fn context_terminated(self: Rc<Self>) {
        if self.io.borrow().terminated || self.ctx_terminated.replace(true) {
            return;
        }
        begin_close(&self);
        self.recv_ready.notify();
        self.send_ready.notify();
        // Wakes a lingering `close_shared`, which sees the termination.
        self.progress.notify();
        if !self.lingering.get() {
            let p = self.proactor.clone();
            p.spawn_local(close_shared(self));
        }
    }
}

/// Stops every task of the socket; what is still queued is dropped (counted).
fn terminate<P: Proactor>(shared: &Shared<P>) {
    let (conns, unconnected) = {
        let mut io = shared.io.borrow_mut();
        if io.terminated {
            return;
        }
        io.terminated = true;
        let mut unconnected = Vec::new();
        for c in std::mem::take(&mut io.connects) {
            c.stop.stop();
            // A connect-side peer without a connection keeps its queue otherwise; an
            // attached one is detached (and counted) when its connection ends below.
            if let Some(peer) = c.peer.filter(|&p| io.links.get(p).is_none()) {
                unconnected.push(peer);
            }
        }
        io.monitors.close();
        (io.conns.values().cloned().collect::<Vec<_>>(), unconnected)
    };
    if !unconnected.is_empty() {
        let mut core = shared.core.borrow_mut();
        for peer in unconnected {
            core.detach(peer, true);
        }
    }
    shared.closing.set(true);
    for c in conns {
        c.close(DisconnectReason::SocketClosed);
    }
    shared.recv_ready.notify();
    shared.send_ready.notify();
}

/// The address a TCP bind listens on: with IPV6, `*` is `[::]` (dual stack: Linux
/// accepts IPv4 peers there unless `net.ipv6.bindv6only` is set); a name that is a
/// network interface (`tcp://lo:5555`, as libzmq accepts) is its address (IPv4 first;
/// IPv6 only with IPV6).
fn bind_host(ep: Endpoint, ipv6: bool) -> Endpoint {
    use ringmq_proactor::Host;
    match ep {
        Endpoint::Tcp {
            host: Host::Wildcard,
            port,
        } if ipv6 => Endpoint::Tcp {
            host: Host::Ip(std::net::Ipv6Addr::UNSPECIFIED.into()),
            port,
        },
        Endpoint::Tcp {
            host: Host::Name(name),
            port,
        } => {
            let nic = ringmq_proactor::sockopt::interface_addresses(&name)
                .unwrap_or_default()
                .into_iter()
                .find(|a| ipv6 || a.is_ipv4());
            let host = match nic {
                Some(ip) => Host::Ip(ip),
                None => Host::Name(name),
            };
            Endpoint::Tcp { host, port }
        }
        other => other,
    }
}

/// BACKLOG on every listener; SNDBUF / RCVBUF (inherited by accepted streams) and
/// BINDTODEVICE on TCP ones. Only BINDTODEVICE may fail the bind.
fn configure_listener(
    l: &impl std::os::fd::AsRawFd,
    o: &crate::options::Options,
    ep: &Endpoint,
) -> std::io::Result<()> {
    use ringmq_proactor::sockopt;
    let _ = sockopt::set_backlog(l, o.backlog);
    if matches!(ep, Endpoint::Tcp { .. }) {
        if let Some(b) = o.sndbuf {
            let _ = sockopt::set_send_buffer(l, b);
        }
        if let Some(b) = o.rcvbuf {
            let _ = sockopt::set_recv_buffer(l, b);
        }
        if !o.bind_to_device.is_empty() {
            sockopt::set_bind_to_device(l, o.bind_to_device.as_bytes())?;
        }
    }
    Ok(())
}

/// What `send` and `recv` would do now without waiting, as libzmq's ZMQ_EVENTS says
/// with POLLIN / POLLOUT. From [`Socket::events`] and
/// [`SocketHandle::events`](crate::SocketHandle::events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// A `recv` would return a message now (POLLIN). REQ: the reply has come; REP: a
    /// request is waiting and the last one was answered.
    pub readable: bool,
    /// A `send` would take a message now (POLLOUT). Round-robin types: a peer has
    /// room; ROUTER, SERVER, PEER, STREAM, PUB, XPUB, RADIO, XSUB: always, as in
    /// libzmq; REQ: no reply is awaited (or REQ_RELAXED) and a peer has room; REP: a
    /// request is being answered; types that cannot send: never.
    pub writable: bool,
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context as TaskContext, Waker};

    use ringmq_proactor::{BackendChoice, Runtime};
    use ringmq_zmtp::SocketType;

    use crate::Context;

    /// An untimed `recv` that waits registers once on the socket, and a dropped one
    /// takes its registration with it (a `select!` loop must not pile up wakers); a
    /// notification that finds nothing to take registers it again.
    #[test]
    fn a_waiting_recv_registers_once_and_a_dropped_one_leaves_nothing() {
        let rt = Runtime::with_backend(BackendChoice::Epoll).expect("runtime");
        let ctx = Context::new(rt.proactor());
        rt.block_on(async {
            let pull = ctx.socket(SocketType::Pull);
            pull.bind("inproc://recv-wait").expect("bind");
            let push = ctx.socket(SocketType::Push);
            push.connect("inproc://recv-wait").expect("connect");
            let ready = &pull.shared.recv_ready;
            let mut cx = TaskContext::from_waker(Waker::noop());
            for _ in 0..1000 {
                let mut recv = pin!(pull.recv());
                assert!(recv.as_mut().poll(&mut cx).is_pending());
                assert!(recv.as_mut().poll(&mut cx).is_pending());
                assert_eq!(ready.waiter_count(), 1);
            }
            assert_eq!(ready.waiter_count(), 0);

            let mut recv = pin!(pull.recv());
            assert!(recv.as_mut().poll(&mut cx).is_pending());
            // Woken with nothing to take: waits again, still registered once.
            ready.notify();
            assert!(recv.as_mut().poll(&mut cx).is_pending());
            assert_eq!(ready.waiter_count(), 1);
            push.send("m").await.expect("send");
            let msg = recv.await.expect("recv");
            assert_eq!(&msg.frames()[0][..], b"m");
            assert_eq!(ready.waiter_count(), 0);
        });
    }
}
