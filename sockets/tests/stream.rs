//! STREAM: raw TCP peers without ZMTP, bound and connecting, against plain TCP clients
//! and servers (the proactor's own streams), and misuse.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{
    Bytes, Context, DisconnectReason, Error, Message, MonitorEventKind, SocketOption,
};

fn msg(id: &Bytes, data: &[u8]) -> Message {
    vec![id.clone(), Bytes::copy_from_slice(data)].into()
}

/// Reads from a raw stream until `n` bytes arrived.
async fn read_exact<P: Proactor>(p: &P, r: &mut P::Reader, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let BufResult(res, buf) = p.recv(r, Vec::with_capacity(n - got.len())).await;
        let k = res.expect("raw read");
        assert!(k > 0, "the stream ended after {} of {n} bytes", got.len());
        got.extend_from_slice(&buf[..k]);
    }
    got
}

/// Reads until the stream ends (true) or data arrives (false).
async fn ends<P: Proactor>(p: &P, r: &mut P::Reader) -> bool {
    let BufResult(res, _) = p.recv(r, Vec::with_capacity(64)).await;
    matches!(res, Ok(0) | Err(_))
}

/// Receives STREAM messages from `id` until `n` data bytes arrived (reads may split).
async fn recv_bytes<P: Proactor>(
    s: &ringmq_sockets::StreamSocket<P>,
    id: &Bytes,
    n: usize,
) -> Vec<u8> {
    let mut got = Vec::new();
    while got.len() < n {
        let m = s.recv().await.unwrap();
        assert_eq!(m.len(), 2, "id and data");
        assert_eq!(&m.frames()[0], id);
        assert!(!m.frames()[1].is_empty(), "data, not a notification");
        got.extend_from_slice(&m.frames()[1]);
    }
    got
}

/// The connect notification: `[id, ""]` from a new peer.
async fn notification<P: Proactor>(s: &ringmq_sockets::StreamSocket<P>) -> Bytes {
    let m = s.recv().await.unwrap();
    assert_eq!(m.len(), 2);
    assert!(m.frames()[1].is_empty(), "a zero-length notification");
    m.frames()[0].clone()
}

async fn bound_stream_serves_raw_clients<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let server = ctx.stream();
    let mon = server.monitor();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let c1 = p.connect(&ep.parse().unwrap()).await.unwrap();
    let (mut r1, mut w1) = p.split(c1);
    let id1 = notification(&server).await;
    let e = wait_event(&p, &mon, |e| e.kind == MonitorEventKind::HandshakeSucceeded).await;
    assert_eq!(e.peer_routing_id.as_ref(), Some(&id1));
    let c2 = p.connect(&ep.parse().unwrap()).await.unwrap();
    let (mut r2, mut w2) = p.split(c2);
    let id2 = notification(&server).await;
    assert_ne!(id1, id2);
    // Bytes in, bytes out, per peer.
    write_all(&p, &mut w1, b"hello from 1".to_vec()).await;
    assert_eq!(recv_bytes(&server, &id1, 12).await, b"hello from 1");
    write_all(&p, &mut w2, b"two".to_vec()).await;
    assert_eq!(recv_bytes(&server, &id2, 3).await, b"two");
    server.send(msg(&id1, b"to one")).await.unwrap();
    server.send(msg(&id2, b"to two")).await.unwrap();
    assert_eq!(read_exact(&p, &mut r1, 6).await, b"to one");
    assert_eq!(read_exact(&p, &mut r2, 6).await, b"to two");
    // The raw link counts its bytes: exactly the data, no framing.
    let stats = server.as_socket().stats();
    let one = stats
        .peers
        .iter()
        .find(|s| s.routing_id.as_ref() == Some(&id1))
        .expect("peer 1");
    assert_eq!((one.bytes_in, one.bytes_out), (12, 6));
    // A large payload arrives whole and in order, in as many reads as it takes.
    let big: Vec<u8> = (0..1u32 << 20).map(|i| i as u8).collect();
    write_all(&p, &mut w1, big.clone()).await;
    assert_eq!(recv_bytes(&server, &id1, big.len()).await, big);
    // The client goes away: a zero-length notification, then its id is unknown.
    drop((r1, w1));
    let m = server.recv().await.unwrap();
    assert_eq!(m.frames(), [id1.clone(), Bytes::new()]);
    assert_eq!(
        wait_disconnected(&p, &mon).await,
        DisconnectReason::ClosedByPeer
    );
    assert!(matches!(
        server.send(msg(&id1, b"late")).await,
        Err(Error::HostUnreachable)
    ));
    // The application closes the other: what it sent before arrives, then the end.
    server.send(msg(&id2, b"bye")).await.unwrap();
    server.send(msg(&id2, b"")).await.unwrap();
    assert_eq!(read_exact(&p, &mut r2, 3).await, b"bye");
    assert!(ends(&p, &mut r2).await, "closed after the data");
    assert_eq!(
        wait_disconnected(&p, &mon).await,
        DisconnectReason::ClosedByApplication
    );
    // No notification for a close the application asked for.
    server
        .set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(100))))
        .unwrap();
    assert!(matches!(server.recv().await, Err(Error::TimedOut)));
    drop(w2);
}

