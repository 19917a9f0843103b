//! `SocketHandle` and `BlockingSocket`: sockets on a runtime thread, used from tokio's
//! multi-thread runtime, plain threads and a hand-rolled poll loop.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use ringmq_sockets::{
    BlockingSocket, Error, Events, MonitorEventKind, RuntimeThread, SocketHandle, SocketOption,
    SocketType,
};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn handles_are_send_sync_clone() {
    assert_send_sync_clone::<SocketHandle>();
    assert_send_sync_clone::<BlockingSocket>();
    assert_send_sync_clone::<RuntimeThread>();
}

fn tokio_mt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Several `tokio::spawn`ed tasks push through clones of one handle; a PULL task
/// counts every message, per sender, in order.
#[test]
fn push_pull_from_spawned_tokio_tasks() {
    const SENDERS: usize = 4;
    const EACH: usize = 5_000;
    let rt = RuntimeThread::builder()
        .name("ringmq-test")
        .spawn()
        .unwrap();
    assert_eq!(rt.name(), "ringmq-test");
    let pull = rt.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = rt.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    tokio_mt().block_on(async move {
        let mut tasks = Vec::new();
        for s in 0..SENDERS {
            let push = push.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..EACH {
                    push.send(format!("{s} {i}")).await.unwrap();
                }
            }));
        }
        let counter = tokio::spawn(async move {
            let mut next = [0usize; SENDERS];
            for _ in 0..SENDERS * EACH {
                let m = pull.recv().await.unwrap();
                let text = std::str::from_utf8(&m.frames()[0]).unwrap().to_owned();
                let (s, i) = text.split_once(' ').unwrap();
                let (s, i): (usize, usize) = (s.parse().unwrap(), i.parse().unwrap());
                assert_eq!(i, next[s], "messages of sender {s} in order");
                next[s] += 1;
            }
            next
        });
        for t in tasks {
            t.await.unwrap();
        }
        let next = tokio::time::timeout(Duration::from_secs(30), counter)
            .await
            .expect("every message arrives")
            .unwrap();
        assert_eq!(next, [EACH; SENDERS]);
    });
}

/// With nobody to take them, messages pile up only to SNDHWM plus the handle's
/// channel (and one batch of the pump): then `try_send` says `WouldBlock` and a
/// blocking send times out.
#[test]
fn back_pressure_reaches_the_caller() {
    let rt = RuntimeThread::builder().queue(16).spawn().unwrap();
    let push = BlockingSocket::from(rt.socket(SocketType::Push).unwrap());
    push.set_option(SocketOption::SndHwm(10)).unwrap();
    // A connect-side peer that never connects: messages queue for it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    push.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let mut accepted = 0;
    let start = Instant::now();
    loop {
        match push.try_send("x") {
            Ok(()) => accepted += 1,
            Err(Error::WouldBlock) => {
                // The pump may still be moving the last messages into the socket.
                std::thread::sleep(Duration::from_millis(20));
                if push.try_send("x").is_err() {
                    break;
                }
                accepted += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no back-pressure"
        );
    }
    assert!(
        (10..=10 + 16 + 64 + 1).contains(&accepted),
        "accepted {accepted} messages: SNDHWM 10 + queue 16 + one pump batch at most"
    );
    let t = Instant::now();
    let r = push.send_timeout("y", Some(Duration::from_millis(100)));
    assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
    assert!(t.elapsed() >= Duration::from_millis(100));
    push.set_option(SocketOption::SndTimeo(Some(Duration::ZERO)))
        .unwrap();
    assert!(matches!(push.send("z"), Err(Error::WouldBlock)));
}

/// A REQ/REP pair on plain threads: errors of the socket come back per call, and
/// timeouts apply.
#[test]
fn blocking_req_rep_on_threads() {
    let rep = BlockingSocket::new(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = BlockingSocket::new(SocketType::Req).unwrap();
    assert!(matches!(
        req.recv_timeout(Some(Duration::from_millis(10))),
        Err(Error::InvalidState { .. })
    ));
    req.connect(&ep).unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..100 {
            let m = rep.recv().unwrap();
            let mut reply = m.frames()[0].to_vec();
            reply.reverse();
            rep.send(reply).unwrap();
        }
        let t = Instant::now();
        assert!(matches!(
            rep.recv_timeout(Some(Duration::from_millis(50))),
            Err(Error::TimedOut)
        ));
        assert!(t.elapsed() >= Duration::from_millis(50));
    });
    for i in 0..100 {
        req.send(format!("ab{i}")).unwrap();
        assert!(matches!(req.send("again"), Err(Error::InvalidState { .. })));
        let r = req.recv().unwrap();
        let mut want = format!("ab{i}").into_bytes();
        want.reverse();
        assert_eq!(&r.frames()[0][..], &want[..]);
    }
    server.join().unwrap();
}

