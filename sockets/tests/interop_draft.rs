//! Interop of the draft socket types against a draft-enabled libzmq (Debian's 4.3.4
//! source built with `ENABLE_DRAFTS` by `scripts/draft-libzmq.sh`), through
//! `tests/peers/draft_peer.c`. A missing library or peer FAILS the tests, with
//! instructions (see `interop/peer.rs`).
//!
//! Rows, ringmq in both roles (`<pairing>_<ringmq's type>_<transport>`):
//! - CLIENT-SERVER over TCP and IPC: the standard single-part payloads (`hello`, an
//!   empty body, 16 MiB, bodies of 255 and 256 bytes, END) each come back identical,
//!   the SERVER replying by the routing id each request carried;
//! - SCATTER-GATHER: 1,000 messages counted exactly, with their byte total;
//! - PEER-PEER: the connecting side uses `connect_peer`'s id to speak first, the bound
//!   side answers the id each message came with;
//! - CHANNEL-CHANNEL;
//! - HELLO_MSG and DISCONNECT_MSG on CLIENT-SERVER, ringmq as either side.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use bytes::Bytes;
use peer::{Impl, Peer};
use ringmq_proactor::Native;
use ringmq_sockets::{Context, Message, Socket, SocketOption, SocketType};

/// The standard single-part payloads of `ask` (the same in `draft_peer.c`).
fn payloads() -> Vec<Bytes> {
    let big: Vec<u8> = (0..16usize << 20).map(|i| (i % 251) as u8).collect();
    vec![
        Bytes::from_static(b"hello"),
        Bytes::new(),
        Bytes::from(big),
        Bytes::from(vec![b'x'; 255]),
        Bytes::from(vec![b'y'; 256]),
        Bytes::from_static(b"END"),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Tr {
    Tcp,
    Ipc,
}

fn bind_endpoint(tr: Tr, name: &str) -> String {
    match tr {
        Tr::Tcp => "tcp://127.0.0.1:*".to_owned(),
        Tr::Ipc => common::ipc_endpoint(name),
    }
}

fn args(kind: SocketType, side: &str, ep: &str, scenario: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--type".into(),
        kind.as_str().into(),
        side.into(),
        ep.into(),
    ];
    a.extend(scenario.iter().map(|s| s.to_string()));
    a
}

/// ringmq serves: every message goes back where it came from (by routing id on
/// SERVER / PEER) until END. Returns the routing id of the first message.
async fn echo_until_end(s: &Socket<Native>) -> Option<u32> {
    let mut first = None;
    loop {
        let m = s.recv().await.expect("recv");
        assert_eq!(m.len(), 1, "single-part");
        first = first.or(m.routing_id());
        let end = m.frames()[0] == "END";
        let mut reply = Message::from(m.frames()[0].clone());
        if let Some(id) = m.routing_id() {
            reply.set_routing_id(id);
        }
        s.send(reply).await.expect("send the echo");
        if end {
            return first;
        }
    }
}

/// ringmq asks: each payload (to `to` on PEER) must come back identical.
async fn ask(s: &Socket<Native>, to: Option<u32>) {
    for body in payloads() {
        let mut m = Message::from(body.clone());
        if let Some(id) = to {
            m.set_routing_id(id);
        }
        s.send(m).await.expect("send");
        let reply = s.recv().await.expect("recv the reply");
        assert_eq!(reply.frames(), [body], "the reply is the request");
        assert_eq!(reply.routing_id(), to, "PEER: from the peer asked");
    }
}

/// ringmq's SERVER binds and echoes; libzmq's CLIENT asks.
fn server_row(tr: Tr) {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let s = ctx.server().into_socket();
        let ep = s.bind(&bind_endpoint(tr, "server")).unwrap();
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Client, "--connect", &ep, &["ask"]),
        );
        let id = echo_until_end(&s).await;
        assert!(id.is_some_and(|id| id != 0), "requests carry a routing id");
        peer.line(&p, "OK").await;
        peer.finish(&p).await;
    });
}

/// libzmq's SERVER binds and echoes; ringmq's CLIENT asks.
fn client_row(tr: Tr) {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let peer_ep = match tr {
            Tr::Tcp => format!("tcp://127.0.0.1:{}", common::free_port()),
            Tr::Ipc => common::ipc_endpoint("client"),
        };
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Server, "--bind", &peer_ep, &["echo"]),
        );
        let s = ctx.client().into_socket();
        s.connect(&peer.endpoint).unwrap();
        ask(&s, None).await;
        let from = peer.line(&p, "FROM ").await;
        assert_eq!(from.len(), "FROM ".len() + 8, "a u32 routing id: {from}");
        peer.finish(&p).await;
    });
}

#[test]
fn client_server_server_tcp() {
    server_row(Tr::Tcp);
}

#[test]
fn client_server_server_ipc() {
    server_row(Tr::Ipc);
}

#[test]
fn client_server_client_tcp() {
    client_row(Tr::Tcp);
}

#[test]
fn client_server_client_ipc() {
    client_row(Tr::Ipc);
}

const BURST: usize = 1000;

/// The byte total of the messages "0" .. "BURST-1".
fn burst_bytes() -> usize {
    (0..BURST).map(|i| i.to_string().len()).sum()
}

#[test]
fn scatter_gather_scatter_tcp() {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let s = ctx.scatter();
        let ep = s.bind("tcp://127.0.0.1:*").unwrap();
        let n = BURST.to_string();
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Gather, "--connect", &ep, &["recv", &n]),
        );
        for i in 0..BURST {
            s.send(i.to_string()).await.unwrap();
        }
        let got = peer.line(&p, "GOT ").await;
        assert_eq!(got, format!("GOT {BURST} {}", burst_bytes()));
        peer.finish(&p).await;
    });
}

