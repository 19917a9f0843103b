//! REQ / REP, DEALER / ROUTER, PAIR.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    Bytes, Context, DisconnectReason, Error, Message, Refusal, SocketOption, SocketType,
};

async fn req_rep_round_trips<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = ctx.req();
    req.connect(&ep).unwrap();
    assert!(matches!(req.recv().await, Err(Error::InvalidState { .. })));
    assert!(matches!(
        rep.send("no").await,
        Err(Error::InvalidState { .. })
    ));
    let server = async {
        for _ in 0..100 {
            let m = rep.recv().await.unwrap();
            assert!(matches!(rep.recv().await, Err(Error::InvalidState { .. })));
            let mut reply = Message::new();
            reply.push_back(Bytes::from_static(b"re:"));
            for f in m {
                reply.push_back(f);
            }
            rep.send(reply).await.unwrap();
        }
    };
    let client = async {
        for i in 0..100 {
            req.send(format!("q{i}")).await.unwrap();
            assert!(matches!(
                req.send("again").await,
                Err(Error::InvalidState { .. })
            ));
            let r = req.recv().await.unwrap();
            assert_eq!(r.len(), 2, "{r:?}");
            assert_eq!(r.frames()[0], "re:");
            assert_eq!(r.frames()[1], format!("q{i}").as_bytes());
        }
    };
    join(server, client).await;
}

async fn req_round_robins_over_reps<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let req = ctx.req();
    let mon = req.monitor();
    let names = ["one", "two"];
    let reps: Vec<_> = names.iter().map(|_| ctx.rep()).collect();
    let mut eps = Vec::new();
    for r in &reps {
        eps.push(r.bind("tcp://127.0.0.1:*").unwrap());
    }
    for ep in &eps {
        req.connect(ep).unwrap();
    }
    wait_handshakes(&p, &mon, 2).await;
    let serve = |i: usize| {
        let rep = &reps[i];
        async move {
            loop {
                let _ = rep.recv().await.unwrap();
                rep.send(names[i]).await.unwrap();
            }
        }
    };
    let servers = join(serve(0), serve(1));
    let client = async {
        let mut got = Vec::new();
        for _ in 0..4 {
            req.send("who").await.unwrap();
            got.push(req.recv().await.unwrap().frames()[0].clone());
        }
        got
    };
    let got = match timeout(&p, Duration::from_secs(10), async {
        let mut servers = std::pin::pin!(servers);
        let mut client = std::pin::pin!(client);
        std::future::poll_fn(|cx| {
            let _ = std::future::Future::poll(servers.as_mut(), cx);
            std::future::Future::poll(client.as_mut(), cx)
        })
        .await
    })
    .await
    {
        Some(g) => g,
        None => panic!("REQ did not get 4 replies"),
    };
    assert_eq!(got, ["one", "two", "one", "two"]);
}

async fn rep_serves_many_reqs<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    let ep = rep.bind(&ipc_endpoint("rep")).unwrap();
    let reqs: Vec<_> = (0..3).map(|_| ctx.req()).collect();
    for r in &reqs {
        r.connect(&ep).unwrap();
    }
    let server = async {
        for _ in 0..30 {
            let m = rep.recv().await.unwrap();
            rep.send(m).await.unwrap();
        }
    };
    let client = |i: usize| {
        let req = &reqs[i];
        async move {
            for j in 0..10 {
                let body = format!("{i}-{j}");
                req.send(body.clone()).await.unwrap();
                assert_eq!(req.recv().await.unwrap().frames()[0], body.as_bytes());
            }
        }
    };
    join(server, join(client(0), join(client(1), client(2)))).await;
}

