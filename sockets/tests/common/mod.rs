//! Shared helpers of the socket tests: one runner per backend, timeouts, small utils.
#![allow(dead_code)]

pub mod threads;

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use ringmq_proactor::{BackendChoice, BufResult, Proactor, Runtime};
use ringmq_sockets::{Context, DisconnectReason, Monitor, MonitorEvent, MonitorEventKind};
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, Session, SessionConfig, SocketType};

/// A test body fails instead of hanging after this long.
const LIMIT: Duration = Duration::from_secs(60);

fn builtin<F, Fut>(choice: BackendChoice, body: F)
where
    F: FnOnce(Context<ringmq_proactor::Native>) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = Runtime::with_backend(choice).expect("built-in runtime");
    let p = rt.proactor();
    rt.block_on(guard(p.clone(), body(Context::new(p))));
}

pub fn uring<F, Fut>(body: F)
where
    F: FnOnce(Context<ringmq_proactor::Native>) -> Fut,
    Fut: Future<Output = ()>,
{
    builtin(BackendChoice::Uring, body);
}

pub fn epoll<F, Fut>(body: F)
where
    F: FnOnce(Context<ringmq_proactor::Native>) -> Fut,
    Fut: Future<Output = ()>,
{
    builtin(BackendChoice::Epoll, body);
}

pub fn compio<F, Fut>(body: F)
where
    F: FnOnce(Context<ringmq_compio::CompioProactor>) -> Fut,
    Fut: Future<Output = ()>,
{
    let p = ringmq_compio::CompioProactor::new();
    ringmq_compio::block_on(guard(p, body(Context::new(p)))).expect("compio runtime");
}

/// monoio runs on a thread with a larger stack: in debug builds its futures are large
/// (a `send` future is 2 KiB) and a few bodies overflow the default 2 MiB test stack.
pub fn monoio<F, Fut>(body: F)
where
    F: FnOnce(Context<ringmq_monoio::MonoioProactor>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let t = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let p = ringmq_monoio::MonoioProactor::new();
            ringmq_monoio::block_on(guard(p, body(Context::new(p)))).expect("monoio runtime");
        })
        .expect("spawn the monoio test thread");
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

/// tokio's current-thread runtime with a `LocalSet`, on a thread with a larger stack
/// like monoio (debug-build futures are large).
pub fn tokio<F, Fut>(body: F)
where
    F: FnOnce(Context<ringmq_tokio::TokioProactor>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let t = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(move || {
            let p = ringmq_tokio::TokioProactor::new();
            ringmq_tokio::block_on(guard(p, body(Context::new(p)))).expect("tokio runtime");
        })
        .expect("spawn the tokio test thread");
    if let Err(panic) = t.join() {
        std::panic::resume_unwind(panic);
    }
}

async fn guard<P: Proactor>(p: P, body: impl Future<Output = ()>) {
    if timeout(&p, LIMIT, body).await.is_none() {
        panic!("test body did not finish within {LIMIT:?}");
    }
}

/// Runs `f` on the default built-in runtime and fails if it takes longer than `limit`
/// (the interop tests, whose peers are other processes).
pub fn run_for<F: Future<Output = ()>>(
    limit: Duration,
    f: impl FnOnce(Context<ringmq_proactor::Native>) -> F,
) {
    let rt = Runtime::new().expect("runtime");
    let p = rt.proactor();
    let ctx = Context::new(p.clone());
    if rt.block_on(timeout(&p, limit, f(ctx))).is_none() {
        panic!("interop test did not finish within {limit:?}");
    }
}

