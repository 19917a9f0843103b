//! What a hostile peer can make a session hold, counted in bytes of buffer capacity
//! ([`Session::held_bytes`]) against the bytes it actually sent, with input fed the way
//! the socket reader feeds it: each read lands after the start of a frame the session
//! gave back, in a buffer of its own.

mod common;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::{config, Pair};
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::{Error, Event, PeerMisbehaved, Session, SessionConfig, SocketType};

/// An established ROUTER session (the server of a NULL pair), with `limits` applied to
/// its configuration.
fn server(limits: impl FnOnce(&mut SessionConfig)) -> Session {
    let mut sc = config(SocketType::Router);
    limits(&mut sc);
    let mut p = Pair::null_of(config(SocketType::Dealer), sc);
    p.connect();
    assert!(p.server.session.is_established());
    p.server.session
}

/// An established CURVE DEALER client and ROUTER server, with `limits` applied to the
/// server's configuration.
fn curve_sessions(limits: impl FnOnce(&mut SessionConfig)) -> (Session, Session) {
    let server_keys = CurveKeyPair::from_secret([2; 32]);
    let client_keys = CurveKeyPair::from_secret([1; 32]);
    let mut sc = config(SocketType::Router);
    limits(&mut sc);
    let mut p = Pair::new(
        config(SocketType::Dealer),
        Box::new(CurveClient::new(client_keys, *server_keys.public())),
        sc,
        Box::new(CurveServer::new(server_keys)),
    );
    p.connect();
    assert!(p.server.session.is_established());
    (p.client.session, p.server.session)
}

/// What feeding a stream did.
#[derive(Debug, Default)]
struct Fed {
    /// Bytes fed.
    sent: usize,
    /// The most `held_bytes` reported after a read.
    peak: usize,
    /// Reads after which the buffer was still referenced by something the session
    /// kept (checked only when reads end on frame boundaries).
    pinned: usize,
    error: Option<Error>,
    messages: usize,
}

/// Feeds `wire` in reads of `read` bytes, each into a fresh buffer after the leftover
/// start of a frame, as the socket reader does. With `boundaries`, every read ends on a
/// frame boundary and the test checks that the session keeps no reference to the
/// buffer once it gives it back.
fn feed(s: &mut Session, wire: &[u8], read: usize, boundaries: bool) -> Fed {
    let now = Instant::now();
    let mut fed = Fed::default();
    let mut rest = BytesMut::new();
    for chunk in wire.chunks(read) {
        let mut buf = BytesMut::with_capacity(rest.len() + read);
        buf.extend_from_slice(&rest);
        buf.extend_from_slice(chunk);
        s.handle_input_buf(now, buf);
        fed.sent += chunk.len();
        fed.peak = fed.peak.max(s.held_bytes());
        while let Some(e) = s.poll_event() {
            match e {
                Event::Message(_) => fed.messages += 1,
                Event::Error(e) => fed.error = Some(e),
                _ => {}
            }
        }
        if fed.error.is_some() {
            return fed;
        }
        rest = s.take_recv_buf();
        if boundaries {
            assert!(rest.is_empty(), "the read ended inside a frame");
            // Reclaiming the whole buffer succeeds only if nothing else refers to it.
            if !rest.try_reclaim(read) {
                fed.pinned += 1;
            }
        }
    }
    fed
}

/// The bound every case must keep: twice what was sent, plus one read buffer and the
/// few kilobytes a session holds anyway.
fn bound(sent: usize, read: usize) -> usize {
    2 * sent + read + 16 * 1024
}

/// A message that never ends: `n` frames with MORE, each of `size` bytes.
fn endless(n: usize, size: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(n * (size + 2));
    for i in 0..n {
        wire.extend_from_slice(&[0x01, size as u8]);
        wire.extend(std::iter::repeat_n(i as u8, size));
    }
    wire
}

