//! Unit tests of the executor and of both drivers.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::{Backend, BackendChoice, Endpoint, Native, Proactor, Runtime};

fn runtimes() -> Vec<Runtime> {
    vec![
        Runtime::with_backend(BackendChoice::Uring)
            .expect("io_uring must work on the test machine"),
        Runtime::with_backend(BackendChoice::Epoll).expect("epoll runtime"),
    ]
}

fn ep(s: &str) -> Endpoint {
    s.parse().unwrap()
}

/// Polls `f` once; `Some` if it completed.
async fn poll_once<F: Future>(mut f: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// Runs two futures to completion, polling both on every wake-up.
pub(crate) async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(v) = a.as_mut().poll(cx) {
                ra = Some(v);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                rb = Some(v);
            }
        }
        if ra.is_some() && rb.is_some() {
            Poll::Ready((ra.take().expect("set"), rb.take().expect("set")))
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn sleep_ms(p: &Native, ms: u64) {
    p.sleep_until(Instant::now() + Duration::from_millis(ms))
        .await;
}

async fn recv_exact(p: &Native, r: &mut crate::Reader, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let crate::BufResult(res, buf) = p.recv(r, out).await;
        out = buf;
        assert!(
            res.expect("recv") > 0,
            "unexpected EOF after {} bytes",
            out.len()
        );
    }
    out
}

async fn send_all(p: &Native, w: &mut crate::Writer, data: Vec<u8>) {
    let mut off = 0;
    let mut data = data;
    while off < data.len() {
        let crate::BufResult(res, buf) = p.send(w, data.slice(off..usize::MAX)).await;
        data = buf.into_inner();
        off += res.expect("send");
    }
}

use crate::IoBuf;

#[test]
fn backend_choice_parses_and_rejects() {
    assert_eq!(
        "uring".parse::<BackendChoice>().unwrap(),
        BackendChoice::Uring
    );
    assert_eq!(
        "EPOLL".parse::<BackendChoice>().unwrap(),
        BackendChoice::Epoll
    );
    assert_eq!(
        "auto".parse::<BackendChoice>().unwrap(),
        BackendChoice::Auto
    );
    let e = "kqueue".parse::<BackendChoice>().unwrap_err();
    assert!(e.to_string().contains("RINGMQ_BACKEND"), "{e}");
    let rt = Runtime::with_backend(BackendChoice::Auto).unwrap();
    assert_eq!(
        rt.backend(),
        Backend::Uring,
        "auto picks io_uring where it works"
    );
}

#[test]
fn timers_fire_in_deadline_order() {
    for rt in runtimes() {
        let p = rt.proactor();
        let order = Rc::new(RefCell::new(Vec::new()));
        let base = Instant::now() + Duration::from_millis(20);
        // Spawned out of order; two share a deadline and keep their spawn order.
        for (i, ms) in [(0, 40), (1, 10), (2, 30), (3, 10), (4, 0)] {
            let (p2, order) = (p.clone(), order.clone());
            p.spawn_local(async move {
                p2.sleep_until(base + Duration::from_millis(ms)).await;
                order.borrow_mut().push(i);
            });
        }
        let start = Instant::now();
        rt.block_on(sleep_ms(&p, 80));
        assert!(start.elapsed() >= Duration::from_millis(80));
        assert_eq!(*order.borrow(), vec![4, 1, 3, 2, 0], "{:?}", rt.backend());
        // A deadline in the past completes at once.
        rt.block_on(p.sleep_until(Instant::now() - Duration::from_secs(1)));
    }
}

#[test]
fn dropped_sleep_does_not_fire() {
    for rt in runtimes() {
        let p = rt.proactor();
        rt.block_on(async {
            let mut s = pin!(p.sleep_until(Instant::now() + Duration::from_millis(5)));
            assert!(poll_once(s.as_mut()).await.is_none());
        });
        assert!(p.core_timers_empty());
    }
}

