//! The libzmq peer for interop tests: `tests/peers/pyzmq_peer.py` run by a Python with
//! pyzmq (libzmq 4.3.5 with CURVE). The interpreter comes from `RINGMQ_PYTHON` or the
//! workspace's `.venv` (`scripts/test.sh` creates it). Without it the tests FAIL, saying
//! how to install it: an interop test never passes without its peer.

#![allow(dead_code)] // each test file uses a different part

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("zmtp lives in the workspace")
        .to_path_buf()
}

/// The Python interpreter with pyzmq; panics with instructions when there is none.
pub fn python() -> PathBuf {
    let py = std::env::var_os("RINGMQ_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            [".venv/bin/python", ".venv-probe/bin/python"]
                .map(|p| workspace().join(p))
                .into_iter()
                .find(|p| p.exists())
        })
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&py)
        .args([
            "-c",
            "import zmq, sys; sys.exit(0 if zmq.has('curve') else 1)",
        ])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "interop tests need Python with pyzmq built with CURVE at {}: run \
         scripts/test.sh (creates .venv with `pip install pyzmq`) or set RINGMQ_PYTHON",
        py.display()
    );
    py
}

/// A running pyzmq peer; killed when dropped.
pub struct Peer {
    child: Child,
    /// The endpoint it bound (with the real port) or connected to.
    pub endpoint: String,
}

impl Peer {
    /// Starts the peer with `args` and waits for its `READY <endpoint>` line.
    pub fn spawn(args: &[&str]) -> Peer {
        let mut child = Command::new(python())
            .arg(workspace().join("tests/peers/pyzmq_peer.py"))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the pyzmq peer");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("piped stdout"))
            .read_line(&mut line)
            .expect("peer prints READY");
        let endpoint = line
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("peer said {line:?}"))
            .trim()
            .to_owned();
        Peer { child, endpoint }
    }

    /// The `host:port` of a `tcp://` endpoint.
    pub fn tcp_addr(&self) -> &str {
        self.endpoint.trim_start_matches("tcp://")
    }

    /// Waits for the peer to finish its scenario and asserts it succeeded.
    pub fn wait_success(mut self) {
        let status = self.child.wait().expect("wait for the peer");
        assert!(status.success(), "pyzmq peer failed: {status}");
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
