//! ringmq against libzmq and raw TCP, side by side (issue 6).
//!
//! `cargo run --release -p ringmq-bench --bin compare -- [--quick] [--repeats N]
//! [--curve] [--no-docs] [--pin] [--only ROWS]`
//!
//! `--only ROWS` runs only the rows named (comma-separated: `lat`, `thr`, `fan`,
//! `batch`, `router`, `hs`, `mem`, `scale`, `inproc`, `handles`; `hs`, the CURVE handshake rate, with
//! `--curve` only), e.g. `--quick --only scale` for the idle-peer scale row alone; the
//! markdown is printed but docs/PERFORMANCE.md and docs/throughput.svg are left alone
//! (as with `--no-docs`), since a partial table would replace the full one.
//!
//! By default placement is left to the scheduler, the conditions under which the
//! targets of ../shared/DESIGN.md were set. `--pin` runs the binding process on CPU 0
//! and the connecting one on CPU 1 (`taskset`), for every implementation alike: on a
//! 2-CPU machine the scheduler otherwise moves the two processes between CPUs from run
//! to run, which changes throughput by up to 2x for libzmq and ringmq alike, and
//! libzmq (an application and an I/O thread per process) gains the most from pinning
//! (docs/PERFORMANCE.md).
//!
//! Every measurement runs two (or more) processes: the binding side is started first,
//! the connecting side once the port listens (or the IPC socket file exists). ringmq
//! runs the `local_lat`/`remote_lat`/`local_thr`/`remote_thr`/`bench_peer` binaries of
//! this crate (built by this program with `cargo build -p ringmq-bench --bins`) on
//! each backend, libzmq runs `c/zmq_tools.c` compiled here with `cc -lzmq`, raw runs
//! `bench_peer raw_*` (blocking std sockets). Implementations are interleaved inside
//! each repeat; tables show medians. The result is printed and written between the
//! markers of docs/PERFORMANCE.md; throughput curves go to docs/throughput.svg.
//!
//! The inproc row (issue 12) runs in one process each: ringmq's `inproc_bench` with the
//! two sockets on two threads (both on the backend named) or on one thread, with the
//! plain `send` / `recv` and with the batch API (`send_batch` / `recv_many` of 256), libzmq's
//! `zmq_tools inproc_thr` / `inproc_lat` (a second thread of the same context), and, as
//! the same-run reference of its ratios, each implementation's TCP PUSH/PULL and
//! REQ/REP at 64 B (two processes, as in the other rows). For ringmq it also runs
//! `inproc_bench scale` with 0, 1,000 and 10,000 idle DEALERs on one thread (the
//! idle-peer check of the scale row, over inproc). ringmq's senders in this row, TCP
//! reference and inproc alike, send views of one payload that is never freed (no
//! reference count: `inproc_bench`'s default, `remote_thr` / `remote_lat --static`);
//! the two-thread batch line is also run with `--clone` (clones of one `Bytes`, the
//! other rows' source) and `--alloc` (a fresh allocation per message, as libzmq's tools
//! make each message), shown but not judged.
//!
//! The scale row (issue 11) needs about 10,000 file descriptors in each of its two
//! processes: their soft limit is raised to that through `sh -c 'ulimit -S -n N'`
//! (the hard limit, `ulimit -Hn`, must allow it; the row fails with a message if not).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringmq_bench::parse_line;
use ringmq_bench::tools::Backend;

type Res<T> = Result<T, String>;

const LAT_SIZES: [usize; 3] = [64, 1024, 65536];
const THR_SIZES: [usize; 8] = [8, 64, 256, 1024, 4096, 16384, 65536, 131072];
const FAN_SUBS: [u64; 4] = [1, 10, 100, 1000];
const ROUTER_PEERS: u64 = 1000;
const MEM_HWM: u64 = 1000;
const MEM_SIZE: usize = 65536;
/// Idle DEALERs of the scale row; 0 is the active peer alone, the reference.
const SCALE_IDLE: [u64; 3] = [0, 1000, 10_000];
/// Connections opened one after another for the CURVE handshake rate (quick: a fifth).
const HS_CONNECTIONS: u64 = 1000;
/// The rows `--only` can name, in the order they run (`hs`, the CURVE handshake rate,
/// runs with `--curve` only).
const ROWS: [&str; 10] = [
    "lat", "thr", "batch", "fan", "router", "hs", "mem", "scale", "inproc", "handles",
];
/// Messages per `send_batch` / at most per `recv_many` in the batch row.
const BATCH: usize = 256;
/// Message size of the batch row.
const BATCH_SIZE: usize = 64;
/// Message size of the inproc row.
const INPROC_SIZE: usize = 64;
const BEGIN: &str = "<!-- compare:begin (issue 6, written by `compare`) -->";
const END: &str = "<!-- compare:end -->";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Impl {
    Ring(Backend),
    Libzmq,
    Raw,
}

impl Impl {
    fn name(self) -> String {
        match self {
            Impl::Ring(b) => format!("ringmq {}", b.name()),
            Impl::Libzmq => "libzmq".into(),
            Impl::Raw => "raw".into(),
        }
    }
}

struct Cfg {
    quick: bool,
    repeats: usize,
    repeats_arg: Option<String>,
    curve: bool,
    docs: bool,
    bin_dir: PathBuf,
    zmq_tools: PathBuf,
    impls: Vec<Impl>,
    /// CPUs for the binding and the connecting process, when pinned.
    pin: Option<(usize, usize)>,
    /// The rows to run (`--only`); all when `None`.
    only: Option<Vec<String>>,
}

impl Cfg {
    /// Whether `row` (a key's first component: `lat`, `thr`, ..., `scale`) runs.
    fn runs(&self, row: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|rows| rows.iter().any(|r| r == row))
    }

    /// The implementations measured in `row` (raw only when `with_raw`), none when
    /// `--only` leaves the row out.
    fn impls_in(&self, row: &str, with_raw: bool) -> Vec<Impl> {
        if !self.runs(row) {
            return Vec::new();
        }
        self.impls
            .iter()
            .copied()
            .filter(|&i| with_raw || i != Impl::Raw)
            .collect()
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("compare: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let mut quick = false;
    let mut repeats = None;
    let mut curve = false;
    let mut docs = true;
    let mut pin = false;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--curve" => curve = true,
            "--no-docs" => docs = false,
            "--pin" => pin = true,
            "--only" => {
                only = Some(parse_only(
                    &args.next().ok_or("--only needs rows, e.g. --only scale")?,
                )?);
            }
            "--repeats" => {
                repeats = Some(
                    args.next()
                        .and_then(|v| v.parse().ok())
                        .ok_or("--repeats needs a number")?,
                )
            }
            other => return Err(format!("unknown argument {other:?} (see the doc comment)")),
        }
    }
    if !curve
        && only
            .as_ref()
            .is_some_and(|rows| rows.iter().any(|r| r == "hs"))
    {
        return Err("--only hs: the CURVE handshake row runs with --curve only".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin_dir = exe.parent().ok_or("no exe dir")?.to_path_buf();
    build_tools(&bin_dir)?;
    let zmq_tools = ringmq_bench::build_zmq_tools(&bin_dir.join("zmq-tools"))?;
    let mut impls: Vec<Impl> = Backend::ALL.iter().map(|&b| Impl::Ring(b)).collect();
    impls.push(Impl::Libzmq);
    impls.push(Impl::Raw);
    if pin && !pinning_available() {
        return Err("--pin needs 2 CPUs and `taskset`".into());
    }
    let pin = pin.then_some((0, 1));
    if docs && only.is_some() {
        eprintln!("--only: docs/PERFORMANCE.md is left alone (as with --no-docs)");
        docs = false;
    }
    let cfg = Cfg {
        pin,
        only,
        quick,
        repeats: repeats.unwrap_or(if quick { 3 } else { 5 }),
        repeats_arg: repeats.map(|r| format!(" --repeats {r}")),
        curve,
        docs,
        bin_dir,
        zmq_tools,
        impls,
    };
    let load_before = loadavg();
    let started = Instant::now();
    let results = measure(&cfg);
    let wall = started.elapsed();
    let load_after = loadavg();
    let md = report(&cfg, &results, wall, &load_before, &load_after);
    println!("{md}");
    if cfg.docs {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        write_section(&root.join("docs/PERFORMANCE.md"), &md)?;
        std::fs::write(root.join("docs/throughput.svg"), svg(&cfg, &results))
            .map_err(|e| format!("write docs/throughput.svg: {e}"))?;
        eprintln!("wrote docs/PERFORMANCE.md (section between the compare markers) and docs/throughput.svg");
    }
    Ok(())
}

/// The rows of `--only ROWS` (comma-separated names of [`ROWS`]).
fn parse_only(arg: &str) -> Res<Vec<String>> {
    let rows: Vec<String> = arg.split(',').map(|r| r.trim().to_string()).collect();
    if let Some(r) = rows.iter().find(|r| !ROWS.contains(&r.as_str())) {
        return Err(format!("--only: no row {r:?} (rows: {})", ROWS.join(", ")));
    }
    Ok(rows)
}

/// Builds the tool binaries next to this one (`cargo run --bin compare` builds only
/// `compare`).
fn build_tools(bin_dir: &Path) -> Res<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "ringmq-bench", "--bins"]);
    if bin_dir.ends_with("release") {
        cmd.arg("--release");
    }
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("cargo build -p ringmq-bench --bins failed".into());
    }
    Ok(())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Samples per (metric key, implementation name), each with the repeat it came from.
type Results = HashMap<(String, String), Vec<(usize, f64)>>;

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

fn get(results: &Results, key: &str, imp: Impl) -> Option<f64> {
    let samples = results.get(&(key.to_string(), imp.name()))?;
    median(&samples.iter().map(|&(_, v)| v).collect::<Vec<_>>())
}

/// `imp ÷ reference` for `key`: the median over the repeats of the ratio within each
/// repeat, where the two ran minutes apart at most. The machine's speed drifts (up to
/// 2x for raw TCP between runs), so a ratio of two medians taken from different repeats
/// would mix its states.
fn ratio(results: &Results, key: &str, imp: Impl, reference: Impl) -> Option<f64> {
    let of = |i: Impl| results.get(&(key.to_string(), i.name()));
    paired_ratio(of(imp)?, of(reference)?)
}