#[test]
fn cross_thread_wake() {
    for rt in runtimes() {
        let slot: Arc<std::sync::Mutex<Option<Waker>>> = Arc::default();
        let fired = Arc::new(AtomicUsize::new(0));
        let (slot2, fired2) = (slot.clone(), fired.clone());
        // Started before the thread, so that the thread's 50 ms are inside it however
        // late this thread runs again.
        let start = Instant::now();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            fired2.store(1, Ordering::SeqCst);
            // Normally the block_on below has stored its waker long ago. If it has not
            // polled yet (a very loaded machine), its first poll sees `fired` instead.
            if let Some(w) = slot2.lock().unwrap().take() {
                w.wake();
            }
        });
        // No timer and no I/O: only the cross-thread wake can end this block_on. The
        // waker is stored before `fired` is read, so a wake cannot fall in between.
        rt.block_on(poll_fn(|cx| {
            *slot.lock().unwrap() = Some(cx.waker().clone());
            if fired.load(Ordering::SeqCst) == 1 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        assert!(start.elapsed() >= Duration::from_millis(50));
        t.join().unwrap();
    }
}

#[test]
fn spawn_local_tasks_run_and_spawn() {
    for rt in runtimes() {
        let p = rt.proactor();
        let count = Rc::new(RefCell::new(0));
        for _ in 0..10 {
            let (p2, count) = (p.clone(), count.clone());
            rt.spawn_local(async move {
                *count.borrow_mut() += 1;
                let c = count.clone();
                p2.spawn_local(async move { *c.borrow_mut() += 100 });
            });
        }
        rt.block_on(sleep_ms(&p, 1));
        assert_eq!(*count.borrow(), 1010);
    }
}

#[test]
fn two_runtimes_on_one_thread() {
    let a = Runtime::with_backend(BackendChoice::Uring).unwrap();
    let b = Runtime::with_backend(BackendChoice::Epoll).unwrap();
    let pa = a.proactor();
    let pb = b.proactor();
    a.block_on(sleep_ms(&pa, 1));
    b.block_on(sleep_ms(&pb, 1));
    a.block_on(async { b.block_on(sleep_ms(&pb, 1)) });
}

fn echo(rt: &Runtime, bind: &str) {
    let p = rt.proactor();
    rt.block_on(async {
        let l = p.listen(&ep(bind)).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        let server = p.clone();
        p.spawn_local(async move {
            let (s, _) = server.accept(&l).await.unwrap();
            let (mut r, mut w) = server.split(s);
            loop {
                let crate::BufResult(res, buf) =
                    server.recv(&mut r, Vec::with_capacity(4096)).await;
                if res.unwrap() == 0 {
                    break;
                }
                send_all(&server, &mut w, buf).await;
            }
            server.shutdown(&mut w).await.unwrap();
        });
        let s = p.connect(&at).await.unwrap();
        let (mut r, mut w) = p.split(s);
        let msg: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        // Vectored send of three pieces.
        let parts = vec![
            msg[..10].to_vec(),
            msg[10..5000].to_vec(),
            msg[5000..].to_vec(),
        ];
        let crate::BufResult(n, mut parts) = p.send_vectored(&mut w, parts).await;
        let mut sent = n.unwrap();
        let rest: Vec<u8> = parts.drain(..).flatten().skip(sent).collect();
        sent += rest.len();
        send_all(&p, &mut w, rest).await;
        assert_eq!(sent, msg.len());
        let got = recv_exact(&p, &mut r, msg.len()).await;
        assert_eq!(got, msg);
        p.shutdown(&mut w).await.unwrap();
        let crate::BufResult(res, _) = p.send(&mut w, b"late".to_vec()).await;
        assert!(res.is_err(), "send after shutdown must fail");
        let crate::BufResult(res, _) = p.recv(&mut r, Vec::with_capacity(16)).await;
        assert_eq!(res.unwrap(), 0, "server closes after our shutdown");
    });
}

#[test]
fn echo_tcp() {
    for rt in runtimes() {
        echo(&rt, "tcp://127.0.0.1:*");
        echo(&rt, "tcp://[::1]:0");
    }
}

#[test]
fn echo_ipc_path_and_abstract() {
    for rt in runtimes() {
        let dir = std::env::temp_dir().join(format!(
            "ringmq-proactor-{}-{:?}",
            std::process::id(),
            rt.backend()
        ));
        let _ = std::fs::remove_file(&dir);
        let bind = format!("ipc://{}", dir.display());
        echo(&rt, &bind);
        assert!(
            !dir.exists(),
            "the listener removes its socket file on drop"
        );
        echo(
            &rt,
            &format!(
                "ipc://@ringmq-test-{}-{:?}",
                std::process::id(),
                rt.backend()
            ),
        );
    }
}

#[test]
fn ipc_stale_socket_file_is_replaced() {
    for rt in runtimes() {
        let path = std::env::temp_dir().join(format!(
            "ringmq-stale-{}-{:?}",
            std::process::id(),
            rt.backend()
        ));
        let _ = std::fs::remove_file(&path);
        // A socket file left behind (std's listener does not remove it).
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let p = rt.proactor();
        let l = p.listen(&ep(&format!("ipc://{}", path.display()))).unwrap();
        std::os::unix::net::UnixStream::connect(&path).expect("connect to the new listener");
        drop(l);
        assert!(!path.exists());
    }
}

#[test]
fn wildcard_listener_reports_real_port_and_peer() {
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://*:*")).unwrap();
        let Endpoint::Tcp { port, .. } = p.listener_endpoint(&l).unwrap() else {
            panic!()
        };
        assert_ne!(port, 0);
        let c =
            std::thread::spawn(move || std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        let (s, peer) = rt.block_on(p.accept(&l)).unwrap();
        let c = c.join().unwrap();
        assert_eq!(peer, crate::PeerAddr::Tcp(c.local_addr().unwrap()));
        let ka = crate::sockopt::TcpKeepalive {
            enabled: true,
            idle: Some(Duration::from_secs(30)),
            interval: Some(Duration::from_millis(1500)),
            count: Some(4),
        };
        crate::sockopt::set_tcp_keepalive(&s, &ka).unwrap();
        let back = crate::sockopt::tcp_keepalive(&s).unwrap();
        assert_eq!(
            back,
            crate::sockopt::TcpKeepalive {
                interval: Some(Duration::from_secs(2)),
                ..ka
            }
        );
    }
}

#[test]
fn connect_refused_and_bad_endpoints() {
    for rt in runtimes() {
        let p = rt.proactor();
        // Bind then drop to find a port with nobody listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = rt
            .block_on(p.connect(&ep(&format!("tcp://127.0.0.1:{port}"))))
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(rt.block_on(p.connect(&ep("tcp://*:5555"))).is_err());
        assert!(rt
            .block_on(p.connect(&ep("ipc:///nonexistent/ringmq.sock")))
            .is_err());
        assert!(rt.block_on(p.connect(&ep("tcp://localhost:0"))).is_err());
    }
}

#[test]
fn connect_by_name() {
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let Endpoint::Tcp { port, .. } = p.listener_endpoint(&l).unwrap() else {
            panic!()
        };
        rt.block_on(async {
            let target = ep(&format!("tcp://localhost:{port}"));
            let c = p.connect(&target).await;
            let a = p.accept(&l).await;
            // localhost may resolve to ::1 first; then the v4 listener refuses and the
            // next address is tried.
            assert!(c.is_ok() && a.is_ok());
        });
    }
}

