//! The ZMTP link: one connection over a proactor stream, a reader task and a writer task
//! around a shared [`Session`]. [`Conn`] is its [`Link`] (the socket's handle on it).
//!
//! - The reader receives into a `BytesMut`, hands the bytes to the session, and acts on
//!   the events: handshake (the socket attaches the peer), messages (to the socket's
//!   core), subscriptions, errors. It stops reading while the peer's inbound
//!   queue is at the RCVHWM, so a slow application pushes back on the sender through
//!   TCP instead of dropping messages.
//! - The writer sleeps until it is woken (messages wait in its peer's queue, or the
//!   session has output such as a PONG) or the session's timer expires (handshake
//!   deadline, heartbeats). It then takes the peer's queued messages into the session,
//!   up to [`BATCH_BYTES`], reports the batch flushed, and writes the session's output
//!   with vectored writes. Under load one write carries many messages; when idle each message is
//!   written at once.
//!
//! Any protocol or I/O error ends only this connection.

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use ringmq_proactor::{BufResult, PeerAddr, Proactor, MAX_IOVECS};
use ringmq_zmtp::{AuthVerdict, Credentials, Event, Metadata, Session};

use crate::core::PeerId;
use crate::link::{Link, Origin};
use crate::message::Message;
use crate::monitor::MonitorEventKind;
use crate::options::{mechanism_for, MechanismKind};
use crate::reason::DisconnectReason;
use crate::socket::shared::Shared;
use crate::util::{
    select, select_in_place, sleep_until_opt, with_deadline, yield_now, Either, Notify,
};
use crate::zap::{ZapReply, ZapRequest};

/// The writer stops moving messages into the session once this many bytes wait.
pub(crate) const BATCH_BYTES: usize = 256 * 1024;

/// Receive buffer sizes, a ladder climbed when a read fills the buffer: tiny to start
/// (a greeting and a few short commands, then short requests and replies; an idle
/// connection, handshaken or not, holds no more), small once a read filled it, large
/// once a small one was filled. A connection that only ever sees short messages keeps
/// the tiny buffer: a ROUTER's idle peers cost about 0.6 KiB of receive buffer each
/// instead of 8.7 KiB.
const READ_TINY: usize = 512;
const READ_SMALL: usize = 8 * 1024;
const READ_LARGE: usize = 64 * 1024;

/// The state a connection's two tasks share.
pub(crate) struct Conn {
    pub id: u64,
    pub endpoint: String,
    pub origin: Origin,
    pub session: RefCell<Session>,
    pub wake_writer: Notify,
    pub wake_reader: Notify,
    done: Cell<bool>,
    done_notify: Notify,
    /// Boxed: set once, at the end.
    reason: RefCell<Option<Box<DisconnectReason>>>,
    /// The peer, once the handshake succeeded.
    pub peer: Cell<Option<PeerId>>,
    writing: Cell<bool>,
    /// The deadline the idle writer sleeps until (`None`: no timer, or not asleep).
    sleeping_until: Cell<Option<Instant>>,
    /// The peer's IP address as text (bind side, TCP), for ZAP and `Peer-Address`.
    address: String,
    /// A ZAP verdict is pending: the reader reads nothing until it arrives.
    authenticating: Cell<bool>,
    /// The peer's properties, shared with every message it sends.
    pub meta: RefCell<Option<Arc<Metadata>>>,
    /// The writing half, for [`Conn::write_through`] while the writer task does not hold it.
    direct: Rc<dyn DirectWrite>,
    /// Bytes a write-through offer encoded but could not write at once; the writer task
    /// writes them before anything else.
    stash: RefCell<Vec<Bytes>>,
    /// Write-through messages in the stash or the session, not yet taken by the writer
    /// (they left the socket's accounting at once).
    uncounted: Cell<u64>,
    /// Messages in the write in flight (taken out of the accounting, not yet handed to
    /// the kernel). A connection that ends counts these and `uncounted` as dropped.
    in_write: Cell<u64>,
    /// Bytes read and written so far (`Link::traffic`).
    bytes_in: Cell<u64>,
    bytes_out: Cell<u64>,
}

/// The writing half of a connection, shared between the writer task (which takes it
/// out for each asynchronous write) and [`Conn::write_through`].
struct WriterSlot<P: Proactor> {
    p: P,
    writer: RefCell<Option<P::Writer>>,
}

/// [`WriterSlot`] without its proactor type, so that [`Conn`] needs none.
trait DirectWrite {
    /// One non-blocking vectored write; `None` when it cannot be tried now (the writer
    /// task holds the writer, the socket is full, or the engine has no such path).
    fn try_write(&self, chunks: &[Bytes]) -> Option<io::Result<usize>>;
}

impl<P: Proactor> DirectWrite for WriterSlot<P> {
    fn try_write(&self, chunks: &[Bytes]) -> Option<io::Result<usize>> {
        let mut w = self.writer.try_borrow_mut().ok()?;
        let w = w.as_mut()?;
        self.p.try_send_vectored(w, chunks)
    }
}