#[test]
fn scatter_gather_gather_tcp() {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let g = ctx.gather();
        let ep = g.bind("tcp://127.0.0.1:*").unwrap();
        let n = BURST.to_string();
        let peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Scatter, "--connect", &ep, &["send", &n]),
        );
        let mut bytes = 0;
        for i in 0..BURST {
            let m = g.recv().await.unwrap();
            assert_eq!(m.frames(), [Bytes::from(i.to_string())], "in order");
            bytes += m.byte_len();
        }
        assert_eq!(bytes, burst_bytes());
        peer.finish(&p).await;
    });
}

/// ringmq's PEER binds and answers; libzmq's PEER `zmq_connect_peer`s and asks.
#[test]
fn peer_peer_bound_tcp() {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let s = ctx.peer().into_socket();
        let ep = s.bind("tcp://127.0.0.1:*").unwrap();
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Peer, "--connect", &ep, &["ask"]),
        );
        assert!(echo_until_end(&s).await.is_some());
        peer.line(&p, "OK").await;
        peer.finish(&p).await;
    });
}

/// libzmq's PEER binds and answers; ringmq's PEER `connect_peer`s and asks.
#[test]
fn peer_peer_connecting_ipc() {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let ep = common::ipc_endpoint("peer");
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Peer, "--bind", &ep, &["echo"]),
        );
        let s = ctx.peer();
        let id = s.connect_peer(&peer.endpoint).unwrap();
        ask(s.as_socket(), Some(id)).await;
        peer.line(&p, "FROM ").await;
        peer.finish(&p).await;
    });
}

#[test]
fn channel_channel_tcp() {
    common::uring(|ctx: Context<Native>| async move {
        let p = ctx.proactor().clone();
        let s = ctx.channel().into_socket();
        let ep = s.bind("tcp://127.0.0.1:*").unwrap();
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(SocketType::Channel, "--connect", &ep, &["ask"]),
        );
        assert_eq!(echo_until_end(&s).await, None);
        peer.line(&p, "OK").await;
        peer.finish(&p).await;
    });
}

/// The harness itself: two draft peers, a libzmq SERVER and CLIENT, complete the
/// standard request/reply payloads against each other (so a row that fails below
/// fails because of ringmq, not because of the peer).
#[test]
fn draft_peer_talks_to_itself() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let ep = format!("tcp://127.0.0.1:{}", common::free_port());
        let server = Peer::spawn(
            Impl::Draft,
            &["--type", "SERVER", "--bind", &ep, "echo"].map(String::from),
        );
        let mut client = Peer::spawn(
            Impl::Draft,
            &["--type", "CLIENT", "--connect", &ep, "ask"].map(String::from),
        );
        client.line(&p, "OK").await;
        client.finish(&p).await;
        server.finish(&p).await;
    });
}

/// HELLO_MSG and DISCONNECT_MSG on CLIENT / SERVER, ringmq as the SERVER: it greets
/// libzmq's CLIENT, hears the CLIENT's hello, and when the CLIENT leaves its
/// DISCONNECT_MSG arrives with the routing id the hello had.
#[test]
fn hello_and_disconnect_messages_server_tcp() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.server().into_socket();
        s.set_option(SocketOption::HelloMsg(Bytes::from_static(b"SHELLO")))
            .unwrap();
        s.set_option(SocketOption::DisconnectMsg(Bytes::from_static(b"GONE")))
            .unwrap();
        let ep = s.bind("tcp://127.0.0.1:*").unwrap();
        let args = ["--type", "CLIENT", "--connect", &ep];
        let mut peer = Peer::spawn(
            Impl::Draft,
            &[&args[..], &["--hello", "CHELLO", "recv", "1"]]
                .concat()
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
        );
        let hello = s.recv().await.unwrap();
        assert_eq!(hello.frames(), ["CHELLO"]);
        let id = hello.routing_id().expect("a routing id");
        assert_eq!(peer.line(&p, "GOT").await, "GOT 1 6", "our hello");
        peer.finish(&p).await;
        let gone = s.recv().await.unwrap();
        assert_eq!(gone.frames(), ["GONE"]);
        assert_eq!(gone.routing_id(), Some(id));
    });
}

/// The same with libzmq as the SERVER: it hears ringmq's CLIENT's hello and, when the
/// CLIENT closes, its own DISCONNECT_MSG; the CLIENT hears the SERVER's hello.
#[test]
fn hello_and_disconnect_messages_client_tcp() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let ep = format!("tcp://127.0.0.1:{}", common::free_port());
        let args = ["--type", "SERVER", "--bind", &ep];
        let mut peer = Peer::spawn(
            Impl::Draft,
            &[
                &args[..],
                &["--hello", "SHELLO", "--disconnect-msg", "GONE", "recv", "2"],
            ]
            .concat()
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        );
        let c = ctx.client().into_socket();
        c.set_option(SocketOption::HelloMsg(Bytes::from_static(b"CHELLO")))
            .unwrap();
        c.connect(&peer.endpoint).unwrap();
        assert_eq!(c.recv().await.unwrap().frames(), ["SHELLO"]);
        c.close().await;
        assert_eq!(peer.line(&p, "GOT").await, "GOT 2 10", "CHELLO, then GONE");
        peer.finish(&p).await;
    });
}
