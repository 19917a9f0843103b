//! The peers of one socket and their queues, shared by every pattern: the peer table,
//! the high-water marks, the hand-over of a message to a peer, and the two rotations
//! that make round-robin and fair-queueing cost the same whatever the number of idle
//! peers.
//!
//! libzmq keeps the pipes that can take or give a message at the front of an array
//! (`lb.cpp`, `fq.cpp`). Here each rotation is a queue of the peers that are (or were
//! last seen) ready: taking the next peer pops the front and skips the entries that
//! went stale, a peer that is still ready after its turn goes to the back, and a peer
//! that becomes ready again is pushed once. A flag per peer keeps each peer in a queue
//! at most once, so every operation is O(1) amortised. Peers live in a slot table
//! (`table.rs`): looking one up is an index, not a hash.

use std::collections::VecDeque;

use bytes::Bytes;

use super::subscriptions::Subscriptions;
pub(crate) use super::table::PeerId;
use super::table::PeerTable;
use super::{Action, Drops, Sent};
use crate::message::Message;
use crate::options::{hwm_bound, Options};

/// One peer's queues and routing state.
pub(crate) struct Peer {
    /// Messages waiting for the peer's link to take them.
    out: VecDeque<Message>,
    /// Messages the link took (or was handed directly) and has not written yet: they
    /// count against the SNDHWM like queued ones, so memory stays bounded by the HWM
    /// plus the link's own batch.
    unflushed: usize,
    /// Received messages not yet read by the application.
    inq: VecDeque<Message>,
    sndhwm: usize,
    rcvhwm: usize,
    /// A connection is attached (handshake done, not yet ended).
    attached: bool,
    /// ROUTER's key for this peer; on other types the identity the peer announced.
    pub(crate) routing_id: Option<Bytes>,
    /// PUB / XPUB: what this peer subscribed to (each topic at most once, like
    /// libzmq's per-pipe trie).
    pub(crate) subs: Subscriptions,
    /// The link stopped reading because `inq` reached the RCVHWM.
    input_paused: bool,
    /// Left the routing set; kept only until its received messages are read.
    gone: bool,
    /// Listed in [`Peers::with_room`].
    listed_out: bool,
    /// Listed in [`Peers::with_input`].
    listed_in: bool,
    /// The last fan-out round that reached this peer.
    fan_out_round: u64,
    /// Traffic of this peer (plain counters, bumped where the message is handled).
    pub(crate) counters: PeerCounters,
}

/// Traffic counters of one peer (or of the peers that left).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PeerCounters {
    pub(crate) msgs_in: u64,
    pub(crate) bytes_in: u64,
    pub(crate) msgs_out: u64,
    pub(crate) bytes_out: u64,
    pub(crate) dropped_hwm: u64,
}

impl PeerCounters {
    #[inline]
    fn count_out(&mut self) {
        self.msgs_out += 1;
    }

    pub(crate) fn add(&mut self, o: &PeerCounters) {
        self.msgs_in += o.msgs_in;
        self.bytes_in += o.bytes_in;
        self.msgs_out += o.msgs_out;
        self.bytes_out += o.bytes_out;
        self.dropped_hwm += o.dropped_hwm;
    }
}

/// What the core knows of one peer, for `Socket::stats` (the shell adds the endpoint).
#[derive(Clone, Debug)]
pub(crate) struct PeerSnapshot {
    pub(crate) id: PeerId,
    pub(crate) routing_id: Option<Bytes>,
    pub(crate) attached: bool,
    pub(crate) queued_in: usize,
    pub(crate) queued_out: usize,
    pub(crate) counters: PeerCounters,
}

impl Peer {
    fn new(opts: &Options) -> Peer {
        Peer {
            out: VecDeque::new(),
            unflushed: 0,
            inq: VecDeque::new(),
            sndhwm: hwm_bound(opts.sndhwm),
            rcvhwm: hwm_bound(opts.rcvhwm),
            attached: false,
            routing_id: None,
            subs: Subscriptions::default(),
            input_paused: false,
            gone: false,
            listed_out: false,
            listed_in: false,
            fan_out_round: 0,
            counters: PeerCounters::default(),
        }
    }

    /// Messages counted against the SNDHWM: queued, or taken by the link and not yet
    /// written.
    pub(crate) fn queued(&self) -> usize {
        self.out.len() + self.unflushed
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.attached
    }