impl Conn {
    /// Ends the connection (first reason wins); both tasks stop.
    pub(crate) fn end(&self, reason: DisconnectReason) {
        if self.done.replace(true) {
            return;
        }
        *self.reason.borrow_mut() = Some(Box::new(reason));
        self.done_notify.notify();
        self.wake_writer.notify();
        self.wake_reader.notify();
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.get()
    }

    /// Encodes `msg` and writes it from the calling task when the connection is idle
    /// (nothing stashed, nothing in the session, no write in flight), so a request or
    /// reply costs no wake-up of the writer task. What cannot be written at once is
    /// left to the writer. Gives the message back when the connection is not idle.
    fn write_through(&self, msg: Message) -> Result<(), Message> {
        if self.done.get() || self.writing.get() || !self.stash.borrow().is_empty() {
            return Err(msg);
        }
        let Ok(mut session) = self.session.try_borrow_mut() else {
            return Err(msg);
        };
        if !session.is_established() || session.pending_transmit() != 0 {
            return Err(msg);
        }
        if let Err(e) = session.send_parts(msg.into_parts()) {
            drop(session);
            self.end(e.into());
            return Ok(());
        }
        let Some(tx) = session.poll_transmit() else {
            return Ok(());
        };
        drop(session);
        let mut chunks = tx.chunks;
        match self.direct.try_write(&chunks) {
            Some(Err(e)) => {
                self.end(DisconnectReason::SendFailed(e.into()));
                return Ok(());
            }
            Some(Ok(n)) => {
                self.bytes_out.set(self.bytes_out.get() + n as u64);
                if n == chunks.iter().map(Bytes::len).sum::<usize>() {
                    self.session.borrow_mut().recycle_transmit(chunks);
                    return Ok(());
                }
                advance_chunks(&mut chunks, n);
            }
            None => {}
        }
        self.uncounted.set(self.uncounted.get() + 1);
        *self.stash.borrow_mut() = chunks;
        self.wake_writer.notify();
        Ok(())
    }

    /// The session, when a message may go straight into it: established, and less
    /// than [`BATCH_BYTES`] waiting to be written (the writer's own `fill` stops at the
    /// same bound, so memory stays bounded by the HWM plus one batch). The socket
    /// offers a message only when nothing is queued before it.
    fn session_for_offer(&self) -> Option<std::cell::RefMut<'_, Session>> {
        if self.done.get() {
            return None;
        }
        let session = self.session.try_borrow_mut().ok()?;
        (session.is_established() && session.pending_transmit() < BATCH_BYTES).then_some(session)
    }

    /// After a message went into the session: wake the writer, or end the connection
    /// if the session refused it.
    fn encoded(&self, r: Result<(), ringmq_zmtp::Error>) {
        match r {
            Ok(()) => self.wake_writer.notify(),
            Err(e) => self.end(e.into()),
        }
    }

    /// Nothing written is in flight and nothing waits in the session.
    fn idle(&self) -> bool {
        if self.done.get() || self.peer.get().is_none() {
            return true;
        }
        !self.writing.get()
            && self.stash.borrow().is_empty()
            && self
                .session
                .try_borrow()
                .map(|s| s.pending_transmit() == 0)
                .unwrap_or(false)
    }

    async fn wait_done(&self) {
        while !self.done.get() {
            self.done_notify.notified().await;
        }
    }
}

impl Link for Conn {
    fn origin(&self) -> Origin {
        self.origin
    }

    fn traffic(&self) -> (u64, u64) {
        (self.bytes_in.get(), self.bytes_out.get())
    }

    /// Straight into the writer's current batch (a message copied into the batch at
    /// once costs no queue round trip and, when small, no reference counting), or
    /// written at once with `write_through`.
    fn offer(&self, msg: Message, write_through: bool) -> Result<(), Message> {
        // A write-through message on a busy connection joins the batch being written
        // (after the stash, in order) instead of the queue.
        let msg = match write_through {
            true => match self.write_through(msg) {
                Ok(()) => return Ok(()),
                Err(msg) => msg,
            },
            false => msg,
        };
        let Some(mut session) = self.session_for_offer() else {
            return Err(msg);
        };
        let r = session.send_parts(msg.into_parts());
        drop(session);
        if write_through {
            self.uncounted.set(self.uncounted.get() + 1);
        }
        self.encoded(r);
        Ok(())
    }

    /// The run goes into the writer's batch under one borrow of the session, up to
    /// [`BATCH_BYTES`] waiting, with one notify of the writer.
    fn offer_many(&self, msgs: &mut Vec<Message>) {
        let Some(mut session) = self.session_for_offer() else {
            return;
        };
        let mut n = 0;
        let mut failed = None;
        while n < msgs.len() && session.pending_transmit() < BATCH_BYTES {
            let msg = std::mem::take(&mut msgs[n]);
            n += 1;
            if let Err(e) = session.send_parts(msg.into_parts()) {
                failed = Some(e);
                break;
            }
        }
        drop(session);
        msgs.drain(..n);
        match failed {
            Some(e) => self.end(e.into()),
            None if n > 0 => self.wake_writer.notify(),
            None => {}
        }
    }

