//! The `Proactor` conformance suite, instantiated for every backend: the built-in
//! io_uring and epoll drivers, compio, monoio and tokio.
//!
//! Each body lives in `suite/`; `conformance!` generates `mod uring`, `mod epoll`,
//! `mod compio`, `mod monoio` and `mod tokio` with one `#[test]` per body. Bodies that count file
//! descriptors (`isolated`) re-run this binary in a child process that runs only that
//! test, since the other tests open and close descriptors in parallel threads.

mod suite;

use std::future::Future;
use std::time::Duration;

/// The engines under test: each runs a suite body on a fresh runtime.
mod backends {
    use super::*;
    use ringmq_proactor::{Backend, BackendChoice, Runtime};

    fn builtin<F, Fut>(choice: BackendChoice, want: Backend, body: F)
    where
        F: FnOnce(ringmq_proactor::Native) -> Fut,
        Fut: Future<Output = ()>,
    {
        let rt = Runtime::with_backend(choice).expect("built-in runtime");
        assert_eq!(rt.backend(), want, "the requested backend");
        let p = rt.proactor();
        rt.block_on(guard(&p, body(p.clone())));
    }

    pub fn uring<F, Fut>(body: F)
    where
        F: FnOnce(ringmq_proactor::Native) -> Fut,
        Fut: Future<Output = ()>,
    {
        builtin(BackendChoice::Uring, Backend::Uring, body);
    }

    pub fn epoll<F, Fut>(body: F)
    where
        F: FnOnce(ringmq_proactor::Native) -> Fut,
        Fut: Future<Output = ()>,
    {
        builtin(BackendChoice::Epoll, Backend::Epoll, body);
    }

    pub fn compio<F, Fut>(body: F)
    where
        F: FnOnce(ringmq_compio::CompioProactor) -> Fut,
        Fut: Future<Output = ()>,
    {
        let p = ringmq_compio::CompioProactor::new();
        ringmq_compio::block_on(guard(&p, body(p))).expect("compio runtime");
    }

    pub fn monoio<F, Fut>(body: F)
    where
        F: FnOnce(ringmq_monoio::MonoioProactor) -> Fut,
        Fut: Future<Output = ()>,
    {
        let p = ringmq_monoio::MonoioProactor::new();
        ringmq_monoio::block_on(guard(&p, body(p))).expect("monoio runtime");
    }

    pub fn tokio<F, Fut>(body: F)
    where
        F: FnOnce(ringmq_tokio::TokioProactor) -> Fut,
        Fut: Future<Output = ()>,
    {
        let p = ringmq_tokio::TokioProactor::new();
        ringmq_tokio::block_on(guard(&p, body(p))).expect("tokio runtime");
    }

    /// Fails a body that hangs instead of hanging the suite.
    async fn guard<P: ringmq_proactor::Proactor>(p: &P, body: impl Future<Output = ()>) {
        let limit = Duration::from_secs(120);
        if suite::util::with_timeout(p, limit, body).await.is_none() {
            panic!("test body did not finish within {limit:?}");
        }
    }
}

/// Runs `test` (a full test name) alone in a child process, where the environment
/// variable makes it run its body instead of spawning again.
fn run_isolated(test: &str, body: impl FnOnce()) {
    const CHILD: &str = "RINGMQ_CONFORMANCE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        return body();
    }
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("spawn the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{test} failed in its child process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

macro_rules! backend_mod {
    ($backend:ident; [$($test:ident),*]; [$($isolated:ident),*]) => {
        mod $backend {
            $(
                #[test]
                fn $test() {
                    crate::backends::$backend(crate::suite::$test);
                }
            )*
            $(
                #[test]
                fn $isolated() {
                    let name = concat!(stringify!($backend), "::", stringify!($isolated));
                    crate::run_isolated(name, || crate::backends::$backend(crate::suite::$isolated));
                }
            )*
        }
    };
}

macro_rules! conformance {
    (tests: [$($test:ident),* $(,)?], isolated: [$($isolated:ident),* $(,)?] $(,)?) => {
        backend_mod!(uring; [$($test),*]; [$($isolated),*]);
        backend_mod!(epoll; [$($test),*]; [$($isolated),*]);
        backend_mod!(compio; [$($test),*]; [$($isolated),*]);
        backend_mod!(monoio; [$($test),*]; [$($isolated),*]);
        backend_mod!(tokio; [$($test),*]; [$($isolated),*]);
    };
}

conformance! {
    tests: [
        echo_tcp,
        echo_ipc,
        thousand_connections,
        transfer_256mib,
        partial_writes,
        vectored_many_slices,
        timers_in_order,
        fault_peer_reset,
        fault_connect_refused,
        connect_prepared_hook,
        fault_send_after_shutdown,
        listener_drop_with_pending_accept,
    ],
    isolated: [cancellation],
}
