//! A single frame of more than 2 GiB, PUSH to PULL over TCP, on every backend.
//!
//! A receive longer than `INT_MAX` is refused by io_uring with `EINVAL` and cut to 32
//! bits by compio and monoio, so the engines clamp each receive (and send) to
//! `ringmq_proactor::MAX_IO_LEN`; this checks the whole path end to end. The backends
//! run one after the other in one test, so at most one sender's frame and one
//! receiver's buffer (about 4.3 GiB) are alive at a time.

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::*;
use ringmq_proactor::{Proactor, MAX_IO_LEN};
use ringmq_sockets::{Context, Message};

/// More than `i32::MAX` and than `MAX_IO_LEN`.
const LEN: usize = (1 << 31) + (100 << 20);
const PAGE: usize = 4096;
const SALT: u64 = 0x9E37_79B9_7F4A_7C15;

/// The frame: zeros, with the page number (salted) in the first 8 bytes of each page,
/// so a lost, repeated or misplaced piece of the stream is seen.
fn frame() -> Bytes {
    let mut v = vec![0u8; LEN];
    for (i, page) in v.chunks_mut(PAGE).enumerate() {
        let n = page.len().min(8);
        page[..n].copy_from_slice(&((i as u64) ^ SALT).to_le_bytes()[..n]);
    }
    Bytes::from(v)
}

fn check(m: &Message) {
    assert_eq!(m.len(), 1, "one frame");
    let f = &m.frames()[0];
    assert_eq!(f.len(), LEN, "frame length");
    let zeros = [0u8; PAGE];
    for (i, page) in f.chunks(PAGE).enumerate() {
        let n = page.len().min(8);
        assert_eq!(
            page[..n],
            ((i as u64) ^ SALT).to_le_bytes()[..n],
            "marker of page {i}"
        );
        // A slice comparison is a memcmp, fast even in a debug build.
        assert!(page[n..] == zeros[..page.len() - n], "page {i} not zero");
    }
}

async fn two_gib_frame<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.connect(&ep).unwrap();
    let f = frame();
    let t0 = Instant::now();
    let (sent, got) = join(push.send(f), pull.recv()).await;
    sent.expect("send");
    let m = got.expect("a frame of more than 2 GiB arrives");
    println!("{LEN} bytes moved in {:?}", t0.elapsed());
    check(&m);
}

#[test]
fn frame_over_2_gib_on_every_backend() {
    assert!(LEN > MAX_IO_LEN && LEN > i32::MAX as usize);
    uring(two_gib_frame);
    epoll(two_gib_frame);
    compio(two_gib_frame);
    monoio(two_gib_frame);
}
