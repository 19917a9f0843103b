//! `local_thr <bind-endpoint> <message-size> <message-count>`: a PULL timing from the
//! first message, printing libzmq's `perf/local_thr` lines. `--backend
//! uring|epoll|compio|monoio|tokio` (or `RINGMQ_BACKEND`), `--curve` (or `RINGMQ_CURVE=1`),
//! `--batch N` (the batch API: `recv_many` of up to N messages a call).

fn main() {
    ringmq_bench::tools::main_with("local_thr", |ep, size, count| {
        ringmq_bench::tools::Role::LocalThr { ep, size, count }
    });
}
