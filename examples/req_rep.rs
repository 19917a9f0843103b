//! REQ / REP over TCP: a server task answers three requests of a client.
//!
//! `cargo run --example req_rep`

use ringmq::proactor::{Proactor, Runtime};
use ringmq::Context;

const REQUESTS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// The server runs as a task of the runtime, the client in `block_on`; the program
/// ends once the client has its last reply (the server task has finished by then).
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let p = rt.proactor();
    let ctx = Context::new(p.clone());

    let rep = ctx.rep();
    let endpoint = rep.bind("tcp://127.0.0.1:*")?;
    println!("server listening on {endpoint}");
    p.spawn_local(async move {
        for _ in 0..REQUESTS {
            let request = rep.recv().await.expect("receive a request");
            let text = String::from_utf8_lossy(&request.frames()[0]).into_owned();
            println!("server got {text:?}");
            rep.send(format!("World (re: {text})"))
                .await
                .expect("send the reply");
        }
        rep.close().await;
    });

    rt.block_on(async {
        let req = ctx.req();
        req.connect(&endpoint)?;
        for i in 1..=REQUESTS {
            req.send(format!("Hello {i}")).await?;
            let reply = req.recv().await?;
            println!(
                "client got {:?}",
                String::from_utf8_lossy(&reply.frames()[0])
            );
        }
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
