//! SOCKS_PROXY / SOCKS_USERNAME / SOCKS_PASSWORD on every backend, through a small
//! SOCKS5 server on loopback (threads over std sockets) that checks the handshake,
//! records each request and relays the bytes; ZMTP sockets and STREAM.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Bytes, Context, Message, MonitorEventKind, SocketOption};

/// What a client asked the proxy for: (address type, host, port, username).
type Request = (u8, String, u16, Option<String>);

/// A SOCKS5 server on 127.0.0.1 that accepts the username / password `auth` (or no
/// authentication when `None`); returns its `host:port` and the requests it served.
fn socks_server(auth: Option<(&'static str, &'static str)>) -> (String, Arc<Mutex<Vec<Request>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { return };
            let log = log.clone();
            std::thread::spawn(move || {
                let _ = serve(c, auth, &log);
            });
        }
    });
    (addr, seen)
}

fn read_n(c: &mut TcpStream, n: usize) -> std::io::Result<Vec<u8>> {
    let mut b = vec![0; n];
    c.read_exact(&mut b)?;
    Ok(b)
}

fn serve(
    mut c: TcpStream,
    auth: Option<(&str, &str)>,
    log: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let head = read_n(&mut c, 2)?;
    assert_eq!(head[0], 5, "SOCKS version");
    let methods = read_n(&mut c, usize::from(head[1]))?;
    let want = if auth.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        c.write_all(&[5, 0xff])?;
        return Ok(());
    }
    c.write_all(&[5, want])?;
    let mut user = None;
    if let Some((u, p)) = auth {
        let v = read_n(&mut c, 2)?;
        assert_eq!(v[0], 1);
        let name = String::from_utf8(read_n(&mut c, usize::from(v[1]))?).unwrap();
        let plen = read_n(&mut c, 1)?[0];
        let pass = String::from_utf8(read_n(&mut c, usize::from(plen))?).unwrap();
        if (name.as_str(), pass.as_str()) != (u, p) {
            c.write_all(&[1, 1])?;
            return Ok(());
        }
        c.write_all(&[1, 0])?;
        user = Some(name);
    }
    let req = read_n(&mut c, 4)?;
    assert_eq!(&req[..3], [5, 1, 0], "a CONNECT");
    let host = match req[3] {
        1 => {
            let a = read_n(&mut c, 4)?;
            format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
        }
        3 => {
            let n = read_n(&mut c, 1)?[0];
            String::from_utf8(read_n(&mut c, usize::from(n))?).unwrap()
        }
        t => panic!("address type {t}"),
    };
    let pb = read_n(&mut c, 2)?;
    let port = u16::from_be_bytes([pb[0], pb[1]]);
    log.lock().unwrap().push((req[3], host.clone(), port, user));
    let Ok(target) = TcpStream::connect((host.as_str(), port)) else {
        c.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    };
    // Success, bound to 0.0.0.0:0; then relay both ways.
    c.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    let (mut c2, mut t2) = (c.try_clone()?, target.try_clone()?);
    let (mut c1, mut t1) = (c, target);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut t2);
        let _ = t2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut t1, &mut c1);
    let _ = c1.shutdown(Shutdown::Write);
    Ok(())
}

/// Through the proxy without authentication, to a host name the proxy resolves
/// (ringmq passes it unresolved), then with username / password, then with a wrong
/// password (the connect fails, `PermissionDenied`).
async fn connects_through_a_socks5_proxy<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port: u16 = ep.rsplit(':').next().unwrap().parse().unwrap();

    let (proxy, seen) = socks_server(None);
    let push = ctx.push();
    push.set_option(SocketOption::SocksProxy(proxy.clone()))
        .unwrap();
    assert_eq!(push.options().socks_proxy(), proxy);
    push.connect(&format!("tcp://localhost:{port}")).unwrap();
    push.send("via proxy").await.unwrap();
    assert_eq!(pull.recv().await.unwrap(), Message::from("via proxy"));
    assert_eq!(
        seen.lock().unwrap()[0],
        (3, "localhost".to_string(), port, None),
        "a name goes to the proxy unresolved"
    );

    let (proxy, seen) = socks_server(Some(("user", "secret")));
    let push = ctx.push();
    push.set_option(SocketOption::SocksProxy(proxy.clone()))
        .unwrap();
    push.set_option(SocketOption::SocksUsername("user".into()))
        .unwrap();
    push.set_option(SocketOption::SocksPassword("secret".into()))
        .unwrap();
    push.connect(&ep).unwrap();
    push.send("authenticated").await.unwrap();
    assert_eq!(pull.recv().await.unwrap(), Message::from("authenticated"));
    assert_eq!(
        seen.lock().unwrap()[0],
        (1, "127.0.0.1".to_string(), port, Some("user".to_string()))
    );

    let bad = ctx.push();
    bad.set_option(SocketOption::SocksProxy(proxy)).unwrap();
    bad.set_option(SocketOption::SocksUsername("user".into()))
        .unwrap();
    bad.set_option(SocketOption::SocksPassword("wrong".into()))
        .unwrap();
    let mon = bad.monitor();
    bad.connect(&ep).unwrap();
    let e = wait_event(&p, &mon, |e| {
        matches!(e.kind, MonitorEventKind::ConnectFailed { .. })
    })
    .await;
    let MonitorEventKind::ConnectFailed { error } = e.kind else {
        unreachable!()
    };
    assert_eq!(
        error.kind(),
        std::io::ErrorKind::PermissionDenied,
        "{error}"
    );
    assert!(bad
        .set_option(SocketOption::SocksUsername("u".repeat(256)))
        .is_err());
}

/// A STREAM socket through the proxy: after the proxy's handshake the bytes are the
/// application's own both ways (no ZMTP greeting reaches the raw server).
async fn stream_through_a_socks5_proxy<P: Proactor>(ctx: Context<P>) {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = target.accept().unwrap();
        let mut first = [0u8; 5];
        s.read_exact(&mut first).unwrap();
        s.write_all(b"200 OK").unwrap();
        first
    });
    let (proxy, seen) = socks_server(None);
    let client = ctx.stream();
    client.set_option(SocketOption::SocksProxy(proxy)).unwrap();
    client.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let note = client.recv().await.unwrap();
    assert_eq!(note.len(), 2);
    assert!(note.frames()[1].is_empty(), "the connect notification");
    let id = note.frames()[0].clone();
    let request: Message = vec![id.clone(), Bytes::from_static(b"GET /")].into();
    client.send(request).await.unwrap();
    let mut got = Vec::new();
    while got.len() < 6 {
        let m = client.recv().await.unwrap();
        assert_eq!(m.frames()[0], id);
        got.extend_from_slice(&m.frames()[1]);
    }
    assert_eq!(got, b"200 OK");
    assert_eq!(
        &server.join().unwrap(),
        b"GET /",
        "raw bytes, not a ZMTP greeting"
    );
    assert_eq!(
        seen.lock().unwrap()[0],
        (1, "127.0.0.1".to_string(), port, None)
    );
}

backend_tests!(
    connects_through_a_socks5_proxy,
    stream_through_a_socks5_proxy
);
