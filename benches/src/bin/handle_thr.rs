//! 64 B PUSH/PULL through `SocketHandle`s on a tokio multi-thread runtime, against the
//! direct API and zmq.rs (crate `zeromq`) on the same runtime; `compare` runs it.
//!
//! ```text
//! handle_thr handle_recv|handle_send|zmqrs_recv|zmqrs_send|direct_recv|direct_send <ep> <size> <count> [--backend uring|epoll]
//! ```
//!
//! `*_recv` binds a PULL and prints `local_thr`'s lines (timed from the first message to
//! the last); `*_send` connects a PUSH and sends `count` messages. `handle_*`: a
//! `SocketHandle` on a ringmq runtime thread, used from a task spawned on a tokio
//! multi-thread runtime with two workers. `zmqrs_*`: zmq.rs's sockets in a task of
//! the same tokio runtime. `direct_*`: ringmq's `local_thr` / `remote_thr` (the plain
//! `Socket` on the built-in runtime, on this thread).

use std::time::Instant;

use bytes::Bytes;
use ringmq_bench::tools::{print_thr, run, Args, Backend, Role};
use ringmq_proactor::BackendChoice;
use ringmq_sockets::{RuntimeThread, SocketType};
use zeromq::{Socket as _, SocketRecv as _, SocketSend as _, ZmqMessage};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    if let Err(e) = real_main() {
        eprintln!("handle_thr: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), BoxError> {
    let a = Args::from_env()?;
    if a.positional.len() != 4 {
        return Err("usage: handle_thr <role> <endpoint> <size> <count> [--backend B]".into());
    }
    let role = a.positional[0].clone();
    let ep = a.positional[1].clone();
    let size = a.num(2, "size")? as usize;
    let count = a.num(3, "count")?;
    match role.as_str() {
        "direct_recv" => run(a.backend, false, Role::LocalThr { ep, size, count })
            .map_err(|e| e.to_string().into()),
        "direct_send" => run(a.backend, false, Role::RemoteThr { ep, size, count })
            .map_err(|e| e.to_string().into()),
        "handle_recv" | "handle_send" | "zmqrs_recv" | "zmqrs_send" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let backend = match a.backend {
                Backend::Uring => BackendChoice::Uring,
                Backend::Epoll => BackendChoice::Epoll,
                other => return Err(format!("handles run on uring or epoll, not {other:?}").into()),
            };
            rt.block_on(async move {
                let task = match role.as_str() {
                    "handle_recv" => tokio::spawn(handle_recv(backend, ep, size, count)),
                    "handle_send" => tokio::spawn(handle_send(backend, ep, size, count)),
                    "zmqrs_recv" => tokio::spawn(zmqrs_recv(ep, size, count)),
                    _ => tokio::spawn(zmqrs_send(ep, size, count)),
                };
                task.await?
            })
        }
        other => Err(format!("unknown role {other:?}").into()),
    }
}

fn check(got: usize, size: usize) -> Result<(), BoxError> {
    if got != size {
        return Err(format!("message of {got} bytes instead of {size}").into());
    }
    Ok(())
}

async fn handle_recv(
    b: BackendChoice,
    ep: String,
    size: usize,
    count: u64,
) -> Result<(), BoxError> {
    let rt = RuntimeThread::builder().backend(b).spawn()?;
    let pull = rt.socket(SocketType::Pull)?;
    pull.bind(&ep)?;
    check(pull.recv().await?.byte_len(), size)?;
    let start = Instant::now();
    for _ in 1..count {
        check(pull.recv().await?.byte_len(), size)?;
    }
    print_thr(size, count, start.elapsed());
    pull.close().await;
    Ok(())
}

async fn handle_send(
    b: BackendChoice,
    ep: String,
    size: usize,
    count: u64,
) -> Result<(), BoxError> {
    let rt = RuntimeThread::builder().backend(b).spawn()?;
    let push = rt.socket(SocketType::Push)?;
    push.connect(&ep)?;
    let data = Bytes::from(vec![0u8; size]);
    for _ in 0..count {
        push.send(data.clone()).await?;
    }
    // LINGER is unlimited: returns once everything is written.
    push.close().await;
    Ok(())
}

async fn zmqrs_recv(ep: String, size: usize, count: u64) -> Result<(), BoxError> {
    let mut pull = zeromq::PullSocket::new();
    pull.bind(&ep).await?;
    let first = pull.recv().await?;
    check(first.iter().map(|f| f.len()).sum(), size)?;
    let start = Instant::now();
    for _ in 1..count {
        let m = pull.recv().await?;
        check(m.iter().map(|f| f.len()).sum(), size)?;
    }
    print_thr(size, count, start.elapsed());
    Ok(())
}

async fn zmqrs_send(ep: String, size: usize, count: u64) -> Result<(), BoxError> {
    let mut push = zeromq::PushSocket::new();
    push.connect(&ep).await?;
    let data = Bytes::from(vec![0u8; size]);
    for _ in 0..count {
        push.send(ZmqMessage::from(data.clone())).await?;
    }
    // zmq.rs writes each message before `send` returns: the bytes are in the kernel.
    Ok(())
}
