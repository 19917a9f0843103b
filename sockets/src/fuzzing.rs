//! Entry point of the socket-level fuzz target: a whole socket of any type, driven
//! without I/O, whose peers send whatever the fuzzer wants. Hidden from the docs.
//!
//! The socket is its pure core (`core::Core`) plus, for each connection, a real ZMTP
//! [`Session`] in memory, played by a small shell that does what the I/O shell does
//! (`socket/shared.rs`, `connection.rs`): it attaches a connection to a peer after its
//! handshake, hands received messages to the core, stops reading at the RCVHWM,
//! lets the writer (when it runs) move queued messages into the session up to one
//! batch and report them flushed,
//! carries out the core's actions, runs the session timers on a virtual clock, and
//! detaches peers whose connection ended. Connections either speak raw fuzzer bytes
//! from the first byte on, or start with a valid handshake by a peer of a compatible
//! type and then mix raw bytes with well-formed messages.
//!
//! [`fuzz_socket`] panics (the fuzzer's finding) when anything in the socket panics, or
//! when a bound does not hold: a peer's send queue beyond its SNDHWM, its receive
//! queue beyond its RCVHWM plus one read, or a session holding more than the
//! configured limits allow (see `Harness::check_bounds`).

use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, Session, SessionConfig, SocketType};

use crate::core::{Action, Core, PeerId, Sent};
use crate::message::Message;
use crate::options::{hwm_bound, Options, SocketOption};

/// The socket types, in the order the first input byte picks them.
const TYPES: [SocketType; 11] = [
    SocketType::Req,
    SocketType::Rep,
    SocketType::Dealer,
    SocketType::Router,
    SocketType::Pub,
    SocketType::Sub,
    SocketType::XPub,
    SocketType::XSub,
    SocketType::Push,
    SocketType::Pull,
    SocketType::Pair,
];

/// Connections at most.
const SLOTS: usize = 8;
/// Largest raw read fed at once (one op carries at most this many bytes).
const MAX_READ: usize = 255;
/// What the writer moves into a session before it writes (the shell's `BATCH_BYTES`).
const BATCH: usize = 256 * 1024;
/// `MaxMsgSize` when the options byte sets it.
const MAX_MSG: u64 = 1024;

/// One connection: the socket's session, and for a handshaken peer a session of the
/// peer's side, so well-formed traffic can be encoded and our output decoded.
struct Conn {
    session: Session,
    peer_side: Option<Session>,
    /// The core's peer once attached.
    peer: Option<PeerId>,
    /// The connect-side peer this connection joins, if any.
    existing: Option<PeerId>,
    /// Bytes the peer sent that the socket did not read yet (the kernel's buffer).
    unread: Vec<u8>,
    /// Bytes fed to the session so far.
    fed: usize,
}

/// What a run reached, so tests can check the harness gets deep into a socket.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    /// Connections attached to a peer after their handshake.
    pub attached: usize,
    /// Messages the core kept for the application.
    pub received: usize,
    /// Messages the application got from `recv`.
    pub read: usize,
    /// Bytes the socket wrote to its peers.
    pub written: usize,
    /// Connections that ended (errors, refusals, closes).
    pub ended: usize,
}

struct Harness {
    report: Report,
    core: Core,
    kind: SocketType,
    conns: Vec<Option<Conn>>,
    now: Instant,
    config: SessionConfig,
    limited: bool,
}

/// Reads the fuzzer's input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        taken
    }

    /// A message of 1 to 4 frames, each up to 255 bytes.
    fn message(&mut self) -> Vec<Bytes> {
        let n = usize::from(self.byte().unwrap_or(0) % 4) + 1;
        (0..n)
            .map(|_| {
                let len = usize::from(self.byte().unwrap_or(0));
                Bytes::copy_from_slice(self.bytes(len))
            })
            .collect()
    }
}

