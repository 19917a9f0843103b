//! `inproc://`: every socket type over in-process pipes, bind and connect in either
//! order, the pipe's HWM (the sum of both sides), monitor events, misuse, and sockets
//! on several threads (each running its own runtime, of the same or another backend)
//! whose Contexts share one `ContextHandle`.

mod common;

use std::time::Duration;

use common::threads::*;
use common::*;
use ringmq_proactor::{Proactor, Runtime};
use ringmq_sockets::{
    Bytes, Context, DisconnectReason, Error, Message, MonitorEventKind, Refusal, SocketOption,
    SocketType,
};

fn msg(frames: &[&[u8]]) -> Message {
    frames
        .iter()
        .map(|f| Bytes::copy_from_slice(f))
        .collect::<Vec<_>>()
        .into()
}

fn frames(m: &Message) -> Vec<Vec<u8>> {
    m.frames().iter().map(|f| f.to_vec()).collect()
}

// ---- one thread

async fn push_pull_in_order_without_copies<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    // Even when asked for, inproc peers carry no metadata (checked below).
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    assert_eq!(pull.bind("inproc://pp").unwrap(), "inproc://pp");
    assert_eq!(pull.last_endpoint().as_deref(), Some("inproc://pp"));
    let push = ctx.push();
    push.connect("inproc://pp").unwrap();
    const N: u32 = 10_000;
    join(
        async {
            for i in 0..N {
                push.send(i.to_be_bytes().to_vec()).await.unwrap();
            }
        },
        async {
            for i in 0..N {
                let m = pull.recv().await.unwrap();
                assert_eq!(m.frames()[0][..], i.to_be_bytes(), "in order");
            }
        },
    )
    .await;
    // Multipart, empty frames, and the payload handed over as is: the received
    // frames are the sent `Bytes`, not copies.
    let big = Bytes::from(vec![5u8; 1 << 20]);
    let small = Bytes::from_static(b"head");
    let sent: Message = vec![small.clone(), Bytes::new(), big.clone()].into();
    push.send(sent).await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(m.frames()[0].as_ptr(), small.as_ptr(), "not copied");
    assert!(m.frames()[1].is_empty());
    assert_eq!(m.frames()[2].as_ptr(), big.as_ptr(), "not copied");
    assert_eq!(m.frames()[2].len(), 1 << 20);
    assert!(
        m.peer_metadata().is_none(),
        "inproc peers carry no metadata"
    );
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    assert_eq!(push.drops(), Default::default());
}

async fn connect_before_bind<P: Proactor>(ctx: Context<P>) {
    let push = ctx.push();
    let mon = push.monitor();
    // Nobody bound the name yet: the connect waits, as in libzmq, and messages queue.
    push.connect("inproc://later").unwrap();
    for i in 0..3u8 {
        push.send(vec![i]).await.unwrap();
    }
    // "Nothing happens" is the subject: a short wait with nothing to show.
    sleep(ctx.proactor(), Duration::from_millis(50)).await;
    assert_eq!(mon.try_recv(), None, "no event while the name is unbound");
    let pull = ctx.pull();
    pull.bind("inproc://later").unwrap();
    for i in 0..3u8 {
        assert_eq!(frames(&pull.recv().await.unwrap()), vec![vec![i]]);
    }
    let e = wait_event(ctx.proactor(), &mon, |_| true).await;
    assert_eq!(e.kind, MonitorEventKind::Connected);
    assert_eq!(e.endpoint, "inproc://later");
    let e = wait_event(ctx.proactor(), &mon, |_| true).await;
    assert_eq!(e.kind, MonitorEventKind::HandshakeSucceeded);
}

async fn req_rep_and_req_router<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    rep.bind("inproc://rep").unwrap();
    let req = ctx.req();
    req.connect("inproc://rep").unwrap();
    for i in 0..100u32 {
        req.send(i.to_be_bytes().to_vec()).await.unwrap();
        let m = rep.recv().await.unwrap();
        assert_eq!(frames(&m), vec![i.to_be_bytes().to_vec()]);
        rep.send(msg(&[b"re", &i.to_be_bytes()])).await.unwrap();
        let r = req.recv().await.unwrap();
        assert_eq!(frames(&r), vec![b"re".to_vec(), i.to_be_bytes().to_vec()]);
    }
    // REQ with a routing id to a bound ROUTER: the id and the envelope arrive.
    let router = ctx.router();
    router.bind("inproc://router").unwrap();
    let req = ctx.req();
    req.set_option(SocketOption::RoutingId(Bytes::from_static(b"c1")))
        .unwrap();
    req.connect("inproc://router").unwrap();
    req.send("hello").await.unwrap();
    let m = router.recv().await.unwrap();
    assert_eq!(frames(&m), vec![b"c1".to_vec(), vec![], b"hello".to_vec()]);
    router.send(msg(&[b"c1", b"", b"world"])).await.unwrap();
    assert_eq!(frames(&req.recv().await.unwrap()), vec![b"world".to_vec()]);
}

