//! Bound endpoints: an accept loop per `bind`, each accepted stream run as a connection.

use std::rc::Rc;
use std::time::Duration;

use ringmq_proactor::Proactor;

use crate::connection;
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
                shared.emit(MonitorEventKind::Accepted, &endpoint, None);
                // Best effort, like libzmq (the listener's BINDTODEVICE already
                // holds for what it accepts).
                if tcp {
                    let _ = shared.core.borrow().opts.apply_to_tcp(&stream);
                }
                let conn = connection::run_from(
                    shared.clone(),
                    stream,
                    endpoint.clone(),
                    Origin::Bind(bind_id),
                    Some(addr),
                );
                p.spawn_local(async move {
                    conn.await;
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
