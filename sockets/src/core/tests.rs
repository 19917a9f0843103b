//! Deterministic tests of every pattern's routing: the core driven by an in-memory
//! shell ([`Harness`]) whose links hold what they are given in a batch until the test
//! writes it, so HWM accounting, round-robin and fair-queueing are counted exactly,
//! without sockets, tasks or sleeps. The last tests wire two cores through real ZMTP
//! sessions in memory with a virtual clock (the 3.0 subscription form).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, Session, SessionConfig, SocketType};

use super::*;
use crate::options::SocketOption;

/// One in-memory link: a batch (taken, not yet written) and the wire (written).
#[derive(Default)]
struct TestLink {
    batch: Vec<Message>,
    wire: Vec<Message>,
    /// Refuses direct offers (a busy connection).
    busy: bool,
    /// Told that queued output waits.
    woken: bool,
    resumed: usize,
    subscriptions: Vec<(Bytes, bool)>,
    closed: Option<Refusal>,
}

/// The core plus an in-memory shell: carries out [`Sent`] and [`Action`]s like
/// `socket::shared` does, with [`TestLink`]s for connections.
struct Harness {
    core: Core,
    links: HashMap<PeerId, TestLink>,
    recv_wakes: usize,
    send_wakes: usize,
}

fn msg(frames: &[&str]) -> Message {
    frames
        .iter()
        .map(|f| Bytes::copy_from_slice(f.as_bytes()))
        .collect()
}

fn frames(m: &Message) -> Vec<String> {
    m.frames()
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect()
}

impl Harness {
    fn new(kind: SocketType) -> Harness {
        Harness::with(kind, &[])
    }

    fn with(kind: SocketType, opts: &[SocketOption]) -> Harness {
        let mut core = Core::new(kind, Options::default());
        for o in opts {
            core.set_option(o.clone()).expect("valid option");
        }
        Harness {
            core,
            links: HashMap::new(),
            recv_wakes: 0,
            send_wakes: 0,
        }
    }

    /// A connection attaches (bind side, or joining the connect-side peer `existing`).
    fn attach_to(
        &mut self,
        existing: Option<PeerId>,
        identity: Option<&str>,
    ) -> Result<PeerId, Refusal> {
        let identity = identity.map(|s| Bytes::copy_from_slice(s.as_bytes()));
        let peer = self.core.attach(existing, identity)?;
        self.links.insert(peer, TestLink::default());
        self.run();
        Ok(peer)
    }

    fn attach(&mut self) -> PeerId {
        self.attach_to(None, None).expect("admitted")
    }

    fn detach(&mut self, peer: PeerId, remove: bool) {
        self.links.remove(&peer);
        self.core.detach(peer, remove);
        self.run();
    }

    fn link(&mut self, peer: PeerId) -> &mut TestLink {
        self.links.get_mut(&peer).expect("attached")
    }

    /// Carries out the core's actions and counts its wake-ups.
    fn run(&mut self) {
        let mut actions = Vec::new();
        self.core.drain_actions(&mut actions);
        let (recv, send) = self.core.take_wakes();
        self.recv_wakes += usize::from(recv);
        self.send_wakes += usize::from(send);
        for a in actions {
            match a {
                Action::Output(p) => {
                    if let Some(l) = self.links.get_mut(&p) {
                        l.woken = true;
                    }
                }
                Action::ResumeInput(p) => self.link(p).resumed += 1,
                Action::Subscription {
                    peer,
                    topic,
                    subscribe,
                } => {
                    for (id, l) in self.links.iter_mut() {
                        if peer.is_none_or(|p| p == *id) {
                            l.subscriptions.push((topic.clone(), subscribe));
                        }
                    }
                }
                Action::Disconnect(p, why) => {
                    if let Some(l) = self.links.get_mut(&p) {
                        l.closed = Some(why);
                    }
                }
            }
        }
    }

    /// `Socket::try_send`: Ok(false) when blocked.
    fn send(&mut self, m: Message) -> Result<bool, Error> {
        let sent = self.core.send(m)?;
        let ok = match sent {
            Sent::Blocked(_) => false,
            Sent::Done => true,
            Sent::Wake(p) => {
                self.link(p).woken = true;
                true
            }
            Sent::Direct {
                peer,
                msg,
                write_through,
            } => {
                let l = self
                    .links
                    .get_mut(&peer)
                    .expect("direct to an attached peer");
                if l.busy {
                    assert!(self.core.requeue(peer, msg, write_through));
                    self.link(peer).woken = true;
                } else if write_through && l.batch.is_empty() {
                    // Written at once by the sending task (an idle link; a busy one
                    // adds it to its batch, in order).
                    l.wire.push(msg);
                } else {
                    l.batch.push(msg);
                }
                true
            }
            Sent::Fanout(msg) => {
                let targets = self.core.take_fanout();
                for &p in &targets {
                    let l = self.links.get_mut(&p).expect("fan-out to an attached peer");
                    if l.busy {
                        assert!(self.core.requeue(p, msg.clone(), false));
                        self.link(p).woken = true;
                    } else {
                        l.batch.push(msg.clone());
                    }
                }
                self.core.restore_fanout(targets);
                true
            }
        };
        self.run();
        Ok(ok)
    }

    fn send_str(&mut self, frames: &[&str]) -> bool {
        self.send(msg(frames)).expect("send")
    }

    /// The link of `peer` takes what is queued (when woken) and writes its batch.
    fn write(&mut self, peer: PeerId) {
        let l = self.links.get_mut(&peer).expect("attached");
        if std::mem::take(&mut l.woken) {
            let batch = &mut l.batch;
            self.core.take_output(peer, |m| {
                batch.push(m);
                true
            });
        }
        let l = self.links.get_mut(&peer).expect("attached");
        let batch = std::mem::take(&mut l.batch);
        l.wire.extend(batch);
        self.core.flushed(peer);
        self.run();
    }

    fn wire(&mut self, peer: PeerId) -> Vec<Vec<String>> {
        self.link(peer).wire.drain(..).map(|m| frames(&m)).collect()
    }

    fn deliver(&mut self, peer: PeerId, frames: &[&str]) -> bool {
        let kept = self.core.on_message(peer, msg(frames));
        self.run();
        kept
    }

    fn recv(&mut self) -> Result<Option<Vec<String>>, Error> {
        let m = self.core.recv()?;
        self.run();
        Ok(m.map(|m| frames(&m)))
    }

    fn recv_all(&mut self) -> Vec<Vec<String>> {
        std::iter::from_fn(|| self.recv().expect("recv")).collect()
    }
}

fn strs(v: &[&[&str]]) -> Vec<Vec<String>> {
    v.iter()
        .map(|m| m.iter().map(|s| s.to_string()).collect())
        .collect()
}

#[test]
fn every_socket_type_has_its_pattern() {
    for kind in SocketType::ALL.into_iter().chain([SocketType::Stream]) {
        assert_eq!(Core::new(kind, Options::default()).pattern.kind(), kind);
    }
}

#[test]
fn req_alternates_strictly_and_takes_only_the_asked_peers_reply() {
    let mut h = Harness::new(SocketType::Req);
    assert!(matches!(h.recv(), Err(Error::InvalidState { .. })));
    let (a, b) = (h.attach(), h.attach());
    assert!(h.send_str(&["q1"]));
    assert!(matches!(
        h.send(msg(&["again"])),
        Err(Error::InvalidState { .. })
    ));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["", "q1"]]), "empty delimiter in front");
    // The other peer's message is not an answer: discarded, counted.
    assert!(!h.deliver(b, &["", "not asked"]));
    assert_eq!(h.core.drops().discarded, 1);
    assert_eq!(h.recv().unwrap(), None);
    // A reply without the delimiter is malformed and skipped.
    assert!(h.deliver(a, &["no delimiter"]));
    assert!(h.deliver(a, &["", "r1"]));
    assert_eq!(h.recv().unwrap(), Some(strs(&[&["r1"]])[0].clone()));
    assert_eq!(h.core.drops().discarded, 2);
    // A late second reply is discarded: nothing is expected now.
    assert!(!h.deliver(a, &["", "late"]));
    // Requests go round-robin: b next, then a.
    assert!(h.send_str(&["q2"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["", "q2"]]));
    assert!(h.deliver(b, &["", "r2"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["r2"]);
    assert!(h.send_str(&["q3"]));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["", "q3"]]));
}