    /// Small frames are copied into the batch, so no frame is cloned.
    fn offer_shared(&self, msg: &Message) -> bool {
        let Some(mut session) = self.session_for_offer() else {
            return false;
        };
        let r = session.send(msg.frames());
        drop(session);
        self.encoded(r);
        true
    }

    /// The bytes are copied into the batch (or the message encoded, when the mechanism
    /// encrypts). The writer is woken only when the batch was empty: otherwise whoever
    /// put the first bytes in it since the writer last took its output woke it.
    fn offer_encoded(&self, msg: &Message, wire: &[u8]) -> bool {
        let Some(mut session) = self.session_for_offer() else {
            return false;
        };
        let idle = session.pending_transmit() == 0;
        if let Ok(true) = session.send_encoded(wire) {
            drop(session);
            if idle {
                self.wake_writer.notify();
            }
            return true;
        }
        // Encrypted (or a failed session, which fails this send too): sealed for this
        // peer as any shared message.
        drop(session);
        self.offer_shared(msg)
    }

    fn wake_output(&self) {
        self.wake_writer.notify();
    }

    fn resume_input(&self) {
        self.wake_reader.notify();
    }

    fn send_subscription(&self, topic: &[u8], subscribe: bool) {
        let mut session = self.session.borrow_mut();
        let r = if subscribe {
            session.subscribe(topic)
        } else {
            session.cancel(topic)
        };
        drop(session);
        // Fails only when the session already failed; its reader reports that.
        let _ = r;
        self.wake_writer.notify();
    }

    fn close(&self, reason: DisconnectReason) {
        self.end(reason);
    }

    fn is_flushed(&self) -> bool {
        self.idle()
    }
}

/// How a connection ended.
pub(crate) struct Outcome {
    pub established: bool,
}

/// Runs one connection until it ends; cleans up the peer and reports to the monitors.
pub(crate) async fn run<P: Proactor>(
    shared: Rc<Shared<P>>,
    stream: P::Stream,
    endpoint: String,
    origin: Origin,
) -> Outcome {
    run_from(shared, stream, endpoint, origin, None).await
}

/// [`run`] for an accepted stream whose peer address is known.
pub(crate) async fn run_from<P: Proactor>(
    shared: Rc<Shared<P>>,
    stream: P::Stream,
    endpoint: String,
    origin: Origin,
    peer_addr: Option<PeerAddr>,
) -> Outcome {
    let (reader, writer) = shared.proactor.split(stream);
    run_halves(shared, reader, writer, endpoint, origin, peer_addr).await
}

/// [`run_from`] for a stream already split (a connect through a SOCKS5 proxy, whose
/// handshake used the halves).
pub(crate) async fn run_halves<P: Proactor>(
    shared: Rc<Shared<P>>,
    reader: P::Reader,
    writer: P::Writer,
    endpoint: String,
    origin: Origin,
    peer_addr: Option<PeerAddr>,
) -> Outcome {
    if shared.core.borrow().kind() == ringmq_zmtp::SocketType::Stream {
        // Boxed: its state would otherwise size every ZMTP connection's task too.
        return Box::pin(crate::raw::run(shared, reader, writer, endpoint, origin)).await;
    }
    let Some((conn, slot)) = open(&shared, writer, endpoint, origin, peer_addr) else {
        return Outcome { established: false };
    };
    let p = shared.proactor.clone();
    p.spawn_local(read_loop(shared.clone(), conn.clone(), reader));
    write_loop(&shared, &conn, &slot).await;
    finish(&shared, &conn)
}

/// The connection's shared state and writing half, with its session made (`None`: the
/// socket is terminated, or the session could not be made; reported). A plain function
/// so that nothing it builds is held in the connection task's state.
fn open<P: Proactor>(
    shared: &Rc<Shared<P>>,
    writer: P::Writer,
    endpoint: String,
    origin: Origin,
    peer_addr: Option<PeerAddr>,
) -> Option<(Rc<Conn>, Rc<WriterSlot<P>>)> {
    let p = shared.proactor.clone();
    let address = match peer_addr {
        Some(PeerAddr::Tcp(a)) => a.ip().to_string(),
        _ => String::new(),
    };
    if shared.io.borrow().terminated {
        return None;
    }
    let made = {
        let core = shared.core.borrow();
        let config = core.opts.session_config(core.kind());
        mechanism_for(&core.opts)
            .map_err(DisconnectReason::from)
            .and_then(|m| Session::new(config, m, p.now()).map_err(DisconnectReason::from))
    };
    let session = match made {
        Ok(s) => s,
        Err(reason) => {
            shared.emit(
                MonitorEventKind::HandshakeFailed { reason },
                &endpoint,
                None,
            );
            return None;
        }
    };
    let id = shared.io.borrow_mut().next_id();
    let slot = Rc::new(WriterSlot {
        p: p.clone(),
        writer: RefCell::new(Some(writer)),
    });
    let conn = Rc::new(Conn {
        id,
        endpoint,
        origin,
        session: RefCell::new(session),
        wake_writer: Notify::default(),
        wake_reader: Notify::default(),
        done: Cell::new(false),
        done_notify: Notify::default(),
        reason: RefCell::new(None),
        peer: Cell::new(None),
        writing: Cell::new(false),
        sleeping_until: Cell::new(None),
        address,
        authenticating: Cell::new(false),
        meta: RefCell::new(None),
        direct: slot.clone(),
        stash: RefCell::new(Vec::new()),
        uncounted: Cell::new(0),
        in_write: Cell::new(0),
        bytes_in: Cell::new(0),
        bytes_out: Cell::new(0),
    });
    shared.io.borrow_mut().conns.insert(id, conn.clone());
    Some((conn, slot))
}

