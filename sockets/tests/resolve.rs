//! Host names in `connect` are resolved on resolver threads, not on the event loop: a
//! name connects like an address, and a name that does not resolve is a
//! `ConnectFailed` event with the lookup's error, retried with the reconnect backoff.

mod common;

use std::time::Duration;

use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{Context, MonitorEventKind, SocketOption};

async fn connect_by_host_name<P: Proactor>(ctx: Context<P>) {
    let pull = ctx.pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port = ep.rsplit(':').next().unwrap();
    let push = ctx.push();
    let mon = push.monitor();
    // `localhost` may resolve to ::1 first, where nothing listens: the next address
    // is tried within the same attempt.
    push.connect(&format!("tcp://localhost:{port}")).unwrap();
    push.send("by name").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "by name");
    let e = wait_event(ctx.proactor(), &mon, |e| {
        e.kind == MonitorEventKind::Connected
    })
    .await;
    assert_eq!(e.endpoint, format!("tcp://localhost:{port}"));
}

async fn unresolvable_name_fails_and_backs_off<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(5)))
        .unwrap();
    push.set_option(SocketOption::ReconnectIvlMax(Duration::from_millis(20)))
        .unwrap();
    push.set_option(SocketOption::Linger(Some(Duration::ZERO)))
        .unwrap();
    let mon = push.monitor();
    // `.invalid` never resolves (RFC 6761).
    let ep = "tcp://no-such-host.invalid:5555";
    push.connect(ep).unwrap();
    let mut intervals = Vec::new();
    let mut failures = 0;
    while intervals.len() < 4 {
        let e = wait_event(&p, &mon, |e| {
            matches!(
                e.kind,
                MonitorEventKind::ConnectRetried { .. } | MonitorEventKind::ConnectFailed { .. }
            )
        })
        .await;
        assert_eq!(e.endpoint, ep);
        match e.kind {
            MonitorEventKind::ConnectRetried { interval } => intervals.push(interval.as_millis()),
            MonitorEventKind::ConnectFailed { error } => {
                // The lookup's own error, not a refused connection.
                assert_ne!(error.kind(), std::io::ErrorKind::ConnectionRefused);
                let text = error.to_string();
                assert!(
                    text.contains("lookup") || text.contains("no address"),
                    "{text}"
                );
                failures += 1;
            }
            _ => unreachable!("filtered above"),
        }
    }
    assert_eq!(
        intervals,
        [5, 10, 20, 20],
        "the same backoff as a refused connect"
    );
    assert_eq!(failures, 4, "one ConnectFailed before each retry");
    // Messages wait for the peer meanwhile, as for any connect.
    push.try_send("queued").unwrap();
}

backend_tests!(connect_by_host_name, unresolvable_name_fails_and_backs_off);
