//! The socket layer's cost per message with both sides on one thread, for instruction
//! counts that do not depend on the machine's load:
//!
//! `RINGMQ_BACKEND=epoll valgrind --tool=callgrind target/release/socket_cost WORKLOAD N`
//!
//! (valgrind cannot follow io_uring's blocking `io_uring_enter`, so use the epoll
//! backend under it). Workloads, each over loopback TCP on one runtime:
//! - `pushpull N`: N 64 B messages PUSH -> PULL;
//! - `shared-pushpull N`: `pushpull` with every message a view of one static payload
//!   (no allocation per message, as in `remote_thr`);
//! - `slice-pushpull N`: `pushpull` with every message built from a `&[u8]` (a copy
//!   into a new `Bytes`, an allocation per message; the workload a `Message` holding
//!   small frames inline would serve, docs/PERFORMANCE.md);
//! - `batch-pushpull N`: `shared-pushpull` with the batch API (`send_batch` of 256
//!   messages, `recv_many` of up to 256);
//! - `reqrep N`: N 64 B request / reply round trips;
//! - `inproc-pushpull N`, `inproc-slice-pushpull N`, `inproc-batch-pushpull N`,
//!   `inproc-reqrep N`: the same workloads over `inproc://` (both sockets on the one
//!   thread);
//! - `fanout N`: N 64 B messages PUB -> 10 SUBs;
//! - `router IDLE N`: IDLE handshaken DEALERs that stay silent, then N round trips of one
//!   more DEALER with the ROUTER echoing.
//!
//! With `RINGMQ_COST_CURVE=1` every TCP connection runs CURVE (the binding socket is the
//! server), for the cost the mechanism adds per message.
//!
//! Compare two builds by running both at two values of N and taking the difference
//! (start-up cancels out): the marginal instructions per message. Prints the wall time
//! too, which is only meaningful on a quiet machine.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use ringmq_proactor::Runtime;
use ringmq_sockets::{Bytes, Context, CurveKey, Message, MonitorEventKind, SocketOption};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let rt = Runtime::new().expect("runtime");
    let ctx = Context::new(rt.proactor());
    let start = Instant::now();
    let units = match args.first().map(String::as_str) {
        Some("pushpull") => rt.block_on(pushpull(&ctx, TCP, num(1), payload)),
        Some("reqrep") => rt.block_on(reqrep(&ctx, TCP, num(1))),
        Some("batch-pushpull") => rt.block_on(batch_pushpull(&ctx, TCP, num(1))),
        Some("shared-pushpull") => rt.block_on(pushpull(&ctx, TCP, num(1), shared_payload)),
        Some("slice-pushpull") => rt.block_on(pushpull(&ctx, TCP, num(1), slice_payload)),
        Some("inproc-slice-pushpull") => rt.block_on(pushpull(&ctx, INPROC, num(1), slice_payload)),
        Some("inproc-pushpull") => rt.block_on(pushpull(&ctx, INPROC, num(1), payload)),
        Some("inproc-reqrep") => rt.block_on(reqrep(&ctx, INPROC, num(1))),
        Some("inproc-batch-pushpull") => rt.block_on(batch_pushpull(&ctx, INPROC, num(1))),
        Some("fanout") => rt.block_on(fanout(&ctx, num(1))),
        Some("router") => rt.block_on(router(&ctx, num(1), num(2))),
        _ => usage(),
    };
    let elapsed = start.elapsed();
    println!(
        "{} units in {:.3} s ({:.0} ns per unit, start-up included)",
        units,
        elapsed.as_secs_f64(),
        elapsed.as_nanos() as f64 / units as f64
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: socket_cost pushpull N | shared-pushpull N | slice-pushpull N | batch-pushpull N | reqrep N | \
         fanout N | router IDLE N | inproc-pushpull N | inproc-slice-pushpull N | inproc-reqrep N | \
         inproc-batch-pushpull N"
    );
    std::process::exit(2)
}

type Ctx = Context<ringmq_proactor::Native>;
type Sock = ringmq_sockets::Socket<ringmq_proactor::Native>;

/// The CURVE keys of `RINGMQ_COST_CURVE=1` runs: (server public, server secret).
fn curve_keys() -> Option<&'static (CurveKey, CurveKey)> {
    static KEYS: std::sync::OnceLock<Option<(CurveKey, CurveKey)>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        (std::env::var("RINGMQ_COST_CURVE").as_deref() == Ok("1")).then(CurveKey::generate_pair)
    })
    .as_ref()
}

/// Makes `s` the CURVE server of its connections when CURVE is on.
fn secure_server(s: &impl AsRef<Sock>) {
    let s = s.as_ref();
    if let Some((_, secret)) = curve_keys() {
        s.set_option(SocketOption::CurveServer(true))
            .expect("curve");
        s.set_option(SocketOption::CurveSecretKey(secret.clone()))
            .expect("curve");
    }
}

/// Makes `s` a CURVE client of the server when CURVE is on.
fn secure_client(s: &impl AsRef<Sock>) {
    let s = s.as_ref();
    if let Some((public, _)) = curve_keys() {
        let (cp, cs) = CurveKey::generate_pair();
        s.set_option(SocketOption::CurveServerKey(public.clone()))
            .expect("curve");
        s.set_option(SocketOption::CurvePublicKey(cp))
            .expect("curve");
        s.set_option(SocketOption::CurveSecretKey(cs))
            .expect("curve");
    }
}