/// A recv dropped while in flight loses no bytes: they come with the next recv.
#[test]
fn dropped_recv_loses_no_bytes() {
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        let Endpoint::Tcp { port, .. } = at else {
            panic!()
        };
        let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, _) = rt.block_on(p.accept(&l)).unwrap();
        let (mut r, _w) = p.split(s);
        rt.block_on(async {
            // 1. Dropped before any data arrived.
            {
                let mut f = pin!(p.recv(&mut r, Vec::with_capacity(64)));
                assert!(poll_once(f.as_mut()).await.is_none());
                sleep_ms(&p, 5).await;
            }
            peer.write_all(b"hello").unwrap();
            assert_eq!(recv_exact(&p, &mut r, 5).await, b"hello");
            // 2. Dropped after the data arrived but before the future saw it.
            {
                let mut f = pin!(p.recv(&mut r, Vec::with_capacity(64)));
                assert!(poll_once(f.as_mut()).await.is_none());
                peer.write_all(b"world").unwrap();
                sleep_ms(&p, 20).await;
            }
            assert_eq!(
                recv_exact(&p, &mut r, 5).await,
                b"world",
                "{:?}",
                rt.backend()
            );
            // 3. Dropped in flight while the data races with the cancellation; a recv
            // may also complete at once from bytes kept by an earlier dropped one.
            let mut got = Vec::new();
            for i in 0..50u8 {
                {
                    let mut f = pin!(p.recv(&mut r, Vec::with_capacity(64)));
                    if let Some(crate::BufResult(res, buf)) = poll_once(f.as_mut()).await {
                        res.unwrap();
                        got.extend_from_slice(&buf);
                    }
                    peer.write_all(&[i]).unwrap();
                }
                if i % 2 == 0 {
                    sleep_ms(&p, 0).await;
                }
            }
            let rest = recv_exact(&p, &mut r, 50 - got.len()).await;
            got.extend_from_slice(&rest);
            assert_eq!(got, (0..50u8).collect::<Vec<_>>(), "{:?}", rt.backend());
        });
        drop(peer);
    }
}

/// epoll: after a stream read that came back short, the next read waits for the next
/// edge instead of failing with EAGAIN first; data and the peer's close that arrive
/// later, together or apart, are still seen.
#[test]
fn epoll_short_read_waits_for_the_next_edge() {
    let rt = Runtime::with_backend(BackendChoice::Epoll).expect("epoll runtime");
    let p = rt.proactor();
    let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
    let Endpoint::Tcp { port, .. } = p.listener_endpoint(&l).unwrap() else {
        panic!()
    };
    const ROUNDS: u32 = 200;
    let peer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_nodelay(true).unwrap();
        let mut b = [0u8; 4];
        for i in 0..ROUNDS {
            s.write_all(&i.to_le_bytes()).unwrap();
            s.read_exact(&mut b).unwrap();
            assert_eq!(u32::from_le_bytes(b), i);
        }
        // The last data and the close together, then nothing.
        s.write_all(b"bye").unwrap();
    });
    let (sock, _) = rt.block_on(p.accept(&l)).unwrap();
    let (mut r, mut w) = p.split(sock);
    rt.block_on(async {
        for i in 0..ROUNDS {
            // Room for more than the peer sends before it waits for the echo: every
            // read comes back short.
            let mut got = Vec::with_capacity(64);
            while got.len() < 4 {
                let crate::BufResult(res, buf) = p.recv(&mut r, got).await;
                got = buf;
                assert!(res.unwrap() > 0, "unexpected EOF");
            }
            assert_eq!(got, i.to_le_bytes());
            send_all(&p, &mut w, got).await;
        }
        assert_eq!(recv_exact(&p, &mut r, 3).await, b"bye");
        let crate::BufResult(res, _) = p.recv(&mut r, Vec::with_capacity(16)).await;
        assert_eq!(
            res.unwrap(),
            0,
            "the peer's close is seen after a short read"
        );
    });
    peer.join().unwrap();
    // Each round's read found its data by an edge, not by a failing try; a few may
    // still fail where the mark was not yet set (before the socket was registered).
    let failed = rt.proactor().epoll_read_would_block().expect("epoll");
    assert!(
        failed <= 3,
        "{failed} reads failed with EAGAIN in {ROUNDS} rounds"
    );
}

/// An accept dropped after the kernel completed it closes the accepted descriptor; one
/// dropped before does not swallow the next connection.
#[test]
fn dropped_accept_closes_or_keeps_connection() {
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let Endpoint::Tcp { port, .. } = p.listener_endpoint(&l).unwrap() else {
            panic!()
        };
        rt.block_on(async {
            {
                let mut a = pin!(p.accept(&l));
                assert!(poll_once(a.as_mut()).await.is_none());
                // Let the accept reach the kernel, so the drop has to cancel it.
                sleep_ms(&p, 5).await;
            }
            let mut c1 = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (s, _) = p.accept(&l).await.unwrap();
            drop(s);
            let mut b = [0u8; 4];
            assert_eq!(c1.read(&mut b).unwrap(), 0);

            let mut c2 = {
                let mut a = pin!(p.accept(&l));
                assert!(poll_once(a.as_mut()).await.is_none());
                let c2 = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                sleep_ms(&p, 20).await;
                c2
            };
            c2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            match rt.backend() {
                // The completed accept's descriptor was closed: the peer sees EOF.
                Backend::Uring => assert_eq!(c2.read(&mut b).unwrap(), 0),
                // epoll accepts only when polled: the connection waits in the backlog.
                Backend::Epoll => {
                    let (s, _) = p.accept(&l).await.unwrap();
                    drop(s);
                    assert_eq!(c2.read(&mut b).unwrap(), 0);
                }
            }
        });
    }
}

#[test]
fn recv_without_spare_capacity_is_invalid_input() {
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        rt.block_on(async {
            let s = p.connect(&at).await.unwrap();
            let (mut r, _w) = p.split(s);
            let crate::BufResult(res, _) = p.recv(&mut r, Vec::new()).await;
            assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        });
    }
}

