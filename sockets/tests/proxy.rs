//! The library proxy (`proxy`, `proxy_steerable`): an XSUB/XPUB forwarder whose
//! subscriptions travel upstream, a ROUTER/DEALER broker, capture, and the control
//! commands (PAUSE, RESUME, STATISTICS, TERMINATE) with REP and PAIR control sockets;
//! on every backend over inproc, and with libzmq (pyzmq) publishers, subscribers,
//! clients and workers over TCP.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::time::Duration;

use common::*;
use peer::{Impl, Peer};
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    proxy, proxy_steerable, Bytes, Context, Error, Message, ProxyStats, SocketOption,
};

fn frames(m: &Message) -> Vec<Vec<u8>> {
    m.frames().iter().map(|f| f.to_vec()).collect()
}

async fn forwarder_passes_subscriptions_upstream<P: Proactor>(ctx: Context<P>) {
    // The publisher is an XPUB so the test sees the subscription arrive upstream.
    let publisher = ctx.xpub();
    publisher.bind("inproc://upstream").unwrap();
    let xsub = ctx.xsub();
    xsub.connect("inproc://upstream").unwrap();
    let xpub = ctx.xpub();
    xpub.bind("inproc://downstream").unwrap();
    let capture = ctx.push();
    capture.bind("inproc://capture").unwrap();
    let copies = ctx.pull();
    copies.connect("inproc://capture").unwrap();
    let control = ctx.pair();
    control.bind("inproc://control").unwrap();
    let steer = ctx.pair();
    steer.connect("inproc://control").unwrap();
    let forwarding = proxy_steerable(
        xsub.as_socket(),
        xpub.as_socket(),
        Some(capture.as_socket()),
        control.as_socket(),
    );
    let body = async {
        let sub = ctx.subscriber();
        sub.subscribe(b"news").unwrap();
        sub.connect("inproc://downstream").unwrap();
        // The subscription went SUB -> XPUB -> proxy -> XSUB -> publisher.
        assert_eq!(
            frames(&publisher.recv().await.unwrap()),
            vec![b"\x01news".to_vec()]
        );
        // Filtered at the publisher: only news reaches the proxy.
        publisher.send("weather 1").await.unwrap();
        publisher.send("news 1").await.unwrap();
        publisher.send("news 2").await.unwrap();
        assert_eq!(frames(&sub.recv().await.unwrap()), vec![b"news 1".to_vec()]);
        assert_eq!(frames(&sub.recv().await.unwrap()), vec![b"news 2".to_vec()]);
        // Every forwarded message, both ways, was copied to the capture socket.
        let mut captured = Vec::new();
        for _ in 0..3 {
            captured.push(frames(&copies.recv().await.unwrap()));
        }
        assert_eq!(
            captured,
            vec![
                vec![b"\x01news".to_vec()],
                vec![b"news 1".to_vec()],
                vec![b"news 2".to_vec()],
            ]
        );
        // STATISTICS (PAIR control: answered), then TERMINATE (not answered).
        steer.send("STATISTICS").await.unwrap();
        let stats = ProxyStats::from_message(&steer.recv().await.unwrap()).expect("8 frames");
        assert_eq!(stats.frontend.msg_in, 2);
        assert_eq!(stats.frontend.bytes_in, 12);
        assert_eq!(stats.backend.msg_out, 2);
        assert_eq!(stats.backend.msg_in, 1, "the subscription");
        assert_eq!(stats.frontend.msg_out, 1);
        assert_eq!(stats.frontend.bytes_out, 5);
        steer.send("TERMINATE").await.unwrap();
        // Unsubscribing after the proxy ended reaches nobody: the XSUB is not read.
        sub.unsubscribe(b"news").unwrap();
        steer
            .set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(50))))
            .unwrap();
        assert!(matches!(steer.recv().await, Err(Error::TimedOut)));
    };
    let (ended, ()) = join(forwarding, body).await;
    let stats = ended.expect("TERMINATE ends the proxy with its counters");
    assert_eq!(stats.frontend.msg_in, 2);
}