fn finish<P: Proactor>(shared: &Shared<P>, conn: &Conn) -> Outcome {
    let reason = conn
        .reason
        .borrow_mut()
        .take()
        .map_or(DisconnectReason::SocketClosed, |r| *r);
    let peer = conn.peer.get();
    shared.io.borrow_mut().conns.remove(&conn.id);
    // Messages that had left the socket's accounting and were not handed to the kernel.
    let lost = conn.uncounted.get() + conn.in_write.get();
    if lost > 0 && peer.is_some() {
        shared.core.borrow_mut().lost_in_flight(lost);
    }
    let routing_id = peer.and_then(|p| shared.core.borrow().routing_id(p));
    if let Some(peer) = peer {
        shared.detach(peer, conn.origin);
    }
    let kind = match (peer.is_some(), reason.zap_status()) {
        (true, _) => MonitorEventKind::Disconnected { reason },
        (false, Some(status)) => MonitorEventKind::HandshakeFailedAuth { status, reason },
        (false, None) => MonitorEventKind::HandshakeFailed { reason },
    };
    shared.emit(kind, &conn.endpoint, routing_id);
    shared.send_ready.notify();
    shared.recv_ready.notify();
    shared.progress.notify();
    Outcome {
        established: peer.is_some(),
    }
}

/// Hands received bytes to the session, with the socket's spare event queue lent to
/// it so that its events cost no allocation (`drain_events` takes the queue back).
///
/// Once the connection is attached, each message the session decodes goes straight into
/// the socket's inbound queue for the peer (under one borrow of the core for the whole
/// read), unless an event (a subscription, an error) waits before it: then it follows
/// that event through `drain_events`. True when messages were delivered.
fn take_input<P: Proactor>(shared: &Shared<P>, conn: &Conn, buf: BytesMut) -> bool {
    let mut session = conn.session.borrow_mut();
    session.lend_event_queue(&mut shared.events.borrow_mut());
    let now = shared.proactor.now();
    let Some(peer) = conn.peer.get() else {
        session.handle_input_buf(now, buf);
        return false;
    };
    let mut core = shared.core.borrow_mut();
    // The connection's properties, only when asked for: attached to each message they
    // cost an atomic increment and decrement.
    let meta = core
        .opts
        .peer_metadata
        .then(|| conn.meta.borrow().clone())
        .flatten();
    let mut delivered = false;
    let message = |parts| {
        let mut msg = Message::from(parts);
        if meta.is_some() {
            msg.set_peer(meta.clone());
        }
        msg
    };
    // PULL, DEALER, PAIR, SUB: one look-up of the peer's queue for the whole read.
    if let Some(mut run) = core.input_run(peer) {
        if run.filters() {
            session.handle_input_buf_with(now, buf, |parts| {
                delivered |= run.push(message(parts));
            });
        } else {
            session.handle_input_buf_with(now, buf, |parts| {
                delivered = true;
                run.push_unfiltered(message(parts));
            });
        }
        return delivered;
    }
    session.handle_input_buf_with(now, buf, |parts| {
        delivered |= core.on_message(peer, message(parts));
    });
    delivered
}

/// Acts on everything the session reported; true when messages were delivered.
///
/// Events are taken from the session a batch at a time, and a run of messages is
/// handed to the core under one borrow (this runs for every message received).
fn drain_events<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<Conn>) -> bool {
    let delivered = if conn.session.borrow().has_events() {
        drain_event_batches(shared, conn)
    } else {
        // Nothing reported (most reads): the queue lent for the read goes back.
        conn.session
            .borrow_mut()
            .return_event_queue(&mut shared.events.borrow_mut());
        false
    };
    shared.run_core_output();
    // The writer must run when there is output, or when the session's timer now
    // expires earlier than the one it sleeps on (the handshake finished and
    // heartbeats started), or went away (the handshake deadline: an idle connection
    // should hold no timer).
    let session = conn.session.borrow();
    let timer_changed = match (session.poll_timeout(), conn.sleeping_until.get()) {
        (Some(new), Some(old)) => new < old,
        (Some(_), None) | (None, Some(_)) => true,
        (None, None) => false,
    };
    if session.pending_transmit() > 0 || timer_changed {
        drop(session);
        conn.wake_writer.notify();
    }
    delivered
}