/// Round-trip latency of 64-byte ping-pong, each side on its own thread: raw blocking
/// std TCP against both drivers. Run with
/// `cargo test --release -p ringmq-proactor -- --ignored --nocapture bench_`.
#[test]
#[ignore = "benchmark"]
fn bench_pingpong() {
    const N: usize = 20_000;
    let raw = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.set_nodelay(true).unwrap();
            let mut b = [0u8; 64];
            for _ in 0..N {
                s.read_exact(&mut b).unwrap();
                s.write_all(&b).unwrap();
            }
        });
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_nodelay(true).unwrap();
        let mut b = [0u8; 64];
        let start = Instant::now();
        for _ in 0..N {
            c.write_all(&b).unwrap();
            c.read_exact(&mut b).unwrap();
        }
        let d = start.elapsed();
        t.join().unwrap();
        d
    };
    println!(
        "raw blocking: {:.2} us/rt",
        raw.as_secs_f64() * 1e6 / N as f64
    );
    for choice in [BackendChoice::Uring, BackendChoice::Epoll] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let rt = Runtime::with_backend(choice).unwrap();
            let p = rt.proactor();
            rt.block_on(async {
                let l = p.listen(&ep(&format!("tcp://127.0.0.1:{port}"))).unwrap();
                tx.send(()).unwrap();
                let (s, _) = p.accept(&l).await.unwrap();
                let (mut r, mut w) = p.split(s);
                let mut buf = Vec::with_capacity(64);
                for _ in 0..N {
                    buf.clear();
                    buf = recv_exact_into(&p, &mut r, buf, 64).await;
                    let crate::BufResult(n, b) = p.send(&mut w, buf).await;
                    assert_eq!(n.unwrap(), 64);
                    buf = b;
                }
            });
        });
        rx.recv().unwrap();
        let rt = Runtime::with_backend(choice).unwrap();
        let p = rt.proactor();
        let d = rt.block_on(async {
            let s = p
                .connect(&ep(&format!("tcp://127.0.0.1:{port}")))
                .await
                .unwrap();
            let (mut r, mut w) = p.split(s);
            let mut buf = vec![0u8; 64];
            let start = Instant::now();
            for _ in 0..N {
                let crate::BufResult(n, b) = p.send(&mut w, buf).await;
                assert_eq!(n.unwrap(), 64);
                buf = b;
                buf.clear();
                buf = recv_exact_into(&p, &mut r, buf, 64).await;
            }
            start.elapsed()
        });
        t.join().unwrap();
        println!(
            "{choice:?}: {:.2} us/rt ({:.2}x raw)",
            d.as_secs_f64() * 1e6 / N as f64,
            d.as_secs_f64() / raw.as_secs_f64()
        );
    }
}

async fn recv_exact_into(p: &Native, r: &mut crate::Reader, mut buf: Vec<u8>, n: usize) -> Vec<u8> {
    while buf.len() < n {
        let crate::BufResult(res, b) = p.recv(r, buf).await;
        buf = b;
        assert!(res.expect("recv") > 0);
    }
    buf
}

/// 64 KiB streaming throughput, raw blocking std TCP against both drivers.
#[test]
#[ignore = "benchmark"]
fn bench_stream_64k() {
    const CHUNK: usize = 64 * 1024;
    const TOTAL: usize = 4 << 30;
    let sink = |mut s: std::net::TcpStream| {
        let mut b = vec![0u8; CHUNK];
        let mut got = 0;
        while got < TOTAL {
            let n = s.read(&mut b).unwrap();
            assert!(n > 0);
            got += n;
        }
    };
    let raw = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || sink(l.accept().unwrap().0));
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let b = vec![7u8; CHUNK];
        let start = Instant::now();
        for _ in 0..TOTAL / CHUNK {
            c.write_all(&b).unwrap();
        }
        t.join().unwrap();
        start.elapsed()
    };
    let gbps = |d: Duration| TOTAL as f64 / d.as_secs_f64() / 1e9;
    println!("raw blocking: {:.2} GB/s", gbps(raw));
    for choice in [BackendChoice::Uring, BackendChoice::Epoll] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || sink(l.accept().unwrap().0));
        let rt = Runtime::with_backend(choice).unwrap();
        let p = rt.proactor();
        let d = rt.block_on(async {
            let s = p
                .connect(&ep(&format!("tcp://127.0.0.1:{port}")))
                .await
                .unwrap();
            let (_r, mut w) = p.split(s);
            let mut b = bytes::Bytes::from(vec![7u8; CHUNK]);
            let start = Instant::now();
            let mut sent = 0;
            while sent < TOTAL {
                let crate::BufResult(n, back) = p.send(&mut w, b).await;
                let n = n.unwrap();
                sent += n;
                b = back;
                if n < CHUNK {
                    send_all(&p, &mut w, b[n..].to_vec()).await;
                    sent += CHUNK - n;
                }
            }
            start.elapsed()
        });
        t.join().unwrap();
        println!(
            "{choice:?}: {:.2} GB/s ({:.0}% of raw)",
            gbps(d),
            100.0 * raw.as_secs_f64() / d.as_secs_f64()
        );
    }
}

