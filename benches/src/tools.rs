//! The perf tools on ringmq sockets, generic over the proactor, plus the backend and
//! CURVE switches shared by the binaries.
//!
//! Output lines follow libzmq's `perf/` programs: `remote_lat` prints `message size`,
//! `roundtrip count` and `average latency: X [us]` (half the mean round trip);
//! `local_thr` prints `message size`, `message count`, `mean throughput: N [msg/s]`
//! and `mean throughput: X [Mb/s]`, timing from the first received message.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use ringmq_compio::CompioProactor;
use ringmq_monoio::MonoioProactor;
use ringmq_proactor::{BackendChoice, Proactor, Runtime};
use ringmq_sockets::{Bytes, Context, CurveKey, DealerSocket, Error, Message, SocketOption};
use ringmq_tokio::TokioProactor;

/// Boxed error of the tools.
pub type BoxError = Box<dyn StdError>;

/// Fixed CURVE test keys known to both sides (the Z85 example keys of libzmq's
/// `zmq_curve` man page / RFC 32 test vectors): server public, server secret,
/// client public, client secret. For benchmarking only.
pub const CURVE_KEYS: [&str; 4] = [
    "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
    "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
];

/// The I/O engine the tools run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// ringmq's io_uring driver.
    Uring,
    /// ringmq's epoll driver.
    Epoll,
    /// The compio adapter.
    Compio,
    /// The monoio adapter.
    Monoio,
    /// The tokio adapter (current-thread runtime with a `LocalSet`).
    Tokio,
}

impl Backend {
    /// All backends, in the order `compare` reports them.
    pub const ALL: [Backend; 5] = [
        Backend::Uring,
        Backend::Epoll,
        Backend::Compio,
        Backend::Monoio,
        Backend::Tokio,
    ];

    /// The lower-case name (`uring`, `epoll`, `compio`, `monoio`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Uring => "uring",
            Backend::Epoll => "epoll",
            Backend::Compio => "compio",
            Backend::Monoio => "monoio",
            Backend::Tokio => "tokio",
        }
    }

    /// Parses a backend name.
    pub fn parse(s: &str) -> Result<Backend, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uring" | "io_uring" | "io-uring" => Ok(Backend::Uring),
            "epoll" => Ok(Backend::Epoll),
            "compio" => Ok(Backend::Compio),
            "monoio" => Ok(Backend::Monoio),
            "tokio" => Ok(Backend::Tokio),
            _ => Err(format!(
                "backend {s:?} is not one of uring, epoll, compio, monoio, tokio"
            )),
        }
    }
}

/// Command line of a tool: `--backend B` (default `$RINGMQ_BACKEND`, else uring),
/// `--curve` (or `RINGMQ_CURVE=1`) and the positional arguments.
#[derive(Debug)]
pub struct Args {
    /// The engine.
    pub backend: Backend,
    /// Whether CURVE is on (binding side is the CURVE server).
    pub curve: bool,
    /// `--batch N`: `local_thr` / `remote_thr` (and `bench_peer subs`) use the batch
    /// API (`recv_many` / `send_batch`), N messages a call; `None`: one `recv` / `send`
    /// per message.
    pub batch: Option<usize>,
    /// `--static`: the payload a sender clones for each message views memory that is
    /// never freed ([`sent_payload`]): no reference count per message.
    pub static_payload: bool,
    /// The remaining arguments, in order.
    pub positional: Vec<String>,
}

impl Args {
    /// Parses `std::env::args()` (flags may appear anywhere).
    pub fn from_env() -> Result<Args, String> {
        Args::from_list(std::env::args().skip(1).collect())
    }

