//! Options with visible effects: CONFLATE, IMMEDIATE, reconnect backoff; monitor events.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{Context, DisconnectReason, Error, MonitorEventKind, SocketOption};

async fn conflate_keeps_the_newest<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::Conflate(true)).unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    for i in 0..100 {
        push.send(format!("{i}")).await.unwrap();
    }
    // PUSH's close writes all 100 before it ends the connection, and PULL reads them
    // all before it sees the end: once PULL reports the disconnect, all have arrived.
    push.close().await;
    wait_disconnected(&p, &mon).await;
    assert_eq!(pull.recv().await.unwrap().frames()[0], "99");
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    assert!(ctx.req().set_option(SocketOption::Conflate(true)).is_err());
}

async fn immediate_queues_only_to_connected_peers<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    push.set_option(SocketOption::Immediate(true)).unwrap();
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    push.connect(&ep).unwrap();
    assert!(
        matches!(push.try_send("x"), Err(Error::WouldBlock)),
        "no connected peer: nothing can be queued"
    );
    let mon = push.monitor();
    let pull = ctx.pull();
    pull.bind(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    push.try_send("now").unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "now");
}

async fn reconnect_backoff_doubles_up_to_max<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(5)))
        .unwrap();
    push.set_option(SocketOption::ReconnectIvlMax(Duration::from_millis(40)))
        .unwrap();
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    let mon = push.monitor();
    let ep = format!("tcp://127.0.0.1:{}", free_port());
    push.connect(&ep).unwrap();
    let mut intervals = Vec::new();
    let mut failures = 0;
    while intervals.len() < 6 {
        let e = wait_event(&p, &mon, |e| {
            matches!(
                e.kind,
                MonitorEventKind::ConnectRetried { .. } | MonitorEventKind::ConnectFailed { .. }
            )
        })
        .await;
        assert_eq!(e.endpoint, ep);
        match e.kind {
            MonitorEventKind::ConnectRetried { interval } => intervals.push(interval.as_millis()),
            MonitorEventKind::ConnectFailed { error } => {
                // Nothing listens there: each attempt is refused, and says so.
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
                failures += 1;
            }
            _ => unreachable!("filtered above"),
        }
    }
    assert_eq!(intervals, [5, 10, 20, 40, 40, 40]);
    assert_eq!(failures, 6, "one ConnectFailed before each retry");
}

async fn monitor_reports_bind_lifecycle<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let a = ctx.pull();
    let mon = a.monitor();
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    let e = mon.try_recv().expect("Listening");
    assert_eq!(e.kind, MonitorEventKind::Listening);
    assert_eq!(e.endpoint, ep);
    assert!(matches!(a.bind(&ep), Err(Error::AddrInUse(_))));
    match mon.try_recv().map(|e| e.kind) {
        Some(MonitorEventKind::BindFailed { error }) => {
            assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse)
        }
        other => panic!("expected BindFailed, got {other:?}"),
    }
    let push = ctx.push();
    push.set_option(SocketOption::RoutingId(ringmq_sockets::Bytes::from_static(
        b"r",
    )))
    .unwrap_err(); // PUSH sends no identity
    push.connect(&ep).unwrap();
    wait_event(&p, &mon, |e| e.kind == MonitorEventKind::Accepted).await;
    wait_handshakes(&p, &mon, 1).await;
    a.unbind(&ep).unwrap();
    assert_eq!(
        wait_event(&p, &mon, |e| e.kind == MonitorEventKind::Closed)
            .await
            .endpoint,
        ep
    );
    assert_eq!(wait_disconnected(&p, &mon).await, DisconnectReason::Unbound);
    a.close().await;
    assert!(
        timeout(&p, Duration::from_secs(1), async {
            while mon.recv().await.is_some() {}
        })
        .await
        .is_some(),
        "the monitor ends after close"
    );
}

