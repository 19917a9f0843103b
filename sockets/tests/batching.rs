//! The writer's batching, counted: a proactor wrapper delegates to the built-in
//! [`Native`] proactor and counts the writes (`send` and `send_vectored` calls) each
//! side makes. A peer's writer drains everything queued into one vectored write, so a
//! burst costs far fewer writes than messages, while in ping-pong (nothing queued behind
//! a message) every message is written at once, by exactly one write. The same wrapper
//! can make `accept` fail, for the listener's `AcceptFailed` events.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{join, timeout};
use ringmq_proactor::{
    BackendChoice, BufResult, Endpoint, IoBuf, IoBufMut, Native, PeerAddr, Proactor, Runtime,
};
use ringmq_sockets::{Context, MonitorEventKind};

/// The built-in proactor, counting the write calls made through it: asynchronous
/// writes (`send`, `send_vectored`: the writer task) and synchronous ones
/// (`try_send_vectored`: REQ / REP writing from the application's task).
#[derive(Clone)]
struct Counting {
    inner: Native,
    writes: Rc<Cell<usize>>,
    direct: Rc<Cell<usize>>,
    /// The next this many accepts fail with EMFILE (out of descriptors).
    accept_failures: Rc<Cell<usize>>,
}

impl Counting {
    fn new(inner: Native) -> Self {
        Counting {
            inner,
            writes: Rc::new(Cell::new(0)),
            direct: Rc::new(Cell::new(0)),
            accept_failures: Rc::new(Cell::new(0)),
        }
    }

    fn writes(&self) -> usize {
        self.writes.get()
    }

    fn direct_writes(&self) -> usize {
        self.direct.get()
    }
}

impl Proactor for Counting {
    type Listener = <Native as Proactor>::Listener;
    type Stream = <Native as Proactor>::Stream;
    type Reader = <Native as Proactor>::Reader;
    type Writer = <Native as Proactor>::Writer;

    fn listen(&self, ep: &Endpoint) -> io::Result<Self::Listener> {
        self.inner.listen(ep)
    }

    fn listener_endpoint(&self, l: &Self::Listener) -> io::Result<Endpoint> {
        self.inner.listener_endpoint(l)
    }

    fn accept(
        &self,
        l: &Self::Listener,
    ) -> impl Future<Output = io::Result<(Self::Stream, PeerAddr)>> {
        let fail = self.accept_failures.get() > 0;
        if fail {
            self.accept_failures.set(self.accept_failures.get() - 1);
        }
        let accepted = self.inner.accept(l);
        async move {
            if fail {
                return Err(io::Error::from_raw_os_error(EMFILE));
            }
            accepted.await
        }
    }

    fn connect(&self, ep: &Endpoint) -> impl Future<Output = io::Result<Self::Stream>> {
        self.inner.connect(ep)
    }

    fn split(&self, s: Self::Stream) -> (Self::Reader, Self::Writer) {
        self.inner.split(s)
    }

    fn recv<B: IoBufMut>(
        &self,
        r: &mut Self::Reader,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> {
        self.inner.recv(r, buf)
    }

    fn send<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        buf: B,
    ) -> impl Future<Output = BufResult<usize, B>> {
        self.writes.set(self.writes.get() + 1);
        self.inner.send(w, buf)
    }

    fn send_vectored<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        self.writes.set(self.writes.get() + 1);
        self.inner.send_vectored(w, bufs)
    }

    fn try_send_vectored<B: IoBuf>(
        &self,
        w: &mut Self::Writer,
        bufs: &[B],
    ) -> Option<io::Result<usize>> {
        self.direct.set(self.direct.get() + 1);
        self.inner.try_send_vectored(w, bufs)
    }

    fn shutdown(&self, w: &mut Self::Writer) -> impl Future<Output = io::Result<()>> {
        self.inner.shutdown(w)
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        self.inner.sleep_until(deadline)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }

    fn spawn_local<F: Future<Output = ()> + 'static>(&self, f: F) {
        self.inner.spawn_local(f)
    }
}

/// `EMFILE` on Linux: the process is out of file descriptors.
const EMFILE: i32 = 24;

