//! The generic socket ([`Socket`]) and the typed sockets built on it.

pub(crate) mod shared;
mod typed;

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringmq_proactor::{Endpoint, Proactor};
use ringmq_zmtp::SocketType;

use crate::connector::connect_loop;
use crate::core::{Core, Drops, Sent};
use crate::error::Error;
use crate::link::Origin;
use crate::listener::accept_loop;
use crate::message::Message;
use crate::monitor::{Monitor, MonitorEventKind};
use crate::options::{Options, SocketOption};
use crate::reason::DisconnectReason;
use crate::util::{abortable, with_deadline, yield_now, Stop};
use crate::zap::ZapSlot;
use shared::{BindEntry, ConnectEntry, Shared};

/// `send` lets other tasks run after this many sends in a row that did not wait.
const YIELD_EVERY: u32 = 1024;

pub use typed::{
    DealerSocket, PairSocket, PubSocket, PullSocket, PushSocket, RepSocket, ReqSocket,
    RouterSocket, SubSocket, XPubSocket, XSubSocket,
};

/// A ZeroMQ socket of any type, like a libzmq socket: it can bind and connect to
/// several endpoints, and keeps a queue per peer.
///
/// Calls that do not apply to the type fail with [`Error::NotSupported`]; the typed
/// sockets ([`PushSocket`], ...) expose only what applies.
pub struct Socket<P: Proactor> {
    shared: Rc<Shared<P>>,
    closed: Cell<bool>,
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
    pub(crate) fn new(proactor: P, kind: SocketType, zap: ZapSlot) -> Self {
        let opts = Options {
            zap,
            ..Options::default()
        };
        Socket {
            shared: Rc::new(Shared::new(proactor, Core::new(kind, opts))),
            closed: Cell::new(false),
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

    /// Binds to `endpoint` (`tcp://host:port`, `tcp://*:*`, `ipc:///path`,
    /// `ipc://@name`) and returns the bound endpoint, with the real port for port `*` /
    /// `0`. Connections are accepted in the background.
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        let ep: Endpoint = endpoint.parse()?;
        let shared = &self.shared;
        if shared.closing.get() {
            return Err(Error::Closed);
        }
        let p = &shared.proactor;
        let listener = match p.listen(&ep) {
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
    /// is lost (the peer need not be up yet). Unless IMMEDIATE is set, the peer and its
    /// queue exist from now on: messages sent to it wait until it is connected.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        let ep: Endpoint = endpoint.parse()?;
        let shared = &self.shared;
        if shared.closing.get() {
            return Err(Error::Closed);
        }
        let peer = shared.core.borrow_mut().add_connect_peer();
        let stop = Rc::new(Stop::default());
        let id = {
            let mut io = shared.io.borrow_mut();
            let id = io.next_id();
            io.connects.push(ConnectEntry {
                id,
                endpoint: endpoint.to_owned(),
                peer,
                stop: stop.clone(),
            });
            io.last_endpoint = Some(endpoint.to_owned());
            id
        };
        shared.run_core_output();
        shared.proactor.spawn_local(connect_loop(
            shared.clone(),
            ep,
            endpoint.to_owned(),
            id,
            stop,
        ));
        Ok(())
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
    /// [`Error::InvalidOption`] naming them.
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        {
            let mut core = self.shared.core.borrow_mut();
            opt.check(core.kind())?;
            core.set_option(opt)?;
        }
        self.shared.run_core_output();
        Ok(())
    }

    /// A new monitor receiving this socket's events from now on.
    pub fn monitor(&self) -> Monitor {
        self.shared.io.borrow_mut().monitors.add()
    }

    /// Subscribes to messages whose first frame starts with `topic` (SUB only).
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.shared.core.borrow_mut().subscribe(topic)?;
        self.shared.run_core_output();
        Ok(())
    }

    /// Drops one subscription to `topic` (SUB only; subscriptions are counted).
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.shared.core.borrow_mut().unsubscribe(topic)?;
        self.shared.run_core_output();
        Ok(())
    }

