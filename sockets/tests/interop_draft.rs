//! Interop of the draft socket types against a draft-enabled libzmq (Debian's 4.3.4
//! source built with `ENABLE_DRAFTS` by `scripts/draft-libzmq.sh`), through
//! `tests/peers/draft_peer.c`. A missing library or peer FAILS the tests, with
//! instructions (see `interop/peer.rs`).

mod common;
#[path = "interop/peer.rs"]
mod peer;

use peer::{Impl, Peer};

/// The harness itself: two draft peers, a libzmq SERVER and CLIENT, complete the
/// standard request/reply payloads against each other (so a row that fails below
/// fails because of ringmq, not because of the peer).
#[test]
fn draft_peer_talks_to_itself() {
    common::uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let ep = format!("tcp://127.0.0.1:{}", common::free_port());
        let server = Peer::spawn(
            Impl::Draft,
            &["--type", "SERVER", "--bind", &ep, "echo"].map(String::from),
        );
        let mut client = Peer::spawn(
            Impl::Draft,
            &["--type", "CLIENT", "--connect", &ep, "ask"].map(String::from),
        );
        client.line(&p, "OK").await;
        client.finish(&p).await;
        server.finish(&p).await;
    });
}
