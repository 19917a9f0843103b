//! The explicit batch API (`send_batch`, `try_send_batch`, `recv_many`,
//! `try_recv_many`): order, multipart atomicity, SNDHWM with partial batches, the
//! errors of the patterns, on every backend and over tcp, ipc and inproc.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Bytes, Context, Error, Message, SocketOption, SocketType};

/// Message `i` of a stream: every seventh is three frames, the others one.
fn numbered(i: usize) -> Message {
    if i % 7 == 3 {
        vec![
            Bytes::from(format!("{i}")),
            Bytes::new(),
            Bytes::from(vec![i as u8; 300]),
        ]
        .into()
    } else {
        Message::from(format!("{i}"))
    }
}

fn check_numbered(m: &Message, i: usize) {
    assert_eq!(m.frames()[0], format!("{i}").as_bytes(), "in order");
    if i % 7 == 3 {
        assert_eq!(m.len(), 3, "message {i} arrives whole");
        assert!(m.frames()[1].is_empty());
        assert_eq!(m.frames()[2].len(), 300);
        assert!(m.frames()[2].iter().all(|&b| b == i as u8));
    } else {
        assert_eq!(m.len(), 1, "message {i}");
    }
}

/// PUSH sends `n` messages in batches of `batch`, PULL takes them with `recv_many`
/// (at most `max` a call): all arrive, in order, multipart ones whole.
async fn batch_stream<P: Proactor>(ctx: &Context<P>, bind: &str, n: usize, batch: usize) {
    let pull = ctx.pull();
    let ep = pull.bind(bind).unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let send = async {
        let mut msgs = Vec::with_capacity(batch);
        let mut i = 0;
        while i < n {
            msgs.extend((i..(i + batch).min(n)).map(numbered));
            i = (i + batch).min(n);
            push.send_batch(&mut msgs).await.unwrap();
            assert!(msgs.is_empty(), "send_batch takes every message");
        }
    };
    let recv = async {
        let mut out = Vec::new();
        let mut next = 0;
        let mut calls = 0;
        while next < n {
            let got = pull.recv_many(&mut out, 64).await.unwrap();
            assert!((1..=64).contains(&got), "{got} messages in one call");
            assert_eq!(got, out.len());
            for m in out.drain(..) {
                check_numbered(&m, next);
                next += 1;
            }
            calls += 1;
        }
        calls
    };
    let ((), calls) = join(send, recv).await;
    assert!(calls >= n / 64, "at most 64 a call: {calls} calls for {n}");
    let mut out = Vec::new();
    assert!(matches!(
        pull.try_recv_many(&mut out, 10),
        Err(Error::WouldBlock)
    ));
    assert!(out.is_empty());
}

async fn batch_tcp<P: Proactor>(ctx: Context<P>) {
    batch_stream(&ctx, "tcp://127.0.0.1:*", 20_000, 100).await;
}

async fn batch_ipc<P: Proactor>(ctx: Context<P>) {
    batch_stream(&ctx, &ipc_endpoint("batch"), 20_000, 1000).await;
}

async fn batch_inproc<P: Proactor>(ctx: Context<P>) {
    batch_stream(&ctx, "inproc://batch", 20_000, 37).await;
}

/// One batch far larger than the connection's output batch (256 KiB): what the
/// session cannot take waits in the peer's queue, in order, and everything arrives in
/// order (the tail of a run goes back to the queue last-first).
async fn batch_over_the_output_batch<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let mon = pull.monitor();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let p = ctx.proactor().clone();
    wait_handshakes(&p, &mon, 1).await;
    let n = 200;
    let body = Bytes::from(vec![9u8; 16 * 1024]);
    let mut msgs: Vec<Message> = (0..n)
        .map(|i| vec![Bytes::from(format!("{i}")), body.clone()].into())
        .collect();
    push.try_send_batch(&mut msgs).unwrap();
    let queued = push.stats().queued_out;
    assert!(
        queued > 0 && msgs.is_empty(),
        "{queued} queued, {} left: 3.2 MiB cannot all go into one output batch",
        msgs.len()
    );
    let mut out = Vec::new();
    let mut next = 0;
    while next < n {
        pull.recv_many(&mut out, 64).await.unwrap();
        for m in out.drain(..) {
            assert_eq!(m.frames()[0], format!("{next}").as_bytes(), "in order");
            assert_eq!(m.frames()[1].len(), 16 * 1024);
            next += 1;
        }
    }
}

