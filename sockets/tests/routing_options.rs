//! ROUTER-family options through real connections on every backend: ROUTER to ROUTER
//! with CONNECT_ROUTING_ID (TCP and inproc), PROBE_ROUTER, ROUTER_NOTIFY, and STREAM
//! with CONNECT_ROUTING_ID and STREAM_NOTIFY off.

mod common;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    Bytes, Context, Error, Message, SocketOption, NOTIFY_CONNECT, NOTIFY_DISCONNECT,
};

fn msg(frames: &[&[u8]]) -> Message {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

/// ROUTER to ROUTER: the connecting side names its peer with CONNECT_ROUTING_ID and
/// can address it as soon as the handshake is done; the bound side knows the
/// connecting one by its ROUTING_ID.
async fn router_to_router_with_connect_routing_id<P: Proactor>(ctx: Context<P>) {
    for (i, bind) in ["tcp://127.0.0.1:*", "inproc://r2r"]
        .into_iter()
        .enumerate()
    {
        let server = ctx.router();
        let ep = server.bind(bind).unwrap();
        let client = ctx.router();
        client
            .set_option(SocketOption::RoutingId(Bytes::from_static(b"client")))
            .unwrap();
        client
            .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(
                b"server",
            )))
            .unwrap();
        client
            .set_option(SocketOption::RouterMandatory(true))
            .unwrap();
        assert_eq!(
            client.options().connect_routing_id().as_deref(),
            Some(&b"server"[..])
        );
        let mon = client.monitor();
        client.connect(&ep).unwrap();
        assert_eq!(client.options().connect_routing_id(), None, "taken");
        wait_handshakes(ctx.proactor(), &mon, 1).await;
        client.send(msg(&[b"server", b"hello"])).await.unwrap();
        let got = server.recv().await.unwrap();
        assert_eq!(got, msg(&[b"client", b"hello"]), "{i}");
        server.send(msg(&[b"client", b"world"])).await.unwrap();
        assert_eq!(client.recv().await.unwrap(), msg(&[b"server", b"world"]));
        // A second connect under an id in use is refused (by the client: the server
        // knows this connection by another ROUTING_ID).
        client
            .set_option(SocketOption::RoutingId(Bytes::from_static(b"client2")))
            .unwrap();
        client
            .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(
                b"server",
            )))
            .unwrap();
        client.connect(&ep).unwrap();
        let why = wait_handshake_failed(ctx.proactor(), &mon).await;
        assert!(why.to_string().contains("duplicate"), "{why}");
    }
    assert!(ctx
        .router()
        .set_option(SocketOption::ConnectRoutingId(Bytes::new()))
        .is_err());
    assert!(ctx
        .dealer()
        .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(b"x")))
        .is_err());
}

/// PROBE_ROUTER: the ROUTER hears of the DEALER (an empty message under its id)
/// before the DEALER sends anything, and can answer it.
async fn probe_router_announces_the_peer<P: Proactor>(ctx: Context<P>) {
    let router = ctx.router();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = ctx.dealer();
    dealer.set_option(SocketOption::ProbeRouter(true)).unwrap();
    dealer
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"d1")))
        .unwrap();
    dealer.connect(&ep).unwrap();
    assert_eq!(router.recv().await.unwrap(), msg(&[b"d1", b""]));
    router.send(msg(&[b"d1", b"welcome"])).await.unwrap();
    assert_eq!(dealer.recv().await.unwrap(), msg(&[b"welcome"]));
}

/// ROUTER_NOTIFY: `[id, ""]` when a peer connects and when it goes.
async fn router_notify_reports_peers<P: Proactor>(ctx: Context<P>) {
    let router = ctx.router();
    router
        .set_option(SocketOption::RouterNotify(
            NOTIFY_CONNECT | NOTIFY_DISCONNECT,
        ))
        .unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = ctx.dealer();
    dealer
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"d")))
        .unwrap();
    dealer.connect(&ep).unwrap();
    assert_eq!(router.recv().await.unwrap(), msg(&[b"d", b""]));
    dealer.send("bye").await.unwrap();
    dealer.close().await;
    assert_eq!(router.recv().await.unwrap(), msg(&[b"d", b"bye"]));
    assert_eq!(router.recv().await.unwrap(), msg(&[b"d", b""]));
    assert!(matches!(router.try_recv(), Err(Error::WouldBlock)));
}

/// STREAM: a connect with CONNECT_ROUTING_ID knows its raw server by that id; with
/// STREAM_NOTIFY off no `[id, ""]` comes on connect nor when the server closes.
async fn stream_connect_routing_id_and_no_notify<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let listener = p.listen(&"tcp://127.0.0.1:0".parse().unwrap()).unwrap();
    let ep = p.listener_endpoint(&listener).unwrap().to_string();
    let client = ctx.stream();
    client
        .set_option(SocketOption::StreamNotify(false))
        .unwrap();
    assert!(!client.options().stream_notify());
    client
        .set_option(SocketOption::ConnectRoutingId(Bytes::from_static(b"web")))
        .unwrap();
    let mon = client.monitor();
    client.connect(&ep).unwrap();
    let (s, _) = p.accept(&listener).await.unwrap();
    let (mut r, mut w) = p.split(s);
    wait_handshakes(&p, &mon, 1).await;
    client.send(msg(&[b"web", b"GET"])).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 3 {
        let ringmq_proactor::BufResult(res, buf) = p.recv(&mut r, Vec::with_capacity(8)).await;
        let n = res.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"GET");
    write_all(&p, &mut w, b"OK".to_vec()).await;
    drop((r, w));
    // The data, then nothing: the close is not notified.
    assert_eq!(client.recv().await.unwrap(), msg(&[b"web", b"OK"]));
    wait_disconnected(&p, &mon).await;
    assert!(matches!(client.try_recv(), Err(Error::WouldBlock)));
}

backend_tests!(
    router_to_router_with_connect_routing_id,
    probe_router_announces_the_peer,
    router_notify_reports_peers,
    stream_connect_routing_id_and_no_notify,
);
