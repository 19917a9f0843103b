//! ROUTER / DEALER over TCP: one ROUTER serves two DEALERs with their own routing ids,
//! replying to each by its id.
//!
//! `cargo run --example router_dealer`

use ringmq::proactor::{Proactor, Runtime};
use ringmq::{Bytes, Context, SocketOption};

const CLIENTS: [&str; 2] = ["alice", "bob"];
const REQUESTS_EACH: usize = 2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// The ROUTER runs as a task; the DEALERs send from `block_on` and wait for replies.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let p = rt.proactor();
    let ctx = Context::new(p.clone());

    let router = ctx.router();
    let endpoint = router.bind("tcp://127.0.0.1:*")?;
    p.spawn_local(async move {
        for _ in 0..CLIENTS.len() * REQUESTS_EACH {
            // [routing id, request]
            let msg = router.recv().await.expect("receive");
            let id = msg.frames()[0].clone();
            let body = String::from_utf8_lossy(&msg.frames()[1]).into_owned();
            println!(
                "router got {body:?} from {:?}",
                String::from_utf8_lossy(&id)
            );
            let reply = Bytes::from(format!("done: {body}"));
            router.send(vec![id, reply]).await.expect("reply");
        }
        router.close().await;
    });

    rt.block_on(async {
        let mut dealers = Vec::new();
        for name in CLIENTS {
            let dealer = ctx.dealer();
            dealer.set_option(SocketOption::RoutingId(Bytes::from_static(name.as_bytes())))?;
            dealer.connect(&endpoint)?;
            dealers.push((name, dealer));
        }
        for i in 1..=REQUESTS_EACH {
            for (name, dealer) in &dealers {
                dealer.send(format!("job {i} of {name}")).await?;
            }
        }
        for (name, dealer) in &dealers {
            for _ in 0..REQUESTS_EACH {
                let reply = dealer.recv().await?;
                println!(
                    "{name} got {:?}",
                    String::from_utf8_lossy(&reply.frames()[0])
                );
            }
        }
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
