//! `ringmq`: ZeroMQ sockets from the shell.
//!
//! `ringmq <socket-type> --bind/--connect ...` runs one socket of any of the eleven
//! types: sending sockets read messages from stdin, receiving sockets print them on
//! stdout (one message per line, frames separated by `|`, or `--raw` binary frames).
//! `ringmq keygen` prints a CURVE key pair, `ringmq proxy` runs a zmq_proxy.
//!
//! Exit codes: 0 done, 1 runtime error (bind, keys, I/O), 2 usage error, 3 `--timeout`
//! expired, 130 interrupted (Ctrl-C; a second Ctrl-C exits at once).
#![forbid(unsafe_code)]

mod args;
mod frames;
mod monitor;
mod proxy;
mod run;
mod security;
mod util;

use std::process::ExitCode;

use clap::Parser;
use ringmq_proactor::{BackendChoice, Runtime};
use ringmq_sockets::Context;

use args::{Backend, Cli, Command};

/// Why the program stops early: the message for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// One line naming the problem (without the `ringmq: ` prefix).
    pub message: String,
    /// The process exit code.
    pub code: u8,
}

impl Failure {
    /// A runtime error (exit code 1).
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Finished (stdin ended, `--count` reached, TERMINATE).
    Done,
    /// `--timeout` expired.
    TimedOut,
    /// SIGINT.
    Interrupted,
}

/// What to run once the runtime is up.
enum Job {
    Socket(
        ringmq_sockets::SocketType,
        Box<args::SocketArgs>,
        util::Interrupt,
    ),
    Proxy(args::ProxyArgs, util::Interrupt),
}

impl Job {
    async fn run<P: ringmq_proactor::Proactor>(self, ctx: Context<P>) -> Result<Outcome, Failure> {
        match self {
            Job::Socket(kind, sa, interrupt) => run::run(ctx, kind, *sa, interrupt).await,
            Job::Proxy(pa, interrupt) => proxy::run(ctx, pa, interrupt).await,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen => {
            let (public, secret) = ringmq_sockets::curve_keypair();
            println!("== CURVE PUBLIC KEY ==\n{public}\n== CURVE SECRET KEY ==\n{secret}");
            Ok(Outcome::Done)
        }
        Command::Proxy(p) => match util::install_sigint() {
            Ok(interrupt) => on_backend(p.runtime, Job::Proxy(p, interrupt)),
            Err(e) => Err(e),
        },
        cmd => {
            let (kind, sa) = cmd.into_socket().expect("socket subcommand");
            match util::install_sigint() {
                Ok(interrupt) => on_backend(sa.backend, Job::Socket(kind, Box::new(sa), interrupt)),
                Err(e) => Err(e),
            }
        }
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::TimedOut) => ExitCode::from(3),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(f) => {
            eprintln!("ringmq: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

/// Runs `job` on the chosen runtime.
fn on_backend(backend: Backend, job: Job) -> Result<Outcome, Failure> {
    let start = |what: &str, e: std::io::Error| {
        Failure::new(format!("cannot start the {what} runtime: {e}"))
    };
    match backend {
        Backend::Auto | Backend::Uring | Backend::Epoll => {
            let choice = match backend {
                Backend::Uring => BackendChoice::Uring,
                Backend::Epoll => BackendChoice::Epoll,
                _ => BackendChoice::Auto,
            };
            let rt = Runtime::with_backend(choice).map_err(|e| start("built-in", e))?;
            let ctx = Context::new(rt.proactor());
            rt.block_on(job.run(ctx))
        }
        Backend::Compio => ringmq_compio::block_on(async move {
            job.run(Context::new(ringmq_compio::CompioProactor::new()))
                .await
        })
        .map_err(|e| start("compio", e))?,
        Backend::Monoio => ringmq_monoio::block_on(async move {
            job.run(Context::new(ringmq_monoio::MonoioProactor::new()))
                .await
        })
        .map_err(|e| start("monoio", e))?,
    }
}
