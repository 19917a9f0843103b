//! Deadlines and caps a server operator can set (ringmq-specific options): the
//! partial-message timeout, the idle timeout and the peer cap. A peer over a limit
//! loses its connection (or is refused at accept) with a typed reason on the monitor;
//! the other peers keep being served. Tests wait on monitor events; the two fixed
//! sleeps are where time is the subject (said where they are).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    Context, DisconnectReason, Error, Message, MonitorEventKind, Refusal, SocketOption,
};

/// No connection ended: no end event is waiting on `mon`.
fn no_end_event(mon: &ringmq_sockets::Monitor) {
    while let Some(e) = mon.try_recv() {
        assert!(end_reason(&e.kind).is_none(), "{e:?}");
    }
}

fn zmtp(e: ringmq_zmtp::Error) -> DisconnectReason {
    DisconnectReason::Zmtp(e)
}

async fn partial_message_timeout_drops_only_the_slow_peer<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::PartialMsgTimeout(Some(
        Duration::from_millis(300),
    )))
    .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let good = ctx.push();
    good.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // A raw peer starts a message (a MORE frame, then 10 bytes of a 1,000-byte frame)
    // and never finishes it.
    let (_r, mut w, _s) = raw_push_peer(&p, &ep).await;
    wait_handshakes(&p, &mon, 1).await;
    let mut bytes = vec![0x01, 1, b'x'];
    // A long frame (flags 0x02) announcing 1,000 bytes.
    bytes.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0x03, 0xe8]);
    bytes.extend_from_slice(&[7; 10]);
    write_all(&p, &mut w, bytes).await;
    let reason = wait_disconnected(&p, &mon).await;
    assert_eq!(
        reason,
        zmtp(ringmq_zmtp::Error::PartialMessageTimeout),
        "{reason}"
    );
    // The good peer is still served, and nothing of the slow message arrived.
    good.send(Message::from("after")).await.unwrap();
    let m = pull.recv().await.unwrap();
    assert_eq!(m.frames(), &[Bytes::from_static(b"after")]);
}

async fn partial_message_timeout_stops_while_the_socket_does_not_read<P: Proactor>(
    ctx: Context<P>,
) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(1)).unwrap();
    pull.set_option(SocketOption::PartialMsgTimeout(Some(
        Duration::from_millis(100),
    )))
    .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(0)).unwrap();
    push.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // Far more than the receive queue and the socket buffers hold, in messages of three
    // 3,000-byte frames, so reads end inside messages.
    let n = 2000u32;
    for i in 0..n {
        let f = Bytes::from(vec![i as u8; 3000]);
        push.send(Message::from(vec![f.clone(), f.clone(), f]))
            .await
            .unwrap();
    }
    // Time is the subject: the application reads nothing for 6 timeouts, while the
    // reader is stopped at the RCVHWM with part of a message received.
    sleep(&p, Duration::from_millis(600)).await;
    for i in 0..n {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.frames()[2][0], i as u8);
    }
    no_end_event(&mon);
}

async fn idle_timeout_drops_a_silent_peer_and_keeps_a_talking_one<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::IdleTimeout(Some(Duration::from_millis(400))))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let talker = ctx.push();
    talker.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // A silent peer (heartbeats on, so it is alive, answering PINGs).
    let silent = ctx.push();
    silent
        .set_option(SocketOption::HeartbeatIvl(Duration::from_millis(50)))
        .unwrap();
    silent
        .set_option(SocketOption::ReconnectIvl(Duration::from_secs(60)))
        .unwrap();
    let silent_mon = silent.monitor();
    silent.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    let talk = async {
        let mut sent = 0u32;
        // The talker sends every 20 ms until the silent one is dropped.
        loop {
            talker.send(Message::from("tick")).await.unwrap();
            sent += 1;
            sleep(&p, Duration::from_millis(20)).await;
            if sent > 1000 {
                panic!("the silent peer was never dropped");
            }
            if silent_mon
                .try_recv()
                .is_some_and(|e| matches!(e.kind, MonitorEventKind::Disconnected { .. }))
            {
                return sent;
            }
        }
    };
    let (reason, sent) = join(wait_disconnected(&p, &mon), talk).await;
    assert_eq!(reason, zmtp(ringmq_zmtp::Error::IdleTimeout), "{reason}");
    assert!(sent >= 10, "the talker kept talking ({sent})");
    for _ in 0..sent {
        assert_eq!(pull.recv().await.unwrap().frames()[0], "tick");
    }
    // The talker is still connected: nothing else ended.
    talker.send(Message::from("last")).await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "last");
    no_end_event(&mon);
}

async fn deadline_options_are_checked<P: Proactor>(ctx: Context<P>) {
    let s = ctx.router();
    for opt in [
        SocketOption::PartialMsgTimeout(Some(Duration::ZERO)),
        SocketOption::IdleTimeout(Some(Duration::ZERO)),
        SocketOption::MaxPeers(Some(0)),
    ] {
        let name = opt.name();
        let e = s.set_option(opt).unwrap_err();
        assert!(
            matches!(e, Error::InvalidOption { option, .. } if option == name && name.starts_with("RINGMQ_")),
            "{e}"
        );
    }
    s.set_option(SocketOption::PartialMsgTimeout(None)).unwrap();
    s.set_option(SocketOption::IdleTimeout(None)).unwrap();
    s.set_option(SocketOption::MaxPeers(None)).unwrap();
}

