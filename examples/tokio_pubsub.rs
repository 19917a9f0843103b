//! PUB/SUB on tokio's multi-thread runtime: several `tokio::spawn`ed tasks publish
//! through clones of one `SocketHandle` (`Send + Sync + Clone`), a subscriber task
//! counts every message. The sockets live on a ringmq runtime thread; the handles'
//! futures run on tokio's workers.
//!
//! `cargo run --example tokio_pubsub`

use std::error::Error;

use ringmq::{Bytes, Message, RuntimeThread, SocketOption, SocketType};

const PUBLISHERS: usize = 4;
const EACH: usize = 10_000;

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    publish_and_count().await
}

/// The same on a runtime built here (for `tests/examples.rs`).
pub fn run() -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(publish_and_count())
        .map_err(|e| e as Box<dyn Error>)
}

async fn publish_and_count() -> Result<(), BoxError> {
    let ringmq = RuntimeThread::builder().name("ringmq-pubsub").spawn()?;

    // XPUB (a PUB that also receives the subscriptions), so publishing starts once the
    // subscriber is known. No HWM: the example counts that nothing is lost.
    let publisher = ringmq.socket(SocketType::XPub)?;
    publisher.set_option(SocketOption::SndHwm(0))?;
    let endpoint = publisher.bind("tcp://127.0.0.1:*")?;

    let subscriber = ringmq.socket(SocketType::Sub)?;
    subscriber.set_option(SocketOption::RcvHwm(0))?;
    subscriber.subscribe(b"tick")?;
    subscriber.connect(&endpoint)?;
    let subscription = publisher.recv().await?;
    assert_eq!(&subscription.frames()[0][..], b"\x01tick");

    let counter = tokio::spawn(async move {
        let mut per_publisher = [0usize; PUBLISHERS];
        for _ in 0..PUBLISHERS * EACH {
            let msg = subscriber.recv().await?;
            let publisher: usize = std::str::from_utf8(&msg.frames()[1])?.parse()?;
            per_publisher[publisher] += 1;
        }
        Ok::<_, BoxError>(per_publisher)
    });

    let mut tasks = Vec::new();
    for p in 0..PUBLISHERS {
        let publisher = publisher.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let msg = Message::from(vec![
                    Bytes::from("tick"),
                    Bytes::from(p.to_string()),
                    Bytes::from(i.to_string()),
                ]);
                publisher.send(msg).await?;
            }
            Ok::<_, ringmq::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let per_publisher = counter.await??;
    println!("received {per_publisher:?} messages from the {PUBLISHERS} publishers");
    assert_eq!(per_publisher, [EACH; PUBLISHERS]);
    let stats = publisher.stats()?;
    println!(
        "publisher: {} messages out, {} bytes on the wire, {} dropped",
        stats.messages_out, stats.bytes_out, stats.drops.hwm
    );
    Ok(())
}
