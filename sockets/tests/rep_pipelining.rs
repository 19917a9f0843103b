//! A REP answering a DEALER that pipelines 10,000 requests over IPC and reads the
//! replies only afterwards: replies pile up until the REP's peer is at its HWM, then
//! are dropped (the mute state, as in libzmq). ringmq must deliver at least as many as
//! a libzmq REP in the same run, and count every reply it dropped.
//!
//! The DEALER is libzmq (pyzmq, `tests/peers/pyzmq_peer.py pipeline`) in both runs;
//! the baseline REP is pyzmq's `echo`. A missing Python / pyzmq FAILS the test.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::time::Duration;

use common::*;
use peer::{Impl, Peer};
use ringmq_proactor::{Proactor, Runtime};
use ringmq_sockets::{Context, Message};

const N: usize = 10_000;

fn dealer(endpoint: &str) -> Peer {
    let n = N.to_string();
    let args = ["--type", "DEALER", "--connect", endpoint, "pipeline", &n];
    Peer::spawn(Impl::Pyzmq, &args.map(String::from))
}

/// Replies a pyzmq DEALER got from a pyzmq REP.
async fn libzmq_delivers<P: Proactor>(p: &P) -> usize {
    let ep = ipc_endpoint("rep-pipelining-libzmq");
    let args = ["--type", "REP", "--bind", &ep, "echo"];
    let _rep = Peer::spawn(Impl::Pyzmq, &args.map(String::from));
    let mut dealer = dealer(&ep);
    got(&dealer.line(p, "GOT").await)
}

fn got(line: &str) -> usize {
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad line {line:?}"))
}

#[test]
fn rep_answering_a_pipelining_dealer_delivers_at_least_as_many_as_libzmq() {
    let rt = Runtime::new().expect("runtime");
    let p = rt.proactor();
    let ctx = Context::new(p.clone());
    rt.block_on(async {
        let baseline = libzmq_delivers(&p).await;
        let rep = ctx.rep();
        let ep = rep.bind(&ipc_endpoint("rep-pipelining")).unwrap();
        let mut dealer = dealer(&ep);
        let answer = async {
            for _ in 0..N {
                let req = rep.recv().await.unwrap();
                rep.send(Message::from(req.frames().to_vec()))
                    .await
                    .unwrap();
            }
        };
        let (_, line) = join(answer, dealer.line(&p, "GOT")).await;
        let delivered = got(&line);
        let drops = rep.drops();
        println!(
            "of {N} replies: libzmq REP delivered {baseline}, ringmq REP {delivered} \
             (drops {drops:?})"
        );
        assert!(
            delivered >= baseline,
            "ringmq delivered {delivered}, libzmq {baseline}"
        );
        assert_eq!(
            delivered as u64 + drops.hwm,
            N as u64,
            "every reply not delivered was counted as dropped at the HWM: {drops:?}"
        );
        drop(dealer);
        let _ = timeout(&p, Duration::from_secs(5), rep.close()).await;
    });
}
