//! `soak [--secs N] [--report-secs M] [--backend uring|epoll]`: a soak run, not a
//! benchmark. For N seconds (default 60) one process runs mixed patterns with
//! connection churn, faults on the wire and hostile peers, and every M seconds
//! (default 60) prints its RSS, open descriptors and message rates, so a long run shows
//! whether memory and descriptors stay flat after warm-up (docs/RELIABILITY.md).
//!
//! - REQ -> REP: clients that connect, make 50 round trips and close, over and over.
//! - PUSH -> PULL through a fault-injecting TCP proxy (the tests' `fault/proxy.rs`)
//!   whose fault changes every 5 s (delay, cuts with RST and FIN, stalls): pushers of
//!   500 numbered, checksummed multipart messages each; the PULL checks every message
//!   it gets (a cut may lose messages whole, never corrupt one).
//! - PUB -> SUB: a publisher on four topics, subscribers that take 200 messages of one
//!   topic and leave.
//! - DEALER -> ROUTER: dealers that pipeline 100 requests, collect the echoes, leave.
//! - Hostile peers against the REP, whose limits are set (peer cap, partial-message and
//!   idle timeouts, MAXMSGSIZE, handshake interval): garbage, a stalled handshake, a
//!   message left unfinished, a silent handshaken peer, an oversized message.
//! - A PULL capped at four peers, to which eight connections are made at a time.
//!
//! Exits 1 if a message arrived corrupted or a pattern stopped making progress.

#[path = "../../../sockets/tests/fault/mod.rs"]
mod fault;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use fault::proxy::{addr_of, CutKind, Fault, Proxy};
use fault::{Messages, Rng};
use ringmq_proactor::{BackendChoice, BufResult, Native, Proactor, Runtime};
use ringmq_sockets::{Context, Message, Monitor, MonitorEventKind, SocketOption, SocketType};
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Session, SessionConfig};

/// Counters of one run.
#[derive(Default)]
struct Counters {
    round_trips: Cell<u64>,
    pushed: Cell<u64>,
    pulled: Cell<u64>,
    published: Cell<u64>,
    subscribed: Cell<u64>,
    routed: Cell<u64>,
    connections: Cell<u64>,
    hostile: Cell<u64>,
    corrupt: Cell<u64>,
    /// End reasons seen on the servers' monitors, by text.
    ends: RefCell<BTreeMap<String, u64>>,
    refused: Cell<u64>,
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

struct Args {
    secs: u64,
    report: u64,
    backend: BackendChoice,
}

fn args() -> Args {
    let mut a = Args {
        secs: 60,
        report: 60,
        backend: BackendChoice::Auto,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage(&arg));
        match arg.as_str() {
            "--secs" => a.secs = value().parse().unwrap_or_else(|_| usage("--secs")),
            "--report-secs" => {
                a.report = value().parse().unwrap_or_else(|_| usage("--report-secs"))
            }
            "--backend" => {
                a.backend = match value().as_str() {
                    "uring" => BackendChoice::Uring,
                    "epoll" => BackendChoice::Epoll,
                    other => usage(other),
                }
            }
            other => usage(other),
        }
    }
    a.report = a.report.clamp(1, a.secs.max(1));
    a
}

fn usage(bad: &str) -> ! {
    eprintln!("soak: bad argument {bad:?}; usage: soak [--secs N] [--report-secs M] [--backend uring|epoll]");
    std::process::exit(2);
}

fn main() {
    let a = args();
    ringmq_proactor::test_util::raise_nofile_limit(8192).expect("RLIMIT_NOFILE");
    let rt = Runtime::with_backend(a.backend).expect("runtime");
    let p = rt.proactor();
    let ok = rt.block_on(run(Context::new(p), a));
    std::process::exit(if ok { 0 } else { 1 });
}

/// Resident set size in KiB and open descriptors of this process.
fn rss_and_fds() -> (u64, usize) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    (rss, fds)
}

/// Runs `f` as a task that stops when `stop` is set; `live` counts running tasks.
fn spawn<F: Future<Output = ()> + 'static>(p: &Native, live: &Rc<Cell<usize>>, f: F) {
    live.set(live.get() + 1);
    let live = live.clone();
    p.spawn_local(async move {
        f.await;
        live.set(live.get() - 1);
    });
}

async fn sleep(p: &Native, d: Duration) {
    p.sleep_until(p.now() + d).await;
}