/// Runs one socket on `data` (see the module documentation for the format: the first
/// byte picks the type, the second the options, then one op per byte).
pub fn fuzz_socket(data: &[u8]) -> Report {
    let mut input = Input(data);
    let (Some(kind), Some(flags)) = (input.byte(), input.byte()) else {
        return Report::default();
    };
    let kind = TYPES[usize::from(kind) % TYPES.len()];
    let mut h = Harness::new(kind, flags);
    while let Some(op) = input.byte() {
        let slot = usize::from(op >> 4) % SLOTS;
        match op & 0x0f {
            0 => h.open(slot, input.byte().unwrap_or(0), false),
            1 => h.open(slot, 0, true),
            2 | 3 => {
                let len = usize::from(input.byte().unwrap_or(0)).min(MAX_READ);
                let bytes = input.bytes(len).to_vec();
                h.peer_bytes(slot, &bytes);
            }
            4 | 5 => {
                let msg = input.message();
                h.peer_message(slot, msg);
            }
            6 | 7 => {
                let mut msg = input.message();
                if kind == SocketType::Router {
                    // Address a connected peer most of the time.
                    let pick = input.byte().unwrap_or(0);
                    if let Some(rid) = h.routing_id(usize::from(pick) % SLOTS) {
                        msg.insert(0, rid);
                    }
                }
                h.app_send(msg);
            }
            8 => h.app_recv(),
            9 => {
                let len = usize::from(input.byte().unwrap_or(0) % 4);
                let topic = input.bytes(len).to_vec();
                h.app_subscribe(&topic, op & 0x10 == 0);
            }
            10 => h.write(slot),
            11 => {
                let ms = u64::from(input.byte().unwrap_or(0)) * 5;
                h.advance(Duration::from_millis(ms));
            }
            12 => h.close(slot),
            13 => h.connect_peer(slot),
            _ => h.peer_reads(slot),
        }
        h.run();
        h.check_bounds();
    }
    h.report
}

impl Harness {
    fn new(kind: SocketType, flags: u8) -> Harness {
        let mut opts = Options::default();
        let mut set = |o: SocketOption| {
            if o.check(kind).is_ok() {
                let _ = opts.set(o);
            }
        };
        if flags & 1 != 0 {
            set(SocketOption::SndHwm(2));
        }
        if flags & 2 != 0 {
            set(SocketOption::RcvHwm(2));
        }
        if flags & 4 != 0 {
            set(SocketOption::MaxMsgSize(Some(MAX_MSG)));
            set(SocketOption::MaxFramesPerMsg(Some(8)));
        }
        if flags & 8 != 0 {
            set(SocketOption::PartialMsgTimeout(Some(
                Duration::from_millis(50),
            )));
        }
        if flags & 16 != 0 {
            set(SocketOption::IdleTimeout(Some(Duration::from_millis(200))));
        }
        if flags & 32 != 0 {
            set(SocketOption::HeartbeatIvl(Duration::from_millis(30)));
        }
        if flags & 64 != 0 {
            set(SocketOption::Conflate(true));
            set(SocketOption::RouterMandatory(true));
            set(SocketOption::ReqRelaxed(true));
            set(SocketOption::ReqCorrelate(true));
            set(SocketOption::XpubVerbose(true));
        }
        if flags & 128 != 0 {
            set(SocketOption::RouterHandover(true));
            set(SocketOption::Immediate(true));
        }
        let config = opts.session_config(kind);
        let limited = opts.max_msg_size.is_some();
        Harness {
            report: Report::default(),
            core: Core::new(kind, opts),
            kind,
            conns: (0..SLOTS).map(|_| None).collect(),
            now: Instant::now(),
            config,
            limited,
        }
    }

    /// A new connection in `slot` (if free). With `raw` its peer speaks fuzzer bytes
    /// from the greeting on; otherwise a peer of a compatible type (picked by `pick`)
    /// completes the handshake first.
    fn open(&mut self, slot: usize, pick: u8, raw: bool) {
        self.open_for(slot, pick, raw, None);
    }

    /// A connect-side peer (queues before its connection, survives it) and a
    /// connection to it.
    fn connect_peer(&mut self, slot: usize) {
        if self.conns[slot].is_some() {
            return;
        }
        let existing = self.core.add_connect_peer();
        self.open_for(slot, 0, false, existing);
    }

