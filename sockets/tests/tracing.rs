//! The `tracing` events (feature `tracing`, on by default): connects, reconnect
//! backoff, disconnects with their reason, and the rate-limited drop report, caught by
//! a minimal subscriber on this thread.
#![cfg(feature = "tracing")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringmq_proactor::{Proactor, Runtime};
use ringmq_sockets::{Bytes, Context, Message, MonitorEventKind};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Each event as `LEVEL message key=value ...`.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, e: &Event<'_>) {
        let mut line = Line(e.metadata().level().to_string());
        e.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn has(&self, level: Level, text: &str) -> bool {
        let level = level.to_string();
        self.lines()
            .iter()
            .any(|l| l.starts_with(&level) && l.contains(text))
    }
}

#[test]
fn connects_backoff_disconnects_and_drops_are_logged() {
    let cap = Capture::default();
    let _guard = tracing::subscriber::set_default(cap.clone());
    let rt = Runtime::with_backend(ringmq_proactor::BackendChoice::Epoll).unwrap();
    let p = rt.proactor();
    rt.block_on(async {
        let ctx = Context::new(p.clone());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let ep = format!("tcp://127.0.0.1:{port}");
        let push = ctx.push();
        let mon = push.monitor();
        push.connect(&ep).unwrap();
        // Nobody listens yet: a failed connect and a retry with its interval.
        loop {
            let e = mon.recv().await.unwrap();
            if matches!(e.kind, MonitorEventKind::ConnectRetried { .. }) {
                break;
            }
        }
        let pull = ctx.pull();
        pull.bind(&ep).unwrap();
        loop {
            let e = mon.recv().await.unwrap();
            if e.kind == MonitorEventKind::HandshakeSucceeded {
                break;
            }
        }
        pull.close().await;
        loop {
            let e = mon.recv().await.unwrap();
            if matches!(e.kind, MonitorEventKind::Disconnected { .. }) {
                break;
            }
        }

        // ROUTER drops messages for unknown routing ids: reported once, with counts.
        let router = ctx.router();
        for _ in 0..3000 {
            router
                .send(Message::from(vec![
                    Bytes::from_static(b"nobody"),
                    Bytes::from_static(b"x"),
                ]))
                .await
                .unwrap();
        }
        assert_eq!(router.drops().unroutable, 3000);
        p.sleep_until(p.now() + Duration::from_millis(1)).await;
    });
    assert!(
        cap.has(Level::DEBUG, "connect failed"),
        "{:#?}",
        cap.lines()
    );
    assert!(
        cap.has(Level::DEBUG, "reconnecting after backoff"),
        "{:#?}",
        cap.lines()
    );
    assert!(
        cap.has(Level::DEBUG, "handshake succeeded"),
        "{:#?}",
        cap.lines()
    );
    assert!(cap.has(Level::INFO, "disconnected"), "{:#?}", cap.lines());
    let drops: Vec<String> = cap
        .lines()
        .into_iter()
        .filter(|l| l.contains("messages dropped"))
        .collect();
    assert_eq!(
        drops.len(),
        1,
        "rate-limited to one report a second: {drops:#?}"
    );
    assert!(drops[0].starts_with("WARN"), "{drops:?}");
    assert!(drops[0].contains("unroutable=1024"), "{drops:?}");
    assert!(
        cap.has(Level::DEBUG, "runtime started"),
        "{:#?}",
        cap.lines()
    );
}
