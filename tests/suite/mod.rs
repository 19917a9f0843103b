//! The conformance suite of the `Proactor` trait: one body per behaviour, generic over
//! the engine. `tests/conformance.rs` instantiates every body for every backend.
#![allow(dead_code)] // each test binary uses the part of the suite it needs

pub mod util;

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq_proactor::test_util;
use ringmq_proactor::{BufResult, Endpoint, IoBuf, Proactor};

use util::*;

/// Echo over a TCP loopback connection: several messages, then a half-close.
pub async fn echo_tcp<P: Proactor>(p: P) {
    echo(&p, &tcp_ep()).await;
}

/// Echo over IPC, on a filesystem path and in the abstract namespace.
pub async fn echo_ipc<P: Proactor>(p: P) {
    echo(&p, &ipc_path_ep()).await;
    echo(&p, &ipc_abstract_ep()).await;
}

async fn echo<P: Proactor>(p: &P, ep: &Endpoint) {
    let l = p.listen(ep).expect("listen");
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    let server = spawn_result(p, {
        let p = p.clone();
        async move {
            let (s, _) = p.accept(&l).await?;
            let (mut r, mut w) = p.split(s);
            let mut total = 0;
            loop {
                let BufResult(res, buf) = p.recv(&mut r, Vec::with_capacity(4096)).await;
                if res? == 0 {
                    break;
                }
                total += buf.len();
                send_all(&p, &mut w, buf).await?;
            }
            p.shutdown(&mut w).await?;
            io::Result::Ok(total)
        }
    });
    let s = p.connect(&ep).await.expect("connect");
    let (mut r, mut w) = p.split(s);
    let mut sent = Vec::new();
    for i in 0..20u32 {
        let msg = format!("message {i} over {ep}").into_bytes();
        sent.extend_from_slice(&msg);
        send_all(p, &mut w, msg.clone()).await.expect("send");
        let back = recv_exact(p, &mut r, msg.len()).await.expect("recv echo");
        assert_eq!(back, msg, "echo of message {i}");
    }
    p.shutdown(&mut w).await.expect("shutdown");
    let rest = recv_to_end(p, &mut r).await.expect("recv after shutdown");
    assert!(rest.is_empty(), "unexpected bytes after the echoes");
    let echoed = server.await.expect("server task");
    assert_eq!(echoed, sent.len());
}

/// 1,000 connections open at once on loopback, each echoing its own id.
pub async fn thousand_connections<P: Proactor>(p: P) {
    const N: usize = 1000;
    test_util::raise_nofile_limit(8192).expect("RLIMIT_NOFILE");
    let l = p.listen(&tcp_ep()).expect("listen");
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    let open = Rc::new(Cell::new(0usize));
    let peak = Rc::new(Cell::new(0usize));
    p.spawn_local({
        let p = p.clone();
        let (open, peak) = (open.clone(), peak.clone());
        async move {
            while let Ok((s, _)) = p.accept(&l).await {
                open.set(open.get() + 1);
                peak.set(peak.get().max(open.get()));
                let (p2, open) = (p.clone(), open.clone());
                p.spawn_local(async move {
                    let (mut r, mut w) = p2.split(s);
                    if let Ok(id) = recv_exact(&p2, &mut r, 8).await {
                        let _ = send_all(&p2, &mut w, id).await;
                    }
                    // Hold the connection until the client closes it, so all N are
                    // open at the same time.
                    let _ = recv_to_end(&p2, &mut r).await;
                    open.set(open.get() - 1);
                });
            }
        }
    });
    // Every client keeps its connection until all have echoed. At most CONNECTING
    // handshakes are in flight at once, so the listen backlog (libzmq's 100) does not
    // overflow and turn the test into a test of SYN retransmission timers.
    const CONNECTING: usize = 50;
    let all_echoed = Rc::new(Cell::new(0usize));
    let connecting = Rc::new(Cell::new(0usize));
    let mut clients = Vec::new();
    for i in 0..N {
        let (p2, ep, all_echoed) = (p.clone(), ep.clone(), all_echoed.clone());
        let connecting = connecting.clone();
        clients.push(spawn_result(&p, async move {
            while connecting.get() >= CONNECTING {
                p2.sleep_until(p2.now() + Duration::from_millis(1)).await;
            }
            connecting.set(connecting.get() + 1);
            let s = p2.connect(&ep).await;
            connecting.set(connecting.get() - 1);
            let s = s?;
            let (mut r, mut w) = p2.split(s);
            let id = (i as u64).to_le_bytes().to_vec();
            send_all(&p2, &mut w, id.clone()).await?;
            let back = recv_exact(&p2, &mut r, 8).await?;
            if back != id {
                return Err(io::Error::other(format!("client {i} got another id back")));
            }
            all_echoed.set(all_echoed.get() + 1);
            while all_echoed.get() < N {
                p2.sleep_until(p2.now() + Duration::from_millis(5)).await;
            }
            io::Result::Ok(())
        }));
    }
    for (i, c) in clients.into_iter().enumerate() {
        c.await.unwrap_or_else(|e| panic!("client {i}: {e}"));
    }
    assert_eq!(
        peak.get(),
        N,
        "all connections open at once on the server side"
    );
}

