//! The partial-message and idle deadlines (ringmq-specific options), on two sessions
//! back to back with a virtual clock. Raw frames are injected into the server as if
//! the client had sent them, so a test controls exactly when each byte arrives.

mod common;

use std::time::Duration;

use common::{config, Pair};
use ringmq_zmtp::{Error, SocketType};

const MS: Duration = Duration::from_millis(1);

/// A connected DEALER -> ROUTER pair; the server has these deadlines.
fn pair(partial: Option<u64>, idle: Option<u64>, server_type: SocketType) -> Pair {
    let mut sc = config(server_type);
    sc.partial_message_timeout = partial.map(Duration::from_millis);
    sc.idle_timeout = idle.map(Duration::from_millis);
    let client_type = if server_type == SocketType::Pub {
        SocketType::Sub
    } else {
        SocketType::Dealer
    };
    let mut p = Pair::null_of(config(client_type), sc);
    p.connect();
    p
}

/// Feeds raw bytes to the server as if the client had sent them, then drives.
fn feed(p: &mut Pair, bytes: &[u8]) {
    let now = p.now;
    p.server.session.handle_input(now, bytes);
    p.drive();
}

#[test]
fn a_frame_left_unfinished_fails_at_the_deadline() {
    let mut p = pair(Some(1000), None, SocketType::Router);
    assert_eq!(p.server.session.poll_timeout(), None, "idle: no timer");
    // A 100-byte frame: header and 10 bytes of body.
    feed(&mut p, &[0x00, 100]);
    feed(&mut p, &[7; 10]);
    assert_eq!(p.server.session.poll_timeout(), Some(p.now + 1000 * MS));
    // More bytes of the same frame do not move the deadline.
    p.advance(600 * MS);
    feed(&mut p, &[7; 10]);
    p.advance(399 * MS);
    assert_eq!(p.server.error(), None);
    p.advance(MS);
    assert_eq!(p.server.error(), Some(&Error::PartialMessageTimeout));
    assert_eq!(p.server.session.poll_timeout(), None);
    assert!(p.server.messages().is_empty());
}

#[test]
fn a_multipart_message_trickled_frame_by_frame_fails_at_the_deadline() {
    let mut p = pair(Some(1000), None, SocketType::Router);
    // One MORE frame every 200 ms: each frame is whole, the message never is.
    for _ in 0..4 {
        feed(&mut p, &[0x01, 1, b'x']);
        p.advance(200 * MS);
    }
    assert_eq!(p.server.error(), None);
    p.advance(200 * MS);
    assert_eq!(p.server.error(), Some(&Error::PartialMessageTimeout));
}

#[test]
fn messages_that_complete_in_time_never_trip_it() {
    let mut p = pair(Some(1000), None, SocketType::Router);
    // A stream in which every input ends inside the next message, for 20 s: each
    // delivered message restarts the clock of the one under way.
    feed(&mut p, &[0x00, 4, b'a']);
    for _ in 0..40 {
        p.advance(500 * MS);
        // The rest of the message, then the start of the next.
        feed(&mut p, &[b'b', b'c', b'd', 0x00, 4, b'a']);
    }
    assert_eq!(p.server.error(), None);
    assert_eq!(p.server.messages().len(), 40);
    // Completing the last one leaves no deadline.
    feed(&mut p, b"bcd");
    assert_eq!(p.server.session.poll_timeout(), None);
    p.advance(Duration::from_secs(3600));
    assert_eq!(p.server.error(), None);
    // Without the option, an unfinished frame is kept forever (libzmq's behaviour).
    let mut p = pair(None, None, SocketType::Router);
    feed(&mut p, &[0x00, 100, 1]);
    p.advance(Duration::from_secs(3600));
    assert_eq!(p.server.error(), None);
}

#[test]
fn held_input_suspends_the_deadlines() {
    let mut p = pair(Some(1000), Some(5000), SocketType::Router);
    feed(&mut p, &[0x00, 100, 1]);
    // The owner stopped reading (RCVHWM): the peer cannot progress, no deadline runs.
    p.server.session.hold_input_deadlines();
    assert_eq!(p.server.session.poll_timeout(), None);
    p.advance(Duration::from_secs(60));
    assert_eq!(p.server.error(), None);
    // Reading again restarts both from now.
    let now = p.now;
    p.server.session.release_input_deadlines(now);
    assert_eq!(p.server.session.poll_timeout(), Some(now + 1000 * MS));
    p.advance(999 * MS);
    assert_eq!(p.server.error(), None);
    p.advance(MS);
    assert_eq!(p.server.error(), Some(&Error::PartialMessageTimeout));
}

#[test]
fn a_silent_peer_fails_the_idle_deadline() {
    let mut p = pair(None, Some(2000), SocketType::Router);
    let start = p.now;
    assert_eq!(p.server.session.poll_timeout(), Some(start + 2000 * MS));
    // Messages move it.
    p.advance(1500 * MS);
    p.client.session.send(&[b"hi".as_slice().into()]).unwrap();
    p.drive();
    assert_eq!(p.server.messages().len(), 1);
    p.advance(1999 * MS);
    assert_eq!(p.server.error(), None);
    p.advance(MS);
    assert_eq!(p.server.error(), Some(&Error::IdleTimeout));
    assert_eq!(p.server.session.poll_timeout(), None);
}

#[test]
fn heartbeats_keep_a_connection_alive_but_not_from_the_idle_deadline() {
    // The client pings every 100 ms, the server answers: liveness, not activity.
    let mut sc = config(SocketType::Router);
    sc.idle_timeout = Some(Duration::from_secs(1));
    let mut cc = config(SocketType::Dealer);
    cc.heartbeat_ivl = Some(100 * MS);
    let mut p = Pair::null_of(cc, sc);
    p.connect();
    let pinged = p.client.wire.len();
    p.advance(999 * MS);
    assert!(p.client.wire.len() > pinged + 5 * 8, "PINGs flowed");
    assert_eq!(p.server.error(), None);
    p.advance(MS);
    assert_eq!(p.server.error(), Some(&Error::IdleTimeout));
}

#[test]
fn subscriptions_count_as_activity() {
    let mut p = pair(None, Some(1000), SocketType::Pub);
    for _ in 0..5 {
        p.advance(900 * MS);
        p.client.session.subscribe(b"topic").unwrap();
        p.drive();
    }
    assert_eq!(p.server.error(), None);
    p.advance(Duration::from_secs(1));
    assert_eq!(p.server.error(), Some(&Error::IdleTimeout));
}
