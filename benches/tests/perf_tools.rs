//! ringmq's perf tools against the libzmq-based ones (`c/zmq_tools.c`, compiled here
//! with `cc -lzmq`) in both directions, with small counts: the ZMTP exchange works
//! across implementations and the output lines parse like libzmq's. A missing C
//! compiler or libzmq FAILS these tests (install: `apt-get install libzmq3-dev`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringmq_bench::parse_line;

fn zmq_tools() -> &'static Path {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("perf-tools-zmq");
        match ringmq_bench::build_zmq_tools(&dir) {
            Ok(p) => p,
            Err(e) => panic!("the libzmq side cannot be built: {e}"),
        }
    })
}

#[derive(Clone, Copy)]
enum Side {
    Ours(&'static str),
    Zmq,
}

fn command(side: Side, tool: &str, args: &[String], curve: bool) -> Command {
    let mut cmd = match side {
        Side::Ours(backend) => {
            let exe = match tool {
                "local_lat" => env!("CARGO_BIN_EXE_local_lat"),
                "remote_lat" => env!("CARGO_BIN_EXE_remote_lat"),
                "local_thr" => env!("CARGO_BIN_EXE_local_thr"),
                "remote_thr" => env!("CARGO_BIN_EXE_remote_thr"),
                _ => env!("CARGO_BIN_EXE_bench_peer"),
            };
            let mut c = Command::new(exe);
            if exe == env!("CARGO_BIN_EXE_bench_peer") {
                c.arg(tool);
            }
            c.args(args).args(["--backend", backend]);
            c
        }
        Side::Zmq => {
            let mut c = Command::new(zmq_tools());
            c.arg(tool).args(args);
            c
        }
    };
    if curve {
        cmd.arg("--curve");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RINGMQ_BACKEND")
        .env_remove("RINGMQ_CURVE");
    cmd
}

/// Waits (at most 30 s) and returns stdout; panics with stderr on failure.
fn finish(mut child: Child, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert!(status.success(), "{what} failed ({status}): {err}");
    out
}

fn endpoint(ipc: bool) -> String {
    if ipc {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("ringmq-perf-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&p);
        format!("ipc://{}", p.display())
    } else {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        format!("tcp://{}", l.local_addr().expect("addr"))
    }
}

/// Runs `server_tool` on `server` and `client_tool` on `client`; returns both outputs.
fn run_pair(
    server: Side,
    server_tool: &str,
    client: Side,
    client_tool: &str,
    args: &[String],
    curve: bool,
) -> (String, String) {
    let s = command(server, server_tool, args, curve)
        .spawn()
        .expect("spawn server");
    // The connecting side retries until the bind is up (ZeroMQ reconnect).
    let c = command(client, client_tool, args, curve)
        .spawn()
        .expect("spawn client");
    let client_out = finish(c, client_tool);
    let server_out = finish(s, server_tool);
    (server_out, client_out)
}

fn check_lat(out: &str, size: usize, rounds: u64) {
    assert_eq!(
        parse_line(out, "message size:", "[B]"),
        Some(size as f64),
        "{out}"
    );
    assert_eq!(
        parse_line(out, "roundtrip count:", ""),
        Some(rounds as f64),
        "{out}"
    );
    let lat = parse_line(out, "average latency:", "[us]").expect("average latency line");
    assert!(lat > 0.0 && lat < 1e6, "implausible latency {lat} in {out}");
}

fn check_thr(out: &str, size: usize, count: u64) {
    assert_eq!(
        parse_line(out, "message size:", "[B]"),
        Some(size as f64),
        "{out}"
    );
    assert_eq!(
        parse_line(out, "message count:", ""),
        Some(count as f64),
        "{out}"
    );
    let msgs = parse_line(out, "mean throughput:", "[msg/s]").expect("msg/s line");
    let mbits = parse_line(out, "mean throughput:", "[Mb/s]").expect("Mb/s line");
    assert!(msgs > 0.0, "{out}");
    let expect = msgs * size as f64 * 8.0 / 1e6;
    assert!(
        (mbits - expect).abs() <= expect * 1e-3 + 0.01,
        "Mb/s {mbits} != {expect}: {out}"
    );
}

fn lat(server: Side, client: Side, ipc: bool, size: usize, curve: bool) {
    let rounds = 200;
    let args = vec![endpoint(ipc), size.to_string(), rounds.to_string()];
    let (_, out) = run_pair(server, "local_lat", client, "remote_lat", &args, curve);
    check_lat(&out, size, rounds);
}

fn thr(server: Side, client: Side, size: usize, count: u64, curve: bool) {
    let args = vec![endpoint(false), size.to_string(), count.to_string()];
    let (out, client_out) = run_pair(server, "local_thr", client, "remote_thr", &args, curve);
    check_thr(&out, size, count);
    assert!(
        client_out.trim().is_empty(),
        "remote_thr prints nothing: {client_out}"
    );
}

const BACKENDS: [&str; 4] = ["uring", "epoll", "compio", "monoio"];

#[test]
fn our_remote_lat_against_libzmq_local_lat() {
    for b in BACKENDS {
        lat(Side::Zmq, Side::Ours(b), false, 64, false);
    }
    lat(Side::Zmq, Side::Ours("uring"), true, 65536, false);
}

#[test]
fn libzmq_remote_lat_against_our_local_lat() {
    for b in BACKENDS {
        lat(Side::Ours(b), Side::Zmq, false, 1024, false);
    }
    lat(Side::Ours("epoll"), Side::Zmq, true, 64, false);
}

#[test]
fn our_remote_thr_against_libzmq_local_thr() {
    for b in BACKENDS {
        thr(Side::Zmq, Side::Ours(b), 64, 20_000, false);
    }
    thr(Side::Zmq, Side::Ours("uring"), 131072, 200, false);
}

#[test]
fn libzmq_remote_thr_against_our_local_thr() {
    for b in BACKENDS {
        thr(Side::Ours(b), Side::Zmq, 8, 20_000, false);
    }
    thr(Side::Ours("monoio"), Side::Zmq, 65536, 300, false);
}

#[test]
fn curve_across_implementations() {
    lat(Side::Zmq, Side::Ours("uring"), false, 64, true);
    lat(Side::Ours("epoll"), Side::Zmq, false, 64, true);
    thr(Side::Ours("compio"), Side::Zmq, 256, 5_000, true);
    thr(Side::Zmq, Side::Ours("monoio"), 256, 5_000, true);
}

#[test]
fn fan_out_and_router_roles_across_implementations() {
    // ringmq XPUB, libzmq SUBs; then libzmq XPUB, ringmq SUBs.
    for (p, s) in [
        (Side::Ours("uring"), Side::Zmq),
        (Side::Zmq, Side::Ours("epoll")),
    ] {
        let ep = endpoint(false);
        let (pub_out, sub_out) = run_pair_roles(
            p,
            "pub",
            &[ep.clone(), "64".into(), "300".into(), "5".into()],
            s,
            "subs",
            &[ep, "300".into(), "5".into()],
        );
        let start = parse_line(&pub_out, "start:", "[unix us]").expect("start line");
        let end = parse_line(&sub_out, "end:", "[unix us]").expect("end line");
        assert!(end >= start, "{pub_out} {sub_out}");
        assert_eq!(parse_line(&sub_out, "subscribers:", ""), Some(5.0));
    }
    // ringmq ROUTER, libzmq DEALERs, and the reverse: 20 peers, 1 warm-up + 3 rounds.
    for (r, d) in [
        (Side::Ours("compio"), Side::Zmq),
        (Side::Zmq, Side::Ours("monoio")),
    ] {
        let ep = endpoint(false);
        let (_, out) = run_pair_roles(
            r,
            "router",
            &[ep.clone(), "80".into()],
            d,
            "dealers",
            &[ep, "64".into(), "20".into(), "3".into()],
        );
        assert!(parse_line(&out, "requests:", "[req/s]").expect("requests line") > 0.0);
        assert!(parse_line(&out, "p99 round trip:", "[us]").expect("p99 line") > 0.0);
    }
}

#[test]
fn scale_role_across_implementations() {
    // 150 idle DEALERs, 100 untimed and 50 timed round trips of the active one; the
    // ROUTER exits after exactly that many echoes, so a lost idle peer hangs the pair
    // (and fails it after 30 s). libzmq's idle peers are spread over three processes
    // of 50 (two forked helpers), as 10,000 would be over two.
    let (idle, rounds) = (150u64, 50u64);
    let total = idle + ringmq_bench::tools::SCALE_WARMUP + rounds;
    for (r, d) in [
        (Side::Ours("uring"), Side::Zmq),
        (Side::Zmq, Side::Ours("epoll")),
        (Side::Ours("monoio"), Side::Ours("compio")),
    ] {
        let ep = endpoint(false);
        let server = command(r, "router", &[ep.clone(), total.to_string()], false)
            .spawn()
            .expect("spawn router");
        let mut client = command(
            d,
            "scale_dealers",
            &[ep, "64".into(), idle.to_string(), rounds.to_string()],
            false,
        );
        client.env("ZMQ_TOOLS_IDLE_PER_PROCESS", "50");
        let out = finish(client.spawn().expect("spawn dealers"), "scale_dealers");
        finish(server, "router");
        assert_eq!(
            parse_line(&out, "round trips:", ""),
            Some(rounds as f64),
            "{out}"
        );
        let median = parse_line(&out, "median round trip:", "[us]").expect("median line");
        let p99 = parse_line(&out, "p99 round trip:", "[us]").expect("p99 line");
        assert!(median > 0.0 && p99 >= median, "{out}");
        assert!(parse_line(&out, "setup:", "[ms]").is_some(), "{out}");
    }
}

#[test]
fn memory_role_is_bounded_by_hwm() {
    for side in [Side::Ours("uring"), Side::Zmq] {
        let ep = endpoint(false);
        let stall = command(
            side,
            "stall_pull",
            &[ep.clone(), "100".into(), "20".into()],
            false,
        )
        .spawn()
        .expect("spawn stall_pull");
        let push = command(
            side,
            "mem_push",
            &[ep, "65536".into(), "2000".into(), "100".into()],
            false,
        )
        .spawn()
        .expect("spawn mem_push");
        let out = finish(push, "mem_push");
        let mut stall = stall;
        let _ = stall.kill();
        let _ = stall.wait();
        let sent = parse_line(&out, "sent:", "").expect("sent line");
        // 100 queued on each side plus what the kernel's socket buffers hold.
        assert!((100.0..1000.0).contains(&sent), "sent {sent}: {out}");
        assert!(parse_line(&out, "VmHWM:", "[kB]").expect("VmHWM line") > 0.0);
    }
}

fn run_pair_roles(
    server: Side,
    server_role: &str,
    server_args: &[String],
    client: Side,
    client_role: &str,
    client_args: &[String],
) -> (String, String) {
    let s = command(server, server_role, server_args, false)
        .spawn()
        .expect("spawn server");
    let c = command(client, client_role, client_args, false)
        .spawn()
        .expect("spawn client");
    let client_out = finish(c, client_role);
    let server_out = finish(s, server_role);
    (server_out, client_out)
}
