//! PUSH / PULL: delivery over TCP and IPC, round-robin, fair-queueing, HWM, linger,
//! connect before bind, reconnect.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{Context, Error, MonitorEventKind, SocketOption, SocketType};
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, Session, SessionConfig};

async fn push_pull_count<P: Proactor>(ctx: &Context<P>, bind: &str, n: usize) {
    let pull = ctx.pull();
    let ep = pull.bind(bind).unwrap();
    assert_eq!(pull.last_endpoint().as_deref(), Some(ep.as_str()));
    let push = ctx.push();
    push.connect(&ep).unwrap();
    for i in 0..n {
        push.send(format!("msg {i}")).await.unwrap();
    }
    for i in 0..n {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m.frames()[0], format!("msg {i}").as_bytes(), "in order");
    }
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}

async fn push_pull_tcp<P: Proactor>(ctx: Context<P>) {
    push_pull_count(&ctx, "tcp://127.0.0.1:*", 10_000).await;
}

async fn push_pull_ipc<P: Proactor>(ctx: Context<P>) {
    push_pull_count(&ctx, &ipc_endpoint("pp"), 10_000).await;
}

async fn multipart_and_large<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let big = vec![7u8; 1 << 20];
    for _ in 0..5 {
        let msg: ringmq_sockets::Message = vec![
            ringmq_sockets::Bytes::from_static(b"head"),
            ringmq_sockets::Bytes::new(),
            ringmq_sockets::Bytes::from(big.clone()),
        ]
        .into();
        push.send(msg).await.unwrap();
    }
    for _ in 0..5 {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m.frames()[0], "head");
        assert!(m.frames()[1].is_empty());
        assert_eq!(m.frames()[2].len(), big.len());
        assert!(m.frames()[2].iter().all(|&b| b == 7));
    }
}

async fn push_round_robin<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    let mon = push.monitor();
    let ep = push.bind("tcp://127.0.0.1:*").unwrap();
    let a = ctx.pull();
    let b = ctx.pull();
    a.connect(&ep).unwrap();
    b.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 2).await;
    for i in 0..100 {
        push.send(format!("{i}")).await.unwrap();
    }
    let mut counts = [0, 0];
    for _ in 0..100 {
        let r = wait_for(&p, WAIT, "all 100 messages arrive", || {
            if a.try_recv().is_ok() {
                return Some(0);
            }
            b.try_recv().is_ok().then_some(1)
        })
        .await;
        counts[r] += 1;
    }
    assert_eq!(counts, [50, 50], "round-robin splits evenly");
}

async fn pull_fair_queue<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    let mon = pull.monitor();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let a = ctx.push();
    let b = ctx.push();
    a.connect(&ep).unwrap();
    b.connect(&ep).unwrap();
    wait_handshakes(&p, &mon, 2).await;
    for i in 0..100 {
        a.send(format!("a{i}")).await.unwrap();
        b.send(format!("b{i}")).await.unwrap();
    }
    // Both streams arrive completely before reading: each PUSH writes everything before
    // its close ends the connection, and PULL reads everything before it sees the end.
    a.close().await;
    b.close().await;
    for _ in 0..2 {
        wait_disconnected(&p, &mon).await;
    }
    let mut from_a = 0;
    let mut first: Vec<u8> = Vec::new();
    for i in 0..200 {
        let m = pull.recv().await.unwrap();
        let tag = m.frames()[0][0];
        if i < 20 {
            first.push(tag);
        }
        if tag == b'a' {
            from_a += 1;
        }
    }
    assert_eq!(from_a, 100);
    let a_first = first.iter().filter(|&&t| t == b'a').count();
    assert_eq!(
        a_first,
        10,
        "fair queue alternates: {:?}",
        String::from_utf8_lossy(&first)
    );
}

async fn connect_before_bind<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let push = ctx.push();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    for i in 0..10 {
        push.send(format!("{i}")).await.unwrap();
    }
    // The queue survives refused connection attempts.
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
    })
    .await;
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectRetried { .. })
    })
    .await;
    let pull = ctx.pull();
    pull.bind(&ep).unwrap();
    for i in 0..10 {
        assert_eq!(
            pull.recv().await.unwrap().frames()[0],
            format!("{i}").as_bytes()
        );
    }
}

