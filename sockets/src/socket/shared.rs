//! The I/O shell of one socket: the pure core, the links of its attached connections,
//! its endpoints and monitors, and the wake-up lists its tasks wait on. Everything a
//! connection tells the socket goes through here, and here the core's answers are
//! carried out.
//!
//! No borrow of the core is held while a link does I/O: the core decides, the borrow
//! ends, then the link acts.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use ringmq_proactor::Proactor;

use crate::context::{Hub, LocalCtx};
use crate::core::{Action, Core, PeerId, PeerSlots, Refusal};
use crate::error::Error;
use crate::link::{Link, Origin};
use crate::message::Message;
use crate::monitor::{MonitorEventKind, Monitors};
use crate::reason::DisconnectReason;
use crate::trace::DropReport;
use crate::util::{AbortHandle, IdMap, Notify, Stop};

/// The longest message a fan-out to a single target encodes once before copying it
/// into the batch (callgrind, PUB to one SUB, 64 B: 931-943 instructions per message
/// against 957 encoding into the batch directly).
const ENCODE_ONE_MAX: usize = 1024;

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
    /// CONNECT_ROUTING_ID taken by this connect: the id its peer is known by.
    pub routing_id: Option<Bytes>,
}

/// The socket's Context, as its shell needs it.
pub(crate) struct CtxLink {
    pub hub: Arc<Hub>,
    pub local: Rc<LocalCtx>,
}

/// The socket's I/O state: endpoints, connections, monitors.
#[derive(Default)]
pub(crate) struct Io {
    /// The link of each attached peer.
    pub links: PeerSlots<Rc<dyn Link>>,
    /// Every live connection, handshaking or attached, by connection id.
    pub conns: IdMap<Rc<dyn Link>>,
    pub binds: Vec<BindEntry>,
    pub connects: Vec<ConnectEntry>,
    pub monitors: Monitors,
    pub last_endpoint: Option<String>,
    /// Every task was told to stop.
    pub terminated: bool,
    /// Connections accepted on the binds and still running (`RINGMQ_MAX_PEERS`).
    pub accepted: usize,
    /// Connections refused at accept for the peer cap, so far.
    pub peers_refused: u64,
    next_id: u64,
}

impl Io {
    /// An id for a bind, a connect or a connection.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// What a socket shares with its background tasks.
pub(crate) struct Shared<P> {
    pub proactor: P,
    /// The socket's Context: what it shares with other threads (inproc names,
    /// termination) and its part on this thread.
    pub ctx: CtxLink,
    /// The context was terminated and the socket acted on it.
    pub ctx_terminated: Cell<bool>,
    /// `close_shared` runs (a close or drop delivering its queue within LINGER).
    pub lingering: Cell<bool>,
    pub core: RefCell<Core>,
    pub io: RefCell<Io>,
    /// `close` started (or the socket was dropped): no more send / recv.
    pub closing: Cell<bool>,
    /// A message arrived (or the pattern's state changed).
    pub recv_ready: Notify,
    /// Room appeared for some peer, or a peer arrived.
    pub send_ready: Notify,
    /// A writer flushed, or a peer went away (for `close` with linger).
    pub progress: Notify,
    /// Sends completed without waiting since the sender last let other tasks run.
    pub unyielded_sends: Cell<u32>,
    /// The actions being carried out (a reused buffer).
    actions: RefCell<Vec<Action>>,
    /// The emptied event queue of the last connection that reported events: lent to
    /// the next one (`connection::drain_events`), so that the connections of a socket
    /// share one allocation instead of holding one each.
    pub events: RefCell<VecDeque<ringmq_zmtp::Event>>,
    /// Rate limit of the dropped-messages log.
    drop_report: DropReport,
    /// A fan-out's message encoded once for all its targets (a reused buffer).
    wire: RefCell<Vec<u8>>,
}

impl<P: Proactor> Shared<P> {
    pub(crate) fn new(proactor: P, ctx: CtxLink, core: Core) -> Shared<P> {
        Shared {
            proactor,
            ctx,
            ctx_terminated: Cell::new(false),
            lingering: Cell::new(false),
            core: RefCell::new(core),
            io: RefCell::new(Io::default()),
            closing: Cell::new(false),
            recv_ready: Notify::default(),
            send_ready: Notify::default(),
            progress: Notify::default(),
            unyielded_sends: Cell::new(0),
            actions: RefCell::new(Vec::new()),
            events: RefCell::new(VecDeque::new()),
            drop_report: DropReport::default(),
            wire: RefCell::new(Vec::new()),
        }
    }