/// 256 MiB over TCP, checked word by word against the generator at the far end.
pub async fn transfer_256mib<P: Proactor>(p: P) {
    const TOTAL: usize = 256 << 20;
    const CHUNK: usize = 64 << 10;
    let (client, server) = pair(&p, &tcp_ep()).await;
    let checker = spawn_result(&p, {
        let p = p.clone();
        async move {
            let (mut r, _w) = p.split(server);
            let mut buf = Vec::with_capacity(CHUNK + 8);
            let (mut word, mut received) = (0u64, 0usize);
            loop {
                let BufResult(res, b) = p.recv(&mut r, buf).await;
                buf = b;
                let n = res?;
                if n == 0 {
                    break;
                }
                received += n;
                let whole = buf.len() / 8 * 8;
                for w in buf[..whole].chunks_exact(8) {
                    let got = u64::from_le_bytes(w.try_into().expect("8-byte chunk"));
                    if got != pattern(word) {
                        return Err(io::Error::other(format!("word {word} corrupted")));
                    }
                    word += 1;
                }
                buf.copy_within(whole.., 0);
                buf.truncate(buf.len() - whole);
            }
            if !buf.is_empty() {
                return Err(io::Error::other("stream ended inside a word"));
            }
            io::Result::Ok(received)
        }
    });
    let (_r, mut w) = p.split(client);
    let mut word = 0u64;
    for _ in 0..TOTAL / CHUNK {
        let mut chunk = Vec::with_capacity(CHUNK);
        for _ in 0..CHUNK / 8 {
            chunk.extend_from_slice(&pattern(word).to_le_bytes());
            word += 1;
        }
        send_all(&p, &mut w, chunk).await.expect("send");
    }
    p.shutdown(&mut w).await.expect("shutdown");
    assert_eq!(checker.await.expect("checker"), TOTAL);
}

/// A send into a tiny socket buffer with a peer that does not read returns a partial
/// count instead of waiting; looping on the rest delivers everything in order.
pub async fn partial_writes<P: Proactor>(p: P) {
    // More than the peer's receive buffer can take (tcp_rmem max is 6 MiB by default).
    const LEN: usize = 32 << 20;
    let (client, server) = pair(&p, &tcp_ep()).await;
    test_util::set_send_buffer_size(client.as_raw_fd(), 4096).expect("SO_SNDBUF");
    let w_fd = client.as_raw_fd();
    let (_cr, mut w) = p.split(client);
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    let first = with_timeout(&p, Duration::from_secs(10), p.send(&mut w, data.clone()))
        .await
        .expect("a send with a full socket buffer must complete with a partial count");
    let BufResult(res, data) = first;
    let n = res.expect("first send");

    assert!(
        n > 0 && n < LEN,
        "first send wrote {n} of {LEN} bytes: not partial"
    );
    // The tiny buffer did its job; a normal one keeps the rest of the test fast.
    test_util::set_send_buffer_size(w_fd, 1 << 20).expect("SO_SNDBUF");
    let reader = spawn_result(&p, {
        let p = p.clone();
        async move {
            let (mut r, _w) = p.split(server);
            recv_to_end(&p, &mut r).await
        }
    });
    let mut off = n;
    let mut buf = data;
    let mut sends = 1;
    while off < LEN {
        let BufResult(res, slice) = p.send(&mut w, buf.slice(off..LEN)).await;
        buf = slice.into_inner();
        let n = res.expect("send");
        assert!(n > 0, "send wrote nothing");
        off += n;
        sends += 1;
    }
    assert!(sends > 1);
    p.shutdown(&mut w).await.expect("shutdown");
    let got = reader.await.expect("reader");
    assert_eq!(got.len(), LEN);
    assert!(got == buf, "bytes differ after partial writes");
}

