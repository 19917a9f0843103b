//! libzmq's draft socket types end to end, on every backend, over tcp, ipc and inproc:
//! CLIENT / SERVER request-reply with routing ids out of band, SCATTER / GATHER,
//! PEER / PEER with `connect_peer`, CHANNEL / CHANNEL; multipart refused on send, and a
//! raw peer sending a multipart message loses its connection.

mod common;

use bytes::Bytes;
use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{
    Context, DisconnectReason, Error, Message, Refusal, SocketOption, SocketType,
};

/// The three transports, each with a fresh bind endpoint.
fn endpoints(name: &str) -> [String; 3] {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    [
        "tcp://127.0.0.1:*".to_owned(),
        ipc_endpoint(name),
        format!("inproc://draft-{name}-{n}"),
    ]
}

/// Two CLIENTs ask one SERVER; each gets the reply addressed to its routing id.
async fn client_server<P: Proactor>(ctx: Context<P>) {
    for bind in endpoints("cs") {
        let server = ctx.server();
        let ep = server.bind(&bind).unwrap();
        let (a, b) = (ctx.client(), ctx.client());
        a.connect(&ep).unwrap();
        b.connect(&ep).unwrap();
        a.send("from a").await.unwrap();
        b.send("from b").await.unwrap();
        let mut ids = Vec::new();
        for _ in 0..2 {
            let req = server.recv().await.unwrap();
            assert_eq!(req.len(), 1);
            let id = req.routing_id().expect("a routing id on every request");
            ids.push(id);
            let mut body = b"re: ".to_vec();
            body.extend_from_slice(&req.frames()[0]);
            server
                .send(Message::from(body).with_routing_id(id))
                .await
                .unwrap();
        }
        assert_ne!(ids[0], ids[1], "{bind}");
        let ra = a.recv().await.unwrap();
        assert_eq!(ra.frames(), [Bytes::from_static(b"re: from a")], "{bind}");
        assert_eq!(ra.routing_id(), None, "a CLIENT sees no routing id");
        let rb = b.recv().await.unwrap();
        assert_eq!(rb.frames(), [Bytes::from_static(b"re: from b")], "{bind}");
        // An id nobody has: HostUnreachable, at once.
        let unknown = (1..).find(|i| !ids.contains(i)).unwrap();
        assert!(matches!(
            server
                .send(Message::from("x").with_routing_id(unknown))
                .await,
            Err(Error::HostUnreachable)
        ));
        assert!(matches!(
            server.send("no id").await,
            Err(Error::HostUnreachable)
        ));
        a.close().await;
        b.close().await;
        server.close().await;
    }
}

/// A SERVER may connect, to a CLIENT that binds: the request carries the id of that
/// connect-side peer and the reply routes to it.
async fn server_connects<P: Proactor>(ctx: Context<P>) {
    for bind in endpoints("sc") {
        let client = ctx.client();
        let ep = client.bind(&bind).unwrap();
        let server = ctx.server();
        server.connect(&ep).unwrap();
        client.send("hello").await.unwrap();
        let req = server.recv().await.unwrap();
        let id = req.routing_id().unwrap();
        server
            .send(Message::from("world").with_routing_id(id))
            .await
            .unwrap();
        assert_eq!(client.recv().await.unwrap().frames()[0], "world", "{bind}");
    }
}

/// SCATTER round-robins over two GATHERs; each GATHER gets its exact share.
async fn scatter_gather<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    for bind in endpoints("sg") {
        let scatter = ctx.scatter();
        let mon = scatter.monitor();
        let ep = scatter.bind(&bind).unwrap();
        let (a, b) = (ctx.gather(), ctx.gather());
        a.connect(&ep).unwrap();
        b.connect(&ep).unwrap();
        wait_handshakes(&p, &mon, 2).await;
        for i in 0..100 {
            scatter.send(format!("{i}")).await.unwrap();
        }
        let mut got = [0usize; 2];
        for _ in 0..100 {
            let which = wait_for(&p, WAIT, "all 100 messages", || {
                if a.try_recv().is_ok() {
                    Some(0)
                } else if b.try_recv().is_ok() {
                    Some(1)
                } else {
                    None
                }
            })
            .await;
            got[which] += 1;
        }
        assert_eq!(got, [50, 50], "{bind}");
    }
}

