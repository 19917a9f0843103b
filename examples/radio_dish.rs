//! RADIO / DISH (libzmq's draft types): a RADIO sends to groups, a DISH receives the
//! groups it joined, never the others. Once over UDP (libzmq's datagram format), once
//! over TCP (JOIN commands tell the RADIO which groups to send). The group travels out
//! of band: `Message::set_group` / `Message::group`.
//!
//! `cargo run --example radio_dish`

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use ringmq::proactor::{Proactor, Runtime};
use ringmq::{Context, Message};

const WANTED: usize = 5;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    let rt = Runtime::new()?;
    let p = rt.proactor();
    let ctx = Context::new(p.clone());
    for endpoint in ["udp://127.0.0.1:*", "tcp://127.0.0.1:*"] {
        let dish = ctx.dish();
        let bound = dish.bind(endpoint)?;
        dish.join("weather")?;
        let radio = ctx.radio();
        radio.connect(&bound)?;

        // The DISH runs as a task and says when it has what it wanted.
        let done = Rc::new(Cell::new(false));
        let flag = done.clone();
        p.spawn_local(async move {
            for _ in 0..WANTED {
                let m = dish.recv().await.expect("receive");
                let group = String::from_utf8_lossy(m.group()).into_owned();
                let body = String::from_utf8_lossy(&m.frames()[0]).into_owned();
                println!("dish ({bound}) got {body:?} in group {group:?}");
                assert_eq!(group, "weather", "a group the DISH did not join");
            }
            flag.set(true);
        });

        // The RADIO sends both groups until the DISH is done: over TCP its JOIN must
        // arrive first, and until then the RADIO has nobody to send "weather" to.
        rt.block_on(async {
            let mut i = 0;
            while !done.get() {
                for group in ["sports", "weather"] {
                    let m = Message::from(format!("{group} bulletin {i}")).with_group(group)?;
                    radio.send(m).await?;
                }
                i += 1;
                p.sleep_until(p.now() + Duration::from_millis(10)).await;
            }
            Ok::<_, Box<dyn std::error::Error>>(())
        })?;
    }
    Ok(())
}
