//! Shared helpers of the socket tests: one runner per backend, timeouts, small utils.
#![allow(dead_code)]

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use ringmq_proactor::{BackendChoice, Proactor, Runtime};
use ringmq_sockets::{Context, Monitor, MonitorEvent, MonitorEventKind};

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

async fn guard<P: Proactor>(p: P, body: impl Future<Output = ()>) {
    if timeout(&p, LIMIT, body).await.is_none() {
        panic!("test body did not finish within {LIMIT:?}");
    }
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

pub async fn sleep<P: Proactor>(p: &P, d: Duration) {
    p.sleep_until(p.now() + d).await;
}

/// Waits (up to 10 s) for a monitor event matching `pred`, returning it.
pub async fn wait_event<P: Proactor>(
    p: &P,
    m: &Monitor,
    mut pred: impl FnMut(&MonitorEvent) -> bool,
) -> MonitorEvent {
    let found = timeout(p, Duration::from_secs(10), async {
        loop {
            let e = m.recv().await.expect("monitor closed");
            if pred(&e) {
                return e;
            }
        }
    })
    .await;
    found.expect("the expected monitor event did not arrive within 10 s")
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
    };
}
