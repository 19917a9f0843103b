//! A fault-injecting TCP proxy for tests, on loopback, running on its own OS threads
//! (so the faults are outside the runtime under test).
//!
//! It accepts on an ephemeral port and connects each client to the current target
//! (which can change, to follow a restarted peer), then forwards bytes both ways
//! through a [`Fault`]:
//! - `Delay`: every chunk is held for a while before it is written on;
//! - `Cut`: each connection is cut after a random number of bytes, with a TCP reset
//!   (`SO_LINGER` 0) or with FIN;
//! - `Trickle`: one byte per write, `TCP_NODELAY`, so the far end gets one byte per
//!   segment;
//! - `Stall`: each direction stops at a random offset, for a while or for good (until
//!   an end closes).
//!
//! Random choices come from the seed given to [`Proxy::start`], one draw per connection
//! in accept order, so a failing run can be replayed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ringmq_proactor::test_util::set_linger_zero;

use super::Rng;

/// How a cut connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutKind {
    /// `SO_LINGER` 0 then close: both ends get a TCP reset.
    Rst,
    /// Orderly close: both ends read EOF.
    Fin,
}

/// What the proxy does to the bytes it forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward as is.
    None,
    /// Hold every chunk this long before writing it on.
    Delay(Duration),
    /// Cut each connection once it forwarded a random number of bytes (both directions
    /// together) in `lo..hi`.
    Cut { kind: CutKind, lo: usize, hi: usize },
    /// One byte per write.
    Trickle,
    /// Each direction of each connection stops after a random number of bytes in
    /// `lo..hi`, for `pause` (or for good when `None`), then goes on.
    Stall {
        lo: usize,
        hi: usize,
        pause: Option<Duration>,
    },
}

/// What the proxy did, for assertions that a fault really happened.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    pub cuts: AtomicUsize,
    pub stalls: AtomicUsize,
    pub bytes: AtomicUsize,
}

struct Shared {
    target: Mutex<SocketAddr>,
    fault: Mutex<Fault>,
    rng: Mutex<Rng>,
    stop: AtomicBool,
    stats: Stats,
    /// Streams of live connections by connection number, to close them when the proxy
    /// stops.
    live: Mutex<Vec<(usize, TcpStream)>>,
}

/// A running proxy; stops (and closes every connection) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `target` on 127.0.0.1.
    pub fn start(target: SocketAddr, fault: Fault, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            fault: Mutex::new(fault),
            rng: Mutex::new(Rng::new(seed)),
            stop: AtomicBool::new(false),
            stats: Stats::default(),
            live: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("fault-proxy".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawn the proxy")
        };
        Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `tcp://127.0.0.1:<port>` of the proxy.
    pub fn endpoint(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// New connections go to `target` from now on.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap() = target;
    }

    /// New connections get `fault` from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor.
        let _ = TcpStream::connect(self.addr);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
        for (_, s) in self.shared.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// `tcp://127.0.0.1:<port>` to a socket address.
pub fn addr_of(endpoint: &str) -> SocketAddr {
    endpoint
        .strip_prefix("tcp://")
        .unwrap_or(endpoint)
        .parse()
        .unwrap_or_else(|e| panic!("not a tcp://ip:port endpoint {endpoint:?}: {e}"))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let target = *shared.target.lock().unwrap();
        let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(1)) else {
            // Nobody listens there (a peer being restarted): the client sees EOF and
            // reconnects, as it would to the peer itself.
            continue;
        };
        let id = shared.stats.connections.fetch_add(1, Ordering::SeqCst);
        let fault = *shared.fault.lock().unwrap();
        let plan = {
            let mut rng = shared.rng.lock().unwrap();
            Plan::draw(fault, &mut rng)
        };
        for s in [&client, &upstream] {
            let _ = s.set_nodelay(true);
            if let Ok(c) = s.try_clone() {
                shared.live.lock().unwrap().push((id, c));
            }
        }
        let shared = shared.clone();
        std::thread::spawn(move || run_connection(id, client, upstream, plan, shared));
    }
}

/// The fault of one connection, with its random draws made.
#[derive(Clone, Copy, Debug)]
struct Plan {
    fault: Fault,
    /// Cut: bytes to forward before cutting.
    cut_after: usize,
    /// Stall: offsets of the stall in each direction (client to upstream, back).
    stall_at: [usize; 2],
}

impl Plan {
    fn draw(fault: Fault, rng: &mut Rng) -> Plan {
        let mut plan = Plan {
            fault,
            cut_after: usize::MAX,
            stall_at: [usize::MAX; 2],
        };
        match fault {
            Fault::Cut { lo, hi, .. } => plan.cut_after = rng.range(lo, hi),
            Fault::Stall { lo, hi, .. } => plan.stall_at = [rng.range(lo, hi), rng.range(lo, hi)],
            _ => {}
        }
        plan
    }
}

/// State shared by the two directions of one connection.
struct Conn {
    /// Bytes forwarded both ways so far (for `Cut`).
    forwarded: AtomicUsize,
    /// Set when the connection is to end (cut, EOF or error on either side).
    done: AtomicBool,
}

