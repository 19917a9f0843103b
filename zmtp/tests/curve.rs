//! CURVE against real libzmq (4.3.5 through pyzmq), over TCP, both ways round.
//!
//! Only the mechanism is ringmq's here: the greeting and the frame headers are written
//! by hand, so these tests exercise exactly the CURVE commands and MESSAGE boxes. The
//! peer is `tests/peers/pyzmq_peer.py`; the Python interpreter comes from
//! `RINGMQ_PYTHON` or the workspace's `.venv` (`scripts/test.sh` creates it). Without it
//! the tests FAIL, saying how to install it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::{AuthVerdict, Credentials, FrameParts, HandshakeStatus, Mechanism};
use ringmq_zmtp::metadata::{Metadata, IDENTITY, SOCKET_TYPE};
use ringmq_zmtp::z85;

mod pyzmq;
use pyzmq::{python, Peer};

fn greeting(as_server: bool) -> [u8; 64] {
    let mut g = [0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..17].copy_from_slice(b"CURVE");
    g[32] = u8::from(as_server);
    g
}

fn exchange_greetings(s: &mut TcpStream, as_server: bool) {
    s.write_all(&greeting(as_server)).unwrap();
    let mut peer = [0u8; 64];
    s.read_exact(&mut peer).unwrap();
    assert_eq!(peer[0], 0xFF);
    assert_eq!(&peer[12..17], b"CURVE");
    // libzmq 4.3.5 always sends as-server = 0 (it zero-fills the 32 bytes after the
    // mechanism name), even as a CURVE server: the bit must not be checked.
    assert_eq!(peer[32], 0, "libzmq's as-server byte");
}

fn write_frame(s: &mut TcpStream, f: &FrameParts) {
    let mut flags = u8::from(f.more) | if f.command { 0x04 } else { 0 };
    let mut head = Vec::with_capacity(9);
    if f.body.len() > 255 {
        flags |= 0x02;
        head.push(flags);
        head.extend_from_slice(&(f.body.len() as u64).to_be_bytes());
    } else {
        head.push(flags);
        head.push(f.body.len() as u8);
    }
    s.write_all(&head).unwrap();
    s.write_all(&f.body).unwrap();
}

fn read_frame(s: &mut TcpStream) -> FrameParts {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags).unwrap();
    let len = if flags[0] & 0x02 != 0 {
        let mut l = [0u8; 8];
        s.read_exact(&mut l).unwrap();
        u64::from_be_bytes(l) as usize
    } else {
        let mut l = [0u8; 1];
        s.read_exact(&mut l).unwrap();
        l[0] as usize
    };
    assert!(len < 1 << 20, "frame of {len} bytes");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    FrameParts {
        more: flags[0] & 0x01 != 0,
        command: flags[0] & 0x04 != 0,
        body: body.into(),
    }
}

fn command(body: Bytes) -> FrameParts {
    FrameParts {
        more: false,
        command: true,
        body,
    }
}

fn read_command(s: &mut TcpStream) -> Bytes {
    let f = read_frame(s);
    assert!(f.command, "handshake frames are commands");
    f.body
}

fn dealer_metadata() -> Metadata {
    let mut m = Metadata::new();
    m.insert(SOCKET_TYPE, Bytes::from_static(b"DEALER"));
    m.insert(IDENTITY, Bytes::new());
    m
}

fn data(more: bool, body: &'static [u8]) -> FrameParts {
    FrameParts {
        more,
        command: false,
        body: Bytes::from_static(body),
    }
}