    /// Sends a message, waiting while the socket type's high-water mark policy says so
    /// (PUSH, DEALER, REQ, PAIR wait for room; PUB, XPUB, ROUTER drop). Honours
    /// SNDTIMEO: zero gives [`Error::WouldBlock`], a longer timeout [`Error::TimedOut`].
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let mut msg = msg.into();
        let p = &self.shared.proactor;
        // Set when the first attempt finds no room (SNDTIMEO counts from then).
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            match self.send_once(msg)? {
                Attempt::Sent { full } => {
                    // A send that never waits (PUB) would otherwise queue everything
                    // before any writer runs: every so many sends, and whenever a peer's
                    // queue just reached its SNDHWM (the next message would be dropped
                    // for it), let the writers (and readers) run, so I/O overlaps with
                    // the sending loop. `try_send` never yields.
                    let n = self.shared.unyielded_sends.get() + 1;
                    if n >= YIELD_EVERY || full {
                        self.shared.unyielded_sends.set(0);
                        yield_now().await;
                    } else {
                        self.shared.unyielded_sends.set(n);
                    }
                    return Ok(());
                }
                Attempt::Blocked(m) => msg = m,
            }
            self.shared.unyielded_sends.set(0);
            let timeout = self.shared.core.borrow().opts.sndtimeo;
            if timeout == Some(Duration::ZERO) {
                return Err(Error::WouldBlock);
            }
            let deadline = *deadline.get_or_insert_with(|| timeout.map(|d| p.now() + d));
            let room = self.shared.send_ready.notified();
            if with_deadline(p, deadline, room).await.is_none() {
                return Err(Error::TimedOut);
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

    /// One attempt: the core routes the message (one borrow), then the shell hands it
    /// to the link(s) the core chose.
    fn send_once(&self, msg: Message) -> Result<Attempt, Error> {
        let shared = &*self.shared;
        if shared.closing.get() {
            return Err(Error::Closed);
        }
        let (sent, more) = {
            let mut core = shared.core.borrow_mut();
            let sent = core.send(msg)?;
            (sent, core.has_output())
        };
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
    pub async fn recv(&self) -> Result<Message, Error> {
        let p = &self.shared.proactor;
        // Set when the first attempt finds nothing (RCVTIMEO counts from then).
        let mut deadline: Option<Option<Instant>> = None;
        loop {
            if let Some(m) = self.recv_once()? {
                return Ok(m);
            }
            let timeout = self.shared.core.borrow().opts.rcvtimeo;
            if timeout == Some(Duration::ZERO) {
                return Err(Error::WouldBlock);
            }
            let deadline = *deadline.get_or_insert_with(|| timeout.map(|d| p.now() + d));
            let ready = self.shared.recv_ready.notified();
            if with_deadline(p, deadline, ready).await.is_none() {
                return Err(Error::TimedOut);
            }
        }
    }

    /// Receives a message if one is ready ([`Error::WouldBlock`] otherwise).
    pub fn try_recv(&self) -> Result<Message, Error> {
        self.recv_once()?.ok_or(Error::WouldBlock)
    }

    fn recv_once(&self) -> Result<Option<Message>, Error> {
        let shared = &*self.shared;
        if shared.closing.get() {
            return Err(Error::Closed);
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
}

/// The outcome of one send attempt that did not fail.
enum Attempt {
    /// Done; `full`: it filled some subscriber's queue to its SNDHWM (PUB).
    Sent { full: bool },
    /// No peer can take the message now; here it is back.
    Blocked(Message),
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
    if shared.io.borrow().terminated {
        return;
    }
    let linger = begin_close(&shared);
    shared.recv_ready.notify();
    shared.send_ready.notify();
    let p = &shared.proactor;
    let deadline = linger.map(|d| p.now() + d);
    while !flushed(&shared) {
        let progress = shared.progress.notified();
        if with_deadline(p, deadline, progress).await.is_none() {
            break;
        }
    }
    terminate(&shared);
}

/// Stops every task of the socket.
fn terminate<P: Proactor>(shared: &Shared<P>) {
    let conns: Vec<_> = {
        let mut io = shared.io.borrow_mut();
        if io.terminated {
            return;
        }
        io.terminated = true;
        for c in io.connects.drain(..) {
            c.stop.stop();
        }
        io.monitors.close();
        io.conns.values().cloned().collect()
    };
    shared.closing.set(true);
    for c in conns {
        c.close(DisconnectReason::SocketClosed);
    }
    shared.recv_ready.notify();
    shared.send_ready.notify();
}