async fn req_relaxed_and_correlate<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = ctx.req();
    req.set_option(SocketOption::ReqRelaxed(true)).unwrap();
    req.set_option(SocketOption::ReqCorrelate(true)).unwrap();
    req.connect(&ep).unwrap();
    req.send("first").await.unwrap();
    req.send("second").await.unwrap();
    // REP answers both; only the reply to the second request may be accepted.
    for _ in 0..2 {
        let m = rep.recv().await.unwrap();
        rep.send(m).await.unwrap();
    }
    assert_eq!(req.recv().await.unwrap().frames()[0], "second");
    assert!(ctx
        .push()
        .set_option(SocketOption::ReqRelaxed(true))
        .is_err());
}

async fn dealer_router_identities<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let a = ctx.dealer();
    a.set_option(SocketOption::RoutingId(Bytes::from_static(b"A")))
        .unwrap();
    let b = ctx.dealer();
    b.set_option(SocketOption::RoutingId(Bytes::from_static(b"B")))
        .unwrap();
    let anon = ctx.dealer();
    a.connect(&ep).unwrap();
    b.connect(&ep).unwrap();
    anon.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 3).await;
    a.send("from a").await.unwrap();
    b.send("from b").await.unwrap();
    anon.send("from anon").await.unwrap();
    let mut anon_id = None;
    for _ in 0..3 {
        let m = router.recv().await.unwrap();
        assert_eq!(m.len(), 2);
        let (id, body) = (&m.frames()[0], &m.frames()[1]);
        match &body[..] {
            b"from a" => assert_eq!(id, "A"),
            b"from b" => assert_eq!(id, "B"),
            b"from anon" => {
                assert_eq!(id.len(), 5, "generated ids are 5 bytes");
                assert_eq!(id[0], 0, "generated ids start with byte 0");
                anon_id = Some(id.clone());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    router
        .send(vec![Bytes::from_static(b"B"), Bytes::from_static(b"to b")])
        .await
        .unwrap();
    router
        .send(vec![anon_id.unwrap(), Bytes::from_static(b"to anon")])
        .await
        .unwrap();
    router
        .send(vec![Bytes::from_static(b"A"), Bytes::from_static(b"to a")])
        .await
        .unwrap();
    assert_eq!(a.recv().await.unwrap().frames()[0], "to a");
    assert_eq!(b.recv().await.unwrap().frames()[0], "to b");
    assert_eq!(anon.recv().await.unwrap().frames()[0], "to anon");
    // Unknown peer: dropped (counted), or an error with ROUTER_MANDATORY.
    assert_eq!(router.drops().unroutable, 0);
    router
        .send(vec![
            Bytes::from_static(b"nobody"),
            Bytes::from_static(b"x"),
        ])
        .await
        .unwrap();
    assert_eq!(router.drops().unroutable, 1);
    router
        .set_option(SocketOption::RouterMandatory(true))
        .unwrap();
    let e = router
        .send(vec![
            Bytes::from_static(b"nobody"),
            Bytes::from_static(b"x"),
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HostUnreachable), "{e}");
}

async fn router_mandatory_would_block_at_hwm<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    router.set_option(SocketOption::SndHwm(2)).unwrap();
    router
        .set_option(SocketOption::RouterMandatory(true))
        .unwrap();
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let d = ctx.dealer();
    d.set_option(SocketOption::RoutingId(Bytes::from_static(b"D")))
        .unwrap();
    d.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // Without yielding, the writer cannot drain: the third message hits the HWM.
    let msg = || vec![Bytes::from_static(b"D"), Bytes::from_static(b"m")];
    router.try_send(msg()).unwrap();
    router.try_send(msg()).unwrap();
    assert!(matches!(router.try_send(msg()), Err(Error::WouldBlock)));
    // Without ROUTER_MANDATORY the same message is dropped, and counted.
    router
        .set_option(SocketOption::RouterMandatory(false))
        .unwrap();
    router.try_send(msg()).unwrap();
    assert_eq!(router.drops().hwm, 1);
}

async fn router_handover<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let first = ctx.dealer();
    first
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"X")))
        .unwrap();
    first.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // Without handover a second "X" is refused and the first keeps the id.
    let second = ctx.dealer();
    second
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"X")))
        .unwrap();
    second.connect(&ep).unwrap();
    assert_eq!(
        wait_handshake_failed(&p, &mon).await,
        DisconnectReason::Refused(Refusal::DuplicateRoutingId(Bytes::from_static(b"X")))
    );
    router
        .send(vec![Bytes::from_static(b"X"), Bytes::from_static(b"1")])
        .await
        .unwrap();
    assert_eq!(first.recv().await.unwrap().frames()[0], "1");
    second.disconnect(&ep).unwrap();
    router
        .set_option(SocketOption::RouterHandover(true))
        .unwrap();
    let third = ctx.dealer();
    third
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"X")))
        .unwrap();
    third.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    router
        .send(vec![Bytes::from_static(b"X"), Bytes::from_static(b"2")])
        .await
        .unwrap();
    assert_eq!(third.recv().await.unwrap().frames()[0], "2");
}

