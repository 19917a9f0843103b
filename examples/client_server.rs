//! CLIENT / SERVER (libzmq's draft types) over TCP: one SERVER serves two CLIENTs.
//! Messages are single-part; each request arrives with its CLIENT's routing id out of
//! band (`Message::routing_id`), and the reply names that id.
//!
//! `cargo run --example client_server`

use ringmq::proactor::{Proactor, Runtime};
use ringmq::{Context, Message};

const CLIENTS: usize = 2;
const REQUESTS_EACH: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// The SERVER runs as a task; the CLIENTs send from `block_on` and check their replies.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let p = rt.proactor();
    let ctx = Context::new(p.clone());

    let server = ctx.server();
    let endpoint = server.bind("tcp://127.0.0.1:*")?;
    p.spawn_local(async move {
        for _ in 0..CLIENTS * REQUESTS_EACH {
            let request = server.recv().await.expect("receive");
            let id = request.routing_id().expect("requests carry a routing id");
            let body = String::from_utf8_lossy(&request.frames()[0]).into_owned();
            println!("server got {body:?} from routing id {id:08x}");
            let reply = Message::from(format!("done: {body}")).with_routing_id(id);
            server.send(reply).await.expect("reply");
        }
        server.close().await;
    });

    rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..CLIENTS {
            let client = ctx.client();
            client.connect(&endpoint)?;
            clients.push(client);
        }
        for i in 1..=REQUESTS_EACH {
            for (c, client) in clients.iter().enumerate() {
                client.send(format!("job {i} of client {c}")).await?;
                // Each CLIENT gets the answer to its own request, nobody else's.
                let reply = client.recv().await?;
                let text = String::from_utf8_lossy(&reply.frames()[0]).into_owned();
                println!("client {c} got {text:?}");
                if text != format!("done: job {i} of client {c}") {
                    return Err(format!("client {c} got the wrong reply {text:?}").into());
                }
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    Ok(())
}
