//! Portability: where `io_uring_setup` is denied (Docker's default seccomp profile,
//! `kernel.io_uring_disabled`), `Runtime::new()` falls back to epoll and everything
//! still works; where io_uring is available, `auto` picks it.
//!
//! The seccomp filter cannot be removed once installed, so the fallback test re-runs
//! this binary in a child process that installs it first and then runs part of the
//! conformance suite.

mod suite;

use std::future::Future;
use std::io;
use std::process::Command;
use std::time::Duration;

use ringmq_proactor::{Backend, BackendChoice, Proactor, Runtime, BACKEND_ENV};

const CHILD: &str = "RINGMQ_PORTABILITY_CHILD";

/// Re-runs test `name` alone in a child process with `CHILD` set and `RINGMQ_BACKEND`
/// set to `backend`, and asserts it passed.
fn run_in_child(name: &str, backend: &str) {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .env(BACKEND_ENV, backend)
        .output()
        .expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its child process:\n{stdout}\n{stderr}"
    );
}

fn in_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

async fn with_limit<P: Proactor>(p: &P, body: impl Future<Output = ()>) {
    let limit = Duration::from_secs(120);
    if suite::util::with_timeout(p, limit, body).await.is_none() {
        panic!("test body did not finish within {limit:?}");
    }
}

/// Part of the conformance suite, on any engine.
async fn conformance_subset<P: Proactor>(p: P) {
    suite::echo_tcp(p.clone()).await;
    suite::echo_ipc(p.clone()).await;
    suite::partial_writes(p.clone()).await;
    suite::vectored_many_slices(p.clone()).await;
    suite::timers_in_order(p.clone()).await;
    suite::fault_peer_reset(p.clone()).await;
    suite::fault_connect_refused(p.clone()).await;
    suite::fault_send_after_shutdown(p.clone()).await;
}

#[test]
fn auto_picks_uring_when_available() {
    if !in_child() {
        return run_in_child("auto_picks_uring_when_available", "auto");
    }
    let rt = Runtime::new().expect("runtime");
    assert_eq!(
        rt.backend(),
        Backend::Uring,
        "io_uring is enabled on this machine, so auto must pick it"
    );
    let p = rt.proactor();
    rt.block_on(with_limit(&p, suite::echo_tcp(p.clone())));
}

#[test]
fn falls_back_to_epoll_when_io_uring_setup_is_denied() {
    if !in_child() {
        return run_in_child("falls_back_to_epoll_when_io_uring_setup_is_denied", "auto");
    }
    ringmq_proactor::test_util::deny_io_uring_setup().expect("install the seccomp filter");

    // The filter works: io_uring itself is refused, with the errno Docker gives.
    let Err(err) = Runtime::with_backend(BackendChoice::Uring) else {
        panic!("io_uring must be refused under the filter");
    };
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");

    let rt = Runtime::new().expect("auto runtime under the filter");
    assert_eq!(rt.backend(), Backend::Epoll, "auto must fall back to epoll");
    let p = rt.proactor();
    rt.block_on(with_limit(&p, conformance_subset(p.clone())));
    rt.block_on(with_limit(&p, suite::cancellation(p.clone())));

    // The adapters' runtimes fall back on their own (compio's fusion driver, monoio's
    // FusionDriver); ringmq's code on them must not care.
    let p = ringmq_compio::CompioProactor::new();
    ringmq_compio::block_on(with_limit(&p, conformance_subset(p))).expect("compio runtime");
    let p = ringmq_monoio::MonoioProactor::new();
    ringmq_monoio::block_on(with_limit(&p, conformance_subset(p))).expect("monoio runtime");
}
