//! PAIR over TCP: two threads, each with its own runtime, play ping-pong.
//!
//! `cargo run --example pair`

use std::sync::mpsc;

use ringmq::proactor::Runtime;
use ringmq::Context;

const ROUNDS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// One PAIR binds on a second thread and answers; this thread connects and pings.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (tx, rx) = mpsc::channel();
    let ponger = std::thread::spawn(move || -> Result<(), String> {
        let rt = Runtime::new().map_err(|e| e.to_string())?;
        let ctx = Context::new(rt.proactor());
        rt.block_on(async {
            let pair = ctx.pair();
            let endpoint = pair.bind("tcp://127.0.0.1:*")?;
            tx.send(endpoint).expect("hand the endpoint over");
            for _ in 0..ROUNDS {
                let ping = pair.recv().await?;
                println!(
                    "ponger got {:?}",
                    String::from_utf8_lossy(&ping.frames()[0])
                );
                pair.send("pong").await?;
            }
            // Wait until the last pong is written before the runtime goes away.
            pair.close().await;
            Ok::<_, ringmq::Error>(())
        })
        .map_err(|e| e.to_string())
    });
    let endpoint = rx.recv()?;

    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    rt.block_on(async {
        let pair = ctx.pair();
        pair.connect(&endpoint)?;
        for i in 1..=ROUNDS {
            pair.send(format!("ping {i}")).await?;
            let pong = pair.recv().await?;
            println!(
                "pinger got {:?}",
                String::from_utf8_lossy(&pong.frames()[0])
            );
        }
        Ok::<_, ringmq::Error>(())
    })?;
    ponger.join().expect("the ponger thread")?;
    Ok(())
}