#[test]
fn empty_frames_of_an_endless_message_cost_less_than_they_took_to_send() {
    // 4 MiB of empty MORE frames; the frame cap is off to see the memory alone.
    let mut s = server(|c| c.max_message_frames = None);
    let fed = feed(&mut s, &endless(2 << 20, 0), 64 * 1024, true);
    assert!(fed.error.is_none() && fed.messages == 0);
    assert_eq!(fed.pinned, 0, "frames kept receive buffers alive");
    // One byte per 2-byte frame, in a buffer grown by doubling.
    assert!(fed.peak <= fed.sent + 64 * 1024, "{fed:?}");
    assert!(fed.peak <= bound(fed.sent, 64 * 1024), "{fed:?}");
}

#[test]
fn small_frames_of_an_endless_message_stay_within_twice_the_bytes_sent() {
    for size in [1usize, 10, 61, 62, 200, 255] {
        let mut s = server(|c| c.max_message_frames = None);
        let frame = size + 2;
        // Reads of a whole number of frames, about 64 KiB each.
        let read = (64 * 1024 / frame) * frame;
        let fed = feed(&mut s, &endless(3 << 20 >> size.ilog2(), size), read, true);
        assert!(fed.error.is_none(), "{fed:?}");
        assert_eq!(
            fed.pinned, 0,
            "size {size}: frames kept receive buffers alive"
        );
        assert!(fed.peak <= bound(fed.sent, read), "size {size}: {fed:?}");
    }
}

#[test]
fn mixed_frames_cut_anywhere_stay_within_twice_the_bytes_sent() {
    // Sizes from 0 to 70,000 bytes (small ones copied, large ones kept as views), the
    // reads cutting frames at arbitrary places.
    let mut wire = Vec::new();
    let mut x = 12345u64;
    while wire.len() < 6 << 20 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let size = match x >> 60 {
            0 => (x >> 20) as usize % 70_000,
            1..=3 => (x >> 20) as usize % 1000,
            _ => (x >> 20) as usize % 40,
        };
        if size > 255 {
            wire.push(0x03);
            wire.extend_from_slice(&(size as u64).to_be_bytes());
        } else {
            wire.extend_from_slice(&[0x01, size as u8]);
        }
        wire.resize(wire.len() + size, 0x42);
    }
    for read in [8 * 1024, 64 * 1024, 1000 * 1000] {
        let mut s = server(|c| c.max_message_frames = None);
        let fed = feed(&mut s, &wire, read, false);
        assert!(fed.error.is_none(), "{fed:?}");
        assert!(fed.peak <= bound(fed.sent, read), "read {read}: {fed:?}");
    }
}

#[test]
fn a_huge_announced_frame_costs_what_was_sent_not_what_was_announced() {
    let mut huge = vec![0x02];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.resize(8 << 20, 0x17);
    let mut s = server(|_| {});
    let fed = feed(&mut s, &huge, 64 * 1024, false);
    assert!(fed.error.is_none());
    assert!(fed.peak <= bound(fed.sent, 64 * 1024), "{fed:?}");
}

#[test]
fn limits_refuse_from_the_header_and_keep_memory_below_them() {
    // The same endless message meets the default frame cap.
    let mut s = server(|_| {});
    let fed = feed(&mut s, &endless(1 << 20, 0), 64 * 1024, true);
    assert_eq!(
        fed.error,
        Some(Error::PeerMisbehaved(PeerMisbehaved::TooManyFrames {
            max: ringmq_zmtp::DEFAULT_MAX_MESSAGE_FRAMES
        }))
    );
    assert!(fed.sent <= 2 * 65_536 + 64 * 1024, "{fed:?}");
    // A frame announced over MAXMSGSIZE: refused before anything of it is held.
    let mut s = server(|c| c.max_message_size = Some(1 << 20));
    let mut huge = vec![0x02];
    huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
    huge.resize(1 << 20, 0);
    let fed = feed(&mut s, &huge, 64 * 1024, false);
    assert_eq!(
        fed.error,
        Some(Error::PeerMisbehaved(PeerMisbehaved::MessageTooLarge {
            size: 1 << 40,
            max: 1 << 20
        }))
    );
    assert_eq!(fed.sent, 64 * 1024, "refused at the first read");
    // Frames under MAXMSGSIZE each, crossing it together: refused at the crossing
    // header, with at most the limit held.
    let mut s = server(|c| c.max_message_size = Some(1 << 20));
    let fed = feed(&mut s, &endless(1 << 20, 200), 64 * 1024, false);
    assert_eq!(
        fed.error,
        Some(Error::PeerMisbehaved(PeerMisbehaved::MessageTooLarge {
            size: (1 << 20) + 200 - (1 << 20) % 200,
            max: 1 << 20
        }))
    );
    assert!(fed.peak <= bound(1 << 20, 64 * 1024), "{fed:?}");
    // A session that failed holds nothing of the peer's input.
    assert!(s.held_bytes() < 16 * 1024, "{}", s.held_bytes());
}

