//! RADIO / DISH over `udp://` with libzmq's datagram format: unicast, multicast on
//! loopback, datagrams from a raw sender (good and malformed).

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{
    Context, DishSocket, Error, Message, MonitorEventKind, RadioSocket, SocketOption, SocketType,
};

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
    // A RADIO needs an address or a name to send to; an interface goes only before a
    // multicast group.
    assert!(matches!(radio.connect("udp://*:5555"), Err(Error::Io(_))));
    assert!(radio.connect("udp://lo;127.0.0.1:5555").is_err());
    // A DISH binds no host name (as libzmq: no lookup for a bind), only an
    // interface's.
    assert!(matches!(dish.bind("udp://localhost:*"), Err(Error::Io(_))));
}

/// `udp://iface;group:port` with the loopback interface, given by address and by
/// name, on both sides: the DISH joins the group there, the RADIO sends through it.
async fn interface_prefix_on_loopback<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    for iface in ["127.0.0.1", "lo"] {
        let ep = format!("udp://{iface};239.255.42.11:{}", free_port());
        let dish = ctx.dish();
        let bound = dish.bind(&ep).unwrap();
        assert_eq!(bound, ep, "the real port and the interface prefix");
        dish.join("if").unwrap();
        let radio = ctx.radio();
        radio.connect(&ep).unwrap();
        let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
        sync(&p, send, &dish, "if").await;
        radio_to_dish(&radio, "if", iface).await;
        assert_eq!(
            received_before(&p, send, &dish, "if").await,
            pairs(&[("if", iface)]),
            "{ep}"
        );
    }
}

/// A network interface other than loopback with an IPv4 address (this machine's
/// `eth0`), if there is one.
fn other_interface() -> Option<String> {
    let names = std::fs::read_dir("/sys/class/net").ok()?;
    names
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .find(|n| {
            ringmq_proactor::sockopt::interface_addresses(n)
                .is_ok_and(|a| a.iter().any(|a| a.is_ipv4()))
        })
}

/// The interface decides the network: a DISH that joined the group on another
/// interface does not hear a RADIO sending it through loopback, and hears one sending
/// through its interface (the host's own members hear what it sends there).
async fn interface_chooses_the_network<P: Proactor>(ctx: Context<P>) {
    let Some(nic) = other_interface() else {
        eprintln!("no network interface besides lo: nothing to choose between");
        return;
    };
    let p = ctx.proactor().clone();
    let port = free_port();
    let dish = ctx.dish();
    dish.bind(&format!("udp://{nic};239.255.42.13:{port}"))
        .unwrap();
    dish.join("g").unwrap();
    let there = ctx.radio();
    there
        .connect(&format!("udp://{nic};239.255.42.13:{port}"))
        .unwrap();
    let via_lo = ctx.radio();
    via_lo
        .connect(&format!("udp://lo;239.255.42.13:{port}"))
        .unwrap();
    let send = |g: &str, b: &str| there.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "g").await;
    radio_to_dish(&via_lo, "g", "through lo").await;
    radio_to_dish(&there, "g", &format!("through {nic}")).await;
    assert_eq!(
        received_before(&p, send, &dish, "g").await,
        pairs(&[("g", &format!("through {nic}"))])
    );
}

/// IPv6 multicast names its interface (by index, from the name): a DISH and a RADIO on
/// `IFACE;[ff05::...]` meet through it (loopback has no IPv6 multicast route, so this
/// takes the other interface, if it has an IPv6 address).
async fn ipv6_multicast_through_an_interface<P: Proactor>(ctx: Context<P>) {
    let nic = other_interface().filter(|n| {
        ringmq_proactor::sockopt::interface_addresses(n)
            .is_ok_and(|a| a.iter().any(|a| a.is_ipv6()))
    });
    let Some(nic) = nic else {
        eprintln!("no interface besides lo with IPv6: no IPv6 multicast route here");
        return;
    };
    let p = ctx.proactor().clone();
    let ep = format!("udp://{nic};[ff05::4243]:{}", free_port());
    let dish = ctx.dish();
    assert_eq!(dish.bind(&ep).unwrap(), ep);
    dish.join("six").unwrap();
    let radio = ctx.radio();
    radio.set_option(SocketOption::MulticastHops(2)).unwrap();
    radio.connect(&ep).unwrap();
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "six").await;
    radio_to_dish(&radio, "six", "v6").await;
    assert_eq!(
        received_before(&p, send, &dish, "six").await,
        pairs(&[("six", "v6")])
    );
}

