//! `remote_lat <connect-endpoint> <message-size> <roundtrip-count>`: a REQ doing the
//! round trips, printing `average latency: X [us]` (half the round trip), like libzmq's
//! `perf/remote_lat`. `--backend uring|epoll|compio|monoio|tokio` (or `RINGMQ_BACKEND`),
//! `--curve` (or `RINGMQ_CURVE=1`; the fixed test keys of `tools::CURVE_KEYS`).

fn main() {
    ringmq_bench::tools::main_with("remote_lat", |ep, size, rounds| {
        ringmq_bench::tools::Role::RemoteLat { ep, size, rounds }
    });
}
