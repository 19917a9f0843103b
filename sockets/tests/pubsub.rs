//! PUB / SUB / XPUB / XSUB.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Error, Message, SocketOption, SubSocket};

/// Publishes `probe` until `sub` receives it (subscriptions travel asynchronously).
async fn sync_sub<P: Proactor>(p: &P, publish: impl Fn(&str), sub: &SubSocket<P>, probe: &str) {
    let got = timeout(p, Duration::from_secs(10), async {
        loop {
            publish(probe);
            sleep(p, Duration::from_millis(5)).await;
            while let Ok(m) = sub.try_recv() {
                if m.frames()[0] == probe.as_bytes() {
                    return;
                }
            }
        }
    })
    .await;
    got.expect("the subscription reached the publisher");
}

fn drain<P: Proactor>(sub: &SubSocket<P>) -> Vec<String> {
    std::iter::from_fn(|| sub.try_recv().ok())
        .map(|m| String::from_utf8_lossy(&m.frames()[0]).into_owned())
        .collect()
}

async fn pub_sub_prefix_filtering<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = ctx.subscriber();
    sub.connect(&ep).unwrap();
    sub.subscribe(b"a").unwrap();
    sub.subscribe(b"bb").unwrap();
    let publish = |t: &str| publisher.try_send(t).unwrap();
    sync_sub(&p, publish, &sub, "a-sync").await;
    sync_sub(&p, publish, &sub, "bb-sync").await;
    drain(&sub);
    for t in ["a1", "b1", "bb1", "c1", "ab", "bbb"] {
        publisher.send(t).await.unwrap();
    }
    publisher
        .send(Message::from_iter(["a-multi", "part2"]))
        .await
        .unwrap();
    sleep(&p, Duration::from_millis(50)).await;
    assert_eq!(drain(&sub), ["a1", "bb1", "ab", "bbb", "a-multi"]);
    // Counted: two subscriptions of "c" need two unsubscribes.
    sub.subscribe(b"c").unwrap();
    sub.subscribe(b"c").unwrap();
    sync_sub(&p, publish, &sub, "c-sync").await;
    sub.unsubscribe(b"c").unwrap();
    sub.unsubscribe(b"a").unwrap();
    sleep(&p, Duration::from_millis(50)).await;
    drain(&sub);
    for t in ["a2", "bb2", "c2"] {
        publisher.send(t).await.unwrap();
    }
    sleep(&p, Duration::from_millis(50)).await;
    assert_eq!(drain(&sub), ["bb2", "c2"]);
    sub.unsubscribe(b"c").unwrap();
    sleep(&p, Duration::from_millis(50)).await;
    for t in ["c3", "bb3"] {
        publisher.send(t).await.unwrap();
    }
    sleep(&p, Duration::from_millis(50)).await;
    assert_eq!(drain(&sub), ["bb3"]);
}

async fn pub_fans_out_to_many<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    let ep = publisher.bind(&ipc_endpoint("fan")).unwrap();
    let subs: Vec<_> = (0..5).map(|_| ctx.subscriber()).collect();
    for s in &subs {
        s.connect(&ep).unwrap();
        s.subscribe(b"").unwrap();
    }
    for (i, s) in subs.iter().enumerate() {
        sync_sub(
            &p,
            |t| publisher.try_send(t).unwrap(),
            s,
            &format!("sync{i}"),
        )
        .await;
    }
    sleep(&p, Duration::from_millis(20)).await;
    for s in &subs {
        drain(s);
    }
    for i in 0..100 {
        publisher.send(format!("m{i}")).await.unwrap();
    }
    for s in &subs {
        for i in 0..100 {
            assert_eq!(
                s.recv().await.unwrap().frames()[0],
                format!("m{i}").as_bytes()
            );
        }
    }
}

