//! Logging through `tracing` (feature `tracing`, on by default). The library never
//! prints: without the feature, or without a subscriber, nothing is written anywhere.
//!
//! What is logged (target `ringmq_sockets`), from the shell only (the core returns
//! data and never logs):
//! - every monitor event, with its endpoint and reason: binds, accepts, connects
//!   (`debug`), disconnects (`info`), handshake and authentication failures, failed
//!   binds, accepts and connects (`warn`), reconnect backoff (`debug`, with the
//!   interval);
//! - messages dropped by design (at the HWM, unroutable, peer gone, ...), at most once
//!   a second per socket (`warn`, with the counts since the last report).

use std::cell::Cell;
use std::time::{Duration, Instant};

use crate::core::Drops;
use crate::monitor::MonitorEventKind;

/// Logs a monitor event.
#[cfg(feature = "tracing")]
pub(crate) fn monitor_event(kind: &MonitorEventKind, endpoint: &str) {
    use MonitorEventKind as K;
    match kind {
        K::Listening => tracing::debug!(endpoint, "listening"),
        K::BindFailed { error } => tracing::warn!(endpoint, %error, "bind failed"),
        K::Accepted => tracing::debug!(endpoint, "accepted a connection"),
        K::AcceptRefused { reason } => {
            tracing::warn!(endpoint, %reason, "accepted connection closed at once")
        }
        K::AcceptFailed { error } => {
            tracing::warn!(endpoint, %error, "accept failed, backing off 100 ms")
        }
        K::Connected => tracing::debug!(endpoint, "connected"),
        K::ConnectFailed { error } => tracing::debug!(endpoint, %error, "connect failed"),
        K::ConnectRetried { interval } => {
            tracing::debug!(endpoint, ?interval, "reconnecting after backoff")
        }
        K::HandshakeSucceeded => tracing::debug!(endpoint, "handshake succeeded"),
        K::HandshakeFailed { reason } => tracing::warn!(endpoint, %reason, "handshake failed"),
        K::HandshakeFailedAuth { status, reason } => {
            tracing::warn!(endpoint, status, %reason, "authentication failed")
        }
        K::Disconnected { reason } => tracing::info!(endpoint, %reason, "disconnected"),
        K::Closed => tracing::debug!(endpoint, "endpoint closed"),
    }
}

#[cfg(not(feature = "tracing"))]
#[inline(always)]
pub(crate) fn monitor_event(_kind: &MonitorEventKind, _endpoint: &str) {}

/// How often dropped messages are reported at most.
pub(crate) const DROP_REPORT_EVERY: Duration = Duration::from_secs(1);

/// Rate-limits the report of dropped messages: remembers the counts last reported.
#[derive(Default)]
pub(crate) struct DropReport {
    reported: Cell<u64>,
    at: Cell<Option<Instant>>,
    last: Cell<Drops>,
}

fn total(d: &Drops) -> u64 {
    d.hwm + d.unroutable + d.peer_gone + d.disconnected + d.conflated + d.discarded
}

impl DropReport {
    /// Called on slow paths (a batch flushed, a send that filled a queue) with the
    /// current counts; reports what changed, at most once per [`DROP_REPORT_EVERY`].
    /// `now` is only called when something was dropped since the last report.
    pub(crate) fn check(&self, drops: Drops, now: impl FnOnce() -> Instant) {
        let t = total(&drops);
        if t == self.reported.get() {
            return;
        }
        let now = now();
        if self
            .at
            .get()
            .is_some_and(|at| now.duration_since(at) < DROP_REPORT_EVERY)
        {
            return;
        }
        let last = self.last.get();
        self.reported.set(t);
        self.at.set(Some(now));
        self.last.set(drops);
        report(&drops, &last);
    }
}

#[cfg(feature = "tracing")]
fn report(d: &Drops, last: &Drops) {
    tracing::warn!(
        hwm = d.hwm - last.hwm,
        unroutable = d.unroutable - last.unroutable,
        peer_gone = d.peer_gone - last.peer_gone,
        disconnected = d.disconnected - last.disconnected,
        conflated = d.conflated - last.conflated,
        discarded = d.discarded - last.discarded,
        total = total(d),
        "messages dropped since the last report (see Socket::drops / stats)"
    );
}

#[cfg(not(feature = "tracing"))]
fn report(_d: &Drops, _last: &Drops) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_at_most_once_a_second_and_only_changes() {
        let r = DropReport::default();
        let t0 = Instant::now();
        let mut clock_reads = 0;
        let mut d = Drops::default();
        r.check(d, || {
            clock_reads += 1;
            t0
        });
        assert_eq!(clock_reads, 0, "nothing dropped: no clock read, no report");
        d.hwm = 5;
        r.check(d, || t0);
        assert_eq!(r.reported.get(), 5);
        d.hwm = 9;
        r.check(d, || t0 + Duration::from_millis(500));
        assert_eq!(r.reported.get(), 5, "within a second: not reported");
        r.check(d, || t0 + Duration::from_millis(1000));
        assert_eq!(r.reported.get(), 9);
        assert_eq!(r.last.get().hwm, 9);
    }
}