/// The part of [`drain_events`] for a session with events: takes them a batch at a
/// time and acts on each; true when messages were delivered.
fn drain_event_batches<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<Conn>) -> bool {
    let mut delivered = false;
    let mut batch = std::mem::take(&mut *shared.events.borrow_mut());
    'batches: loop {
        conn.session.borrow_mut().take_events(&mut batch);
        if batch.is_empty() {
            break;
        }
        // Borrowed for a run of messages, released before anything else.
        let mut core = None;
        let mut meta = None;
        while let Some(event) = batch.pop_front() {
            if let Event::Message(parts) = event {
                let Some(peer) = conn.peer.get() else {
                    continue;
                };
                let mut msg = Message::from(parts);
                let core = core.get_or_insert_with(|| shared.core.borrow_mut());
                // The connection's properties, once per run, and only when asked for:
                // attached to each message they cost an atomic increment and decrement.
                let meta = meta.get_or_insert_with(|| {
                    core.opts
                        .peer_metadata
                        .then(|| conn.meta.borrow().clone())
                        .flatten()
                });
                if meta.is_some() {
                    msg.set_peer(meta.clone());
                }
                delivered |= core.on_message(peer, msg);
                continue;
            }
            drop(core.take());
            match event {
                Event::HandshakeSucceeded { mut metadata, .. } => {
                    if !conn.address.is_empty() {
                        metadata.insert("Peer-Address", conn.address.clone());
                    }
                    let peer_meta = Arc::new(metadata);
                    *conn.meta.borrow_mut() = Some(peer_meta.clone());
                    meta = None;
                    if !on_handshake(shared, conn, &peer_meta) {
                        let refused = batch
                            .drain(..)
                            .filter(|e| matches!(e, Event::Message(_)))
                            .count();
                        shared.core.borrow_mut().refused_input(refused as u64);
                        break 'batches;
                    }
                }
                Event::Subscribe(topic) => subscription(shared, conn, topic, true),
                Event::Cancel(topic) => subscription(shared, conn, topic, false),
                Event::NeedsAuth(credentials) => authenticate(shared, conn, credentials),
                Event::Error(e) => conn.end(e.into()),
                _ => {}
            }
        }
    }
    // Both queues are empty now (unless a refused handshake ended the batch): the
    // socket keeps one for the next connection (see `take_input`), the session none.
    let held = conn.session.borrow_mut().take_event_queue();
    let keep = match held {
        Some(held) if held.capacity() > batch.capacity() => held,
        _ => batch,
    };
    *shared.events.borrow_mut() = keep;
    delivered
}

/// PUB / XPUB: the peer subscribed or cancelled.
fn subscription<P: Proactor>(shared: &Shared<P>, conn: &Conn, topic: Bytes, on: bool) {
    if let Some(peer) = conn.peer.get() {
        shared.core.borrow_mut().on_subscription(peer, topic, on);
    }
}

/// Answers a server's request for a verdict: through the context's ZAP handler when
/// one is installed, otherwise as libzmq does without one (PLAIN refuses; NULL and
/// CURVE accept unless ZAP_ENFORCE_DOMAIN).
fn authenticate<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<Conn>, credentials: Credentials) {
    let (handler, request, enforce) = {
        let core = shared.core.borrow();
        let opts = &core.opts;
        let mechanism = match &credentials {
            Credentials::Null => "NULL",
            Credentials::Plain { .. } => "PLAIN",
            Credentials::Curve { .. } => "CURVE",
        };
        let request = ZapRequest {
            domain: opts.zap_domain.clone(),
            address: conn.address.clone(),
            routing_id: opts.routing_id.clone(),
            mechanism,
            credentials,
        };
        let plain = opts.security.mechanism == MechanismKind::Plain;
        (opts.zap.get(), request, opts.zap_enforce_domain || plain)
    };
    let Some(handler) = handler else {
        if enforce {
            // libzmq closes the connection without an ERROR.
            conn.end(DisconnectReason::NoZapHandler {
                mechanism: request.mechanism,
            });
            return;
        }
        let verdict = AuthVerdict::Allow {
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        };
        let now = shared.proactor.now();
        let _ = conn.session.borrow_mut().auth_result(now, verdict);
        return;
    };
    conn.authenticating.set(true);
    let shared = shared.clone();
    let conn = conn.clone();
    let p = shared.proactor.clone();
    p.spawn_local(async move {
        let reply = {
            let fut = handler.authenticate(request);
            match select(fut, conn.wait_done()).await {
                Either::Left(reply) => reply,
                Either::Right(()) => return,
            }
        };
        conn.authenticating.set(false);
        let verdict = verdict_of(reply);
        let now = shared.proactor.now();
        let _ = conn.session.borrow_mut().auth_result(now, verdict);
        drain_events(&shared, &conn);
        conn.wake_reader.notify();
        conn.wake_writer.notify();
    });
}