/// A batch larger than the SNDHWM with nobody connected: `try_send_batch` takes up to
/// the HWM and leaves the rest, in order; `send_batch` times out with SNDTIMEO and
/// keeps every message that found no room.
async fn batch_respects_sndhwm<P: Proactor>(ctx: Context<P>) {
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(10)).unwrap();
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    push.connect(&format!("tcp://127.0.0.1:{}", free_port()))
        .unwrap();
    let mut msgs: Vec<Message> = (0..25).map(numbered).collect();
    assert_eq!(push.try_send_batch(&mut msgs).unwrap(), 10);
    assert_eq!(msgs.len(), 15);
    check_numbered(&msgs[0], 10);
    assert!(matches!(
        push.try_send_batch(&mut msgs),
        Err(Error::WouldBlock)
    ));
    assert_eq!(msgs.len(), 15, "a blocked batch keeps its messages");
    assert!(matches!(push.try_send("x"), Err(Error::WouldBlock)));
    push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(50))))
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(matches!(
        push.send_batch(&mut msgs).await,
        Err(Error::TimedOut)
    ));
    assert!(t0.elapsed() >= Duration::from_millis(45));
    assert_eq!(msgs.len(), 15);
    push.set_option(SocketOption::SndTimeo(Some(Duration::ZERO)))
        .unwrap();
    assert!(matches!(
        push.send_batch(&mut msgs).await,
        Err(Error::WouldBlock)
    ));
    assert_eq!(msgs.len(), 15);
    for (k, m) in msgs.iter().enumerate() {
        check_numbered(m, 10 + k);
    }
    let mut empty = Vec::new();
    assert_eq!(push.try_send_batch(&mut empty).unwrap(), 0);
    push.send_batch(&mut empty).await.unwrap();
}

/// A batch far larger than both HWMs waits for the reader and resumes: the PULL
/// reads nothing for a while, then everything arrives, in order.
async fn blocked_batch_resumes<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(5)).unwrap();
    // Small kernel buffers: what nobody reads cannot all wait in them.
    pull.set_option(SocketOption::RcvBuf(Some(4096))).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(5)).unwrap();
    push.set_option(SocketOption::SndBuf(Some(4096))).unwrap();
    push.connect(&ep).unwrap();
    let n = 5_000;
    let payload = Bytes::from(vec![1u8; 1000]);
    let mut msgs: Vec<Message> = (0..n)
        .map(|i| vec![Bytes::from(format!("{i}")), payload.clone()].into())
        .collect();
    let send = async {
        push.send_batch(&mut msgs).await.unwrap();
    };
    let recv = async {
        // Nothing is read until the PUSH's queue is at its SNDHWM: the batch waits.
        wait_until(
            &p,
            Duration::from_secs(10),
            "the PUSH at its SNDHWM",
            || push.stats().queued_out >= 5,
        )
        .await;
        assert!(
            push.stats().messages_out < n as u64,
            "the whole batch went out while nobody read"
        );
        let mut out = Vec::new();
        let mut next = 0;
        while next < n {
            pull.recv_many(&mut out, 1000).await.unwrap();
            for m in out.drain(..) {
                assert_eq!(m.frames()[0], format!("{next}").as_bytes());
                assert_eq!(m.frames()[1].len(), 1000);
                next += 1;
            }
        }
    };
    join(send, recv).await;
    assert!(msgs.is_empty());
}

