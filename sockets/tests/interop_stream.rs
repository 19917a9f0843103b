//! STREAM against libzmq's STREAM (4.3.5 through pyzmq, `tests/peers/pyzmq_peer.py
//! stream`): each side sees the other's raw bytes, the connect notification, and the
//! close. A missing pyzmq FAILS these tests with instructions.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::time::Duration;

use common::args;
use peer::{Impl, Peer};
use ringmq_sockets::{Bytes, Context, Message, StreamSocket};

fn run<F: std::future::Future<Output = ()>>(f: impl FnOnce(Context<ringmq_proactor::Native>) -> F) {
    common::run_for(Duration::from_secs(30), f)
}

/// Talks to the libzmq STREAM echo: waits for its connect notification, sends a few
/// payloads (each echoed as raw bytes, maybe split or merged by TCP), then closes with
/// a zero-length frame.
async fn exchange(s: &StreamSocket<ringmq_proactor::Native>) {
    let first = s.recv().await.unwrap();
    assert!(first.frames()[1].is_empty(), "connect notification first");
    let id = first.frames()[0].clone();
    for payload in [&b"ping"[..], b"with\0nul", &[7u8; 100_000][..]] {
        let m: Message = vec![id.clone(), Bytes::copy_from_slice(payload)].into();
        s.send(m).await.unwrap();
        let mut got = Vec::new();
        while got.len() < payload.len() {
            let m = s.recv().await.unwrap();
            assert_eq!(m.frames()[0], id);
            got.extend_from_slice(&m.frames()[1]);
        }
        assert_eq!(got, payload, "echoed byte for byte");
    }
    let close: Message = vec![id, Bytes::new()].into();
    s.send(close).await.unwrap();
}

#[test]
fn ringmq_stream_connects_to_libzmq_stream() {
    let mut peer = Peer::spawn(
        Impl::Pyzmq,
        &args(&["--type", "STREAM", "--bind", "tcp://127.0.0.1:*", "stream"]),
    );
    run(|ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.stream();
        s.connect(&peer.endpoint).unwrap();
        exchange(&s).await;
        assert_eq!(peer.line(&p, "C").await, "CONNECTED");
        assert_eq!(peer.line(&p, "C").await, "CLOSED");
        peer.finish(&p).await;
    });
}

#[test]
fn libzmq_stream_connects_to_ringmq_stream() {
    run(|ctx| async move {
        let p = ctx.proactor().clone();
        let s = ctx.stream();
        let ep = s.bind("tcp://127.0.0.1:*").unwrap();
        let mut peer = Peer::spawn(
            Impl::Pyzmq,
            &args(&["--type", "STREAM", "--connect", &ep, "stream"]),
        );
        exchange(&s).await;
        assert_eq!(peer.line(&p, "C").await, "CONNECTED");
        assert_eq!(peer.line(&p, "C").await, "CLOSED");
        peer.finish(&p).await;
    });
}