async fn pub_drops_at_hwm_and_never_blocks<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    publisher.set_option(SocketOption::SndHwm(10)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = ctx.subscriber();
    sub.connect(&ep).unwrap();
    sub.subscribe(b"").unwrap();
    sync_sub(&p, |t| publisher.try_send(t).unwrap(), &sub, "sync").await;
    sleep(&p, Duration::from_millis(20)).await;
    drain(&sub);
    // No yield in between: the writer cannot run, so all but 10 are dropped, and
    // neither send nor try_send ever reports a full queue.
    for i in 0..10_000 {
        publisher.try_send(format!("{i}")).unwrap();
    }
    publisher.send("last").await.unwrap();
    sleep(&p, Duration::from_millis(100)).await;
    let got = drain(&sub);
    assert_eq!(got.len(), 10, "{got:?}");
    assert_eq!(got[0], "0");
}

/// `send` (unlike `try_send`) lets the writers run when a subscriber's queue reaches
/// its SNDHWM, so a publishing loop faster than one batch does not lose messages to a
/// subscriber that keeps up.
async fn pub_send_lets_writers_run_at_hwm<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    publisher.set_option(SocketOption::SndHwm(10)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let sub = ctx.subscriber();
    sub.set_option(SocketOption::RcvHwm(0)).unwrap();
    sub.connect(&ep).unwrap();
    sub.subscribe(b"").unwrap();
    sync_sub(&p, |t| publisher.try_send(t).unwrap(), &sub, "sync").await;
    sleep(&p, Duration::from_millis(20)).await;
    drain(&sub);
    for i in 0..1000 {
        publisher.send(format!("{i}")).await.unwrap();
    }
    for i in 0..1000 {
        let m = timeout(&p, Duration::from_secs(10), sub.recv())
            .await
            .unwrap_or_else(|| panic!("message {i} never arrived"))
            .unwrap();
        assert_eq!(m.frames()[0], format!("{i}").as_bytes());
    }
}

async fn xpub_receives_subscriptions<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let xpub = ctx.xpub();
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let s1 = ctx.subscriber();
    let s2 = ctx.subscriber();
    s1.connect(&ep).unwrap();
    s2.connect(&ep).unwrap();
    let next = || async {
        let m = timeout(&p, Duration::from_secs(5), xpub.recv())
            .await
            .expect("a subscription notice")
            .unwrap();
        m.frames()[0].to_vec()
    };
    s1.subscribe(b"x").unwrap();
    assert_eq!(next().await, b"\x01x");
    s2.subscribe(b"x").unwrap();
    s2.subscribe(b"y").unwrap();
    assert_eq!(
        next().await,
        b"\x01y",
        "the second subscribe of x is not repeated"
    );
    s1.unsubscribe(b"x").unwrap();
    s2.unsubscribe(b"x").unwrap();
    assert_eq!(
        next().await,
        b"\x00x",
        "only the last cancel of x is reported"
    );
    // A subscriber going away cancels its subscriptions.
    drop(s2);
    assert_eq!(next().await, b"\x00y");
    // XPUB also publishes, filtered like PUB.
    s1.subscribe(b"z").unwrap();
    assert_eq!(next().await, b"\x01z");
    xpub.send("zz").await.unwrap();
    xpub.send("yy").await.unwrap();
    xpub.send("z2").await.unwrap();
    assert_eq!(s1.recv().await.unwrap().frames()[0], "zz");
    assert_eq!(s1.recv().await.unwrap().frames()[0], "z2");
}

async fn xpub_verbose<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let xpub = ctx.xpub();
    xpub.set_option(SocketOption::XpubVerbose(true)).unwrap();
    let ep = xpub.bind("tcp://127.0.0.1:*").unwrap();
    let s1 = ctx.subscriber();
    let s2 = ctx.subscriber();
    s1.connect(&ep).unwrap();
    s2.connect(&ep).unwrap();
    s1.subscribe(b"v").unwrap();
    s2.subscribe(b"v").unwrap();
    for _ in 0..2 {
        let m = timeout(&p, Duration::from_secs(5), xpub.recv())
            .await
            .expect("both subscribes are reported")
            .unwrap();
        assert_eq!(m.frames()[0], &b"\x01v"[..]);
    }
}

