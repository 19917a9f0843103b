//! Connected endpoints: connect, run the connection, and reconnect with exponential
//! backoff until `disconnect` or close, or until RECONNECT_STOP says so (a refused
//! connect, a failed handshake). A TCP connect attempt lasts at most CONNECT_TIMEOUT.

use std::rc::Rc;
use std::time::Duration;

use ringmq_proactor::{Endpoint, Proactor};

use crate::connection;
use crate::link::Origin;
use crate::monitor::MonitorEventKind;
use crate::options::{RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED};
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
    let (first, max, connect_timeout, stop_on) = {
        let core = shared.core.borrow();
        let o = &core.opts;
        let timeout = if tcp { o.connect_timeout } else { None };
        (
            o.reconnect_ivl,
            o.reconnect_ivl_max,
            timeout,
            o.reconnect_stop,
        )
    };
    let first = first.max(Duration::from_millis(1));
    let mut ivl = first;
    while !stop.is_stopped() {
        // Host names are resolved on the resolver threads, not on this loop.
        let attempt = async {
            let Some(limit) = connect_timeout else {
                return crate::resolve::connect(&p, &ep).await;
            };
            match select(
                crate::resolve::connect(&p, &ep),
                p.sleep_until(p.now() + limit),
            )
            .await
            {
                Either::Left(r) => r,
                Either::Right(()) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connect took longer than ZMQ_CONNECT_TIMEOUT ({limit:?})"),
                )),
            }
        };
        let connected = match select(attempt, stop.wait()).await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        // The kernel options of the new stream; BINDTODEVICE failing ends the attempt.
        let connected = connected.and_then(|stream| {
            if tcp {
                shared.core.borrow().opts.apply_to_tcp(&stream)?;
            }
            Ok(stream)
        });
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
                let origin = Origin::Connect {
                    id: connect_id,
                    peer,
                };
                let outcome =
                    connection::run(shared.clone(), stream, endpoint.clone(), origin).await;
                if outcome.established {
                    ivl = first;
                } else if stop_on & RECONNECT_STOP_HANDSHAKE_FAILED != 0 {
                    break;
                }
            }
            Err(e) => {
                let refused = e.kind() == std::io::ErrorKind::ConnectionRefused;
                let kind = MonitorEventKind::ConnectFailed { error: e.into() };
                shared.emit(kind, &endpoint, None);
                if refused && stop_on & RECONNECT_STOP_CONN_REFUSED != 0 {
                    break;
                }
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