/// More IPC connects than the listen backlog holds: the extra ones wait (as TCP SYNs
/// would) until the listener accepts, instead of failing.
#[test]
fn ipc_connects_beyond_backlog_wait() {
    for rt in runtimes() {
        let p = rt.proactor();
        let name = format!(
            "ipc://@ringmq-backlog-{}-{:?}",
            std::process::id(),
            rt.backend()
        );
        let l = p.listen(&ep(&name)).unwrap();
        let done = Rc::new(RefCell::new(0));
        const N: usize = 250;
        for _ in 0..N {
            let (p2, done, name) = (p.clone(), done.clone(), name.clone());
            p.spawn_local(async move {
                let s = p2.connect(&ep(&name)).await.expect("ipc connect");
                *done.borrow_mut() += 1;
                // Keep the connection until the listener side has accepted everything.
                p2.sleep_until(Instant::now() + Duration::from_millis(500))
                    .await;
                drop(s);
            });
        }
        rt.block_on(async {
            sleep_ms(&p, 20).await;
            let mut accepted = Vec::new();
            for _ in 0..N {
                accepted.push(p.accept(&l).await.unwrap());
            }
            sleep_ms(&p, 20).await;
            assert_eq!(*done.borrow(), N, "{:?}", rt.backend());
        });
    }
}

/// Streams 4 MiB one way with single and vectored sends of odd sizes while the reader
/// uses small buffers: exercises the direct (non-blocking) send and receive paths of
/// the io_uring driver, their fallback to the ring when the socket is full or empty,
/// and the switch back; every byte must arrive once and in order.
#[test]
fn direct_and_ring_paths_keep_stream_order() {
    const TOTAL: usize = 4 << 20;
    let pattern = |i: usize| (i % 251) as u8;
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        let sender = {
            let p = p.clone();
            async move {
                let s = p.connect(&at).await.expect("connect");
                let (_r, mut w) = p.split(s);
                let mut off = 0;
                let mut round = 0usize;
                while off < TOTAL {
                    let len = [1, 700, 65_536, 3, 200_000][round % 5].min(TOTAL - off);
                    round += 1;
                    let data: Vec<u8> = (off..off + len).map(pattern).collect();
                    let sent = if round % 4 == 1 {
                        // The synchronous path, falling back to a send when it cannot.
                        match p.try_send_vectored(&mut w, std::slice::from_ref(&data)) {
                            Some(res) => res.expect("try_send_vectored"),
                            None => {
                                let crate::BufResult(res, _) = p.send(&mut w, data).await;
                                res.expect("send")
                            }
                        }
                    } else if round % 3 == 0 && len > 1 {
                        let (a, b) = data.split_at(len / 2);
                        let crate::BufResult(res, _) =
                            p.send_vectored(&mut w, vec![a.to_vec(), b.to_vec()]).await;
                        res.expect("send_vectored")
                    } else {
                        let crate::BufResult(res, _) = p.send(&mut w, data).await;
                        res.expect("send")
                    };
                    assert!(sent > 0);
                    off += sent;
                    if round % 64 == 0 {
                        sleep_ms(&p, 1).await;
                    }
                }
            }
        };
        let got = rt.block_on(async {
            let (s, _) = {
                p.spawn_local(sender);
                p.accept(&l).await.expect("accept")
            };
            let (mut r, _w) = p.split(s);
            let mut got = Vec::with_capacity(TOTAL);
            let mut n = 0usize;
            while got.len() < TOTAL {
                let cap = [100, 4096, 17][n % 3];
                n += 1;
                let crate::BufResult(res, buf) = p.recv(&mut r, Vec::with_capacity(cap)).await;
                assert!(res.expect("recv") > 0, "early EOF at {}", got.len());
                got.extend_from_slice(&buf);
                if n % 500 == 0 {
                    sleep_ms(&p, 1).await;
                }
            }
            got
        });
        assert_eq!(got.len(), TOTAL, "{:?}", rt.backend());
        let bad = got.iter().enumerate().position(|(i, b)| *b != pattern(i));
        assert_eq!(bad, None, "{:?}: first wrong byte", rt.backend());
    }
}

/// `try_send_vectored` on a socket nobody reads: writes until the socket is full, then
/// says `None` (no bytes taken); an asynchronous send queued behind it completes once
/// the peer reads, and everything arrives in order.
#[test]
fn try_send_vectored_stops_when_full_and_keeps_order() {
    let pattern = |i: usize| (i % 253) as u8;
    for rt in runtimes() {
        let p = rt.proactor();
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        rt.block_on(async {
            let connect = p.connect(&at);
            let (accepted, connected) = join2(p.accept(&l), connect).await;
            let (s, _) = accepted.expect("accept");
            let (mut r, _w) = p.split(s);
            let (_r2, mut w) = p.split(connected.expect("connect"));
            let mut off = 0usize;
            let chunk = 64 << 10;
            let mut direct = 0;
            loop {
                let data: Vec<u8> = (off..off + chunk).map(pattern).collect();
                let (a, b) = data.split_at(1000);
                match p.try_send_vectored(&mut w, &[a.to_vec(), b.to_vec()]) {
                    Some(res) => {
                        let n = res.expect("try_send_vectored");
                        assert!(n > 0);
                        off += n;
                        direct += 1;
                    }
                    None => break,
                }
                assert!(off < 1 << 30, "a socket nobody reads never filled");
            }
            assert!(
                direct > 0,
                "{:?}: an empty socket takes bytes at once",
                rt.backend()
            );
            // Behind the full socket: an asynchronous send of the next bytes.
            let tail: Vec<u8> = (off..off + chunk).map(pattern).collect();
            let total = off + chunk;
            let send = async {
                let mut tail = tail;
                while !tail.is_empty() {
                    let crate::BufResult(res, back) = p.send(&mut w, tail).await;
                    tail = back;
                    tail.drain(..res.expect("send"));
                }
            };
            let recv = async {
                let mut got = Vec::with_capacity(total);
                while got.len() < total {
                    let crate::BufResult(res, buf) =
                        p.recv(&mut r, Vec::with_capacity(256 << 10)).await;
                    assert!(res.expect("recv") > 0);
                    got.extend_from_slice(&buf);
                }
                got
            };
            let ((), got) = join2(send, recv).await;
            assert_eq!(got.len(), total);
            let bad = got.iter().enumerate().position(|(i, b)| *b != pattern(i));
            assert_eq!(bad, None, "{:?}: first wrong byte", rt.backend());
        });
    }
}

