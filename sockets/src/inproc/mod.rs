//! The inproc link: `inproc://name` connections between sockets of one process, on one
//! thread or several, handing [`Message`]s over without encoding them.
//!
//! - Names live in the [`Registry`] of the sockets' [`ContextHandle`](crate::ContextHandle),
//!   shared by every thread whose Context joined it. A bind registers the name with an
//!   [`Acceptor`]; a connect waits until the name is bound (in either order, as in
//!   libzmq), then offers the bound socket a [`Pipe`].
//! - Each side of a pipe is an [`InprocConn`], the socket's [`Link`], run by one task on
//!   its socket's thread (its *pump*): it moves what arrives into its socket's core (up
//!   to the RCVHWM), the core's queued messages into the pipe, and gives its sender room
//!   as the peer takes messages. Messages in the pipe count against the sender's SNDHWM
//!   until the receiving socket took them, so a pipe holds at most the sender's SNDHWM
//!   plus the receiver's RCVHWM, as in libzmq.
//! - The handshake is the pipe's first item: the connecting side tells its type and
//!   routing id when it offers the pipe, the bind side checks the types, attaches the
//!   peer and answers [`Item::Hello`] with its own routing id; the connecting side then
//!   attaches. Incompatible types are refused as over TCP.
//! - A side that ends pushes [`Item::Close`]; the other delivers what came before it,
//!   then ends too (`ClosedByPeer`). A connect then tries again, as over TCP: it waits
//!   for the name to be bound again.
//!
//! Cross-thread wake-ups go through the executors' wakers ([`Signal`]); no thread is
//! spawned and no lock is held across an `.await`.

mod pipe;
mod registry;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ringmq_proactor::Proactor;
use ringmq_zmtp::SocketType;

use crate::connection::Outcome;
use crate::core::{Core, PeerId};
use crate::link::{Link, Origin};
use crate::message::Message;
use crate::monitor::MonitorEventKind;
use crate::reason::DisconnectReason;
use crate::socket::shared::Shared;
use crate::util::{select, Either, Notify, Stop};
pub(crate) use pipe::lock;
use pipe::{Batch, Inbox, Item, Pipe, Side, Waits};
pub(crate) use registry::{Acceptor, PipeEnd, Registry};

/// One side of an inproc connection: the socket's link on it.
pub(crate) struct InprocConn {
    id: u64,
    endpoint: String,
    origin: Origin,
    side: Side,
    pipe: Arc<Pipe>,
    /// Local wake-ups of the pump (output queued, input may resume, closed).
    wake: Notify,
    done: Cell<bool>,
    reason: RefCell<Option<DisconnectReason>>,
    /// The peer, once attached.
    peer: Cell<Option<PeerId>>,
    /// Items taken from the pipe and not yet delivered (the RCVHWM stopped delivery).
    inbox: RefCell<Inbox>,
    /// Reused vectors for the pipe's batches.
    spare: RefCell<Batch>,
    outbox: RefCell<Batch>,
    /// How many of our counted messages the peer had taken when we last looked.
    seen_consumed: Cell<u64>,
    /// Bind side: the handshake answer, pushed before anything else (attaching may
    /// send subscriptions before `run_bound` gets to push it).
    hello: RefCell<Option<Item>>,
    /// [`Item::Close`] was pushed.
    closed: Cell<bool>,
    /// How the pump's waits on the pipe went (its bounded spin).
    waits: Waits,
}

impl InprocConn {
    fn new(id: u64, endpoint: String, origin: Origin, side: Side, pipe: Arc<Pipe>) -> Self {
        pipe.set_thread(side);
        InprocConn {
            id,
            endpoint,
            origin,
            side,
            pipe,
            wake: Notify::default(),
            done: Cell::new(false),
            reason: RefCell::new(None),
            peer: Cell::new(None),
            inbox: RefCell::new(Inbox::default()),
            spare: RefCell::new(Batch::default()),
            outbox: RefCell::new(Batch::default()),
            seen_consumed: Cell::new(0),
            hello: RefCell::new(None),
            closed: Cell::new(false),
            waits: Waits::new(pipe::SPIN_WINDOW),
        }
    }

