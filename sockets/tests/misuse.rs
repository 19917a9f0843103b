//! Loud misuse: a socket of the built-in runtime polled where nothing drives that
//! runtime (a tokio `LocalSet`, a bare poll) fails at once with `Error::NotDriven`,
//! whose message names the problem, instead of waiting forever.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Wake, Waker};

use ringmq_proactor::Runtime;
use ringmq_sockets::{Context, Error};

#[test]
fn recv_in_a_tokio_local_set_fails_loudly() {
    let rt = Runtime::new().unwrap();
    let ctx = Context::new(rt.proactor());
    let pull = ctx.pull();
    pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = ctx.push();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let (r, s) = local.block_on(&tokio, async {
        let r = pull.recv().await;
        // PUSH with no peer would wait for one: the same error.
        let s = push.send("x").await;
        (r, s)
    });
    let e = r.expect_err("recv cannot complete here");
    assert!(matches!(e, Error::NotDriven), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("Runtime::block_on") && text.contains("LocalSet"),
        "{text}"
    );
    assert!(matches!(s, Err(Error::NotDriven)), "{s:?}");
    // Inside its runtime the same sockets work.
    let ep = pull.last_endpoint().unwrap();
    rt.block_on(async {
        push.connect(&ep).unwrap();
        push.send("ok").await.unwrap();
        assert_eq!(pull.recv().await.unwrap().frames()[0], "ok");
    });
}

struct Noop;
impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_bare_poll_and_the_poll_api_fail_loudly_too() {
    let rt = Runtime::new().unwrap();
    let ctx = Context::new(rt.proactor());
    let pull = ctx.pull();
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = TaskContext::from_waker(&waker);
    match pin!(pull.recv()).poll(&mut cx) {
        Poll::Ready(Err(Error::NotDriven)) => {}
        other => panic!("expected NotDriven, got {other:?}"),
    }
    assert!(matches!(
        pull.poll_recv(&mut cx),
        Poll::Ready(Err(Error::NotDriven))
    ));
    // `try_recv` never waits, so it is fine anywhere.
    assert!(matches!(pull.try_recv(), Err(Error::WouldBlock)));
}
