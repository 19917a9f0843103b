//! Connection-control options through real TCP connections on every backend:
//! CONNECT_TIMEOUT, RECONNECT_STOP, HELLO / DISCONNECT / HICCUP messages, BACKLOG,
//! SNDBUF / RCVBUF (read back from the kernel with `ss`), BINDTODEVICE, IPV6 dual-stack
//! binds and interface names in endpoints.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::{sockopt, Proactor};
use ringmq_sockets::{
    Bytes, Context, Error, Message, MonitorEventKind, SocketOption, RECONNECT_STOP_CONN_REFUSED,
    RECONNECT_STOP_HANDSHAKE_FAILED,
};

fn port_of(ep: &str) -> u16 {
    ep.rsplit(':').next().unwrap().parse().unwrap()
}

/// `ss` output for the TCP sockets on `port` (`args` selects the view).
fn ss(args: &[&str], port: u16) -> String {
    let out = std::process::Command::new("ss")
        .args(args)
        .arg(format!("( sport = :{port} or dport = :{port} )"))
        .output()
        .expect("ss (iproute2) runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// CONNECT_TIMEOUT: a listener whose accept queue is full drops the SYN; the connect
/// attempt fails after the timeout (and is retried) instead of waiting for the
/// kernel's minutes of SYN retries.
async fn connect_timeout_ends_a_hanging_connect<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    sockopt::set_backlog(&l, 0).unwrap();
    let addr = l.local_addr().unwrap();
    // Fill the accept queue until a connect hangs.
    let mut held = Vec::new();
    while let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        held.push(s);
        assert!(held.len() < 64, "the accept queue never filled");
    }
    let push = ctx.push();
    push.set_option(SocketOption::ConnectTimeout(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(push.options().connect_timeout(), Duration::from_millis(100));
    let mon = push.monitor();
    push.connect(&format!("tcp://{addr}")).unwrap();
    let e = wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
    })
    .await;
    let MonitorEventKind::ConnectFailed { error } = e.kind else {
        unreachable!()
    };
    assert_eq!(error.kind(), std::io::ErrorKind::TimedOut, "{error}");
    wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectRetried { .. })
    })
    .await;
    drop(held);
}

/// RECONNECT_STOP_CONN_REFUSED: after a refused connect nothing is retried; without
/// it a retry follows within the 10 ms interval.
async fn reconnect_stop_on_refusal<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    for stop in [false, true] {
        let push = ctx.push();
        push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(10)))
            .unwrap();
        if stop {
            push.set_option(SocketOption::ReconnectStop(RECONNECT_STOP_CONN_REFUSED))
                .unwrap();
        }
        let mon = push.monitor();
        push.connect(&format!("tcp://127.0.0.1:{}", free_port()))
            .unwrap();
        wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
        })
        .await;
        let retried = timeout(&p, Duration::from_millis(500), async {
            loop {
                let e = mon.recv().await.unwrap();
                if matches!(e.kind, MonitorEventKind::ConnectRetried { .. }) {
                    return;
                }
            }
        })
        .await
        .is_some();
        assert_eq!(retried, !stop);
    }
}

/// RECONNECT_STOP_HANDSHAKE_FAILED: a server that is not ZMTP fails the handshake
/// once; nothing is retried.
async fn reconnect_stop_on_handshake_failure<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let listener = p.listen(&"tcp://127.0.0.1:0".parse().unwrap()).unwrap();
    let ep = p.listener_endpoint(&listener).unwrap().to_string();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(10)))
        .unwrap();
    push.set_option(SocketOption::ReconnectStop(RECONNECT_STOP_HANDSHAKE_FAILED))
        .unwrap();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    let (s, _) = p.accept(&listener).await.unwrap();
    let (_r, mut w) = p.split(s);
    write_all(&p, &mut w, b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).await;
    wait_handshake_failed(&p, &mon).await;
    let again = timeout(&p, Duration::from_millis(500), p.accept(&listener)).await;
    assert!(again.is_none(), "no reconnection after a failed handshake");
}