/// `f` or `None` after `d`.
async fn within<T>(p: &Native, d: Duration, f: impl Future<Output = T>) -> Option<T> {
    let mut f = std::pin::pin!(f);
    let mut t = std::pin::pin!(p.sleep_until(p.now() + d));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
            return std::task::Poll::Ready(Some(v));
        }
        t.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Counts the end reasons and refusals a server's monitor reports.
fn watch(p: &Native, live: &Rc<Cell<usize>>, c: &Rc<Counters>, m: Monitor, stop: &Rc<Cell<bool>>) {
    let (c, stop, p2) = (c.clone(), stop.clone(), p.clone());
    spawn(p, live, async move {
        while !stop.get() {
            let Some(Some(e)) = within(&p2, Duration::from_millis(200), m.recv()).await else {
                continue;
            };
            let reason = match e.kind {
                MonitorEventKind::Disconnected { reason }
                | MonitorEventKind::HandshakeFailed { reason } => reason.to_string(),
                MonitorEventKind::AcceptRefused { reason } => {
                    bump(&c.refused);
                    reason.to_string()
                }
                _ => continue,
            };
            *c.ends.borrow_mut().entry(reason).or_default() += 1;
        }
    });
}

async fn run(ctx: Context<Native>, a: Args) -> bool {
    let p = ctx.proactor().clone();
    let c = Rc::new(Counters::default());
    let stop = Rc::new(Cell::new(false));
    let live = Rc::new(Cell::new(0usize));

    // REQ -> REP, with every limit set: the hostile peers go here too.
    let rep = ctx.socket(SocketType::Rep);
    for o in [
        SocketOption::MaxPeers(Some(256)),
        SocketOption::PartialMsgTimeout(Some(Duration::from_secs(1))),
        SocketOption::IdleTimeout(Some(Duration::from_secs(3))),
        SocketOption::MaxMsgSize(Some(64 * 1024)),
        SocketOption::HandshakeIvl(Duration::from_secs(2)),
    ] {
        rep.set_option(o).expect("REP option");
    }
    watch(&p, &live, &c, rep.monitor(), &stop);
    let rep_ep = rep.bind("tcp://127.0.0.1:*").expect("bind REP");
    let rep = Rc::new(rep);
    {
        let (rep, stop) = (rep.clone(), stop.clone());
        let p2 = p.clone();
        spawn(&p, &live, async move {
            while !stop.get() {
                let Some(Ok(m)) = within(&p2, Duration::from_millis(200), rep.recv()).await else {
                    continue;
                };
                let _ = rep.send(m).await;
            }
        });
    }
    for i in 0..3u64 {
        let (ctx, ep, c, stop) = (ctx.clone(), rep_ep.clone(), c.clone(), stop.clone());
        spawn(&p, &live, async move {
            let mut n = i << 40;
            while !stop.get() {
                let req = ctx.socket(SocketType::Req);
                req.set_option(SocketOption::Linger(Some(Duration::ZERO)))
                    .unwrap();
                req.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(5))))
                    .unwrap();
                req.connect(&ep).unwrap();
                bump(&c.connections);
                for _ in 0..50 {
                    n += 1;
                    let body = Bytes::copy_from_slice(&n.to_be_bytes());
                    if req.send(Message::from(body.clone())).await.is_err() {
                        break;
                    }
                    match req.recv().await {
                        Ok(r) if r.frames() == [body] => bump(&c.round_trips),
                        Ok(_) => bump(&c.corrupt),
                        Err(_) => break,
                    }
                }
                req.close().await;
            }
        });
    }

    // PUSH -> proxy -> PULL, the proxy's fault changing every 5 s.
    let pull = ctx.socket(SocketType::Pull);
    pull.set_option(SocketOption::MaxMsgSize(Some(1 << 20)))
        .unwrap();
    watch(&p, &live, &c, pull.monitor(), &stop);
    let pull_ep = pull.bind("tcp://127.0.0.1:*").expect("bind PULL");
    let proxy = Rc::new(Proxy::start(addr_of(&pull_ep), Fault::None, 0x50a6));
    let messages = Messages::new(0x50a6, 3000);
    {
        let (c, stop, p2) = (c.clone(), stop.clone(), p.clone());
        spawn(&p, &live, async move {
            while !stop.get() {
                let Some(Ok(m)) = within(&p2, Duration::from_millis(200), pull.recv()).await else {
                    continue;
                };
                match messages.check(m.frames()) {
                    Ok(_) => bump(&c.pulled),
                    Err(e) => {
                        eprintln!("PULL: {e}");
                        bump(&c.corrupt);
                    }
                }
            }
        });
    }
    {
        let (proxy, stop, p2) = (proxy.clone(), stop.clone(), p.clone());
        spawn(&p, &live, async move {
            let faults = [
                Fault::None,
                Fault::Delay(Duration::from_millis(2)),
                Fault::Cut {
                    kind: CutKind::Rst,
                    lo: 1,
                    hi: 200_000,
                },
                Fault::Cut {
                    kind: CutKind::Fin,
                    lo: 1,
                    hi: 200_000,
                },
                Fault::Stall {
                    lo: 1,
                    hi: 100_000,
                    pause: Some(Duration::from_millis(300)),
                },
            ];
            let mut i = 0;
            while !stop.get() {
                proxy.set_fault(faults[i % faults.len()]);
                i += 1;
                let end = p2.now() + Duration::from_secs(5);
                while !stop.get() && p2.now() < end {
                    sleep(&p2, Duration::from_millis(100)).await;
                }
            }
        });
    }
    for i in 0..2u64 {
        let (ctx, ep, c, stop) = (ctx.clone(), proxy.endpoint(), c.clone(), stop.clone());
        let p2 = p.clone();
        spawn(&p, &live, async move {
            let mut seq = i << 40;
            while !stop.get() {
                let push = ctx.socket(SocketType::Push);
                push.set_option(SocketOption::Linger(Some(Duration::from_millis(500))))
                    .unwrap();
                push.set_option(SocketOption::SndTimeo(Some(Duration::from_secs(2))))
                    .unwrap();
                push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(20)))
                    .unwrap();
                push.connect(&ep).unwrap();
                bump(&c.connections);
                for k in 0..500 {
                    seq += 1;
                    if push.send(Message::from(messages.make(seq))).await.is_err() {
                        break;
                    }
                    bump(&c.pushed);
                    if k % 50 == 0 {
                        sleep(&p2, Duration::from_millis(1)).await;
                    }
                }
                push.close().await;
            }
        });
    }

    // PUB -> SUB.
    let publisher = ctx.socket(SocketType::Pub);
    let pub_ep = publisher.bind("tcp://127.0.0.1:*").expect("bind PUB");
    {
        let (c, stop, p2) = (c.clone(), stop.clone(), p.clone());
        spawn(&p, &live, async move {
            let topics = [&b"a."[..], b"b.", b"c.", b"d."];
            let mut n = 0u64;
            while !stop.get() {
                for _ in 0..100 {
                    n += 1;
                    let mut t = topics[(n % 4) as usize].to_vec();
                    t.extend_from_slice(&n.to_be_bytes());
                    let _ = publisher.send(Message::from(t)).await;
                    bump(&c.published);
                }
                sleep(&p2, Duration::from_millis(1)).await;
            }
        });
    }
    for i in 0..2usize {
        let (ctx, ep, c, stop) = (ctx.clone(), pub_ep.clone(), c.clone(), stop.clone());
        spawn(&p, &live, async move {
            let topic = [&b"a."[..], b"c."][i];
            while !stop.get() {
                let sub = ctx.socket(SocketType::Sub);
                sub.set_option(SocketOption::Linger(Some(Duration::ZERO)))
                    .unwrap();
                sub.set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(2))))
                    .unwrap();
                sub.subscribe(topic).unwrap();
                sub.connect(&ep).unwrap();
                bump(&c.connections);
                for _ in 0..200 {
                    match sub.recv().await {
                        Ok(m) if m.frames()[0].starts_with(topic) => bump(&c.subscribed),
                        Ok(_) => bump(&c.corrupt),
                        Err(_) => break,
                    }
                }
                sub.close().await;
            }
        });
    }

    // DEALER -> ROUTER (echo).
    let router = ctx.socket(SocketType::Router);
    watch(&p, &live, &c, router.monitor(), &stop);
    let router_ep = router.bind("tcp://127.0.0.1:*").expect("bind ROUTER");
    {
        let (stop, p2) = (stop.clone(), p.clone());
        spawn(&p, &live, async move {
            while !stop.get() {
                let Some(Ok(m)) = within(&p2, Duration::from_millis(200), router.recv()).await
                else {
                    continue;
                };
                let _ = router.send(m).await;
            }
        });
    }
    for _ in 0..2 {
        let (ctx, ep, c, stop) = (ctx.clone(), router_ep.clone(), c.clone(), stop.clone());
        spawn(&p, &live, async move {
            while !stop.get() {
                let dealer = ctx.socket(SocketType::Dealer);
                dealer
                    .set_option(SocketOption::Linger(Some(Duration::ZERO)))
                    .unwrap();
                dealer
                    .set_option(SocketOption::RcvTimeo(Some(Duration::from_secs(5))))
                    .unwrap();
                dealer.connect(&ep).unwrap();
                bump(&c.connections);
                for k in 0..100u32 {
                    let _ = dealer.send(Message::from(k.to_be_bytes().to_vec())).await;
                }
                for k in 0..100u32 {
                    match dealer.recv().await {
                        Ok(m) if m.frames()[0][..] == k.to_be_bytes() => bump(&c.routed),
                        Ok(_) => bump(&c.corrupt),
                        Err(_) => break,
                    }
                }
                dealer.close().await;
            }
        });
    }

    // Hostile peers against the REP, eight at a time.
    for i in 0..8u64 {
        let (ep, c, stop, p2) = (rep_ep.clone(), c.clone(), stop.clone(), p.clone());
        spawn(&p, &live, async move {
            let mut rng = Rng::new(0x4057 + i);
            while !stop.get() {
                hostile(&p2, &ep, rng.range(0, 5)).await;
                bump(&c.hostile);
            }
        });
    }

    // A capped PULL: eight connections at a time against a cap of four.
    let capped = ctx.socket(SocketType::Pull);
    capped.set_option(SocketOption::MaxPeers(Some(4))).unwrap();
    watch(&p, &live, &c, capped.monitor(), &stop);
    let capped_ep = capped.bind("tcp://127.0.0.1:*").expect("bind capped PULL");
    {
        let (stop, p2) = (stop.clone(), p.clone());
        let addr = capped_ep.parse().expect("endpoint");
        spawn(&p, &live, async move {
            let _capped = capped;
            while !stop.get() {
                let mut held = Vec::new();
                for _ in 0..8 {
                    if let Ok(s) = p2.connect(&addr).await {
                        held.push(s);
                    }
                }
                sleep(&p2, Duration::from_millis(200)).await;
                drop(held);
            }
        });
    }

    // Reports.
    let start = p.now();
    let end = start + Duration::from_secs(a.secs);
    let mut last = Snapshot::take(&c);
    let mut last_at = start;
    let mut stalled = false;
    println!(
        "soak: {} s, a report every {} s ({} backend)",
        a.secs,
        a.report,
        if matches!(a.backend, BackendChoice::Epoll) {
            "epoll"
        } else {
            "default"
        }
    );
    while p.now() < end {
        let next = (last_at + Duration::from_secs(a.report)).min(end);
        p.sleep_until(next).await;
        let now = p.now();
        let snap = Snapshot::take(&c);
        let secs = now.duration_since(last_at).as_secs_f64();
        let (rss, fds) = rss_and_fds();
        let rate = |a: u64, b: u64| (a - b) as f64 / secs;
        println!(
            "[{:>5.0} s] rss {:>7.1} MiB  fds {:>4}  req/rep {:>6.0}/s  push {:>6.0}/s  pull {:>6.0}/s  \
             pub {:>7.0}/s  sub {:>6.0}/s  router {:>6.0}/s  conns {:>4.0}/s  hostile {:>4.0}/s  \
             refused {}  corrupt {}",
            now.duration_since(start).as_secs_f64(),
            rss as f64 / 1024.0,
            fds,
            rate(snap.round_trips, last.round_trips),
            rate(snap.pushed, last.pushed),
            rate(snap.pulled, last.pulled),
            rate(snap.published, last.published),
            rate(snap.subscribed, last.subscribed),
            rate(snap.routed, last.routed),
            rate(snap.connections, last.connections),
            rate(snap.hostile, last.hostile),
            snap.refused,
            snap.corrupt,
        );
        for (name, now, before) in [
            ("req/rep", snap.round_trips, last.round_trips),
            ("pull", snap.pulled, last.pulled),
            ("sub", snap.subscribed, last.subscribed),
            ("router", snap.routed, last.routed),
            ("hostile", snap.hostile, last.hostile),
        ] {
            if now == before && secs >= 5.0 {
                println!("  {name} made no progress");
                stalled = true;
            }
        }
        last = snap;
        last_at = now;
    }
    stop.set(true);
    let ends: Vec<String> = c
        .ends
        .borrow()
        .iter()
        .map(|(r, n)| format!("{n} x {r}"))
        .collect();
    println!(
        "connection ends seen by the servers:\n  {}",
        ends.join("\n  ")
    );
    drop(rep);
    // Let the tasks see the flag and close their sockets.
    let deadline = p.now() + Duration::from_secs(15);
    while live.get() > 0 && p.now() < deadline {
        sleep(&p, Duration::from_millis(50)).await;
    }
    let (rss, fds) = rss_and_fds();
    println!(
        "stopped: {} tasks left, rss {:.1} MiB, fds {fds}",
        live.get(),
        rss as f64 / 1024.0
    );
    let corrupt = c.corrupt.get();
    if corrupt > 0 {
        println!("FAILED: {corrupt} corrupted messages");
    }
    if stalled {
        println!("FAILED: a pattern stopped making progress");
    }
    corrupt == 0 && !stalled
}

