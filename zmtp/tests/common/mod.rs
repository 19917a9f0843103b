//! In-memory test harness: two [`Session`]s wired back to back with a fake clock,
//! stepped until idle (in the style of quinn-proto's `tests/util.rs` `Pair`).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_zmtp::mechanism::{AuthVerdict, Credentials, Mechanism, Null};
use ringmq_zmtp::{Error, Event, Metadata, Session, SessionConfig, SocketType};

/// Decides what a server's authenticator answers.
pub type Authenticator = Box<dyn FnMut(&Credentials) -> AuthVerdict>;

/// One end of the pair.
pub struct Side {
    pub session: Session,
    pub events: Vec<Event>,
    pub auth: Option<Authenticator>,
    /// When set, everything this side transmits is dropped (a peer gone silent).
    pub silent: bool,
    /// Every byte this side transmitted, for wire assertions.
    pub wire: Vec<u8>,
}

impl Side {
    fn new(session: Session) -> Self {
        Side {
            session,
            events: Vec::new(),
            auth: None,
            silent: false,
            wire: Vec::new(),
        }
    }

    /// Messages received so far.
    pub fn messages(&self) -> Vec<Vec<Bytes>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.to_vec()),
                _ => None,
            })
            .collect()
    }

    /// The error the session failed with, if any.
    pub fn error(&self) -> Option<&Error> {
        self.events.iter().find_map(|e| match e {
            Event::Error(e) => Some(e),
            _ => None,
        })
    }

    /// The peer metadata reported by HandshakeSucceeded.
    pub fn peer_metadata(&self) -> Option<&Metadata> {
        self.events.iter().find_map(|e| match e {
            Event::HandshakeSucceeded { metadata, .. } => Some(metadata),
            _ => None,
        })
    }

    /// Takes the events collected so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// Two sessions and a clock.
pub struct Pair {
    pub now: Instant,
    pub client: Side,
    pub server: Side,
    /// Input is delivered in pieces of this many bytes (exercises incremental parsing).
    pub chunk: usize,
}

pub fn allow_all() -> Authenticator {
    Box::new(|_| AuthVerdict::Allow {
        user_id: Bytes::from_static(b"user"),
        metadata: Metadata::new(),
    })
}

pub fn config(socket_type: SocketType) -> SessionConfig {
    SessionConfig::new(socket_type)
}

impl Pair {
    /// A pair with these configurations and mechanisms (any [`Mechanism`], so CURVE
    /// plugs in). The server answers authentication requests with `allow_all` unless
    /// [`Side::auth`] is replaced.
    pub fn new(
        client_cfg: SessionConfig,
        client_mech: Box<dyn Mechanism>,
        server_cfg: SessionConfig,
        server_mech: Box<dyn Mechanism>,
    ) -> Pair {
        let now = Instant::now();
        let client = Session::new(client_cfg, client_mech, now).expect("client config");
        let server = Session::new(server_cfg, server_mech, now).expect("server config");
        let mut server = Side::new(server);
        server.auth = Some(allow_all());
        Pair {
            now,
            client: Side::new(client),
            server,
            chunk: usize::MAX,
        }
    }

    /// DEALER client, ROUTER server, both with these mechanisms.
    pub fn with(client_mech: Box<dyn Mechanism>, server_mech: Box<dyn Mechanism>) -> Pair {
        Self::new(
            config(SocketType::Dealer),
            client_mech,
            config(SocketType::Router),
            server_mech,
        )
    }

    /// NULL DEALER / ROUTER.
    pub fn null() -> Pair {
        Self::with(Box::new(Null::new()), Box::new(Null::new()))
    }

    /// A NULL pair with these configurations.
    pub fn null_of(client_cfg: SessionConfig, server_cfg: SessionConfig) -> Pair {
        Self::new(
            client_cfg,
            Box::new(Null::new()),
            server_cfg,
            Box::new(Null::new()),
        )
    }

    fn pump_events(side: &mut Side, now: Instant) -> bool {
        let mut any = false;
        while let Some(event) = side.session.poll_event() {
            any = true;
            if let Event::NeedsAuth(credentials) = &event {
                if let Some(auth) = side.auth.as_mut() {
                    let verdict = auth(credentials);
                    let r = side.session.auth_result(now, verdict);
                    // The input that asked may also have failed the session already.
                    assert!(r.is_ok() || side.session.is_failed(), "{r:?}");
                }
            }
            side.events.push(event);
        }
        any
    }

    fn transfer(from: &mut Side, to: &mut Side, now: Instant, chunk: usize) -> bool {
        let Some(t) = from.session.poll_transmit() else {
            return false;
        };
        let bytes = t.to_vec();
        assert_eq!(bytes.len(), t.len());
        from.wire.extend_from_slice(&bytes);
        if from.silent {
            return true;
        }
        for (i, piece) in bytes.chunks(chunk.max(1)).enumerate() {
            // Rotate through the three input paths.
            match i % 3 {
                0 => to.session.handle_input(now, piece),
                1 => to.session.handle_input_buf(now, BytesMut::from(piece)),
                _ => {
                    // A message is handed over directly only while no event waits in
                    // the session (events of earlier pieces are still queued): it
                    // belongs right after what `events` holds now.
                    let events = &mut to.events;
                    to.session
                        .handle_input_buf_with(now, BytesMut::from(piece), |m| {
                            events.push(Event::Message(m))
                        });
                }
            }
        }
        true
    }

    /// One round: events, then bytes both ways. True when anything happened.
    pub fn step(&mut self) -> bool {
        let now = self.now;
        let mut any = Self::pump_events(&mut self.client, now);
        any |= Self::pump_events(&mut self.server, now);
        any |= Self::transfer(&mut self.client, &mut self.server, now, self.chunk);
        any |= Self::transfer(&mut self.server, &mut self.client, now, self.chunk);
        any
    }

    /// Steps until nothing moves.
    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair did not become idle");
    }

    /// Advances the clock to `now + d`, firing every timer that falls due on the way
    /// (in order) and driving the pair after each.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next = [
                self.client.session.poll_timeout(),
                self.server.session.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .filter(|&t| t <= end)
            .min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            let now = self.now;
            self.client.session.handle_timeout(now);
            self.server.session.handle_timeout(now);
            self.drive();
        }
        self.now = end;
        self.drive();
    }

    /// Drives and asserts both sides completed the handshake.
    pub fn connect(&mut self) {
        self.drive();
        assert!(
            self.client.session.is_established(),
            "client: {:?}",
            self.client.events
        );
        assert!(
            self.server.session.is_established(),
            "server: {:?}",
            self.server.events
        );
    }
}

/// Shorthand for a message of static parts.
pub fn msg(parts: &[&'static [u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::from_static(p)).collect()
}
