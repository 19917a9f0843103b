//! `stats()` and `options()` on real sockets, on every backend: per-peer figures with
//! their endpoints and routing ids, and every settable option read back typed.

mod common;

use std::time::Duration;

use common::{wait_event, wait_handshakes};
use ringmq_proactor::Proactor;
use ringmq_sockets::{Bytes, Context, CurveKey, Message, MonitorEventKind, SocketOption};

async fn router_and_dealers_report_per_peer_figures<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let a = ctx.dealer();
    a.set_option(SocketOption::RoutingId(Bytes::from_static(b"A")))
        .unwrap();
    a.connect(&ep).unwrap();
    let b = ctx.dealer();
    b.set_option(SocketOption::RoutingId(Bytes::from_static(b"B")))
        .unwrap();
    b.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 2).await;
    for _ in 0..3 {
        a.send("0123456789").await.unwrap();
    }
    b.send("xy").await.unwrap();
    // Wait until all four are queued in the ROUTER, unread.
    let mut stats = router.stats();
    for _ in 0..1000 {
        if stats.queued_in == 4 {
            break;
        }
        common::sleep(&p, Duration::from_millis(2)).await;
        stats = router.stats();
    }
    assert_eq!(stats.queued_in, 4);
    // Wire bytes: two handshakes (64 B greeting + READY each) and four frames.
    assert_eq!(stats.messages_in, 4);
    assert!(stats.bytes_in >= 2 * 64 + 32 + 4 * 2, "{}", stats.bytes_in);
    let peer = |s: &ringmq_sockets::SocketStats, id: &[u8]| {
        s.peers
            .iter()
            .find(|p| p.routing_id.as_deref() == Some(id))
            .cloned()
            .expect("peer listed")
    };
    let pa = peer(&stats, b"A");
    assert_eq!(
        pa.endpoint.as_deref(),
        Some(ep.as_str()),
        "the bound endpoint"
    );
    assert!(pa.connected);
    assert_eq!((pa.messages_in, pa.queued_in), (3, 3));
    // Greeting and READY, then three 10-byte frames with their 2-byte headers.
    assert!(pa.bytes_in > 64 + 3 * 12, "{}", pa.bytes_in);
    assert_eq!(peer(&stats, b"B").messages_in, 1);
    for _ in 0..4 {
        router.recv().await.unwrap();
    }
    router
        .send(Message::from(vec![
            Bytes::from_static(b"B"),
            Bytes::from_static(b"hi"),
        ]))
        .await
        .unwrap();
    router
        .send(Message::from(vec![
            Bytes::from_static(b"nobody"),
            Bytes::from_static(b"x"),
        ]))
        .await
        .unwrap();
    assert_eq!(b.recv().await.unwrap().frames()[0], "hi");
    let stats = router.stats();
    assert_eq!(stats.queued_in, 0);
    let pb = peer(&stats, b"B");
    assert_eq!(pb.messages_out, 1);
    assert!(
        pb.bytes_out >= 64 + 4,
        "greeting, READY, the reply: {}",
        pb.bytes_out
    );
    assert_eq!(stats.messages_out, 1);
    assert_eq!(stats.drops.unroutable, 1);

    // The DEALER side: the connected endpoint, what it sent.
    let sa = a.stats();
    assert_eq!(sa.peers.len(), 1);
    assert_eq!(sa.peers[0].endpoint.as_deref(), Some(ep.as_str()));
    assert_eq!(sa.messages_out, 3);
    assert!(sa.bytes_out > 64 + 3 * 12, "{}", sa.bytes_out);

    // A peer that leaves keeps counting in the totals.
    b.close().await;
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::Disconnected { .. })
    })
    .await;
    let stats = router.stats();
    assert!(stats
        .peers
        .iter()
        .all(|p| p.routing_id.as_deref() != Some(&b"B"[..])));
    assert_eq!((stats.messages_in, stats.messages_out), (4, 1));
    assert_eq!(
        stats.bytes_in,
        peer(&stats, b"A").bytes_in + pb.bytes_in,
        "B's bytes stay in the totals after it left"
    );
}