    /// Calls fail: the socket is closing, or its context was terminated (maybe by
    /// another thread, before this one acted on it).
    pub(crate) fn is_closed(&self) -> bool {
        self.closing.get() || self.ctx.hub.is_terminated()
    }

    /// The error of a call on a closed socket: [`Error::Terminated`] after the
    /// context's termination, else [`Error::Closed`].
    pub(crate) fn closed_error(&self) -> Error {
        if self.ctx_terminated.get() || self.ctx.hub.is_terminated() {
            Error::Terminated
        } else {
            Error::Closed
        }
    }

    /// Makes sure the context's termination reaches this thread (the socket is about
    /// to wait, or has background tasks).
    pub(crate) fn watch_context(&self) {
        self.ctx.local.watch(&self.proactor, &self.ctx.hub);
    }

    /// Logs dropped messages (rate-limited); called on slow paths only.
    pub(crate) fn report_drops(&self) {
        let drops = self.core.borrow().drops();
        self.drop_report.check(drops, || self.proactor.now());
    }

    /// Reports a monitor event.
    pub(crate) fn emit(&self, kind: MonitorEventKind, endpoint: &str, peer: Option<Bytes>) {
        self.io.borrow_mut().monitors.emit(kind, endpoint, peer);
    }

    fn link(&self, peer: PeerId) -> Option<Rc<dyn Link>> {
        self.io.borrow().links.get(peer).cloned()
    }

    /// Carries out what the core asked for (wake-ups, then actions), until it asks for
    /// nothing more.
    pub(crate) fn run_core_output(&self) {
        loop {
            let mut actions = None;
            let (recv, send) = {
                let mut core = self.core.borrow_mut();
                if !core.has_output() {
                    return;
                }
                if core.has_actions() {
                    let mut taken = std::mem::take(&mut *self.actions.borrow_mut());
                    core.drain_actions(&mut taken);
                    actions = Some(taken);
                }
                core.take_wakes()
            };
            if recv {
                self.recv_ready.notify();
            }
            if send {
                self.send_ready.notify();
            }
            // Waking tasks runs none of them: only actions can make more output.
            let Some(mut actions) = actions else {
                return;
            };
            for action in actions.drain(..) {
                self.act(action);
            }
            *self.actions.borrow_mut() = actions;
        }
    }

    fn act(&self, action: Action) {
        match action {
            Action::Output(peer) => self.wake_output(peer),
            Action::ResumeInput(peer) => {
                if let Some(link) = self.link(peer) {
                    link.resume_input();
                }
            }
            Action::Subscription {
                peer: Some(peer),
                topic,
                subscribe,
            } => {
                if let Some(link) = self.link(peer) {
                    link.send_subscription(&topic, subscribe);
                }
            }
            Action::Subscription {
                peer: None,
                topic,
                subscribe,
            } => {
                let links: Vec<_> = self.io.borrow().links.values().cloned().collect();
                for link in links {
                    link.send_subscription(&topic, subscribe);
                }
            }
            Action::Disconnect(peer, refusal) => {
                if let Some(link) = self.link(peer) {
                    link.close(DisconnectReason::Refused(refusal));
                }
            }
        }
    }

    /// Tells `peer`'s link that messages wait in its queue.
    pub(crate) fn wake_output(&self, peer: PeerId) {
        if let Some(link) = self.link(peer) {
            link.wake_output();
        }
    }

    /// Hands a message the core routed directly to `peer`'s link ([`crate::core::Sent::Direct`]);
    /// queues it for the link when the link cannot take it now.
    pub(crate) fn offer(&self, peer: PeerId, msg: Message, write_through: bool) {
        let link = self.link(peer);
        let refused = match &link {
            Some(link) => match link.offer(msg, write_through) {
                Ok(()) => return,
                Err(msg) => msg,
            },
            None => msg,
        };
        let queued = self.core.borrow_mut().requeue(peer, refused, write_through);
        if let (true, Some(link)) = (queued, link) {
            link.wake_output();
        }
    }

    /// [`Shared::offer`] for a run of messages routed directly to `peer`, in order
    /// (a batch send): the link takes what it can ([`Link::offer_many`]); the rest go
    /// back to the front of the peer's queue, in order, and the link is told. `msgs`
    /// is left empty.
    pub(crate) fn offer_run(&self, peer: PeerId, msgs: &mut Vec<Message>) {
        let link = self.link(peer);
        if let Some(link) = &link {
            link.offer_many(msgs);
        }
        if msgs.is_empty() {
            return;
        }
        let mut queued = false;
        {
            let mut core = self.core.borrow_mut();
            // Each goes to the front: the last first keeps the order.
            for msg in msgs.drain(..).rev() {
                queued |= core.requeue(peer, msg, false);
            }
        }
        if let (true, Some(link)) = (queued, link) {
            link.wake_output();
        }
    }