    /// Tells the peer that this side ended (once). Done when the side ends, not when
    /// its task next runs: the runtime may be gone by then (a socket closed just
    /// before its thread returns).
    fn send_close(&self) {
        if !self.closed.replace(true) {
            self.hello.borrow_mut().take();
            self.pipe.push_one(self.side.other(), Item::Close);
        }
    }

    /// Pushes the handshake answer if it is still due.
    fn flush_hello(&self) {
        let hello = self.hello.borrow_mut().take();
        if let Some(h) = hello {
            self.pipe.push_one(self.side.other(), h);
        }
    }

    /// Pushes one item to the peer (after the handshake answer, if that is due).
    fn push_to_peer(&self, item: Item) {
        self.flush_hello();
        self.pipe.push_one(self.side.other(), item);
    }

    /// Ends this side (the first reason wins) and tells the peer; its pump then
    /// detaches it from the socket.
    fn end(&self, reason: DisconnectReason) {
        if self.done.replace(true) {
            return;
        }
        *self.reason.borrow_mut() = Some(reason);
        self.send_close();
        self.wake.notify();
    }
}

impl Drop for InprocConn {
    /// A side dropped without ending (its runtime went away with the task): the peer
    /// must still learn of it.
    fn drop(&mut self) {
        self.send_close();
    }
}

impl Link for InprocConn {
    fn origin(&self) -> Origin {
        self.origin
    }

    /// Only a write-through message (REQ / REP) goes into the pipe at once (a request
    /// or a reply should not wait for a task switch). Others wait in the socket's queue
    /// and the pump moves them in batches (one lock and one wake-up of the peer per
    /// batch): measured, that costs fewer instructions per message than a batch of
    /// the link's own filled here (67 more per message in `socket_cost
    /// inproc-pushpull`).
    fn offer(&self, msg: Message, write_through: bool) -> Result<(), Message> {
        if !write_through || self.done.get() || self.peer.get().is_none() {
            return Err(msg);
        }
        self.push_to_peer(Item::Msg(msg, false));
        Ok(())
    }

    /// A batch send's run of messages for this peer goes into the pipe at once, behind
    /// the batch the pump has not moved yet: one lock and one wake-up of the peer for
    /// the run, each message moved once, straight into the pipe's vector; they never
    /// enter the socket's queue. They count against
    /// the SNDHWM until the peer took them into its socket, as those the pump moves
    /// (the core counted them as taken by the link when it handed them over).
    fn offer_many(&self, msgs: &mut Vec<Message>) {
        if self.done.get() || self.peer.get().is_none() {
            return;
        }
        self.flush_hello();
        let mut out = self.outbox.borrow_mut();
        self.pipe.push_with(self.side.other(), |lane| {
            lane.append(&mut out);
            lane.extend_counted(msgs.drain(..));
        });
    }

    /// A fan-out message joins the batch by reference (a `Bytes` reference count per
    /// frame, no copy).
    fn offer_shared(&self, msg: &Message) -> bool {
        if self.done.get() || self.peer.get().is_none() {
            return false;
        }
        let mut out = self.outbox.borrow_mut();
        // The pump moves the batch into the pipe; woken when the batch starts.
        if out.is_empty() {
            self.wake.notify();
        }
        out.push_counted(msg.clone());
        true
    }

    fn wake_output(&self) {
        self.wake.notify();
    }

    fn resume_input(&self) {
        self.wake.notify();
    }

    fn send_subscription(&self, topic: &[u8], subscribe: bool) {
        if !self.done.get() {
            let item = Item::Subscription(Bytes::copy_from_slice(topic), subscribe);
            self.push_to_peer(item);
        }
    }

    fn close(&self, reason: DisconnectReason) {
        self.end(reason);
    }

    /// What the pump took from the socket is in the pipe, which outlives this side: the
    /// peer still receives it.
    fn is_flushed(&self) -> bool {
        self.outbox.borrow().is_empty()
    }
}