    /// Parses a command line without the program name.
    pub fn from_list(list: Vec<String>) -> Result<Args, String> {
        let mut backend = match std::env::var("RINGMQ_BACKEND") {
            Ok(v) if !v.is_empty() && v != "auto" => Backend::parse(&v)?,
            _ => Backend::Uring,
        };
        let mut curve = matches!(
            std::env::var("RINGMQ_CURVE").as_deref(),
            Ok("1") | Ok("true") | Ok("on")
        );
        let mut positional = Vec::new();
        let mut batch = None;
        let mut static_payload = false;
        let mut it = list.into_iter();
        while let Some(a) = it.next() {
            if a == "--curve" {
                curve = true;
            } else if a == "--static" {
                static_payload = true;
            } else if a == "--batch" {
                let n = it.next().ok_or("--batch needs a number")?;
                let n: usize = n
                    .parse()
                    .map_err(|_| format!("--batch {n:?}: not a number"))?;
                batch = Some(n.max(1));
            } else if a == "--backend" {
                backend = Backend::parse(&it.next().ok_or("--backend needs a value")?)?;
            } else if let Some(v) = a.strip_prefix("--backend=") {
                backend = Backend::parse(v)?;
            } else {
                positional.push(a);
            }
        }
        Ok(Args {
            backend,
            curve,
            batch,
            static_payload,
            positional,
        })
    }

    /// The positional argument `i` parsed as a number.
    pub fn num(&self, i: usize, what: &str) -> Result<u64, String> {
        let s = self
            .positional
            .get(i)
            .ok_or_else(|| format!("missing argument <{what}>"))?;
        s.parse()
            .map_err(|_| format!("<{what}> {s:?} is not a number"))
    }
}

/// What a tool process does.
#[derive(Clone, Debug)]
pub enum Role {
    /// REP on `ep` echoing `rounds` messages of `size` bytes.
    LocalLat {
        /// Bind endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Round trips.
        rounds: u64,
    },
    /// REQ on `ep`: `rounds` round trips, prints the average latency.
    RemoteLat {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Round trips.
        rounds: u64,
    },
    /// PULL on `ep`: receives `count` messages, prints the throughput.
    LocalThr {
        /// Bind endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
    },
    /// [`Role::LocalThr`] with the batch API: `recv_many` of up to `batch` messages.
    LocalThrBatch {
        /// Bind endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
        /// Messages per `recv_many`.
        batch: usize,
    },
    /// [`Role::RemoteThr`] with the batch API: `send_batch` of `batch` messages.
    RemoteThrBatch {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
        /// Messages per `send_batch`.
        batch: usize,
    },
    /// PUSH on `ep`: sends `count` messages, closes with linger.
    RemoteThr {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
    },
    /// XPUB (verbose) on `ep`: waits for `subs` subscriptions, prints
    /// `start: T [unix us]`, then publishes `count` messages of `size` bytes, closes
    /// with linger.
    Pub {
        /// Bind endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
        /// Subscribers to wait for.
        subs: u64,
    },
    /// `subs` SUB sockets (tasks of one runtime) on `ep`, each receiving `count`
    /// messages; prints `end: T [unix us]` when all are done (the publisher printed
    /// `start:`), and `deliveries: N [msg/s]` from the first message to the last.
    Subs {
        /// Connect endpoint.
        ep: String,
        /// Messages per subscriber.
        count: u64,
        /// Subscribers.
        subs: u64,
        /// `--batch N`: each SUB receives with `recv_many` of up to N messages;
        /// `None`: one `recv` per message (the `fan` row of `compare`).
        batch: Option<usize>,
    },
    /// ROUTER on `ep` echoing until it answered `total` requests.
    Router {
        /// Bind endpoint.
        ep: String,
        /// Requests to serve.
        total: u64,
    },
    /// `peers` DEALERs (tasks of one runtime) on `ep`, one warm-up request each, then
    /// `rounds` closed-loop requests each of `size` bytes; prints `requests: N [req/s]`
    /// and `p99 round trip: X [us]`.
    Dealers {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// DEALER sockets.
        peers: u64,
        /// Timed requests per DEALER.
        rounds: u64,
    },
    /// The idle-peer scale row: `idle` DEALERs (tasks of one runtime) connect to `ep`
    /// in batches of [`SCALE_BATCH`], each sends one request and waits for its echo
    /// (so every connection is handshaken on both sides) and then stays silent; then
    /// one more DEALER makes [`SCALE_WARMUP`] untimed and `rounds` timed closed-loop
    /// round trips of `size` bytes. Prints `setup: N [ms]` (the idle peers),
    /// `median round trip: X [us]` and `p99 round trip: X [us]` (the active peer).
    /// The ROUTER answers `idle + SCALE_WARMUP + rounds` requests.
    ScaleDealers {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Idle DEALER sockets.
        idle: u64,
        /// Timed round trips of the active DEALER.
        rounds: u64,
    },
    /// PUSH (SNDHWM `hwm`) on `ep` sending up to `count` messages of `size` bytes,
    /// stopping at the first send blocked for 500 ms; prints `sent: N` and
    /// `VmHWM: N [kB]`.
    MemPush {
        /// Connect endpoint.
        ep: String,
        /// Message size.
        size: usize,
        /// Messages to try.
        count: u64,
        /// SNDHWM.
        hwm: u64,
    },
    /// REP on `ep` answering `total` requests, one per connection of
    /// [`Role::HandshakeClients`].
    HandshakeServer {
        /// Bind endpoint.
        ep: String,
        /// Requests (connections) to serve.
        total: u64,
    },
    /// `count` times in a row: a new REQ on `ep`, one 1-byte request and its reply
    /// (so the handshake completed), close; prints `handshakes: N [conn/s]`.
    HandshakeClients {
        /// Connect endpoint.
        ep: String,
        /// Connections.
        count: u64,
    },
    /// PULL (RCVHWM `hwm`) on `ep` that never reads, for `secs` seconds.
    StallPull {
        /// Bind endpoint.
        ep: String,
        /// RCVHWM.
        hwm: u64,
        /// How long to stay.
        secs: u64,
    },
}