/// `try_recv` makes progress with nobody driving anything on the caller's side.
#[test]
fn try_recv_progresses_without_block_on() {
    let rt = RuntimeThread::spawn().unwrap();
    let pull = rt.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = BlockingSocket::from(rt.socket(SocketType::Push).unwrap());
    push.connect(&ep).unwrap();
    for i in 0..10 {
        push.send(format!("{i}")).unwrap();
    }
    let mut got = Vec::new();
    let start = Instant::now();
    while got.len() < 10 {
        match pull.try_recv() {
            Ok(m) => got.push(String::from_utf8(m.frames()[0].to_vec()).unwrap()),
            Err(Error::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
            Err(e) => panic!("{e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "try_recv made no progress"
        );
    }
    assert_eq!(got, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

/// Polls `f` once, as a `select!` that another branch won would, then drops it.
fn poll_once<F: Future>(f: F) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    match pin!(f).poll(&mut cx) {
        Poll::Ready(x) => Some(x),
        Poll::Pending => None,
    }
}

/// A `recv` dropped before it completes loses nothing, streaming (PULL) and
/// request/reply (REP) alike: every message arrives exactly once, in order.
#[test]
fn dropped_recv_loses_nothing() {
    let rt = RuntimeThread::spawn().unwrap();
    let pull = rt.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = BlockingSocket::from(rt.socket(SocketType::Push).unwrap());
    push.connect(&ep).unwrap();
    const N: usize = 20_000;
    let sender = std::thread::spawn(move || {
        for i in 0..N {
            push.send(i.to_string()).unwrap();
        }
        push
    });
    let mut next = 0;
    let mut dropped = 0usize;
    let start = Instant::now();
    while next < N {
        match poll_once(pull.recv()) {
            Some(m) => {
                assert_eq!(m.unwrap().frames()[0], next.to_string().as_bytes());
                next += 1;
            }
            None => {
                dropped += 1;
                // Two CPUs for three threads: let the runtime and the sender run.
                std::thread::yield_now();
            }
        }
        assert!(start.elapsed() < Duration::from_secs(30));
    }
    let _push = sender.join().unwrap();
    assert!(pull.try_recv().is_err(), "nothing more than was sent");
    assert!(dropped > 0, "some receives were dropped pending");
}

/// The same for request/reply: the REP's receive is a call on the runtime thread,
/// taken over by the next `recv` when dropped. The test thread spins on dropped
/// receives, which once queued one task per turn on the runtime thread without bound
/// and starved the REQ's send there.
#[test]
fn dropped_rep_recv_loses_nothing() {
    let rt = RuntimeThread::spawn().unwrap();
    let rep = rt.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = BlockingSocket::from(rt.socket(SocketType::Req).unwrap());
    req.connect(&ep).unwrap();
    let client = std::thread::spawn(move || {
        for i in 0..200 {
            req.send(i.to_string()).unwrap();
            assert_eq!(req.recv().unwrap().frames()[0], i.to_string().as_bytes());
        }
    });
    let rep = BlockingSocket::from(rep);
    let mut i = 0;
    while i < 200 {
        match poll_once(rep.handle().recv()) {
            Some(m) => {
                let m = m.unwrap();
                assert_eq!(m.frames()[0], i.to_string().as_bytes());
                rep.send(m).unwrap();
                i += 1;
            }
            None => std::thread::yield_now(),
        }
    }
    client.join().unwrap();
}

/// Monitor events reach the handle; closing one clone closes the socket for all.
#[test]
fn monitor_and_close() {
    let pull = SocketHandle::new(SocketType::Pull).unwrap();
    let mon = pull.monitor().unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = BlockingSocket::new(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    let blocking_pull = BlockingSocket::from(pull.clone());
    push.send("hi").unwrap();
    assert_eq!(blocking_pull.recv().unwrap().frames()[0], "hi");
    let start = Instant::now();
    let mut kinds = Vec::new();
    while !kinds.contains(&MonitorEventKind::HandshakeSucceeded) {
        if let Some(e) = mon.try_recv() {
            kinds.push(e.kind);
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{kinds:?}");
    }
    assert!(kinds.contains(&MonitorEventKind::Listening), "{kinds:?}");
    blocking_pull.close();
    assert!(
        matches!(pull.try_recv(), Err(Error::Closed)),
        "closed for every clone"
    );
    assert!(matches!(
        blocking_pull.bind("tcp://127.0.0.1:*"),
        Err(Error::Closed)
    ));
    // A streaming sender's channel refuses messages once its socket is closed.
    push.close();
    assert!(matches!(push.send("late"), Err(Error::Closed)));
    assert!(matches!(push.try_send("late"), Err(Error::Closed)));
}

/// SERVER through blocking handles: the routing id survives the cross-thread pumps
/// both ways, and an unknown id fails that very send.
#[test]
fn blocking_client_server_keeps_routing_ids() {
    let server = BlockingSocket::new(SocketType::Server).unwrap();
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let clients: Vec<BlockingSocket> = (0..2)
        .map(|_| {
            let c = BlockingSocket::new(SocketType::Client).unwrap();
            c.connect(&ep).unwrap();
            c
        })
        .collect();
    for (i, c) in clients.iter().enumerate() {
        c.send(format!("from {i}")).unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        let m = server.recv().unwrap();
        let id = m.routing_id().expect("an id after the pump");
        ids.push(id);
        let reply = ringmq_sockets::Message::from(m.frames()[0].clone()).with_routing_id(id);
        server.send(reply).unwrap();
    }
    for (i, c) in clients.iter().enumerate() {
        assert_eq!(
            c.recv().unwrap().frames()[0],
            format!("from {i}").as_bytes()
        );
    }
    let unknown = (1..).find(|i| !ids.contains(i)).unwrap();
    let nobody = ringmq_sockets::Message::from("x").with_routing_id(unknown);
    assert!(matches!(server.send(nobody), Err(Error::HostUnreachable)));
}

/// RADIO / DISH through blocking handles over udp://: the group survives the
/// cross-thread pumps, `join` goes through the handle, a group not joined never
/// arrives.
#[test]
fn blocking_radio_dish_keeps_groups() {
    let dish = BlockingSocket::new(SocketType::Dish).unwrap();
    let ep = dish.bind("udp://127.0.0.1:*").unwrap();
    dish.join(b"tv").unwrap();
    let radio = BlockingSocket::new(SocketType::Radio).unwrap();
    radio.connect(&ep).unwrap();
    for i in 0..3 {
        for g in ["news", "tv"] {
            let m = ringmq_sockets::Message::from(format!("{g}-{i}"))
                .with_group(g)
                .unwrap();
            radio.send(m).unwrap();
        }
    }
    for i in 0..3 {
        let m = dish.recv().unwrap();
        assert_eq!(m.group(), b"tv");
        assert_eq!(m.frames()[0], format!("tv-{i}").as_bytes());
    }
}

/// The batch API on handles: a tokio task sends batches through a PUSH handle, a
/// blocking PULL takes them with `recv_many`; all arrive in order, multipart whole.
/// Then the pipe's back-pressure with a partial batch, and a REQ batch's error.
#[test]
fn batch_api_on_handles() {
    use ringmq_sockets::{Bytes, Message};
    const N: usize = 20_000;
    let rt = RuntimeThread::builder().queue(64).spawn().unwrap();
    let pull = BlockingSocket::from(rt.socket(SocketType::Pull).unwrap());
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = rt.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    let sender = std::thread::spawn(move || {
        tokio_mt().block_on(async move {
            let mut msgs = Vec::new();
            for start in (0..N).step_by(500) {
                msgs.extend((start..start + 500).map(|i| -> Message {
                    vec![Bytes::from(format!("{i}")), Bytes::from_static(b"tail")].into()
                }));
                push.send_batch(&mut msgs).await.unwrap();
                assert!(msgs.is_empty());
            }
        })
    });
    let mut out = Vec::new();
    let mut next = 0;
    while next < N {
        let got = pull.recv_many(&mut out, 100).unwrap();
        assert!((1..=100).contains(&got));
        for m in out.drain(..) {
            assert_eq!(m.len(), 2, "multipart messages arrive whole");
            assert_eq!(m.frames()[0], format!("{next}").as_bytes(), "in order");
            assert_eq!(m.frames()[1], "tail");
            next += 1;
        }
    }
    sender.join().unwrap();
    assert!(matches!(
        pull.try_recv_many(&mut out, 10),
        Err(Error::WouldBlock)
    ));

    // Nobody connected: SNDHWM 10 plus the pipe of 64 (plus what the pump holds)
    // take part of a batch; the rest stays, in order, and a blocking batch times out.
    let push = BlockingSocket::from(rt.socket(SocketType::Push).unwrap());
    push.set_option(SocketOption::SndHwm(10)).unwrap();
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    push.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let mut msgs: Vec<Message> = (0..1000).map(|i| Message::from(format!("{i}"))).collect();
    let mut taken = 0;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(300) {
        match push.try_send_batch(&mut msgs) {
            Ok(n) => taken += n,
            Err(Error::WouldBlock) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(
        (64..1000).contains(&taken),
        "took {taken}: at most SNDHWM + pipe + a pump batch"
    );
    assert_eq!(msgs.len(), 1000 - taken);
    assert_eq!(msgs[0].frames()[0], format!("{taken}").as_bytes());
    push.set_option(SocketOption::SndTimeo(Some(Duration::from_millis(50))))
        .unwrap();
    assert!(matches!(push.send_batch(&mut msgs), Err(Error::TimedOut)));
    assert_eq!(
        msgs.len(),
        1000 - taken,
        "a timed-out batch keeps its messages"
    );
    let mut empty = vec![Message::default()];
    assert!(matches!(
        push.try_send_batch(&mut empty),
        Err(Error::EmptyMessage)
    ));
    assert!(
        empty.is_empty(),
        "the empty message is dropped with the error"
    );
    push.send_batch(&mut empty).unwrap();
    assert_eq!(push.try_send_batch(&mut empty).unwrap(), 0);

    // REQ: the second request of a batch fails on the runtime thread; the rest come
    // back.
    let rep = BlockingSocket::from(rt.socket(SocketType::Rep).unwrap());
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = BlockingSocket::from(rt.socket(SocketType::Req).unwrap());
    req.connect(&ep).unwrap();
    let mut msgs: Vec<Message> = vec!["one".into(), "two".into(), "three".into()];
    assert!(matches!(
        req.send_batch(&mut msgs),
        Err(Error::InvalidState { .. })
    ));
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].frames()[0], "three");
    let mut out = Vec::new();
    assert_eq!(rep.recv_many(&mut out, 10).unwrap(), 1);
    assert_eq!(out[0].frames()[0], "one");
}

/// Waits (at most 10 s) until `events` says `want`.
fn wait_events(h: &SocketHandle, want: Events) {
    let start = Instant::now();
    loop {
        let now = h.events().unwrap();
        if now == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{now:?}, want {want:?}"
        );
        std::thread::yield_now();
    }
}

fn events(readable: bool, writable: bool) -> Events {
    Events { readable, writable }
}

/// ZMQ_EVENTS through handles: REQ / REP ask their socket, streaming types answer
/// from their pipes; a message kept from a dropped `recv` counts as readable.
#[test]
fn events_through_handles() {
    let rt = RuntimeThread::spawn().unwrap();
    let rep = rt.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    assert_eq!(rep.events().unwrap(), events(false, false));
    let req = rt.socket(SocketType::Req).unwrap();
    req.connect(&ep).unwrap();
    wait_events(&req, events(false, true));
    BlockingSocket::from(req.clone()).send("q").unwrap();
    assert_eq!(
        req.events().unwrap(),
        events(false, false),
        "awaiting the reply"
    );
    wait_events(&rep, events(true, false));
    let brep = BlockingSocket::from(rep.clone());
    assert_eq!(brep.recv().unwrap().frames()[0], "q");
    assert_eq!(rep.events().unwrap(), events(false, true), "answering");
    brep.send("r").unwrap();
    wait_events(&req, events(true, false));
    // A dropped receive parks its answer; the reply in it is readable. (The runtime
    // thread answers after the first poll, unless it beats this thread to it.)
    let mut cx = Context::from_waker(Waker::noop());
    let first = pin!(req.recv()).as_mut().poll(&mut cx);
    let reply = match first {
        Poll::Ready(m) => m.unwrap(),
        Poll::Pending => {
            wait_events(&req, events(true, false));
            BlockingSocket::from(req.clone()).recv().unwrap()
        }
    };
    assert_eq!(reply.frames()[0], "r");
    assert_eq!(req.events().unwrap(), events(false, true));

    let pull = rt.socket(SocketType::Pull).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = rt.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    assert_eq!(
        push.events().unwrap(),
        events(false, true),
        "room in the pipe"
    );
    assert_eq!(pull.events().unwrap(), events(false, false));
    BlockingSocket::from(push).send("x").unwrap();
    wait_events(&pull, events(true, false));
}

/// `try_recv` after a dropped REQ / REP `recv`: the parked receive holds the request,
/// and `try_recv` returns it (it used to ask the socket, whose message the parked
/// receive had taken, and say `WouldBlock` forever).
#[test]
fn try_recv_takes_a_parked_receive() {
    let rt = RuntimeThread::spawn().unwrap();
    let rep = rt.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    assert!(pin!(rep.recv()).as_mut().poll(&mut cx).is_pending());
    let req = BlockingSocket::from(rt.socket(SocketType::Req).unwrap());
    req.connect(&ep).unwrap();
    req.send("q").unwrap();
    let start = Instant::now();
    let m = loop {
        match rep.try_recv() {
            Ok(m) => break m,
            Err(Error::WouldBlock) => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never received");
    };
    assert_eq!(m.frames()[0], "q");
    assert!(
        matches!(rep.try_recv(), Err(Error::InvalidState { .. })),
        "answering"
    );
}
