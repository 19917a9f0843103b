//! Sockets as futures `Stream`s and `Sink`s (feature `futures`): a PUSH fed with
//! `SinkExt::send_all`, a PULL read with `StreamExt` combinators.
//!
//! `cargo run --example stream_sink` (ringmq's `futures` feature; the combinators come
//! from `futures-util`, both enabled for the examples)

use std::error::Error;

use futures_util::{stream, SinkExt, StreamExt};
use ringmq::proactor::{Proactor, Runtime};
use ringmq::{Context, Message};

fn main() -> Result<(), Box<dyn Error>> {
    run()
}

pub fn run() -> Result<(), Box<dyn Error>> {
    let rt = Runtime::new()?;
    let p = rt.proactor();
    rt.block_on(async {
        let ctx = Context::new(p.clone());
        let mut pull = ctx.pull();
        let endpoint = pull.bind("tcp://127.0.0.1:*")?;
        let mut push = ctx.push();
        push.connect(&endpoint)?;

        // The sink waits at the SNDHWM like `send` does.
        p.spawn_local(async move {
            let mut numbers = stream::iter(1..=100u32).map(|n| Ok(Message::from(n.to_string())));
            push.send_all(&mut numbers).await.expect("sent");
            push.close().await;
        });

        // Items are `Result<Message, Error>`; the stream ends when the socket closes.
        let even_squares: Vec<u32> = (&mut pull)
            .map(|m| -> u32 {
                let m = m.expect("received");
                std::str::from_utf8(&m.frames()[0])
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .filter(|n| std::future::ready(n % 2 == 0))
            .map(|n| n * n)
            .take(10)
            .collect()
            .await;
        println!("the first ten even squares: {even_squares:?}");
        assert_eq!(even_squares[..3], [4, 16, 36]);
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