/// Runs `role` on `backend` (CURVE on when `curve`), on this thread.
pub fn run(backend: Backend, curve: bool, role: Role) -> Result<(), BoxError> {
    match backend {
        Backend::Uring | Backend::Epoll => {
            let choice = if backend == Backend::Uring {
                BackendChoice::Uring
            } else {
                BackendChoice::Epoll
            };
            let rt = Runtime::with_backend(choice)?;
            let ctx = Context::new(rt.proactor());
            rt.block_on(exec(ctx, curve, role))
        }
        Backend::Compio => {
            ringmq_compio::block_on(exec(Context::new(CompioProactor::new()), curve, role))?
        }
        Backend::Monoio => {
            ringmq_monoio::block_on(exec(Context::new(MonoioProactor::new()), curve, role))?
        }
        Backend::Tokio => {
            ringmq_tokio::block_on(exec(Context::new(TokioProactor::new()), curve, role))?
        }
    }
}

fn key(i: usize) -> Result<CurveKey, BoxError> {
    Ok(CurveKey::try_from(CURVE_KEYS[i])?)
}

/// The CURVE options of the binding (server) or connecting (client) side.
fn curve_options(server: bool) -> Result<Vec<SocketOption>, BoxError> {
    Ok(if server {
        vec![
            SocketOption::CurveServer(true),
            SocketOption::CurveSecretKey(key(1)?),
        ]
    } else {
        vec![
            SocketOption::CurveServerKey(key(0)?),
            SocketOption::CurvePublicKey(key(2)?),
            SocketOption::CurveSecretKey(key(3)?),
        ]
    })
}

/// Applies the CURVE options when `curve` and the others in `extra`.
fn configure(
    set: impl Fn(SocketOption) -> Result<(), Error>,
    curve: bool,
    server: bool,
    extra: Vec<SocketOption>,
) -> Result<(), BoxError> {
    if curve {
        for o in curve_options(server)? {
            set(o)?;
        }
    }
    for o in extra {
        set(o)?;
    }
    Ok(())
}

/// A fresh zeroed payload of `size` bytes (an allocation).
pub(crate) fn payload(size: usize) -> Bytes {
    Bytes::from(vec![0u8; size])
}

/// A zeroed payload of `size` bytes over memory that is never freed (leaked: make it
/// once per process and role): its clones copy the view, with no reference count.
pub(crate) fn static_payload(size: usize) -> Bytes {
    Bytes::from_static(vec![0u8; size].leak())
}