async fn connecting_stream_talks_to_a_raw_server<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let listener = p.listen(&"tcp://127.0.0.1:0".parse().unwrap()).unwrap();
    let ep = p.listener_endpoint(&listener).unwrap().to_string();
    let client = ctx.stream();
    let mon = client.monitor();
    client.connect(&ep).unwrap();
    let (s, _) = p.accept(&listener).await.unwrap();
    let (mut r, mut w) = p.split(s);
    let id = notification(&client).await;
    assert_eq!(
        wait_event(&p, &mon, |_| true).await.kind,
        MonitorEventKind::Connected
    );
    client.send(msg(&id, b"GET /")).await.unwrap();
    assert_eq!(read_exact(&p, &mut r, 5).await, b"GET /");
    write_all(&p, &mut w, b"200 OK".to_vec()).await;
    assert_eq!(recv_bytes(&client, &id, 6).await, b"200 OK");
    // The server closes: notification, and the STREAM reconnects with a new id.
    drop((r, w));
    let m = client.recv().await.unwrap();
    assert_eq!(m.frames(), [id.clone(), Bytes::new()]);
    let (s, _) = p.accept(&listener).await.unwrap();
    let again = notification(&client).await;
    assert_ne!(again, id, "a new connection is a new peer");
    let (mut r, _w) = p.split(s);
    client.send(msg(&again, b"more")).await.unwrap();
    assert_eq!(read_exact(&p, &mut r, 4).await, b"more");
}

async fn stream_misuse_gives_clear_errors<P: Proactor>(ctx: Context<P>) {
    let s = ctx.stream();
    s.bind("tcp://127.0.0.1:*").unwrap();
    let id = Bytes::from_static(b"\0nope");
    assert!(matches!(
        s.send(msg(&id, b"x")).await,
        Err(Error::HostUnreachable)
    ));
    let three: Message = vec![
        id.clone(),
        Bytes::from_static(b"a"),
        Bytes::from_static(b"b"),
    ]
    .into();
    assert!(matches!(
        s.send(three).await,
        Err(Error::InvalidState { .. })
    ));
    assert!(matches!(
        s.send("no id").await,
        Err(Error::InvalidState { .. })
    ));
    // STREAM options are the general ones: ROUTING_ID does not apply.
    assert!(matches!(
        s.set_option(SocketOption::RoutingId(Bytes::from_static(b"x"))),
        Err(Error::InvalidOption { .. })
    ));
    // No ZMTP peer, and no inproc peer, talks to a STREAM.
    let pull = ctx.pull();
    pull.bind("inproc://stream-peer").unwrap();
    let mon = s.monitor();
    s.connect("inproc://stream-peer").unwrap();
    assert!(matches!(
        wait_handshake_failed(ctx.proactor(), &mon).await,
        DisconnectReason::Zmtp(ringmq_zmtp::Error::IncompatibleSocketType { .. })
    ));
}

backend_tests!(
    bound_stream_serves_raw_clients,
    connecting_stream_talks_to_a_raw_server,
    stream_misuse_gives_clear_errors,
);