/// Vectored sends of 3,000 small `Bytes` (more than one call's iovec limit), resumed
/// correctly after partial writes.
pub async fn vectored_many_slices<P: Proactor>(p: P) {
    let (client, server) = pair(&p, &tcp_ep()).await;
    let parts: Vec<Bytes> = (0..3000u32)
        .map(|i| Bytes::from(vec![(i % 256) as u8; 1 + (i as usize * 13) % 97]))
        .collect();
    let expected: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
    let reader = spawn_result(&p, {
        let p = p.clone();
        async move {
            let (mut r, _w) = p.split(server);
            recv_to_end(&p, &mut r).await
        }
    });
    let (_r, mut w) = p.split(client);
    let mut pending = parts;
    let mut calls = 0;
    while !pending.is_empty() {
        let offered: usize = pending
            .iter()
            .take(ringmq_proactor::MAX_IOVECS)
            .map(Bytes::len)
            .sum();
        let BufResult(res, mut bufs) = p.send_vectored(&mut w, pending).await;
        let mut n = res.expect("send_vectored");
        assert!(n > 0 && n <= offered, "wrote {n}, offered {offered}");
        calls += 1;
        // Drop what was written, keep the unwritten tail of a partly written buffer.
        let mut first_unsent = 0;
        while first_unsent < bufs.len() && n >= bufs[first_unsent].len() {
            n -= bufs[first_unsent].len();
            first_unsent += 1;
        }
        bufs.drain(..first_unsent);
        if n > 0 {
            bufs[0] = Bytes::slice(&bufs[0], n..);
        }
        pending = bufs;
    }
    assert!(
        calls >= 3,
        "3,000 buffers need at least 3 calls of at most 1,024"
    );
    p.shutdown(&mut w).await.expect("shutdown");
    let got = reader.await.expect("reader");
    assert!(
        got == expected,
        "vectored bytes differ ({} vs {})",
        got.len(),
        expected.len()
    );
}

/// Timers fire in deadline order, never early; a past deadline completes at once.
pub async fn timers_in_order<P: Proactor>(p: P) {
    let fired = Rc::new(RefCell::new(Vec::new()));
    let start = p.now();
    let order = [7u64, 2, 9, 0, 5, 3, 8, 1, 6, 4, 11, 10];
    let mut done = Vec::new();
    for &k in &order {
        let (p2, fired) = (p.clone(), fired.clone());
        let deadline = start + Duration::from_millis(20 + 7 * k);
        done.push(spawn_result(&p, async move {
            p2.sleep_until(deadline).await;
            let now = p2.now();
            fired.borrow_mut().push(k);
            if now < deadline {
                return Err(io::Error::other(format!("timer {k} fired early")));
            }
            io::Result::Ok(())
        }));
    }
    for d in done {
        d.await.expect("timer");
    }
    let fired = fired.borrow().clone();
    let mut sorted = fired.clone();
    sorted.sort_unstable();
    assert_eq!(fired, sorted, "timers fired out of deadline order");
    let t = Instant::now();
    p.sleep_until(start).await;
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "a past deadline must not wait"
    );
}

/// Peer reset while a recv is pending: the recv fails.
pub async fn fault_peer_reset<P: Proactor>(p: P) {
    let (client, server) = pair(&p, &tcp_ep()).await;
    let (mut r, _w) = p.split(server);
    let pending = spawn_result(&p, {
        let p = p.clone();
        async move {
            let BufResult(res, _) = p.recv(&mut r, Vec::with_capacity(1024)).await;
            res
        }
    });
    p.sleep_until(p.now() + Duration::from_millis(20)).await;
    test_util::set_linger_zero(client.as_raw_fd()).expect("SO_LINGER");
    drop(client);
    let res = with_timeout(&p, Duration::from_secs(10), pending)
        .await
        .expect("recv must complete after a reset");
    let err = res.expect_err("recv after a peer reset must fail");
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset, "{err}");
}

/// Connecting to a port nobody listens on is `ConnectionRefused`.
pub async fn fault_connect_refused<P: Proactor>(p: P) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("local_addr").port()
    };
    let ep: Endpoint = format!("tcp://127.0.0.1:{port}").parse().expect("endpoint");
    let Err(err) = p.connect(&ep).await else {
        panic!("connect to a closed port succeeded");
    };
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused, "{err}");
}