/// Owned copies of a peer process's arguments.
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Runs `f` for at most `d`.
pub async fn timeout<P: Proactor, F: Future>(p: &P, d: Duration, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut sleep = pin!(p.sleep_until(p.now() + d));
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

/// Runs both futures to completion.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
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
            Poll::Ready((ra.take().unwrap(), rb.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// A fixed pause: only for tests about time ("nothing happens within X", heartbeat
/// timing), never to let something happen (wait for it with [`wait_until`],
/// [`wait_event`] or a probe instead).
pub async fn sleep<P: Proactor>(p: &P, d: Duration) {
    p.sleep_until(p.now() + d).await;
}

/// How long a test waits for something that must happen before it fails: generous,
/// since the machine is shared with other builds. Waits end as soon as the condition
/// holds, so this costs nothing on the success path.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often [`wait_until`] and [`poll_within`] check their condition.
const POLL: Duration = Duration::from_millis(1);

/// Checks `f` until it returns `Some`, letting the runtime run for [`POLL`] between
/// checks, for at most `limit`; `None` when the time ran out.
pub async fn poll_within<P: Proactor, T>(
    p: &P,
    limit: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = p.now() + limit;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        let now = p.now();
        if now >= deadline {
            return None;
        }
        p.sleep_until((now + POLL).min(deadline)).await;
    }
}

/// Waits (up to `limit`) until `f` returns `Some`, and returns its value; fails the
/// test naming `what` otherwise.
pub async fn wait_for<P: Proactor, T>(
    p: &P,
    limit: Duration,
    what: &str,
    f: impl FnMut() -> Option<T>,
) -> T {
    match poll_within(p, limit, f).await {
        Some(x) => x,
        None => panic!("timed out after {limit:?} waiting for: {what}"),
    }
}

/// Waits (up to `limit`) until `cond` holds; fails the test naming `what` otherwise.
pub async fn wait_until<P: Proactor>(
    p: &P,
    limit: Duration,
    what: &str,
    mut cond: impl FnMut() -> bool,
) {
    wait_for(p, limit, what, || cond().then_some(())).await
}

/// Polls `f` once: `Poll::Pending` if it has to wait (it can be polled again later).
pub async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

/// The reason of a connection-end event (`HandshakeFailed`, `HandshakeFailedAuth`,
/// `Disconnected`), `None` for other events.
pub fn end_reason(kind: &MonitorEventKind) -> Option<DisconnectReason> {
    match kind {
        MonitorEventKind::HandshakeFailed { reason }
        | MonitorEventKind::HandshakeFailedAuth { reason, .. }
        | MonitorEventKind::Disconnected { reason } => Some(reason.clone()),
        _ => None,
    }
}

/// Waits for the next `Disconnected` event on `m` and returns its reason.
pub async fn wait_disconnected<P: Proactor>(p: &P, m: &Monitor) -> DisconnectReason {
    let e = wait_event(p, m, |e| {
        matches!(e.kind, MonitorEventKind::Disconnected { .. })
    })
    .await;
    end_reason(&e.kind).expect("an end event")
}

/// Waits for the next `HandshakeFailed` event on `m` and returns its reason.
pub async fn wait_handshake_failed<P: Proactor>(p: &P, m: &Monitor) -> DisconnectReason {
    let e = wait_event(p, m, |e| {
        matches!(e.kind, MonitorEventKind::HandshakeFailed { .. })
    })
    .await;
    end_reason(&e.kind).expect("an end event")
}

/// Waits (up to [`WAIT`]) for a monitor event matching `pred`, returning it.
pub async fn wait_event<P: Proactor>(
    p: &P,
    m: &Monitor,
    mut pred: impl FnMut(&MonitorEvent) -> bool,
) -> MonitorEvent {
    let found = timeout(p, WAIT, async {
        loop {
            let e = m.recv().await.expect("monitor closed");
            if pred(&e) {
                return e;
            }
        }
    })
    .await;
    found.unwrap_or_else(|| panic!("the expected monitor event did not arrive within {WAIT:?}"))
}

/// Waits for `n` handshakes on a monitor.
pub async fn wait_handshakes<P: Proactor>(p: &P, m: &Monitor, n: usize) {
    for _ in 0..n {
        wait_event(p, m, |e| e.kind == MonitorEventKind::HandshakeSucceeded).await;
    }
}

/// A fresh IPC path for this process.
pub fn ipc_endpoint(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir();
    format!(
        "ipc://{}/ringmq-sockets-{}-{name}-{n}.sock",
        dir.display(),
        std::process::id()
    )
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe listener");
    l.local_addr().expect("local_addr").port()
}

/// Instantiates each generic async test body once per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod uring {
            $( #[test] fn $name() { $crate::common::uring(super::$name) } )*
        }
        mod epoll {
            $( #[test] fn $name() { $crate::common::epoll(super::$name) } )*
        }
        mod compio {
            $( #[test] fn $name() { $crate::common::compio(super::$name) } )*
        }
        mod monoio {
            $( #[test] fn $name() { $crate::common::monoio(super::$name) } )*
        }
        mod tokio {
            $( #[test] fn $name() { $crate::common::tokio(super::$name) } )*
        }
    };
}

/// Writes all of `data` on a raw stream half.
pub async fn write_all<P: Proactor>(p: &P, w: &mut P::Writer, data: Vec<u8>) {
    let mut data = data;
    while !data.is_empty() {
        let BufResult(r, d) = p.send(w, data).await;
        let n = r.expect("raw write");
        data = d[n..].to_vec();
    }
}

/// A raw ZMTP PUSH peer driven by hand: connects and completes the handshake, then
/// returns the stream halves (so the caller decides whether it ever speaks again).
pub async fn raw_push_peer<P: Proactor>(p: &P, ep: &str) -> (P::Reader, P::Writer, Session) {
    raw_peer(p, ep, SocketType::Push).await
}

/// A raw ZMTP peer of socket type `kind` driven by hand (see [`raw_push_peer`]).
pub async fn raw_peer<P: Proactor>(
    p: &P,
    ep: &str,
    kind: SocketType,
) -> (P::Reader, P::Writer, Session) {
    let stream = p.connect(&ep.parse().unwrap()).await.expect("raw connect");
    let (mut r, mut w) = p.split(stream);
    let mut s = Session::new(SessionConfig::new(kind), Box::new(Null::new()), p.now()).unwrap();
    loop {
        if let Some(t) = s.poll_transmit() {
            write_all(p, &mut w, t.to_vec()).await;
        }
        if let Some(e) = s.poll_event() {
            match e {
                Event::HandshakeSucceeded { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let BufResult(n, buf) = p.recv(&mut r, Vec::with_capacity(4096)).await;
        assert!(n.expect("raw read") > 0, "peer closed during the handshake");
        s.handle_input(p.now(), &buf);
    }
    if let Some(t) = s.poll_transmit() {
        write_all(p, &mut w, t.to_vec()).await;
    }
    (r, w, s)
}
