//! Shared helpers of the benchmark programs.
//!
//! [`tools`] holds the libzmq-compatible perf tools (`local_lat`, `remote_lat`,
//! `local_thr`, `remote_thr`) and the extra roles `compare` needs (PUB/SUB fan-out,
//! ROUTER with many DEALERs, memory under a stalled peer), on every ringmq backend;
//! [`raw`] the same measurements on blocking `std` TCP / Unix sockets (the physical
//! reference). `c/zmq_tools.c` implements the same roles on the system libzmq.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod inproc;
pub mod raw;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C source of the libzmq baseline (all roles in one program, role = first argument).
pub const ZMQ_TOOLS_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/c/zmq_tools.c");

/// The C source of the libsodium baseline of `curve_crypto`.
pub const SODIUM_BENCH_C: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/c/sodium_bench.c");

/// Compiles `c/zmq_tools.c` against the system libzmq (`cc -O2 ... -lzmq`) into
/// `out_dir/zmq_tools` and returns the path of the program. The error says how to
/// install libzmq when the compiler or the library is missing.
pub fn build_zmq_tools(out_dir: &Path) -> Result<PathBuf, String> {
    build_c(out_dir, ZMQ_TOOLS_C, "zmq_tools", "zmq", "libzmq3-dev")
}

/// Compiles `c/sodium_bench.c` against the system libsodium into
/// `out_dir/sodium_bench`, like [`build_zmq_tools`].
pub fn build_sodium_bench(out_dir: &Path) -> Result<PathBuf, String> {
    build_c(
        out_dir,
        SODIUM_BENCH_C,
        "sodium_bench",
        "sodium",
        "libsodium-dev",
    )
}

/// `cc -O2 -o out_dir/name src -llib`; the error names the Debian package `dev`.
fn build_c(out_dir: &Path, src: &str, name: &str, lib: &str, dev: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out_dir).map_err(|e| format!("create {}: {e}", out_dir.display()))?;
    let out = out_dir.join(name);
    let result = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&out)
        .arg(src)
        .arg(format!("-l{lib}"))
        .output()
        .map_err(|e| format!("cannot run cc ({e}); install a C compiler and lib{lib}: apt-get install build-essential {dev}"))?;
    if !result.status.success() {
        return Err(format!(
            "cc {src} -l{lib} failed (is lib{lib} installed? apt-get install {dev}):\n{}",
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    Ok(out)
}

/// Parses the number before `unit` on the line starting with `prefix` (e.g.
/// `average latency: 12.5 [us]` with prefix `average latency:` and unit `[us]`).
pub fn parse_line(output: &str, prefix: &str, unit: &str) -> Option<f64> {
    output.lines().find_map(|line| {
        let rest = line.strip_prefix(prefix)?.trim();
        let value = rest.strip_suffix(unit)?.trim();
        value.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::parse_line;

    #[test]
    fn parse_line_reads_the_perf_tool_lines() {
        let out = "message size: 64 [B]\nmessage count: 1000\nmean throughput: 123456 [msg/s]\nmean throughput: 63.209 [Mb/s]\n";
        assert_eq!(parse_line(out, "message size:", "[B]"), Some(64.0));
        assert_eq!(parse_line(out, "message count:", ""), Some(1000.0));
        assert_eq!(
            parse_line(out, "mean throughput:", "[msg/s]"),
            Some(123456.0)
        );
        assert_eq!(parse_line(out, "mean throughput:", "[Mb/s]"), Some(63.209));
        assert_eq!(parse_line(out, "average latency:", "[us]"), None);
        assert_eq!(
            parse_line("average latency: fast [us]", "average latency:", "[us]"),
            None
        );
    }
}
