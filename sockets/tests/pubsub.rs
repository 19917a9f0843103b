//! PUB / SUB / XPUB / XSUB.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, Error, Message, SocketOption, SubSocket};

/// The first frame of `m` as text.
fn first(m: &Message) -> String {
    String::from_utf8_lossy(&m.frames()[0]).into_owned()
}

/// Receives one message from `sub` within `limit`.
async fn recv_within<P: Proactor>(p: &P, sub: &SubSocket<P>, limit: Duration) -> Option<String> {
    timeout(p, limit, sub.recv())
        .await
        .map(|m| first(&m.unwrap()))
}

/// Publishes `probe` until `sub` receives it (subscriptions travel asynchronously),
/// then `{probe}-end` (which must pass the same subscription), and receives up to it:
/// no copy of the probe is left in flight afterwards. Other messages are skipped.
async fn sync_sub<P: Proactor>(p: &P, publish: impl Fn(&str), sub: &SubSocket<P>, probe: &str) {
    let deadline = p.now() + WAIT;
    let mut patience = Duration::from_millis(1);
    'probing: loop {
        publish(probe);
        let until = p.now() + patience;
        while let Some(m) = recv_within(p, sub, until.saturating_duration_since(p.now())).await {
            if m == probe {
                break 'probing;
            }
        }
        assert!(
            p.now() < deadline,
            "the subscription for {probe:?} did not reach the publisher within {WAIT:?}"
        );
        patience = (patience * 2).min(Duration::from_millis(100));
    }
    let end = format!("{probe}-end");
    received_before(p, publish, sub, &end).await;
}

/// Publishes `end` (which must pass `sub`'s subscriptions) and returns what `sub`
/// receives before it: from one publisher, everything published earlier has arrived
/// by then (or was filtered out).
async fn received_before<P: Proactor>(
    p: &P,
    publish: impl Fn(&str),
    sub: &SubSocket<P>,
    end: &str,
) -> Vec<String> {
    publish(end);
    let mut got = Vec::new();
    loop {
        let m = recv_within(p, sub, WAIT)
            .await
            .unwrap_or_else(|| panic!("{end:?} did not arrive within {WAIT:?}"));
        if m == end {
            return got;
        }
        got.push(m);
    }
}

/// What `sub` holds now.
fn drain<P: Proactor>(sub: &SubSocket<P>) -> Vec<String> {
    std::iter::from_fn(|| sub.try_recv().ok())
        .map(|m| first(&m))
        .collect()
}

/// Subscribes `sub` to a fresh `topic` and waits until it works: subscriptions and
/// cancels travel in order, so every earlier one has reached the publisher too.
async fn barrier<P: Proactor>(p: &P, publish: impl Fn(&str), sub: &SubSocket<P>, topic: &str) {
    sub.subscribe(topic.as_bytes()).unwrap();
    sync_sub(p, publish, sub, topic).await;
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
    for t in ["a1", "b1", "bb1", "c1", "ab", "bbb"] {
        publisher.send(t).await.unwrap();
    }
    publisher
        .send(Message::from_iter(["a-multi", "part2"]))
        .await
        .unwrap();
    assert_eq!(
        received_before(&p, publish, &sub, "bb-end1").await,
        ["a1", "bb1", "ab", "bbb", "a-multi"]
    );
    // Counted: two subscriptions of "c" need two unsubscribes.
    sub.subscribe(b"c").unwrap();
    sub.subscribe(b"c").unwrap();
    sync_sub(&p, publish, &sub, "c-sync").await;
    sub.unsubscribe(b"c").unwrap();
    sub.unsubscribe(b"a").unwrap();
    barrier(&p, publish, &sub, "p1").await;
    for t in ["a2", "bb2", "c2"] {
        publisher.send(t).await.unwrap();
    }
    assert_eq!(
        received_before(&p, publish, &sub, "bb-end2").await,
        ["bb2", "c2"]
    );
    sub.unsubscribe(b"c").unwrap();
    barrier(&p, publish, &sub, "p2").await;
    for t in ["c3", "bb3"] {
        publisher.send(t).await.unwrap();
    }
    assert_eq!(received_before(&p, publish, &sub, "bb-end3").await, ["bb3"]);
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
    for i in 0..100 {
        publisher.send(format!("m{i}")).await.unwrap();
    }
    for s in &subs {
        // Probes of the later syncs come first (and only before m0).
        let mut m = first(&s.recv().await.unwrap());
        while m.starts_with("sync") {
            m = first(&s.recv().await.unwrap());
        }
        assert_eq!(m, "m0");
        for i in 1..100 {
            assert_eq!(first(&s.recv().await.unwrap()), format!("m{i}"));
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
    let publish = |t: &str| publisher.try_send(t).unwrap();
    sync_sub(&p, publish, &sub, "sync").await;
    // No yield in between: the writer cannot run, so all but 10 are dropped, and
    // neither send nor try_send ever reports a full queue.
    for i in 0..10_000 {
        publisher.try_send(format!("{i}")).unwrap();
    }
    publisher.send("last").await.unwrap();
    // The 10 kept arrive; once they have, the queue has room for an end marker, and
    // nothing else comes before it.
    let mut got = Vec::new();
    for _ in 0..10 {
        let m = recv_within(&p, &sub, WAIT).await;
        got.push(m.unwrap_or_else(|| panic!("only {got:?} arrived")));
    }
    got.extend(received_before(&p, publish, &sub, "end").await);
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
    let deadline = p.now() + WAIT;
    let mut patience = Duration::from_millis(1);
    let got = loop {
        publisher.send("u-not").await.unwrap();
        publisher.send("t-yes").await.unwrap();
        if let Some(m) = timeout(&p, patience, xsub.recv()).await {
            break m.unwrap();
        }
        assert!(p.now() < deadline, "XSUB's subscription did not reach PUB");
        patience = (patience * 2).min(Duration::from_millis(100));
    };
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
    let mon = sub.monitor();
    sub.subscribe(b"k").unwrap();
    sub.connect(&ep).unwrap();
    let publisher = ctx.publisher();
    publisher.bind(&ep).unwrap();
    sync_sub(&p, |t| publisher.try_send(t).unwrap(), &sub, "k1").await;
    publisher
        .set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    publisher.close().await;
    // SUB notices, so the new PUB gets a new connection (and the subscription again).
    wait_disconnected(&p, &mon).await;
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
    let n = 20_000;
    let payload = vec![b'x'; 1000];
    // The publisher keeps at most 50 messages ahead of the fast subscriber (below its
    // SNDHWM of 100, so PUB never drops for it) and never waits for the slow one.
    let fast_got = std::cell::Cell::new(0);
    let publish = async {
        for i in 0..n {
            let mut m = Message::from(format!("{i:06}"));
            m.push_back(payload.clone());
            publisher.send(m).await.unwrap();
            if i + 1 >= fast_got.get() + 50 {
                wait_until(&p, WAIT, "the fast subscriber keeps up", || {
                    i + 1 < fast_got.get() + 50
                })
                .await;
            }
        }
    };
    let read_fast = async {
        for i in 0..n {
            let m = fast.recv().await.unwrap();
            assert_eq!(m.frames()[0], format!("{i:06}").as_bytes(), "nothing lost");
            fast_got.set(i + 1);
        }
    };
    timeout(&p, Duration::from_secs(30), join(publish, read_fast))
        .await
        .expect("the fast subscriber got everything");
    // (the slow one also holds probes of the fast one's sync)
    let slow_got = drain(&slow)
        .iter()
        .filter(|m| !m.starts_with("sync"))
        .count();
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
