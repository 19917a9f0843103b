//! A worker pool across threads over `inproc://`: a ROUTER / DEALER broker (the
//! library's proxy) on the main thread, four REP workers on four other threads, each
//! with its own runtime and a Context joined to the main one's handle. A REQ client
//! sends jobs through the broker; when all are answered, terminating the context ends
//! the workers, blocked in `recv`, and the broker.
//!
//! `cargo run --example inproc_workers`

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::thread;

use ringmq::proactor::Runtime;
use ringmq::{proxy, Context, ContextHandle, Error};

const WORKERS: usize = 4;
const JOBS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// One worker thread: REP on the broker's backend, squaring numbers until the context
/// is terminated. Returns how many jobs it did.
fn worker(handle: ContextHandle, n: usize) -> Result<usize, String> {
    let rt = Runtime::new().map_err(|e| e.to_string())?;
    let ctx = Context::with_handle(rt.proactor(), &handle);
    rt.block_on(async {
        let rep = ctx.rep();
        match rep.connect("inproc://workers") {
            Ok(()) => {}
            // A worker that starts after every job was done finds the context
            // terminated already.
            Err(Error::Terminated) => return Ok(0),
            Err(e) => return Err(e.to_string()),
        }
        let mut done = 0;
        loop {
            let job = match rep.recv().await {
                Ok(m) => m,
                // The main thread terminated the context: the pool is done.
                Err(Error::Terminated) => return Ok(done),
                Err(e) => return Err(e.to_string()),
            };
            let x: u64 = String::from_utf8_lossy(&job.frames()[0])
                .parse()
                .map_err(|e| format!("bad job: {e}"))?;
            rep.send(format!("worker {n}: {x}^2 = {}", x * x))
                .await
                .map_err(|e| e.to_string())?;
            done += 1;
        }
    })
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    // Bound before the workers start (they could also connect first: inproc waits).
    let frontend = ctx.router();
    frontend.bind("inproc://clients")?;
    let backend = ctx.dealer();
    backend.bind("inproc://workers")?;
    let workers: Vec<_> = (0..WORKERS)
        .map(|n| {
            let handle = ctx.handle();
            thread::spawn(move || worker(handle, n))
        })
        .collect();

    rt.block_on(async {
        let broker = proxy(frontend.as_socket(), backend.as_socket(), None);
        let client = async {
            let req = ctx.req();
            req.connect("inproc://clients")?;
            for x in 1..=JOBS as u64 {
                req.send(x.to_string()).await?;
                let reply = req.recv().await?;
                println!("{}", String::from_utf8_lossy(&reply.frames()[0]));
            }
            // Every job is answered: stop the workers and the broker.
            ctx.terminate();
            Ok::<_, Error>(())
        };
        let (brokered, asked) = join(broker, client).await;
        asked.map_err(|e| e.to_string())?;
        match brokered {
            Err(Error::Terminated) => Ok(()),
            other => Err(format!("the broker ended with {other:?}")),
        }
    })?;

    let mut total = 0;
    for w in workers {
        total += w.join().map_err(|_| "a worker panicked")??;
    }
    println!("{total} jobs done by {WORKERS} workers");
    if total != JOBS {
        return Err(format!("{total} jobs done, {JOBS} sent").into());
    }
    Ok(())
}

/// Runs two futures to completion.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
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
        match (ra.is_some(), rb.is_some()) {
            (true, true) => Poll::Ready((ra.take().unwrap(), rb.take().unwrap())),
            _ => Poll::Pending,
        }
    })
    .await
}