#[test]
fn req_relaxed_and_correlate_drop_stale_replies() {
    let mut h = Harness::with(
        SocketType::Req,
        &[
            SocketOption::ReqRelaxed(true),
            SocketOption::ReqCorrelate(true),
        ],
    );
    let a = h.attach();
    assert!(h.send_str(&["q1"]));
    assert!(h.send_str(&["q2"]), "REQ_RELAXED allows a new request");
    h.write(a);
    let wire = h.wire(a);
    assert_eq!(wire.len(), 2);
    let (id1, id2) = (wire[0][0].clone(), wire[1][0].clone());
    assert_ne!(id1, id2);
    assert_eq!(&wire[1][1..], ["", "q2"]);
    // The reply to the first request is stale: its id does not match.
    assert!(h.deliver(a, &[&id1, "", "r1"]));
    assert!(h.deliver(a, &[&id2, "", "r2"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["r2"]);
    assert_eq!(h.core.drops().discarded, 1);
}

#[test]
fn req_waits_for_a_peer_and_blocks_at_the_hwm() {
    let mut h = Harness::new(SocketType::Req);
    // No peer at all: blocked (the socket waits for one).
    assert!(!h.send_str(&["q"]));
    let a = h.attach();
    assert!(h.send_str(&["q"]));
    assert_eq!(h.core.drops(), Drops::default());
    h.write(a);
    assert_eq!(h.wire(a).len(), 1);
}

#[test]
fn rep_strips_and_restores_envelopes() {
    let mut h = Harness::new(SocketType::Rep);
    assert!(matches!(
        h.send(msg(&["r"])),
        Err(Error::InvalidState { .. })
    ));
    let (a, b) = (h.attach(), h.attach());
    // A request without the delimiter is dropped, like libzmq.
    assert!(h.deliver(a, &["no delimiter"]));
    assert!(h.deliver(b, &["id1", "id2", "", "hello", "world"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["hello", "world"]);
    assert_eq!(h.core.drops().discarded, 1);
    assert!(matches!(h.recv(), Err(Error::InvalidState { .. })));
    assert!(h.send_str(&["reply"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["id1", "id2", "", "reply"]]));
    // A reply to a peer that left is dropped and counted.
    assert!(h.deliver(a, &["", "q"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["q"]);
    h.detach(a, true);
    assert!(h.send_str(&["lost"]));
    assert_eq!(h.core.drops().peer_gone, 1);
}

#[test]
fn rep_batches_replies_to_pipelined_requests() {
    let mut h = Harness::new(SocketType::Rep);
    let p = h.attach();
    for i in 0..3 {
        assert!(h.deliver(p, &["", &format!("q{i}")]));
    }
    // Two more requests wait behind the first two replies: they join the batch.
    for i in 0..3 {
        let req = h.recv().unwrap().unwrap();
        assert_eq!(req, [format!("q{i}")]);
        assert!(h.send_str(&[&format!("r{i}")]));
        assert!(h.wire(p).is_empty(), "reply {i} waits in the batch");
    }
    h.write(p);
    let got: Vec<String> = h.wire(p).into_iter().map(|m| m[1].clone()).collect();
    assert_eq!(got, ["r0", "r1", "r2"]);
    // Strict alternation: each reply is written at once.
    assert!(h.deliver(p, &["", "q3"]));
    h.recv().unwrap().unwrap();
    assert!(h.send_str(&["r3"]));
    assert_eq!(h.wire(p).last().unwrap()[1], "r3");
    assert!(h.link(p).batch.is_empty());
}

#[test]
fn rep_answers_each_requester_in_fair_order() {
    let mut h = Harness::new(SocketType::Rep);
    let peers: Vec<_> = (0..3).map(|_| h.attach()).collect();
    for (i, &p) in peers.iter().enumerate() {
        for j in 0..2 {
            let body = format!("{i}.{j}");
            assert!(h.deliver(p, &["", &body]));
        }
    }
    let mut order = Vec::new();
    while let Some(req) = h.recv().unwrap() {
        order.push(req[0].clone());
        assert!(h.send(msg(&[&format!("re {}", req[0])])).unwrap());
    }
    assert_eq!(order, ["0.0", "1.0", "2.0", "0.1", "1.1", "2.1"]);
    for (i, &p) in peers.iter().enumerate() {
        h.write(p);
        let expect = [format!("re {i}.0"), format!("re {i}.1")];
        let got: Vec<String> = h.wire(p).into_iter().map(|m| m[1].clone()).collect();
        assert_eq!(got, expect);
    }
}

#[test]
fn fair_queueing_takes_one_message_per_peer_in_turn() {
    let mut h = Harness::new(SocketType::Pull);
    let (a, b, c) = (h.attach(), h.attach(), h.attach());
    for m in ["a1", "a2", "a3"] {
        h.deliver(a, &[m]);
    }
    h.deliver(b, &["b1"]);
    h.deliver(c, &["c1"]);
    h.deliver(c, &["c2"]);
    let got: Vec<String> = h.recv_all().into_iter().map(|m| m[0].clone()).collect();
    assert_eq!(got, ["a1", "b1", "c1", "a2", "c2", "a3"]);
    assert!(h.recv_wakes > 0);
}

impl Harness {
    /// `Socket::try_recv_many`: up to `max` messages in one call.
    fn recv_many(&mut self, max: usize) -> Result<Vec<Vec<String>>, Error> {
        let mut out = Vec::new();
        self.core.recv_many(&mut out, max)?;
        self.run();
        Ok(out.iter().map(frames).collect())
    }
}

/// The same arrivals on two harnesses of `kind` (peers `ids`, RCVHWM 3): one read
/// with `recv`, one with `recv_many` of `max`; both see the same messages in the same
/// order, and their links are resumed the same number of times.
fn recv_many_matches_recv(kind: SocketType, max: usize) {
    let opts = [SocketOption::RcvHwm(3)];
    let (mut one, mut many) = (Harness::with(kind, &opts), Harness::with(kind, &opts));
    let ids = ["A", "B", "C"];
    let peers: Vec<(PeerId, PeerId)> = ids
        .iter()
        .map(|&id| {
            let a = one.attach_to(None, Some(id)).unwrap();
            let b = many.attach_to(None, Some(id)).unwrap();
            (a, b)
        })
        .collect();
    // Peer A has 5, B 1, C 2: a lone peer's run after the others drain.
    let arrivals = [
        (0, "a1"),
        (0, "a2"),
        (1, "b1"),
        (0, "a3"),
        (2, "c1"),
        (0, "a4"),
    ];
    let more = [(2, "c2"), (0, "a5")];
    for &(p, m) in arrivals.iter().chain(&more) {
        one.deliver(peers[p].0, &[m]);
        many.deliver(peers[p].1, &[m]);
        one.core.input_full(peers[p].0);
        many.core.input_full(peers[p].1);
    }
    let want = one.recv_all();
    let mut got = Vec::new();
    loop {
        let batch = many.recv_many(max).unwrap();
        assert!(batch.len() <= max);
        if batch.is_empty() {
            break;
        }
        got.extend(batch);
    }
    assert_eq!(got, want, "{kind} in batches of {max}");
    assert_eq!(want.len(), arrivals.len() + more.len());
    for &(a, b) in &peers {
        assert_eq!(one.link(a).resumed, many.link(b).resumed, "{kind}");
    }
}

#[test]
fn recv_many_gives_what_as_many_recvs_would() {
    for kind in [SocketType::Pull, SocketType::Dealer, SocketType::Router] {
        for max in [1, 2, 3, 100] {
            recv_many_matches_recv(kind, max);
        }
    }
    // A lone peer: its messages in one go, in order, and a resume once below the mark.
    let mut h = Harness::with(SocketType::Pull, &[SocketOption::RcvHwm(2)]);
    let a = h.attach();
    for m in ["1", "2", "3"] {
        h.deliver(a, &[m]);
    }
    assert!(h.core.input_full(a));
    assert_eq!(h.recv_many(2).unwrap(), strs(&[&["1"], &["2"]]));
    assert_eq!(h.link(a).resumed, 1);
    assert_eq!(h.recv_many(10).unwrap(), strs(&[&["3"]]));
    assert!(h.recv_many(10).unwrap().is_empty());
    // REP takes one request, then must reply; PUSH has no receive.
    let mut h = Harness::new(SocketType::Rep);
    let a = h.attach();
    h.deliver(a, &["", "q1"]);
    h.deliver(a, &["", "q2"]);
    assert_eq!(h.recv_many(10).unwrap(), strs(&[&["q1"]]));
    assert!(matches!(h.recv_many(10), Err(Error::InvalidState { .. })));
    let mut h = Harness::new(SocketType::Push);
    assert!(matches!(h.recv_many(10), Err(Error::NotSupported { .. })));
}

#[test]
fn a_run_of_arrivals_is_handled_as_as_many_on_messages() {
    // The inproc link hands runs to `Core::on_messages`: the same queue, order,
    // counters and drops as one `on_message` per message, with or without CONFLATE,
    // on the types that queue runs (PULL, DEALER, PAIR) and those that filter (SUB).
    let cases: &[(SocketType, &[SocketOption])] = &[
        (SocketType::Pull, &[]),
        (SocketType::Dealer, &[]),
        (SocketType::Pair, &[]),
        (SocketType::Pull, &[SocketOption::Conflate(true)]),
        (SocketType::Sub, &[]),
    ];
    for &(kind, opts) in cases {
        let mut one = Harness::with(kind, opts);
        let mut run = Harness::with(kind, opts);
        if kind == SocketType::Sub {
            one.core.subscribe(b"a").unwrap();
            run.core.subscribe(b"a").unwrap();
        }
        let (a1, ar) = (one.attach(), run.attach());
        let batch = ["a1", "b2", "a3", "a4"];
        for m in batch {
            one.deliver(a1, &[m]);
        }
        run.core.on_messages(ar, batch.iter().map(|m| msg(&[m])));
        run.run();
        assert_eq!(run.recv_wakes, 1, "{kind:?}: one wake-up for the run");
        assert_eq!(one.core.drops(), run.core.drops(), "{kind:?}");
        let (s1, sr) = (one.core.snapshot().0, run.core.snapshot().0);
        assert_eq!(s1[0].counters, sr[0].counters, "{kind:?}");
        assert_eq!(one.recv_all(), run.recv_all(), "{kind:?}");
    }
    // The room before the RCVHWM, and a full queue pauses the link as `input_full`.
    let mut h = Harness::with(SocketType::Pull, &[SocketOption::RcvHwm(3)]);
    let a = h.attach();
    assert_eq!(h.core.input_room(a), 3);
    h.core
        .on_messages(a, ["1", "2", "3"].iter().map(|m| msg(&[m])));
    h.run();
    assert_eq!(h.core.input_room(a), 0);
    assert_eq!(h.recv().unwrap().unwrap(), ["1"]);
    assert_eq!(
        h.link(a).resumed,
        1,
        "paused at 0 room, resumed below the mark"
    );
    assert_eq!(h.core.input_room(a), 1);
}

#[test]
fn an_input_run_queues_as_on_message_does() {
    // The TCP link pushes each decoded message through `Core::input_run` when the
    // pattern keeps all (PULL, DEALER, PAIR): same queue, order, counters and one
    // fair-queueing listing as `on_message` each; `None` where messages are filtered,
    // stamped or conflated, and for an unknown peer.
    // SUB and XSUB filter the run as `on_message` filters single messages, also with
    // INVERT_MATCHING.
    let cases: &[(SocketType, &[SocketOption])] = &[
        (SocketType::Pull, &[]),
        (SocketType::Dealer, &[]),
        (SocketType::Pair, &[]),
        (SocketType::Sub, &[]),
        (SocketType::Sub, &[SocketOption::InvertMatching(true)]),
        (SocketType::XSub, &[]),
    ];
    for &(kind, opts) in cases {
        let mut one = Harness::with(kind, opts);
        let mut run = Harness::with(kind, opts);
        match kind {
            SocketType::Sub => {
                one.core.subscribe(b"a").unwrap();
                run.core.subscribe(b"a").unwrap();
            }
            SocketType::XSub => {
                one.core.send(msg(&["\x01a"])).unwrap();
                run.core.send(msg(&["\x01a"])).unwrap();
            }
            _ => {}
        }
        let (a1, ar) = (one.attach(), run.attach());
        let batch = ["a1", "b2", "a3"];
        for m in batch {
            one.deliver(a1, &[m]);
        }
        let mut kept = Vec::new();
        {
            let mut r = run.core.input_run(ar).expect("a run");
            for m in batch {
                kept.push(r.push(msg(&[m])));
            }
        }
        let filtered = matches!(kind, SocketType::Sub | SocketType::XSub);
        let invert = !opts.is_empty();
        let want = match (filtered, invert) {
            (false, _) => vec![true, true, true],
            (true, false) => vec![true, false, true],
            (true, true) => vec![false, true, false],
        };
        assert_eq!(kept, want, "{kind:?} {opts:?}");
        // An empty run changes nothing.
        drop(run.core.input_run(ar));
        run.run();
        assert_eq!(run.recv_wakes, 1, "{kind:?}: one wake-up for the run");
        let (s1, sr) = (one.core.snapshot().0, run.core.snapshot().0);
        assert_eq!(s1[0].counters, sr[0].counters, "{kind:?}");
        assert_eq!(one.core.drops(), run.core.drops(), "{kind:?}");
        assert_eq!(one.recv_all(), run.recv_all(), "{kind:?}");
    }
    // Two peers' runs are fair-queued as their single messages are.
    let mut h = Harness::new(SocketType::Pull);
    let (a, b) = (h.attach(), h.attach());
    for (peer, msgs) in [(a, ["a1", "a2"]), (b, ["b1", "b2"])] {
        let mut r = h.core.input_run(peer).expect("a run");
        for m in msgs {
            r.push(msg(&[m]));
        }
    }
    h.run();
    assert_eq!(h.recv_all(), strs(&[&["a1"], &["b1"], &["a2"], &["b2"]]));
    let mut router = Harness::new(SocketType::Router);
    let r = router.attach();
    assert!(router.core.input_run(r).is_none(), "ROUTER stamps");
    let mut conflate = Harness::with(SocketType::Pull, &[SocketOption::Conflate(true)]);
    let c = conflate.attach();
    assert!(conflate.core.input_run(c).is_none(), "CONFLATE keeps one");
    let mut gone = Harness::new(SocketType::Pull);
    let g = gone.attach();
    gone.core.detach(g, true);
    assert!(gone.core.input_run(g).is_none(), "unknown peer");
}

#[test]
fn rcvhwm_pauses_and_resumes_reading() {
    let mut h = Harness::with(SocketType::Pull, &[SocketOption::RcvHwm(2)]);
    let a = h.attach();
    h.deliver(a, &["1"]);
    assert!(!h.core.input_full(a));
    h.deliver(a, &["2"]);
    assert!(h.core.input_full(a), "at the RCVHWM the link stops reading");
    assert_eq!(h.recv().unwrap().unwrap(), ["1"]);
    assert_eq!(h.link(a).resumed, 1, "one below the mark: read again");
    assert_eq!(h.recv().unwrap().unwrap(), ["2"]);
    assert_eq!(h.link(a).resumed, 1);
}

#[test]
fn round_robin_skips_full_peers_until_they_flush() {
    let mut h = Harness::with(SocketType::Push, &[SocketOption::SndHwm(2)]);
    let (a, b, c) = (h.attach(), h.attach(), h.attach());
    // Six messages fill every peer: a b c a b c.
    for i in 0..6 {
        assert!(h.send_str(&[&i.to_string()]));
    }
    assert!(!h.send_str(&["x"]), "every peer is at its SNDHWM");
    // b writes: only b has room, and it takes the next two.
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["1"], &["4"]]));
    assert!(h.send_str(&["6"]));
    assert!(h.send_str(&["7"]));
    assert!(!h.send_str(&["8"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["6"], &["7"]]));
    h.write(a);
    h.write(c);
    assert_eq!(h.wire(a), strs(&[&["0"], &["3"]]));
    assert_eq!(h.wire(c), strs(&[&["2"], &["5"]]));
    assert!(h.send_wakes > 0);
    assert_eq!(
        h.core.drops(),
        Drops::default(),
        "PUSH waits, it never drops"
    );
}

#[test]
fn a_busy_link_gets_the_message_through_the_queue_in_order() {
    let mut h = Harness::with(SocketType::Dealer, &[SocketOption::SndHwm(3)]);
    let a = h.attach();
    h.link(a).busy = true;
    assert!(h.send_str(&["1"]));
    assert!(h.link(a).woken, "refused offer: queued, link told");
    h.link(a).busy = false;
    // Queued before: the next one queues behind it instead of skipping ahead.
    assert!(h.send_str(&["2"]));
    assert!(h.link(a).batch.is_empty());
    assert!(h.send_str(&["3"]));
    assert!(!h.send_str(&["4"]), "three counted against SNDHWM 3");
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["1"], &["2"], &["3"]]));
    assert!(h.send_str(&["4"]));
}