async fn broker_serves_clients_with_workers<P: Proactor>(ctx: Context<P>) {
    let front = ctx.router();
    front.bind("inproc://front").unwrap();
    let back = ctx.dealer();
    back.bind("inproc://back").unwrap();
    let control = ctx.rep();
    control.bind("inproc://broker-control").unwrap();
    let brokering = proxy_steerable(
        front.as_socket(),
        back.as_socket(),
        None,
        control.as_socket(),
    );
    const CLIENTS: usize = 3;
    const WORKERS: usize = 2;
    const REQUESTS: usize = 50;
    let body = async {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let w = ctx.rep();
                w.connect("inproc://back").unwrap();
                w
            })
            .collect();
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let c = ctx.req();
                c.connect("inproc://front").unwrap();
                c
            })
            .collect();
        let serve = async {
            // Workers answer until told to stop; each tags its replies.
            let mut served = vec![0usize; WORKERS];
            let mut done = 0;
            while done < CLIENTS * REQUESTS {
                let mut progressed = false;
                for (i, w) in workers.iter().enumerate() {
                    if let Ok(m) = w.try_recv() {
                        let mut reply = m.clone();
                        reply.push_back(Bytes::from(format!("by {i}")));
                        w.send(reply).await.unwrap();
                        served[i] += 1;
                        done += 1;
                        progressed = true;
                    }
                }
                if !progressed {
                    sleep(ctx.proactor(), Duration::from_millis(1)).await;
                }
            }
            served
        };
        let ask = async {
            for round in 0..REQUESTS {
                for (c, client) in clients.iter().enumerate() {
                    client.send(format!("{c}:{round}")).await.unwrap();
                }
                for (c, client) in clients.iter().enumerate() {
                    let r = frames(&client.recv().await.unwrap());
                    assert_eq!(r[0], format!("{c}:{round}").into_bytes(), "own reply");
                    assert!(r[1].starts_with(b"by "));
                }
            }
        };
        let (served, ()) = join(serve, ask).await;
        assert!(
            served.iter().all(|&n| n > 0),
            "round-robin over the workers: {served:?}"
        );
        // REP control: every command is answered.
        let ctl = ctx.req();
        ctl.connect("inproc://broker-control").unwrap();
        ctl.send("PAUSE").await.unwrap();
        assert_eq!(frames(&ctl.recv().await.unwrap()), vec![b"PAUSE".to_vec()]);
        // Paused: a request waits in the frontend's queue.
        clients[0].send("while paused").await.unwrap();
        workers[0]
            .set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(100))))
            .unwrap();
        workers[1]
            .set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(1))))
            .unwrap();
        assert!(matches!(workers[0].recv().await, Err(Error::TimedOut)));
        assert!(matches!(workers[1].recv().await, Err(Error::TimedOut)));
        ctl.send("RESUME").await.unwrap();
        assert_eq!(frames(&ctl.recv().await.unwrap()), vec![b"RESUME".to_vec()]);
        let p = ctx.proactor();
        let got = wait_for(p, WAIT, "the paused request reaches a worker", || {
            workers
                .iter()
                .enumerate()
                .find_map(|(i, w)| w.try_recv().ok().map(|m| (i, m)))
        })
        .await;
        assert_eq!(frames(&got.1), vec![b"while paused".to_vec()]);
        workers[got.0].send("late").await.unwrap();
        assert_eq!(
            frames(&clients[0].recv().await.unwrap()),
            vec![b"late".to_vec()]
        );
        ctl.send("STATISTICS").await.unwrap();
        let stats = ProxyStats::from_message(&ctl.recv().await.unwrap()).unwrap();
        let n = (CLIENTS * REQUESTS + 1) as u64;
        assert_eq!(stats.frontend.msg_in, n);
        assert_eq!(stats.backend.msg_out, n);
        assert_eq!(stats.backend.msg_in, n);
        assert_eq!(stats.frontend.msg_out, n);
        ctl.send("TERMINATE").await.unwrap();
        assert_eq!(
            frames(&ctl.recv().await.unwrap()),
            vec![b"TERMINATE".to_vec()]
        );
    };
    let (ended, ()) = join(brokering, body).await;
    assert!(ended.is_ok());
}

