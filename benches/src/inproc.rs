//! `inproc://` measurements in one process (issue 12): PUSH/PULL throughput (with the
//! plain `send` / `recv` or with the batch API) and REQ/REP latency between two sockets
//! on one thread, or on two threads with a runtime each
//! (the two threads may run different backends; their Contexts share one
//! [`ContextHandle`]).
//!
//! The sender's messages view one payload that is never freed ([`Source::Static`]): no
//! allocation and no reference count per message, so what is measured is the
//! transport. `compare` measures the TCP reference of its inproc row the same way
//! (`remote_thr --static`), so the inproc ÷ TCP ratios compare transports and not two
//! ways of making messages. The other sources cost far more between two threads than
//! on one: [`Source::Clone`] (`--clone`, clones of one `Bytes`, as the TCP tools send
//! by default) makes both threads write the payload's reference count, and
//! [`Source::Alloc`] (`--alloc`, an allocation per message, as libzmq's perf tools make
//! each `zmq_msg_t`) has the receiving thread free what the sending thread allocated
//! (docs/PERFORMANCE.md, "inproc message source"). The PULL side checks the size of
//! each message. Output lines are
//! those of [`crate::tools::print_thr`] and [`crate::tools::print_lat`], so `compare`
//! reads them with the same parser; throughput is timed from the first received message
//! to the last.

use std::time::Instant;

use ringmq_compio::CompioProactor;
use ringmq_monoio::MonoioProactor;
use ringmq_proactor::{BackendChoice, Proactor, Runtime};
use ringmq_sockets::{Bytes, Context, ContextHandle, Message};
use ringmq_tokio::TokioProactor;

use crate::tools::{
    active_round_trips, check_size, payload, print_lat, print_thr, static_payload, vm_rss_kb,
    Backend, BoxError, SCALE_WARMUP,
};

/// What to measure.
#[derive(Clone, Copy, Debug)]
pub enum Test {
    /// PUSH -> PULL, `count` messages of `size` bytes.
    Thr {
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
    },
    /// [`Test::Thr`] with the batch API: `send_batch` of [`BATCH`] messages, `recv_many`
    /// of up to [`BATCH`].
    Batch {
        /// Message size.
        size: usize,
        /// Messages.
        count: u64,
    },
    /// REQ -> REP, `rounds` round trips of `size` bytes.
    Lat {
        /// Message size.
        size: usize,
        /// Round trips.
        rounds: u64,
    },
    /// Idle-peer scale: `idle` DEALERs connect to a ROUTER over inproc, each sends one
    /// message and takes its echo (so both ends of every connection are set up), then
    /// stays silent; one more DEALER makes [`SCALE_WARMUP`] untimed and `rounds` timed
    /// round trips of `size` bytes. Prints the active peer's median and p99 round trip
    /// ([`print_scale`](crate::tools::print_scale)) and `memory per idle peer: X [KiB]`: the process's RSS growth
    /// over the idle peers ÷ `idle` (their DEALER sockets included, as both ends live
    /// in this process).
    Scale {
        /// Message size.
        size: usize,
        /// Idle DEALERs.
        idle: u64,
        /// Timed round trips of the active DEALER.
        rounds: u64,
    },
}

/// How the sender makes its messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// Views of one payload that is never freed (a copy of the view each).
    #[default]
    Static,
    /// Clones of one payload (a `Bytes` reference count each), as the TCP tools send
    /// without `--static`.
    Clone,
    /// A fresh zeroed allocation per message.
    Alloc,
}

impl Source {
    /// The payload the sender's messages are made from (once per sender).
    fn first(self, size: usize) -> Bytes {
        match self {
            Source::Static => static_payload(size),
            Source::Clone | Source::Alloc => payload(size),
        }
    }

    /// The payload of the next message; `one` is what [`Source::first`] made.
    fn next(self, one: &Bytes) -> Bytes {
        match self {
            Source::Static | Source::Clone => one.clone(),
            Source::Alloc => payload(one.len()),
        }
    }
}

