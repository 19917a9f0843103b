//! Host names resolved off the event loop: `getaddrinfo` blocks, so a `connect` to
//! `tcp://name:port` hands the lookup to a resolver thread and waits for its
//! completion like for any other I/O; IP literals skip it.
//!
//! The resolver is process-wide: up to [`MAX_THREADS`] threads, started when lookups
//! wait and none is idle, taking lookups from one queue. A lookup whose waiter went
//! away (the connect was stopped) still runs to its end; its result is dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::BorrowedFd;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use ringmq_proactor::{connect_first, Endpoint, Host, Proactor};

use crate::inproc::lock;

/// Resolver threads at most (lookups beyond that wait in the queue).
pub(crate) const MAX_THREADS: usize = 4;

/// How a lookup is done: `(name, port).to_socket_addrs()`, or a stand-in in tests.
type LookupFn = fn(&str, u16) -> io::Result<Vec<SocketAddr>>;

fn system_lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (name, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{name}: no address found"),
        ));
    }
    Ok(addrs)
}

/// The completion a lookup hands back.
#[derive(Default)]
struct Slot {
    result: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

struct Job {
    name: String,
    port: u16,
    slot: Arc<Mutex<Slot>>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

/// A pool of resolver threads.
pub(crate) struct Resolver {
    lookup: LookupFn,
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Resolver {
    fn new(lookup: LookupFn) -> Arc<Resolver> {
        Arc::new(Resolver {
            lookup,
            queue: Mutex::default(),
            ready: Condvar::new(),
        })
    }

    /// The process's resolver.
    fn global() -> &'static Arc<Resolver> {
        static GLOBAL: OnceLock<Arc<Resolver>> = OnceLock::new();
        GLOBAL.get_or_init(|| Resolver::new(system_lookup))
    }

    /// Resolves `name` on a resolver thread.
    pub(crate) fn resolve(self: &Arc<Self>, name: &str, port: u16) -> Lookup {
        let slot = Arc::new(Mutex::new(Slot::default()));
        let job = Job {
            name: name.to_owned(),
            port,
            slot: slot.clone(),
        };
        let spawn = {
            let mut q = lock(&self.queue);
            q.jobs.push_back(job);
            let spawn = q.idle == 0 && q.threads < MAX_THREADS;
            if spawn {
                q.threads += 1;
            }
            spawn
        };
        if spawn {
            let me = self.clone();
            let started = std::thread::Builder::new()
                .name("ringmq-resolver".into())
                .spawn(move || me.work());
            if let Err(e) = started {
                // No thread: fail this lookup (and leave the queue to the others).
                let mut q = lock(&self.queue);
                q.threads -= 1;
                if let Some(pos) = q.jobs.iter().position(|j| Arc::ptr_eq(&j.slot, &slot)) {
                    q.jobs.remove(pos);
                }
                drop(q);
                lock(&slot).result = Some(Err(e));
            }
        } else {
            self.ready.notify_one();
        }
        Lookup { slot }
    }

    fn work(self: Arc<Self>) {
        loop {
            let job = {
                let mut q = lock(&self.queue);
                loop {
                    if let Some(job) = q.jobs.pop_front() {
                        break job;
                    }
                    q.idle += 1;
                    q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
                    q.idle -= 1;
                }
            };
            let result = (self.lookup)(&job.name, job.port);
            let waker = {
                let mut slot = lock(&job.slot);
                slot.result = Some(result);
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// Looks `name` up on the process's resolver threads.
pub(crate) fn lookup(name: &str, port: u16) -> Lookup {
    Resolver::global().resolve(name, port)
}

/// A lookup in progress; completes with its addresses.
pub(crate) struct Lookup {
    slot: Arc<Mutex<Slot>>,
}

impl Future for Lookup {
    type Output = io::Result<Vec<SocketAddr>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = lock(&self.slot);
        if let Some(r) = slot.result.take() {
            return Poll::Ready(r);
        }
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// `p.connect_prepared(ep, prepare)`, with a host name resolved on the resolver first
/// and each of its addresses tried in turn (the last error is returned). IP literals,
/// `ipc://` and the rest go to the proactor at once.
pub(crate) async fn connect<P: Proactor>(
    p: &P,
    ep: &Endpoint,
    prepare: &dyn Fn(BorrowedFd<'_>) -> io::Result<()>,
) -> io::Result<P::Stream> {
    let Endpoint::Tcp {
        host: Host::Name(name),
        port,
    } = ep
    else {
        return p.connect_prepared(ep, prepare).await;
    };
    let addrs = Resolver::global().resolve(name, *port).await?;
    connect_first(addrs, |addr| async move {
        p.connect_prepared(&Endpoint::from(addr), prepare).await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
        let mut a = std::pin::pin!(a);
        let mut b = std::pin::pin!(b);
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
            match (ra.take(), rb.take()) {
                (Some(x), Some(y)) => Poll::Ready((x, y)),
                (x, y) => {
                    ra = x;
                    rb = y;
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Blocks until the test releases it, like a slow DNS server.
    fn slow_lookup(name: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while RELEASED.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        if name == "fails" {
            return Err(io::Error::other("no such host"));
        }
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
    }

    #[test]
    fn a_slow_lookup_leaves_the_event_loop_running() {
        let rt = ringmq_proactor::Runtime::new().expect("runtime");
        let p = rt.proactor();
        let resolver = Resolver::new(slow_lookup);
        rt.block_on(async {
            let lookup = resolver.resolve("example", 7);
            let failing = resolver.resolve("fails", 7);
            // The loop keeps running timers while both lookups block their threads.
            let mut ticks = 0;
            let ticking = async {
                for _ in 0..20 {
                    p.sleep_until(p.now() + Duration::from_millis(1)).await;
                    ticks += 1;
                }
                RELEASED.store(1, Ordering::SeqCst);
            };
            let (addrs, ()) = join(lookup, ticking).await;
            assert_eq!(ticks, 20, "timers ran during the lookup");
            assert_eq!(addrs.unwrap(), vec![SocketAddr::from(([127, 0, 0, 1], 7))]);
            let e = failing.await.unwrap_err();
            assert_eq!(e.to_string(), "no such host");
        });
        let q = lock(&resolver.queue);
        assert!(q.threads <= MAX_THREADS && q.threads >= 1);
        assert!(q.jobs.is_empty());
    }
}
