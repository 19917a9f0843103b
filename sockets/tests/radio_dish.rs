//! RADIO / DISH (libzmq's draft types) over tcp, ipc and inproc; bad input from a raw
//! peer. The `udp://` rows are in `udp.rs`.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{BufResult, Proactor};
use ringmq_sockets::{
    Context, DisconnectReason, DishSocket, Error, Message, RadioSocket, SocketType,
};
use ringmq_zmtp::mechanism::Null;
use ringmq_zmtp::{Event, PeerMisbehaved, Session, SessionConfig};

fn grouped(group: &str, body: &str) -> Message {
    Message::from(body).with_group(group).unwrap()
}

/// Sends `probe` in `group` until the DISH receives it (JOINs travel asynchronously),
/// then `{probe}-end`, and receives up to it: no copy of the probe is left in flight.
async fn sync_group<P: Proactor>(p: &P, radio: &RadioSocket<P>, dish: &DishSocket<P>, group: &str) {
    let deadline = p.now() + WAIT;
    'probing: loop {
        radio.try_send(grouped(group, "probe")).unwrap();
        while let Some(m) = timeout(p, Duration::from_millis(20), dish.recv()).await {
            if m.unwrap().frames()[0] == "probe" {
                break 'probing;
            }
        }
        assert!(
            p.now() < deadline,
            "the JOIN of {group:?} did not arrive in {WAIT:?}"
        );
    }
    received_before(p, radio, dish, group).await;
}

/// Sends an end marker in `group` and returns `(group, body)` of what the DISH receives
/// before it: from one RADIO, everything sent earlier has arrived by then.
async fn received_before<P: Proactor>(
    p: &P,
    radio: &RadioSocket<P>,
    dish: &DishSocket<P>,
    group: &str,
) -> Vec<(String, String)> {
    radio.try_send(grouped(group, "end")).unwrap();
    let mut got = Vec::new();
    loop {
        let m = timeout(p, WAIT, dish.recv())
            .await
            .expect("the end marker arrives")
            .unwrap();
        assert_eq!(m.len(), 1, "single-part");
        let body = String::from_utf8_lossy(&m.frames()[0]).into_owned();
        if body == "end" {
            return got;
        }
        got.push((String::from_utf8_lossy(m.group()).into_owned(), body));
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(g, b)| (g.to_string(), b.to_string()))
        .collect()
}

async fn groups_reach_only_their_members<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    for ep in [
        "tcp://127.0.0.1:*",
        &ipc_endpoint("radio"),
        "inproc://radio-dish",
    ] {
        let dish = ctx.dish();
        let bound = dish.bind(ep).unwrap();
        let radio = ctx.radio();
        radio.connect(&bound).unwrap();
        dish.join("tv").unwrap();
        dish.join("radio").unwrap();
        sync_group(&p, &radio, &dish, "tv").await;
        for (g, b) in [
            ("tv", "1"),
            ("news", "never"),
            ("radio", "2"),
            ("t", "never"),
        ] {
            radio.send(grouped(g, b)).await.unwrap();
        }
        radio.send(Message::from("no group: never")).await.unwrap();
        assert_eq!(
            received_before(&p, &radio, &dish, "tv").await,
            pairs(&[("tv", "1"), ("radio", "2")]),
            "{ep}"
        );
        // After a LEAVE (in order with a fresh JOIN that works) the group stops.
        dish.leave("radio").unwrap();
        dish.join("fresh").unwrap();
        sync_group(&p, &radio, &dish, "fresh").await;
        radio.send(grouped("radio", "never")).await.unwrap();
        radio.send(grouped("tv", "3")).await.unwrap();
        assert_eq!(
            received_before(&p, &radio, &dish, "tv").await,
            pairs(&[("tv", "3")]),
            "{ep}"
        );
        radio.close().await;
        dish.close().await;
    }
}

async fn api_misuse_is_refused<P: Proactor>(ctx: Context<P>) {
    let radio = ctx.radio();
    let dish = ctx.dish();
    assert!(matches!(
        radio.try_send(Message::from_iter(["a", "b"])),
        Err(Error::NotSupported {
            operation: "sending a multipart message",
            socket_type: SocketType::Radio
        })
    ));
    assert!(matches!(
        Message::from("x").with_group([b'g'; 256]),
        Err(Error::GroupTooLong { len: 256 })
    ));
    assert!(matches!(
        dish.join([b'g'; 256]),
        Err(Error::GroupTooLong { len: 256 })
    ));
    dish.join("g").unwrap();
    assert!(matches!(
        dish.join("g"),
        Err(Error::GroupMembership { join: true })
    ));
    assert!(matches!(
        dish.leave("h"),
        Err(Error::GroupMembership { join: false })
    ));
    let sub = ctx.socket(SocketType::Sub);
    assert!(matches!(sub.join("g"), Err(Error::NotSupported { .. })));
    // RADIO and DISH meet only each other.
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let m = radio.monitor();
    radio.connect(&ep).unwrap();
    let why = wait_handshake_failed(ctx.proactor(), &m).await;
    assert!(
        matches!(
            why,
            DisconnectReason::Zmtp(ringmq_zmtp::Error::IncompatibleSocketType { .. })
        ),
        "{why:?}"
    );
}

/// A raw DISH-typed ZMTP peer: handshakes, then sends a JOIN for `group`.
async fn raw_join<P: Proactor>(p: &P, ep: &str, group: &[u8]) -> (P::Reader, P::Writer) {
    let stream = p.connect(&ep.parse().unwrap()).await.expect("raw connect");
    let (mut r, mut w) = p.split(stream);
    let mut s = Session::new(
        SessionConfig::new(SocketType::Dish),
        Box::new(Null::new()),
        p.now(),
    )
    .unwrap();
    loop {
        if let Some(t) = s.poll_transmit() {
            write_all(p, &mut w, t.to_vec()).await;
        }
        if let Some(e) = s.poll_event() {
            match e {
                Event::HandshakeSucceeded { .. } => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        let BufResult(n, buf) = p.recv(&mut r, Vec::with_capacity(4096)).await;
        assert!(n.expect("raw read") > 0, "peer closed during the handshake");
        s.handle_input(p.now(), &buf);
    }
    s.subscribe(group).unwrap();
    while let Some(t) = s.poll_transmit() {
        write_all(p, &mut w, t.to_vec()).await;
    }
    (r, w)
}

async fn a_join_over_255_bytes_costs_the_peer_its_connection<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let radio = ctx.radio();
    let ep = radio.bind("tcp://127.0.0.1:*").unwrap();
    let m = radio.monitor();
    // A good DISH before and after keeps being served.
    let dish = ctx.dish();
    dish.connect(&ep).unwrap();
    dish.join("g").unwrap();
    sync_group(&p, &radio, &dish, "g").await;
    let (_r, _w) = raw_join(&p, &ep, &[b'x'; 256]).await;
    let why = wait_disconnected(&p, &m).await;
    assert_eq!(
        why,
        DisconnectReason::Zmtp(PeerMisbehaved::GroupTooLong { len: 256 }.into())
    );
    radio.send(grouped("g", "still served")).await.unwrap();
    assert_eq!(
        received_before(&p, &radio, &dish, "g").await,
        pairs(&[("g", "still served")])
    );
}

backend_tests!(
    groups_reach_only_their_members,
    api_misuse_is_refused,
    a_join_over_255_bytes_costs_the_peer_its_connection,
);