/// The routing id a socket announces (REQ, DEALER, ROUTER), as in a ZMTP READY.
fn own_identity<P: Proactor>(shared: &Shared<P>) -> Option<Bytes> {
    let core = shared.core.borrow();
    let id = &core.opts.routing_id;
    (core.kind().sends_identity() && !id.is_empty()).then(|| id.clone())
}

/// The bind of `name`: registers it, and accepts the connections offered until
/// `stop` (or until the task is aborted: dropping the [`Binding`] unregisters the
/// name at once).
pub(crate) async fn accept_loop<P: Proactor>(
    shared: Rc<Shared<P>>,
    binding: Binding,
    bind_id: u64,
    endpoint: String,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    let mut ends = Vec::new();
    loop {
        binding.acceptor.take(&mut ends);
        for end in ends.drain(..) {
            p.spawn_local(run_bound(shared.clone(), end, bind_id, endpoint.clone()));
        }
        if let Either::Right(()) = select(binding.acceptor.wait(), stop.wait()).await {
            break;
        }
    }
    drop(binding);
}

/// A bound name; dropping it unbinds the name and closes the connections not yet
/// accepted.
pub(crate) struct Binding {
    hub: Arc<crate::context::Hub>,
    name: String,
    acceptor: Arc<Acceptor>,
}

impl Binding {
    /// Binds `name` for a socket of type `kind`; `None` when the name is in use.
    pub(crate) fn new(
        hub: &Arc<crate::context::Hub>,
        name: &str,
        kind: SocketType,
    ) -> Option<Binding> {
        let acceptor = Arc::new(Acceptor::new(kind));
        hub.inproc.bind(name, acceptor.clone()).then(|| Binding {
            hub: hub.clone(),
            name: name.to_owned(),
            acceptor,
        })
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.hub.inproc.unbind(&self.name, &self.acceptor);
        self.acceptor.close();
    }
}

/// A connection offered to a bound socket: checked, attached, then pumped until it
/// ends.
async fn run_bound<P: Proactor>(
    shared: Rc<Shared<P>>,
    end: PipeEnd,
    bind_id: u64,
    endpoint: String,
) {
    shared.emit(MonitorEventKind::Accepted, &endpoint, None);
    let kind = shared.core.borrow().kind();
    let refused = if shared.io.borrow().terminated {
        Some(DisconnectReason::SocketClosed)
    } else if !kind.is_compatible(end.kind) {
        Some(
            ringmq_zmtp::Error::IncompatibleSocketType {
                local: kind,
                peer: end.kind,
            }
            .into(),
        )
    } else {
        None
    };
    if let Some(reason) = refused {
        end.pipe.push_one(Side::Connect, Item::Close);
        shared.emit(
            MonitorEventKind::HandshakeFailed { reason },
            &endpoint,
            None,
        );
        return;
    }
    let id = shared.io.borrow_mut().next_id();
    let conn = Rc::new(InprocConn::new(
        id,
        endpoint,
        Origin::Bind(bind_id),
        Side::Bind,
        end.pipe,
    ));
    shared.io.borrow_mut().conns.insert(id, conn.clone());
    *conn.hello.borrow_mut() = Some(Item::Hello(own_identity(&shared)));
    if attach(&shared, &conn, end.identity) {
        conn.flush_hello();
    } else {
        conn.hello.borrow_mut().take();
    }
    pump(&shared, &conn).await;
    finish(&shared, &conn);
}

