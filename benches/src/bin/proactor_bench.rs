//! Proactor benchmark: loopback ping-pong (64 B) and one-way streaming (64 B records,
//! 64 KiB writes) on every engine, next to raw blocking `std::net` TCP in the same run.
//!
//! Each measurement uses two threads of one process: a server thread with its own
//! runtime of the engine under test, and the client on another thread. Engines are
//! interleaved inside every repeat, and the table shows medians and each engine's
//! ratio to raw TCP.
//!
//! ```text
//! cargo run --release -p ringmq-bench --bin proactor_bench -- [--repeats N] [--quick]
//!     [--engines raw,uring,epoll,compio,monoio] [--workloads pingpong,records,64k]
//! ```
//!
//! `--engines` and `--workloads` select a subset (for profiling one case under strace,
//! perf or callgrind); raw TCP is always measured when a ratio is wanted.
#![forbid(unsafe_code)]

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ringmq_compio::CompioProactor;
use ringmq_monoio::MonoioProactor;
use ringmq_proactor::{Backend, BackendChoice, BufResult, Endpoint, IoBuf, Proactor, Runtime};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    Raw,
    Uring,
    Epoll,
    Compio,
    Monoio,
}

impl Engine {
    const ALL: [Engine; 5] = [
        Engine::Raw,
        Engine::Uring,
        Engine::Epoll,
        Engine::Compio,
        Engine::Monoio,
    ];

    fn key(self) -> &'static str {
        match self {
            Engine::Raw => "raw",
            Engine::Uring => "uring",
            Engine::Epoll => "epoll",
            Engine::Compio => "compio",
            Engine::Monoio => "monoio",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Engine::Raw => "raw std::net",
            Engine::Uring => "ringmq uring",
            Engine::Epoll => "ringmq epoll",
            Engine::Compio => "compio",
            Engine::Monoio => "monoio",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Workload {
    /// 64-byte request, 64-byte reply, `rounds` times.
    PingPong { rounds: usize },
    /// `count` sends of `size` bytes each, one way, then a 1-byte acknowledgement.
    Stream { size: usize, count: usize },
}

/// Something to run on a proactor, whatever the engine.
trait Job: Send + 'static {
    type Out: Send + 'static;
    fn run<P: Proactor>(self, p: P) -> impl Future<Output = io::Result<Self::Out>>;
}

fn exec<J: Job>(engine: Engine, job: J) -> io::Result<J::Out> {
    match engine {
        Engine::Uring | Engine::Epoll => {
            let (choice, want) = if engine == Engine::Uring {
                (BackendChoice::Uring, Backend::Uring)
            } else {
                (BackendChoice::Epoll, Backend::Epoll)
            };
            let rt = Runtime::with_backend(choice)?;
            if rt.backend() != want {
                return Err(io::Error::other(format!(
                    "asked for {want}, got {}",
                    rt.backend()
                )));
            }
            let p = rt.proactor();
            rt.block_on(job.run(p))
        }
        Engine::Compio => ringmq_compio::block_on(job.run(CompioProactor::new()))?,
        Engine::Monoio => ringmq_monoio::block_on(job.run(MonoioProactor::new()))?,
        Engine::Raw => unreachable!("raw TCP does not run jobs"),
    }
}

async fn send_all<P: Proactor>(p: &P, w: &mut P::Writer, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    let len = buf.len();
    let mut off = 0;
    while off < len {
        let BufResult(res, slice) = p.send(w, buf.slice(off..len)).await;
        buf = slice.into_inner();
        match res? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => off += n,
        }
    }
    Ok(buf)
}

/// Receives until `buf` holds `n` bytes (reusing its allocation), or end of stream.
async fn recv_exact<P: Proactor>(
    p: &P,
    r: &mut P::Reader,
    mut buf: Vec<u8>,
    n: usize,
) -> io::Result<Vec<u8>> {
    buf.clear();
    buf.reserve(n);
    while buf.len() < n {
        let BufResult(res, b) = p.recv(r, buf).await;
        buf = b;
        if res? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(buf)
}

struct Server {
    workload: Workload,
    ready: mpsc::Sender<Endpoint>,
}

impl Job for Server {
    type Out = ();
    async fn run<P: Proactor>(self, p: P) -> io::Result<()> {
        let l = p.listen(&"tcp://127.0.0.1:0".parse().map_err(io::Error::other)?)?;
        let _ = self.ready.send(p.listener_endpoint(&l)?);
        let (s, _) = p.accept(&l).await?;
        let (mut r, mut w) = p.split(s);
        match self.workload {
            Workload::PingPong { rounds } => {
                let mut buf = Vec::with_capacity(64);
                for _ in 0..rounds {
                    buf = recv_exact(&p, &mut r, buf, 64).await?;
                    buf = send_all(&p, &mut w, buf).await?;
                }
            }
            Workload::Stream { size, count } => {
                let total = size * count;
                let mut got = 0;
                let mut buf = Vec::with_capacity(256 << 10);
                while got < total {
                    buf.clear();
                    let BufResult(res, b) = p.recv(&mut r, buf).await;
                    buf = b;
                    match res? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => got += n,
                    }
                }
                send_all(&p, &mut w, vec![1]).await?;
            }
        }
        Ok(())
    }
}

struct Client {
    workload: Workload,
    ep: Endpoint,
}