    /// Received messages wait to be read.
    pub(crate) fn has_input(&self) -> bool {
        !self.inq.is_empty()
    }

    fn has_room(&self, conflate: bool) -> bool {
        !self.gone && (conflate || self.queued() < self.sndhwm)
    }

    /// Whether a message may skip the queue and go straight to the link: attached,
    /// nothing queued before it (order), and no CONFLATE (which keeps only the newest
    /// queued message).
    fn takes_direct(&self, conflate: bool) -> bool {
        !conflate && self.attached && self.out.is_empty()
    }

    /// See [`Peers::hand_over`].
    #[inline]
    fn hand_over(
        &mut self,
        id: PeerId,
        msg: Message,
        write_through: bool,
        conflate: bool,
        drops: &mut Drops,
    ) -> Sent {
        self.counters.count_out();
        if self.takes_direct(conflate) {
            // A write-through message leaves the socket at once (see `Link::offer`).
            if !write_through {
                self.unflushed += 1;
            }
            return Sent::Direct {
                peer: id,
                msg,
                write_through,
            };
        }
        // A link with messages already queued was told and drains until empty.
        if self.enqueue(msg, conflate, drops) && self.attached {
            Sent::Wake(id)
        } else {
            Sent::Done
        }
    }

    /// After a message was taken from `inq`: whether the link may read again (it was
    /// paused at the RCVHWM and is below it now).
    fn resumes_input(&mut self) -> bool {
        if self.input_paused && self.inq.len() < self.rcvhwm {
            self.input_paused = false;
            return self.attached;
        }
        false
    }

    /// Queues `msg` (with CONFLATE, in place of what was queued); true when the queue
    /// was empty, i.e. the link must be told. Inline: it is the whole of a send's
    /// queueing, and LLVM's choice to call it instead moved with unrelated changes.
    #[inline]
    fn enqueue(&mut self, msg: Message, conflate: bool, drops: &mut Drops) -> bool {
        let was_empty = self.out.is_empty();
        if conflate {
            drops.conflated += self.out.len() as u64;
            self.out.clear();
        }
        self.out.push_back(msg);
        was_empty
    }
}

/// The peer table with its queues, rotations, counters and the actions for the shell.
pub(crate) struct Peers {
    map: PeerTable<Peer>,
    /// Peers that may have room for a message, in round-robin order (only kept by the
    /// patterns that send round-robin).
    with_room: VecDeque<PeerId>,
    /// Peers with received messages, in fair-queueing order.
    with_input: VecDeque<PeerId>,
    round_robin: bool,
    /// Fan-outs so far (the current round).
    fan_outs: u64,
    /// Peers a fan-out looked at, for the tests.
    #[cfg(test)]
    pub(crate) fan_out_visits: u64,
    pub(crate) conflate: bool,
    /// Messages dropped by design.
    pub(crate) drops: Drops,
    /// The counters of the peers that left (for the socket's totals).
    retired: PeerCounters,
    /// What the shell must do (see [`Action`]).
    actions: Vec<Action>,
    /// Waiting receivers should look again (a message arrived, or the pattern's state
    /// changed).
    wake_recv: bool,
    /// Waiting senders should look again (room appeared, or a peer arrived).
    wake_send: bool,
}

impl Peers {
    /// `round_robin`: whether the pattern sends round-robin (keeps [`Peers::with_room`]).
    pub(crate) fn new(round_robin: bool) -> Peers {
        Peers {
            map: PeerTable::default(),
            with_room: VecDeque::new(),
            with_input: VecDeque::new(),
            round_robin,
            fan_outs: 0,
            #[cfg(test)]
            fan_out_visits: 0,
            conflate: false,
            drops: Drops::default(),
            retired: PeerCounters::default(),
            actions: Vec::new(),
            wake_recv: false,
            wake_send: false,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&self, id: PeerId) -> Option<&Peer> {
        self.map.get(id)
    }

    pub(crate) fn get_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.map.get_mut(id)
    }

    /// A live (not gone) peer.
    pub(crate) fn live(&self, id: PeerId) -> Option<&Peer> {
        self.map.get(id).filter(|p| !p.gone)
    }

    pub(crate) fn push_action(&mut self, action: Action) {
        self.actions.push(action);
    }

    pub(crate) fn has_output(&self) -> bool {
        !self.actions.is_empty() || self.wake_recv || self.wake_send
    }

