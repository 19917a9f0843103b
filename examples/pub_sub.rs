//! PUB / SUB over TCP, without the slow-joiner problem: the publisher is an XPUB, so it
//! sees the subscription arrive and only then publishes.
//!
//! `cargo run --example pub_sub`

use ringmq::proactor::Runtime;
use ringmq::Context;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// Publisher and subscriber on one runtime; the subscriber wants "weather" only.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    rt.block_on(async {
        let publisher = ctx.xpub();
        let endpoint = publisher.bind("tcp://127.0.0.1:*")?;
        let sub = ctx.subscriber();
        sub.connect(&endpoint)?;
        sub.subscribe(b"weather")?;

        // A subscription arrives at an XPUB as a message: 0x01 then the topic.
        let notice = publisher.recv().await?;
        let notice = &notice.frames()[0];
        println!(
            "publisher saw a subscription to {:?}",
            String::from_utf8_lossy(&notice[1..])
        );

        for update in [
            "weather: sunny",
            "sports: 2-1",
            "weather: rain",
            "sports: 0-0",
            "weather: END",
        ] {
            publisher.send(update).await?;
        }
        loop {
            let msg = sub.recv().await?;
            let text = String::from_utf8_lossy(&msg.frames()[0]).into_owned();
            println!("subscriber got {text:?}");
            if text.ends_with("END") {
                break;
            }
        }
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