/// Makes sure the accept loop of the socket bound at `ep` has an accept pending (in the
/// kernel, on io_uring): a raw client connects and waits for the socket's greeting. The
/// accept loop starts the next accept as soon as one completes, before the new
/// connection's task even runs, and the greeting is written after that.
async fn accept_pending<P: Proactor>(p: &P, ep: &str) {
    let stream = p.connect(&ep.parse().unwrap()).await.expect("raw connect");
    let (mut r, _w) = p.split(stream);
    let BufResult(n, _) = timeout(p, WAIT, p.recv(&mut r, Vec::with_capacity(64)))
        .await
        .expect("the socket accepts and greets");
    assert!(n.expect("read the greeting") > 0, "closed before greeting");
}

/// `unbind` and `close` close the listener before they return: the same address can be
/// bound again at once, with no runtime turn in between (an accept is pending on the
/// old listener each time).
async fn rebind_right_after_unbind_or_close<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let a = ctx.pull();
    let ep = a.bind("tcp://127.0.0.1:*").unwrap();
    accept_pending(&p, &ep).await;
    a.unbind(&ep).unwrap();
    assert_eq!(a.bind(&ep).unwrap(), ep, "re-bind right after unbind");
    accept_pending(&p, &ep).await;
    a.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    drop(a);
    let b = ctx.pull();
    assert_eq!(b.bind(&ep).unwrap(), ep, "bind right after drop");
    accept_pending(&p, &ep).await;
    b.close().await;
    let c = ctx.pull();
    assert_eq!(c.bind(&ep).unwrap(), ep, "bind right after close");
    // The new listener serves.
    let push = ctx.push();
    push.connect(&ep).unwrap();
    push.send("after rebinds").await.unwrap();
    let got = timeout(&p, Duration::from_secs(5), c.recv())
        .await
        .expect("the re-bound listener accepts")
        .unwrap();
    assert_eq!(got.frames()[0], "after rebinds");
    // IPC: the socket file is removed at once too.
    let ipc = ipc_endpoint("rebind");
    let d = ctx.pull();
    d.bind(&ipc).unwrap();
    accept_pending(&p, &ipc).await;
    d.unbind(&ipc).unwrap();
    d.bind(&ipc).unwrap();
}

/// XPUB_NODROP through real connections: a subscriber that stops reading makes the
/// send wait (here: fail at once, SNDTIMEO 0) instead of losing messages, and every
/// message sent arrives, in order, once it reads again.
async fn xpub_nodrop_waits_instead_of_dropping<P: Proactor>(ctx: Context<P>) {
    let xpub = ctx.xpub();
    xpub.set_option(SocketOption::XpubNodrop(true)).unwrap();
    xpub.set_option(SocketOption::SndHwm(1)).unwrap();
    xpub.set_option(SocketOption::SndTimeo(Some(Duration::ZERO)))
        .unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let sub = ctx.subscriber();
    sub.set_option(SocketOption::RcvHwm(1)).unwrap();
    sub.subscribe(b"").unwrap();
    sub.connect(&ep).unwrap();
    assert_eq!(xpub.recv().await.unwrap().frames()[0], &b"\x01"[..]);
    let body = vec![7u8; 256 * 1024];
    let mut sent = 0u32;
    loop {
        let mut m = ringmq_sockets::Message::from(sent.to_be_bytes().to_vec());
        m.push_back(body.clone());
        match xpub.send(m).await {
            Ok(()) => sent += 1,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 4000, "never blocked: messages are being dropped");
    }
    for i in 0..sent {
        let m = sub.recv().await.unwrap();
        assert_eq!(m.frames()[0], &i.to_be_bytes()[..], "nothing lost");
    }
    assert_eq!(xpub.stats().drops.hwm, 0);
}

backend_tests!(
    xpub_nodrop_waits_instead_of_dropping,
    conflate_keeps_the_newest,
    immediate_queues_only_to_connected_peers,
    reconnect_backoff_doubles_up_to_max,
    monitor_reports_bind_lifecycle,
    rebind_right_after_unbind_or_close,
);