const ENDPOINT: &str = "inproc://bench";

/// Messages per `send_batch` / at most per `recv_many` of [`Test::Batch`] (as in
/// `compare`'s batch row).
pub const BATCH: usize = 256;

/// Runs `test` with both sockets on one thread (`peer` is `None`) or with the binding
/// socket on a thread of `backend` and the connecting one on a second thread of `peer`;
/// the sender makes its messages as `source` says.
pub fn run(
    test: Test,
    backend: Backend,
    peer: Option<Backend>,
    source: Source,
) -> Result<(), BoxError> {
    let handle = ContextHandle::new();
    let Some(peer) = peer else {
        return on_backend(backend, &handle, Both(test, source));
    };
    let connect_handle = handle.clone();
    let connector = std::thread::Builder::new()
        .name("inproc-connect".into())
        .stack_size(16 << 20)
        .spawn(move || {
            on_backend(peer, &connect_handle, Connecting(test, source)).map_err(|e| e.to_string())
        })?;
    let bound = on_backend(backend, &handle, Binding(test));
    let connected = connector
        .join()
        .map_err(|_| "the connecting thread panicked")?;
    bound?;
    connected.map_err(Into::into)
}

/// One thread's part, generic over the proactor (closures cannot be).
trait Body {
    async fn run<P: Proactor>(self, ctx: Context<P>) -> Result<(), BoxError>;
}

/// Both sides on one thread.
struct Both(Test, Source);
/// The binding socket.
struct Binding(Test);
/// The connecting socket.
struct Connecting(Test, Source);

impl Body for Both {
    async fn run<P: Proactor>(self, ctx: Context<P>) -> Result<(), BoxError> {
        let (a, b) = join(bind_side(&ctx, self.0), connect_side(&ctx, self.0, self.1)).await;
        a.and(b)
    }
}

impl Body for Binding {
    async fn run<P: Proactor>(self, ctx: Context<P>) -> Result<(), BoxError> {
        bind_side(&ctx, self.0).await
    }
}

impl Body for Connecting {
    async fn run<P: Proactor>(self, ctx: Context<P>) -> Result<(), BoxError> {
        connect_side(&ctx, self.0, self.1).await
    }
}

/// Runs `body` on a new runtime of `backend` on this thread, in a Context joined to
/// `handle`.
fn on_backend(backend: Backend, handle: &ContextHandle, body: impl Body) -> Result<(), BoxError> {
    match backend {
        Backend::Uring | Backend::Epoll => {
            let choice = if backend == Backend::Uring {
                BackendChoice::Uring
            } else {
                BackendChoice::Epoll
            };
            let rt = Runtime::with_backend(choice)?;
            let ctx = Context::with_handle(rt.proactor(), handle);
            rt.block_on(body.run(ctx))
        }
        Backend::Compio => {
            ringmq_compio::block_on(body.run(Context::with_handle(CompioProactor::new(), handle)))?
        }
        Backend::Monoio => {
            ringmq_monoio::block_on(body.run(Context::with_handle(MonoioProactor::new(), handle)))?
        }
        Backend::Tokio => {
            ringmq_tokio::block_on(body.run(Context::with_handle(TokioProactor::new(), handle)))?
        }
    }
}

