//! A whole `Session` (greeting, mechanism, framing) over a blocking `TcpStream` against
//! real libzmq (4.3.5 through pyzmq): NULL, PLAIN and CURVE, ringmq as client and as
//! server, multipart messages echoed both ways. This proves byte compatibility before
//! the socket layer exists.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::{Null, PlainClient, PlainServer};
use ringmq_zmtp::{z85, SocketType};
use ringmq_zmtp::{AuthVerdict, Credentials, Event, Mechanism, Metadata, Session, SessionConfig};

mod pyzmq;
use pyzmq::Peer;

/// A session and its stream, driven synchronously.
struct Conn {
    stream: TcpStream,
    session: Session,
}

impl Conn {
    fn new(stream: TcpStream, mechanism: Box<dyn Mechanism>) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut config = SessionConfig::new(SocketType::Dealer);
        config
            .metadata
            .insert("X-Test", Bytes::from_static(b"ringmq"));
        let session = Session::new(config, mechanism, Instant::now()).unwrap();
        Conn { stream, session }
    }

    fn flush(&mut self) {
        while let Some(t) = self.session.poll_transmit() {
            for chunk in &t.chunks {
                self.stream.write_all(chunk).unwrap();
            }
        }
    }

    /// The next event, feeding bytes and timeouts until one comes (10 s at most).
    fn next_event(&mut self) -> Event {
        let give_up = Instant::now() + Duration::from_secs(10);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            self.flush();
            if let Some(e) = self.session.poll_event() {
                return e;
            }
            let now = Instant::now();
            assert!(now < give_up, "no event from the session within 10 s");
            if self.session.poll_timeout().is_some_and(|t| t <= now) {
                self.session.handle_timeout(now);
                continue;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("libzmq closed the connection"),
                Ok(n) => self.session.handle_input(Instant::now(), &buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Runs the handshake, answering an authentication request with `verdict`.
    fn handshake(&mut self, expect_credentials: Option<Credentials>) -> Metadata {
        loop {
            match self.next_event() {
                Event::NeedsAuth(credentials) => {
                    assert_eq!(Some(credentials), expect_credentials.clone());
                    let verdict = AuthVerdict::Allow {
                        user_id: Bytes::from_static(b"alice"),
                        metadata: Metadata::new(),
                    };
                    self.session.auth_result(Instant::now(), verdict).unwrap();
                }
                Event::HandshakeSucceeded {
                    metadata,
                    socket_type,
                    peer_minor,
                } => {
                    assert_eq!(socket_type, SocketType::Dealer);
                    assert_eq!(peer_minor, 1, "libzmq 4.3 speaks ZMTP 3.1");
                    return metadata;
                }
                other => panic!("unexpected event during the handshake: {other:?}"),
            }
        }
    }

    /// Sends multipart messages to the echoing peer and checks each comes back whole.
    fn echo_round_trips(&mut self) {
        let big = Bytes::from(vec![0xA5u8; 300_000]);
        let messages: Vec<Vec<Bytes>> = vec![
            vec![Bytes::from_static(b"hello")],
            vec![Bytes::new()],
            vec![Bytes::new(), Bytes::from_static(b"a"), Bytes::new()],
            vec![big.clone(), Bytes::from_static(b"tail")],
            (0..50).map(|i| Bytes::from(vec![i as u8; i])).collect(),
            vec![Bytes::from_static(b"END")],
        ];
        for m in &messages {
            self.session.send(m).unwrap();
        }
        for m in &messages {
            match self.next_event() {
                Event::Message(got) => assert_eq!(&got, m),
                other => panic!("expected the echo of {} frames, got {other:?}", m.len()),
            }
        }
    }
}

fn echo_peer(extra: &[&str], bind: Option<&str>) -> Peer {
    let mut args = vec!["--type", "DEALER"];
    match bind {
        Some(connect_to) => args.extend(["--connect", connect_to]),
        None => args.extend(["--bind", "tcp://127.0.0.1:*"]),
    }
    args.extend_from_slice(extra);
    args.push("echo");
    Peer::spawn(&args)
}

/// ringmq connects to a libzmq peer that binds.
fn as_client(peer_args: &[&str], mechanism: Box<dyn Mechanism>) {
    let peer = echo_peer(peer_args, None);
    let stream = TcpStream::connect(peer.tcp_addr()).unwrap();
    let mut conn = Conn::new(stream, mechanism);
    let metadata = conn.handshake(None);
    assert_eq!(metadata.get("Socket-Type").unwrap(), &b"DEALER"[..]);
    conn.echo_round_trips();
    peer.wait_success();
}

/// A libzmq peer connects to ringmq, which listens.
fn as_server(
    peer_args: &[&str],
    mechanism: Box<dyn Mechanism>,
    credentials: Option<Credentials>,
) -> Metadata {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
    let peer = echo_peer(peer_args, Some(&endpoint));
    let (stream, _) = listener.accept().unwrap();
    let mut conn = Conn::new(stream, mechanism);
    let metadata = conn.handshake(credentials);
    conn.echo_round_trips();
    peer.wait_success();
    metadata
}

#[test]
fn null_client() {
    as_client(&[], Box::new(Null::new()));
}

#[test]
fn null_server() {
    let md = as_server(&[], Box::new(Null::new()), None);
    assert_eq!(md.get("Socket-Type").unwrap(), &b"DEALER"[..]);
}

#[test]
fn plain_client() {
    as_client(
        &[
            "--mechanism",
            "plain",
            "--plain-server",
            "--zap-plain",
            "alice:secret",
        ],
        Box::new(PlainClient::new("alice", "secret").unwrap()),
    );
}

#[test]
fn plain_server() {
    let md = as_server(
        &[
            "--mechanism",
            "plain",
            "--username",
            "alice",
            "--password",
            "secret",
        ],
        Box::new(PlainServer::new()),
        Some(Credentials::Plain {
            username: Bytes::from_static(b"alice"),
            password: Bytes::from_static(b"secret"),
        }),
    );
    assert_eq!(md.get("User-Id").unwrap(), &b"alice"[..]);
}

#[test]
fn curve_client() {
    let (server_public, server_secret) = z85::curve_keypair();
    let server_key = z85::decode_key(&server_public).unwrap();
    as_client(
        &[
            "--mechanism",
            "curve",
            "--curve-server",
            // `--flag=KEY`: a Z85 key may start with '-', which argparse would take for
            // an option (the peer then exited before READY, about once in 85 runs).
            &format!("--public-key={server_public}"),
            &format!("--secret-key={server_secret}"),
        ],
        Box::new(CurveClient::new(CurveKeyPair::generate(), server_key)),
    );
}

#[test]
fn curve_server() {
    let server = CurveKeyPair::generate();
    let server_public = z85::encode(server.public()).unwrap();
    let (client_public, client_secret) = z85::curve_keypair();
    let md = as_server(
        &[
            "--mechanism",
            "curve",
            &format!("--public-key={client_public}"),
            &format!("--secret-key={client_secret}"),
            &format!("--server-key={server_public}"),
        ],
        Box::new(CurveServer::new(server)),
        Some(Credentials::Curve {
            public_key: z85::decode_key(&client_public).unwrap(),
        }),
    );
    assert_eq!(md.get("User-Id").unwrap(), &b"alice"[..]);
}

/// libzmq's PING (HEARTBEAT_IVL on its side) is answered by the session, so libzmq keeps
/// the connection through several heartbeat periods.
#[test]
fn libzmq_heartbeats_are_answered() {
    let peer = echo_peer(&["--heartbeat-ivl", "100"], None);
    let stream = TcpStream::connect(peer.tcp_addr()).unwrap();
    let mut conn = Conn::new(stream, Box::new(Null::new()));
    conn.handshake(None);
    // libzmq's HEARTBEAT_TIMEOUT defaults to the interval: an unanswered PING would
    // drop the connection after ~200 ms. Stay quiet for 1 s while pumping input.
    let until = Instant::now() + Duration::from_secs(1);
    let mut buf = vec![0u8; 4096];
    while Instant::now() < until {
        conn.flush();
        assert!(conn.session.poll_event().is_none(), "no events expected");
        match conn.stream.read(&mut buf) {
            Ok(0) => panic!("libzmq dropped us: PING not answered"),
            Ok(n) => conn.session.handle_input(Instant::now(), &buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("read: {e}"),
        }
    }
    conn.echo_round_trips();
    peer.wait_success();
}