async fn xsub_sends_subscriptions<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let xsub = ctx.xsub();
    xsub.connect(&ep).unwrap();
    xsub.send(&b"\x01t"[..]).await.unwrap();
    let got = timeout(&p, Duration::from_secs(10), async {
        loop {
            publisher.send("u-not").await.unwrap();
            publisher.send("t-yes").await.unwrap();
            sleep(&p, Duration::from_millis(5)).await;
            if let Ok(m) = xsub.try_recv() {
                return m;
            }
        }
    })
    .await
    .expect("XSUB's subscription reached PUB");
    assert_eq!(got.frames()[0], "t-yes");
    assert!(matches!(
        ctx.subscriber().set_option(SocketOption::XpubVerbose(true)),
        Err(Error::InvalidOption { .. })
    ));
}

async fn sub_resubscribes_after_reconnect<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let sub = ctx.subscriber();
    sub.set_option(SocketOption::ReconnectIvl(Duration::from_millis(20)))
        .unwrap();
    sub.subscribe(b"k").unwrap();
    sub.connect(&ep).unwrap();
    let publisher = ctx.publisher();
    publisher.bind(&ep).unwrap();
    sync_sub(&p, |t| publisher.try_send(t).unwrap(), &sub, "k1").await;
    publisher
        .set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    publisher.close().await;
    sleep(&p, Duration::from_millis(50)).await;
    let publisher = ctx.publisher();
    publisher.bind(&ep).unwrap();
    sync_sub(&p, |t| publisher.try_send(t).unwrap(), &sub, "k2").await;
}

async fn slow_subscriber_does_not_stall_others<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let publisher = ctx.publisher();
    publisher.set_option(SocketOption::SndHwm(100)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let slow = ctx.subscriber();
    slow.set_option(SocketOption::RcvHwm(10)).unwrap();
    let fast = ctx.subscriber();
    for s in [&slow, &fast] {
        s.connect(&ep).unwrap();
        s.subscribe(b"").unwrap();
        sync_sub(&p, |t| publisher.try_send(t).unwrap(), s, "sync").await;
    }
    sleep(&p, Duration::from_millis(20)).await;
    drain(&slow);
    drain(&fast);
    let n = 20_000;
    let payload = vec![b'x'; 1000];
    let publish = async {
        for i in 0..n {
            let mut m = Message::from(format!("{i:06}"));
            m.push_back(payload.clone());
            publisher.send(m).await.unwrap();
            if i % 50 == 49 {
                sleep(&p, Duration::from_millis(1)).await;
            }
        }
    };
    let read_fast = async {
        for i in 0..n {
            let m = fast.recv().await.unwrap();
            assert_eq!(m.frames()[0], format!("{i:06}").as_bytes(), "nothing lost");
        }
    };
    timeout(&p, Duration::from_secs(30), join(publish, read_fast))
        .await
        .expect("the fast subscriber got everything");
    let slow_got = drain(&slow).len();
    assert!(
        slow_got < n,
        "the stalled subscriber missed messages ({slow_got})"
    );
}

backend_tests!(
    slow_subscriber_does_not_stall_others,
    pub_sub_prefix_filtering,
    pub_fans_out_to_many,
    pub_drops_at_hwm_and_never_blocks,
    xpub_receives_subscriptions,
    xpub_verbose,
    xsub_sends_subscriptions,
    sub_resubscribes_after_reconnect,
);

/// Not on monoio: its executor reaps I/O completions only every so many task polls, so
/// a yield does not let a write already in flight complete, and the publisher fills the
/// queue again first (PUB drops at the HWM by design; nothing here is a guarantee).
mod writers_at_hwm {
    #[test]
    fn uring() {
        crate::common::uring(super::pub_send_lets_writers_run_at_hwm)
    }
    #[test]
    fn epoll() {
        crate::common::epoll(super::pub_send_lets_writers_run_at_hwm)
    }
    #[test]
    fn compio() {
        crate::common::compio(super::pub_send_lets_writers_run_at_hwm)
    }
    #[test]
    fn tokio() {
        crate::common::tokio(super::pub_send_lets_writers_run_at_hwm)
    }
}
