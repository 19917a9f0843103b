//! `--monitor`: monitor events as JSON lines on stderr.

use std::io::Write;

use ringmq_proactor::Proactor;
use ringmq_sockets::{IoError, Monitor, MonitorEvent, MonitorEventKind};

use crate::util::hex;

/// Prints the events of `monitor` on stderr until the socket is closed; `label` (the
/// proxy's socket role) is added as `"socket"` when given.
pub fn spawn<P: Proactor>(p: &P, monitor: Monitor, label: Option<&'static str>) {
    p.spawn_local(async move {
        while let Some(event) = monitor.recv().await {
            let line = to_json(&event, label);
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
    });
}

/// One event as a JSON object: `event`, `endpoint`, `peer_routing_id` (hex or null)
/// and, where the event has them, `reason`, `status`, `interval_ms`, or `error` with
/// `error_kind` (the `std::io::ErrorKind`, e.g. `"ConnectionRefused"`).
pub fn to_json(event: &MonitorEvent, label: Option<&str>) -> String {
    let mut extra = String::new();
    let io = |error: &IoError| {
        format!(
            ",\"error\":{},\"error_kind\":{}",
            string(&error.to_string()),
            string(&format!("{:?}", error.kind()))
        )
    };
    let name = match &event.kind {
        MonitorEventKind::Listening => "listening",
        MonitorEventKind::BindFailed { error } => {
            extra = io(error);
            "bind_failed"
        }
        MonitorEventKind::Accepted => "accepted",
        MonitorEventKind::AcceptFailed { error } => {
            extra = io(error);
            "accept_failed"
        }
        MonitorEventKind::AcceptRefused { reason } => {
            extra = format!(",\"reason\":{}", string(&reason.to_string()));
            "accept_refused"
        }
        MonitorEventKind::Connected => "connected",
        MonitorEventKind::ConnectFailed { error } => {
            extra = io(error);
            "connect_failed"
        }
        MonitorEventKind::ConnectRetried { interval } => {
            extra = format!(",\"interval_ms\":{}", interval.as_millis());
            "connect_retried"
        }
        MonitorEventKind::HandshakeSucceeded => "handshake_succeeded",
        MonitorEventKind::HandshakeFailed { reason } => {
            extra = format!(",\"reason\":{}", string(&reason.to_string()));
            "handshake_failed"
        }
        MonitorEventKind::HandshakeFailedAuth { status, reason } => {
            let reason = string(&reason.to_string());
            extra = format!(",\"status\":{status},\"reason\":{reason}");
            "handshake_failed_auth"
        }
        MonitorEventKind::Disconnected { reason } => {
            extra = format!(",\"reason\":{}", string(&reason.to_string()));
            "disconnected"
        }
        MonitorEventKind::Closed => "closed",
        _ => "other",
    };
    let id = event
        .peer_routing_id
        .as_ref()
        .map_or_else(|| "null".to_owned(), |id| string(&hex(id)));
    let label = label.map_or_else(String::new, |l| format!(",\"socket\":{}", string(l)));
    format!(
        "{{\"event\":\"{name}\",\"endpoint\":{},\"peer_routing_id\":{id}{extra}{label}}}",
        string(&event.endpoint)
    )
}

/// A JSON string literal.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringmq_sockets::{Bytes, DisconnectReason};

    #[test]
    fn events_are_json() {
        let e = MonitorEvent {
            kind: MonitorEventKind::Disconnected {
                reason: DisconnectReason::RecvFailed(
                    std::io::Error::other("bad \"peer\"\n\u{1}").into(),
                ),
            },
            endpoint: "tcp://127.0.0.1:5555".into(),
            peer_routing_id: Some(Bytes::from_static(b"\0ab")),
        };
        assert_eq!(
            to_json(&e, None),
            r#"{"event":"disconnected","endpoint":"tcp://127.0.0.1:5555","peer_routing_id":"006162","reason":"receive failed: bad \"peer\"\n\u0001"}"#
        );
        let e = MonitorEvent {
            kind: MonitorEventKind::ConnectFailed {
                error: std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
            },
            endpoint: "tcp://127.0.0.1:1".into(),
            peer_routing_id: None,
        };
        assert_eq!(
            to_json(&e, Some("s")),
            r#"{"event":"connect_failed","endpoint":"tcp://127.0.0.1:1","peer_routing_id":null,"error":"connection refused","error_kind":"ConnectionRefused","socket":"s"}"#
        );
    }
}
