//! `local_lat <bind-endpoint> <message-size> <roundtrip-count>`: a REP that echoes
//! (libzmq's `perf/local_lat`). `--backend uring|epoll|compio|monoio|tokio` (or
//! `RINGMQ_BACKEND`), `--curve` (or `RINGMQ_CURVE=1`; this side is the CURVE server).

fn main() {
    ringmq_bench::tools::main_with("local_lat", |ep, size, rounds| {
        ringmq_bench::tools::Role::LocalLat { ep, size, rounds }
    });
}
