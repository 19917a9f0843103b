//! Connected endpoints: connect, run the connection, and reconnect with exponential
//! backoff until `disconnect` or close, or until RECONNECT_STOP says so (a refused
//! connect, a failed handshake). A TCP connect attempt lasts at most CONNECT_TIMEOUT;
//! with SOCKS_PROXY it goes to the proxy, which is asked to connect to the endpoint
//! (see `socks`) before the ZMTP connection starts.

use std::io;
use std::os::fd::BorrowedFd;
use std::rc::Rc;
use std::time::Duration;

use ringmq_proactor::{BufResult, Endpoint, Proactor};

use crate::connection;
use crate::link::Origin;
use crate::monitor::MonitorEventKind;
use crate::options::{RECONNECT_STOP_CONN_REFUSED, RECONNECT_STOP_HANDSHAKE_FAILED};
use crate::socket::shared::Shared;
use crate::socks::Socks5;
use crate::util::{select, Either, Stop};

/// What a connect attempt gives the connection.
enum Ready<P: Proactor> {
    Stream(P::Stream),
    /// Through a SOCKS5 proxy: the stream was split for the proxy's handshake.
    Halves(P::Reader, P::Writer),
}

/// SOCKS_PROXY settings of a connect.
struct Proxy {
    endpoint: Endpoint,
    username: String,
    password: String,
}

pub(crate) async fn connect_loop<P: Proactor>(
    shared: Rc<Shared<P>>,
    ep: Endpoint,
    endpoint: String,
    connect_id: u64,
    stop: Rc<Stop>,
) {
    let p = shared.proactor.clone();
    let tcp = matches!(ep, Endpoint::Tcp { .. });
    let (first, max, connect_timeout, stop_on, handshake_ivl, proxy) = {
        let core = shared.core.borrow();
        let o = &core.opts;
        let timeout = if tcp { o.connect_timeout } else { None };
        let proxy = (tcp && !o.socks_proxy.is_empty()).then(|| {
            format!("tcp://{}", o.socks_proxy)
                .parse::<Endpoint>()
                .map(|endpoint| Proxy {
                    endpoint,
                    username: o.socks_username.clone(),
                    password: o.socks_password.clone(),
                })
        });
        (
            o.reconnect_ivl,
            o.reconnect_ivl_max,
            timeout,
            o.reconnect_stop,
            o.handshake_ivl,
            proxy,
        )
    };
    let first = first.max(Duration::from_millis(1));
    let mut ivl = first;
    while !stop.is_stopped() {
        let attempt = async {
            let target = match &proxy {
                Some(Ok(proxy)) => &proxy.endpoint,
                Some(Err(e)) => {
                    let why = format!("ZMQ_SOCKS_PROXY is not host:port: {e}");
                    return Err(io::Error::new(io::ErrorKind::InvalidInput, why));
                }
                None => &ep,
            };
            // The kernel options go on before the SYN, as libzmq sets them (where the
            // engine allows: `Proactor::PREPARES_BEFORE_CONNECT`). BINDTODEVICE
            // failing ends the attempt; the rest is best effort.
            let prepare = |fd: BorrowedFd<'_>| match tcp {
                true => shared.core.borrow().opts.apply_to_tcp(&fd),
                false => Ok(()),
            };
            let stream = connect_within(&p, target, connect_timeout, &prepare).await?;
            let Some(Ok(proxy)) = &proxy else {
                return Ok(Ready::<P>::Stream(stream));
            };
            let Endpoint::Tcp { host, port } = &ep else {
                unreachable!("a proxy only for TCP endpoints");
            };
            let hs = Socks5::new(
                host,
                *port,
                proxy.username.as_bytes(),
                proxy.password.as_bytes(),
            )?;
            let (mut r, mut w) = p.split(stream);
            let handshake = socks_handshake(&p, &mut r, &mut w, hs);
            match handshake_ivl {
                None => handshake.await?,
                Some(limit) => match select(handshake, p.sleep_until(p.now() + limit)).await {
                    Either::Left(r) => r?,
                    Either::Right(()) => {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the SOCKS5 proxy did not answer within ZMQ_HANDSHAKE_IVL",
                        ))
                    }
                },
            }
            Ok(Ready::Halves(r, w))
        };
        let connected = match select(attempt, stop.wait()).await {
            Either::Left(r) => r,
            Either::Right(()) => break,
        };
        match connected {
            Ok(ready) => {
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
                let outcome = match ready {
                    Ready::Stream(stream) => {
                        connection::run(shared.clone(), stream, endpoint.clone(), origin).await
                    }
                    Ready::Halves(r, w) => {
                        let (s, e) = (shared.clone(), endpoint.clone());
                        connection::run_halves(s, r, w, e, origin, None).await
                    }
                };
                if outcome.established {
                    ivl = first;
                } else if stop_on & RECONNECT_STOP_HANDSHAKE_FAILED != 0 {
                    break;
                }
            }
            Err(e) => {
                let refused = e.kind() == io::ErrorKind::ConnectionRefused;
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
        retry_after(&shared, &endpoint, ivl, &stop).await;
        if max > first {
            ivl = (ivl * 2).min(max);
        }
    }
}

/// Reports the next attempt to connect `endpoint` (`ConnectRetried`) and waits `ivl`
/// for it; false when `stop` ended the wait first.
pub(crate) async fn retry_after<P: Proactor>(
    shared: &Shared<P>,
    endpoint: &str,
    ivl: Duration,
    stop: &Stop,
) -> bool {
    let p = &shared.proactor;
    shared.emit(
        MonitorEventKind::ConnectRetried { interval: ivl },
        endpoint,
        None,
    );
    matches!(
        select(p.sleep_until(p.now() + ivl), stop.wait()).await,
        Either::Left(())
    )
}

/// One connect (host names resolved on the resolver threads, not on this loop),
/// failing with `TimedOut` after `limit` (CONNECT_TIMEOUT).
async fn connect_within<P: Proactor>(
    p: &P,
    ep: &Endpoint,
    limit: Option<Duration>,
    prepare: &dyn Fn(BorrowedFd<'_>) -> io::Result<()>,
) -> io::Result<P::Stream> {
    let Some(limit) = limit else {
        return crate::resolve::connect(p, ep, prepare).await;
    };
    match select(
        crate::resolve::connect(p, ep, prepare),
        p.sleep_until(p.now() + limit),
    )
    .await
    {
        Either::Left(r) => r,
        Either::Right(()) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connect took longer than ZMQ_CONNECT_TIMEOUT ({limit:?})"),
        )),
    }
}

/// Runs a SOCKS5 handshake on the halves of a stream to the proxy, reading exactly
/// what the handshake asks for (what follows belongs to the ZMTP connection).
async fn socks_handshake<P: Proactor>(
    p: &P,
    r: &mut P::Reader,
    w: &mut P::Writer,
    mut hs: Socks5,
) -> io::Result<()> {
    loop {
        let mut out = hs.take_output();
        while !out.is_empty() {
            let BufResult(res, buf) = p.send(w, out).await;
            let n = res?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            out = buf;
            out.drain(..n);
        }
        if hs.is_done() {
            return Ok(());
        }
        let need = hs.wants();
        let mut got = Vec::with_capacity(need);
        while got.len() < need {
            let BufResult(res, buf) = p.recv(r, Vec::with_capacity(need - got.len())).await;
            let n = res?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the SOCKS5 proxy closed the connection",
                ));
            }
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() != need {
            return Err(io::Error::other("read past the SOCKS5 reply"));
        }
        hs.input(&got)?;
    }
}
