//! A REQ/REP worker pool on plain threads, with no async code: each worker thread
//! answers on its own REP socket, a client thread's REQ spreads its requests over
//! them (round-robin). `BlockingSocket` blocks like rust-zmq's sockets, with timeouts.
//!
//! `cargo run --example blocking`

use std::error::Error;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringmq::{BlockingSocket, RuntimeThread, SocketType};

const WORKERS: usize = 4;
const REQUESTS: usize = 200;

fn main() -> Result<(), Box<dyn Error>> {
    run()
}

pub fn run() -> Result<(), Box<dyn Error>> {
    // One ringmq runtime thread carries every socket's I/O.
    let rt = RuntimeThread::builder().name("ringmq-blocking").spawn()?;
    let done = Arc::new(AtomicBool::new(false));
    let mut endpoints = Vec::new();
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let rep = BlockingSocket::from(rt.socket(SocketType::Rep)?);
        endpoints.push(rep.bind("tcp://127.0.0.1:*")?);
        let done = done.clone();
        workers.push(std::thread::spawn(
            move || -> Result<usize, ringmq::Error> {
                let mut served = 0;
                while !done.load(Ordering::Relaxed) {
                    // Wake up now and then to see whether the pool is closing.
                    let request = match rep.recv_timeout(Some(Duration::from_millis(50))) {
                        Ok(m) => m,
                        Err(ringmq::Error::TimedOut) => continue,
                        Err(e) => return Err(e),
                    };
                    let n: u64 = String::from_utf8_lossy(&request.frames()[0])
                        .parse()
                        .unwrap_or(0);
                    rep.send(format!("{} squared is {} (worker {w})", n, n * n))?;
                    served += 1;
                }
                Ok(served)
            },
        ));
    }

    let client = std::thread::spawn(move || -> Result<(), ringmq::Error> {
        let req = BlockingSocket::from(rt.socket(SocketType::Req)?);
        for ep in &endpoints {
            req.connect(ep)?;
        }
        for n in 0..REQUESTS {
            req.send(n.to_string())?;
            let reply = req.recv()?;
            if n % 50 == 0 {
                println!("{}", String::from_utf8_lossy(&reply.frames()[0]));
            }
        }
        Ok(())
    });
    client.join().expect("client thread")?;
    done.store(true, Ordering::Relaxed);
    let mut total = 0;
    for (w, t) in workers.into_iter().enumerate() {
        let served = t.join().expect("worker thread")?;
        println!("worker {w} served {served} requests");
        total += served;
    }
    assert_eq!(total, REQUESTS, "every request answered once");
    Ok(())
}
