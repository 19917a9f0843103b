//! The two libzmq peers of the interop matrix, behind one interface:
//! - pyzmq (libzmq 4.3.5): `tests/peers/pyzmq_peer.py`, run by the Python that
//!   `zmtp/tests/pyzmq/mod.rs` finds (`RINGMQ_PYTHON`, `.venv`, `.venv-probe`);
//! - the system's libzmq (Debian's libzmq3-dev, 4.3.4): `tests/peers/libzmq_peer.c`,
//!   compiled once per test binary with `cc ... -lzmq` into the cargo target dir.
//!
//! - a draft-enabled libzmq (Debian's zeromq3 source built with `-DENABLE_DRAFTS=ON` by
//!   `scripts/draft-libzmq.sh` into `.venv-drafts/`, or `RINGMQ_DRAFT_LIBZMQ`):
//!   `tests/peers/draft_peer.c`, for the draft socket types (CLIENT/SERVER, ...).
//!
//! A missing peer FAILS the test, saying how to install it.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::OnceLock;
use std::time::Duration;

use ringmq_proactor::Proactor;

#[path = "../../../zmtp/tests/pyzmq/mod.rs"]
mod pyzmq;

/// Which libzmq runs the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// libzmq 4.3.5 through pyzmq.
    Pyzmq,
    /// The system's libzmq (4.3.4 on Debian 12) through `libzmq_peer.c`.
    Libzmq,
    /// A draft-enabled libzmq (Debian's 4.3.4 source, `ENABLE_DRAFTS`) through
    /// `draft_peer.c`: the draft socket types.
    Draft,
}

/// How long a peer may take for anything (READY, a line, exiting).
const PEER_LIMIT: Duration = Duration::from_secs(30);

/// The compiled C peer; compiles it on first use, panicking with instructions if that
/// fails.
pub fn libzmq_peer() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let hint = "the libzmq interop peer needs a C compiler and libzmq's headers: \
                    `apt-get install -y build-essential libzmq3-dev` (scripts/test.sh \
                    does it when running as root)";
        compile_peer("libzmq_peer", &["-lzmq".into()], hint)
    })
}

/// Where the draft-enabled libzmq is installed: `RINGMQ_DRAFT_LIBZMQ`, else
/// `.venv-drafts/` in the workspace.
pub fn draft_libzmq() -> PathBuf {
    std::env::var_os("RINGMQ_DRAFT_LIBZMQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| pyzmq::workspace().join(".venv-drafts"))
}

/// The compiled draft peer (`draft_peer.c` against the draft-enabled libzmq); compiles
/// it on first use, panicking with instructions if the library is missing.
pub fn draft_peer() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let prefix = draft_libzmq();
        let hint = "the draft interop peer needs the draft-enabled libzmq: run \
                    `scripts/draft-libzmq.sh` as root (scripts/test.sh does), which builds \
                    Debian's zeromq3 source with -DENABLE_DRAFTS=ON into .venv-drafts/";
        assert!(
            prefix.join("include/zmq.h").exists() && prefix.join("lib/libzmq.so").exists(),
            "no draft-enabled libzmq in {}: {hint}",
            prefix.display()
        );
        let lib = prefix.join("lib");
        let args = [
            "-DZMQ_BUILD_DRAFT_API".into(),
            format!("-I{}", prefix.join("include").display()),
            format!("-L{}", lib.display()),
            "-lzmq".into(),
            format!("-Wl,-rpath,{}", lib.display()),
        ];
        compile_peer("draft_peer", &args, hint)
    })
}

