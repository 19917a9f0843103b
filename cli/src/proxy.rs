//! `ringmq proxy`: the library's `proxy_steerable` (zmq_proxy_steerable) between two
//! sockets.

use ringmq_proactor::Proactor;
use ringmq_sockets::{proxy, proxy_steerable, Context, Socket, SocketType};

use crate::args::ProxyArgs;
use crate::run::attach;
use crate::util::{race, BoxFut, Interrupt};
use crate::{monitor, Failure, Outcome};

/// A socket type by its name (any case).
pub fn socket_type(name: &str) -> Option<SocketType> {
    use SocketType::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "req" => Req,
        "rep" => Rep,
        "dealer" => Dealer,
        "router" => Router,
        "pub" => Pub,
        "sub" => Sub,
        "xpub" => XPub,
        "xsub" => XSub,
        "push" => Push,
        "pull" => Pull,
        "pair" => Pair,
        "stream" => Stream,
        _ => return None,
    })
}

/// A parsed `TYPE:EP[,EP...]` with its binds and connects.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    /// The socket type.
    pub kind: SocketType,
    /// Endpoints to bind (`@EP` or plain `EP`).
    pub bind: Vec<String>,
    /// Endpoints to connect (`>EP`).
    pub connect: Vec<String>,
}

/// Parses `TYPE:EP[,EP...]`; EP prefixed with `@` binds, with `>` connects, and binds
/// without a prefix.
pub fn parse_spec(flag: &str, text: &str) -> Result<Spec, Failure> {
    let (name, eps) = text.split_once(':').ok_or_else(|| {
        Failure::new(format!(
            "{flag} wants TYPE:ENDPOINT (e.g. xsub:@tcp://*:5556), got {text:?}"
        ))
    })?;
    let kind = socket_type(name)
        .ok_or_else(|| Failure::new(format!("{flag}: unknown socket type {name:?}")))?;
    let mut spec = Spec {
        kind,
        bind: Vec::new(),
        connect: Vec::new(),
    };
    for ep in eps.split(',').map(str::trim) {
        if let Some(ep) = ep.strip_prefix('>') {
            spec.connect.push(ep.to_owned());
        } else {
            spec.bind
                .push(ep.strip_prefix('@').unwrap_or(ep).to_owned());
        }
    }
    Ok(spec)
}

fn open<P: Proactor>(ctx: &Context<P>, flag: &str, text: &str) -> Result<Socket<P>, Failure> {
    let spec = parse_spec(flag, text)?;
    let s = ctx.socket(spec.kind);
    if spec.kind == SocketType::Sub {
        s.subscribe(b"").map_err(|e| Failure::new(e.to_string()))?;
    }
    attach(&s, &spec.bind, &spec.connect)
        .map_err(|f| Failure::new(format!("{flag}: {}", f.message)))?;
    Ok(s)
}

/// Runs the proxy ([`ringmq_sockets::proxy_steerable`], or [`ringmq_sockets::proxy`]
/// without a control socket) until TERMINATE or Ctrl-C.
pub async fn run<P: Proactor>(
    ctx: Context<P>,
    a: ProxyArgs,
    interrupt: Interrupt,
) -> Result<Outcome, Failure> {
    let p = ctx.proactor().clone();
    let front = open(&ctx, "--frontend", &a.frontend)?;
    let back = open(&ctx, "--backend", &a.backend)?;
    let capture = a
        .capture
        .as_deref()
        .map(|c| open(&ctx, "--capture", c))
        .transpose()?;
    let control = a
        .control
        .as_deref()
        .map(|c| open(&ctx, "--control", c))
        .transpose()?;
    if a.monitor {
        monitor::spawn(&p, front.monitor(), Some("frontend"));
        monitor::spawn(&p, back.monitor(), Some("backend"));
        if let Some(c) = &capture {
            monitor::spawn(&p, c.monitor(), Some("capture"));
        }
        if let Some(c) = &control {
            monitor::spawn(&p, c.monitor(), Some("control"));
        }
    }
    let forwarded = race(vec![
        Box::pin(async {
            let r = match &control {
                Some(c) => proxy_steerable(&front, &back, capture.as_ref(), c)
                    .await
                    .map(drop),
                None => proxy(&front, &back, capture.as_ref()).await,
            };
            Some(r)
        }) as BoxFut<'_, _>,
        Box::pin(async {
            interrupt.wait(&p).await;
            None
        }),
    ])
    .await;
    let outcome = match forwarded {
        None => Outcome::Interrupted,
        Some(Ok(())) => Outcome::Done,
        Some(Err(e)) => return Err(Failure::new(format!("proxy failed: {e}"))),
    };
    front.close().await;
    back.close().await;
    if let Some(c) = capture {
        c.close().await;
    }
    if let Some(c) = control {
        c.close().await;
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = parse_spec("--frontend", "XSUB:>tcp://a:1,@ipc:///x,tcp://*:2").unwrap();
        assert_eq!(s.kind, SocketType::XSub);
        assert_eq!(s.connect, vec!["tcp://a:1"]);
        assert_eq!(s.bind, vec!["ipc:///x", "tcp://*:2"]);
        assert!(parse_spec("--frontend", "tcp://x").is_err());
        let e = parse_spec("--backend", "nope:tcp://*:1").unwrap_err();
        assert!(e.message.contains("unknown socket type"), "{}", e.message);
    }
}
