//! REQ / REP round-trip latency over loopback TCP, each side on its own thread and
//! runtime (like libzmq's `local_lat` / `remote_lat`; prints half the round trip).
//!
//! `cargo run --release -p ringmq-sockets --example latency -- [size] [roundtrips]`

use std::time::Instant;

use ringmq_proactor::Runtime;
use ringmq_sockets::Context;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().map_or(64, |s| s.parse().expect("size"));
    let rounds: usize = args
        .next()
        .map_or(100_000, |s| s.parse().expect("roundtrips"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let server = std::thread::spawn(move || {
        let rt = Runtime::new().expect("runtime");
        let ctx = Context::new(rt.proactor());
        rt.block_on(async {
            let rep = ctx.rep();
            tx.send(rep.bind("tcp://127.0.0.1:*").expect("bind"))
                .expect("hand over the endpoint");
            for _ in 0..rounds {
                let m = rep.recv().await.expect("recv");
                rep.send(m).await.expect("send");
            }
            rep.close().await;
        });
    });
    let ep = rx.recv().expect("endpoint");
    let rt = Runtime::new().expect("runtime");
    let ctx = Context::new(rt.proactor());
    let elapsed = rt.block_on(async {
        let req = ctx.req();
        req.connect(&ep).expect("connect");
        let payload = ringmq_sockets::Bytes::from(vec![0u8; size]);
        let start = Instant::now();
        for _ in 0..rounds {
            req.send(payload.clone()).await.expect("send");
            req.recv().await.expect("recv");
        }
        start.elapsed()
    });
    server.join().expect("server");
    let us = elapsed.as_secs_f64() * 1e6 / rounds as f64 / 2.0;
    println!("message size: {size} [B]");
    println!("roundtrip count: {rounds}");
    println!("average latency: {us:.3} [us]");
}
