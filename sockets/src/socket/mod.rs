//! The generic socket ([`Socket`]) and the typed sockets built on it.

pub(crate) mod recv;
pub(crate) mod send;
pub(crate) mod state;
mod typed;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ringmq_proactor::{Endpoint, Proactor};
use ringmq_zmtp::SocketType;

use crate::connection::Origin;
use crate::connector::connect_loop;
use crate::error::Error;
use crate::listener::accept_loop;
use crate::message::Message;
use crate::monitor::{Monitor, MonitorEventKind};
use crate::options::SocketOption;
use crate::util::{abortable, with_deadline, yield_now, Stop};
use crate::zap::ZapSlot;
use send::Sent;
use state::{BindEntry, ConnectEntry, Core, Peer, Shared};

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
            .field("type", &core.kind)
            .field("peers", &core.peers.len())
            .field("last_endpoint", &core.last_endpoint)
            .finish()
    }
}

impl<P: Proactor> Socket<P> {
    pub(crate) fn new(proactor: P, kind: SocketType, zap: ZapSlot) -> Self {
        let mut core = Core::new(kind);
        core.opts.zap = zap;
        Socket {
            shared: Rc::new(Shared {
                proactor,
                core: RefCell::new(core),
                recv_ready: Default::default(),
                send_ready: Default::default(),
                progress: Default::default(),
                unyielded_sends: Cell::new(0),
            }),
            closed: Cell::new(false),
        }
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.shared.core.borrow().kind
    }

