//! Sockets on other threads, each with its own runtime of any engine, in Contexts that
//! share one `ContextHandle` (the inproc and termination tests).

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use ringmq_proactor::{BackendChoice, Proactor, Runtime};
use ringmq_sockets::{Context, ContextHandle};

use super::{timeout, wait_until, WAIT};

/// The engines a peer thread can run.
#[derive(Clone, Copy, Debug)]
pub enum Engine {
    Uring,
    Epoll,
    Compio,
    Monoio,
    Tokio,
}

pub const ENGINES: [Engine; 5] = [
    Engine::Uring,
    Engine::Epoll,
    Engine::Compio,
    Engine::Monoio,
    Engine::Tokio,
];

/// A body for another thread, generic over its proactor (closures cannot be).
pub trait Body: Send + 'static {
    fn run<P: Proactor>(self, ctx: Context<P>) -> impl Future<Output = ()>;
}

/// Runs `body` on a new thread with a runtime of `engine`, in a Context joined to
/// `handle`.
pub fn spawn_on(engine: Engine, handle: &ContextHandle, body: impl Body) -> JoinHandle<()> {
    let handle = handle.clone();
    std::thread::Builder::new()
        .name(format!("peer-{engine:?}"))
        .stack_size(16 << 20)
        .spawn(move || match engine {
            Engine::Uring | Engine::Epoll => {
                let choice = match engine {
                    Engine::Uring => BackendChoice::Uring,
                    _ => BackendChoice::Epoll,
                };
                let rt = Runtime::with_backend(choice).expect("runtime");
                let p = rt.proactor();
                rt.block_on(limited(
                    p.clone(),
                    body.run(Context::with_handle(p, &handle)),
                ));
            }
            Engine::Compio => {
                let p = ringmq_compio::CompioProactor::new();
                ringmq_compio::block_on(limited(p, body.run(Context::with_handle(p, &handle))))
                    .expect("compio runtime");
            }
            Engine::Monoio => {
                let p = ringmq_monoio::MonoioProactor::new();
                ringmq_monoio::block_on(limited(p, body.run(Context::with_handle(p, &handle))))
                    .expect("monoio runtime");
            }
            Engine::Tokio => {
                let p = ringmq_tokio::TokioProactor::new();
                ringmq_tokio::block_on(limited(p, body.run(Context::with_handle(p, &handle))))
                    .expect("tokio runtime");
            }
        })
        .expect("spawn a peer thread")
}

async fn limited<P: Proactor>(p: P, body: impl Future<Output = ()>) {
    if timeout(&p, Duration::from_secs(60), body).await.is_none() {
        panic!("a peer thread's body did not finish within 60 s");
    }
}

/// Waits (without blocking the runtime) until the threads finished, then joins them,
/// passing on their panics.
pub async fn join_threads<P: Proactor>(p: &P, threads: Vec<JoinHandle<()>>) {
    wait_until(p, WAIT, "the peer threads finish", || {
        threads.iter().all(|t| t.is_finished())
    })
    .await;
    for t in threads {
        if let Err(panic) = t.join() {
            std::panic::resume_unwind(panic);
        }
    }
}