/// A connect to `name`: waits until it is bound, offers the bound socket a pipe, pumps
/// it until it ends, and tries again (with the reconnect backoff) until `disconnect` or
/// close.
pub(crate) async fn connect_loop<P: Proactor>(
    shared: Rc<Shared<P>>,
    name: String,
    endpoint: String,
    connect_id: u64,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    let hub = shared.ctx.hub.clone();
    let (first, max) = {
        let core = shared.core.borrow();
        (core.opts.reconnect_ivl, core.opts.reconnect_ivl_max)
    };
    let first = first.max(Duration::from_millis(1));
    let mut ivl = first;
    while !stop.is_stopped() {
        let acceptor = match select(hub.inproc.bound(&name), stop.wait()).await {
            Either::Left(a) => a,
            Either::Right(()) => break,
        };
        let kind = shared.core.borrow().kind();
        let mut established = false;
        if kind.is_compatible(acceptor.kind) {
            let pipe = Arc::new(Pipe::default());
            let end = PipeEnd {
                pipe: pipe.clone(),
                kind,
                identity: own_identity(&shared),
            };
            if acceptor.offer(end).is_err() {
                // Unbound meanwhile: wait for the name again.
                continue;
            }
            drop(acceptor);
            shared.emit(MonitorEventKind::Connected, &endpoint, None);
            let peer = shared
                .io
                .borrow()
                .connects
                .iter()
                .find(|c| c.id == connect_id)
                .and_then(|c| c.peer);
            let id = shared.io.borrow_mut().next_id();
            let origin = Origin::Connect {
                id: connect_id,
                peer,
            };
            let conn = Rc::new(InprocConn::new(
                id,
                endpoint.clone(),
                origin,
                Side::Connect,
                pipe,
            ));
            shared.io.borrow_mut().conns.insert(id, conn.clone());
            pump(&shared, &conn).await;
            established = finish(&shared, &conn).established;
        } else {
            let reason = ringmq_zmtp::Error::IncompatibleSocketType {
                local: kind,
                peer: acceptor.kind,
            }
            .into();
            drop(acceptor);
            shared.emit(
                MonitorEventKind::HandshakeFailed { reason },
                &endpoint,
                None,
            );
        }
        if established {
            ivl = first;
        }
        if stop.is_stopped() {
            break;
        }
        let kind = MonitorEventKind::ConnectRetried { interval: ivl };
        shared.emit(kind, &endpoint, None);
        let wake = p.now() + ivl;
        select(p.sleep_until(wake), stop.wait()).await;
        if max > first {
            ivl = (ivl * 2).min(max);
        }
    }
}

/// Joins the connection to its peer (`identity`: the other side's routing id); false
/// when the socket refused it (the connection then ends with the refusal).
fn attach<P: Proactor>(shared: &Shared<P>, conn: &Rc<InprocConn>, identity: Option<Bytes>) -> bool {
    let existing = match conn.origin {
        Origin::Connect { peer, .. } => peer,
        Origin::Bind(_) => None,
    };
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

/// The task of one side: deliver, give room, send, then wait for either side.
async fn pump<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<InprocConn>) {
    loop {
        // Created before the work, so a local wake-up during it is not missed.
        let local = conn.wake.notified();
        if conn.done.get() {
            break;
        }
        deliver(shared, conn);
        if conn.done.get() {
            break;
        }
        give_room(shared, conn);
        send(shared, conn);
        let wait = conn.pipe.wait(conn.side, &conn.waits);
        if wait.is_adaptive() {
            select(local, wait_for_peer(&shared.proactor, wait)).await;
        } else {
            // Both sides on this thread: the plain wait, with nothing to step.
            select(local, conn.pipe.wait_parked(conn.side)).await;
        }
    }
}

/// Waits until the peer raises this side's signal: spinning first (yielding to the
/// other ready tasks between looks) when the side's recent waits showed that it pays,
/// then parked (see `pipe::Waits`).
async fn wait_for_peer<P: Proactor>(p: &P, mut wait: pipe::Wait<'_>) {
    loop {
        match wait.step() {
            pipe::Step::Raised => return,
            pipe::Step::Yield => p.yield_now().await,
            pipe::Step::Park => return std::future::poll_fn(|cx| wait.poll_parked(cx)).await,
        }
    }
}