const TCP: &str = "tcp://127.0.0.1:*";
const INPROC: &str = "inproc://socket-cost";

fn payload() -> Message {
    Message::from(Bytes::from(vec![7u8; 64]))
}

/// `n` messages made by `make`, PUSH -> PULL.
async fn pushpull(ctx: &Ctx, bind: &str, n: usize, make: impl Fn() -> Message) -> usize {
    let pull = ctx.pull();
    secure_server(&pull);
    let ep = pull.bind(bind).expect("bind");
    let push = ctx.push();
    secure_client(&push);
    push.connect(&ep).expect("connect");
    let send = async {
        for _ in 0..n {
            push.send(make()).await.expect("send");
        }
    };
    let recv = async {
        for _ in 0..n {
            pull.recv().await.expect("recv");
        }
    };
    join(send, recv).await;
    n
}

/// A message viewing one static 64 B payload: no allocation, no reference count.
fn shared_payload() -> Message {
    static PAYLOAD: [u8; 64] = [7u8; 64];
    Message::from(Bytes::from_static(&PAYLOAD))
}

/// A message built from a 64 B `&[u8]` (a copy of the slice).
fn slice_payload() -> Message {
    static PAYLOAD: [u8; 64] = [7u8; 64];
    Message::from(&PAYLOAD[..])
}

async fn batch_pushpull(ctx: &Ctx, bind: &str, n: usize) -> usize {
    const BATCH: usize = 256;
    let pull = ctx.pull();
    secure_server(&pull);
    let ep = pull.bind(bind).expect("bind");
    let push = ctx.push();
    secure_client(&push);
    push.connect(&ep).expect("connect");
    let send = async {
        let mut msgs = Vec::with_capacity(BATCH);
        let mut sent = 0;
        while sent < n {
            let k = BATCH.min(n - sent);
            msgs.extend((0..k).map(|_| shared_payload()));
            push.send_batch(&mut msgs).await.expect("send_batch");
            sent += k;
        }
    };
    let recv = async {
        let mut out = Vec::with_capacity(BATCH);
        let mut got = 0;
        while got < n {
            got += pull.recv_many(&mut out, BATCH).await.expect("recv_many");
            out.clear();
        }
    };
    join(send, recv).await;
    n
}

async fn reqrep(ctx: &Ctx, bind: &str, n: usize) -> usize {
    let rep = ctx.rep();
    secure_server(&rep);
    let ep = rep.bind(bind).expect("bind");
    let req = ctx.req();
    secure_client(&req);
    req.connect(&ep).expect("connect");
    let client = async {
        for _ in 0..n {
            req.send(payload()).await.expect("send");
            req.recv().await.expect("recv");
        }
    };
    let server = async {
        for _ in 0..n {
            let m = rep.recv().await.expect("recv");
            rep.send(m).await.expect("send");
        }
    };
    join(client, server).await;
    n
}

async fn fanout(ctx: &Ctx, n: usize) -> usize {
    const SUBS: usize = 10;
    let publisher = ctx.xpub();
    secure_server(&publisher);
    publisher.set_option(SocketOption::SndHwm(0)).expect("hwm");
    publisher
        .set_option(SocketOption::XpubVerbose(true))
        .expect("verbose");
    let ep = publisher.bind("tcp://127.0.0.1:*").expect("bind");
    let subs: Vec<_> = (0..SUBS)
        .map(|_| {
            let s = ctx.subscriber();
            secure_client(&s);
            s.set_option(SocketOption::RcvHwm(0)).expect("hwm");
            s.subscribe(b"").expect("subscribe");
            s.connect(&ep).expect("connect");
            s
        })
        .collect();
    // With XPUB_VERBOSE every subscription is one notice: once all arrived, every
    // message reaches every subscriber.
    for _ in 0..SUBS {
        publisher.recv().await.expect("subscription notice");
    }
    let send = async {
        for _ in 0..n {
            publisher.send(payload()).await.expect("send");
        }
    };
    let recv = async {
        for _ in 0..n {
            for s in &subs {
                s.recv().await.expect("recv");
            }
        }
    };
    join(send, recv).await;
    n * SUBS
}

async fn router(ctx: &Ctx, idle: usize, n: usize) -> usize {
    let router = ctx.router();
    secure_server(&router);
    let mon = router.monitor();
    let ep = router.bind("tcp://127.0.0.1:*").expect("bind");
    let idle_dealers: Vec<_> = (0..idle)
        .map(|_| {
            let d = ctx.dealer();
            secure_client(&d);
            d.connect(&ep).expect("connect");
            d
        })
        .collect();
    let mut handshakes = 0;
    while handshakes < idle {
        let e = mon.recv().await.expect("monitor");
        if e.kind == MonitorEventKind::HandshakeSucceeded {
            handshakes += 1;
        }
    }
    let active = ctx.dealer();
    secure_client(&active);
    active.connect(&ep).expect("connect");
    let client = async {
        for _ in 0..n {
            active.send(payload()).await.expect("send");
            active.recv().await.expect("recv");
        }
    };
    let server = async {
        for _ in 0..n {
            let m = router.recv().await.expect("recv");
            router.send(m).await.expect("send");
        }
    };
    join(client, server).await;
    drop(idle_dealers);
    n
}

/// Runs both futures to completion.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(x) = a.as_mut().poll(cx) {
                ra = Some(x);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(y) = b.as_mut().poll(cx) {
                rb = Some(y);
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