/// The median over the repeats of `a ÷ b` within each repeat (see [`ratio`]).
fn paired_ratio(a: &[(usize, f64)], b: &[(usize, f64)]) -> Option<f64> {
    let paired: Vec<f64> = a
        .iter()
        .filter_map(|&(rep, v)| {
            let r = b.iter().find(|&&(r, _)| r == rep)?.1;
            (r != 0.0).then_some(v / r)
        })
        .collect();
    median(&paired)
}

// ---------------------------------------------------------------- processes

fn command(cfg: &Cfg, imp: Impl, role: &str, args: &[String]) -> Command {
    let perf_tool = matches!(
        role,
        "local_lat" | "remote_lat" | "local_thr" | "remote_thr"
    );
    let mut cmd = match imp {
        Impl::Ring(b) => {
            let mut c = if perf_tool {
                Command::new(cfg.bin_dir.join(role))
            } else {
                let mut c = Command::new(cfg.bin_dir.join("bench_peer"));
                c.arg(role);
                c
            };
            c.args(args).args(["--backend", b.name()]);
            if cfg.curve {
                c.arg("--curve");
            }
            c
        }
        Impl::Libzmq => {
            let mut c = Command::new(&cfg.zmq_tools);
            c.arg(role).args(args);
            if cfg.curve {
                c.arg("--curve");
            }
            c
        }
        Impl::Raw => {
            let mut c = Command::new(cfg.bin_dir.join("bench_peer"));
            c.arg(format!("raw_{role}")).args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RINGMQ_BACKEND")
        .env_remove("RINGMQ_CURVE");
    cmd
}

/// Two CPUs and `taskset` (util-linux) to pin with.
fn pinning_available() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    cpus >= 2 && taskset
}

/// `cmd` run on `cpu` through `taskset`, with the same arguments, environment and
/// pipes.
fn pinned(cmd: Command, cpu: usize) -> Command {
    wrapped(cmd, "taskset", &["-c".into(), cpu.to_string()])
}

/// `cmd` run with the soft limit of open files raised to `files` (when it is lower)
/// through `sh -c 'ulimit -S -n N'`; fails when the hard limit is below `files`.
fn with_files(cmd: Command, files: u64) -> Res<Command> {
    let (soft, hard) = nofile_limits().ok_or("cannot read Max open files in /proc/self/limits")?;
    if files <= soft {
        return Ok(cmd);
    }
    if files > hard {
        return Err(format!(
            "needs {files} file descriptors per process; the hard limit (ulimit -Hn) is {hard}"
        ));
    }
    let script = r#"ulimit -S -n "$0" && exec "$@""#;
    Ok(wrapped(
        cmd,
        "sh",
        &["-c".into(), script.into(), files.to_string()],
    ))
}

/// The soft and hard limits of open files of this process (`unlimited` as `u64::MAX`).
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut v = line["Max open files".len()..]
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(u64::MAX));
    Some((v.next()?, v.next()?))
}

/// `cmd` run through `program prefix...`, with the same arguments, environment and
/// pipes.
fn wrapped(cmd: Command, program: &str, prefix: &[String]) -> Command {
    let mut t = Command::new(program);
    t.args(prefix).arg(cmd.get_program());
    t.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => t.env(k, v),
            None => t.env_remove(k),
        };
    }
    t.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    t
}

/// The command for one side of a pair: the binding side (`server`) or the other.
fn side(cfg: &Cfg, imp: Impl, role: &str, args: &[String], server: bool) -> Command {
    placed(cfg, command(cfg, imp, role, args), server)
}

/// `cmd` pinned to the binding (`server`) or connecting side's CPU, when pinned.
fn placed(cfg: &Cfg, cmd: Command, server: bool) -> Command {
    match cfg.pin {
        Some((s, c)) => pinned(cmd, if server { s } else { c }),
        None => cmd,
    }
}

fn spawn(mut cmd: Command) -> Res<Child> {
    cmd.spawn()
        .map_err(|e| format!("spawn {:?}: {e}", cmd.get_program()))
}

/// Waits for `child` (killing it after `limit`) and returns its stdout.
fn finish(mut child: Child, limit: Duration, what: &str) -> Res<String> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                let mut err = String::new();
                if let Some(mut o) = child.stdout.take() {
                    let _ = o.read_to_string(&mut out);
                }
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                if !status.success() {
                    return Err(format!("{what} failed ({status}): {}", err.trim()));
                }
                return Ok(out);
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} timed out after {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until `ep` listens: a TCP port in LISTEN state in /proc/net/tcp{,6}, or an
/// IPC socket file that exists. Fails when `server` exits first.
fn wait_listening(ep: &str, server: &mut Child) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = if let Some(path) = ep.strip_prefix("ipc://") {
            Path::new(path).exists()
        } else {
            let port = ep.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
            port.is_some_and(tcp_listening)
        };
        if ready {
            return Ok(());
        }
        if let Ok(Some(status)) = server.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = server.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            return Err(format!(
                "server exited ({status}) before listening: {}",
                err.trim()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!("{ep} not listening after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn tcp_listening(port: u16) -> bool {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|s| {
            s.lines().skip(1).any(|l| {
                let mut cols = l.split_whitespace();
                let local = cols.nth(1).unwrap_or("");
                let state = cols.nth(1).unwrap_or("");
                local.ends_with(&want) && state == "0A"
            })
        })
    })
}

struct Endpoints {
    n: u32,
}

impl Endpoints {
    fn next(&mut self, ipc: bool) -> Res<String> {
        self.n += 1;
        if ipc {
            let p = std::env::temp_dir().join(format!(
                "ringmq-compare-{}-{}.sock",
                std::process::id(),
                self.n
            ));
            let _ = std::fs::remove_file(&p);
            Ok(format!("ipc://{}", p.display()))
        } else {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let port = l.local_addr().map_err(|e| e.to_string())?.port();
            Ok(format!("tcp://127.0.0.1:{port}"))
        }
    }
}

fn cleanup(ep: &str) {
    if let Some(path) = ep.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
    }
}

/// Runs a server/client pair; returns (server stdout, client stdout).
fn pair(
    cfg: &Cfg,
    imp: Impl,
    ep: &str,
    server: (&str, Vec<String>),
    client: (&str, Vec<String>),
) -> Res<(String, String)> {
    let limit = Duration::from_secs(if cfg.quick { 30 } else { 120 });
    pair_commands(
        ep,
        limit,
        (side(cfg, imp, server.0, &server.1, true), server.0),
        (side(cfg, imp, client.0, &client.1, false), client.0),
    )
}

/// Runs a server/client pair of ready commands, each named for errors; returns
/// (server stdout, client stdout).
fn pair_commands(
    ep: &str,
    limit: Duration,
    server: (Command, &str),
    client: (Command, &str),
) -> Res<(String, String)> {
    let mut s = spawn(server.0)?;
    if let Err(e) = wait_listening(ep, &mut s) {
        kill(s);
        return Err(e);
    }
    let c = match spawn(client.0) {
        Ok(c) => c,
        Err(e) => {
            kill(s);
            return Err(e);
        }
    };
    let client_out = finish(c, limit, client.1);
    // A client that failed leaves the server waiting for it: a short grace, not the
    // whole limit again.
    let server_limit = match client_out {
        Ok(_) => limit,
        Err(_) => limit.min(Duration::from_secs(5)),
    };
    let server_out = finish(s, server_limit, server.1);
    cleanup(ep);
    Ok((server_out?, client_out?))
}

fn num(out: &str, prefix: &str, unit: &str) -> Res<f64> {
    parse_line(out, prefix, unit).ok_or_else(|| format!("no `{prefix} N {unit}` line in {out:?}"))
}

// ---------------------------------------------------------------- measurements

fn lat_rounds(quick: bool, size: usize) -> u64 {
    let base = if size >= 65536 { 500 } else { 2000 };
    if quick {
        base
    } else {
        base * 10
    }
}

fn thr_count(quick: bool, size: usize) -> u64 {
    let c = ((128 << 20) / size as u64).clamp(5000, 500_000);
    if quick {
        c
    } else {
        c * 5
    }
}

fn fan_count(quick: bool, subs: u64) -> u64 {
    let c = (20_000 / subs).max(500);
    if quick {
        c
    } else {
        c * 5
    }
}

fn router_rounds(quick: bool) -> u64 {
    if quick {
        5
    } else {
        20
    }
}

fn scale_rounds(quick: bool) -> u64 {
    // With 1,000 round trips in 2 repeats the quick ratios swung by 2-3x between runs
    // for every implementation (docs/PERFORMANCE.md, "Idle-peer scale in full runs").
    if quick {
        2500
    } else {
        5000
    }
}

/// Repeats that run the scale row (from the first): its 10,000 connections take
/// seconds to set up for each implementation.
fn scale_repeats(quick: bool) -> usize {
    if quick {
        3
    } else {
        usize::MAX
    }
}

/// One run of the fan-out row: `pub` sending `count` messages of 64 B to `subs`
/// subscribers of `subs`; returns (publisher's, subscribers') output. Each process
/// holds a descriptor per subscriber (libzmq: two, with each socket's eventfd), so
/// their soft limit is raised as for the scale row.
fn fan(cfg: &Cfg, imp: Impl, ep: &str, count: u64, subs: u64) -> Res<(String, String)> {
    let files = 2 * subs + 1024;
    let publisher = command(cfg, imp, "pub", &[ep.into(), s(64), s(count), s(subs)]);
    let subscribers = command(cfg, imp, "subs", &[ep.into(), s(count), s(subs)]);
    let limit = Duration::from_secs(if cfg.quick { 30 } else { 120 });
    pair_commands(
        ep,
        limit,
        (placed(cfg, with_files(publisher, files)?, true), "pub"),
        (placed(cfg, with_files(subscribers, files)?, false), "subs"),
    )
}