    /// Hands a fan-out message ([`crate::core::Sent::Fanout`]) to each target the core
    /// listed, by reference; a copy is queued for a link that cannot take it now. A
    /// small message is encoded once
    /// ([`ringmq_zmtp::frame::encode_message`]) and the same bytes are copied into each
    /// ZMTP link's batch ([`Link::offer_encoded`]).
    pub(crate) fn fan_out(&self, msg: &Message) {
        let targets = self.core.borrow_mut().take_fanout();
        let mut wire = std::mem::take(&mut *self.wire.borrow_mut());
        // For one target, encoding first pays only for a short message (a longer one
        // would be copied twice).
        let worth = match targets.len() {
            0 => false,
            1 => msg.byte_len() <= ENCODE_ONE_MAX,
            _ => true,
        };
        let encoded = worth && ringmq_zmtp::frame::encode_message(msg.frames(), &mut wire);
        for &peer in &targets {
            let link = self.link(peer);
            let taken = link.as_ref().is_some_and(|l| match encoded {
                true => l.offer_encoded(msg, &wire),
                false => l.offer_shared(msg),
            });
            if taken {
                continue;
            }
            let queued = self.core.borrow_mut().requeue(peer, msg.clone(), false);
            if let (true, Some(link)) = (queued, link) {
                link.wake_output();
            }
        }
        self.core.borrow_mut().restore_fanout(targets);
        *self.wire.borrow_mut() = wire;
    }

    // ---- what connections tell the socket

    /// A connection finished its handshake: the core admits it as a peer (joining
    /// `existing`, its connect-side peer) or refuses it. On success the link serves the
    /// peer from now on; returns the peer and its routing id.
    /// The identity to attach a connection of `origin` under: the connect's
    /// CONNECT_ROUTING_ID when it took one, else `announced` (the peer's own).
    pub(crate) fn identity_for(&self, origin: Origin, announced: Option<Bytes>) -> Option<Bytes> {
        if let Origin::Connect { id, .. } = origin {
            let io = self.io.borrow();
            if let Some(rid) = io
                .connects
                .iter()
                .find(|c| c.id == id)
                .and_then(|c| c.routing_id.clone())
            {
                return Some(rid);
            }
        }
        announced
    }

    pub(crate) fn attach(
        &self,
        link: Rc<dyn Link>,
        existing: Option<PeerId>,
        identity: Option<Bytes>,
    ) -> Result<(PeerId, Option<Bytes>), Refusal> {
        let (peer, rid) = {
            let mut core = self.core.borrow_mut();
            let peer = core.attach(existing, identity)?;
            (peer, core.routing_id(peer))
        };
        self.io.borrow_mut().links.insert(peer, link);
        self.run_core_output();
        Ok((peer, rid))
    }

    /// A connection of `peer` ended: the peer leaves the routing set unless it is a
    /// connect-side peer that survives reconnects (`origin`).
    pub(crate) fn detach(&self, peer: PeerId, origin: Origin) {
        let terminated = self.io.borrow().terminated;
        let link = self.io.borrow_mut().links.remove(peer);
        {
            let mut core = self.core.borrow_mut();
            if let Some(link) = link {
                let (bytes_in, bytes_out) = link.traffic();
                core.add_traffic(peer, bytes_in, bytes_out);
            }
            let reconnects = match origin {
                Origin::Connect { id, .. } => {
                    !terminated && self.io.borrow().connects.iter().any(|c| c.id == id)
                }
                Origin::Bind(_) => false,
            };
            if reconnects {
                core.hiccup(peer);
            }
            let keep = reconnects && core.keeps_connect_peers();
            core.detach(peer, !keep);
        }
        self.run_core_output();
    }

    /// `peer`'s link passed on `n` of the messages it was given or took (an inproc
    /// peer took them into its socket): they no longer count against the SNDHWM.
    pub(crate) fn flushed_some(&self, peer: PeerId, n: usize) {
        let mut core = self.core.borrow_mut();
        core.flushed_some(peer, n);
        if core.has_output() {
            drop(core);
            self.run_core_output();
        }
    }

    /// `peer`'s link took the messages it was given or took, out of its batch: they no
    /// longer count against the SNDHWM. Returns how many.
    pub(crate) fn flushed(&self, peer: PeerId) -> usize {
        let mut core = self.core.borrow_mut();
        let n = core.flushed(peer);
        self.drop_report.check(core.drops(), || self.proactor.now());
        if core.has_output() {
            drop(core);
            self.run_core_output();
        }
        n
    }
}