async fn dealer_pairings<P: Proactor>(ctx: Context<P>) {
    // DEALER -> bound REP.
    let rep = ctx.rep();
    rep.bind("inproc://d-rep").unwrap();
    let dealer = ctx.dealer();
    dealer.connect("inproc://d-rep").unwrap();
    dealer.send(msg(&[b"", b"hi"])).await.unwrap();
    assert_eq!(frames(&rep.recv().await.unwrap()), vec![b"hi".to_vec()]);
    rep.send("yo").await.unwrap();
    assert_eq!(
        frames(&dealer.recv().await.unwrap()),
        vec![vec![], b"yo".to_vec()]
    );
    // DEALER <-> DEALER, both ways.
    let a = ctx.dealer();
    a.bind("inproc://d-d").unwrap();
    let b = ctx.dealer();
    b.connect("inproc://d-d").unwrap();
    b.send(msg(&[b"1", b"2"])).await.unwrap();
    assert_eq!(
        frames(&a.recv().await.unwrap()),
        vec![b"1".to_vec(), b"2".to_vec()]
    );
    a.send("back").await.unwrap();
    assert_eq!(frames(&b.recv().await.unwrap()), vec![b"back".to_vec()]);
    // DEALER (routing id) -> bound ROUTER, and the reply by id.
    let router = ctx.router();
    let rmon = router.monitor();
    router.bind("inproc://d-r").unwrap();
    let d = ctx.dealer();
    d.set_option(SocketOption::RoutingId(Bytes::from_static(b"w1")))
        .unwrap();
    d.connect("inproc://d-r").unwrap();
    let e = wait_event(ctx.proactor(), &rmon, |e| {
        e.kind == MonitorEventKind::HandshakeSucceeded
    })
    .await;
    assert_eq!(e.peer_routing_id.as_deref(), Some(&b"w1"[..]));
    router.send(msg(&[b"w1", b"job"])).await.unwrap();
    assert_eq!(frames(&d.recv().await.unwrap()), vec![b"job".to_vec()]);
    d.send("done").await.unwrap();
    assert_eq!(
        frames(&router.recv().await.unwrap()),
        vec![b"w1".to_vec(), b"done".to_vec()]
    );
    // A connecting ROUTER learns the bound ROUTER's routing id from the handshake.
    let server = ctx.router();
    server
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"srv")))
        .unwrap();
    server.bind("inproc://r-r").unwrap();
    let client = ctx.router();
    let cmon = client.monitor();
    client
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"cli")))
        .unwrap();
    client.connect("inproc://r-r").unwrap();
    let e = wait_event(ctx.proactor(), &cmon, |e| {
        e.kind == MonitorEventKind::HandshakeSucceeded
    })
    .await;
    assert_eq!(e.peer_routing_id.as_deref(), Some(&b"srv"[..]));
    client.send(msg(&[b"srv", b"ping"])).await.unwrap();
    assert_eq!(
        frames(&server.recv().await.unwrap()),
        vec![b"cli".to_vec(), b"ping".to_vec()]
    );
    server.send(msg(&[b"cli", b"pong"])).await.unwrap();
    assert_eq!(
        frames(&client.recv().await.unwrap()),
        vec![b"srv".to_vec(), b"pong".to_vec()]
    );
}

async fn pub_sub_filters<P: Proactor>(ctx: Context<P>) {
    let publisher = ctx.publisher();
    publisher.bind("inproc://pub").unwrap();
    let sub = ctx.subscriber();
    sub.subscribe(b"a").unwrap();
    sub.connect("inproc://pub").unwrap();
    // The subscription travels through the pipe: publish a probe until it arrives.
    let p = ctx.proactor();
    wait_for(p, WAIT, "the subscription reaches the publisher", || {
        publisher.try_send("a-probe").unwrap();
        sub.try_recv().ok()
    })
    .await;
    publisher.send("b-1").await.unwrap();
    publisher.send("a-1").await.unwrap();
    publisher.send("a-end").await.unwrap();
    let mut got = Vec::new();
    loop {
        let m = sub.recv().await.unwrap();
        let f = m.frames()[0].to_vec();
        if f == b"a-probe" {
            continue;
        }
        got.push(f);
        if got.last().map(Vec::as_slice) == Some(b"a-end") {
            break;
        }
    }
    assert_eq!(got, vec![b"a-1".to_vec(), b"a-end".to_vec()]);
}

async fn xpub_xsub_notices<P: Proactor>(ctx: Context<P>) {
    let xpub = ctx.xpub();
    xpub.bind("inproc://xpub").unwrap();
    let xsub = ctx.xsub();
    xsub.connect("inproc://xpub").unwrap();
    xsub.send(&b"\x01news"[..]).await.unwrap();
    assert_eq!(
        frames(&xpub.recv().await.unwrap()),
        vec![b"\x01news".to_vec()]
    );
    xpub.send("weather").await.unwrap();
    xpub.send("news today").await.unwrap();
    assert_eq!(
        frames(&xsub.recv().await.unwrap()),
        vec![b"news today".to_vec()]
    );
    // Its peer leaving cancels the subscription.
    xsub.disconnect("inproc://xpub").unwrap();
    assert_eq!(
        frames(&xpub.recv().await.unwrap()),
        vec![b"\x00news".to_vec()]
    );
}