/// HELLO_MSG from a ROUTER and DISCONNECT_MSG when its DEALER leaves; HICCUP_MSG on
/// a DEALER whose connection breaks.
async fn hello_disconnect_and_hiccup<P: Proactor>(ctx: Context<P>) {
    let router = ctx.router();
    router
        .set_option(SocketOption::HelloMsg(Bytes::from_static(b"HELLO")))
        .unwrap();
    router
        .set_option(SocketOption::DisconnectMsg(Bytes::from_static(b"GONE")))
        .unwrap();
    let ep = router.bind("tcp://127.0.0.1:*").unwrap();
    let dealer = ctx.dealer();
    dealer
        .set_option(SocketOption::RoutingId(Bytes::from_static(b"d")))
        .unwrap();
    dealer
        .set_option(SocketOption::HiccupMsg(Bytes::from_static(b"HICCUP")))
        .unwrap();
    dealer.connect(&ep).unwrap();
    assert_eq!(dealer.recv().await.unwrap(), Message::from("HELLO"));
    // The router goes away: the dealer's connection breaks, it will reconnect.
    router.close().await;
    assert_eq!(dealer.recv().await.unwrap(), Message::from("HICCUP"));
    // A new router on the same endpoint: the dealer leaving is reported to it.
    let router = ctx.router();
    router
        .set_option(SocketOption::DisconnectMsg(Bytes::from_static(b"GONE")))
        .unwrap();
    router.bind(&ep).unwrap();
    dealer.send("hi").await.unwrap();
    let got = router.recv().await.unwrap();
    assert_eq!(got.frames(), [&b"d"[..], b"hi"]);
    dealer.close().await;
    let got = router.recv().await.unwrap();
    assert_eq!(got.frames(), [&b"d"[..], b"GONE"]);
    assert!(matches!(router.try_recv(), Err(Error::WouldBlock)));
}

/// BACKLOG (the kernel's accept queue length, which `ss -l` shows as Send-Q), and
/// SNDBUF / RCVBUF on connections made and accepted (`ss -m`: tb / rb, which Linux
/// reports doubled).
async fn backlog_and_kernel_buffers<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    assert_eq!(pull.options().backlog(), 100);
    pull.set_option(SocketOption::Backlog(7)).unwrap();
    pull.set_option(SocketOption::RcvBuf(Some(65536))).unwrap();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port = port_of(&ep);
    let listening = ss(&["-ltnH"], port);
    let fields: Vec<&str> = listening.split_whitespace().collect();
    assert_eq!(
        fields.get(2),
        Some(&"7"),
        "Send-Q of the listener: {listening}"
    );
    let push = ctx.push();
    push.set_option(SocketOption::SndBuf(Some(32768))).unwrap();
    push.connect(&ep).unwrap();
    push.send("x").await.unwrap();
    pull.recv().await.unwrap();
    let mem = ss(&["-tnmH", "state", "established"], port);
    assert!(
        mem.contains("tb65536"),
        "the connecting side's SNDBUF: {mem}"
    );
    assert!(
        mem.contains("rb131072"),
        "the accepted side's RCVBUF: {mem}"
    );
}

/// BINDTODEVICE: a listener bound to `lo` serves loopback peers; an unknown device
/// fails the bind (so the option is applied, not ignored). The tests run as root; as
/// an unprivileged user the first bind fails with `PermissionDenied`.
async fn bind_to_device<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.set_option(SocketOption::BindToDevice("lo".into()))
        .unwrap();
    match pull.bind("tcp://127.0.0.1:*") {
        Ok(ep) => {
            let push = ctx.push();
            push.set_option(SocketOption::BindToDevice("lo".into()))
                .unwrap();
            push.connect(&ep).unwrap();
            push.send("via lo").await.unwrap();
            assert_eq!(pull.recv().await.unwrap(), Message::from("via lo"));
        }
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!("BINDTODEVICE needs CAP_NET_RAW here: {e}");
        }
        Err(e) => panic!("{e}"),
    }
    let other = ctx.pull();
    other
        .set_option(SocketOption::BindToDevice("nosuchdev0".into()))
        .unwrap();
    assert!(other.bind("tcp://127.0.0.1:*").is_err());
    assert!(other
        .set_option(SocketOption::BindToDevice("x".repeat(16)))
        .is_err());
}