async fn dealer_to_dealer_and_rep<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let rep = ctx.rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let d = ctx.dealer();
    d.connect(&ep).unwrap();
    d.send(vec![Bytes::new(), Bytes::from_static(b"ask")])
        .await
        .unwrap();
    assert_eq!(rep.recv().await.unwrap().frames()[0], "ask");
    rep.send("answer").await.unwrap();
    let m = d.recv().await.unwrap();
    assert_eq!(m.frames(), [Bytes::new(), Bytes::from_static(b"answer")]);
    let d2 = ctx.dealer();
    let ep2 = d2.bind("tcp://127.0.0.1:*").unwrap();
    let d_mon = d.monitor();
    d.connect(&ep2).unwrap();
    wait_handshakes(&p, &d_mon, 1).await;
    // d now round-robins over REP and d2; DEALER-DEALER carries frames untouched.
    for body in ["rr 1", "rr 2"] {
        d.send(vec![Bytes::new(), Bytes::from(body)]).await.unwrap();
    }
    let at_rep = timeout(&p, WAIT, rep.recv())
        .await
        .expect("one request reaches REP")
        .unwrap();
    let at_d2 = timeout(&p, WAIT, d2.recv())
        .await
        .expect("the other reaches d2")
        .unwrap();
    assert_eq!(at_rep.len(), 1, "REP strips the envelope: {at_rep:?}");
    assert_eq!(at_d2.frames()[0], Bytes::new(), "{at_d2:?}");
    assert_eq!(at_d2.len(), 2, "{at_d2:?}");
    let mut bodies = [at_rep.frames()[0].clone(), at_d2.frames()[1].clone()];
    bodies.sort();
    assert_eq!(bodies, [Bytes::from("rr 1"), Bytes::from("rr 2")]);
    let d3 = ctx.dealer();
    d3.connect(&ep2).unwrap();
    d3.send("ping").await.unwrap();
    assert_eq!(d2.recv().await.unwrap().frames()[0], "ping");
}

async fn pair_exclusive<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let a = ctx.pair();
    let mon = a.monitor();
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let b = ctx.pair();
    b.connect(&ep).unwrap();
    b.send("hello a").await.unwrap();
    assert_eq!(a.recv().await.unwrap().frames()[0], "hello a");
    a.send("hello b").await.unwrap();
    assert_eq!(b.recv().await.unwrap().frames()[0], "hello b");
    let intruder = ctx.pair();
    intruder.connect(&ep).unwrap();
    assert_eq!(
        wait_handshake_failed(&p, &mon).await,
        DisconnectReason::Refused(Refusal::PairBusy)
    );
    intruder.send("ignored").await.unwrap();
    b.send("still here").await.unwrap();
    assert_eq!(a.recv().await.unwrap().frames()[0], "still here");
    a.send("and back").await.unwrap();
    assert_eq!(b.recv().await.unwrap().frames()[0], "and back");
    assert!(a.try_recv().is_err(), "nothing from the intruder");
}

