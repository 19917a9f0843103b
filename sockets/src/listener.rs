//! Bound endpoints: an accept loop per `bind`, each accepted stream run as a connection.

use std::rc::Rc;
use std::time::Duration;

use ringmq_proactor::Proactor;

use crate::connection;
use crate::core::Refusal;
use crate::link::Origin;
use crate::monitor::MonitorEventKind;
use crate::socket::shared::Shared;
use crate::util::{select, Either, Stop};

/// Accepts connections until `stop`; the listener (and an IPC socket file) is closed
/// when the loop ends.
pub(crate) async fn accept_loop<P: Proactor>(
    shared: Rc<Shared<P>>,
    listener: P::Listener,
    bind_id: u64,
    endpoint: String,
    tcp: bool,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    loop {
        let accepted = match select(p.accept(&listener), stop.wait()).await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        match accepted {
            Ok((stream, addr)) => {
                if let Some(max) = at_peer_cap(&shared) {
                    // Closed at once: no session, no buffers, the descriptor freed.
                    drop(stream);
                    shared.io.borrow_mut().peers_refused += 1;
                    let reason = Refusal::TooManyPeers { max };
                    shared.emit(MonitorEventKind::AcceptRefused { reason }, &endpoint, None);
                    continue;
                }
                shared.emit(MonitorEventKind::Accepted, &endpoint, None);
                // Best effort, like libzmq (the listener's BINDTODEVICE already
                // holds for what it accepts).
                if tcp {
                    let _ = shared.core.borrow().opts.apply_to_tcp(&stream);
                }
                let counted = Accepted::count(shared.clone());
                let endpoint = endpoint.clone();
                // The connection's future is made inside the task: a future made
                // outside and awaited in it would be stored twice in the task (once
                // as a captured value, once as the awaited one), 2.6 KiB more per
                // connection.
                p.spawn_local(async move {
                    let shared = counted.0.clone();
                    let origin = Origin::Bind(bind_id);
                    connection::run_from(shared, stream, endpoint, origin, Some(addr)).await;
                    drop(counted);
                });
            }
            Err(e) => {
                let kind = MonitorEventKind::AcceptFailed { error: e.into() };
                shared.emit(kind, &endpoint, None);
                // Out of descriptors or similar: back off instead of spinning.
                let pause = p.now() + Duration::from_millis(100);
                select(p.sleep_until(pause), stop.wait()).await;
            }
        }
    }
    // Dropping the listener closes it (and removes an IPC socket file); `unbind` and
    // `close` already reported `Closed`.
    drop(listener);
}

/// The peer cap when the socket holds that many accepted connections.
fn at_peer_cap<P: Proactor>(shared: &Shared<P>) -> Option<usize> {
    let max = shared.core.borrow().opts.max_peers?;
    (shared.io.borrow().accepted >= max).then_some(max)
}

/// One accepted connection counted against the peer cap while its task lives.
struct Accepted<P: Proactor>(Rc<Shared<P>>);

impl<P: Proactor> Accepted<P> {
    fn count(shared: Rc<Shared<P>>) -> Self {
        shared.io.borrow_mut().accepted += 1;
        Accepted(shared)
    }
}

impl<P: Proactor> Drop for Accepted<P> {
    fn drop(&mut self) {
        if let Ok(mut io) = self.0.io.try_borrow_mut() {
            io.accepted -= 1;
        }
    }
}