#[test]
fn connect_side_peers_queue_before_attaching_and_survive_reconnects() {
    let mut h = Harness::new(SocketType::Push);
    let p = h.core.add_connect_peer().expect("PUSH keeps connect peers");
    assert!(h.send_str(&["early"]));
    let attached = h.attach_to(Some(p), None).unwrap();
    assert_eq!(attached, p);
    assert!(h.link(p).woken, "queued output announced on attach");
    h.write(p);
    assert_eq!(h.wire(p), strs(&[&["early"]]));
    // The connection breaks with a message taken but not written: lost, counted.
    assert!(h.send_str(&["in flight"]));
    h.detach(p, false);
    assert_eq!(h.core.drops().disconnected, 1);
    assert!(h.send_str(&["while away"]));
    h.attach_to(Some(p), None).unwrap();
    h.write(p);
    assert_eq!(h.wire(p), strs(&[&["while away"]]));
    // disconnect(): the peer and its queue go.
    assert!(h.send_str(&["queued"]));
    h.detach(p, true);
    assert_eq!(h.core.drops().disconnected, 2);
    assert_eq!(h.core.peer_count(), 0);
    assert!(!h.send_str(&["nobody"]));
}

#[test]
fn immediate_and_router_do_not_keep_connect_peers() {
    let h = Harness::with(SocketType::Push, &[SocketOption::Immediate(true)]);
    assert!(!h.core.keeps_connect_peers());
    let mut h = Harness::new(SocketType::Router);
    assert_eq!(h.core.add_connect_peer(), None);
}

#[test]
fn router_routes_by_id_and_prefixes_received_messages() {
    let mut h = Harness::new(SocketType::Router);
    let a = h.attach_to(None, Some("A")).unwrap();
    let g = h.attach();
    let gid = h.core.routing_id(g).unwrap();
    assert_eq!(gid.len(), 5);
    assert_eq!(gid[0], 0, "generated ids start with byte 0");
    h.deliver(a, &["hello"]);
    assert_eq!(h.recv().unwrap().unwrap(), ["A", "hello"]);
    assert!(h.send_str(&["A", "", "to a"]));
    let mut to_g = msg(&["body"]);
    to_g.push_front(gid.clone());
    assert!(h.send(to_g).unwrap());
    h.write(a);
    h.write(g);
    assert_eq!(h.wire(a), strs(&[&["", "to a"]]));
    assert_eq!(h.wire(g), strs(&[&["body"]]));
    // Unknown id: dropped and counted; an id with nothing after it likewise.
    assert!(h.send_str(&["nobody", "x"]));
    assert!(h.send_str(&["A"]));
    assert_eq!(h.core.drops().unroutable, 2);
}

#[test]
fn stream_generates_ids_routes_by_them_and_waits_at_the_hwm() {
    let mut h = Harness::with(SocketType::Stream, &[SocketOption::SndHwm(1)]);
    // A raw peer announces nothing: it gets a generated id (the identity the shell
    // may pass is a CONNECT_ROUTING_ID, see the test below).
    let a = h.attach();
    let b = h.attach();
    let (ida, idb) = (h.core.routing_id(a).unwrap(), h.core.routing_id(b).unwrap());
    assert_ne!(ida, idb);
    assert!(ida.len() == 5 && ida[0] == 0);
    h.deliver(a, &["bytes"]);
    let got = h.core.recv().unwrap().unwrap();
    assert_eq!(got.frames(), [ida.clone(), Bytes::from_static(b"bytes")]);
    let to = |id: &Bytes, data: &str| {
        let mut m = msg(&[data]);
        m.push_front(id.clone());
        m
    };
    assert!(h.send(to(&idb, "x")).unwrap());
    assert!(
        !h.send(to(&idb, "y")).unwrap(),
        "full peer: blocked, not dropped"
    );
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["x"]]));
    // A zero-length frame is a message like the others (the link closes on it).
    assert!(h.send(to(&ida, "")).unwrap());
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&[""]]));
    // Unknown id, or not exactly id + one data frame: errors.
    assert!(matches!(
        h.send(msg(&["nobody", "x"])),
        Err(Error::HostUnreachable)
    ));
    let mut three = to(&ida, "x");
    three.push_back(Bytes::from_static(b"y"));
    assert!(matches!(h.send(three), Err(Error::InvalidState { .. })));
    assert!(matches!(
        h.send(msg(&["alone"])),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(h.core.drops(), Drops::default());
    // A peer that leaves takes its id along.
    h.detach(a, true);
    assert!(matches!(h.send(to(&ida, "x")), Err(Error::HostUnreachable)));
}

#[test]
fn flushed_some_gives_room_for_as_many_as_were_passed_on() {
    // An inproc link: messages count until the peer socket took them, a few at a time.
    let mut h = Harness::with(SocketType::Push, &[SocketOption::SndHwm(3)]);
    let a = h.attach();
    for i in 0..3 {
        assert!(h.send_str(&[&i.to_string()]));
    }
    assert!(!h.send_str(&["3"]), "SNDHWM reached");
    h.core.flushed_some(a, 1);
    h.run();
    assert!(h.send_str(&["3"]), "room for one");
    assert!(!h.send_str(&["4"]));
    h.core.flushed_some(a, 10);
    h.run();
    for i in 4..7 {
        assert!(h.send_str(&[&i.to_string()]));
    }
    assert!(!h.send_str(&["7"]));
}

#[test]
fn router_drops_at_the_hwm_or_reports_with_mandatory() {
    let mut h = Harness::with(SocketType::Router, &[SocketOption::SndHwm(1)]);
    let a = h.attach_to(None, Some("A")).unwrap();
    assert!(h.send_str(&["A", "1"]));
    assert!(h.send_str(&["A", "2"]), "dropped, not blocked");
    assert_eq!(h.core.drops().hwm, 1);
    h.core
        .set_option(SocketOption::RouterMandatory(true))
        .unwrap();
    assert!(!h.send_str(&["A", "3"]), "mandatory: blocked at the HWM");
    assert!(matches!(
        h.send(msg(&["B", "x"])),
        Err(Error::HostUnreachable)
    ));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["1"]]));
    assert!(h.send_str(&["A", "3"]));
}

#[test]
fn router_refuses_duplicate_ids_or_hands_them_over() {
    let mut h = Harness::new(SocketType::Router);
    let a = h.attach_to(None, Some("X")).unwrap();
    assert_eq!(
        h.attach_to(None, Some("X")),
        Err(Refusal::DuplicateRoutingId(Bytes::from_static(b"X")))
    );
    h.core
        .set_option(SocketOption::RouterHandover(true))
        .unwrap();
    h.deliver(a, &["from the old peer"]);
    let b = h.attach_to(None, Some("X")).unwrap();
    assert_eq!(
        h.link(a).closed,
        Some(Refusal::HandedOver(Bytes::from_static(b"X")))
    );
    // The old peer's message is still readable, then the id routes to the new one.
    assert_eq!(h.recv().unwrap().unwrap(), ["X", "from the old peer"]);
    assert!(h.send_str(&["X", "to b"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["to b"]]));
    // Once gone and drained, the old peer is forgotten.
    h.detach(a, true);
    assert_eq!(h.core.peer_count(), 1);
}

#[test]
fn pub_sends_to_matching_subscribers_and_drops_at_the_hwm() {
    let mut h = Harness::with(SocketType::Pub, &[SocketOption::SndHwm(2)]);
    let (a, b, c) = (h.attach(), h.attach(), h.attach());
    h.core.on_subscription(a, Bytes::from_static(b"news"), true);
    h.core.on_subscription(b, Bytes::from_static(b""), true);
    // A repeated SUBSCRIBE from one peer is idempotent: one CANCEL undoes it.
    h.core.on_subscription(a, Bytes::from_static(b"news"), true);
    assert!(h.send_str(&["news.1"]));
    assert!(h.send_str(&["weather"]));
    h.write(a);
    h.write(b);
    h.write(c);
    assert_eq!(h.wire(a), strs(&[&["news.1"]]));
    assert_eq!(h.wire(b), strs(&[&["news.1"], &["weather"]]));
    assert!(h.wire(c).is_empty(), "no subscription, nothing");
    // b stops writing: two fill its HWM, the third is dropped for b only.
    for i in 0..3 {
        assert!(h.send_str(&[&format!("news.{}", i + 2)]));
        h.write(a);
    }
    assert_eq!(h.core.drops().hwm, 1);
    assert_eq!(h.wire(a).len(), 3, "a slow subscriber does not hold a up");
    h.core
        .on_subscription(a, Bytes::from_static(b"news"), false);
    assert!(h.send_str(&["news.5"]));
    h.write(a);
    assert!(h.wire(a).is_empty());
    // PUB ignores data from subscribers, and has no recv.
    assert!(!h.deliver(a, &["data"]));
    assert!(matches!(h.recv(), Err(Error::NotSupported { .. })));
}