async fn pair_is_exclusive<P: Proactor>(ctx: Context<P>) {
    let a = ctx.pair();
    let mon = a.monitor();
    a.bind("inproc://pair").unwrap();
    let b = ctx.pair();
    b.connect("inproc://pair").unwrap();
    b.send("x").await.unwrap();
    assert_eq!(frames(&a.recv().await.unwrap()), vec![b"x".to_vec()]);
    a.send("y").await.unwrap();
    assert_eq!(frames(&b.recv().await.unwrap()), vec![b"y".to_vec()]);
    let c = ctx.pair();
    c.connect("inproc://pair").unwrap();
    let reason = wait_handshake_failed(ctx.proactor(), &mon).await;
    assert_eq!(reason, DisconnectReason::Refused(Refusal::PairBusy));
    // The first peer keeps working.
    b.send("z").await.unwrap();
    assert_eq!(frames(&a.recv().await.unwrap()), vec![b"z".to_vec()]);
}

async fn hwm_is_the_sum_of_both_sides<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(7)).unwrap();
    pull.bind("inproc://hwm").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(5)).unwrap();
    push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(200))))
        .unwrap();
    let mon = push.monitor();
    push.connect("inproc://hwm").unwrap();
    wait_handshakes(ctx.proactor(), &mon, 1).await;
    // The PULL never reads: the pipe holds SNDHWM + RCVHWM messages, then sends wait
    // (and time out). Everything here runs on this thread, so when a send waits the
    // pumps have moved all they can.
    let mut accepted = 0;
    loop {
        match push.send(vec![accepted as u8]).await {
            Ok(()) => accepted += 1,
            Err(Error::TimedOut) => break,
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(accepted <= 12, "more than SNDHWM + RCVHWM accepted");
    }
    assert_eq!(accepted, 12);
    assert_eq!(push.drops(), Default::default());
    for i in 0..12u8 {
        assert_eq!(frames(&pull.recv().await.unwrap()), vec![vec![i]]);
    }
    // Room again.
    push.send("more").await.unwrap();
    assert_eq!(frames(&pull.recv().await.unwrap()), vec![b"more".to_vec()]);
}

/// The batch API over inproc keeps the pipe's HWM (SNDHWM + RCVHWM): a batch handed
/// to the pipe in runs stops there, in order, nothing dropped, multipart messages
/// whole; what was left goes once there is room.
async fn batch_hwm_is_the_sum_of_both_sides<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(7)).unwrap();
    pull.bind("inproc://batch-hwm").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(5)).unwrap();
    push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(200))))
        .unwrap();
    let mon = push.monitor();
    push.connect("inproc://batch-hwm").unwrap();
    wait_handshakes(ctx.proactor(), &mon, 1).await;
    let numbered = |i: u8| match i % 3 {
        0 => msg(&[&[i], b"", b"tail"]),
        _ => msg(&[&[i]]),
    };
    let mut msgs: Vec<Message> = (0..30).map(numbered).collect();
    // Without waiting: the SNDHWM, in one run.
    assert_eq!(push.try_send_batch(&mut msgs).unwrap(), 5);
    assert_eq!(msgs.len(), 25);
    // Waiting: the pumps move the first five into the PULL, room for five more, then
    // two (RCVHWM 7), then none: the wait times out with the rest still in `msgs`.
    assert!(matches!(
        push.send_batch(&mut msgs).await,
        Err(Error::TimedOut)
    ));
    assert_eq!(msgs.len(), 30 - 12, "SNDHWM + RCVHWM taken");
    assert_eq!(frames(&msgs[0]), frames(&numbered(12)), "the rest in order");
    assert_eq!(push.drops(), Default::default());
    let check = |m: &Message, i: u8| assert_eq!(frames(m), frames(&numbered(i)), "{i}");
    let mut out = Vec::new();
    let mut next = 0u8;
    while next < 12 {
        pull.recv_many(&mut out, 100).await.unwrap();
        for m in out.drain(..) {
            check(&m, next);
            next += 1;
        }
    }
    // Read while sending: the rest follows, in order.
    join(async { push.send_batch(&mut msgs).await.unwrap() }, async {
        while next < 30 {
            pull.recv_many(&mut out, 100).await.unwrap();
            for m in out.drain(..) {
                check(&m, next);
                next += 1;
            }
        }
    })
    .await;
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    assert_eq!(push.drops(), Default::default());
    assert_eq!(pull.drops(), Default::default());
}