    pub(crate) fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    pub(crate) fn drain_actions(&mut self, into: &mut Vec<Action>) {
        into.append(&mut self.actions);
    }

    pub(crate) fn wake_receivers(&mut self) {
        self.wake_recv = true;
    }

    /// The wake-ups asked for since the last call: `(receivers, senders)`.
    pub(crate) fn take_wakes(&mut self) -> (bool, bool) {
        (
            std::mem::take(&mut self.wake_recv),
            std::mem::take(&mut self.wake_send),
        )
    }

    /// A new peer (not attached yet), ready to take messages.
    pub(crate) fn add(&mut self, opts: &Options) -> PeerId {
        let id = self.map.insert(Peer::new(opts));
        self.list_room(id);
        self.wake_send = true;
        id
    }

    /// Marks a peer attached; a queue that waited for it is announced to the shell.
    pub(crate) fn attach(&mut self, id: PeerId, routing_id: Option<Bytes>) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        p.attached = true;
        p.gone = false;
        p.routing_id = routing_id;
        if !p.out.is_empty() {
            self.actions.push(Action::Output(id));
        }
        self.list_room(id);
        self.wake_send = true;
    }

    /// The peer's connection ended; what the link took and did not write is lost with
    /// it (counted).
    pub(crate) fn detach(&mut self, id: PeerId) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        p.attached = false;
        p.input_paused = false;
        self.drops.disconnected += p.unflushed as u64;
        p.unflushed = 0;
        p.subs = Subscriptions::default();
        self.list_room(id);
        self.wake_send = true;
        self.wake_recv = true;
    }

    /// The peer leaves the routing set: its outbound queue is dropped (counted), and it
    /// is forgotten once its received messages were read.
    pub(crate) fn remove(&mut self, id: PeerId) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        p.gone = true;
        self.drops.disconnected += p.out.len() as u64;
        p.out.clear();
        if p.inq.is_empty() {
            self.forget(id);
        }
        self.wake_send = true;
        self.wake_recv = true;
    }

    fn forget(&mut self, id: PeerId) {
        if let Some(p) = self.map.remove(id) {
            self.retired.add(&p.counters);
        }
        // Stale entries are skipped when popped; compact when they pile up (peers that
        // came and went while nothing was sent or received).
        let live = 2 * self.map.len() + 32;
        if self.with_room.len() > live {
            let map = &self.map;
            self.with_room.retain(|&id| map.contains(id));
        }
        if self.with_input.len() > live {
            let map = &self.map;
            self.with_input.retain(|&id| map.contains(id));
        }
    }

    /// Puts the peer in the round-robin rotation if it has room and is not listed.
    fn list_room(&mut self, id: PeerId) {
        if !self.round_robin {
            return;
        }
        if let Some(p) = self.map.get_mut(id) {
            if !p.listed_out && p.has_room(self.conflate) {
                p.listed_out = true;
                self.with_room.push_back(id);
            }
        }
    }

    /// Whether `id` can take one more message now.
    pub(crate) fn has_room(&self, id: PeerId) -> bool {
        self.map.get(id).is_some_and(|p| p.has_room(self.conflate))
    }

    /// Whether a peer in the round-robin rotation has room (stale entries are skipped;
    /// they sit at the front, so this is O(1) but for those).
    pub(crate) fn has_room_any(&self) -> bool {
        let conflate = self.conflate;
        self.with_room
            .iter()
            .any(|&id| self.map.get(id).is_some_and(|p| p.has_room(conflate)))
    }

    /// Whether [`Peers::next_input`] would give a message.
    pub(crate) fn has_input(&self) -> bool {
        self.with_input
            .iter()
            .any(|&id| self.map.get(id).is_some_and(|p| !p.inq.is_empty()))
    }

    /// Whether peer `id` has a message received.
    pub(crate) fn has_input_from(&self, id: PeerId) -> bool {
        self.map.get(id).is_some_and(|p| !p.inq.is_empty())
    }

    /// Round-robin: hands `msg` to the next peer with room, which goes to the back of
    /// the rotation if it still has room. Gives the message back when no peer has room.
    pub(crate) fn round_robin(
        &mut self,
        msg: Message,
        write_through: bool,
    ) -> Result<(PeerId, Sent), Message> {
        self.round_robin_inline(msg, write_through)
    }

    /// [`Peers::round_robin`] without the peer (PUSH, DEALER, PAIR): `Sent::Blocked`
    /// when no peer has room. Inlined, so no intermediate result is built and moved.
    pub(crate) fn round_robin_sent(&mut self, msg: Message) -> Sent {
        match self.round_robin_inline(msg, false) {
            Ok((_, sent)) => sent,
            Err(msg) => Sent::Blocked(msg),
        }
    }

    #[inline(always)]
    fn round_robin_inline(
        &mut self,
        msg: Message,
        write_through: bool,
    ) -> Result<(PeerId, Sent), Message> {
        let conflate = self.conflate;
        while let Some(&id) = self.with_room.front() {
            let Some(p) = self.map.get_mut(id).filter(|p| p.has_room(conflate)) else {
                if let Some(p) = self.map.get_mut(id) {
                    p.listed_out = false;
                }
                self.with_room.pop_front();
                continue;
            };
            let sent = p.hand_over(id, msg, write_through, conflate, &mut self.drops);
            if p.has_room(conflate) {
                // Its turn is over: to the back.
                rotate(&mut self.with_room);
            } else {
                p.listed_out = false;
                self.with_room.pop_front();
            }
            return Ok((id, sent));
        }
        Err(msg)
    }

    /// Round-robin for a run of up to `max` messages (see [`Core::send_run`]): when
    /// the rotation holds one peer with room and that peer takes messages directly,
    /// the next messages would all go to it, straight to its link, until it is full.
    /// Counts `k` of them (at most `max`, no more than its room) as handed over, as `k`
    /// [`Peers::round_robin_sent`] would, and gives the peer and `k`; `None` when
    /// the run does not apply (several peers, a queue, CONFLATE, no room).
    ///
    /// [`Core::send_run`]: super::Core::send_run
    pub(crate) fn direct_run(&mut self, max: usize) -> Option<(PeerId, usize)> {
        if self.conflate || max == 0 {
            return None;
        }
        // Stale entries at the front are dropped as `round_robin_sent` drops them.
        let id = loop {
            let &id = self.with_room.front()?;
            match self.map.get_mut(id) {
                Some(p) if p.has_room(false) => break id,
                Some(p) => p.listed_out = false,
                None => {}
            }
            self.with_room.pop_front();
        };
        if self.with_room.len() != 1 {
            return None;
        }
        let p = self.map.get_mut(id)?;
        if !p.takes_direct(false) {
            return None;
        }
        let k = max.min(p.sndhwm.saturating_sub(p.queued()));
        p.unflushed += k;
        p.counters.msgs_out += k as u64;
        if !p.has_room(false) {
            p.listed_out = false;
            self.with_room.pop_front();
        }
        Some((id, k))
    }

    /// Hands `msg` to peer `id` (the caller checked [`Peers::has_room`]): straight to
    /// its link when the link is attached and nothing is queued before the message
    /// (`Sent::Direct`, counted as taken by the link), else onto its queue.
    /// `write_through` asks the link to write at once (request / reply patterns).
    pub(crate) fn hand_over(&mut self, id: PeerId, msg: Message, write_through: bool) -> Sent {
        let conflate = self.conflate;
        match self.map.get_mut(id) {
            Some(p) => p.hand_over(id, msg, write_through, conflate, &mut self.drops),
            None => {
                self.drops.peer_gone += 1;
                Sent::Done
            }
        }
    }

    /// Starts a fan-out: [`Peers::fan_out_to`] hands the message to each peer at most
    /// once per fan-out.
    pub(crate) fn begin_fan_out(&mut self) -> u64 {
        self.fan_outs += 1;
        self.fan_outs
    }

    /// Fan-out `round` (from [`Peers::begin_fan_out`]): hands `msg` to `id` if it is
    /// attached, has not had it yet in this round, and has room (else it misses it,
    /// counted), without waiting. A peer that can take it directly is listed in
    /// `direct` (and counted as taken); otherwise it gets a copy queued. Returns true
    /// when the peer's queue is now at its SNDHWM.
    pub(crate) fn fan_out_to(
        &mut self,
        id: PeerId,
        msg: &Message,
        round: u64,
        direct: &mut Vec<PeerId>,
    ) -> bool {
        #[cfg(test)]
        {
            self.fan_out_visits += 1;
        }
        let Some(p) = self.map.get_mut(id) else {
            return false;
        };
        if !p.attached || p.fan_out_round == round {
            return false;
        }
        p.fan_out_round = round;
        fan_out_one(
            p,
            id,
            msg,
            self.conflate,
            &mut self.drops,
            &mut self.actions,
            direct,
        )
    }

    /// Fan-out to every attached peer (XSUB data), see [`Peers::fan_out_to`].
    pub(crate) fn fan_out_all(&mut self, msg: &Message, direct: &mut Vec<PeerId>) -> bool {
        let mut full = false;
        for (id, p) in self.map.iter_mut() {
            if p.attached {
                let (drops, actions) = (&mut self.drops, &mut self.actions);
                full |= fan_out_one(p, id, msg, self.conflate, drops, actions, direct);
            }
        }
        full
    }

    /// Fan-out `round`: marks `id` as chosen without handing it anything yet; false
    /// when it is not attached or was marked already (a general fan-out: the caller
    /// collects its targets first, see `Publish::send`).
    pub(crate) fn mark_fan_out(&mut self, id: PeerId, round: u64) -> bool {
        #[cfg(test)]
        {
            self.fan_out_visits += 1;
        }
        match self.map.get_mut(id) {
            Some(p) if p.attached && p.fan_out_round != round => {
                p.fan_out_round = round;
                true
            }
            _ => false,
        }
    }

    /// Every attached peer not marked in `round` (INVERT_MATCHING: a walk over all
    /// peers).
    pub(crate) fn unmarked(&mut self, round: u64, into: &mut Vec<PeerId>) {
        for (id, p) in self.map.iter_mut() {
            #[cfg(test)]
            {
                self.fan_out_visits += 1;
            }
            if p.attached && p.fan_out_round != round {
                into.push(id);
            }
        }
    }

    /// Queues `msg` for `id` before anything queued, whatever its SNDHWM
    /// (XPUB_WELCOME_MSG and PROBE_ROUTER, on attach), telling its link.
    pub(crate) fn queue_to(&mut self, id: PeerId, msg: Message) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        p.counters.count_out();
        let was_empty = p.out.is_empty();
        p.out.push_front(msg);
        if was_empty && p.attached {
            self.actions.push(Action::Output(id));
        }
    }

    /// A link could not take a message handed to it directly (`write_through` as it
    /// was handed over): it goes to the front of the peer's queue, and the link is told
    /// to take it later. False when the peer is gone (the message is dropped, counted).
    pub(crate) fn requeue(&mut self, id: PeerId, msg: Message, write_through: bool) -> bool {
        let Some(p) = self.map.get_mut(id).filter(|p| !p.gone) else {
            self.drops.peer_gone += 1;
            return false;
        };
        if !write_through {
            p.unflushed = p.unflushed.saturating_sub(1);
        }
        p.out.push_front(msg);
        true
    }

    /// Hands the queued messages of `id`, in order, to `take` (the link encoding them)
    /// until it returns false or the queue is empty. They then count as taken by the
    /// link until [`Peers::flushed`].
    pub(crate) fn take_output(&mut self, id: PeerId, mut take: impl FnMut(Message) -> bool) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        while let Some(msg) = p.out.pop_front() {
            p.unflushed += 1;
            if !take(msg) {
                break;
            }
        }
    }

    pub(crate) fn has_queued_output(&self, id: PeerId) -> bool {
        self.map.get(id).is_some_and(|p| !p.out.is_empty())
    }

    /// Wire bytes of a connection of `id` that ended (the shell counts bytes per read
    /// and write; the core keeps them across reconnects).
    pub(crate) fn add_traffic(&mut self, id: PeerId, bytes_in: u64, bytes_out: u64) {
        if let Some(p) = self.map.get_mut(id) {
            p.counters.bytes_in += bytes_in;
            p.counters.bytes_out += bytes_out;
        }
    }

    /// A message for `id` was dropped because the peer is at its SNDHWM (ROUTER, REP).
    pub(crate) fn drop_at_hwm(&mut self, id: PeerId) {
        self.drops.hwm += 1;
        if let Some(p) = self.map.get_mut(id) {
            p.counters.dropped_hwm += 1;
        }
    }

    /// Every peer's figures, and the counters of the peers that left.
    pub(crate) fn snapshot(&self) -> (Vec<PeerSnapshot>, PeerCounters) {
        let peers = self
            .map
            .iter()
            .map(|(id, p)| PeerSnapshot {
                id,
                routing_id: p.routing_id.clone(),
                attached: p.attached,
                queued_in: p.inq.len(),
                queued_out: p.queued(),
                counters: p.counters,
            })
            .collect();
        (peers, self.retired)
    }

    /// The link of `id` took its batch out of the socket's accounting (to write it):
    /// how many messages that was.
    pub(crate) fn flushed(&mut self, id: PeerId) -> usize {
        let conflate = self.conflate;
        let Some(p) = self.map.get_mut(id) else {
            return 0;
        };
        if p.unflushed == 0 {
            return 0;
        }
        let was_full = !p.has_room(conflate);
        let n = std::mem::take(&mut p.unflushed);
        if was_full && p.has_room(conflate) {
            self.list_room(id);
            self.wake_send = true;
        }
        n
    }

    /// The link of `id` passed on `n` of the messages it took (see
    /// [`Peers::flushed`]); the rest still count against the SNDHWM.
    pub(crate) fn flushed_some(&mut self, id: PeerId, n: usize) {
        let conflate = self.conflate;
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        if n == 0 || p.unflushed == 0 {
            return;
        }
        let was_full = !p.has_room(conflate);
        p.unflushed = p.unflushed.saturating_sub(n);
        if was_full && p.has_room(conflate) {
            self.list_room(id);
            self.wake_send = true;
        }
    }

    /// True when no message waits in any queue (for LINGER).
    pub(crate) fn all_sent(&self) -> bool {
        self.map.values().all(|p| p.out.is_empty())
    }

    /// Queues a received message for the application.
    pub(crate) fn push_input(&mut self, id: PeerId, msg: Message) -> bool {
        let Some(p) = self.map.get_mut(id) else {
            return false;
        };
        if self.conflate {
            self.drops.conflated += p.inq.len() as u64;
            p.inq.clear();
        }
        p.counters.msgs_in += 1;
        p.inq.push_back(msg);
        if !p.listed_in {
            p.listed_in = true;
            self.with_input.push_back(id);
        }
        self.wake_recv = true;
        true
    }

    /// [`Peers::push_input`] for a run of messages from `id`, in order, with one
    /// look-up of the peer and one listing for fair-queueing. The caller took no more
    /// than [`Peers::input_room`] (the RCVHWM is not checked here, as in
    /// `push_input`).
    pub(crate) fn push_inputs(&mut self, id: PeerId, msgs: impl Iterator<Item = Message>) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        let before = p.counters.msgs_in;
        if self.conflate {
            for msg in msgs {
                self.drops.conflated += p.inq.len() as u64;
                p.inq.clear();
                p.counters.msgs_in += 1;
                p.inq.push_back(msg);
            }
        } else {
            let len = p.inq.len();
            p.inq.extend(msgs);
            p.counters.msgs_in += (p.inq.len() - len) as u64;
        }
        if p.counters.msgs_in == before {
            return;
        }
        if !p.listed_in {
            p.listed_in = true;
            self.with_input.push_back(id);
        }
        self.wake_recv = true;
    }

    /// A run of messages from `id` to queue one by one with one look-up of the peer and
    /// one listing for fair-queueing (when the run ends): [`Peers::push_input`] for each,
    /// for a caller that receives them one at a time. `None` for an unknown peer (its
    /// messages are dropped, as `push_input` drops them) and under CONFLATE. With a
    /// `filter` (SUB, XSUB) only the messages it passes are queued.
    pub(crate) fn input_run<'a>(
        &'a mut self,
        id: PeerId,
        filter: Option<TopicFilter<'a>>,
    ) -> Option<InputRun<'a>> {
        if self.conflate {
            return None;
        }
        let peer = self.map.get_mut(id)?;
        Some(InputRun {
            peer,
            id,
            with_input: &mut self.with_input,
            wake_recv: &mut self.wake_recv,
            queued: 0,
            filter,
        })
    }

    /// How many more messages `id`'s inbound queue takes before its RCVHWM (none for
    /// an unknown peer: its messages are dropped as `push_input` drops them); at 0 the
    /// link is marked paused, as by [`Peers::input_full`].
    pub(crate) fn input_room(&mut self, id: PeerId) -> usize {
        match self.map.get_mut(id) {
            Some(p) if p.inq.len() >= p.rcvhwm => {
                p.input_paused = true;
                0
            }
            Some(p) => p.rcvhwm - p.inq.len(),
            None => usize::MAX,
        }
    }

    /// Whether the link of `id` should stop reading (RCVHWM reached); marks it paused
    /// so that reading resumes ([`Action::ResumeInput`]) once the queue drains.
    pub(crate) fn input_full(&mut self, id: PeerId) -> bool {
        match self.map.get_mut(id) {
            Some(p) if p.inq.len() >= p.rcvhwm => {
                p.input_paused = true;
                true
            }
            _ => false,
        }
    }

    /// Fair-queueing: one message from the next peer with input, which goes to the back
    /// of the rotation if it has more. `with_routing_id` puts the peer's routing id in
    /// front of the message (ROUTER).
    pub(crate) fn next_input(&mut self, with_routing_id: bool) -> Option<(PeerId, Message)> {
        self.next_input_inline(with_routing_id)
    }

    /// [`Peers::next_input`] without the peer and the routing id (PULL, DEALER, PAIR,
    /// SUB, XSUB). Inlined, so no intermediate result is built and moved.
    pub(crate) fn next_input_msg(&mut self) -> Option<Message> {
        self.next_input_inline(false).map(|(_, m)| m)
    }

    #[inline(always)]
    fn next_input_inline(&mut self, with_routing_id: bool) -> Option<(PeerId, Message)> {
        while let Some(&id) = self.with_input.front() {
            let Some(p) = self.map.get_mut(id) else {
                self.with_input.pop_front();
                continue;
            };
            let Some(mut msg) = p.inq.pop_front() else {
                p.listed_in = false;
                self.with_input.pop_front();
                continue;
            };
            if with_routing_id {
                msg.push_front(p.routing_id.clone().unwrap_or_default());
            }
            if p.inq.is_empty() {
                p.listed_in = false;
                self.with_input.pop_front();
            } else {
                rotate(&mut self.with_input);
            }
            if p.resumes_input() {
                self.actions.push(Action::ResumeInput(id));
            }
            if p.gone && p.inq.is_empty() {
                self.forget(id);
            }
            return Some((id, msg));
        }
        None
    }

    /// Up to `max` messages in the order as many [`Peers::next_input`] calls would
    /// give them, appended to `out`: how many. While one peer alone has input (the
    /// rotation is then a no-op) its messages are moved in one go.
    pub(crate) fn next_inputs(
        &mut self,
        with_routing_id: bool,
        out: &mut Vec<Message>,
        max: usize,
    ) -> usize {
        let mut n = 0;
        while n < max {
            if self.with_input.len() != 1 {
                match self.next_input(with_routing_id) {
                    Some((_, m)) => {
                        out.push(m);
                        n += 1;
                        continue;
                    }
                    None => break,
                }
            }
            let id = self.with_input[0];
            let Some(p) = self.map.get_mut(id) else {
                self.with_input.pop_front();
                continue;
            };
            let k = (max - n).min(p.inq.len());
            if with_routing_id {
                let rid = p.routing_id.clone().unwrap_or_default();
                out.extend(p.inq.drain(..k).map(|mut m| {
                    m.push_front(rid.clone());
                    m
                }));
            } else {
                // A counted run of `pop_front`s: the vector reserves once and takes
                // each message in a plain copy (a `drain` of the queue would be
                // pushed one by one, each with its capacity check).
                let inq = &mut p.inq;
                out.extend(
                    (0..k).map(|_| inq.pop_front().expect("k is at most the queue's length")),
                );
            }
            n += k;
            if p.inq.is_empty() {
                p.listed_in = false;
                self.with_input.pop_front();
            }
            if p.resumes_input() {
                self.actions.push(Action::ResumeInput(id));
            }
            if p.gone && p.inq.is_empty() {
                self.forget(id);
            }
        }
        n
    }

    /// One message from peer `id` (REQ reads only the peer it asked).
    pub(crate) fn pop_input_from(&mut self, id: PeerId) -> Option<Message> {
        let msg = self.map.get_mut(id)?.inq.pop_front()?;
        self.after_pop(id);
        Some(msg)
    }

    /// Drops every received message of `id` (counted).
    pub(crate) fn discard_input(&mut self, id: PeerId) {
        if let Some(p) = self.map.get_mut(id) {
            self.drops.discarded += p.inq.len() as u64;
            p.inq.clear();
            self.after_pop(id);
        }
    }

    /// After messages were taken from `id`: resume its reading below the RCVHWM, and
    /// forget it if it is gone and drained.
    fn after_pop(&mut self, id: PeerId) {
        let Some(p) = self.map.get_mut(id) else {
            return;
        };
        if p.resumes_input() {
            self.actions.push(Action::ResumeInput(id));
        }
        if p.gone && p.inq.is_empty() {
            self.forget(id);
        }
    }

    /// `(queued, received)` of `id`: messages counted against its SNDHWM, and
    /// received messages not yet read (for the fuzzing harness's bounds).
    pub(crate) fn queue_lens(&self, id: PeerId) -> Option<(usize, usize)> {
        self.map.get(id).map(|p| (p.queued(), p.inq.len()))
    }

    #[cfg(test)]
    pub(crate) fn rotation_lens(&self) -> (usize, usize) {
        (self.with_room.len(), self.with_input.len())
    }
}