    fn open_for(&mut self, slot: usize, pick: u8, raw: bool, existing: Option<PeerId>) {
        if self.conns[slot].is_some() {
            return;
        }
        let Ok(session) = Session::new(self.config.clone(), Box::new(Null::new()), self.now) else {
            return;
        };
        let peer_side = if raw {
            None
        } else {
            let peers: Vec<SocketType> = TYPES
                .into_iter()
                .filter(|t| self.kind.is_compatible(*t))
                .collect();
            let t = peers[usize::from(pick) % peers.len()];
            let mut c = SessionConfig::new(t);
            if pick & 0x80 != 0 && t.sends_identity() {
                c.identity = Bytes::from(vec![b'p', pick & 0x7f]);
            }
            Session::new(c, Box::new(Null::new()), self.now).ok()
        };
        self.conns[slot] = Some(Conn {
            session,
            peer_side,
            peer: None,
            existing,
            unread: Vec::new(),
            fed: 0,
        });
        // The greetings and handshake of a well-behaved peer.
        for _ in 0..8 {
            self.write(slot);
            self.peer_reads(slot);
            self.run();
        }
    }

    fn routing_id(&self, slot: usize) -> Option<Bytes> {
        let peer = self.conns[slot].as_ref()?.peer?;
        self.core.routing_id(peer)
    }

    /// Raw bytes from the peer in `slot`.
    fn peer_bytes(&mut self, slot: usize, bytes: &[u8]) {
        if let Some(c) = self.conns[slot].as_mut() {
            c.unread.extend_from_slice(bytes);
        }
        self.read(slot);
    }

    /// A well-formed message from the handshaken peer in `slot`.
    fn peer_message(&mut self, slot: usize, msg: Vec<Bytes>) {
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        let Some(side) = c.peer_side.as_mut() else {
            return;
        };
        if side.is_established() && side.send(&msg).is_ok() {
            while let Some(t) = side.poll_transmit() {
                c.unread.extend_from_slice(&t.to_vec());
            }
        }
        self.read(slot);
    }

    /// The peer side reads what the socket wrote to it (and answers PINGs).
    fn peer_reads(&mut self, slot: usize) {
        let now = self.now;
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        let Some(side) = c.peer_side.as_mut() else {
            return;
        };
        // (What the socket wrote reached this side in `write`.) Timers, then what this
        // side has to say: handshake commands, PONGs, PINGs.
        side.handle_timeout(now);
        while side.poll_event().is_some() {}
        while let Some(t) = side.poll_transmit() {
            c.unread.extend_from_slice(&t.to_vec());
        }
        self.read(slot);
    }

    /// The reader: feeds what the peer sent, one read of at most `MAX_READ` bytes at
    /// a time, unless the peer's receive queue is at the RCVHWM.
    fn read(&mut self, slot: usize) {
        let now = self.now;
        loop {
            let Some(c) = self.conns[slot].as_mut() else {
                return;
            };
            if c.unread.is_empty() || c.session.is_failed() {
                return;
            }
            if let Some(peer) = c.peer {
                if self.core.input_full(peer) {
                    c.session.hold_input_deadlines();
                    return;
                }
            }
            c.session.release_input_deadlines(now);
            let n = c.unread.len().min(MAX_READ);
            let piece: Vec<u8> = c.unread.drain(..n).collect();
            c.fed += piece.len();
            c.session.handle_input(now, &piece);
            self.events(slot);
        }
    }

    /// Acts on the session's events, like `connection::drain_events`.
    fn events(&mut self, slot: usize) {
        loop {
            let Some(c) = self.conns[slot].as_mut() else {
                return;
            };
            let Some(event) = c.session.poll_event() else {
                return;
            };
            match event {
                Event::HandshakeSucceeded { metadata, .. } => {
                    let identity = metadata
                        .get(ringmq_zmtp::metadata::IDENTITY)
                        .filter(|id| !id.is_empty())
                        .cloned();
                    let existing = c.existing.filter(|_| self.core.keeps_connect_peers());
                    match self.core.attach(existing, identity) {
                        Ok(peer) => {
                            c.peer = Some(peer);
                            self.report.attached += 1;
                        }
                        Err(_) => self.end(slot),
                    }
                }
                Event::Message(parts) => {
                    if let Some(peer) = c.peer {
                        if self.core.on_message(peer, Message::from(parts)) {
                            self.report.received += 1;
                        }
                    }
                }
                Event::Subscribe(topic) => {
                    if let Some(peer) = c.peer {
                        self.core.on_subscription(peer, topic, true);
                    }
                }
                Event::Cancel(topic) => {
                    if let Some(peer) = c.peer {
                        self.core.on_subscription(peer, topic, false);
                    }
                }
                Event::Error(_) => self.end(slot),
                _ => {}
            }
        }
    }