/// Waits for the next `AcceptRefused` and checks its reason.
async fn wait_refused<P: Proactor>(p: &P, m: &ringmq_sockets::Monitor, max: usize) {
    let e = wait_event(p, m, |e| {
        matches!(e.kind, MonitorEventKind::AcceptRefused { .. })
    })
    .await;
    assert_eq!(
        e.kind,
        MonitorEventKind::AcceptRefused {
            reason: Refusal::TooManyPeers { max }
        }
    );
}

async fn a_peer_cap_of_one<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let rep = ctx.rep();
    rep.set_option(SocketOption::MaxPeers(Some(1))).unwrap();
    let mon = rep.monitor();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let first = ctx.req();
    first.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // The second is closed at accept (and keeps retrying, refused each time).
    let second = ctx.req();
    let second_mon = second.monitor();
    second.connect(&ep).unwrap();
    wait_refused(&p, &mon, 1).await;
    assert!(rep.peers_refused() >= 1);
    let e = wait_event(&p, &second_mon, |e| end_reason(&e.kind).is_some()).await;
    assert!(
        matches!(e.kind, MonitorEventKind::HandshakeFailed { .. }),
        "the refused client never completes a handshake: {e:?}"
    );
    // The first is served meanwhile.
    first.send(Message::from("q")).await.unwrap();
    assert_eq!(rep.recv().await.unwrap().frames()[0], "q");
    rep.send(Message::from("a")).await.unwrap();
    assert_eq!(first.recv().await.unwrap().frames()[0], "a");
    // Once the first leaves, the second gets in.
    drop(first);
    wait_disconnected(&p, &mon).await;
    wait_handshakes(&p, &mon, 1).await;
    second.send(Message::from("q2")).await.unwrap();
    assert_eq!(rep.recv().await.unwrap().frames()[0], "q2");
}

async fn a_peer_cap_of_a_thousand<P: Proactor>(ctx: Context<P>) {
    ringmq_proactor::test_util::raise_nofile_limit(8192).expect("RLIMIT_NOFILE");
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::MaxPeers(Some(1000))).unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let addr = ep.parse().unwrap();
    // 1,000 raw TCP clients (no handshake: a connection counts from its accept).
    let mut clients = Vec::new();
    let mut accepted = 0;
    for _ in 0..1000 {
        clients.push(p.connect(&addr).await.expect("connect"));
        while let Some(e) = mon.try_recv() {
            if e.kind == MonitorEventKind::Accepted {
                accepted += 1;
            }
        }
    }
    while accepted < 1000 {
        let e = wait_event(&p, &mon, |e| {
            matches!(
                e.kind,
                MonitorEventKind::Accepted | MonitorEventKind::AcceptRefused { .. }
            )
        })
        .await;
        assert_eq!(e.kind, MonitorEventKind::Accepted, "within the cap");
        accepted += 1;
    }
    // Two more: both refused.
    let extra = [
        p.connect(&addr).await.expect("connect"),
        p.connect(&addr).await.expect("connect"),
    ];
    wait_refused(&p, &mon, 1000).await;
    wait_refused(&p, &mon, 1000).await;
    assert_eq!(pull.peers_refused(), 2);
    // One leaves: a newcomer is accepted, and a real peer is served.
    drop(clients.pop());
    wait_handshake_failed(&p, &mon).await;
    let push = ctx.push();
    push.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    push.send(Message::from("in")).await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "in");
    drop(extra);
}

async fn a_peer_cap_of_ten_with_a_hundred_clients<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    router.set_option(SocketOption::MaxPeers(Some(10))).unwrap();
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let mut clients = Vec::new();
    for i in 0..100u32 {
        let d = ctx.dealer();
        d.set_option(SocketOption::RoutingId(Bytes::from(format!("c{i}"))))
            .unwrap();
        // Refused once each (a retry would be refused again).
        d.set_option(SocketOption::ReconnectIvl(Duration::from_secs(60)))
            .unwrap();
        d.connect(&ep).unwrap();
        clients.push(d);
    }
    // Every client asks; the ten admitted are answered.
    for d in &clients {
        d.send(Message::from("hello")).await.unwrap();
    }
    let mut admitted = std::collections::HashSet::new();
    while admitted.len() < 10 {
        let m = router.recv().await.unwrap();
        admitted.insert(m.frames()[0].clone());
        router
            .send(Message::from(vec![
                m.frames()[0].clone(),
                Bytes::from("hi"),
            ]))
            .await
            .unwrap();
    }
    wait_until(&p, Duration::from_secs(10), "90 refusals", || {
        router.peers_refused() >= 90
    })
    .await;
    let mut handshakes = 0;
    while let Some(e) = mon.try_recv() {
        match e.kind {
            MonitorEventKind::HandshakeSucceeded => handshakes += 1,
            MonitorEventKind::AcceptRefused { reason } => {
                assert_eq!(reason, Refusal::TooManyPeers { max: 10 })
            }
            MonitorEventKind::Disconnected { reason } => panic!("{reason}"),
            _ => {}
        }
    }
    assert_eq!(handshakes, 10);
    assert_eq!(router.peers_refused(), 90);
    for (i, d) in clients.iter().enumerate() {
        if admitted.contains(format!("c{i}").as_bytes()) {
            assert_eq!(d.recv().await.unwrap().frames()[0], "hi");
        }
    }
}

backend_tests!(
    partial_message_timeout_drops_only_the_slow_peer,
    partial_message_timeout_stops_while_the_socket_does_not_read,
    idle_timeout_drops_a_silent_peer_and_keeps_a_talking_one,
    deadline_options_are_checked,
    a_peer_cap_of_one,
    a_peer_cap_of_a_thousand,
    a_peer_cap_of_ten_with_a_hundred_clients,
);
