//! `Stream` / `Sink` (feature `futures`) on sockets and handles, the poll API, and the
//! cancel safety that the rustdoc of `recv` and `send` promises.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::{stream, SinkExt, StreamExt};
use ringmq::proactor::{Proactor, Runtime};
use ringmq::{Context, Error, Message, RuntimeThread, SocketOption, SocketType};

/// Yields once: ready on its second poll.
async fn yield_once() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// `recv` raced against a yield 100,000 times: whenever the yield wins, the pending
/// `recv` is dropped. Every message still arrives exactly once and in order.
#[test]
fn recv_is_cancel_safe_through_100k_selects() {
    let rt = Runtime::new().unwrap();
    let p = rt.proactor();
    rt.block_on(async {
        let ctx = Context::new(p.clone());
        let pull = ctx.pull();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ctx.push();
        push.connect(&ep).unwrap();
        const N: u32 = 100_000;
        p.spawn_local(async move {
            for i in 0..N {
                push.send(i.to_le_bytes().to_vec()).await.unwrap();
            }
            push.close().await;
        });
        let (mut next, mut cancelled, mut selects) = (0u32, 0u32, 0u32);
        while next < N {
            selects += 1;
            let mut recv = pin!(pull.recv());
            let mut other = pin!(yield_once());
            let got = poll_fn(|cx| {
                if let Poll::Ready(m) = recv.as_mut().poll(cx) {
                    return Poll::Ready(Some(m));
                }
                if other.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            })
            .await;
            match got {
                Some(m) => {
                    let m = m.unwrap();
                    assert_eq!(m.frames()[0][..], next.to_le_bytes(), "in order, none lost");
                    next += 1;
                }
                None => cancelled += 1,
            }
        }
        assert!(selects >= N);
        assert!(cancelled > 0, "some receives were dropped while pending");
        assert!(
            matches!(pull.try_recv(), Err(Error::WouldBlock)),
            "none duplicated"
        );
    });
}

/// A `send` dropped while it waits for room loses its message: it was never queued.
#[test]
fn a_dropped_pending_send_loses_its_message() {
    let rt = Runtime::new().unwrap();
    let p = rt.proactor();
    rt.block_on(async {
        let ctx = Context::new(p.clone());
        let push = ctx.push();
        {
            // No peer at all: the send waits for one.
            let mut send = pin!(push.send("lost"));
            let pending = poll_fn(|cx| Poll::Ready(send.as_mut().poll(cx).is_pending())).await;
            assert!(pending);
        }
        let pull = ctx.pull();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        push.connect(&ep).unwrap();
        push.send("kept").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().frames()[0], "kept");
        let extra = within_200ms(&p, pull.recv()).await;
        assert!(extra.is_none(), "the dropped message never arrives");
    });
}

async fn within_200ms<P: Proactor, F: Future>(p: &P, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut sleep = pin!(p.sleep_until(p.now() + Duration::from_millis(200)));
    poll_fn(|cx| {
        if let Poll::Ready(x) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(x));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Typed sockets as `Stream` and `Sink`: `map`, `filter`, `take`, `send_all`; the
/// stream ends when the socket closes.
#[test]
fn sockets_are_streams_and_sinks() {
    let rt = Runtime::new().unwrap();
    let p = rt.proactor();
    rt.block_on(async {
        let ctx = Context::new(p.clone());
        let mut sub = ctx.subscriber();
        sub.subscribe(b"even").unwrap();
        let ep = sub.bind("tcp://127.0.0.1:*").unwrap();
        let mut publisher = ctx.publisher();
        let mon = publisher.monitor();
        publisher.connect(&ep).unwrap();
        while mon.recv().await.unwrap().kind != ringmq::MonitorEventKind::HandshakeSucceeded {}
        // The subscription travels after the handshake: send until one arrives.
        loop {
            publisher.send("even probe").await.unwrap();
            if within_200ms(&p, sub.recv()).await.is_some() {
                break;
            }
        }
        p.spawn_local(async move {
            let msgs = (0..200).map(|i| {
                let topic = if i % 2 == 0 { "even" } else { "odd" };
                Ok::<_, Error>(Message::from(format!("{topic} {i}")))
            });
            publisher.send_all(&mut stream::iter(msgs)).await.unwrap();
            publisher.close().await;
        });
        let numbers: Vec<u32> = (&mut sub)
            .map(|m| {
                let m = m.unwrap();
                let text = std::str::from_utf8(&m.frames()[0]).unwrap().to_owned();
                text.split_once(' ').unwrap().1.parse().unwrap()
            })
            .filter(|n: &u32| std::future::ready(*n < 100))
            .take(50)
            .collect()
            .await;
        assert_eq!(numbers, (0..100).step_by(2).collect::<Vec<_>>());

        // PUSH / PULL: a sink that waits at SNDHWM, a stream that ends on close.
        let pull = ctx.pull();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let mut push = ctx.push();
        push.set_option(SocketOption::SndHwm(5)).unwrap();
        push.connect(&ep).unwrap();
        p.spawn_local(async move {
            let msgs = (0..1000u32).map(|i| Ok::<_, Error>(Message::from(i.to_string())));
            push.send_all(&mut stream::iter(msgs)).await.unwrap();
            push.close().await;
        });
        let mut pull = pull;
        let mut n = 0u32;
        while n < 1000 {
            let m = pull.next().await.unwrap().unwrap();
            assert_eq!(m.frames()[0], n.to_string().as_bytes());
            n += 1;
        }
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    });
}

/// `SocketHandle` as `Stream` and `Sink` from tokio tasks.
#[test]
fn handles_are_streams_and_sinks() {
    let rt = RuntimeThread::spawn().unwrap();
    let mut pull = rt.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let mut push = rt.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    tokio.block_on(async move {
        let sender = tokio::spawn(async move {
            let msgs = (0..10_000u32).map(|i| Ok::<_, Error>(Message::from(i.to_string())));
            push.send_all(&mut stream::iter(msgs)).await.unwrap();
            push.close().await;
        });
        let sum: u64 = (&mut pull)
            .take(10_000)
            .map(|m| -> u64 {
                let m = m.unwrap();
                std::str::from_utf8(&m.frames()[0])
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .fold(0, |a, b| std::future::ready(a + b))
            .await;
        assert_eq!(sum, (0..10_000u64).sum::<u64>());
        sender.await.unwrap();
        pull.close().await;
        assert!(
            pull.next().await.is_none(),
            "the stream ends once the socket is closed"
        );
    });
}

/// REQ / REP handles through `Sink` / `Stream` (each send and receive a call on the
/// runtime thread).
#[test]
fn request_reply_handles_as_streams_and_sinks() {
    let rt = RuntimeThread::spawn().unwrap();
    let mut rep = rt.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let mut req = rt.socket(SocketType::Req).unwrap();
    req.connect(&ep).unwrap();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tokio.block_on(async move {
        let server = tokio::spawn(async move {
            for _ in 0..10 {
                let m = rep.next().await.unwrap().unwrap();
                rep.send(m).await.unwrap();
            }
        });
        for i in 0..10u32 {
            req.send(Message::from(i.to_string())).await.unwrap();
            assert_eq!(
                req.next().await.unwrap().unwrap().frames()[0],
                i.to_string().as_bytes()
            );
        }
        // REQ's state machine still speaks through the sink.
        req.send(Message::from("a")).await.unwrap();
        assert!(matches!(
            req.send(Message::from("b")).await,
            Err(Error::InvalidState { .. })
        ));
        server.await.unwrap();
    });
}