/// The binding side: PULL (prints the throughput), REP, or the scale test's ROUTER.
async fn bind_side<P: Proactor>(ctx: &Context<P>, test: Test) -> Result<(), BoxError> {
    match test {
        Test::Thr { size, count } => {
            let pull = ctx.pull();
            pull.bind(ENDPOINT)?;
            check_size(pull.recv().await?.byte_len(), size)?;
            let start = Instant::now();
            for _ in 1..count {
                check_size(pull.recv().await?.byte_len(), size)?;
            }
            print_thr(size, count, start.elapsed());
            pull.close().await;
        }
        Test::Batch { size, count } => {
            let pull = ctx.pull();
            pull.bind(ENDPOINT)?;
            let mut out = Vec::with_capacity(BATCH);
            let mut got = pull.recv_many(&mut out, BATCH).await? as u64;
            let start = Instant::now();
            while got < count {
                for m in out.drain(..) {
                    check_size(m.byte_len(), size)?;
                }
                got += pull.recv_many(&mut out, BATCH).await? as u64;
            }
            for m in out.drain(..) {
                check_size(m.byte_len(), size)?;
            }
            print_thr(size, count, start.elapsed());
            pull.close().await;
        }
        Test::Scale { size, idle, rounds } => {
            let router = ctx.router();
            router.bind(ENDPOINT)?;
            for _ in 0..idle + SCALE_WARMUP + rounds {
                let m = router.recv().await?;
                let [id, body] = m.frames() else {
                    return Err("a request that is not [routing id, body]".into());
                };
                check_size(body.len(), size)?;
                router.send(vec![id.clone(), body.clone()]).await?;
            }
            router.close().await;
        }
        Test::Lat { size, rounds } => {
            let rep = ctx.rep();
            rep.bind(ENDPOINT)?;
            for _ in 0..rounds {
                let m = rep.recv().await?;
                check_size(m.byte_len(), size)?;
                rep.send(m).await?;
            }
            rep.close().await;
        }
    }
    Ok(())
}

/// The connecting side: PUSH, REQ (prints the latency), or the scale test's DEALERs
/// (print their round trips and memory).
async fn connect_side<P: Proactor>(
    ctx: &Context<P>,
    test: Test,
    source: Source,
) -> Result<(), BoxError> {
    match test {
        Test::Thr { size, count } => {
            let push = ctx.push();
            push.connect(ENDPOINT)?;
            let data = source.first(size);
            for _ in 0..count {
                push.send(source.next(&data)).await?;
            }
            push.close().await;
        }
        Test::Batch { size, count } => {
            let push = ctx.push();
            push.connect(ENDPOINT)?;
            let data = source.first(size);
            let mut msgs = Vec::with_capacity(BATCH);
            let mut sent = 0;
            while sent < count {
                let k = BATCH.min((count - sent) as usize);
                msgs.extend((0..k).map(|_| Message::from(source.next(&data))));
                push.send_batch(&mut msgs).await?;
                sent += k as u64;
            }
            push.close().await;
        }
        Test::Scale { size, idle, rounds } => {
            let data = source.first(size);
            let before = vm_rss_kb().unwrap_or(0);
            let idle_peers = (0..idle)
                .map(|_| {
                    let d = ctx.dealer();
                    d.connect(ENDPOINT).map(|_| d)
                })
                .collect::<Result<Vec<_>, _>>()?;
            for d in &idle_peers {
                d.send(source.next(&data)).await?;
            }
            for d in &idle_peers {
                check_size(d.recv().await?.byte_len(), size)?;
            }
            if idle > 0 {
                let grown = vm_rss_kb().unwrap_or(0).saturating_sub(before);
                println!(
                    "memory per idle peer: {:.2} [KiB]",
                    grown as f64 / idle as f64
                );
            }
            let d = ctx.dealer();
            d.connect(ENDPOINT)?;
            active_round_trips(&d, size, rounds, || source.next(&data)).await?;
            d.close().await;
            drop(idle_peers);
        }
        Test::Lat { size, rounds } => {
            let req = ctx.req();
            req.connect(ENDPOINT)?;
            let data = source.first(size);
            let start = Instant::now();
            for _ in 0..rounds {
                req.send(source.next(&data)).await?;
                check_size(req.recv().await?.byte_len(), size)?;
            }
            print_lat(size, rounds, start.elapsed());
            req.close().await;
        }
    }
    Ok(())
}

/// Runs two futures to completion on this task.
async fn join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    use std::pin::pin;
    use std::task::Poll;
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(|cx| {
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