/// A ZAP reply as the session's verdict; an unknown status counts as 500.
fn verdict_of(reply: ZapReply) -> AuthVerdict {
    match reply.status {
        200 => AuthVerdict::Allow {
            user_id: reply.user_id,
            metadata: reply.metadata,
        },
        300 | 400 | 500 => AuthVerdict::Deny {
            status: reply.status,
        },
        _ => AuthVerdict::Deny { status: 500 },
    }
}

/// Joins the connection to its peer; false when the socket refused the peer.
fn on_handshake<P: Proactor>(shared: &Shared<P>, conn: &Rc<Conn>, metadata: &Metadata) -> bool {
    let existing = match conn.origin {
        Origin::Connect { peer, .. } => peer,
        Origin::Bind(_) => None,
    };
    let identity = metadata
        .get(ringmq_zmtp::metadata::IDENTITY)
        .filter(|id| !id.is_empty())
        .cloned();
    let identity = shared.identity_for(conn.origin, identity);
    match shared.attach(conn.clone(), existing, identity) {
        Ok((peer, rid)) => {
            conn.peer.set(Some(peer));
            shared.emit(MonitorEventKind::HandshakeSucceeded, &conn.endpoint, rid);
            true
        }
        Err(refusal) => {
            conn.end(refusal.into());
            false
        }
    }
}

async fn read_loop<P: Proactor>(shared: Rc<Shared<P>>, conn: Rc<Conn>, mut reader: P::Reader) {
    let p = shared.proactor.clone();
    let mut size = READ_TINY;
    // Allocated once a buffer is retired (a connection with short messages never).
    let mut pool = Vec::new();
    // Reading stopped at the RCVHWM: the session's input deadlines are suspended.
    let mut held = false;
    while !conn.is_done() {
        // Before authentication a peer holds at most one read (512 bytes) plus the
        // session's partial handshake frame (64 KiB): nothing is read while the ZAP
        // handler decides.
        if conn.authenticating.get() {
            // `Conn::end` wakes the reader too.
            conn.wake_reader.notified().await;
            continue;
        }
        if let Some(peer) = conn.peer.get() {
            if shared.core.borrow_mut().input_full(peer) {
                if !held {
                    held = true;
                    conn.session.borrow_mut().hold_input_deadlines();
                }
                conn.wake_reader.notified().await;
                continue;
            }
        }
        if held {
            held = false;
            conn.session.borrow_mut().release_input_deadlines(p.now());
            conn.wake_writer.notify();
        }
        // Receive after the bytes the session could not use yet (a partial frame, for
        // which the decoder reserved room), so every frame lands contiguously and is
        // handed out as a view of this buffer.
        let mut buf = conn.session.borrow_mut().take_recv_buf();
        if buf.capacity() - buf.len() < size / 4 {
            buf = renew(buf, size, &mut pool);
        }
        let spare = buf.capacity() - buf.len();
        let recv = select_in_place!(p.recv(&mut reader, buf), conn.wait_done());
        let BufResult(res, buf) = match recv.await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        match res {
            Ok(0) => conn.end(DisconnectReason::ClosedByPeer),
            Ok(n) => {
                conn.bytes_in.set(conn.bytes_in.get() + n as u64);
                // Before the handshake succeeds the buffer stays tiny (see
                // `authenticating` above: an unauthenticated peer holds little).
                if n == spare && conn.peer.get().is_some() {
                    size = if size < READ_SMALL {
                        READ_SMALL
                    } else {
                        READ_LARGE
                    };
                }
                let delivered = take_input(&shared, &conn, buf);
                if (drain_events(&shared, &conn) || delivered) && n >= YIELD_AFTER_READ {
                    // A driver that completes a receive at once when data is ready
                    // (epoll) would otherwise keep reading until the RCVHWM stops it:
                    // let the application take what arrived first, so the buffer's
                    // frames are dropped and `renew` can reuse it.
                    yield_now(&p).await;
                }
            }
            Err(e) => conn.end(DisconnectReason::RecvFailed(e.into())),
        }
    }
}

/// A read at least this large that delivered messages makes the reader yield (see
/// `read_loop`); a small one (a request, a reply) is not worth a task switch.
const YIELD_AFTER_READ: usize = 4096;

/// How many retired receive buffers a reader keeps for reuse.
const POOL: usize = 2;