/// Set by `--static` ([`Args::static_payload`]).
static STATIC_PAYLOAD: AtomicBool = AtomicBool::new(false);

/// The payload a sender clones for each message it sends: a `Bytes` of its own (each
/// clone a reference count), or with `--static` a view of memory that is never freed
/// (each clone a copy of the view; one buffer per call, leaked, so call it once per
/// process and role).
pub fn sent_payload(size: usize) -> Bytes {
    if STATIC_PAYLOAD.load(Ordering::Relaxed) {
        static_payload(size)
    } else {
        payload(size)
    }
}

/// An error unless a received message has the size sent.
pub(crate) fn check_size(got: usize, size: usize) -> Result<(), BoxError> {
    if got != size {
        return Err(format!("message of the wrong size: {got} instead of {size}").into());
    }
    Ok(())
}

/// Reads `VmHWM` (peak RSS, kB) from `/proc/self/status`.
pub fn vm_hwm_kb() -> Option<u64> {
    proc_status_kb("VmHWM:")
}

/// Reads `VmRSS` (resident set now, kB) from `/proc/self/status`.
pub fn vm_rss_kb() -> Option<u64> {
    proc_status_kb("VmRSS:")
}

fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    })
}

/// Wall-clock time in microseconds since the Unix epoch (the PUB/SUB fan-out is
/// timed from the publisher's start to the subscribers' end, across processes).
pub fn unix_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

/// Prints `local_thr`'s four lines.
pub fn print_thr(size: usize, count: u64, elapsed: Duration) {
    let us = (elapsed.as_micros() as u64).max(1);
    let throughput = (count as f64 / us as f64 * 1e6) as u64;
    let megabits = (throughput * size as u64 * 8) as f64 / 1e6;
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {throughput} [msg/s]");
    println!("mean throughput: {megabits:.3} [Mb/s]");
}

/// Prints `remote_lat`'s three lines.
pub fn print_lat(size: usize, rounds: u64, elapsed: Duration) {
    let latency = elapsed.as_secs_f64() * 1e6 / (rounds.max(1) as f64 * 2.0);
    println!("message size: {size} [B]");
    println!("roundtrip count: {rounds}");
    println!("average latency: {latency:.3} [us]");
}

