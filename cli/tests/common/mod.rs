//! Running the built `ringmq` binary and pyzmq (libzmq 4.3.5) peers.
//!
//! The Python interpreter comes from `RINGMQ_PYTHON` or the workspace's `.venv` /
//! `.venv-probe`; without pyzmq the tests FAIL, saying how to install it.

#![allow(dead_code)] // each test uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any process may take for anything.
pub const LIMIT: Duration = Duration::from_secs(30);

// The interpreter lookup (with its install instructions) is shared with the other
// crates' interop tests.
#[path = "../../../zmtp/tests/pyzmq/mod.rs"]
mod pyzmq;
pub use pyzmq::python;

/// A child process with its stdout and stderr collected by threads; killed on drop.
pub struct Proc {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out_lines: Receiver<Vec<u8>>,
    err_lines: Receiver<String>,
    out_all: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    out_reader: Option<std::thread::JoinHandle<()>>,
}

impl Proc {
    fn start(name: &str, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let mut stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (otx, out_lines) = channel();
        let out_all = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let all = out_all.clone();
        let out_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let mut line = Vec::new();
            loop {
                let n = match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                all.lock().unwrap().extend_from_slice(&buf[..n]);
                for &b in &buf[..n] {
                    if b == b'\n' {
                        let _ = otx.send(std::mem::take(&mut line));
                    } else {
                        line.push(b);
                    }
                }
            }
        });
        let (etx, err_lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[stderr] {line}");
                if etx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Proc {
            name: name.to_owned(),
            child,
            stdin,
            out_lines,
            err_lines,
            out_all,
            out_reader: Some(out_reader),
        }
    }

    /// Starts `ringmq` with `args`.
    pub fn ringmq(args: &[&str]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ringmq"));
        cmd.args(args);
        Proc::start(&format!("ringmq {}", args.join(" ")), cmd)
    }

    /// Starts a Python script (with pyzmq) given as text, with `args`.
    pub fn python(script: &str, args: &[&str]) -> Proc {
        // pyzmq does not terminate the context at interpreter exit, which drops
        // messages still queued: every script ends by destroying it (each socket
        // lingering as it says; libzmq's default is until delivered).
        let script = format!("{script}\nimport zmq\nzmq.Context.instance().destroy()\n");
        let mut cmd = Command::new(python());
        cmd.arg("-c").arg(script).args(args);
        Proc::start("python peer", cmd)
    }

    /// Writes to stdin.
    pub fn write(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(data).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next stdout line.
    pub fn line(&self) -> Vec<u8> {
        match self.out_lines.recv_timeout(LIMIT) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                panic!("{}: no stdout line within {LIMIT:?}", self.name)
            }
            Err(RecvTimeoutError::Disconnected) => panic!("{}: stdout closed", self.name),
        }
    }

    /// The next stdout line as text.
    pub fn text_line(&self) -> String {
        String::from_utf8(self.line()).expect("utf-8 line")
    }

    /// The next stderr line containing `needle`.
    pub fn err_line(&self, needle: &str) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.err_lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return l,
                Ok(_) => {}
                Err(_) => panic!("{}: no stderr line with {needle:?}", self.name),
            }
        }
    }

    /// The endpoint from `ringmq: listening on EP` (bind with a wildcard port).
    pub fn listening(&self) -> String {
        let line = self.err_line("listening on ");
        line.rsplit(' ').next().expect("endpoint").to_owned()
    }

    /// Sends SIGINT.
    pub fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -INT failed");
    }

    /// Waits for the exit (at most [`LIMIT`]); the status and everything on stdout.
    pub fn wait(mut self) -> (ExitStatus, Vec<u8>) {
        self.stdin = None;
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {LIMIT:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        // The pipe ends with the process: the reader has everything once it ends.
        if let Some(r) = self.out_reader.take() {
            let _ = r.join();
        }
        let out = self.out_all.lock().unwrap().clone();
        (status, out)
    }

    /// Waits for the exit and asserts success; everything on stdout.
    pub fn success(self) -> Vec<u8> {
        let name = self.name.clone();
        let (status, out) = self.wait();
        assert!(
            status.success(),
            "{name} failed: {status}; stdout {:?}",
            String::from_utf8_lossy(&out)
        );
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `ringmq` to completion with `stdin`: (exit code, stdout, stderr).
pub fn run_ringmq(args: &[&str], stdin: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringmq"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringmq");
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "ringmq {args:?} did not exit within {LIMIT:?}; stdout {:?}, stderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Encodes frames in `--raw` format.
pub fn raw(frames: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        out.push(u8::from(i + 1 < frames.len()));
        out.extend_from_slice(&(f.len() as u32).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}
