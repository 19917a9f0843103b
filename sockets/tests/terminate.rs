//! Context termination: a `Send + Sync` handle any thread can trigger; pending and
//! future calls return `Error::Terminated` (on this thread and on others, whatever
//! their backend); LINGER is honoured up to its limit, then what is queued is dropped
//! and counted; background reconnects of dropped sockets end; the proxy returns.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::threads::*;
use common::*;
use ringmq_proactor::Proactor;
use ringmq_sockets::{proxy, Context, Error, MonitorEventKind, SocketOption};

/// Blocks in `recv` on a PULL (and in `send` on a full PUSH) until the context is
/// terminated, then checks every call fails with `Terminated`; reports on `done`.
struct Blocked {
    tag: usize,
    done: mpsc::Sender<usize>,
}

impl Body for Blocked {
    async fn run<P: Proactor>(self, ctx: Context<P>) {
        let pull = ctx.pull();
        pull.bind(&format!("inproc://idle-{}", self.tag)).unwrap();
        let push = ctx.push();
        push.set_option(SocketOption::SndHwm(1)).unwrap();
        // Nobody binds this name: the PUSH queue fills and the next send waits.
        push.connect(&format!("inproc://nobody-{}", self.tag))
            .unwrap();
        push.send("queued").await.unwrap();
        self.done.send(self.tag).unwrap();
        let (r, s) = join(pull.recv(), push.send("waits")).await;
        assert!(matches!(r, Err(Error::Terminated)), "recv: {r:?}");
        assert!(matches!(s, Err(Error::Terminated)), "send: {s:?}");
        assert!(matches!(pull.try_recv(), Err(Error::Terminated)));
        assert!(matches!(push.connect("inproc://x"), Err(Error::Terminated)));
        // Infinite LINGER does not hold a terminated context: the queued message is
        // dropped and counted once the socket stopped (its monitor ends).
        let mon = push.monitor();
        wait_until(ctx.proactor(), WAIT, "the monitor ends", || {
            while mon.try_recv().is_some() {}
            push.drops().disconnected == 1
        })
        .await;
        self.done.send(self.tag).unwrap();
    }
}

async fn terminate_wakes_calls_on_every_thread<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = ENGINES
        .iter()
        .enumerate()
        .map(|(i, &e)| {
            spawn_on(
                e,
                &ctx.handle(),
                Blocked {
                    tag: i,
                    done: tx.clone(),
                },
            )
        })
        .collect();
    // A pending recv on this thread too.
    let here = ctx.rep();
    here.bind("inproc://here").unwrap();
    let mut started = 0;
    let mut finished = 0;
    let handle = ctx.handle();
    let recv_here = here.recv();
    let drive = async {
        wait_until(&p, WAIT, "every thread is blocked", || {
            while rx.try_recv().is_ok() {
                started += 1;
            }
            started == ENGINES.len()
        })
        .await;
        // From another thread, through the Send + Sync handle.
        let h = handle.clone();
        std::thread::spawn(move || h.terminate()).join().unwrap();
        assert!(handle.is_terminated());
        wait_until(&p, WAIT, "every thread saw Terminated", || {
            while rx.try_recv().is_ok() {
                finished += 1;
            }
            finished == ENGINES.len()
        })
        .await;
    };
    let (r, ()) = join(recv_here, drive).await;
    assert!(matches!(r, Err(Error::Terminated)), "{r:?}");
    join_threads(&p, threads).await;
    // Future calls and new sockets fail the same way.
    assert!(matches!(here.send("x").await, Err(Error::Terminated)));
    let late = ctx.dealer();
    assert!(matches!(
        late.bind("tcp://127.0.0.1:*"),
        Err(Error::Terminated)
    ));
    assert!(matches!(late.try_send("x"), Err(Error::Terminated)));
    // Terminating again changes nothing.
    ctx.terminate();
}