async fn every_settable_option_reads_back<P: Proactor>(ctx: Context<P>) {
    let req = ctx.req();
    let o = req.options();
    assert_eq!((o.sndhwm(), o.rcvhwm(), o.linger()), (1000, 1000, None));
    assert_eq!(o.handshake_ivl(), Duration::from_secs(30));
    assert_eq!(o.routing_id(), None);
    let ms = Duration::from_millis;
    let key = CurveKey::from_bytes([7; 32]);
    for opt in [
        SocketOption::SndHwm(5),
        SocketOption::RcvHwm(6),
        SocketOption::Linger(Some(ms(7))),
        SocketOption::RoutingId(Bytes::from_static(b"me")),
        SocketOption::ReconnectIvl(ms(8)),
        SocketOption::ReconnectIvlMax(ms(9)),
        SocketOption::HeartbeatIvl(ms(10)),
        SocketOption::HeartbeatTtl(ms(11)),
        SocketOption::HeartbeatTimeout(ms(12)),
        SocketOption::HandshakeIvl(ms(13)),
        SocketOption::MaxMsgSize(Some(14)),
        SocketOption::Immediate(true),
        SocketOption::TcpKeepalive(Some(true)),
        SocketOption::TcpKeepaliveIdle(ms(15_000)),
        SocketOption::TcpKeepaliveIntvl(ms(16_000)),
        SocketOption::TcpKeepaliveCnt(17),
        SocketOption::SndTimeo(Some(ms(18))),
        SocketOption::RcvTimeo(Some(ms(19))),
        SocketOption::ReqRelaxed(true),
        SocketOption::ReqCorrelate(true),
        SocketOption::ZapDomain("dom".into()),
        SocketOption::ZapEnforceDomain(true),
        SocketOption::Metadata("X-color".into(), Bytes::from_static(b"blue")),
        SocketOption::CurveServerKey(key.clone()),
    ] {
        req.set_option(opt).unwrap();
    }
    let o = req.options();
    assert_eq!((o.sndhwm(), o.rcvhwm(), o.linger()), (5, 6, Some(ms(7))));
    assert_eq!(o.routing_id().as_deref(), Some(&b"me"[..]));
    assert_eq!((o.reconnect_ivl(), o.reconnect_ivl_max()), (ms(8), ms(9)));
    assert_eq!(
        (o.heartbeat_ivl(), o.heartbeat_ttl(), o.heartbeat_timeout()),
        (ms(10), ms(11), ms(12))
    );
    assert_eq!((o.handshake_ivl(), o.max_msg_size()), (ms(13), Some(14)));
    assert!(o.immediate() && !o.conflate());
    assert_eq!(o.tcp_keepalive(), Some(true));
    assert_eq!(
        (
            o.tcp_keepalive_idle(),
            o.tcp_keepalive_intvl(),
            o.tcp_keepalive_cnt()
        ),
        (Some(ms(15_000)), Some(ms(16_000)), Some(17))
    );
    assert_eq!((o.sndtimeo(), o.rcvtimeo()), (Some(ms(18)), Some(ms(19))));
    assert!(o.req_relaxed() && o.req_correlate());
    assert_eq!((o.zap_domain(), o.zap_enforce_domain()), ("dom", true));
    assert_eq!(o.metadata("X-color").as_deref(), Some(&b"blue"[..]));
    assert_eq!(o.curve_server_key(), Some(key));
    assert!(!o.curve_server() && !o.plain_server());

    let router = ctx.router();
    router
        .set_option(SocketOption::RouterMandatory(true))
        .unwrap();
    router
        .set_option(SocketOption::RouterHandover(true))
        .unwrap();
    router.set_option(SocketOption::PlainServer(true)).unwrap();
    let o = router.options();
    assert!(o.router_mandatory() && o.router_handover() && o.plain_server());
    let xpub = ctx.xpub();
    xpub.set_option(SocketOption::XpubVerbose(true)).unwrap();
    xpub.set_option(SocketOption::CurveServer(true)).unwrap();
    xpub.set_option(SocketOption::CurveSecretKey(CurveKey::from_bytes([1; 32])))
        .unwrap();
    let o = xpub.options();
    assert!(o.xpub_verbose() && o.curve_server());
    assert_eq!(o.curve_secret_key(), Some(CurveKey::from_bytes([1; 32])));
    let dealer = ctx.dealer();
    dealer.set_option(SocketOption::Conflate(true)).unwrap();
    dealer
        .set_option(SocketOption::PlainUsername(Bytes::from_static(b"u")))
        .unwrap();
    dealer
        .set_option(SocketOption::PlainPassword(Bytes::from_static(b"p")))
        .unwrap();
    dealer
        .set_option(SocketOption::CurvePublicKey(CurveKey::from_bytes([2; 32])))
        .unwrap();
    let o = dealer.options();
    assert!(o.conflate());
    assert_eq!(
        (&o.plain_username()[..], &o.plain_password()[..]),
        (&b"u"[..], &b"p"[..])
    );
    assert_eq!(o.curve_public_key(), Some(CurveKey::from_bytes([2; 32])));
}

backend_tests!(
    router_and_dealers_report_per_peer_figures,
    every_settable_option_reads_back,
);
