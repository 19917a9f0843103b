//! Helpers of the fault-injection suite: the proxy, a seeded random generator, and
//! numbered, checksummed multipart messages with their checks.
#![allow(dead_code)] // each test file uses a different part

pub mod proxy;

use bytes::Bytes;

/// The environment variable that replays a run: the seed it printed.
pub const SEED_ENV: &str = "RINGMQ_FAULT_SEED";

/// The seed of this test: `RINGMQ_FAULT_SEED` if set, else a fresh one. Printed, so a
/// failure can be reproduced.
pub fn seed(test: &str) -> u64 {
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("{SEED_ENV}={s:?} is not a u64")),
        Err(_) => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            Rng::new(t ^ u64::from(std::process::id())).next()
        }
    };
    println!("{test}: seed {seed} (replay with {SEED_ENV}={seed})");
    seed
}

/// splitmix64: small, fast, and the same sequence for the same seed everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo) as u64) as usize
    }
}

/// FNV-1a, 64 bits.
fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

const FNV_START: u64 = 0xCBF2_9CE4_8422_2325;

/// Numbered, checksummed multipart messages, all derived from a seed: message `seq` is
/// `["msg", seq (8 bytes), 0 to 3 payload frames of random sizes and bytes, checksum]`,
/// the checksum (8 bytes) covering every earlier frame with its length. So a receiver
/// recognises any corruption, truncation, lost or extra frame, and knows the number.
#[derive(Clone, Copy, Debug)]
pub struct Messages {
    seed: u64,
    /// Largest payload frame.
    pub max_frame: usize,
}

impl Messages {
    pub fn new(seed: u64, max_frame: usize) -> Messages {
        Messages { seed, max_frame }
    }

    /// Message number `seq`.
    pub fn make(&self, seq: u64) -> Vec<Bytes> {
        let mut rng = Rng::new(self.seed ^ seq.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut frames = vec![
            Bytes::from_static(b"msg"),
            Bytes::copy_from_slice(&seq.to_be_bytes()),
        ];
        for _ in 0..rng.range(0, 4) {
            let len = match rng.range(0, 10) {
                0 => 0,
                1 => rng.range(250, 260).min(self.max_frame),
                2 => rng.range(0, self.max_frame + 1),
                _ => rng.range(1, 200.min(self.max_frame + 1)),
            };
            let fill = rng.next();
            let body: Vec<u8> = (0..len)
                .map(|i| (fill.rotate_left(i as u32 % 64) as u8) ^ (i as u8))
                .collect();
            frames.push(Bytes::from(body));
        }
        let sum = frames.iter().fold(FNV_START, |h, f| {
            fnv(fnv(h, &(f.len() as u64).to_be_bytes()), f)
        });
        frames.push(Bytes::copy_from_slice(&sum.to_be_bytes()));
        frames
    }

    /// The number of a received message, after checking it is exactly message `seq` as
    /// made: any difference is a corrupted or partially delivered message.
    pub fn check(&self, frames: &[Bytes]) -> Result<u64, String> {
        if frames.len() < 3 || frames[0] != "msg" || frames[1].len() != 8 {
            return Err(format!("not a numbered message: {} frames", frames.len()));
        }
        let seq = u64::from_be_bytes(frames[1][..].try_into().expect("8 bytes"));
        let expected = self.make(seq);
        if frames != expected.as_slice() {
            let sizes = |m: &[Bytes]| m.iter().map(Bytes::len).collect::<Vec<_>>();
            return Err(format!(
                "message {seq} corrupted: frame sizes {:?}, expected {:?}",
                sizes(frames),
                sizes(&expected)
            ));
        }
        Ok(seq)
    }
}

/// What a receiver saw: every message number, in arrival order.
#[derive(Debug, Default)]
pub struct Seen {
    pub seqs: Vec<u64>,
    /// [`Seen::across_connections`]: the last number of each increasing run the
    /// numbers seen so far can be split into (the fewest such runs), in order.
    runs: Option<Vec<u64>>,
}

impl Seen {
    /// A receiver whose messages may come over several connections in turn (a fault
    /// that cuts or replaces them). The binding side of each hop has a pipe per
    /// connection and fair-queues them, libzmq's as well as ringmq's: messages an old
    /// connection delivered that its application has not read yet are interleaved with
    /// the first ones of the new connection. So the numbers need only split into
    /// increasing runs, at most one per connection ([`Seen::runs`]); a number seen
    /// twice is still a failure.
    pub fn across_connections() -> Seen {
        Seen {
            seqs: Vec::new(),
            runs: Some(Vec::new()),
        }
    }

    /// Records `seq`, which must come after every number seen before (no duplicate, no
    /// reordering), or, across connections, must not have been seen before.
    pub fn record(&mut self, seq: u64) {
        match &mut self.runs {
            Some(runs) => {
                assert!(
                    !self.seqs.contains(&seq),
                    "message {seq} duplicated (seen so far: {} messages)",
                    self.seqs.len()
                );
                // Patience sorting: `seq` extends the run with the largest last number
                // below it, or starts a run of its own.
                match runs.partition_point(|&last| last < seq) {
                    0 => runs.insert(0, seq),
                    i => runs[i - 1] = seq,
                }
            }
            None => {
                if let Some(&last) = self.seqs.last() {
                    assert!(
                        seq > last,
                        "message {seq} after {last}: duplicated or reordered (seen so far: {} messages)",
                        self.seqs.len()
                    );
                }
            }
        }
        self.seqs.push(seq);
    }

    /// The fewest increasing runs the numbers seen split into (1 for a strict order).
    pub fn runs(&self) -> usize {
        self.runs.as_ref().map_or(1, Vec::len)
    }

    /// Messages of `0..sent` that never arrived.
    pub fn lost(&self, sent: u64) -> u64 {
        sent - self.seqs.iter().filter(|&&s| s < sent).count() as u64
    }
}