/// A buffer with `buf`'s bytes (the start of a frame) and at least `size` bytes of
/// room after them: `buf` itself when every frame cut from it was dropped (reclaimed in
/// place), else a pooled earlier buffer whose frames were all dropped, else a new one.
/// The buffer given up waits in the pool until its frames are dropped. Allocating a
/// fresh buffer per read instead made glibc grow and trim the heap over and over
/// (thousands of `brk` calls and page faults per second at 64 KiB messages).
fn renew(mut buf: BytesMut, size: usize, pool: &mut Vec<BytesMut>) -> BytesMut {
    if buf.try_reclaim(size) {
        return buf;
    }
    let need = buf.len() + size;
    let mut fresh = match pool.iter_mut().position(|b| b.try_reclaim(need)) {
        Some(i) => pool.swap_remove(i),
        None => BytesMut::with_capacity(need),
    };
    fresh.extend_from_slice(&buf);
    buf.clear();
    if pool.len() == POOL {
        pool.remove(0);
    }
    pool.reserve_exact(POOL);
    pool.push(buf);
    fresh
}

/// Moves messages queued for the peer into the session, up to [`BATCH_BYTES`].
fn fill<P: Proactor>(shared: &Shared<P>, conn: &Conn) {
    let Some(peer) = conn.peer.get() else { return };
    let mut core = shared.core.borrow_mut();
    if !core.has_queued_output(peer) {
        return;
    }
    let mut session = conn.session.borrow_mut();
    if !session.is_established() || session.pending_transmit() >= BATCH_BYTES {
        return;
    }
    core.take_output(peer, |msg| match session.send_parts(msg.into_parts()) {
        Ok(()) => session.pending_transmit() < BATCH_BYTES,
        Err(e) => {
            conn.end(e.into());
            false
        }
    });
}

async fn write_loop<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<Conn>, slot: &WriterSlot<P>) {
    let p = &shared.proactor;
    // Held by this task from here on, except while it sleeps (then
    // `Conn::write_through` may write with it).
    let mut writer = slot
        .writer
        .borrow_mut()
        .take()
        .expect("the writer starts in its slot");
    // A write cut short when the connection ended: the stream may stop inside a frame.
    let mut interrupted = false;
    while !conn.is_done() {
        let now = p.now();
        let due = conn
            .session
            .borrow()
            .poll_timeout()
            .is_some_and(|d| d <= now);
        if due {
            conn.session.borrow_mut().handle_timeout(now);
            drain_events(shared, conn);
            if conn.is_done() {
                break;
            }
        }
        fill(shared, conn);
        let mut chunks = std::mem::take(&mut *conn.stash.borrow_mut());
        let tx = conn.session.borrow_mut().poll_transmit();
        if let Some(tx) = tx {
            // What the batch holds is out of the session: room below the SNDHWM.
            let taken = conn.peer.get().map_or(0, |peer| shared.flushed(peer));
            conn.in_write.set(conn.in_write.get() + taken as u64);
            if chunks.is_empty() {
                chunks = tx.chunks;
            } else {
                chunks.extend(tx.chunks);
            }
        }
        if !chunks.is_empty() {
            // Every write-through message is in the stash or the batch now.
            conn.in_write
                .set(conn.in_write.get() + conn.uncounted.take());
            let bytes: usize = chunks.iter().map(Bytes::len).sum();
            conn.writing.set(true);
            let r = select_in_place!(write_all(p, &mut writer, chunks), conn.wait_done()).await;
            conn.writing.set(false);
            shared.progress.notify();
            match r {
                Either::Left(Ok(emptied)) => {
                    conn.in_write.set(0);
                    conn.bytes_out.set(conn.bytes_out.get() + bytes as u64);
                    conn.session.borrow_mut().recycle_transmit(emptied);
                }
                Either::Left(Err(e)) => conn.end(DisconnectReason::SendFailed(e.into())),
                Either::Right(()) => interrupted = true,
            }
            continue;
        }
        let deadline = {
            let mut session = conn.session.borrow_mut();
            // Nothing to write: an idle connection holds no output buffer.
            session.release_idle_output();
            session.poll_timeout()
        };
        conn.sleeping_until.set(deadline);
        *slot.writer.borrow_mut() = Some(writer);
        // `Conn::end` wakes the writer too.
        select_in_place!(conn.wake_writer.notified(), sleep_until_opt(p, deadline)).await;
        writer = slot
            .writer
            .borrow_mut()
            .take()
            .expect("only this task takes the writer out");
        conn.sleeping_until.set(None);
    }
    // A failed session may have queued an ERROR command for the peer: best effort,
    // unless a write was cut short (what follows would be read as the rest of a frame).
    let tx = conn.session.borrow_mut().poll_transmit();
    if let (Some(tx), false) = (tx, interrupted) {
        // The messages in it leave the accounting; counted as lost unless written.
        let taken = conn.peer.get().map_or(0, |peer| shared.flushed(peer));
        conn.in_write
            .set(conn.in_write.get() + taken as u64 + conn.uncounted.take());
        let deadline = p.now() + Duration::from_millis(100);
        // Boxed: this runs once, at the end, and would otherwise size the task's state
        // for the whole life of the connection.
        let last = with_deadline(p, Some(deadline), write_all(p, &mut writer, tx.chunks));
        let written = Box::pin(last).await;
        if let Some(Ok(_)) = written {
            conn.in_write.set(0);
        }
    }
    conn.stash.borrow_mut().clear();
}