/// PEER to PEER: `connect_peer` gives the id to speak first; the bound PEER answers
/// the id its first message came with.
async fn peer_peer<P: Proactor>(ctx: Context<P>) {
    for bind in endpoints("pp") {
        let listener = ctx.peer();
        let ep = listener.bind(&bind).unwrap();
        let dialer = ctx.peer();
        let id = dialer.connect_peer(&ep).unwrap();
        assert_ne!(id, 0);
        dialer
            .send(Message::from("ping").with_routing_id(id))
            .await
            .unwrap();
        let ping = listener.recv().await.unwrap();
        assert_eq!(ping.frames()[0], "ping");
        let back = ping.routing_id().unwrap();
        listener
            .send(Message::from("pong").with_routing_id(back))
            .await
            .unwrap();
        let pong = dialer.recv().await.unwrap();
        assert_eq!(pong.frames()[0], "pong", "{bind}");
        assert_eq!(pong.routing_id(), Some(id), "{bind}");
        // Not a PEER, or IMMEDIATE: no connect_peer.
        let server = ctx.server();
        assert!(matches!(
            server.as_socket().connect_peer(&ep),
            Err(Error::NotSupported { .. })
        ));
        let immediate = ctx.peer();
        immediate.set_option(SocketOption::Immediate(true)).unwrap();
        assert!(matches!(
            immediate.connect_peer(&ep),
            Err(Error::InvalidState { .. })
        ));
    }
}

/// CHANNEL to CHANNEL, both ways.
async fn channel_pair<P: Proactor>(ctx: Context<P>) {
    for bind in endpoints("ch") {
        let a = ctx.channel();
        let ep = a.bind(&bind).unwrap();
        let b = ctx.channel();
        b.connect(&ep).unwrap();
        b.send("to a").await.unwrap();
        assert_eq!(a.recv().await.unwrap().frames()[0], "to a");
        a.send("to b").await.unwrap();
        assert_eq!(b.recv().await.unwrap().frames()[0], "to b", "{bind}");
    }
}

/// A multipart send fails on every draft type that sends, with a clear error.
async fn multipart_send_refused<P: Proactor>(ctx: Context<P>) {
    let two = || -> Message { vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")].into() };
    let errors = [
        ctx.client().send(two()).await.unwrap_err(),
        ctx.server().send(two()).await.unwrap_err(),
        ctx.scatter().send(two()).await.unwrap_err(),
        ctx.peer().send(two()).await.unwrap_err(),
        ctx.channel().send(two()).await.unwrap_err(),
    ];
    for e in errors {
        assert!(matches!(e, Error::NotSupported { .. }), "{e}");
        assert!(e.to_string().contains("multipart"), "{e}");
    }
}

/// A raw CLIENT that sends a multipart message to a SERVER loses its connection with
/// a typed reason; the SERVER delivers nothing of it and goes on serving.
async fn multipart_from_a_raw_peer<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let server = ctx.server();
    let mon = server.monitor();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let (mut r, mut w, mut s) = raw_peer(&p, &ep, SocketType::Client).await;
    s.send(&[Bytes::from_static(b"part 1"), Bytes::from_static(b"part 2")])
        .unwrap();
    let wire = s.poll_transmit().expect("the frames").to_vec();
    write_all(&p, &mut w, wire).await;
    let reason = wait_disconnected(&p, &mon).await;
    assert_eq!(
        reason,
        DisconnectReason::Refused(Refusal::Multipart(SocketType::Server))
    );
    // The raw peer sees its connection closed.
    let closed = timeout(&p, WAIT, async {
        loop {
            let BufResult(n, _) = p.recv(&mut r, Vec::with_capacity(4096)).await;
            if !matches!(n, Ok(n) if n > 0) {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_some(), "the raw peer's connection is closed");
    assert!(matches!(server.try_recv(), Err(Error::WouldBlock)));
    let client = ctx.client();
    client.connect(&ep).unwrap();
    client.send("still here").await.unwrap();
    assert_eq!(server.recv().await.unwrap().frames()[0], "still here");
}

/// Only libzmq's pairs handshake: a CLIENT meets no ROUTER, a CHANNEL no PAIR, a PEER
/// no SERVER, over tcp and inproc alike.
async fn only_libzmq_pairs_handshake<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pairs = [
        (SocketType::Router, SocketType::Client),
        (SocketType::Pair, SocketType::Channel),
        (SocketType::Server, SocketType::Peer),
        (SocketType::Gather, SocketType::Push),
    ];
    for (n, (bound, connecting)) in pairs.into_iter().enumerate() {
        for bind in [
            "tcp://127.0.0.1:*".to_owned(),
            format!("inproc://types-{n}"),
        ] {
            let b = ctx.socket(bound);
            let ep = b.bind(&bind).unwrap();
            let c = ctx.socket(connecting);
            let mon = c.monitor();
            c.connect(&ep).unwrap();
            let reason = wait_handshake_failed(&p, &mon).await;
            assert_eq!(
                reason,
                DisconnectReason::Zmtp(ringmq_zmtp::Error::IncompatibleSocketType {
                    local: connecting,
                    peer: bound,
                }),
                "{bind}"
            );
            c.close().await;
            b.close().await;
        }
    }
}

backend_tests!(
    only_libzmq_pairs_handshake,
    client_server,
    server_connects,
    scatter_gather,
    peer_peer,
    channel_pair,
    multipart_send_refused,
    multipart_from_a_raw_peer,
);
