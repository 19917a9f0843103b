//! Runs every example of `examples/` (each one program that runs both sides and ends on
//! its own): the example files are compiled into this test as modules and their `run`
//! functions called, so a broken or hanging example fails `cargo test`.

use std::sync::mpsc;
use std::time::Duration;

#[allow(dead_code)]
#[path = "../examples/blocking.rs"]
mod blocking;
#[allow(dead_code)]
#[path = "../examples/client_server.rs"]
mod client_server;
#[allow(dead_code)] // `main` is for `cargo run --example`
#[path = "../examples/curve.rs"]
mod curve;
#[allow(dead_code)]
#[path = "../examples/inproc_workers.rs"]
mod inproc_workers;
#[allow(dead_code)]
#[path = "../examples/pair.rs"]
mod pair;
#[allow(dead_code)]
#[path = "../examples/poller.rs"]
mod poller;
#[allow(dead_code)]
#[path = "../examples/proxy.rs"]
mod proxy;
#[allow(dead_code)]
#[path = "../examples/pub_sub.rs"]
mod pub_sub;
#[allow(dead_code)]
#[path = "../examples/push_pull.rs"]
mod push_pull;
#[allow(dead_code)]
#[path = "../examples/radio_dish.rs"]
mod radio_dish;
#[allow(dead_code)]
#[path = "../examples/req_rep.rs"]
mod req_rep;
#[allow(dead_code)]
#[path = "../examples/router_dealer.rs"]
mod router_dealer;
#[allow(dead_code)]
#[path = "../examples/stream_sink.rs"]
mod stream_sink;
#[allow(dead_code)]
#[path = "../examples/tokio_pubsub.rs"]
mod tokio_pubsub;

/// Runs an example on its own thread; it must succeed within 30 s.
fn run_example(name: &str, run: fn() -> Result<(), Box<dyn std::error::Error>>) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = run().map_err(|e| e.to_string());
        let _ = tx.send(result);
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("example {name} failed: {e}"),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("example {name} did not finish in 30 s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("example {name} panicked"),
    }
}

#[test]
fn example_req_rep() {
    run_example("req_rep", req_rep::run);
}

#[test]
fn example_pub_sub() {
    run_example("pub_sub", pub_sub::run);
}

#[test]
fn example_push_pull() {
    run_example("push_pull", push_pull::run);
}

#[test]
fn example_router_dealer() {
    run_example("router_dealer", router_dealer::run);
}

#[test]
fn example_pair() {
    run_example("pair", pair::run);
}

#[test]
fn example_curve() {
    run_example("curve", curve::run);
}

#[test]
fn example_inproc_workers() {
    run_example("inproc_workers", inproc_workers::run);
}

#[test]
fn example_proxy() {
    run_example("proxy", proxy::run);
}

#[test]
fn example_tokio_pubsub() {
    run_example("tokio_pubsub", tokio_pubsub::run);
}

#[test]
fn example_blocking() {
    run_example("blocking", blocking::run);
}

#[test]
fn example_stream_sink() {
    run_example("stream_sink", stream_sink::run);
}

#[test]
fn example_poller() {
    run_example("poller", poller::run);
}

#[test]
fn example_client_server() {
    run_example("client_server", client_server::run);
}

#[test]
fn example_radio_dish() {
    run_example("radio_dish", radio_dish::run);
}