#[test]
fn xpub_reports_first_subscribe_and_last_cancel() {
    let mut h = Harness::new(SocketType::XPub);
    let (a, b) = (h.attach(), h.attach());
    h.core.on_subscription(a, Bytes::from_static(b"t"), true);
    h.core.on_subscription(b, Bytes::from_static(b"t"), true);
    h.core.on_subscription(a, Bytes::from_static(b"t"), true);
    h.core.on_subscription(a, Bytes::from_static(b"t"), false);
    h.core.on_subscription(a, Bytes::from_static(b"u"), true);
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{1}t"]);
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{1}u"]);
    // Data messages from peers come after the notices.
    assert!(h.deliver(b, &["data"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["data"]);
    // b was the last subscriber of t; a of u: their connections end.
    h.detach(b, true);
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{0}t"]);
    h.detach(a, true);
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{0}u"]);
    assert_eq!(h.recv().unwrap(), None);
}

#[test]
fn xpub_verbose_reports_every_subscribe() {
    let mut h = Harness::with(SocketType::XPub, &[SocketOption::XpubVerbose(true)]);
    let (a, b) = (h.attach(), h.attach());
    h.core.on_subscription(a, Bytes::from_static(b"t"), true);
    h.core.on_subscription(b, Bytes::from_static(b"t"), true);
    assert_eq!(h.recv_all(), strs(&[&["\u{1}t"], &["\u{1}t"]]));
}

#[test]
fn sub_filters_counts_and_forwards_subscriptions() {
    let mut h = Harness::new(SocketType::Sub);
    let a = h.attach();
    h.core.subscribe(b"ab").unwrap();
    h.core.subscribe(b"ab").unwrap();
    h.run();
    assert_eq!(
        h.link(a).subscriptions,
        vec![(Bytes::from_static(b"ab"), true); 2],
        "every subscribe is forwarded"
    );
    assert!(h.deliver(a, &["abc"]));
    assert!(!h.deliver(a, &["a"]), "filtered on the SUB side too");
    h.core.unsubscribe(b"ab").unwrap();
    h.run();
    assert_eq!(h.link(a).subscriptions.len(), 2, "one reference is left");
    assert!(h.deliver(a, &["abd"]));
    h.core.unsubscribe(b"ab").unwrap();
    h.run();
    assert_eq!(
        h.link(a).subscriptions.last(),
        Some(&(Bytes::from_static(b"ab"), false))
    );
    assert!(!h.deliver(a, &["abe"]));
    assert_eq!(h.recv_all(), strs(&[&["abc"], &["abd"]]));
    // A peer attaching later is told every subscription.
    h.core.subscribe(b"x").unwrap();
    h.core.subscribe(b"y").unwrap();
    h.run();
    let b = h.attach();
    let mut told: Vec<_> = h.link(b).subscriptions.clone();
    told.sort();
    assert_eq!(
        told,
        [
            (Bytes::from_static(b"x"), true),
            (Bytes::from_static(b"y"), true)
        ]
    );
    assert!(matches!(
        h.send(msg(&["x"])),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn xsub_subscribes_through_messages_and_sends_the_rest_to_everyone() {
    let mut h = Harness::new(SocketType::XSub);
    let (a, b) = (h.attach(), h.attach());
    assert!(h.send_str(&["\u{1}t"]));
    assert_eq!(h.link(a).subscriptions, [(Bytes::from_static(b"t"), true)]);
    assert_eq!(h.link(b).subscriptions, [(Bytes::from_static(b"t"), true)]);
    assert!(h.send_str(&["\u{0}t"]));
    assert_eq!(h.link(b).subscriptions.len(), 2);
    assert!(h.send_str(&["other"]));
    h.write(a);
    h.write(b);
    assert_eq!(h.wire(a), strs(&[&["other"]]));
    assert_eq!(h.wire(b), strs(&[&["other"]]));
    assert!(matches!(
        h.core.subscribe(b"t"),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn pair_admits_one_peer_at_a_time() {
    let mut h = Harness::new(SocketType::Pair);
    let a = h.attach();
    assert_eq!(h.attach_to(None, None), Err(Refusal::PairBusy));
    h.detach(a, true);
    let b = h.attach();
    assert!(h.send_str(&["hi"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["hi"]]));
    // The connect-side peer reattaching after its connection broke is admitted.
    let mut h = Harness::new(SocketType::Pair);
    let p = h.core.add_connect_peer().unwrap();
    h.attach_to(Some(p), None).unwrap();
    h.detach(p, false);
    assert_eq!(h.attach_to(Some(p), None), Ok(p));
}

#[test]
fn conflate_keeps_only_the_newest_message_each_way() {
    let mut h = Harness::with(SocketType::Push, &[SocketOption::Conflate(true)]);
    let a = h.attach();
    for i in 0..5 {
        assert!(h.send_str(&[&i.to_string()]), "CONFLATE never blocks");
    }
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["4"]]));
    assert_eq!(h.core.drops().conflated, 4);
    let mut h = Harness::with(SocketType::Pull, &[SocketOption::Conflate(true)]);
    let a = h.attach();
    h.deliver(a, &["old"]);
    h.deliver(a, &["new"]);
    assert_eq!(h.recv_all(), strs(&[&["new"]]));
}

#[test]
fn push_discards_data_from_its_peers() {
    let mut h = Harness::new(SocketType::Push);
    let a = h.attach();
    assert!(!h.deliver(a, &["unexpected"]));
    assert_eq!(h.core.drops().discarded, 1);
    assert!(matches!(h.recv(), Err(Error::NotSupported { .. })));
}

#[test]
fn idle_peers_cost_routing_nothing() {
    // 10,000 attached peers, one of them talking: the fair queue holds only the active
    // one, so taking a message never looks at the idle ones.
    let mut h = Harness::new(SocketType::Router);
    let peers: Vec<_> = (0..10_000).map(|_| h.attach()).collect();
    let active = peers[7_777];
    for i in 0..100 {
        h.deliver(active, &[&i.to_string()]);
        assert_eq!(h.core.peers.rotation_lens(), (0, 1));
        let got = h.recv().unwrap().unwrap();
        assert_eq!(got[1], i.to_string());
    }
    // Round-robin: peers that are full leave the rotation and only come back when
    // their link writes; the send path never walks the full ones again.
    let mut h = Harness::with(SocketType::Dealer, &[SocketOption::SndHwm(1)]);
    let peers: Vec<_> = (0..10_000).map(|_| h.attach()).collect();
    for i in 0..10_000 {
        assert!(h.send_str(&[&i.to_string()]));
    }
    assert_eq!(h.core.peers.rotation_lens().0, 0, "all full, none listed");
    assert!(!h.send_str(&["blocked"]));
    h.write(peers[4_242]);
    assert_eq!(h.core.peers.rotation_lens().0, 1);
    assert!(h.send_str(&["to the one with room"]));
    h.write(peers[4_242]);
    assert_eq!(h.wire(peers[4_242])[1], ["to the one with room"]);
}

#[test]
fn a_fan_out_visits_the_matching_subscribers_only() {
    let mut h = Harness::new(SocketType::Pub);
    let peers: Vec<_> = (0..10_000)
        .map(|i| {
            let p = h.attach();
            let topic = format!("t{i:05}");
            h.core.on_subscription(p, Bytes::from(topic), true);
            p
        })
        .collect();
    let everything = h.attach();
    h.core.on_subscription(everything, Bytes::new(), true);
    assert!(h.send_str(&["t04242 hello"]));
    assert_eq!(
        h.core.peers.fan_out_visits, 2,
        "the index names the topic's subscriber and the one of everything"
    );
    h.write(peers[4242]);
    h.write(everything);
    assert_eq!(h.wire(peers[4242]), strs(&[&["t04242 hello"]]));
    assert_eq!(h.wire(everything).len(), 1);
    h.write(peers[4243]);
    assert!(h.wire(peers[4243]).is_empty());
    assert_eq!(h.core.drops(), Drops::default());
}

#[test]
fn peers_that_come_and_go_leave_no_stale_entries_behind() {
    let mut h = Harness::new(SocketType::Dealer);
    for _ in 0..10_000 {
        let p = h.attach();
        h.deliver(p, &["x"]);
        h.detach(p, true);
        // Its message stays readable until taken; then the peer is forgotten.
        assert_eq!(h.recv().unwrap().unwrap(), ["x"]);
    }
    assert_eq!(h.core.peer_count(), 0);
    for _ in 0..10_000 {
        let p = h.attach();
        h.detach(p, true);
    }
    let (room, input) = h.core.peers.rotation_lens();
    assert!(room <= 32 && input <= 32, "{room} {input}");
}

fn grouped(group: &str, body: &str) -> Message {
    Message::from(body).with_group(group).expect("short group")
}

#[test]
fn radio_sends_each_group_to_its_members_only_and_drops_at_the_hwm() {
    let mut h = Harness::with(SocketType::Radio, &[SocketOption::SndHwm(2)]);
    let (a, b, c) = (h.attach(), h.attach(), h.attach());
    h.core.on_subscription(a, Bytes::from_static(b"tv"), true);
    h.core.on_subscription(b, Bytes::from_static(b"tv"), true);
    h.core
        .on_subscription(b, Bytes::from_static(b"radio"), true);
    // A repeated JOIN changes nothing: one LEAVE undoes it.
    h.core.on_subscription(a, Bytes::from_static(b"tv"), true);
    assert!(h.send(grouped("tv", "1")).unwrap());
    assert!(h.send(grouped("radio", "2")).unwrap());
    // Exact match, not a prefix: "t" and "tv2" reach nobody.
    assert!(h.send(grouped("t", "3")).unwrap());
    assert!(h.send(grouped("tv2", "4")).unwrap());
    // No group set: the group "" (libzmq's default), joined by nobody here.
    assert!(h.send(Message::from("5")).unwrap());
    for p in [a, b, c] {
        h.write(p);
    }
    // On the link, the group travels as the first of two frames.
    assert_eq!(h.wire(a), strs(&[&["tv", "1"]]));
    assert_eq!(h.wire(b), strs(&[&["tv", "1"], &["radio", "2"]]));
    assert!(h.wire(c).is_empty(), "joined nothing, got nothing");
    // b stops writing: two fill its HWM, the third is dropped for b only.
    for i in 0..3 {
        assert!(h.send(grouped("tv", &format!("x{i}"))).unwrap());
        h.write(a);
    }
    assert_eq!(h.core.drops().hwm, 1);
    assert_eq!(h.wire(a).len(), 3);
    h.core.on_subscription(a, Bytes::from_static(b"tv"), false);
    assert!(h.send(grouped("tv", "after leave")).unwrap());
    h.write(a);
    assert!(h.wire(a).is_empty());
    // Single-part only; no recv; data from a peer is discarded.
    assert!(matches!(
        h.send(msg(&["a", "b"])),
        Err(Error::NotSupported {
            operation: "sending a multipart message",
            socket_type: SocketType::Radio
        })
    ));
    assert!(matches!(h.recv(), Err(Error::NotSupported { .. })));
    assert!(!h.deliver(a, &["data"]));
}

#[test]
fn radio_gives_every_group_to_datagram_links_and_forgets_members_that_leave() {
    let mut h = Harness::new(SocketType::Radio);
    let (udp, member) = (h.attach(), h.attach());
    h.core.receives_everything(udp);
    h.core
        .on_subscription(member, Bytes::from_static(b"g"), true);
    assert!(h.send(grouped("g", "1")).unwrap());
    assert!(h.send(grouped("other", "2")).unwrap());
    h.write(udp);
    h.write(member);
    assert_eq!(h.wire(udp), strs(&[&["g", "1"], &["other", "2"]]));
    assert_eq!(h.wire(member), strs(&[&["g", "1"]]));
    // A member's connection ends: its groups go with it; a reconnect must JOIN again.
    h.core.detach(member, false);
    h.links.get_mut(&member).unwrap().wire.clear();
    h.detach(udp, true);
    assert!(h.send(grouped("g", "3")).unwrap());
    let member2 = h.attach_to(Some(member), None).unwrap();
    assert_eq!(member2, member);
    h.write(member);
    assert!(h.wire(member).is_empty(), "not joined since the reconnect");
    h.core
        .on_subscription(member, Bytes::from_static(b"g"), true);
    assert!(h.send(grouped("g", "4")).unwrap());
    h.write(member);
    assert_eq!(h.wire(member), strs(&[&["g", "4"]]));
}

#[test]
fn a_radio_fan_out_visits_the_members_of_the_group_only() {
    let mut h = Harness::new(SocketType::Radio);
    let peers: Vec<_> = (0..10_000)
        .map(|i| {
            let p = h.attach();
            h.core
                .on_subscription(p, Bytes::from(format!("g{i:05}")), true);
            p
        })
        .collect();
    assert!(h.send(grouped("g04242", "hello")).unwrap());
    assert_eq!(
        h.core.peers.fan_out_visits, 1,
        "the index names the group's one member; 9,999 others cost nothing"
    );
    h.write(peers[4242]);
    assert_eq!(h.wire(peers[4242]), strs(&[&["g04242", "hello"]]));
}

#[test]
fn dish_joins_filters_and_delivers_the_group_out_of_band() {
    let mut h = Harness::new(SocketType::Dish);
    let a = h.attach();
    h.core.subscribe(b"tv").unwrap();
    h.run();
    assert_eq!(h.link(a).subscriptions, [(Bytes::from_static(b"tv"), true)]);
    // libzmq's errors: joining twice, leaving what was not joined, a long group.
    assert!(matches!(
        h.core.subscribe(b"tv"),
        Err(Error::GroupMembership { join: true })
    ));
    assert!(matches!(
        h.core.unsubscribe(b"radio"),
        Err(Error::GroupMembership { join: false })
    ));
    assert!(matches!(
        h.core.subscribe(&[b'g'; 256]),
        Err(Error::GroupTooLong { len: 256 })
    ));
    h.core.subscribe(&[b'g'; 255]).unwrap();
    h.run();
    // A peer that attaches later hears every joined group.
    let b = h.attach();
    let mut joined: Vec<_> = h.link(b).subscriptions.clone();
    joined.sort();
    assert_eq!(
        joined,
        [
            (Bytes::from(vec![b'g'; 255]), true),
            (Bytes::from_static(b"tv"), true)
        ]
    );
    // Only joined groups, only [group, body].
    assert!(h.deliver(a, &["tv", "one"]));
    assert!(!h.deliver(a, &["radio", "never"]));
    assert!(!h.deliver(b, &["t", "prefix is not a match"]));
    assert!(!h.deliver(b, &["tv"]));
    assert!(!h.deliver(b, &["tv", "a", "b"]));
    assert!(h.deliver(b, &["tv", "two"]));
    assert_eq!(h.core.drops().discarded, 4);
    let m = h.core.recv().unwrap().unwrap();
    assert_eq!(
        (m.group(), frames(&m)),
        (&b"tv"[..], vec!["one".to_string()])
    );
    let m = h.core.recv().unwrap().unwrap();
    assert_eq!(
        (m.group(), frames(&m)),
        (&b"tv"[..], vec!["two".to_string()])
    );
    assert!(h.core.recv().unwrap().is_none());
    // Leaving stops delivery and tells every peer.
    h.core.unsubscribe(b"tv").unwrap();
    h.run();
    assert_eq!(
        h.link(a).subscriptions.last(),
        Some(&(Bytes::from_static(b"tv"), false))
    );
    assert!(!h.deliver(a, &["tv", "after leave"]));
    assert!(matches!(
        h.send(grouped("tv", "x")),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn message_groups_are_at_most_255_bytes() {
    let mut m = Message::from("body");
    assert_eq!(m.group(), b"");
    m.set_group([b'g'; 255]).unwrap();
    assert_eq!(m.group(), &[b'g'; 255][..]);
    assert!(matches!(
        m.set_group([b'g'; 256]),
        Err(Error::GroupTooLong { len: 256 })
    ));
    assert_eq!(m.group(), &[b'g'; 255][..], "unchanged by the refusal");
    assert_ne!(m, Message::from("body"), "the group is part of the message");
}

// ---- two cores wired through ZMTP sessions in memory, with a virtual clock

/// A core whose single connection is a real ZMTP session.
struct Node {
    core: Core,
    session: Session,
    peer: Option<PeerId>,
}

impl Node {
    fn new(kind: SocketType, minor: u8, now: Instant) -> Node {
        let mut config = SessionConfig::new(kind);
        config.zmtp_minor = minor;
        Node {
            core: Core::new(kind, Options::default()),
            session: Session::new(config, Box::new(Null::new()), now).unwrap(),
            peer: None,
        }
    }

    /// Carries out the core's output through the session.
    fn act(&mut self) {
        let mut actions = Vec::new();
        self.core.drain_actions(&mut actions);
        for a in actions {
            match a {
                Action::Subscription {
                    topic, subscribe, ..
                } => {
                    if subscribe {
                        self.session.subscribe(&topic).unwrap();
                    } else {
                        self.session.cancel(&topic).unwrap();
                    }
                }
                Action::Output(p) => {
                    let session = &mut self.session;
                    self.core.take_output(p, |m| {
                        session.send_parts(m.into_parts()).unwrap();
                        true
                    });
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn send(&mut self, m: Message) {
        match self.core.send(m).unwrap() {
            Sent::Direct { peer, msg, .. } => {
                assert_eq!(Some(peer), self.peer);
                self.session.send_parts(msg.into_parts()).unwrap();
            }
            Sent::Fanout(msg) => {
                for _ in self.core.take_fanout() {
                    self.session.send(msg.frames()).unwrap();
                }
            }
            Sent::Done | Sent::Wake(_) => {}
            Sent::Blocked(_) => panic!("blocked"),
        }
        self.act();
    }

    /// Feeds the session's events to the core.
    fn events(&mut self) {
        while let Some(e) = self.session.poll_event() {
            match e {
                Event::HandshakeSucceeded { .. } => {
                    self.peer = Some(self.core.attach(None, None).unwrap());
                }
                Event::Message(parts) => {
                    self.core
                        .on_message(self.peer.unwrap(), Message::from(parts));
                }
                Event::Subscribe(t) => self.core.on_subscription(self.peer.unwrap(), t, true),
                Event::Cancel(t) => self.core.on_subscription(self.peer.unwrap(), t, false),
                other => panic!("unexpected {other:?}"),
            }
        }
        self.act();
        if let Some(p) = self.peer {
            self.core.flushed(p);
        }
    }
}

/// Moves what `from` has to send into `to`; true when there was something.
fn transfer(from: &mut Node, to: &mut Node, now: Instant) -> bool {
    let mut moved = false;
    while let Some(t) = from.session.poll_transmit() {
        moved = true;
        to.session.handle_input(now, &t.to_vec());
    }
    moved
}

/// Moves bytes both ways until both sessions are quiet; the clock moves 1 ms a step.
fn step_until_idle(a: &mut Node, b: &mut Node, now: &mut Instant) {
    for _ in 0..100 {
        let moved = transfer(a, b, *now) | transfer(b, a, *now);
        a.events();
        b.events();
        *now += Duration::from_millis(1);
        if !moved {
            return;
        }
    }
    panic!("the sessions did not go quiet");
}

#[test]
fn subscriptions_reach_a_zmtp_30_publisher_as_messages_and_filter() {
    for minor in [0, 1] {
        let mut now = Instant::now();
        let mut publisher = Node::new(SocketType::XPub, 1, now);
        // A ZMTP 3.0 subscriber sends its subscriptions as `\x01topic` data messages.
        let mut subscriber = Node::new(SocketType::Sub, minor, now);
        step_until_idle(&mut publisher, &mut subscriber, &mut now);
        assert!(publisher.peer.is_some() && subscriber.peer.is_some());
        subscriber.core.subscribe(b"news").unwrap();
        subscriber.act();
        step_until_idle(&mut publisher, &mut subscriber, &mut now);
        assert_eq!(
            frames(&publisher.core.recv().unwrap().unwrap()),
            ["\u{1}news"],
            "minor {minor}"
        );
        for m in ["news.1", "sport", "news.2"] {
            publisher.send(msg(&[m]));
        }
        step_until_idle(&mut publisher, &mut subscriber, &mut now);
        let got: Vec<_> = std::iter::from_fn(|| subscriber.core.recv().unwrap())
            .map(|m| frames(&m)[0].clone())
            .collect();
        assert_eq!(got, ["news.1", "news.2"], "minor {minor}");
        subscriber.core.unsubscribe(b"news").unwrap();
        subscriber.act();
        step_until_idle(&mut publisher, &mut subscriber, &mut now);
        assert_eq!(
            frames(&publisher.core.recv().unwrap().unwrap()),
            ["\u{0}news"]
        );
        publisher.send(msg(&["news.3"]));
        step_until_idle(&mut publisher, &mut subscriber, &mut now);
        assert_eq!(subscriber.core.recv().unwrap(), None);
    }
}

#[test]
fn radio_and_dish_talk_through_sessions_with_join_and_leave() {
    for minor in [0, 1] {
        let mut now = Instant::now();
        let mut radio = Node::new(SocketType::Radio, 1, now);
        let mut dish = Node::new(SocketType::Dish, minor, now);
        step_until_idle(&mut radio, &mut dish, &mut now);
        assert!(radio.peer.is_some() && dish.peer.is_some());
        dish.core.subscribe(b"tv").unwrap();
        dish.act();
        step_until_idle(&mut radio, &mut dish, &mut now);
        for (g, b) in [("tv", "1"), ("radio", "2"), ("tv", "3")] {
            radio.send(grouped(g, b));
        }
        step_until_idle(&mut radio, &mut dish, &mut now);
        let got: Vec<_> = std::iter::from_fn(|| dish.core.recv().unwrap())
            .map(|m| (m.group().to_vec(), frames(&m)[0].clone()))
            .collect();
        assert_eq!(
            got,
            [
                (b"tv".to_vec(), "1".to_string()),
                (b"tv".to_vec(), "3".into())
            ],
            "minor {minor}"
        );
        dish.core.unsubscribe(b"tv").unwrap();
        dish.act();
        step_until_idle(&mut radio, &mut dish, &mut now);
        radio.send(grouped("tv", "4"));
        step_until_idle(&mut radio, &mut dish, &mut now);
        assert_eq!(dish.core.recv().unwrap(), None);
        assert_eq!(radio.core.drops(), Drops::default(), "not even sent");
    }
}

#[test]
fn dealer_and_router_talk_through_sessions_with_routing_ids() {
    let mut now = Instant::now();
    let mut router = Node::new(SocketType::Router, 1, now);
    let mut dealer = Node::new(SocketType::Dealer, 1, now);
    step_until_idle(&mut router, &mut dealer, &mut now);
    dealer.send(msg(&["ping"]));
    step_until_idle(&mut router, &mut dealer, &mut now);
    let mut got = router.core.recv().unwrap().unwrap();
    assert_eq!(got.len(), 2);
    let rid = got.pop_front().unwrap();
    assert_eq!(rid[0], 0, "a generated id");
    let mut reply = msg(&["pong"]);
    reply.push_front(rid);
    router.send(reply);
    step_until_idle(&mut router, &mut dealer, &mut now);
    assert_eq!(frames(&dealer.core.recv().unwrap().unwrap()), ["pong"]);
}

/// Per-peer counters (`Socket::stats`): messages each way, queue depths, drops at the
/// HWM by peer, the wire bytes of ended connections (the shell counts bytes per read
/// and write), and totals that keep the peers that left.
#[test]
fn peer_counters_count_each_way_and_survive_departures() {
    let mut h = Harness::with(SocketType::Router, &[SocketOption::SndHwm(1)]);
    let a = h.attach_to(None, Some("A")).unwrap();
    let b = h.attach_to(None, Some("B")).unwrap();
    assert!(h.deliver(a, &["hello"]));
    assert!(h.deliver(a, &["x", "yz"]));
    assert!(h.deliver(b, &["1234"]));
    assert!(h.send_str(&["A", "abc"]));
    assert!(h.send_str(&["A", "dropped"]), "at A's HWM: dropped");
    assert!(h.send_str(&["nobody", "x"]), "unroutable: dropped");
    let find = |snap: &[PeerSnapshot], id: PeerId| {
        snap.iter().find(|s| s.id == id).cloned().expect("listed")
    };
    let (snap, retired) = h.core.snapshot();
    assert_eq!(retired, PeerCounters::default());
    let sa = find(&snap, a);
    assert_eq!(sa.routing_id.as_deref(), Some(&b"A"[..]));
    assert!(sa.attached);
    assert_eq!((sa.counters.msgs_in, sa.queued_in), (2, 2));
    assert_eq!(sa.counters.msgs_out, 1);
    assert_eq!((sa.queued_out, sa.counters.dropped_hwm), (1, 1));
    let sb = find(&snap, b);
    assert_eq!(sb.counters.msgs_in, 1);
    assert_eq!(sb.counters.dropped_hwm, 0);
    h.core.add_traffic(b, 100, 40);
    h.core.add_traffic(b, 1, 2);
    assert_eq!(h.core.drops().hwm, 1);
    assert_eq!(h.core.drops().unroutable, 1);
    // Reading drains the inbound queue; B leaves and its figures go to the totals.
    assert_eq!(h.recv_all().len(), 3);
    h.detach(b, true);
    let (snap, retired) = h.core.snapshot();
    assert_eq!(find(&snap, a).queued_in, 0);
    assert!(snap.iter().all(|s| s.id != b));
    assert_eq!(
        (retired.msgs_in, retired.bytes_in, retired.bytes_out),
        (1, 101, 42)
    );
}

/// PUB counts each subscriber's copy, and the subscribers it skipped at their HWM.
#[test]
fn fan_out_counts_per_subscriber() {
    let mut h = Harness::with(SocketType::Pub, &[SocketOption::SndHwm(1)]);
    let (a, b) = (h.attach(), h.attach());
    h.core.on_subscription(a, Bytes::from_static(b""), true);
    h.core.on_subscription(b, Bytes::from_static(b""), true);
    assert!(h.send_str(&["12345"]));
    h.write(a);
    assert!(h.send_str(&["678"]), "b is full: it misses this one");
    let (snap, _) = h.core.snapshot();
    let of = |id| snap.iter().find(|s| s.id == id).unwrap().counters;
    assert_eq!((of(a).msgs_out, of(a).dropped_hwm), (2, 0));
    assert_eq!((of(b).msgs_out, of(b).dropped_hwm), (1, 1));
}

// ---- libzmq's draft types

impl Harness {
    /// The next message with its out-of-band routing id (0 when none).
    fn recv_routed(&mut self) -> Option<(u32, Vec<String>)> {
        let m = self.core.recv().expect("recv")?;
        self.run();
        Some((m.routing_id().unwrap_or(0), frames(&m)))
    }
}

fn routed(id: u32, body: &str) -> Message {
    Message::from(body).with_routing_id(id)
}

#[test]
fn server_replies_by_routing_id_out_of_band() {
    let mut h = Harness::new(SocketType::Server);
    let (a, b) = (h.attach(), h.attach());
    assert!(h.deliver(a, &["from a"]));
    assert!(h.deliver(b, &["from b"]));
    let (ida, body) = h.recv_routed().unwrap();
    assert_eq!(body, ["from a"]);
    let (idb, body) = h.recv_routed().unwrap();
    assert_eq!(body, ["from b"]);
    assert!(ida != 0 && idb != 0 && ida != idb, "{ida} {idb}");
    // Replies go to the peer the id names, and nothing else.
    assert!(h.send(routed(idb, "to b")).expect("send"));
    assert!(h.send(routed(ida, "to a")).expect("send"));
    h.write(a);
    h.write(b);
    assert_eq!(h.wire(a), strs(&[&["to a"]]));
    assert_eq!(h.wire(b), strs(&[&["to b"]]));
    // No id, or an id nobody has: HostUnreachable (libzmq's EHOSTUNREACH).
    assert!(matches!(
        h.send(msg(&["nowhere"])),
        Err(Error::HostUnreachable)
    ));
    let unknown = (1..).find(|&i| i != ida && i != idb).unwrap();
    assert!(matches!(
        h.send(routed(unknown, "x")),
        Err(Error::HostUnreachable)
    ));
    // A peer that left keeps its id on what it sent before, and is unreachable.
    assert!(h.deliver(a, &["last words"]));
    h.detach(a, true);
    assert_eq!(h.recv_routed(), Some((ida, vec!["last words".to_owned()])));
    assert!(matches!(
        h.send(routed(ida, "late")),
        Err(Error::HostUnreachable)
    ));
    // A new connection gets a new id.
    let c = h.attach();
    assert!(h.deliver(c, &["hi"]));
    let (idc, _) = h.recv_routed().unwrap();
    assert!(idc != 0 && idc != ida && idc != idb);
    // An id an arrival brought along (an inproc sender's leftover) is replaced by the
    // peer's.
    assert!(h.core.on_message(c, routed(idc.wrapping_add(1), "again")));
    h.run();
    assert_eq!(h.recv_routed(), Some((idc, vec!["again".to_owned()])));
}

#[test]
fn server_waits_for_a_full_peer_and_keeps_connect_side_ids() {
    let mut h = Harness::with(SocketType::Server, &[SocketOption::SndHwm(1)]);
    let a = h.attach();
    assert!(h.deliver(a, &["q"]));
    let (id, _) = h.recv_routed().unwrap();
    assert!(h.send(routed(id, "1")).expect("send"));
    assert!(
        !h.send(routed(id, "2")).expect("send"),
        "a full peer makes it wait"
    );
    h.write(a);
    assert!(h.send(routed(id, "2")).expect("send"));
    // A connect-side peer has its id from `connect` on: messages to it wait for the
    // connection, and the id survives a reconnection.
    let mut h = Harness::new(SocketType::Server);
    let p = h.core.add_connect_peer().unwrap();
    let rid = h.core.routing_id(p).expect("an id at connect");
    let id = u32::from_be_bytes(rid[..].try_into().unwrap());
    assert!(h.send(routed(id, "early")).expect("send"));
    assert_eq!(h.attach_to(Some(p), None), Ok(p));
    h.write(p);
    assert_eq!(h.wire(p), strs(&[&["early"]]));
    h.detach(p, false);
    assert_eq!(h.attach_to(Some(p), None), Ok(p));
    assert!(h.deliver(p, &["back"]));
    assert_eq!(h.recv_routed(), Some((id, vec!["back".to_owned()])));
}

#[test]
fn peer_gets_distinct_ids_at_connect_and_routes_like_server() {
    let mut h = Harness::new(SocketType::Peer);
    let (p, q) = (
        h.core.add_connect_peer().unwrap(),
        h.core.add_connect_peer().unwrap(),
    );
    let id =
        |h: &Harness, p| u32::from_be_bytes(h.core.routing_id(p).unwrap()[..].try_into().unwrap());
    let (idp, idq) = (id(&h, p), id(&h, q));
    assert!(idp != 0 && idq != 0 && idp != idq);
    h.attach_to(Some(p), None).unwrap();
    h.attach_to(Some(q), None).unwrap();
    assert!(h.send(routed(idq, "to q")).expect("send"));
    h.write(p);
    h.write(q);
    assert!(h.wire(p).is_empty());
    assert_eq!(h.wire(q), strs(&[&["to q"]]));
    assert!(h.deliver(p, &["from p"]));
    assert_eq!(h.recv_routed(), Some((idp, vec!["from p".to_owned()])));
}

#[test]
fn client_round_robins_out_and_fair_queues_in() {
    let mut h = Harness::new(SocketType::Client);
    let (a, b) = (h.attach(), h.attach());
    for i in 0..4 {
        assert!(h.send_str(&[&i.to_string()]));
    }
    h.write(a);
    h.write(b);
    assert_eq!(h.wire(a), strs(&[&["0"], &["2"]]));
    assert_eq!(h.wire(b), strs(&[&["1"], &["3"]]));
    assert!(h.deliver(a, &["a1"]));
    assert!(h.deliver(a, &["a2"]));
    assert!(h.deliver(b, &["b1"]));
    assert_eq!(h.recv_all(), strs(&[&["a1"], &["b1"], &["a2"]]));
    assert_eq!(h.recv_routed(), None);
}

#[test]
fn scatter_round_robins_and_gather_fair_queues() {
    let mut s = Harness::new(SocketType::Scatter);
    let (a, b) = (s.attach(), s.attach());
    for i in 0..3 {
        assert!(s.send_str(&[&i.to_string()]));
    }
    s.write(a);
    s.write(b);
    assert_eq!(s.wire(a), strs(&[&["0"], &["2"]]));
    assert_eq!(s.wire(b), strs(&[&["1"]]));
    assert!(matches!(s.recv(), Err(Error::NotSupported { .. })));
    assert!(!s.deliver(a, &["data to a SCATTER"]));
    assert_eq!(s.core.drops().discarded, 1);

    let mut g = Harness::new(SocketType::Gather);
    let (a, b) = (g.attach(), g.attach());
    assert!(g.deliver(b, &["b1"]));
    assert!(g.deliver(a, &["a1"]));
    assert!(g.deliver(b, &["b2"]));
    assert_eq!(g.recv_all(), strs(&[&["b1"], &["a1"], &["b2"]]));
    assert!(matches!(
        g.send(msg(&["x"])),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn channel_admits_one_peer_at_a_time() {
    let mut h = Harness::new(SocketType::Channel);
    let a = h.attach();
    assert_eq!(h.attach_to(None, None), Err(Refusal::ChannelBusy));
    assert!(h.send_str(&["hi"]));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["hi"]]));
    h.detach(a, true);
    let b = h.attach();
    assert!(h.deliver(b, &["back"]));
    assert_eq!(h.recv_all(), strs(&[&["back"]]));
}

/// Every draft type refuses a multipart send with a clear error, and a peer that sends
/// one loses its connection (typed), while single-part traffic goes on.
#[test]
fn draft_types_are_single_part() {
    use SocketType::*;
    for kind in [Server, Client, Scatter, Gather, Peer, Channel] {
        let mut h = Harness::new(kind);
        let a = h.attach();
        if kind != Gather {
            let err = h.send(msg(&["a", "b"])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("sending a multipart message is not supported on a {kind} socket")
            );
        }
        if kind != Scatter {
            assert!(!h.deliver(a, &["part 1", "part 2"]), "{kind}");
            assert_eq!(h.link(a).closed, Some(Refusal::Multipart(kind)), "{kind}");
            assert_eq!(h.core.drops().discarded, 1);
            assert_eq!(
                Refusal::Multipart(kind).to_string(),
                format!("multipart message on a {kind} socket (single-part only)")
            );
            let b = h.attach_to(None, None);
            let b = match b {
                Ok(b) => b,
                // CHANNEL: the first peer is still attached until the shell drops it.
                Err(Refusal::ChannelBusy) => {
                    h.detach(a, true);
                    h.attach()
                }
                Err(e) => panic!("{kind}: {e}"),
            };
            assert!(h.deliver(b, &["single"]), "{kind}");
            assert_eq!(h.recv_all(), strs(&[&["single"]]), "{kind}");
        }
    }
}

fn sub_(h: &mut Harness, peer: PeerId, topic: &str, on: bool) {
    h.core
        .on_subscription(peer, Bytes::copy_from_slice(topic.as_bytes()), on);
    h.run();
}

#[test]
fn xpub_verboser_reports_every_cancel_and_each_topic_of_a_leaving_peer() {
    for verboser in [false, true] {
        let opt = if verboser {
            SocketOption::XpubVerboser(true)
        } else {
            SocketOption::XpubVerbose(true)
        };
        let mut h = Harness::with(SocketType::XPub, &[opt]);
        let (a, b) = (h.attach(), h.attach());
        sub_(&mut h, a, "t", true);
        sub_(&mut h, b, "t", true);
        sub_(&mut h, a, "t", false);
        h.detach(b, true);
        let got = h.recv_all();
        if verboser {
            assert_eq!(
                got,
                strs(&[&["\u{1}t"], &["\u{1}t"], &["\u{0}t"], &["\u{0}t"]])
            );
        } else {
            // Verbose only: the cancel while b still subscribes is not reported.
            assert_eq!(got, strs(&[&["\u{1}t"], &["\u{1}t"], &["\u{0}t"]]));
        }
        let o = h.core.opts.snapshot();
        assert_eq!((o.xpub_verbose(), o.xpub_verboser()), (true, verboser));
    }
    // XPUB_VERBOSE after XPUB_VERBOSER turns the unsubscribe reports off (libzmq).
    let mut h = Harness::with(
        SocketType::XPub,
        &[
            SocketOption::XpubVerboser(true),
            SocketOption::XpubVerbose(true),
        ],
    );
    assert!(!h.core.opts.snapshot().xpub_verboser());
    let (a, b) = (h.attach(), h.attach());
    sub_(&mut h, a, "t", true);
    sub_(&mut h, b, "t", true);
    h.detach(a, true);
    assert_eq!(h.recv_all(), strs(&[&["\u{1}t"], &["\u{1}t"]]));
}

#[test]
fn xpub_manual_passes_subscriptions_to_the_application() {
    let mut h = Harness::with(
        SocketType::XPub,
        &[SocketOption::XpubManual(true), SocketOption::SndHwm(0)],
    );
    assert!(matches!(
        Harness::new(SocketType::XPub).core.subscribe(b"x"),
        Err(Error::InvalidOption { .. })
    ));
    let (a, b) = (h.attach(), h.attach());
    // Nothing applied until the application says so; every notice is reported.
    sub_(&mut h, a, "news", true);
    sub_(&mut h, b, "news", true);
    assert!(h.send_str(&["news.0"]));
    h.write(a);
    h.write(b);
    assert!(h.wire(a).is_empty() && h.wire(b).is_empty());
    // Read a's notice, subscribe a to something else than it asked for.
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{1}news"]);
    h.core.subscribe(b"news.sport").unwrap();
    // b's notice: subscribe b to what it asked.
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{1}news"]);
    h.core.subscribe(b"news").unwrap();
    assert!(h.send_str(&["news.sport.1"]));
    assert!(h.send_str(&["news.weather"]));
    h.write(a);
    h.write(b);
    assert_eq!(h.wire(a), strs(&[&["news.sport.1"]]));
    assert_eq!(h.wire(b), strs(&[&["news.sport.1"], &["news.weather"]]));
    // b cancels: reported, still applied until the application unsubscribes it.
    sub_(&mut h, b, "news", false);
    assert!(h.send_str(&["news.2"]));
    assert_eq!(h.recv().unwrap().unwrap(), ["\u{0}news"]);
    h.core.unsubscribe(b"news").unwrap();
    assert!(h.send_str(&["news.3"]));
    h.write(b);
    assert_eq!(h.wire(b), strs(&[&["news.2"]]));
    // A leaving peer's own subscriptions come back as cancels, and the application's
    // subscriptions for it go; subscribe after that notice applies to nobody.
    sub_(&mut h, a, "x", true);
    sub_(&mut h, a, "y", true);
    h.detach(a, true);
    let mut got = h.recv_all();
    assert_eq!(got[..2], strs(&[&["\u{1}x"], &["\u{1}y"]]));
    got.drain(..2);
    got.sort();
    assert_eq!(got, strs(&[&["\u{0}news"], &["\u{0}x"], &["\u{0}y"]]));
    h.core.subscribe(b"").unwrap();
    assert!(h.send_str(&["anything"]));
    h.write(b);
    assert!(h.wire(b).is_empty(), "after a departure notice: nobody");
}

#[test]
fn xpub_manual_last_value_sends_the_next_message_to_the_new_subscriber_only() {
    let mut h = Harness::with(SocketType::XPub, &[SocketOption::XpubManualLastValue(true)]);
    let o = h.core.opts.snapshot();
    assert!(o.xpub_manual() && o.xpub_manual_last_value());
    let (a, b) = (h.attach(), h.attach());
    for p in [a, b] {
        sub_(&mut h, p, "t", true);
        h.recv().unwrap().unwrap();
        h.core.subscribe(b"t").unwrap();
    }
    // The first send after b's notice: the cached value for b only.
    assert!(h.send_str(&["t", "last value"]));
    assert!(h.send_str(&["t", "update"]));
    h.write(a);
    h.write(b);
    assert_eq!(h.wire(a), strs(&[&["t", "update"]]));
    assert_eq!(h.wire(b), strs(&[&["t", "last value"], &["t", "update"]]));
    // XPUB_MANUAL alone sends to everyone.
    let mut h = Harness::with(SocketType::XPub, &[SocketOption::XpubManual(true)]);
    let (a, b) = (h.attach(), h.attach());
    for p in [a, b] {
        sub_(&mut h, p, "t", true);
        h.recv().unwrap().unwrap();
        h.core.subscribe(b"t").unwrap();
    }
    assert!(h.send_str(&["t"]));
    h.write(a);
    assert_eq!(h.wire(a).len(), 1);
}

#[test]
fn xpub_nodrop_blocks_at_the_hwm_instead_of_dropping() {
    for kind in [SocketType::Pub, SocketType::XPub] {
        let mut h = Harness::with(
            kind,
            &[SocketOption::SndHwm(2), SocketOption::XpubNodrop(true)],
        );
        assert!(h.core.opts.snapshot().xpub_nodrop());
        let (a, b, c) = (h.attach(), h.attach(), h.attach());
        sub_(&mut h, a, "t", true);
        sub_(&mut h, b, "t", true);
        assert!(h.send_str(&["t1"]));
        assert!(h.send_str(&["t2"]));
        h.write(a);
        // b is at its HWM: the send waits rather than dropping for b.
        assert!(!h.send_str(&["t3"]), "{kind}");
        let before = h.send_wakes;
        h.write(b);
        assert!(h.send_wakes > before, "room wakes the sender");
        assert!(h.send_str(&["t3"]));
        // c subscribes to nothing: being full-free it never blocks anything.
        h.write(a);
        h.write(b);
        assert_eq!(h.wire(a), strs(&[&["t1"], &["t2"], &["t3"]]));
        assert_eq!(h.wire(b), strs(&[&["t1"], &["t2"], &["t3"]]));
        assert!(h.wire(c).is_empty());
        assert_eq!(h.core.drops().hwm, 0);
    }
}

#[test]
fn xpub_welcome_msg_goes_first_to_every_new_peer() {
    let mut h = Harness::with(
        SocketType::XPub,
        &[SocketOption::XpubWelcomeMsg(Bytes::from_static(b"WELCOME"))],
    );
    assert_eq!(
        h.core.opts.snapshot().xpub_welcome_msg().as_deref(),
        Some(&b"WELCOME"[..])
    );
    let a = h.attach();
    sub_(&mut h, a, "", true);
    assert!(h.send_str(&["data"]));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["WELCOME"], &["data"]]));
    // Unset (empty): none.
    h.core
        .set_option(SocketOption::XpubWelcomeMsg(Bytes::new()))
        .unwrap();
    let b = h.attach();
    h.write(b);
    assert!(h.wire(b).is_empty());
}

#[test]
fn invert_matching_sends_and_receives_what_matches_nothing() {
    for kind in [SocketType::Pub, SocketType::XPub] {
        let mut h = Harness::with(kind, &[SocketOption::InvertMatching(true)]);
        let (a, b, c) = (h.attach(), h.attach(), h.attach());
        sub_(&mut h, a, "news", true);
        sub_(&mut h, b, "sport", true);
        assert!(h.send_str(&["news.1"]));
        assert!(h.send_str(&["other"]));
        for p in [a, b, c] {
            h.write(p);
        }
        assert_eq!(h.wire(a), strs(&[&["other"]]));
        assert_eq!(h.wire(b), strs(&[&["news.1"], &["other"]]));
        assert_eq!(
            h.wire(c),
            strs(&[&["news.1"], &["other"]]),
            "no subscription"
        );
    }
    for kind in [SocketType::Sub, SocketType::XSub] {
        let mut h = Harness::with(kind, &[SocketOption::InvertMatching(true)]);
        let a = h.attach();
        if kind == SocketType::Sub {
            h.core.subscribe(b"news").unwrap();
        } else {
            h.send_str(&["\u{1}news"]);
        }
        assert!(!h.deliver(a, &["news.1"]));
        assert!(h.deliver(a, &["sport"]));
        assert_eq!(h.recv_all(), strs(&[&["sport"]]));
    }
}

#[test]
fn subscriptions_inside_multipart_messages_and_only_first_subscribe() {
    for only_first in [false, true] {
        let mut h = Harness::with(
            SocketType::XPub,
            &[SocketOption::OnlyFirstSubscribe(only_first)],
        );
        let a = h.attach();
        // First frame a subscription: the subscription frames apply, the rest is data.
        assert!(h.deliver(a, &["\u{1}a", "data", "\u{1}b"]));
        // First frame data: every frame is data with ONLY_FIRST_SUBSCRIBE.
        assert!(h.deliver(a, &["data2", "\u{1}c"]));
        // Notices are read before data.
        let got = h.recv_all();
        if only_first {
            assert_eq!(
                got,
                strs(&[&["\u{1}a"], &["\u{1}b"], &["data"], &["data2", "\u{1}c"]])
            );
        } else {
            assert_eq!(
                got,
                strs(&[&["\u{1}a"], &["\u{1}b"], &["\u{1}c"], &["data"], &["data2"]])
            );
        }
        // XSUB sending the same shapes.
        let mut h = Harness::with(
            SocketType::XSub,
            &[SocketOption::OnlyFirstSubscribe(only_first)],
        );
        let p = h.attach();
        assert!(h.send_str(&["data", "\u{1}t"]));
        h.write(p);
        if only_first {
            assert_eq!(h.wire(p), strs(&[&["data", "\u{1}t"]]));
            assert!(h.link(p).subscriptions.is_empty());
        } else {
            assert_eq!(h.wire(p), strs(&[&["data"]]));
            assert_eq!(h.link(p).subscriptions, [(Bytes::from_static(b"t"), true)]);
        }
    }
}

#[test]
fn probe_router_sends_an_empty_message_first_on_each_connection() {
    for kind in [SocketType::Dealer, SocketType::Req, SocketType::Router] {
        let mut h = Harness::with(kind, &[SocketOption::ProbeRouter(true)]);
        assert!(h.core.opts.snapshot().probe_router());
        // A DEALER / REQ queues for its connect-side peer before the connection: the
        // probe still goes first.
        let early = h.core.add_connect_peer();
        if kind == SocketType::Dealer {
            assert!(h.send_str(&["early"]));
        }
        let p = h.attach_to(early, Some("peer")).unwrap();
        h.write(p);
        let mut want = vec![vec![String::new()]];
        if kind == SocketType::Dealer {
            want.push(vec!["early".to_string()]);
        }
        assert_eq!(h.wire(p), want, "{kind}");
    }
    let mut h = Harness::new(SocketType::Dealer);
    let p = h.attach();
    h.write(p);
    assert!(h.wire(p).is_empty(), "off by default");
    assert!(SocketOption::ProbeRouter(true)
        .check(SocketType::Pub)
        .is_err());
}

#[test]
fn router_notify_reports_connects_and_disconnects() {
    for mask in 0..=3u32 {
        let mut h = Harness::with(SocketType::Router, &[SocketOption::RouterNotify(mask)]);
        let a = h.attach_to(None, Some("a")).unwrap();
        assert!(h.deliver(a, &["hello"]));
        h.detach(a, true);
        let mut want: Vec<&[&str]> = Vec::new();
        if mask & crate::options::NOTIFY_CONNECT != 0 {
            want.push(&["a", ""]);
        }
        want.push(&["a", "hello"]);
        if mask & crate::options::NOTIFY_DISCONNECT != 0 {
            want.push(&["a", ""]);
        }
        assert_eq!(h.recv_all(), strs(&want), "mask {mask}");
        assert_eq!(h.core.opts.snapshot().router_notify(), mask);
    }
    let mut h = Harness::new(SocketType::Router);
    assert!(h.core.set_option(SocketOption::RouterNotify(4)).is_err());
}

#[test]
fn stream_takes_an_assigned_routing_id_unless_it_is_in_use() {
    let mut h = Harness::new(SocketType::Stream);
    let a = h.attach_to(None, Some("mine")).unwrap();
    assert_eq!(h.core.routing_id(a).as_deref(), Some(&b"mine"[..]));
    assert_eq!(
        h.attach_to(None, Some("mine")),
        Err(Refusal::DuplicateRoutingId(Bytes::from_static(b"mine")))
    );
    assert!(h.send_str(&["mine", "data"]));
    h.write(a);
    assert_eq!(h.wire(a), strs(&[&["data"]]));
}

#[test]
fn hello_disconnect_and_hiccup_messages() {
    for kind in [SocketType::Router, SocketType::Dealer] {
        let mut h = Harness::with(
            kind,
            &[
                SocketOption::HelloMsg(Bytes::from_static(b"HELLO")),
                SocketOption::ProbeRouter(true),
            ],
        );
        let early = h.core.add_connect_peer();
        if kind == SocketType::Dealer {
            assert!(h.send_str(&["early"]));
        }
        let p = h.attach_to(early, Some("p")).unwrap();
        h.write(p);
        let mut want: Vec<&[&str]> = vec![&["HELLO"], &[""]];
        if kind == SocketType::Dealer {
            want.push(&["early"]);
        }
        assert_eq!(h.wire(p), strs(&want), "{kind}: hello, then the probe");
    }
    let mut h = Harness::with(
        SocketType::Router,
        &[SocketOption::DisconnectMsg(Bytes::from_static(b"GONE"))],
    );
    let a = h.attach_to(None, Some("a")).unwrap();
    assert!(h.deliver(a, &["last words"]));
    h.detach(a, true);
    assert_eq!(h.recv_all(), strs(&[&["a", "last words"], &["a", "GONE"]]));
    let mut h = Harness::with(
        SocketType::Dealer,
        &[SocketOption::HiccupMsg(Bytes::from_static(b"HICCUP"))],
    );
    let p = h.core.add_connect_peer();
    let p = h.attach_to(p, None).unwrap();
    h.core.hiccup(p);
    h.detach(p, false);
    assert_eq!(h.recv_all(), strs(&[&["HICCUP"]]));
    assert_eq!(
        h.core.opts.snapshot().hiccup_msg().as_deref(),
        Some(&b"HICCUP"[..])
    );
}

/// The draft types as libzmq 4.3.5 has them: HELLO_MSG on CLIENT, SERVER and PEER;
/// DISCONNECT_MSG on SERVER and PEER and HICCUP_MSG on CLIENT and PEER, each with the
/// peer's routing id where the type has them.
#[test]
fn hello_disconnect_and_hiccup_on_draft_types() {
    let hello = SocketOption::HelloMsg(Bytes::from_static(b"HELLO"));
    for kind in [SocketType::Client, SocketType::Server, SocketType::Peer] {
        let mut h = Harness::with(kind, std::slice::from_ref(&hello));
        let p = h.attach();
        h.write(p);
        assert_eq!(h.wire(p), strs(&[&["HELLO"]]), "{kind}");
    }
    for kind in [SocketType::Server, SocketType::Peer] {
        let mut h = Harness::with(
            kind,
            &[SocketOption::DisconnectMsg(Bytes::from_static(b"GONE"))],
        );
        let a = h.attach();
        assert!(h.deliver(a, &["last words"]));
        let (id, _) = h.recv_routed().unwrap();
        h.detach(a, true);
        assert_eq!(
            h.recv_routed(),
            Some((id, vec!["GONE".to_owned()])),
            "{kind}"
        );
    }
    let mut h = Harness::with(
        SocketType::Client,
        &[SocketOption::HiccupMsg(Bytes::from_static(b"HICCUP"))],
    );
    let p = h.core.add_connect_peer().unwrap();
    let p = h.attach_to(Some(p), None).unwrap();
    h.core.hiccup(p);
    h.detach(p, false);
    assert_eq!(h.recv_all(), strs(&[&["HICCUP"]]));
    let mut h = Harness::with(
        SocketType::Peer,
        &[SocketOption::HiccupMsg(Bytes::from_static(b"HICCUP"))],
    );
    let p = h.core.add_connect_peer().unwrap();
    let rid = h.core.routing_id(p).unwrap();
    let id = u32::from_be_bytes(rid[..].try_into().unwrap());
    h.attach_to(Some(p), None).unwrap();
    h.core.hiccup(p);
    h.detach(p, false);
    assert_eq!(h.recv_routed(), Some((id, vec!["HICCUP".to_owned()])));
    // Where libzmq has no such message, the option is refused.
    for (kind, opt) in [
        (
            SocketType::Client,
            SocketOption::DisconnectMsg(Bytes::from_static(b"x")),
        ),
        (
            SocketType::Server,
            SocketOption::HiccupMsg(Bytes::from_static(b"x")),
        ),
        (SocketType::Push, hello.clone()),
    ] {
        assert!(opt.check(kind).is_err(), "{kind}");
    }
    for kind in [SocketType::Client, SocketType::Server, SocketType::Peer] {
        assert!(hello.check(kind).is_ok(), "{kind}");
    }
}

/// ZMQ_EVENTS, (readable, writable), through each type's states.
#[test]
fn events_follow_each_types_state() {
    let mut h = Harness::new(SocketType::Req);
    assert_eq!(h.core.events(), (false, false), "REQ without a peer");
    let a = h.attach();
    assert_eq!(h.core.events(), (false, true));
    assert!(h.send_str(&["q"]));
    assert_eq!(h.core.events(), (false, false), "awaiting the reply");
    h.write(a);
    assert!(h.deliver(a, &["", "r"]));
    assert_eq!(h.core.events(), (true, false), "the reply is in");
    assert!(h.recv().unwrap().is_some());
    assert_eq!(h.core.events(), (false, true));

    let mut h = Harness::new(SocketType::Rep);
    let a = h.attach();
    assert_eq!(h.core.events(), (false, false), "REP before a request");
    assert!(h.deliver(a, &["", "q"]));
    assert_eq!(h.core.events(), (true, false));
    assert!(h.recv().unwrap().is_some());
    assert_eq!(h.core.events(), (false, true), "answering");
    assert!(h.deliver(a, &["", "q2"]));
    assert_eq!(
        h.core.events(),
        (false, true),
        "the next request waits its turn"
    );
    assert!(h.send_str(&["r"]));
    assert_eq!(h.core.events(), (true, false));

    let mut h = Harness::with(SocketType::Dealer, &[SocketOption::SndHwm(1)]);
    let a = h.attach();
    assert_eq!(h.core.events(), (false, true));
    assert!(h.send_str(&["1"]));
    assert_eq!(h.core.events(), (false, false), "its only peer is full");
    h.write(a);
    assert_eq!(h.core.events(), (false, true));
    assert!(h.deliver(a, &["in"]));
    assert_eq!(h.core.events(), (true, true));

    // Routing and fan-out types are always writable; those that cannot send never.
    for (kind, writable) in [
        (SocketType::Router, true),
        (SocketType::Server, true),
        (SocketType::Pub, true),
        (SocketType::XSub, true),
        (SocketType::Pull, false),
        (SocketType::Sub, false),
        (SocketType::Gather, false),
    ] {
        let h = Harness::new(kind);
        assert_eq!(h.core.events(), (false, writable), "{kind}");
    }
    let mut h = Harness::new(SocketType::Pull);
    let a = h.attach();
    assert!(h.deliver(a, &["x"]));
    assert_eq!(h.core.events(), (true, false));
}

#[test]
fn xsub_verbose_unsubscribe_forwards_every_cancel() {
    for verbose in [false, true] {
        let mut h = Harness::with(
            SocketType::XSub,
            &[SocketOption::XsubVerboseUnsubscribe(verbose)],
        );
        let p = h.attach();
        assert!(h.send_str(&["\u{1}t"]));
        assert!(h.send_str(&["\u{1}t"]));
        assert!(h.send_str(&["\u{0}t"]));
        let cancels = h.link(p).subscriptions.iter().filter(|(_, on)| !on).count();
        assert_eq!(cancels, usize::from(verbose), "one reference is left");
        assert_eq!(h.core.opts.snapshot().xsub_verbose_unsubscribe(), verbose);
    }
}

#[test]
fn topics_count_counts_distinct_topics() {
    let mut h = Harness::new(SocketType::XPub);
    let (a, b) = (h.attach(), h.attach());
    sub_(&mut h, a, "x", true);
    sub_(&mut h, b, "x", true);
    sub_(&mut h, b, "y", true);
    assert_eq!(h.core.topics_count().unwrap(), 2);
    h.detach(b, true);
    assert_eq!(h.core.topics_count().unwrap(), 1);
    let mut s = Harness::new(SocketType::Sub);
    s.core.subscribe(b"a").unwrap();
    s.core.subscribe(b"a").unwrap();
    assert_eq!(s.core.topics_count().unwrap(), 1);
    assert!(Harness::new(SocketType::Push).core.topics_count().is_err());
}
