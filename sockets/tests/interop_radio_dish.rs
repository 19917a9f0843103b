//! RADIO / DISH against a draft-enabled libzmq (`tests/peers/draft_peer.c`, see
//! `interop/peer.rs`), ringmq in both roles, over TCP and UDP (unicast and loopback
//! multicast, also with libzmq's `iface;` prefix). Each row interleaves a group the DISH did not join, which must never be
//! delivered. A missing library or peer FAILS the tests.

mod common;
#[path = "interop/peer.rs"]
mod peer;

use std::time::Duration;

use common::*;
use peer::{Impl, Peer};
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Message};

/// libzmq RADIO -> ringmq DISH joined to `group` only: 30 messages arrive, all of
/// `group`, although the RADIO sends a `news` message before each.
async fn libzmq_radio_to_ringmq_dish<P: Proactor>(ctx: &Context<P>, bind: &str, group: &str) {
    let p = ctx.proactor().clone();
    let dish = ctx.dish();
    let ep = dish.bind(bind).unwrap();
    dish.join(group).unwrap();
    let _radio = Peer::spawn(
        Impl::Draft,
        &args(&[
            "--type",
            "RADIO",
            "--connect",
            &ep,
            "--group",
            group,
            "broadcast",
            "4000",
        ]),
    );
    let mut last = None;
    for _ in 0..30 {
        let m = timeout(&p, WAIT, dish.recv())
            .await
            .unwrap_or_else(|| panic!("{ep}: no message within {WAIT:?}"))
            .unwrap();
        assert_eq!(
            m.group(),
            group.as_bytes(),
            "{ep}: a group the DISH did not join"
        );
        let body = String::from_utf8(m.frames()[0].to_vec()).unwrap();
        let i: u64 = body[group.len() + 1..].parse().unwrap();
        assert!(last.is_none_or(|l| i > l), "{ep}: in order");
        last = Some(i);
    }
}

/// ringmq RADIO -> libzmq DISH joined to `group`: the DISH checks every message it
/// gets is of a joined group, while ringmq sends `news` and `group` alternately.
async fn ringmq_radio_to_libzmq_dish<P: Proactor>(ctx: &Context<P>, bind: &str, group: &str) {
    let p = ctx.proactor().clone();
    let mut dish = Peer::spawn(
        Impl::Draft,
        &args(&[
            "--type", "DISH", "--bind", bind, "--join", group, "dishrecv", "30",
        ]),
    );
    let radio = ctx.radio();
    // (libzmq's LAST_ENDPOINT of a udp:// bind has no scheme: connect to `bind`.)
    radio.connect(bind).unwrap();
    let deadline = p.now() + WAIT;
    let mut i = 0u64;
    let got = loop {
        for g in ["news", group] {
            let m = Message::from(format!("{g}-{i}")).with_group(g).unwrap();
            radio.send(m).await.unwrap();
        }
        i += 1;
        if let Some(line) = dish.try_line("GOT") {
            break line;
        }
        assert!(p.now() < deadline, "{bind}: the libzmq DISH got too little");
        sleep(&p, Duration::from_millis(5)).await;
    };
    assert_eq!(got, format!("GOT 30 {group}"));
    dish.finish(&p).await;
}

async fn radio_dish_with_libzmq<P: Proactor>(ctx: Context<P>) {
    // Groups longer than 15 bytes too (libzmq's limit is 255 since 4.3.3).
    let long = "a-group-of-more-than-15-bytes";
    libzmq_radio_to_ringmq_dish(&ctx, "tcp://127.0.0.1:*", "tv").await;
    libzmq_radio_to_ringmq_dish(&ctx, "tcp://127.0.0.1:*", long).await;
    libzmq_radio_to_ringmq_dish(&ctx, "udp://127.0.0.1:*", "tv").await;
    libzmq_radio_to_ringmq_dish(&ctx, "udp://127.0.0.1:*", long).await;
    let group = format!("udp://239.255.43.1:{}", free_port());
    libzmq_radio_to_ringmq_dish(&ctx, &group, "tv").await;
    let tcp = || format!("tcp://127.0.0.1:{}", free_port());
    let udp = || format!("udp://127.0.0.1:{}", free_port());
    ringmq_radio_to_libzmq_dish(&ctx, &tcp(), "tv").await;
    ringmq_radio_to_libzmq_dish(&ctx, &tcp(), long).await;
    ringmq_radio_to_libzmq_dish(&ctx, &udp(), "tv").await;
    ringmq_radio_to_libzmq_dish(&ctx, &udp(), long).await;
    let group = format!("udp://239.255.43.2:{}", free_port());
    ringmq_radio_to_libzmq_dish(&ctx, &group, "tv").await;
    // libzmq's interface prefix, by address and by name, both ways.
    let on_lo = format!("udp://127.0.0.1;239.255.43.3:{}", free_port());
    libzmq_radio_to_ringmq_dish(&ctx, &on_lo, "tv").await;
    let on_lo = format!("udp://lo;239.255.43.4:{}", free_port());
    ringmq_radio_to_libzmq_dish(&ctx, &on_lo, "tv").await;
    let on_lo = format!("udp://lo;239.255.43.5:{}", free_port());
    libzmq_radio_to_ringmq_dish(&ctx, &on_lo, "tv").await;
}

/// An oversized group: libzmq's `zmq_join` refuses one over 255 bytes with EINVAL
/// (`ZMQ_GROUP_MAX_LENGTH` is 255 since libzmq 4.3.3, RFC 48's limit), as
/// `DishSocket::join` and `Message::set_group` do.
#[test]
fn an_oversized_group_in_libzmq_and_here() {
    uring(|ctx| async move {
        let p = ctx.proactor().clone();
        let mut peer = Peer::spawn(
            Impl::Draft,
            &args(&[
                "--type",
                "DISH",
                "--connect",
                "tcp://127.0.0.1:1",
                "biggroup",
            ]),
        );
        peer.line(&p, "REFUSED").await;
        peer.finish(&p).await;
        assert!(matches!(
            ctx.dish().join([b'g'; 256]),
            Err(ringmq_sockets::Error::GroupTooLong { len: 256 })
        ));
        ctx.dish().join([b'g'; 255]).unwrap();
        assert!(Message::from("x").with_group([b'g'; 256]).is_err());
    });
}

mod uring_rows {
    #[test]
    fn radio_dish_with_libzmq() {
        crate::common::uring(super::radio_dish_with_libzmq)
    }
}

mod epoll_rows {
    #[test]
    fn radio_dish_with_libzmq() {
        crate::common::epoll(super::radio_dish_with_libzmq)
    }
}

mod tokio_rows {
    #[test]
    fn radio_dish_with_libzmq() {
        crate::common::tokio(super::radio_dish_with_libzmq)
    }
}