async fn exec<P: Proactor>(ctx: Context<P>, curve: bool, role: Role) -> Result<(), BoxError> {
    match role {
        Role::LocalLat { ep, size, rounds } => {
            let rep = ctx.rep();
            configure(|o| rep.set_option(o), curve, true, vec![])?;
            rep.bind(&ep)?;
            for _ in 0..rounds {
                let m = rep.recv().await?;
                check_size(m.byte_len(), size)?;
                rep.send(m).await?;
            }
            rep.close().await;
        }
        Role::RemoteLat { ep, size, rounds } => {
            let req = ctx.req();
            configure(|o| req.set_option(o), curve, false, vec![])?;
            req.connect(&ep)?;
            let data = sent_payload(size);
            let start = Instant::now();
            for _ in 0..rounds {
                req.send(data.clone()).await?;
                let m = req.recv().await?;
                check_size(m.byte_len(), size)?;
            }
            let elapsed = start.elapsed();
            print_lat(size, rounds, elapsed);
            req.close().await;
        }
        Role::LocalThr { ep, size, count } => {
            let pull = ctx.pull();
            configure(|o| pull.set_option(o), curve, true, vec![])?;
            pull.bind(&ep)?;
            let m = pull.recv().await?;
            check_size(m.byte_len(), size)?;
            let start = Instant::now();
            for _ in 1..count {
                let m = pull.recv().await?;
                check_size(m.byte_len(), size)?;
            }
            print_thr(size, count, start.elapsed());
            pull.close().await;
        }
        Role::LocalThrBatch {
            ep,
            size,
            count,
            batch,
        } => {
            let pull = ctx.pull();
            configure(|o| pull.set_option(o), curve, true, vec![])?;
            pull.bind(&ep)?;
            let mut out = Vec::with_capacity(batch);
            let mut got = pull.recv_many(&mut out, 1).await? as u64;
            check_size(out[0].byte_len(), size)?;
            out.clear();
            let start = Instant::now();
            while got < count {
                let max = batch.min((count - got) as usize);
                got += pull.recv_many(&mut out, max).await? as u64;
                for m in out.drain(..) {
                    check_size(m.byte_len(), size)?;
                }
            }
            print_thr(size, count, start.elapsed());
            pull.close().await;
        }
        Role::RemoteThrBatch {
            ep,
            size,
            count,
            batch,
        } => {
            let push = ctx.push();
            configure(|o| push.set_option(o), curve, false, vec![])?;
            push.connect(&ep)?;
            let data = sent_payload(size);
            let mut msgs = Vec::with_capacity(batch);
            let mut sent = 0;
            while sent < count {
                let k = batch.min((count - sent) as usize);
                msgs.extend((0..k).map(|_| Message::from(data.clone())));
                push.send_batch(&mut msgs).await?;
                sent += k as u64;
            }
            push.close().await;
        }
        Role::RemoteThr { ep, size, count } => {
            let push = ctx.push();
            configure(|o| push.set_option(o), curve, false, vec![])?;
            push.connect(&ep)?;
            let data = sent_payload(size);
            for _ in 0..count {
                push.send(data.clone()).await?;
            }
            push.close().await;
        }
        Role::Pub {
            ep,
            size,
            count,
            subs,
        } => {
            let xpub = ctx.xpub();
            configure(
                |o| xpub.set_option(o),
                curve,
                true,
                vec![SocketOption::XpubVerbose(true), SocketOption::SndHwm(0)],
            )?;
            xpub.bind(&ep)?;
            let mut seen = 0;
            while seen < subs {
                let m = xpub.recv().await?;
                if m.frames().first().and_then(|f| f.first()) == Some(&1) {
                    seen += 1;
                }
            }
            println!("start: {} [unix us]", unix_us());
            let data = sent_payload(size);
            for _ in 0..count {
                xpub.send(data.clone()).await?;
            }
            xpub.close().await;
        }
        Role::Subs {
            ep,
            count,
            subs,
            batch,
        } => {
            let first: Rc<RefCell<Option<Instant>>> = Rc::new(RefCell::new(None));
            let mut tasks: Vec<Task<Result<(), Error>>> = Vec::new();
            for _ in 0..subs {
                let sub = ctx.subscriber();
                configure(
                    |o| sub.set_option(o),
                    curve,
                    false,
                    vec![SocketOption::RcvHwm(0)],
                )?;
                sub.subscribe(b"")?;
                sub.connect(&ep)?;
                let first = first.clone();
                tasks.push(Box::pin(async move {
                    let mut out = Vec::with_capacity(batch.unwrap_or(0));
                    let mut got = 0;
                    while got < count {
                        match batch {
                            Some(b) => {
                                let max = b.min((count - got) as usize);
                                got += sub.recv_many(&mut out, max).await? as u64;
                                out.clear();
                            }
                            None => {
                                sub.recv().await?;
                                got += 1;
                            }
                        }
                        let mut f = first.borrow_mut();
                        if f.is_none() {
                            *f = Some(Instant::now());
                        }
                    }
                    sub.close().await;
                    Ok(())
                }));
            }
            // Each SUB is a task of its own, woken only for its own messages (a
            // `JoinAll` polls every SUB at each wake-up: O(subscribers) per message).
            for r in join_spawned(ctx.proactor(), tasks).await {
                r?;
            }
            let start = first.borrow().ok_or("no message received")?;
            let us = (start.elapsed().as_micros() as u64).max(1);
            let rate = (subs * count) as f64 / us as f64 * 1e6;
            println!("end: {} [unix us]", unix_us());
            println!("subscribers: {subs}");
            println!("deliveries: {} [msg/s]", rate as u64);
        }
        Role::Router { ep, total } => {
            let router = ctx.router();
            configure(
                |o| router.set_option(o),
                curve,
                true,
                vec![SocketOption::SndHwm(0), SocketOption::RcvHwm(0)],
            )?;
            router.bind(&ep)?;
            for _ in 0..total {
                let m = router.recv().await?;
                router.send(m).await?;
            }
            // Every peer is still connected: the scale row's memory per connection.
            println!("VmRSS: {} [kB]", vm_rss_kb().unwrap_or(0));
            router.close().await;
        }
        Role::Dealers {
            ep,
            size,
            peers,
            rounds,
        } => {
            let mut dealers = Vec::new();
            for _ in 0..peers {
                let d = ctx.dealer();
                configure(|o| d.set_option(o), curve, false, vec![])?;
                d.connect(&ep)?;
                dealers.push(Rc::new(d));
            }
            let data = sent_payload(size);
            // Warm-up: one request each, so connection set-up is not timed.
            let warm: Vec<Task<Result<(), Error>>> = dealers
                .iter()
                .map(|d| {
                    let d = d.clone();
                    let data = data.clone();
                    Box::pin(async move {
                        d.send(data).await?;
                        d.recv().await?;
                        Ok(())
                    }) as Pin<Box<dyn Future<Output = _>>>
                })
                .collect();
            // Each DEALER is a task of its own, woken only for its own reply: a
            // `JoinAll` would poll all of them at each wake-up, O(peers) per request,
            // which made this process, not the ROUTER, the bottleneck of the row.
            for r in join_spawned(ctx.proactor(), warm).await {
                r?;
            }
            let start = Instant::now();
            let timed: Vec<Task<Result<Vec<Duration>, Error>>> = dealers
                .iter()
                .map(|d| {
                    let d = d.clone();
                    let data = data.clone();
                    Box::pin(async move {
                        let mut lat = Vec::with_capacity(rounds as usize);
                        for _ in 0..rounds {
                            let t = Instant::now();
                            d.send(data.clone()).await?;
                            d.recv().await?;
                            lat.push(t.elapsed());
                        }
                        Ok(lat)
                    }) as Pin<Box<dyn Future<Output = _>>>
                })
                .collect();
            let mut all = Vec::new();
            for r in join_spawned(ctx.proactor(), timed).await {
                all.extend(r?);
            }
            let elapsed = start.elapsed();
            print_router(&mut all, elapsed);
            for d in dealers {
                if let Ok(d) = Rc::try_unwrap(d) {
                    d.close().await;
                }
            }
        }
        Role::ScaleDealers {
            ep,
            size,
            idle,
            rounds,
        } => {
            let data = sent_payload(size);
            let setup = Instant::now();
            // Kept open (and silent) until the process ends.
            let mut idle_peers = Vec::with_capacity(idle as usize);
            let mut left = idle;
            while left > 0 {
                let batch = left.min(SCALE_BATCH);
                left -= batch;
                let mut tasks: Vec<Task<Result<(), BoxError>>> = Vec::new();
                for _ in 0..batch {
                    let d = Rc::new(ctx.dealer());
                    configure(|o| d.set_option(o), curve, false, vec![])?;
                    d.connect(&ep)?;
                    idle_peers.push(d.clone());
                    let data = data.clone();
                    tasks.push(Box::pin(async move {
                        d.send(data).await?;
                        check_size(d.recv().await?.byte_len(), size)?;
                        Ok(())
                    }));
                }
                for r in JoinAll::new(tasks).await {
                    r?;
                }
            }
            println!("setup: {} [ms]", setup.elapsed().as_millis());
            let d = ctx.dealer();
            configure(|o| d.set_option(o), curve, false, vec![])?;
            d.connect(&ep)?;
            active_round_trips(&d, size, rounds, || data.clone()).await?;
            d.close().await;
            // The idle peers are dropped with nothing queued: they close at once.
            drop(idle_peers);
        }
        Role::MemPush {
            ep,
            size,
            count,
            hwm,
        } => {
            let push = ctx.push();
            configure(
                |o| push.set_option(o),
                curve,
                false,
                vec![
                    SocketOption::SndHwm(hwm as usize),
                    SocketOption::SndTimeo(Some(Duration::from_millis(500))),
                    SocketOption::Linger(Some(Duration::ZERO)),
                ],
            )?;
            push.connect(&ep)?;
            let mut sent = 0u64;
            for _ in 0..count {
                // A fresh buffer per message, like a real producer.
                match push.send(payload(size)).await {
                    Ok(()) => sent += 1,
                    Err(Error::TimedOut) => break,
                    Err(e) => return Err(e.into()),
                }
            }
            println!("sent: {sent}");
            println!("VmHWM: {} [kB]", vm_hwm_kb().unwrap_or(0));
            push.close().await;
        }
        Role::HandshakeServer { ep, total } => {
            let rep = ctx.rep();
            configure(|o| rep.set_option(o), curve, true, vec![])?;
            rep.bind(&ep)?;
            for _ in 0..total {
                let m = rep.recv().await?;
                rep.send(m).await?;
            }
            rep.close().await;
        }
        Role::HandshakeClients { ep, count } => {
            let start = Instant::now();
            for _ in 0..count {
                let req = ctx.req();
                configure(|o| req.set_option(o), curve, false, vec![])?;
                req.connect(&ep)?;
                req.send(payload(1)).await?;
                check_size(req.recv().await?.byte_len(), 1)?;
                req.close().await;
            }
            let rate = count as f64 / start.elapsed().as_secs_f64().max(1e-9);
            println!("handshakes: {} [conn/s]", rate as u64);
        }
        Role::StallPull { ep, hwm, secs } => {
            let pull = ctx.pull();
            configure(
                |o| pull.set_option(o),
                curve,
                true,
                vec![SocketOption::RcvHwm(hwm as usize)],
            )?;
            pull.bind(&ep)?;
            ctx.proactor()
                .sleep_until(Instant::now() + Duration::from_secs(secs))
                .await;
            drop(pull);
        }
    }
    Ok(())
}

