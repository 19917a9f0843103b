//! Connected endpoints: connect, run the connection, and reconnect with exponential
//! backoff until `disconnect` or close.

use std::rc::Rc;
use std::time::Duration;

use ringmq_proactor::{sockopt, Endpoint, Proactor};

use crate::connection;
use crate::link::Origin;
use crate::monitor::MonitorEventKind;
use crate::socket::shared::Shared;
use crate::util::{select, Either, Stop};

pub(crate) async fn connect_loop<P: Proactor>(
    shared: Rc<Shared<P>>,
    ep: Endpoint,
    endpoint: String,
    connect_id: u64,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    let tcp = matches!(ep, Endpoint::Tcp { .. });
    let (first, max) = {
        let core = shared.core.borrow();
        (core.opts.reconnect_ivl, core.opts.reconnect_ivl_max)
    };
    let first = first.max(Duration::from_millis(1));
    let mut ivl = first;
    while !stop.is_stopped() {
        // Host names are resolved on the resolver threads, not on this loop.
        let connected = match select(crate::resolve::connect(&p, &ep), stop.wait()).await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        match connected {
            Ok(stream) => {
                shared.emit(MonitorEventKind::Connected, &endpoint, None);
                let peer = shared
                    .io
                    .borrow()
                    .connects
                    .iter()
                    .find(|c| c.id == connect_id)
                    .and_then(|c| c.peer);
                let keepalive = shared.core.borrow().opts.keepalive();
                if let (true, Some(ka)) = (tcp, keepalive) {
                    let _ = sockopt::set_tcp_keepalive(&stream, &ka);
                }
                let origin = Origin::Connect {
                    id: connect_id,
                    peer,
                };
                let outcome =
                    connection::run(shared.clone(), stream, endpoint.clone(), origin).await;
                if outcome.established {
                    ivl = first;
                }
            }
            Err(e) => {
                let kind = MonitorEventKind::ConnectFailed { error: e.into() };
                shared.emit(kind, &endpoint, None);
            }
        }
        if stop.is_stopped() {
            break;
        }
        let kind = MonitorEventKind::ConnectRetried { interval: ivl };
        shared.emit(kind, &endpoint, None);
        let wake = p.now() + ivl;
        select(p.sleep_until(wake), stop.wait()).await;
        if max > first {
            ivl = (ivl * 2).min(max);
        }
    }
}
