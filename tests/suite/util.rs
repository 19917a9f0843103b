//! Helpers shared by the suite bodies.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Poll, Waker};
use std::time::Duration;

use ringmq_proactor::{BufResult, Endpoint, IoBuf, Proactor};

pub use std::os::fd::AsRawFd;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this process and call.
pub fn unique(kind: &str) -> String {
    format!(
        "ringmq-{kind}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn tcp_ep() -> Endpoint {
    "tcp://127.0.0.1:0".parse().expect("tcp endpoint")
}

pub fn ipc_path_ep() -> Endpoint {
    let path = std::env::temp_dir().join(format!("{}.sock", unique("conf")));
    let _ = std::fs::remove_file(&path);
    format!("ipc://{}", path.display())
        .parse()
        .expect("ipc endpoint")
}

pub fn ipc_abstract_ep() -> Endpoint {
    format!("ipc://@{}", unique("conf"))
        .parse()
        .expect("abstract ipc endpoint")
}

/// The word at index `i` of the test stream (splitmix64).
pub fn pattern(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A connected pair on `ep`: (client stream, server stream).
pub async fn pair<P: Proactor>(p: &P, ep: &Endpoint) -> (P::Stream, P::Stream) {
    let l = p.listen(ep).expect("listen");
    let ep = p.listener_endpoint(&l).expect("listener_endpoint");
    let c = p.connect(&ep).await.expect("connect");
    let (s, _) = p.accept(&l).await.expect("accept");
    (c, s)
}

/// Sends all of `data`, looping over partial writes.
pub async fn send_all<P: Proactor>(p: &P, w: &mut P::Writer, data: Vec<u8>) -> io::Result<()> {
    let len = data.len();
    let mut off = 0;
    let mut buf = data;
    while off < len {
        let BufResult(res, slice) = p.send(w, buf.slice(off..len)).await;
        buf = slice.into_inner();
        match res? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => off += n,
        }
    }
    Ok(())
}

/// Receives exactly `n` bytes (fails on early end of stream).
pub async fn recv_exact<P: Proactor>(p: &P, r: &mut P::Reader, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    while buf.len() < n {
        let BufResult(res, b) = p.recv(r, buf).await;
        buf = b;
        if res? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(buf)
}

/// Receives until end of stream.
pub async fn recv_to_end<P: Proactor>(p: &P, r: &mut P::Reader) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let BufResult(res, buf) = p.recv(r, Vec::with_capacity(64 << 10)).await;
        if res? == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf);
    }
}

/// Polls `f` once: its output if it was ready.
pub async fn poll_once<F: Future + ?Sized>(mut f: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| {
        Poll::Ready(match f.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// `f`, or `None` if it did not complete within `d` (then `f` is dropped).
pub async fn with_timeout<P: Proactor, F: Future>(p: &P, d: Duration, f: F) -> Option<F::Output> {
    let mut f = pin!(f);
    let mut sleep = pin!(p.sleep_until(p.now() + d));
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

/// Spawns `f` on the engine and returns a future of its output.
pub fn spawn_result<P: Proactor, T: 'static>(
    p: &P,
    f: impl Future<Output = T> + 'static,
) -> impl Future<Output = T> {
    let slot = Rc::new(RefCell::new(Slot {
        value: None,
        waker: None,
    }));
    let tx = slot.clone();
    p.spawn_local(async move {
        let v = f.await;
        let mut s = tx.borrow_mut();
        s.value = Some(v);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    });
    poll_fn(move |cx| {
        let mut s = slot.borrow_mut();
        match s.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}