/// One run of the scale row: `router` echoing, `scale_dealers` with `idle` silent
/// peers and the active one; returns (ROUTER side's, DEALER side's output).
fn scale(cfg: &Cfg, imp: Impl, ep: &str, idle: u64, rounds: u64) -> Res<(String, String)> {
    use ringmq_bench::tools::SCALE_WARMUP;
    // The peers' connections, plus the runtime's and libzmq's own descriptors.
    let files = idle + 1024;
    let total = idle + SCALE_WARMUP + rounds;
    let router = command(cfg, imp, "router", &[ep.into(), s(total)]);
    let dealers = command(
        cfg,
        imp,
        "scale_dealers",
        &[ep.into(), s(64), s(idle), s(rounds)],
    );
    let limit = Duration::from_secs(if cfg.quick { 60 } else { 180 });
    pair_commands(
        ep,
        limit,
        (placed(cfg, with_files(router, files)?, true), "router"),
        (
            placed(cfg, with_files(dealers, files)?, false),
            "scale_dealers",
        ),
    )
}

fn inproc_count(quick: bool) -> u64 {
    if quick {
        500_000
    } else {
        5_000_000
    }
}

fn inproc_rounds(quick: bool) -> u64 {
    if quick {
        20_000
    } else {
        200_000
    }
}

