//! An XSUB / XPUB forwarder (the library's `proxy_steerable`) between ringmq
//! publishers and subscribers over TCP: the subscribers' subscriptions travel through
//! the proxy up to the publishers, which send only what someone wants; a control
//! socket asks for the statistics and terminates the proxy.
//!
//! `cargo run --example proxy`

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use ringmq::proactor::Runtime;
use ringmq::{proxy_steerable, Context, ProxyStats};

const PUBLISHERS: usize = 2;
const UPDATES: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    // The forwarder: publishers connect to its XSUB, subscribers to its XPUB.
    let xsub = ctx.xsub();
    let upstream = xsub.bind("tcp://127.0.0.1:*")?;
    let xpub = ctx.xpub();
    let downstream = xpub.bind("tcp://127.0.0.1:*")?;
    let control = ctx.pair();
    control.bind("inproc://proxy-control")?;

    rt.block_on(async {
        let forwarder = proxy_steerable(
            xsub.as_socket(),
            xpub.as_socket(),
            None,
            control.as_socket(),
        );
        let world = async {
            let weather = ctx.subscriber();
            weather.subscribe(b"weather")?;
            weather.connect(&downstream)?;
            let publishers: Vec<_> = (0..PUBLISHERS)
                .map(|_| {
                    let p = ctx.xpub();
                    p.connect(&upstream)?;
                    Ok(p)
                })
                .collect::<Result<_, ringmq::Error>>()?;
            // Each publisher is an XPUB too, so it can wait until the subscription
            // has come up through the proxy: nothing is lost to a slow joiner.
            for p in &publishers {
                let sub = p.recv().await?;
                println!(
                    "publisher saw {:?}",
                    String::from_utf8_lossy(&sub.frames()[0])
                );
            }
            for i in 0..UPDATES {
                for (n, p) in publishers.iter().enumerate() {
                    p.send(format!("sports {n}.{i}")).await?; // nobody subscribed
                    p.send(format!("weather {n}.{i}")).await?;
                }
            }
            for _ in 0..PUBLISHERS * UPDATES {
                let m = weather.recv().await?;
                println!(
                    "subscriber got {:?}",
                    String::from_utf8_lossy(&m.frames()[0])
                );
            }
            let steer = ctx.pair();
            steer.connect("inproc://proxy-control")?;
            steer.send("STATISTICS").await?;
            let stats = ProxyStats::from_message(&steer.recv().await?).expect("eight counters");
            println!(
                "proxy forwarded {} messages down and {} subscriptions up",
                stats.backend.msg_out, stats.frontend.msg_out
            );
            steer.send("TERMINATE").await?;
            Ok::<_, ringmq::Error>(stats)
        };
        let (ended, seen) = join(forwarder, world).await;
        let (ended, seen) = (ended?, seen?);
        // Only weather crossed the proxy: the publishers filtered the rest.
        assert_eq!(seen.backend.msg_out, (PUBLISHERS * UPDATES) as u64);
        assert_eq!(ended.backend.msg_out, seen.backend.msg_out);
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}

/// Runs two futures to completion.
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut ra, mut rb) = (None, None);
    poll_fn(|cx| {
        if ra.is_none() {
            if let Poll::Ready(x) = a.as_mut().poll(cx) {
                ra = Some(x);
            }
        }
        if rb.is_none() {
            if let Poll::Ready(y) = b.as_mut().poll(cx) {
                rb = Some(y);
            }
        }
        match (ra.is_some(), rb.is_some()) {
            (true, true) => Poll::Ready((ra.take().unwrap(), rb.take().unwrap())),
            _ => Poll::Pending,
        }
    })
    .await
}
