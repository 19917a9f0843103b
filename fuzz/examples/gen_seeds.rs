//! Writes the seed corpora `corpus/<target>/seed-*`, then checks that every session seed
//! replays to an established session that delivers the peer's messages.
//!
//! Run from `fuzz/` with the fuzzing cfg, so CURVE uses the null cipher and its
//! transcripts are replayable:
//!
//! ```text
//! RUSTFLAGS="--cfg fuzzing" cargo +nightly run --example gen_seeds
//! ```

use std::fs;
use std::path::Path;

use ringmq_zmtp::fuzzing::{fuzz_session, limit_tails, peer_transcript};

/// Golden vectors from zmtp-notes.md (libzmq raw-wire tests), as whole frames.
fn golden_frames() -> Vec<(&'static str, Vec<u8>)> {
    let mut ready_dealer = b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER".to_vec();
    ready_dealer.extend_from_slice(b"\x08Identity\x00\x00\x00\x00");
    vec![
        ("ready-dealer", ready_dealer),
        (
            "ready-xpub",
            b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04XPUB".to_vec(),
        ),
        (
            "ready-sub",
            b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB".to_vec(),
        ),
        ("subscribe-31", b"\x04\x0b\x09SUBSCRIBEA".to_vec()),
        ("subscribe-30", b"\x00\x02\x01A".to_vec()),
        ("ping", b"\x04\x0a\x04PING\x00\x00LOL".to_vec()),
        ("pong", b"\x04\x08\x04PONGLOL".to_vec()),
        ("error", b"\x04\x0a\x05ERROR\x03400".to_vec()),
    ]
}

fn null_greeting_30() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    g.extend_from_slice(b"NULL");
    g.resize(64, 0);
    g
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    fs::create_dir_all(&d).expect("create corpus dir");
    fs::write(d.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "corpus".into());
    let dir = Path::new(&dir);
    if !cfg!(fuzzing) {
        eprintln!("build with RUSTFLAGS=\"--cfg fuzzing\": CURVE transcripts need the null cipher");
        std::process::exit(2);
    }
    let mechs = [(0u8, "null"), (1, "plain"), (2, "curve")];

    // Greetings: golden 3.0 NULL, and the 3.1 greetings of real sessions.
    write(dir, "greeting", "null-30", &null_greeting_30());
    for (m, name) in mechs {
        write(
            dir,
            "greeting",
            &format!("{name}-client"),
            &peer_transcript(true, m)[..64],
        );
        write(
            dir,
            "greeting",
            &format!("{name}-server"),
            &peer_transcript(false, m)[..64],
        );
    }

    // Frames (first byte: receive chunk size), commands (bodies without the header).
    for (name, frame) in golden_frames() {
        let mut input = vec![255];
        input.extend_from_slice(&frame);
        write(dir, "frames", name, &input);
        write(dir, "command", name, &frame[2..]);
    }
    write(dir, "command", "metadata", &golden_frames()[0].1[8..]);
    for (m, name) in mechs {
        let stream = &peer_transcript(true, m)[64..];
        for chunk in [1u8, 7, 200] {
            let mut input = vec![chunk];
            input.extend_from_slice(stream);
            write(
                dir,
                "frames",
                &format!("{name}-client-chunk{chunk}"),
                &input,
            );
        }
    }

    // Z85: the RFC 32 example and a CURVE key.
    write(dir, "z85", "rfc32", b"HelloWorld");
    write(
        dir,
        "z85",
        "rfc32-bytes",
        &[0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B],
    );
    write(
        dir,
        "z85",
        "key",
        b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    );

    // Sockets: a scripted run of every type, and raw peers crossing the limits.
    for (name, data) in ringmq_sockets::fuzzing::seeds() {
        write(dir, "socket", &name, &data);
    }

    // Sessions: the peer's bytes without the greeting (prepended by the target, fed
    // byte by byte through the handshake) and with it (raw, fed in 97-byte pieces).
    let mut failures = 0;
    for (m, name) in mechs {
        for server in [true, false] {
            let t = peer_transcript(server, m);
            let (target, prefix): (String, Vec<u8>) = if server {
                (format!("session_{name}"), vec![])
            } else {
                ("session_client".into(), vec![m])
            };
            for (form, bytes) in [("handshake", &t[64..]), ("raw", &t[..])] {
                let out = fuzz_session(server, m, bytes);
                let ok = out.established && !out.failed && out.delivered == 5;
                println!("{target:15} {name:5} {form:9} {:4} B: {out:?}", bytes.len());
                if !ok {
                    failures += 1;
                }
                let mut input = prefix.clone();
                input.extend_from_slice(bytes);
                write(dir, &target, &format!("{name}-{form}"), &input);
            }
        }
    }
    // A NULL peer that then crosses one of the session's limits.
    for (name, tail) in limit_tails() {
        let mut input = peer_transcript(true, 0);
        input.extend_from_slice(&tail);
        let out = fuzz_session(true, 0, &input);
        println!("session_null    limit-{name:5}     {:4} B: {out:?}", input.len());
        if !(out.established && out.failed && out.delivered == 5) {
            failures += 1;
        }
        write(dir, "session_null", &format!("limit-{name}"), &input);
    }
    if failures > 0 {
        eprintln!("{failures} session seeds do not reach the established state");
        std::process::exit(1);
    }
}