/// One process measuring inproc: `inproc_bench` for ringmq, `zmq_tools` for libzmq.
fn inproc_process(cfg: &Cfg, imp: Impl, args: &[String]) -> Res<String> {
    let mut cmd = match imp {
        Impl::Ring(b) => {
            let mut c = Command::new(cfg.bin_dir.join("inproc_bench"));
            c.args(args).args(["--backend", b.name()]);
            c
        }
        _ => {
            let mut c = Command::new(&cfg.zmq_tools);
            c.args(args);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("RINGMQ_BACKEND");
    finish(spawn(cmd)?, Duration::from_secs(120), "inproc")
}

/// The inproc row of one implementation: inproc on two threads (and on one thread for
/// ringmq), then the TCP reference at the same size.
/// Values of one measurement, each with the suffix of its result key.
type Values = Res<Vec<(String, f64)>>;

fn inproc(cfg: &Cfg, imp: Impl, eps: &mut Endpoints) -> Vec<(String, Values)> {
    let (size, count, rounds) = (
        INPROC_SIZE,
        inproc_count(cfg.quick),
        inproc_rounds(cfg.quick),
    );
    let thr = |out: Res<String>| {
        Ok(vec![(
            String::new(),
            num(&out?, "mean throughput:", "[msg/s]")?,
        )])
    };
    let lat = |out: Res<String>| {
        Ok(vec![(
            String::new(),
            num(&out?, "average latency:", "[us]")?,
        )])
    };
    let mut rows = Vec::new();
    match imp {
        Impl::Ring(b) => {
            let two = ["--peer".to_string(), b.name().to_string()];
            let a = [s("thr"), s(size), s(count)];
            rows.push((
                "inproc/thr2".into(),
                thr(inproc_process(cfg, imp, &[&a[..], &two].concat())),
            ));
            rows.push(("inproc/thr1".into(), thr(inproc_process(cfg, imp, &a))));
            let a = [s("batch"), s(size), s(count)];
            rows.push((
                "inproc/batch2".into(),
                thr(inproc_process(cfg, imp, &[&a[..], &two].concat())),
            ));
            rows.push(("inproc/batch1".into(), thr(inproc_process(cfg, imp, &a))));
            // Not judged: what the message source costs (see `ringmq_bench::inproc`).
            for (key, flag) in [
                ("inproc/batch2clone", "--clone"),
                ("inproc/batch2alloc", "--alloc"),
            ] {
                let args = [&a[..], &two, &[s(flag)]].concat();
                rows.push((key.into(), thr(inproc_process(cfg, imp, &args))));
            }
            for idle in SCALE_IDLE {
                let a = [s("scale"), s(idle), s(scale_rounds(cfg.quick))];
                // On one thread: a wake-up across threads costs 1-15 us here depending on
                // whether the side spins (docs/PERFORMANCE.md, "inproc across threads:
                // spin before parking"), which would drown what idle peers cost.
                let out = inproc_process(cfg, imp, &a);
                let r = out.and_then(|out| {
                    let mut v = vec![
                        ("/median".into(), num(&out, "median round trip:", "[us]")?),
                        ("/p99".into(), num(&out, "p99 round trip:", "[us]")?),
                    ];
                    if idle > 0 {
                        v.push(("/kib".into(), num(&out, "memory per idle peer:", "[KiB]")?));
                    }
                    Ok(v)
                });
                rows.push((format!("inproc/scale/{idle}"), r));
            }
            let a = [s("lat"), s(size), s(rounds)];
            rows.push((
                "inproc/lat2".into(),
                lat(inproc_process(cfg, imp, &[&a[..], &two].concat())),
            ));
        }
        _ => {
            let ep = s("inproc://bench");
            rows.push((
                "inproc/thr2".into(),
                thr(inproc_process(
                    cfg,
                    imp,
                    &[s("inproc_thr"), ep.clone(), s(size), s(count)],
                )),
            ));
            rows.push((
                "inproc/lat2".into(),
                lat(inproc_process(
                    cfg,
                    imp,
                    &[s("inproc_lat"), ep, s(size), s(rounds)],
                )),
            ));
        }
    }
    // ringmq's sender sends views of a payload that is never freed, as its inproc
    // sender does, so the ratios compare transports (libzmq's tools allocate each
    // message over inproc and TCP alike).
    let source: &[String] = match imp {
        Impl::Ring(_) => &[s("--static")],
        _ => &[],
    };
    let tcp_thr = eps.next(false).and_then(|ep| {
        let a = vec![
            ep.clone(),
            s(size),
            s(count.min(thr_count(cfg.quick, size))),
        ];
        let remote = [&a[..], source].concat();
        let (out, _) = pair(cfg, imp, &ep, ("local_thr", a), ("remote_thr", remote))?;
        thr(Ok(out))
    });
    rows.push(("inproc/tcp_thr".into(), tcp_thr));
    let tcp_lat = eps.next(false).and_then(|ep| {
        let a = vec![ep.clone(), s(size), s(lat_rounds(cfg.quick, size))];
        let remote = [&a[..], source].concat();
        let (_, out) = pair(cfg, imp, &ep, ("local_lat", a), ("remote_lat", remote))?;
        lat(Ok(out))
    });
    rows.push(("inproc/tcp_lat".into(), tcp_lat));
    rows
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

fn measure(cfg: &Cfg) -> Results {
    let mut results = Results::new();
    let mut eps = Endpoints { n: 0 };
    let mut failures = Vec::new();
    let mut record = |key: String, imp: Impl, rep: usize, r: Res<Vec<(String, f64)>>| match r {
        Ok(vals) => {
            for (suffix, v) in vals {
                results
                    .entry((format!("{key}{suffix}"), imp.name()))
                    .or_default()
                    .push((rep, v));
            }
        }
        Err(e) => {
            eprintln!("  {key} {}: {e}", imp.name());
            failures.push(format!("{key} {}", imp.name()));
        }
    };
    for rep in 0..cfg.repeats {
        eprintln!("repeat {}/{}", rep + 1, cfg.repeats);
        for ipc in [false, true] {
            for size in LAT_SIZES {
                let rounds = lat_rounds(cfg.quick, size);
                for &imp in &cfg.impls_in("lat", true) {
                    let key = format!("lat/{}/{size}", if ipc { "ipc" } else { "tcp" });
                    let r = eps.next(ipc).and_then(|ep| {
                        let a = vec![ep.clone(), s(size), s(rounds)];
                        let (_, out) =
                            pair(cfg, imp, &ep, ("local_lat", a.clone()), ("remote_lat", a))?;
                        Ok(vec![(
                            String::new(),
                            num(&out, "average latency:", "[us]")?,
                        )])
                    });
                    record(key, imp, rep, r);
                }
            }
        }
        for size in THR_SIZES {
            let count = thr_count(cfg.quick, size);
            for &imp in &cfg.impls_in("thr", true) {
                let r = eps.next(false).and_then(|ep| {
                    let a = vec![ep.clone(), s(size), s(count)];
                    let (out, _) =
                        pair(cfg, imp, &ep, ("local_thr", a.clone()), ("remote_thr", a))?;
                    Ok(vec![(
                        String::new(),
                        num(&out, "mean throughput:", "[msg/s]")?,
                    )])
                });
                record(format!("thr/{size}"), imp, rep, r);
            }
        }
        // The batch API (issue 15): ringmq's `local_thr` / `remote_thr --batch`, and the
        // plain API in the same repeat as its reference; libzmq and raw have no batch
        // API: their one plain run is the reference of both lines.
        // Four times the thr row's count: at 64 B that row's runs last well under a
        // second, too short for a steady ratio between two APIs.
        let count = 4 * thr_count(cfg.quick, BATCH_SIZE);
        for &imp in &cfg.impls_in("batch", true) {
            let mut thr = |batch: bool| {
                eps.next(false).and_then(|ep| {
                    let mut a = vec![ep.clone(), s(BATCH_SIZE), s(count)];
                    if batch {
                        a.extend([s("--batch"), s(BATCH)]);
                    }
                    let (out, _) =
                        pair(cfg, imp, &ep, ("local_thr", a.clone()), ("remote_thr", a))?;
                    num(&out, "mean throughput:", "[msg/s]")
                })
            };
            let key = format!("batch/{BATCH_SIZE}");
            match imp {
                Impl::Ring(_) => {
                    let r = thr(true).map(|v| vec![(String::new(), v)]);
                    record(key.clone(), imp, rep, r);
                    let r = thr(false).map(|v| vec![(String::new(), v)]);
                    record(format!("{key}/plain"), imp, rep, r);
                }
                _ => {
                    let r = thr(false).map(|v| vec![(String::new(), v), ("/plain".into(), v)]);
                    record(key, imp, rep, r);
                }
            }
        }
        for subs in FAN_SUBS {
            let count = fan_count(cfg.quick, subs);
            for &imp in &cfg.impls_in("fan", false) {
                let r = eps.next(false).and_then(|ep| {
                    let (p, c) = fan(cfg, imp, &ep, count, subs)?;
                    let start = num(&p, "start:", "[unix us]")?;
                    let end = num(&c, "end:", "[unix us]")?;
                    let rate = (subs * count) as f64 / ((end - start).max(1.0) / 1e6);
                    Ok(vec![(String::new(), rate)])
                });
                record(format!("fan/{subs}"), imp, rep, r);
            }
        }
        let rounds = router_rounds(cfg.quick);
        for &imp in &cfg.impls_in("router", false) {
            let r = eps.next(false).and_then(|ep| {
                let total = ROUTER_PEERS * (rounds + 1);
                let (_, c) = pair(
                    cfg,
                    imp,
                    &ep,
                    ("router", vec![ep.clone(), s(total)]),
                    (
                        "dealers",
                        vec![ep.clone(), s(64), s(ROUTER_PEERS), s(rounds)],
                    ),
                )?;
                Ok(vec![
                    ("/rps".into(), num(&c, "requests:", "[req/s]")?),
                    ("/p99".into(), num(&c, "p99 round trip:", "[us]")?),
                ])
            });
            record("router".into(), imp, rep, r);
        }
        if cfg.curve {
            let n = HS_CONNECTIONS / if cfg.quick { 5 } else { 1 };
            for &imp in &cfg.impls_in("hs", false) {
                let r = eps.next(false).and_then(|ep| {
                    let server = ("hs_server", vec![ep.clone(), s(n)]);
                    let (_, c) = pair(
                        cfg,
                        imp,
                        &ep,
                        server,
                        ("hs_clients", vec![ep.clone(), s(n)]),
                    )?;
                    Ok(vec![(String::new(), num(&c, "handshakes:", "[conn/s]")?)])
                });
                record("hs".into(), imp, rep, r);
            }
        }
        for &imp in &cfg.impls_in("mem", false) {
            let r = eps.next(false).and_then(|ep| {
                let mut stall = spawn(command(
                    cfg,
                    imp,
                    "stall_pull",
                    &[ep.clone(), s(MEM_HWM), s(60)],
                ))?;
                if let Err(e) = wait_listening(&ep, &mut stall) {
                    kill(stall);
                    return Err(e);
                }
                let push = spawn(command(
                    cfg,
                    imp,
                    "mem_push",
                    &[ep.clone(), s(MEM_SIZE), s(MEM_HWM * 5), s(MEM_HWM)],
                ));
                let out = push.and_then(|p| finish(p, Duration::from_secs(60), "mem_push"));
                kill(stall);
                let out = out?;
                Ok(vec![
                    ("/kb".into(), num(&out, "VmHWM:", "[kB]")?),
                    ("/sent".into(), num(&out, "sent:", "")?),
                ])
            });
            record("mem".into(), imp, rep, r);
        }
        let rounds = scale_rounds(cfg.quick);
        let scale_impls = if rep < scale_repeats(cfg.quick) {
            cfg.impls_in("scale", false)
        } else {
            Vec::new()
        };
        for idle in SCALE_IDLE {
            for &imp in &scale_impls {
                let r = eps.next(false).and_then(|ep| {
                    let (router, out) = scale(cfg, imp, &ep, idle, rounds)?;
                    Ok(vec![
                        ("/median".into(), num(&out, "median round trip:", "[us]")?),
                        ("/p99".into(), num(&out, "p99 round trip:", "[us]")?),
                        ("/rss".into(), num(&router, "VmRSS:", "[kB]")?),
                    ])
                });
                record(format!("scale/{idle}"), imp, rep, r);
            }
        }
        for &imp in &cfg.impls_in("inproc", false) {
            for (key, r) in inproc(cfg, imp, &mut eps) {
                record(key, imp, rep, r);
            }
        }
    }
    let handle_repeats = if cfg.runs("handles") { cfg.repeats } else { 0 };
    for rep in 0..handle_repeats {
        // After the main rows; the three columns interleaved within each repeat.
        for (col, r) in measure_handles(cfg, &mut eps) {
            match r {
                Ok(v) => results
                    .entry((HANDLE_KEY.to_string(), col.to_string()))
                    .or_default()
                    .push((rep, v)),
                Err(e) => {
                    eprintln!("  {HANDLE_KEY} {col}: {e}");
                    failures.push(format!("{HANDLE_KEY} {col}"));
                }
            }
        }
    }
    if !failures.is_empty() {
        eprintln!("{} runs failed: {}", failures.len(), failures.join(", "));
    }
    results
}

// ---------------------------------------------------------------- handles (issue 13)

const HANDLE_KEY: &str = "handle/64";
/// The columns of the handle row: `handle_thr` role prefix and column name.
const HANDLE_COLS: [(&str, &str); 3] = [
    ("direct", "ringmq direct"),
    ("handle", "ringmq handle, tokio mt"),
    ("zmqrs", "zmq.rs, tokio mt"),
];

/// 64 B PUSH/PULL with `handle_thr`: the direct API (uring), `SocketHandle`s used from
/// a tokio multi-thread runtime (uring runtime thread), zmq.rs on the same tokio
/// runtime. Returns (column, msg/s) for each.
fn measure_handles(cfg: &Cfg, eps: &mut Endpoints) -> Vec<(&'static str, Res<f64>)> {
    let count = thr_count(cfg.quick, 64);
    let limit = Duration::from_secs(if cfg.quick { 30 } else { 120 });
    HANDLE_COLS
        .iter()
        .map(|&(mode, col)| {
            let r = eps.next(false).and_then(|ep| {
                let cmd = |role: &str, server: bool| {
                    let mut c = Command::new(cfg.bin_dir.join("handle_thr"));
                    c.args([format!("{mode}_{role}"), ep.clone(), s(64), s(count)])
                        .args(["--backend", "uring"])
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .env_remove("RINGMQ_BACKEND");
                    match cfg.pin {
                        Some((sv, cl)) => pinned(c, if server { sv } else { cl }),
                        None => c,
                    }
                };
                let mut server = spawn(cmd("recv", true))?;
                if let Err(e) = wait_listening(&ep, &mut server) {
                    kill(server);
                    return Err(e);
                }
                let client = match spawn(cmd("send", false)) {
                    Ok(c) => c,
                    Err(e) => {
                        kill(server);
                        return Err(e);
                    }
                };
                let sent = finish(client, limit, "handle_thr send");
                let out = finish(server, limit, "handle_thr recv");
                sent?;
                num(&out?, "mean throughput:", "[msg/s]")
            });
            (col, r)
        })
        .collect()
}

/// The handle row: medians, and each column's paired ratio to the direct API.
fn handles_table(md: &mut String, results: &Results) {
    let by = |col: &str| results.get(&(HANDLE_KEY.to_string(), col.to_string()));
    let direct = HANDLE_COLS[0].1;
    md.push_str("| 64 B PUSH/PULL, msg/s |");
    for (_, col) in HANDLE_COLS {
        let _ = write!(md, " {col} |");
    }
    md.push_str("\n|---|");
    for _ in HANDLE_COLS {
        md.push_str("---:|");
    }
    md.push_str("\n| throughput |");
    for (_, col) in HANDLE_COLS {
        let Some(samples) = by(col) else {
            md.push_str(" failed |");
            continue;
        };
        let v = median(&samples.iter().map(|&(_, v)| v).collect::<Vec<_>>()).unwrap_or(0.0);
        let paired: Vec<f64> = match by(direct) {
            Some(d) if col != direct => samples
                .iter()
                .filter_map(|&(rep, v)| {
                    let r = d.iter().find(|&&(r, _)| r == rep)?.1;
                    (r != 0.0).then_some(v / r)
                })
                .collect(),
            _ => Vec::new(),
        };
        match median(&paired) {
            Some(r) => {
                let _ = write!(md, " {} ({r:.2}x direct) |", fmt_rate(v));
            }
            None => {
                let _ = write!(md, " {} |", fmt_rate(v));
            }
        }
    }
    md.push_str("\n\n");
}

// ---------------------------------------------------------------- report

fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn fmt_size(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// One table: a row per key, a column per implementation; ringmq cells carry the
/// ratios to libzmq and raw (ringmq ÷ other, of the value shown).
fn table(
    md: &mut String,
    cfg: &Cfg,
    results: &Results,
    first_col: &str,
    rows: &[(String, String)],
    value: &dyn Fn(f64) -> String,
    with_raw: bool,
) {
    let rows: Vec<&(String, String)> = rows.iter().filter(|(_, k)| cfg.runs(row_of(k))).collect();
    if rows.is_empty() {
        return;
    }
    let impls: Vec<Impl> = cfg
        .impls
        .iter()
        .copied()
        .filter(|i| with_raw || *i != Impl::Raw)
        .collect();
    let _ = write!(md, "| {first_col} |");
    for i in &impls {
        let _ = write!(md, " {} |", i.name());
    }
    md.push('\n');
    md.push('|');
    md.push_str("---|");
    for _ in &impls {
        md.push_str("---:|");
    }
    md.push('\n');
    for (label, key) in rows {
        let _ = write!(md, "| {label} |");
        for &i in &impls {
            match get(results, key, i) {
                None => md.push_str(" failed |"),
                Some(v) => {
                    let mut cell = value(v);
                    if matches!(i, Impl::Ring(_)) {
                        let mut ratios = Vec::new();
                        if let Some(z) = ratio(results, key, i, Impl::Libzmq) {
                            ratios.push(format!("{z:.2}x zmq"));
                        }
                        if let (true, Some(r)) = (with_raw, ratio(results, key, i, Impl::Raw)) {
                            ratios.push(format!("{r:.2}x raw"));
                        }
                        if !ratios.is_empty() {
                            let _ = write!(cell, " ({})", ratios.join(", "));
                        }
                    }
                    let _ = write!(md, " {cell} |");
                }
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// The batch API row (issue 15): 64 B PUSH/PULL with `send_batch` / `recv_many`,
/// the plain API of the same repeat, and libzmq and raw (no batch API: one plain run
/// each, shown on both lines).
fn batch_table(md: &mut String, cfg: &Cfg, results: &Results) {
    heading(
        md,
        cfg,
        "batch",
        &format!(
            "### PUSH/PULL {BATCH_SIZE} B with the batch API (msg/s; higher is better)\n\n\
             {} messages per run. ringmq: `remote_thr --batch {BATCH}` (`send_batch` of \
             {BATCH} messages) to \
             `local_thr --batch {BATCH}` (`recv_many` of up to {BATCH}), and the plain \
             `send` / `recv` tools in the same repeat; libzmq and raw have no batch API \
             (their plain run is on both lines).\n\n",
            fmt_count(4 * thr_count(cfg.quick, BATCH_SIZE))
        ),
    );
    let key = format!("batch/{BATCH_SIZE}");
    let rows = [
        ("batch API".to_string(), key.clone()),
        ("plain API".to_string(), format!("{key}/plain")),
    ];
    table(md, cfg, results, "API", &rows, &fmt_rate, true);
    if !cfg.runs("batch") {
        return;
    }
    let plain = format!("{key}/plain");
    let per: Vec<String> = cfg
        .impls
        .iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .map(|&i| {
            let of = |k: &str| results.get(&(k.to_string(), i.name()));
            match of(&key)
                .zip(of(&plain))
                .and_then(|(a, b)| paired_ratio(a, b))
            {
                Some(r) => format!("{} {r:.2}x", i.name()),
                None => format!("{} not measured", i.name()),
            }
        })
        .collect();
    let _ = writeln!(
        md,
        "Batch ÷ plain API, paired per repeat: {}.\n",
        per.join(", ")
    );
}

/// The row of a result key: its first component (`lat/tcp/64` is in `lat`).
fn row_of(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}

/// Pushes a section's heading when its row ran.
fn heading(md: &mut String, cfg: &Cfg, row: &str, text: &str) {
    if cfg.runs(row) {
        md.push_str(text);
    }
}

fn best_ring(cfg: &Cfg, results: &Results, key: &str, lower: bool) -> Option<(Impl, f64)> {
    cfg.impls
        .iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .filter_map(|&i| get(results, key, i).map(|v| (i, v)))
        .min_by(|a, b| {
            if lower {
                a.1.total_cmp(&b.1)
            } else {
                b.1.total_cmp(&a.1)
            }
        })
}

/// The best backend's paired ratio to `reference` (lowest when `lower`, else highest).
fn best_ring_ratio(
    cfg: &Cfg,
    results: &Results,
    key: &str,
    reference: Impl,
    lower: bool,
) -> Option<f64> {
    let ratios = cfg
        .impls
        .iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .filter_map(|&i| ratio(results, key, i, reference));
    if lower {
        ratios.min_by(f64::total_cmp)
    } else {
        ratios.max_by(f64::total_cmp)
    }
}

fn report(cfg: &Cfg, results: &Results, wall: Duration, load0: &str, load1: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## Comparison with libzmq (issue 6)\n");
    let _ = writeln!(
        md,
        "Written by `cargo run --release -p ringmq-bench --bin compare --{}{}{}{}{}` in {:.0} s \
         on {}; load average (1/5/15 min) before / after: {load0} / {load1}, on {} CPUs. {} repeats, \
         implementations interleaved inside each repeat, medians shown. Every cell is two \
         or more processes on loopback; {}. ringmq cells show `ringmq ÷ libzmq` and \
         `ringmq ÷ raw` (for latencies lower is better, for rates higher is better), each \
         the median over the repeats of the ratio measured within one repeat: this \
         machine's speed drifts by up to 2x between minutes, so the ratio of two medians \
         can differ from them. CURVE: {}.\n",
        if cfg.quick { " --quick" } else { "" },
        if cfg.curve { " --curve" } else { "" },
        if cfg.pin.is_some() { " --pin" } else { "" },
        cfg.repeats_arg.as_deref().unwrap_or(""),
        cfg.only
            .as_ref()
            .map_or(String::new(), |rows| format!(" --only {}", rows.join(","))),
        wall.as_secs_f64(),
        utc_now(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cfg.repeats,
        match cfg.pin {
            Some((s, c)) => format!(
                "the binding process pinned to CPU {s} and the connecting one to CPU {c} \
                 (`taskset`), for every implementation"
            ),
            None => "placement left to the scheduler (not pinned)".into(),
        },
        if cfg.curve { "on (all but raw)" } else { "off" },
    );
    let _ = writeln!(
        md,
        "- ringmq: this crate's `local_lat`/`remote_lat`/`local_thr`/`remote_thr` and \
         `bench_peer` with `--backend`; libzmq: `benches/c/zmq_tools.c` on the system \
         libzmq {} (`cc -O2 -lzmq`); raw: blocking `std` sockets (`bench_peer raw_*`: \
         TCP_NODELAY ping-pong, length-prefixed records through 256 KiB buffers).\n\
         - Fan-out: one XPUB process, all subscribers in one second process (ringmq: one \
         task per SUB on one runtime; libzmq: one thread polling every SUB), 64 B \
         messages, HWM unlimited; rate = subscribers × messages ÷ (publisher's first \
         send → last subscriber's last message).\n\
         - ROUTER: one process echoing, 1,000 DEALERs in a second process (tasks / one \
         `zmq_poll` loop), one untimed warm-up request each, then {} closed-loop 64 B \
         requests each.\n\
         - Memory: PUSH (SNDHWM {MEM_HWM}) sending up to {} messages of 64 KiB to a PULL \
         (RCVHWM {MEM_HWM}) that never reads, stopping at the first send blocked for \
         500 ms; VmHWM of the PUSH process.\n\
         - Idle-peer scale: one ROUTER process echoing; in a second process N idle \
         DEALERs connect {} at a time, each has one request echoed (so it is \
         handshaken on both sides) and stays silent, then one active DEALER makes {} \
         untimed and {} timed closed-loop 64 B round trips (ringmq: all DEALERs tasks \
         of one runtime; libzmq: its idle DEALERs shared with forked helpers, at most \
         5,000 per process, as each libzmq socket holds an eventfd besides its \
         connection). Ratios are to N = 0 (the active peer alone), paired per repeat{}.\n",
        zmq_version(),
        router_rounds(cfg.quick),
        MEM_HWM * 5,
        ringmq_bench::tools::SCALE_BATCH,
        ringmq_bench::tools::SCALE_WARMUP,
        scale_rounds(cfg.quick),
        if cfg.repeats > scale_repeats(cfg.quick) {
            format!(" (the first {} repeats only)", scale_repeats(cfg.quick))
        } else {
            String::new()
        },
    );
    let lat_rows: Vec<(String, String)> = ["tcp", "ipc"]
        .iter()
        .flat_map(|t| {
            LAT_SIZES
                .iter()
                .map(move |&sz| (format!("{t} {}", fmt_size(sz)), format!("lat/{t}/{sz}")))
        })
        .collect();
    heading(
        &mut md,
        cfg,
        "lat",
        "### REQ/REP latency (half round trip, us; lower is better)\n\n",
    );
    table(
        &mut md,
        cfg,
        results,
        "transport, size",
        &lat_rows,
        &|v| format!("{v:.1}"),
        true,
    );
    heading(
        &mut md,
        cfg,
        "thr",
        "### PUSH/PULL throughput over TCP (msg/s, and MB/s below; higher is better)\n\n",
    );
    let thr_rows: Vec<(String, String)> = THR_SIZES
        .iter()
        .map(|&sz| (fmt_size(sz), format!("thr/{sz}")))
        .collect();
    table(&mut md, cfg, results, "size", &thr_rows, &fmt_rate, true);
    let mut mb = Results::new();
    for &sz in &THR_SIZES {
        for &i in &cfg.impls {
            if let Some(v) = results.get(&(format!("thr/{sz}"), i.name())) {
                mb.insert(
                    (format!("thr/{sz}"), i.name()),
                    v.iter().map(|&(r, x)| (r, x * sz as f64 / 1e6)).collect(),
                );
            }
        }
    }
    table(
        &mut md,
        cfg,
        &mb,
        "size (MB/s)",
        &thr_rows,
        &|v| format!("{v:.0}"),
        true,
    );
    batch_table(&mut md, cfg, results);
    heading(
        &mut md,
        cfg,
        "fan",
        "### PUB/SUB fan-out (deliveries/s, 64 B; higher is better)\n\n",
    );
    let fan_rows: Vec<(String, String)> = FAN_SUBS
        .iter()
        .map(|&n| (format!("{n} subscribers"), format!("fan/{n}")))
        .collect();
    table(
        &mut md,
        cfg,
        results,
        "subscribers",
        &fan_rows,
        &fmt_rate,
        false,
    );
    heading(&mut md, cfg, "router", "### ROUTER with 1,000 DEALERs\n\n");
    table(
        &mut md,
        cfg,
        results,
        "metric",
        &[("requests/s (higher is better)".into(), "router/rps".into())],
        &fmt_rate,
        false,
    );
    table(
        &mut md,
        cfg,
        results,
        "metric",
        &[(
            "p99 round trip, us (lower is better)".into(),
            "router/p99".into(),
        )],
        &|v| format!("{v:.0}"),
        false,
    );
    if cfg.curve {
        heading(
            &mut md,
            cfg,
            "hs",
            "### CURVE handshakes (new connections/s, one after another: connect, \
             handshake, one 1-byte REQ/REP round trip, close; higher is better)\n\n",
        );
        let row = [("connections/s".to_string(), "hs".to_string())];
        table(&mut md, cfg, results, "metric", &row, &fmt_rate, false);
    }
    heading(
        &mut md,
        cfg,
        "mem",
        "### Memory: PUSH against a stalled PULL, HWM 1,000, 64 KiB messages\n\n",
    );
    table(
        &mut md,
        cfg,
        results,
        "metric",
        &[
            ("peak RSS (VmHWM), MiB".into(), "mem/kb".into()),
            (
                "messages accepted before blocking".into(),
                "mem/sent".into(),
            ),
        ],
        &|v| {
            if v > 10_000.0 {
                format!("{:.1}", v / 1024.0)
            } else {
                format!("{v:.0}")
            }
        },
        false,
    );
    heading(
        &mut md,
        cfg,
        "scale",
        "### Idle-peer scale: ROUTER with N idle DEALERs, active peer's round trip \
         (us; lower is better; in brackets: ÷ the same implementation with 0 idle)\n\n",
    );
    scale_table(&mut md, cfg, results);
    inproc_table(&mut md, cfg, results);
    inproc_scale_table(&mut md, cfg, results);
    heading(
        &mut md,
        cfg,
        "handles",
        "### Handles: 64 B PUSH/PULL from a tokio multi-thread runtime (issue 13)\n\n\
         `handle_thr` (uring): the direct API on the built-in runtime; `SocketHandle`s \
         (`Send + Sync`, the sockets on a ringmq runtime thread) used from tasks of a \
         tokio multi-thread runtime with 2 workers; zmq.rs 0.4 (crate `zeromq`) on the \
         same tokio runtime. Ratios are paired per repeat against the direct column.\n\n",
    );
    if cfg.runs("handles") {
        handles_table(&mut md, results);
    }
    md.push_str("### Targets\n\n");
    targets(&mut md, cfg, results);
    if cfg.runs("thr") {
        md.push_str("\n![PUSH/PULL throughput versus message size](throughput.svg)\n");
    }
    md
}

/// `1,000` for 1000.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `scale/{idle}/{metric}` of `imp` ÷ the same with no idle peer, paired per repeat.
fn scale_ratio(results: &Results, idle: u64, metric: &str, imp: Impl) -> Option<f64> {
    idle_ratio(results, "scale", idle, metric, imp)
}

/// `{prefix}/{idle}/{metric}` of `imp` ÷ the same with no idle peer, paired per repeat
/// (the TCP scale row: `scale`; the inproc one: `inproc/scale`).
fn idle_ratio(results: &Results, prefix: &str, idle: u64, metric: &str, imp: Impl) -> Option<f64> {
    let of = |n: u64| results.get(&(format!("{prefix}/{n}/{metric}"), imp.name()));
    paired_ratio(of(idle)?, of(0)?)
}

/// The inproc idle-peer lines of ringmq's backends: the active DEALER's round trip with
/// N silent ones (ratios to 0 idle, paired per repeat) and the memory per idle peer.
fn inproc_scale_table(md: &mut String, cfg: &Cfg, results: &Results) {
    let rings = inproc_rings(cfg);
    if !cfg.runs("inproc") || rings.is_empty() {
        return;
    }
    let _ = write!(
        md,
        "#### inproc idle-peer scale: a ROUTER, N idle DEALERs and the active one, on one \
         thread (`inproc_bench scale`; round trip in us, in brackets ÷ the same backend \
         with 0 idle)\n\n"
    );
    idle_round_trips(md, results, &rings, "inproc/scale", "measurement", 2);
    for &n in &SCALE_IDLE[1..] {
        let _ = write!(
            md,
            "| memory per idle DEALER at {} (RSS growth ÷ N: its socket, both ends of its \
             connection, the ROUTER's peer), KiB |",
            fmt_count(n)
        );
        for &i in &rings {
            match get(results, &format!("inproc/scale/{n}/kib"), i) {
                None => md.push_str(" failed |"),
                Some(v) => {
                    let _ = write!(md, " {v:.1} |");
                }
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// The head of an idle-peer table (`first`, then a column per implementation) and its
/// round-trip lines: `{prefix}/{idle}/{metric}` per (metric, idle peers), with
/// `decimals`, and in brackets ÷ the same with no idle peer.
fn idle_round_trips(
    md: &mut String,
    results: &Results,
    impls: &[Impl],
    prefix: &str,
    first: &str,
    decimals: usize,
) {
    let _ = write!(md, "| {first} |");
    for i in impls {
        let _ = write!(md, " {} |", i.name());
    }
    md.push_str("\n|---|");
    for _ in impls {
        md.push_str("---:|");
    }
    md.push('\n');
    for metric in ["median", "p99"] {
        for idle in SCALE_IDLE {
            let _ = write!(md, "| {metric}, {} idle |", fmt_count(idle));
            for &i in impls {
                match get(results, &format!("{prefix}/{idle}/{metric}"), i) {
                    None => md.push_str(" failed |"),
                    Some(v) => {
                        let _ = write!(md, " {v:.decimals$}");
                        let r = idle_ratio(results, prefix, idle, metric, i);
                        if let (true, Some(r)) = (idle > 0, r) {
                            let _ = write!(md, " ({r:.2}x)");
                        }
                        md.push_str(" |");
                    }
                }
            }
            md.push('\n');
        }
    }
}

/// The idle-peer target over `(implementation, (median, p99) ÷ alone)`: every median
/// within 1.5x and every p99 within 3x; `None` when there is none or one failed.
fn idle_verdict(v: &[(Impl, Option<(f64, f64)>)]) -> Option<bool> {
    (!v.is_empty() && v.iter().all(|(_, r)| r.is_some())).then(|| {
        v.iter()
            .flat_map(|(_, r)| *r)
            .all(|(m, p)| m <= 1.5 && p <= 3.0)
    })
}

/// ringmq's backends in the inproc row.
fn inproc_rings(cfg: &Cfg) -> Vec<Impl> {
    cfg.impls_in("inproc", false)
        .into_iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .collect()
}

/// The scale row: a line per (metric, idle peers), a column per implementation.
fn scale_table(md: &mut String, cfg: &Cfg, results: &Results) {
    if !cfg.runs("scale") {
        return;
    }
    let impls = cfg.impls_in("scale", false);
    idle_round_trips(md, results, &impls, "scale", "round trip, idle DEALERs", 1);
    // The ROUTER's resident set with N peers connected, less the same with the active
    // peer alone, per idle DEALER, at each N.
    for &n in &SCALE_IDLE[1..] {
        let _ = write!(
            md,
            "| ROUTER memory per idle DEALER (RSS growth ÷ {}), KiB |",
            fmt_count(n)
        );
        for &i in &impls {
            match scale_memory_kib(results, i, n) {
                None => md.push_str(" failed |"),
                Some(v) => {
                    let _ = write!(md, " {v:.1} |");
                }
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

/// RSS growth of the scale row's ROUTER from 0 to `n` idle DEALERs, per DEALER (KiB),
/// from the medians.
fn scale_memory_kib(results: &Results, i: Impl, n: u64) -> Option<f64> {
    let base = get(results, "scale/0/rss", i)?;
    let full = get(results, &format!("scale/{n}/rss"), i)?;
    Some((full - base) / n as f64)
}

fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(date unknown)".into())
}

fn zmq_version() -> String {
    Command::new("pkg-config")
        .args(["--modversion", "libzmq"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(version unknown)".into())
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

fn per_backend(cfg: &Cfg, results: &Results, key: &str, reference: Impl) -> String {
    cfg.impls
        .iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .filter_map(|&i| {
            Some(format!(
                "{} {:.2}x",
                i.name(),
                ratio(results, key, i, reference)?
            ))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn inproc_targets(md: &mut String, cfg: &Cfg, results: &Results) {
    if !cfg.runs("inproc") {
        return;
    }
    let rings = inproc_rings(cfg);
    let ratios = |key: &str, tcp: &str| -> Vec<(Impl, Option<f64>)> {
        rings
            .iter()
            .map(|&i| (i, inproc_tcp_ratio(results, key, tcp, i)))
            .collect()
    };
    let detail = |v: &[(Impl, Option<f64>)]| {
        v.iter()
            .map(|(i, r)| match r {
                Some(r) => format!("{} {r:.2}x", i.name()),
                None => format!("{} failed", i.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let all = |v: &[(Impl, Option<f64>)], ok: &dyn Fn(f64) -> bool| {
        (!v.is_empty() && v.iter().all(|(_, r)| r.is_some()))
            .then(|| v.iter().flat_map(|(_, r)| *r).all(ok))
    };
    let write = |md: &mut String, what: &str, ok: Option<bool>, detail: String| {
        let v = ok.map_or("not measured", verdict);
        let _ = writeln!(md, "- {what}: **{v}** ({detail})");
    };
    // Each throughput target is judged twice, on the plain `send` / `recv` line and on
    // the batch API line, so that the text says which API meets it.
    for (api, thr2, thr1) in [
        (
            "plain `send` / `recv` (lines \"PUSH/PULL, two threads\" / \"one thread\")",
            "inproc/thr2",
            "inproc/thr1",
        ),
        (
            "batch API, `send_batch` / `recv_many` of 256 (lines \"..., batch API\")",
            "inproc/batch2",
            "inproc/batch1",
        ),
    ] {
        let thr = ratios(thr2, "inproc/tcp_thr");
        write(
            md,
            &format!(
                "inproc PUSH/PULL 64 B between two threads at 5x or more the TCP figure \
                 (every backend), with the {api}"
            ),
            all(&thr, &|r| r >= 5.0),
            format!("inproc ÷ TCP msg/s: {}", detail(&thr)),
        );
        let one: Vec<(Impl, Option<f64>)> =
            rings.iter().map(|&i| (i, get(results, thr1, i))).collect();
        write(
            md,
            &format!(
                "inproc PUSH/PULL 64 B between two sockets on one thread at 20 M msg/s or \
                 more (every backend), with the {api}"
            ),
            all(&one, &|v| v >= 20e6),
            one.iter()
                .map(|(i, v)| match v {
                    Some(v) => format!("{} {}", i.name(), fmt_rate(*v)),
                    None => format!("{} failed", i.name()),
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let lat = ratios("inproc/lat2", "inproc/tcp_lat");
    write(
        md,
        "inproc REQ/REP round trip between two threads well under (at most half) the TCP round trip (every backend; plain `send` / `recv`, line \"REQ/REP, two threads\")",
        all(&lat, &|r| r <= 0.5),
        format!("inproc ÷ TCP latency: {}", detail(&lat)),
    );
    let idle = SCALE_IDLE[SCALE_IDLE.len() - 1];
    let scale: Vec<(Impl, Option<(f64, f64)>)> = rings
        .iter()
        .map(|&i| {
            let r = |metric| idle_ratio(results, "inproc/scale", idle, metric, i);
            (i, r("median").zip(r("p99")))
        })
        .collect();
    let ok = idle_verdict(&scale);
    write(
        md,
        &format!(
            "inproc ROUTER with {} idle DEALERs: the active peer's median round trip within \
             1.5x and its p99 within 3x of the same peer alone (every backend; as the TCP \
             scale target)",
            fmt_count(idle)
        ),
        ok,
        scale
            .iter()
            .map(|(i, r)| match r {
                Some((m, p)) => format!("{} {m:.2}x / {p:.2}x", i.name()),
                None => format!("{} failed", i.name()),
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
}

fn targets(md: &mut String, cfg: &Cfg, results: &Results) {
    let line = |md: &mut String, row: &str, what: &str, ok: Option<bool>, detail: String| {
        if !cfg.runs(row) {
            return;
        }
        let v = ok.map_or("not measured", verdict);
        let _ = writeln!(md, "- {what}: **{v}** ({detail})");
    };
    let key = "lat/tcp/64";
    let ok = best_ring_ratio(cfg, results, key, Impl::Raw, true).map(|r| r <= 1.2);
    line(
        md,
        "lat",
        "REQ/REP 64 B over TCP within 1.2x of raw TCP latency",
        ok,
        format!(
            "latency ratio to raw: {}",
            per_backend(cfg, results, key, Impl::Raw)
        ),
    );
    let key = "thr/64";
    let ok = best_ring_ratio(cfg, results, key, Impl::Libzmq, false).map(|r| r >= 4.0);
    line(
        md,
        "thr",
        "PUSH/PULL 64 B at least 4x libzmq",
        ok,
        format!(
            "msg/s ratio to libzmq: {}",
            per_backend(cfg, results, key, Impl::Libzmq)
        ),
    );
    let key = format!("batch/{BATCH_SIZE}");
    let best = best_ring(cfg, results, &key, false);
    line(
        md,
        "batch",
        "PUSH/PULL 64 B with the batch API at least 25 M msg/s (issue 15)",
        best.map(|(_, v)| v >= 25e6),
        match best {
            Some((i, v)) => format!(
                "best {} {} msg/s; ratio to raw: {}",
                i.name(),
                fmt_rate(v),
                per_backend(cfg, results, &key, Impl::Raw)
            ),
            None => "no result".into(),
        },
    );
    let mut worst: Option<(usize, f64)> = None;
    let mut all = Vec::new();
    for sz in THR_SIZES.iter().copied().filter(|&s| s >= 1024) {
        let key = format!("thr/{sz}");
        if let Some(ratio) = best_ring_ratio(cfg, results, &key, Impl::Raw, false) {
            all.push(format!("{} {:.0}%", fmt_size(sz), ratio * 100.0));
            if worst.is_none_or(|(_, w)| ratio < w) {
                worst = Some((sz, ratio));
            }
        }
    }
    line(
        md,
        "thr",
        "PUSH/PULL 1 KiB and larger at 90% of raw (best backend per size)",
        worst.map(|(_, w)| w >= 0.9),
        all.join(", "),
    );
    let mut fan_ok = None;
    let mut fan = Vec::new();
    for n in FAN_SUBS {
        let key = format!("fan/{n}");
        if let Some((i, _)) = best_ring(cfg, results, &key, false) {
            if let Some(z) = ratio(results, &key, i, Impl::Libzmq) {
                fan.push(format!("{n}: {z:.2}x ({})", i.name()));
                fan_ok = Some(fan_ok.unwrap_or(true) && z > 1.0);
            }
        }
    }
    line(
        md,
        "fan",
        "PUB/SUB fan-out ahead of libzmq at 1, 10, 100 and 1,000 subscribers (best backend)",
        fan_ok,
        fan.join(", "),
    );
    let bound_kb = (MEM_HWM as f64 * MEM_SIZE as f64 * 1.25 + 32.0 * 1048576.0) / 1024.0;
    let mems: Vec<(Impl, f64)> = cfg
        .impls
        .iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .filter_map(|&i| get(results, "mem/kb", i).map(|v| (i, v)))
        .collect();
    let ok = (!mems.is_empty()).then(|| mems.iter().all(|(_, v)| *v <= bound_kb));
    line(
        md,
        "mem",
        &format!(
            "memory bounded by HWM (peak RSS at most 1.25 × HWM × 64 KiB + 32 MiB = {:.0} MiB)",
            bound_kb / 1024.0
        ),
        ok,
        mems.iter()
            .map(|(i, v)| format!("{} {:.0} MiB", i.name(), v / 1024.0))
            .chain(
                get(results, "mem/kb", Impl::Libzmq)
                    .map(|v| format!("libzmq {:.0} MiB", v / 1024.0)),
            )
            .collect::<Vec<_>>()
            .join(", "),
    );
    let idle = SCALE_IDLE[SCALE_IDLE.len() - 1];
    let ratios = |i: Impl| {
        Some((
            scale_ratio(results, idle, "median", i)?,
            scale_ratio(results, idle, "p99", i)?,
        ))
    };
    let rings: Vec<(Impl, Option<(f64, f64)>)> = cfg
        .impls_in("scale", false)
        .into_iter()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .map(|i| (i, ratios(i)))
        .collect();
    let ok = idle_verdict(&rings);
    line(
        md,
        "scale",
        &format!(
            "ROUTER with {} idle DEALERs: the active peer's median round trip within 1.5x and \
             its p99 within 3x of the same peer alone (every backend)",
            fmt_count(idle)
        ),
        ok,
        rings
            .iter()
            .copied()
            .chain([(Impl::Libzmq, ratios(Impl::Libzmq))])
            .map(|(i, r)| match r {
                Some((m, p)) => format!("{} {m:.2}x / {p:.2}x", i.name()),
                None => format!("{} failed", i.name()),
            })
            .collect::<Vec<_>>()
            .join(", ")
            + " (median / p99)",
    );
    // Per implementation, the figure at each N of the row (1,000 and 10,000).
    let mems: Vec<(Impl, Option<Vec<f64>>)> = cfg
        .impls_in("scale", false)
        .into_iter()
        .map(|i| {
            let at_each = SCALE_IDLE[1..]
                .iter()
                .map(|&n| scale_memory_kib(results, i, n))
                .collect();
            (i, at_each)
        })
        .collect();
    let ok = mems
        .iter()
        .filter(|(i, _)| matches!(i, Impl::Ring(_)))
        .try_fold(true, |all, (_, v)| {
            v.as_ref().map(|v| all && v.iter().all(|&k| k <= 6.0))
        });
    let levels = SCALE_IDLE[1..]
        .iter()
        .map(|&n| fmt_count(n))
        .collect::<Vec<_>>()
        .join(" and ");
    line(
        md,
        "scale",
        &format!(
            "memory per live connection (ROUTER with {levels} handshaken DEALERs, RSS growth \
             ÷ N) at most 6 KiB at each (issue 15; every backend)"
        ),
        ok,
        mems.iter()
            .map(|(i, v)| match v {
                Some(v) => format!(
                    "{} {} KiB",
                    i.name(),
                    v.iter()
                        .map(|k| format!("{k:.1}"))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
                None => format!("{} failed", i.name()),
            })
            .collect::<Vec<_>>()
            .join(", "),
    );
    issue15_targets(md, cfg, results);
    inproc_targets(md, cfg, results);
}

/// Issue 15's targets ("Performance II"): stricter than DESIGN.md's above, and judged
/// on every backend (each backend's paired ratio, not the best one's).
fn issue15_targets(md: &mut String, cfg: &Cfg, results: &Results) {
    let rings: Vec<Impl> = cfg
        .impls
        .iter()
        .copied()
        .filter(|i| matches!(i, Impl::Ring(_)))
        .collect();
    // Every backend's ratio for `key` against `reference`; `bound` gives a backend's
    // bound (`None`: shown, not judged). Met when every judged backend measured meets
    // its bound (at most it when `lower`, else at least it).
    let judge =
        |key: &str, reference: Impl, lower: bool, bound: &dyn Fn(Backend) -> Option<f64>| {
            let mut ok = None;
            let mut cells = Vec::new();
            for &i in &rings {
                let Impl::Ring(b) = i else { continue };
                let Some(r) = ratio(results, key, i, reference) else {
                    continue;
                };
                match bound(b) {
                    Some(limit) => {
                        let met = if lower { r <= limit } else { r >= limit };
                        ok = Some(ok.unwrap_or(true) && met);
                        cells.push(format!("{} {r:.2}x", i.name()));
                    }
                    None => cells.push(format!("{} {r:.2}x (not a target)", i.name())),
                }
            }
            (ok, cells.join(", "))
        };
    let both = |a: Option<bool>, b: Option<bool>| match (a, b) {
        (Some(a), Some(b)) => Some(a && b),
        (a, b) => a.or(b),
    };
    let mut line = |row: &str, what: &str, (ok, detail): (Option<bool>, String)| {
        if cfg.runs(row) {
            let v = ok.map_or("not measured", verdict);
            let _ = writeln!(md, "- {what} (issue 15): **{v}** ({detail})");
        }
    };
    line(
        "lat",
        "REQ/REP 64 B over TCP within 1.1x of raw TCP latency on uring and epoll, 1.25x on \
         compio and monoio",
        judge("lat/tcp/64", Impl::Raw, true, &|b| match b {
            Backend::Uring | Backend::Epoll => Some(1.1),
            Backend::Compio | Backend::Monoio => Some(1.25),
            Backend::Tokio => None,
        }),
    );
    let (least, how) = if cfg.pin.is_some() {
        (2.0, "2x libzmq (pinned)")
    } else {
        (4.0, "4x libzmq (unpinned)")
    };
    line(
        "thr",
        &format!("PUSH/PULL 64 B with plain `send` / `recv` at least {how}, every backend"),
        judge("thr/64", Impl::Libzmq, false, &|_| Some(least)),
    );
    let (ok1, d1) = judge("thr/1024", Impl::Raw, false, &|_| Some(0.95));
    let (ok4, d4) = judge("thr/4096", Impl::Raw, false, &|_| Some(0.95));
    line(
        "thr",
        "PUSH/PULL 1 KiB and 4 KiB at least 95% of raw TCP, every backend",
        (both(ok1, ok4), format!("1 KiB: {d1}; 4 KiB: {d4}")),
    );
    let mut fan_ok = None;
    let mut fan = Vec::new();
    for n in FAN_SUBS {
        let (ok, d) = judge(&format!("fan/{n}"), Impl::Libzmq, false, &|_| Some(2.0));
        fan_ok = both(fan_ok, ok);
        fan.push(format!("{n}: {d}"));
    }
    line(
        "fan",
        "PUB/SUB fan-out at least 2x libzmq at 1, 10, 100 and 1,000 subscribers, every \
         backend",
        (fan_ok, fan.join("; ")),
    );
    line(
        "router",
        "ROUTER with 1,000 DEALERs at least 1.5x libzmq's requests/s, every backend",
        judge("router/rps", Impl::Libzmq, false, &|_| Some(1.5)),
    );
}

/// The inproc row: per implementation the inproc figures with their ratio to libzmq's
/// inproc and to the same implementation's TCP figure, paired per repeat.
fn inproc_table(md: &mut String, cfg: &Cfg, results: &Results) {
    if !cfg.runs("inproc") {
        return;
    }
    let _ = writeln!(
        md,
        "### inproc (issue 12): {INPROC_SIZE} B, one process (ringmq `inproc_bench`, libzmq \
         `zmq_tools inproc_*`: a second thread of one context); TCP: two processes as above\n"
    );
    let impls = cfg.impls_in("inproc", false);
    let _ = write!(md, "| measurement |");
    for i in &impls {
        let _ = write!(md, " {} |", i.name());
    }
    md.push_str("\n|---|");
    for _ in &impls {
        md.push_str("---:|");
    }
    md.push('\n');
    let rows: [(&str, &str, Option<&str>, bool); 9] = [
        (
            "PUSH/PULL, two threads (msg/s)",
            "inproc/thr2",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL, one thread (msg/s)",
            "inproc/thr1",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL, two threads, batch API (msg/s)",
            "inproc/batch2",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL, one thread, batch API (msg/s)",
            "inproc/batch1",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL, two threads, batch API, clones of one `Bytes` (`--clone`; not a target line) (msg/s)",
            "inproc/batch2clone",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL, two threads, batch API, a fresh allocation per message (`--alloc`; not a target line) (msg/s)",
            "inproc/batch2alloc",
            Some("inproc/tcp_thr"),
            false,
        ),
        (
            "PUSH/PULL over TCP (msg/s; ringmq: `remote_thr --static`)",
            "inproc/tcp_thr",
            None,
            false,
        ),
        (
            "REQ/REP, two threads (half round trip, us)",
            "inproc/lat2",
            Some("inproc/tcp_lat"),
            true,
        ),
        (
            "REQ/REP over TCP (half round trip, us; ringmq: `remote_lat --static`)",
            "inproc/tcp_lat",
            None,
            true,
        ),
    ];
    for (label, key, tcp, is_lat) in rows {
        let _ = write!(md, "| {label} |");
        for &i in &impls {
            let Some(v) = get(results, key, i) else {
                md.push_str(" - |");
                continue;
            };
            let mut cell = if is_lat {
                format!("{v:.2}")
            } else {
                fmt_rate(v)
            };
            let mut ratios = Vec::new();
            if matches!(i, Impl::Ring(_)) {
                if let Some(z) = ratio(results, key, i, Impl::Libzmq) {
                    ratios.push(format!("{z:.2}x zmq"));
                }
            }
            if let Some(t) = tcp.and_then(|t| inproc_tcp_ratio(results, key, t, i)) {
                ratios.push(format!("{t:.2}x tcp"));
            }
            if !ratios.is_empty() {
                let _ = write!(cell, " ({})", ratios.join(", "));
            }
            let _ = write!(md, " {cell} |");
        }
        md.push('\n');
    }
    md.push('\n');
}

/// `key ÷ tcp_key` of one implementation, paired per repeat.
fn inproc_tcp_ratio(results: &Results, key: &str, tcp_key: &str, imp: Impl) -> Option<f64> {
    let of = |k: &str| results.get(&(k.to_string(), imp.name()));
    paired_ratio(of(key)?, of(tcp_key)?)
}

fn write_section(path: &Path, md: &str) -> Res<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{md}{END}\n");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if e > b => {
            let after = &old[e + END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{block}{after}", &old[..b])
        }
        _ => {
            let sep = if old.is_empty() || old.ends_with("\n\n") {
                ""
            } else if old.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{old}{sep}{block}")
        }
    };
    std::fs::write(path, new).map_err(|e| format!("write {}: {e}", path.display()))
}

// ---------------------------------------------------------------- SVG

fn svg(cfg: &Cfg, results: &Results) -> String {
    let (w, h) = (760.0, 440.0);
    let (left, right, top, bottom) = (70.0, 170.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let series: Vec<(Impl, Vec<(usize, f64)>)> = cfg
        .impls
        .iter()
        .map(|&i| {
            let pts = THR_SIZES
                .iter()
                .filter_map(|&sz| {
                    get(results, &format!("thr/{sz}"), i).map(|v| (sz, v * sz as f64 / 1e6))
                })
                .collect();
            (i, pts)
        })
        .collect();
    let max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(1.0f64, f64::max);
    let step = nice_step(max / 5.0);
    let ymax = (max / step).ceil() * step;
    let lx = |sz: usize| {
        let (a, b) = (
            (THR_SIZES[0] as f64).log2(),
            (*THR_SIZES.last().unwrap_or(&1) as f64).log2(),
        );
        left + ((sz as f64).log2() - a) / (b - a) * pw
    };
    let ly = |v: f64| top + ph - v / ymax * ph;
    let colors = [
        "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#d62728", "#7f7f7f",
    ];
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">PUSH/PULL throughput over TCP loopback (MB/s, median)</text>"#,
        left + pw / 2.0
    );
    let mut y = 0.0;
    while y <= ymax + 1e-9 {
        let py = ly(y);
        let _ = writeln!(
            o,
            r##"<line x1="{left}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{y:.0}</text>"##,
            left + pw,
            left - 6.0,
            py + 4.0
        );
        y += step;
    }
    for &sz in &THR_SIZES {
        let px = lx(sz);
        let _ = writeln!(
            o,
            r##"<line x1="{px:.1}" y1="{top}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 18.0,
            fmt_size(sz)
        );
    }
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">message size (log scale)</text>"#,
        left + pw / 2.0,
        h - 10.0
    );
    let _ = writeln!(
        o,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">MB/s</text>"#,
        top + ph / 2.0,
        top + ph / 2.0
    );
    let _ = writeln!(
        o,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    for (k, (imp, pts)) in series.iter().enumerate() {
        let color = colors[k % colors.len()];
        let dash = if *imp == Impl::Raw {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let path: Vec<String> = pts
            .iter()
            .map(|&(sz, v)| format!("{:.1},{:.1}", lx(sz), ly(v)))
            .collect();
        if !path.is_empty() {
            let _ = writeln!(
                o,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                path.join(" ")
            );
        }
        for &(sz, v) in pts {
            let _ = writeln!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                lx(sz),
                ly(v)
            );
        }
        let ly0 = top + 10.0 + k as f64 * 20.0;
        let lx0 = left + pw + 15.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx0}" y1="{ly0}" x2="{:.1}" y2="{ly0}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx0 + 25.0,
            lx0 + 32.0,
            ly0 + 4.0,
            imp.name()
        );
    }
    o.push_str("</svg>\n");
    o
}

fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.max(1e-9).log10().floor());
    let f = raw / mag;
    let n = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    n * mag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_section_replaces_only_between_the_markers() {
        let dir = std::env::temp_dir().join(format!("ringmq-compare-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("PERFORMANCE.md");
        std::fs::write(&path, "# Perf\n\n## Other\ntext\n").expect("write");
        write_section(&path, "## Mine v1\n").expect("first");
        let once = std::fs::read_to_string(&path).expect("read");
        assert!(once.starts_with("# Perf\n\n## Other\ntext\n\n"), "{once}");
        std::fs::write(&path, format!("{once}## Later section\nkept\n")).expect("write");
        write_section(&path, "## Mine v2\n").expect("second");
        let twice = std::fs::read_to_string(&path).expect("read");
        assert!(
            !twice.contains("v1") && twice.contains("## Mine v2\n"),
            "{twice}"
        );
        assert!(
            twice.contains("## Other\ntext\n") && twice.ends_with("## Later section\nkept\n"),
            "{twice}"
        );
        assert_eq!(twice.matches(BEGIN).count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn median_and_nice_step() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(nice_step(1700.0), 2000.0);
        assert_eq!(nice_step(0.3), 0.5);
    }

    #[test]
    fn counts_rows_and_paired_ratios() {
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1000), "1,000");
        assert_eq!(fmt_count(10_000), "10,000");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
        assert_eq!(row_of("scale/10000/p99"), "scale");
        assert_eq!(row_of("thr/64"), "thr");
        assert_eq!(row_of("hs"), "hs");
        assert_eq!(
            parse_only("hs, scale"),
            Ok(vec!["hs".into(), "scale".into()])
        );
        assert!(parse_only("lat,handshake").is_err());
        // Repeat 2 has no reference and is left out; the others pair up.
        let a = [(0, 30.0), (1, 10.0), (2, 99.0), (3, 8.0)];
        let b = [(0, 10.0), (1, 5.0), (3, 4.0)];
        assert_eq!(paired_ratio(&a, &b), Some(2.0));
        assert_eq!(paired_ratio(&a, &[]), None);
    }

    #[test]
    fn nofile_limits_reads_this_process() {
        let (soft, hard) = nofile_limits().expect("Max open files in /proc/self/limits");
        assert!(soft > 0 && soft <= hard, "{soft} {hard}");
    }
}
