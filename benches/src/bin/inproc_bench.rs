//! `inproc_bench thr SIZE COUNT` / `inproc_bench batch SIZE COUNT` / `inproc_bench lat
//! SIZE ROUNDTRIPS` / `inproc_bench scale IDLE ROUNDTRIPS`: PUSH/PULL throughput
//! (`batch`: with `send_batch` / `recv_many` of 256), REQ/REP latency, or a ROUTER's
//! round trip with one active and IDLE silent DEALERs (64 B), over `inproc://` in this
//! process (see `ringmq_bench::inproc`). `--backend B` (or `RINGMQ_BACKEND`) is the binding side's
//! engine; `--peer B2` puts the connecting socket on a second thread running `B2`,
//! without it both sockets share one thread. The sender's messages view one payload
//! that is never freed; `--clone`: clones of one `Bytes` instead (the TCP tools'
//! default), `--alloc`: a fresh allocation each (libzmq's perf tools' pattern).

use ringmq_bench::inproc::{run, Source, Test};
use ringmq_bench::tools::{Args, Backend};

fn main() {
    let mut peer = None;
    let mut source = Source::Static;
    let mut rest = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--peer" {
            peer = args
                .next()
                .map(|b| Backend::parse(&b).unwrap_or_else(|e| fail(&e)));
        } else if a == "--alloc" {
            source = Source::Alloc;
        } else if a == "--clone" {
            source = Source::Clone;
        } else {
            rest.push(a);
        }
    }
    let args = Args::from_list(rest).unwrap_or_else(|e| fail(&e));
    let num = |i, what| args.num(i, what).unwrap_or_else(|e| fail(&e));
    let test = match args.positional.first().map(String::as_str) {
        Some("thr") => Test::Thr {
            size: num(1, "size") as usize,
            count: num(2, "count"),
        },
        Some("batch") => Test::Batch {
            size: num(1, "size") as usize,
            count: num(2, "count"),
        },
        Some("lat") => Test::Lat {
            size: num(1, "size") as usize,
            rounds: num(2, "roundtrips"),
        },
        Some("scale") => Test::Scale {
            size: 64,
            idle: num(1, "idle peers"),
            rounds: num(2, "roundtrips"),
        },
        _ => fail("usage: inproc_bench thr|batch|lat SIZE N | scale IDLE N [--backend B] [--peer B2] [--clone|--alloc]"),
    };
    if let Err(e) = run(test, args.backend, peer, source) {
        fail(&e.to_string());
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("inproc_bench: {msg}");
    std::process::exit(1)
}