/// BINDTODEVICE on a connecting socket picks the route of the connect itself, as in
/// libzmq, where the engine sets options before the SYN
/// (`Proactor::PREPARES_BEFORE_CONNECT`): a PUSH bound to a non-loopback interface
/// cannot reach 127.0.0.1, so its connect fails. On the engines that can only set
/// options on the connected stream (monoio) the connection is made on `lo` and
/// then bound: it connects.
async fn bind_to_device_routes_the_connect<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let Some(nic) = non_loopback_interface() else {
        eprintln!("no non-loopback interface is up here: nothing to route around");
        return;
    };
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    push.set_option(SocketOption::BindToDevice(nic.clone()))
        .unwrap();
    push.set_option(SocketOption::ConnectTimeout(Duration::from_millis(300)))
        .unwrap();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    let e = wait_event(&p, &mon, |e| {
        matches!(
            e.kind,
            MonitorEventKind::ConnectFailed { .. } | MonitorEventKind::Connected
        )
    })
    .await;
    if P::PREPARES_BEFORE_CONNECT {
        assert!(
            matches!(e.kind, MonitorEventKind::ConnectFailed { .. }),
            "bound to {nic} before connecting, 127.0.0.1 is out of reach: {e:?}"
        );
    } else {
        assert!(matches!(e.kind, MonitorEventKind::Connected), "{e:?}");
    }
}

/// The name of an interface other than `lo` that is up, if any.
fn non_loopback_interface() -> Option<String> {
    let dir = std::fs::read_dir("/sys/class/net").ok()?;
    dir.filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "lo")
        .find(|n| {
            std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
                .is_ok_and(|s| s.trim() == "up")
        })
}

/// IPV6: `tcp://*` binds both stacks, so IPv4 and IPv6 peers reach it; an interface
/// name binds that interface's address.
async fn ipv6_dual_stack_and_interface_names<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    pull.set_option(SocketOption::Ipv6(true)).unwrap();
    let ep = pull.bind("tcp://*:0").unwrap();
    assert!(ep.starts_with("tcp://[::]:"), "{ep}");
    let port = port_of(&ep);
    for (i, peer) in [
        format!("tcp://127.0.0.1:{port}"),
        format!("tcp://[::1]:{port}"),
    ]
    .iter()
    .enumerate()
    {
        let push = ctx.push();
        push.connect(peer).unwrap();
        push.send(format!("{i}")).await.unwrap();
        assert_eq!(pull.recv().await.unwrap(), Message::from(format!("{i}")));
    }
    // Without IPV6, `*` is IPv4 only.
    let v4 = ctx.pull();
    let ep = v4.bind("tcp://*:0").unwrap();
    assert!(ep.starts_with("tcp://0.0.0.0:"), "{ep}");
    // An interface name: `lo` is 127.0.0.1.
    let nic = ctx.pull();
    let ep = nic.bind("tcp://lo:0").unwrap();
    assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
    let push = ctx.push();
    push.connect(&ep).unwrap();
    push.send("lo").await.unwrap();
    assert_eq!(nic.recv().await.unwrap(), Message::from("lo"));
}

backend_tests!(
    connect_timeout_ends_a_hanging_connect,
    reconnect_stop_on_refusal,
    reconnect_stop_on_handshake_failure,
    hello_disconnect_and_hiccup,
    backlog_and_kernel_buffers,
    bind_to_device,
    bind_to_device_routes_the_connect,
    ipv6_dual_stack_and_interface_names,
);
