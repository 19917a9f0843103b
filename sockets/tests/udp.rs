//! RADIO / DISH over `udp://` with libzmq's datagram format: unicast, multicast on
//! loopback, datagrams from a raw sender (good and malformed).

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, DishSocket, Error, Message, RadioSocket, SocketType};

fn grouped(group: &str, body: &str) -> Message {
    Message::from(body).with_group(group).unwrap()
}

/// Sends `probe` in `group` until the DISH receives it (a datagram sent before the
/// DISH's socket exists is lost), then receives what arrives before an end marker.
async fn sync<P: Proactor>(p: &P, send: impl Fn(&str, &str), dish: &DishSocket<P>, group: &str) {
    let deadline = p.now() + WAIT;
    'probing: loop {
        send(group, "probe");
        while let Some(m) = timeout(p, Duration::from_millis(20), dish.recv()).await {
            if m.unwrap().frames()[0] == "probe" {
                break 'probing;
            }
        }
        assert!(p.now() < deadline, "no datagram arrived within {WAIT:?}");
    }
    received_before(p, send, dish, group).await;
}

/// `(group, body)` of what the DISH receives before an end marker sent in `group`.
async fn received_before<P: Proactor>(
    p: &P,
    send: impl Fn(&str, &str),
    dish: &DishSocket<P>,
    group: &str,
) -> Vec<(String, String)> {
    send(group, "end");
    let mut got = Vec::new();
    loop {
        let m = timeout(p, WAIT, dish.recv())
            .await
            .expect("the end marker arrives")
            .unwrap();
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

async fn radio_to_dish(radio: &RadioSocket<impl Proactor>, g: &str, b: &str) {
    radio.send(grouped(g, b)).await.unwrap();
}

async fn unicast_delivers_joined_groups_only<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let dish = ctx.dish();
    let ep = dish.bind("udp://127.0.0.1:*").unwrap();
    assert!(ep.starts_with("udp://127.0.0.1:"), "{ep}");
    dish.join("tv").unwrap();
    let radio = ctx.radio();
    radio.connect(&ep).unwrap();
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "tv").await;
    for (g, b) in [("tv", "1"), ("news", "never"), ("tv", "2"), ("", "never")] {
        radio_to_dish(&radio, g, b).await;
    }
    assert_eq!(
        received_before(&p, send, &dish, "tv").await,
        pairs(&[("tv", "1"), ("tv", "2")])
    );
    // Over the datagram limit (8,192 bytes with the group): not sent, like libzmq.
    radio
        .send(Message::from(vec![0u8; 8190]).with_group("tv").unwrap())
        .await
        .unwrap();
    let fits = Message::from(vec![7u8; 8189]).with_group("tv").unwrap();
    radio.send(fits).await.unwrap();
    radio.send(grouped("tv", "end")).await.unwrap();
    let m = timeout(&p, WAIT, dish.recv()).await.unwrap().unwrap();
    assert_eq!(
        m.frames()[0].len(),
        8189,
        "the largest datagram arrives whole"
    );
    let m = timeout(&p, WAIT, dish.recv()).await.unwrap().unwrap();
    assert_eq!(m.frames()[0], "end");
    radio.close().await;
    dish.close().await;
}

async fn raw_datagrams_in_libzmq_format<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let dish = ctx.dish();
    let ep = dish.bind("udp://127.0.0.1:*").unwrap();
    let addr = ep.trim_start_matches("udp://").to_owned();
    dish.join("g").unwrap();
    let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
    let send = |g: &str, b: &str| {
        let mut d = vec![g.len() as u8];
        d.extend_from_slice(g.as_bytes());
        d.extend_from_slice(b.as_bytes());
        raw.send_to(&d, &addr).unwrap();
    };
    sync(&p, send, &dish, "g").await;
    // Malformed datagrams are dropped; the DISH goes on.
    raw.send_to(b"", &addr).unwrap();
    raw.send_to(b"\x05gg", &addr).unwrap();
    let mut long = vec![255u8];
    long.extend_from_slice(&[b'g'; 200]);
    raw.send_to(&long, &addr).unwrap();
    raw.send_to(b"\x01gbody", &addr).unwrap();
    raw.send_to(b"\x01h-other", &addr).unwrap();
    assert_eq!(
        received_before(&p, send, &dish, "g").await,
        pairs(&[("g", "body")])
    );
}

async fn multicast_on_loopback<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let port = free_port();
    let group_ep = format!("udp://239.255.42.1:{port}");
    let dish = ctx.dish();
    let two = ctx.dish();
    if let Err(e) = dish.bind(&group_ep) {
        panic!("joining a multicast group failed here: {e}");
    }
    dish.join("mc").unwrap();
    let radio = ctx.radio();
    radio.connect(&group_ep).unwrap();
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "mc").await;
    radio_to_dish(&radio, "mc", "1").await;
    radio_to_dish(&radio, "other", "never").await;
    assert_eq!(
        received_before(&p, send, &dish, "mc").await,
        pairs(&[("mc", "1")])
    );
    drop(two);
}

/// `udp://*:*` binds every interface on an ephemeral port; a RADIO reaches it over
/// loopback.
async fn wildcard_bind<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let dish = ctx.dish();
    let ep = dish.bind("udp://*:*").unwrap();
    let port = ep.strip_prefix("udp://0.0.0.0:").expect("every interface");
    dish.join("g").unwrap();
    let radio = ctx.radio();
    radio.connect(&format!("udp://127.0.0.1:{port}")).unwrap();
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "g").await;
    radio_to_dish(&radio, "g", "1").await;
    assert_eq!(
        received_before(&p, send, &dish, "g").await,
        pairs(&[("g", "1")])
    );
}

async fn wrong_roles_are_refused<P: Proactor>(ctx: Context<P>) {
    let radio = ctx.radio();
    let dish = ctx.dish();
    assert!(matches!(
        radio.bind("udp://127.0.0.1:*"),
        Err(Error::NotSupported { .. })
    ));
    assert!(matches!(
        dish.connect("udp://127.0.0.1:5555"),
        Err(Error::NotSupported { .. })
    ));
    let pull = ctx.socket(SocketType::Pull);
    assert!(matches!(
        pull.bind("udp://127.0.0.1:*"),
        Err(Error::NotSupported { .. })
    ));
    assert!(matches!(
        radio.connect("udp://localhost:5555"),
        Err(Error::Io(_))
    ));
}

backend_tests!(
    unicast_delivers_joined_groups_only,
    raw_datagrams_in_libzmq_format,
    multicast_on_loopback,
    wildcard_bind,
    wrong_roles_are_refused,
);