/// `connect_prepared` runs its hook on the socket before the connection starts where
/// the engine says so (and after it otherwise); what the hook sets stays on the
/// stream, and an error from the hook fails the connect.
pub async fn connect_prepared_hook<P: Proactor>(p: P) {
    use ringmq_proactor::sockopt;
    let l = Rc::new(p.listen(&tcp_ep()).expect("listen"));
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    let accepting = spawn_result(&p, {
        let (p, l) = (p.clone(), l.clone());
        async move { p.accept(&l).await.map(drop) }
    });
    let before = Cell::new(None);
    let s = p
        .connect_prepared(&ep, &|fd| {
            before.set(Some(!sockopt::is_connected(&fd)));
            sockopt::set_tos(&fd, 0x10)
        })
        .await
        .expect("connect_prepared");
    assert_eq!(
        before.get(),
        Some(P::PREPARES_BEFORE_CONNECT),
        "the hook ran, before the connection exactly when the engine says so"
    );
    assert!(sockopt::is_connected(&s));
    assert_eq!(sockopt::tos(&s).expect("tos"), 0x10, "set by the hook");
    accepting.await.expect("accept");
    let Err(err) = p
        .connect_prepared(&ep, &|_| Err(io::Error::other("refused by the hook")))
        .await
    else {
        panic!("a failing hook fails the connect");
    };
    assert_eq!(err.to_string(), "refused by the hook");
    drop(l);
}

/// A send after shutting down the sending half fails; the peer sees end of stream.
pub async fn fault_send_after_shutdown<P: Proactor>(p: P) {
    let (client, server) = pair(&p, &tcp_ep()).await;
    let (_cr, mut w) = p.split(client);
    p.shutdown(&mut w).await.expect("shutdown");
    let BufResult(res, _) = p.send(&mut w, b"late".to_vec()).await;
    assert!(res.is_err(), "send after shutdown must fail, got {res:?}");
    let (mut r, _sw) = p.split(server);
    assert!(recv_to_end(&p, &mut r).await.expect("recv").is_empty());
}

/// A listener dropped while an accept is pending (its future dropped first, as a task
/// that selects on accept does): the address is free at once, and a client that
/// connects to it afterwards is refused or closed, never left hanging.
pub async fn listener_drop_with_pending_accept<P: Proactor>(p: P) {
    for ep in [tcp_ep(), ipc_path_ep()] {
        let l = p.listen(&ep).expect("listen");
        let ep = p.listener_endpoint(&l).expect("listener_endpoint");
        {
            let mut fut = Box::pin(p.accept(&l));
            assert!(poll_once(fut.as_mut()).await.is_none());
        }
        drop(l);
        // A client of the dropped listener learns at once that nobody is there.
        let outcome = with_timeout(&p, Duration::from_secs(3), async {
            match p.connect(&ep).await {
                Err(_) => "refused",
                Ok(s) => {
                    let (mut r, _w) = p.split(s);
                    match p.recv(&mut r, Vec::with_capacity(16)).await {
                        BufResult(Ok(0) | Err(_), _) => "closed",
                        BufResult(Ok(_), _) => "data",
                    }
                }
            }
        })
        .await;
        assert!(
            matches!(outcome, Some("refused" | "closed")),
            "client of a dropped listener on {ep}: {outcome:?} (None = hung)"
        );
        // The address can be bound again right away, and the new listener serves.
        let l = p
            .listen(&ep)
            .unwrap_or_else(|e| panic!("listen again on {ep}: {e}"));
        let c = p.connect(&ep).await.expect("connect to the new listener");
        let accepted = with_timeout(&p, Duration::from_secs(5), p.accept(&l)).await;
        assert!(matches!(accepted, Some(Ok(_))), "the new listener accepts");
        drop((c, accepted, l));
    }
}

/// Dropped futures mid-flight: no descriptor leaks, no received byte is lost.
/// Counts descriptors, so it runs alone in a child process (see `run_isolated`).
pub async fn cancellation<P: Proactor>(p: P) {
    // Let the runtime settle whatever it opens lazily, then count.
    settle(&p).await;
    let baseline = test_util::open_fd_count().expect("count fds");

    recv_cancel_keeps_bytes(&p).await;
    accept_cancel(&p).await;
    connect_cancel(&p).await;
    send_cancel(&p).await;

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut now_open = usize::MAX;
    while Instant::now() < deadline {
        settle(&p).await;
        now_open = test_util::open_fd_count().expect("count fds");
        if now_open <= baseline {
            break;
        }
    }
    assert_eq!(
        now_open, baseline,
        "file descriptors leaked by dropped futures"
    );
}

