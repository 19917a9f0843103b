//! Micro-benchmark of the ZMTP frame codec and of a NULL session pair (issue 3).
//!
//! ```text
//! cargo run --release -p ringmq-bench --bin zmtp_codec [-- [--quick] [CASE-SUBSTRING...]]
//! ```
//!
//! Every case runs 5 times; the table shows the median (and the spread). Cases:
//!
//! - **encode 64 B**: 1M frames pushed into a [`FrameEncoder`], taken as a
//!   [`Transmit`] whenever 64 KiB are pending, as a writer does before each vectored
//!   write.
//! - **decode 64 B, 64 KiB reads**: the encoded stream is copied into a receive buffer
//!   64 KiB at a time (standing in for `read`), and [`FrameDecoder::decode`] takes
//!   every whole frame off it before the next read. The copy is included.
//! - **decode 64 B, filled buffer**: the same stream decoded from one buffer that
//!   already holds it all: the decoder alone.
//! - **encode / decode 64 KiB**: the same for 64 KiB frames, reported as GB/s of
//!   payload. Encoding a large frame is zero-copy (its `Bytes` becomes a chunk of the
//!   vectored write), so only the reads' copy costs bandwidth on the decode side.
//! - **session 64 B**: one-part messages through a PUSH/PULL pair of NULL
//!   [`Session`]s: `send`, `poll_transmit`, one copy into a `BytesMut` (the socket),
//!   `handle_input_buf`, `poll_event`, in batches of 64 KiB of wire bytes.
//! - **session 3-part**: the same with three-frame messages shaped like a ROUTER
//!   envelope (5-byte id, empty delimiter, 64-byte body); 64 KiB batches cut messages,
//!   so frames of a message wait across inputs.
//! - **session ping-pong**: one 64-byte message per transmit, which the writer gives
//!   back (`recycle_transmit`) before the next one is sent: the output goes idle after
//!   every message, as with requests and replies.
//! - **CURVE session**: the same as session 64 B through a CURVE pair (issue 17), at
//!   64 B, 1 KiB and 64 KiB: sealing on `send`, opening on `handle_input_buf`, both
//!   sides counted.
//! - **CURVE fan-out**: one message sealed for each of 10 established CURVE sessions
//!   (`send` of the same shared frame into each, as PUB does), then each batch taken;
//!   time per delivery (the receiving side is not included).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ringmq_zmtp::frame::{FrameDecoder, FrameEncoder};
use ringmq_zmtp::mechanism::curve::{CurveClient, CurveKeyPair, CurveServer};
use ringmq_zmtp::mechanism::{AuthVerdict, Mechanism, Null};
use ringmq_zmtp::{Event, Metadata, Session, SessionConfig, SocketType, Transmit};

const READ_SIZE: usize = 64 * 1024;
const WRITE_BATCH: usize = 64 * 1024;
const RUNS: usize = 5;

/// What one run measured: elapsed time for `items` frames / messages of `size` bytes.
#[derive(Clone, Copy)]
struct Sample {
    elapsed: Duration,
    items: usize,
    size: usize,
}

impl Sample {
    fn ns_per_item(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e9 / self.items as f64
    }
    fn gb_per_s(&self) -> f64 {
        (self.items * self.size) as f64 / self.elapsed.as_secs_f64() / 1e9
    }
    fn items_per_s(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64()
    }
}

/// Encodes `count` frames of `payload` in write batches; returns the transmits.
fn encode(payload: &Bytes, count: usize, keep: bool) -> (Duration, Vec<Transmit>) {
    let mut enc = FrameEncoder::new();
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let start = Instant::now();
    for _ in 0..count {
        enc.push_frame(false, false, payload);
        if enc.pending() >= WRITE_BATCH {
            let t = enc.take().expect("pending");
            bytes += t.len();
            if keep {
                out.push(t);
            } else {
                black_box(t);
            }
        }
    }
    if let Some(t) = enc.take() {
        bytes += t.len();
        if keep {
            out.push(t);
        }
    }
    let elapsed = start.elapsed();
    black_box(bytes);
    (elapsed, out)
}

fn wire_of(payload: &Bytes, count: usize) -> Vec<u8> {
    let (_, transmits) = encode(payload, count, true);
    let mut wire = Vec::new();
    for t in transmits {
        for c in t.chunks {
            wire.extend_from_slice(&c);
        }
    }
    wire
}