/// Moves the front of a rotation to its back.
fn rotate(q: &mut VecDeque<PeerId>) {
    if q.len() > 1 {
        if let Some(id) = q.pop_front() {
            q.push_back(id);
        }
    }
}

/// Hands a fan-out message to one peer with room, or counts it missed: see
/// [`Peers::fan_out_to`].
fn fan_out_one(
    p: &mut Peer,
    id: PeerId,
    msg: &Message,
    conflate: bool,
    drops: &mut Drops,
    actions: &mut Vec<Action>,
    direct: &mut Vec<PeerId>,
) -> bool {
    if !p.has_room(conflate) {
        drops.hwm += 1;
        p.counters.dropped_hwm += 1;
        return false;
    }
    p.counters.count_out();
    if p.takes_direct(conflate) {
        p.unflushed += 1;
        direct.push(id);
    } else if p.enqueue(msg.clone(), conflate, drops) {
        actions.push(Action::Output(id));
    }
    !conflate && p.queued() >= p.sndhwm
}

/// See [`Peers::input_run`]: the messages join the peer's inbound queue as they are
/// pushed; its counters, the fair-queueing list and the receivers' wake-up are updated
/// when the run is dropped.
pub(crate) struct InputRun<'a> {
    peer: &'a mut Peer,
    id: PeerId,
    with_input: &'a mut VecDeque<PeerId>,
    wake_recv: &'a mut bool,
    queued: u64,
    filter: Option<TopicFilter<'a>>,
}