/// io_uring: a send dropped while it waits in the kernel keeps later sends on the ring
/// (behind it) until it completes; no byte is reordered or duplicated, and the direct
/// path comes back afterwards.
#[test]
fn uring_dropped_send_is_not_overtaken() {
    const CHUNK: usize = 64 << 10;
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
    let Endpoint::Tcp { port, .. } = p.listener_endpoint(&l).unwrap() else {
        panic!()
    };
    let peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (s, _) = rt.block_on(p.accept(&l)).unwrap();
    let (r, mut w) = p.split(s);
    let (a_len, c_len, reader) = rt.block_on(async {
        // Send 1s until the socket is full and a send has to wait in the kernel; drop
        // that one there.
        let mut a_len = 0;
        loop {
            let mut f = pin!(p.send(&mut w, vec![1u8; CHUNK]));
            match poll_once(f.as_mut()).await {
                Some(crate::BufResult(res, _)) => a_len += res.expect("send"),
                None => break,
            }
        }
        assert!(w.sock.send_blocked.get(), "the direct send saw EAGAIN");
        assert_eq!(
            w.sock.sends_in_flight.get(),
            1,
            "the dropped send is in flight"
        );
        // A later send (3s) must queue behind the dropped one, whatever it did.
        let reader = std::thread::spawn(move || {
            let mut peer = peer;
            let mut all = Vec::new();
            peer.read_to_end(&mut all).unwrap();
            all
        });
        let c_len = 1000;
        let mut c = vec![3u8; c_len];
        let mut off = 0;
        while off < c_len {
            let crate::BufResult(res, buf) = p.send(&mut w, c.slice(off..c_len)).await;
            c = buf.into_inner();
            off += res.expect("send");
        }
        for _ in 0..100 {
            if w.sock.sends_in_flight.get() == 0 {
                break;
            }
            sleep_ms(&p, 10).await;
        }
        assert_eq!(
            w.sock.sends_in_flight.get(),
            0,
            "the dropped send completed"
        );
        // A complete ring send re-enabled the direct path.
        assert!(!w.sock.send_blocked.get());
        let crate::BufResult(res, _) = p.send(&mut w, vec![4u8; 10]).await;
        assert_eq!(res.expect("send"), 10);
        (a_len, c_len, reader)
    });
    drop(w);
    drop(r);
    let all = reader.join().unwrap();
    let ones = all.iter().take_while(|b| **b == 1).count();
    let threes = all[ones..].iter().take_while(|b| **b == 3).count();
    assert!(
        ones >= a_len && ones <= a_len + CHUNK,
        "{ones} vs {a_len}: the dropped send sent a prefix of itself or nothing"
    );
    assert_eq!(threes, c_len);
    assert_eq!(&all[ones + threes..], &[4u8; 10][..]);
}

/// Ping-pong with client and server as two tasks of one runtime (one thread): a
/// deterministic workload for instruction counting, e.g.
/// `valgrind --tool=callgrind <test binary> --ignored --exact tests::profile_pingpong_one_thread`
/// (valgrind cannot run the two-thread benchmark: it does not know that
/// `io_uring_enter` blocks). `RINGMQ_BACKEND` picks the driver.
#[test]
#[ignore = "profiling workload"]
fn profile_pingpong_one_thread() {
    const N: usize = 20_000;
    let rt = Runtime::new().unwrap();
    let p = rt.proactor();
    rt.block_on(async {
        let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
        let at = p.listener_endpoint(&l).unwrap();
        let server = {
            let p = p.clone();
            async move {
                let (s, _) = p.accept(&l).await.unwrap();
                let (mut r, mut w) = p.split(s);
                let mut buf = Vec::with_capacity(64);
                for _ in 0..N {
                    buf.clear();
                    buf = recv_exact_into(&p, &mut r, buf, 64).await;
                    let crate::BufResult(n, b) = p.send(&mut w, buf).await;
                    assert_eq!(n.unwrap(), 64);
                    buf = b;
                }
            }
        };
        p.spawn_local(server);
        let s = p.connect(&at).await.unwrap();
        let (mut r, mut w) = p.split(s);
        let mut buf = vec![0u8; 64];
        let start = Instant::now();
        for _ in 0..N {
            let crate::BufResult(n, b) = p.send(&mut w, buf).await;
            assert_eq!(n.unwrap(), 64);
            buf = b;
            buf.clear();
            buf = recv_exact_into(&p, &mut r, buf, 64).await;
        }
        println!(
            "{:?}: {:.2} us/rt on one thread",
            rt.backend(),
            start.elapsed().as_secs_f64() * 1e6 / N as f64
        );
    });
}

