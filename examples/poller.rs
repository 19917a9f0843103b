//! Receiving from several sockets at once, like `zmq_poll`: a poll loop over
//! `poll_recv` (no extra crate), and the same with a `select` of two `recv` futures
//! (cancel-safe: the `recv` that loses takes nothing).
//!
//! `cargo run --example poller`

use std::error::Error;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use ringmq::proactor::Runtime;
use ringmq::{Context, Message};

fn main() -> Result<(), Box<dyn Error>> {
    run()
}

pub fn run() -> Result<(), Box<dyn Error>> {
    let rt = Runtime::new()?;
    rt.block_on(async {
        let ctx = Context::new(rt.proactor());
        let tasks = ctx.pull();
        let tasks_ep = tasks.bind("tcp://127.0.0.1:*")?;
        let control = ctx.subscriber();
        control.subscribe(b"")?;
        let control_ep = control.bind("tcp://127.0.0.1:*")?;

        let task_source = ctx.push();
        task_source.connect(&tasks_ep)?;
        let controller = ctx.xpub();
        controller.connect(&control_ep)?;
        controller.recv().await?; // the subscription: the SUB is listening

        for i in 0..5 {
            task_source.send(format!("task {i}")).await?;
        }

        // A poller: whichever socket has a message first.
        let mut done = 0;
        while done < 5 {
            let (which, msg) = poll_fn(|cx| {
                if let Poll::Ready(r) = control.poll_recv(cx) {
                    return Poll::Ready(("control", r));
                }
                if let Poll::Ready(r) = tasks.poll_recv(cx) {
                    return Poll::Ready(("tasks", r));
                }
                Poll::Pending
            })
            .await;
            println!("{which}: {}", text(&msg?));
            done += 1;
        }

        // The same with a select of two `recv` futures.
        controller.send("stop").await?;
        let mut a = pin!(control.recv());
        let mut b = pin!(tasks.recv());
        let (which, msg) = poll_fn(|cx| {
            if let Poll::Ready(r) = a.as_mut().poll(cx) {
                return Poll::Ready(("control", r));
            }
            if let Poll::Ready(r) = b.as_mut().poll(cx) {
                return Poll::Ready(("tasks", r));
            }
            Poll::Pending
        })
        .await;
        let msg = msg?;
        println!("{which}: {}", text(&msg));
        assert_eq!((which, text(&msg).as_str()), ("control", "stop"));
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}

fn text(m: &Message) -> String {
    String::from_utf8_lossy(&m.frames()[0]).into_owned()
}