    /// The connection in `slot` ended: its peer is detached (a connect-side peer
    /// stays, others leave).
    fn end(&mut self, slot: usize) {
        let Some(c) = self.conns[slot].take() else {
            return;
        };
        self.report.ended += 1;
        // A connect-side peer stays (its queue waits for the next connection); a
        // connection that never attached leaves nothing to detach.
        if let Some(peer) = c.peer {
            let keep = c.existing == Some(peer) && self.core.keeps_connect_peers();
            self.core.detach(peer, !keep);
        }
    }

    fn close(&mut self, slot: usize) {
        self.end(slot);
    }

    /// The slot whose connection serves `peer`.
    fn slot_of(&self, peer: PeerId) -> Option<usize> {
        self.conns
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.peer == Some(peer)))
    }

    /// A link's `offer`: into the session when established with room in its batch.
    fn offer(&mut self, peer: PeerId, msg: Message, write_through: bool) {
        let slot = self.slot_of(peer);
        match slot.and_then(|s| self.conns[s].as_mut()) {
            Some(c) if c.session.is_established() && c.session.pending_transmit() < BATCH => {
                if c.session.send_parts(msg.into_parts()).is_err() {
                    if let Some(slot) = slot {
                        self.end(slot);
                    }
                }
            }
            _ => {
                self.core.requeue(peer, msg, write_through);
            }
        }
    }

    fn app_send(&mut self, frames: Vec<Bytes>) {
        let Ok(sent) = self.core.send(Message::from(frames)) else {
            return;
        };
        match sent {
            Sent::Direct {
                peer,
                msg,
                write_through,
            } => self.offer(peer, msg, write_through),
            Sent::Fanout(msg) => {
                let targets = self.core.take_fanout();
                for &peer in &targets {
                    let slot = self.slot_of(peer);
                    let c = slot.and_then(|s| self.conns[s].as_mut());
                    match c {
                        Some(c)
                            if c.session.is_established()
                                && c.session.pending_transmit() < BATCH =>
                        {
                            if c.session.send(msg.frames()).is_err() {
                                if let Some(slot) = slot {
                                    self.end(slot);
                                }
                            }
                        }
                        _ => {
                            self.core.requeue(peer, msg.clone(), false);
                        }
                    }
                }
                self.core.restore_fanout(targets);
            }
            Sent::Wake(_) => {}
            Sent::Done | Sent::Blocked(_) => {}
        }
    }

    fn app_recv(&mut self) {
        if let Ok(Some(_)) = self.core.recv() {
            self.report.read += 1;
        }
    }

    fn app_subscribe(&mut self, topic: &[u8], on: bool) {
        let _ = if on {
            self.core.subscribe(topic)
        } else {
            self.core.unsubscribe(topic)
        };
    }

    /// The writer's `fill`: queued messages into the session, up to a batch.
    fn fill(&mut self, peer: PeerId) {
        let Some(slot) = self.slot_of(peer) else {
            return;
        };
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        if !c.session.is_established() || c.session.pending_transmit() >= BATCH {
            return;
        }
        let mut failed = false;
        let session = &mut c.session;
        self.core
            .take_output(peer, |msg| match session.send_parts(msg.into_parts()) {
                Ok(()) => session.pending_transmit() < BATCH,
                Err(_) => {
                    failed = true;
                    false
                }
            });
        if failed {
            self.end(slot);
        }
    }

    /// The writer: fills, takes the batch (flushed), and the peer side receives it.
    fn write(&mut self, slot: usize) {
        let now = self.now;
        let peer = self.conns[slot].as_ref().and_then(|c| c.peer);
        if let Some(peer) = peer {
            self.fill(peer);
        }
        let Some(c) = self.conns[slot].as_mut() else {
            return;
        };
        let Some(t) = c.session.poll_transmit() else {
            return;
        };
        self.report.written += t.len();
        if let Some(side) = c.peer_side.as_mut() {
            side.handle_input(now, &t.to_vec());
        }
        c.session.recycle_transmit(t.chunks);
        if let Some(peer) = peer {
            self.core.flushed(peer);
        }
    }

    /// The clock moves: every session runs its timers.
    fn advance(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        for slot in 0..SLOTS {
            if let Some(c) = self.conns[slot].as_mut() {
                c.session.handle_timeout(now);
                self.events(slot);
            }
        }
    }

    /// Carries out the core's actions until there are none.
    fn run(&mut self) {
        for _ in 0..64 {
            if !self.core.has_actions() {
                let _ = self.core.take_wakes();
                return;
            }
            let mut actions = Vec::new();
            self.core.drain_actions(&mut actions);
            for a in actions {
                match a {
                    // The writer takes queued messages when it runs (`write`).
                    Action::Output(_) => {}
                    Action::ResumeInput(peer) => {
                        if let Some(slot) = self.slot_of(peer) {
                            self.read(slot);
                        }
                    }
                    Action::Subscription {
                        peer,
                        topic,
                        subscribe,
                    } => {
                        for slot in 0..SLOTS {
                            let Some(c) = self.conns[slot].as_mut() else {
                                continue;
                            };
                            if c.peer.is_none() || (peer.is_some() && c.peer != peer) {
                                continue;
                            }
                            let _ = if subscribe {
                                c.session.subscribe(&topic)
                            } else {
                                c.session.cancel(&topic)
                            };
                        }
                    }
                    Action::Disconnect(peer, _) => {
                        if let Some(slot) = self.slot_of(peer) {
                            self.conns[slot] = None;
                            self.report.ended += 1;
                        }
                    }
                }
            }
        }
    }

    /// The bounds the configuration promises, whatever the peers sent.
    fn check_bounds(&self) {
        let opts = &self.core.opts;
        let (sndhwm, rcvhwm) = (hwm_bound(opts.sndhwm), hwm_bound(opts.rcvhwm));
        for c in self.conns.iter().flatten() {
            if let Some(peer) = c.peer {
                if let Some((queued, received)) = self.core.queue_lens(peer) {
                    let send_bound = if opts.conflate { 1 } else { sndhwm };
                    assert!(queued <= send_bound, "send queue {queued} > {send_bound}");
                    // One read may deliver up to one message per two bytes beyond it.
                    let recv_bound = rcvhwm.saturating_add(MAX_READ / 2);
                    assert!(
                        received <= recv_bound,
                        "receive queue {received} > {recv_bound}"
                    );
                }
            }
            // A session holds at most twice what its peer sent plus a read and a
            // batch of output; with MAXMSGSIZE, twice that size whatever was sent.
            let out = BATCH + 64 * 1024;
            let held = c.session.held_bytes();
            let bound = 2 * c.fed + 16 * 1024 + out;
            assert!(held <= bound, "session holds {held} > {bound}");
            if self.limited {
                let bound = 2 * (MAX_MSG as usize + MAX_READ) + 16 * 1024 + out;
                assert!(held <= bound, "limited session holds {held} > {bound}");
            }
        }
    }
}

