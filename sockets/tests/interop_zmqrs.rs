//! PUB/SUB interop with zmq.rs (crate `zeromq` 0.4, a ZMTP 3.0 peer on tokio), both
//! directions. zmq.rs greets with version 3.0, so subscriptions travel as data frames
//! (`\x01topic`), not as the SUBSCRIBE commands of 3.1:
//! - ringmq PUB -> zmq.rs SUB: zmq.rs sends `\x01topic` messages and does no filtering
//!   of its own, so the exact filtered count proves ringmq parsed them;
//! - zmq.rs PUB -> ringmq SUB: zmq.rs fails the connection on any command but READY
//!   ("Unknown command received"), so a SUBSCRIBE command (or a PING) from ringmq would
//!   end it; the exact filtered count proves ringmq sent the 3.0 form.
//!
//! Observed about zmq.rs 0.4.1 (see also docs/ZMTP_NOTES.md):
//! - it announces ZMTP 3.0 and NULL only, and sends no PING, nor answers one (PING is
//!   an unknown command to it, which ends the connection): no heartbeats with zmq.rs;
//! - its PUB asserts that every incoming message has exactly one frame (a panic in
//!   its task otherwise);
//! - its SUB filters nothing locally;
//! - its PUB writes from `send` with a no-op waker and silently drops messages once a
//!   write would block (until tokio's reactor runs again), and has no linger: a burst
//!   from a current-thread runtime loses messages unless the sender yields (we sleep
//!   1 ms every 16 messages and repeat END).
//!
//! zmq.rs runs on a tokio current-thread runtime in its own thread; the two sides talk
//! over std channels, polled without blocking ringmq's runtime.

mod common;

use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ringmq_proactor::Proactor;
use ringmq_sockets::Bytes;
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

const TOPICS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
const SUBS: [&str; 3] = ["alp", "gamma", "END"];
const PUBLISHED: usize = 400;

fn expected_filtered() -> (usize, usize) {
    (0..PUBLISHED)
        .map(|i| format!("{}-{i}", TOPICS[i % 4]))
        .filter(|t| SUBS.iter().any(|s| t.starts_with(s)))
        .fold((0, 0), |(n, b), t| (n + 1, b + t.len()))
}

fn tokio_thread<T: Send + 'static>(
    f: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async move {
            tokio::time::timeout(Duration::from_secs(30), f())
                .await
                .expect("the zmq.rs side did not finish within 30 s")
        })
    })
}

/// Polls `rx` without blocking the ringmq runtime.
async fn next<P: Proactor, T>(p: &P, rx: &Receiver<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.try_recv() {
            Ok(x) => return x,
            Err(TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "the zmq.rs side is silent");
                common::sleep(p, Duration::from_millis(2)).await;
            }
            Err(TryRecvError::Disconnected) => panic!("the zmq.rs side ended (see its panic)"),
        }
    }
}

#[test]
fn ringmq_pub_to_zmqrs_sub() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let publisher = ctx.publisher();
        let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
        let (tx, rx) = channel::<&'static str>();
        let zmqrs = tokio_thread(move || {
            Box::pin(async move {
                let mut sub = zeromq::SubSocket::new();
                for t in SUBS {
                    sub.subscribe(t).await.expect("subscribe");
                }
                sub.connect(&ep).await.expect("zmq.rs connect");
                let (mut seen, mut synced) = ([false; SUBS.len()], false);
                let (mut count, mut bytes) = (0, 0);
                loop {
                    let m: ZmqMessage = sub.recv().await.expect("zmq.rs recv");
                    let first = m.get(0).expect("a frame").clone();
                    if first.ends_with(b"-SYNC") {
                        for (i, t) in SUBS.iter().enumerate() {
                            seen[i] |= first.starts_with(t.as_bytes());
                        }
                        if !synced && seen.iter().all(|s| *s) {
                            synced = true;
                            tx.send("SYNCED").unwrap();
                        }
                        continue;
                    }
                    if first == "END" {
                        break;
                    }
                    assert!(
                        SUBS.iter().any(|t| first.starts_with(t.as_bytes())),
                        "zmq.rs got an unsubscribed topic: {first:?}"
                    );
                    count += 1;
                    bytes += m.iter().map(Bytes::len).sum::<usize>();
                }
                (count, bytes)
            })
        });
        loop {
            match rx.try_recv() {
                Ok(_) => break,
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => panic!("zmq.rs side ended: {:?}", zmqrs.join()),
            }
            for t in TOPICS.iter().chain(&["END"]) {
                publisher.send(format!("{t}-SYNC")).await.unwrap();
            }
            common::sleep(&p, Duration::from_millis(10)).await;
        }
        for i in 0..PUBLISHED {
            publisher
                .send(vec![
                    Bytes::from(format!("{}-{i}", TOPICS[i % 4])),
                    Bytes::new(),
                ])
                .await
                .unwrap();
        }
        publisher.send("END").await.unwrap();
        // Wait for the zmq.rs thread without blocking our runtime.
        while !zmqrs.is_finished() {
            common::sleep(&p, Duration::from_millis(5)).await;
        }
        assert_eq!(zmqrs.join().expect("zmq.rs side"), expected_filtered());
    });
}