/// A batch from a PUSH with two inproc peers is still round-robin (the run of one
/// peer applies only to a single peer), and a DEALER / PAIR batch arrives whole.
async fn batch_round_robin_and_pairs<P: Proactor>(ctx: Context<P>) {
    let push = ctx.push();
    push.bind("inproc://batch-rr").unwrap();
    let mon = push.monitor();
    let a = ctx.pull();
    a.connect("inproc://batch-rr").unwrap();
    let b = ctx.pull();
    b.connect("inproc://batch-rr").unwrap();
    wait_handshakes(ctx.proactor(), &mon, 2).await;
    let mut msgs: Vec<Message> = (0..100u8).map(|i| msg(&[&[i]])).collect();
    push.send_batch(&mut msgs).await.unwrap();
    let mut got = [Vec::new(), Vec::new()];
    for (k, pull) in [&a, &b].into_iter().enumerate() {
        let mut out = Vec::new();
        while got[k].len() < 50 {
            pull.recv_many(&mut out, 100).await.unwrap();
            got[k].extend(out.drain(..).map(|m| m.frames()[0][0]));
        }
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)), "50 each");
    }
    let mut all: Vec<u8> = got.concat();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<u8>>());
    for g in &got {
        assert!(g.windows(2).all(|w| w[1] == w[0] + 2), "alternating: {g:?}");
    }
    for (kind, ep) in [
        (SocketType::Dealer, "inproc://batch-dealer"),
        (SocketType::Pair, "inproc://batch-pair"),
    ] {
        let (x, y) = (ctx.socket(kind), ctx.socket(kind));
        x.bind(ep).unwrap();
        y.connect(ep).unwrap();
        let mut msgs: Vec<Message> = (0..1000u32)
            .map(|i| msg(&[&i.to_be_bytes(), b"second frame"]))
            .collect();
        let mut out = Vec::new();
        let mut next = 0u32;
        join(async { y.send_batch(&mut msgs).await.unwrap() }, async {
            while next < 1000 {
                x.recv_many(&mut out, 64).await.unwrap();
                for m in out.drain(..) {
                    assert_eq!(
                        frames(&m),
                        vec![next.to_be_bytes().to_vec(), b"second frame".to_vec()]
                    );
                    next += 1;
                }
            }
        })
        .await;
    }
}

/// The pump moves runs of messages into the socket: a batch larger than the RCVHWM
/// stops there (the rest waits in the pipe with the sender's end behind it), every
/// message arrives whole and in order, and the end is seen only after the last of them
/// went into the socket.
async fn delivery_runs_stop_at_the_hwm_and_before_the_end<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor();
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(10)).unwrap();
    pull.bind("inproc://runs").unwrap();
    let mon = pull.monitor();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(1000)).unwrap();
    push.connect("inproc://runs").unwrap();
    wait_handshakes(p, &mon, 1).await;
    let numbered = |i: u32| match i % 4 {
        0 => msg(&[&i.to_be_bytes(), b"", b"tail"]),
        _ => msg(&[&i.to_be_bytes()]),
    };
    let mut msgs: Vec<Message> = (0..100).map(numbered).collect();
    assert_eq!(push.try_send_batch(&mut msgs).unwrap(), 100, "one run");
    // The end follows the messages into the pipe (they outlive the sender).
    push.close().await;
    wait_until(p, WAIT, "a delivery", || pull.stats().queued_in > 0).await;
    assert_eq!(pull.stats().queued_in, 10, "stopped at the RCVHWM");
    let mut out = Vec::new();
    let mut next = 0u32;
    while next < 100 {
        // Until the last 10 went into the socket, the end waits behind them.
        let ended = std::iter::from_fn(|| mon.try_recv())
            .any(|e| matches!(e.kind, MonitorEventKind::Disconnected { .. }));
        assert!(!ended || next >= 90, "the end seen with {next} read");
        pull.recv_many(&mut out, 7).await.unwrap();
        for m in out.drain(..) {
            assert_eq!(frames(&m), frames(&numbered(next)), "{next}");
            next += 1;
        }
        assert!(pull.stats().queued_in <= 10);
    }
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    let stats = pull.stats();
    assert_eq!(stats.messages_in, 100);
    assert_eq!(stats.drops, Default::default());
}

/// A message received with peer metadata and forwarded over inproc arrives without it
/// (it described the earlier hop), whether it travels in a batch's run or alone.
async fn forwarded_metadata_is_dropped<P: Proactor>(ctx: Context<P>) {
    let front = ctx.pull();
    front.set_option(SocketOption::PeerMetadata(true)).unwrap();
    let ep = front.bind("tcp://127.0.0.1:*").unwrap();
    let src = ctx.push();
    src.connect(&ep).unwrap();
    for i in 0..20u8 {
        src.send(vec![i]).await.unwrap();
    }
    let mut got = Vec::new();
    while got.len() < 20 {
        front.recv_many(&mut got, 20).await.unwrap();
    }
    assert!(got.iter().all(|m| m.peer_metadata().is_some()), "over TCP");
    let pull = ctx.pull();
    pull.set_option(SocketOption::PeerMetadata(true)).unwrap();
    pull.bind("inproc://forwarded").unwrap();
    let push = ctx.push();
    push.connect("inproc://forwarded").unwrap();
    let mut batch: Vec<Message> = got.drain(..10).collect();
    push.send_batch(&mut batch).await.unwrap();
    for m in got {
        push.send(m).await.unwrap();
    }
    let mut out = Vec::new();
    while out.len() < 20 {
        pull.recv_many(&mut out, 20).await.unwrap();
    }
    for (i, m) in out.iter().enumerate() {
        assert_eq!(frames(m), vec![vec![i as u8]]);
        assert!(m.peer_metadata().is_none(), "{i}: metadata of the TCP hop");
    }
}

