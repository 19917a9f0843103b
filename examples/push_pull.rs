//! PUSH / PULL over TCP: a pipeline stage hands out work, a worker collects it.
//!
//! `cargo run --example push_pull`

use ringmq::proactor::Runtime;
use ringmq::Context;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// Both sides on one runtime: PULL binds an ephemeral port, PUSH connects and sends.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    rt.block_on(async {
        let pull = ctx.pull();
        let endpoint = pull.bind("tcp://127.0.0.1:*")?;
        let push = ctx.push();
        push.connect(&endpoint)?;
        for i in 1..=3 {
            push.send(format!("task {i}")).await?;
        }
        for _ in 1..=3 {
            let msg = pull.recv().await?;
            println!("worker got {:?}", String::from_utf8_lossy(&msg.frames()[0]));
        }
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