/// Moves what arrived into the socket: messages up to the RCVHWM, subscriptions, the
/// handshake answer, the peer's end.
fn deliver<P: Proactor>(shared: &Rc<Shared<P>>, conn: &Rc<InprocConn>) {
    let mut taken = 0u64;
    {
        let mut inbox = conn.inbox.borrow_mut();
        conn.pipe
            .take(conn.side, &mut inbox, &mut conn.spare.borrow_mut());
        let Inbox {
            items: inbox,
            frames,
        } = &mut *inbox;
        // Borrowed for a run of messages, released before anything else.
        let mut core = None;
        loop {
            if let Some(&Item::Frames(n)) = inbox.front() {
                // Up to the RCVHWM of the run of lone frames, as messages.
                let k = match conn.peer.get() {
                    Some(peer) => {
                        let core = core.get_or_insert_with(|| shared.core.borrow_mut());
                        let k = n.min(core.input_room(peer));
                        if k == 0 {
                            break;
                        }
                        deliver_frames(core, peer, frames, k);
                        taken += k as u64;
                        k
                    }
                    None => {
                        frames.drain(..n);
                        n
                    }
                };
                if k == n {
                    inbox.pop_front();
                } else {
                    inbox[0] = Item::Frames(n - k);
                }
                continue;
            }
            if let Some(Item::Msg(..)) = inbox.front() {
                let Some(peer) = conn.peer.get() else {
                    inbox.pop_front();
                    continue;
                };
                let core = core.get_or_insert_with(|| shared.core.borrow_mut());
                let room = core.input_room(peer);
                if room == 0 {
                    break;
                }
                // The messages at the front, up to the RCVHWM, go into the socket as
                // one run.
                if core.queues_runs() {
                    if let Some(n) = deliver_run(core, peer, inbox, room) {
                        taken += n;
                        continue;
                    }
                }
                let run = inbox
                    .iter()
                    .take(room)
                    .take_while(|i| matches!(i, Item::Msg(..)))
                    .count();
                core.on_messages(
                    peer,
                    inbox.drain(..run).filter_map(|item| match item {
                        Item::Msg(msg, counted) => {
                            taken += u64::from(counted);
                            Some(arrived(msg))
                        }
                        _ => None,
                    }),
                );
                continue;
            }
            let Some(item) = inbox.pop_front() else {
                break;
            };
            match item {
                // Taken by the arms above.
                Item::Msg(..) | Item::Frames(_) => {}
                Item::Subscription(topic, on) => {
                    drop(core.take());
                    if let Some(peer) = conn.peer.get() {
                        shared.core.borrow_mut().on_subscription(peer, topic, on);
                    }
                }
                Item::Hello(identity) => {
                    drop(core.take());
                    let due = conn.side == Side::Connect && conn.peer.get().is_none();
                    if due && !attach(shared, conn, identity) {
                        break;
                    }
                }
                Item::Close => {
                    drop(core.take());
                    conn.end(DisconnectReason::ClosedByPeer);
                    inbox.clear();
                    frames.clear();
                    break;
                }
            }
        }
    }
    break_out(shared, conn, taken);
}

/// Moves the messages at the front of `inbox`, up to `room` of them, into the socket as
/// arrivals from `peer`, as one run, where the core queues a run without looking at
/// each message on its own ([`Core::input_run`]: PULL, DEALER, PAIR, SUB, XSUB): how
/// many of them counted against the sender's SNDHWM; `None` (nothing moved) for the
/// other types, which take them through [`Core::on_messages`].
fn deliver_run(
    core: &mut Core,
    peer: PeerId,
    inbox: &mut VecDeque<Item>,
    room: usize,
) -> Option<u64> {
    let mut run = core.input_run(peer)?;
    let mut taken = 0u64;
    if run.filters() {
        move_run(inbox, room, &mut taken, |msg| {
            run.push(msg);
        });
    } else if let Some(counted) = plain_run(inbox, room) {
        // The usual case, the whole inbox, in one pass.
        drain_whole(inbox, |items| {
            run.extend_unfiltered(items.map(|item| match item {
                Item::Msg(msg, _) => msg,
                _ => unreachable!("plain_run checked that every item is a message"),
            }))
        });
        taken = counted;
    } else {
        move_run(inbox, room, &mut taken, |msg| run.push_unfiltered(msg));
    }
    Some(taken)
}