async fn reconnect_after_restart<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(20)))
        .unwrap();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    push.send("before").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "before");
    pull.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    pull.close().await;
    wait_disconnected(&p, &mon).await;
    // The monitor reports the reconnect.
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectRetried { .. })
    })
    .await;
    for i in 0..5 {
        push.send(format!("queued {i}")).await.unwrap();
    }
    // PUSH also sees a refused reconnect before the new PULL binds.
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
    })
    .await;
    let pull = ctx.pull();
    pull.bind(&ep).unwrap();
    for i in 0..5 {
        let m = pull.recv().await.unwrap();
        assert_eq!(m.frames()[0], format!("queued {i}").as_bytes());
    }
}

async fn sndhwm_blocks_push<P: Proactor>(ctx: Context<P>) {
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(10)).unwrap();
    push.connect(&format!("tcp://127.0.0.1:{}", free_port()))
        .unwrap();
    for i in 0..10 {
        push.try_send(format!("{i}")).unwrap();
    }
    assert!(matches!(push.try_send("x"), Err(Error::WouldBlock)));
    push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(50))))
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(matches!(push.send("x").await, Err(Error::TimedOut)));
    assert!(t0.elapsed() >= Duration::from_millis(45));
    push.set_option(SocketOption::SndTimeo(Some(Duration::ZERO)))
        .unwrap();
    assert!(matches!(push.send("x").await, Err(Error::WouldBlock)));
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
}

async fn blocked_send_resumes_when_peer_reads<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    pull.set_option(SocketOption::RcvHwm(5)).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::SndHwm(5)).unwrap();
    push.connect(&ep).unwrap();
    // Far more than both HWMs and the socket buffers hold: send must wait for PULL.
    let n = 20_000;
    let payload = vec![1u8; 1000];
    // Nobody reads yet: send until one send makes no progress for a while.
    let mut sent = 0;
    let mut blocked = loop {
        let mut send = Box::pin(push.send(payload.clone()));
        // A timing check: a send still pending after this long is blocked.
        match timeout(&p, Duration::from_millis(200), send.as_mut()).await {
            Some(r) => r.unwrap(),
            None => break send,
        }
        sent += 1;
        assert!(
            sent < n,
            "all {n} messages were sent while nobody read: send never blocked"
        );
    };
    assert!(
        matches!(push.try_send("x"), Err(Error::WouldBlock)),
        "the queue is full while the send waits"
    );
    assert!(poll_once(&mut blocked).await.is_pending(), "still blocked");
    // Now PULL reads: the blocked send completes, then all the others.
    let sender = async {
        blocked.await.unwrap();
        for _ in sent + 1..n {
            push.send(payload.clone()).await.unwrap();
        }
    };
    let receiver = async {
        for _ in 0..n {
            pull.recv().await.unwrap();
        }
        assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
    };
    let both = join(sender, receiver);
    timeout(&p, Duration::from_secs(30), both)
        .await
        .expect("backpressure resolves once PULL reads");
}

async fn linger_delivers_on_close<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    for i in 0..1000 {
        push.send(format!("{i}")).await.unwrap();
    }
    push.close().await;
    for i in 0..1000 {
        assert_eq!(
            pull.recv().await.unwrap().frames()[0],
            format!("{i}").as_bytes()
        );
    }
}

/// A hand-driven PULL peer on a raw stream: completes the handshake as far as the other
/// side lets it (its greeting and READY are already in the stream) and returns the
/// messages that arrive before the stream ends.
async fn raw_pull_until_end<P: Proactor>(p: &P, stream: P::Stream) -> Vec<Vec<u8>> {
    let (mut r, mut w) = p.split(stream);
    let mut s = Session::new(
        SessionConfig::new(SocketType::Pull),
        Box::new(Null::new()),
        p.now(),
    )
    .unwrap();
    let mut got = Vec::new();
    let mut writable = true;
    loop {
        while let Some(t) = s.poll_transmit() {
            let mut data = t.to_vec();
            // Writing to a closed peer fails: read what it sent anyway.
            while writable && !data.is_empty() {
                let BufResult(n, d) = p.send(&mut w, data).await;
                data = match n {
                    Ok(n) if n > 0 => d[n..].to_vec(),
                    _ => {
                        writable = false;
                        Vec::new()
                    }
                };
            }
        }
        while let Some(e) = s.poll_event() {
            if let Event::Message(m) = e {
                got.push(m.iter().flat_map(|f| f.to_vec()).collect());
            }
        }
        let BufResult(n, buf) = p.recv(&mut r, Vec::with_capacity(4096)).await;
        match n {
            Ok(n) if n > 0 => s.handle_input(p.now(), &buf[..n]),
            _ => return got,
        }
    }
}