async fn untyped_socket_api<P: Proactor>(ctx: Context<P>) {
    let pubs = ctx.socket(SocketType::Pub);
    assert!(matches!(
        pubs.recv().await,
        Err(Error::NotSupported {
            operation: "recv",
            ..
        })
    ));
    assert!(matches!(
        pubs.subscribe(b"x"),
        Err(Error::NotSupported { .. })
    ));
    let e = pubs
        .set_option(SocketOption::Subscribe(Bytes::from_static(b"x")))
        .unwrap_err();
    assert!(e.to_string().contains("ZMQ_SUBSCRIBE"), "{e}");
    assert!(matches!(
        pubs.bind("tcp://127.0.0.1"),
        Err(Error::InvalidEndpoint(_))
    ));
    assert!(matches!(
        pubs.send(Message::new()).await,
        Err(Error::EmptyMessage)
    ));
    let ep = pubs.bind("tcp://127.0.0.1:*").unwrap();
    assert!(matches!(pubs.bind(&ep), Err(Error::AddrInUse(_))));
    pubs.unbind(&ep).unwrap();
    assert!(matches!(pubs.unbind(&ep), Err(Error::UnknownEndpoint(_))));
    assert!(matches!(
        pubs.disconnect("tcp://127.0.0.1:1"),
        Err(Error::UnknownEndpoint(_))
    ));
    let io: std::io::Error = Error::WouldBlock.into();
    assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
}

async fn req_waits_for_a_peer<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let req = ctx.req();
    let ep = req.bind("tcp://127.0.0.1:*").unwrap();
    assert!(
        matches!(req.try_send("x"), Err(Error::WouldBlock)),
        "no peer yet"
    );
    let rep = ctx.rep();
    let mut send = Box::pin(req.send("late"));
    assert!(
        poll_once(&mut send).await.is_pending(),
        "send waits for a peer"
    );
    rep.connect(&ep).unwrap();
    timeout(&p, WAIT, send)
        .await
        .expect("send completes once a peer is there")
        .unwrap();
    let m = rep.recv().await.unwrap();
    rep.send(m).await.unwrap();
    assert_eq!(req.recv().await.unwrap().frames()[0], "late");
}

async fn rep_drops_requests_without_envelope<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let d = ctx.dealer();
    d.connect(&ep).unwrap();
    d.send("no delimiter").await.unwrap();
    d.send(vec![Bytes::new(), Bytes::from_static(b"good")])
        .await
        .unwrap();
    assert_eq!(rep.recv().await.unwrap().frames()[0], "good");
}

async fn router_to_router<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let server = ctx.router();
    server
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"server")))
        .unwrap();
    let mon = server.monitor();
    let ep = server.bind(&ipc_endpoint("rr")).unwrap();
    let client = ctx.router();
    client
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"client")))
        .unwrap();
    let cmon = client.monitor();
    client.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    wait_handshakes(&p, &cmon, 1).await;
    client
        .send(vec![
            Bytes::from_static(b"server"),
            Bytes::from_static(b"hi"),
        ])
        .await
        .unwrap();
    let m = server.recv().await.unwrap();
    assert_eq!(
        m.frames(),
        [Bytes::from_static(b"client"), Bytes::from_static(b"hi")]
    );
    server.send(m).await.unwrap();
    let m = client.recv().await.unwrap();
    assert_eq!(
        m.frames(),
        [Bytes::from_static(b"server"), Bytes::from_static(b"hi")]
    );
}

backend_tests!(
    req_waits_for_a_peer,
    rep_drops_requests_without_envelope,
    router_to_router,
    req_rep_round_trips,
    req_round_robins_over_reps,
    rep_serves_many_reqs,
    req_relaxed_and_correlate,
    dealer_router_identities,
    router_mandatory_would_block_at_hwm,
    router_handover,
    dealer_to_dealer_and_rep,
    pair_exclusive,
    untyped_socket_api,
);