#[derive(Clone, Copy)]
struct Snapshot {
    round_trips: u64,
    pushed: u64,
    pulled: u64,
    published: u64,
    subscribed: u64,
    routed: u64,
    connections: u64,
    hostile: u64,
    refused: u64,
    corrupt: u64,
}

impl Snapshot {
    fn take(c: &Counters) -> Snapshot {
        Snapshot {
            round_trips: c.round_trips.get(),
            pushed: c.pushed.get(),
            pulled: c.pulled.get(),
            published: c.published.get(),
            subscribed: c.subscribed.get(),
            routed: c.routed.get(),
            connections: c.connections.get() + c.hostile.get(),
            hostile: c.hostile.get(),
            refused: c.refused.get(),
            corrupt: c.corrupt.get(),
        }
    }
}

/// One hostile connection to the REP at `ep`, until the server drops it (or 10 s):
/// 0 garbage after a valid greeting, 1 a handshake that stops halfway, 2 a message
/// left unfinished, 3 a silent handshaken peer, 4 a message over MAXMSGSIZE.
async fn hostile(p: &Native, ep: &str, mode: usize) {
    let Ok(stream) = p.connect(&ep.parse().expect("endpoint")).await else {
        return;
    };
    let (mut r, mut w) = p.split(stream);
    let mut s = Session::new(
        SessionConfig::new(SocketType::Req),
        Box::new(Null::new()),
        p.now(),
    )
    .expect("session");
    if mode == 1 {
        // Half a greeting, then nothing: the handshake interval ends it.
        let t = s.poll_transmit().map(|t| t.to_vec()).unwrap_or_default();
        let _ = write(p, &mut w, t[..5.min(t.len())].to_vec()).await;
    } else {
        // The handshake.
        let mut buf = Vec::with_capacity(4096);
        while !s.is_established() && !s.is_failed() {
            if let Some(t) = s.poll_transmit() {
                if !write(p, &mut w, t.to_vec()).await {
                    return;
                }
            }
            while s.poll_event().is_some() {}
            if s.is_established() {
                break;
            }
            buf.clear();
            let Some(BufResult(Ok(n), b)) =
                within(p, Duration::from_secs(5), p.recv(&mut r, buf)).await
            else {
                return;
            };
            buf = b;
            if n == 0 {
                return;
            }
            s.handle_input(p.now(), &buf);
        }
        if let Some(t) = s.poll_transmit() {
            let _ = write(p, &mut w, t.to_vec()).await;
        }
        let bytes = match mode {
            0 => vec![0xff; 64],
            2 => vec![0x00, 200, 1, 2, 3],
            3 => Vec::new(),
            _ => {
                let mut v = vec![0x02, 0, 0, 0, 0, 0, 2, 0, 0];
                v.extend_from_slice(&[7; 1024]);
                v
            }
        };
        if !bytes.is_empty() && !write(p, &mut w, bytes).await {
            return;
        }
    }
    // Read until the server closes the connection.
    let deadline = p.now() + Duration::from_secs(10);
    let mut buf = Vec::with_capacity(4096);
    while p.now() < deadline {
        buf.clear();
        match within(p, Duration::from_secs(10), p.recv(&mut r, buf)).await {
            Some(BufResult(Ok(n), b)) if n > 0 => buf = b,
            _ => return,
        }
    }
}

/// Writes all of `bytes`; false when the connection failed.
async fn write(p: &Native, w: &mut <Native as Proactor>::Writer, mut bytes: Vec<u8>) -> bool {
    while !bytes.is_empty() {
        let BufResult(res, b) = p.send(w, bytes).await;
        match res {
            Ok(n) if n > 0 => bytes = b[n..].to_vec(),
            _ => return false,
        }
    }
    true
}