async fn linger_zero_drops_on_close<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    // The peer's port accepts TCP connections, but the peer answers nothing yet: PUSH
    // can only queue.
    let ep = format!("tcp://127.0.0.1:{}", free_port());
    let listener = p.listen(&ep.parse().unwrap()).unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    wait_event(&p, &mon, |e| e.kind == MonitorEventKind::Connected).await;
    push.send("lost").await.unwrap();
    timeout(&p, Duration::from_secs(1), push.close())
        .await
        .expect("close with LINGER 0 returns at once");
    // The peer comes up now: it completes its side of the handshake, then reads until
    // the stream ends (which bounds the wait). A PUSH still holding the message would
    // deliver it now; LINGER 0 dropped it with the connection.
    let (stream, _) = timeout(&p, WAIT, p.accept(&listener))
        .await
        .expect("PUSH's connection is in the backlog")
        .unwrap();
    let got = timeout(&p, WAIT, raw_pull_until_end(&p, stream))
        .await
        .expect("the closed PUSH's connection ends");
    assert!(got.is_empty(), "delivered after close: {got:?}");
}

async fn pull_rcvtimeo<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::from_millis(30))))
        .unwrap();
    let t0 = std::time::Instant::now();
    assert!(matches!(pull.recv().await, Err(Error::TimedOut)));
    assert!(
        t0.elapsed() >= Duration::from_millis(27),
        "{:?}",
        t0.elapsed()
    );
    pull.set_option(SocketOption::RcvTimeo(Some(Duration::ZERO)))
        .unwrap();
    assert!(matches!(pull.recv().await, Err(Error::WouldBlock)));
}

async fn push_pull_ipc_abstract<P: Proactor>(ctx: Context<P>) {
    let name = ipc_endpoint("abstract");
    let name = name.rsplit('/').next().unwrap();
    push_pull_count(&ctx, &format!("ipc://@{name}"), 100).await;
}

async fn hundred_pushers_one_pull<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let pushers: Vec<_> = (0..100).map(|_| ctx.push()).collect();
    for (i, push) in pushers.iter().enumerate() {
        push.connect(&ep).unwrap();
        for j in 0..10 {
            push.send(format!("{i}.{j}")).await.unwrap();
        }
    }
    let mut next = vec![0; 100];
    for _ in 0..1000 {
        let m = pull.recv().await.unwrap();
        let s = std::str::from_utf8(&m.frames()[0]).unwrap().to_owned();
        let (i, j) = s.split_once('.').unwrap();
        let (i, j): (usize, usize) = (i.parse().unwrap(), j.parse().unwrap());
        assert_eq!(next[i], j, "per-peer order");
        next[i] += 1;
    }
    assert!(next.iter().all(|&n| n == 10));
}

async fn drop_without_close_still_delivers<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    {
        let push = ctx.push();
        push.connect(&ep).unwrap();
        for i in 0..100 {
            push.send(format!("{i}")).await.unwrap();
        }
    }
    for i in 0..100 {
        assert_eq!(
            pull.recv().await.unwrap().frames()[0],
            format!("{i}").as_bytes()
        );
    }
}

async fn linger_expires<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    push.set_option(SocketOption::Linger(Some(Duration::from_millis(100))))
        .unwrap();
    push.connect(&format!("tcp://127.0.0.1:{}", free_port()))
        .unwrap();
    push.send("undeliverable").await.unwrap();
    let t0 = std::time::Instant::now();
    timeout(&p, Duration::from_secs(5), push.close())
        .await
        .expect("close returns once LINGER expires");
    assert!(
        t0.elapsed() >= Duration::from_millis(90),
        "{:?}",
        t0.elapsed()
    );
}

backend_tests!(
    drop_without_close_still_delivers,
    linger_expires,
    push_pull_ipc_abstract,
    hundred_pushers_one_pull,
    push_pull_tcp,
    push_pull_ipc,
    multipart_and_large,
    push_round_robin,
    pull_fair_queue,
    connect_before_bind,
    reconnect_after_restart,
    sndhwm_blocks_push,
    blocked_send_resumes_when_peer_reads,
    linger_delivers_on_close,
    linger_zero_drops_on_close,
    pull_rcvtimeo,
);