fn run_connection(
    id: usize,
    client: TcpStream,
    upstream: TcpStream,
    plan: Plan,
    shared: Arc<Shared>,
) {
    let conn = Arc::new(Conn {
        forwarded: AtomicUsize::new(0),
        done: AtomicBool::new(false),
    });
    let pumps: Vec<JoinHandle<()>> = [(&client, &upstream, 0usize), (&upstream, &client, 1usize)]
        .into_iter()
        .map(|(from, to, dir)| {
            let from = from.try_clone().expect("clone a proxied stream");
            let to = to.try_clone().expect("clone a proxied stream");
            let (conn, shared) = (conn.clone(), shared.clone());
            std::thread::spawn(move || pump(from, to, dir, plan, &conn, &shared))
        })
        .collect();
    for p in pumps {
        let _ = p.join();
    }
    let cut = matches!(plan.fault, Fault::Cut { .. })
        && conn.forwarded.load(Ordering::SeqCst) >= plan.cut_after;
    if cut {
        shared.stats.cuts.fetch_add(1, Ordering::SeqCst);
    }
    match plan.fault {
        Fault::Cut {
            kind: CutKind::Rst, ..
        } if cut => {
            for s in [&client, &upstream] {
                let _ = set_linger_zero(s.as_raw_fd());
            }
        }
        _ => {
            for s in [&client, &upstream] {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
    // The last handles of both sockets close here, with the copies kept for `Drop`
    // (a reset when linger is 0).
    shared.live.lock().unwrap().retain(|(c, _)| *c != id);
}

/// Forwards `from` to `to` under the plan until EOF, an error, or the connection ends.
fn pump(mut from: TcpStream, to: TcpStream, dir: usize, plan: Plan, conn: &Conn, shared: &Shared) {
    // A short read timeout lets a pump notice that the other direction ended the
    // connection.
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let mut sent_this_way = 0usize;
    let mut stalled = false;
    let writer = Writer::new(to, plan.fault);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if conn.done.load(Ordering::SeqCst) || shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let mut chunk = &buf[..n];
        // Cut: forward only up to the budget of the connection, then end it.
        if let Fault::Cut { .. } = plan.fault {
            let before = conn.forwarded.fetch_add(chunk.len(), Ordering::SeqCst);
            if before + chunk.len() >= plan.cut_after {
                let allowed = plan.cut_after.saturating_sub(before).min(chunk.len());
                let _ = writer.write(&chunk[..allowed]);
                break;
            }
        }
        // Stall: forward up to the offset, stop, then the rest.
        if let Fault::Stall { pause, .. } = plan.fault {
            let at = plan.stall_at[dir];
            if !stalled && sent_this_way + chunk.len() >= at {
                let first = at - sent_this_way;
                if writer.write(&chunk[..first]).is_err() {
                    break;
                }
                sent_this_way += first;
                chunk = &chunk[first..];
                stalled = true;
                shared.stats.stalls.fetch_add(1, Ordering::SeqCst);
                match pause {
                    Some(d) => sleep_unless_done(d, conn, shared),
                    None => {
                        // For good: hold on until the connection ends.
                        while !conn.done.load(Ordering::SeqCst)
                            && !shared.stop.load(Ordering::SeqCst)
                        {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        break;
                    }
                }
            }
        }
        if writer.write(chunk).is_err() {
            break;
        }
        sent_this_way += chunk.len();
        shared.stats.bytes.fetch_add(n, Ordering::SeqCst);
    }
    writer.finish();
    conn.done.store(true, Ordering::SeqCst);
}

fn sleep_unless_done(d: Duration, conn: &Conn, shared: &Shared) {
    let end = Instant::now() + d;
    while Instant::now() < end
        && !conn.done.load(Ordering::SeqCst)
        && !shared.stop.load(Ordering::SeqCst)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Writes one direction: directly, one byte at a time, or through a delay line (a
/// thread that writes each chunk once its time has come, keeping the order).
enum Writer {
    Direct(TcpStream),
    Trickle(TcpStream),
    Delayed {
        tx: Option<mpsc::Sender<(Instant, Vec<u8>)>>,
        failed: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        delay: Duration,
    },
}

impl Writer {
    fn new(to: TcpStream, fault: Fault) -> Writer {
        match fault {
            Fault::Trickle => Writer::Trickle(to),
            Fault::Delay(delay) => {
                let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
                let failed = Arc::new(AtomicBool::new(false));
                let f = failed.clone();
                let thread = std::thread::spawn(move || {
                    let mut to = to;
                    for (at, bytes) in rx {
                        let now = Instant::now();
                        if at > now {
                            std::thread::sleep(at - now);
                        }
                        if to.write_all(&bytes).is_err() {
                            f.store(true, Ordering::SeqCst);
                            return;
                        }
                    }
                });
                Writer::Delayed {
                    tx: Some(tx),
                    failed,
                    thread: Some(thread),
                    delay,
                }
            }
            _ => Writer::Direct(to),
        }
    }

    fn write(&self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Writer::Direct(to) => (&*to).write_all(bytes),
            Writer::Trickle(to) => {
                for b in bytes {
                    (&*to).write_all(std::slice::from_ref(b))?;
                }
                Ok(())
            }
            Writer::Delayed {
                tx, failed, delay, ..
            } => {
                if failed.load(Ordering::SeqCst) {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                let tx = tx.as_ref().expect("open until finish");
                tx.send((Instant::now() + *delay, bytes.to_vec()))
                    .map_err(|_| io::ErrorKind::BrokenPipe.into())
            }
        }
    }

    /// Lets a delay line write what it holds.
    fn finish(self) {
        if let Writer::Delayed {
            mut tx, mut thread, ..
        } = self
        {
            drop(tx.take());
            if let Some(t) = thread.take() {
                let _ = t.join();
            }
        }
    }
}