    /// Binds to `endpoint` (`tcp://host:port`, `tcp://*:*`, `ipc:///path`,
    /// `ipc://@name`) and returns the bound endpoint, with the real port for port `*` /
    /// `0`. Connections are accepted in the background.
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        let ep: Endpoint = endpoint.parse()?;
        let p = &self.shared.proactor;
        let mut core = self.shared.core.borrow_mut();
        if core.closing {
            return Err(Error::Closed);
        }
        let listener = match p.listen(&ep) {
            Ok(l) => l,
            Err(e) => {
                core.monitors.emit(
                    MonitorEventKind::BindFailed {
                        reason: e.to_string(),
                    },
                    endpoint,
                    None,
                );
                return Err(if e.kind() == std::io::ErrorKind::AddrInUse {
                    Error::AddrInUse(endpoint.to_owned())
                } else {
                    Error::Io(e)
                });
            }
        };
        let actual = p
            .listener_endpoint(&listener)
            .map(|e| e.to_string())
            .unwrap_or_else(|_| endpoint.to_owned());
        let id = core.next_id();
        let stop = Rc::new(Stop::default());
        let tcp = matches!(ep, Endpoint::Tcp { .. });
        // The accept loop owns the listener; aborting it (unbind, close) drops the
        // listener at once, so the address can be bound again right away.
        let (task, handle) = abortable(accept_loop(
            self.shared.clone(),
            listener,
            id,
            actual.clone(),
            tcp,
            stop.clone(),
        ));
        core.binds.push(BindEntry {
            id,
            given: endpoint.to_owned(),
            actual: actual.clone(),
            stop,
            task: handle,
        });
        core.last_endpoint = Some(actual.clone());
        core.monitors
            .emit(MonitorEventKind::Listening, &actual, None);
        drop(core);
        p.spawn_local(task);
        Ok(actual)
    }

    /// Connects to `endpoint` in the background, reconnecting whenever the connection
    /// is lost (the peer need not be up yet). Unless IMMEDIATE is set, the peer and its
    /// queue exist from now on: messages sent to it wait until it is connected.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        let ep: Endpoint = endpoint.parse()?;
        let mut core = self.shared.core.borrow_mut();
        if core.closing {
            return Err(Error::Closed);
        }
        let id = core.next_id();
        let peer = if core.keeps_connect_peers() {
            let peer = Peer::new(&core.opts);
            Some(core.add_peer(peer))
        } else {
            None
        };
        let stop = Rc::new(Stop::default());
        core.connects.push(ConnectEntry {
            id,
            endpoint: endpoint.to_owned(),
            peer,
            stop: stop.clone(),
        });
        core.last_endpoint = Some(endpoint.to_owned());
        drop(core);
        self.shared.send_ready.notify();
        self.shared.proactor.spawn_local(connect_loop(
            self.shared.clone(),
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
        let mut core = self.shared.core.borrow_mut();
        let Some(pos) = core
            .binds
            .iter()
            .position(|b| b.given == endpoint || b.actual == endpoint)
        else {
            return Err(Error::UnknownEndpoint(endpoint.to_owned()));
        };
        let entry = core.binds.remove(pos);
        entry.stop.stop();
        core.monitors
            .emit(MonitorEventKind::Closed, &entry.actual, None);
        for c in core.conns.values() {
            if c.origin == Origin::Bind(entry.id) {
                c.end("endpoint unbound".into());
            }
        }
        drop(core);
        entry.task.abort();
        Ok(())
    }

    /// Stops connecting to `endpoint`, closes the connection and drops its queue.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        let mut core = self.shared.core.borrow_mut();
        let Some(pos) = core.connects.iter().position(|c| c.endpoint == endpoint) else {
            return Err(Error::UnknownEndpoint(endpoint.to_owned()));
        };
        let entry = core.connects.remove(pos);
        entry.stop.stop();
        for c in core.conns.values() {
            if matches!(c.origin, Origin::Connect { id, .. } if id == entry.id) {
                c.end("endpoint disconnected".into());
            }
        }
        if let Some(peer) = entry.peer {
            core.detach(peer, true);
        }
        drop(core);
        self.shared.send_ready.notify();
        self.shared.progress.notify();
        Ok(())
    }

    /// The endpoint of the last successful `bind` (with the real port) or `connect`.
    pub fn last_endpoint(&self) -> Option<String> {
        self.shared.core.borrow().last_endpoint.clone()
    }

    /// Sets an option. Options that do not apply to this socket type are refused with
    /// [`Error::InvalidOption`] naming them.
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        let mut core = self.shared.core.borrow_mut();
        opt.check(core.kind)?;
        match opt {
            SocketOption::Subscribe(topic) => core.subscribe(&topic),
            SocketOption::Unsubscribe(topic) => core.unsubscribe(&topic),
            other => core.opts.set(other)?,
        }
        Ok(())
    }

    /// A new monitor receiving this socket's events from now on.
    pub fn monitor(&self) -> Monitor {
        self.shared.core.borrow_mut().monitors.add()
    }

    /// Subscribes to messages whose first frame starts with `topic` (SUB only).
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.subscription("subscribe", topic, true)
    }

    /// Drops one subscription to `topic` (SUB only; subscriptions are counted).
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.subscription("unsubscribe", topic, false)
    }

    fn subscription(&self, op: &'static str, topic: &[u8], on: bool) -> Result<(), Error> {
        let mut core = self.shared.core.borrow_mut();
        if core.kind != SocketType::Sub {
            return Err(Error::NotSupported {
                operation: op,
                socket_type: core.kind,
            });
        }
        if on {
            core.subscribe(topic);
        } else {
            core.unsubscribe(topic);
        }
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
            let (sent, full) = self.send_once(msg)?;
            match sent {
                Sent::Done => {
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
                Sent::Blocked(m) => msg = m,
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
        match self.send_once(msg.into())?.0 {
            Sent::Done => Ok(()),
            Sent::Blocked(_) => Err(Error::WouldBlock),
        }
    }

    /// One attempt under one borrow (the hot path of every sending loop); also says
    /// whether it filled some subscriber's queue to its SNDHWM (PUB).
    fn send_once(&self, msg: Message) -> Result<(Sent, bool), Error> {
        let mut core = self.shared.core.borrow_mut();
        if core.closing {
            return Err(Error::Closed);
        }
        let sent = core.try_send(msg)?;
        Ok((sent, std::mem::take(&mut core.fanout_full)))
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
        let mut core = self.shared.core.borrow_mut();
        if core.closing {
            return Err(Error::Closed);
        }
        core.try_recv()
    }

    /// Closes the socket: stops listening at once, then waits up to LINGER for queued
    /// messages to be written, then stops every connection.
    pub async fn close(self) {
        self.closed.set(true);
        close_shared(self.shared.clone()).await;
    }
}

impl<P: Proactor> Drop for Socket<P> {
    fn drop(&mut self) {
        if self.closed.get() {
            return;
        }
        let quick = {
            let core = self.shared.core.borrow();
            core.opts.linger == Some(Duration::ZERO) || core.flushed()
        };
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

/// Stops accepting and refuses further calls; returns the linger time.
fn begin_close<P: Proactor>(shared: &Shared<P>) -> Option<Duration> {
    let mut core = shared.core.borrow_mut();
    core.closing = true;
    let binds = std::mem::take(&mut core.binds);
    for b in &binds {
        b.stop.stop();
        core.monitors
            .emit(MonitorEventKind::Closed, &b.actual, None);
    }
    let linger = core.opts.linger;
    drop(core);
    for b in binds {
        b.task.abort();
    }
    linger
}

async fn close_shared<P: Proactor>(shared: Rc<Shared<P>>) {
    if shared.core.borrow().terminated {
        return;
    }
    let linger = begin_close(&shared);
    shared.recv_ready.notify();
    shared.send_ready.notify();
    let p = &shared.proactor;
    let deadline = linger.map(|d| p.now() + d);
    while !shared.core.borrow().flushed() {
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
        let mut core = shared.core.borrow_mut();
        if core.terminated {
            return;
        }
        core.terminated = true;
        core.closing = true;
        for c in core.connects.drain(..) {
            c.stop.stop();
        }
        core.monitors.close();
        core.conns.values().cloned().collect()
    };
    for c in conns {
        c.end("socket closed".into());
    }
    shared.recv_ready.notify();
    shared.send_ready.notify();
}
