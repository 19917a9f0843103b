//! `remote_thr <connect-endpoint> <message-size> <message-count>`: a PUSH sending the
//! messages and closing with linger, like libzmq's `perf/remote_thr`. `--backend
//! uring|epoll|compio|monoio|tokio` (or `RINGMQ_BACKEND`), `--curve` (or `RINGMQ_CURVE=1`),
//! `--batch N` (the batch API: `send_batch` of N messages a call).

fn main() {
    ringmq_bench::tools::main_with("remote_thr", |ep, size, count| {
        ringmq_bench::tools::Role::RemoteThr { ep, size, count }
    });
}