/// Runs `body` with two counting proactors (one per side) on one built-in runtime.
fn with_two_sides<F, Fut>(choice: BackendChoice, body: F)
where
    F: FnOnce(Counting, Counting) -> Fut,
    Fut: Future<Output = ()>,
{
    let rt = Runtime::with_backend(choice).expect("built-in runtime");
    let p = rt.proactor();
    let body = body(Counting::new(p.clone()), Counting::new(p.clone()));
    rt.block_on(async {
        let limit = Duration::from_secs(60);
        if timeout(&p, limit, body).await.is_none() {
            panic!("test body did not finish within {limit:?}");
        }
    });
}

const BURST: usize = 10_000;

/// 10,000 messages sent without pausing: the sender's writer wakes once the sending
/// task yields and writes everything queued by then in one call.
async fn burst_is_batched(a: Counting, b: Counting) {
    let pull = Context::new(b.clone()).pull();
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = Context::new(a.clone()).push();
    push.connect(&ep).unwrap();
    // Warm up: the connection is up and idle.
    push.send("warm-up").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "warm-up");
    let before = a.writes();
    let send = async {
        for i in 0..BURST {
            push.send(format!("message {i}")).await.unwrap();
        }
    };
    let recv = async {
        for i in 0..BURST {
            let m = pull.recv().await.unwrap();
            assert_eq!(m.frames()[0], format!("message {i}").as_bytes());
        }
    };
    join(send, recv).await;
    let writes = a.writes() - before;
    println!("{BURST} messages took {writes} writes");
    assert!(writes >= 1);
    assert!(
        writes < BURST / 10,
        "{BURST} messages sent in a burst took {writes} writes (want < {})",
        BURST / 10
    );
}

const ROUNDS: usize = 200;

/// Ping-pong: each message waits for the reply to the previous one, so the writer
/// finds exactly one message queued and writes it at once: one write per message.
async fn ping_pong_is_one_write_per_message(a: Counting, b: Counting) {
    let left = Context::new(a.clone()).pair();
    let ep = left.bind("tcp://127.0.0.1:*").unwrap();
    let right = Context::new(b.clone()).pair();
    right.connect(&ep).unwrap();
    right.send("warm-up").await.unwrap();
    assert_eq!(left.recv().await.unwrap().frames()[0], "warm-up");
    left.send("warm-up reply").await.unwrap();
    assert_eq!(right.recv().await.unwrap().frames()[0], "warm-up reply");
    let (a0, b0) = (a.writes(), b.writes());
    for i in 0..ROUNDS {
        right.send(format!("ping {i}")).await.unwrap();
        assert_eq!(
            left.recv().await.unwrap().frames()[0],
            format!("ping {i}").as_bytes()
        );
        left.send(format!("pong {i}")).await.unwrap();
        assert_eq!(
            right.recv().await.unwrap().frames()[0],
            format!("pong {i}").as_bytes()
        );
    }
    assert_eq!(b.writes() - b0, ROUNDS, "pings: one write each");
    assert_eq!(a.writes() - a0, ROUNDS, "pongs: one write each");
}

/// REQ / REP: a request or reply finds its connection idle and is written by the
/// sending task itself (one synchronous write each), never by the writer task.
async fn req_rep_write_from_the_sending_task(a: Counting, b: Counting) {
    let rep = Context::new(a.clone()).rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = Context::new(b.clone()).req();
    req.connect(&ep).unwrap();
    req.send("warm-up").await.unwrap();
    assert_eq!(rep.recv().await.unwrap().frames()[0], "warm-up");
    rep.send("warm-up reply").await.unwrap();
    assert_eq!(req.recv().await.unwrap().frames()[0], "warm-up reply");
    let (a0, b0) = (a.writes(), b.writes());
    let (ad, bd) = (a.direct_writes(), b.direct_writes());
    for i in 0..ROUNDS {
        req.send(format!("request {i}")).await.unwrap();
        let got = rep.recv().await.unwrap();
        assert_eq!(got.frames(), [format!("request {i}").as_bytes()]);
        rep.send(format!("reply {i}")).await.unwrap();
        let got = req.recv().await.unwrap();
        assert_eq!(got.frames(), [format!("reply {i}").as_bytes()]);
    }
    assert_eq!(
        b.direct_writes() - bd,
        ROUNDS,
        "requests: one direct write each"
    );
    assert_eq!(
        a.direct_writes() - ad,
        ROUNDS,
        "replies: one direct write each"
    );
    assert_eq!(
        b.writes() - b0,
        0,
        "no request went through the writer task"
    );
    assert_eq!(a.writes() - a0, 0, "no reply went through the writer task");
}

