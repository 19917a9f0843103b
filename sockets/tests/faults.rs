//! Bad and silent peers: each costs only its own connection.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{Context, DisconnectReason, MonitorEventKind, SocketOption, SocketType};
use ringmq_zmtp::{Error as ZmtpError, PeerMisbehaved};

async fn silent_peer_is_dropped_by_heartbeat<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::HeartbeatIvl(Duration::from_millis(50)))
        .unwrap();
    pull.set_option(SocketOption::HeartbeatTimeout(Duration::from_millis(200)))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let t0 = std::time::Instant::now();
    let (_r, _w, _s) = raw_push_peer(&p, &ep).await;
    wait_handshakes(&p, &mon, 1).await;
    let reason = wait_disconnected(&p, &mon).await;
    assert_eq!(reason, DisconnectReason::Zmtp(ZmtpError::HeartbeatTimeout));
    assert!(t0.elapsed() >= Duration::from_millis(200));
}

async fn answering_peer_survives_heartbeats<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    for opt in [
        SocketOption::HeartbeatIvl(Duration::from_millis(20)),
        SocketOption::HeartbeatTimeout(Duration::from_millis(500)),
    ] {
        pull.set_option(opt).unwrap();
    }
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    // A timing test: idle far longer than the timeout, so only PONGs keep the connection.
    sleep(&p, Duration::from_millis(1500)).await;
    push.send("still alive").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "still alive");
    let dropped = std::iter::from_fn(|| mon.try_recv())
        .any(|e| matches!(e.kind, MonitorEventKind::Disconnected { .. }));
    assert!(!dropped, "a peer that answers PINGs stays connected");
}

async fn garbage_peer_loses_only_its_connection<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    push.send("before").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "before");
    let stream = p.connect(&ep.parse().unwrap()).await.unwrap();
    let (mut r, mut w) = p.split(stream);
    write_all(&p, &mut w, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(10)).await;
    // The first byte is not the greeting's 0xFF: refused as a ZMTP 1.0 peer.
    let reason = wait_handshake_failed(&p, &mon).await;
    assert_eq!(
        reason,
        DisconnectReason::Zmtp(ZmtpError::PeerMisbehaved(PeerMisbehaved::Zmtp10Peer))
    );
    // The garbage peer's connection is closed...
    let BufResult(n, _) = timeout(
        &p,
        Duration::from_secs(5),
        p.recv(&mut r, Vec::with_capacity(4096)),
    )
    .await
    .expect("the socket closes the garbage connection");
    // (it may first see our greeting's signature)
    if n.as_ref().is_ok_and(|&n| n > 0) {
        let BufResult(n, _) = timeout(
            &p,
            Duration::from_secs(5),
            p.recv(&mut r, Vec::with_capacity(4096)),
        )
        .await
        .expect("the socket closes the garbage connection");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    // ...and the good peer is still served.
    for i in 0..100 {
        push.send(format!("{i}")).await.unwrap();
    }
    for i in 0..100 {
        assert_eq!(
            pull.recv().await.unwrap().frames()[0],
            format!("{i}").as_bytes()
        );
    }
}

async fn handshake_timeout_drops_mute_peer<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::HandshakeIvl(Duration::from_millis(100)))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let _mute = p.connect(&ep.parse().unwrap()).await.unwrap();
    let reason = wait_handshake_failed(&p, &mon).await;
    assert_eq!(reason, DisconnectReason::Zmtp(ZmtpError::HandshakeTimeout));
}

async fn oversized_message_costs_the_connection<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::MaxMsgSize(Some(100)))
        .unwrap();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(10)))
        .unwrap();
    let push_mon = push.monitor();
    push.connect(&ep).unwrap();
    push.send(vec![0u8; 1000]).await.unwrap();
    let reason = wait_disconnected(&p, &mon).await;
    let too_large = PeerMisbehaved::MessageTooLarge {
        size: 1000,
        max: 100,
    };
    assert_eq!(
        reason,
        DisconnectReason::Zmtp(ZmtpError::PeerMisbehaved(too_large))
    );
    // (a message sent before PUSH notices would go down with the old connection)
    wait_event(&p, &push_mon, |e| {
        matches!(e.kind, MonitorEventKind::Disconnected { .. })
    })
    .await;
    // The PUSH peer survives its reconnect; small messages flow again.
    push.send("small").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "small");
}

async fn incompatible_socket_type_is_refused<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let publisher = ctx.publisher();
    publisher.connect(&ep).unwrap();
    let reason = wait_handshake_failed(&p, &mon).await;
    let incompatible = ZmtpError::IncompatibleSocketType {
        local: SocketType::Pull,
        peer: SocketType::Pub,
    };
    assert_eq!(reason, DisconnectReason::Zmtp(incompatible));
}

backend_tests!(
    silent_peer_is_dropped_by_heartbeat,
    answering_peer_survives_heartbeats,
    garbage_peer_loses_only_its_connection,
    handshake_timeout_drops_mute_peer,
    oversized_message_costs_the_connection,
    incompatible_socket_type_is_refused,
);