/// A well-behaved script for socket type `kind` (an index into the types) with the
/// options byte `flags`: three peers connect and handshake, the application sends and
/// each peer sends a message and reads what it got, the application reads and
/// subscribes; then raw garbage, time, a close and a connect-side peer.
pub fn scripted(kind: u8, flags: u8) -> Vec<u8> {
    let router = TYPES[kind as usize] == SocketType::Router;
    let mut data = vec![kind, flags];
    for slot in 0..3u8 {
        let s = slot << 4;
        // Open (a compatible peer picked by `slot`), the application sends
        // (ROUTER: to the peer in this slot), the writer writes.
        data.extend_from_slice(&[s, slot]);
        // (`\x01`: XSUB subscribes to everything.)
        data.extend_from_slice(&[s | 6, 0, 1, 0x01]);
        if router {
            data.push(slot);
        }
        data.extend_from_slice(&[s | 10, s | 14]);
        // The application subscribes to everything (SUB), the peer sends
        // ["", "abc"] (an envelope for REQ / REP), the application reads.
        data.extend_from_slice(&[s | 9, 0, s | 10, s | 14]);
        data.extend_from_slice(&[s | 4, 1, 0, 3, b'a', b'b', b'c', 8]);
    }
    // Raw garbage from slot 1, time passes, slot 2 closes, a connect-side
    // peer in slot 3, time passes.
    data.extend_from_slice(&[0x12, 4, 0xff, 0xff, 0xff, 0xff]);
    data.extend_from_slice(&[11, 40, 0x2c, 0x3d, 11, 200]);
    data
}