async fn monitor_events_and_disconnect<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor();
    let pull = ctx.pull();
    let bmon = pull.monitor();
    pull.bind("inproc://mon").unwrap();
    let push = ctx.push();
    let cmon = push.monitor();
    push.connect("inproc://mon").unwrap();
    let e = wait_event(p, &bmon, |_| true).await;
    assert_eq!(
        (e.kind, e.endpoint.as_str()),
        (MonitorEventKind::Listening, "inproc://mon")
    );
    assert_eq!(
        wait_event(p, &bmon, |_| true).await.kind,
        MonitorEventKind::Accepted
    );
    assert_eq!(
        wait_event(p, &bmon, |_| true).await.kind,
        MonitorEventKind::HandshakeSucceeded
    );
    assert_eq!(
        wait_event(p, &cmon, |_| true).await.kind,
        MonitorEventKind::Connected
    );
    assert_eq!(
        wait_event(p, &cmon, |_| true).await.kind,
        MonitorEventKind::HandshakeSucceeded
    );
    push.send("one").await.unwrap();
    assert_eq!(frames(&pull.recv().await.unwrap()), vec![b"one".to_vec()]);
    // disconnect ends the pipe on both sides, each with its reason.
    push.disconnect("inproc://mon").unwrap();
    assert_eq!(
        wait_disconnected(p, &cmon).await,
        DisconnectReason::EndpointDisconnected
    );
    assert_eq!(
        wait_disconnected(p, &bmon).await,
        DisconnectReason::ClosedByPeer
    );
    assert!(matches!(
        push.disconnect("inproc://mon"),
        Err(Error::UnknownEndpoint(_))
    ));
}

async fn duplicate_bind_and_rebind<P: Proactor>(ctx: Context<P>) {
    let a = ctx.pull();
    a.bind("inproc://dup").unwrap();
    let b = ctx.pull();
    let mon = b.monitor();
    match b.bind("inproc://dup") {
        Err(Error::AddrInUse(ep)) => assert_eq!(ep, "inproc://dup"),
        other => panic!("expected AddrInUse, got {other:?}"),
    }
    let e = mon.try_recv().expect("a BindFailed event");
    let MonitorEventKind::BindFailed { error } = e.kind else {
        panic!("expected BindFailed, got {e:?}")
    };
    assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
    // A name is free again right after unbind, close or drop.
    a.unbind("inproc://dup").unwrap();
    b.bind("inproc://dup").unwrap();
    assert!(matches!(a.bind("inproc://dup"), Err(Error::AddrInUse(_))));
    drop(b);
    a.bind("inproc://dup").unwrap();
    a.close().await;
    let c = ctx.pull();
    c.bind("inproc://dup").unwrap();
    // Misuse.
    assert!(matches!(
        c.bind("inproc://"),
        Err(Error::InvalidEndpoint(_))
    ));
    assert!(matches!(
        c.unbind("inproc://never"),
        Err(Error::UnknownEndpoint(_))
    ));
}

async fn incompatible_types_are_refused<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.bind("inproc://types").unwrap();
    let publisher = ctx.publisher();
    let mon = publisher.monitor();
    publisher.connect("inproc://types").unwrap();
    let reason = wait_handshake_failed(ctx.proactor(), &mon).await;
    assert_eq!(
        reason,
        DisconnectReason::Zmtp(ringmq_zmtp::Error::IncompatibleSocketType {
            local: SocketType::Pub,
            peer: SocketType::Pull,
        })
    );
}

async fn names_belong_to_their_context_handle<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let other = Context::new(p.clone());
    let joined = Context::with_handle(p.clone(), &ctx.handle());
    // The same name in two handles: two different binds.
    let a = ctx.pull();
    a.bind("inproc://scope").unwrap();
    let b = other.pull();
    b.bind("inproc://scope").unwrap();
    // A Context that joined the first handle reaches the first bind only.
    let push = joined.push();
    push.connect("inproc://scope").unwrap();
    push.send("to a").await.unwrap();
    assert_eq!(frames(&a.recv().await.unwrap()), vec![b"to a".to_vec()]);
    b.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(50))))
        .unwrap();
    assert!(matches!(b.recv().await, Err(Error::TimedOut)));
    // A name bound only in the other handle is unknown here: the connect waits.
    let lone = ctx.push();
    let mon = lone.monitor();
    lone.connect("inproc://only-other").unwrap();
    let c = other.pull();
    c.bind("inproc://only-other").unwrap();
    sleep(&p, Duration::from_millis(50)).await;
    assert_eq!(mon.try_recv(), None, "no connection across handles");
}