impl Job for Client {
    type Out = Duration;
    async fn run<P: Proactor>(self, p: P) -> io::Result<Duration> {
        let s = p.connect(&self.ep).await?;
        let (mut r, mut w) = p.split(s);
        let start = Instant::now();
        match self.workload {
            Workload::PingPong { rounds } => {
                let mut buf = vec![7u8; 64];
                for _ in 0..rounds {
                    buf = send_all(&p, &mut w, buf).await?;
                    buf = recv_exact(&p, &mut r, buf, 64).await?;
                }
            }
            Workload::Stream { size, count } => {
                let mut buf = vec![7u8; size];
                for _ in 0..count {
                    buf = send_all(&p, &mut w, buf).await?;
                }
                recv_exact(&p, &mut r, Vec::new(), 1).await?;
            }
        }
        Ok(start.elapsed())
    }
}

fn raw(workload: Workload) -> io::Result<Duration> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    let server = thread::spawn(move || -> io::Result<()> {
        let (mut s, _) = l.accept()?;
        s.set_nodelay(true)?;
        match workload {
            Workload::PingPong { rounds } => {
                let mut buf = [0u8; 64];
                for _ in 0..rounds {
                    s.read_exact(&mut buf)?;
                    s.write_all(&buf)?;
                }
            }
            Workload::Stream { size, count } => {
                let total = size * count;
                let mut got = 0;
                let mut buf = vec![0u8; 256 << 10];
                while got < total {
                    match s.read(&mut buf)? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => got += n,
                    }
                }
                s.write_all(&[1])?;
            }
        }
        Ok(())
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let start = Instant::now();
    match workload {
        Workload::PingPong { rounds } => {
            let mut buf = [7u8; 64];
            for _ in 0..rounds {
                c.write_all(&buf)?;
                c.read_exact(&mut buf)?;
            }
        }
        Workload::Stream { size, count } => {
            let buf = vec![7u8; size];
            for _ in 0..count {
                c.write_all(&buf)?;
            }
            c.read_exact(&mut [0u8; 1])?;
        }
    }
    let elapsed = start.elapsed();
    server
        .join()
        .map_err(|_| io::Error::other("raw server thread panicked"))??;
    Ok(elapsed)
}

fn measure(engine: Engine, workload: Workload) -> io::Result<Duration> {
    if engine == Engine::Raw {
        return raw(workload);
    }
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        exec(
            engine,
            Server {
                workload,
                ready: tx,
            },
        )
    });
    let ep = rx
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| io::Error::other(format!("{} server did not start", engine.name())))?;
    let client = thread::spawn(move || exec(engine, Client { workload, ep }));
    let elapsed = client
        .join()
        .map_err(|_| io::Error::other("client thread panicked"))??;
    server
        .join()
        .map_err(|_| io::Error::other("server thread panicked"))??;
    Ok(elapsed)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let repeats = args
        .iter()
        .position(|a| a == "--repeats")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.parse::<usize>().map_err(io::Error::other))
        .transpose()?
        .unwrap_or(if quick { 1 } else { 7 });
    let list = |flag: &str| -> Option<Vec<String>> {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map(|s| s.split(',').map(str::to_owned).collect())
    };
    let engines: Vec<Engine> = match list("--engines") {
        None => Engine::ALL.to_vec(),
        Some(names) => Engine::ALL
            .into_iter()
            .filter(|e| names.iter().any(|n| n == e.key()))
            .collect(),
    };
    if engines.is_empty() {
        return Err(io::Error::other(
            "--engines: none of raw, uring, epoll, compio, monoio",
        ));
    }
    let picked = list("--workloads");
    let scale = if quick { 10 } else { 1 };
    let workloads = [
        (
            "pingpong",
            "ping-pong 64 B",
            Workload::PingPong {
                rounds: 50_000 / scale,
            },
        ),
        (
            "records",
            "stream 64 B records",
            Workload::Stream {
                size: 64,
                count: 1_000_000 / scale,
            },
        ),
        (
            "64k",
            "stream 64 KiB writes",
            Workload::Stream {
                size: 64 << 10,
                count: 32_768 / scale,
            },
        ),
    ];
    println!("proactor_bench: {repeats} repeats, engines interleaved, medians; server and client in two threads");
    for (key, name, workload) in workloads {
        if picked.as_ref().is_some_and(|p| !p.iter().any(|k| k == key)) {
            continue;
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); engines.len()];
        for _ in 0..repeats {
            for (i, &engine) in engines.iter().enumerate() {
                times[i].push(measure(engine, workload)?);
            }
        }
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        // Ratios are to raw TCP when it was measured, else to the first engine listed.
        let raw = medians[0].as_secs_f64();
        println!();
        println!("| {name} | median | rate | vs raw |");
        println!("|---|---:|---:|---:|");
        for (engine, d) in engines.iter().zip(&medians) {
            let secs = d.as_secs_f64();
            let (value, rate) = match workload {
                Workload::PingPong { rounds } => {
                    let rtt = secs / rounds as f64 * 1e6;
                    (
                        format!("{rtt:.1} us/round trip"),
                        format!("{:.0} rt/s", rounds as f64 / secs),
                    )
                }
                Workload::Stream { size, count } => {
                    let bytes = (size * count) as f64;
                    (
                        format!("{:.1} ms", secs * 1e3),
                        format!(
                            "{:.2} M msg/s, {:.2} GB/s",
                            count as f64 / secs / 1e6,
                            bytes / secs / 1e9
                        ),
                    )
                }
            };
            // Ratio of time: >1 means slower than raw (for ping-pong, latency ratio;
            // for streams, the inverse of the throughput ratio).
            let ratio = match workload {
                Workload::PingPong { .. } => format!("{:.2}x latency", secs / raw),
                Workload::Stream { .. } => {
                    format!("{:.0}% of {}", raw / secs * 100.0, engines[0].key())
                }
            };
            println!("| {} | {value} | {rate} | {ratio} |", engine.name());
        }
    }
    Ok(())
}