/// Seed inputs for the fuzz target: [`scripted`] for every type with a few options
/// bytes, and raw peers crossing the limits ([`over_limits`]).
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    for (i, t) in TYPES.iter().enumerate() {
        for flags in [0u8, 0x07, 0x3f] {
            let name = format!("{}-{flags:02x}", t.as_str().to_ascii_lowercase());
            seeds.push((name, scripted(i as u8, flags)));
        }
    }
    for flags in [0u8, 0x04, 0x0c] {
        seeds.push((format!("limits-{flags:02x}"), over_limits(flags)));
    }
    seeds
}

/// A PULL socket (options byte `flags`) whose raw peer handshakes, then sends an
/// endless multipart message of 200-byte frames and a 2^62-byte frame header, and
/// time passes.
pub fn over_limits(flags: u8) -> Vec<u8> {
    let mut data = vec![9, flags, 0x00, 0x00];
    for _ in 0..40 {
        data.extend_from_slice(&[0x02, 202, 0x01, 200]);
        data.extend_from_slice(&[1; 200]);
    }
    data.extend_from_slice(&[0x02, 9, 0x02, 0x40, 0, 0, 0, 0, 0, 0, 0]);
    data.extend_from_slice(&[0x0b, 100]);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type through a handshake, traffic both ways, subscriptions, timers and
    /// closes, with each options byte.
    #[test]
    fn every_type_runs_a_scripted_input() {
        for kind in 0..TYPES.len() as u8 {
            let mut total = Report::default();
            for flags in [0u8, 0x07, 0x3f, 0xff] {
                let data = scripted(kind, flags);
                let r = fuzz_socket(&data);
                // PAIR admits one peer and refuses the others.
                let peers = if TYPES[kind as usize] == SocketType::Pair {
                    1
                } else {
                    3
                };
                assert!(
                    r.attached >= peers,
                    "{:?} {flags:#x}: {r:?}",
                    TYPES[kind as usize]
                );
                assert!(r.ended >= 1, "{:?} {flags:#x}: {r:?}", TYPES[kind as usize]);
                total.received += r.received;
                total.read += r.read;
                total.written += r.written;
            }
            let t = TYPES[kind as usize];
            // Types that receive data got messages, and the application read some.
            if !matches!(t, SocketType::Pub | SocketType::Push) {
                assert!(total.received > 0 && total.read > 0, "{t:?}: {total:?}");
            }
            assert!(total.written > 0, "{t:?}: {total:?}");
        }
    }

    /// A raw peer that crosses the limits (a 2^62-byte header, an endless multipart
    /// message) is dropped and the bounds hold.
    #[test]
    fn raw_peers_over_the_limits_are_dropped() {
        for flags in [0u8, 0x04, 0x0c] {
            let r = fuzz_socket(&over_limits(flags));
            assert!(r.attached >= 1, "{flags:#x}: {r:?}");
            if flags & 0x0c != 0 {
                assert!(r.ended >= 1, "{flags:#x}: {r:?}");
            }
        }
    }
}