/// Prints the ROUTER/DEALER lines from the round trips measured and the wall time.
pub fn print_router(all: &mut [Duration], elapsed: Duration) {
    all.sort_unstable();
    let p99 = all
        .get((all.len() * 99 / 100).min(all.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    let rate = all.len() as f64 / elapsed.as_secs_f64().max(1e-9);
    println!("requests: {} [req/s]", rate as u64);
    println!("p99 round trip: {:.3} [us]", p99.as_secs_f64() * 1e6);
}

/// Idle DEALERs connecting at once in the scale row: at most the listen backlog of
/// ringmq and libzmq (100), so that no SYN is dropped and retried a second later.
pub const SCALE_BATCH: u64 = 100;

/// Untimed round trips of the active DEALER in the scale row, before the timed ones.
pub const SCALE_WARMUP: u64 = 100;

/// The scale row's active DEALER: [`SCALE_WARMUP`] untimed round trips, then `rounds`
/// timed ones, each sending what `next` makes (`size` bytes) and checking the echo's
/// size; prints them ([`print_scale`]).
pub(crate) async fn active_round_trips<P: Proactor>(
    d: &DealerSocket<P>,
    size: usize,
    rounds: u64,
    mut next: impl FnMut() -> Bytes,
) -> Result<(), BoxError> {
    let mut lat = Vec::with_capacity(rounds as usize);
    for i in 0..SCALE_WARMUP + rounds {
        let t = Instant::now();
        d.send(next()).await?;
        check_size(d.recv().await?.byte_len(), size)?;
        if i >= SCALE_WARMUP {
            lat.push(t.elapsed());
        }
    }
    print_scale(&mut lat);
    Ok(())
}

/// Prints the scale row's lines (median and p99 of the round trips measured).
pub fn print_scale(all: &mut [Duration]) {
    all.sort_unstable();
    let at = |q: usize| {
        all.get((all.len() * q / 100).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e6
    };
    println!("round trips: {}", all.len());
    println!("median round trip: {:.3} [us]", at(50));
    println!("p99 round trip: {:.3} [us]", at(99));
}

/// A boxed local future.
type Task<T> = Pin<Box<dyn Future<Output = T>>>;

/// What the tasks of [`join_spawned`] share with the waiting one.
struct Joined<T> {
    outputs: RefCell<Vec<Option<T>>>,
    left: std::cell::Cell<usize>,
    waiter: RefCell<Option<std::task::Waker>>,
}

/// Runs each future as a task of its own on `p` and waits for them all: outputs in
/// order. Unlike [`JoinAll`], a task is polled only when it is woken.
async fn join_spawned<P: Proactor, T: 'static>(p: &P, futures: Vec<Task<T>>) -> Vec<T> {
    let joined = Rc::new(Joined {
        outputs: RefCell::new(futures.iter().map(|_| None).collect()),
        left: std::cell::Cell::new(futures.len()),
        waiter: RefCell::new(None),
    });
    for (i, f) in futures.into_iter().enumerate() {
        let joined = joined.clone();
        p.spawn_local(async move {
            let v = f.await;
            joined.outputs.borrow_mut()[i] = Some(v);
            joined.left.set(joined.left.get() - 1);
            if joined.left.get() == 0 {
                if let Some(w) = joined.waiter.borrow_mut().take() {
                    w.wake();
                }
            }
        });
    }
    std::future::poll_fn(|cx| {
        if joined.left.get() == 0 {
            return Poll::Ready(());
        }
        *joined.waiter.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    let outputs = std::mem::take(&mut *joined.outputs.borrow_mut());
    outputs.into_iter().flatten().collect()
}

/// Polls every future to completion on the current task; outputs in input order.
struct JoinAll<T> {
    futures: Vec<Option<Pin<Box<dyn Future<Output = T>>>>>,
    outputs: Vec<Option<T>>,
    left: usize,
}

impl<T> JoinAll<T> {
    fn new(futures: Vec<Pin<Box<dyn Future<Output = T>>>>) -> Self {
        let left = futures.len();
        JoinAll {
            outputs: futures.iter().map(|_| None).collect(),
            futures: futures.into_iter().map(Some).collect(),
            left,
        }
    }
}

impl<T> Unpin for JoinAll<T> {}

impl<T> Future for JoinAll<T> {
    type Output = Vec<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Vec<T>> {
        let this = &mut *self;
        for (slot, out) in this.futures.iter_mut().zip(this.outputs.iter_mut()) {
            if let Some(f) = slot {
                if let Poll::Ready(v) = f.as_mut().poll(cx) {
                    *out = Some(v);
                    *slot = None;
                    this.left -= 1;
                }
            }
        }
        if this.left == 0 {
            Poll::Ready(this.outputs.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    }
}

/// Entry point of the four perf-tool binaries: parses `<endpoint> <size> <count>`
/// plus the flags, runs `make(ep, size, count)`, exits 1 with a message on error.
pub fn main_with(name: &str, make: fn(String, usize, u64) -> Role) {
    let result = Args::from_env().and_then(|a| {
        if a.positional.len() != 3 {
            return Err(format!(
                "usage: {name} <endpoint> <message-size> <count> [--backend uring|epoll|compio|monoio|tokio] [--curve] [--batch N] [--static]"
            ));
        }
        let size = a.num(1, "message-size")? as usize;
        let count = a.num(2, "count")?;
        let role = match (make(a.positional[0].clone(), size, count), a.batch) {
            (Role::LocalThr { ep, size, count }, Some(batch)) => Role::LocalThrBatch {
                ep,
                size,
                count,
                batch,
            },
            (Role::RemoteThr { ep, size, count }, Some(batch)) => Role::RemoteThrBatch {
                ep,
                size,
                count,
                batch,
            },
            (_, Some(_)) => return Err(format!("{name}: --batch applies to local_thr / remote_thr")),
            (role, None) => role,
        };
        STATIC_PAYLOAD.store(a.static_payload, Ordering::Relaxed);
        Ok((a.backend, a.curve, role))
    });
    let (backend, curve, role) = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(backend, curve, role) {
        eprintln!("{name}: {e}");
        std::process::exit(1);
    }
}
