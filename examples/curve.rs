//! A CURVE-secured PUB / SUB with an allow-list: the publisher is a CURVE server whose
//! ZAP handler (an [`Authenticator`]) accepts one subscriber key; a second subscriber
//! with an unknown key is refused with status 400 (seen on its monitor).
//!
//! `cargo run --example curve`

use std::rc::Rc;

use ringmq::proactor::Runtime;
use ringmq::{Authenticator, Context, CurveKey, MonitorEventKind, SocketOption};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run()
}

/// Publisher, allowed subscriber and refused subscriber on one runtime.
pub fn run() -> Result<(), Box<dyn std::error::Error>> {
    // Long-term keys. In a real deployment the server's public key and the client's
    // public key are distributed beforehand (e.g. as Z85 text: `key.to_z85()`).
    let (server_public, server_secret) = CurveKey::generate_pair();
    let (client_public, client_secret) = CurveKey::generate_pair();
    let (intruder_public, intruder_secret) = CurveKey::generate_pair();

    let rt = Runtime::new()?;
    let ctx = Context::new(rt.proactor());
    // The allow-list: only `client_public` may subscribe.
    let auth = Rc::new(Authenticator::new());
    auth.allow_curve_key(&client_public);
    ctx.set_zap_handler(auth.clone());

    rt.block_on(async {
        let publisher = ctx.xpub();
        publisher.set_option(SocketOption::CurveServer(true))?;
        publisher.set_option(SocketOption::CurveSecretKey(server_secret))?;
        publisher.set_option(SocketOption::Metadata("X-Service".into(), "weather".into()))?;
        let endpoint = publisher.bind("tcp://127.0.0.1:*")?;

        let sub = ctx.subscriber();
        // Received messages carry the publisher's properties only when asked for.
        sub.set_option(SocketOption::PeerMetadata(true))?;
        sub.set_option(SocketOption::CurveServerKey(server_public.clone()))?;
        sub.set_option(SocketOption::CurvePublicKey(client_public.clone()))?;
        sub.set_option(SocketOption::CurveSecretKey(client_secret))?;
        sub.connect(&endpoint)?;
        sub.subscribe(b"weather")?;

        let intruder = ctx.subscriber();
        let intruder_events = intruder.monitor();
        intruder.set_option(SocketOption::CurveServerKey(server_public))?;
        intruder.set_option(SocketOption::CurvePublicKey(intruder_public))?;
        intruder.set_option(SocketOption::CurveSecretKey(intruder_secret))?;
        intruder.connect(&endpoint)?;
        intruder.subscribe(b"weather")?;

        // The intruder is refused by the ZAP handler: ERROR "400", then a monitor event.
        loop {
            let event = intruder_events.recv().await.expect("monitor open");
            if let MonitorEventKind::HandshakeFailedAuth { status, .. } = event.kind {
                println!("intruder refused with status {status}");
                break;
            }
        }

        // The allowed subscriber's subscription reaches the XPUB once its handshake is
        // done: only then publish (no slow-joiner loss).
        let notice = publisher.recv().await?;
        println!(
            "publisher saw an authenticated subscription to {:?}",
            String::from_utf8_lossy(&notice.frames()[0][1..])
        );
        for update in ["weather: sunny", "sports: 2-1", "weather: END"] {
            publisher.send(update).await?;
        }
        loop {
            let msg = sub.recv().await?;
            let text = String::from_utf8_lossy(&msg.frames()[0]).into_owned();
            let service = msg
                .peer_property("X-Service")
                .map(|v| String::from_utf8_lossy(v).into_owned());
            println!("subscriber got {text:?} (publisher's X-Service: {service:?})");
            if text.ends_with("END") {
                break;
            }
        }
        Ok::<_, ringmq::Error>(())
    })?;
    Ok(())
}