async fn unbind_disconnects_and_rebind_reconnects<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor();
    let pull = ctx.pull();
    pull.bind("inproc://re").unwrap();
    let push = ctx.push();
    let mon = push.monitor();
    push.connect("inproc://re").unwrap();
    push.send("first").await.unwrap();
    assert_eq!(frames(&pull.recv().await.unwrap()), vec![b"first".to_vec()]);
    pull.unbind("inproc://re").unwrap();
    assert_eq!(
        wait_disconnected(p, &mon).await,
        DisconnectReason::ClosedByPeer
    );
    // The connect waits for the name again; a new bind gets the queued message.
    push.send("second").await.unwrap();
    let again = ctx.pull();
    again.bind("inproc://re").unwrap();
    assert_eq!(
        frames(&again.recv().await.unwrap()),
        vec![b"second".to_vec()]
    );
}

async fn close_delivers_what_was_sent<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.bind("inproc://linger").unwrap();
    let push = ctx.push();
    push.connect("inproc://linger").unwrap();
    for i in 0..500u32 {
        push.send(i.to_be_bytes().to_vec()).await.unwrap();
    }
    // Closed (default LINGER: wait) with messages still queued or in the pipe.
    push.close().await;
    for i in 0..500u32 {
        assert_eq!(pull.recv().await.unwrap().frames()[0][..], i.to_be_bytes());
    }
    // Dropped right after sending, without close: delivered too.
    let push = ctx.push();
    push.connect("inproc://linger").unwrap();
    push.send("dropped").await.unwrap();
    drop(push);
    assert_eq!(
        frames(&pull.recv().await.unwrap()),
        vec![b"dropped".to_vec()]
    );
}

async fn disconnect_drops_the_queue<P: Proactor>(ctx: Context<P>) {
    let push = ctx.push();
    push.connect("inproc://nobody").unwrap();
    for _ in 0..3 {
        push.send("lost").await.unwrap();
    }
    push.disconnect("inproc://nobody").unwrap();
    assert_eq!(push.drops().disconnected, 3);
}

// ---- several threads

/// A DEALER worker on another thread: answers `n` jobs, then closes.
struct Worker {
    n: usize,
}

impl Body for Worker {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let dealer = ctx.dealer();
        dealer.connect("inproc://broker").unwrap();
        for _ in 0..self.n {
            let mut reply = dealer.recv().await.unwrap();
            reply.push_back(Bytes::from_static(b"done"));
            dealer.send(reply).await.unwrap();
        }
        dealer.close().await;
    }
}

async fn router_with_workers_on_every_engine<P: Proactor>(ctx: Context<P>) {
    const PER_WORKER: usize = 200;
    let router = ctx.router();
    let mon = router.monitor();
    router.bind("inproc://broker").unwrap();
    let threads: Vec<_> = ENGINES
        .iter()
        .map(|&e| spawn_on(e, &ctx.handle(), Worker { n: PER_WORKER }))
        .collect();
    let p = ctx.proactor();
    // Each worker attaches with a generated routing id.
    let mut ids = Vec::new();
    while ids.len() < ENGINES.len() {
        let e = wait_event(p, &mon, |e| e.kind == MonitorEventKind::HandshakeSucceeded).await;
        ids.push(e.peer_routing_id.expect("a generated id"));
    }
    // Round-robin by hand: every worker gets PER_WORKER jobs, several in flight.
    for round in 0..PER_WORKER {
        for id in &ids {
            let job = format!("job {round}");
            router.send(msg(&[id, job.as_bytes()])).await.unwrap();
        }
    }
    let mut answered = std::collections::HashMap::<Vec<u8>, usize>::new();
    for _ in 0..PER_WORKER * ids.len() {
        let m = router.recv().await.unwrap();
        let f = frames(&m);
        assert_eq!(f.len(), 3, "id, job, done: {f:?}");
        let n = answered.entry(f[0].clone()).or_default();
        assert_eq!(f[1], format!("job {n}").into_bytes(), "in order per worker");
        assert_eq!(f[2], b"done");
        *n += 1;
    }
    assert!(answered.values().all(|&n| n == PER_WORKER));
    join_threads(p, threads).await;
}

/// A REQ on another thread: `n` round trips as fast as it can, then quiet for
/// `quiet`, then one more.
struct QuietClient {
    n: u32,
    quiet: Duration,
}

impl Body for QuietClient {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let req = ctx.req();
        req.connect("inproc://quiet").unwrap();
        for i in 0..=self.n {
            if i == self.n {
                let p = ctx.proactor();
                p.sleep_until(p.now() + self.quiet).await;
            }
            req.send(i.to_be_bytes().to_vec()).await.unwrap();
            assert_eq!(req.recv().await.unwrap().frames()[0][..], i.to_be_bytes());
        }
        req.close().await;
    }
}

