//! CurveZMQ nonces: a 16-byte prefix + 8-byte big-endian counter ("short"), or an 8-byte
//! prefix + 16 random bytes ("long"), and the per-direction counters.

use super::error::CurveError;

pub(crate) const HELLO: &[u8; 16] = b"CurveZMQHELLO---";
pub(crate) const INITIATE: &[u8; 16] = b"CurveZMQINITIATE";
pub(crate) const READY: &[u8; 16] = b"CurveZMQREADY---";
/// libzmq ends the MESSAGE prefixes in `C` / `S` (the RFC grammar says `-`).
pub(crate) const MESSAGE_FROM_CLIENT: &[u8; 16] = b"CurveZMQMESSAGEC";
pub(crate) const MESSAGE_FROM_SERVER: &[u8; 16] = b"CurveZMQMESSAGES";
pub(crate) const WELCOME: &[u8; 8] = b"WELCOME-";
pub(crate) const COOKIE: &[u8; 8] = b"COOKIE--";
pub(crate) const VOUCH: &[u8; 8] = b"VOUCH---";

/// A full 24-byte nonce from a short-nonce prefix and counter.
pub(crate) fn short(prefix: &[u8; 16], counter: u64) -> [u8; 24] {
    let mut n = [0u8; 24];
    n[..16].copy_from_slice(prefix);
    n[16..].copy_from_slice(&counter.to_be_bytes());
    n
}

/// A full 24-byte nonce from a long-nonce prefix and its 16 random bytes.
pub(crate) fn long(prefix: &[u8; 8], random: &[u8; 16]) -> [u8; 24] {
    let mut n = [0u8; 24];
    n[..8].copy_from_slice(prefix);
    n[8..].copy_from_slice(random);
    n
}

/// Reads the 8-byte big-endian short nonce at `at`; the caller checked the length.
pub(crate) fn read_short(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&data[at..at + 8]);
    u64::from_be_bytes(b)
}

/// Our outgoing short nonces: 1, 2, 3, ... like libzmq (HELLO takes 1 on a client,
/// READY takes 1 on a server).
#[derive(Debug)]
pub(crate) struct SendCounter {
    next: u64,
}

impl SendCounter {
    pub(crate) fn new() -> Self {
        SendCounter { next: 1 }
    }

    pub(crate) fn take(&mut self) -> Result<u64, CurveError> {
        let n = self.next;
        self.next = n.checked_add(1).ok_or(CurveError::NonceExhausted)?;
        Ok(n)
    }
}

/// The highest short nonce accepted from the peer; the next one must be greater.
#[derive(Debug, Default)]
pub(crate) struct PeerCounter {
    last: u64,
}

impl PeerCounter {
    pub(crate) fn check(&self, nonce: u64) -> Result<(), CurveError> {
        if nonce > self.last {
            Ok(())
        } else {
            Err(CurveError::NonceReplayed {
                nonce,
                last: self.last,
            })
        }
    }

    /// Records `nonce` once the box it came with opened.
    pub(crate) fn accept(&mut self, nonce: u64) {
        self.last = nonce;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        let n = short(HELLO, 0x0102);
        assert_eq!(&n[..16], b"CurveZMQHELLO---");
        assert_eq!(&n[16..], &[0, 0, 0, 0, 0, 0, 1, 2]);
        let l = long(VOUCH, &[9; 16]);
        assert_eq!(&l[..8], b"VOUCH---");
        assert_eq!(&l[8..], &[9; 16]);
        assert_eq!(read_short(&n, 16), 0x0102);
    }

    #[test]
    fn counters() {
        let mut s = SendCounter::new();
        assert_eq!(s.take(), Ok(1));
        assert_eq!(s.take(), Ok(2));
        s.next = u64::MAX;
        assert_eq!(s.take(), Err(CurveError::NonceExhausted));

        let mut p = PeerCounter::default();
        assert_eq!(
            p.check(0),
            Err(CurveError::NonceReplayed { nonce: 0, last: 0 })
        );
        p.check(5).unwrap();
        p.accept(5);
        assert_eq!(
            p.check(5),
            Err(CurveError::NonceReplayed { nonce: 5, last: 5 })
        );
        assert_eq!(
            p.check(4),
            Err(CurveError::NonceReplayed { nonce: 4, last: 5 })
        );
        p.check(6).unwrap();
    }
}