/// SUB / XSUB's [`Pattern::accepts`](super::Pattern::accepts) for a run: a message is
/// kept when its first frame matches a subscription, or with INVERT_MATCHING when it
/// matches none.
pub(crate) struct TopicFilter<'a> {
    pub(crate) topics: &'a Subscriptions,
    pub(crate) invert: bool,
}

impl InputRun<'_> {
    /// Queues one message (the RCVHWM is not checked here, as in `push_input`) unless
    /// the run's filter drops it; true when it was queued.
    #[inline]
    pub(crate) fn push(&mut self, msg: Message) -> bool {
        if let Some(f) = &self.filter {
            if f.topics.matches(&msg.frames()[0]) == f.invert {
                return false;
            }
        }
        self.queue(msg);
        true
    }

    /// Whether the run filters its messages (SUB, XSUB).
    pub(crate) fn filters(&self) -> bool {
        self.filter.is_some()
    }

    /// [`InputRun::push`] for a run that does not filter: one check fewer per message.
    #[inline]
    pub(crate) fn push_unfiltered(&mut self, msg: Message) {
        debug_assert!(self.filter.is_none(), "a filtering run pushes with `push`");
        self.queue(msg);
    }

    /// [`InputRun::push_unfiltered`] for each of `msgs`, in order: one reservation of
    /// room for the lot when the iterator knows its length.
    #[inline]
    pub(crate) fn extend_unfiltered(&mut self, msgs: impl Iterator<Item = Message>) {
        debug_assert!(self.filter.is_none(), "a filtering run pushes with `push`");
        let before = self.peer.inq.len();
        self.peer.inq.extend(msgs);
        self.queued += (self.peer.inq.len() - before) as u64;
    }

    #[inline]
    fn queue(&mut self, msg: Message) {
        self.peer.inq.push_back(msg);
        self.queued += 1;
    }
}

impl Drop for InputRun<'_> {
    fn drop(&mut self) {
        if self.queued == 0 {
            return;
        }
        self.peer.counters.msgs_in += self.queued;
        if !self.peer.listed_in {
            self.peer.listed_in = true;
            self.with_input.push_back(self.id);
        }
        *self.wake_recv = true;
    }
}