/// A REP whose REQ on another thread goes quiet after a burst of round trips (which
/// may have turned the pump's spin on: see `inproc/pipe.rs`) parks: its thread uses
/// next to no CPU while it waits. Measured: a thread spinning through the 400 ms
/// would use about 40 ticks.
async fn an_idle_peer_costs_no_cpu<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    rep.bind("inproc://quiet").unwrap();
    let n = 2_000;
    let client = spawn_on(
        Engine::Epoll,
        &ctx.handle(),
        QuietClient {
            n,
            quiet: Duration::from_millis(400),
        },
    );
    for _ in 0..n {
        let m = rep.recv().await.unwrap();
        rep.send(m).await.unwrap();
    }
    let before = ringmq_proactor::test_util::thread_cpu_ticks();
    let m = rep.recv().await.unwrap();
    let used = ringmq_proactor::test_util::thread_cpu_ticks() - before;
    assert_eq!(m.frames()[0][..], n.to_be_bytes());
    rep.send(m).await.unwrap();
    assert!(
        used <= 2,
        "{used} ticks of CPU while the peer was quiet for 400 ms"
    );
    join_threads(ctx.proactor(), vec![client]).await;
}

/// A PUSH on another thread sending `n` numbered messages as fast as it can.
struct Pusher {
    n: u32,
    tag: u8,
}

impl Body for Pusher {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let push = ctx.push();
        push.connect("inproc://sink").unwrap();
        for i in 0..self.n {
            push.send(msg(&[&[self.tag], &i.to_be_bytes()]))
                .await
                .unwrap();
        }
        // LINGER (forever): close returns once everything is in the pipe.
        push.close().await;
    }
}

/// The next number expected from each engine's sender: messages `tag, i` arrive in
/// order per tag.
#[derive(Default)]
struct InOrder([u32; ENGINES.len()]);

impl InOrder {
    fn check(&mut self, m: &Message) {
        let tag = m.frames()[0][0] as usize;
        assert_eq!(
            m.frames()[1][..],
            self.0[tag].to_be_bytes(),
            "in order per sender"
        );
        self.0[tag] += 1;
    }

    /// Every sender's `n` messages arrived.
    fn assert_all(&self, n: u32) {
        assert!(self.0.iter().all(|&got| got == n), "{:?}", self.0);
    }
}

/// [`Pusher`] with the batch API: batches of 100, messages `tag, i`.
struct BatchPusher {
    n: u32,
    tag: u8,
}

impl Body for BatchPusher {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let push = ctx.push();
        push.set_option(SocketOption::SndHwm(30)).unwrap();
        push.connect("inproc://batch-sink").unwrap();
        let mut msgs = Vec::new();
        let mut i = 0;
        while i < self.n {
            let end = (i + 100).min(self.n);
            msgs.extend((i..end).map(|i| msg(&[&[self.tag], &i.to_be_bytes()])));
            push.send_batch(&mut msgs).await.unwrap();
            i = end;
        }
        push.close().await;
    }
}

/// Batches from every engine's thread into one PULL read with `recv_many`: every
/// message arrives, in order per sender (small HWMs keep the senders waiting for room
/// that this thread gives).
async fn batch_from_every_engine<P: Proactor>(ctx: Context<P>) {
    const N: u32 = 20_000;
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(10)).unwrap();
    pull.bind("inproc://batch-sink").unwrap();
    let threads: Vec<_> = ENGINES
        .iter()
        .enumerate()
        .map(|(i, &e)| spawn_on(e, &ctx.handle(), BatchPusher { n: N, tag: i as u8 }))
        .collect();
    let mut next = InOrder::default();
    let mut out = Vec::new();
    let mut got = 0;
    while got < N as usize * ENGINES.len() {
        got += pull.recv_many(&mut out, 256).await.unwrap();
        out.drain(..).for_each(|m| next.check(&m));
    }
    next.assert_all(N);
    join_threads(ctx.proactor(), threads).await;
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

