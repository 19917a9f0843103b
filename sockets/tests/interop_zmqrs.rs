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
//!   from a current-thread runtime loses messages unless the sender lets the reactor
//!   run (every 16 messages we wait until ringmq received the latest ones, and repeat
//!   END until ringmq has it).
//!
//! zmq.rs runs on a tokio current-thread runtime in its own thread; the two sides talk
//! over std channels, polled without blocking ringmq's runtime.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

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

/// How long either side waits for the other.
const LIMIT: Duration = Duration::from_secs(30);

/// `rx`'s next value if one is there; panics if the zmq.rs side is gone.
fn try_next<T>(rx: &Receiver<T>) -> Option<T> {
    match rx.try_recv() {
        Ok(x) => Some(x),
        Err(TryRecvError::Empty) => None,
        Err(TryRecvError::Disconnected) => panic!("the zmq.rs side ended (see its panic)"),
    }
}

/// Polls `rx` without blocking the ringmq runtime.
async fn next<P: Proactor, T>(p: &P, rx: &Receiver<T>) -> T {
    common::wait_for(p, LIMIT, "the zmq.rs side", || try_next(rx)).await
}

/// Waits for the zmq.rs thread to end without blocking the ringmq runtime.
async fn finished<P: Proactor, T>(p: &P, t: &std::thread::JoinHandle<T>) {
    common::wait_until(p, LIMIT, "the zmq.rs side to finish", || t.is_finished()).await;
}

/// On the tokio side: checks `cond` every millisecond (letting tokio's reactor run)
/// for at most `limit`; whether it held.
async fn tokio_wait(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
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
        // Rounds of probes until zmq.rs says SYNCED (each round waits for it 10 ms).
        let deadline = std::time::Instant::now() + LIMIT;
        loop {
            for t in TOPICS.iter().chain(&["END"]) {
                publisher.send(format!("{t}-SYNC")).await.unwrap();
            }
            let round = Duration::from_millis(10);
            if common::poll_within(&p, round, || try_next(&rx))
                .await
                .is_some()
            {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "zmq.rs did not sync");
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
        finished(&p, &zmqrs).await;
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
        // What ringmq has received: the index of the latest data message (+1), and END.
        let latest = Arc::new(AtomicUsize::new(0));
        let got_end = Arc::new(AtomicBool::new(false));
        let (latest_z, got_end_z) = (latest.clone(), got_end.clone());
        let zmqrs = tokio_thread(move || {
            Box::pin(async move {
                let mut publisher = zeromq::PubSocket::new();
                let ep = publisher
                    .bind("tcp://127.0.0.1:0")
                    .await
                    .expect("zmq.rs bind");
                ep_tx.send(ep.to_string()).unwrap();
                // Rounds of probes until ringmq says go (each round waits for it 10 ms).
                let round = Duration::from_millis(10);
                loop {
                    for t in TOPICS.iter().chain(&["END"]) {
                        publisher
                            .send(ZmqMessage::from(format!("{t}-SYNC")))
                            .await
                            .expect("zmq.rs send");
                    }
                    if tokio_wait(round, || go_rx.try_recv().is_ok()).await {
                        break;
                    }
                }
                for i in 0..PUBLISHED {
                    let m = ZmqMessage::try_from(vec![
                        Bytes::from(format!("{}-{i}", TOPICS[i % 4])),
                        Bytes::new(),
                    ])
                    .expect("a message");
                    publisher.send(m).await.expect("zmq.rs send");
                    // zmq.rs's PUB writes with a no-op waker and silently drops what
                    // does not fit once a write would block: every 16 messages, let
                    // tokio's reactor run until ringmq got one of the last 4 (two of
                    // every 4 topics pass its subscriptions).
                    if i % 16 == 15 {
                        let caught_up =
                            tokio_wait(LIMIT, || latest_z.load(Ordering::SeqCst) > i - 3).await;
                        assert!(
                            caught_up,
                            "ringmq did not receive message {i} or just before"
                        );
                    }
                }
                // END may sit in zmq.rs's buffer until the next send flushes it (and it
                // has no linger): send it until ringmq has it (it stops at the first).
                let deadline = tokio::time::Instant::now() + LIMIT;
                loop {
                    publisher.send("END".into()).await.expect("zmq.rs send");
                    if tokio_wait(Duration::from_millis(50), || {
                        got_end_z.load(Ordering::SeqCst)
                    })
                    .await
                    {
                        break;
                    }
                    assert!(tokio::time::Instant::now() < deadline, "END never arrived");
                }
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
                got_end.store(true, Ordering::SeqCst);
                break;
            }
            assert!(
                SUBS.iter().any(|t| first.starts_with(t.as_bytes())),
                "ringmq got an unsubscribed topic: {m:?}"
            );
            let index: usize = std::str::from_utf8(first)
                .ok()
                .and_then(|t| t.rsplit('-').next()?.parse().ok())
                .unwrap_or_else(|| panic!("a numbered message: {m:?}"));
            latest.fetch_max(index + 1, Ordering::SeqCst);
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
        finished(&p, &zmqrs).await;
        zmqrs.join().expect("zmq.rs side");
    });
}