/// REQ / REP keep their alternation inside a batch: the second request of a batch
/// fails (and is dropped with the error) and the rest stay; REP takes one request per
/// `recv_many`, then must reply.
async fn req_rep_batch_errors<P: Proactor>(ctx: Context<P>) {
    let rep = ctx.rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = ctx.req();
    req.connect(&ep).unwrap();
    let mut msgs: Vec<Message> = vec!["one".into(), "two".into(), "three".into()];
    assert!(matches!(
        req.send_batch(&mut msgs).await,
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(msgs.len(), 1, "one sent, one failed, one left");
    assert_eq!(msgs[0].frames()[0], "three");
    let mut out = Vec::new();
    assert_eq!(rep.recv_many(&mut out, 10).await.unwrap(), 1);
    assert_eq!(out[0].frames()[0], "one");
    assert!(matches!(
        rep.try_recv_many(&mut out, 10),
        Err(Error::InvalidState { .. })
    ));
    let mut replies = vec![Message::from("reply")];
    rep.send_batch(&mut replies).await.unwrap();
    out.clear();
    assert_eq!(req.recv_many(&mut out, 10).await.unwrap(), 1);
    assert_eq!(out[0].frames()[0], "reply");
    assert!(matches!(
        req.try_recv_many(&mut out, 10),
        Err(Error::InvalidState { .. })
    ));
    // The request left in the batch goes now.
    assert_eq!(req.try_send_batch(&mut msgs).unwrap(), 1);
    out.clear();
    assert_eq!(rep.recv_many(&mut out, 10).await.unwrap(), 1);
    assert_eq!(out[0].frames()[0], "three");
}

/// An empty message fails the batch at its place: those before it were sent, it is
/// dropped with the error, those after it stay.
async fn empty_message_in_batch<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let mut msgs = vec![
        Message::from("a"),
        Message::from("b"),
        Message::default(),
        Message::from("c"),
    ];
    assert!(matches!(
        push.send_batch(&mut msgs).await,
        Err(Error::EmptyMessage)
    ));
    assert_eq!(msgs.len(), 1);
    assert!(matches!(
        push.try_send_batch(&mut vec![Message::default()]),
        Err(Error::EmptyMessage)
    ));
    push.send_batch(&mut msgs).await.unwrap();
    let mut out = Vec::new();
    while out.len() < 3 {
        pull.recv_many(&mut out, 10).await.unwrap();
    }
    let got: Vec<_> = out.iter().map(|m| m.frames()[0].clone()).collect();
    assert_eq!(got, ["a", "b", "c"]);
}

/// DEALERs batch requests to a ROUTER, which takes them with their routing ids and
/// answers in one batch; each DEALER gets its own answers, in order.
async fn router_dealer_batch<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let router = ctx.router();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let mon = router.monitor();
    let a = ctx.dealer();
    a.set_option(SocketOption::RoutingId(Bytes::from_static(b"A")))
        .unwrap();
    a.connect(&ep).unwrap();
    let b = ctx.dealer();
    b.set_option(SocketOption::RoutingId(Bytes::from_static(b"B")))
        .unwrap();
    b.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 2).await;
    let n = 500;
    let mut ma: Vec<Message> = (0..n).map(|i| Message::from(format!("a{i}"))).collect();
    let mut mb: Vec<Message> = (0..n).map(|i| Message::from(format!("b{i}"))).collect();
    a.send_batch(&mut ma).await.unwrap();
    b.send_batch(&mut mb).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 2 * n {
        router.recv_many(&mut got, 128).await.unwrap();
    }
    let (mut na, mut nb) = (0, 0);
    for m in &got {
        assert_eq!(m.len(), 2, "routing id, then the body");
        let (id, body) = (&m.frames()[0], &m.frames()[1]);
        let k = if id == "A" { &mut na } else { &mut nb };
        assert_eq!(
            body,
            format!("{}{k}", if id == "A" { "a" } else { "b" }).as_bytes()
        );
        *k += 1;
    }
    assert_eq!((na, nb), (n, n));
    // Echo everything back in one batch (the first frame picks the peer).
    router.send_batch(&mut got).await.unwrap();
    for (dealer, tag) in [(&a, "a"), (&b, "b")] {
        let mut out = Vec::new();
        while out.len() < n {
            dealer.recv_many(&mut out, 1000).await.unwrap();
        }
        for (i, m) in out.iter().enumerate() {
            assert_eq!(m.frames()[0], format!("{tag}{i}").as_bytes());
        }
    }
}