/// A RADIO connects to a host name, looked up off the event loop.
async fn radio_connects_to_a_host_name<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let dish = ctx.dish();
    let ep = dish.bind("udp://127.0.0.1:*").unwrap();
    let port = ep.rsplit_once(':').unwrap().1;
    dish.join("n").unwrap();
    let radio = ctx.radio();
    let mon = radio.monitor();
    let named = format!("udp://localhost:{port}");
    radio.connect(&named).unwrap();
    let e = wait_event(&p, &mon, |e| e.kind == MonitorEventKind::HandshakeSucceeded).await;
    assert_eq!(e.endpoint, named);
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "n").await;
    radio_to_dish(&radio, "n", "1").await;
    assert_eq!(
        received_before(&p, send, &dish, "n").await,
        pairs(&[("n", "1")])
    );
}

/// A name that does not resolve: `connect` succeeds, the lookup fails in the
/// background and is retried after the reconnect interval until `disconnect`.
async fn unresolvable_udp_name_is_retried<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let radio = ctx.radio();
    radio
        .set_option(SocketOption::ReconnectIvl(Duration::from_millis(5)))
        .unwrap();
    let mon = radio.monitor();
    // `.invalid` never resolves (RFC 6761).
    let ep = "udp://no-such-host.invalid:5555";
    radio.connect(ep).unwrap();
    for _ in 0..2 {
        let e = wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
        })
        .await;
        assert_eq!(e.endpoint, ep);
        let e = wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::ConnectRetried { .. })
        })
        .await;
        assert_eq!(
            e.kind,
            MonitorEventKind::ConnectRetried {
                interval: Duration::from_millis(5)
            }
        );
    }
    radio.disconnect(ep).unwrap();
}

/// ZMQ_MULTICAST_HOPS: 1 to 255, default 1; a RADIO with more hops still reaches the
/// host's own members (the TTL itself is checked on the socket in `udp.rs`).
async fn multicast_hops_option<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let radio = ctx.radio();
    assert_eq!(radio.options().multicast_hops(), 1);
    for bad in [0, 256] {
        assert!(matches!(
            radio.set_option(SocketOption::MulticastHops(bad)),
            Err(Error::InvalidOption { .. })
        ));
    }
    radio.set_option(SocketOption::MulticastHops(3)).unwrap();
    assert_eq!(radio.options().multicast_hops(), 3);
    let ep = format!("udp://239.255.42.15:{}", free_port());
    let dish = ctx.dish();
    dish.bind(&ep).unwrap();
    dish.join("h").unwrap();
    radio.connect(&ep).unwrap();
    let send = |g: &str, b: &str| radio.try_send(grouped(g, b)).unwrap();
    sync(&p, send, &dish, "h").await;
    radio_to_dish(&radio, "h", "3 hops").await;
    assert_eq!(
        received_before(&p, send, &dish, "h").await,
        pairs(&[("h", "3 hops")])
    );
}

backend_tests!(
    unicast_delivers_joined_groups_only,
    raw_datagrams_in_libzmq_format,
    multicast_on_loopback,
    wildcard_bind,
    wrong_roles_are_refused,
    interface_prefix_on_loopback,
    interface_chooses_the_network,
    ipv6_multicast_through_an_interface,
    radio_connects_to_a_host_name,
    unresolvable_udp_name_is_retried,
    multicast_hops_option,
);