async fn plain_proxy_streams_until_dropped<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.bind("inproc://in").unwrap();
    let push = ctx.push();
    push.bind("inproc://out").unwrap();
    let streaming = proxy(pull.as_socket(), push.as_socket(), None);
    let body = async {
        let src = ctx.push();
        src.connect("inproc://in").unwrap();
        let sink = ctx.pull();
        sink.connect("inproc://out").unwrap();
        for i in 0..100u32 {
            src.send(i.to_be_bytes().to_vec()).await.unwrap();
        }
        for i in 0..100u32 {
            assert_eq!(sink.recv().await.unwrap().frames()[0][..], i.to_be_bytes());
        }
    };
    // The proxy runs until a socket call fails; here the body ends first, and the
    // proxy future is dropped with the sockets intact.
    let mut streaming = std::pin::pin!(streaming);
    let mut body = std::pin::pin!(body);
    let finished = std::future::poll_fn(|cx| {
        use std::future::Future;
        if let std::task::Poll::Ready(r) = streaming.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(r));
        }
        body.as_mut().poll(cx).map(|()| None)
    })
    .await;
    assert!(finished.is_none(), "the proxy runs until its sockets fail");
    // A PUB frontend is never read, so only the backend direction runs.
    let publisher = ctx.publisher();
    let sub = ctx.subscriber();
    let r = timeout(
        ctx.proactor(),
        Duration::from_millis(50),
        proxy(publisher.as_socket(), sub.as_socket(), None),
    )
    .await;
    assert!(r.is_none(), "nothing to forward: still running");
}

backend_tests!(
    forwarder_passes_subscriptions_upstream,
    broker_serves_clients_with_workers,
    plain_proxy_streams_until_dropped,
);

// ---- with libzmq peers (pyzmq), over TCP, on the built-in runtime

fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce(Context<ringmq_proactor::Native>) -> F) {
    common::run_for(Duration::from_secs(60), f)
}

