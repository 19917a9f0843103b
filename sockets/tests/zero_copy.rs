//! Zero-copy sends (`IORING_OP_SENDMSG_ZC`, `Native::set_send_zc`) forced on for a
//! whole PUSH / PULL transfer over TCP on io_uring: every size class from the 16 KiB
//! threshold to 16 MiB, mixed with small frames in the same messages and between them,
//! arrives intact; and a peer that goes away in the middle of a large send leaves no
//! buffer behind: each is released once the kernel's notification says it no longer
//! reads it.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use ringmq_proactor::{BackendChoice, Native, Runtime, SEND_ZC_DEFAULT_THRESHOLD};
use ringmq_sockets::{Context, Message};
use ringmq_zmtp::SocketType;

const SIZES: [usize; 6] = [16 << 10, 64 << 10, 100, 1 << 20, 16 << 20, (16 << 10) + 3];

fn byte(msg: usize, frame: usize, i: usize) -> u8 {
    (i.wrapping_mul(31) ^ (msg * 7 + frame * 13)) as u8
}

fn frame(msg: usize, frame: usize, len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| byte(msg, frame, i)).collect::<Vec<u8>>())
}

/// The frames of message `m`: one large frame alone, small and large frames mixed, or a
/// small message between them.
fn message(m: usize) -> Vec<Bytes> {
    let lens: Vec<usize> = match m % 3 {
        0 => vec![SIZES[(m / 3) % SIZES.len()]],
        1 => vec![10, SIZES[(m / 3 + 1) % SIZES.len()], 100, 64 << 10],
        _ => vec![64],
    };
    lens.iter()
        .enumerate()
        .map(|(f, len)| frame(m, f, *len))
        .collect()
}

fn zc_runtime() -> (Runtime, Native) {
    let rt = Runtime::with_backend(BackendChoice::Uring).expect("io_uring");
    let p = rt.proactor();
    assert!(
        p.set_send_zc(Some(SEND_ZC_DEFAULT_THRESHOLD)),
        "the test machine's kernel (6.1 or later) has IORING_OP_SENDMSG_ZC"
    );
    (rt, p)
}

#[test]
fn zero_copy_transfer_of_every_size_class() {
    const MESSAGES: usize = 3 * SIZES.len() * 2;
    let (rt, p) = zc_runtime();
    let ctx = Context::new(p.clone());
    let held: Vec<Vec<Bytes>> = (0..MESSAGES).map(message).collect();
    rt.block_on(async {
        let pull = ctx.pull();
        let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
        let push = ctx.push();
        push.connect(&ep).unwrap();
        let send = async {
            for m in &held {
                push.send(Message::from(m.clone())).await.expect("send");
            }
        };
        let recv = async {
            for (m, want) in held.iter().enumerate() {
                let got = pull.recv().await.expect("recv");
                assert_eq!(got.len(), want.len(), "frames of message {m}");
                for (f, (g, w)) in got.into_iter().zip(want).enumerate() {
                    assert_eq!(g.len(), w.len(), "length of frame {f} of message {m}");
                    let bad = g.iter().enumerate().position(|(i, b)| *b != byte(m, f, i));
                    assert_eq!(bad, None, "first wrong byte of frame {f} of message {m}");
                }
            }
        };
        let ((), ()) = join(send, recv).await;
        let s = p.send_zc_stats();
        println!("{s:?}");
        assert!(s.sends > 0, "{s:?}: large frames went zero-copy");
        assert_eq!(s.refused, 0, "{s:?}");
        wait_until(&p, WAIT, "every notification", || {
            let s = p.send_zc_stats();
            s.notifications == s.sends
        })
        .await;
    });
    // Every buffer handed to the kernel was released with its notification.
    for (m, frames) in held.iter().enumerate() {
        for (f, b) in frames.iter().enumerate() {
            assert!(b.is_unique(), "frame {f} of message {m} still held");
        }
    }
}

/// The peer reads a little of a stream of 16 MiB messages, then closes: the
/// connection ends, nothing crashes, and every buffer the kernel had is released by its
/// notification (the peer's reset frees our send queue).
#[test]
fn zero_copy_peer_gone_mid_send() {
    const BIG: usize = 16 << 20;
    let (rt, p) = zc_runtime();
    let ctx = Context::new(p.clone());
    let held: Vec<Bytes> = (0..4).map(|m| frame(m, 0, BIG)).collect();
    rt.block_on(async {
        let push = ctx.push();
        let ep = push.bind("tcp://127.0.0.1:*").unwrap();
        let mon = push.monitor();
        let (mut r, w, _session) = raw_peer(&p, &ep, SocketType::Pull).await;
        for b in &held {
            push.send(b.clone()).await.expect("queued");
        }
        // Read about 1 MiB of the stream, then go away with the rest unread.
        let mut read = 0;
        while read < 1 << 20 {
            let ringmq_proactor::BufResult(n, _) =
                ringmq_proactor::Proactor::recv(&p, &mut r, Vec::with_capacity(64 << 10)).await;
            let n = n.expect("raw read");
            assert!(n > 0, "the stream goes on");
            read += n;
        }
        assert!(
            p.send_zc_stats().sends > 0,
            "the large frames went zero-copy"
        );
        drop((r, w));
        wait_disconnected(&p, &mon).await;
        drop(push);
        wait_until(&p, WAIT, "every notification", || {
            let s = p.send_zc_stats();
            s.notifications == s.sends
        })
        .await;
        wait_until(&p, Duration::from_secs(5), "every frame released", || {
            held.iter().all(Bytes::is_unique)
        })
        .await;
    });
}
