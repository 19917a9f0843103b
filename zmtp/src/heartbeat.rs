//! Heartbeat timers (ZMTP 3.1 PING / PONG), as libzmq runs them.
//!
//! - Every `ivl` we send a PING carrying our TTL. After a PING, if nothing at all
//!   arrives within `timeout` (default: `ivl`), the peer is declared dead.
//! - When the peer's PING announces a TTL, nothing arriving within that TTL is fatal.
//! - Any traffic from the peer disarms both deadlines.

use std::time::{Duration, Instant};

use crate::error::Error;

/// The heartbeat state of one session. Time is always passed in.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    ivl: Option<Duration>,
    timeout: Duration,
    ttl_deciseconds: u16,
    next_ping: Option<Instant>,
    timeout_at: Option<Instant>,
    ttl_at: Option<Instant>,
}

impl Heartbeat {
    /// `ivl`: PING interval (`None`: never ping). `ttl`: the TTL announced in our PINGs
    /// (rounded down to deciseconds, capped at 6553.5 s). `timeout`: defaults to `ivl`.
    pub fn new(ivl: Option<Duration>, ttl: Option<Duration>, timeout: Option<Duration>) -> Self {
        let ttl_deciseconds = ttl
            .map(|t| u16::try_from(t.as_millis() / 100).unwrap_or(u16::MAX))
            .unwrap_or(0);
        Heartbeat {
            ivl,
            timeout: timeout.or(ivl).unwrap_or(Duration::ZERO),
            ttl_deciseconds,
            next_ping: None,
            timeout_at: None,
            ttl_at: None,
        }
    }

    /// Starts pinging (called when the handshake completes).
    pub fn start(&mut self, now: Instant) {
        self.next_ping = self.ivl.and_then(|ivl| now.checked_add(ivl));
    }

    /// Stops every timer (the session failed).
    pub fn stop(&mut self) {
        self.next_ping = None;
        self.timeout_at = None;
        self.ttl_at = None;
    }

    /// Something arrived from the peer: it is alive.
    pub fn on_traffic(&mut self) {
        self.timeout_at = None;
        self.ttl_at = None;
    }

    /// The peer sent a PING announcing `ttl` deciseconds (0: none).
    pub fn on_ping(&mut self, now: Instant, ttl: u16) {
        if ttl > 0 && self.ttl_at.is_none() {
            self.ttl_at = now.checked_add(Duration::from_millis(u64::from(ttl) * 100));
        }
    }

    /// Checks the deadlines. `Ok(Some(ttl))` means a PING carrying `ttl` is due now.
    pub fn poll(&mut self, now: Instant) -> Result<Option<u16>, Error> {
        if self.ttl_at.is_some_and(|t| t <= now) {
            return Err(Error::PeerTtlExpired);
        }
        if self.timeout_at.is_some_and(|t| t <= now) {
            return Err(Error::HeartbeatTimeout);
        }
        match (self.next_ping, self.ivl) {
            (Some(at), Some(ivl)) if at <= now => {
                // A deadline past the end of time is no deadline.
                self.next_ping = now.checked_add(ivl);
                if self.timeout_at.is_none() {
                    self.timeout_at = now.checked_add(self.timeout);
                }
                Ok(Some(self.ttl_deciseconds))
            }
            _ => Ok(None),
        }
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.next_ping, self.timeout_at, self.ttl_at]
            .into_iter()
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_then_timeout_unless_traffic() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut hb = Heartbeat::new(Some(s), Some(Duration::from_millis(2500)), None);
        hb.start(t0);
        assert_eq!(hb.next_deadline(), Some(t0 + s));
        assert_eq!(hb.poll(t0), Ok(None));
        assert_eq!(hb.poll(t0 + s), Ok(Some(25)));
        hb.on_traffic();
        assert_eq!(hb.poll(t0 + 2 * s), Ok(Some(25)));
        assert_eq!(hb.poll(t0 + 3 * s), Err(Error::HeartbeatTimeout));
    }

    #[test]
    fn peer_ttl() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(None, None, None);
        hb.start(t0);
        assert_eq!(hb.next_deadline(), None);
        hb.on_ping(t0, 5);
        assert_eq!(hb.next_deadline(), Some(t0 + Duration::from_millis(500)));
        assert_eq!(hb.poll(t0 + Duration::from_millis(499)), Ok(None));
        assert_eq!(
            hb.poll(t0 + Duration::from_millis(500)),
            Err(Error::PeerTtlExpired)
        );
    }
}
