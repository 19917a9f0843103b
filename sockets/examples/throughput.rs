//! PUSH / PULL throughput over loopback TCP, each side on its own thread and runtime
//! (like libzmq's `local_thr` / `remote_thr` pair).
//!
//! `cargo run --release -p ringmq-sockets --example throughput -- [size] [count]`

use std::time::Instant;

use ringmq_proactor::Runtime;
use ringmq_sockets::Context;

fn main() {
    let mut args = std::env::args().skip(1);
    let size: usize = args.next().map_or(64, |s| s.parse().expect("size"));
    let count: usize = args.next().map_or(1_000_000, |s| s.parse().expect("count"));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let receiver = std::thread::spawn(move || {
        let rt = Runtime::new().expect("runtime");
        let ctx = Context::new(rt.proactor());
        rt.block_on(async {
            let pull = ctx.pull();
            let ep = pull.bind("tcp://127.0.0.1:*").expect("bind");
            tx.send(ep).expect("hand over the endpoint");
            pull.recv().await.expect("first message");
            let start = Instant::now();
            for _ in 1..count {
                pull.recv().await.expect("recv");
            }
            start.elapsed()
        })
    });
    let ep = rx.recv().expect("endpoint");
    let sender = std::thread::spawn(move || {
        let rt = Runtime::new().expect("runtime");
        let ctx = Context::new(rt.proactor());
        rt.block_on(async {
            let push = ctx.push();
            push.connect(&ep).expect("connect");
            let payload = ringmq_sockets::Bytes::from(vec![0u8; size]);
            for _ in 0..count {
                push.send(payload.clone()).await.expect("send");
            }
            push.close().await;
        });
    });
    sender.join().expect("sender");
    let elapsed = receiver.join().expect("receiver");
    let rate = (count - 1) as f64 / elapsed.as_secs_f64();
    println!("message size: {size} [B]");
    println!("message count: {count}");
    println!("mean throughput: {rate:.0} [msg/s]");
    println!(
        "mean throughput: {:.3} [Mb/s]",
        rate * size as f64 * 8.0 / 1e6
    );
}