#[test]
fn delivered_messages_leave_nothing_behind() {
    // Many complete multipart messages: between them the session holds only the
    // receive buffer it is about to give back.
    let mut wire = Vec::new();
    for i in 0..20_000u32 {
        let m = [&b"id"[..], b"", &i.to_be_bytes()];
        for (j, f) in m.iter().enumerate() {
            wire.extend_from_slice(&[u8::from(j < 2), f.len() as u8]);
            wire.extend_from_slice(f);
        }
    }
    let mut s = server(|_| {});
    let fed = feed(&mut s, &wire, 64 * 1024, false);
    assert_eq!(fed.messages, 20_000);
    assert!(fed.peak <= 2 * 64 * 1024 + 16 * 1024, "{fed:?}");
    // Fed by copy, a session keeps no receive buffer between inputs.
    let mut s = server(|_| {});
    s.handle_input(Instant::now(), &wire[..10_000 * 12]);
    let delivered = std::iter::from_fn(|| s.poll_event()).count();
    assert_eq!(delivered, 10_000);
    // (The output keeps its small batch buffer.)
    assert!(s.held_bytes() <= 4096 + 1024, "{}", s.held_bytes());
}

#[test]
fn an_idle_session_releases_its_output_buffers() {
    let mut s = server(|_| {});
    let body = bytes::Bytes::from(vec![7u8; 100]);
    // A busy stream: while a batch is written the next one is queued.
    for _ in 0..1000 {
        s.send(std::slice::from_ref(&body)).unwrap();
    }
    for _ in 0..20 {
        let t = s.poll_transmit().unwrap();
        for _ in 0..1000 {
            s.send(std::slice::from_ref(&body)).unwrap();
        }
        s.recycle_transmit(t.chunks);
    }
    let busy = s.held_bytes();
    assert!(busy >= 64 * 1024, "{busy}");
    // The last batch written, nothing queued since: idle.
    let t = s.poll_transmit().unwrap();
    s.recycle_transmit(t.chunks);
    let idle = s.held_bytes();
    assert!(idle <= 4096 + 1024, "{idle} bytes held by an idle session");
}

#[test]
fn curve_boxes_of_an_endless_message_stay_within_twice_the_bytes_sent() {
    // Each frame is a MESSAGE box opened where it lies in the receive buffer: the
    // packing of an incomplete message applies to what was opened, so no opened frame
    // keeps a receive buffer alive.
    for size in [0usize, 10, 200] {
        let (mut client, mut s) = curve_sessions(|c| c.max_message_frames = None);
        let n = 10_000;
        let parts = vec![Bytes::from(vec![5u8; size]); n + 1];
        client.send(&parts).unwrap();
        let mut wire = client.poll_transmit().unwrap().to_vec();
        // Name, nonce, tag and flags around each body; short frames on the wire.
        let frame = 2 + 33 + size;
        assert_eq!(wire.len(), (n + 1) * frame);
        // The last box never arrives.
        wire.truncate(n * frame);
        let read = (64 * 1024 / frame) * frame;
        let fed = feed(&mut s, &wire, read, true);
        assert!(fed.error.is_none() && fed.messages == 0, "{fed:?}");
        assert_eq!(
            fed.pinned, 0,
            "size {size}: opened frames kept receive buffers alive"
        );
        assert!(fed.peak <= bound(fed.sent, read), "size {size}: {fed:?}");
    }
}