/// 400 messages over alpha, beta, gamma, delta from a libzmq PUB, through the proxy to
/// two libzmq SUBs (alpha; beta and gamma): each gets exactly its topics, which needs
/// their subscriptions to have reached the publisher through the XSUB.
#[test]
fn forwarder_between_libzmq_publishers_and_subscribers() {
    run(|ctx| async move {
        let p = ctx.proactor().clone();
        let xsub = ctx.xsub();
        let up = xsub.bind("tcp://127.0.0.1:*").unwrap();
        let xpub = ctx.xpub();
        let down = xpub.bind("tcp://127.0.0.1:*").unwrap();
        let control = ctx.pair();
        control.bind("inproc://control").unwrap();
        let steer = ctx.pair();
        steer.connect("inproc://control").unwrap();
        let forwarding = proxy_steerable(
            xsub.as_socket(),
            xpub.as_socket(),
            None,
            control.as_socket(),
        );
        let body = async {
            let mut subs = vec![
                Peer::spawn(
                    Impl::Pyzmq,
                    &args(&[
                        "--type",
                        "SUB",
                        "--connect",
                        &down,
                        "--subscribe",
                        "alpha",
                        "--subscribe",
                        "END",
                        "count",
                    ]),
                ),
                Peer::spawn(
                    Impl::Pyzmq,
                    &args(&[
                        "--type",
                        "SUB",
                        "--connect",
                        &down,
                        "--subscribe",
                        "beta",
                        "--subscribe",
                        "gamma",
                        "--subscribe",
                        "END",
                        "count",
                    ]),
                ),
            ];
            let mut publisher = Peer::spawn(
                Impl::Pyzmq,
                &args(&["--type", "PUB", "--connect", &up, "publish", "400"]),
            );
            // The publisher probes each topic until told to go: once every SUB saw
            // probes of all its topics, the subscriptions are in place upstream.
            for s in subs.iter_mut() {
                s.line(&p, "SYNCED").await;
            }
            publisher.go();
            // Each message is [TOPIC-i, ""]: 100 per topic.
            let alpha: usize = (0..400)
                .filter(|i| i % 4 == 0)
                .map(|i| format!("alpha-{i}").len())
                .sum();
            let beta_gamma: usize = (0..400)
                .filter(|i| i % 4 == 1 || i % 4 == 2)
                .map(|i| format!("{}-{i}", if i % 4 == 1 { "beta" } else { "gamma" }).len())
                .sum();
            assert_eq!(subs[0].line(&p, "GOT").await, format!("GOT 100 {alpha}"));
            assert_eq!(
                subs[1].line(&p, "GOT").await,
                format!("GOT 200 {beta_gamma}")
            );
            publisher.finish(&p).await;
            for s in subs {
                s.finish(&p).await;
            }
            steer.send("STATISTICS").await.unwrap();
            let stats = ProxyStats::from_message(&steer.recv().await.unwrap()).unwrap();
            // Upstream: at least the four subscriptions (libzmq SUBs may repeat them).
            assert!(stats.backend.msg_in >= 4, "{stats:?}");
            assert_eq!(stats.frontend.msg_out, stats.backend.msg_in);
            assert_eq!(stats.frontend.msg_in, stats.backend.msg_out);
            steer.send("TERMINATE").await.unwrap();
        };
        let (ended, ()) = join(forwarding, body).await;
        ended.unwrap();
    });
}

/// libzmq REQ clients -> ringmq ROUTER / DEALER broker -> libzmq REP workers: every
/// payload of the `ask` scenario (16 MiB and multipart included) comes back intact.
#[test]
fn broker_between_libzmq_clients_and_workers() {
    run(|ctx| async move {
        let p = ctx.proactor().clone();
        let front = ctx.router();
        let fe = front.bind("tcp://127.0.0.1:*").unwrap();
        let back = ctx.dealer();
        let be = back.bind("tcp://127.0.0.1:*").unwrap();
        let control = ctx.pair();
        control.bind("inproc://broker").unwrap();
        let steer = ctx.pair();
        steer.connect("inproc://broker").unwrap();
        let brokering = proxy_steerable(
            front.as_socket(),
            back.as_socket(),
            None,
            control.as_socket(),
        );
        let body = async {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    Peer::spawn(
                        Impl::Pyzmq,
                        &args(&["--type", "REP", "--connect", &be, "echo", "forever"]),
                    )
                })
                .collect();
            let mut clients: Vec<_> = (0..2)
                .map(|_| {
                    Peer::spawn(
                        Impl::Pyzmq,
                        &args(&["--type", "REQ", "--connect", &fe, "ask"]),
                    )
                })
                .collect();
            for c in clients.iter_mut() {
                assert_eq!(c.line(&p, "OK").await, "OK");
            }
            for c in clients {
                c.finish(&p).await;
            }
            // The workers echo END too and keep serving (a worker that stopped at the
            // first END would lose the requests already queued to it); they are
            // stopped when dropped below.
            steer.send("STATISTICS").await.unwrap();
            let stats = ProxyStats::from_message(&steer.recv().await.unwrap()).unwrap();
            assert_eq!(stats.frontend.msg_in, 12, "6 payloads per client");
            assert_eq!(stats.backend.msg_out, 12);
            assert_eq!(stats.backend.msg_in, 12);
            assert_eq!(stats.frontend.msg_out, 12);
            steer.send("TERMINATE").await.unwrap();
            drop(workers);
        };
        let (ended, ()) = join(brokering, body).await;
        ended.unwrap();
    });
}