#[test]
fn zmqrs_pub_to_ringmq_sub() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let sub = ctx.subscriber();
        for t in SUBS {
            sub.subscribe(t.as_bytes()).unwrap();
        }
        let (ep_tx, ep_rx) = channel::<String>();
        let (go_tx, go_rx) = channel::<()>();
        let zmqrs = tokio_thread(move || {
            Box::pin(async move {
                let mut publisher = zeromq::PubSocket::new();
                let ep = publisher
                    .bind("tcp://127.0.0.1:0")
                    .await
                    .expect("zmq.rs bind");
                ep_tx.send(ep.to_string()).unwrap();
                while go_rx.try_recv().is_err() {
                    for t in TOPICS.iter().chain(&["END"]) {
                        publisher
                            .send(ZmqMessage::from(format!("{t}-SYNC")))
                            .await
                            .expect("zmq.rs send");
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                for i in 0..PUBLISHED {
                    let m = ZmqMessage::try_from(vec![
                        Bytes::from(format!("{}-{i}", TOPICS[i % 4])),
                        Bytes::new(),
                    ])
                    .expect("a message");
                    publisher.send(m).await.expect("zmq.rs send");
                    // zmq.rs's PUB writes with a no-op waker and silently drops what
                    // does not fit once a write would block: let tokio's reactor run.
                    if i % 16 == 15 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                // END may sit in zmq.rs's buffer until the next send flushes it (and it
                // has no linger): send it a few times, spaced out (we stop at the first).
                for _ in 0..5 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    publisher.send("END".into()).await.expect("zmq.rs send");
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            })
        });
        let ep = next(&p, &ep_rx).await;
        let mon = sub.monitor();
        sub.connect(&ep).unwrap();
        let (mut seen, mut synced) = ([false; SUBS.len()], false);
        let (mut count, mut bytes) = (0, 0);
        loop {
            let m = sub.recv().await.unwrap();
            let first = &m.frames()[0];
            if first.ends_with(b"-SYNC") {
                for (i, t) in SUBS.iter().enumerate() {
                    seen[i] |= first.starts_with(t.as_bytes());
                }
                if !synced && seen.iter().all(|s| *s) {
                    synced = true;
                    go_tx.send(()).unwrap();
                }
                continue;
            }
            if first == "END" {
                break;
            }
            assert!(
                SUBS.iter().any(|t| first.starts_with(t.as_bytes())),
                "ringmq got an unsubscribed topic: {m:?}"
            );
            count += 1;
            bytes += m.byte_len();
        }
        assert_eq!((count, bytes), expected_filtered());
        // The single connection was never dropped (a SUBSCRIBE command or a PING would
        // have ended it).
        while let Some(e) = mon.try_recv() {
            assert!(
                !matches!(
                    e.kind,
                    ringmq_sockets::MonitorEventKind::Disconnected { .. }
                        | ringmq_sockets::MonitorEventKind::HandshakeFailed { .. }
                ),
                "{e:?}"
            );
        }
        while !zmqrs.is_finished() {
            common::sleep(&p, Duration::from_millis(5)).await;
        }
        zmqrs.join().expect("zmq.rs side");
    });
}