async fn recv_cancel_keeps_bytes<P: Proactor>(p: &P) {
    let (client, server) = pair(p, &tcp_ep()).await;
    let (_cr, mut w) = p.split(client);
    let (mut r, _sw) = p.split(server);
    let mut sent = Vec::new();
    let mut got = Vec::new();
    for round in 0..200usize {
        let msg: Vec<u8> = (0..1 + round * 37 % 3000)
            .map(|i| (i + round) as u8)
            .collect();
        sent.extend_from_slice(&msg);
        {
            // Start a recv, let it reach the kernel, make the data arrive, let the
            // engine reap the completion, and only then drop the future.
            let mut fut = Box::pin(p.recv(&mut r, Vec::with_capacity(64 << 10)));
            if let Some(BufResult(res, buf)) = poll_once(fut.as_mut()).await {
                res.expect("recv");
                got.extend_from_slice(&buf);
            } else {
                send_all(p, &mut w, msg).await.expect("send");
                if round % 2 == 0 {
                    p.sleep_until(p.now() + Duration::from_millis(1)).await;
                }
                if round % 3 == 0 {
                    if let Some(BufResult(res, buf)) = poll_once(fut.as_mut()).await {
                        res.expect("recv");
                        got.extend_from_slice(&buf);
                    }
                }
                continue;
            }
        }
        send_all(p, &mut w, msg).await.expect("send");
    }
    p.shutdown(&mut w).await.expect("shutdown");
    got.extend(recv_to_end(p, &mut r).await.expect("recv rest"));
    assert_eq!(got.len(), sent.len(), "bytes lost by dropped recv futures");
    assert!(
        got == sent,
        "bytes reordered or corrupted by dropped recv futures"
    );
}

async fn accept_cancel<P: Proactor>(p: &P) {
    let l = p.listen(&tcp_ep()).expect("listen");
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    // An accept dropped while nobody connects.
    {
        let mut fut = Box::pin(p.accept(&l));
        assert!(poll_once(fut.as_mut()).await.is_none());
    }
    // Accepts dropped while connections arrive.
    let mut clients = Vec::new();
    for _ in 0..20 {
        let mut fut = Box::pin(p.accept(&l));
        let first = poll_once(fut.as_mut()).await;
        clients.push(p.connect(&ep).await.expect("connect"));
        p.sleep_until(p.now() + Duration::from_millis(2)).await;
        drop(first);
        drop(fut);
    }
    // The listener still works after all that.
    let c = p.connect(&ep).await.expect("connect");
    let accepted = with_timeout(p, Duration::from_secs(5), p.accept(&l)).await;
    assert!(
        matches!(accepted, Some(Ok(_))),
        "accept after cancelled accepts"
    );
    drop((c, accepted, clients, l));
}

async fn connect_cancel<P: Proactor>(p: &P) {
    let l = p.listen(&tcp_ep()).expect("listen");
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    for _ in 0..20 {
        let mut fut = Box::pin(p.connect(&ep));
        let done = poll_once(fut.as_mut()).await;
        drop(done);
        drop(fut);
    }
    // A connect that stays in SYN_SENT (a blackhole address) or fails at once.
    let blackhole: Endpoint = "tcp://10.255.255.1:9".parse().expect("endpoint");
    let mut fut = Box::pin(p.connect(&blackhole));
    let _ = with_timeout(p, Duration::from_millis(20), fut.as_mut()).await;
    drop(fut);
    // Drain the connections the kernel queued on the listener, then close it.
    for _ in 0..20 {
        if with_timeout(p, Duration::from_millis(20), p.accept(&l))
            .await
            .is_none()
        {
            break;
        }
    }
}

async fn send_cancel<P: Proactor>(p: &P) {
    let (client, server) = pair(p, &tcp_ep()).await;
    test_util::set_send_buffer_size(client.as_raw_fd(), 4096).expect("SO_SNDBUF");
    let (_cr, mut w) = p.split(client);
    for _ in 0..10 {
        // Fill the socket buffer; the next send then has to wait, and is dropped.
        let mut fut = Box::pin(p.send(&mut w, vec![7u8; 4 << 20]));
        let _ = with_timeout(p, Duration::from_millis(10), fut.as_mut()).await;
        drop(fut);
    }
    drop((w, server));
}

async fn settle<P: Proactor>(p: &P) {
    for _ in 0..5 {
        p.sleep_until(p.now() + Duration::from_millis(10)).await;
    }
}