/// A receive into a buffer with more spare capacity than the kernel moves in one call
/// (2 GiB and more, which io_uring refuses with EINVAL) still receives, through the ring
/// and through the direct path alike. The capacity is reserved, not touched: only the
/// received bytes become resident.
#[test]
fn recv_into_huge_spare_capacity() {
    for spare in [(1usize << 31) + 7, (1 << 32) + 100] {
        for rt in runtimes() {
            let p = rt.proactor();
            let l = p.listen(&ep("tcp://127.0.0.1:*")).unwrap();
            let at = p.listener_endpoint(&l).unwrap();
            let Endpoint::Tcp { port, .. } = at else {
                panic!()
            };
            let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (s, _) = rt.block_on(p.accept(&l)).unwrap();
            let (mut r, _w) = p.split(s);
            rt.block_on(async {
                let mut buf = Vec::<u8>::with_capacity(spare);
                for round in 0..3u8 {
                    // The first receive waits in the ring; the later ones find the data
                    // already there.
                    let msg = [round; 5];
                    if round == 0 {
                        let send = async {
                            sleep_ms(&p, 5).await;
                            peer.write_all(&msg).unwrap();
                        };
                        let (res, ()) = join2(p.recv(&mut r, buf), send).await;
                        let crate::BufResult(res, b) = res;
                        assert_eq!(res.expect("ring recv"), 5, "{:?}", rt.backend());
                        buf = b;
                    } else {
                        peer.write_all(&msg).unwrap();
                        sleep_ms(&p, 5).await;
                        let crate::BufResult(res, b) = p.recv(&mut r, buf).await;
                        assert_eq!(res.expect("recv"), 5, "{:?}", rt.backend());
                        buf = b;
                    }
                }
                assert_eq!(buf, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
            });
        }
    }
}

/// A TCP connection for the zero-copy tests: our io_uring writer (zero-copy from 16
/// KiB on, a send buffer of about 400 KiB) and a blocking std peer with a small receive
/// buffer (set on the listener, so the window is small from the handshake on). Also the
/// reader half of our side, which must stay alive with the writer.
fn zc_pair(rt: &Runtime) -> (crate::Reader, crate::Writer, std::net::TcpStream) {
    let p = rt.proactor();
    assert!(
        p.set_send_zc(Some(crate::SEND_ZC_DEFAULT_THRESHOLD)),
        "the test machine's kernel (6.1 or later) has IORING_OP_SENDMSG_ZC"
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    crate::sockopt::set_recv_buffer(&l, 16 << 10).unwrap();
    let port = l.local_addr().unwrap().port();
    let s = rt
        .block_on(p.connect(&ep(&format!("tcp://127.0.0.1:{port}"))))
        .expect("connect");
    crate::sockopt::set_send_buffer(&s, 256 << 10).unwrap();
    let (peer, _) = l.accept().unwrap();
    let (r, w) = p.split(s);
    (r, w, peer)
}

fn zc_pattern(i: usize) -> u8 {
    (i % 241) as u8
}

/// Fills the peer's receive window with `n` bytes of copying (small) sends, so that
/// what is sent next waits untransmitted in our send buffer until the peer reads.
async fn zc_fill_window(p: &Native, w: &mut crate::Writer, n: usize) {
    let mut off = 0;
    while off < n {
        let chunk: Vec<bytes::Bytes> = (0..4)
            .map(|k| {
                let start = off + k * 2048;
                bytes::Bytes::from((start..start + 2048).map(zc_pattern).collect::<Vec<_>>())
            })
            .collect();
        let crate::BufResult(res, _) = p.send_vectored(w, chunk).await;
        assert_eq!(res.expect("send"), 8192, "room in the send buffer");
        off += 8192;
    }
}

async fn wait_for(p: &Native, what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        sleep_ms(p, 10).await;
    }
    panic!("timed out waiting for {what}");
}

/// A zero-copy send completes once its data is queued, but its buffers stay alive in
/// the driver until the notification, which comes only after the peer read (and
/// acknowledged) the data; the stream arrives intact.
#[test]
fn uring_zero_copy_send_holds_buffers_until_notification() {
    const FILL: usize = 128 << 10;
    const BIG: usize = 64 << 10;
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    let (_r, mut w, peer) = zc_pair(&rt);
    let big = bytes::Bytes::from(
        (FILL + 10..FILL + 10 + BIG)
            .map(zc_pattern)
            .collect::<Vec<_>>(),
    );
    let head = bytes::Bytes::from((FILL..FILL + 10).map(zc_pattern).collect::<Vec<_>>());
    rt.block_on(async {
        zc_fill_window(&p, &mut w, FILL).await;
        assert_eq!(p.send_zc_stats().sends, 0, "small buffers are copied");
        let crate::BufResult(res, back) = p
            .send_vectored(&mut w, vec![head.clone(), big.clone()])
            .await;
        assert_eq!(res.expect("zero-copy send"), BIG + 10);
        drop(back);
        let s = p.send_zc_stats();
        assert_eq!((s.sends, s.notifications, s.refused), (1, 0, 0), "{s:?}");
        // The peer has not read: the data waits in our send buffer, and the driver
        // keeps a handle on both buffers of the send.
        sleep_ms(&p, 20).await;
        assert_eq!(p.send_zc_stats().notifications, 0);
        assert!(!big.is_unique() && !head.is_unique(), "buffers held");
    });
    let total = FILL + 10 + BIG;
    let reader = std::thread::spawn(move || {
        let mut peer = peer;
        let mut got = vec![0u8; total];
        peer.read_exact(&mut got).unwrap();
        got
    });
    rt.block_on(async {
        wait_for(&p, "the notification", || {
            p.send_zc_stats().notifications == 1
        })
        .await;
    });
    assert!(
        big.is_unique() && head.is_unique(),
        "released by the notification"
    );
    let got = reader.join().unwrap();
    let bad = got
        .iter()
        .enumerate()
        .position(|(i, b)| *b != zc_pattern(i));
    assert_eq!(bad, None, "first wrong byte");
}

/// A zero-copy send whose future is dropped while it waits for room in the kernel, and
/// one whose data is queued when the peer goes away without reading: both keep their
/// buffers until the notification, which the peer's reset brings.
#[test]
fn uring_zero_copy_send_dropped_or_peer_gone_releases_after_notification() {
    const BIG: usize = 64 << 10;
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    let (_r, mut w, peer) = zc_pair(&rt);
    let queued = bytes::Bytes::from(vec![7u8; BIG]);
    let dropped = bytes::Bytes::from(vec![8u8; BIG]);
    rt.block_on(async {
        zc_fill_window(&p, &mut w, 64 << 10).await;
        let crate::BufResult(res, _) = p.send_vectored(&mut w, vec![queued.clone()]).await;
        assert_eq!(res.expect("zero-copy send"), BIG);
        // Fill our send buffer with zero-copy sends until one has to wait.
        let mut fillers = Vec::new();
        loop {
            let b = bytes::Bytes::from(vec![9u8; BIG]);
            let mut f = pin!(p.send_vectored(&mut w, vec![b.clone()]));
            fillers.push(b);
            match poll_once(f.as_mut()).await {
                Some(crate::BufResult(res, _)) => {
                    res.expect("send");
                }
                None => break,
            }
            // Completed at once: give the kernel the next one.
            assert!(fillers.len() < 1000, "the send buffer never filled");
        }
        // The last filler waits in the kernel: drop it there.
        let last = fillers.pop().expect("one filler waits");
        drop(last);
        let mut f = Box::pin(p.send_vectored(&mut w, vec![dropped.clone()]));
        assert!(poll_once(f.as_mut()).await.is_none(), "waits for room");
        drop(f);
        sleep_ms(&p, 20).await;
        assert!(!queued.is_unique(), "queued data held");
        assert!(!dropped.is_unique(), "the dropped send's buffer is held");
    });
    // The peer closes with unread data: a reset, which frees our send queue.
    drop(peer);
    rt.block_on(async {
        wait_for(&p, "the buffers' release", || {
            queued.is_unique() && dropped.is_unique()
        })
        .await;
        let s = p.send_zc_stats();
        assert!(s.sends >= 3, "{s:?}");
        assert_eq!(
            s.notifications, s.sends,
            "{s:?}: one per send, dropped ones too"
        );
    });
}

/// Unix sockets refuse zero-copy sends: the send is made again with a copy (nothing
/// lost or doubled), the socket is marked, and later sends copy at once.
#[test]
fn uring_zero_copy_refused_falls_back_to_copying() {
    const BIG: usize = 64 << 10;
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    assert!(p.set_send_zc(Some(16 << 10)));
    let name = format!("ipc://@ringmq-zc-refused-{}", std::process::id());
    let l = p.listen(&ep(&name)).unwrap();
    let got = rt.block_on(async {
        let (accepted, connected) = join2(p.accept(&l), p.connect(&ep(&name))).await;
        let (mut r, _w) = p.split(accepted.expect("accept").0);
        let (_r2, mut w) = p.split(connected.expect("connect"));
        let data = bytes::Bytes::from((0..BIG).map(zc_pattern).collect::<Vec<_>>());
        let send = async {
            for _ in 0..2 {
                let mut rest = vec![data.clone()];
                while !rest.is_empty() {
                    let crate::BufResult(res, back) = p.send_vectored(&mut w, rest).await;
                    let n = res.expect("send");
                    rest = back;
                    let mut first = rest.remove(0);
                    bytes::Buf::advance(&mut first, n);
                    if !first.is_empty() {
                        rest.insert(0, first);
                    }
                }
            }
        };
        let (_, got) = join2(send, recv_exact(&p, &mut r, 2 * BIG)).await;
        got
    });
    let s = p.send_zc_stats();
    assert_eq!((s.sends, s.refused), (0, 1), "{s:?}");
    assert_eq!(got.len(), 2 * BIG);
    let bad = got
        .iter()
        .enumerate()
        .position(|(i, b)| *b != zc_pattern(i % BIG));
    assert_eq!(bad, None, "first wrong byte");
}

/// The switch: off by default (without `RINGMQ_SEND_ZC`), and on epoll not available.
#[test]
fn send_zc_switch() {
    let rt = Runtime::with_backend(BackendChoice::Epoll).expect("epoll");
    assert!(!rt.proactor().set_send_zc(Some(1)));
    if std::env::var_os(crate::SEND_ZC_ENV).is_none() {
        let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
        let p = rt.proactor();
        let (_r, mut w, mut peer) = {
            let (r, w, peer) = zc_pair(&rt);
            assert!(p.set_send_zc(None));
            (r, w, peer)
        };
        rt.block_on(async {
            let crate::BufResult(res, _) = p
                .send_vectored(&mut w, vec![bytes::Bytes::from(vec![1u8; 64 << 10])])
                .await;
            assert_eq!(res.expect("send"), 64 << 10);
        });
        let mut got = vec![0u8; 64 << 10];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(p.send_zc_stats(), crate::SendZcStats::default());
    }
}

/// The notification arrives before the future collects the send's result (the future
/// is not polled meanwhile): the slot notes it, and the buffers go back at once with
/// nothing left parked.
#[test]
fn uring_zero_copy_notification_before_the_result_is_collected() {
    const BIG: usize = 64 << 10;
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    let (_r, mut w, peer) = zc_pair(&rt);
    let reader = std::thread::spawn(move || {
        let mut peer = peer;
        let mut got = vec![0u8; BIG];
        peer.read_exact(&mut got).unwrap();
        got
    });
    let big = bytes::Bytes::from((0..BIG).map(zc_pattern).collect::<Vec<_>>());
    rt.block_on(async {
        let mut f = Box::pin(p.send_vectored(&mut w, vec![big.clone()]));
        assert!(poll_once(f.as_mut()).await.is_none(), "submitted, not done");
        // Run the ring without polling the send: result and notification both come.
        wait_for(&p, "the notification", || {
            p.send_zc_stats().notifications == 1
        })
        .await;
        assert!(!big.is_unique(), "the future still owns its buffers");
        let crate::BufResult(res, back) = f.await;
        assert_eq!(res.expect("zero-copy send"), BIG);
        drop(back);
        assert!(
            big.is_unique(),
            "nothing parked after a notification already seen"
        );
        assert_eq!(p.send_zc_stats().sends, 1);
    });
    let got = reader.join().unwrap();
    assert!(got.iter().enumerate().all(|(i, b)| *b == zc_pattern(i)));
}