async fn linger_delivers_until_its_limit<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let port = free_port();
    let ep = format!("tcp://127.0.0.1:{port}");
    let push = ctx.push();
    push.set_option(SocketOption::Linger(Some(Duration::from_secs(10))))
        .unwrap();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(10)))
        .unwrap();
    let mon = push.monitor();
    push.connect(&ep).unwrap();
    push.send("kept").await.unwrap();
    ctx.terminate();
    assert!(matches!(push.send("refused").await, Err(Error::Terminated)));
    // Within the LINGER a peer appears (another context, not terminated): the queued
    // message still goes out, and then the socket stops.
    let other = Context::new(p.clone());
    let pull = other.pull();
    pull.bind(&ep).unwrap();
    assert_eq!(pull.recv().await.unwrap().frames()[0], "kept");
    let end = timeout(&p, WAIT, async { while mon.recv().await.is_some() {} }).await;
    assert!(
        end.is_some(),
        "the monitor ends once the queue is delivered"
    );
    assert_eq!(push.drops(), Default::default());
}

async fn linger_expiry_drops_and_counts<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let push = ctx.push();
    push.set_option(SocketOption::Linger(Some(Duration::from_millis(200))))
        .unwrap();
    let mon = push.monitor();
    push.connect(&format!("tcp://127.0.0.1:{}", free_port()))
        .unwrap();
    for _ in 0..3 {
        push.send("lost").await.unwrap();
    }
    let start = p.now();
    ctx.handle().terminate();
    let end = timeout(&p, WAIT, async { while mon.recv().await.is_some() {} }).await;
    assert!(end.is_some());
    // Time is the subject: LINGER was waited for, not more.
    let waited = p.now() - start;
    assert!(waited >= Duration::from_millis(190), "{waited:?}");
    assert_eq!(push.drops().disconnected, 3);
}

async fn dropped_sockets_stop_reconnecting<P: Proactor>(ctx: Context<P>) {
    let p = ctx.proactor().clone();
    let port = free_port();
    let push = ctx.push();
    push.set_option(SocketOption::ReconnectIvl(Duration::from_millis(10)))
        .unwrap();
    let mon = push.monitor();
    push.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    push.send("never delivered").await.unwrap();
    // Dropped with a queued message and the default infinite LINGER: it keeps trying
    // in the background, as in libzmq.
    drop(push);
    for _ in 0..3 {
        wait_event(&p, &mon, |e| {
            matches!(e.kind, MonitorEventKind::ConnectRetried { .. })
        })
        .await;
    }
    ctx.terminate();
    let end = timeout(&p, WAIT, async { while mon.recv().await.is_some() {} }).await;
    assert!(end.is_some(), "the background task ended");
    // No more attempts: a listener on the port sees no connection. "Nothing
    // happens" is the subject: a bounded wait.
    let listener = p
        .listen(&format!("tcp://127.0.0.1:{port}").parse().unwrap())
        .unwrap();
    let accepted = timeout(&p, Duration::from_millis(200), p.accept(&listener)).await;
    assert!(accepted.is_none(), "no reconnect after termination");
}

async fn proxy_returns_terminated<P: Proactor>(ctx: Context<P>) {
    let front = ctx.xsub();
    front.bind("inproc://t-front").unwrap();
    let back = ctx.xpub();
    back.bind("inproc://t-back").unwrap();
    let handle = ctx.handle();
    // `join` polls the proxy first: its receives are pending when this terminates.
    let stopper = async { handle.terminate() };
    let (r, ()) = join(proxy(front.as_socket(), back.as_socket(), None), stopper).await;
    assert!(matches!(r, Err(Error::Terminated)), "{r:?}");
}

backend_tests!(
    terminate_wakes_calls_on_every_thread,
    linger_delivers_until_its_limit,
    linger_expiry_drops_and_counts,
    dropped_sockets_stop_reconnecting,
    proxy_returns_terminated,
);