/// `recv_many` honours RCVTIMEO; `max` 0 returns at once; a type without `recv`
/// says so.
async fn recv_many_limits<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let mut out = Vec::new();
    assert_eq!(pull.recv_many(&mut out, 0).await.unwrap(), 0);
    assert_eq!(pull.try_recv_many(&mut out, 0).unwrap(), 0);
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(30))))
        .unwrap();
    assert!(matches!(
        pull.recv_many(&mut out, 5).await,
        Err(Error::TimedOut)
    ));
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::ZERO)))
        .unwrap();
    assert!(matches!(
        pull.recv_many(&mut out, 5).await,
        Err(Error::WouldBlock)
    ));
    let push = ctx.socket(SocketType::Push);
    assert!(matches!(
        push.try_recv_many(&mut out, 5),
        Err(Error::NotSupported { .. })
    ));
    let sub = ctx.socket(SocketType::Sub);
    assert!(matches!(
        sub.try_send_batch(&mut vec![Message::from("x")]),
        Err(Error::NotSupported { .. })
    ));
    assert!(out.is_empty());
}

/// A draft type refuses a multipart message in a batch like `send` does: those
/// before it go, the rest stay.
async fn draft_batch_single_part<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let server = ctx.server();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let mon = server.monitor();
    let client = ctx.client();
    client.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 1).await;
    let multi: Message = vec![Bytes::from_static(b"x"), Bytes::from_static(b"y")].into();
    let mut msgs = vec![Message::from("1"), multi, Message::from("2")];
    assert!(matches!(
        client.send_batch(&mut msgs).await,
        Err(Error::NotSupported { .. })
    ));
    assert_eq!(msgs.len(), 1);
    client.send_batch(&mut msgs).await.unwrap();
    let mut out = Vec::new();
    while out.len() < 2 {
        server.recv_many(&mut out, 10).await.unwrap();
    }
    assert_eq!(out[0].frames()[0], "1");
    assert_eq!(out[1].frames()[0], "2");
    assert!(out[0].routing_id().is_some());
}

/// PUB never blocks: a batch far over a subscriber's SNDHWM is taken whole and what
/// the subscriber's queue could not hold is dropped and counted, as with `send`.
async fn pub_batch_drops_at_hwm<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    publisher.set_option(SocketOption::SndHwm(10)).unwrap();
    // Small kernel buffers, so that what nobody reads cannot all wait in them.
    publisher
        .set_option(SocketOption::SndBuf(Some(4096)))
        .unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = ctx.subscriber();
    sub.set_option(SocketOption::RcvHwm(10)).unwrap();
    sub.set_option(SocketOption::RcvBuf(Some(4096))).unwrap();
    sub.subscribe(b"").unwrap();
    sub.connect(&ep).unwrap();
    // Until the subscription arrived, everything is dropped: probe.
    let mut out = Vec::new();
    wait_for(&p, Duration::from_secs(10), "the subscription", || {
        let _ = publisher.try_send("probe");
        sub.try_recv_many(&mut out, 100).ok()
    })
    .await;
    let n = 20_000;
    let body = Bytes::from(vec![0u8; 1024]);
    let mut msgs: Vec<Message> = (0..n)
        .map(|i| vec![Bytes::from(format!("{i}")), body.clone()].into())
        .collect();
    publisher.send_batch(&mut msgs).await.unwrap();
    assert!(msgs.is_empty());
    let stats = publisher.stats();
    assert!(stats.drops.hwm > 0, "nobody read: some were dropped");
    // What arrives is in order.
    out.clear();
    let mut last: Option<usize> = None;
    while let Ok(Some(_)) = timeout(&p, Duration::from_millis(300), sub.recv_many(&mut out, 50))
        .await
        .transpose()
    {
        for m in out.drain(..) {
            if m.frames()[0] == "probe" {
                continue;
            }
            let i: usize = std::str::from_utf8(&m.frames()[0])
                .unwrap()
                .parse()
                .unwrap();
            assert!(last.is_none_or(|l| i > l), "{i} after {last:?}");
            last = Some(i);
        }
    }
    assert!(last.is_some(), "some of the batch arrived");
}

backend_tests!(
    batch_tcp,
    batch_over_the_output_batch,
    batch_ipc,
    batch_inproc,
    batch_respects_sndhwm,
    blocked_batch_resumes,
    req_rep_batch_errors,
    empty_message_in_batch,
    router_dealer_batch,
    recv_many_limits,
    draft_batch_single_part,
    pub_batch_drops_at_hwm,
);