/// Drops the first `n` bytes of `chunks`.
fn advance_chunks(chunks: &mut Vec<Bytes>, mut n: usize) {
    let mut done = 0;
    while done < chunks.len() && n >= chunks[done].len() {
        n -= chunks[done].len();
        done += 1;
    }
    if done < chunks.len() {
        chunks[done].advance(n);
    }
    chunks.drain(..done);
}

/// Writes all chunks, in order, with vectored writes, finishing partial writes; gives
/// back the emptied vector.
pub(crate) async fn write_all<P: Proactor>(
    p: &P,
    w: &mut P::Writer,
    mut chunks: Vec<Bytes>,
) -> io::Result<Vec<Bytes>> {
    chunks.retain(|c| !c.is_empty());
    while !chunks.is_empty() {
        let rest = if chunks.len() > MAX_IOVECS {
            chunks.split_off(MAX_IOVECS)
        } else {
            Vec::new()
        };
        let BufResult(res, mut batch) = p.send_vectored(w, chunks).await;
        let n = res?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        advance_chunks(&mut batch, n);
        batch.extend(rest);
        chunks = batch;
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renew_reclaims_in_place_once_frames_are_dropped() {
        let mut pool = Vec::new();
        let mut buf = BytesMut::with_capacity(4096);
        buf.extend_from_slice(&[1; 1000]);
        let start = buf.as_ptr();
        drop(buf.split_to(990).freeze());
        let buf = renew(buf, 3100, &mut pool);
        assert_eq!(buf.as_ptr(), start, "the unique buffer is reused");
        assert_eq!(&buf[..], &[1; 10]);
        assert!(buf.capacity() - buf.len() >= 3100);
        assert!(pool.is_empty());
    }

    #[test]
    fn renew_reuses_a_pooled_buffer_whose_frames_were_dropped() {
        let mut pool = Vec::new();
        let mut buf = BytesMut::with_capacity(2048);
        buf.extend_from_slice(&[1; 2000]);
        let first = buf.split_to(1990).freeze();
        let start = first.as_ptr();
        // A frame of the buffer is alive: a new buffer, the old one waits in the pool.
        let mut buf = renew(buf, 1024, &mut pool);
        assert_ne!(buf.as_ptr(), start);
        assert_eq!(&buf[..], &[1; 10]);
        assert!(buf.capacity() - buf.len() >= 1024);
        assert_eq!(pool.len(), 1);
        // A read fills the new buffer; its frames stay alive.
        buf.extend_from_slice(&[2; 1020]);
        let second = buf.split_to(1025).freeze();
        assert_eq!(&buf[..], &[2; 5]);
        drop(first);
        // The first buffer's frames are gone, the second's are not: the first returns.
        let mut buf = renew(buf, 1024, &mut pool);
        assert_eq!(buf.as_ptr(), start);
        assert_eq!(&buf[..], &[2; 5]);
        assert_eq!(pool.len(), 1);
        // With every frame alive, new buffers are allocated and the pool stays bounded.
        let mut alive = vec![second];
        for _ in 0..5 {
            let spare = buf.capacity() - buf.len();
            buf.extend_from_slice(&vec![3; spare]);
            alive.push(buf.split_to(buf.len() - 1).freeze());
            buf = renew(buf, 1024, &mut pool);
            assert_eq!(&buf[..], &[3]);
            assert!(pool.len() <= POOL);
        }
    }
}

#[cfg(test)]
mod sizes {
    //! A connection's two tasks and its shared state live as long as the connection:
    //! their sizes are most of what an idle peer costs (docs/PERFORMANCE.md, "Memory
    //! per connection"). These bounds catch a large future or field creeping back in
    //! (a future stored twice, an engine's timer inline, a state built across an await).
    use super::*;
    use std::future::Future;

    fn size3<A, B, C, F: Future>(_: fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    fn size5<A, B, C, D, E, F: Future>(_: fn(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    fn check<P: Proactor>(engine: &str) {
        let task = size5(run_from::<P>);
        let reader = size3(read_loop::<P>);
        let conn = std::mem::size_of::<Conn>();
        eprintln!("{engine}: connection task {task} B, reader {reader} B, Conn {conn} B");
        // Debug-build sizes on this tree: 744-936, 368-544 and 1176 bytes.
        assert!(
            task <= 1200,
            "{engine}: the connection's future is {task} bytes"
        );
        assert!(
            reader <= 700,
            "{engine}: the reader's future is {reader} bytes"
        );
        assert!(conn <= 1280, "{engine}: Conn is {conn} bytes");
    }

    #[test]
    fn connection_state_stays_small_on_every_engine() {
        check::<ringmq_proactor::Native>("native");
        check::<ringmq_compio::CompioProactor>("compio");
        check::<ringmq_monoio::MonoioProactor>("monoio");
        check::<ringmq_tokio::TokioProactor>("tokio");
    }
}
