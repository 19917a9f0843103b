//! Drops are counted: every message a socket accepted and did not hand to the kernel is
//! in `Socket::drops()` once its connection ended, including the ones that had already
//! left the queue (a write in flight, a write-through reply not written yet).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Error, Message, SocketOption, SocketType};
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, Session, SessionConfig};

/// A peer of type `kind` on its own thread: connects to `addr`, completes the handshake,
/// says so, and then reads nothing until told to stop; it then sends a frame with
/// reserved flags (the socket drops the connection at once, its writer blocked on the
/// full socket buffer), reads everything that reached it and returns the number of
/// whole messages.
fn lazy_peer(
    addr: std::net::SocketAddr,
    kind: SocketType,
    ready: mpsc::Sender<()>,
    stop: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let now = std::time::Instant::now();
        let mut session =
            Session::new(SessionConfig::new(kind), Box::new(Null::new()), now).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut messages = 0;
        let mut count = |session: &mut Session| {
            while let Some(e) = session.poll_event() {
                if let Event::Message(_) = e {
                    messages += 1;
                }
            }
        };
        while !session.is_established() {
            if let Some(t) = session.poll_transmit() {
                s.write_all(&t.to_vec()).unwrap();
            }
            let n = s.read(&mut buf).expect("handshake read");
            assert!(n > 0, "closed during the handshake");
            session.handle_input(now, &buf[..n]);
            count(&mut session);
        }
        if let Some(t) = session.poll_transmit() {
            s.write_all(&t.to_vec()).unwrap();
        }
        ready.send(()).unwrap();
        stop.recv().unwrap();
        s.write_all(&[0xff, 0x00]).unwrap();
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => session.handle_input(now, &buf[..n]),
            }
            count(&mut session);
        }
        count(&mut session);
        messages
    })
}

/// A bound `kind` socket whose one peer stops reading: it sends until it cannot, the
/// peer leaves, and every message sent either reached the peer or is counted dropped.
async fn sent_messages_reach_the_peer_or_are_counted(
    ctx: &Context<impl Proactor>,
    kind: SocketType,
    peer_kind: SocketType,
) {
    let p = ctx.proactor().clone();
    let s = ctx.socket(kind);
    s.set_option(SocketOption::SndHwm(50)).unwrap();
    let mon = s.monitor();
    let ep = s.bind("tcp://127.0.0.1:*").unwrap();
    let (ready_tx, ready) = mpsc::channel();
    let (stop, stop_rx) = mpsc::channel();
    let peer = lazy_peer(ep[6..].parse().unwrap(), peer_kind, ready_tx, stop_rx);
    wait_handshakes(&p, &mon, 1).await;
    wait_for(&p, Duration::from_secs(10), "the peer's handshake", || {
        ready.try_recv().ok()
    })
    .await;
    // Send until the queue, the batch in flight and the socket buffers are full.
    let body = Bytes::from(vec![7u8; 1000]);
    let mut sent = 0u64;
    let mut blocked = 0;
    while blocked < 20 {
        match s.try_send(Message::from(body.clone())) {
            Ok(()) => {
                sent += 1;
                blocked = 0;
            }
            Err(Error::WouldBlock) => {
                blocked += 1;
                sleep(&p, Duration::from_millis(5)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    stop.send(()).unwrap();
    wait_disconnected(&p, &mon).await;
    let got = wait_for(&p, Duration::from_secs(20), "the peer's count", || {
        peer.is_finished().then_some(())
    })
    .await;
    let () = got;
    let received = peer.join().unwrap() as u64;
    let drops = s.drops();
    println!("{kind}: sent {sent}, received {received}, {drops:?}");
    // Whether anything was lost depends on how far the writer got when the peer's
    // garbage arrived (usually a batch in flight and the queue); what was lost is
    // counted.
    assert!(
        received + drops.disconnected >= sent,
        "{} messages vanished uncounted: sent {sent}, received {received}, {drops:?}",
        sent - received - drops.disconnected
    );
    // At most the batch in flight is counted although part of it reached the peer
    // (256 KiB of 1,000-byte messages).
    assert!(
        received + drops.disconnected <= sent + 263,
        "sent {sent}, received {received}, {drops:?}"
    );
}

async fn push_counts_what_its_peer_never_got<P: Proactor>(ctx: Context<P>) {
    sent_messages_reach_the_peer_or_are_counted(&ctx, SocketType::Push, SocketType::Pull).await;
}

async fn dealer_counts_what_its_peer_never_got<P: Proactor>(ctx: Context<P>) {
    sent_messages_reach_the_peer_or_are_counted(&ctx, SocketType::Dealer, SocketType::Router).await;
}

backend_tests!(
    push_counts_what_its_peer_never_got,
    dealer_counts_what_its_peer_never_got
);