#[test]
fn curve_client_against_libzmq_server() {
    let (server_public, server_secret) = z85::curve_keypair();
    let (client_public, client_secret) = z85::curve_keypair();
    let peer = Peer::spawn(&[
        "--type",
        "DEALER",
        "--bind",
        "tcp://127.0.0.1:*",
        "--mechanism",
        "curve",
        "--curve-server",
        &format!("--public-key={server_public}"),
        &format!("--secret-key={server_secret}"),
        "echo",
    ]);
    let mut s = TcpStream::connect(peer.tcp_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange_greetings(&mut s, false);

    let keys = CurveKeyPair::from_secret(z85::decode_key(&client_secret).unwrap());
    assert_eq!(z85::encode(keys.public()).unwrap(), client_public);
    let mut client = CurveClient::new(keys, z85::decode_key(&server_public).unwrap());
    let mut out = Vec::new();
    client.start(&dealer_metadata(), &mut out).unwrap();
    let mut status = HandshakeStatus::InProgress;
    while status == HandshakeStatus::InProgress {
        for body in out.drain(..) {
            write_frame(&mut s, &command(body));
        }
        status = client
            .handle_command(read_command(&mut s), &mut out)
            .unwrap();
    }
    let HandshakeStatus::Complete(server_md) = status else {
        panic!("{status:?}")
    };
    assert_eq!(server_md.get(SOCKET_TYPE).unwrap(), &b"DEALER"[..]);

    // An encrypted PING (COMMAND bit inside the box) must get an encrypted PONG.
    let ping = FrameParts {
        more: false,
        command: true,
        body: Bytes::from_static(b"\x04PING\x00\x00ctx"),
    };
    write_frame(&mut s, &client.wrap(ping).unwrap());
    let pong = client.unwrap(read_frame(&mut s)).unwrap();
    assert!(pong.command, "{pong:?}");
    assert_eq!(&pong.body[..], b"\x04PONGctx");

    // A multipart message, echoed back whole: MORE travels inside the box.
    let parts = [
        data(true, b"hello"),
        data(true, &[0x55; 300]),
        data(false, b"END"),
    ];
    for p in &parts {
        let outer = client.wrap(p.clone()).unwrap();
        write_frame(&mut s, &outer);
    }
    for p in &parts {
        let outer = read_frame(&mut s);
        assert!(
            !outer.more && !outer.command,
            "libzmq's MESSAGE frames carry no flags"
        );
        assert_eq!(client.unwrap(outer).unwrap(), *p);
    }
    peer.wait_success();
}

#[test]
fn libzmq_client_against_curve_server() {
    let server_keys = CurveKeyPair::generate();
    let server_public = z85::encode(server_keys.public()).unwrap();
    let (client_public, client_secret) = z85::curve_keypair();
    // (the client's Z85 public key is checked against the credentials below)
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    let peer = Peer::spawn(&[
        "--type",
        "DEALER",
        "--connect",
        &endpoint,
        "--mechanism",
        "curve",
        &format!("--public-key={client_public}"),
        &format!("--secret-key={client_secret}"),
        &format!("--server-key={server_public}"),
        "echo",
    ]);
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange_greetings(&mut s, true);

    let mut server = CurveServer::new(server_keys);
    let mut out = Vec::new();
    server.start(&dealer_metadata(), &mut out).unwrap();
    let mut status = HandshakeStatus::InProgress;
    while status == HandshakeStatus::InProgress {
        status = server
            .handle_command(read_command(&mut s), &mut out)
            .unwrap();
        for body in out.drain(..) {
            write_frame(&mut s, &command(body));
        }
    }
    let HandshakeStatus::NeedsAuth(Credentials::Curve { public_key }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(z85::encode(&public_key).unwrap(), client_public);
    let verdict = AuthVerdict::Allow {
        user_id: Bytes::from_static(b"py"),
        metadata: Metadata::new(),
    };
    let HandshakeStatus::Complete(client_md) = server.auth_result(verdict, &mut out).unwrap()
    else {
        panic!("no completion")
    };
    for body in out.drain(..) {
        write_frame(&mut s, &command(body));
    }
    assert_eq!(client_md.get(SOCKET_TYPE).unwrap(), &b"DEALER"[..]);
    assert_eq!(client_md.get("User-Id").unwrap(), &b"py"[..]);

    let parts = [data(true, b""), data(false, b"END")];
    for p in &parts {
        write_frame(&mut s, &server.wrap(p.clone()).unwrap());
    }
    for p in &parts {
        assert_eq!(server.unwrap(read_frame(&mut s)).unwrap(), *p);
    }
    peer.wait_success();
}

/// Our Z85 key derivation agrees with libzmq's `zmq_curve_public`.
#[test]
fn z85_public_key_matches_libzmq() {
    let (public, secret) = z85::curve_keypair();
    let out = Command::new(python())
        .args([
            "-c",
            "import sys, zmq; print(zmq.curve_public(sys.argv[1].encode()).decode())",
            &secret,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), public);
}