/// Moves the first `k` lone frames of `frames` into the socket as messages from
/// `peer` (all counted), as one run where the core queues runs ([`Core::input_run`]),
/// else through [`Core::on_messages`].
fn deliver_frames(core: &mut Core, peer: PeerId, frames: &mut VecDeque<Bytes>, k: usize) {
    if core.queues_runs() {
        if let Some(mut run) = core.input_run(peer) {
            if run.filters() {
                for frame in frames.drain(..k) {
                    run.push(Message::from(frame));
                }
            } else if k == frames.len() {
                // The usual case, all of them.
                drain_whole(frames, |all| run.extend_unfiltered(all.map(Message::from)));
            } else {
                run.extend_unfiltered(frames.drain(..k).map(Message::from));
            }
            return;
        }
    }
    core.on_messages(peer, frames.drain(..k).map(Message::from));
}

/// Hands `f` a drain of all of `q`, lent as a `Vec`: the conversion keeps the buffer
/// (the pipe's hand-over leaves it starting at its front), and a `Vec`'s drain tells
/// its exact length, so the queue it goes into reserves once. The emptied buffer goes
/// back into `q`.
#[inline(always)]
fn drain_whole<T>(q: &mut VecDeque<T>, f: impl FnOnce(std::vec::Drain<'_, T>)) {
    let mut all = Vec::from(std::mem::take(q));
    f(all.drain(..));
    *q = VecDeque::from(all);
}

/// Whether all of `inbox` is one run for the socket as it is: no more than `room`
/// items, every one a message that carries no metadata (see [`arrived`]); how many of
/// them are counted.
fn plain_run(inbox: &VecDeque<Item>, room: usize) -> Option<u64> {
    if inbox.len() > room {
        return None;
    }
    let mut counted = 0u64;
    for item in inbox {
        match item {
            Item::Msg(msg, c) if msg.peer_metadata().is_none() => counted += u64::from(*c),
            _ => return None,
        }
    }
    Some(counted)
}

/// Hands the messages at the front of `inbox`, up to `max`, to `push`, adding the
/// counted ones to `taken`; stops before the first item that is not a message.
#[inline(always)]
fn move_run(
    inbox: &mut VecDeque<Item>,
    max: usize,
    taken: &mut u64,
    mut push: impl FnMut(Message),
) {
    for _ in 0..max {
        match inbox.pop_front() {
            Some(Item::Msg(msg, counted)) => {
                *taken += u64::from(counted);
                push(arrived(msg));
            }
            Some(other) => {
                inbox.push_front(other);
                break;
            }
            None => break,
        }
    }
}

/// A message as it arrives over inproc: metadata of an earlier hop (a forwarded
/// message) does not describe this peer; inproc peers carry none.
#[inline(always)]
fn arrived(mut msg: Message) -> Message {
    if msg.peer_metadata().is_some() {
        msg.set_peer(None);
    }
    msg
}

/// After a delivery: tell the peer how many counted messages were taken, and carry out
/// the core's output (wakes `recv`).
fn break_out<P: Proactor>(shared: &Shared<P>, conn: &InprocConn, taken: u64) {
    if taken > 0 {
        conn.pipe.consumed(conn.side, taken);
    }
    shared.run_core_output();
}

/// The peer took some of our messages into its socket: room below our SNDHWM.
fn give_room<P: Proactor>(shared: &Shared<P>, conn: &InprocConn) {
    let consumed = conn.pipe.consumed_by(conn.side.other());
    let seen = conn.seen_consumed.replace(consumed);
    if consumed != seen {
        if let Some(peer) = conn.peer.get() {
            let n = usize::try_from(consumed - seen).unwrap_or(usize::MAX);
            shared.flushed_some(peer, n);
        }
    }
}

/// Moves the batch and the messages queued for the peer into the pipe, at once.
fn send<P: Proactor>(shared: &Shared<P>, conn: &InprocConn) {
    let Some(peer) = conn.peer.get() else { return };
    let mut out = conn.outbox.borrow_mut();
    {
        // After what was offered directly: the socket queues only behind those.
        let mut core = shared.core.borrow_mut();
        if core.has_queued_output(peer) {
            core.take_output(peer, |msg| {
                out.push_counted(msg);
                true
            });
        }
    }
    if out.is_empty() {
        return;
    }
    conn.flush_hello();
    conn.pipe.push(conn.side.other(), &mut out);
    // For `close` waiting (LINGER) until the queues are empty.
    shared.progress.notify();
}

/// The connection ended: the peer is told, the socket detaches it and reports why.
fn finish<P: Proactor>(shared: &Shared<P>, conn: &InprocConn) -> Outcome {
    conn.done.set(true);
    conn.send_close();
    // Messages the peer took before the end were delivered, not dropped.
    give_room(shared, conn);
    let reason = conn
        .reason
        .borrow_mut()
        .take()
        .unwrap_or(DisconnectReason::SocketClosed);
    let peer = conn.peer.get();
    shared.io.borrow_mut().conns.remove(&conn.id);
    let routing_id = peer.and_then(|p| shared.core.borrow().routing_id(p));
    if let Some(peer) = peer {
        shared.detach(peer, conn.origin);
    }
    let kind = if peer.is_some() {
        MonitorEventKind::Disconnected { reason }
    } else {
        MonitorEventKind::HandshakeFailed { reason }
    };
    shared.emit(kind, &conn.endpoint, routing_id);
    conn.inbox.borrow_mut().clear();
    shared.send_ready.notify();
    shared.recv_ready.notify();
    shared.progress.notify();
    Outcome {
        established: peer.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(items: &VecDeque<Item>) -> Vec<&[u8]> {
        items
            .iter()
            .map(|i| match i {
                Item::Msg(m, _) => &m.frames()[0][..],
                Item::Close => b"close",
                _ => b"other control item",
            })
            .collect()
    }

    fn inbox(items: impl IntoIterator<Item = Item>) -> VecDeque<Item> {
        items.into_iter().collect()
    }

    fn m(s: &'static str, counted: bool) -> Item {
        Item::Msg(Message::from(s), counted)
    }

    #[test]
    fn a_plain_run_is_the_whole_inbox_within_the_room_and_all_plain_messages() {
        let all = inbox([m("a", true), m("b", false), m("c", true)]);
        assert_eq!(plain_run(&all, 3), Some(2), "two of them counted");
        assert_eq!(plain_run(&all, 100), Some(2));
        assert_eq!(plain_run(&all, 2), None, "more than the room");
        assert_eq!(plain_run(&inbox([]), 0), Some(0));
        let mut with_meta = Message::from("m");
        with_meta.set_peer(Some(Arc::new(ringmq_zmtp::Metadata::new())));
        let meta = inbox([m("a", true), Item::Msg(with_meta, true)]);
        assert_eq!(plain_run(&meta, 10), None, "metadata to clear");
        for control in [
            Item::Close,
            Item::Hello(None),
            Item::Subscription(Bytes::from_static(b"t"), true),
        ] {
            let mixed = inbox([m("a", true), control]);
            assert_eq!(plain_run(&mixed, 10), None, "a control item");
        }
    }

    #[test]
    fn a_moved_run_stops_at_the_room_and_before_a_control_item() {
        let mut items = inbox([m("a", true), m("b", false), m("c", true), Item::Close]);
        let (mut taken, mut got) = (0, Vec::new());
        move_run(&mut items, 2, &mut taken, |msg| got.push(msg));
        assert_eq!((taken, got.len()), (1, 2), "the room");
        assert_eq!(msgs(&items), [&b"c"[..], b"close"]);
        move_run(&mut items, 10, &mut taken, |msg| got.push(msg));
        assert_eq!((taken, got.len()), (2, 3), "up to the control item");
        assert_eq!(msgs(&items), [&b"close"[..]], "which stays, first");
        move_run(&mut items, 10, &mut taken, |msg| got.push(msg));
        assert_eq!(got.len(), 3, "nothing moves past it");
        let order: Vec<_> = got.iter().map(|m| m.frames()[0].clone()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        let mut meta = Message::from("m");
        meta.set_peer(Some(Arc::new(ringmq_zmtp::Metadata::new())));
        let mut items = inbox([Item::Msg(meta, true)]);
        move_run(&mut items, 1, &mut taken, |msg| got.push(msg));
        assert!(got[3].peer_metadata().is_none(), "cleared");
        assert!(items.is_empty());
    }
}