/// A request larger than the socket buffer: the direct write takes what fits and the
/// writer task finishes the rest, in order, and the reply still comes back whole.
async fn req_rep_large_messages_finish_on_the_writer(a: Counting, b: Counting) {
    let rep = Context::new(a.clone()).rep();
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = Context::new(b.clone()).req();
    req.connect(&ep).unwrap();
    let big: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
    let (b0, bd) = (b.writes(), b.direct_writes());
    for round in 0..3u8 {
        let mut request = big.clone();
        request[0] = round;
        let client = async {
            req.send(request.clone()).await.unwrap();
            req.recv().await.unwrap()
        };
        let server = async {
            let got = rep.recv().await.unwrap();
            assert_eq!(got.frames().len(), 1);
            assert!(
                got.frames()[0] == request[..],
                "request {round} arrived intact"
            );
            let mut reply = got.frames()[0].to_vec();
            reply.reverse();
            rep.send(reply).await.unwrap();
        };
        let (reply, ()) = join(client, server).await;
        let mut want = request.clone();
        want.reverse();
        assert!(
            reply.frames()[0] == want[..],
            "reply {round} arrived intact"
        );
    }
    assert!(
        b.direct_writes() - bd >= 1,
        "the requests were tried directly"
    );
    assert!(
        b.writes() - b0 >= 3,
        "the writer task finished each 16 MiB request"
    );
}

/// Accepting fails three times (out of descriptors): each failure is reported with its
/// error, the listener backs off 100 ms instead of spinning, then accepts the waiting
/// client.
async fn accept_failures_are_reported_and_backed_off(a: Counting, b: Counting) {
    let pull = Context::new(b.clone()).pull();
    let mon = pull.monitor();
    b.accept_failures.set(3);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = Context::new(a.clone()).push();
    let start = Instant::now();
    push.connect(&ep).unwrap();
    push.send("through").await.unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "through");
    let elapsed = start.elapsed();
    let failures: Vec<_> = std::iter::from_fn(|| mon.try_recv())
        .filter_map(|e| match e.kind {
            MonitorEventKind::AcceptFailed { error } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 3, "{failures:?}");
    for e in &failures {
        assert_eq!(e.raw_os_error(), Some(EMFILE));
    }
    // Three back-offs of 100 ms (a timing bound: the listener must not spin).
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

#[test]
fn uring_accept_failures_are_reported_and_backed_off() {
    with_two_sides(
        BackendChoice::Uring,
        accept_failures_are_reported_and_backed_off,
    );
}

#[test]
fn epoll_accept_failures_are_reported_and_backed_off() {
    with_two_sides(
        BackendChoice::Epoll,
        accept_failures_are_reported_and_backed_off,
    );
}

#[test]
fn uring_req_rep_write_from_the_sending_task() {
    with_two_sides(BackendChoice::Uring, req_rep_write_from_the_sending_task);
}

#[test]
fn epoll_req_rep_write_from_the_sending_task() {
    with_two_sides(BackendChoice::Epoll, req_rep_write_from_the_sending_task);
}

#[test]
fn uring_req_rep_large_messages_finish_on_the_writer() {
    with_two_sides(
        BackendChoice::Uring,
        req_rep_large_messages_finish_on_the_writer,
    );
}

#[test]
fn epoll_req_rep_large_messages_finish_on_the_writer() {
    with_two_sides(
        BackendChoice::Epoll,
        req_rep_large_messages_finish_on_the_writer,
    );
}

#[test]
fn uring_burst_is_batched() {
    with_two_sides(BackendChoice::Uring, burst_is_batched);
}

#[test]
fn epoll_burst_is_batched() {
    with_two_sides(BackendChoice::Epoll, burst_is_batched);
}

#[test]
fn uring_ping_pong_is_one_write_per_message() {
    with_two_sides(BackendChoice::Uring, ping_pong_is_one_write_per_message);
}

#[test]
fn epoll_ping_pong_is_one_write_per_message() {
    with_two_sides(BackendChoice::Epoll, ping_pong_is_one_write_per_message);
}