/// Decodes `wire` read into a receive buffer `READ_SIZE` bytes at a time.
fn decode_reads(wire: &[u8], count: usize, size: usize) -> Duration {
    let dec = FrameDecoder::new(None);
    let start = Instant::now();
    let mut recv = BytesMut::with_capacity(READ_SIZE);
    let mut frames = 0usize;
    for chunk in wire.chunks(READ_SIZE) {
        if recv.capacity() - recv.len() < chunk.len() {
            recv.reserve(chunk.len());
        }
        recv.extend_from_slice(chunk);
        while let Some(f) = dec.decode(&mut recv).expect("valid stream") {
            debug_assert_eq!(f.body.len(), size);
            frames += 1;
            black_box(f);
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(frames, count, "decoded every frame");
    assert!(recv.is_empty());
    elapsed
}

/// Decodes `wire` from one buffer holding all of it.
fn decode_filled(wire: &[u8], count: usize) -> Duration {
    let dec = FrameDecoder::new(None);
    let mut recv = BytesMut::from(wire);
    let mut frames = 0usize;
    let start = Instant::now();
    while let Some(f) = dec.decode(&mut recv).expect("valid stream") {
        frames += 1;
        black_box(f);
    }
    let elapsed = start.elapsed();
    assert_eq!(frames, count, "decoded every frame");
    elapsed
}

/// The security of a session pair.
#[derive(Clone, Copy)]
enum Security {
    Null,
    Curve,
}

fn mechanisms(security: Security) -> (Box<dyn Mechanism>, Box<dyn Mechanism>) {
    match security {
        Security::Null => (Box::new(Null::new()), Box::new(Null::new())),
        Security::Curve => {
            let server = CurveKeyPair::from_secret([2; 32]);
            let client = CurveClient::new(CurveKeyPair::from_secret([1; 32]), *server.public());
            (Box::new(client), Box::new(CurveServer::new(server)))
        }
    }
}

/// Establishes a PUSH/PULL (or `kinds`) pair; the first side is the client.
fn session_pair_of(
    now: Instant,
    security: Security,
    kinds: (SocketType, SocketType),
) -> (Session, Session) {
    let (cm, sm) = mechanisms(security);
    let mut push = Session::new(SessionConfig::new(kinds.0), cm, now).expect("config");
    let mut pull = Session::new(SessionConfig::new(kinds.1), sm, now).expect("config");
    let mut done = 0;
    while done < 2 {
        let a = push.poll_transmit();
        let b = pull.poll_transmit();
        if let Some(t) = a {
            pull.handle_input(now, &t.to_vec());
        }
        if let Some(t) = b {
            push.handle_input(now, &t.to_vec());
        }
        for s in [&mut push, &mut pull] {
            while let Some(e) = s.poll_event() {
                match e {
                    Event::HandshakeSucceeded { .. } => done += 1,
                    Event::NeedsAuth(_) => s
                        .auth_result(
                            now,
                            AuthVerdict::Allow {
                                user_id: Bytes::new(),
                                metadata: Metadata::new(),
                            },
                        )
                        .expect("auth pending"),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    (push, pull)
}

/// Seals `count` messages of `payload` for each of `subs` CURVE sessions (PUB side of
/// a fan-out); returns the time for all of it.
fn fan_out_run(payload: &Bytes, count: usize, subs: usize) -> Duration {
    let now = Instant::now();
    let mut pubs: Vec<Session> = (0..subs)
        .map(|_| session_pair_of(now, Security::Curve, (SocketType::Sub, SocketType::Pub)).1)
        .collect();
    let parts = [payload.clone()];
    let mut bytes = 0usize;
    let start = Instant::now();
    for _ in 0..count {
        for p in &mut pubs {
            p.send(&parts).expect("established");
            if p.pending_transmit() >= WRITE_BATCH {
                let t = p.poll_transmit().expect("queued");
                bytes += t.len();
                p.recycle_transmit(t.chunks);
            }
        }
    }
    let elapsed = start.elapsed();
    black_box(bytes);
    elapsed
}

/// Moves `count` messages of `payload` from PUSH to PULL over `security`.
fn session_run_with(payload: &Bytes, count: usize, security: Security) -> Duration {
    session_run_parts(std::slice::from_ref(payload), count, security)
}

/// Moves `count` messages of `payload` from PUSH to PULL.
fn session_run(payload: &Bytes, count: usize) -> Duration {
    session_run_parts(std::slice::from_ref(payload), count, Security::Null)
}

/// Moves `count` messages of these frames from PUSH to PULL over `security`.
fn session_run_parts(parts: &[Bytes], count: usize, security: Security) -> Duration {
    let now = Instant::now();
    let (mut push, mut pull) = session_pair_of(now, security, (SocketType::Push, SocketType::Pull));
    let mut received = 0usize;
    let start = Instant::now();
    let mut sent = 0;
    while sent < count {
        while sent < count && push.pending_transmit() < WRITE_BATCH {
            push.send(parts).expect("established");
            sent += 1;
        }
        let t = push.poll_transmit().expect("queued");
        // The socket: one copy from the writer's chunks into the reader's buffer.
        let mut buf = BytesMut::with_capacity(t.len());
        for c in &t.chunks {
            buf.extend_from_slice(c);
        }
        push.recycle_transmit(t.chunks);
        pull.handle_input_buf(now, buf);
        while let Some(e) = pull.poll_event() {
            match e {
                Event::Message(m) => {
                    received += 1;
                    black_box(m);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(received, count, "every message arrived");
    elapsed
}

/// Moves `count` messages of `payload` one per transmit, giving each transmit back.
fn session_ping_pong(payload: &Bytes, count: usize) -> Duration {
    let now = Instant::now();
    let (mut push, mut pull) =
        session_pair_of(now, Security::Null, (SocketType::Push, SocketType::Pull));
    let parts = [payload.clone()];
    let mut received = 0usize;
    let start = Instant::now();
    for _ in 0..count {
        push.send(&parts).expect("established");
        let t = push.poll_transmit().expect("queued");
        // Like the socket's reader: receive after what the session gave back, into a
        // buffer of at least 8 KiB.
        let mut buf = pull.take_recv_buf();
        if buf.capacity() - buf.len() < t.len() {
            buf.reserve(t.len().max(8 * 1024));
        }
        for c in &t.chunks {
            buf.extend_from_slice(c);
        }
        push.recycle_transmit(t.chunks);
        pull.handle_input_buf(now, buf);
        while let Some(e) = pull.poll_event() {
            match e {
                Event::Message(m) => {
                    received += 1;
                    black_box(m);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let elapsed = start.elapsed();
    assert_eq!(received, count, "every message arrived");
    elapsed
}

fn median(mut samples: Vec<Sample>, key: impl Fn(&Sample) -> f64) -> (f64, f64, f64) {
    samples.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let values: Vec<f64> = samples.iter().map(key).collect();
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    // Other arguments select cases whose name contains them.
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let small_count = if quick { 100_000 } else { 1_000_000 };
    let large_count = if quick { 2_000 } else { 20_000 };
    let small = Bytes::from(vec![0xAB; 64]);
    let large = Bytes::from(vec![0xCD; 64 * 1024]);
    let kib = Bytes::from(vec![0xEF; 1024]);
    let small_wire = wire_of(&small, small_count);
    let envelope = [
        Bytes::from_static(b"id-42"),
        Bytes::new(),
        Bytes::from(vec![0xEF; 64]),
    ];
    let large_wire = wire_of(&large, large_count);

    type Case<'a> = (&'a str, usize, usize, Box<dyn Fn() -> Duration + 'a>);
    let cases: Vec<Case<'_>> = vec![
        (
            "encode 64 B",
            small_count,
            64,
            Box::new(|| encode(&small, small_count, false).0),
        ),
        (
            "decode 64 B, 64 KiB reads",
            small_count,
            64,
            Box::new(|| decode_reads(&small_wire, small_count, 64)),
        ),
        (
            "decode 64 B, filled buffer",
            small_count,
            64,
            Box::new(|| decode_filled(&small_wire, small_count)),
        ),
        (
            "encode 64 KiB",
            large_count,
            large.len(),
            Box::new(|| encode(&large, large_count, false).0),
        ),
        (
            "decode 64 KiB, 64 KiB reads",
            large_count,
            large.len(),
            Box::new(|| decode_reads(&large_wire, large_count, 64 * 1024)),
        ),
        (
            "decode 64 KiB, filled buffer",
            large_count,
            large.len(),
            Box::new(|| decode_filled(&large_wire, large_count)),
        ),
        (
            "NULL session 64 B msgs",
            small_count,
            64,
            Box::new(|| session_run(&small, small_count)),
        ),
        (
            "NULL session 3-part msgs",
            small_count,
            69,
            Box::new(|| session_run_parts(&envelope, small_count, Security::Null)),
        ),
        (
            "NULL session ping-pong 64 B",
            small_count,
            64,
            Box::new(|| session_ping_pong(&small, small_count)),
        ),
        (
            "CURVE session 64 B msgs",
            small_count / 4,
            64,
            Box::new(|| session_run_with(&small, small_count / 4, Security::Curve)),
        ),
        (
            "CURVE session 1 KiB msgs",
            small_count / 10,
            1024,
            Box::new(|| session_run_with(&kib, small_count / 10, Security::Curve)),
        ),
        (
            "CURVE session 64 KiB msgs",
            large_count / 4,
            large.len(),
            Box::new(|| session_run_with(&large, large_count / 4, Security::Curve)),
        ),
        (
            "CURVE fan-out 64 B x 10 subs",
            small_count / 4,
            64,
            Box::new(|| fan_out_run(&small, small_count / 40, 10)),
        ),
    ];

    println!("ZMTP codec micro-benchmark: {RUNS} runs per case, median [min - max]");
    println!(
        "{:<30} {:>10} {:>24} {:>12} {:>14}",
        "case", "items", "ns/item", "GB/s", "Mitems/s"
    );
    for (name, items, size, run) in &cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        // One warm-up run, then the measured ones.
        black_box(run());
        let samples: Vec<Sample> = (0..RUNS)
            .map(|_| Sample {
                elapsed: run(),
                items: *items,
                size: *size,
            })
            .collect();
        let (ns, lo, hi) = median(samples.clone(), Sample::ns_per_item);
        let (gbs, _, _) = median(samples.clone(), Sample::gb_per_s);
        let (ips, _, _) = median(samples, Sample::items_per_s);
        println!(
            "{name:<30} {items:>10} {:>24} {gbs:>12.2} {:>14.2}",
            format!("{ns:.1} [{lo:.1} - {hi:.1}]"),
            ips / 1e6
        );
    }
}