async fn pull_from_every_engine<P: Proactor>(ctx: Context<P>) {
    const N: u32 = 20_000;
    let pull = ctx.pull();
    // Small HWMs keep the pipes full and the senders waiting on room from this thread.
    pull.set_option(SocketOption::RcvHwm(10)).unwrap();
    pull.bind("inproc://sink").unwrap();
    let threads: Vec<_> = ENGINES
        .iter()
        .enumerate()
        .map(|(i, &e)| spawn_on(e, &ctx.handle(), Pusher { n: N, tag: i as u8 }))
        .collect();
    let mut next = InOrder::default();
    for _ in 0..N as usize * ENGINES.len() {
        next.check(&pull.recv().await.unwrap());
    }
    next.assert_all(N);
    join_threads(ctx.proactor(), threads).await;
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

/// A SUB on another thread: subscribes to `news`, reports through a PUSH (`ready`
/// when a probe arrives, then the count of what it received until `news end`).
struct Subscriber {
    tag: u8,
}

impl Body for Subscriber {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let sub = ctx.subscriber();
        sub.subscribe(b"news").unwrap();
        sub.connect("inproc://feed").unwrap();
        let report = ctx.push();
        report.connect("inproc://reports").unwrap();
        let mut n = 0u32;
        loop {
            let m = sub.recv().await.unwrap();
            match &m.frames()[0][..] {
                b"news probe" => report.send(msg(&[b"ready", &[self.tag]])).await.unwrap(),
                b"news end" => break,
                f => {
                    assert!(f.starts_with(b"news"), "filtered: {f:?}");
                    n += 1;
                }
            }
        }
        report
            .send(msg(&[b"count", &n.to_be_bytes()]))
            .await
            .unwrap();
        report.close().await;
    }
}

async fn pub_sub_across_threads<P: Proactor>(ctx: Context<P>) {
    let xpub = ctx.xpub();
    xpub.set_option(SocketOption::SndHwm(0)).unwrap();
    xpub.bind("inproc://feed").unwrap();
    let reports = ctx.pull();
    reports.bind("inproc://reports").unwrap();
    let threads: Vec<_> = ENGINES
        .iter()
        .enumerate()
        .map(|(i, &e)| spawn_on(e, &ctx.handle(), Subscriber { tag: i as u8 }))
        .collect();
    // Every subscription crossed a thread and a pipe: the XPUB reports the topic once
    // (not verbose) and each subscriber confirms a probe.
    assert_eq!(
        frames(&xpub.recv().await.unwrap()),
        vec![b"\x01news".to_vec()]
    );
    let p = ctx.proactor();
    let mut ready = std::collections::HashSet::new();
    while ready.len() < ENGINES.len() {
        xpub.send("news probe").await.unwrap();
        if let Some(m) = poll_within(p, Duration::from_millis(20), || reports.try_recv().ok()).await
        {
            assert_eq!(m.frames()[0], "ready");
            ready.insert(m.frames()[1][0]);
        }
    }
    // Late `ready` reports of the probing phase are skipped below.
    for i in 0..1000u32 {
        xpub.send(format!("sports {i}")).await.unwrap();
        xpub.send(format!("news {i}")).await.unwrap();
    }
    xpub.send("news end").await.unwrap();
    let mut counts = Vec::new();
    while counts.len() < ENGINES.len() {
        let m = reports.recv().await.unwrap();
        if m.frames()[0] == "ready" {
            continue;
        }
        assert_eq!(m.frames()[0], "count");
        counts.push(u32::from_be_bytes(m.frames()[1][..].try_into().unwrap()));
    }
    assert_eq!(counts, vec![1000; ENGINES.len()]);
    join_threads(p, threads).await;
}

backend_tests!(
    push_pull_in_order_without_copies,
    connect_before_bind,
    req_rep_and_req_router,
    dealer_pairings,
    pub_sub_filters,
    xpub_xsub_notices,
    pair_is_exclusive,
    hwm_is_the_sum_of_both_sides,
    batch_hwm_is_the_sum_of_both_sides,
    batch_round_robin_and_pairs,
    delivery_runs_stop_at_the_hwm_and_before_the_end,
    forwarded_metadata_is_dropped,
    monitor_events_and_disconnect,
    duplicate_bind_and_rebind,
    incompatible_types_are_refused,
    names_belong_to_their_context_handle,
    unbind_disconnects_and_rebind_reconnects,
    close_delivers_what_was_sent,
    disconnect_drops_the_queue,
    router_with_workers_on_every_engine,
    an_idle_peer_costs_no_cpu,
    pull_from_every_engine,
    batch_from_every_engine,
    pub_sub_across_threads,
);

/// A `BlockingSocket` on a `RuntimeThread` joined to a Context's handle reaches that
/// Context's inproc binds, from a plain thread.
#[test]
fn blocking_socket_on_a_joined_runtime_thread() {
    use ringmq_sockets::handle::RuntimeThread;
    use ringmq_sockets::BlockingSocket;
    let rt = Runtime::new().expect("runtime");
    let p = rt.proactor();
    let ctx = Context::new(p.clone());
    let pull = ctx.pull();
    pull.bind("inproc://from-a-handle").unwrap();
    let thread = RuntimeThread::builder()
        .context(&ctx.handle())
        .spawn()
        .expect("runtime thread");
    let sender = std::thread::spawn(move || {
        let push = BlockingSocket::from(thread.socket(SocketType::Push).unwrap());
        push.connect("inproc://from-a-handle").unwrap();
        for i in 0..100u32 {
            push.send(i.to_be_bytes().to_vec()).unwrap();
        }
        push.close();
    });
    rt.block_on(async {
        for i in 0..100u32 {
            assert_eq!(pull.recv().await.unwrap().frames()[0][..], i.to_be_bytes());
        }
    });
    sender.join().unwrap();
}