/// Compiles `tests/peers/<name>.c` with `args` after the source into the cargo target
/// dir, panicking with `hint` if that fails.
fn compile_peer(name: &str, args: &[String], hint: &str) -> PathBuf {
    let src = pyzmq::workspace().join(format!("tests/peers/{name}.c"));
    // The test binary lives in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in <target>/<profile>/deps")
        .to_path_buf();
    let out = dir.join(name);
    let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let result = Command::new(&cc)
        .args(["-O2", "-Wall", "-o"])
        .arg(&tmp)
        .arg(&src)
        .args(args)
        .output();
    match result {
        Err(e) => panic!("cannot run {cc:?}: {e}; {hint}"),
        Ok(o) if !o.status.success() => panic!(
            "compiling {} failed ({}):\n{}\n{hint}",
            src.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Ok(_) => {}
    }
    // Renaming is atomic: test binaries compiling at once never see a partial file.
    std::fs::rename(&tmp, &out).expect("move the compiled peer into place");
    out
}

/// A running peer; killed when dropped.
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Which libzmq it runs.
    pub imp: Impl,
    /// The endpoint it bound (with the real port) or connected to.
    pub endpoint: String,
}

impl Peer {
    /// Starts the peer with `args` and waits for its `READY <endpoint>` line.
    pub fn spawn(imp: Impl, args: &[String]) -> Peer {
        let mut cmd = match imp {
            Impl::Pyzmq => {
                let mut c = Command::new(pyzmq::python());
                c.arg(pyzmq::workspace().join("tests/peers/pyzmq_peer.py"));
                c
            }
            Impl::Libzmq => Command::new(libzmq_peer()),
            Impl::Draft => Command::new(draft_peer()),
        };
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn the {imp:?} peer: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut peer = Peer {
            child,
            stdin,
            lines,
            imp,
            endpoint: String::new(),
        };
        let line = match peer.lines.recv_timeout(PEER_LIMIT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!("{imp:?} peer {args:?}: no READY"),
            Err(RecvTimeoutError::Disconnected) => {
                let status = peer.child.wait();
                panic!("{imp:?} peer {args:?} exited before READY: {status:?}")
            }
        };
        peer.endpoint = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{imp:?} peer said {line:?}"))
            .trim()
            .to_owned();
        peer
    }

    /// Waits (without blocking the runtime) for a stdout line starting with `prefix`
    /// and returns it; other lines are skipped.
    pub async fn line<P: Proactor>(&mut self, p: &P, prefix: &str) -> String {
        let what = format!("a {prefix:?} line from the {:?} peer", self.imp);
        crate::common::wait_for(p, PEER_LIMIT, &what, || self.poll_line(prefix)).await
    }

    /// Waits (without blocking the runtime) at most `limit` for a stdout line starting
    /// with `prefix` (other lines are skipped).
    pub async fn line_within<P: Proactor>(
        &mut self,
        p: &P,
        prefix: &str,
        limit: Duration,
    ) -> Option<String> {
        crate::common::poll_within(p, limit, || self.poll_line(prefix)).await
    }

    /// A line starting with `prefix` if one arrived; panics if the peer ended first.
    fn poll_line(&mut self, prefix: &str) -> Option<String> {
        loop {
            match self.lines.try_recv() {
                Ok(line) if line.starts_with(prefix) => return Some(line),
                Ok(_) => {}
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "{:?} peer ended without a {prefix:?} line: {status:?}",
                        self.imp
                    )
                }
            }
        }
    }

    /// A stdout line starting with `prefix` if one arrived (other lines are skipped).
    pub fn try_line(&mut self, prefix: &str) -> Option<String> {
        while let Ok(line) = self.lines.try_recv() {
            if line.starts_with(prefix) {
                return Some(line);
            }
        }
        None
    }

    /// Writes a line to the peer's stdin (the go-ahead of `publish`).
    pub fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(b"GO\n").expect("write to the peer");
        stdin.flush().expect("flush the peer's stdin");
    }

    /// Waits (without blocking the runtime, which may still have to serve the peer)
    /// for the peer to exit, and asserts it completed its scenario.
    pub async fn finish<P: Proactor>(mut self, p: &P) {
        let what = format!("the {:?} peer to exit", self.imp);
        let status = crate::common::wait_for(p, PEER_LIMIT, &what, || {
            self.child.try_wait().expect("try_wait")
        })
        .await;
        assert!(status.success(), "{:?} peer failed: {status}", self.imp);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
