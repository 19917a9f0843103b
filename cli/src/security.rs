//! PLAIN / CURVE / ZAP from the command line.

use std::path::Path;
use std::rc::Rc;

use ringmq_proactor::Proactor;
use ringmq_sockets::{Authenticator, Context, CurveKey, Socket, SocketOption};

use crate::args::SecurityArgs;
use crate::Failure;

fn key(flag: &str, text: &str) -> Result<CurveKey, Failure> {
    text.trim()
        .parse::<CurveKey>()
        .map_err(|e| Failure::new(format!("bad {flag}: {e}")))
}

fn set<P: Proactor>(s: &Socket<P>, opt: SocketOption) -> Result<(), Failure> {
    s.set_option(opt).map_err(|e| Failure::new(e.to_string()))
}

/// Applies the security options to `socket`, installing a ZAP [`Authenticator`] on
/// `ctx` when the options call for one.
pub fn apply<P: Proactor>(
    ctx: &Context<P>,
    socket: &Socket<P>,
    a: &SecurityArgs,
) -> Result<(), Failure> {
    let roles = [a.curve_server.is_some(), a.curve_client, a.plain_server]
        .iter()
        .filter(|r| **r)
        .count();
    if roles > 1 {
        return Err(Failure::new(
            "choose one of --curve-server, --curve-client and --plain-server",
        ));
    }
    if a.server_key.is_some() && !a.curve_client {
        return Err(Failure::new("--server-key needs --curve-client"));
    }
    if a.secret_key.is_some() && !a.curve_client {
        return Err(Failure::new(
            "--secret-key is for --curve-client (a server gives its key to --curve-server)",
        ));
    }
    if a.zap_curve_keys.is_some() && a.curve_server.is_none() {
        return Err(Failure::new("--zap-curve-keys needs --curve-server"));
    }
    let auth = Authenticator::new();
    let mut zap = false;
    if let Some(secret) = &a.curve_server {
        let secret = key("--curve-server secret key", secret)?;
        set(socket, SocketOption::CurveServer(true))?;
        set(socket, SocketOption::CurveSecretKey(secret))?;
        match &a.zap_curve_keys {
            Some(dir) => {
                for k in read_key_dir(dir)? {
                    auth.allow_curve_key(&k);
                }
                zap = true;
            }
            None => {
                auth.allow_any_curve_key(true);
            }
        }
    } else if a.curve_client {
        let server = key("--server-key", a.server_key.as_deref().unwrap_or_default())?;
        let secret = match &a.secret_key {
            Some(s) => key("--secret-key", s)?,
            None => {
                let (public, secret) = CurveKey::generate_pair();
                eprintln!("ringmq: CURVE client public key {}", public.to_z85());
                secret
            }
        };
        set(socket, SocketOption::CurveSecretKey(secret))?;
        set(socket, SocketOption::CurveServerKey(server))?;
    } else if a.plain_server {
        for cred in &a.plain {
            let (user, pass) = user_pass(cred)?;
            auth.add_plain_user(user.to_owned(), pass.to_owned());
        }
        set(socket, SocketOption::PlainServer(true))?;
        zap = true;
    } else if let Some(cred) = a.plain.first() {
        if a.plain.len() > 1 {
            return Err(Failure::new(
                "a PLAIN client takes one --plain USER:PASS (several are for --plain-server)",
            ));
        }
        let (user, pass) = user_pass(cred)?;
        set(socket, SocketOption::PlainUsername(user.to_owned().into()))?;
        set(socket, SocketOption::PlainPassword(pass.to_owned().into()))?;
    }
    if !a.zap_allow.is_empty() {
        for addr in &a.zap_allow {
            auth.allow(addr.clone());
        }
        if a.curve_server.is_none() && !a.plain_server {
            // A NULL server asks ZAP only with a domain.
            set(socket, SocketOption::ZapDomain("global".into()))?;
        }
        zap = true;
    }
    if zap {
        ctx.set_zap_handler(Rc::new(auth));
    }
    Ok(())
}

fn user_pass(cred: &str) -> Result<(&str, &str), Failure> {
    cred.split_once(':')
        .ok_or_else(|| Failure::new(format!("--plain wants USER:PASS, got {cred:?}")))
}

/// The public keys of the `*.key` files in `dir` (ZPL certificates as zmq.auth and
/// czmq write them: a `public-key = "Z85"` line under `curve`).
pub fn read_key_dir(dir: &Path) -> Result<Vec<CurveKey>, Failure> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Failure::new(format!("cannot read key directory {}: {e}", dir.display())))?;
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| Failure::new(format!("cannot read key directory {}: {e}", dir.display())))?
            .path();
        if path.extension().and_then(|e| e.to_str()) != Some("key") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
        match public_key_of(&text) {
            Some(z85) => keys.push(key(&format!("public-key in {}", path.display()), &z85)?),
            None => {
                return Err(Failure::new(format!(
                    "no public-key line in {}",
                    path.display()
                )))
            }
        }
    }
    if keys.is_empty() {
        return Err(Failure::new(format!(
            "no *.key certificate in {}",
            dir.display()
        )));
    }
    Ok(keys)
}

/// The value of the `public-key` line of a ZPL certificate.
fn public_key_of(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        // Comments are whole lines ('#' is a Z85 character).
        let line = line.trim();
        if line.starts_with('#') {
            return None;
        }
        let (name, value) = line.split_once('=')?;
        if name.trim() != "public-key" {
            return None;
        }
        let v = value.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        Some(v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zpl_public_key_line() {
        let cert = "#   ****  Generated by pyzmq  ****\n\
                    metadata\n    name = \"x\"\ncurve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n";
        assert_eq!(
            public_key_of(cert).as_deref(),
            Some("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
        );
        assert_eq!(public_key_of("curve\n    secret-key = \"x\"\n"), None);
    }
}
