//! The extra roles `compare` runs as child processes, on ringmq (any backend) or on
//! raw blocking sockets:
//!
//! ```text
//! bench_peer pub <bind-ep> <size> <count> <subscribers>
//! bench_peer subs <connect-ep> <count> <subscribers> [--batch N]
//! bench_peer router <bind-ep> <total-requests>
//! bench_peer dealers <connect-ep> <size> <peers> <rounds>
//! bench_peer scale_dealers <connect-ep> <size> <idle-peers> <rounds>
//! bench_peer mem_push <connect-ep> <size> <count> <hwm>
//! bench_peer stall_pull <bind-ep> <hwm> <seconds>
//! bench_peer hs_server <bind-ep> <connections>
//! bench_peer hs_clients <connect-ep> <connections>
//! bench_peer raw_local_lat|raw_remote_lat|raw_local_thr|raw_remote_thr <ep> <size> <count>
//! ```
//!
//! Flags: `--backend uring|epoll|compio|monoio|tokio` (or `RINGMQ_BACKEND`), `--curve`;
//! `subs --batch N`: each SUB receives with `recv_many` of up to N messages.
//! `c/zmq_tools.c` implements the same roles (and the perf tools) on libzmq.

use ringmq_bench::tools::{run, Args, Role};

fn main() {
    if let Err(e) = real_main() {
        eprintln!("bench_peer: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::from_env()?;
    let role = a.positional.first().ok_or("missing role")?.clone();
    let ep = a.positional.get(1).ok_or("missing endpoint")?.clone();
    let want = |n: usize| -> Result<(), String> {
        if a.positional.len() != n + 2 {
            return Err(format!("{role} takes {n} numbers after the endpoint"));
        }
        Ok(())
    };
    let role = match role.as_str() {
        "pub" => {
            want(3)?;
            Role::Pub {
                ep,
                size: a.num(2, "size")? as usize,
                count: a.num(3, "count")?,
                subs: a.num(4, "subscribers")?,
            }
        }
        "subs" => {
            want(2)?;
            Role::Subs {
                ep,
                count: a.num(2, "count")?,
                subs: a.num(3, "subscribers")?,
                batch: a.batch,
            }
        }
        "router" => {
            want(1)?;
            Role::Router {
                ep,
                total: a.num(2, "total")?,
            }
        }
        "dealers" => {
            want(3)?;
            Role::Dealers {
                ep,
                size: a.num(2, "size")? as usize,
                peers: a.num(3, "peers")?,
                rounds: a.num(4, "rounds")?,
            }
        }
        "scale_dealers" => {
            want(3)?;
            Role::ScaleDealers {
                ep,
                size: a.num(2, "size")? as usize,
                idle: a.num(3, "idle-peers")?,
                rounds: a.num(4, "rounds")?,
            }
        }
        "mem_push" => {
            want(3)?;
            Role::MemPush {
                ep,
                size: a.num(2, "size")? as usize,
                count: a.num(3, "count")?,
                hwm: a.num(4, "hwm")?,
            }
        }
        "stall_pull" => {
            want(2)?;
            Role::StallPull {
                ep,
                hwm: a.num(2, "hwm")?,
                secs: a.num(3, "seconds")?,
            }
        }
        "hs_server" => {
            want(1)?;
            Role::HandshakeServer {
                ep,
                total: a.num(2, "connections")?,
            }
        }
        "hs_clients" => {
            want(1)?;
            Role::HandshakeClients {
                ep,
                count: a.num(2, "connections")?,
            }
        }
        raw @ ("raw_local_lat" | "raw_remote_lat" | "raw_local_thr" | "raw_remote_thr") => {
            want(2)?;
            let size = a.num(2, "size")? as usize;
            let count = a.num(3, "count")?;
            use ringmq_bench::raw;
            match raw {
                "raw_local_lat" => raw::local_lat(&ep, size, count)?,
                "raw_remote_lat" => raw::remote_lat(&ep, size, count)?,
                "raw_local_thr" => raw::local_thr(&ep, size, count)?,
                _ => raw::remote_thr(&ep, size, count)?,
            }
            return Ok(());
        }
        other => return Err(format!("unknown role {other:?}").into()),
    };
    run(a.backend, a.curve, role)
}
